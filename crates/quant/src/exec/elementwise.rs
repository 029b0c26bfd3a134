//! Broadcasting binary ops and SOFTMAX in float.

use ndarray::{ArrayD, Axis, IxDyn, Zip};
use tinyq_ir::Activation;

use super::{OpCx, apply_activation};
use crate::error::ExecError;

/// `f(a, b)` with NumPy broadcasting to `out_shape`, then the activation.
pub fn binary(
    cx: &OpCx<'_>,
    a: &ArrayD<f32>,
    b: &ArrayD<f32>,
    out_shape: &[usize],
    activation: Activation,
    f: impl Fn(f32, f32) -> f32,
) -> Result<ArrayD<f32>, ExecError> {
    let shape = IxDyn(out_shape);
    let av = a.broadcast(shape.clone()).ok_or_else(|| {
        cx.err(format!(
            "shape {:?} does not broadcast to {out_shape:?}",
            a.shape()
        ))
    })?;
    let bv = b.broadcast(shape.clone()).ok_or_else(|| {
        cx.err(format!(
            "shape {:?} does not broadcast to {out_shape:?}",
            b.shape()
        ))
    })?;
    let mut out = ArrayD::<f32>::zeros(shape);
    Zip::from(&mut out)
        .and(&av)
        .and(&bv)
        .for_each(|o, &x, &y| *o = f(x, y));
    if let Some(s) = out.as_slice_mut() {
        apply_activation(s, activation);
    }
    Ok(out)
}

/// SOFTMAX over the last axis: `exp((x - max) * beta) / sum`.
pub fn softmax(cx: &OpCx<'_>, x: &ArrayD<f32>, beta: f32) -> Result<ArrayD<f32>, ExecError> {
    if x.ndim() == 0 {
        return Err(cx.err("softmax of a scalar"));
    }
    let mut out = x.as_standard_layout().into_owned();
    let last = Axis(out.ndim() - 1);
    for mut lane in out.lanes_mut(last) {
        let max = lane.iter().copied().fold(f32::MIN, f32::max);
        let mut sum = 0f32;
        for v in lane.iter_mut() {
            *v = ((*v - max) * beta).exp();
            sum += *v;
        }
        for v in lane.iter_mut() {
            *v /= sum;
        }
    }
    Ok(out)
}

/// TFLM's float logistic, with its cut-offs.
pub fn logistic(x: f32) -> f32 {
    const CUTOFF_UPPER: f32 = 16.619_047;
    const CUTOFF_LOWER: f32 = -9.0;
    if x > CUTOFF_UPPER {
        1.0
    } else if x < CUTOFF_LOWER {
        x.exp()
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}

//! Data-movement ops and MEAN in float: CONCATENATION, MEAN, PAD,
//! TRANSPOSE, STRIDED_SLICE, SPACE_TO_DEPTH, DEPTH_TO_SPACE, GATHER.

use ndarray::{ArrayD, Axis, IxDyn};
use tinyq_ir::Activation;
use tinyq_ir::op::StridedSlice;
use tinyq_kernels::shape::MAX_DIMS;

use super::{OpCx, apply_activation, array, flat};
use crate::error::ExecError;

/// Concatenation along `axis`.
pub fn concat(
    cx: &OpCx<'_>,
    ins: &[&ArrayD<f32>],
    axis: usize,
    activation: Activation,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let views: Vec<_> = ins.iter().map(|a| a.view()).collect();
    let mut out = ndarray::concatenate(Axis(axis), &views)
        .map_err(|e| cx.err(format!("inputs do not concatenate along axis {axis}: {e}")))?;
    if out.shape() != out_shape {
        return Err(cx.err(format!(
            "concatenation gives {:?}, the model declares {out_shape:?}",
            out.shape()
        )));
    }
    let mut values = flat(&out).into_owned();
    apply_activation(&mut values, activation);
    out = array(cx, out_shape, values)?;
    Ok(out)
}

/// MEAN over `axes` (sum in float, then one division by the count).
pub fn mean(
    cx: &OpCx<'_>,
    x: &ArrayD<f32>,
    axes: &[usize],
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let shape = x.shape().to_vec();
    if axes.iter().any(|&a| a >= shape.len()) {
        return Err(cx.err(format!("axes {axes:?} out of range for {shape:?}")));
    }
    let count: usize = axes.iter().map(|&a| shape[a]).product();
    let mut reduced_shape = shape.clone();
    for &a in axes {
        reduced_shape[a] = 1;
    }
    let data = flat(x);
    let mut sums = vec![0f32; reduced_shape.iter().product()];
    let rank = shape.len();
    let mut index = vec![0usize; rank];
    for &v in data.iter() {
        let mut pos = 0usize;
        for d in 0..rank {
            let i = if axes.contains(&d) { 0 } else { index[d] };
            pos = pos * reduced_shape[d] + i;
        }
        sums[pos] += v;
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    let n = count.max(1) as f32;
    let values: Vec<f32> = sums.into_iter().map(|s| s / n).collect();
    if values.len() != out_shape.iter().product::<usize>() {
        return Err(cx.err(format!(
            "mean gives {reduced_shape:?}, the model declares {out_shape:?}"
        )));
    }
    array(cx, out_shape, values)
}

/// PAD/PADV2 with a constant value.
pub fn pad(
    cx: &OpCx<'_>,
    x: &ArrayD<f32>,
    paddings: &[(usize, usize)],
    value: f32,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    if paddings.len() != x.ndim() || out_shape.len() != x.ndim() {
        return Err(cx.err("paddings do not match the input rank"));
    }
    for (d, &(before, after)) in paddings.iter().enumerate() {
        if x.shape()[d] + before + after != out_shape[d] {
            return Err(cx.err(format!(
                "padding {:?} of {:?} does not give {out_shape:?}",
                paddings,
                x.shape()
            )));
        }
    }
    let mut out = ArrayD::from_elem(IxDyn(out_shape), value);
    let mut view = out.view_mut();
    for (d, &(before, _)) in paddings.iter().enumerate() {
        view.slice_axis_inplace(Axis(d), ndarray::Slice::from(before..before + x.shape()[d]));
    }
    view.assign(x);
    Ok(out)
}

/// TRANSPOSE by `perm`.
pub fn transpose(cx: &OpCx<'_>, x: &ArrayD<f32>, perm: &[usize]) -> Result<ArrayD<f32>, ExecError> {
    let mut seen = vec![false; x.ndim()];
    if perm.len() != x.ndim()
        || perm
            .iter()
            .any(|&p| p >= x.ndim() || std::mem::replace(&mut seen[p], true))
    {
        return Err(cx.err(format!(
            "{perm:?} is not a permutation of {} axes",
            x.ndim()
        )));
    }
    Ok(x.view()
        .permuted_axes(IxDyn(perm))
        .as_standard_layout()
        .into_owned())
}

/// SPACE_TO_DEPTH (`to_depth`) or DEPTH_TO_SPACE with block `b`, NHWC:
/// the input split into a 6-D view whose two middle dimensions swap
/// (rows-in-block with column blocks, or the reverse).
pub fn space_depth(
    cx: &OpCx<'_>,
    x: &ArrayD<f32>,
    b: usize,
    to_depth: bool,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let &[n, h, w, c] = x.shape() else {
        return Err(cx.err(format!("input {:?} is not 4-D", x.shape())));
    };
    let fits = b > 0
        && if to_depth {
            h % b == 0 && w % b == 0
        } else {
            c % (b * b) == 0
        };
    if !fits {
        return Err(cx.err(format!("block {b} does not fit input {:?}", x.shape())));
    }
    let view = if to_depth {
        vec![n, h / b, b, w / b, b, c]
    } else {
        vec![n, h, w, b, b, c / (b * b)]
    };
    let values = flat(x).into_owned();
    let six = array(cx, &view, values)?;
    let moved = six.view().permuted_axes(IxDyn(&[0, 1, 3, 2, 4, 5]));
    let values: Vec<f32> = moved.iter().copied().collect();
    array(cx, out_shape, values)
}

/// GATHER along `axis` (`batch_dims` 0).
pub fn gather(
    cx: &OpCx<'_>,
    x: &ArrayD<f32>,
    axis: usize,
    indices: &[usize],
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    if axis >= x.ndim() || indices.iter().any(|&i| i >= x.shape()[axis]) {
        return Err(cx.err(format!(
            "indices {indices:?} along axis {axis} do not fit input {:?}",
            x.shape()
        )));
    }
    let picked = x.select(Axis(axis), indices);
    array(cx, out_shape, flat(&picked).into_owned())
}

/// STRIDED_SLICE, resolved with the kernels' TFLM-exact bound logic.
pub fn strided_slice(
    cx: &OpCx<'_>,
    x: &ArrayD<f32>,
    s: &StridedSlice,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let (p, _) = tinyq_kernels::slice::prepare_strided_slice(
        x.shape(),
        &s.begin,
        &s.end,
        &s.strides,
        s.begin_mask,
        s.end_mask,
        s.ellipsis_mask,
        s.new_axis_mask,
        s.shrink_axis_mask,
        s.offset,
    )
    .map_err(|e| cx.err(e.to_string()))?;
    let counts = p.counts();
    let in_strides = tinyq_kernels::shape::strides(&p.input_shape);
    let data = flat(x);
    let total: usize = counts.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut idx = [0usize; MAX_DIMS];
    for _ in 0..total {
        let mut pos = 0i64;
        for d in 0..MAX_DIMS {
            let coord = i64::from(p.start[d]) + idx[d] as i64 * i64::from(p.stride[d]);
            pos += coord * in_strides[d] as i64;
        }
        let v = usize::try_from(pos)
            .ok()
            .and_then(|i| data.get(i))
            .ok_or_else(|| cx.err("slice index out of range"))?;
        out.push(*v);
        for d in (0..MAX_DIMS).rev() {
            idx[d] += 1;
            if idx[d] < counts[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    array(cx, out_shape, out)
}

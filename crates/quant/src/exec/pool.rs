//! AVERAGE_POOL_2D and MAX_POOL_2D in float (padding cells excluded).

use ndarray::ArrayD;
use tinyq_ir::op::Pool2D;

use super::{OpCx, apply_activation, array, flat};
use crate::error::ExecError;

/// Average (`max == false`) or max pooling over NHWC.
pub fn pool(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    a: &Pool2D,
    out_shape: &[usize],
    max: bool,
) -> Result<ArrayD<f32>, ExecError> {
    let [n, ih, iw, c] = <[usize; 4]>::try_from(input.shape())
        .map_err(|_| cx.err(format!("input has shape {:?}, expected 4-D", input.shape())))?;
    let [on, oh, ow, oc] = <[usize; 4]>::try_from(out_shape)
        .map_err(|_| cx.err(format!("output has shape {out_shape:?}, expected 4-D")))?;
    if on != n || oc != c {
        return Err(cx.err("input and output shapes do not fit"));
    }
    let x = flat(input);
    let mut out = vec![0f32; n * oh * ow * c];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let y0 = (oy * a.stride.h) as isize - a.padding.top as isize;
                let x0 = (ox * a.stride.w) as isize - a.padding.left as isize;
                let ys = y0.max(0) as usize
                    ..((y0 + a.filter.h as isize).min(ih as isize)).max(0) as usize;
                let xs = x0.max(0) as usize
                    ..((x0 + a.filter.w as isize).min(iw as isize)).max(0) as usize;
                for ch in 0..c {
                    let mut acc = if max { f32::MIN } else { 0.0 };
                    let mut count = 0usize;
                    for y in ys.clone() {
                        for xx in xs.clone() {
                            let v = x[((b * ih + y) * iw + xx) * c + ch];
                            if max {
                                acc = acc.max(v);
                            } else {
                                acc += v;
                            }
                            count += 1;
                        }
                    }
                    if !max {
                        if count == 0 {
                            return Err(cx.err("a pooling window covers no input cell"));
                        }
                        acc /= count as f32;
                    }
                    out[((b * oh + oy) * ow + ox) * c + ch] = acc;
                }
            }
        }
    }
    apply_activation(&mut out, a.activation);
    array(cx, out_shape, out)
}

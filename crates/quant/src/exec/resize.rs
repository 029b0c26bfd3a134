//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR in float, as TFLM's
//! `reference_ops::ResizeBilinear` and `reference_ops::ResizeNearestNeighbor`
//! (float32 coordinates, the four taps summed left to right).

use ndarray::ArrayD;
use tinyq_ir::op::Resize;

use super::{OpCx, array, flat};
use crate::error::ExecError;

/// `[N, H, W, C]` of the input and `[OH, OW]` of the output.
fn dims(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    out_shape: &[usize],
) -> Result<([usize; 4], usize, usize), ExecError> {
    match (input.shape(), out_shape) {
        (&[n, h, w, c], &[on, oh, ow, oc]) if on == n && oc == c && h > 0 && w > 0 => {
            Ok(([n, h, w, c], oh, ow))
        }
        _ => Err(cx.err(format!(
            "shapes do not fit: input {:?}, output {out_shape:?}",
            input.shape()
        ))),
    }
}

/// TFLM's float scale: `in / out`, or `(in - 1) / (out - 1)` with
/// `align_corners` when `out > 1`.
fn scale(input: usize, output: usize, align_corners: bool) -> f32 {
    if align_corners && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    }
}

/// `ComputeInterpolationValues`: the source coordinate and its two rows.
fn source(value: usize, scale: f32, half: bool, size: usize) -> (f32, usize, usize) {
    let v = value as f32;
    let scaled = if half {
        (v + 0.5) * scale - 0.5
    } else {
        v * scale
    };
    let lower = (scaled.floor() as i64).max(0) as usize;
    let upper = (scaled.ceil() as i64).min(size as i64 - 1).max(0) as usize;
    (scaled, lower.min(size - 1), upper)
}

pub fn bilinear(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    r: &Resize,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let ([n, h, w, c], oh, ow) = dims(cx, input, out_shape)?;
    let (sh, sw) = (scale(h, oh, r.align_corners), scale(w, ow, r.align_corners));
    let x = flat(input);
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for b in 0..n {
        for y in 0..oh {
            let (iy, y0, y1) = source(y, sh, r.half_pixel_centers, h);
            let dy = iy - y0 as f32;
            for xo in 0..ow {
                let (ix, x0, x1) = source(xo, sw, r.half_pixel_centers, w);
                let dx = ix - x0 as f32;
                let at = |yy: usize, xx: usize, ch: usize| x[((b * h + yy) * w + xx) * c + ch];
                for ch in 0..c {
                    out.push(
                        at(y0, x0, ch) * (1.0 - dy) * (1.0 - dx)
                            + at(y1, x0, ch) * dy * (1.0 - dx)
                            + at(y0, x1, ch) * (1.0 - dy) * dx
                            + at(y1, x1, ch) * dy * dx,
                    );
                }
            }
        }
    }
    array(cx, out_shape, out)
}

/// `GetNearestNeighbor`: floor, or round half away from zero with
/// `align_corners`, clamped into the input.
fn nearest(value: usize, size: usize, scale: f32, r: &Resize) -> usize {
    let offset = if r.half_pixel_centers { 0.5 } else { 0.0 };
    let scaled = (value as f32 + offset) * scale;
    let index = if r.align_corners {
        scaled.round() as i64
    } else {
        scaled.floor() as i64
    };
    index.clamp(0, size as i64 - 1) as usize
}

pub fn nearest_neighbor(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    r: &Resize,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let ([n, h, w, c], oh, ow) = dims(cx, input, out_shape)?;
    let (sh, sw) = (scale(h, oh, r.align_corners), scale(w, ow, r.align_corners));
    let x = flat(input);
    let mut out = Vec::with_capacity(n * oh * ow * c);
    for b in 0..n {
        for y in 0..oh {
            let iy = nearest(y, h, sh, r);
            for xo in 0..ow {
                let ix = nearest(xo, w, sw, r);
                let from = ((b * h + iy) * w + ix) * c;
                out.extend_from_slice(&x[from..from + c]);
            }
        }
    }
    array(cx, out_shape, out)
}

//! RESIZE_BILINEAR in float32, as TFLM's float `reference_ops::ResizeBilinear`
//! computes it (RESIZE_NEAREST_NEIGHBOR float is the generic
//! [`crate::resize::resize_nearest`]: a copy of whole values).
//!
//! Every step is float32, in TFLM's order: the scale `IH / (float)OH`
//! (`(IH - 1) / (float)(OH - 1)` with `align_corners`), the source
//! coordinate `y * scale` or, with half-pixel centers, `(y + 0.5) * scale -
//! 0.5`, its rows `y0 = max(floor, 0)` and `y1 = min(ceil, IH - 1)`, then
//! `in[y0,x0] * (1 - dy) * (1 - dx) + in[y1,x0] * dy * (1 - dx) + in[y0,x1] *
//! (1 - dy) * dx + in[y1,x1] * dy * dx + 0.0` with `dy = input_y - y0`,
//! each product and sum rounded left to right (the final `+ 0.0`, TFLM's
//! rounding offset for a float `T`, turns a `-0.0` into `+0.0`).

use crate::error::KernelError;
use crate::resize::{ResizeGeometry, float_scale};

/// RESIZE_BILINEAR float32 parameters: the geometry and TFLM's float scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizeBilinearF32Params {
    pub geometry: ResizeGeometry,
    /// `IH / (float)OH` (`(IH - 1) / (float)(OH - 1)` with `align_corners`).
    pub height_scale: f32,
    /// The same for widths.
    pub width_scale: f32,
    /// Sample at pixel centers (`+ 0.5`, `- 0.5`).
    pub half_pixel_centers: bool,
}

/// Host side: RESIZE_BILINEAR float parameters as TFLM derives them. TFLM
/// requires `half_pixel_centers` and `align_corners` not both set.
pub fn prepare_resize_bilinear_f32(
    geometry: ResizeGeometry,
    align_corners: bool,
    half_pixel_centers: bool,
) -> Result<ResizeBilinearF32Params, KernelError> {
    if align_corners && half_pixel_centers {
        return Err(KernelError::InvalidParams(
            "align_corners and half_pixel_centers cannot both be set",
        ));
    }
    let params = ResizeBilinearF32Params {
        geometry,
        height_scale: float_scale(geometry.input_height, geometry.output_height, align_corners),
        width_scale: float_scale(geometry.input_width, geometry.output_width, align_corners),
        half_pixel_centers,
    };
    geometry.check_sizes()?;
    Ok(params)
}

impl ResizeBilinearF32Params {
    /// What [`resize_bilinear_f32`] checks: sizes, finite non-negative
    /// scales, buffer lengths (in values).
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let ok = |s: f32| s.is_finite() && s >= 0.0;
        if !ok(self.height_scale) || !ok(self.width_scale) {
            return Err(KernelError::InvalidParams(
                "resize scales must be finite and non-negative",
            ));
        }
        self.geometry.check(input, output)
    }
}

/// `floor(v)` and `ceil(v)` as `int32_t` casts of `std::floor`/`std::ceil`
/// (`|v|` is far below 2^31 here: sizes are at most 65536, scales small).
#[inline]
fn floor_ceil(v: f32) -> (i32, i32) {
    let t = v as i32;
    let floor = if (t as f32) > v { t - 1 } else { t };
    let ceil = if (t as f32) < v { t + 1 } else { t };
    (floor, ceil)
}

/// One output coordinate's source, as TFLM's `ComputeInterpolationValues`:
/// the float position and the two input rows (or columns). The lower one
/// is also kept below `size` (TFLM's never exceeds it for these scales).
#[inline]
fn source(value: usize, scale: f32, half_pixel_centers: bool, size: usize) -> (f32, usize, usize) {
    let v = value as f32;
    let scaled = if half_pixel_centers {
        (v + 0.5) * scale - 0.5
    } else {
        v * scale
    };
    let (floor, ceil) = floor_ceil(scaled);
    let last = size as i32 - 1;
    let lower = floor.max(0).min(last) as usize;
    let upper = ceil.min(last).max(0) as usize;
    (scaled, lower, upper)
}

/// RESIZE_BILINEAR float32.
pub fn resize_bilinear_f32(
    p: &ResizeBilinearF32Params,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (ih, iw, c) = (g.input_height, g.input_width, g.channels);
    let mut out = output.chunks_exact_mut(c.max(1));
    for b in 0..g.batches {
        for y in 0..g.output_height {
            let (in_y, y0, y1) = source(y, p.height_scale, p.half_pixel_centers, ih);
            // `input_y - y0`: the int converted to float, as in C++.
            let dy = in_y - y0 as f32;
            for x in 0..g.output_width {
                let (in_x, x0, x1) = source(x, p.width_scale, p.half_pixel_centers, iw);
                let dx = in_x - x0 as f32;
                let at = |yy: usize, xx: usize| ((b * ih + yy) * iw + xx) * c;
                let (ll, lu, rl, ru) = (at(y0, x0), at(y1, x0), at(y0, x1), at(y1, x1));
                let Some(row) = out.next() else {
                    return Ok(());
                };
                for (ch, o) in row.iter_mut().enumerate().take(c) {
                    *o = input[ll + ch] * (1.0 - dy) * (1.0 - dx)
                        + input[lu + ch] * dy * (1.0 - dx)
                        + input[rl + ch] * (1.0 - dy) * dx
                        + input[ru + ch] * dy * dx
                        + 0.0;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::float_conv::tests::draw;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn geometry(n: usize, ih: usize, iw: usize, c: usize, oh: usize, ow: usize) -> ResizeGeometry {
        ResizeGeometry {
            batches: n,
            input_height: ih,
            input_width: iw,
            channels: c,
            output_height: oh,
            output_width: ow,
        }
    }

    /// TFLM's float formula written out with std's floor/ceil and i64
    /// coordinates (independent of the kernel's helpers).
    fn reference(g: &ResizeGeometry, align: bool, half: bool, x: &[f32]) -> Vec<f32> {
        let scale = |i: usize, o: usize| -> f32 {
            if align && o > 1 {
                (i - 1) as f32 / (o - 1) as f32
            } else {
                i as f32 / o as f32
            }
        };
        let coord = |v: usize, s: f32, size: usize| {
            let sv = if half {
                (v as f32 + 0.5f32) * s - 0.5f32
            } else {
                v as f32 * s
            };
            let lo = (sv.floor() as i64).max(0);
            let hi = (sv.ceil() as i64).min(size as i64 - 1);
            (sv, lo, hi)
        };
        let (sh, sw) = (
            scale(g.input_height, g.output_height),
            scale(g.input_width, g.output_width),
        );
        let mut out = Vec::new();
        for b in 0..g.batches {
            for y in 0..g.output_height {
                let (iy, y0, y1) = coord(y, sh, g.input_height);
                for xo in 0..g.output_width {
                    let (ix, x0, x1) = coord(xo, sw, g.input_width);
                    for c in 0..g.channels {
                        let px = |yy: i64, xx: i64| {
                            x[((b * g.input_height + yy as usize) * g.input_width + xx as usize)
                                * g.channels
                                + c]
                        };
                        let (fy, fx) = (iy - y0 as f32, ix - x0 as f32);
                        let v = px(y0, x0) * (1f32 - fy) * (1f32 - fx)
                            + px(y1, x0) * fy * (1f32 - fx)
                            + px(y0, x1) * (1f32 - fy) * fx
                            + px(y1, x1) * fy * fx
                            + 0f32;
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #[test]
        fn bilinear_equals_tflm_formula(
            n in 1usize..3, ih in 1usize..7, iw in 1usize..7, c in 1usize..4,
            oh in 1usize..15, ow in 1usize..15, mode in 0u8..3, seed in any::<u64>(),
        ) {
            let (align, half) = match mode { 0 => (false, false), 1 => (true, false), _ => (false, true) };
            let g = geometry(n, ih, iw, c, oh, ow);
            let p = prepare_resize_bilinear_f32(g, align, half).expect("valid test parameters");
            let mut state = seed;
            let x = draw(&mut state, n * ih * iw * c);
            let mut got = vec![0.0f32; n * oh * ow * c];
            resize_bilinear_f32(&p, &x, &mut got).expect("valid test parameters");
            prop_assert_eq!(bits(&got), bits(&reference(&g, align, half, &x)));
        }

        /// Float nearest neighbour is the generic kernel: equal to the int8
        /// kernel run on the float bytes with 4 times the channels.
        #[test]
        fn nearest_float_moves_whole_values(
            ih in 1usize..6, iw in 1usize..6, c in 1usize..3,
            oh in 1usize..12, ow in 1usize..12, mode in 0u8..3, seed in any::<u64>(),
        ) {
            let (align, half) = match mode { 0 => (false, false), 1 => (true, false), _ => (false, true) };
            let p = crate::resize::prepare_resize_nearest(geometry(1, ih, iw, c, oh, ow), align, half);
            let mut q = p;
            q.geometry.channels = 4 * c;
            let mut state = seed;
            let x = draw(&mut state, ih * iw * c);
            let mut got = vec![0.0f32; oh * ow * c];
            crate::resize::resize_nearest(&p, &x, &mut got).expect("valid test parameters");
            let bytes: Vec<i8> = x.iter().flat_map(|v| v.to_le_bytes()).map(|b| b as i8).collect();
            let mut out = vec![0i8; 4 * oh * ow * c];
            crate::resize::resize_nearest(&q, &bytes, &mut out).expect("valid test parameters");
            let want: Vec<i8> = got.iter().flat_map(|v| v.to_le_bytes()).map(|b| b as i8).collect();
            prop_assert_eq!(out, want);
        }
    }

    #[test]
    fn identity_size_copies_and_clears_negative_zero() {
        let g = geometry(1, 2, 2, 1, 2, 2);
        let p = prepare_resize_bilinear_f32(g, false, false).expect("valid test parameters");
        let mut out = [0.0f32; 4];
        resize_bilinear_f32(&p, &[1.5, -0.0, 3.0, -2.0], &mut out).expect("valid test parameters");
        assert_eq!(bits(&out), bits(&[1.5, 0.0, 3.0, -2.0]));
    }

    #[test]
    fn both_modes_are_refused() {
        assert!(prepare_resize_bilinear_f32(geometry(1, 2, 2, 1, 4, 4), true, true).is_err());
    }
}

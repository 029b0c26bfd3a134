//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR of an int8 NHWC tensor, as
//! TFLM's `reference_ops::ResizeBilinearInteger` and
//! `reference_ops::ResizeNearestNeighbor`. Neither requantizes: the output
//! has the input's scale and zero point (the converter's same-scale rule).
//!
//! Bilinear works in 10-bit fixed point: a source coordinate is
//! `input_y = y * scale_10 (+ scale_10 / 2 - 512 with half-pixel centers)`,
//! its row `y0 = max(input_y / 1024, 0)` (C division, toward zero), the next
//! `y1 = min(ceil(input_y / 1024), IH - 1)`, and the four weighted taps sum
//! in 20 fractional bits, rounded half away from zero (TFLM's default
//! double-rounding build). Nearest neighbour maps each output coordinate
//! through float32 exactly as TFLM's `GetNearestNeighbor`: floor, or round
//! half away from zero with `align_corners`.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::round_half_away_f32;

/// Largest height or width the resize kernels accept: keeps every
/// fixed-point coordinate (about `1024 * size`) far inside `i32`.
pub const MAX_RESIZE_DIM: usize = 1 << 16;

/// Geometry of a resize, shared by both kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeGeometry {
    /// N (same for input and output).
    pub batches: usize,
    /// IH.
    pub input_height: usize,
    /// IW.
    pub input_width: usize,
    /// C (same for input and output).
    pub channels: usize,
    /// OH.
    pub output_height: usize,
    /// OW.
    pub output_width: usize,
}

impl ResizeGeometry {
    /// Heights and widths in `1..=MAX_RESIZE_DIM`.
    pub(crate) fn check_sizes(&self) -> Result<(), KernelError> {
        let sizes = [
            self.input_height,
            self.input_width,
            self.output_height,
            self.output_width,
        ];
        if sizes.iter().any(|&s| s == 0 || s > MAX_RESIZE_DIM) {
            return Err(KernelError::InvalidParams(
                "resize heights and widths must be in 1..=65536",
            ));
        }
        Ok(())
    }

    /// Sizes, then the buffer lengths in elements.
    pub(crate) fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        self.check_sizes()?;
        let volume = |h: usize, w: usize| {
            [self.batches, h, w, self.channels]
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .ok_or(KernelError::InvalidParams("tensor size overflows usize"))
        };
        check_len(
            "resize input",
            volume(self.input_height, self.input_width)?,
            input,
        )?;
        check_len(
            "resize output",
            volume(self.output_height, self.output_width)?,
            output,
        )
    }
}

/// RESIZE_BILINEAR parameters: the geometry and TFLM's 10-bit scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeBilinearParams {
    pub geometry: ResizeGeometry,
    /// `round(1024 * IH / OH)` (`(IH - 1) / (OH - 1)` with `align_corners`).
    pub height_scale_10: i32,
    /// The same for widths.
    pub width_scale_10: i32,
    /// Sample at pixel centers (`+ 0.5`, `- 0.5`).
    pub half_pixel_centers: bool,
}

/// TFLM's 10-bit scale: `(1024 * in + out / 2) / out` in integers, with
/// `in - 1` and `out - 1` under `align_corners` when `out > 1`.
fn scale_10(input: usize, output: usize, align_corners: bool) -> i32 {
    let (i, o) = if align_corners && output > 1 {
        (input as i64 - 1, output as i64 - 1)
    } else {
        (input as i64, output as i64)
    };
    ((1024 * i + o / 2) / o) as i32
}

/// Host side: RESIZE_BILINEAR parameters as TFLM derives them. TFLM
/// requires `half_pixel_centers` and `align_corners` not both set.
pub fn prepare_resize_bilinear(
    geometry: ResizeGeometry,
    align_corners: bool,
    half_pixel_centers: bool,
) -> Result<ResizeBilinearParams, KernelError> {
    if align_corners && half_pixel_centers {
        return Err(KernelError::InvalidParams(
            "align_corners and half_pixel_centers cannot both be set",
        ));
    }
    let sizes = [
        geometry.input_height,
        geometry.input_width,
        geometry.output_height,
        geometry.output_width,
    ];
    if sizes.iter().any(|&s| s == 0 || s > MAX_RESIZE_DIM) {
        return Err(KernelError::InvalidParams(
            "resize heights and widths must be in 1..=65536",
        ));
    }
    let params = ResizeBilinearParams {
        geometry,
        height_scale_10: scale_10(geometry.input_height, geometry.output_height, align_corners),
        width_scale_10: scale_10(geometry.input_width, geometry.output_width, align_corners),
        half_pixel_centers,
    };
    params.check_taps()?;
    Ok(params)
}

/// One output coordinate's source: the fixed-point position and the two
/// neighbouring input rows (or columns), as TFLM's
/// `ComputeInterpolationValuesInteger`. `y0` is not clamped from above.
#[inline]
fn source(value: usize, scale_10: i32, half_pixel_centers: bool, size: usize) -> (i32, i32, i32) {
    let v = value as i32;
    let scaled = if half_pixel_centers {
        v * scale_10 + scale_10 / 2 - (1 << 9)
    } else {
        v * scale_10
    };
    // `/` truncates toward zero, as C's does.
    let lower = (scaled / 1024).max(0);
    let upper = ((scaled + 1023) / 1024).min(size as i32 - 1);
    (scaled, lower, upper)
}

impl ResizeBilinearParams {
    /// The last output row and column read inside the input. For large
    /// upscales TFLM's rounded 10-bit scale walks past the last row (it then
    /// reads outside the tensor), which tinyq refuses rather than imitate.
    fn check_taps(&self) -> Result<(), KernelError> {
        let g = &self.geometry;
        // Every `y * scale + scale` (and the rounding terms) fits in i32.
        let fits = |out: usize, scale: i32| {
            scale >= 0 && (out as i64 + 1) * i64::from(scale) + 2048 < i64::from(i32::MAX)
        };
        if !fits(g.output_height, self.height_scale_10)
            || !fits(g.output_width, self.width_scale_10)
        {
            return Err(KernelError::InvalidParams("resize scale out of range"));
        }
        let (_, y0, _) = source(
            g.output_height - 1,
            self.height_scale_10,
            self.half_pixel_centers,
            g.input_height,
        );
        let (_, x0, _) = source(
            g.output_width - 1,
            self.width_scale_10,
            self.half_pixel_centers,
            g.input_width,
        );
        if y0 as usize >= g.input_height || x0 as usize >= g.input_width {
            return Err(KernelError::InvalidParams(
                "this upscale makes TFLM's integer RESIZE_BILINEAR read past the input",
            ));
        }
        Ok(())
    }

    /// What [`resize_bilinear`] checks: sizes, scales, taps inside the
    /// input, and buffer lengths.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        self.geometry.check(input, output)?;
        self.check_taps()
    }
}

/// RESIZE_BILINEAR int8.
pub fn resize_bilinear(
    p: &ResizeBilinearParams,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (ih, iw, c) = (g.input_height, g.input_width, g.channels);
    let mut out = output.chunks_exact_mut(c.max(1));
    for b in 0..g.batches {
        for y in 0..g.output_height {
            let (in_y, y0, y1) = source(y, p.height_scale_10, p.half_pixel_centers, ih);
            let dy = i64::from(in_y - 1024 * y0);
            for x in 0..g.output_width {
                let (in_x, x0, x1) = source(x, p.width_scale_10, p.half_pixel_centers, iw);
                let dx = i64::from(in_x - 1024 * x0);
                let at = |yy: i32, xx: i32| ((b * ih + yy as usize) * iw + xx as usize) * c;
                let (ll, lu, rl, ru) = (at(y0, x0), at(y1, x0), at(y0, x1), at(y1, x1));
                let Some(row) = out.next() else {
                    return Ok(());
                };
                for (ch, o) in row.iter_mut().enumerate().take(c) {
                    let sum = i64::from(input[ll + ch]) * (1024 - dy) * (1024 - dx)
                        + i64::from(input[lu + ch]) * dy * (1024 - dx)
                        + i64::from(input[rl + ch]) * (1024 - dy) * dx
                        + i64::from(input[ru + ch]) * dy * dx;
                    let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                    // Truncating division, then C's narrowing cast.
                    *o = ((sum + round) / (1 << 20)) as i8;
                }
            }
        }
    }
    Ok(())
}

/// RESIZE_NEAREST_NEIGHBOR parameters: the geometry and TFLM's float scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizeNearestParams {
    pub geometry: ResizeGeometry,
    /// `IH / OH` in float32 (`(IH - 1) / (OH - 1)` with `align_corners`).
    pub height_scale: f32,
    /// The same for widths.
    pub width_scale: f32,
    /// Round to the nearest source instead of flooring.
    pub align_corners: bool,
    /// Sample at pixel centers (`+ 0.5`).
    pub half_pixel_centers: bool,
}

/// TFLM's float32 scale, `in / (float)out`, with `in - 1` and `out - 1`
/// under `align_corners` when `out > 1`.
pub(crate) fn float_scale(input: usize, output: usize, align_corners: bool) -> f32 {
    if align_corners && output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        input as f32 / output as f32
    }
}

/// Host side: RESIZE_NEAREST_NEIGHBOR parameters as TFLM derives them.
pub fn prepare_resize_nearest(
    geometry: ResizeGeometry,
    align_corners: bool,
    half_pixel_centers: bool,
) -> ResizeNearestParams {
    ResizeNearestParams {
        geometry,
        height_scale: float_scale(geometry.input_height, geometry.output_height, align_corners),
        width_scale: float_scale(geometry.input_width, geometry.output_width, align_corners),
        align_corners,
        half_pixel_centers,
    }
}

/// The source row (or column) of an output coordinate, as TFLM's
/// `GetNearestNeighbor`: `(value + offset) * scale` in float32, rounded or
/// floored, then clamped into the input.
#[inline]
fn nearest(value: usize, size: usize, scale: f32, align_corners: bool, half: bool) -> usize {
    let offset = if half { 0.5f32 } else { 0.0 };
    let scaled = (value as f32 + offset) * scale;
    // `scaled >= 0`, so truncation is `floor`; `as` saturates, never panics.
    let index = if align_corners {
        round_half_away_f32(scaled) as i32
    } else {
        scaled as i32
    };
    index.min(size as i32 - 1).max(0) as usize
}

impl ResizeNearestParams {
    /// What [`resize_nearest`] checks: sizes, finite non-negative scales and
    /// buffer lengths.
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

/// RESIZE_NEAREST_NEIGHBOR (a copy of `C` values per output pixel): int8,
/// and float32 as TFLM's float kernel (the same template).
pub fn resize_nearest<T: Copy>(
    p: &ResizeNearestParams,
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let g = &p.geometry;
    let (ih, iw, c) = (g.input_height, g.input_width, g.channels);
    let mut out = output.chunks_exact_mut(c.max(1));
    for b in 0..g.batches {
        for y in 0..g.output_height {
            let in_y = nearest(y, ih, p.height_scale, p.align_corners, p.half_pixel_centers);
            for x in 0..g.output_width {
                let in_x = nearest(x, iw, p.width_scale, p.align_corners, p.half_pixel_centers);
                let from = ((b * ih + in_y) * iw + in_x) * c;
                let Some(row) = out.next() else {
                    return Ok(());
                };
                row.copy_from_slice(&input[from..from + c]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::Rng;
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

    /// TFLM's bilinear arithmetic written from its definition in i128 with
    /// explicit truncating division (independent of the kernel's helpers).
    fn ref_bilinear(g: &ResizeGeometry, align: bool, half: bool, x: &[i8]) -> Vec<i8> {
        let trunc_div = |a: i128, b: i128| {
            let q = a.abs() / b.abs();
            if (a < 0) != (b < 0) { -q } else { q }
        };
        let scale = |i: usize, o: usize| -> i128 {
            let (i, o) = if align && o > 1 {
                (i as i128 - 1, o as i128 - 1)
            } else {
                (i as i128, o as i128)
            };
            trunc_div(1024 * i + trunc_div(o, 2), o)
        };
        let coord = |v: usize, s: i128, size: usize| {
            let sv = if half {
                v as i128 * s + trunc_div(s, 2) - 512
            } else {
                v as i128 * s
            };
            let lo = trunc_div(sv, 1024).max(0);
            let hi = trunc_div(sv + 1023, 1024).min(size as i128 - 1);
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
                        let px = |yy: i128, xx: i128| {
                            let i = ((b * g.input_height + yy as usize) * g.input_width
                                + xx as usize)
                                * g.channels
                                + c;
                            x[i] as i128
                        };
                        let (wy1, wx1) = (iy - 1024 * y0, ix - 1024 * x0);
                        let (wy0, wx0) = (1024 - wy1, 1024 - wx1);
                        let sum = px(y0, x0) * wy0 * wx0
                            + px(y1, x0) * wy1 * wx0
                            + px(y0, x1) * wy0 * wx1
                            + px(y1, x1) * wy1 * wx1;
                        let r = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                        out.push(trunc_div(sum + r, 1 << 20) as i8);
                    }
                }
            }
        }
        out
    }

    /// TFLM's nearest-neighbour index, with floor and round found by search
    /// over candidate integers rather than by casts.
    fn ref_nearest_index(v: usize, i: usize, o: usize, align: bool, half: bool) -> usize {
        let scale = if align && o > 1 {
            (i - 1) as f32 / (o - 1) as f32
        } else {
            i as f32 / o as f32
        };
        let s = (v as f32 + if half { 0.5 } else { 0.0 }) * scale;
        let floor = (0..=i as i64 + 2)
            .rev()
            .find(|&k| k as f32 <= s)
            .unwrap_or(0);
        let idx = if align {
            // Half away from zero for s >= 0.
            if s - floor as f32 >= 0.5 {
                floor + 1
            } else {
                floor
            }
        } else {
            floor
        };
        idx.clamp(0, i as i64 - 1) as usize
    }

    #[test]
    fn bilinear_2x2_to_3x3_align_corners() {
        let g = geometry(1, 2, 2, 1, 3, 3);
        let p = prepare_resize_bilinear(g, true, false).expect("prepare");
        let mut out = [0i8; 9];
        resize_bilinear(&p, &[0, 100, -100, 20], &mut out).expect("runs");
        assert_eq!(out, [0, 50, 100, -50, 5, 60, -100, -40, 20]);
    }

    #[test]
    fn refuses_both_flags_and_far_upscales() {
        let g = geometry(1, 2, 2, 1, 3, 3);
        assert!(prepare_resize_bilinear(g, true, true).is_err());
        // 1 -> 55: TFLM's rounded scale puts the last row at input row 1.
        let g = geometry(1, 1, 1, 1, 55, 1);
        assert!(prepare_resize_bilinear(g, false, false).is_err());
        let mut out = [0i8; 9];
        let p = prepare_resize_bilinear(geometry(1, 2, 2, 1, 3, 3), false, false).expect("p");
        assert!(resize_bilinear(&p, &[0; 3], &mut out).is_err());
        let p = prepare_resize_nearest(geometry(1, 2, 2, 1, 3, 3), false, false);
        assert!(resize_nearest(&p, &[0; 4], &mut out[..8]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn bilinear_matches_reference(
            n in 1usize..=2, ih in 1usize..=9, iw in 1usize..=9, c in 1usize..=3,
            oh in 1usize..=20, ow in 1usize..=20, mode in 0usize..3, seed: u64,
        ) {
            let (align, half) = [(false, false), (true, false), (false, true)][mode];
            let g = geometry(n, ih, iw, c, oh, ow);
            let p = prepare_resize_bilinear(g, align, half).expect("prepare");
            let mut rng = Rng(seed);
            let x = rng.i8s(n * ih * iw * c, -128, 127);
            let mut out = vec![0i8; n * oh * ow * c];
            prop_assert_eq!(resize_bilinear(&p, &x, &mut out), Ok(()));
            prop_assert_eq!(out, ref_bilinear(&g, align, half, &x));
        }

        #[test]
        fn bilinear_extremes(ih in 1usize..=5, oh in 1usize..=12, mode in 0usize..3, v in prop_oneof![Just(-128i8), Just(127i8)]) {
            let (align, half) = [(false, false), (true, false), (false, true)][mode];
            let g = geometry(1, ih, ih, 1, oh, oh);
            let p = prepare_resize_bilinear(g, align, half).expect("prepare");
            let x = vec![v; ih * ih];
            let mut out = vec![0i8; oh * oh];
            prop_assert_eq!(resize_bilinear(&p, &x, &mut out), Ok(()));
            // A constant image stays constant (the weights sum to 2^20).
            prop_assert!(out.iter().all(|&o| o == v));
        }

        #[test]
        fn nearest_matches_reference(
            n in 1usize..=2, ih in 1usize..=9, iw in 1usize..=9, c in 1usize..=3,
            oh in 1usize..=20, ow in 1usize..=20, align: bool, half: bool, seed: u64,
        ) {
            let g = geometry(n, ih, iw, c, oh, ow);
            let p = prepare_resize_nearest(g, align, half);
            let mut rng = Rng(seed);
            let x = rng.i8s(n * ih * iw * c, -128, 127);
            let mut out = vec![0i8; n * oh * ow * c];
            prop_assert_eq!(resize_nearest(&p, &x, &mut out), Ok(()));
            let mut want = Vec::new();
            for b in 0..n {
                for y in 0..oh {
                    let sy = ref_nearest_index(y, ih, oh, align, half);
                    for xo in 0..ow {
                        let sx = ref_nearest_index(xo, iw, ow, align, half);
                        for ch in 0..c {
                            want.push(x[((b * ih + sy) * iw + sx) * c + ch]);
                        }
                    }
                }
            }
            prop_assert_eq!(out, want);
        }
    }
}

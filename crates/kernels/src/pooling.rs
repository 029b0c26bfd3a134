//! AVERAGE_POOL_2D and MAX_POOL_2D int8 (spec 2.10, 2.11), as TFLM's
//! `reference_integer_ops::AveragePool` / `MaxPool`.
//!
//! Input NHWC `[N, IH, IW, C]`, output `[N, OH, OW, C]`. Both operate on raw
//! int8 codes (TFLM requires input and output to share scale and zero
//! point, see [`prepare_pool`]). The window is clipped to the image: padding
//! cells are neither averaged nor counted.

use crate::conv::{I8_RANGE, check_act_range_within, check_span, volume};
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, activation_range};

/// Geometry and fused-activation clamp of one pooling op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolParams {
    /// N.
    pub batches: usize,
    /// IH.
    pub input_height: usize,
    /// IW.
    pub input_width: usize,
    /// C (same for input and output).
    pub channels: usize,
    /// Window height.
    pub filter_height: usize,
    /// Window width.
    pub filter_width: usize,
    /// OH.
    pub output_height: usize,
    /// OW.
    pub output_width: usize,
    /// Vertical stride (>= 1).
    pub stride_height: usize,
    /// Horizontal stride (>= 1).
    pub stride_width: usize,
    /// Rows of padding above the image.
    pub pad_top: usize,
    /// Columns of padding left of the image.
    pub pad_left: usize,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Host side: completes `geom` (whose clamp fields are ignored) with the
/// fused-activation clamp, after TFLM's prepare check that input and output
/// share quantization (`|(f64)in - (f64)out| <= 1e-6`, equal zero points).
pub fn prepare_pool(
    geom: PoolParams,
    (input_scale, input_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> Result<PoolParams, KernelError> {
    let scale_diff = (f64::from(input_scale) - f64::from(output_scale)).abs();
    if scale_diff.is_nan() || scale_diff > 1.0e-6 || input_zero_point != output_zero_point {
        return Err(KernelError::InvalidParams(
            "pooling input and output must share scale and zero point",
        ));
    }
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    Ok(PoolParams {
        act_min,
        act_max,
        ..geom
    })
}

impl PoolParams {
    /// Everything [`max_pool`] checks before it reads a value: the
    /// parameters and the length in elements of both buffers.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        self.check_within(input, output, I8_RANGE)
    }

    /// [`PoolParams::check`] with the clamp inside `range`, the output
    /// type's (the int16 pools pass int16's).
    pub fn check_within(
        &self,
        input: usize,
        output: usize,
        range: (i32, i32),
    ) -> Result<(), KernelError> {
        if self.stride_height == 0 || self.stride_width == 0 {
            return Err(KernelError::InvalidParams("strides must be >= 1"));
        }
        check_act_range_within(self.act_min, self.act_max, range)?;
        check_span(
            self.output_height,
            self.stride_height,
            self.filter_height,
            1,
        )?;
        check_span(self.output_width, self.stride_width, self.filter_width, 1)?;
        let (n, c) = (self.batches, self.channels);
        check_len(
            "input",
            volume(&[n, self.input_height, self.input_width, c])?,
            input,
        )?;
        check_len(
            "output",
            volume(&[n, self.output_height, self.output_width, c])?,
            output,
        )?;
        Ok(())
    }

    /// Everything [`average_pool`] checks before it reads a value: as
    /// [`PoolParams::check`], plus that no window lies entirely in the
    /// padding and that every window's cell count fits an `i32`.
    pub fn check_average(&self, input: usize, output: usize) -> Result<(), KernelError> {
        self.check_average_within(input, output, I8_RANGE)
    }

    /// [`PoolParams::check_average`] with the clamp inside `range`.
    pub fn check_average_within(
        &self,
        input: usize,
        output: usize,
        range: (i32, i32),
    ) -> Result<(), KernelError> {
        self.check_within(input, output, range)?;
        if self.batches == 0 {
            return Ok(());
        }
        // Per axis: whether some window is empty, and the most cells any
        // window covers; a window's count is the product of its two extents.
        let extents = |out: usize, stride: usize, pad: usize, k: usize, size: usize| {
            (0..out).fold((false, 0usize), |(empty, most), o| {
                let (s, e) = clip(o, stride, pad, k, size);
                (empty || s >= e, most.max(e.saturating_sub(s)))
            })
        };
        let (empty_y, most_y) = extents(
            self.output_height,
            self.stride_height,
            self.pad_top,
            self.filter_height,
            self.input_height,
        );
        let (empty_x, most_x) = extents(
            self.output_width,
            self.stride_width,
            self.pad_left,
            self.filter_width,
            self.input_width,
        );
        // TFLM fails at the first empty window it averages.
        if self.channels > 0 && (empty_y || empty_x) {
            return Err(KernelError::InvalidParams(
                "pooling window lies entirely in the padding",
            ));
        }
        let fits = most_y
            .checked_mul(most_x)
            .is_some_and(|n| i32::try_from(n).is_ok());
        if !fits {
            return Err(KernelError::InvalidParams("pooling window too large"));
        }
        Ok(())
    }
}

/// The window's clipped extent along one axis, as input coordinates
/// `start..end` (empty if the window lies entirely in the padding).
#[inline]
pub(crate) fn clip(out: usize, stride: usize, pad: usize, k: usize, size: usize) -> (usize, usize) {
    let raw = out * stride; // unpadded coordinate of the window's first cell
    let start = raw.max(pad) - pad;
    let end = raw.saturating_add(k).max(pad) - pad;
    (start.min(size), end.min(size))
}

/// AVERAGE_POOL_2D int8. Sums raw codes over the clipped window and divides
/// by the number of cells actually read, rounding half away from zero. Like
/// TFLM (which returns an error), a window with no cell inside the image is
/// an error; it is detected before anything is written.
pub fn average_pool(p: &PoolParams, input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    p.check_average(input.len(), output.len())?;
    let (ih, iw, c) = (p.input_height, p.input_width, p.channels);
    let (oh, ow) = (p.output_height, p.output_width);
    for b in 0..p.batches {
        for oy in 0..oh {
            let (y0, y1) = clip(oy, p.stride_height, p.pad_top, p.filter_height, ih);
            for ox in 0..ow {
                let (x0, x1) = clip(ox, p.stride_width, p.pad_left, p.filter_width, iw);
                // count > 0 and fits an i32 (check_average).
                let count = i32::try_from((y1 - y0) * (x1 - x0))
                    .map_err(|_| KernelError::InvalidParams("pooling window too large"))?;
                let out_base = ((b * oh + oy) * ow + ox) * c;
                for ch in 0..c {
                    let mut acc: i32 = 0;
                    for y in y0..y1 {
                        let row = (b * ih + y) * iw;
                        for x in x0..x1 {
                            acc = acc.wrapping_add(i32::from(input[(row + x) * c + ch]));
                        }
                    }
                    // C truncating division after a half-count nudge away from
                    // zero: round half away from zero.
                    let avg = if acc > 0 {
                        acc.wrapping_add(count / 2) / count
                    } else {
                        acc.wrapping_sub(count / 2) / count
                    };
                    output[out_base + ch] = avg.clamp(p.act_min, p.act_max) as i8;
                }
            }
        }
    }
    Ok(())
}

/// MAX_POOL_2D int8: the largest raw code in the clipped window (starting
/// from -128, so an all-padding window yields -128), then the clamp.
pub fn max_pool(p: &PoolParams, input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let (ih, iw, c) = (p.input_height, p.input_width, p.channels);
    let (oh, ow) = (p.output_height, p.output_width);
    // In range by check_act_range.
    let (lo, hi) = (p.act_min as i8, p.act_max as i8);
    for b in 0..p.batches {
        for oy in 0..oh {
            let (y0, y1) = clip(oy, p.stride_height, p.pad_top, p.filter_height, ih);
            for ox in 0..ow {
                let (x0, x1) = clip(ox, p.stride_width, p.pad_left, p.filter_width, iw);
                let out = &mut output[((b * oh + oy) * ow + ox) * c..][..c];
                out.fill(i8::MIN);
                // Channels innermost: one contiguous pass per window cell.
                for y in y0..y1 {
                    let row = (b * ih + y) * iw;
                    for x in x0..x1 {
                        let cell = &input[(row + x) * c..][..c];
                        for (o, &v) in out.iter_mut().zip(cell) {
                            *o = (*o).max(v);
                        }
                    }
                }
                for o in out.iter_mut() {
                    *o = (*o).clamp(lo, hi);
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
    use crate::conv::test_ref::Rng;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn geom(n: usize, i: [usize; 3], k: [usize; 2], o: [usize; 2]) -> PoolParams {
        PoolParams {
            batches: n,
            input_height: i[0],
            input_width: i[1],
            channels: i[2],
            filter_height: k[0],
            filter_width: k[1],
            output_height: o[0],
            output_width: o[1],
            stride_height: 1,
            stride_width: 1,
            pad_top: 0,
            pad_left: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    /// Reference: iterate the full (unclipped) window with signed coordinates,
    /// skip cells outside the image, exact integer rounding half away.
    fn reference(p: &PoolParams, input: &[i8], avg: bool) -> Option<Vec<i8>> {
        let mut out = Vec::new();
        for b in 0..p.batches as i64 {
            for oy in 0..p.output_height as i64 {
                for ox in 0..p.output_width as i64 {
                    for ch in 0..p.channels as i64 {
                        let (mut sum, mut n, mut max) = (0i64, 0i64, -128i64);
                        for ky in 0..p.filter_height as i64 {
                            for kx in 0..p.filter_width as i64 {
                                let y = oy * p.stride_height as i64 + ky - p.pad_top as i64;
                                let x = ox * p.stride_width as i64 + kx - p.pad_left as i64;
                                if y < 0
                                    || x < 0
                                    || y >= p.input_height as i64
                                    || x >= p.input_width as i64
                                {
                                    continue;
                                }
                                let idx = ((b * p.input_height as i64 + y) * p.input_width as i64
                                    + x)
                                    * p.channels as i64
                                    + ch;
                                let v = i64::from(input[idx as usize]);
                                sum += v;
                                n += 1;
                                max = max.max(v);
                            }
                        }
                        let v = if avg {
                            if n == 0 {
                                return None;
                            }
                            let mag = (2 * sum.abs() + n) / (2 * n);
                            if sum < 0 { -mag } else { mag }
                        } else {
                            max
                        };
                        out.push(v.clamp(i64::from(p.act_min), i64::from(p.act_max)) as i8);
                    }
                }
            }
        }
        Some(out)
    }

    #[test]
    fn average_excludes_padding_and_rounds_half_away() {
        // 2x2 image, 2x2 window, one pixel of top/left padding, 2x2 output.
        let mut p = geom(1, [2, 2, 1], [2, 2], [2, 2]);
        p.pad_top = 1;
        p.pad_left = 1;
        let mut out = [0i8; 4];
        assert_eq!(average_pool(&p, &[3, -5, 4, 6], &mut out), Ok(()));
        // [3], [3,-5] -> -1 (half away), [3,4] -> 3.5 -> 4, all four -> 2
        assert_eq!(out, [3, -1, 4, 2]);
        assert_eq!(max_pool(&p, &[3, -5, 4, 6], &mut out), Ok(()));
        assert_eq!(out, [3, 3, 4, 6]);
    }

    #[test]
    fn prepare_requires_shared_quantization() {
        let g = geom(1, [1, 1, 1], [1, 1], [1, 1]);
        let p = prepare_pool(g, (0.1, -3), (0.1, -3), Activation::Relu)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.act_min, p.act_max), (-3, 127));
        assert!(prepare_pool(g, (0.1, -3), (0.1000001, -3), Activation::None).is_ok());
        assert!(prepare_pool(g, (0.1, -3), (0.100002, -3), Activation::None).is_err());
        assert!(prepare_pool(g, (0.1, -3), (0.1, -2), Activation::None).is_err());
    }

    #[test]
    fn errors() {
        let p = geom(1, [2, 2, 1], [2, 2], [1, 1]);
        let mut out = [0i8; 1];
        assert!(average_pool(&p, &[0; 3], &mut out).is_err());
        assert!(max_pool(&p, &[0; 4], &mut []).is_err());
        assert!(
            average_pool(
                &PoolParams {
                    stride_width: 0,
                    ..p
                },
                &[0; 4],
                &mut out
            )
            .is_err()
        );
        assert!(
            max_pool(
                &PoolParams {
                    act_min: 3,
                    act_max: 2,
                    ..p
                },
                &[0; 4],
                &mut out
            )
            .is_err()
        );
        // Window entirely in the padding: average is an error, max gives -128.
        let pad = PoolParams { pad_left: 2, ..p };
        assert!(average_pool(&pad, &[0; 4], &mut out).is_err());
        assert_eq!(max_pool(&pad, &[0; 4], &mut out), Ok(()));
        assert_eq!(out, [-128]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_reference(
            n in 1usize..=2, ih in 1usize..=7, iw in 1usize..=7, c in 1usize..=4,
            kh in 1usize..=4, kw in 1usize..=4, oh in 1usize..=5, ow in 1usize..=5,
            sh in 1usize..=3, sw in 1usize..=3, pt in 0usize..=2, pl in 0usize..=2,
            zp in -128i32..=127, act in 0usize..4, seed: u64,
        ) {
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let mut g = geom(n, [ih, iw, c], [kh, kw], [oh, ow]);
            g.stride_height = sh; g.stride_width = sw; g.pad_top = pt; g.pad_left = pl;
            let p = prepare_pool(g, (0.05, zp), (0.05, zp), act).unwrap_or_else(|e| panic!("{e}"));
            let input = Rng(seed).i8s(n * ih * iw * c, -128, 127);
            let mut out = vec![0i8; n * oh * ow * c];
            match reference(&p, &input, true) {
                Some(want) => {
                    prop_assert_eq!(average_pool(&p, &input, &mut out), Ok(()));
                    prop_assert_eq!(&out, &want);
                }
                None => prop_assert!(average_pool(&p, &input, &mut out).is_err()),
            }
            prop_assert_eq!(max_pool(&p, &input, &mut out), Ok(()));
            prop_assert_eq!(Some(out), reference(&p, &input, false));
        }
    }
}

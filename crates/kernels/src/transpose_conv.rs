//! TRANSPOSE_CONV, int8 activations and per-channel int8 weights, as TFLM's
//! `reference_integer_ops::TransposeConv`.
//!
//! Layouts: input NHWC `[N, IH, IW, IC]`, filter OHWI `[OC, KH, KW, IC]`,
//! bias `[OC]`, output `[N, OH, OW, OC]`. Input pixel `(iy, ix)` through tap
//! `(ky, kx)` lands on output pixel `(iy * SH - pad_top + ky, ix * SW -
//! pad_left + kx)` when that is inside the output. TFLM scatters every
//! product into an int32 scratch copy of the output; this kernel gathers
//! the same products per output value instead, which needs no scratch
//! buffer and gives the same int32 sums (wrapping addition does not depend
//! on order). Each sum then gets the bias and TFLM's per-channel
//! requantization, clamped to the fused activation's range.

use crate::conv::check_act_range;
use crate::conv::{check_shifts, volume};
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, activation_range, clamp_to_i8, mbqm};

/// Geometry and folded quantization of one TRANSPOSE_CONV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposeConvParams {
    /// N (same for input and output).
    pub batches: usize,
    /// IH.
    pub input_height: usize,
    /// IW.
    pub input_width: usize,
    /// IC (also the filter's last dimension).
    pub input_channels: usize,
    /// KH.
    pub filter_height: usize,
    /// KW.
    pub filter_width: usize,
    /// OH.
    pub output_height: usize,
    /// OW.
    pub output_width: usize,
    /// OC.
    pub output_channels: usize,
    /// Vertical stride (>= 1).
    pub stride_height: usize,
    /// Horizontal stride (>= 1).
    pub stride_width: usize,
    /// Output rows cropped above (TFLM's `padding_values.height`).
    pub pad_top: usize,
    /// Output columns cropped on the left (`padding_values.width`).
    pub pad_left: usize,
    /// `-input_zero_point`.
    pub input_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Host side: the padding TFLM's transpose convolution crops, from the
/// output size as `ComputePaddingHeightWidth` derives it (dilation 1, the
/// output size in the role of a convolution's input size):
/// `max((ceil(out / s) - 1) * s + k - out, 0) / 2` for SAME, and
/// `max(((out - k + s) / s - 1) * s + k - out, 0) / 2` for VALID.
pub fn transpose_conv_padding(same: bool, stride: usize, filter: usize, output: usize) -> usize {
    let (s, k, o) = (stride as i64, filter as i64, output as i64);
    if s <= 0 {
        return 0;
    }
    let steps = if same {
        (o + s - 1) / s
    } else {
        (o + s - k) / s
    };
    let total = (steps - 1) * s + k - o;
    (total.max(0) / 2) as usize
}

/// Host side: completes `geom` (whose quantization fields are ignored) with
/// the offsets and the fused-activation clamp, as TFLM's transpose-conv
/// prepare does.
pub fn prepare_transpose_conv(
    geom: TransposeConvParams,
    input_zero_point: i32,
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> TransposeConvParams {
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    TransposeConvParams {
        input_offset: -input_zero_point,
        output_offset: output_zero_point,
        act_min,
        act_max,
        ..geom
    }
}

impl TransposeConvParams {
    /// Everything [`transpose_conv`] checks before it reads a value: strides,
    /// the length in elements of each buffer (`bias` is `None` when there is
    /// none) and the shift range. The Program verifier calls this.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        out_multiplier: usize,
        out_shift: &[i32],
        output: usize,
    ) -> Result<(), KernelError> {
        let (n, ih, iw, ic) = (
            self.batches,
            self.input_height,
            self.input_width,
            self.input_channels,
        );
        let (kh, kw) = (self.filter_height, self.filter_width);
        let (oh, ow, oc) = (self.output_height, self.output_width, self.output_channels);
        if self.stride_height == 0 || self.stride_width == 0 {
            return Err(KernelError::InvalidParams("strides must be >= 1"));
        }
        check_act_range(self.act_min, self.act_max)?;
        // Output coordinates plus padding stay far inside isize.
        let limit = 1usize << 24;
        if [oh, ow, kh, kw, self.pad_top, self.pad_left]
            .iter()
            .any(|&d| d > limit)
        {
            return Err(KernelError::InvalidParams(
                "transpose conv size or padding too large",
            ));
        }
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        check_len("filter", volume(&[oc, kh, kw, ic])?, filter)?;
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        check_len("out_multiplier", oc, out_multiplier)?;
        check_len("out_shift", oc, out_shift.len())?;
        check_shifts(out_shift)
    }
}

/// The input coordinate that reaches output coordinate `out` through tap
/// `k`, if any: `i * stride - pad + k == out` with `0 <= i < size`.
#[inline]
fn source(out: usize, pad: usize, k: usize, stride: usize, size: usize) -> Option<usize> {
    let t = (out + pad).checked_sub(k)?;
    if t % stride != 0 {
        return None;
    }
    let i = t / stride;
    (i < size).then_some(i)
}

/// TRANSPOSE_CONV int8 per-channel. `bias`, if present, and
/// `out_multiplier` / `out_shift` hold one entry per output channel.
pub fn transpose_conv(
    p: &TransposeConvParams,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        bias.map(<[i32]>::len),
        out_multiplier.len(),
        out_shift,
        output.len(),
    )?;
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for o in 0..oc {
                    let mut acc: i32 = 0;
                    for ky in 0..kh {
                        let Some(iy) = source(oy, p.pad_top, ky, p.stride_height, ih) else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) = source(ox, p.pad_left, kx, p.stride_width, iw) else {
                                continue;
                            };
                            let i0 = ((b * ih + iy) * iw + ix) * ic;
                            let f0 = ((o * kh + ky) * kw + kx) * ic;
                            for (&x, &w) in input[i0..i0 + ic].iter().zip(&filter[f0..f0 + ic]) {
                                // int32 arithmetic as in C++ (wraps instead of UB).
                                let v = i32::from(x).wrapping_add(p.input_offset);
                                acc = acc.wrapping_add(v.wrapping_mul(i32::from(w)));
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc = acc.wrapping_add(bias[o]);
                    }
                    let v =
                        mbqm(acc, out_multiplier[o], out_shift[o]).wrapping_add(p.output_offset);
                    output[out_base + o] = clamp_to_i8(v, p.act_min, p.act_max);
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
    use crate::conv::test_ref::{Rng, clamp, requant};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// TFLM's scatter formulation in i64: every input value times every tap
    /// added into the output cell it lands on, wrapped to int32 at the end.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        p: &TransposeConvParams,
        x: &[i8],
        f: &[i8],
        bias: Option<&[i32]>,
        m: &[i32],
        s: &[i32],
    ) -> Vec<i8> {
        let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
        let (kh, kw) = (p.filter_height, p.filter_width);
        let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
        let mut scratch = vec![0i64; n * oh * ow * oc];
        for b in 0..n {
            for iy in 0..ih {
                for ix in 0..iw {
                    for c in 0..ic {
                        let oy0 = (iy * p.stride_height) as i64 - p.pad_top as i64;
                        let ox0 = (ix * p.stride_width) as i64 - p.pad_left as i64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                for o in 0..oc {
                                    let (oy, ox) = (oy0 + ky as i64, ox0 + kx as i64);
                                    if oy < 0 || ox < 0 || oy >= oh as i64 || ox >= ow as i64 {
                                        continue;
                                    }
                                    let xv = x[((b * ih + iy) * iw + ix) * ic + c] as i64
                                        + p.input_offset as i64;
                                    let fv = f[((o * kh + ky) * kw + kx) * ic + c] as i64;
                                    let at = ((b * oh + oy as usize) * ow + ox as usize) * oc + o;
                                    scratch[at] += xv * fv;
                                }
                            }
                        }
                    }
                }
            }
        }
        scratch
            .iter()
            .enumerate()
            .map(|(i, &acc)| {
                let o = i % oc;
                let acc = (acc as i32).wrapping_add(bias.map_or(0, |b| b[o])) as i64;
                clamp(
                    requant(acc, m[o], s[o]) + p.output_offset as i64,
                    p.act_min,
                    p.act_max,
                )
            })
            .collect()
    }

    #[test]
    fn padding_matches_tflm_examples() {
        // SAME, stride 2, 3x3 filter, output 8: ceil(8/2)=4, (4-1)*2+3-8 = 1 -> 0.
        assert_eq!(transpose_conv_padding(true, 2, 3, 8), 0);
        // SAME, stride 1, 3x3, output 5: (5-1)+3-5 = 2 -> 1.
        assert_eq!(transpose_conv_padding(true, 1, 3, 5), 1);
        // VALID, stride 2, 3x3, output 9: (9-3+2)/2 = 4, (4-1)*2+3-9 = 0.
        assert_eq!(transpose_conv_padding(false, 2, 3, 9), 0);
        assert_eq!(transpose_conv_padding(true, 2, 4, 8), 1);
    }

    #[test]
    fn rejects_bad_buffers() {
        let p = TransposeConvParams {
            batches: 1,
            input_height: 2,
            input_width: 2,
            input_channels: 1,
            filter_height: 2,
            filter_width: 2,
            output_height: 4,
            output_width: 4,
            output_channels: 1,
            stride_height: 2,
            stride_width: 2,
            pad_top: 0,
            pad_left: 0,
            input_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        };
        let mut out = [0i8; 16];
        let ok = transpose_conv(&p, &[1; 4], &[1; 4], None, &[1 << 30], &[1], &mut out);
        assert_eq!(ok, Ok(()));
        assert!(out.iter().all(|&v| v == 1));
        assert!(transpose_conv(&p, &[1; 3], &[1; 4], None, &[1 << 30], &[1], &mut out).is_err());
        let zero = TransposeConvParams {
            stride_width: 0,
            ..p
        };
        assert!(transpose_conv(&zero, &[1; 4], &[1; 4], None, &[1 << 30], &[1], &mut out).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_scatter_reference(
            n in 1usize..=2, ih in 1usize..=5, iw in 1usize..=5, ic in 1usize..=3,
            oc in 1usize..=3, kh in 1usize..=4, kw in 1usize..=4,
            sh in 1usize..=3, sw in 1usize..=3, same: bool, extra_h in 0usize..3, extra_w in 0usize..3,
            zp in -128i32..=127, ozp in -128i32..=127, with_bias: bool, act in 0usize..4,
            extreme: bool, seed: u64,
        ) {
            // Output sizes the converter would produce, plus a little slack.
            let size = |i: usize, s: usize, k: usize, extra: usize| {
                if same { i * s + extra } else { (i - 1) * s + k + extra }
            };
            let (oh, ow) = (size(ih, sh, kh, extra_h), size(iw, sw, kw, extra_w));
            let geom = TransposeConvParams {
                batches: n, input_height: ih, input_width: iw, input_channels: ic,
                filter_height: kh, filter_width: kw, output_height: oh, output_width: ow,
                output_channels: oc, stride_height: sh, stride_width: sw,
                pad_top: transpose_conv_padding(same, sh, kh, oh),
                pad_left: transpose_conv_padding(same, sw, kw, ow),
                input_offset: 0, output_offset: 0, act_min: 0, act_max: 0,
            };
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let p = prepare_transpose_conv(geom, zp, (0.05, ozp), act);
            let mut rng = Rng(seed);
            let (lo, hi) = if extreme { (-128, -127) } else { (-128, 127) };
            let x = rng.i8s(n * ih * iw * ic, lo, hi);
            let f = rng.i8s(oc * kh * kw * ic, if extreme { 127 } else { -127 }, 127);
            let bias = rng.i32s(oc, -(1 << 20), 1 << 20);
            let m = rng.i32s(oc, 1 << 30, i32::MAX as i64);
            let s = rng.i32s(oc, -12, 2);
            let bias = with_bias.then_some(bias.as_slice());
            let mut out = vec![0i8; n * oh * ow * oc];
            prop_assert_eq!(transpose_conv(&p, &x, &f, bias, &m, &s, &mut out), Ok(()));
            prop_assert_eq!(out, reference(&p, &x, &f, bias, &m, &s));
        }
    }
}

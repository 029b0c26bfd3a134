//! DEPTHWISE_CONV_2D, int8 activations and per-channel int8 weights (spec
//! 2.8), as TFLM's `reference_integer_ops::DepthwiseConvPerChannel`.
//!
//! Layouts: input NHWC `[N, IH, IW, IC]`, filter `[1, KH, KW, IC * M]`, bias
//! `[IC * M]`, output `[N, OH, OW, IC * M]` with output channel
//! `oc = ic * M + m` (M = depth multiplier). Multiplier/shift arrays hold one
//! entry per output channel; derive them with
//! [`crate::conv::prepare_conv_multipliers`] (TFLM uses the same
//! `PopulateConvolutionQuantizationParams` over `filter.dims[3]`).
//!
//! Padding is explicit (`pad_top`, `pad_left`); a tap outside the image reads
//! a padded cell holding `pad_value` (the input zero point) and contributes
//! `w·(pad_value + input_offset)`: nothing without folding, `w·zp` once the
//! input offset is folded into the bias.

use crate::conv::{I8_RANGE, check_act_range_within, check_shifts, check_span, volume};
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, activation_range, clamp_to_i8, mbqm};

/// Geometry and folded quantization of one DEPTHWISE_CONV_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthwiseParams {
    /// N (same for input and output).
    pub batches: usize,
    /// IH.
    pub input_height: usize,
    /// IW.
    pub input_width: usize,
    /// IC.
    pub input_channels: usize,
    /// M; the output has `IC * M` channels. TFLM takes it from the options
    /// and checks `OC == IC * M`; `OC / IC` is equivalent.
    pub depth_multiplier: usize,
    /// KH.
    pub filter_height: usize,
    /// KW.
    pub filter_width: usize,
    /// OH.
    pub output_height: usize,
    /// OW.
    pub output_width: usize,
    /// Vertical stride (>= 1).
    pub stride_height: usize,
    /// Horizontal stride (>= 1).
    pub stride_width: usize,
    /// Vertical dilation (>= 1).
    pub dilation_height: usize,
    /// Horizontal dilation (>= 1).
    pub dilation_width: usize,
    /// Rows of padding above the image.
    pub pad_top: usize,
    /// Columns of padding left of the image.
    pub pad_left: usize,
    /// `-input_zero_point`, or 0 once folded into the bias.
    pub input_offset: i32,
    /// The code a padded cell holds, the input zero point: an out-of-bounds
    /// tap contributes `w·(pad_value + input_offset)` (wrapping), which is 0
    /// without folding.
    pub pad_value: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Host side: completes `geom` (whose quantization fields are ignored) with
/// the offsets and the fused-activation clamp.
pub fn prepare_depthwise(
    geom: DepthwiseParams,
    input_zero_point: i32,
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> DepthwiseParams {
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    DepthwiseParams {
        input_offset: -input_zero_point,
        pad_value: input_zero_point,
        output_offset: output_zero_point,
        act_min,
        act_max,
        ..geom
    }
}

impl DepthwiseParams {
    /// Everything [`depthwise_conv2d`] checks before it reads a value, as
    /// `Conv2DParams::check` does for `conv2d`.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        out_multiplier: usize,
        out_shift: &[i32],
        output: usize,
    ) -> Result<(), KernelError> {
        self.check_within(
            [input, filter, output],
            bias,
            out_multiplier,
            out_shift,
            I8_RANGE,
        )
    }

    /// [`Self::check`] for outputs in `range` (the int8 or int16 type range).
    pub(crate) fn check_within(
        &self,
        [input, filter, output]: [usize; 3],
        bias: Option<usize>,
        out_multiplier: usize,
        out_shift: &[i32],
        range: (i32, i32),
    ) -> Result<(), KernelError> {
        let (n, ih, iw, ic) = (
            self.batches,
            self.input_height,
            self.input_width,
            self.input_channels,
        );
        let (kh, kw, dm) = (self.filter_height, self.filter_width, self.depth_multiplier);
        let (oh, ow) = (self.output_height, self.output_width);
        let (sh, sw, dh, dw) = (
            self.stride_height,
            self.stride_width,
            self.dilation_height,
            self.dilation_width,
        );
        if sh == 0 || sw == 0 || dh == 0 || dw == 0 {
            return Err(KernelError::InvalidParams(
                "strides and dilations must be >= 1",
            ));
        }
        let oc = volume(&[ic, dm])?;
        check_act_range_within(self.act_min, self.act_max, range)?;
        check_span(oh, sh, kh, dh)?;
        check_span(ow, sw, kw, dw)?;
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        check_len("filter", volume(&[kh, kw, oc])?, filter)?;
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        check_len("out_multiplier", oc, out_multiplier)?;
        check_len("out_shift", oc, out_shift.len())?;
        check_shifts(out_shift)
    }
}

/// DEPTHWISE_CONV_2D int8 per-channel. `bias`, if present, and
/// `out_multiplier` / `out_shift` hold one entry per output channel.
pub fn depthwise_conv2d(
    p: &DepthwiseParams,
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
    let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
    let (kh, kw, dm) = (p.filter_height, p.filter_width, p.depth_multiplier);
    let (oh, ow) = (p.output_height, p.output_width);
    let (sh, sw, dh, dw) = (
        p.stride_height,
        p.stride_width,
        p.dilation_height,
        p.dilation_width,
    );
    // `check` saw this product fit.
    let oc = ic * dm;

    for b in 0..n {
        for oy in 0..oh {
            // Unpadded row coordinate of the window's first tap.
            let y0 = oy * sh;
            for ox in 0..ow {
                let x0 = ox * sw;
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for o in 0..oc {
                    let c = o / dm; // the one input channel this output reads
                    let mut acc: i32 = 0;
                    for ky in 0..kh {
                        let ry = y0 + ky * dh;
                        let row_in = ry >= p.pad_top && ry - p.pad_top < ih;
                        for kx in 0..kw {
                            let rx = x0 + kx * dw;
                            let w = i32::from(filter[(ky * kw + kx) * oc + o]);
                            // A padded cell holds `pad_value`.
                            let x = if row_in && rx >= p.pad_left && rx - p.pad_left < iw {
                                let row = (b * ih + ry - p.pad_top) * iw;
                                i32::from(input[(row + rx - p.pad_left) * ic + c])
                            } else {
                                p.pad_value
                            };
                            // int32 arithmetic as in C++ (wraps instead of UB).
                            acc = acc.wrapping_add(w.wrapping_mul(x.wrapping_add(p.input_offset)));
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

    fn geom(n: usize, i: [usize; 3], dm: usize, k: [usize; 2], o: [usize; 2]) -> DepthwiseParams {
        DepthwiseParams {
            batches: n,
            input_height: i[0],
            input_width: i[1],
            input_channels: i[2],
            depth_multiplier: dm,
            filter_height: k[0],
            filter_width: k[1],
            output_height: o[0],
            output_width: o[1],
            stride_height: 1,
            stride_width: 1,
            dilation_height: 1,
            dilation_width: 1,
            pad_top: 0,
            pad_left: 0,
            input_offset: 0,
            pad_value: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    /// Naive reference over an explicitly zero-point-padded input, in i64.
    fn reference(
        p: &DepthwiseParams,
        input: &[i8],
        filter: &[i8],
        bias: Option<&[i32]>,
        mult: &[i32],
        shift: &[i32],
    ) -> Vec<i8> {
        let in_zp = -i64::from(p.input_offset);
        let ph = p.pad_top
            + p.input_height
            + p.output_height * p.stride_height
            + p.filter_height * p.dilation_height;
        let pw = p.pad_left
            + p.input_width
            + p.output_width * p.stride_width
            + p.filter_width * p.dilation_width;
        let ic = p.input_channels;
        let oc = ic * p.depth_multiplier;
        let mut padded = vec![in_zp; p.batches * ph * pw * ic];
        for b in 0..p.batches {
            for y in 0..p.input_height {
                for x in 0..p.input_width {
                    for c in 0..ic {
                        padded[((b * ph + y + p.pad_top) * pw + x + p.pad_left) * ic + c] =
                            i64::from(
                                input[((b * p.input_height + y) * p.input_width + x) * ic + c],
                            );
                    }
                }
            }
        }
        let mut out = vec![0i8; p.batches * p.output_height * p.output_width * oc];
        for b in 0..p.batches {
            for oy in 0..p.output_height {
                for ox in 0..p.output_width {
                    for c in 0..ic {
                        for m in 0..p.depth_multiplier {
                            let o = c * p.depth_multiplier + m;
                            let mut acc: i64 = 0;
                            for ky in 0..p.filter_height {
                                for kx in 0..p.filter_width {
                                    let y = oy * p.stride_height + ky * p.dilation_height;
                                    let x = ox * p.stride_width + kx * p.dilation_width;
                                    let xv = padded[((b * ph + y) * pw + x) * ic + c];
                                    let wv = i64::from(filter[(ky * p.filter_width + kx) * oc + o]);
                                    acc += wv * (xv - in_zp);
                                }
                            }
                            acc += bias.map_or(0, |bs| i64::from(bs[o]));
                            let v = requant(acc, mult[o], shift[o]) + i64::from(p.output_offset);
                            out[((b * p.output_height + oy) * p.output_width + ox) * oc + o] =
                                clamp(v, p.act_min, p.act_max);
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn hand_computed_multiplier_two() {
        // One 2x2 pixel image, 1 input channel, M = 2, 1x1 filter [2, -3].
        let p = geom(1, [1, 2, 1], 2, [1, 1], [1, 2]);
        let p = DepthwiseParams {
            input_offset: 1,
            ..p
        }; // input zero point -1
        let mut out = [0i8; 4];
        let r = depthwise_conv2d(
            &p,
            &[4, -6],
            &[2, -3],
            Some(&[1, 0]),
            &[1 << 30; 2],
            &[1; 2],
            &mut out,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out, [11, -15, -9, 15]);
    }

    #[test]
    fn bad_buffers_and_params_are_errors() {
        let p = geom(1, [2, 2, 2], 2, [1, 1], [2, 2]);
        let run = |p: &DepthwiseParams,
                   i: usize,
                   f: usize,
                   b: Option<usize>,
                   m: usize,
                   s: usize,
                   o: usize| {
            let bias = vec![0; b.unwrap_or(0)];
            let mut out = vec![0; o];
            depthwise_conv2d(
                p,
                &vec![0; i],
                &vec![0; f],
                b.map(|_| &bias[..]),
                &vec![1; m],
                &vec![0; s],
                &mut out,
            )
        };
        assert_eq!(run(&p, 8, 4, Some(4), 4, 4, 16), Ok(()));
        assert!(run(&p, 7, 4, Some(4), 4, 4, 16).is_err());
        assert!(run(&p, 8, 5, Some(4), 4, 4, 16).is_err());
        assert!(run(&p, 8, 4, Some(3), 4, 4, 16).is_err());
        assert!(run(&p, 8, 4, Some(4), 2, 4, 16).is_err());
        assert!(run(&p, 8, 4, Some(4), 4, 1, 16).is_err());
        assert!(run(&p, 8, 4, Some(4), 4, 4, 15).is_err());
        for bad in [
            DepthwiseParams {
                stride_width: 0,
                ..p
            },
            DepthwiseParams {
                dilation_height: 0,
                ..p
            },
            DepthwiseParams {
                act_min: 1,
                act_max: 0,
                ..p
            },
            DepthwiseParams { act_min: -129, ..p },
            DepthwiseParams {
                depth_multiplier: usize::MAX,
                ..p
            },
            DepthwiseParams {
                dilation_width: usize::MAX,
                filter_width: 3,
                ..p
            },
        ] {
            assert!(run(&bad, 8, 4, Some(4), 4, 4, 16).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]
        #[test]
        fn matches_naive_reference(
            n in 1usize..=2, ih in 1usize..=6, iw in 1usize..=6, ic in 1usize..=4, dm in 1usize..=3,
            kh in 1usize..=3, kw in 1usize..=3, oh in 1usize..=5, ow in 1usize..=5,
            sh in 1usize..=3, sw in 1usize..=3, dh in 1usize..=2, dw in 1usize..=2,
            pt in 0usize..=2, pl in 0usize..=2,
            in_zp in -128i32..=127, out_zp in -128i32..=127,
            act in 0usize..4, with_bias: bool, seed: u64,
        ) {
            let oc = ic * dm;
            let mut p = geom(n, [ih, iw, ic], dm, [kh, kw], [oh, ow]);
            p.stride_height = sh; p.stride_width = sw;
            p.dilation_height = dh; p.dilation_width = dw;
            p.pad_top = pt; p.pad_left = pl;
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let p = prepare_depthwise(p, in_zp, (0.02, out_zp), act);
            let mut rng = Rng(seed);
            let input = rng.i8s(n * ih * iw * ic, -128, 127);
            let filter = rng.i8s(kh * kw * oc, -127, 127);
            let bias = rng.i32s(oc, -20_000, 20_000);
            let mult = rng.i32s(oc, 1 << 30, i32::MAX as i64);
            let shift = rng.i32s(oc, -14, 2);
            let bias = if with_bias { Some(&bias[..]) } else { None };
            let mut out = vec![0i8; n * oh * ow * oc];
            prop_assert_eq!(depthwise_conv2d(&p, &input, &filter, bias, &mult, &shift, &mut out), Ok(()));
            prop_assert_eq!(out, reference(&p, &input, &filter, bias, &mult, &shift));
        }

        /// Folding the input offset into the bias, `pad_value` kept at the
        /// zero point, changes no byte (padding, extremes, wrapping).
        #[test]
        fn folded_offset_equals_unfolded(
            n in 1usize..=2, ih in 1usize..=5, iw in 1usize..=5, ic in 1usize..=5, dm in 1usize..=3,
            kh in 1usize..=4, kw in 1usize..=4, oh in 1usize..=5, ow in 1usize..=5,
            sh in 1usize..=2, sw in 1usize..=2, dh in 1usize..=2, dw in 1usize..=2,
            pt in 0usize..=3, pl in 0usize..=3,
            in_zp in prop_oneof![Just(-128i32), Just(127), -128i32..=127],
            out_zp in -128i32..=127, extreme in 0usize..3, with_bias: bool, seed: u64,
        ) {
            let oc = ic * dm;
            let mut p = geom(n, [ih, iw, ic], dm, [kh, kw], [oh, ow]);
            p.stride_height = sh; p.stride_width = sw;
            p.dilation_height = dh; p.dilation_width = dw;
            p.pad_top = pt; p.pad_left = pl;
            let p = prepare_depthwise(p, in_zp, (0.02, out_zp), Activation::None);
            let mut rng = Rng(seed);
            let (input, filter) = match extreme {
                0 => (rng.i8s(n * ih * iw * ic, -128, 127), rng.i8s(kh * kw * oc, -128, 127)),
                1 => (vec![-128i8; n * ih * iw * ic], vec![-128i8; kh * kw * oc]),
                _ => (rng.i8s(n * ih * iw * ic, -128, -127), rng.i8s(kh * kw * oc, 126, 127)),
            };
            let bias = rng.i32s(oc, i64::from(i32::MIN), i64::from(i32::MAX));
            let mult = rng.i32s(oc, 0, i32::MAX as i64);
            let shift = rng.i32s(oc, -31, 31);
            let bias = if with_bias { Some(&bias[..]) } else { None };
            let folded_bias: Vec<i32> = (0..oc)
                .map(|o| {
                    let sum = filter.iter().skip(o).step_by(oc)
                        .fold(0i32, |a, &w| a.wrapping_add(i32::from(w)));
                    bias.map_or(0, |b| b[o]).wrapping_add(p.input_offset.wrapping_mul(sum))
                })
                .collect();
            let folded = DepthwiseParams { input_offset: 0, ..p };
            let mut out = vec![0i8; n * oh * ow * oc];
            let mut out_folded = vec![0i8; n * oh * ow * oc];
            prop_assert_eq!(depthwise_conv2d(&p, &input, &filter, bias, &mult, &shift, &mut out), Ok(()));
            prop_assert_eq!(
                depthwise_conv2d(&folded, &input, &filter, Some(&folded_bias), &mult, &shift, &mut out_folded),
                Ok(())
            );
            prop_assert_eq!(out, out_folded);
        }
    }
}

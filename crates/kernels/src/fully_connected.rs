//! FULLY_CONNECTED, int8 activations and int8 weights (spec 2.9), as TFLM's
//! `reference_integer_ops::FullyConnected` (per-tensor) and
//! `FullyConnectedPerChannel`.
//!
//! The input is read as `[batches, accum_depth]`, the filter as
//! `[output_depth, accum_depth]`, bias `[output_depth]`, output
//! `[batches, output_depth]`; `batches` is the product of every output dim
//! but the last (`keep_num_dims` only changes the output's shape, which the
//! caller handles).
//!
//! Multipliers: `out_multiplier` / `out_shift` hold **one** entry (per-tensor
//! weights, from [`prepare_fc_multiplier_per_tensor`]) or **one per output
//! channel** (per-channel weights, from [`prepare_fc_multipliers_per_channel`]).

use crate::conv::{
    I8_RANGE, check_act_range_within, check_shifts, prepare_conv_multipliers, volume,
};
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, activation_range, clamp_to_i8, mbqm, quantize_multiplier};

/// Shape and folded quantization of one FULLY_CONNECTED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullyConnectedParams {
    /// Rows of the input/output view.
    pub batches: usize,
    /// Length of each dot product (the filter's last dim).
    pub accum_depth: usize,
    /// Output channels (the filter's first dim).
    pub output_depth: usize,
    /// `-input_zero_point`.
    pub input_offset: i32,
    /// `-filter_zero_point` for per-tensor weights; 0 for per-channel weights
    /// (TFLM's per-channel kernel ignores the filter zero point).
    pub filter_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Host side: completes `geom` (whose quantization fields are ignored) with
/// the offsets and the fused-activation clamp. `per_channel` selects TFLM's
/// per-channel kernel, which does not apply the filter zero point.
pub fn prepare_fully_connected(
    geom: FullyConnectedParams,
    input_zero_point: i32,
    filter_zero_point: i32,
    per_channel: bool,
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> FullyConnectedParams {
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    FullyConnectedParams {
        input_offset: -input_zero_point,
        filter_offset: if per_channel { 0 } else { -filter_zero_point },
        output_offset: output_zero_point,
        act_min,
        act_max,
        ..geom
    }
}

/// Host side, per-tensor weights (`GetQuantizedConvolutionMultipler`): the
/// scale product is taken in **float** first,
/// `QuantizeMultiplier((f64)((f32)in * (f32)w) / (f64)out)`. With a bias,
/// TFLM also insists `|(f64)in*(f64)w - (f64)bias| / (f64)out <= 0.02`
/// (products in double there) and fails to prepare otherwise; so does this.
/// Returns `(multiplier, shift)`.
pub fn prepare_fc_multiplier_per_tensor(
    input_scale: f32,
    filter_scale: f32,
    output_scale: f32,
    bias_scale: Option<f32>,
) -> Result<(i32, i32), KernelError> {
    if !(output_scale.is_finite() && output_scale > 0.0) {
        return Err(KernelError::InvalidParams(
            "output scale must be finite and positive",
        ));
    }
    if let Some(bias_scale) = bias_scale {
        let product = f64::from(input_scale) * f64::from(filter_scale);
        let diff = (product - f64::from(bias_scale)).abs();
        // TFLM's `ENSURE(diff / out <= 0.02)` also fails on NaN.
        let ratio = diff / f64::from(output_scale);
        if ratio.is_nan() || ratio > 0.02 {
            return Err(KernelError::InvalidParams(
                "bias scale differs from input_scale * filter_scale",
            ));
        }
    }
    let product = f64::from(input_scale * filter_scale);
    if !(product.is_finite() && product >= 0.0) {
        return Err(KernelError::InvalidParams(
            "input_scale * filter_scale must be finite and >= 0",
        ));
    }
    Ok(quantize_multiplier(product / f64::from(output_scale)))
}

/// Host side, per-channel weights: `QuantizeMultiplier((f64)in * (f64)w[c] /
/// (f64)out)` for each channel, as conv (`filter_scales.len()` must equal
/// `out_multiplier.len()`; a single scale is broadcast).
pub fn prepare_fc_multipliers_per_channel(
    input_scale: f32,
    filter_scales: &[f32],
    output_scale: f32,
    out_multiplier: &mut [i32],
    out_shift: &mut [i32],
) -> Result<(), KernelError> {
    prepare_conv_multipliers(
        input_scale,
        filter_scales,
        output_scale,
        out_multiplier,
        out_shift,
    )
}

impl FullyConnectedParams {
    /// Everything [`fully_connected`] checks before it reads a value: the
    /// clamp, the length in elements of each buffer (`bias` is `None` when
    /// there is none; one multiplier means per-tensor) and the shift range.
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
        let (batches, depth, out_depth) = (self.batches, self.accum_depth, self.output_depth);
        check_act_range_within(self.act_min, self.act_max, range)?;
        check_len("input", volume(&[batches, depth])?, input)?;
        check_len("filter", volume(&[out_depth, depth])?, filter)?;
        check_len("output", volume(&[batches, out_depth])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", out_depth, bias)?;
        }
        if out_multiplier != 1 {
            check_len("out_multiplier", out_depth, out_multiplier)?;
        }
        check_len("out_shift", out_multiplier, out_shift.len())?;
        check_shifts(out_shift)
    }
}

/// FULLY_CONNECTED int8. `bias`, if present, holds `output_depth` entries;
/// `out_multiplier` / `out_shift` hold 1 (per-tensor) or `output_depth`
/// (per-channel) entries.
pub fn fully_connected(
    p: &FullyConnectedParams,
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
    let (batches, depth, out_depth) = (p.batches, p.accum_depth, p.output_depth);
    let per_channel = out_multiplier.len() != 1;

    for b in 0..batches {
        let xs = &input[b * depth..(b + 1) * depth];
        for o in 0..out_depth {
            let ws = &filter[o * depth..(o + 1) * depth];
            let mut acc: i32 = 0;
            for (&x, &w) in xs.iter().zip(ws) {
                // int32 arithmetic as in C++ (wraps instead of UB).
                let x = i32::from(x).wrapping_add(p.input_offset);
                let w = i32::from(w).wrapping_add(p.filter_offset);
                acc = acc.wrapping_add(w.wrapping_mul(x));
            }
            if let Some(bias) = bias {
                acc = acc.wrapping_add(bias[o]);
            }
            let q = if per_channel { o } else { 0 };
            let v = mbqm(acc, out_multiplier[q], out_shift[q]).wrapping_add(p.output_offset);
            output[b * out_depth + o] = clamp_to_i8(v, p.act_min, p.act_max);
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

    fn geom(batches: usize, accum_depth: usize, output_depth: usize) -> FullyConnectedParams {
        FullyConnectedParams {
            batches,
            accum_depth,
            output_depth,
            input_offset: 0,
            filter_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    fn reference(
        p: &FullyConnectedParams,
        input: &[i8],
        filter: &[i8],
        bias: Option<&[i32]>,
        mult: &[i32],
        shift: &[i32],
    ) -> Vec<i8> {
        let mut out = Vec::new();
        for b in 0..p.batches {
            for o in 0..p.output_depth {
                let mut acc: i64 = 0;
                for d in 0..p.accum_depth {
                    let x = i64::from(input[b * p.accum_depth + d]) + i64::from(p.input_offset);
                    let w = i64::from(filter[o * p.accum_depth + d]) + i64::from(p.filter_offset);
                    acc += x * w;
                }
                acc += bias.map_or(0, |bs| i64::from(bs[o]));
                let q = if mult.len() == 1 { 0 } else { o };
                let v = requant(acc, mult[q], shift[q]) + i64::from(p.output_offset);
                out.push(clamp(v, p.act_min, p.act_max));
            }
        }
        out
    }

    #[test]
    fn per_tensor_prepare_uses_float_product() {
        // Find scales where the float and double products round to different
        // multipliers, and check the float one is used.
        let mut rng = Rng(7);
        let mut seen_difference = false;
        for _ in 0..20_000 {
            let i = rng.range(1, 1 << 24) as f32 * 1e-9;
            let w = rng.range(1, 1 << 24) as f32 * 1e-10;
            let o = rng.range(1, 1 << 24) as f32 * 1e-10;
            let got = prepare_fc_multiplier_per_tensor(i, w, o, None);
            let float_way = quantize_multiplier(f64::from(i * w) / f64::from(o));
            let double_way = quantize_multiplier(f64::from(i) * f64::from(w) / f64::from(o));
            assert_eq!(got, Ok(float_way));
            seen_difference |= float_way != double_way;
        }
        assert!(seen_difference);
    }

    #[test]
    fn per_tensor_prepare_checks_bias_scale() {
        let ok = prepare_fc_multiplier_per_tensor(0.5, 0.25, 0.1, Some(0.125));
        assert_eq!(ok, Ok(quantize_multiplier(0.125 / f64::from(0.1f32))));
        assert!(prepare_fc_multiplier_per_tensor(0.5, 0.25, 0.1, Some(0.13)).is_err());
        assert!(prepare_fc_multiplier_per_tensor(0.5, 0.25, 0.1, Some(f32::NAN)).is_err());
        assert!(prepare_fc_multiplier_per_tensor(0.5, 0.25, 0.0, None).is_err());
        assert!(prepare_fc_multiplier_per_tensor(-0.5, 0.25, 0.1, None).is_err());
    }

    #[test]
    fn per_channel_prepare_uses_double_product() {
        let (mut m, mut s) = ([0; 2], [0; 2]);
        let r = prepare_fc_multipliers_per_channel(0.013, &[0.0021, 0.0007], 0.07, &mut m, &mut s);
        assert_eq!(r, Ok(()));
        assert_eq!(
            (m[1], s[1]),
            quantize_multiplier(0.013f32 as f64 * 0.0007f32 as f64 / 0.07f32 as f64)
        );
    }

    #[test]
    fn prepare_filter_offset_only_per_tensor() {
        let p = prepare_fully_connected(geom(2, 3, 4), -7, 5, false, (0.1, 3), Activation::Relu);
        assert_eq!(
            (
                p.input_offset,
                p.filter_offset,
                p.output_offset,
                p.act_min,
                p.act_max
            ),
            (7, -5, 3, 3, 127)
        );
        let p = prepare_fully_connected(geom(2, 3, 4), -7, 5, true, (0.1, 3), Activation::None);
        assert_eq!((p.filter_offset, p.act_min), (0, -128));
    }

    #[test]
    fn hand_computed() {
        let p = prepare_fully_connected(geom(1, 3, 2), 1, 0, false, (1.0, -2), Activation::None);
        // x - zp = [0, 1, 2]; rows [1,2,3] and [-1,0,4]; bias [1, -1]; multiplier 1.
        let mut out = [0i8; 2];
        let r = fully_connected(
            &p,
            &[1, 2, 3],
            &[1, 2, 3, -1, 0, 4],
            Some(&[1, -1]),
            &[1 << 30],
            &[1],
            &mut out,
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out, [9 - 2, 7 - 2]);
    }

    #[test]
    fn bad_buffers_are_errors() {
        let p = prepare_fully_connected(geom(2, 3, 2), 0, 0, true, (1.0, 0), Activation::None);
        let mut out = [0i8; 4];
        let (i, f) = ([0i8; 6], [0i8; 6]);
        assert_eq!(
            fully_connected(&p, &i, &f, None, &[1], &[0], &mut out),
            Ok(())
        );
        assert_eq!(
            fully_connected(&p, &i, &f, Some(&[0, 0]), &[1, 1], &[0, 0], &mut out),
            Ok(())
        );
        assert!(fully_connected(&p, &i[..5], &f, None, &[1], &[0], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f[..5], None, &[1], &[0], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, Some(&[0]), &[1], &[0], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, None, &[1, 1, 1], &[0, 0, 0], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, None, &[], &[], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, None, &[1], &[0, 0], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, None, &[1], &[99], &mut out).is_err());
        assert!(fully_connected(&p, &i, &f, None, &[1], &[0], &mut out[..3]).is_err());
        let bad = FullyConnectedParams {
            act_min: 10,
            act_max: 9,
            ..p
        };
        assert!(fully_connected(&bad, &i, &f, None, &[1], &[0], &mut out).is_err());
        let huge = FullyConnectedParams {
            batches: usize::MAX,
            accum_depth: 2,
            ..p
        };
        assert!(fully_connected(&huge, &i, &f, None, &[1], &[0], &mut out).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_reference(
            batches in 1usize..=4, depth in 0usize..=40, out_depth in 1usize..=6,
            in_zp in -128i32..=127, w_zp in -3i32..=3, out_zp in -128i32..=127,
            per_channel: bool, with_bias: bool, act in 0usize..4, seed: u64,
        ) {
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let p = prepare_fully_connected(geom(batches, depth, out_depth), in_zp, w_zp, per_channel, (0.03, out_zp), act);
            let mut rng = Rng(seed);
            let input = rng.i8s(batches * depth, -128, 127);
            let filter = rng.i8s(out_depth * depth, -127, 127);
            let bias = rng.i32s(out_depth, -50_000, 50_000);
            let nq = if per_channel { out_depth } else { 1 };
            let mult = rng.i32s(nq, 1 << 30, i32::MAX as i64);
            let shift = rng.i32s(nq, -16, 1);
            let bias = if with_bias { Some(&bias[..]) } else { None };
            let mut out = vec![0i8; batches * out_depth];
            prop_assert_eq!(fully_connected(&p, &input, &filter, bias, &mult, &shift, &mut out), Ok(()));
            prop_assert_eq!(out, reference(&p, &input, &filter, bias, &mult, &shift));
        }
    }
}

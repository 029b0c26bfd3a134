//! Element-wise int8 → int8 ops, TFLM flavour, each as a scalar function of
//! one input value plus a host-side `prepare_*`.
//!
//! Every one of these is a pure function of the input byte, so the compiler
//! evaluates it once per possible input with [`build_lut`] and the generated
//! code only runs [`apply_lut`]. The scalar functions are therefore written
//! for exactness, not speed; each reproduces the TFLM reference kernel named
//! in its doc comment on all 256 inputs.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{
    frexp, mbqm, quantize_multiplier, round_half_away_f32, round_half_away_f64,
};
use crate::gemmlowp;

// ---------------------------------------------------------------------------
// Lookup tables

/// Tabulates an int8 → int8 function: entry `x as u8` holds `f(x)` (TFLM's
/// `LUTPopulate` ordering).
pub fn build_lut(f: impl Fn(i8) -> i8) -> [i8; 256] {
    let mut table = [0i8; 256];
    for x in i8::MIN..=i8::MAX {
        table[x as u8 as usize] = f(x);
    }
    table
}

/// Applies a table built by [`build_lut`] to every element.
pub fn apply_lut(table: &[i8; 256], input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    check_len("lut output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = table[x as u8 as usize];
    }
    Ok(())
}

fn check_scale(scale: f32) -> Result<(), KernelError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "scale must be finite and positive",
        ))
    }
}

// ---------------------------------------------------------------------------
// LOGISTIC and TANH (spec 2.15, 2.16)

/// Integer bits of the fixed-point input of gemmlowp's logistic/tanh.
const LOGISTIC_TANH_INPUT_INTEGER_BITS: u32 = 4;

/// Parameters of LOGISTIC and TANH (TFLM `OpDataLogistic` / tanh `OpData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogisticTanhParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Inputs (minus zero point) at or beyond ± this saturate.
    pub input_range_radius: i32,
    /// Q31 multiplier taking the input to Q4.27.
    pub input_multiplier: i32,
    /// Exponent of `input_multiplier` (positive = left).
    pub input_left_shift: i32,
}

/// LOGISTIC's parameters.
pub type LogisticParams = LogisticTanhParams;
/// TANH's parameters.
pub type TanhParams = LogisticTanhParams;

/// The shared prepare of TFLM's `logistic_common.cc` and `tanh.cc`:
/// `frexp(input_scale * 2^27)` without `QuantizeMultiplier`'s `2^31` fix-up.
fn prepare_logistic_tanh(
    input_scale: f32,
    input_zero_point: i32,
) -> Result<LogisticTanhParams, KernelError> {
    check_scale(input_scale)?;
    let real = f64::from(input_scale) * f64::from(1i32 << (31 - LOGISTIC_TANH_INPUT_INTEGER_BITS));
    let (q, shift) = frexp(real);
    // C++ computes the radius with `1LL << shift`; outside 0..=62 that is UB
    // (and only reachable with absurd scales), so refuse it.
    if !(0..=62).contains(&shift) {
        return Err(KernelError::InvalidParams(
            "logistic/tanh input scale out of range",
        ));
    }
    // q has at most 24 significant bits, so q * 2^31 < 2^31: no overflow.
    let input_multiplier = round_half_away_f64(q * 2_147_483_648.0) as i32;
    // CalculateInputRadius(4, shift, 31) in double, floored (positive, so
    // truncation floors).
    let radius = (15.0 * (1u64 << 27) as f64 / (1u64 << shift) as f64) as i64;
    Ok(LogisticTanhParams {
        input_zero_point,
        input_range_radius: radius as i32,
        input_multiplier,
        input_left_shift: shift,
    })
}

/// Prepares LOGISTIC. TFLM requires output zero point -128 and assumes (but
/// does not check) output scale 1/256.
pub fn prepare_logistic(
    input_scale: f32,
    input_zero_point: i32,
    output_zero_point: i32,
) -> Result<LogisticParams, KernelError> {
    if output_zero_point != -128 {
        return Err(KernelError::InvalidParams(
            "logistic output zero point must be -128",
        ));
    }
    prepare_logistic_tanh(input_scale, input_zero_point)
}

/// Prepares TANH. TFLM checks nothing about the output and assumes (1/128, 0).
pub fn prepare_tanh(input_scale: f32, input_zero_point: i32) -> Result<TanhParams, KernelError> {
    prepare_logistic_tanh(input_scale, input_zero_point)
}

/// LOGISTIC of one value (`reference_integer_ops::Logistic`).
pub fn logistic(x: i8, p: &LogisticParams) -> i8 {
    let input = i32::from(x).wrapping_sub(p.input_zero_point);
    if input <= p.input_range_radius.wrapping_neg() {
        -128
    } else if input >= p.input_range_radius {
        127
    } else {
        let input_in_q4 = mbqm(input, p.input_multiplier, p.input_left_shift);
        let output_in_q0 = gemmlowp::logistic(input_in_q4, LOGISTIC_TANH_INPUT_INTEGER_BITS);
        // Q0.31 -> 1/256 steps, then the fixed output zero point -128.
        let output = crate::fixedpoint::rdbpot(output_in_q0, 31 - 8);
        output.wrapping_sub(128).clamp(-128, 127) as i8
    }
}

/// TANH of one value (`reference_integer_ops::Tanh`).
pub fn tanh(x: i8, p: &TanhParams) -> i8 {
    let input = i32::from(x).wrapping_sub(p.input_zero_point);
    if input <= p.input_range_radius.wrapping_neg() {
        -128
    } else if input >= p.input_range_radius {
        127
    } else {
        let input_in_q4 = mbqm(input, p.input_multiplier, p.input_left_shift);
        let output_in_q0 = gemmlowp::tanh(input_in_q4, LOGISTIC_TANH_INPUT_INTEGER_BITS);
        // Q0.31 -> 1/128 steps; output zero point 0.
        crate::fixedpoint::rdbpot(output_in_q0, 31 - 7).clamp(-128, 127) as i8
    }
}

// ---------------------------------------------------------------------------
// RELU, RELU_N1_TO_1 (requantizing) and RELU6 (spec 2.22)

/// A requantization followed by a clamp: standalone RELU and RELU_N1_TO_1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReluParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q31 multiplier of `input_scale / output_scale`.
    pub output_multiplier: i32,
    /// Exponent of `output_multiplier` (positive = left).
    pub output_shift: i32,
    /// Lower clamp, in output codes.
    pub act_min: i32,
    /// Upper clamp, in output codes.
    pub act_max: i32,
}

/// `zp + (int)roundf(value / scale)`, as TFLM's activation-bound lambdas.
fn quantize_bound(value: f32, scale: f32, zero_point: i32) -> i32 {
    zero_point.saturating_add(round_half_away_f32(value / scale) as i32)
}

/// Prepares RELU as current TFLM does (`activations_common.cc`, 2025+):
/// multiplier from `(double)in_scale / (double)out_scale`, clamp
/// `[max(-128, out_zp), 127]`.
///
/// TFLM releases before the 2025 int16 rework divided in float; use
/// [`prepare_relu_f32_ratio`] to match those.
pub fn prepare_relu(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<ReluParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    let real = f64::from(input_scale) / f64::from(output_scale);
    Ok(relu_params(
        real,
        input_zero_point,
        output_scale,
        output_zero_point,
        0.0,
        None,
    ))
}

/// Prepares RELU with the multiplier from a float division
/// `(double)(in_scale / out_scale)`: older TFLM releases and TFLite.
pub fn prepare_relu_f32_ratio(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<ReluParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    let real = f64::from(input_scale / output_scale);
    Ok(relu_params(
        real,
        input_zero_point,
        output_scale,
        output_zero_point,
        0.0,
        None,
    ))
}

/// Prepares RELU_N1_TO_1. TFLM has no such kernel; this is TFLite's
/// (`activations.cc` `ReluPrepare` + `QuantizedReluX(-1, 1)`): float ratio,
/// clamp `[max(-128, zp + round(-1/s)), min(127, zp + round(1/s))]`.
pub fn prepare_relu_n1_to_1(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<ReluParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    let real = f64::from(input_scale / output_scale);
    Ok(relu_params(
        real,
        input_zero_point,
        output_scale,
        output_zero_point,
        -1.0,
        Some(1.0),
    ))
}

fn relu_params(
    real: f64,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    act_min: f32,
    act_max: Option<f32>,
) -> ReluParams {
    let (output_multiplier, output_shift) = quantize_multiplier(real);
    ReluParams {
        input_zero_point,
        output_zero_point,
        output_multiplier,
        output_shift,
        act_min: quantize_bound(act_min, output_scale, output_zero_point).max(-128),
        act_max: match act_max {
            Some(v) => quantize_bound(v, output_scale, output_zero_point).min(127),
            None => 127,
        },
    }
}

/// RELU / RELU_N1_TO_1 of one value (TFLM `ReluQuantized`).
pub fn relu(x: i8, p: &ReluParams) -> i8 {
    let v = p.output_zero_point.wrapping_add(mbqm(
        i32::from(x).wrapping_sub(p.input_zero_point),
        p.output_multiplier,
        p.output_shift,
    ));
    // max then min, as TFLM; then the int8 cast (bounds are in range when
    // they come from prepare).
    v.max(p.act_min).min(p.act_max).clamp(-128, 127) as i8
}

/// RELU6 bounds (TFLM `Relu6OpData`): no requantization, input and output
/// share scale and zero point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relu6Params {
    /// The code of 0.0 (the input zero point).
    pub zero: i8,
    /// The code of 6.0, clamped to int8.
    pub six: i8,
}

/// Prepares RELU6 (`Relu6Prepare`): `six = clamp(round(6.0f / scale) + zp)`.
pub fn prepare_relu6(input_scale: f32, input_zero_point: i32) -> Result<Relu6Params, KernelError> {
    check_scale(input_scale)?;
    if !(-128..=127).contains(&input_zero_point) {
        return Err(KernelError::InvalidParams(
            "relu6 zero point out of int8 range",
        ));
    }
    // FloatToQuantizedType<int8_t>: round(value / scale) + zero_point.
    let six = quantize_bound(6.0, input_scale, input_zero_point).clamp(-128, 127);
    Ok(Relu6Params {
        zero: input_zero_point as i8,
        six: six as i8,
    })
}

/// RELU6 of one value (TFLM `Relu6Quantized`).
pub fn relu6(x: i8, p: &Relu6Params) -> i8 {
    if x > p.six {
        p.six
    } else if x < p.zero {
        p.zero
    } else {
        x
    }
}

// ---------------------------------------------------------------------------
// LEAKY_RELU

/// LEAKY_RELU parameters (TFLM `LeakyReluOpData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakyReluParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q31 multiplier of `input_scale * alpha / output_scale` (negative inputs).
    pub output_multiplier_alpha: i32,
    /// Exponent of `output_multiplier_alpha`.
    pub output_shift_alpha: i32,
    /// Q31 multiplier of `input_scale / output_scale` (non-negative inputs).
    pub output_multiplier_identity: i32,
    /// Exponent of `output_multiplier_identity`.
    pub output_shift_identity: i32,
}

/// Prepares LEAKY_RELU as `leaky_relu_common.cc`: both ratios are computed
/// in float (`in_scale * alpha / out_scale`, `in_scale / out_scale`) and only
/// then widened to double. A negative `alpha` gives a negative multiplier,
/// which the double-rounding arithmetic supports.
pub fn prepare_leaky_relu(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
    alpha: f32,
) -> Result<LeakyReluParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    if !alpha.is_finite() {
        return Err(KernelError::InvalidParams(
            "leaky relu alpha must be finite",
        ));
    }
    let (output_multiplier_alpha, output_shift_alpha) =
        quantize_multiplier(f64::from(input_scale * alpha / output_scale));
    let (output_multiplier_identity, output_shift_identity) =
        quantize_multiplier(f64::from(input_scale / output_scale));
    Ok(LeakyReluParams {
        input_zero_point,
        output_zero_point,
        output_multiplier_alpha,
        output_shift_alpha,
        output_multiplier_identity,
        output_shift_identity,
    })
}

/// LEAKY_RELU of one value (`reference_ops::QuantizeLeakyRelu`).
pub fn leaky_relu(x: i8, p: &LeakyReluParams) -> i8 {
    let input = i32::from(x).wrapping_sub(p.input_zero_point);
    let scaled = if input >= 0 {
        mbqm(input, p.output_multiplier_identity, p.output_shift_identity)
    } else {
        mbqm(input, p.output_multiplier_alpha, p.output_shift_alpha)
    };
    p.output_zero_point.wrapping_add(scaled).clamp(-128, 127) as i8
}

// ---------------------------------------------------------------------------
// HARD_SWISH

/// HARD_SWISH parameters (TFLite `HardSwishParams`, 16-bit fixed point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardSwishParams {
    /// Input zero point.
    pub input_zero_point: i16,
    /// Output zero point.
    pub output_zero_point: i16,
    /// Q15 multiplier from the "hires" input scale (input scale / 128) to
    /// the "relu-ish" scale 3/32768.
    pub reluish_multiplier_fixedpoint_int16: i16,
    /// Exponent of the relu-ish multiplier (positive = left).
    pub reluish_multiplier_exponent: i32,
    /// Q15 multiplier from the hires input scale to the output scale.
    pub output_multiplier_fixedpoint_int16: i16,
    /// Exponent of the output multiplier (always `<= 0`).
    pub output_multiplier_exponent: i32,
}

/// TFLite `DownScaleInt32ToInt16Multiplier`: round a Q31 multiplier to Q15.
fn downscale_multiplier_to_i16(multiplier: i32) -> i16 {
    if multiplier >= i32::MAX - (1 << 15) {
        i16::MAX
    } else {
        ((multiplier + (1 << 15)) >> 16) as i16
    }
}

/// Prepares HARD_SWISH as `hard_swish_common.cc`: every ratio is computed in
/// float and widened to double only for `QuantizeMultiplier`; fails (as
/// TFLM's `TF_LITE_ENSURE`) if the output multiplier would need a left shift.
pub fn prepare_hard_swish(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<HardSwishParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    if !(-128..=127).contains(&input_zero_point) || !(-128..=127).contains(&output_zero_point) {
        return Err(KernelError::InvalidParams(
            "hard swish zero point out of int8 range",
        ));
    }
    let hires_input_scale = (1.0f32 / 128.0) * input_scale;
    let reluish_scale = 3.0f32 / 32768.0;
    let (output_multiplier, output_multiplier_exponent) =
        quantize_multiplier(f64::from(hires_input_scale / output_scale));
    if output_multiplier_exponent > 0 {
        return Err(KernelError::InvalidParams(
            "hard swish output multiplier exponent > 0",
        ));
    }
    if output_multiplier < 0 {
        return Err(KernelError::InvalidParams("hard swish multiplier negative"));
    }
    let (reluish_multiplier, reluish_multiplier_exponent) =
        quantize_multiplier(f64::from(hires_input_scale / reluish_scale));
    Ok(HardSwishParams {
        input_zero_point: input_zero_point as i16,
        output_zero_point: output_zero_point as i16,
        reluish_multiplier_fixedpoint_int16: downscale_multiplier_to_i16(reluish_multiplier),
        reluish_multiplier_exponent,
        output_multiplier_fixedpoint_int16: downscale_multiplier_to_i16(output_multiplier),
        output_multiplier_exponent,
    })
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` for `int16` (round half up).
#[inline]
fn srdhm_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// TFLite `SaturatingDoublingHighMul` for `int16`: truncates instead of
/// rounding (ARM SQDMULH).
#[inline]
fn sdhm_i16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((i32::from(a) * i32::from(b)) / (1 << 15)) as i16
}

/// gemmlowp `RoundingDivideByPOT` instantiated for `int16`, including its
/// behaviour for exponents >= 16, where the `int16` mask wraps to -1.
#[inline]
fn rdbpot_i16(x: i16, exponent: i32) -> i16 {
    let exponent = exponent.clamp(0, 31);
    let mask = ((1i64 << exponent) - 1) as i16;
    let remainder = x & mask;
    let threshold = ((mask >> 1) as i32 + i32::from(x < 0)) as i16;
    let shifted = (i32::from(x) >> exponent) as i16;
    (i32::from(shifted) + i32::from(remainder > threshold)) as i16
}

/// TFLite `SaturatingLeftShift` for `int16`.
#[inline]
fn saturating_left_shift_i16(value: i16, amount: i32) -> i16 {
    let shifted = i64::from(value) << amount.clamp(0, 32);
    shifted.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// HARD_SWISH of one value (`reference_ops::HardSwish<int8_t>`).
pub fn hard_swish(x: i8, p: &HardSwishParams) -> i8 {
    let input_value = (i32::from(x) - i32::from(p.input_zero_point)) as i16;
    // Shift the input into the high bits of an int16 (|x| <= 255 fits).
    let input_value_on_hires_input_scale = (i32::from(input_value) * (1 << 7)) as i16;
    let input_value_on_preshift_output_scale = srdhm_i16(
        input_value_on_hires_input_scale,
        p.output_multiplier_fixedpoint_int16,
    );

    // The "relu-ish" value: x rescaled so that 3.0 maps to 32768, saturating.
    let mut reluish_value = input_value_on_hires_input_scale;
    if p.reluish_multiplier_exponent > 0 {
        reluish_value = saturating_left_shift_i16(reluish_value, p.reluish_multiplier_exponent - 1);
    }
    reluish_value = srdhm_i16(reluish_value, p.reluish_multiplier_fixedpoint_int16);
    if p.reluish_multiplier_exponent > 0 {
        // The last bit of left shift: any saturation that matters happens here.
        reluish_value = saturating_left_shift_i16(reluish_value, 1);
    }
    if p.reluish_multiplier_exponent < 0 {
        reluish_value = rdbpot_i16(
            reluish_value,
            p.reluish_multiplier_exponent.saturating_neg(),
        );
    }
    // From [-1, 1] to [0, 1] in Q15.
    reluish_value = ((i32::from(reluish_value) + (1 << 15)) >> 1) as i16;

    let preshift_output_value = sdhm_i16(reluish_value, input_value_on_preshift_output_scale);
    let mut output_value = rdbpot_i16(
        preshift_output_value,
        p.output_multiplier_exponent.saturating_neg(),
    );
    // int16 += int: wraps in the int16 store, as in C++.
    output_value = output_value.wrapping_add(p.output_zero_point);
    output_value.clamp(-128, 127) as i8
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;

    fn dequant(q: i8, scale: f32, zp: i32) -> f64 {
        f64::from(scale) * f64::from(i32::from(q) - zp)
    }

    #[test]
    fn lut_roundtrip() {
        let table = build_lut(|x| x.wrapping_mul(3));
        let input: [i8; 5] = [-128, -1, 0, 1, 127];
        let mut out = [0i8; 5];
        apply_lut(&table, &input, &mut out).expect("lengths match");
        assert_eq!(out, input.map(|x| x.wrapping_mul(3)));
        assert!(apply_lut(&table, &input, &mut out[..4]).is_err());
    }

    #[test]
    fn logistic_spec_vector() {
        let p = prepare_logistic(0.1, 0, -128).expect("prepare");
        let xs = [-100i8, -20, -5, 0, 5, 20, 100];
        let want = [-128i8, -97, -31, 0, 31, 97, 127];
        for (x, w) in xs.into_iter().zip(want) {
            assert_eq!(logistic(x, &p), w, "x={x}");
        }
        assert!(prepare_logistic(0.1, 0, 0).is_err());
    }

    #[test]
    fn logistic_exhaustive_for_spec_params() {
        // All 256 inputs: within one LSB of the real sigmoid, monotone, and
        // symmetric about the zero point (sigmoid(-x) = 1 - sigmoid(x)).
        let p = prepare_logistic(0.1, 0, -128).expect("prepare");
        let table = build_lut(|x| logistic(x, &p));
        for x in i8::MIN..=i8::MAX {
            let y = table[x as u8 as usize];
            let want = 1.0 / (1.0 + (-dequant(x, 0.1, 0)).exp());
            let got = f64::from(i32::from(y) + 128) / 256.0;
            assert!(
                (got - want).abs() <= 1.0 / 256.0,
                "x={x} got={got} want={want}"
            );
            if x > i8::MIN {
                assert!(y >= table[(x - 1) as u8 as usize]);
            }
            if x > i8::MIN && x != 0 && y != 127 {
                let neg = i32::from(table[(-x) as u8 as usize]) + 128;
                assert!((i32::from(y) + 128 + neg - 256).abs() <= 1, "x={x}");
            }
        }
    }

    #[test]
    fn tanh_exhaustive_symmetric() {
        let p = prepare_tanh(0.05, 0).expect("prepare");
        for x in -127i8..=127 {
            let sum = i32::from(tanh(x, &p)) + i32::from(tanh(-x, &p));
            assert!(sum.abs() <= 1, "x={x}");
        }
        assert_eq!(tanh(0, &p), 0);
    }

    #[test]
    fn relu6_and_relu_bounds() {
        let p = prepare_relu6(0.05, -10).expect("prepare");
        assert_eq!(
            p,
            Relu6Params {
                zero: -10,
                six: 110
            }
        );
        assert_eq!(relu6(-128, &p), -10);
        assert_eq!(relu6(127, &p), 110);
        assert_eq!(relu6(50, &p), 50);
        // six clamps to int8.
        assert_eq!(prepare_relu6(0.01, 0).expect("prepare").six, 127);

        let r = prepare_relu(0.1, 3, 0.05, -20).expect("prepare");
        assert_eq!((r.act_min, r.act_max), (-20, 127));
        assert_eq!(relu(3, &r), -20);
        assert_eq!(relu(13, &r), 0); // 1.0 -> 20 steps above zp
        assert_eq!(relu(-128, &r), -20);

        let n1 = prepare_relu_n1_to_1(0.05, 0, 0.02, 0).expect("prepare");
        assert_eq!((n1.act_min, n1.act_max), (-50, 50));
        assert_eq!(relu(127, &n1), 50);
        assert_eq!(relu(-128, &n1), -50);
        assert_eq!(relu(10, &n1), 25);
    }

    #[test]
    fn relu_f32_ratio_differs_only_in_the_multiplier() {
        let a = prepare_relu(0.123_456_79, 0, 0.098_765_43, 0).expect("prepare");
        let b = prepare_relu_f32_ratio(0.123_456_79, 0, 0.098_765_43, 0).expect("prepare");
        assert_eq!((a.act_min, a.act_max), (b.act_min, b.act_max));
        let (m, _) = quantize_multiplier(f64::from(0.123_456_79f32) / f64::from(0.098_765_43f32));
        assert_eq!(a.output_multiplier, m);
    }

    #[test]
    fn hard_swish_prepare_values() {
        // in 0.1, out 0.05: hires 0.1/128; reluish 0.1/128 / (3/32768).
        let p = prepare_hard_swish(0.1, 5, 0.05, -10).expect("prepare");
        let (m, e) = quantize_multiplier(f64::from((0.1f32 / 128.0) / 0.05));
        assert_eq!(p.output_multiplier_exponent, e);
        assert_eq!(
            i32::from(p.output_multiplier_fixedpoint_int16),
            (m + (1 << 15)) >> 16
        );
        let (m, e) = quantize_multiplier(f64::from((0.1f32 / 128.0) / (3.0 / 32768.0)));
        assert_eq!(p.reluish_multiplier_exponent, e);
        assert_eq!(
            i32::from(p.reluish_multiplier_fixedpoint_int16),
            (m + (1 << 15)) >> 16
        );
        // An output scale so small the multiplier needs a left shift fails.
        assert!(prepare_hard_swish(1.0, 0, 0.001, 0).is_err());
    }

    #[test]
    fn narrow_rounding_helpers() {
        assert_eq!(rdbpot_i16(5, 1), 3);
        assert_eq!(rdbpot_i16(-5, 1), -3);
        assert_eq!(rdbpot_i16(-6, 2), -2);
        // int16 mask wraps for exponent >= 16.
        assert_eq!(rdbpot_i16(0, 16), 1);
        assert_eq!(rdbpot_i16(-1, 20), -1);
        assert_eq!(srdhm_i16(i16::MIN, i16::MIN), i16::MAX);
        assert_eq!(srdhm_i16(16384, 16384), 8192);
        assert_eq!(sdhm_i16(-3, 16384), -1);
        assert_eq!(srdhm_i16(-3, 16384), -1);
        assert_eq!(srdhm_i16(-1, 16384), 0);
        assert_eq!(saturating_left_shift_i16(300, 10), i16::MAX);
        assert_eq!(saturating_left_shift_i16(-300, 40), i16::MIN);
    }

    /// HARD_SWISH written independently, in i64 with closed-form roundings
    /// (floor((ab + 2^14) / 2^15) with C truncation, etc.).
    fn hard_swish_reference(x: i8, p: &HardSwishParams) -> i8 {
        fn sat16(v: i64) -> i64 {
            v.clamp(-32768, 32767)
        }
        fn round_mul(a: i64, b: i64) -> i64 {
            if a == -32768 && b == -32768 {
                return 32767;
            }
            let ab = a * b;
            if ab >= 0 {
                (ab + 16384) / 32768
            } else {
                (ab - 16383) / 32768
            }
        }
        fn div_pot(x: i64, e: i64) -> i64 {
            if e == 0 {
                return x;
            }
            // round half away from zero for e < 16
            let d = 1i64 << e;
            let q = x.div_euclid(d);
            let r = x.rem_euclid(d);
            let half = d / 2;
            if r > half || (r == half && x >= 0) {
                q + 1
            } else {
                q
            }
        }
        let v = i64::from(x) - i64::from(p.input_zero_point);
        let hires = v * 128;
        let pre = round_mul(hires, i64::from(p.output_multiplier_fixedpoint_int16));
        let e = i64::from(p.reluish_multiplier_exponent);
        let mut r = hires;
        if e > 0 {
            r = sat16(r << (e - 1));
        }
        r = round_mul(r, i64::from(p.reluish_multiplier_fixedpoint_int16));
        if e > 0 {
            r = sat16(r * 2);
        }
        if e < 0 {
            r = div_pot(r, -e);
        }
        r = (r + 32768) >> 1;
        let prod = r * pre;
        let post = if prod >= 0 {
            prod / 32768
        } else {
            -((-prod) / 32768)
        };
        let out = div_pot(post, -i64::from(p.output_multiplier_exponent))
            + i64::from(p.output_zero_point);
        out.clamp(-128, 127) as i8
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn logistic_all_inputs_close_and_monotone(scale in 0.001f32..1.0, zp in -128i32..=127) {
            let p = prepare_logistic(scale, zp, -128).expect("prepare");
            let mut prev = i8::MIN;
            for x in i8::MIN..=i8::MAX {
                let y = logistic(x, &p);
                let want = 1.0 / (1.0 + (-dequant(x, scale, zp)).exp());
                let got = f64::from(i32::from(y) + 128) / 256.0;
                prop_assert!((got - want).abs() <= 1.0 / 256.0, "x={} got={} want={}", x, got, want);
                prop_assert!(y >= prev);
                prev = y;
            }
        }

        #[test]
        fn tanh_all_inputs_close_and_monotone(scale in 0.001f32..1.0, zp in -128i32..=127) {
            let p = prepare_tanh(scale, zp).expect("prepare");
            let mut prev = i8::MIN;
            for x in i8::MIN..=i8::MAX {
                let y = tanh(x, &p);
                let want = dequant(x, scale, zp).tanh();
                let got = f64::from(y) / 128.0;
                prop_assert!((got - want).abs() <= 1.0 / 128.0, "x={} got={} want={}", x, got, want);
                prop_assert!(y >= prev);
                prev = y;
            }
        }

        #[test]
        fn relu_matches_float(
            in_scale in 0.001f32..1.0, in_zp in -128i32..=127,
            out_scale in 0.001f32..1.0, out_zp in -128i32..=127,
        ) {
            let p = prepare_relu(in_scale, in_zp, out_scale, out_zp).expect("prepare");
            for x in i8::MIN..=i8::MAX {
                let want = (dequant(x, in_scale, in_zp).max(0.0) / f64::from(out_scale)).round()
                    + f64::from(out_zp);
                let want = want.clamp(-128.0, 127.0);
                let got = f64::from(relu(x, &p));
                prop_assert!((got - want).abs() <= 1.0, "x={} got={} want={}", x, got, want);
            }
        }

        #[test]
        fn leaky_relu_matches_float(
            in_scale in 0.001f32..1.0, in_zp in -128i32..=127,
            out_scale in 0.001f32..1.0, out_zp in -128i32..=127,
            alpha in -2.0f32..2.0,
        ) {
            let p = prepare_leaky_relu(in_scale, in_zp, out_scale, out_zp, alpha).expect("prepare");
            for x in i8::MIN..=i8::MAX {
                let v = dequant(x, in_scale, in_zp);
                let f = if v >= 0.0 { v } else { v * f64::from(alpha) };
                let want = ((f / f64::from(out_scale)).round() + f64::from(out_zp)).clamp(-128.0, 127.0);
                let got = f64::from(leaky_relu(x, &p));
                prop_assert!((got - want).abs() <= 1.0, "x={} got={} want={}", x, got, want);
            }
        }

        #[test]
        fn arbitrary_params_never_panic(
            a in any::<i32>(), b in any::<i32>(), c in any::<i32>(),
            shift in -100_000i32..100_000, e1 in any::<i32>(), e2 in any::<i32>(),
            h in any::<(i16, i16, i16, i16)>(),
        ) {
            let lt = LogisticTanhParams {
                input_zero_point: a, input_range_radius: b, input_multiplier: c, input_left_shift: shift,
            };
            let r = ReluParams {
                input_zero_point: a, output_zero_point: b, output_multiplier: c,
                output_shift: shift, act_min: e1, act_max: e2,
            };
            let l = LeakyReluParams {
                input_zero_point: a, output_zero_point: b, output_multiplier_alpha: c,
                output_shift_alpha: shift, output_multiplier_identity: e1, output_shift_identity: -shift,
            };
            let hs = HardSwishParams {
                input_zero_point: h.0, output_zero_point: h.1,
                reluish_multiplier_fixedpoint_int16: h.2, reluish_multiplier_exponent: e1,
                output_multiplier_fixedpoint_int16: h.3, output_multiplier_exponent: e2,
            };
            for x in i8::MIN..=i8::MAX {
                let _ = (logistic(x, &lt), tanh(x, &lt), relu(x, &r), leaky_relu(x, &l), hard_swish(x, &hs));
            }
        }

        #[test]
        fn hard_swish_matches_reference_and_float(
            in_scale in 0.005f32..0.2, in_zp in -128i32..=127,
            out_scale in 0.005f32..0.2, out_zp in -128i32..=127,
        ) {
            let Ok(p) = prepare_hard_swish(in_scale, in_zp, out_scale, out_zp) else {
                return Ok(());
            };
            for x in i8::MIN..=i8::MAX {
                let got = hard_swish(x, &p);
                prop_assert_eq!(got, hard_swish_reference(x, &p), "x={}", x);
                let v = dequant(x, in_scale, in_zp);
                let f = v * (v + 3.0).clamp(0.0, 6.0) / 6.0;
                let want = ((f / f64::from(out_scale)).round() + f64::from(out_zp)).clamp(-128.0, 127.0);
                prop_assert!((f64::from(got) - want).abs() <= 2.0, "x={} got={} want={}", x, got, want);
            }
        }
    }
}

//! int16 SOFTMAX of 16x8 models, as TFLM's `reference_ops::SoftmaxInt16`:
//! two 513-entry int16 tables with linear interpolation between entries
//! (TFLM's `gen_lut` in float, and its interpolating lookup), one for
//! `exp(x)` on `[-10, 0]` and one for `1 / (1 + x)` on `[0, 1]`.
//!
//! Per row: the difference to the row's maximum is rescaled so that
//! `[-65535, 0]` spans `[-10, 0]` (`input_multiplier`, TFLM's
//! `QuantizeMultiplier(in_scale * beta / (10 / 65535))`), recentred to int16
//! and looked up in the exp table; the int32 sum of those values is
//! normalised by its leading zeros, its reciprocal looked up in the second
//! table, and each exp value scaled by it into `[0, 32767]` (output scale
//! 1/32768, zero point 0).

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, quantize_multiplier, round_half_away_f32};
use crate::float_math::exp_f32;
use crate::int16::{Int16s, Int16sMut};

/// Entries of an int16 interpolation table: 512 steps and the end point.
pub const LUT16_LEN: usize = 513;

/// An int16 interpolation table.
pub type Lut16 = [i16; LUT16_LEN];

/// Host side: TFLM's `gen_lut<float, int16_t, int16_t>`: `f` sampled on 512
/// steps of `[input_min, input_max]`, each sample biased by half the error
/// of interpolating the step's midpoint, output scaled so that
/// `[output_min, output_max]` spans 65536 codes; then `f(input_max)`.
pub fn gen_lut_16(
    f: impl Fn(f32) -> f32,
    (input_min, input_max): (f32, f32),
    (output_min, output_max): (f32, f32),
) -> Lut16 {
    const STEPS: usize = LUT16_LEN - 1;
    let step = (input_max - input_min) / STEPS as f32;
    let half_step = step / 2.0;
    let scaling = 65536.0f32 / (output_max - output_min);
    let round = round_half_away_f32;
    let clamp = |v: f32| v.clamp(-32768.0, 32767.0) as i16;
    let mut lut = [0i16; LUT16_LEN];
    for (i, entry) in lut.iter_mut().take(STEPS).enumerate() {
        let at = input_min + i as f32 * step;
        let value = f(at);
        let midpoint = f(at + half_step);
        let next = f(input_min + (i + 1) as f32 * step);
        let sample = round(value * scaling);
        let interpolated = round((next * scaling + round(value * scaling)) / 2.0);
        let bias = round((interpolated - round(midpoint * scaling)) / 2.0);
        *entry = clamp(sample - bias);
    }
    lut[STEPS] = clamp(round(f(input_max) * scaling));
    lut
}

/// TFLM's interpolating int16 lookup: the top 9 bits of `value` (offset
/// by 256) pick an entry, the low 7 interpolate towards the next one.
#[inline]
pub fn lut_lookup_16(value: i16, lut: &Lut16) -> i16 {
    // (value >> 7) lies in -256..=255, so the index in 0..=511.
    let index = (256 + (i32::from(value) >> 7)) as usize;
    let offset = i32::from(value & 0x7f);
    let base = lut[index];
    let slope = lut[index + 1].wrapping_sub(base);
    let delta = (i32::from(slope) * offset + 64) >> 7;
    (i32::from(base) + delta) as i16
}

/// Folded parameters of one int16 SOFTMAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxI16Params {
    /// Rows (the product of every dimension but the last).
    pub outer: usize,
    /// Row length (the last dimension, >= 1).
    pub depth: usize,
    /// Q31 multiplier of `in_scale * beta * 65535 / 10`.
    pub input_multiplier: i32,
    /// Its exponent (positive = left).
    pub input_left_shift: i32,
    /// `exp(x)` on `[-10, 0]`, output range `[-1, 1]`.
    pub exp_lut: Lut16,
    /// `1 / (1 + x)` on `[0, 1]`, output range `[-1, 1]`.
    pub one_over_one_plus_x_lut: Lut16,
}

/// Host side: int16 SOFTMAX's parameters, after TFLM's prepare checks
/// (output zero point 0, output scale 1/32768 within 0.1%).
pub fn prepare_softmax_16(
    outer: usize,
    depth: usize,
    input_scale: f32,
    beta: f32,
    (output_scale, output_zero_point): (f32, i32),
) -> Result<SoftmaxI16Params, KernelError> {
    if output_zero_point != 0 || (output_scale - 1.0 / 32768.0).abs() > 0.001 * (1.0 / 32768.0) {
        return Err(KernelError::InvalidParams(
            "int16 SOFTMAX output must have scale 1/32768 and zero point 0",
        ));
    }
    if !(input_scale.is_finite() && input_scale > 0.0 && beta.is_finite()) {
        return Err(KernelError::InvalidParams(
            "SOFTMAX input scale and beta must be finite",
        ));
    }
    let rescale = f64::from(input_scale) * f64::from(beta) / (10.0 / 65535.0);
    let (input_multiplier, input_left_shift) = quantize_multiplier(rescale);
    Ok(SoftmaxI16Params {
        outer,
        depth,
        input_multiplier,
        input_left_shift,
        exp_lut: gen_lut_16(exp_f32, (-10.0, 0.0), (-1.0, 1.0)),
        one_over_one_plus_x_lut: gen_lut_16(|x| 1.0 / (1.0 + x), (0.0, 1.0), (-1.0, 1.0)),
    })
}

impl SoftmaxI16Params {
    /// What [`softmax_16`] checks: rows of at least one value, a shift the
    /// fixed-point helper handles, both buffers `outer * depth` long.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        if self.depth == 0 || !(-31..=31).contains(&self.input_left_shift) {
            return Err(KernelError::InvalidParams(
                "int16 SOFTMAX needs a row of at least one value and a shift in -31..=31",
            ));
        }
        let n = self
            .outer
            .checked_mul(self.depth)
            .ok_or(KernelError::InvalidParams("SOFTMAX size overflows"))?;
        check_len("softmax input", n, input)?;
        check_len("softmax output", n, output)
    }
}

/// The exp table's value for `x - max` (both int16).
#[inline]
fn exp_of_difference(p: &SoftmaxI16Params, x: i16, max: i16) -> i16 {
    let scaled = mbqm(
        i32::from(x) - i32::from(max),
        p.input_multiplier,
        p.input_left_shift,
    );
    let centred = scaled.wrapping_add(32767).clamp(-32768, 32767) as i16;
    lut_lookup_16(centred, &p.exp_lut)
}

/// int16 SOFTMAX over the last axis.
pub fn softmax_16<I, O>(p: &SoftmaxI16Params, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    p.check(input.count(), output.count())?;
    for row in 0..p.outer {
        let base = row * p.depth;
        let max = (0..p.depth)
            .map(|c| input.at(base + c))
            .fold(i16::MIN, i16::max);
        // Q16.15; TFLM keeps the exp values in the output meanwhile.
        let mut sum = 0i32;
        for c in 0..p.depth {
            let e = exp_of_difference(p, input.at(base + c), max);
            output.put(base + c, e);
            sum = sum.wrapping_add(i32::from(e));
        }
        // sum >= 1 in practice (the maximum's own exp is about 32767);
        // the clamp keeps the shifts below defined for any table.
        let headroom_plus_one = (sum as u32).leading_zeros().clamp(1, 31);
        let shifted = ((i64::from(sum) << (headroom_plus_one - 1)) + (1 << 13)) >> 14;
        // 1/(1 + x) with x = sum - 1, recentred from [0, 65535] to int16.
        let x = (shifted as i32)
            .wrapping_sub((1 << 15) + (1 << 16))
            .clamp(-32768, 32767) as i16;
        let reciprocal = i64::from(lut_lookup_16(x, &p.one_over_one_plus_x_lut));
        let right_shift = 31 - headroom_plus_one;
        let round = if right_shift > 0 {
            1i64 << (right_shift - 1)
        } else {
            0
        };
        for c in 0..p.depth {
            let e = i64::from(output.at(base + c));
            let v = ((e * reciprocal + round) >> right_shift) as i32;
            output.put(base + c, v.clamp(0, 32767) as i16);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::{Rng, requant};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// `gen_lut` by its definition, in f32 with std's `exp` and `round`.
    fn reference_lut(f: impl Fn(f32) -> f32, lo: f32, hi: f32) -> Vec<i64> {
        let step = (hi - lo) / 512.0;
        let mut out = Vec::new();
        for i in 0..512 {
            let x = lo + i as f32 * step;
            let v = f(x) * 32768.0;
            let interp = ((f(lo + (i + 1) as f32 * step) * 32768.0 + v.round()) / 2.0).round();
            let err = interp - (f(x + step / 2.0) * 32768.0).round();
            out.push(((v.round() - (err / 2.0).round()) as i64).clamp(-32768, 32767));
        }
        out.push(((f(hi) * 32768.0).round() as i64).clamp(-32768, 32767));
        out
    }

    #[test]
    fn tables_match_their_definition() {
        let p = prepare_softmax_16(1, 1, 0.001, 1.0, (1.0 / 32768.0, 0)).expect("prepare");
        let want = reference_lut(f32::exp, -10.0, 0.0);
        assert_eq!(
            p.exp_lut.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
            want
        );
        let want = reference_lut(|x| 1.0 / (1.0 + x), 0.0, 1.0);
        assert_eq!(
            p.one_over_one_plus_x_lut
                .iter()
                .map(|&v| i64::from(v))
                .collect::<Vec<_>>(),
            want
        );
        // exp(0) saturates at the top; exp(-10) is about 1.5 codes.
        assert_eq!(p.exp_lut[512], 32767);
        assert_eq!(p.one_over_one_plus_x_lut[0], 32767);
        assert_eq!(p.one_over_one_plus_x_lut[512], 16384);
    }

    /// The lookup by its definition: integer interpolation between the two
    /// entries around `value`, written with i64 and floor division.
    fn reference_lookup(value: i16, lut: &Lut16) -> i64 {
        let v = i64::from(value) + 32768; // 0..=65535
        let (index, offset) = ((v / 128) as usize, v % 128);
        let base = i64::from(lut[index]);
        let slope = i64::from(lut[index + 1]) - base;
        base + (slope * offset + 64).div_euclid(128)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn softmax_matches_reference(
            outer in 1usize..4,
            depth in 1usize..40,
            scale in 1e-5f32..2e-3,
            beta in prop_oneof![Just(1.0f32), Just(0.5), 0.1f32..2.0],
            seed: u64,
        ) {
            let p = prepare_softmax_16(outer, depth, scale, beta, (1.0 / 32768.0, 0)).expect("prepare");
            let mut rng = Rng(seed);
            let x: Vec<i16> = (0..outer * depth)
                .map(|i| match i % 6 {
                    0 => i16::MIN,
                    1 => i16::MAX,
                    _ => rng.range(-32768, 32767) as i16,
                })
                .collect();
            let mut got = vec![[0u8; 2]; outer * depth];
            prop_assert_eq!(softmax_16(&p, &x[..], &mut got[..]), Ok(()));
            for r in 0..outer {
                let row = &x[r * depth..(r + 1) * depth];
                let max = i64::from(*row.iter().max().expect("a row"));
                let exps: Vec<i64> = row
                    .iter()
                    .map(|&v| {
                        let s = requant(i64::from(v) - max, p.input_multiplier, p.input_left_shift);
                        reference_lookup((s + 32767).clamp(-32768, 32767) as i16, &p.exp_lut)
                    })
                    .collect();
                let sum: i64 = exps.iter().sum();
                // Normalise the sum to [2^30, 2^31): x = sum * 2^k / 2^14 - 3 * 2^15.
                let k = (sum as u32).leading_zeros() as i64 - 1;
                let shifted = ((sum << k) + (1 << 13)) >> 14;
                let recip = reference_lookup(
                    (shifted - 3 * 32768).clamp(-32768, 32767) as i16,
                    &p.one_over_one_plus_x_lut,
                );
                let shift = 30 - k;
                for (c, &e) in exps.iter().enumerate() {
                    let want = ((e * recip + (1 << (shift - 1))) >> shift).clamp(0, 32767);
                    prop_assert_eq!(i64::from(got[..].at(r * depth + c)), want);
                }
            }
        }
    }

    #[test]
    fn refuses_other_output_quantization_and_lengths() {
        assert!(prepare_softmax_16(1, 4, 0.001, 1.0, (1.0 / 256.0, 0)).is_err());
        assert!(prepare_softmax_16(1, 4, 0.001, 1.0, (1.0 / 32768.0, 5)).is_err());
        let p = prepare_softmax_16(1, 4, 0.001, 1.0, (1.0 / 32768.0, 0)).expect("prepare");
        let mut out = [0i16; 4];
        assert!(softmax_16(&p, &[0i16; 3][..], &mut out[..]).is_err());
        // Equal inputs share the probability mass.
        assert_eq!(softmax_16(&p, &[7i16; 4][..], &mut out[..]), Ok(()));
        assert!(out.iter().all(|&v| (8190..=8194).contains(&v)), "{out:?}");
    }
}

//! The int16 RELU and RELU6 of 16x8 models, as TFLM's int16 kernels:
//!
//! * RELU: `ReluQuantized<int16_t>`, a requantization from the input's to
//!   the output's parameters (`(double)in_scale / (double)out_scale`) then
//!   the clamp `[max(-32768, out_zp), 32767]`.
//! * RELU6: `Relu6Quantized<int16_t>`, no requantization: each value is
//!   clamped between the input's codes of 0.0 and 6.0 and copied, so the
//!   output reads the input's scale and zero point (as the int8 kernel).

use crate::conv::I16_RANGE;
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, quantize_multiplier, round_half_away_f32};
use crate::int16::{Int16s, Int16sMut};
use crate::unary::ReluParams;

fn check_scale(scale: f32) -> Result<(), KernelError> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "scale must be finite and positive",
        ))
    }
}

fn check_zero_point(zero_point: i32) -> Result<(), KernelError> {
    if (I16_RANGE.0..=I16_RANGE.1).contains(&zero_point) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams("int16 zero point outside int16"))
    }
}

/// `zp + (int)roundf(value / scale)`, clamped to int16.
fn quantize_bound(value: f32, scale: f32, zero_point: i32) -> i32 {
    zero_point
        .saturating_add(round_half_away_f32(value / scale) as i32)
        .clamp(I16_RANGE.0, I16_RANGE.1)
}

/// Host side: int16 RELU's parameters, as TFLM's `CalculateReluOpData<int16_t>`.
pub fn prepare_relu_16(
    (input_scale, input_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
) -> Result<ReluParams, KernelError> {
    check_scale(input_scale)?;
    check_scale(output_scale)?;
    check_zero_point(input_zero_point)?;
    check_zero_point(output_zero_point)?;
    let (output_multiplier, output_shift) =
        quantize_multiplier(f64::from(input_scale) / f64::from(output_scale));
    Ok(ReluParams {
        input_zero_point,
        output_zero_point,
        output_multiplier,
        output_shift,
        act_min: quantize_bound(0.0, output_scale, output_zero_point),
        act_max: I16_RANGE.1,
    })
}

/// What int16 RELU checks: zero points and clamp inside int16, a shift the
/// fixed-point helper handles, equal lengths.
pub fn check_relu_16(p: &ReluParams, input: usize, output: usize) -> Result<(), KernelError> {
    check_zero_point(p.input_zero_point)?;
    check_zero_point(p.output_zero_point)?;
    if !(-31..=31).contains(&p.output_shift) {
        return Err(KernelError::InvalidParams("RELU shift outside -31..=31"));
    }
    check_clamp(p.act_min, p.act_max)?;
    check_len("output", input, output)
}

/// int16 RELU: `clamp(out_zp + MBQM(x - in_zp))`.
pub fn relu_16<I, O>(p: &ReluParams, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_relu_16(p, input.count(), output.count())?;
    for i in 0..input.count() {
        let x = i32::from(input.at(i)) - p.input_zero_point;
        let v = p
            .output_zero_point
            .wrapping_add(mbqm(x, p.output_multiplier, p.output_shift));
        // The clamp lies inside int16 (checked).
        output.put(i, v.clamp(p.act_min, p.act_max) as i16);
    }
    Ok(())
}

/// The bounds of a clamp without requantization (int16 RELU6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clamp16 {
    pub min: i16,
    pub max: i16,
}

/// Host side: int16 RELU6's bounds (`Relu6Prepare`): the input zero point
/// and `clamp(round(6.0f / scale) + zp)`, both in the input's codes.
pub fn prepare_relu6_16(input_scale: f32, input_zero_point: i32) -> Result<Clamp16, KernelError> {
    check_scale(input_scale)?;
    check_zero_point(input_zero_point)?;
    Ok(Clamp16 {
        min: input_zero_point as i16,
        max: quantize_bound(6.0, input_scale, input_zero_point) as i16,
    })
}

fn check_clamp(min: i32, max: i32) -> Result<(), KernelError> {
    if I16_RANGE.0 <= min && min <= max && max <= I16_RANGE.1 {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "int16 clamp must satisfy -32768 <= min <= max <= 32767",
        ))
    }
}

/// What the int16 clamp checks: `min <= max`, equal lengths.
pub fn check_clamp_16(p: &Clamp16, input: usize, output: usize) -> Result<(), KernelError> {
    check_clamp(i32::from(p.min), i32::from(p.max))?;
    check_len("output", input, output)
}

/// int16 RELU6: every value clamped to `[min, max]` (TFLM compares with the
/// upper bound first; with `min <= max` the order does not matter).
pub fn clamp_16<I, O>(p: &Clamp16, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_clamp_16(p, input.count(), output.count())?;
    for i in 0..input.count() {
        output.put(i, input.at(i).clamp(p.min, p.max));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::{Rng, requant};
    use proptest::prelude::*;
    use std::vec::Vec;

    fn i16s(rng: &mut Rng, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| match i % 5 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => 0,
                _ => rng.range(-32768, 32767) as i16,
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn relu_matches_reference(
            scales in proptest::array::uniform2(1e-6f32..0.1),
            zps in proptest::array::uniform2(-2000i32..=2000),
            seed: u64,
        ) {
            let p = prepare_relu_16((scales[0], zps[0]), (scales[1], zps[1])).expect("prepare");
            // The clamp by the definition: the output code of 0.0.
            let lo = (i64::from(zps[1]) + (f64::from(0.0f32 / scales[1])).round() as i64)
                .max(-32768);
            prop_assert_eq!(i64::from(p.act_min), lo);
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, 64);
            let mut out = [[0u8; 2]; 64];
            prop_assert_eq!(relu_16(&p, &x[..], &mut out[..]), Ok(()));
            for (i, &v) in x.iter().enumerate() {
                let want = (i64::from(zps[1])
                    + requant(i64::from(v) - i64::from(zps[0]), p.output_multiplier, p.output_shift))
                    .clamp(lo, 32767);
                prop_assert_eq!(i64::from(out[..].at(i)), want);
            }
        }

        #[test]
        fn relu6_matches_reference(
            scale in 1e-6f32..0.1,
            zp in -2000i32..=2000,
            seed: u64,
        ) {
            let p = prepare_relu6_16(scale, zp).expect("prepare");
            let six = (i64::from(zp) + f64::from(6.0f32 / scale).round() as i64).clamp(-32768, 32767);
            prop_assert_eq!((i64::from(p.min), i64::from(p.max)), (i64::from(zp), six));
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, 64);
            let mut out = [0i16; 64];
            prop_assert_eq!(clamp_16(&p, &x[..], &mut out[..]), Ok(()));
            for (&o, &v) in out.iter().zip(&x) {
                prop_assert_eq!(i64::from(o), i64::from(v).clamp(i64::from(zp), six));
            }
        }
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(prepare_relu_16((0.0, 0), (0.1, 0)).is_err());
        assert!(prepare_relu6_16(0.1, 40000).is_err());
        let mut out = [0i16; 2];
        let bad = Clamp16 { min: 5, max: 4 };
        assert!(clamp_16(&bad, &[0i16; 2][..], &mut out[..]).is_err());
        let p = prepare_relu_16((0.1, 0), (0.1, 0)).expect("prepare");
        assert!(relu_16(&p, &[0i16; 3][..], &mut out[..]).is_err());
    }
}

//! The int8 forms of two math ops, as TFLM computes them:
//!
//! * SQUARED_DIFFERENCE (`squared_difference.cc`, int8 path): both inputs
//!   offset, shifted left by 7 and rescaled to half the larger input scale
//!   (`MultiplyByQuantizedMultiplierSmallerThanOneExp`), their difference
//!   squared in int32 (at most `(255 · 2^7)^2`), then requantized with the
//!   double-rounding `MultiplyByQuantizedMultiplier` and clamped to int8.
//! * RSQRT (`elementwise.cc`, `RsqrtEvalQuantized`): the offset input's
//!   inverse square root from `GetInvSqrtQuantizedMultiplierExp` (gemmlowp's
//!   Newton–Raphson in Q3.28, five steps), brought to an integer with 20
//!   extra bits, then requantized with `QuantizeMultiplier(1 / (sqrt(s_in) ·
//!   s_out))`. A zero input gives 127. TFLM refuses the invoke on an input
//!   code below the zero point (a negative value); tinyq's table gives such
//!   codes 127 as well, so it never fails at run time.
//!
//! RSQRT depends on the input byte alone, so it runs as a 256-entry table
//! (`rsqrt` is the scalar function lowering tabulates).

use crate::elementwise::{broadcast, same_shape};
use crate::error::KernelError;
use crate::fixedpoint::{
    clamp_to_i8, mbqm, mbqm_smaller_than_one, quantize_multiplier, saturating_rounding_mul_by_pot,
    srdhm,
};
use crate::float_math::sqrt_f32;
use crate::shape::Shape;

/// Left shift TFLM applies to int8 SQUARED_DIFFERENCE inputs: the largest
/// with `255^2 · 2^14` inside int32.
pub const SQUARED_DIFFERENCE_LEFT_SHIFT: i32 = 7;

/// Folded quantization of int8 SQUARED_DIFFERENCE (TFLM's
/// `ArithmeticParams` from its `PrepareQuantized`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SquaredDifferenceParams {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Q31 multiplier of input 1 (`s1 / (2 max(s1, s2))`), its shift <= 0.
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    /// Q31 multiplier of input 2, its shift <= 0.
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    /// Q31 multiplier of the squared difference, its shift (left positive).
    pub output_multiplier: i32,
    pub output_shift: i32,
}

/// `QuantizeMultiplierSmallerThanOneExp`: TFLM aborts unless `0 < m < 1`
/// and the shift is `<= 0`.
fn smaller_than_one(m: f64) -> Result<(i32, i32), KernelError> {
    let (q, shift) = quantize_multiplier(m);
    if !(m > 0.0 && m < 1.0) || shift > 0 {
        return Err(KernelError::InvalidParams(
            "SQUARED_DIFFERENCE input multiplier must be in (0, 1): check the scales",
        ));
    }
    Ok((q, shift))
}

fn check_zero_point(zp: i32) -> Result<(), KernelError> {
    if (-128..=127).contains(&zp) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams("int8 zero point outside int8"))
    }
}

/// Host side: int8 SQUARED_DIFFERENCE's parameters, in double as TFLM:
/// `twice_max = 2 · (double)max(s1, s2)`, `real_i = s_i / twice_max`,
/// `real_out = twice_max^2 / (double)((float)(1 << 14) · s_out)`.
pub fn prepare_squared_difference(
    (s1, z1): (f32, i32),
    (s2, z2): (f32, i32),
    (so, zo): (f32, i32),
) -> Result<SquaredDifferenceParams, KernelError> {
    for z in [z1, z2, zo] {
        check_zero_point(z)?;
    }
    if ![s1, s2, so].iter().all(|s| s.is_finite() && *s > 0.0) {
        return Err(KernelError::InvalidParams(
            "scale must be finite and positive",
        ));
    }
    let twice_max = 2.0 * f64::from(s1.max(s2));
    let (input1_multiplier, input1_shift) = smaller_than_one(f64::from(s1) / twice_max)?;
    let (input2_multiplier, input2_shift) = smaller_than_one(f64::from(s2) / twice_max)?;
    // TFLM multiplies the int (1 << 14) by the float scale in float.
    let denominator = f64::from((1 << (2 * SQUARED_DIFFERENCE_LEFT_SHIFT)) as f32 * so);
    let (output_multiplier, output_shift) =
        quantize_multiplier(twice_max * twice_max / denominator);
    let p = SquaredDifferenceParams {
        input1_offset: -z1,
        input2_offset: -z2,
        output_offset: zo,
        input1_multiplier,
        input1_shift,
        input2_multiplier,
        input2_shift,
        output_multiplier,
        output_shift,
    };
    p.check()?;
    Ok(p)
}

impl SquaredDifferenceParams {
    /// Offsets of int8 zero points, shifts the fixed-point helpers handle.
    pub fn check(&self) -> Result<(), KernelError> {
        for z in [-self.input1_offset, -self.input2_offset, self.output_offset] {
            check_zero_point(z)?;
        }
        let right = |s: i32| (-31..=0).contains(&s);
        if !right(self.input1_shift)
            || !right(self.input2_shift)
            || !(-31..=31).contains(&self.output_shift)
        {
            return Err(KernelError::InvalidParams(
                "SQUARED_DIFFERENCE shifts out of range",
            ));
        }
        Ok(())
    }
}

/// One element (TFLM's `SquaredDifference(x, y, params)`). With int8
/// offsets every step fits int32; wrapping only mirrors C++'s int32 ops.
#[inline]
fn squared_difference_one(p: &SquaredDifferenceParams, x: i8, y: i8) -> i8 {
    let pre = 1i32 << SQUARED_DIFFERENCE_LEFT_SHIFT;
    let a = (i32::from(x) + p.input1_offset) * pre;
    let b = (i32::from(y) + p.input2_offset) * pre;
    let a = mbqm_smaller_than_one(a, p.input1_multiplier, p.input1_shift);
    let b = mbqm_smaller_than_one(b, p.input2_multiplier, p.input2_shift);
    let d = a.wrapping_sub(b);
    let v =
        mbqm(d.wrapping_mul(d), p.output_multiplier, p.output_shift).wrapping_add(p.output_offset);
    clamp_to_i8(v, -128, 127)
}

/// int8 SQUARED_DIFFERENCE, same shapes.
pub fn squared_difference(
    p: &SquaredDifferenceParams,
    input1: &[i8],
    input2: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    same_shape(input1, input2, output, |x, y| {
        squared_difference_one(p, x, y)
    })
}

/// int8 SQUARED_DIFFERENCE with broadcasting (TFLM's 4-D broadcast; up to
/// 6-D here, the same results).
pub fn squared_difference_broadcast(
    p: &SquaredDifferenceParams,
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        squared_difference_one(p, x, y)
    })
}

/// Extra fraction bits RSQRT keeps between its two requantizations.
const RSQRT_SHIFT: i32 = 20;

/// Folded quantization of int8 RSQRT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsqrtParams {
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    /// `QuantizeMultiplier(1 / (sqrt(s_in) · s_out))`.
    pub multiplier: i32,
    pub shift: i32,
}

/// Host side: int8 RSQRT's parameters (`SetRsqrtOutputMultiplier`:
/// `std::sqrt` of the float scale is a float, its product with the output
/// scale a float, only the reciprocal is double). The second requantization shifts by `shift - 20`, which must
/// stay a shift the fixed-point helper handles.
pub fn prepare_rsqrt(
    (input_scale, input_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
) -> Result<RsqrtParams, KernelError> {
    check_zero_point(input_zero_point)?;
    check_zero_point(output_zero_point)?;
    if ![input_scale, output_scale]
        .iter()
        .all(|s| s.is_finite() && *s > 0.0)
    {
        return Err(KernelError::InvalidParams(
            "scale must be finite and positive",
        ));
    }
    let real = 1.0 / f64::from(sqrt_f32(input_scale) * output_scale);
    let (multiplier, shift) = quantize_multiplier(real);
    if !(-31..=31).contains(&(shift - RSQRT_SHIFT)) {
        return Err(KernelError::InvalidParams(
            "RSQRT scales out of range: 1 / (sqrt(input scale) * output scale) is too large",
        ));
    }
    Ok(RsqrtParams {
        input_zero_point,
        output_zero_point,
        multiplier,
        shift,
    })
}

/// gemmlowp's fixed-point product of two Q(31-i) raws: `srdhm`.
#[inline]
fn fx_mul(a: i32, b: i32) -> i32 {
    srdhm(a, b)
}

/// TFLM's `GetInvSqrtQuantizedMultiplierExp(input, -1, ...)`: `1 / sqrt(input)`
/// as a Q31 multiplier and a left shift, for `input >= 0` (0 and 1 give
/// `(i32::MAX, 0)`).
pub fn inv_sqrt_multiplier(input: i32) -> (i32, i32) {
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift = 11i32;
    while input >= 1 << 29 {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = input.leading_zeros() - 1;
    let left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= left_shift_bit_pairs as i32;
    input <<= 2 * left_shift_bit_pairs;
    // Q3.28 values (3 integer bits).
    let half_input = saturating_rounding_mul_by_pot(input >> 1, -1);
    let half_three = (1 << 28) + (1 << 27);
    let mut x = 1i32 << 28;
    for _ in 0..5 {
        // x·x·x is Q9.22; Rescale<3> multiplies by 2^6, saturating.
        let x3 = saturating_rounding_mul_by_pot(fx_mul(fx_mul(x, x), x), 6);
        // Both products are Q6.25; Rescale<3> multiplies by 2^3.
        let d = fx_mul(half_three, x).wrapping_sub(fx_mul(half_input, x3));
        x = saturating_rounding_mul_by_pot(d, 3);
    }
    // Times sqrt(2)/2 in Q0.31 (gemmlowp's constant 1518500250).
    let mut inv = fx_mul(x, 1_518_500_250);
    if shift < 0 {
        inv <<= -shift;
        shift = 0;
    }
    (inv, -shift)
}

/// int8 RSQRT of one input code (`RsqrtEvalQuantized`); codes at or below
/// the zero point give 127 (see the module note).
pub fn rsqrt(x: i8, p: &RsqrtParams) -> i8 {
    let value = i32::from(x) - p.input_zero_point;
    if value <= 0 {
        return 127;
    }
    let (inv, inv_shift) = inv_sqrt_multiplier(value);
    let data = mbqm(1, inv, inv_shift + RSQRT_SHIFT);
    let v = mbqm(data, p.multiplier, p.shift - RSQRT_SHIFT).wrapping_add(p.output_zero_point);
    clamp_to_i8(v, -128, 127)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::{Rng, requant};
    use crate::shape::pad_shape;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// SQUARED_DIFFERENCE by its definition, in i64 with the reference
    /// requantization.
    fn squared_difference_ref(p: &SquaredDifferenceParams, x: i8, y: i8) -> i8 {
        let a = (i64::from(x) + i64::from(p.input1_offset)) * 128;
        let b = (i64::from(y) + i64::from(p.input2_offset)) * 128;
        let a = requant(a, p.input1_multiplier, p.input1_shift);
        let b = requant(b, p.input2_multiplier, p.input2_shift);
        let d = a - b;
        let v = requant(d * d, p.output_multiplier, p.output_shift) + i64::from(p.output_offset);
        v.clamp(-128, 127) as i8
    }

    fn scale() -> impl Strategy<Value = f32> {
        (1e-3f32..1.0).prop_map(|s| s)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn squared_difference_matches_reference(
            s in proptest::array::uniform3(scale()),
            z in proptest::array::uniform3(-128i32..=127),
            dims in proptest::array::uniform4(1usize..5),
            broadcast_mask in 0u8..16,
            seed: u64,
        ) {
            let Ok(p) = prepare_squared_difference((s[0], z[0]), (s[1], z[1]), (s[2], z[2])) else {
                return Ok(());
            };
            let shape_a = dims.to_vec();
            let shape_b: Vec<usize> = dims
                .iter()
                .enumerate()
                .map(|(i, &d)| if broadcast_mask & (1 << i) != 0 { 1 } else { d })
                .collect();
            let mut rng = Rng(seed);
            let na: usize = shape_a.iter().product();
            let nb: usize = shape_b.iter().product();
            let mut a = rng.i8s(na, -128, 127);
            a[0] = -128;
            let b = rng.i8s(nb, -128, 127);
            let pad = |s: &[usize]| pad_shape(s).expect("rank 4");
            let (sa, sb) = (pad(&shape_a), pad(&shape_b));
            let mut out = std::vec![0i8; na];
            prop_assert_eq!(squared_difference_broadcast(&p, &sa, &a, &sb, &b, &sa, &mut out), Ok(()));
            let strides_b: Vec<usize> = (0..4).map(|i| shape_b[i + 1..].iter().product()).collect();
            for (i, &o) in out.iter().enumerate() {
                let mut rem = i;
                let mut jb = 0;
                for d in 0..4 {
                    let step: usize = shape_a[d + 1..].iter().product();
                    let k = rem / step;
                    rem %= step;
                    if shape_b[d] != 1 {
                        jb += k * strides_b[d];
                    }
                }
                prop_assert_eq!(o, squared_difference_ref(&p, a[i], b[jb]));
            }
            if shape_a == shape_b {
                let mut same = std::vec![0i8; na];
                prop_assert_eq!(squared_difference(&p, &a, &b, &mut same), Ok(()));
                prop_assert_eq!(same, out);
            }
        }

        #[test]
        fn rsqrt_is_close_to_the_real_function(
            si in 1e-3f32..0.5,
            so in 1e-3f32..0.5,
            zi in -128i32..=0,
            zo in -128i32..=127,
        ) {
            let Ok(p) = prepare_rsqrt((si, zi), (so, zo)) else { return Ok(()); };
            for code in -128i32..=127 {
                let got = i64::from(rsqrt(code as i8, &p));
                let v = code - zi;
                if v <= 0 {
                    prop_assert_eq!(got, 127);
                    continue;
                }
                let real = 1.0 / (f64::from(v) * f64::from(si)).sqrt();
                let want = (real / f64::from(so)).round() as i64 + i64::from(zo);
                // The Newton iteration and two requantizations: within 1 code.
                prop_assert!((got - want.clamp(-128, 127)).abs() <= 1, "{} {} {}", code, got, want);
            }
        }
    }

    #[test]
    fn inv_sqrt_multiplier_is_one_over_the_root() {
        for input in 2..100_000 {
            let (m, shift) = inv_sqrt_multiplier(input);
            assert!(shift <= 0);
            let value = f64::from(m) / 2f64.powi(31) * 2f64.powi(shift);
            let want = 1.0 / f64::from(input).sqrt();
            // Five Newton steps from 1 leave about 1e-6 on the smallest inputs.
            assert!((value / want - 1.0).abs() < 1e-5, "{input}: {value} {want}");
        }
        assert_eq!(inv_sqrt_multiplier(1), (i32::MAX, 0));
        assert_eq!(inv_sqrt_multiplier(0), (i32::MAX, 0));
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(prepare_squared_difference((0.1, 0), (0.1, 200), (0.1, 0)).is_err());
        assert!(prepare_squared_difference((0.0, 0), (0.1, 0), (0.1, 0)).is_err());
        assert!(prepare_rsqrt((f32::NAN, 0), (0.1, 0)).is_err());
        assert!(prepare_rsqrt((1e-30, 0), (1e-30, 0)).is_err());
    }
}

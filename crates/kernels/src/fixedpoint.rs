//! The integer arithmetic TFLM's reference kernels are built from: the
//! multiplier encoding of `quantization_util.cc` and the gemmlowp rounding
//! primitives (double rounding, the TFLM default). Every rounding mode here is
//! deliberate; see the spec section named on each function.

/// Round half away from zero (`std::round`, TFLM's `TfLiteRound`), for f64.
///
/// Written out because `core` has no `round`; exact for every finite input.
pub fn round_half_away_f64(x: f64) -> f64 {
    // 2^52: from here on every f64 is already an integer.
    if !x.is_finite() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    let truncated = x as i64 as f64;
    let frac = x - truncated; // exact: both share the integer part
    if frac >= 0.5 {
        truncated + 1.0
    } else if frac <= -0.5 {
        truncated - 1.0
    } else {
        truncated
    }
}

/// Round half away from zero for f32 (TFLM's `TfLiteRound(float)`).
pub fn round_half_away_f32(x: f32) -> f32 {
    // 2^23: from here on every f32 is already an integer.
    if !x.is_finite() || x.abs() >= 8_388_608.0 {
        return x;
    }
    let truncated = x as i32 as f32;
    let frac = x - truncated;
    if frac >= 0.5 {
        truncated + 1.0
    } else if frac <= -0.5 {
        truncated - 1.0
    } else {
        truncated
    }
}

/// `frexp`: `x = frac * 2^exp` with `|frac|` in `[0.5, 1)`; zero and
/// non-finite values come back unchanged with exponent 0.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first (exact).
        let (frac, exp) = frexp(x * 18_446_744_073_709_551_616.0); // 2^64
        return (frac, exp - 64);
    }
    let frac_bits = (bits & !(0x7ffu64 << 52)) | (1022u64 << 52);
    (f64::from_bits(frac_bits), biased - 1022)
}

/// `QuantizeMultiplier` (spec 2.2): a real multiplier as a Q31 value and a
/// power-of-two exponent, positive meaning a left shift.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (frac, mut shift) = frexp(real);
    let mut q = round_half_away_f64(frac * 2_147_483_648.0) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q = 0;
    }
    (q as i32, shift)
}

/// gemmlowp `SaturatingRoundingDoublingHighMul` (spec 2.3): round half up,
/// saturating only the single overflow case.
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // Truncating division, as C++ `/` does; not an arithmetic shift.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT` (spec 2.4): round half away from zero.
/// `exponent` must be in `0..=31`.
pub fn rdbpot(x: i32, exponent: i32) -> i32 {
    let exponent = exponent.clamp(0, 31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `MultiplyByQuantizedMultiplier`, double-rounding build (spec 2.5).
pub fn mbqm(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = shift.saturating_neg().max(0);
    // C++ multiplies in int32 and wraps in practice; match that.
    rdbpot(
        srdhm(x.wrapping_mul(1i32.wrapping_shl(left as u32)), multiplier),
        right,
    )
}

/// `MultiplyByQuantizedMultiplierSmallerThanOneExp` (ADD/SUB): `shift <= 0`.
pub fn mbqm_smaller_than_one(x: i32, multiplier: i32, shift: i32) -> i32 {
    rdbpot(srdhm(x, multiplier), -shift)
}

/// gemmlowp `SaturatingRoundingMultiplyByPOT` for any exponent: a saturating
/// left shift for positive exponents, `rdbpot` for negative ones.
pub fn saturating_rounding_mul_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent <= 0 {
        return rdbpot(x, -exponent);
    }
    let threshold = ((1i64 << (31 - exponent)) - 1) as i32;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// Fused activation functions that survive int8 quantization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
}

/// `CalculateActivationRangeQuantized` (spec 2.6): the clamp a fused
/// activation becomes, for an output with `scale`/`zero_point` and the type
/// range `qmin..=qmax`.
pub fn activation_range(
    activation: Activation,
    scale: f32,
    zero_point: i32,
    qmin: i32,
    qmax: i32,
) -> (i32, i32) {
    // Division in f32, then rounding, exactly as TFLM's lambda does it.
    let quantize = |x: f32| zero_point.saturating_add(round_half_away_f32(x / scale) as i32);
    match activation {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize(0.0)), qmax),
        Activation::Relu6 => (qmin.max(quantize(0.0)), qmax.min(quantize(6.0))),
        Activation::ReluN1To1 => (qmin.max(quantize(-1.0)), qmax.min(quantize(1.0))),
    }
}

/// Saturating cast of an i32 to i8 after clamping to `[lo, hi]`.
#[inline]
pub fn clamp_to_i8(x: i32, lo: i32, hi: i32) -> i8 {
    x.clamp(lo, hi).clamp(-128, 127) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_multiplier_spec_vectors() {
        assert_eq!(quantize_multiplier(0.5), (1_073_741_824, 0));
        assert_eq!(quantize_multiplier(0.25), (1_073_741_824, -1));
        assert_eq!(quantize_multiplier(1.0), (1_073_741_824, 1));
        assert_eq!(quantize_multiplier(1.0 / 3.0), (1_431_655_765, -1));
        assert_eq!(quantize_multiplier(0.0035), (1_924_145_349, -8));
        assert_eq!(quantize_multiplier(0.999_999_999_99), (1_073_741_824, 1));
        assert_eq!(quantize_multiplier(2f64.powi(-32)), (1_073_741_824, -31));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(2f64.powi(-40)), (0, 0));
    }

    #[test]
    fn rdbpot_spec_vectors() {
        assert_eq!(rdbpot(5, 1), 3);
        assert_eq!(rdbpot(-5, 1), -3);
        assert_eq!(rdbpot(6, 2), 2);
        assert_eq!(rdbpot(-6, 2), -2);
        assert_eq!(rdbpot(-3, 1), -2);
    }

    #[test]
    fn mbqm_double_rounding_spec_vectors() {
        assert_eq!(mbqm(29875, 1_621_498_398, -2), 5640);
        assert_eq!(mbqm(41158, 1_816_938_500, -1), 17412);
        assert_eq!(mbqm(-95625, 1_225_039_507, -2), -13638);
    }

    #[test]
    fn srdhm_saturates_only_min_times_min() {
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(srdhm(i32::MIN, i32::MAX), -i32::MAX);
    }

    #[test]
    fn frexp_handles_subnormals() {
        let tiny = f64::from_bits(1); // smallest subnormal, 2^-1074
        assert_eq!(frexp(tiny), (0.5, -1073));
        assert_eq!(frexp(-3.0), (-0.75, 2));
    }

    #[test]
    fn round_half_away_from_zero() {
        assert_eq!(round_half_away_f32(2.5), 3.0);
        assert_eq!(round_half_away_f32(-2.5), -3.0);
        assert_eq!(round_half_away_f32(0.499_999_97), 0.0);
        assert_eq!(round_half_away_f64(-0.5), -1.0);
    }

    proptest::proptest! {
        #[test]
        fn rounding_matches_std(x in -1.0e9f64..1.0e9) {
            proptest::prop_assert_eq!(round_half_away_f64(x), x.round());
            let y = x as f32;
            proptest::prop_assert_eq!(round_half_away_f32(y), y.round());
        }

        #[test]
        fn srdhm_matches_wide_reference(a: i32, b: i32) {
            // floor((a*b + 2^30) / 2^31) except for the one saturating case.
            let expected = if a == i32::MIN && b == i32::MIN {
                i32::MAX as i128
            } else {
                let p = a as i128 * b as i128;
                // round half up == floor(p/2^31 + 1/2) for positive, C truncation for negative ties
                let n = if p >= 0 { p + (1i128 << 30) } else { p + 1 - (1i128 << 30) };
                n / (1i128 << 31)
            };
            proptest::prop_assert_eq!(srdhm(a, b) as i128, expected);
        }

        #[test]
        fn rdbpot_rounds_half_away(x: i32, e in 0i32..=31) {
            let exact = x as f64 / 2f64.powi(e);
            proptest::prop_assert_eq!(rdbpot(x, e) as f64, exact.round());
        }

        #[test]
        fn frexp_roundtrips(x in -1.0e300f64..1.0e300) {
            proptest::prop_assume!(x != 0.0);
            let (f, e) = frexp(x);
            proptest::prop_assert!((0.5..1.0).contains(&f.abs()));
            proptest::prop_assert_eq!(f * 2f64.powi(e), x);
        }
    }
}

//! gemmlowp's fixed-point math functions (`fixedpoint/fixedpoint.h`), as
//! TFLM's softmax, logistic and tanh kernels use them (spec 2.14–2.16).
//!
//! Values are raw `i32`s of gemmlowp's `FixedPoint<int32_t, I>`: `I` integer
//! bits, `31 - I` fractional bits. A product of two fixed-point values is
//! [`srdhm`] on the raws (integer bits add up), `Rescale` is
//! [`saturating_rounding_mul_by_pot`]. gemmlowp's `+`/`-` on `int32` are plain
//! C++ adds (overflow is UB, wraps in practice), so they are `wrapping_*`
//! here; only `AddSaturatingIf16Bit` on 16-bit types saturates, and every
//! function here works on 32-bit raws.
//!
//! The integer-bit counts are runtime parameters; the functions are small and
//! `#[inline]`, so constant arguments fold as they would in the C++ templates.

use crate::fixedpoint::{rdbpot, saturating_rounding_mul_by_pot, srdhm};

/// `FixedPoint<int32_t, 0>::One()`: Q0.31 cannot hold 1.0, so it is `i32::MAX`.
pub const Q0_ONE: i32 = i32::MAX;

/// gemmlowp `RoundingHalfSum` for `int32`: `(a + b) / 2` rounded to nearest,
/// ties away from zero (computed in 64 bits, C++ truncating division).
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31 in and out: a 4th-order Taylor
/// expansion around `-1/8`.
#[inline]
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668; // exp(-1/8) in Q0.31
    const ONE_THIRD: i32 = 715_827_883; // 1/3 in Q0.31
    // Change of variable x = a + 1/8; 1/8 is 1 << 28 in Q0.31.
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rdbpot(x4, 2);
    let poly = rdbpot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    // AddSaturatingIf16Bit is a plain add for 32-bit raws.
    EXP_MINUS_ONE_EIGHTH.wrapping_add(srdhm(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0` given with `integer_bits` integer bits; result Q0.31.
///
/// gemmlowp instantiates this for 0..=29 integer bits (the `1/4` constant
/// must be representable); larger values are clamped to 29. `a == 0` gives
/// exactly `i32::MAX` (gemmlowp's `One()`), and for more than 5 integer bits
/// inputs below -32 give 0.
#[inline]
pub fn exp_on_negative_values(a: i32, integer_bits: u32) -> i32 {
    let int_bits = integer_bits.min(29) as i32;
    let frac_bits = 31 - int_bits;
    let one_quarter = 1i32 << (frac_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    // Rescale<0> from `int_bits` integer bits: a saturating left shift.
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_mul_by_pot(a_mod_quarter_minus_one_quarter, int_bits),
    );
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);

    // Barrel shifter: multiply by exp(-2^e) for every set bit of the part of
    // `-a` above 1/4. Constants are exp(-2^e) in Q0.31.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if int_bits > exponent && remainder & (1i32 << (frac_bits + exponent)) != 0 {
            result = srdhm(result, multiplier);
        }
    }

    // exp(x) for x < -32 is 0; only reachable with more than 5 integer bits.
    if int_bits > 5 && a < -(1i32 << (36 - int_bits)) {
        result = 0;
    }
    if a == 0 {
        result = Q0_ONE;
    }
    result
}

/// The Newton–Raphson iteration shared by the two `..._for_x_in_0_1`
/// functions: returns `1 / (1 + a)` in Q2.29 for `a` in Q0.31.
#[inline]
fn newton_reciprocal_q2(a: i32) -> i32 {
    const CONSTANT_48_OVER_17: i32 = 1_515_870_810; // Q2.29
    const CONSTANT_NEG_32_OVER_17: i32 = -1_010_580_540; // Q2.29
    const Q2_ONE: i32 = 1 << 29;
    let half_denominator = rounding_half_sum(a, Q0_ONE); // (1 + a) / 2, Q0.31
    let mut x = CONSTANT_48_OVER_17.wrapping_add(srdhm(half_denominator, CONSTANT_NEG_32_OVER_17));
    for _ in 0..3 {
        let half_denominator_times_x = srdhm(half_denominator, x); // Q2
        let one_minus_half_denominator_times_x = Q2_ONE.wrapping_sub(half_denominator_times_x);
        // Q2 * Q2 = Q4, Rescale<2>: a saturating left shift by 2.
        x = x.wrapping_add(saturating_rounding_mul_by_pot(
            srdhm(x, one_minus_half_denominator_times_x),
            2,
        ));
    }
    x
}

/// `1 / (1 + a)` for `a` in `(0, 1)`, Q0.31 in and out.
#[inline]
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    // x approximates 2 / (1 + a) in Q2.29; ExactMulByPot<-1> makes it
    // 1 / (1 + a) in Q1.30, then Rescale<0> shifts left by 1, saturating.
    saturating_rounding_mul_by_pot(newton_reciprocal_q2(a), 1)
}

/// `(1 - a) / (1 + a)` for `a` in `(0, 1)`, Q0.31 in and out.
#[inline]
pub fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    // x approximates 2 / (1 + a) in Q2.29; x - 1 = (1 - a) / (1 + a),
    // then Rescale<0> from Q2: saturating left shift by 2.
    saturating_rounding_mul_by_pot(newton_reciprocal_q2(a).wrapping_sub(1 << 29), 2)
}

/// gemmlowp `logistic` for an input with `integer_bits` integer bits;
/// result Q0.31. Valid for `integer_bits` in 0..=29 (clamped, as in
/// [`exp_on_negative_values`]).
#[inline]
pub fn logistic(a: i32, integer_bits: u32) -> i32 {
    if a == 0 {
        return 1 << 30; // one half
    }
    // gemmlowp evaluates both branches with plain (wrapping) negations.
    let abs_input = if a > 0 { a } else { a.wrapping_neg() };
    let result_if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(
        abs_input.wrapping_neg(),
        integer_bits,
    ));
    if a > 0 {
        result_if_positive
    } else {
        Q0_ONE.wrapping_sub(result_if_positive)
    }
}

/// gemmlowp `tanh` for an input with `integer_bits` integer bits; result
/// Q0.31. Internally works on `2a` by reinterpreting the raw with one more
/// integer bit, so `integer_bits` must be at most 28 (clamped).
#[inline]
pub fn tanh(a: i32, integer_bits: u32) -> i32 {
    if a == 0 {
        return 0;
    }
    let negative = a < 0;
    let n = if negative { a } else { a.wrapping_neg() };
    // neg_tanh_on_negative_values: ExactMulByPot<1> adds an integer bit.
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(
        n,
        integer_bits.min(28) + 1,
    ));
    if negative { t.wrapping_neg() } else { t }
}

/// TFLM `GetReciprocal` (`common.h`): for `x` with `x_integer_digits` integer
/// bits, returns `(reciprocal, num_bits_over_unit)` where `reciprocal` is the
/// Q0.31 value of `1 / (x / 2^num_bits_over_unit)`.
#[inline]
pub fn get_reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits - headroom_plus_one as i32;
    // Normalise to [1, 2) and subtract 1 (unsigned arithmetic, as in C++).
    let shifted = (x as u32).checked_shl(headroom_plus_one).unwrap_or(0);
    let shifted_sum_minus_one = shifted.wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;

    fn q(x: i32, integer_bits: u32) -> f64 {
        f64::from(x) / 2f64.powi(31 - integer_bits as i32)
    }

    #[test]
    fn constants_match_their_real_values() {
        // The raw constants as gemmlowp's checked-constant macro verifies them.
        let q0 = |v: f64| (v * 2f64.powi(31)).round() as i64;
        assert_eq!(q0((-1.0f64 / 8.0).exp()), 1_895_147_668);
        assert_eq!(q0(1.0 / 3.0), 715_827_883);
        for (e, m) in [
            (-2, 1_672_461_947i64),
            (-1, 1_302_514_674),
            (0, 790_015_084),
            (1, 290_630_308),
            (2, 39_332_535),
            (3, 720_401),
            (4, 242),
        ] {
            assert_eq!(q0((-(2f64.powi(e))).exp()), m, "exp(-2^{e})");
        }
        let q2 = |v: f64| (v * 2f64.powi(29)).round() as i64;
        assert_eq!(q2(48.0 / 17.0), 1_515_870_810);
        assert_eq!(q2(-32.0 / 17.0), -1_010_580_540);
    }

    #[test]
    fn rounding_half_sum_rounds_away() {
        assert_eq!(rounding_half_sum(1, 2), 2);
        assert_eq!(rounding_half_sum(-1, -2), -2);
        assert_eq!(rounding_half_sum(i32::MAX, i32::MAX), i32::MAX);
        assert_eq!(rounding_half_sum(i32::MIN, i32::MIN), i32::MIN);
        assert_eq!(rounding_half_sum(0, i32::MAX), 1 << 30);
    }

    #[test]
    fn exp_edge_values() {
        assert_eq!(exp_on_negative_values(0, 5), i32::MAX);
        // exp(-1) in Q5.26 input.
        let e = q(exp_on_negative_values(-(1 << 26), 5), 0);
        assert!((e - (-1.0f64).exp()).abs() < 1e-6, "{e}");
        // Below -32 is flushed to zero for more than 5 integer bits.
        assert_eq!(exp_on_negative_values(-(33 << 24), 7), 0);
    }

    #[test]
    fn logistic_and_tanh_edges() {
        assert_eq!(logistic(0, 4), 1 << 30);
        assert_eq!(tanh(0, 4), 0);
        // Saturated extremes stay in range.
        assert!(logistic(i32::MAX, 4) > 2_147_000_000);
        assert!(logistic(i32::MIN + 1, 4) < 1_000_000);
        let t = q(tanh(1 << 27, 4), 0); // tanh(1)
        assert!((t - 1f64.tanh()).abs() < 1e-6, "{t}");
    }

    #[test]
    fn reciprocal_of_powers_of_two() {
        // x = 1.0 with 12 integer bits: reciprocal 1.0 ~ i32::MAX, 0 bits over unit.
        let (r, n) = get_reciprocal(1 << 19, 12);
        assert_eq!(n, 0);
        assert!(r >= i32::MAX - 4, "{r}");
        // x = 8.0: reciprocal 1.0 with 3 bits over unit.
        let (r, n) = get_reciprocal(8 << 19, 12);
        assert_eq!(n, 3);
        assert!(r >= i32::MAX - 4);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        // The step-by-step Taylor formula, in f64, on the dequantized raw.
        #[test]
        fn exp_interval_is_accurate(a in -(1i32 << 29)..0) {
            let got = q(exp_on_interval_between_negative_one_quarter_and_0_excl(a), 0);
            let want = q(a, 0).exp();
            prop_assert!((got - want).abs() < 1e-6, "a={} got={} want={}", a, got, want);
        }

        #[test]
        fn exp_on_negative_values_is_accurate_and_monotone(a in i32::MIN..=0, bits in 0u32..=12) {
            let got = q(exp_on_negative_values(a, bits), 0);
            let want = q(a, bits).exp();
            prop_assert!((got - want).abs() < 1e-6, "a={} bits={} got={} want={}", a, bits, got, want);
            let b = a.saturating_add(1 << 12).min(0);
            prop_assert!(exp_on_negative_values(b, bits) >= exp_on_negative_values(a, bits));
        }

        #[test]
        fn reciprocals_are_accurate(a in 0i32..=i32::MAX) {
            let x = q(a, 0);
            let r = q(one_over_one_plus_x_for_x_in_0_1(a), 0);
            prop_assert!((r - 1.0 / (1.0 + x)).abs() < 1e-8);
            let m = q(one_minus_x_over_one_plus_x_for_x_in_0_1(a), 0);
            prop_assert!((m - (1.0 - x) / (1.0 + x)).abs() < 1e-8);
        }

        #[test]
        fn logistic_tanh_are_accurate_and_symmetric(a in -(i32::MAX)..=i32::MAX) {
            let x = q(a, 4);
            let l = q(logistic(a, 4), 0);
            prop_assert!((l - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6, "a={}", a);
            let t = q(tanh(a, 4), 0);
            prop_assert!((t - x.tanh()).abs() < 1e-6, "a={}", a);
            prop_assert_eq!(tanh(-a, 4), -tanh(a, 4));
            if a != 0 {
                prop_assert_eq!(logistic(-a, 4), i32::MAX - logistic(a, 4));
            }
        }

        #[test]
        fn reciprocal_matches_division(x in (1i32 << 19)..i32::MAX) {
            let (r, n) = get_reciprocal(x, 12);
            let want = 2f64.powi(n) / q(x, 12);
            prop_assert!((q(r, 0) - want).abs() < 1e-8);
        }
    }
}

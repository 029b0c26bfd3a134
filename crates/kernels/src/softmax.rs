//! SOFTMAX int8 → int8, TFLM flavour (spec 2.14): gemmlowp fixed point,
//! `reference/softmax.h` with the parameters of `micro/kernels/softmax_common.cc`.
//!
//! Softmax runs over the last dimension: the input is `outer` rows of `depth`
//! values. The output is fixed at scale 1/256, zero point -128.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{quantize_multiplier, rdbpot, saturating_rounding_mul_by_pot, srdhm};
use crate::gemmlowp::{exp_on_negative_values, get_reciprocal};

/// Integer bits of the scaled input differences fed to `exp` (Q5.26).
const SCALED_DIFF_INTEGER_BITS: u32 = 5;
/// Integer bits of the sum of exponentials (Q12.19).
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Folded parameters of one SOFTMAX node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxParams {
    /// Number of rows (product of all but the last dimension).
    pub outer: usize,
    /// Length of each row (the last dimension).
    pub depth: usize,
    /// Q31 multiplier of `beta * input_scale * 2^26`.
    pub input_multiplier: i32,
    /// Left shift (`>= 0`) going with `input_multiplier`.
    pub input_left_shift: i32,
    /// Differences `x - max` below this contribute nothing and output -128.
    pub diff_min: i32,
}

/// Derives [`SoftmaxParams`] as TFLM's `CalculateSoftmaxParams` does.
///
/// Fails where TFLM's prepare fails: the output must be exactly
/// (1/256, -128), and `beta * input_scale * 2^26` must exceed 1.
pub fn prepare_softmax(
    input_scale: f32,
    beta: f32,
    output_scale: f32,
    output_zero_point: i32,
    outer: usize,
    depth: usize,
) -> Result<SoftmaxParams, KernelError> {
    if output_zero_point != -128 {
        return Err(KernelError::InvalidParams(
            "softmax output zero point must be -128",
        ));
    }
    // TFLM compares the float scale exactly.
    if output_scale != 1.0 / 256.0 {
        return Err(KernelError::InvalidParams(
            "softmax output scale must be 1/256",
        ));
    }
    // PreprocessSoftmaxScaling: all in double, capped at 2^31 - 1.
    let real = (f64::from(beta)
        * f64::from(input_scale)
        * (1u64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64)
        .min(2_147_483_647.0);
    // QuantizeMultiplierGreaterThanOne CHECKs these.
    if real.is_nan() || real <= 1.0 {
        return Err(KernelError::InvalidParams(
            "softmax beta * input_scale too small",
        ));
    }
    let (input_multiplier, input_left_shift) = quantize_multiplier(real);
    if !(0..=31).contains(&input_left_shift) {
        return Err(KernelError::InvalidParams(
            "softmax input shift out of range",
        ));
    }
    // CalculateInputRadius(5, shift, 31) in double, floored (the value is
    // positive, so truncation floors); then negated.
    let radius = (f64::from((1i32 << SCALED_DIFF_INTEGER_BITS) - 1)
        * (1u64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64
        / (1u64 << input_left_shift) as f64) as i64;
    Ok(SoftmaxParams {
        outer,
        depth,
        input_multiplier,
        input_left_shift,
        diff_min: -(radius as i32),
    })
}

impl SoftmaxParams {
    /// What [`softmax`] checks before it reads a value: both buffers hold
    /// `outer * depth` elements and the shift is in `0..=31`. (A row whose
    /// sum of exponentials overflows is only found in the data.)
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let len = self.outer.saturating_mul(self.depth);
        check_len("softmax input", len, input)?;
        check_len("softmax output", len, output)?;
        if !(0..=31).contains(&self.input_left_shift) {
            return Err(KernelError::InvalidParams(
                "softmax input shift out of range",
            ));
        }
        Ok(())
    }
}

/// `exp(beta * input_scale * diff)` in Q0.31 for one in-range difference.
#[inline]
fn exp_of_diff(p: &SoftmaxParams, diff: i32) -> i32 {
    // MultiplyByQuantizedMultiplierGreaterThanOne: int32 multiply (cannot
    // overflow for diff >= diff_min), then SRDHM; the result is Q5.26.
    let rescaled = srdhm(
        diff.wrapping_mul(1i32.wrapping_shl(p.input_left_shift as u32)),
        p.input_multiplier,
    );
    exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
}

/// SOFTMAX over the last dimension; `input` and `output` hold
/// `outer * depth` values.
///
/// Errors on wrong lengths, on a shift outside `0..=31`, and when a row's sum
/// of exponentials overflows so far that TFLM's `TFLITE_CHECK` on the output
/// exponent would abort (only possible for rows longer than 4096).
pub fn softmax(p: &SoftmaxParams, input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    if p.depth == 0 {
        return Ok(());
    }
    for (row, out_row) in input
        .chunks_exact(p.depth)
        .zip(output.chunks_exact_mut(p.depth))
    {
        let max_in_row = i32::from(row.iter().copied().fold(i8::MIN, i8::max));

        // Sum of exponentials in Q12.19; plain (wrapping) int32 adds as in C++.
        let mut sum_of_exps = 0i32;
        for &x in row {
            let diff = i32::from(x) - max_in_row;
            if diff >= p.diff_min {
                let e = exp_of_diff(p, diff);
                sum_of_exps = sum_of_exps.wrapping_add(saturating_rounding_mul_by_pot(
                    e,
                    -ACCUMULATION_INTEGER_BITS,
                ));
            }
        }

        let (shifted_scale, num_bits_over_unit) =
            get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
        let exponent = num_bits_over_unit + 31 - 8;
        if !(0..=31).contains(&exponent) {
            return Err(KernelError::InvalidParams(
                "softmax sum of exponentials overflowed",
            ));
        }

        // Recompute each exponential (TFLM does not cache them either).
        for (&x, out) in row.iter().zip(out_row.iter_mut()) {
            let diff = i32::from(x) - max_in_row;
            *out = if diff >= p.diff_min {
                let e = exp_of_diff(p, diff);
                let unsat = rdbpot(srdhm(shifted_scale, e), exponent);
                (unsat - 128).clamp(-128, 127) as i8
            } else {
                -128
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn run(p: &SoftmaxParams, x: &[i8]) -> Vec<i8> {
        let mut out = vec![0i8; x.len()];
        softmax(p, x, &mut out).expect("softmax runs");
        out
    }

    #[test]
    fn spec_vector() {
        let p = prepare_softmax(0.1, 1.0, 1.0 / 256.0, -128, 1, 4).expect("prepare");
        assert_eq!(run(&p, &[10, 20, 30, -5]), [-105, -67, 39, -123]);
    }

    #[test]
    fn prepare_matches_hand_computation() {
        // 0.1 * 2^26 = 6710886.4 -> frexp exponent 23.
        let p = prepare_softmax(0.1, 1.0, 1.0 / 256.0, -128, 1, 1).expect("prepare");
        let (m, s) = quantize_multiplier(f64::from(0.1f32) * 67_108_864.0);
        assert_eq!((p.input_multiplier, p.input_left_shift), (m, s));
        assert_eq!(s, 23);
        // floor(31 * 2^26 / 2^23) = 248.
        assert_eq!(p.diff_min, -248);
    }

    #[test]
    fn prepare_rejects_what_tflm_rejects() {
        assert!(prepare_softmax(0.1, 1.0, 1.0 / 256.0, -127, 1, 1).is_err());
        assert!(prepare_softmax(0.1, 1.0, 1.0 / 255.0, -128, 1, 1).is_err());
        assert!(prepare_softmax(1e-9, 1.0, 1.0 / 256.0, -128, 1, 1).is_err());
        assert!(prepare_softmax(0.1, 0.0, 1.0 / 256.0, -128, 1, 1).is_err());
        // Huge beta is capped at 2^31 - 1 rather than rejected.
        let p = prepare_softmax(100.0, 1e6, 1.0 / 256.0, -128, 1, 1).expect("capped");
        assert_eq!(p.input_left_shift, 31);
        assert_eq!(p.diff_min, 0);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let p = prepare_softmax(0.1, 1.0, 1.0 / 256.0, -128, 2, 3).expect("prepare");
        let mut out = [0i8; 6];
        assert!(softmax(&p, &[0; 5], &mut out).is_err());
        assert!(softmax(&p, &[0; 6], &mut out[..5]).is_err());
        let bad = SoftmaxParams {
            input_left_shift: 40,
            ..p
        };
        assert!(softmax(&bad, &[0; 6], &mut out).is_err());
    }

    #[test]
    fn huge_equal_rows_do_not_panic() {
        // 8192 equal values overflow the Q12.19 sum; TFLM would abort.
        let p = prepare_softmax(0.1, 1.0, 1.0 / 256.0, -128, 1, 8192).expect("prepare");
        let x = vec![5i8; 8192];
        let mut out = vec![0i8; 8192];
        let _ = softmax(&p, &x, &mut out);
    }

    /// The documented step-by-step formula in f64: dequantized probabilities.
    fn float_softmax(scale: f32, beta: f32, x: &[i8]) -> Vec<f64> {
        let max = x.iter().copied().max().unwrap_or(0);
        let e: Vec<f64> = x
            .iter()
            .map(|&v| {
                (f64::from(beta) * f64::from(scale) * f64::from(i32::from(v) - i32::from(max)))
                    .exp()
            })
            .collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn close_to_float_monotone_and_sums_to_one(
            scale in 0.005f32..0.5,
            beta in 0.5f32..2.0,
            x in proptest::collection::vec(any::<i8>(), 1..40),
        ) {
            let p = prepare_softmax(scale, beta, 1.0 / 256.0, -128, 1, x.len()).expect("prepare");
            let out = run(&p, &x);
            let want = float_softmax(scale, beta, &x);
            let mut total = 0i32;
            for (i, (&o, &w)) in out.iter().zip(&want).enumerate() {
                let got = f64::from(i32::from(o) + 128) / 256.0;
                // Off by at most one LSB from the exact value (plus the
                // contributions dropped below diff_min).
                prop_assert!((got - w).abs() <= 1.5 / 256.0, "i={} got={} want={}", i, got, w);
                total += i32::from(o) + 128;
            }
            // Monotone in the input.
            for i in 0..x.len() {
                for j in 0..x.len() {
                    if x[i] > x[j] {
                        prop_assert!(out[i] >= out[j]);
                    }
                }
            }
            let n = x.len() as i32;
            prop_assert!((total - 256).abs() <= n, "total {}", total);
        }

        #[test]
        fn rows_are_independent(
            rows in proptest::collection::vec(proptest::collection::vec(any::<i8>(), 5), 1..6),
        ) {
            let p1 = prepare_softmax(0.05, 1.0, 1.0 / 256.0, -128, 1, 5).expect("prepare");
            let pn = SoftmaxParams { outer: rows.len(), ..p1 };
            let flat: Vec<i8> = rows.concat();
            let all = run(&pn, &flat);
            for (r, row) in rows.iter().enumerate() {
                prop_assert_eq!(&all[r * 5..r * 5 + 5], &run(&p1, row)[..]);
            }
        }
    }
}

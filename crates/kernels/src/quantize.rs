//! QUANTIZE and DEQUANTIZE (spec 2.21), as TFLM's `reference_ops::AffineQuantize`,
//! `reference_ops::Requantize` and `reference_ops::Dequantize`.
//!
//! - float32 → int8/uint8/int16: `clamp(round_half_away(x / scale) + zp)`, the
//!   division in **float**.
//! - int8 → int8, int8 → uint8, uint8 → int8 (requantize):
//!   `clamp(MBQM(x - in_zp, m, s) + out_zp)` with
//!   `(m, s) = QuantizeMultiplier((f64)in_scale / (f64)out_scale)`.
//! - int8/uint8/int16 → float32: `(float)((double)scale * (x - zp))`.
//!
//! TFLM registers float→int8 (not float→uint8) and int8/int16 → float; the
//! uint8 variants here use the same formulas (TFLM's templates instantiated
//! for uint8).
//!
//! Non-finite inputs (C++ leaves the float→int conversion undefined there):
//! NaN quantizes to the zero point, +inf / -inf (and finite values beyond the
//! i32 range) saturate to the type's max / min — what the saturating
//! `VCVT` of TFLM's Arm targets gives.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, quantize_multiplier, round_half_away_f32};
use crate::int16::{Int16s, Int16sMut};

/// A per-tensor affine quantization, as stored in the .tflite: the target of
/// a float→int QUANTIZE or the source of a DEQUANTIZE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    /// Scale, `real = scale * (q - zero_point)`.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

/// Folded integer requantization (QUANTIZE with an integer input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequantizeParams {
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Q31 multiplier of `in_scale / out_scale`.
    pub multiplier: i32,
    /// Its exponent, positive = left shift.
    pub shift: i32,
}

/// Host side: requantization params as TFLM's `PrepareQuantizeReference`:
/// `QuantizeMultiplier((f64)in_scale / (f64)out_scale)`.
pub fn prepare_requantize(
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> RequantizeParams {
    let (multiplier, shift) = quantize_multiplier(f64::from(input_scale) / f64::from(output_scale));
    RequantizeParams {
        input_zero_point,
        output_zero_point,
        multiplier,
        shift,
    }
}

/// Quantizes one float: float division, round half away from zero, add the
/// zero point, clamp to `lo..=hi`.
#[inline]
fn quantize_one(x: f32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> i32 {
    // `as` saturates (NaN -> 0), where C++'s cast would be undefined.
    let q = round_half_away_f32(x / scale) as i32;
    q.saturating_add(zero_point).clamp(lo, hi)
}

impl QuantParams {
    /// What the float → 8-bit QUANTIZE kernels check: a finite positive
    /// scale, and one output element per input float.
    pub fn check_quantize(&self, input: usize, output: usize) -> Result<(), KernelError> {
        check_quant(self)?;
        check_len("output", input, output)
    }
}

fn check_quant(p: &QuantParams) -> Result<(), KernelError> {
    if p.scale.is_finite() && p.scale > 0.0 {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "quantization scale must be finite and positive",
        ))
    }
}

/// QUANTIZE float32 → int8.
pub fn quantize_f32_to_i8(
    p: &QuantParams,
    input: &[f32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check_quantize(input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = quantize_one(x, p.scale, p.zero_point, -128, 127) as i8;
    }
    Ok(())
}

/// QUANTIZE float32 → uint8 (same formula, range 0..=255).
pub fn quantize_f32_to_u8(
    p: &QuantParams,
    input: &[f32],
    output: &mut [u8],
) -> Result<(), KernelError> {
    p.check_quantize(input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = quantize_one(x, p.scale, p.zero_point, 0, 255) as u8;
    }
    Ok(())
}

/// QUANTIZE float32 → int16 (same formula, range -32768..=32767).
pub fn quantize_f32_to_i16<O: Int16sMut + ?Sized>(
    p: &QuantParams,
    input: &[f32],
    output: &mut O,
) -> Result<(), KernelError> {
    p.check_quantize(input.len(), output.count())?;
    for (i, &x) in input.iter().enumerate() {
        output.put(
            i,
            quantize_one(x, p.scale, p.zero_point, -32768, 32767) as i16,
        );
    }
    Ok(())
}

fn check_requant(p: &RequantizeParams) -> Result<(), KernelError> {
    if (-31..=31).contains(&p.shift) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "requantize shift outside -31..=31",
        ))
    }
}

/// Requantizes one value to `lo..=hi` (TFLM's `Requantize` inner loop).
#[inline]
fn requantize_one(x: i32, p: &RequantizeParams, lo: i32, hi: i32) -> i32 {
    mbqm(x.wrapping_sub(p.input_zero_point), p.multiplier, p.shift)
        .wrapping_add(p.output_zero_point)
        .clamp(lo, hi)
}

/// True when the scales are equal (multiplier exactly 1.0); then a zero
/// point change of exactly 128 between int8 and uint8 is a sign-bit flip.
#[inline]
fn same_scale(p: &RequantizeParams) -> bool {
    p.multiplier == 1 << 30 && p.shift == 1
}

/// QUANTIZE int8 → int8 (requantize).
pub fn requantize_i8_to_i8(
    p: &RequantizeParams,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    check_requant(p)?;
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = requantize_one(i32::from(x), p, -128, 127) as i8;
    }
    Ok(())
}

/// QUANTIZE int8 → uint8 (requantize), with TFLM's `x ^ 0x80` fast path
/// (same scale, `out_zp == in_zp + 128`), which gives the same bytes.
pub fn requantize_i8_to_u8(
    p: &RequantizeParams,
    input: &[i8],
    output: &mut [u8],
) -> Result<(), KernelError> {
    check_requant(p)?;
    check_len("output", input.len(), output.len())?;
    if same_scale(p) && i64::from(p.input_zero_point) - i64::from(p.output_zero_point) == -128 {
        for (o, &x) in output.iter_mut().zip(input) {
            *o = (x as u8) ^ 0x80;
        }
        return Ok(());
    }
    for (o, &x) in output.iter_mut().zip(input) {
        *o = requantize_one(i32::from(x), p, 0, 255) as u8;
    }
    Ok(())
}

/// QUANTIZE uint8 → int8 (requantize), with TFLM's `x ^ 0x80` fast path
/// (same scale, `out_zp == in_zp - 128`), which gives the same bytes.
pub fn requantize_u8_to_i8(
    p: &RequantizeParams,
    input: &[u8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    check_requant(p)?;
    check_len("output", input.len(), output.len())?;
    if same_scale(p) && i64::from(p.input_zero_point) - i64::from(p.output_zero_point) == 128 {
        for (o, &x) in output.iter_mut().zip(input) {
            *o = (x ^ 0x80) as i8;
        }
        return Ok(());
    }
    for (o, &x) in output.iter_mut().zip(input) {
        *o = requantize_one(i32::from(x), p, -128, 127) as i8;
    }
    Ok(())
}

/// Largest |zero point| DEQUANTIZE accepts: keeps `x - zp` exact in f32.
const MAX_DEQUANT_ZERO_POINT: i32 = 1 << 16;

impl QuantParams {
    /// What the DEQUANTIZE kernels check: a finite scale and a zero point
    /// small enough that `x - zero_point` is exact in float.
    pub fn check_dequantize(&self) -> Result<(), KernelError> {
        check_dequant(self)
    }
}

fn check_dequant(p: &QuantParams) -> Result<(), KernelError> {
    if p.scale.is_finite()
        && (-MAX_DEQUANT_ZERO_POINT..=MAX_DEQUANT_ZERO_POINT).contains(&p.zero_point)
    {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "dequantize needs a finite scale and |zero_point| <= 65536",
        ))
    }
}

/// Dequantizes one value. TFLM computes `(float)((double)scale * (x - zp))`;
/// with `|x - zp| < 2^24` the double product is exact, so its one rounding
/// to float equals the correctly rounded float product computed here
/// (no soft-float double on FPU-less or single-precision targets).
#[inline]
fn dequantize_one(x: i32, p: &QuantParams) -> f32 {
    p.scale * (x - p.zero_point) as f32
}

/// DEQUANTIZE int8 → float32.
pub fn dequantize_i8(p: &QuantParams, input: &[i8], output: &mut [f32]) -> Result<(), KernelError> {
    check_dequant(p)?;
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = dequantize_one(i32::from(x), p);
    }
    Ok(())
}

/// DEQUANTIZE uint8 → float32.
pub fn dequantize_u8(p: &QuantParams, input: &[u8], output: &mut [f32]) -> Result<(), KernelError> {
    check_dequant(p)?;
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = dequantize_one(i32::from(x), p);
    }
    Ok(())
}

/// DEQUANTIZE int16 → float32.
pub fn dequantize_i16<I: Int16s + ?Sized>(
    p: &QuantParams,
    input: &I,
    output: &mut [f32],
) -> Result<(), KernelError> {
    check_dequant(p)?;
    check_len("output", input.count(), output.len())?;
    for (i, o) in output.iter_mut().enumerate() {
        *o = dequantize_one(i32::from(input.at(i)), p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::conv::test_ref::requant;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// Reference quantize: `x / scale` in f32 as TFLM does, then std's
    /// `f64::round` (half away from zero) in wide integers.
    fn ref_quantize(x: f32, p: &QuantParams, lo: i64, hi: i64) -> i64 {
        let r = f64::from(x / p.scale).round();
        if r.is_nan() {
            return i64::from(p.zero_point).clamp(lo, hi);
        }
        let r = r.clamp(-1e18, 1e18) as i64;
        (r + i64::from(p.zero_point)).clamp(lo, hi)
    }

    #[test]
    fn quantize_rounds_half_away_after_float_division() {
        let p = QuantParams {
            scale: 0.5,
            zero_point: -3,
        };
        let x = [0.25, -0.25, 0.75, -0.75, 1.0, 63.0, 64.0, -70.0, 200.0];
        let mut out = [0i8; 9];
        assert_eq!(quantize_f32_to_i8(&p, &x, &mut out), Ok(()));
        assert_eq!(out, [-2, -4, -1, -5, -1, 123, 125, -128, 127]);
        let mut out = [0u8; 4];
        let p = QuantParams {
            scale: 0.5,
            zero_point: 128,
        };
        assert_eq!(
            quantize_f32_to_u8(&p, &[-0.25, 0.25, -100.0, 100.0], &mut out),
            Ok(())
        );
        assert_eq!(out, [127, 129, 0, 255]);
    }

    #[test]
    fn quantize_uses_division_not_reciprocal() {
        // Some x / s rounds differently from x * (1 / s): make sure we divide.
        let s = 0.1f32;
        let mut found = false;
        for i in 0..200_000 {
            let x = i as f32 * 0.000_37 - 30.0;
            let div = (x / s).round();
            let mul = (x * (1.0 / s)).round();
            let p = QuantParams {
                scale: s,
                zero_point: 0,
            };
            let mut out = [0i8];
            assert_eq!(quantize_f32_to_i8(&p, &[x], &mut out), Ok(()));
            assert_eq!(i64::from(out[0]), (div as i64).clamp(-128, 127));
            found |= div != mul;
        }
        assert!(found);
    }

    #[test]
    fn non_finite_inputs_do_not_panic() {
        let p = QuantParams {
            scale: 0.1,
            zero_point: 5,
        };
        let mut out = [0i8; 5];
        let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0e38, -3.0e38];
        assert_eq!(quantize_f32_to_i8(&p, &x, &mut out), Ok(()));
        assert_eq!(out, [5, 127, -128, 127, -128]);
        let mut out = [0u8; 3];
        assert_eq!(quantize_f32_to_u8(&p, &x[..3], &mut out), Ok(()));
        assert_eq!(out, [5, 255, 0]);
    }

    #[test]
    fn fast_path_equals_general_path() {
        let p = prepare_requantize(0.02, -5, 0.02, 123);
        assert!(same_scale(&p));
        let all: Vec<i8> = (-128..=127).collect();
        let mut fast = [0u8; 256];
        assert_eq!(requantize_i8_to_u8(&p, &all, &mut fast), Ok(()));
        for (i, &x) in all.iter().enumerate() {
            assert_eq!(i32::from(fast[i]), requantize_one(i32::from(x), &p, 0, 255));
        }
        let p = prepare_requantize(0.02, 123, 0.02, -5);
        let all: Vec<u8> = (0..=255).collect();
        let mut fast = [0i8; 256];
        assert_eq!(requantize_u8_to_i8(&p, &all, &mut fast), Ok(()));
        for (i, &x) in all.iter().enumerate() {
            assert_eq!(
                i32::from(fast[i]),
                requantize_one(i32::from(x), &p, -128, 127)
            );
        }
    }

    #[test]
    fn requantize_known_values() {
        // Scale halves: multiplier 2.0 -> (2^30, 2).
        let p = prepare_requantize(0.2, 1, 0.1, -1);
        assert_eq!((p.multiplier, p.shift), (1 << 30, 2));
        let mut out = [0i8; 4];
        assert_eq!(
            requantize_i8_to_i8(&p, &[1, 11, -60, 100], &mut out),
            Ok(())
        );
        assert_eq!(out, [-1, 19, -123, 127]);
    }

    #[test]
    fn dequantize_matches_tflm_double_formula_exhaustively() {
        let mut scales = vec![
            1.0f32,
            0.1,
            1.0 / 3.0,
            3.4e38,
            1.0e-38,
            1.0e-45,
            0.003_921_569,
        ];
        let mut s = 0x1234_5678u32;
        for _ in 0..300 {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            scales.push(f32::from_bits(s & 0x7f7f_ffff));
        }
        for &scale in &scales {
            for zp in [-128, -1, 0, 77, 127, 128, 255] {
                let p = QuantParams {
                    scale,
                    zero_point: zp,
                };
                let xs: Vec<i8> = (-128..=127).collect();
                let us: Vec<u8> = (0..=255).collect();
                let mut out = [0f32; 256];
                assert_eq!(dequantize_i8(&p, &xs, &mut out), Ok(()));
                for (i, &x) in xs.iter().enumerate() {
                    let want = (f64::from(scale) * f64::from(i32::from(x) - zp)) as f32;
                    assert_eq!(
                        out[i].to_bits(),
                        want.to_bits(),
                        "scale {scale:e} zp {zp} x {x}"
                    );
                }
                assert_eq!(dequantize_u8(&p, &us, &mut out), Ok(()));
                for (i, &x) in us.iter().enumerate() {
                    let want = (f64::from(scale) * f64::from(i32::from(x) - zp)) as f32;
                    assert_eq!(out[i].to_bits(), want.to_bits());
                }
            }
        }
    }

    #[test]
    fn errors() {
        let mut o8 = [0i8; 2];
        let mut u8s = [0u8; 2];
        let mut f = [0f32; 2];
        let q = QuantParams {
            scale: 0.5,
            zero_point: 0,
        };
        assert!(quantize_f32_to_i8(&q, &[0.0; 3], &mut o8).is_err());
        assert!(quantize_f32_to_u8(&q, &[0.0; 1], &mut u8s).is_err());
        assert!(
            quantize_f32_to_i8(
                &QuantParams {
                    scale: 0.0,
                    zero_point: 0
                },
                &[0.0; 2],
                &mut o8
            )
            .is_err()
        );
        assert!(
            quantize_f32_to_i8(
                &QuantParams {
                    scale: f32::NAN,
                    zero_point: 0
                },
                &[0.0; 2],
                &mut o8
            )
            .is_err()
        );
        assert!(dequantize_i8(&q, &[0; 3], &mut f).is_err());
        assert!(
            dequantize_u8(
                &QuantParams {
                    scale: 1.0,
                    zero_point: i32::MIN
                },
                &[0; 2],
                &mut f
            )
            .is_err()
        );
        let r = prepare_requantize(0.5, 0, 0.25, 0);
        assert!(requantize_i8_to_i8(&r, &[0; 3], &mut o8).is_err());
        assert!(requantize_i8_to_u8(&r, &[0; 1], &mut u8s).is_err());
        assert!(
            requantize_u8_to_i8(
                &RequantizeParams {
                    shift: i32::MIN,
                    ..r
                },
                &[0; 2],
                &mut o8
            )
            .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn quantize_matches_reference(
            xs in proptest::collection::vec(-50.0f32..50.0, 0..32),
            scale in 1e-3f32..2.0, zp in -128i32..=255,
        ) {
            let p = QuantParams { scale, zero_point: zp };
            let mut o8 = vec![0i8; xs.len()];
            let mut u8s = vec![0u8; xs.len()];
            prop_assert_eq!(quantize_f32_to_i8(&p, &xs, &mut o8), Ok(()));
            prop_assert_eq!(quantize_f32_to_u8(&p, &xs, &mut u8s), Ok(()));
            for (i, &x) in xs.iter().enumerate() {
                prop_assert_eq!(i64::from(o8[i]), ref_quantize(x, &p, -128, 127));
                prop_assert_eq!(i64::from(u8s[i]), ref_quantize(x, &p, 0, 255));
            }
        }

        #[test]
        fn requantize_matches_reference(
            in_scale in 1e-3f32..1.0, out_scale in 1e-3f32..1.0,
            in_zp in -128i32..=127, out_zp in -128i32..=127,
        ) {
            let xs: Vec<i8> = (-128..=127).collect();
            let us: Vec<u8> = (0..=255).collect();
            // int8 -> int8
            let p = prepare_requantize(in_scale, in_zp, out_scale, out_zp);
            let mut o = vec![0i8; 256];
            prop_assert_eq!(requantize_i8_to_i8(&p, &xs, &mut o), Ok(()));
            for (i, &x) in xs.iter().enumerate() {
                let want = (requant(i64::from(x) - i64::from(in_zp), p.multiplier, p.shift) + i64::from(out_zp)).clamp(-128, 127);
                prop_assert_eq!(i64::from(o[i]), want);
            }
            // int8 -> uint8 (output zero point shifted into the uint8 range)
            let p = prepare_requantize(in_scale, in_zp, out_scale, out_zp + 128);
            let mut o = vec![0u8; 256];
            prop_assert_eq!(requantize_i8_to_u8(&p, &xs, &mut o), Ok(()));
            for (i, &x) in xs.iter().enumerate() {
                let want = (requant(i64::from(x) - i64::from(in_zp), p.multiplier, p.shift) + i64::from(out_zp) + 128).clamp(0, 255);
                prop_assert_eq!(i64::from(o[i]), want);
            }
            // uint8 -> int8
            let p = prepare_requantize(in_scale, in_zp + 128, out_scale, out_zp);
            let mut o = vec![0i8; 256];
            prop_assert_eq!(requantize_u8_to_i8(&p, &us, &mut o), Ok(()));
            for (i, &x) in us.iter().enumerate() {
                let want = (requant(i64::from(x) - i64::from(in_zp) - 128, p.multiplier, p.shift) + i64::from(out_zp)).clamp(-128, 127);
                prop_assert_eq!(i64::from(o[i]), want);
            }
        }
    }

    #[test]
    fn int16_quantize_and_dequantize_follow_tflm() {
        // DEQUANTIZE: TFLM's `(float)((double)scale * (x - zp))` on every code.
        for scale in [1.2857071e-4f32, 3.0e-5, 0.7, 1.0e-9] {
            let p = QuantParams {
                scale,
                zero_point: 0,
            };
            let codes: std::vec::Vec<i16> = (i16::MIN..=i16::MAX).collect();
            let mut out = std::vec![0f32; codes.len()];
            dequantize_i16(&p, &codes[..], &mut out).expect("valid test parameters");
            for (&q, &f) in codes.iter().zip(&out) {
                let want = (f64::from(scale) * f64::from(q)) as f32;
                assert_eq!(f.to_bits(), want.to_bits(), "{scale} {q}");
            }
        }
        // QUANTIZE: float division, half away from zero, int16 clamp.
        let p = QuantParams {
            scale: 0.5,
            zero_point: 0,
        };
        let xs = [0.25f32, -0.25, 0.75, -0.75, 1e9, -1e9, f32::NAN, 16383.25];
        let mut out = [0i16; 8];
        quantize_f32_to_i16(&p, &xs, &mut out[..]).expect("valid test parameters");
        assert_eq!(out, [1, -1, 2, -2, 32767, -32768, 0, 32767]);
    }
}

//! int16 LOGISTIC and TANH of 16x8 models, as TFLM's int16 reference
//! kernels (`reference_integer_ops::Logistic` / `Tanh` for int16): one
//! 256-entry table of `sigmoid(i / 24)` in unsigned 0.16 format, read with
//! linear interpolation on the input's magnitude (both functions are
//! symmetric, and `tanh(x) = 2·sigmoid(2x) − 1`).
//!
//! The input code is first rescaled to units of `1 / (3·4096)` (so ±2^17
//! spans ±10.7): `(x·multiplier + round) >> shift`, with TFLM's
//! `multiplier <= 32767`. LOGISTIC reads table step `|v| >> 9` (its fraction
//! the low 9 bits), TANH step `|v| >> 8` (twice the argument); past the last
//! step the result saturates. Both outputs have scale 1/32768 and zero point
//! 0, as TFLM's prepare requires.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::round_half_away_f32;
use crate::float_math::log_f32;
use crate::int16::{Int16s, Int16sMut};

/// `sigmoid(i / 24)` in unsigned 0.16 format, `i = 0..256`: the constant
/// `sigmoid_table_uint16` of TFLM's `tensorflow/lite/kernels/internal/common.h`
/// (also CMSIS-NN's `arm_nntables.c`). A published table, not a formula:
/// rounding `65536 / (1 + exp(-i / 24))` misses 44 of its entries by one.
pub const SIGMOID_TABLE_U16: [u16; 256] = [
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
];

/// Which of the two functions a step computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sigmoid16 {
    Logistic,
    Tanh,
}

/// The input rescaling of an int16 LOGISTIC / TANH, with TFLM's
/// power-of-two case already resolved (`multiplier = 3 << shift`, shift 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigmoidI16Params {
    pub multiplier: i32,
    pub shift: i32,
}

/// TFLM's `CheckedLog2`: `log(x) · (1 / log 2)` in float, rounded half
/// away from zero; `Some(rounded)` when the fraction is under 1e-3.
pub fn checked_log2(x: f32) -> (bool, i32) {
    let log2 = log_f32(x) * (1.0f32 / log_f32(2.0));
    let rounded = round_half_away_f32(log2);
    ((log2 - rounded).abs() < 1e-3, rounded as i32)
}

/// Host side: the parameters TFLM's int16 prepare derives
/// (`CalculateArithmeticOpDataLogistic`, `TanhPrepare`): zero points 0, an
/// output scale of 2^-15; an input scale of 2^-12 (LOGISTIC) or 2^-12 /
/// 2^-11 (TANH) takes the exact power-of-two path, any other the multiplier
/// `scale · 4096 · 3` doubled (shift counting) until it exceeds 32767 / 2,
/// truncated.
pub fn prepare_sigmoid_16(
    function: Sigmoid16,
    (input_scale, input_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
) -> Result<SigmoidI16Params, KernelError> {
    if input_zero_point != 0 || output_zero_point != 0 {
        return Err(KernelError::InvalidParams(
            "int16 LOGISTIC/TANH need input and output zero points 0",
        ));
    }
    if !(input_scale.is_finite() && input_scale > 0.0) {
        return Err(KernelError::InvalidParams(
            "scale must be finite and positive",
        ));
    }
    match checked_log2(output_scale) {
        (true, -15) => {}
        _ => {
            return Err(KernelError::InvalidParams(
                "int16 LOGISTIC/TANH need output scale 1/32768",
            ));
        }
    }
    let (pot, log2) = checked_log2(input_scale);
    let shift = 12 + log2;
    let exact = match function {
        Sigmoid16::Logistic => shift == 0,
        Sigmoid16::Tanh => shift == 0 || shift == 1,
    };
    if pot && exact {
        return Ok(SigmoidI16Params {
            multiplier: 3 << shift,
            shift: 0,
        });
    }
    let mut multiplier = f64::from(input_scale) * 4096.0 * 3.0;
    let mut shift = 0;
    while multiplier <= 32767.0 / 2.0 && shift <= 30 {
        shift += 1;
        multiplier *= 2.0;
    }
    if multiplier >= 32768.0 {
        // TFLM only asserts this in debug builds; a larger multiplier
        // overflows its int32 product.
        return Err(KernelError::InvalidParams(
            "int16 LOGISTIC/TANH input scale too large (TFLM needs a multiplier below 32768)",
        ));
    }
    Ok(SigmoidI16Params {
        multiplier: multiplier as i32,
        shift,
    })
}

/// What the kernel checks: a multiplier in `1..=32767` and a shift in
/// `0..=31` (so the int32 product and rounding cannot overflow), equal
/// lengths.
pub fn check_sigmoid_16(
    p: &SigmoidI16Params,
    input: usize,
    output: usize,
) -> Result<(), KernelError> {
    if !(1..=32767).contains(&p.multiplier) || !(0..=31).contains(&p.shift) {
        return Err(KernelError::InvalidParams(
            "int16 LOGISTIC/TANH multiplier outside 1..=32767 or shift outside 0..=31",
        ));
    }
    check_len("output", input, output)
}

/// The table value at step `step` interpolated by `frac` of
/// `1 << frac_bits` (`step + 1 < 256`).
fn interpolate(step: usize, frac: u32, frac_bits: u32) -> u32 {
    let a = u32::from(SIGMOID_TABLE_U16[step]);
    let b = u32::from(SIGMOID_TABLE_U16[step + 1]);
    (a << frac_bits) + frac * (b - a)
}

/// One value: the rescaled input, then the interpolated table (also the
/// integer LSTM's gate activations).
pub fn sigmoid_value(function: Sigmoid16, p: &SigmoidI16Params, x: i16) -> i16 {
    let round = if p.shift > 0 { 1 << (p.shift - 1) } else { 0 };
    // |x · multiplier| <= 2^30 and round <= 2^30 (checked bounds).
    let v = (i32::from(x) * p.multiplier + round) >> p.shift;
    let magnitude = v.unsigned_abs();
    match function {
        Sigmoid16::Logistic => {
            let step = magnitude >> 9;
            let r = if step >= 255 {
                0x7fff << 10
            } else {
                interpolate(step as usize, magnitude & 0x1ff, 9)
            };
            let r = if v >= 0 {
                r + (1 << 9)
            } else {
                (1 << 25) - r + (1 << 9) - 1
            };
            // r >> 10 lies in 0..=32767.
            (r >> 10) as i16
        }
        Sigmoid16::Tanh => {
            let step = magnitude >> 8;
            // At most 0xffff << 8 < 2^24: exact in i32.
            let r = if step >= 255 {
                0xffff << 8
            } else {
                interpolate(step as usize, magnitude & 0xff, 8) as i32
            };
            let r = if v >= 0 {
                r - (1 << 23) + (1 << 7)
            } else {
                -r + (1 << 23) + (1 << 7) - 1
            };
            // Arithmetic shift: r >> 8 lies in -32767..=32767.
            (r >> 8) as i16
        }
    }
}

/// int16 LOGISTIC or TANH, element by element.
pub fn sigmoid_16<I, O>(
    function: Sigmoid16,
    p: &SigmoidI16Params,
    input: &I,
    output: &mut O,
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_sigmoid_16(p, input.count(), output.count())?;
    for i in 0..input.count() {
        output.put(i, sigmoid_value(function, p, input.at(i)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// TFLM's arithmetic written out independently: the rescale in i64,
    /// the interpolation as a signed fixed-point sum, the sign handled by
    /// symmetry about the midpoint, floors as in the reference.
    fn reference(function: Sigmoid16, p: &SigmoidI16Params, x: i16) -> i64 {
        let round = if p.shift > 0 {
            1i64 << (p.shift - 1)
        } else {
            0
        };
        let v = (i64::from(x) * i64::from(p.multiplier) + round).div_euclid(1i64 << p.shift);
        let (bits, max) = match function {
            Sigmoid16::Logistic => (9, 0x7fffi64 << 10),
            Sigmoid16::Tanh => (8, 0xffffi64 << 8),
        };
        let m = v.abs();
        let step = m >> bits;
        let t = if step >= 255 {
            max
        } else {
            let a = i64::from(SIGMOID_TABLE_U16[step as usize]);
            let b = i64::from(SIGMOID_TABLE_U16[step as usize + 1]);
            a * (1 << bits) + (m % (1 << bits)) * (b - a)
        };
        match function {
            Sigmoid16::Logistic if v >= 0 => (t + 512).div_euclid(1024),
            Sigmoid16::Logistic => ((1 << 25) - t + 511).div_euclid(1024),
            Sigmoid16::Tanh if v >= 0 => (t - (1 << 23) + 128).div_euclid(256),
            Sigmoid16::Tanh => (-t + (1 << 23) + 127).div_euclid(256),
        }
    }

    fn extremes_and(seed: u64, n: usize) -> Vec<i16> {
        let mut state = seed | 1;
        (0..n)
            .map(|i| match i % 7 {
                0 => i16::MIN,
                1 => i16::MAX,
                2 => 0,
                3 => -1,
                _ => {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as i16
                }
            })
            .collect()
    }

    fn functions() -> impl Strategy<Value = Sigmoid16> {
        prop_oneof![Just(Sigmoid16::Logistic), Just(Sigmoid16::Tanh)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn kernel_matches_reference(
            function in functions(),
            scale in prop_oneof![
                1e-7f32..3e-3,
                Just(1.0f32 / 4096.0),
                Just(1.0f32 / 2048.0),
                Just(1.0f32 / 8192.0),
            ],
            seed: u64,
        ) {
            let p = prepare_sigmoid_16(function, (scale, 0), (1.0 / 32768.0, 0)).expect("prepare");
            let x = extremes_and(seed, 96);
            let mut out = [0i16; 96];
            prop_assert_eq!(sigmoid_16(function, &p, &x[..], &mut out[..]), Ok(()));
            for (&o, &v) in out.iter().zip(&x) {
                prop_assert_eq!(i64::from(o), reference(function, &p, v));
            }
        }

        #[test]
        fn close_to_the_real_functions(function in functions(), scale in 1e-5f32..6e-4, seed: u64) {
            let p = prepare_sigmoid_16(function, (scale, 0), (1.0 / 32768.0, 0)).expect("prepare");
            let x = extremes_and(seed, 64);
            let mut out = [0i16; 64];
            sigmoid_16(function, &p, &x[..], &mut out[..]).expect("runs");
            for (&o, &v) in out.iter().zip(&x) {
                let real = f64::from(v) * f64::from(scale);
                let want = match function {
                    Sigmoid16::Logistic => 1.0 / (1.0 + (-real).exp()),
                    Sigmoid16::Tanh => real.tanh(),
                };
                // The 8-bit input step of the table and the truncated
                // multiplier bound the error to a few codes.
                prop_assert!((f64::from(o) / 32768.0 - want).abs() < 2e-3, "{} {}", v, o);
            }
        }
    }

    #[test]
    fn table_is_the_rounded_sigmoid_within_one() {
        for (i, &t) in SIGMOID_TABLE_U16.iter().enumerate() {
            let f = 65536.0 / (1.0 + (-(i as f64) / 24.0).exp());
            assert!((f64::from(t) - f.round().min(65535.0)).abs() <= 1.0, "{i}");
        }
        assert!(SIGMOID_TABLE_U16.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn both_ends_saturate_and_zero_is_the_midpoint() {
        let p = prepare_sigmoid_16(Sigmoid16::Logistic, (1e-3, 0), (1.0 / 32768.0, 0))
            .expect("prepare");
        let mut out = [0i16; 3];
        sigmoid_16(
            Sigmoid16::Logistic,
            &p,
            &[i16::MIN, 0, i16::MAX][..],
            &mut out[..],
        )
        .expect("runs");
        assert_eq!(out, [1, 16384, 32767]);
        let p =
            prepare_sigmoid_16(Sigmoid16::Tanh, (1e-3, 0), (1.0 / 32768.0, 0)).expect("prepare");
        sigmoid_16(
            Sigmoid16::Tanh,
            &p,
            &[i16::MIN, 0, i16::MAX][..],
            &mut out[..],
        )
        .expect("runs");
        assert_eq!(out, [-32767, 0, 32767]);
    }

    #[test]
    fn power_of_two_scales_take_the_exact_path() {
        let out_q = (1.0 / 32768.0, 0);
        let pot = |f, s| prepare_sigmoid_16(f, (s, 0), out_q).expect("prepare");
        assert_eq!(
            pot(Sigmoid16::Logistic, 1.0 / 4096.0),
            SigmoidI16Params {
                multiplier: 3,
                shift: 0
            }
        );
        assert_eq!(
            pot(Sigmoid16::Tanh, 1.0 / 2048.0),
            SigmoidI16Params {
                multiplier: 6,
                shift: 0
            }
        );
        // 2^-11 is not exact for LOGISTIC: 0.5 · 4096 · 3 = 6 doubled 12 times.
        assert_eq!(
            pot(Sigmoid16::Logistic, 1.0 / 2048.0),
            SigmoidI16Params {
                multiplier: 24576,
                shift: 12
            }
        );
    }

    #[test]
    fn refuses_what_tflm_refuses() {
        let out_q = (1.0 / 32768.0, 0);
        assert!(prepare_sigmoid_16(Sigmoid16::Logistic, (1e-3, 1), out_q).is_err());
        assert!(prepare_sigmoid_16(Sigmoid16::Tanh, (1e-3, 0), (1.0 / 16384.0, 0)).is_err());
        assert!(prepare_sigmoid_16(Sigmoid16::Tanh, (1e-3, 0), (1.0 / 32768.0, 3)).is_err());
        assert!(prepare_sigmoid_16(Sigmoid16::Tanh, (4.0, 0), out_q).is_err());
        let bad = SigmoidI16Params {
            multiplier: 40000,
            shift: 3,
        };
        let mut out = [0i16; 1];
        assert!(sigmoid_16(Sigmoid16::Tanh, &bad, &[0i16][..], &mut out[..]).is_err());
    }
}

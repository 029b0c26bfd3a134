//! TFLM's signal-library custom ops (the audio front end's integer steps),
//! bit-exact with `signal/src`: SignalWindow, SignalEnergy,
//! SignalFilterBankLog and SignalFilterBankSquareRoot.
//!
//! Buffers are little-endian bytes (int16 samples, UINT32 energies, UINT64
//! filter bank sums) of either signedness ([`crate::le`]), so arena slices
//! pass as they are. Every kernel checks
//! its lengths first and returns [`KernelError`]; nothing panics.

use crate::error::{KernelError, check_len};
use crate::le::{Byte, i16_at, put_i16, put_u32, u32_at, u64_at};

/// Element counts of a byte buffer of `size`-byte values.
fn elems(what: &'static str, bytes: usize, size: usize) -> Result<usize, KernelError> {
    if bytes.is_multiple_of(size) {
        Ok(bytes / size)
    } else {
        Err(KernelError::BufferLength {
            what,
            expected: bytes.next_multiple_of(size),
            actual: bytes,
        })
    }
}

/// SignalWindow: each row of `weights.len()` samples times the weights,
/// shifted right (arithmetic) by `shift`, saturated to int16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowParams {
    /// Right shift after the product, 0..=31.
    pub shift: u32,
}

impl WindowParams {
    /// Lengths in bytes: input, weights, output.
    pub fn check(&self, input: usize, weights: usize, output: usize) -> Result<(), KernelError> {
        if self.shift > 31 {
            return Err(KernelError::InvalidParams("window shift above 31"));
        }
        let n = elems("window input", input, 2)?;
        let w = elems("window weights", weights, 2)?;
        if w == 0 || !n.is_multiple_of(w) {
            return Err(KernelError::InvalidParams(
                "window weights must divide the input",
            ));
        }
        check_len("window output", input, output)
    }
}

/// SignalWindow on int16 bytes.
pub fn window(
    p: &WindowParams,
    input: &[impl Byte],
    weights: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), weights.len(), output.len())?;
    let w = weights.len() / 2;
    for i in 0..input.len() / 2 {
        let prod = i32::from(i16_at(input, i)) * i32::from(i16_at(weights, i % w));
        let v = (prod >> p.shift).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        put_i16(output, i, v);
    }
    Ok(())
}

/// SignalEnergy: `re² + im²` of complex int16 bins `start..end` as UINT32.
/// TFLM leaves the other bins unwritten; tinyq writes 0 there, one of the
/// values TFLM's could hold, so no step reads uninitialized bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnergyParams {
    pub start: usize,
    pub end: usize,
}

impl EnergyParams {
    /// Lengths in bytes: input (complex int16 pairs), output (UINT32).
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let bins = elems("energy input", input, 4)?;
        check_len("energy output", bins * 4, output)?;
        if self.start > self.end || self.end > bins {
            return Err(KernelError::InvalidParams(
                "energy bins start..end outside the spectrum",
            ));
        }
        Ok(())
    }
}

/// SignalEnergy on bytes.
pub fn energy(
    p: &EnergyParams,
    input: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    for i in 0..output.len() / 4 {
        let e = if (p.start..p.end).contains(&i) {
            let (re, im) = (
                i32::from(i16_at(input, 2 * i)),
                i32::from(i16_at(input, 2 * i + 1)),
            );
            // Two squares of at most 2^30 each: at most 2^31, exact in u32.
            (re * re) as u32 + (im * im) as u32
        } else {
            0
        };
        put_u32(output, i, e);
    }
    Ok(())
}

/// The bit length of `x` (`32 - clz`), 0 for 0.
pub fn msb32(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// The bit length of `x` (`64 - clz`), 0 for 0.
pub fn msb64(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// TFLM's piecewise-linear log2 fraction table: 129 segment ends (+ padding)
/// of `log2(1 + f) - f` in units of 2^-16.
const LOG_LUT: [u16; 130] = [
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944,
    3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714,
    4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533,
    5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568,
    5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944,
    4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848, 3759,
    3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090,
    1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
];

/// `ln(x) * out_scale` in fixed point (TFLM's `Log32`), for `x >= 2`:
/// log2 from the bit length plus the table's interpolated fraction (16
/// fraction bits), times ln 2 (45426 / 2^16), times the scale, rounded.
pub fn log32(x: u32, out_scale: u32) -> u32 {
    let integer = msb32(x).wrapping_sub(1);
    // Fraction of x above its top bit, as 16 fraction bits.
    let mut frac = x.wrapping_sub(1u32 << (integer & 31)) as i32;
    if integer < 16 {
        frac <<= 16 - integer;
    } else {
        frac >>= integer - 16;
    }
    let seg = (frac >> 9) as usize; // 128 segments of 2^9
    let c0 = i32::from(LOG_LUT[seg & 127]);
    let c1 = i32::from(LOG_LUT[(seg & 127) + 1]);
    let rel = ((c1 - c0) * (frac - (seg as i32) * 512)) >> 16;
    let fraction = (frac + c0 + rel) as u32;
    let log2 = (integer << 16).wrapping_add(fraction);
    let loge = ((45426u64 * u64::from(log2) + 32768) >> 16) as u32;
    out_scale.wrapping_mul(loge).wrapping_add(32768) >> 16
}

/// SignalFilterBankLog: `log32(x << correction_bits)` (the shift wraps in
/// 32 bits), capped at `i16::MAX`; 0 where the shifted value is below 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterBankLogParams {
    /// Left shift of the input, 0..=31.
    pub input_correction_bits: u32,
    pub output_scale: u32,
}

impl FilterBankLogParams {
    /// Lengths in bytes: input (UINT32), output (int16).
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        if self.input_correction_bits > 31 {
            return Err(KernelError::InvalidParams(
                "filter bank log input_correction_bits above 31",
            ));
        }
        let n = elems("filter bank log input", input, 4)?;
        check_len("filter bank log output", n * 2, output)
    }
}

/// SignalFilterBankLog on bytes.
pub fn filter_bank_log(
    p: &FilterBankLogParams,
    input: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    for i in 0..output.len() / 2 {
        let scaled = u32_at(input, i) << p.input_correction_bits;
        let v = if scaled > 1 {
            log32(scaled, p.output_scale).min(i16::MAX as u32) as i16
        } else {
            0
        };
        put_i16(output, i, v);
    }
    Ok(())
}

/// TFLM's `Sqrt32`: bitwise integer square root, rounded up when the
/// remainder exceeds the root (but never past 0xFFFF).
pub fn sqrt32(mut num: u32) -> u16 {
    if num == 0 {
        return 0;
    }
    let mut res: u32 = 0;
    let top = (32 - msb32(num)) | 1;
    let mut bit: u32 = 1 << (31 - top);
    for _ in 0..(31 - top) / 2 + 1 {
        if num >= res + bit {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF {
        res += 1;
    }
    res as u16
}

/// TFLM's `Sqrt64`: `Sqrt32` when the high word is clear, else the same
/// bitwise root in 64 bits, rounded up unless the root is 0xFFFFFFFF.
pub fn sqrt64(mut num: u64) -> u32 {
    if num >> 32 == 0 {
        return u32::from(sqrt32(num as u32));
    }
    let mut res: u64 = 0;
    let top = (64 - msb64(num)) | 1;
    let mut bit: u64 = 1 << (63 - top);
    for _ in 0..(63 - top) / 2 + 1 {
        if num >= res + bit {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF_FFFF {
        res += 1;
    }
    res as u32
}

/// SignalFilterBankSquareRoot: `sqrt64(x) >> scale_bits` per channel. The
/// shift is a run-time int32 (FftAutoScale's in the front end); TFLM's
/// shift by 32 or more, or by a negative count, is undefined: tinyq gives
/// 0 and the unshifted root.
pub fn filter_bank_square_root(
    input: &[impl Byte],
    scale_bits: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    let n = elems("filter bank square root input", input.len(), 8)?;
    check_len("filter bank square root scale_bits", 4, scale_bits.len())?;
    check_len("filter bank square root output", n * 4, output.len())?;
    let shift = u32_at(scale_bits, 0) as i32;
    for i in 0..n {
        let root = sqrt64(u64_at(input, i));
        let v = match shift {
            ..0 => root,
            0..32 => root >> shift,
            _ => 0,
        };
        put_u32(output, i, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each kernel against a direct transcription of TFLM's formula, in
    //! wider or differently shaped arithmetic.
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn le16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn extreme_i16() -> impl Strategy<Value = i16> {
        prop_oneof![
            Just(i16::MIN),
            Just(i16::MAX),
            Just(0i16),
            Just(-1i16),
            any::<i16>()
        ]
    }

    /// Integer square root by Newton's method in u128, for the reference.
    fn isqrt(n: u128) -> u128 {
        if n < 2 {
            return n;
        }
        let mut x = n;
        let mut y = x.div_ceil(2);
        while y < x {
            x = y;
            y = (x + n / x) / 2;
        }
        x
    }

    #[test]
    fn msb_matches_loop_definition() {
        for x in [0u32, 1, 2, 3, 255, 256, u32::MAX, 1 << 31] {
            let mut t = 0;
            let mut y = x;
            while y != 0 {
                y >>= 1;
                t += 1;
            }
            assert_eq!(msb32(x), t);
        }
    }

    #[test]
    fn sqrt_rounds_and_saturates_as_tflm() {
        // The 32-bit shortcut: floor root, +1 when the remainder exceeds it.
        assert_eq!(sqrt32(0), 0);
        assert_eq!(sqrt32(u32::MAX), 0xFFFF);
        assert_eq!(sqrt64(u64::MAX), 0xFFFF_FFFF);
        assert_eq!(sqrt64(1 << 32), 1 << 16);
    }

    #[test]
    fn log_of_powers_of_two_is_ln() {
        // ln(2^k) * 2^16 / 2^16: the table is 0 at segment ends 0 and 128.
        for k in 1..32u32 {
            let want = (f64::from(k) * core::f64::consts::LN_2 * 64.0).round();
            let got = f64::from(log32(1 << k, 64));
            assert!((got - want).abs() <= 1.0, "k={k} got {got} want {want}");
        }
    }

    #[test]
    fn errors_not_panics() {
        let p = WindowParams { shift: 3 };
        assert!(window(&p, &[0u8; 6], &[0u8; 4], &mut [0u8; 6]).is_err());
        assert!(
            window(
                &WindowParams { shift: 40 },
                &[0u8; 4],
                &[0u8; 4],
                &mut [0u8; 4]
            )
            .is_err()
        );
        let e = EnergyParams { start: 2, end: 1 };
        assert!(energy(&e, &[0u8; 8], &mut [0u8; 8]).is_err());
        assert!(filter_bank_square_root(&[0u8; 8], &[0u8; 3], &mut [0u8; 4]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn window_is_the_saturated_shifted_product(
            (w, rows) in (1usize..40, 1usize..4),
            shift in 0u32..32,
            data in proptest::collection::vec(extreme_i16(), 320),
        ) {
            let x: Vec<i16> = data[..w * rows].to_vec();
            let weights: Vec<i16> = data[160..160 + w].to_vec();
            let mut out = std::vec![0u8; x.len() * 2];
            window(&WindowParams { shift }, &le16(&x), &le16(&weights), &mut out).expect("valid sizes");
            let want: Vec<i16> = x.iter().enumerate().map(|(i, &v)| {
                let prod = i64::from(v) * i64::from(weights[i % w]);
                (prod >> shift).clamp(-32768, 32767) as i16
            }).collect();
            prop_assert_eq!(out, le16(&want));
        }

        #[test]
        fn energy_is_the_squared_magnitude(
            bins in 1usize..64, a in 0usize..64, b in 0usize..64,
            data in proptest::collection::vec(extreme_i16(), 128),
        ) {
            let (start, end) = (a.min(b).min(bins), a.max(b).min(bins));
            let x = &data[..2 * bins];
            let mut out = std::vec![0xAAu8; bins * 4];
            energy(&EnergyParams { start, end }, &le16(x), &mut out).expect("valid sizes");
            for i in 0..bins {
                let want = if i >= start && i < end {
                    (i64::from(x[2 * i]).pow(2) + i64::from(x[2 * i + 1]).pow(2)) as u32
                } else { 0 };
                prop_assert_eq!(u32_at(&out, i), want);
            }
        }

        #[test]
        fn sqrt64_is_the_rounded_root(x in prop_oneof![any::<u64>(), any::<u32>().prop_map(u64::from), 0u64..70000]) {
            let r = isqrt(u128::from(x));
            let rem = u128::from(x) - r * r;
            // Rounded up when the remainder exceeds the root, never past the width's max.
            let cap = if x >> 32 == 0 { 0xFFFF } else { 0xFFFF_FFFF };
            let want = if rem > r && r != cap { r + 1 } else { r };
            prop_assert_eq!(u128::from(sqrt64(x)), want);
        }

        #[test]
        fn log32_follows_the_table_formula(x in 2u32.., scale in prop_oneof![Just(64u32), Just(1600u32), any::<u16>().prop_map(u32::from)]) {
            // Transcription in i64: log2 = (msb-1) * 2^16 + frac + c0 + interpolation.
            let int = i64::from(31 - x.leading_zeros());
            let frac = if int < 16 { (i64::from(x) - (1i64 << int)) << (16 - int) }
                       else { (i64::from(x) - (1i64 << int)) >> (int - 16) };
            let seg = (frac >> 9) as usize;
            let (c0, c1) = (i64::from(LOG_LUT[seg]), i64::from(LOG_LUT[seg + 1]));
            let log2 = (int << 16) + frac + c0 + (((c1 - c0) * (frac - seg as i64 * 512)) >> 16);
            let loge = ((45426 * log2 + 32768) >> 16) as u32;
            let want = ((u64::from(scale) * u64::from(loge) + 32768) as u32) >> 16;
            // out_scale * loge wraps in u32 as TFLM's does.
            let want_wrapping = scale.wrapping_mul(loge).wrapping_add(32768) >> 16;
            prop_assert_eq!(log32(x, scale), want_wrapping);
            if u64::from(scale) * u64::from(loge) + 32768 < 1 << 32 { prop_assert_eq!(log32(x, scale), want); }
        }
    }
}

//! TFLM's signal-library per-channel steps, bit-exact with `signal/src`:
//! SignalFilterBank (`FilterbankAccumulateChannels`) and SignalPCAN
//! (`ApplyPcanAutoGainControlFixed`).
//!
//! Buffers are little-endian bytes ([`crate::le`]): UINT32 energies and
//! noise estimates, int16 tables, UINT64 filter bank sums. Every kernel
//! checks its lengths (and the filter bank its table values) first and
//! returns [`KernelError`]; nothing panics.

use crate::error::{KernelError, check_len};
use crate::le::{Byte, i16_at, put_u32, put_u64, u32_at};
use crate::signal::msb32;

/// Element count of a buffer of `bytes` bytes of `size`-byte values.
fn count(what: &'static str, bytes: usize, size: usize) -> Result<usize, KernelError> {
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

/// SignalFilterBank: each of `num_channels` channels sums the energies of
/// its band times its weights, plus the previous band times its unweights
/// (band `c` feeds channel `c` weighted and channel `c + 1` unweighted;
/// band 0 only the latter), in wrapping UINT64 arithmetic as TFLM's.
///
/// The five int16 tables: `weights`, `unweights` (indexed by a band's
/// weight start), and per band `0..=num_channels` its first energy bin,
/// first weight and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterBankParams {
    pub num_channels: usize,
}

/// The filter bank's constant tables, as int16 byte buffers.
#[derive(Debug, Clone, Copy)]
pub struct FilterBankTables<'a, B: Byte> {
    pub weights: &'a [B],
    pub unweights: &'a [B],
    pub freq_starts: &'a [B],
    pub weight_starts: &'a [B],
    pub widths: &'a [B],
}

impl FilterBankParams {
    /// Lengths in bytes: the energies, the five tables in input order,
    /// the output.
    pub fn check(
        &self,
        input: usize,
        tables: [usize; 5],
        output: usize,
    ) -> Result<(), KernelError> {
        count("filter bank input", input, 4)?;
        let names = [
            "filter bank weights",
            "filter bank unweights",
            "filter bank channel_frequency_starts",
            "filter bank channel_weight_starts",
            "filter bank channel_widths",
        ];
        for (k, (&bytes, name)) in tables.iter().zip(names).enumerate() {
            let n = count(name, bytes, 2)?;
            // The per-band tables hold num_channels + 1 bands.
            if k >= 2 && n < self.num_channels + 1 {
                return Err(KernelError::BufferLength {
                    what: name,
                    expected: self.num_channels + 1,
                    actual: n,
                });
            }
        }
        if self.num_channels == 0 {
            return Err(KernelError::InvalidParams("filter bank with no channels"));
        }
        check_len("filter bank output", self.num_channels * 8, output)
    }

    /// The tables' values: every band's bins and weights inside the
    /// energies (of `input` bytes) and the weight tables.
    pub fn check_tables(
        &self,
        input: usize,
        t: &FilterBankTables<'_, impl Byte>,
    ) -> Result<(), KernelError> {
        self.check(
            input,
            [
                t.weights.len(),
                t.unweights.len(),
                t.freq_starts.len(),
                t.weight_starts.len(),
                t.widths.len(),
            ],
            self.num_channels * 8,
        )?;
        let bins = input / 4;
        let weights = t.weights.len().min(t.unweights.len()) / 2;
        for band in 0..=self.num_channels {
            let width = i16_at(t.widths, band);
            if width <= 0 {
                continue;
            }
            let (f, w) = (i16_at(t.freq_starts, band), i16_at(t.weight_starts, band));
            let width = width as usize;
            if f < 0 || f as usize + width > bins {
                return Err(KernelError::InvalidParams(
                    "a filter bank band's bins are outside the energies",
                ));
            }
            if w < 0 || w as usize + width > weights {
                return Err(KernelError::InvalidParams(
                    "a filter bank band's weights are outside the weight tables",
                ));
            }
        }
        Ok(())
    }
}

/// SignalFilterBank on bytes.
pub fn filter_bank(
    p: &FilterBankParams,
    input: &[impl Byte],
    t: &FilterBankTables<'_, impl Byte>,
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check_tables(input.len(), t)?;
    check_len("filter bank output", p.num_channels * 8, output.len())?;
    let mut weighted: u64 = 0;
    let mut unweighted: u64 = 0;
    for band in 0..=p.num_channels {
        let width = i16_at(t.widths, band).max(0) as usize;
        let f = i16_at(t.freq_starts, band).max(0) as usize;
        let w = i16_at(t.weight_starts, band).max(0) as usize;
        for j in 0..width {
            let e = u64::from(u32_at(input, f + j));
            // An int16 weight converts to UINT64 by sign extension, as C's.
            let wt = i64::from(i16_at(t.weights, w + j)) as u64;
            let ut = i64::from(i16_at(t.unweights, w + j)) as u64;
            weighted = weighted.wrapping_add(wt.wrapping_mul(e));
            unweighted = unweighted.wrapping_add(ut.wrapping_mul(e));
        }
        // Band 0 only carries its unweighted sum into channel 0.
        if band > 0 {
            put_u64(output, band - 1, weighted);
        }
        weighted = unweighted;
        unweighted = 0;
    }
    Ok(())
}

/// PCAN's fixed-point SNR fraction bits (TFLM's `kPcanSnrBits`).
pub const PCAN_SNR_BITS: u32 = 12;
/// PCAN's output fraction bits (TFLM's `kPcanOutputBits`).
pub const PCAN_OUTPUT_BITS: u32 = 6;
/// Gain table entries a UINT32 noise estimate can reach: 3 for 0..=2, then
/// 4 per bit length 2..=32 (the last entry read is `4 * 32 - 6 + 2`).
pub const PCAN_LUT_LEN: usize = 125;

/// SignalPCAN: per-channel amplitude normalization. Each UINT32 channel
/// times the gain the table gives for its noise estimate, shifted right by
/// `snr_shift`, through the "shrink" curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcanParams {
    /// Right shift of the 64-bit product, 0..=63.
    pub snr_shift: u32,
}

impl PcanParams {
    /// Lengths in bytes: input, noise estimate, gain table, output.
    pub fn check(
        &self,
        input: usize,
        noise: usize,
        lut: usize,
        output: usize,
    ) -> Result<(), KernelError> {
        if self.snr_shift > 63 {
            return Err(KernelError::InvalidParams("pcan snr_shift above 63"));
        }
        let n = count("pcan input", input, 4)?;
        if n == 0 {
            return Err(KernelError::InvalidParams("pcan with no channels"));
        }
        check_len("pcan noise estimate", input, noise)?;
        let entries = count("pcan gain table", lut, 2)?;
        if entries < PCAN_LUT_LEN {
            return Err(KernelError::BufferLength {
                what: "pcan gain table",
                expected: PCAN_LUT_LEN,
                actual: entries,
            });
        }
        check_len("pcan output", input, output)
    }
}

/// TFLM's `WideDynamicFunction`: the gain for noise estimate `x`, a
/// quadratic in the 10 bits below `x`'s top bit with coefficients from the
/// table's 4-entry row for `x`'s bit length (the entries themselves for
/// `x <= 2`). `lut` holds at least [`PCAN_LUT_LEN`] int16 values.
pub fn wide_dynamic(x: u32, lut: &[impl Byte]) -> i16 {
    if x <= 2 {
        return i16_at(lut, x as usize);
    }
    let interval = msb32(x); // 2..=32
    let row = (4 * interval - 6) as usize;
    let frac = if interval < 11 {
        x << (11 - interval)
    } else {
        x >> (interval - 11)
    } & 0x3FF;
    let frac = frac as i32;
    // |c2 * frac| < 2^25 and |c1 << 5| <= 2^20: the sum times frac stays
    // within int32 for every int16 coefficient.
    let mut r = (i32::from(i16_at(lut, row + 2)) * frac) >> 5;
    r += i32::from(i16_at(lut, row + 1)) << 5;
    r *= frac;
    r = (r + (1 << 14)) >> 15;
    r += i32::from(i16_at(lut, row));
    r as i16
}

/// TFLM's `PcanShrink`: `x² / 4` below 2, `x - 1` above, from
/// [`PCAN_SNR_BITS`] to [`PCAN_OUTPUT_BITS`] fraction bits.
pub fn pcan_shrink(x: u32) -> u32 {
    if x < (2 << PCAN_SNR_BITS) {
        (x * x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    } else {
        (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)
    }
}

/// SignalPCAN on bytes.
pub fn pcan(
    p: &PcanParams,
    input: &[impl Byte],
    noise: &[impl Byte],
    lut: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), noise.len(), lut.len(), output.len())?;
    for i in 0..input.len() / 4 {
        // The int16 gain converts to UINT32 by sign extension, as C's.
        let gain = i32::from(wide_dynamic(u32_at(noise, i), lut)) as u32;
        let snr = ((u64::from(u32_at(input, i)) * u64::from(gain)) >> p.snr_shift) as u32;
        put_u32(output, i, pcan_shrink(snr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Each kernel against a direct transcription of TFLM's formula, in
    //! wider arithmetic and per output channel rather than as a stream.
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn le16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn le32(v: &[u32]) -> Vec<u8> {
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

    fn extreme_u32() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(0u32),
            Just(u32::MAX),
            Just(1u32),
            Just(2u32),
            Just(3u32),
            any::<u32>(),
            (0u32..32).prop_map(|b| 1u32 << b),
            (0u32..32).prop_map(|b| (1u32 << b).wrapping_sub(1)),
        ]
    }

    #[test]
    fn filter_bank_refuses_bad_tables() {
        let p = FilterBankParams { num_channels: 1 };
        let weights = le16(&[1, 2]);
        let ok = |f: i16, w: i16, width: i16| FilterBankTables {
            weights: &weights[..],
            unweights: &weights[..],
            freq_starts: std::vec![0u8, 0, f as u8, (f >> 8) as u8].leak(),
            weight_starts: std::vec![0u8, 0, w as u8, (w >> 8) as u8].leak(),
            widths: std::vec![0u8, 0, width as u8, (width >> 8) as u8].leak(),
        };
        let input = le32(&[5, 6, 7]);
        let mut out = [0u8; 8];
        assert!(filter_bank(&p, &input, &ok(1, 0, 2), &mut out).is_ok());
        assert_eq!(u64::from_le_bytes(out), 6 + 2 * 7);
        assert!(filter_bank(&p, &input, &ok(2, 0, 2), &mut out).is_err());
        assert!(filter_bank(&p, &input, &ok(-1, 0, 1), &mut out).is_err());
        assert!(filter_bank(&p, &input, &ok(0, 1, 2), &mut out).is_err());
        assert!(filter_bank(&p, &input, &ok(0, -1, 1), &mut out).is_err());
        assert!(filter_bank(&p, &input, &ok(0, 0, 2), &mut [0u8; 16]).is_err());
        let empty = FilterBankParams { num_channels: 0 };
        assert!(filter_bank(&empty, &input, &ok(0, 0, 0), &mut [0u8; 0]).is_err());
    }

    #[test]
    fn pcan_refuses_bad_sizes() {
        let lut = le16(&[0; PCAN_LUT_LEN]);
        let x = le32(&[1, 2]);
        let mut out = [0u8; 8];
        assert!(pcan(&PcanParams { snr_shift: 6 }, &x, &x, &lut, &mut out).is_ok());
        assert!(pcan(&PcanParams { snr_shift: 64 }, &x, &x, &lut, &mut out).is_err());
        assert!(pcan(&PcanParams { snr_shift: 6 }, &x, &x[..4], &lut, &mut out).is_err());
        let short = &lut[..lut.len() - 2];
        assert!(pcan(&PcanParams { snr_shift: 6 }, &x, &x, short, &mut out).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn filter_bank_is_each_channels_two_weighted_sums(
            (n, bins, nw) in (1usize..8, 1usize..24, 1usize..24),
            seed in proptest::collection::vec((0usize..1000, 0usize..1000, -2i16..24), 9),
            energies in proptest::collection::vec(extreme_u32(), 24),
            w in proptest::collection::vec(extreme_i16(), 24),
            u in proptest::collection::vec(extreme_i16(), 24),
        ) {
            // Bands inside the tables, from the seeds.
            let bands: Vec<(i16, i16, i16)> = seed[..=n].iter().map(|&(a, b, width)| {
                let width = width.min(bins.min(nw) as i16);
                let k = width.max(0) as usize;
                ((a % (bins - k + 1)) as i16, (b % (nw - k + 1)) as i16, width)
            }).collect();
            let x = &energies[..bins];
            let (w, u) = (&w[..nw], &u[..nw]);
            let fs: Vec<i16> = bands.iter().map(|b| b.0).collect();
            let ws: Vec<i16> = bands.iter().map(|b| b.1).collect();
            let wd: Vec<i16> = bands.iter().map(|b| b.2).collect();
            let (xb, wb, ub, fsb, wsb, wdb) = (le32(x), le16(w), le16(u), le16(&fs), le16(&ws), le16(&wd));
            let t = FilterBankTables { weights: &wb[..], unweights: &ub[..], freq_starts: &fsb[..], weight_starts: &wsb[..], widths: &wdb[..] };
            let mut out = std::vec![0xAAu8; n * 8];
            filter_bank(&FilterBankParams { num_channels: n }, &xb, &t, &mut out).expect("valid tables");
            // Channel c: band c + 1 weighted plus band c unweighted, exact, then mod 2^64.
            let sum = |b: usize, table: &[i16]| -> i128 {
                (0..wd[b].max(0) as usize)
                    .map(|j| i128::from(table[ws[b] as usize + j]) * i128::from(x[fs[b] as usize + j]))
                    .sum()
            };
            for c in 0..n {
                let want = (sum(c + 1, w) + sum(c, u)) as u64;
                let got = u64::from_le_bytes(out[8 * c..8 * c + 8].try_into().expect("8 bytes"));
                prop_assert_eq!(got, want, "channel {}", c);
            }
        }

        #[test]
        fn pcan_is_the_gain_curve_then_shrink(
            n in 1usize..12,
            input in proptest::collection::vec(extreme_u32(), 12),
            noise in proptest::collection::vec(extreme_u32(), 12),
            lut in proptest::collection::vec(extreme_i16(), PCAN_LUT_LEN),
            snr_shift in prop_oneof![Just(6u32), Just(0u32), Just(63u32), 0u32..64],
        ) {
            let mut out = std::vec![0xAAu8; n * 4];
            pcan(&PcanParams { snr_shift }, &le32(&input[..n]), &le32(&noise[..n]), &le16(&lut), &mut out)
                .expect("valid sizes");
            for i in 0..n {
                let x = noise[i];
                // The gain: a table entry for 0..=2, else the quadratic in
                // the 10 bits below the top bit, floor divisions in i64.
                let gain: i16 = if x <= 2 { lut[x as usize] } else {
                    let mut bits = 0u32;
                    while (u64::from(x) >> bits) != 0 { bits += 1; }
                    let frac = ((u64::from(x) << 11) >> bits) as i64 & 0x3FF;
                    let row = 4 * bits as usize - 6;
                    let (c0, c1, c2) = (i64::from(lut[row]), i64::from(lut[row + 1]), i64::from(lut[row + 2]));
                    let r = ((c2 * frac).div_euclid(32) + c1 * 32) * frac;
                    ((r + (1 << 14)).div_euclid(1 << 15) + c0) as i16
                };
                let gain = u128::from(gain as u32);
                let snr = ((u128::from(input[i]) * gain) >> snr_shift) as u32;
                let want = if snr < 8192 { (u64::from(snr).pow(2) / (1 << 20)) as u32 } else { snr / 64 - 64 };
                prop_assert_eq!(u32::from_le_bytes(out[4 * i..4 * i + 4].try_into().expect("4 bytes")), want);
            }
        }
    }
}

//! TFLM's signal-library FFT steps and spectral subtraction, bit-exact with
//! `signal/src`: SignalFftAutoScale (split into the shift and its
//! application), SignalRfft on int16 (kiss_fftr in 16-bit fixed point) and
//! SignalFilterBankSpectralSubtraction (its noise estimate a state buffer).
//!
//! Buffers are little-endian bytes of either signedness ([`crate::le`]), so
//! the interpreter's byte slices and generated Rust's int8 arena both pass
//! as they are. The FFT's twiddle tables are inputs
//! ([`RfftTables`]), computed on the host (`tinyq_ir::signal`), since this
//! crate has no `cos`; its scratch is the caller's. Nothing allocates or
//! panics: every kernel checks its lengths first.

use crate::error::{KernelError, check_len};
use crate::le::{Byte, i16_at, put_i16, put_u32, u32_at};

fn even_i16s(what: &'static str, bytes: usize) -> Result<usize, KernelError> {
    if bytes.is_multiple_of(2) {
        Ok(bytes / 2)
    } else {
        Err(KernelError::BufferLength {
            what,
            expected: bytes + 1,
            actual: bytes,
        })
    }
}

// ---------------------------------------------------------------------------
// SignalFftAutoScale
// ---------------------------------------------------------------------------

/// The shift SignalFftAutoScale applies (TFLM's `FftAutoScale`): `15 -
/// msb(max)`, at least 0, where `max` is TFLM's running int16 maximum of
/// magnitudes (`-x` of -32768 wraps, which resets the running maximum) and
/// the bit length of 0 or of a negative maximum is 32 (GCC's
/// `MostSignificantBit32`), so such inputs get 0.
pub fn fft_auto_scale_bits(input: &[impl Byte]) -> Result<i32, KernelError> {
    let n = even_i16s("fft auto scale input", input.len())?;
    let mut max: i16 = 0;
    for i in 0..n {
        let v = i16_at(input, i);
        if v > max {
            max = v;
        } else if -i32::from(v) > i32::from(max) {
            max = v.wrapping_neg();
        }
    }
    let bits = i32::from(max) as u32; // sign-extended, as the C conversion does
    let msb = if bits == 0 {
        32
    } else {
        32 - bits.leading_zeros() as i32
    };
    Ok((16 - msb - 1).max(0))
}

/// Step 1 of SignalFftAutoScale: [`fft_auto_scale_bits`] written as the
/// int32 scalar `shift` (4 little-endian bytes).
pub fn fft_auto_scale_shift(
    input: &[impl Byte],
    shift: &mut [impl Byte],
) -> Result<(), KernelError> {
    check_len("fft auto scale shift", 4, shift.len())?;
    let bits = fft_auto_scale_bits(input)?;
    put_u32(shift, 0, bits as u32);
    Ok(())
}

/// Applies the shift: each sample times `2^bits`, wrapped to int16.
pub fn fft_auto_scale_apply(
    input: &[impl Byte],
    bits: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    let n = even_i16s("fft auto scale input", input.len())?;
    check_len("fft auto scale output", input.len(), output.len())?;
    check_len("fft auto scale shift", 4, bits.len())?;
    let shift = u32_at(bits, 0) as i32;
    if !(0..=15).contains(&shift) {
        return Err(KernelError::InvalidParams(
            "fft auto scale shift outside 0..=15",
        ));
    }
    for i in 0..n {
        let v = i32::from(i16_at(input, i)).wrapping_mul(1 << shift) as i16;
        put_i16(output, i, v);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SignalRfft (int16): kiss_fftr with FIXED_POINT 16
// ---------------------------------------------------------------------------

/// A complex int16 value: `[re, im]`.
pub type Cpx = [i16; 2];

/// SignalRfft's option: the FFT length, a power of two from 4 to 32768
/// (kiss_fftr halves it into a complex FFT of radix-4 and radix-2 stages;
/// tinyq takes no other radix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RfftParams {
    pub fft_length: usize,
}

/// The tables kiss_fftr's allocation computes, as kiss_fft rounds them:
/// `twiddles[i]` = `floor(0.5 + 32767 * (cos, sin)(-2 pi i / (n/2)))` for
/// `i < n/2`, `super_twiddles[i]` for `i < n/4` at phase `-pi ((i + 1) /
/// (n/2) + 1/2)`.
#[derive(Debug, Clone, Copy)]
pub struct RfftTables<'t> {
    pub twiddles: &'t [Cpx],
    pub super_twiddles: &'t [Cpx],
}

impl RfftParams {
    /// The complex FFT's length, `fft_length / 2`.
    pub fn complex_length(&self) -> usize {
        self.fft_length / 2
    }

    /// The option alone: a power of two, 4 to 32768.
    pub fn check_length(&self) -> Result<(), KernelError> {
        if !(4..=32768).contains(&self.fft_length) || !self.fft_length.is_power_of_two() {
            return Err(KernelError::InvalidParams(
                "rfft fft_length must be a power of two from 4 to 32768",
            ));
        }
        Ok(())
    }

    /// Lengths in bytes: rows of int16 samples in, rows of
    /// `fft_length / 2 + 1` complex int16 out; the row count follows from
    /// the output, each input row at most `fft_length` samples (zero-padded
    /// up to it).
    /// Returns (rows, samples per input row).
    pub fn check(&self, input: usize, output: usize) -> Result<(usize, usize), KernelError> {
        self.check_length()?;
        let out_row = (self.fft_length + 2) * 2;
        if output == 0 || !output.is_multiple_of(out_row) {
            return Err(KernelError::InvalidParams(
                "rfft output rows must hold fft_length / 2 + 1 complex values",
            ));
        }
        let rows = output / out_row;
        let samples = even_i16s("rfft input", input)?;
        if !samples.is_multiple_of(rows) || samples / rows > self.fft_length || samples == 0 {
            return Err(KernelError::InvalidParams(
                "rfft input rows must hold 1 to fft_length samples each",
            ));
        }
        Ok((rows, samples / rows))
    }

    /// The tables' lengths and the scratch's (two buffers of `n/2`
    /// complex values).
    fn check_tables(&self, t: &RfftTables<'_>, scratch: usize) -> Result<(), KernelError> {
        let ncfft = self.complex_length();
        check_len("rfft twiddles", ncfft, t.twiddles.len())?;
        check_len("rfft super twiddles", ncfft / 2, t.super_twiddles.len())?;
        check_len("rfft scratch", 2 * ncfft, scratch)
    }
}

/// kiss_fft's `sround`: drop 15 fraction bits rounding half up, wrapped to
/// int16 as the C conversion does.
fn sround(x: i32) -> i16 {
    (x.wrapping_add(1 << 14) >> 15) as i16
}

/// `C_FIXDIV`: each part times `32767 / div`, rounded.
fn fixdiv(c: Cpx, div: i32) -> Cpx {
    let k = 32767 / div;
    [sround(i32::from(c[0]) * k), sround(i32::from(c[1]) * k)]
}

/// `C_MUL`: the complex product, each part rounded once.
fn cmul(a: Cpx, b: Cpx) -> Cpx {
    let (ar, ai, br, bi) = (
        i32::from(a[0]),
        i32::from(a[1]),
        i32::from(b[0]),
        i32::from(b[1]),
    );
    [
        sround((ar * br).wrapping_sub(ai * bi)),
        sround((ar * bi).wrapping_add(ai * br)),
    ]
}

fn cadd(a: Cpx, b: Cpx) -> Cpx {
    [a[0].wrapping_add(b[0]), a[1].wrapping_add(b[1])]
}

fn csub(a: Cpx, b: Cpx) -> Cpx {
    [a[0].wrapping_sub(b[0]), a[1].wrapping_sub(b[1])]
}

/// The radix of the stage that splits `n` points (kiss_fft's `kf_factor`
/// for powers of two: 4 while it divides, then 2).
fn radix(n: usize) -> usize {
    if n.is_multiple_of(4) { 4 } else { 2 }
}

/// kiss_fft's `kf_work` for radix-4/2 stages: the DFT of `out.len()` points
/// of `input` taken every `fstride`-th value from `start`, decimated in time
/// recursively, each stage's butterflies scaling by 1/radix.
fn kf_work(out: &mut [Cpx], input: &[Cpx], start: usize, fstride: usize, tw: &[Cpx]) {
    let n = out.len();
    let p = radix(n);
    let m = n / p;
    if m == 1 {
        for (j, o) in out.iter_mut().enumerate() {
            *o = input[start + j * fstride];
        }
    } else {
        for (j, part) in out.chunks_exact_mut(m).enumerate() {
            kf_work(part, input, start + j * fstride, fstride * p, tw);
        }
    }
    if p == 4 {
        bfly4(out, fstride, tw, m);
    } else {
        bfly2(out, fstride, tw, m);
    }
}

/// `kf_bfly2`: halves, then one twiddled sum and difference per pair.
fn bfly2(f: &mut [Cpx], fstride: usize, tw: &[Cpx], m: usize) {
    for k in 0..m {
        let a = fixdiv(f[k], 2);
        let b = fixdiv(f[k + m], 2);
        let t = cmul(b, tw[k * fstride]);
        f[k + m] = csub(a, t);
        f[k] = cadd(a, t);
    }
}

/// `kf_bfly4` (forward): quarters, three twiddled products, the radix-4
/// combination, in kiss_fft's order of int16 sums.
fn bfly4(f: &mut [Cpx], fstride: usize, tw: &[Cpx], m: usize) {
    for k in 0..m {
        let f0 = fixdiv(f[k], 4);
        let f1 = fixdiv(f[k + m], 4);
        let f2 = fixdiv(f[k + 2 * m], 4);
        let f3 = fixdiv(f[k + 3 * m], 4);
        let s0 = cmul(f1, tw[k * fstride]);
        let s1 = cmul(f2, tw[2 * k * fstride]);
        let s2 = cmul(f3, tw[3 * k * fstride]);
        let s5 = csub(f0, s1);
        let mut out0 = cadd(f0, s1);
        let s3 = cadd(s0, s2);
        let s4 = csub(s0, s2);
        f[k + 2 * m] = csub(out0, s3);
        out0 = cadd(out0, s3);
        f[k] = out0;
        f[k + m] = [s5[0].wrapping_add(s4[1]), s5[1].wrapping_sub(s4[0])];
        f[k + 3 * m] = [s5[0].wrapping_sub(s4[1]), s5[1].wrapping_add(s4[0])];
    }
}

/// `HALF_OF` of an int sum: the shift of the unwrapped sum, then int16.
fn half(a: i16, b: i32) -> i16 {
    ((i32::from(a) + b) >> 1) as i16
}

/// Writes bin `k` as two little-endian int16 values.
fn put_bin(out: &mut [impl Byte], k: usize, c: Cpx) {
    put_i16(out, 2 * k, c[0]);
    put_i16(out, 2 * k + 1, c[1]);
}

/// kiss_fftr on one padded row: `time` as `n/2` complex pairs, `out` the
/// `n/2 + 1` bins' bytes; `tmp` is `n/2` values of scratch. Bin `n/4` is
/// written twice, the second value kept, as kiss_fftr does.
fn fftr(t: &RfftTables<'_>, time: &[Cpx], tmp: &mut [Cpx], out: &mut [impl Byte]) {
    let ncfft = time.len();
    kf_work(tmp, time, 0, 1, t.twiddles);
    let tdc = fixdiv(tmp[0], 2);
    put_bin(out, 0, [tdc[0].wrapping_add(tdc[1]), 0]);
    put_bin(out, ncfft, [tdc[0].wrapping_sub(tdc[1]), 0]);
    for k in 1..=ncfft / 2 {
        let fpk = fixdiv(tmp[k], 2);
        let mirror = tmp[ncfft - k];
        let fpnk = fixdiv([mirror[0], mirror[1].wrapping_neg()], 2);
        let f1k = cadd(fpk, fpnk);
        let f2k = csub(fpk, fpnk);
        let tw = cmul(f2k, t.super_twiddles[k - 1]);
        put_bin(
            out,
            k,
            [half(f1k[0], tw[0].into()), half(f1k[1], tw[1].into())],
        );
        put_bin(
            out,
            ncfft - k,
            [
                half(f1k[0], -i32::from(tw[0])),
                half(tw[1], -i32::from(f1k[1])),
            ],
        );
    }
}

/// SignalRfft on int16 bytes: each input row zero-padded to `fft_length`,
/// transformed, its `fft_length / 2 + 1` bins written as int16 pairs.
/// `scratch` holds `fft_length` complex values.
pub fn rfft_int16(
    p: &RfftParams,
    tables: &RfftTables<'_>,
    input: &[impl Byte],
    output: &mut [impl Byte],
    scratch: &mut [Cpx],
) -> Result<(), KernelError> {
    let (rows, len) = p.check(input.len(), output.len())?;
    p.check_tables(tables, scratch.len())?;
    let ncfft = p.complex_length();
    let (time, tmp) = scratch.split_at_mut(ncfft);
    let out_row = (p.fft_length + 2) * 2;
    for r in 0..rows {
        let row = &input[r * len * 2..(r + 1) * len * 2];
        let at = |i: usize| if i < len { i16_at(row, i) } else { 0 };
        for (k, c) in time.iter_mut().enumerate() {
            *c = [at(2 * k), at(2 * k + 1)];
        }
        fftr(
            tables,
            time,
            tmp,
            &mut output[r * out_row..(r + 1) * out_row],
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SignalFilterBankSpectralSubtraction
// ---------------------------------------------------------------------------

/// SignalFilterBankSpectralSubtraction's options (TFLM's
/// `SpectralSubtractionConfig`; the coefficients scaled by
/// `2^spectral_subtraction_bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpectralSubtractionParams {
    pub num_channels: usize,
    pub smoothing: u32,
    pub one_minus_smoothing: u32,
    pub alternate_smoothing: u32,
    pub alternate_one_minus_smoothing: u32,
    pub min_signal_remaining: u32,
    /// Extra fraction bits of the noise estimate, 0..=31.
    pub smoothing_bits: u32,
    /// 0..=63.
    pub spectral_subtraction_bits: u32,
    pub clamping: bool,
}

impl SpectralSubtractionParams {
    /// Lengths in bytes: input, noise-estimate state, output (UINT32, one
    /// per channel each).
    pub fn check(&self, input: usize, state: usize, output: usize) -> Result<(), KernelError> {
        if self.smoothing_bits > 31 || self.spectral_subtraction_bits > 63 {
            return Err(KernelError::InvalidParams(
                "spectral subtraction smoothing_bits above 31 or spectral_subtraction_bits above 63",
            ));
        }
        let bytes = self
            .num_channels
            .checked_mul(4)
            .ok_or(KernelError::InvalidParams(
                "spectral subtraction num_channels overflows",
            ))?;
        check_len("spectral subtraction input", bytes, input)?;
        check_len("spectral subtraction noise estimate", bytes, state)?;
        check_len("spectral subtraction output", bytes, output)
    }
}

/// SignalFilterBankSpectralSubtraction, part 1: the noise estimate
/// (`state`) updated in place (TFLM's `FilterbankSpectralSubtraction`),
/// then copied to `noise` (the op's second output).
pub fn spectral_subtraction_noise(
    p: &SpectralSubtractionParams,
    input: &[impl Byte],
    state: &mut [impl Byte],
    noise: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), state.len(), noise.len())?;
    for i in 0..p.num_channels {
        let (smoothing, one_minus) = if i % 2 == 0 {
            (p.smoothing, p.one_minus_smoothing)
        } else {
            (p.alternate_smoothing, p.alternate_one_minus_smoothing)
        };
        let scaled = u32_at(input, i) << p.smoothing_bits;
        let mut estimate = ((u64::from(scaled) * u64::from(smoothing))
            .wrapping_add(u64::from(u32_at(state, i)) * u64::from(one_minus))
            >> p.spectral_subtraction_bits) as u32;
        if p.clamping && estimate > scaled {
            estimate = scaled;
        }
        put_u32(state, i, estimate);
        put_u32(noise, i, estimate);
    }
    Ok(())
}

/// SignalFilterBankSpectralSubtraction, part 2: the output from the input
/// and the updated noise estimate. TFLM subtracts `min(estimate, signal)`
/// with the estimate before clamping; clamping stores exactly that
/// minimum, so the minimum of the stored estimate and the signal is the
/// same number either way.
pub fn spectral_subtraction_output(
    p: &SpectralSubtractionParams,
    input: &[impl Byte],
    noise: &[impl Byte],
    output: &mut [impl Byte],
) -> Result<(), KernelError> {
    p.check(input.len(), noise.len(), output.len())?;
    for i in 0..p.num_channels {
        let x = u32_at(input, i);
        let scaled = x << p.smoothing_bits;
        let estimate = u32_at(noise, i).min(scaled);
        let floor = ((u64::from(x) * u64::from(p.min_signal_remaining))
            >> p.spectral_subtraction_bits) as u32;
        let subtracted = (scaled - estimate) >> p.smoothing_bits;
        put_u32(output, i, subtracted.max(floor));
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

    fn le16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn extreme_i16() -> impl Strategy<Value = i16> {
        prop_oneof![
            Just(i16::MIN),
            Just(i16::MAX),
            Just(0i16),
            Just(-1i16),
            any::<i16>(),
            -300i16..300
        ]
    }

    /// kiss_fft 1.3.0 with FIXED_POINT 16, written out again from its C
    /// source: `short` values in `i32` variables, every store truncated with
    /// `as i16`, the stages from `kf_factor`'s loop, the tables from its
    /// `kf_cexp`.
    struct Kiss {
        n: usize,
        factors: Vec<(usize, usize)>,
        tw: Vec<(i32, i32)>,
        sup: Vec<(i32, i32)>,
    }

    fn c16(v: i32) -> i32 {
        v as i16 as i32
    }

    fn sr(x: i32) -> i32 {
        c16((x + 16384) >> 15)
    }

    fn div(c: (i32, i32), k: i32) -> (i32, i32) {
        (sr(c.0 * (32767 / k)), sr(c.1 * (32767 / k)))
    }

    fn mul(a: (i32, i32), b: (i32, i32)) -> (i32, i32) {
        (sr(a.0 * b.0 - a.1 * b.1), sr(a.0 * b.1 + a.1 * b.0))
    }

    fn cexp(phase: f64) -> (i32, i32) {
        let q = |v: f64| (0.5 + 32767.0 * v).floor() as i32;
        (q(phase.cos()), q(phase.sin()))
    }

    impl Kiss {
        fn new(nfft: usize) -> Kiss {
            let n = nfft / 2;
            let pi = core::f64::consts::PI;
            let tw = (0..n)
                .map(|i| cexp(-2.0 * pi * i as f64 / n as f64))
                .collect();
            let sup = (0..n / 2)
                .map(|i| cexp(-pi * ((i + 1) as f64 / n as f64 + 0.5)))
                .collect();
            let mut factors = Vec::new();
            let (mut rest, mut p) = (n, 4);
            let floor_sqrt = (n as f64).sqrt().floor() as usize;
            while rest > 1 {
                while rest % p != 0 {
                    p = if p == 4 {
                        2
                    } else if p == 2 {
                        3
                    } else {
                        p + 2
                    };
                    if p > floor_sqrt {
                        p = rest;
                    }
                }
                rest /= p;
                factors.push((p, rest));
            }
            Kiss {
                n,
                factors,
                tw,
                sup,
            }
        }

        fn work(
            &self,
            out: &mut [(i32, i32)],
            o: usize,
            f: &[(i32, i32)],
            fi: usize,
            fstride: usize,
            stage: usize,
        ) {
            let (p, m) = self.factors[stage];
            if m == 1 {
                for j in 0..p {
                    out[o + j] = f[fi + j * fstride];
                }
            } else {
                for j in 0..p {
                    self.work(out, o + j * m, f, fi + j * fstride, fstride * p, stage + 1);
                }
            }
            for k in 0..m {
                let at = |q: usize| o + k + q * m;
                if p == 2 {
                    let a = div(out[at(0)], 2);
                    let b = div(out[at(1)], 2);
                    let t = mul(b, self.tw[k * fstride]);
                    out[at(1)] = (c16(a.0 - t.0), c16(a.1 - t.1));
                    out[at(0)] = (c16(a.0 + t.0), c16(a.1 + t.1));
                } else {
                    assert_eq!(p, 4, "powers of two only");
                    let x: Vec<_> = (0..4).map(|q| div(out[at(q)], 4)).collect();
                    let s0 = mul(x[1], self.tw[k * fstride]);
                    let s1 = mul(x[2], self.tw[2 * k * fstride]);
                    let s2 = mul(x[3], self.tw[3 * k * fstride]);
                    let s5 = (c16(x[0].0 - s1.0), c16(x[0].1 - s1.1));
                    let f0 = (c16(x[0].0 + s1.0), c16(x[0].1 + s1.1));
                    let s3 = (c16(s0.0 + s2.0), c16(s0.1 + s2.1));
                    let s4 = (c16(s0.0 - s2.0), c16(s0.1 - s2.1));
                    out[at(2)] = (c16(f0.0 - s3.0), c16(f0.1 - s3.1));
                    out[at(0)] = (c16(f0.0 + s3.0), c16(f0.1 + s3.1));
                    out[at(1)] = (c16(s5.0 + s4.1), c16(s5.1 - s4.0));
                    out[at(3)] = (c16(s5.0 - s4.1), c16(s5.1 + s4.0));
                }
            }
        }

        fn fftr(&self, time: &[i32]) -> Vec<(i32, i32)> {
            let n = self.n;
            let pairs: Vec<_> = (0..n).map(|k| (time[2 * k], time[2 * k + 1])).collect();
            let mut tmp = vec![(0, 0); n];
            self.work(&mut tmp, 0, &pairs, 0, 1, 0);
            let mut freq = vec![(0, 0); n + 1];
            let tdc = div(tmp[0], 2);
            freq[0] = (c16(tdc.0 + tdc.1), 0);
            freq[n] = (c16(tdc.0 - tdc.1), 0);
            for k in 1..=n / 2 {
                let fpk = div(tmp[k], 2);
                let fpnk = div((tmp[n - k].0, c16(-tmp[n - k].1)), 2);
                let f1k = (c16(fpk.0 + fpnk.0), c16(fpk.1 + fpnk.1));
                let f2k = (c16(fpk.0 - fpnk.0), c16(fpk.1 - fpnk.1));
                let tw = mul(f2k, self.sup[k - 1]);
                freq[k] = (c16((f1k.0 + tw.0) >> 1), c16((f1k.1 + tw.1) >> 1));
                freq[n - k] = (c16((f1k.0 - tw.0) >> 1), c16((tw.1 - f1k.1) >> 1));
            }
            freq
        }

        fn tables(&self) -> (Vec<Cpx>, Vec<Cpx>) {
            let t = |v: &Vec<(i32, i32)>| v.iter().map(|&(r, i)| [r as i16, i as i16]).collect();
            (t(&self.tw), t(&self.sup))
        }
    }

    fn run_rfft(fft: usize, rows: usize, x: &[i16]) -> Result<Vec<i16>, KernelError> {
        let kiss = Kiss::new(fft);
        let (tw, sup) = kiss.tables();
        let tables = RfftTables {
            twiddles: &tw,
            super_twiddles: &sup,
        };
        let mut out = vec![0u8; rows * (fft + 2) * 2];
        let mut scratch = vec![[0i16; 2]; fft];
        rfft_int16(
            &RfftParams { fft_length: fft },
            &tables,
            &le16(x),
            &mut out,
            &mut scratch,
        )?;
        Ok(out
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect())
    }

    #[test]
    fn rfft_of_a_sine_peaks_at_its_bin() {
        let fft = 64;
        let x: Vec<i16> = (0..fft)
            .map(|i| {
                (20000.0 * (2.0 * core::f64::consts::PI * 5.0 * i as f64 / fft as f64).cos()) as i16
            })
            .collect();
        let y = run_rfft(fft, 1, &x).expect("runs");
        let energy: Vec<i64> = y
            .chunks_exact(2)
            .map(|c| i64::from(c[0]) * i64::from(c[0]) + i64::from(c[1]) * i64::from(c[1]))
            .collect();
        let peak = (0..energy.len()).max_by_key(|&k| energy[k]).expect("bins");
        assert_eq!(peak, 5);
        // kiss_fftr scales by 1/n: a cosine of amplitude A gives A/2.
        assert!((9900..=10100).contains(&y[10]), "{}", y[10]);
    }

    #[test]
    fn rfft_refuses_bad_lengths() {
        let p = RfftParams { fft_length: 48 };
        assert!(p.check_length().is_err());
        let p = RfftParams { fft_length: 64 };
        assert!(p.check(2 * 65, 132).is_err(), "a row longer than the fft");
        assert!(p.check(2 * 64, 130).is_err(), "output rows");
        assert!(p.check(2 * 50, 132).is_ok());
        assert_eq!(p.check(2 * 150, 3 * 132), Ok((3, 50)));
        let mut scratch = vec![[0i16; 2]; 10];
        let t = RfftTables {
            twiddles: &[],
            super_twiddles: &[],
        };
        let mut out = vec![0u8; 132];
        assert!(rfft_int16(&p, &t, &[0u8; 100], &mut out, &mut scratch).is_err());
    }

    #[test]
    fn auto_scale_follows_tflm_running_maximum() {
        let bits = |v: &[i16]| fft_auto_scale_bits(&le16(v)).expect("bits");
        assert_eq!(bits(&[0, 0]), 0, "msb(0) is 32");
        assert_eq!(bits(&[-1]), 14);
        assert_eq!(bits(&[1, 300]), 6);
        assert_eq!(bits(&[32767]), 0);
        // -32768 makes the running maximum -32768, then the next value.
        assert_eq!(bits(&[100, -32768]), 0);
        assert_eq!(bits(&[100, -32768, 3]), 13);
        assert!(fft_auto_scale_bits(&[1u8, 2, 3]).is_err());
        let mut out = [0u8; 4];
        assert!(fft_auto_scale_apply(&le16(&[1, 2]), &16i32.to_le_bytes(), &mut out).is_err());
    }

    /// TFLM's `FilterbankSpectralSubtraction`, written out in u64.
    fn spectral_reference(p: &SpectralSubtractionParams, x: &[u32], noise: &mut [u32]) -> Vec<u32> {
        let bits = p.spectral_subtraction_bits;
        (0..x.len())
            .map(|i| {
                let (s, oms) = if i & 1 == 0 {
                    (p.smoothing, p.one_minus_smoothing)
                } else {
                    (p.alternate_smoothing, p.alternate_one_minus_smoothing)
                };
                let up = (u64::from(x[i]) << p.smoothing_bits) & 0xFFFF_FFFF;
                let n = ((up * u64::from(s) + u64::from(noise[i]) * u64::from(oms)) >> bits)
                    & 0xFFFF_FFFF;
                noise[i] = n as u32;
                let mut est = n;
                if est > up {
                    est = up;
                    if p.clamping {
                        noise[i] = up as u32;
                    }
                }
                let floor = (u64::from(x[i]) * u64::from(p.min_signal_remaining)) >> bits;
                let sub = (up - est) >> p.smoothing_bits;
                sub.max(floor & 0xFFFF_FFFF) as u32
            })
            .collect()
    }

    fn le32(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn rfft_equals_the_kiss_fft_transcription(
            log in 2u32..=10,
            rows in 1usize..=3,
            cut in 0usize..=64,
            data in proptest::collection::vec(extreme_i16(), 3 * 1024),
            quiet in any::<bool>(),
        ) {
            let fft = 1usize << log;
            let len = fft.saturating_sub(cut % fft).max(1);
            let mut x: Vec<i16> = data[..rows * len].to_vec();
            if quiet {
                x.iter_mut().for_each(|v| *v /= 64);
            }
            let got = run_rfft(fft, rows, &x).expect("runs");
            let kiss = Kiss::new(fft);
            let mut want = Vec::new();
            for r in 0..rows {
                let mut time = vec![0i32; fft];
                for i in 0..len {
                    time[i] = i32::from(x[r * len + i]);
                }
                want.extend(kiss.fftr(&time).into_iter().flat_map(|(a, b)| [a as i16, b as i16]));
            }
            prop_assert_eq!(&got, &want);
            // The same bytes as `i8` (generated Rust's arena).
            let tables = kiss.tables();
            let input: Vec<i8> = le16(&x).into_iter().map(|b| b as i8).collect();
            let mut out = vec![0i8; rows * (fft + 2) * 2];
            let mut scratch = vec![[0i16; 2]; fft];
            rfft_int16(
                &RfftParams { fft_length: fft },
                &RfftTables { twiddles: &tables.0, super_twiddles: &tables.1 },
                &input,
                &mut out,
                &mut scratch,
            ).expect("runs");
            let as_u8: Vec<u8> = out.into_iter().map(|b| b as u8).collect();
            prop_assert_eq!(as_u8, le16(&want));
        }

        #[test]
        fn auto_scale_is_the_largest_shift_that_fits(
            data in proptest::collection::vec(prop_oneof![any::<i16>(), -3000i16..3000, -20i16..20], 1..64),
        ) {
            let bits = fft_auto_scale_bits(&le16(&data)).expect("bits");
            let mut max: i16 = 0;
            for &v in &data {
                if v > max { max = v } else if -(v as i32) > max as i32 { max = (-(v as i32)) as i16 }
            }
            let msb = if max <= 0 { 32 } else { 32 - (max as i32 as u32).leading_zeros() as i32 };
            prop_assert_eq!(bits, (15 - msb).max(0));
            let input: Vec<i8> = le16(&data).into_iter().map(|b| b as i8).collect();
            let mut shift = [0i8; 4];
            fft_auto_scale_shift(&input, &mut shift).expect("writes the shift");
            prop_assert_eq!(shift.map(|b| b as u8), bits.to_le_bytes());
            let mut out = vec![0u8; data.len() * 2];
            fft_auto_scale_apply(&le16(&data), &bits.to_le_bytes(), &mut out).expect("applies");
            let want: Vec<i16> = data.iter().map(|&v| (i32::from(v) * (1 << bits)) as i16).collect();
            prop_assert_eq!(out, le16(&want));
        }

        #[test]
        fn spectral_subtraction_follows_tflm(
            x in proptest::collection::vec(prop_oneof![any::<u32>(), 0u32..1 << 20, Just(0u32), Just(u32::MAX)], 1..24),
            steps in 1usize..4,
            s in 0u32..1 << 14,
            alt in 0u32..1 << 14,
            min_signal in 0u32..1 << 14,
            smoothing_bits in 0u32..=31,
            bits in 0u32..=20,
            clamping in any::<bool>(),
        ) {
            let p = SpectralSubtractionParams {
                num_channels: x.len(),
                smoothing: s,
                one_minus_smoothing: (1 << 14) - s,
                alternate_smoothing: alt,
                alternate_one_minus_smoothing: (1 << 14) - alt,
                min_signal_remaining: min_signal,
                smoothing_bits,
                spectral_subtraction_bits: bits,
                clamping,
            };
            let mut noise = vec![0u32; x.len()];
            let mut state = vec![0u8; x.len() * 4];
            for step in 0..steps {
                let xs: Vec<u32> = x.iter().map(|v| v.rotate_left(step as u32 * 3)).collect();
                let want = spectral_reference(&p, &xs, &mut noise);
                let mut copy = vec![0u8; x.len() * 4];
                spectral_subtraction_noise(&p, &le32(&xs), &mut state, &mut copy).expect("runs");
                prop_assert_eq!(&state, &le32(&noise));
                prop_assert_eq!(&copy, &state);
                let mut out = vec![0u8; x.len() * 4];
                spectral_subtraction_output(&p, &le32(&xs), &copy, &mut out).expect("runs");
                prop_assert_eq!(out, le32(&want));
            }
        }
    }
}

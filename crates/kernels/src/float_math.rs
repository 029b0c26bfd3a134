//! Float helpers of the float32 kernels: TFLM's fused-activation clamp and
//! `core`-only `expf` / `tanhf` (no_std Rust has no libm).
//!
//! `exp_f32` follows the published algorithm of the ARM optimized-routines
//! `expf` (musl's and glibc's generic C code): `x·32/ln2 = k + r` rounded to
//! nearest, `2^(k/32)` from a 32-entry table of doubles, `2^(r/32)` by a
//! cubic in double, one rounding to float at the end. The table entries are
//! `bits(2^(i/32)) - (i << 47)`, so adding `k << 47` builds `2^(k/32)`
//! directly. glibc on an FMA-capable x86-64 picks a build of the same code
//! whose polynomial is evaluated with fused multiply-adds, so the two can
//! differ in the last bit: the test `exp_matches_the_host_libm` measures it.
//!
//! `log_f32` follows the same library's `logf`: `x = 2^k · z` with `z`
//! near 1, `log(z) = log(c) + log(z/c)` for the nearest of 16 table points
//! `c` (the table holds `1/c` and `log(c)` as doubles), `log(z/c)` by a
//! cubic in double, one rounding at the end. Like `expf`, glibc's FMA build
//! may differ from it in the last bit: `log_matches_the_host_libm` measures it.
//!
//! `sqrt_f32` is the correctly rounded square root (what IEEE 754 and every
//! C library's `sqrtf` return), from an integer square root of the
//! mantissa: exact, so equal to `sqrtf` on every input.
//!
//! `tanh_f32` is fdlibm's `tanhf` (glibc's) in float arithmetic, on
//! fdlibm's `expm1f`: the same operations in the same order, so it equals
//! glibc's `tanhf` bit for bit (`tanh_equals_the_host_libm`).

use crate::fixedpoint::Activation;

/// A float fused-activation clamp (`CalculateActivationRange<float>`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloatRange {
    pub min: f32,
    pub max: f32,
}

impl FloatRange {
    /// No clamp: `[lowest, max]` of float, as TFLM's `kTfLiteActNone`.
    pub const NONE: FloatRange = FloatRange {
        min: f32::MIN,
        max: f32::MAX,
    };

    /// The range of a fused activation.
    pub fn of(activation: Activation) -> FloatRange {
        match activation {
            Activation::None => FloatRange::NONE,
            Activation::Relu => FloatRange {
                min: 0.0,
                max: f32::MAX,
            },
            Activation::Relu6 => FloatRange { min: 0.0, max: 6.0 },
            Activation::ReluN1To1 => FloatRange {
                min: -1.0,
                max: 1.0,
            },
        }
    }

    /// `ActivationFunctionWithMinMax`: `std::min(std::max(x, min), max)`,
    /// with `std::max(a, b) = a < b ? b : a` and `std::min(a, b) = b < a ? b : a`.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        let lo = if x < self.min { self.min } else { x };
        if self.max < lo { self.max } else { lo }
    }

    /// Neither bound is NaN and `min <= max`.
    pub fn is_valid(self) -> bool {
        self.min <= self.max
    }
}

/// `2^(i/32)` as double bits, minus `i << 47` (see the module comment).
const EXP2_TABLE: [u64; 32] = [
    0x3ff0000000000000,
    0x3fefd9b0d3158574,
    0x3fefb5586cf9890f,
    0x3fef9301d0125b51,
    0x3fef72b83c7d517b,
    0x3fef54873168b9aa,
    0x3fef387a6e756238,
    0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715,
    0x3feef1a7373aa9cb,
    0x3feedea64c123422,
    0x3feece086061892d,
    0x3feebfdad5362a27,
    0x3feeb42b569d4f82,
    0x3feeab07dd485429,
    0x3feea47eb03a5585,
    0x3feea09e667f3bcd,
    0x3fee9f75e8ec5f74,
    0x3feea11473eb0187,
    0x3feea589994cce13,
    0x3feeace5422aa0db,
    0x3feeb737b0cdc5e5,
    0x3feec49182a3f090,
    0x3feed503b23e255d,
    0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47,
    0x3fef199bdd85529c,
    0x3fef3720dcef9069,
    0x3fef5818dcfba487,
    0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da,
    0x3fefd0765b6e4540,
];

/// `exp(x)` for a float, as described in the module comment.
pub fn exp_f32(x: f32) -> f32 {
    const N: f64 = 32.0;
    // 32 / ln 2, and the cubic's coefficients for 2^(r/32) - 1 (the
    // published double constants, scaled by powers of two: exact).
    const INV_LN2_N: f64 = f64::from_bits(0x3ff7_1547_652b_82fe) * N;
    const C0: f64 = f64::from_bits(0x3fac_6af8_4b91_2394) / (N * N * N);
    const C1: f64 = f64::from_bits(0x3fce_bfce_50fa_c4f3) / (N * N);
    const C2: f64 = f64::from_bits(0x3fe6_2e42_ff0c_52d6) / N;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    let bits = x.to_bits();
    let abstop = (bits >> 20) & 0x7ff;
    // 88.0f32 >> 20: |x| >= 88, or NaN/inf.
    if abstop >= 0x42b {
        if bits == f32::NEG_INFINITY.to_bits() {
            return 0.0;
        }
        if abstop >= 0x7f8 {
            return x + x;
        }
        if x > f32::from_bits(0x42b1_7217) {
            return f32::INFINITY;
        }
        if x < f32::from_bits(0xc2cf_f1b4) {
            return 0.0;
        }
    }
    let z = INV_LN2_N * f64::from(x);
    // Round to nearest integer, ties to even, by the shift trick.
    let kd_shifted = z + SHIFT;
    let ki = kd_shifted.to_bits();
    let kd = kd_shifted - SHIFT;
    let r = z - kd;
    let t = EXP2_TABLE[(ki % 32) as usize].wrapping_add(ki << 47);
    let s = f64::from_bits(t);
    let p = C0 * r + C1;
    let r2 = r * r;
    let y = C2 * r + 1.0;
    let y = p * r2 + y;
    (y * s) as f32
}

/// `(1/c, log c)` as double bits for the 16 points `c` of `log_f32` (the
/// published `logf` table: `c` near `1 + (i - 9)/16`, wrapping at 1.0).
const LOG_TABLE: [(u64, u64); 16] = [
    (0x3ff661ec79f8f3be, 0xbfd57bf7808caade),
    (0x3ff571ed4aaf883d, 0xbfd2bef0a7c06ddb),
    (0x3ff49539f0f010b0, 0xbfd01eae7f513a67),
    (0x3ff3c995b0b80385, 0xbfcb31d8a68224e9),
    (0x3ff30d190c8864a5, 0xbfc6574f0ac07758),
    (0x3ff25e227b0b8ea0, 0xbfc1aa2bc79c8100),
    (0x3ff1bb4a4a1a343f, 0xbfba4e76ce8c0e5e),
    (0x3ff12358f08ae5ba, 0xbfb1973c5a611ccc),
    (0x3ff0953f419900a7, 0xbfa252f438e10c1e),
    (0x3ff0000000000000, 0x0000000000000000),
    (0x3fee608cfd9a47ac, 0x3faaa5aa5df25984),
    (0x3feca4b31f026aa0, 0x3fbc5e53aa362eb4),
    (0x3feb2036576afce6, 0x3fc526e57720db08),
    (0x3fe9c2d163a1aa2d, 0x3fcbc2860d224770),
    (0x3fe886e6037841ed, 0x3fd1058bc8a07ee1),
    (0x3fe767dcf5534862, 0x3fd4043057b6ee09),
];

/// `log(x)` for a float, as described in the module comment. `log(0)` is
/// `-inf`; a negative `x` gives NaN.
pub fn log_f32(x: f32) -> f32 {
    const LN2: f64 = f64::from_bits(0x3fe6_2e42_fefa_39ef);
    const A0: f64 = f64::from_bits(0xbfd0_0ea3_48b8_8334);
    const A1: f64 = f64::from_bits(0x3fd5_575b_0be0_0b6a);
    const A2: f64 = f64::from_bits(0xbfdf_fffe_f20a_4123);
    // The table's intervals start at this bit pattern (about 0.7).
    const OFF: u32 = 0x3f33_0000;
    let mut ix = x.to_bits();
    if ix == 0x3f80_0000 {
        return 0.0;
    }
    // Subnormal, zero, negative, infinite or NaN.
    if ix.wrapping_sub(0x0080_0000) >= 0x7f80_0000 - 0x0080_0000 {
        if ix << 1 == 0 {
            return f32::NEG_INFINITY;
        }
        if ix == 0x7f80_0000 {
            return x;
        }
        if ix & 0x8000_0000 != 0 || ix << 1 >= 0xff00_0000 {
            return f32::NAN;
        }
        // A subnormal: scale it into the normal range.
        ix = (x * 8_388_608.0).to_bits();
        ix = ix.wrapping_sub(23 << 23);
    }
    let tmp = ix.wrapping_sub(OFF);
    let i = ((tmp >> 19) % 16) as usize;
    let k = (tmp as i32) >> 23;
    let iz = ix.wrapping_sub(tmp & (0x1ff << 23));
    let (invc, logc) = (
        f64::from_bits(LOG_TABLE[i].0),
        f64::from_bits(LOG_TABLE[i].1),
    );
    let z = f64::from(f32::from_bits(iz));
    let r = z * invc - 1.0;
    let y0 = logc + f64::from(k) * LN2;
    let r2 = r * r;
    let y = A1 * r + A2;
    let y = A0 * r2 + y;
    let y = y * r2 + (y0 + r);
    y as f32
}

/// The correctly rounded square root of a float (IEEE 754 `sqrt`): `-0.0`
/// for `-0.0`, NaN below zero.
pub fn sqrt_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    if x.is_nan() || x == 0.0 || x == f32::INFINITY {
        return x;
    }
    if bits & 0x8000_0000 != 0 {
        return f32::NAN;
    }
    // x = m · 2^e with m an integer of 24 bits (subnormals normalized).
    let field = (bits >> 23) as i32;
    let (mut m, mut e) = if field == 0 {
        (u64::from(bits & 0x7f_ffff), -149)
    } else {
        (u64::from(bits & 0x7f_ffff | 0x80_0000), field - 150)
    };
    while m < 0x80_0000 {
        m <<= 1;
        e -= 1;
    }
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // sqrt(m · 2^32) has 28 or 29 bits: 24 kept, the rest and the
    // remainder decide the rounding (to nearest, ties to even).
    let n = m << 32;
    let q = n.isqrt();
    let inexact = q * q != n;
    let width = 64 - q.leading_zeros();
    let drop = width - 24;
    let mut mant = q >> drop;
    let rest = q & ((1 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (inexact || mant & 1 == 1)) {
        mant += 1;
    }
    // sqrt(x) = mant · 2^(drop + (e - 32) / 2).
    let mut p = drop as i32 + (e - 32) / 2;
    if mant == 1 << 24 {
        mant >>= 1;
        p += 1;
    }
    f32::from_bits(((p + 150) as u32) << 23 | (mant as u32 & 0x7f_ffff))
}

/// `e^x - 1` in float arithmetic, fdlibm's algorithm (glibc's `expm1f`):
/// `x = k·ln2 + r` (`ln2` split in a high and a low part, `c` the rounding
/// error of `r`), `e^r - 1` from a rational approximation built on the
/// 5-term polynomial in `(r/2)^2`, then scaled by `2^k` by adding `k` to the
/// exponent bits. Every step is a float operation in the same order, so the
/// result equals glibc's bit for bit (checked against the host libm).
fn expm1_f32(x: f32) -> f32 {
    const O_THRESHOLD: f32 = f32::from_bits(0x42b1_7180);
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const INVLN2: f32 = f32::from_bits(0x3fb8_aa3b);
    const Q: [f32; 5] = [
        f32::from_bits(0xbd08_8889),
        f32::from_bits(0x3ad0_0d01),
        f32::from_bits(0xb8a6_70cd),
        f32::from_bits(0x3686_7e54),
        f32::from_bits(0xb457_edbb),
    ];
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    if hx >= 0x4195_b844 {
        // |x| >= 27·ln2: -1 below, overflow above, NaN and infinities.
        if hx >= 0x42b1_7218 {
            if hx > 0x7f80_0000 {
                return x + x;
            }
            if hx == 0x7f80_0000 {
                return if negative { -1.0 } else { x };
            }
            if x > O_THRESHOLD {
                return f32::INFINITY;
            }
        }
        if negative {
            return -1.0;
        }
    }
    let (x, k, c) = if hx > 0x3eb1_7218 {
        // |x| > ln2/2: reduce by k·ln2.
        let (hi, lo, k) = if hx < 0x3f85_1592 {
            if negative {
                (x + LN2_HI, -LN2_LO, -1i32)
            } else {
                (x - LN2_HI, LN2_LO, 1)
            }
        } else {
            let k = (INVLN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f32;
            (x - t * LN2_HI, t * LN2_LO, k)
        };
        let r = hi - lo;
        (r, k, (hi - r) - lo)
    } else if hx < 0x3300_0000 {
        // |x| < 2^-25: x itself.
        return x;
    } else {
        (x, 0, 0.0)
    };
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q[0] + hxs * (Q[1] + hxs * (Q[2] + hxs * (Q[3] + hxs * Q[4]))));
    let t = 3.0 - r1 * hfx;
    let e = hxs * ((r1 - t) / (6.0 - x * t));
    if k == 0 {
        return x - (x * e - hxs);
    }
    let e = (x * (e - c) - c) - hxs;
    if k == -1 {
        return 0.5 * (x - e) - 0.5;
    }
    if k == 1 {
        return if x < -0.25 {
            -2.0 * (e - (x + 0.5))
        } else {
            1.0 + 2.0 * (x - e)
        };
    }
    let scale = |y: f32| f32::from_bits((y.to_bits() as i32).wrapping_add(k << 23) as u32);
    if k <= -2 || k > 56 {
        return scale(1.0 - (e - x)) - 1.0;
    }
    if k < 23 {
        // 1 - 2^-k
        let t = f32::from_bits(0x3f80_0000 - (0x0100_0000 >> k));
        scale(t - (e - x))
    } else {
        // 2^-k
        let t = f32::from_bits(((0x7f - k) << 23) as u32);
        scale((x - (e + t)) + 1.0)
    }
}

/// `tanh(x)` for a float, fdlibm's `tanhf` (glibc's) on [`expm1_f32`]:
/// `1 - 2/(expm1(2|x|) + 2)` from 1 up, `-t/(t + 2)` with
/// `t = expm1(-2|x|)` below, `x` itself for tiny `x`, 1 from 22 up.
pub fn tanh_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    let ix = bits & 0x7fff_ffff;
    if ix >= 0x7f80_0000 {
        // NaN stays NaN, ±inf gives ±1.
        return if bits >> 31 == 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    let z = if ix < 0x41b0_0000 {
        if ix == 0 {
            return x;
        }
        if ix < 0x2400_0000 {
            return x * (1.0 + x);
        }
        let a = f32::from_bits(ix);
        if ix >= 0x3f80_0000 {
            let t = expm1_f32(2.0 * a);
            1.0 - 2.0 / (t + 2.0)
        } else {
            let t = expm1_f32(-2.0 * a);
            -t / (t + 2.0)
        }
    } else {
        1.0
    };
    if bits >> 31 == 0 { z } else { -z }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    /// Distance in units in the last place between two finite floats of
    /// the same sign (or zero).
    fn ulps(a: f32, b: f32) -> u32 {
        let key = |v: f32| {
            let b = v.to_bits() as i32;
            if b < 0 { i32::MIN - b } else { b }
        };
        key(a).abs_diff(key(b))
    }

    /// Every 97th float in [-104, 89] against the host's `expf` (glibc on the
    /// development machines): the largest distance and how many differ.
    #[test]
    fn exp_matches_the_host_libm() {
        let (mut worst, mut differ, mut total) = (0, 0u64, 0u64);
        let mut v = -104.0f32;
        while v < 89.0 {
            let (ours, host) = (exp_f32(v), v.exp());
            let d = ulps(ours, host);
            worst = worst.max(d);
            differ += u64::from(d != 0);
            total += 1;
            let mut bits = v.to_bits();
            bits = if v < 0.0 {
                bits.wrapping_sub(97)
            } else {
                bits + 97
            };
            v = f32::from_bits(bits);
            if v == 0.0 || v.to_bits() == 0x8000_0000 {
                v = f32::from_bits(1);
            }
        }
        std::println!("exp: {differ} of {total} differ from the host, at most {worst} ulp");
        assert!(worst <= 1, "exp differs by {worst} ulp");
    }

    #[test]
    fn tanh_equals_the_host_libm() {
        let (mut worst, mut differ, mut total) = (0, 0u64, 0u64);
        let mut bits = 0u32;
        // Every 61st float up to 96 (past 22, where tanhf is 1).
        while bits < 0x42c0_0000 {
            let v = f32::from_bits(bits);
            for x in [v, -v] {
                let d = ulps(tanh_f32(x), x.tanh());
                worst = worst.max(d);
                differ += u64::from(d != 0);
                total += 1;
            }
            bits += 61;
        }
        for x in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            22.0,
            -22.0,
            88.8,
            1e-30,
            -1e-30,
        ] {
            worst = worst.max(ulps(tanh_f32(x), x.tanh()));
        }
        std::println!("tanh: {differ} of {total} differ from the host, at most {worst} ulp");
        assert_eq!(
            worst, 0,
            "tanh differs by {worst} ulp ({differ} of {total})"
        );
    }

    /// Every 61st positive float (subnormals to infinity) against the
    /// host's `logf`: the largest distance and how many differ.
    #[test]
    fn log_matches_the_host_libm() {
        let (mut worst, mut differ, mut total) = (0, 0u64, 0u64);
        let mut bits = 1u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            let d = ulps(log_f32(x), x.ln());
            worst = worst.max(d);
            differ += u64::from(d != 0);
            total += 1;
            bits += 61;
        }
        std::println!("log: {differ} of {total} differ from the host, at most {worst} ulp");
        assert!(worst <= 1, "log differs by {worst} ulp");
    }

    /// Correct rounding, checked on every 61st float against the host's
    /// `sqrtf` (a single IEEE instruction) and on squares of floats.
    #[test]
    fn sqrt_is_correctly_rounded() {
        let mut bits = 0u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            assert_eq!(sqrt_f32(x).to_bits(), x.sqrt().to_bits(), "sqrt({x:e})");
            bits += 61;
        }
        for v in [1.0f32, 3.0, 1.5e-20, 7.0e18, f32::MAX.sqrt()] {
            assert_eq!(sqrt_f32(v * v), (v * v).sqrt());
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(log_f32(1.0).to_bits(), 0);
        assert_eq!(log_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(log_f32(-0.0), f32::NEG_INFINITY);
        assert_eq!(log_f32(f32::INFINITY), f32::INFINITY);
        assert!(log_f32(-1.0).is_nan());
        assert!(log_f32(f32::NAN).is_nan());
        assert_eq!(sqrt_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(sqrt_f32(f32::INFINITY), f32::INFINITY);
        assert!(sqrt_f32(-1.0).is_nan());
        assert_eq!(sqrt_f32(4.0), 2.0);
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert_eq!(exp_f32(-120.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(0.0), 0.0);
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh_f32(30.0), 1.0);
        assert_eq!(tanh_f32(-30.0), -1.0);
        let r = FloatRange::of(Activation::Relu6);
        assert_eq!(r.apply(-3.0), 0.0);
        assert_eq!(r.apply(7.0), 6.0);
        assert_eq!(r.apply(2.5), 2.5);
    }
}

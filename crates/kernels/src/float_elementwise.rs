//! Element-wise float32 ops as TFLM's float reference kernels compute them:
//! ADD/SUB/MUL/DIV with the activation clamp, MAXIMUM/MINIMUM, PRELU,
//! SQUARED_DIFFERENCE (with broadcasting), the unary activations, the unary
//! math ops (EXP, LOG, SQRT, RSQRT, ABS, NEG, SQUARE: TFLM's `std::exp`,
//! `std::log`, `std::sqrt`, `1.f / std::sqrt`, `std::abs`, `-x`, `x * x`)
//! and SOFTMAX.
//!
//! The comparisons are written as TFLM writes them (`x < 0 ? 0 : x`, ...),
//! which decides the sign of a zero result.

use crate::elementwise::{broadcast, same_shape};
use crate::error::{KernelError, check_len};
use crate::float_math::{FloatRange, exp_f32, log_f32, sqrt_f32, tanh_f32};
use crate::shape::Shape;

/// A float binary op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinaryF32 {
    /// `clamp(a + b)`.
    Add { act_min: f32, act_max: f32 },
    /// `clamp(a - b)`.
    Sub { act_min: f32, act_max: f32 },
    /// `clamp(a * b)`.
    Mul { act_min: f32, act_max: f32 },
    /// `clamp(a / b)`.
    Div { act_min: f32, act_max: f32 },
    /// `a > b ? a : b`.
    Maximum,
    /// `a < b ? a : b`.
    Minimum,
    /// `a >= 0 ? a : a * b` (`b` is alpha).
    Prelu,
    /// `d * d` with `d = a - b` rounded first (TFLM's SQUARED_DIFFERENCE;
    /// no activation).
    SquaredDifference,
}

impl BinaryF32 {
    /// The activation range is not inverted (NaN bounds included).
    pub fn check(&self) -> Result<(), KernelError> {
        match *self {
            BinaryF32::Add { act_min, act_max }
            | BinaryF32::Sub { act_min, act_max }
            | BinaryF32::Mul { act_min, act_max }
            | BinaryF32::Div { act_min, act_max }
                if !FloatRange {
                    min: act_min,
                    max: act_max,
                }
                .is_valid() =>
            {
                Err(KernelError::InvalidParams(
                    "activation range must satisfy min <= max",
                ))
            }
            _ => Ok(()),
        }
    }

    /// The op on one pair of values.
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryF32::Add { act_min, act_max } => FloatRange {
                min: act_min,
                max: act_max,
            }
            .apply(a + b),
            BinaryF32::Sub { act_min, act_max } => FloatRange {
                min: act_min,
                max: act_max,
            }
            .apply(a - b),
            BinaryF32::Mul { act_min, act_max } => FloatRange {
                min: act_min,
                max: act_max,
            }
            .apply(a * b),
            BinaryF32::Div { act_min, act_max } => FloatRange {
                min: act_min,
                max: act_max,
            }
            .apply(a / b),
            BinaryF32::Maximum => {
                if a > b {
                    a
                } else {
                    b
                }
            }
            BinaryF32::Minimum => {
                if a < b {
                    a
                } else {
                    b
                }
            }
            BinaryF32::Prelu => {
                if a >= 0.0 {
                    a
                } else {
                    a * b
                }
            }
            BinaryF32::SquaredDifference => {
                let d = a - b;
                d * d
            }
        }
    }
}

/// A binary op on buffers of equal length.
pub fn binary_f32(
    op: BinaryF32,
    input1: &[f32],
    input2: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    op.check()?;
    same_shape(input1, input2, output, |a, b| op.apply(a, b))
}

/// A binary op with NumPy broadcasting (shapes left-padded to 6-D).
pub fn binary_f32_broadcast(
    op: BinaryF32,
    shape1: &Shape,
    input1: &[f32],
    shape2: &Shape,
    input2: &[f32],
    out_shape: &Shape,
    output: &mut [f32],
) -> Result<(), KernelError> {
    op.check()?;
    broadcast(shape1, input1, shape2, input2, out_shape, output, |a, b| {
        op.apply(a, b)
    })
}

/// A float unary op.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryF32 {
    /// `x < 0 ? 0 : x`.
    Relu,
    /// `x > 6 ? 6 : x < 0 ? 0 : x`.
    Relu6,
    /// `x > 1 ? 1 : x < -1 ? -1 : x`.
    ReluN1To1,
    /// `x > 0 ? x : x * alpha`.
    LeakyRelu { alpha: f32 },
    /// `x * min(6, max(0, x + 3)) / 6`.
    HardSwish,
    /// `1 / (1 + exp(-x))`, with TFLM's cut-offs.
    Logistic,
    /// `tanh(x)`.
    Tanh,
    /// `exp(x)` (`std::exp`, the C library's `expf` in TFLM).
    Exp,
    /// `log(x)` (`logf`).
    Log,
    /// `sqrt(x)` (`sqrtf`, correctly rounded).
    Sqrt,
    /// `1 / sqrt(x)`: the correctly rounded square root, then one IEEE
    /// division (TFLM's `1.f / std::sqrt(x)`; no reciprocal estimate).
    Rsqrt,
    /// `|x|` (`fabsf`: the sign bit cleared, NaNs included).
    Abs,
    /// `-x` (the sign bit flipped).
    Neg,
    /// `x * x`.
    Square,
}

impl UnaryF32 {
    /// The op on one value.
    #[inline(always)]
    #[allow(clippy::manual_clamp)] // TFLM's comparisons, in its order
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryF32::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnaryF32::Relu6 => {
                if x > 6.0 {
                    6.0
                } else if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnaryF32::ReluN1To1 => {
                if x > 1.0 {
                    1.0
                } else if x < -1.0 {
                    -1.0
                } else {
                    x
                }
            }
            UnaryF32::LeakyRelu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    x * alpha
                }
            }
            UnaryF32::HardSwish => {
                // std::max(0.f, x + 3) is `0 < y ? y : 0`; std::min(6.f, .) is `z < 6 ? z : 6`.
                let y = x + 3.0;
                let y = if 0.0 < y { y } else { 0.0 };
                let y = if y < 6.0 { y } else { 6.0 };
                x * y / 6.0
            }
            UnaryF32::Logistic => {
                // reference_ops::Logistic: saturate above, exp(x) far below.
                const CUTOFF_UPPER: f32 = 16.619_047;
                const CUTOFF_LOWER: f32 = -9.0;
                if x > CUTOFF_UPPER {
                    1.0
                } else if x < CUTOFF_LOWER {
                    exp_f32(x)
                } else {
                    1.0 / (1.0 + exp_f32(-x))
                }
            }
            UnaryF32::Tanh => tanh_f32(x),
            UnaryF32::Exp => exp_f32(x),
            UnaryF32::Log => log_f32(x),
            UnaryF32::Sqrt => sqrt_f32(x),
            UnaryF32::Rsqrt => 1.0 / sqrt_f32(x),
            UnaryF32::Abs => f32::from_bits(x.to_bits() & 0x7fff_ffff),
            UnaryF32::Neg => -x,
            UnaryF32::Square => x * x,
        }
    }

    /// Whether the op calls `exp`, `log` or `tanh` (results then match
    /// TFLM to the libm's last bit only where the two libms agree).
    pub fn is_transcendental(self) -> bool {
        matches!(
            self,
            UnaryF32::Logistic | UnaryF32::Tanh | UnaryF32::Exp | UnaryF32::Log
        )
    }

    /// Whether the generated C calls `<math.h>` for the op (the
    /// transcendental ones, `sqrtf` (SQRT, RSQRT), `fabsf`).
    pub fn needs_libm(self) -> bool {
        self.is_transcendental() || matches!(self, UnaryF32::Sqrt | UnaryF32::Rsqrt | UnaryF32::Abs)
    }
}

/// A unary op over a buffer.
pub fn unary_f32(op: UnaryF32, input: &[f32], output: &mut [f32]) -> Result<(), KernelError> {
    check_len("output", input.len(), output.len())?;
    for (o, &x) in output.iter_mut().zip(input) {
        *o = op.apply(x);
    }
    Ok(())
}

/// SOFTMAX over the last dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxF32Params {
    /// Rows (every dimension but the last, multiplied).
    pub outer: usize,
    /// Values per row.
    pub depth: usize,
    pub beta: f32,
}

impl SoftmaxF32Params {
    /// Both buffers hold `outer * depth` values.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let n = self
            .outer
            .checked_mul(self.depth)
            .ok_or(KernelError::InvalidParams("tensor size overflows usize"))?;
        check_len("input", n, input)?;
        check_len("output", n, output)
    }
}

/// SOFTMAX float32 (`reference_ops::Softmax`): per row, the maximum (from
/// float's lowest), `exp((x - max) * beta)` summed from 0 in order, then
/// each value divided by the sum.
pub fn softmax_f32(
    p: &SoftmaxF32Params,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    if p.depth == 0 {
        return Ok(());
    }
    for (row, out) in input
        .chunks_exact(p.depth)
        .zip(output.chunks_exact_mut(p.depth))
    {
        let mut max = f32::MIN;
        for &x in row {
            // std::max(max, x): `max < x ? x : max`.
            if max < x {
                max = x;
            }
        }
        let mut sum = 0.0f32;
        for (o, &x) in out.iter_mut().zip(row) {
            let e = exp_f32((x - max) * p.beta);
            *o = e;
            sum += e;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::float_conv::tests::draw;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        /// Broadcasting walks the output in order and reads each input at
        /// its broadcast index: compared with the index arithmetic written out.
        #[test]
        fn broadcast_equals_direct_indexing(
            dims in proptest::collection::vec((1usize..4, any::<bool>(), any::<bool>()), 1..5),
            which in 0u8..7, seed in any::<u64>(),
        ) {
            let rank = dims.len();
            let out: Vec<usize> = dims.iter().map(|d| if d.1 && d.2 { 1 } else { d.0 }).collect();
            let a: Vec<usize> = dims.iter().map(|d| if d.1 { 1 } else { d.0 }).collect();
            let b: Vec<usize> = dims.iter().map(|d| if d.2 { 1 } else { d.0 }).collect();
            let pad = |s: &[usize]| crate::shape::pad_shape(s).expect("valid test parameters");
            let mut state = seed;
            let x = draw(&mut state, a.iter().product());
            let y = draw(&mut state, b.iter().product());
            let op = match which {
                0 => BinaryF32::Add { act_min: f32::MIN, act_max: f32::MAX },
                1 => BinaryF32::Sub { act_min: 0.0, act_max: 6.0 },
                2 => BinaryF32::Mul { act_min: -1.0, act_max: 1.0 },
                3 => BinaryF32::Maximum,
                4 => BinaryF32::Minimum,
                5 => BinaryF32::SquaredDifference,
                _ => BinaryF32::Prelu,
            };
            let n: usize = out.iter().product();
            let mut got = vec![0.0f32; n];
            binary_f32_broadcast(op, &pad(&a), &x, &pad(&b), &y, &pad(&out), &mut got).expect("valid test parameters");
            let mut want = Vec::new();
            for flat in 0..n {
                let mut rem = flat;
                let mut idx = vec![0usize; rank];
                for d in (0..rank).rev() {
                    idx[d] = rem % out[d];
                    rem /= out[d];
                }
                let at = |shape: &[usize]| idx.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + if s == 1 { 0 } else { i });
                want.push(op.apply(x[at(&a)], y[at(&b)]));
            }
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    #[test]
    fn relu_keeps_negative_zero_as_tflm() {
        assert_eq!(UnaryF32::Relu.apply(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(UnaryF32::Relu.apply(-2.0), 0.0);
        assert_eq!(UnaryF32::Relu6.apply(7.0), 6.0);
        assert_eq!(UnaryF32::HardSwish.apply(1.0), 1.0 * 4.0 / 6.0);
        assert_eq!(UnaryF32::LeakyRelu { alpha: 0.5 }.apply(-2.0), -1.0);
        assert_eq!(UnaryF32::Logistic.apply(20.0), 1.0);
    }

    /// The math ops against their definitions: IEEE division and std's
    /// `sqrt`, the sign bit for ABS and NEG, one rounded product for SQUARE,
    /// the clamp after DIV.
    #[test]
    fn math_ops_follow_their_definitions() {
        let mut state = 7u64;
        let xs = draw(&mut state, 4000);
        let ys = draw(&mut state, 4000);
        let none = BinaryF32::Div {
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let relu6 = BinaryF32::Div {
            act_min: 0.0,
            act_max: 6.0,
        };
        for (&x, &y) in xs.iter().zip(&ys) {
            let q = x / y;
            if !q.is_nan() {
                assert_eq!(
                    none.apply(x, y).to_bits(),
                    q.clamp(f32::MIN, f32::MAX).to_bits()
                );
                assert_eq!(relu6.apply(x, y), q.clamp(0.0, 6.0));
            }
            assert_eq!(UnaryF32::Abs.apply(x).to_bits(), x.abs().to_bits());
            assert_eq!(UnaryF32::Neg.apply(x).to_bits(), (-x).to_bits());
            assert_eq!(UnaryF32::Square.apply(x).to_bits(), (x * x).to_bits());
            let a = x.abs();
            assert_eq!(UnaryF32::Sqrt.apply(a).to_bits(), a.sqrt().to_bits());
            // RSQRT: two roundings (std's sqrt, then 1 / it), not one.
            assert_eq!(
                UnaryF32::Rsqrt.apply(a).to_bits(),
                (1.0 / a.sqrt()).to_bits()
            );
            // SQUARED_DIFFERENCE: the difference rounded, then squared.
            let d = x - y;
            assert_eq!(
                BinaryF32::SquaredDifference.apply(x, y).to_bits(),
                (d * d).to_bits()
            );
        }
        assert_eq!(UnaryF32::Rsqrt.apply(0.0), f32::INFINITY);
        assert_eq!(UnaryF32::Rsqrt.apply(-0.0), f32::NEG_INFINITY);
        assert!(UnaryF32::Rsqrt.apply(-1.0).is_nan());
        assert_eq!(UnaryF32::Rsqrt.apply(f32::INFINITY).to_bits(), 0);
        assert_eq!(UnaryF32::Rsqrt.apply(4.0), 0.5);
        assert_eq!(
            BinaryF32::SquaredDifference.apply(f32::MAX, -f32::MAX),
            f32::INFINITY
        );
        assert_eq!(UnaryF32::Abs.apply(-0.0).to_bits(), 0);
        assert_eq!(UnaryF32::Neg.apply(0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(UnaryF32::Exp.apply(0.0), 1.0);
        assert_eq!(UnaryF32::Log.apply(1.0), 0.0);
    }

    /// RSQRT over a stride of every bit pattern (NaNs, subnormals,
    /// negatives, infinities included): `1 / sqrt` with std's sqrt.
    #[test]
    fn rsqrt_equals_one_over_std_sqrt() {
        for b in (0..=u32::MAX).step_by(4099) {
            let x = f32::from_bits(b);
            let (got, want) = (UnaryF32::Rsqrt.apply(x), 1.0 / x.sqrt());
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{b:#x}"
            );
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let p = SoftmaxF32Params {
            outer: 2,
            depth: 3,
            beta: 1.0,
        };
        let mut out = [0.0f32; 6];
        softmax_f32(&p, &[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &mut out).expect("valid test parameters");
        assert!((out[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(out[3], out[4]);
    }
}

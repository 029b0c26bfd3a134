//! Plain (unquantized) integer arithmetic and CAST, as TFLM runs the glue
//! ops of its audio preprocessor (micro_speech's `audio_preprocessor.py`
//! turns the int16 log filter bank into int8 features with CAST, MUL, ADD,
//! DIV, MINIMUM, MAXIMUM on int32 and a CAST to int8).
//!
//! * int32 ADD, SUB, MUL wrap on overflow (two's complement, what TFLM's
//!   `a + b` / `a * b` compile to), then the fused activation's clamp.
//! * int32 DIV truncates toward zero (C++ `/`). TFLM traps on a zero
//!   divisor and on `INT32_MIN / -1`; here they give 0 and `INT32_MIN`
//!   (lowering refuses a constant divisor holding 0).
//! * CAST is C++'s `static_cast` as TFLM's kernel applies it: integers
//!   wrap to the narrower type, integers round to the nearest float, floats
//!   truncate toward zero and saturate to the integer type, NaN to 0
//!   (measured on TFLM's CAST: its float-to-integer path saturates).
//!
//! Operands are [`Numbers`]: little-endian bytes (`[u8]` or `[i8]`: arena
//! buffers, constants, int8 model I/O), or typed model I/O (`[i16]`,
//! `[f32]`).

use crate::elementwise::check_broadcast;
use crate::error::KernelError;
use crate::error::check_len;
use crate::shape::{MAX_DIMS, broadcast_strides};
use crate::wide_ops::WideBroadcast;

/// The element types of plain integer ops and CAST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumType {
    I8,
    I16,
    I32,
    U32,
    F32,
}

impl NumType {
    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            NumType::I8 => 1,
            NumType::I16 => 2,
            NumType::I32 | NumType::U32 | NumType::F32 => 4,
        }
    }
}

/// One element's value: every integer type fits an `i64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f32),
}

/// A read-only buffer of numbers of one [`NumType`].
pub trait Numbers {
    /// Bytes the buffer holds.
    fn byte_len(&self) -> usize;
    /// Whether the buffer can hold elements of type `t`.
    fn holds(&self, t: NumType) -> bool;
    /// Element `i` as type `t` (`holds(t)` and `i` in range checked first).
    fn get(&self, t: NumType, i: usize) -> Num;
}

/// A writable [`Numbers`] buffer.
pub trait NumbersMut: Numbers {
    /// Stores `v` (already of type `t`'s range) as element `i`.
    fn set(&mut self, t: NumType, i: usize, v: Num);
}

fn le_get(bytes: impl Fn(usize) -> u8, t: NumType, i: usize) -> Num {
    let n = t.size();
    let mut w = [0u8; 4];
    for (k, b) in w.iter_mut().enumerate().take(n) {
        *b = bytes(i * n + k);
    }
    match t {
        NumType::I8 => Num::Int(i64::from(w[0] as i8)),
        NumType::I16 => Num::Int(i64::from(i16::from_le_bytes([w[0], w[1]]))),
        NumType::I32 => Num::Int(i64::from(i32::from_le_bytes(w))),
        NumType::U32 => Num::Int(i64::from(u32::from_le_bytes(w))),
        NumType::F32 => Num::Float(f32::from_le_bytes(w)),
    }
}

fn le_bytes(t: NumType, v: Num) -> [u8; 4] {
    match (t, v) {
        (NumType::F32, Num::Float(f)) => f.to_le_bytes(),
        (NumType::F32, Num::Int(x)) => (x as f32).to_le_bytes(),
        (_, Num::Int(x)) => (x as u32).to_le_bytes(),
        (_, Num::Float(f)) => (f as i32 as u32).to_le_bytes(),
    }
}

impl Numbers for [u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn holds(&self, _: NumType) -> bool {
        true
    }
    fn get(&self, t: NumType, i: usize) -> Num {
        le_get(|k| self[k], t, i)
    }
}

impl NumbersMut for [u8] {
    fn set(&mut self, t: NumType, i: usize, v: Num) {
        let n = t.size();
        let bytes = le_bytes(t, v);
        self[i * n..(i + 1) * n].copy_from_slice(&bytes[..n]);
    }
}

impl Numbers for [i8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn holds(&self, _: NumType) -> bool {
        true
    }
    fn get(&self, t: NumType, i: usize) -> Num {
        le_get(|k| self[k] as u8, t, i)
    }
}

impl NumbersMut for [i8] {
    fn set(&mut self, t: NumType, i: usize, v: Num) {
        let n = t.size();
        let bytes = le_bytes(t, v);
        for (d, &b) in self[i * n..(i + 1) * n].iter_mut().zip(&bytes[..n]) {
            *d = b as i8;
        }
    }
}

impl Numbers for [i16] {
    fn byte_len(&self) -> usize {
        2 * self.len()
    }
    fn holds(&self, t: NumType) -> bool {
        t == NumType::I16
    }
    fn get(&self, _: NumType, i: usize) -> Num {
        Num::Int(i64::from(self[i]))
    }
}

impl NumbersMut for [i16] {
    fn set(&mut self, _: NumType, i: usize, v: Num) {
        if let Num::Int(x) = v {
            self[i] = x as i16;
        }
    }
}

impl Numbers for [f32] {
    fn byte_len(&self) -> usize {
        4 * self.len()
    }
    fn holds(&self, t: NumType) -> bool {
        t == NumType::F32
    }
    fn get(&self, _: NumType, i: usize) -> Num {
        Num::Float(self[i])
    }
}

impl NumbersMut for [f32] {
    fn set(&mut self, _: NumType, i: usize, v: Num) {
        if let Num::Float(f) = v {
            self[i] = f;
        }
    }
}

/// The element count of a buffer of type `t`, or an error when it cannot
/// hold `t` or its size is not a whole number of elements.
fn count<N: Numbers + ?Sized>(
    what: &'static str,
    buf: &N,
    t: NumType,
) -> Result<usize, KernelError> {
    if !buf.holds(t) || !buf.byte_len().is_multiple_of(t.size()) {
        return Err(KernelError::InvalidParams(match what {
            "input" => "CAST input buffer is not of the input type",
            "output" => "CAST output buffer is not of the output type",
            _ => "int32 op buffer is not int32",
        }));
    }
    Ok(buf.byte_len() / t.size())
}

/// CAST between two different types of [`NumType`].
pub fn check_cast(
    from: NumType,
    to: NumType,
    input: usize,
    output: usize,
) -> Result<(), KernelError> {
    if from == to {
        return Err(KernelError::InvalidParams("CAST to the same type"));
    }
    check_len("CAST output", input, output)
}

/// One value converted as C++'s `static_cast` in TFLM's CAST.
pub fn cast_value(v: Num, to: NumType) -> Num {
    match (v, to) {
        (Num::Int(x), NumType::F32) => Num::Float(x as f32),
        (Num::Int(x), NumType::I8) => Num::Int(i64::from(x as i8)),
        (Num::Int(x), NumType::I16) => Num::Int(i64::from(x as i16)),
        (Num::Int(x), NumType::I32) => Num::Int(i64::from(x as i32)),
        (Num::Int(x), NumType::U32) => Num::Int(i64::from(x as u32)),
        (Num::Float(f), NumType::F32) => Num::Float(f),
        // Rust's float-to-integer `as` truncates, saturates and maps NaN
        // to 0: what TFLM's CAST does.
        (Num::Float(f), NumType::I8) => Num::Int(i64::from(f as i8)),
        (Num::Float(f), NumType::I16) => Num::Int(i64::from(f as i16)),
        (Num::Float(f), NumType::I32) => Num::Int(i64::from(f as i32)),
        (Num::Float(f), NumType::U32) => Num::Int(i64::from(f as u32)),
    }
}

/// CAST: every element of `input` (type `from`) converted to `to`.
pub fn cast<I, O>(from: NumType, to: NumType, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Numbers + ?Sized,
    O: NumbersMut + ?Sized,
{
    let n = count("input", input, from)?;
    check_cast(from, to, n, count("output", output, to)?)?;
    for i in 0..n {
        output.set(to, i, cast_value(input.get(from, i), to));
    }
    Ok(())
}

/// A plain int32 binary op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntBinary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

impl IntBinary {
    /// `a op b` before the activation clamp.
    pub fn apply(self, a: i32, b: i32) -> i32 {
        match self {
            IntBinary::Add => a.wrapping_add(b),
            IntBinary::Sub => a.wrapping_sub(b),
            IntBinary::Mul => a.wrapping_mul(b),
            // TFLM traps on these two; tinyq defines them.
            IntBinary::Div if b == 0 => 0,
            IntBinary::Div => a.wrapping_div(b),
            IntBinary::Maximum => a.max(b),
            IntBinary::Minimum => a.min(b),
        }
    }
}

/// The lengths (elements) of an int32 binary op against its shapes and
/// its clamp.
pub fn check_binary_i32(
    act_min: i32,
    act_max: i32,
    shapes: Option<&WideBroadcast>,
    [input1, input2, output]: [usize; 3],
) -> Result<(), KernelError> {
    if act_min > act_max {
        return Err(KernelError::InvalidParams("int32 op clamp min above max"));
    }
    match shapes {
        None => {
            check_len("input2", input1, input2)?;
            check_len("output", input1, output)
        }
        Some(s) => check_broadcast(&s.shape1, input1, &s.shape2, input2, &s.out_shape, output),
    }
}

/// An int32 binary op, same shapes (`shapes == None`) or NumPy
/// broadcasting, each result clamped to `act_min..=act_max`.
pub fn binary_i32<A, B, O>(
    op: IntBinary,
    act_min: i32,
    act_max: i32,
    shapes: Option<&WideBroadcast>,
    input1: &A,
    input2: &B,
    output: &mut O,
) -> Result<(), KernelError>
where
    A: Numbers + ?Sized,
    B: Numbers + ?Sized,
    O: NumbersMut + ?Sized,
{
    let t = NumType::I32;
    let lens = [
        count("", input1, t)?,
        count("", input2, t)?,
        count("", output, t)?,
    ];
    check_binary_i32(act_min, act_max, shapes, lens)?;
    let int = |v: Num| match v {
        Num::Int(x) => x as i32,
        Num::Float(_) => 0,
    };
    let f = |a: Num, b: Num| {
        let v = op.apply(int(a), int(b)).clamp(act_min, act_max);
        Num::Int(i64::from(v))
    };
    match shapes {
        None => {
            for i in 0..lens[2] {
                output.set(t, i, f(input1.get(t, i), input2.get(t, i)));
            }
        }
        Some(s) => {
            let s1 = broadcast_strides(&s.shape1, &s.out_shape)?;
            let s2 = broadcast_strides(&s.shape2, &s.out_shape)?;
            // Odometer over the output, tracking both input offsets.
            let mut index = [0usize; MAX_DIMS];
            let (mut i1, mut i2) = (0usize, 0usize);
            for o in 0..lens[2] {
                output.set(t, o, f(input1.get(t, i1), input2.get(t, i2)));
                for d in (0..MAX_DIMS).rev() {
                    index[d] += 1;
                    i1 += s1[d];
                    i2 += s2[d];
                    if index[d] < s.out_shape[d] {
                        break;
                    }
                    index[d] = 0;
                    i1 -= s1[d] * s.out_shape[d];
                    i2 -= s2[d] * s.out_shape[d];
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_truncates_and_defines_the_traps() {
        assert_eq!(IntBinary::Div.apply(-7, 2), -3);
        assert_eq!(IntBinary::Div.apply(7, -2), -3);
        assert_eq!(IntBinary::Div.apply(5, 0), 0);
        assert_eq!(IntBinary::Div.apply(i32::MIN, -1), i32::MIN);
    }

    #[test]
    fn arithmetic_wraps() {
        assert_eq!(IntBinary::Add.apply(i32::MAX, 1), i32::MIN);
        assert_eq!(IntBinary::Mul.apply(65536, 65536), 0);
        assert_eq!(IntBinary::Sub.apply(i32::MIN, 1), i32::MAX);
    }

    #[test]
    fn casts_wrap_round_and_saturate() {
        assert_eq!(cast_value(Num::Int(300), NumType::I8), Num::Int(44));
        assert_eq!(
            cast_value(Num::Int(-1), NumType::U32),
            Num::Int(0xFFFF_FFFF)
        );
        assert_eq!(
            cast_value(Num::Int(0xFFFF_FFFF), NumType::I32),
            Num::Int(-1)
        );
        assert_eq!(
            cast_value(Num::Int(16_777_217), NumType::F32),
            Num::Float(16_777_216.0)
        );
        assert_eq!(cast_value(Num::Float(-1.5), NumType::I32), Num::Int(-1));
        assert_eq!(cast_value(Num::Float(300.0), NumType::I8), Num::Int(127));
        assert_eq!(cast_value(Num::Float(-0.5), NumType::U32), Num::Int(0));
        assert_eq!(cast_value(Num::Float(f32::NAN), NumType::I16), Num::Int(0));
        assert_eq!(
            cast_value(Num::Float(3e9), NumType::U32),
            Num::Int(3_000_000_000)
        );
    }

    #[test]
    fn byte_and_typed_views_agree() {
        let x: [i16; 3] = [-32768, 1, 32767];
        let mut bytes = [0u8; 12];
        cast(NumType::I16, NumType::I32, &x[..], &mut bytes[..]).expect("int16 to int32");
        let mut back = [0i16; 3];
        cast(NumType::I32, NumType::I16, &bytes[..], &mut back[..]).expect("int32 to int16");
        assert_eq!(back, x);
        assert!(cast(NumType::I32, NumType::I16, &bytes[..], &mut [0f32; 3][..]).is_err());
    }

    #[test]
    fn broadcast_binary_clamps() {
        let a: [i32; 4] = [1, -2, i32::MAX, 7];
        let b: [i32; 1] = [3];
        let le = |v: &[i32]| {
            let mut out = [0u8; 16];
            for (k, x) in v.iter().enumerate() {
                out[4 * k..4 * k + 4].copy_from_slice(&x.to_le_bytes());
            }
            out
        };
        let (ab, bb) = (le(&a), le(&b));
        let shapes = WideBroadcast {
            shape1: [1, 1, 1, 1, 1, 4],
            shape2: [1, 1, 1, 1, 1, 1],
            out_shape: [1, 1, 1, 1, 1, 4],
        };
        let mut out = [0u8; 16];
        binary_i32(
            IntBinary::Mul,
            -10,
            i32::MAX,
            Some(&shapes),
            &ab[..],
            &bb[..4],
            &mut out[..],
        )
        .expect("a row broadcast");
        assert_eq!(out, le(&[3, -6, i32::MAX.wrapping_mul(3).max(-10), 21]));
    }

    mod prop {
        extern crate std;
        use std::vec::Vec;

        use proptest::prelude::*;

        use super::super::*;

        /// The op in i64, truncated to 32 bits: an independent statement of
        /// wrapping arithmetic and truncating division.
        fn reference(op: IntBinary, a: i32, b: i32) -> i32 {
            let (a, b) = (i64::from(a), i64::from(b));
            (match op {
                IntBinary::Add => a + b,
                IntBinary::Sub => a - b,
                IntBinary::Mul => a * b,
                IntBinary::Div if b == 0 => 0,
                IntBinary::Div => a / b,
                IntBinary::Maximum => a.max(b),
                IntBinary::Minimum => a.min(b),
            }) as i32
        }

        fn value() -> impl Strategy<Value = i32> {
            prop_oneof![
                Just(i32::MIN),
                Just(i32::MAX),
                Just(-1),
                Just(0),
                -70_000..70_000i32,
                any::<i32>(),
            ]
        }

        fn le(v: &[i32]) -> Vec<u8> {
            v.iter().flat_map(|x| x.to_le_bytes()).collect()
        }

        proptest! {
            #[test]
            fn broadcast_binary_equals_the_index_reference(
                dims in proptest::collection::vec(1usize..4, 1..=4),
                mask1 in any::<u8>(),
                mask2 in any::<u8>(),
                op in 0usize..6,
                clamp in proptest::option::of((-100i32..0, 0i32..100)),
                pool in proptest::collection::vec(value(), 64),
            ) {
                let op = [IntBinary::Add, IntBinary::Sub, IntBinary::Mul, IntBinary::Div,
                          IntBinary::Maximum, IntBinary::Minimum][op];
                let rank = dims.len();
                // An input's dimension is 1 where its mask bit is set.
                let shape_of = |mask: u8| -> Vec<usize> {
                    dims.iter().enumerate().map(|(d, &n)| if mask >> d & 1 == 1 { 1 } else { n }).collect()
                };
                let (sh1, sh2) = (shape_of(mask1), shape_of(mask2));
                // The output: the larger size on each axis.
                let dims: Vec<usize> = sh1.iter().zip(&sh2).map(|(&a, &b)| a.max(b)).collect();
                let count = |s: &[usize]| s.iter().product::<usize>();
                let a: Vec<i32> = (0..count(&sh1)).map(|i| pool[i % 64]).collect();
                let b: Vec<i32> = (0..count(&sh2)).map(|i| pool[(i * 7 + 3) % 64]).collect();
                let pad = |s: &[usize]| {
                    let mut p = [1usize; MAX_DIMS];
                    p[MAX_DIMS - rank..].copy_from_slice(s);
                    p
                };
                let shapes = WideBroadcast { shape1: pad(&sh1), shape2: pad(&sh2), out_shape: pad(&dims) };
                let (lo, hi) = clamp.unwrap_or((i32::MIN, i32::MAX));
                let mut out = std::vec![0u8; 4 * count(&dims)];
                binary_i32(op, lo, hi, Some(&shapes), &le(&a)[..], &le(&b)[..], &mut out[..]).expect("shapes broadcast");
                // Unravel each output index, then fold it into each input.
                for o in 0..count(&dims) {
                    let (mut rest, mut coord) = (o, std::vec![0usize; rank]);
                    for d in (0..rank).rev() {
                        coord[d] = rest % dims[d];
                        rest /= dims[d];
                    }
                    let flat = |s: &[usize]| coord.iter().zip(s).fold(0, |acc, (&c, &n)| acc * n + if n == 1 { 0 } else { c });
                    let want = reference(op, a[flat(&sh1)], b[flat(&sh2)]).clamp(lo, hi);
                    let got = i32::from_le_bytes([out[4 * o], out[4 * o + 1], out[4 * o + 2], out[4 * o + 3]]);
                    prop_assert_eq!(got, want);
                }
            }

            #[test]
            fn casts_between_integers_keep_the_low_bits(v in any::<i32>(), to in 0usize..4) {
                let to = [NumType::I8, NumType::I16, NumType::I32, NumType::U32][to];
                let mask: i64 = (1i64 << (8 * to.size())) - 1;
                let Num::Int(got) = cast_value(Num::Int(i64::from(v)), to) else { panic!() };
                prop_assert_eq!(got & mask, i64::from(v) & mask);
                let (lo, hi) = match to {
                    NumType::I8 => (-128, 127),
                    NumType::I16 => (-32768, 32767),
                    NumType::I32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
                    _ => (0, i64::from(u32::MAX)),
                };
                prop_assert!((lo..=hi).contains(&got));
            }

            #[test]
            fn float_casts_truncate_and_saturate(f in any::<f32>()) {
                let Num::Int(got) = cast_value(Num::Float(f), NumType::I16) else { panic!() };
                let want = if f.is_nan() { 0 } else { f.trunc().clamp(-32768.0, 32767.0) as i64 };
                prop_assert_eq!(got, want);
            }
        }
    }
}

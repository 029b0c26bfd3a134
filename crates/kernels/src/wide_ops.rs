//! The int16 element-wise and layout ops of 16x8 models (int16 activations,
//! symmetric), as TFLM's int16 reference kernels:
//!
//! * ADD / SUB: TFLM's general path (`AddElementwise`, `SubElementwise` and
//!   their broadcasting loops), the int8 arithmetic with inputs pre-shifted
//!   by 15 bits instead of 20 ([`WIDE_ADD_SUB_LEFT_SHIFT`]) and an int16
//!   clamp. TFLM never takes TFLite's power-of-two int16 path.
//! * MUL: the int8 arithmetic (`reference_integer_ops::Mul`) with zero
//!   points 0 and an int16 clamp.
//! * LEAKY_RELU: `QuantizeLeakyRelu<int16_t>` (two multipliers).
//! * QUANTIZE between integer types: `Requantize` from int16 to int16 or
//!   int8, and from int8 to int16.
//! * PAD / PADV2 and STRIDED_SLICE: element moves, pad value 0 unless the
//!   model gives one.
//! * CONCATENATION: a copy (inputs and output share scale and zero point),
//!   one input per call so each may have its own view type.
//!
//! Every kernel reads and writes int16 through the views of
//! [`crate::int16`] (model I/O as `[i16]`, arena bytes as pairs), each
//! operand with its own view type.

use crate::concat::ConcatParams;
use crate::conv::I16_RANGE;
use crate::elementwise::{AddSubParams, MulParams, check_broadcast};
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, mbqm_smaller_than_one};
use crate::int16::{Int16s, Int16sMut};
use crate::pad::PadParams;
use crate::quantize::RequantizeParams;
use crate::shape::{MAX_DIMS, Shape, broadcast_strides, num_elements, strides};
use crate::slice::StridedSliceParams;
use crate::unary::LeakyReluParams;

/// Left shift TFLM applies to int16 ADD/SUB inputs before rescaling.
pub const WIDE_ADD_SUB_LEFT_SHIFT: i32 = 15;

/// Shapes of a broadcasting int16 binary op, left-padded to [`MAX_DIMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WideBroadcast {
    pub shape1: Shape,
    pub shape2: Shape,
    pub out_shape: Shape,
}

/// What the int16 ADD/SUB kernel checks of its parameters: the 15-bit
/// pre-shift, right shifts the fixed-point helpers handle, a clamp inside
/// int16; and its buffer lengths (elements) against the shapes.
pub fn check_add_sub_16(
    p: &AddSubParams,
    shapes: Option<&WideBroadcast>,
    [input1, input2, output]: [usize; 3],
) -> Result<(), KernelError> {
    let right = |s: i32| (-31..=0).contains(&s);
    if p.left_shift != WIDE_ADD_SUB_LEFT_SHIFT
        || !right(p.input1_shift)
        || !right(p.input2_shift)
        || !right(p.output_shift)
    {
        return Err(KernelError::InvalidParams(
            "int16 ADD/SUB shifts out of range (left 15, others -31..=0)",
        ));
    }
    // |offset| < 2^15 keeps (x + offset) << 15 inside int32, as TFLM asserts.
    if [p.input1_offset, p.input2_offset, p.output_offset]
        .iter()
        .any(|o| !(-32767..=32767).contains(o))
    {
        return Err(KernelError::InvalidParams(
            "int16 ADD/SUB zero points outside -32767..=32767",
        ));
    }
    check_clamp16(p.act_min, p.act_max)?;
    check_shapes(shapes, [input1, input2, output])
}

fn check_clamp16(act_min: i32, act_max: i32) -> Result<(), KernelError> {
    if I16_RANGE.0 <= act_min && act_min <= act_max && act_max <= I16_RANGE.1 {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "int16 activation range must satisfy -32768 <= min <= max <= 32767",
        ))
    }
}

/// One int16 ADD (`subtract == false`) or SUB value: both inputs offset,
/// shifted left by 15 and rescaled, summed (or subtracted) in int32, then
/// rescaled to the output and clamped. The shifted inputs fit int32
/// (|x + offset| < 2^16), as TFLM's comment on the 15-bit shift says.
#[inline]
fn add_sub_value(p: &AddSubParams, x: i16, y: i16, subtract: bool) -> i16 {
    let a = (i32::from(x) + p.input1_offset) << p.left_shift;
    let b = (i32::from(y) + p.input2_offset) << p.left_shift;
    let a = mbqm_smaller_than_one(a, p.input1_multiplier, p.input1_shift);
    let b = mbqm_smaller_than_one(b, p.input2_multiplier, p.input2_shift);
    let raw = if subtract {
        a.wrapping_sub(b)
    } else {
        a.wrapping_add(b)
    };
    let v = mbqm_smaller_than_one(raw, p.output_multiplier, p.output_shift)
        .wrapping_add(p.output_offset);
    // The clamp lies inside int16 (checked), so the cast is exact.
    v.clamp(p.act_min, p.act_max) as i16
}

/// Applies `f` element-wise: same shapes (`shapes == None`) or NumPy
/// broadcasting over the shapes of `shapes` (lengths checked by the caller).
fn binary_16<A, B, O>(
    shapes: Option<&WideBroadcast>,
    input1: &A,
    input2: &B,
    output: &mut O,
    f: impl Fn(i16, i16) -> i16,
) -> Result<(), KernelError>
where
    A: Int16s + ?Sized,
    B: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    match shapes {
        None => {
            for i in 0..output.count() {
                output.put(i, f(input1.at(i), input2.at(i)));
            }
        }
        Some(s) => {
            let s1 = broadcast_strides(&s.shape1, &s.out_shape)?;
            let s2 = broadcast_strides(&s.shape2, &s.out_shape)?;
            // Odometer over the output, tracking both input offsets.
            let mut index = [0usize; MAX_DIMS];
            let (mut i1, mut i2) = (0usize, 0usize);
            for o in 0..output.count() {
                output.put(o, f(input1.at(i1), input2.at(i2)));
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

/// The buffer lengths of a binary op against its shapes.
fn check_shapes(
    shapes: Option<&WideBroadcast>,
    [input1, input2, output]: [usize; 3],
) -> Result<(), KernelError> {
    match shapes {
        None => {
            check_len("input2", input1, input2)?;
            check_len("output", input1, output)
        }
        Some(s) => check_broadcast(&s.shape1, input1, &s.shape2, input2, &s.out_shape, output),
    }
}

/// int16 ADD (`subtract == false`) or SUB, same shapes (`shapes == None`)
/// or NumPy broadcasting over the shapes of `shapes`.
pub fn add_sub_16<A, B, O>(
    p: &AddSubParams,
    subtract: bool,
    shapes: Option<&WideBroadcast>,
    input1: &A,
    input2: &B,
    output: &mut O,
) -> Result<(), KernelError>
where
    A: Int16s + ?Sized,
    B: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_add_sub_16(p, shapes, [input1.count(), input2.count(), output.count()])?;
    binary_16(shapes, input1, input2, output, |x, y| {
        add_sub_value(p, x, y, subtract)
    })
}

/// What the int16 MUL checks: no offsets (TFLM insists on zero points 0 for
/// int16), a shift `mbqm` handles, an int16 clamp, the lengths.
pub fn check_mul_16(
    p: &MulParams,
    shapes: Option<&WideBroadcast>,
    lens: [usize; 3],
) -> Result<(), KernelError> {
    if [p.input1_offset, p.input2_offset, p.output_offset] != [0, 0, 0] {
        return Err(KernelError::InvalidParams(
            "int16 MUL takes zero points 0 (as TFLM)",
        ));
    }
    if !(-31..=31).contains(&p.output_shift) {
        return Err(KernelError::InvalidParams("MUL shift outside -31..=31"));
    }
    check_clamp16(p.act_min, p.act_max)?;
    check_shapes(shapes, lens)
}

/// int16 MUL (`reference_integer_ops::Mul` for int16): the product of the
/// two values (it fits int32: |x·y| <= 2^30), requantized with the int32
/// `MultiplyByQuantizedMultiplier`, clamped.
pub fn mul_16<A, B, O>(
    p: &MulParams,
    shapes: Option<&WideBroadcast>,
    input1: &A,
    input2: &B,
    output: &mut O,
) -> Result<(), KernelError>
where
    A: Int16s + ?Sized,
    B: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_mul_16(p, shapes, [input1.count(), input2.count(), output.count()])?;
    binary_16(shapes, input1, input2, output, |x, y| {
        let v = mbqm(
            i32::from(x) * i32::from(y),
            p.output_multiplier,
            p.output_shift,
        );
        // The clamp lies inside int16 (checked), so the cast is exact.
        v.clamp(p.act_min, p.act_max) as i16
    })
}

/// What the int16 LEAKY_RELU checks: zero points inside int16, shifts the
/// fixed-point helper handles, equal lengths.
pub fn check_leaky_relu_16(
    p: &LeakyReluParams,
    input: usize,
    output: usize,
) -> Result<(), KernelError> {
    if !(-31..=31).contains(&p.output_shift_alpha) || !(-31..=31).contains(&p.output_shift_identity)
    {
        return Err(KernelError::InvalidParams(
            "LEAKY_RELU shift outside -31..=31",
        ));
    }
    if [p.input_zero_point, p.output_zero_point]
        .iter()
        .any(|z| !(I16_RANGE.0..=I16_RANGE.1).contains(z))
    {
        return Err(KernelError::InvalidParams(
            "int16 LEAKY_RELU zero point outside int16",
        ));
    }
    check_len("output", input, output)
}

/// int16 LEAKY_RELU (`reference_ops::QuantizeLeakyRelu<int16_t>`): the
/// identity multiplier for `x - zp >= 0`, alpha's below, clamped to int16.
pub fn leaky_relu_16<I, O>(
    p: &LeakyReluParams,
    input: &I,
    output: &mut O,
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_leaky_relu_16(p, input.count(), output.count())?;
    for i in 0..input.count() {
        let x = i32::from(input.at(i)) - p.input_zero_point;
        let scaled = if x >= 0 {
            mbqm(x, p.output_multiplier_identity, p.output_shift_identity)
        } else {
            mbqm(x, p.output_multiplier_alpha, p.output_shift_alpha)
        };
        let v = p.output_zero_point.wrapping_add(scaled);
        output.put(i, v.clamp(I16_RANGE.0, I16_RANGE.1) as i16);
    }
    Ok(())
}

/// What the integer requantizations check: a shift `mbqm` handles, zero
/// points inside int16, equal lengths.
pub fn check_requantize_16(
    p: &RequantizeParams,
    input: usize,
    output: usize,
) -> Result<(), KernelError> {
    if !(-31..=31).contains(&p.shift) {
        return Err(KernelError::InvalidParams(
            "requantize shift outside -31..=31",
        ));
    }
    if [p.input_zero_point, p.output_zero_point]
        .iter()
        .any(|z| !(I16_RANGE.0..=I16_RANGE.1).contains(z))
    {
        return Err(KernelError::InvalidParams(
            "requantize zero point outside int16",
        ));
    }
    check_len("output", input, output)
}

/// TFLM's `Requantize` of one value into `lo..=hi`.
#[inline]
fn requantize_value(p: &RequantizeParams, x: i32, (lo, hi): (i32, i32)) -> i32 {
    mbqm(x - p.input_zero_point, p.multiplier, p.shift)
        .wrapping_add(p.output_zero_point)
        .clamp(lo, hi)
}

/// QUANTIZE int16 → int16 (requantize).
pub fn requantize_i16_to_i16<I, O>(
    p: &RequantizeParams,
    input: &I,
    output: &mut O,
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_requantize_16(p, input.count(), output.count())?;
    for i in 0..input.count() {
        let v = requantize_value(p, i32::from(input.at(i)), I16_RANGE);
        output.put(i, v as i16);
    }
    Ok(())
}

/// QUANTIZE int16 → int8 (requantize).
pub fn requantize_i16_to_i8<I>(
    p: &RequantizeParams,
    input: &I,
    output: &mut [i8],
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
{
    check_requantize_16(p, input.count(), output.len())?;
    for (i, o) in output.iter_mut().enumerate() {
        *o = requantize_value(p, i32::from(input.at(i)), (-128, 127)) as i8;
    }
    Ok(())
}

/// QUANTIZE int8 → int16 (requantize).
pub fn requantize_i8_to_i16<O>(
    p: &RequantizeParams,
    input: &[i8],
    output: &mut O,
) -> Result<(), KernelError>
where
    O: Int16sMut + ?Sized,
{
    check_requantize_16(p, input.len(), output.count())?;
    for (i, &x) in input.iter().enumerate() {
        output.put(i, requantize_value(p, i32::from(x), I16_RANGE) as i16);
    }
    Ok(())
}

/// int16 PAD / PADV2 with pad value `value` (`p.pad_value` is unused).
pub fn pad_16<I, O>(p: &PadParams, value: i16, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    p.check(input.count(), output.count())?;
    let out_shape = p.output_shape();
    let in_stride = strides(&p.input_shape);
    // Odometer over the output; `outside` counts the dims in the padding.
    let mut index = [0usize; MAX_DIMS];
    for o in 0..output.count() {
        let mut at = Some(0usize);
        for d in 0..MAX_DIMS {
            at = at.and_then(|a| {
                let i = index[d].checked_sub(p.before[d])?;
                (i < p.input_shape[d]).then_some(a + i * in_stride[d])
            });
        }
        output.put(o, at.map_or(value, |i| input.at(i)));
        for d in (0..MAX_DIMS).rev() {
            index[d] += 1;
            if index[d] < out_shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(())
}

/// int16 STRIDED_SLICE: the visited input elements in row-major order.
pub fn strided_slice_16<I, O>(
    p: &StridedSliceParams,
    input: &I,
    output: &mut O,
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    let counts = p.check(input.count(), output.count())?;
    if num_elements(&counts) == 0 {
        return Ok(());
    }
    let in_stride = strides(&p.input_shape);
    let mut index = [0usize; MAX_DIMS];
    for o in 0..output.count() {
        // check() keeps every visited coordinate inside the input.
        let mut at = 0isize;
        for d in 0..MAX_DIMS {
            let c = p.start[d] as isize + index[d] as isize * p.stride[d] as isize;
            at += c * in_stride[d] as isize;
        }
        output.put(o, input.at(at as usize));
        for d in (0..MAX_DIMS).rev() {
            index[d] += 1;
            if index[d] < counts[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(())
}

/// int16 CONCATENATION of one input: writes its `outer` blocks into the
/// output's, each `offset` values into the output's block (`offset` = the
/// earlier inputs' block sizes summed). Calling it for every input in
/// order is TFLM's copy; [`ConcatParams::check`] checks all lengths at once.
pub fn concat_part_16<I, O>(
    p: &ConcatParams,
    offset: usize,
    input: &I,
    output: &mut O,
) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    if p.outer.saturating_mul(p.inner) == 0 {
        // Every buffer is empty.
        check_len("concatenation input", 0, input.count())?;
        return check_len("concatenation output", 0, output.count());
    }
    let bad = KernelError::InvalidParams;
    if !input.count().is_multiple_of(p.outer) || !output.count().is_multiple_of(p.outer) {
        return Err(bad("concatenation buffer is not a whole number of blocks"));
    }
    let (in_block, out_block) = (input.count() / p.outer, output.count() / p.outer);
    if offset
        .checked_add(in_block)
        .is_none_or(|end| end > out_block)
    {
        return Err(bad("concatenation input runs past the output block"));
    }
    for k in 0..p.outer {
        for i in 0..in_block {
            output.put(k * out_block + offset + i, input.at(k * in_block + i));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::{Rng, requant};
    use crate::elementwise::{prepare_add_shifted, prepare_mul, prepare_sub_shifted};
    use crate::fixedpoint::Activation;
    use crate::pad::{pad_with, prepare_pad};
    use crate::quantize::prepare_requantize;
    use crate::slice::{prepare_strided_slice, strided_slice};
    use crate::unary::prepare_leaky_relu;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// int16 test data with both extremes among uniform values.
    fn i16s(rng: &mut Rng, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| match i % 7 {
                0 => i16::MIN,
                1 => i16::MAX,
                _ => rng.range(-32768, 32767) as i16,
            })
            .collect()
    }

    /// Arena-style little-endian pairs of `v`.
    fn pairs(v: &[i16]) -> Vec<[u8; 2]> {
        v.iter().map(|x| x.to_le_bytes()).collect()
    }

    fn shapes() -> impl Strategy<Value = (Shape, Shape, Shape)> {
        (
            0usize..=MAX_DIMS,
            proptest::collection::vec((1usize..=3, 0u8..4), MAX_DIMS),
        )
            .prop_map(|(rank, dims)| {
                let (mut s1, mut s2, mut so) = ([1; MAX_DIMS], [1; MAX_DIMS], [1; MAX_DIMS]);
                for d in MAX_DIMS - rank..MAX_DIMS {
                    let (n, how) = dims[d];
                    so[d] = n;
                    s1[d] = if how == 1 { 1 } else { n };
                    s2[d] = if how == 2 { 1 } else { n };
                }
                (s1, s2, so)
            })
    }

    /// The flat index of `coord` in `shape`, broadcasting dims of size 1.
    fn index_of(shape: &Shape, coord: &[usize; MAX_DIMS]) -> usize {
        (0..MAX_DIMS).fold(0, |at, d| {
            at * shape[d] + if shape[d] == 1 { 0 } else { coord[d] }
        })
    }

    /// The coordinates of flat output index `o`.
    fn coord_of(shape: &Shape, mut o: usize) -> [usize; MAX_DIMS] {
        let mut c = [0; MAX_DIMS];
        for d in (0..MAX_DIMS).rev() {
            c[d] = o % shape[d];
            o /= shape[d];
        }
        c
    }

    /// TFLM's int16 ADD/SUB from its definition, in i64 with the
    /// independent `requant` (every shift here is a right shift).
    fn ref_add_sub(p: &AddSubParams, sub: bool, x: i16, y: i16) -> i16 {
        let a = (i64::from(x) + i64::from(p.input1_offset)) << 15;
        let b = (i64::from(y) + i64::from(p.input2_offset)) << 15;
        let a = requant(a, p.input1_multiplier, p.input1_shift);
        let b = requant(b, p.input2_multiplier, p.input2_shift);
        let raw = if sub { a - b } else { a + b };
        let v = requant(raw, p.output_multiplier, p.output_shift) + i64::from(p.output_offset);
        v.clamp(i64::from(p.act_min), i64::from(p.act_max)) as i16
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn add_sub_matches_reference(
            (s1, s2, so) in shapes(),
            sub: bool,
            scales in proptest::array::uniform3(1e-5f32..0.05),
            zps in proptest::array::uniform3(-300i32..=300),
            symmetric: bool,
            act in 0usize..4,
            seed: u64,
        ) {
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let zp = |i: usize| if symmetric { 0 } else { zps[i] };
            let q = |i: usize| (scales[i], zp(i));
            let prepare = if sub { prepare_sub_shifted } else { prepare_add_shifted };
            let p = match prepare(q(0), q(1), q(2), act, WIDE_ADD_SUB_LEFT_SHIFT, I16_RANGE) {
                Ok(p) => p,
                // Scale ratios TFLM refuses too (a multiplier rounding to 1).
                Err(_) => return Ok(()),
            };
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, num_elements(&s1));
            let y = i16s(&mut rng, num_elements(&s2));
            let shapes = WideBroadcast { shape1: s1, shape2: s2, out_shape: so };
            let mut out = vec![[0u8; 2]; num_elements(&so)];
            // Mixed views: a model input as [i16], an arena operand as pairs.
            prop_assert_eq!(add_sub_16(&p, sub, Some(&shapes), &x[..], &pairs(&y)[..], &mut out[..]), Ok(()));
            for (o, got) in out.iter().enumerate() {
                let c = coord_of(&so, o);
                let want = ref_add_sub(&p, sub, x[index_of(&s1, &c)], y[index_of(&s2, &c)]);
                prop_assert_eq!(i16::from_le_bytes(*got), want, "at {:?}", c);
            }
            // The same-shape path on full inputs.
            let (xf, yf) = (i16s(&mut rng, out.len()), i16s(&mut rng, out.len()));
            let mut flat = vec![0i16; out.len()];
            prop_assert_eq!(add_sub_16(&p, sub, None, &xf[..], &yf[..], &mut flat[..]), Ok(()));
            for ((&got, &a), &b) in flat.iter().zip(&xf).zip(&yf) {
                prop_assert_eq!(got, ref_add_sub(&p, sub, a, b));
            }
        }

        #[test]
        fn mul_matches_reference(
            (s1, s2, so) in shapes(),
            scales in proptest::array::uniform3(1e-5f32..0.05),
            relu: bool,
            seed: u64,
        ) {
            let act = if relu { Activation::Relu } else { Activation::None };
            let mut p = prepare_mul((scales[0], 0), (scales[1], 0), (scales[2], 0), act);
            p.act_min = if relu { 0 } else { -32768 };
            p.act_max = 32767;
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, num_elements(&s1));
            let y = i16s(&mut rng, num_elements(&s2));
            let shapes = WideBroadcast { shape1: s1, shape2: s2, out_shape: so };
            let mut out = vec![[0i8; 2]; num_elements(&so)];
            prop_assert_eq!(mul_16(&p, Some(&shapes), &pairs(&x)[..], &y[..], &mut out[..]), Ok(()));
            for o in 0..out.len() {
                let c = coord_of(&so, o);
                let prod = i64::from(x[index_of(&s1, &c)]) * i64::from(y[index_of(&s2, &c)]);
                let want = requant(prod, p.output_multiplier, p.output_shift)
                    .clamp(i64::from(p.act_min), i64::from(p.act_max));
                prop_assert_eq!(i64::from(out[..].at(o)), want, "at {:?}", c);
            }
        }

        #[test]
        fn leaky_relu_matches_reference(
            scales in proptest::array::uniform2(1e-5f32..0.05),
            alpha in -2.0f32..2.0,
            zps in proptest::array::uniform2(-100i32..=100),
            seed: u64,
        ) {
            let p = prepare_leaky_relu(scales[0], zps[0], scales[1], zps[1], alpha).expect("prepare");
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, 64);
            let mut out = [[0i8; 2]; 64];
            prop_assert_eq!(leaky_relu_16(&p, &x[..], &mut out[..]), Ok(()));
            for (i, &v) in x.iter().enumerate() {
                let d = i64::from(v) - i64::from(p.input_zero_point);
                let (m, s) = if d >= 0 {
                    (p.output_multiplier_identity, p.output_shift_identity)
                } else {
                    (p.output_multiplier_alpha, p.output_shift_alpha)
                };
                let want = (requant(d, m, s) + i64::from(p.output_zero_point)).clamp(-32768, 32767);
                prop_assert_eq!(i64::from(out[..].at(i)), want);
            }
        }

        #[test]
        fn requantize_matches_reference(
            scales in proptest::array::uniform2(1e-5f32..1.0),
            zps in proptest::array::uniform2(-128i32..=127),
            seed: u64,
        ) {
            let p = prepare_requantize(scales[0], zps[0], scales[1], zps[1]);
            let reference = |x: i64, (lo, hi): (i64, i64)| {
                (requant(x - i64::from(p.input_zero_point), p.multiplier, p.shift)
                    + i64::from(p.output_zero_point)).clamp(lo, hi)
            };
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, 50);
            let mut wide = [0i16; 50];
            prop_assert_eq!(requantize_i16_to_i16(&p, &pairs(&x)[..], &mut wide[..]), Ok(()));
            let mut narrow = vec![0i8; 50];
            prop_assert_eq!(requantize_i16_to_i8(&p, &x[..], &mut narrow), Ok(()));
            for ((&w, &n), &v) in wide.iter().zip(&narrow).zip(&x) {
                prop_assert_eq!(i64::from(w), reference(i64::from(v), (-32768, 32767)));
                prop_assert_eq!(i64::from(n), reference(i64::from(v), (-128, 127)));
            }
            let bytes: Vec<i8> = (-128..=127).collect();
            let mut up = vec![[0u8; 2]; 256];
            prop_assert_eq!(requantize_i8_to_i16(&p, &bytes, &mut up[..]), Ok(()));
            for (i, &b) in bytes.iter().enumerate() {
                prop_assert_eq!(i64::from(up[..].at(i)), reference(i64::from(b), (-32768, 32767)));
            }
        }

        #[test]
        fn pad_matches_the_generic_kernel(
            dims in proptest::collection::vec(1usize..4, 1..=4),
            pads in proptest::collection::vec((0i32..3, 0i32..3), 4),
            value: i16,
            seed: u64,
        ) {
            let pairs_: Vec<[i32; 2]> = pads[..dims.len()].iter().map(|&(b, a)| [b, a]).collect();
            let p = prepare_pad(&dims, &pairs_, Some(0), 0).expect("prepare");
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, dims.iter().product());
            let n = num_elements(&p.output_shape());
            let mut want = vec![0i16; n];
            prop_assert_eq!(pad_with(&p, value, &x, &mut want), Ok(()));
            let mut got = vec![[0u8; 2]; n];
            prop_assert_eq!(pad_16(&p, value, &pairs(&x)[..], &mut got[..]), Ok(()));
            prop_assert_eq!(pairs(&want), got);
        }

        #[test]
        fn strided_slice_matches_the_generic_kernel(
            dims in proptest::collection::vec(1usize..6, 1..=4),
            spec in proptest::collection::vec((-6i32..6, -6i32..7, prop_oneof![Just(-2i32), Just(-1), Just(1), Just(2), Just(3)]), 4),
            masks in proptest::array::uniform2(0i32..16),
            seed: u64,
        ) {
            let r = dims.len();
            let begin: Vec<i32> = spec[..r].iter().map(|s| s.0).collect();
            let end: Vec<i32> = spec[..r].iter().map(|s| s.1).collect();
            let strides_: Vec<i32> = spec[..r].iter().map(|s| s.2).collect();
            let Ok((p, _)) = prepare_strided_slice(
                &dims, &begin, &end, &strides_, masks[0], masks[1], 0, 0, 0, false,
            ) else {
                return Ok(());
            };
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, dims.iter().product());
            let n = num_elements(&p.counts());
            let mut want = vec![0i16; n];
            prop_assert_eq!(strided_slice(&p, &x, &mut want), Ok(()));
            let mut got = vec![[0i8; 2]; n];
            prop_assert_eq!(strided_slice_16(&p, &x[..], &mut got[..]), Ok(()));
            for (i, &w) in want.iter().enumerate() {
                prop_assert_eq!(got[..].at(i), w);
            }
        }
    }

    proptest! {
        #[test]
        fn concat_parts_match_the_generic_kernel(
            outer in 0usize..4,
            inner in 1usize..4,
            axes in proptest::collection::vec(0usize..4, 1..5),
            seed: u64,
        ) {
            let p = crate::concat::ConcatParams { outer, inner };
            let mut rng = Rng(seed);
            let parts: Vec<Vec<i16>> = axes.iter().map(|a| i16s(&mut rng, outer * a * inner)).collect();
            let n: usize = parts.iter().map(Vec::len).sum();
            let mut want = vec![0i16; n];
            let views: Vec<&[i16]> = parts.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(crate::concat::concat(&p, &views, &mut want), Ok(()));
            let mut got = vec![[0u8; 2]; n];
            let mut offset = 0;
            for part in &parts {
                prop_assert_eq!(concat_part_16(&p, offset, &part[..], &mut got[..]), Ok(()));
                offset += part.len().checked_div(outer).unwrap_or(0);
            }
            prop_assert_eq!(pairs(&want), got.clone());
            // A part that would run past the output block is refused.
            if outer > 0 {
                prop_assert!(concat_part_16(&p, offset + 1, &parts[0][..], &mut got[..]).is_err()
                    || parts[0].is_empty());
            }
        }
    }

    #[test]
    fn refuses_bad_parameters_and_lengths() {
        let p = prepare_add_shifted(
            (0.01, 0),
            (0.02, 0),
            (0.03, 0),
            Activation::None,
            WIDE_ADD_SUB_LEFT_SHIFT,
            I16_RANGE,
        )
        .expect("prepare");
        let mut out = [0i16; 4];
        assert!(
            add_sub_16(
                &p,
                false,
                None,
                &[0i16; 4][..],
                &[0i16; 3][..],
                &mut out[..]
            )
            .is_err()
        );
        let int8 = AddSubParams {
            left_shift: 20,
            ..p
        };
        assert!(
            add_sub_16(
                &int8,
                false,
                None,
                &[0i16; 4][..],
                &[0i16; 4][..],
                &mut out[..]
            )
            .is_err()
        );
        let clamp = AddSubParams {
            act_max: 40000,
            ..p
        };
        assert!(
            add_sub_16(
                &clamp,
                true,
                None,
                &[0i16; 4][..],
                &[0i16; 4][..],
                &mut out[..]
            )
            .is_err()
        );
        let r = prepare_requantize(0.5, 0, 0.25, 0);
        let wide_zp = RequantizeParams {
            output_zero_point: 40000,
            ..r
        };
        assert!(requantize_i16_to_i16(&wide_zp, &[0i16; 4][..], &mut out[..]).is_err());
        assert!(requantize_i16_to_i16(&r, &[0i16; 3][..], &mut out[..]).is_err());
        let m = prepare_mul((0.1, 0), (0.1, 0), (0.1, 0), Activation::None);
        let offset = MulParams {
            input1_offset: 1,
            act_min: -32768,
            act_max: 32767,
            ..m
        };
        assert!(mul_16(&offset, None, &[0i16; 4][..], &[0i16; 4][..], &mut out[..]).is_err());
    }
}

//! The int16 element-wise and layout ops of 16x8 models (int16 activations,
//! symmetric), as TFLM's int16 reference kernels:
//!
//! * ADD / SUB: TFLM's general path (`AddElementwise`, `SubElementwise` and
//!   their broadcasting loops), the int8 arithmetic with inputs pre-shifted
//!   by 15 bits instead of 20 ([`WIDE_ADD_SUB_LEFT_SHIFT`]) and an int16
//!   clamp. TFLM never takes TFLite's power-of-two int16 path.
//! * LEAKY_RELU: `QuantizeLeakyRelu<int16_t>` (two multipliers).
//! * QUANTIZE between integer types: `Requantize` from int16 to int16 or
//!   int8, and from int8 to int16.
//! * PAD / PADV2 and STRIDED_SLICE: element moves, pad value 0 unless the
//!   model gives one.
//!
//! Every kernel reads and writes int16 through the views of
//! [`crate::int16`] (model I/O as `[i16]`, arena bytes as pairs), each
//! operand with its own view type.

use crate::conv::I16_RANGE;
use crate::elementwise::{AddSubParams, check_broadcast};
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
    match shapes {
        None => {
            check_len("input2", input1, input2)?;
            check_len("output", input1, output)
        }
        Some(s) => check_broadcast(&s.shape1, input1, &s.shape2, input2, &s.out_shape, output),
    }
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

/// int16 ADD or SUB, same shapes (`shapes == None`) or NumPy broadcasting
/// over the shapes of `shapes`.
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
    match shapes {
        None => {
            for i in 0..output.count() {
                output.put(i, add_sub_value(p, input1.at(i), input2.at(i), subtract));
            }
        }
        Some(s) => {
            let s1 = broadcast_strides(&s.shape1, &s.out_shape)?;
            let s2 = broadcast_strides(&s.shape2, &s.out_shape)?;
            // Odometer over the output, tracking both input offsets.
            let mut index = [0usize; MAX_DIMS];
            let (mut i1, mut i2) = (0usize, 0usize);
            for o in 0..output.count() {
                output.put(o, add_sub_value(p, input1.at(i1), input2.at(i2), subtract));
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

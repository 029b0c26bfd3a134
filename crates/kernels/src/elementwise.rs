//! Binary elementwise int8 ops: ADD, SUB (spec 2.12), MUL (2.13), MAXIMUM and
//! MINIMUM, as TFLM's `reference_integer_ops::Add`/`BroadcastAdd6DSlow`,
//! `reference_ops::SubElementwise`/`BroadcastQuantSubSlow`,
//! `reference_integer_ops::Mul`/`BroadcastMul4DSlow` and
//! `reference_ops::MaximumMinimumBroadcastSlow`; and PRELU, as TFLM's
//! `reference_ops::BroadcastPrelu4DSlow` (`input2` is alpha).
//!
//! Each op has a same-shape kernel (`add`, ...: all three buffers have the
//! same length) and a NumPy-broadcasting kernel (`add_broadcast`, ...) over
//! shapes of up to 6 dims in the [`crate::shape`] convention (left-padded
//! with 1s). The broadcasting kernels take the plain loop when both input
//! shapes are equal. TFLM limits MUL broadcasting to 4-D and MAXIMUM/MINIMUM
//! to 5-D; these kernels accept 6-D for all (a superset, same results).

use crate::conv::check_act_range;
use crate::error::{KernelError, check_len};
use crate::fixedpoint::{
    Activation, activation_range, clamp_to_i8, mbqm, mbqm_smaller_than_one, quantize_multiplier,
};
use crate::shape::{MAX_DIMS, Shape, broadcast_shape, broadcast_strides, num_elements};

/// Folded quantization of ADD or SUB (TFLM's `OpDataAdd` / `OpDataSub`).
/// All shifts are `<= 0` (right shifts), as `QuantizeMultiplierSmallerThanOneExp`
/// produces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddSubParams {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Pre-scaling of both inputs, 20 for int8.
    pub left_shift: i32,
    /// Q31 multiplier of input 1.
    pub input1_multiplier: i32,
    /// Exponent (<= 0) of input 1's multiplier.
    pub input1_shift: i32,
    /// Q31 multiplier of input 2.
    pub input2_multiplier: i32,
    /// Exponent (<= 0) of input 2's multiplier.
    pub input2_shift: i32,
    /// Q31 multiplier of the output.
    pub output_multiplier: i32,
    /// Exponent (<= 0) of the output multiplier.
    pub output_shift: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Folded quantization of MUL (TFLM's `OpDataMul`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulParams {
    /// `-input1_zero_point`.
    pub input1_offset: i32,
    /// `-input2_zero_point`.
    pub input2_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Q31 multiplier for `s1 * s2 / s_out`.
    pub output_multiplier: i32,
    /// Its exponent, positive = left shift.
    pub output_shift: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Folded quantization of PRELU (TFLM's `PreluParams`): a non-negative
/// input is rescaled alone, a negative one times alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreluParams {
    /// `-input_zero_point`.
    pub input_offset: i32,
    /// `-alpha_zero_point`.
    pub alpha_offset: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Q31 multiplier for `s_in / s_out` (inputs >= 0).
    pub identity_multiplier: i32,
    /// Its exponent, positive = left shift.
    pub identity_shift: i32,
    /// Q31 multiplier for `s_in * s_alpha / s_out` (inputs < 0).
    pub alpha_multiplier: i32,
    /// Its exponent, positive = left shift.
    pub alpha_shift: i32,
}

/// Left shift TFLM applies to int8 ADD/SUB inputs before rescaling.
const ADD_SUB_LEFT_SHIFT: i32 = 20;

/// `QuantizeMultiplierSmallerThanOneExp`: TFLM CHECK-fails (aborts) unless
/// `0 < m < 1` and the resulting shift is `<= 0`; here that is an error.
fn quantize_multiplier_smaller_than_one(m: f64) -> Result<(i32, i32), KernelError> {
    if !(m > 0.0 && m < 1.0) {
        return Err(KernelError::InvalidParams(
            "ADD/SUB multiplier must be in (0, 1): check the scales",
        ));
    }
    let (q, shift) = quantize_multiplier(m);
    if shift > 0 {
        return Err(KernelError::InvalidParams(
            "ADD/SUB multiplier rounds up to 1",
        ));
    }
    Ok((q, shift))
}

/// Builds the ADD/SUB params from the three real multipliers.
fn add_sub_params(
    reals: [f64; 3],
    zero_points: [i32; 3],
    (output_scale, activation): (f32, Activation),
    (left_shift, (qmin, qmax)): (i32, (i32, i32)),
) -> Result<AddSubParams, KernelError> {
    let (input1_multiplier, input1_shift) = quantize_multiplier_smaller_than_one(reals[0])?;
    let (input2_multiplier, input2_shift) = quantize_multiplier_smaller_than_one(reals[1])?;
    let (output_multiplier, output_shift) = quantize_multiplier_smaller_than_one(reals[2])?;
    let (act_min, act_max) = activation_range(activation, output_scale, zero_points[2], qmin, qmax);
    Ok(AddSubParams {
        input1_offset: -zero_points[0],
        input2_offset: -zero_points[1],
        output_offset: zero_points[2],
        left_shift,
        input1_multiplier,
        input1_shift,
        input2_multiplier,
        input2_shift,
        output_multiplier,
        output_shift,
        act_min,
        act_max,
    })
}

/// Host side: ADD params as TFLM's `CalculateOpDataAdd` (all in **double**):
/// `twice_max = 2 * (f64)max(s1, s2)`, `real_i = (f64)s_i / twice_max`,
/// `real_out = twice_max / (2^20 * (f64)s_out)`.
pub fn prepare_add(
    input1: (f32, i32),
    input2: (f32, i32),
    output: (f32, i32),
    activation: Activation,
) -> Result<AddSubParams, KernelError> {
    prepare_add_shifted(
        input1,
        input2,
        output,
        activation,
        ADD_SUB_LEFT_SHIFT,
        crate::conv::I8_RANGE,
    )
}

/// [`prepare_add`] for inputs pre-shifted by `left_shift` bits and an output
/// type of range `qrange` (int16: 15 and the int16 range, as TFLM).
pub fn prepare_add_shifted(
    (input1_scale, input1_zero_point): (f32, i32),
    (input2_scale, input2_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
    left_shift: i32,
    qrange: (i32, i32),
) -> Result<AddSubParams, KernelError> {
    let twice_max = 2.0 * f64::from(input1_scale.max(input2_scale));
    let real1 = f64::from(input1_scale) / twice_max;
    let real2 = f64::from(input2_scale) / twice_max;
    let real_out = twice_max / (f64::from(1i32 << left_shift) * f64::from(output_scale));
    add_sub_params(
        [real1, real2, real_out],
        [input1_zero_point, input2_zero_point, output_zero_point],
        (output_scale, activation),
        (left_shift, qrange),
    )
}

/// Host side: SUB params as TFLM's `CalculateOpDataSub`, which (unlike ADD)
/// computes in **float**: `twice_max = 2 * max(s1, s2)`,
/// `real_i = (f64)(s_i / twice_max)`, `real_out = (f64)(twice_max / (2^20 * s_out))`.
pub fn prepare_sub(
    input1: (f32, i32),
    input2: (f32, i32),
    output: (f32, i32),
    activation: Activation,
) -> Result<AddSubParams, KernelError> {
    prepare_sub_shifted(
        input1,
        input2,
        output,
        activation,
        ADD_SUB_LEFT_SHIFT,
        crate::conv::I8_RANGE,
    )
}

/// [`prepare_sub`] for inputs pre-shifted by `left_shift` bits and an output
/// type of range `qrange` (int16: 15 and the int16 range, as TFLM).
pub fn prepare_sub_shifted(
    (input1_scale, input1_zero_point): (f32, i32),
    (input2_scale, input2_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
    left_shift: i32,
    qrange: (i32, i32),
) -> Result<AddSubParams, KernelError> {
    let twice_max = 2.0 * input1_scale.max(input2_scale);
    let real1 = f64::from(input1_scale / twice_max);
    let real2 = f64::from(input2_scale / twice_max);
    let real_out = f64::from(twice_max / ((1i32 << left_shift) as f32 * output_scale));
    add_sub_params(
        [real1, real2, real_out],
        [input1_zero_point, input2_zero_point, output_zero_point],
        (output_scale, activation),
        (left_shift, qrange),
    )
}

/// Host side: MUL params as TFLM's `CalculateOpDataMul`:
/// `QuantizeMultiplier((f64)s1 * (f64)s2 / (f64)s_out)` (may shift left).
pub fn prepare_mul(
    (input1_scale, input1_zero_point): (f32, i32),
    (input2_scale, input2_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> MulParams {
    let real = f64::from(input1_scale) * f64::from(input2_scale) / f64::from(output_scale);
    let (output_multiplier, output_shift) = quantize_multiplier(real);
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    MulParams {
        input1_offset: -input1_zero_point,
        input2_offset: -input2_zero_point,
        output_offset: output_zero_point,
        output_multiplier,
        output_shift,
        act_min,
        act_max,
    }
}

/// Host side: PRELU params as TFLM's `CalculatePreluParams` (in double):
/// `QuantizeMultiplier(s_in / s_out)` and `QuantizeMultiplier(s_in * s_alpha / s_out)`.
pub fn prepare_prelu(
    (input_scale, input_zero_point): (f32, i32),
    (alpha_scale, alpha_zero_point): (f32, i32),
    (output_scale, output_zero_point): (f32, i32),
) -> PreluParams {
    let identity = f64::from(input_scale) / f64::from(output_scale);
    let alpha = f64::from(input_scale) * f64::from(alpha_scale) / f64::from(output_scale);
    let (identity_multiplier, identity_shift) = quantize_multiplier(identity);
    let (alpha_multiplier, alpha_shift) = quantize_multiplier(alpha);
    PreluParams {
        input_offset: -input_zero_point,
        alpha_offset: -alpha_zero_point,
        output_offset: output_zero_point,
        identity_multiplier,
        identity_shift,
        alpha_multiplier,
        alpha_shift,
    }
}

impl PreluParams {
    /// What PRELU checks of its parameters: shifts the fixed-point helpers handle.
    pub fn check(&self) -> Result<(), KernelError> {
        if !(-31..=31).contains(&self.identity_shift) || !(-31..=31).contains(&self.alpha_shift) {
            return Err(KernelError::InvalidParams("PRELU shift outside -31..=31"));
        }
        Ok(())
    }
}

impl AddSubParams {
    /// What ADD and SUB check of their parameters: the clamp, and shifts
    /// in the ranges the fixed-point helpers handle.
    pub fn check(&self) -> Result<(), KernelError> {
        check_act_range(self.act_min, self.act_max)?;
        let right = |s: i32| (-31..=0).contains(&s);
        if !(0..=30).contains(&self.left_shift)
            || !right(self.input1_shift)
            || !right(self.input2_shift)
            || !right(self.output_shift)
        {
            return Err(KernelError::InvalidParams(
                "ADD/SUB shifts out of range (left 0..=30, others -31..=0)",
            ));
        }
        Ok(())
    }
}

impl MulParams {
    /// What MUL checks of its parameters: the clamp and the shift range.
    pub fn check(&self) -> Result<(), KernelError> {
        check_act_range(self.act_min, self.act_max)?;
        if !(-31..=31).contains(&self.output_shift) {
            return Err(KernelError::InvalidParams("MUL shift outside -31..=31"));
        }
        Ok(())
    }
}

/// The buffer lengths (in elements) every same-shape binary kernel checks:
/// all three equal.
pub fn check_same_shape(input1: usize, input2: usize, output: usize) -> Result<(), KernelError> {
    check_len("input2", input1, input2)?;
    check_len("output", input1, output)
}

/// What every broadcasting binary kernel checks: each buffer holds its
/// shape's elements and `out_shape` is the broadcast of the input shapes.
pub fn check_broadcast(
    shape1: &Shape,
    input1: usize,
    shape2: &Shape,
    input2: usize,
    out_shape: &Shape,
    output: usize,
) -> Result<(), KernelError> {
    check_len("input1", num_elements(shape1), input1)?;
    check_len("input2", num_elements(shape2), input2)?;
    check_len("output", num_elements(out_shape), output)?;
    if broadcast_shape(shape1, shape2)? != *out_shape {
        return Err(KernelError::InvalidParams(
            "output shape is not the broadcast of the input shapes",
        ));
    }
    Ok(())
}

/// Both ADD/SUB inputs, offset, pre-shifted by `left_shift` and rescaled to
/// the common scale. C++ int32 arithmetic, wrapping instead of UB.
#[inline]
fn add_sub_inputs(p: &AddSubParams, x: i8, y: i8) -> (i32, i32) {
    let pre = 1i32 << p.left_shift;
    let a = i32::from(x).wrapping_add(p.input1_offset).wrapping_mul(pre);
    let b = i32::from(y).wrapping_add(p.input2_offset).wrapping_mul(pre);
    (
        mbqm_smaller_than_one(a, p.input1_multiplier, p.input1_shift),
        mbqm_smaller_than_one(b, p.input2_multiplier, p.input2_shift),
    )
}

/// Rescales an ADD/SUB raw result to the output and clamps it.
#[inline]
fn add_sub_output(p: &AddSubParams, raw: i32) -> i8 {
    let v = mbqm_smaller_than_one(raw, p.output_multiplier, p.output_shift)
        .wrapping_add(p.output_offset);
    clamp_to_i8(v, p.act_min, p.act_max)
}

#[inline]
fn add_one(p: &AddSubParams, x: i8, y: i8) -> i8 {
    let (a, b) = add_sub_inputs(p, x, y);
    add_sub_output(p, a.wrapping_add(b))
}

#[inline]
fn sub_one(p: &AddSubParams, x: i8, y: i8) -> i8 {
    let (a, b) = add_sub_inputs(p, x, y);
    add_sub_output(p, a.wrapping_sub(b))
}

#[inline]
fn mul_one(p: &MulParams, x: i8, y: i8) -> i8 {
    let a = i32::from(x).wrapping_add(p.input1_offset);
    let b = i32::from(y).wrapping_add(p.input2_offset);
    let v =
        mbqm(a.wrapping_mul(b), p.output_multiplier, p.output_shift).wrapping_add(p.output_offset);
    clamp_to_i8(v, p.act_min, p.act_max)
}

#[inline]
fn prelu_one(p: &PreluParams, x: i8, alpha: i8) -> i8 {
    let x = i32::from(x).wrapping_add(p.input_offset);
    let v = if x >= 0 {
        mbqm(x, p.identity_multiplier, p.identity_shift)
    } else {
        let a = i32::from(alpha).wrapping_add(p.alpha_offset);
        mbqm(x.wrapping_mul(a), p.alpha_multiplier, p.alpha_shift)
    };
    clamp_to_i8(v.wrapping_add(p.output_offset), -128, 127)
}

/// Applies `f` elementwise over equal-length buffers (int8 or float32).
#[inline]
pub(crate) fn same_shape<T: Copy>(
    input1: &[T],
    input2: &[T],
    output: &mut [T],
    f: impl Fn(T, T) -> T,
) -> Result<(), KernelError> {
    check_same_shape(input1.len(), input2.len(), output.len())?;
    for ((o, &x), &y) in output.iter_mut().zip(input1).zip(input2) {
        *o = f(x, y);
    }
    Ok(())
}

/// Applies `f` with NumPy broadcasting: `out_shape` must be the broadcast of
/// `shape1` and `shape2`. Walks the output row by row (last dim innermost),
/// tracking both input offsets with stride 0 on broadcast dims.
#[inline]
pub(crate) fn broadcast<T: Copy>(
    shape1: &Shape,
    input1: &[T],
    shape2: &Shape,
    input2: &[T],
    out_shape: &Shape,
    output: &mut [T],
    f: impl Fn(T, T) -> T,
) -> Result<(), KernelError> {
    check_broadcast(
        shape1,
        input1.len(),
        shape2,
        input2.len(),
        out_shape,
        output.len(),
    )?;
    if shape1 == shape2 {
        return same_shape(input1, input2, output, f);
    }
    let s1 = broadcast_strides(shape1, out_shape)?;
    let s2 = broadcast_strides(shape2, out_shape)?;
    let last = MAX_DIMS - 1;
    let inner = out_shape[last];
    if inner == 0 || output.is_empty() {
        return Ok(());
    }
    // Odometer over the outer dims; i1/i2 are the row starts in the inputs.
    let mut index = [0usize; MAX_DIMS - 1];
    let (mut i1, mut i2) = (0usize, 0usize);
    for row in output.chunks_exact_mut(inner) {
        match (s1[last], s2[last]) {
            (0, 0) => row.fill(f(input1[i1], input2[i2])),
            (0, _) => {
                let x = input1[i1];
                for (o, &y) in row.iter_mut().zip(&input2[i2..i2 + inner]) {
                    *o = f(x, y);
                }
            }
            (_, 0) => {
                let y = input2[i2];
                for (o, &x) in row.iter_mut().zip(&input1[i1..i1 + inner]) {
                    *o = f(x, y);
                }
            }
            _ => {
                let xs = &input1[i1..i1 + inner];
                let ys = &input2[i2..i2 + inner];
                for ((o, &x), &y) in row.iter_mut().zip(xs).zip(ys) {
                    *o = f(x, y);
                }
            }
        }
        // Advance to the next row: bump the innermost outer dim, carrying.
        for d in (0..last).rev() {
            index[d] += 1;
            i1 += s1[d];
            i2 += s2[d];
            if index[d] < out_shape[d] {
                break;
            }
            index[d] = 0;
            i1 -= s1[d] * out_shape[d];
            i2 -= s2[d] * out_shape[d];
        }
    }
    Ok(())
}

/// ADD int8, same shapes (all buffers of equal length).
pub fn add(
    p: &AddSubParams,
    input1: &[i8],
    input2: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    same_shape(input1, input2, output, |x, y| add_one(p, x, y))
}

/// ADD int8 with broadcasting (shapes per [`crate::shape`]).
pub fn add_broadcast(
    p: &AddSubParams,
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        add_one(p, x, y)
    })
}

/// SUB int8 (`input1 - input2`), same shapes.
pub fn sub(
    p: &AddSubParams,
    input1: &[i8],
    input2: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    same_shape(input1, input2, output, |x, y| sub_one(p, x, y))
}

/// SUB int8 (`input1 - input2`) with broadcasting.
pub fn sub_broadcast(
    p: &AddSubParams,
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        sub_one(p, x, y)
    })
}

/// MUL int8, same shapes.
pub fn mul(
    p: &MulParams,
    input1: &[i8],
    input2: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    same_shape(input1, input2, output, |x, y| mul_one(p, x, y))
}

/// MUL int8 with broadcasting.
pub fn mul_broadcast(
    p: &MulParams,
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        mul_one(p, x, y)
    })
}

/// MAXIMUM int8 on raw codes, same shapes. TFLM has no prepare for this op
/// and checks no quantization params (the converter gives inputs and output
/// the same ones) and there is no fused activation.
pub fn maximum(input1: &[i8], input2: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    same_shape(input1, input2, output, |x, y| x.max(y))
}

/// MAXIMUM int8 on raw codes with broadcasting.
pub fn maximum_broadcast(
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        x.max(y)
    })
}

/// MINIMUM int8 on raw codes, same shapes (see [`maximum`]).
pub fn minimum(input1: &[i8], input2: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    same_shape(input1, input2, output, |x, y| x.min(y))
}

/// MINIMUM int8 on raw codes with broadcasting.
pub fn minimum_broadcast(
    shape1: &Shape,
    input1: &[i8],
    shape2: &Shape,
    input2: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    broadcast(shape1, input1, shape2, input2, out_shape, output, |x, y| {
        x.min(y)
    })
}

/// PRELU int8 (`input2` is alpha), same shapes.
pub fn prelu(
    p: &PreluParams,
    input: &[i8],
    alpha: &[i8],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    same_shape(input, alpha, output, |x, a| prelu_one(p, x, a))
}

/// PRELU int8 with broadcasting (alpha usually `[1,1,C]` against `[1,H,W,C]`).
pub fn prelu_broadcast(
    p: &PreluParams,
    shape1: &Shape,
    input: &[i8],
    shape2: &Shape,
    alpha: &[i8],
    out_shape: &Shape,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check()?;
    broadcast(shape1, input, shape2, alpha, out_shape, output, |x, a| {
        prelu_one(p, x, a)
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::conv::test_ref::{Rng, clamp, requant};
    use crate::shape::pad_shape;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Add,
        Sub,
        Mul,
        Max,
        Min,
        Prelu,
    }

    /// The parameters of every op under test.
    struct P {
        a: AddSubParams,
        m: MulParams,
        pr: PreluParams,
    }

    /// Exact per-element reference: every rescale through the independent
    /// wide-integer `requant` (shift <= 0 is exactly SmallerThanOneExp).
    fn ref_one(op: Op, p: &P, x: i8, y: i8) -> i8 {
        let (a, m, pr) = (&p.a, &p.m, &p.pr);
        match op {
            Op::Add | Op::Sub => {
                let xa = (i64::from(x) + i64::from(a.input1_offset)) << a.left_shift;
                let yb = (i64::from(y) + i64::from(a.input2_offset)) << a.left_shift;
                let xs = requant(xa, a.input1_multiplier, a.input1_shift);
                let ys = requant(yb, a.input2_multiplier, a.input2_shift);
                let raw = if matches!(op, Op::Add) {
                    xs + ys
                } else {
                    xs - ys
                };
                let v =
                    requant(raw, a.output_multiplier, a.output_shift) + i64::from(a.output_offset);
                clamp(v, a.act_min, a.act_max)
            }
            Op::Mul => {
                let prod = (i64::from(x) + i64::from(m.input1_offset))
                    * (i64::from(y) + i64::from(m.input2_offset));
                let v =
                    requant(prod, m.output_multiplier, m.output_shift) + i64::from(m.output_offset);
                clamp(v, m.act_min, m.act_max)
            }
            Op::Max => x.max(y),
            Op::Min => x.min(y),
            Op::Prelu => {
                let xi = i64::from(x) + i64::from(pr.input_offset);
                let v = if xi >= 0 {
                    requant(xi, pr.identity_multiplier, pr.identity_shift)
                } else {
                    let alpha = i64::from(y) + i64::from(pr.alpha_offset);
                    requant(xi * alpha, pr.alpha_multiplier, pr.alpha_shift)
                };
                clamp(v + i64::from(pr.output_offset), -128, 127)
            }
        }
    }

    /// Reference broadcasting by modular indexing over the output.
    #[allow(clippy::too_many_arguments)]
    fn ref_broadcast(
        op: Op,
        p: &P,
        s1: &Shape,
        x: &[i8],
        s2: &Shape,
        y: &[i8],
        so: &Shape,
    ) -> Vec<i8> {
        let total: usize = so.iter().product();
        let mut out = Vec::with_capacity(total);
        for flat in 0..total {
            let mut rem = flat;
            let mut idx = [0usize; MAX_DIMS];
            for d in (0..MAX_DIMS).rev() {
                idx[d] = rem % so[d];
                rem /= so[d];
            }
            let offset = |s: &Shape| idx.iter().zip(s).fold(0, |acc, (&i, &n)| acc * n + i % n);
            out.push(ref_one(op, p, x[offset(s1)], y[offset(s2)]));
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        op: Op,
        p: &P,
        s1: &Shape,
        x: &[i8],
        s2: &Shape,
        y: &[i8],
        so: &Shape,
        out: &mut [i8],
    ) -> Result<(), KernelError> {
        match op {
            Op::Add => add_broadcast(&p.a, s1, x, s2, y, so, out),
            Op::Sub => sub_broadcast(&p.a, s1, x, s2, y, so, out),
            Op::Mul => mul_broadcast(&p.m, s1, x, s2, y, so, out),
            Op::Max => maximum_broadcast(s1, x, s2, y, so, out),
            Op::Min => minimum_broadcast(s1, x, s2, y, so, out),
            Op::Prelu => prelu_broadcast(&p.pr, s1, x, s2, y, so, out),
        }
    }

    fn run_flat(op: Op, p: &P, x: &[i8], y: &[i8], out: &mut [i8]) -> Result<(), KernelError> {
        match op {
            Op::Add => add(&p.a, x, y, out),
            Op::Sub => sub(&p.a, x, y, out),
            Op::Mul => mul(&p.m, x, y, out),
            Op::Max => maximum(x, y, out),
            Op::Min => minimum(x, y, out),
            Op::Prelu => prelu(&p.pr, x, y, out),
        }
    }

    #[test]
    fn prepare_add_known_values() {
        let p = prepare_add((0.5, 3), (0.25, -4), (0.5, 1), Activation::None)
            .unwrap_or_else(|e| panic!("{e}"));
        // real1 = 0.5, real2 = 0.25, real_out = 1 / (2^20 * 0.5) = 2^-19.
        assert_eq!((p.input1_multiplier, p.input1_shift), (1 << 30, 0));
        assert_eq!((p.input2_multiplier, p.input2_shift), (1 << 30, -1));
        assert_eq!((p.output_multiplier, p.output_shift), (1 << 30, -18));
        assert_eq!(
            (
                p.input1_offset,
                p.input2_offset,
                p.output_offset,
                p.left_shift
            ),
            (-3, 4, 1, 20)
        );
        // 0.5*(10-3) + 0.25*(8+4) = 6.5 -> /0.5 = 13 -> + zp 1
        let mut out = [0i8];
        assert_eq!(add(&p, &[10], &[8], &mut out), Ok(()));
        assert_eq!(out, [14]);
    }

    #[test]
    fn prepare_rejects_what_tflm_check_fails_on() {
        // real_out = 2 * max / (2^20 * out) >= 1 when the output scale is tiny.
        assert!(prepare_add((1.0, 0), (1.0, 0), (1.0e-7, 0), Activation::None).is_err());
        assert!(prepare_sub((1.0, 0), (1.0, 0), (1.0e-7, 0), Activation::None).is_err());
        assert!(prepare_add((0.0, 0), (1.0, 0), (1.0, 0), Activation::None).is_err());
        assert!(prepare_add((f32::NAN, 0), (1.0, 0), (1.0, 0), Activation::None).is_err());
    }

    #[test]
    fn sub_prepares_in_float_add_in_double() {
        let mut rng = Rng(11);
        let mut differs = false;
        for _ in 0..20_000 {
            let s = [0, 1, 2].map(|_| rng.range(1, 1 << 24) as f32 * 1e-9);
            let sub_p = prepare_sub((s[0], 0), (s[1], 0), (s[2], 0), Activation::None);
            let add_p = prepare_add((s[0], 0), (s[1], 0), (s[2], 0), Activation::None);
            let (Ok(sub_p), Ok(add_p)) = (sub_p, add_p) else {
                continue;
            };
            let tm = 2.0 * s[0].max(s[1]);
            let want_out = quantize_multiplier(f64::from(tm / (1048576.0 * s[2])));
            assert_eq!((sub_p.output_multiplier, sub_p.output_shift), want_out);
            let want1 = quantize_multiplier(f64::from(s[0] / tm));
            assert_eq!((sub_p.input1_multiplier, sub_p.input1_shift), want1);
            differs |= sub_p != add_p;
        }
        assert!(differs, "float and double derivations never differed");
    }

    #[test]
    fn prepare_mul_uses_double() {
        let p = prepare_mul((0.02, 1), (0.03, -2), (0.0001, 5), Activation::Relu);
        let want = quantize_multiplier(0.02f32 as f64 * 0.03f32 as f64 / 0.0001f32 as f64);
        assert_eq!((p.output_multiplier, p.output_shift), want);
        assert!(p.output_shift > 0);
        assert_eq!(
            (p.input1_offset, p.input2_offset, p.output_offset, p.act_min),
            (-1, 2, 5, 5)
        );
    }

    #[test]
    fn errors() {
        let a = prepare_add((0.1, 0), (0.1, 0), (0.1, 0), Activation::None)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = |d: &[usize]| pad_shape(d).unwrap_or_else(|e| panic!("{e}"));
        let mut out = [0i8; 6];
        assert!(add(&a, &[0; 6], &[0; 5], &mut out).is_err());
        assert!(maximum(&[0; 6], &[0; 6], &mut out[..5]).is_err());
        assert_eq!(
            add_broadcast(
                &a,
                &s(&[2, 3]),
                &[0; 6],
                &s(&[3]),
                &[0; 3],
                &s(&[2, 3]),
                &mut out
            ),
            Ok(())
        );
        // wrong output shape, incompatible shapes, wrong lengths
        assert!(
            add_broadcast(
                &a,
                &s(&[2, 3]),
                &[0; 6],
                &s(&[3]),
                &[0; 3],
                &s(&[3, 2]),
                &mut out
            )
            .is_err()
        );
        assert!(
            add_broadcast(
                &a,
                &s(&[2, 3]),
                &[0; 6],
                &s(&[2]),
                &[0; 2],
                &s(&[2, 3]),
                &mut out
            )
            .is_err()
        );
        assert!(
            add_broadcast(
                &a,
                &s(&[2, 3]),
                &[0; 5],
                &s(&[3]),
                &[0; 3],
                &s(&[2, 3]),
                &mut out
            )
            .is_err()
        );
        assert!(
            minimum_broadcast(
                &s(&[2, 3]),
                &[0; 6],
                &s(&[3]),
                &[0; 2],
                &s(&[2, 3]),
                &mut out
            )
            .is_err()
        );
        for bad in [
            AddSubParams {
                left_shift: 31,
                ..a
            },
            AddSubParams {
                output_shift: 1,
                ..a
            },
            AddSubParams {
                input1_shift: i32::MIN,
                ..a
            },
            AddSubParams {
                act_min: 1,
                act_max: 0,
                ..a
            },
        ] {
            assert!(sub(&bad, &[0; 6], &[0; 6], &mut out).is_err(), "{bad:?}");
        }
        let m = prepare_mul((0.1, 0), (0.1, 0), (0.1, 0), Activation::None);
        assert!(
            mul(
                &MulParams {
                    output_shift: -32,
                    ..m
                },
                &[0; 6],
                &[0; 6],
                &mut out
            )
            .is_err()
        );
        assert!(mul(&MulParams { act_max: 128, ..m }, &[0; 6], &[0; 6], &mut out).is_err());
        // Zero-sized broadcasts are fine and write nothing.
        assert_eq!(
            mul_broadcast(
                &m,
                &s(&[0, 3]),
                &[],
                &s(&[1, 3]),
                &[0; 3],
                &s(&[0, 3]),
                &mut []
            ),
            Ok(())
        );
    }

    fn shapes() -> impl Strategy<Value = (Shape, Shape, Shape)> {
        (
            0usize..=MAX_DIMS,
            proptest::collection::vec((1usize..=3, 0u8..4), MAX_DIMS),
        )
            .prop_map(|(rank, dims)| {
                let mut s1 = [1; MAX_DIMS];
                let mut s2 = [1; MAX_DIMS];
                let mut so = [1; MAX_DIMS];
                for d in MAX_DIMS - rank..MAX_DIMS {
                    let (n, how) = dims[d];
                    so[d] = n;
                    // 0: both full, 1: input1 broadcast, 2: input2 broadcast, 3: both full
                    s1[d] = if how == 1 { 1 } else { n };
                    s2[d] = if how == 2 { 1 } else { n };
                }
                (s1, s2, so)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_reference(
            (s1, s2, so) in shapes(),
            op in 0usize..6,
            scales in proptest::array::uniform3(1e-3f32..0.2),
            zps in proptest::array::uniform3(-128i32..=127),
            act in 0usize..4, seed: u64,
        ) {
            let op = [Op::Add, Op::Sub, Op::Mul, Op::Max, Op::Min, Op::Prelu][op];
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let q = |i: usize| (scales[i], zps[i]);
            let a = match op {
                Op::Sub => prepare_sub(q(0), q(1), q(2), act),
                _ => prepare_add(q(0), q(1), q(2), act),
            };
            let a = a.unwrap_or_else(|e| panic!("{e}"));
            let m = prepare_mul(q(0), q(1), q(2), act);
            let p = P { a, m, pr: prepare_prelu(q(0), q(1), q(2)) };
            let mut rng = Rng(seed);
            let x = rng.i8s(num_elements(&s1), -128, 127);
            let y = rng.i8s(num_elements(&s2), -128, 127);
            let mut out = vec![0i8; num_elements(&so)];
            prop_assert_eq!(run(op, &p, &s1, &x, &s2, &y, &so, &mut out), Ok(()));
            let want = ref_broadcast(op, &p, &s1, &x, &s2, &y, &so);
            prop_assert_eq!(&out, &want);
            // Same-shape path against the broadcast one with both inputs full.
            let y_full = rng.i8s(num_elements(&so), -128, 127);
            let x_full = rng.i8s(num_elements(&so), -128, 127);
            prop_assert_eq!(run_flat(op, &p, &x_full, &y_full, &mut out), Ok(()));
            prop_assert_eq!(out, ref_broadcast(op, &p, &so, &x_full, &so, &y_full, &so));
        }
    }
}

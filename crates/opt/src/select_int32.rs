//! Kernel selection for the plain integer ops (`Kernel::Int32`): int32
//! ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM (unquantized, as TFLM's int32
//! kernels) and CAST. Nothing is folded but the fused activation's clamp.
//! An int32 STRIDED_SLICE or CONCATENATION only moves values: it becomes
//! the byte kernel of the same layout, over 4-byte elements.

use tinyq_ir::int32_kernel::{Int32Kernel, num_type};
use tinyq_ir::{Activation, DType, Kernel, OpKind, Tensor};
use tinyq_kernels::concat::ConcatParams;
use tinyq_kernels::int32::IntBinary;
use tinyq_kernels::shape::MAX_DIMS;

use crate::error::LowerError;
use crate::select::{Ctx, Selected};

/// Whether `op` computes plain integers: a CAST, or a binary op on
/// unquantized int32.
pub(crate) fn is_int32_op(cx: &Ctx<'_>) -> bool {
    let int32 = |t: Result<&Tensor, LowerError>| {
        t.is_ok_and(|t| t.dtype == DType::I32 && t.quant.is_none())
    };
    match cx.op.kind {
        OpKind::Cast => true,
        OpKind::Add { .. }
        | OpKind::Sub { .. }
        | OpKind::Mul { .. }
        | OpKind::Div { .. }
        | OpKind::Maximum
        | OpKind::Minimum
        | OpKind::StridedSlice(_)
        | OpKind::Concatenation { .. } => int32(cx.output()),
        _ => false,
    }
}

/// The int32 clamp of a fused activation (TFLM's `CalculateActivationRange`).
fn clamp(activation: Activation) -> (i32, i32) {
    match activation {
        Activation::None => (i32::MIN, i32::MAX),
        Activation::Relu => (0, i32::MAX),
        Activation::ReluN1To1 => (-1, 1),
        Activation::Relu6 => (0, 6),
    }
}

/// The kernel of an op [`is_int32_op`] accepts.
pub(crate) fn select_int32(cx: &Ctx<'_>) -> Result<Selected, LowerError> {
    let op = cx.op;
    match &op.kind {
        OpKind::StridedSlice(attrs) => return strided_slice_i32(cx, attrs),
        OpKind::Concatenation { axis, activation } => {
            return concatenation_i32(cx, *axis, *activation);
        }
        _ => {}
    }
    let kernel = match &op.kind {
        OpKind::Cast => {
            let (x, y) = (cx.input(0)?, cx.output()?);
            let of = |t: &Tensor| {
                num_type(t.dtype).ok_or_else(|| {
                    cx.unsupported(format!(
                        "CAST of {:?} ({}): TFLM casts int8, int16, int32, UINT32 and float32",
                        t.name, t.dtype
                    ))
                })
            };
            Int32Kernel::Cast {
                from: of(x)?,
                to: of(y)?,
            }
        }
        kind => {
            let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
            for t in [a, b] {
                if t.dtype != DType::I32 || t.quant.is_some() {
                    return Err(cx.unsupported(format!(
                        "input {:?} must be unquantized int32 like the output",
                        t.name
                    )));
                }
            }
            let (op, activation) = match kind {
                OpKind::Add { activation } => (IntBinary::Add, *activation),
                OpKind::Sub { activation } => (IntBinary::Sub, *activation),
                OpKind::Mul { activation } => (IntBinary::Mul, *activation),
                OpKind::Div { activation } => (IntBinary::Div, *activation),
                OpKind::Maximum => (IntBinary::Maximum, Activation::None),
                _ => (IntBinary::Minimum, Activation::None),
            };
            // TFLM divides by zero (a trap on most targets): refuse a
            // constant divisor that holds one.
            if op == IntBinary::Div && b.const_i32().is_some_and(|d| d.contains(&0)) {
                return Err(cx.unsupported(format!(
                    "the constant divisor {:?} holds 0: the division traps in TFLM",
                    b.name
                )));
            }
            let (act_min, act_max) = clamp(activation);
            Int32Kernel::Binary {
                op,
                act_min,
                act_max,
                broadcast: crate::select_int16::broadcast_of(cx, [a, b, out])?,
            }
        }
    };
    Ok(Selected {
        kernel: Kernel::Int32(kernel),
        data_inputs: op.inputs.iter().take(kernel.arity()).copied().collect(),
        folded_zero_point: false,
    })
}

/// The data operands of a layout op must be plain int32 like its output.
fn require_plain_int32(cx: &Ctx<'_>, inputs: usize) -> Result<(), LowerError> {
    for i in 0..inputs {
        let t = cx.input(i)?;
        if t.dtype != DType::I32 || t.quant.is_some() {
            return Err(cx.unsupported(format!(
                "input {:?} is {}{}, the output plain int32: TFLM copies values of one type",
                t.name,
                t.dtype,
                if t.quant.is_some() {
                    " (quantized)"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// An int32 STRIDED_SLICE: the byte slice over 4-byte elements.
fn strided_slice_i32(
    cx: &Ctx<'_>,
    attrs: &tinyq_ir::op::StridedSlice,
) -> Result<Selected, LowerError> {
    require_plain_int32(cx, 1)?;
    let bytes = crate::select::strided_slice(cx, attrs)?
        .over_bytes(DType::I32.size())
        .ok_or_else(|| {
            cx.unsupported(format!(
            "an int32 slice of the rank-{} tensor {:?}: int32 slices take at most {} dimensions",
            cx.input(0).map(|t| t.shape.len()).unwrap_or(0),
            cx.input(0).map(|t| t.name.as_str()).unwrap_or(""),
            MAX_DIMS - 1
        ))
        })?;
    Ok(Selected {
        kernel: Kernel::StridedSlice(bytes),
        data_inputs: vec![cx.op.inputs[0]],
        folded_zero_point: false,
    })
}

/// An int32 CONCATENATION: the byte concatenation with 4-byte elements.
fn concatenation_i32(
    cx: &Ctx<'_>,
    axis: usize,
    activation: Activation,
) -> Result<Selected, LowerError> {
    if activation != Activation::None {
        return Err(cx.unsupported("a fused activation on int32 CONCATENATION"));
    }
    require_plain_int32(cx, cx.op.inputs.len())?;
    let params = crate::select::concat_params(cx, axis)?;
    Ok(Selected {
        kernel: Kernel::Concat(ConcatParams {
            outer: params.outer,
            inner: params.inner.saturating_mul(DType::I32.size()),
        }),
        data_inputs: cx.op.inputs.clone(),
        folded_zero_point: false,
    })
}

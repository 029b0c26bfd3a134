//! Kernel selection for the int16 ops of 16x8 models other than the
//! conv-like layers (which `select` handles beside their int8 forms): ADD,
//! SUB, MUL, LEAKY_RELU, RELU, RELU6, QUANTIZE between integer types with an
//! int16 side, PAD / PADV2, STRIDED_SLICE, CONCATENATION, MAX_POOL_2D,
//! AVERAGE_POOL_2D, MEAN, SOFTMAX, LOGISTIC and TANH. Each becomes an [`Int16Kernel`] whose numbers
//! come from the kernels' `prepare_*` functions, as TFLM's prepare derives
//! them for int16.

use tinyq_ir::int16_kernel::{Int16Kernel, Requantize16};
use tinyq_ir::op::Pool2D;
use tinyq_ir::{Activation, DType, Kernel, OpKind, Tensor};
use tinyq_kernels::fixedpoint::activation_range;
use tinyq_kernels::wide_ops::{WIDE_ADD_SUB_LEFT_SHIFT, WideBroadcast};
use tinyq_kernels::wide_sigmoid::{self, Sigmoid16};
use tinyq_kernels::{concat, elementwise, wide_act, wide_softmax};
use tinyq_kernels::{pad, quantize, shape, unary, wide};

use crate::error::LowerError;
use crate::select::{Ctx, Selected};

/// The int16 range, the clamp of an int16 output without activation.
const I16_RANGE: (i32, i32) = (i16::MIN as i32, i16::MAX as i32);

/// The kernel for an op with int16 data that is not a conv-like layer, or
/// `None` when the op is not one of these.
pub(crate) fn select_int16(cx: &Ctx<'_>) -> Result<Option<Selected>, LowerError> {
    let (first, output) = (cx.input(0)?, cx.output()?);
    if first.dtype != DType::I16 && output.dtype != DType::I16 {
        return Ok(None);
    }
    let (kernel, data_inputs) = match &cx.op.kind {
        OpKind::Add { activation } => (add_sub(cx, *activation, false)?, 2),
        OpKind::Sub { activation } => (add_sub(cx, *activation, true)?, 2),
        OpKind::Mul { activation } => (mul(cx, *activation)?, 2),
        OpKind::LeakyRelu { alpha } => (leaky_relu(cx, *alpha)?, 1),
        OpKind::Relu => (relu(cx)?, 1),
        OpKind::Relu6 => (relu6(cx)?, 1),
        OpKind::MaxPool2D(attrs) => (Int16Kernel::MaxPool(pool(cx, attrs)?), 1),
        OpKind::AveragePool2D(attrs) => (Int16Kernel::AveragePool(pool(cx, attrs)?), 1),
        OpKind::Mean { axes, .. } => {
            require_int16(cx, &[first, output])?;
            match crate::select::mean(cx, axes)? {
                Kernel::Mean(p) => (Int16Kernel::Mean(p), 1),
                _ => return Err(cx.unsupported("MEAN did not select a mean kernel")),
            }
        }
        OpKind::Softmax { beta } => (softmax(cx, *beta)?, 1),
        OpKind::Logistic => (sigmoid(cx, Sigmoid16::Logistic)?, 1),
        OpKind::Tanh => (sigmoid(cx, Sigmoid16::Tanh)?, 1),
        OpKind::BatchMatMul { adj_x, adj_y } => (batch_matmul(cx, *adj_x, *adj_y)?, 2),
        OpKind::Concatenation { axis, activation } => {
            (concatenation(cx, *axis, *activation)?, cx.op.inputs.len())
        }
        OpKind::Quantize if first.dtype != DType::F32 => (requantize(cx)?, 1),
        OpKind::Pad { paddings } => (pad_kernel(cx, paddings)?, 1),
        OpKind::StridedSlice(attrs) => (
            Int16Kernel::StridedSlice(crate::select::strided_slice(cx, attrs)?),
            1,
        ),
        _ => return Ok(None),
    };
    Ok(Some(Selected {
        kernel: Kernel::Int16(kernel),
        data_inputs: cx.op.inputs.iter().take(data_inputs).copied().collect(),
        folded_zero_point: false,
    }))
}

/// Every tensor must be int16 (quantized per tensor).
fn require_int16(cx: &Ctx<'_>, tensors: &[&Tensor]) -> Result<(), LowerError> {
    for t in tensors {
        if t.dtype != DType::I16 {
            return Err(cx.unsupported(format!(
                "tensor {:?} is {}; the int16 {} reads and writes int16 only",
                t.name,
                t.dtype,
                cx.op.kind.name()
            )));
        }
        cx.qparams(t)?;
    }
    Ok(())
}

/// ADD / SUB: TFLM's general int16 path (inputs shifted left by 15).
fn add_sub(
    cx: &Ctx<'_>,
    activation: Activation,
    subtract: bool,
) -> Result<Int16Kernel, LowerError> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    require_int16(cx, &[a, b, out])?;
    let (q1, q2, qo) = (cx.qparams(a)?, cx.qparams(b)?, cx.qparams(out)?);
    let prepare = if subtract {
        elementwise::prepare_sub_shifted
    } else {
        elementwise::prepare_add_shifted
    };
    let params = prepare(q1, q2, qo, activation, WIDE_ADD_SUB_LEFT_SHIFT, I16_RANGE)
        .map_err(|e| cx.kernel_err(e))?;
    let broadcast = broadcast_of(cx, [a, b, out])?;
    Ok(Int16Kernel::AddSub {
        params,
        subtract,
        broadcast,
    })
}

/// MUL: TFLM's int8 arithmetic on int16 values with zero points 0.
fn mul(cx: &Ctx<'_>, activation: Activation) -> Result<Int16Kernel, LowerError> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    require_int16(cx, &[a, b, out])?;
    let (q1, q2, qo) = (cx.qparams(a)?, cx.qparams(b)?, cx.qparams(out)?);
    if (q1.1, q2.1, qo.1) != (0, 0, 0) {
        return Err(cx.unsupported("int16 MUL needs zero points 0 (TFLM refuses others)"));
    }
    let (act_min, act_max) = wide::wide_activation_range(activation, qo.0);
    let params = elementwise::MulParams {
        act_min,
        act_max,
        ..elementwise::prepare_mul(q1, q2, qo, activation)
    };
    Ok(Int16Kernel::Mul {
        params,
        broadcast: broadcast_of(cx, [a, b, out])?,
    })
}

/// `None` when all three shapes agree, else the padded shapes, which must
/// broadcast to the output's.
pub(crate) fn broadcast_of(
    cx: &Ctx<'_>,
    [a, b, out]: [&Tensor; 3],
) -> Result<Option<WideBroadcast>, LowerError> {
    if a.shape == b.shape && a.shape == out.shape {
        return Ok(None);
    }
    let err = |e| cx.kernel_err(e);
    let pad = |t: &Tensor| shape::pad_shape(&t.shape).map_err(err);
    let bc = WideBroadcast {
        shape1: pad(a)?,
        shape2: pad(b)?,
        out_shape: pad(out)?,
    };
    if shape::broadcast_shape(&bc.shape1, &bc.shape2).map_err(err)? != bc.out_shape {
        return Err(cx.unsupported(format!(
            "shapes {:?} and {:?} do not broadcast to {:?}",
            a.shape, b.shape, out.shape
        )));
    }
    Ok(Some(bc))
}

fn leaky_relu(cx: &Ctx<'_>, alpha: f32) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    let ((si, zi), (so, zo)) = (cx.qparams(input)?, cx.qparams(output)?);
    let p = unary::prepare_leaky_relu(si, zi, so, zo, alpha).map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::LeakyRelu(p))
}

/// QUANTIZE int16 → int16 / int8 and int8 → int16: TFLM's `Requantize`
/// with `QuantizeMultiplier(in_scale / out_scale)`.
fn requantize(cx: &Ctx<'_>) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let types = match (input.dtype, output.dtype) {
        (DType::I16, DType::I16) => Requantize16::I16ToI16,
        (DType::I16, DType::I8) => Requantize16::I16ToI8,
        (DType::I8, DType::I16) => Requantize16::I8ToI16,
        (from, to) => {
            return Err(cx.unsupported(format!(
                "QUANTIZE from {from} to {to} is not supported (int16 requantizes to int16 or int8)"
            )));
        }
    };
    let ((si, zi), (so, zo)) = (cx.qparams(input)?, cx.qparams(output)?);
    Ok(Int16Kernel::Requantize {
        params: quantize::prepare_requantize(si, zi, so, zo),
        types,
    })
}

/// PAD / PADV2 of int16: TFLM pads with 0, or with PADV2's int16 value.
fn pad_kernel(cx: &Ctx<'_>, paddings: &[(usize, usize)]) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    if cx.qparams(input)? != cx.qparams(output)? {
        return Err(cx.unsupported(
            "PAD input and output must share scale and zero point (TFLM copies int16 values)",
        ));
    }
    let value = match cx.op.inputs.get(1) {
        None => 0,
        Some(_) => {
            let t = cx.input(1)?;
            match (t.dtype, t.data.as_deref()) {
                (DType::I16, Some(&[lo, hi])) => i16::from_le_bytes([lo, hi]),
                _ => {
                    return Err(cx.unsupported(format!(
                        "PADV2 pad value {:?} must be one constant int16 value",
                        t.name
                    )));
                }
            }
        }
    };
    let pairs: Vec<[i32; 2]> = paddings
        .iter()
        .map(|&(b, a)| [b as i32, a as i32])
        .collect();
    // The geometry only: the int16 value travels beside it.
    let params =
        pad::prepare_pad(&input.shape, &pairs, Some(0), 0).map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::Pad { params, value })
}

/// RELU: TFLM's `ReluQuantized<int16_t>` (requantize, then clamp).
fn relu(cx: &Ctx<'_>) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    let p = wide_act::prepare_relu_16(cx.qparams(input)?, cx.qparams(output)?)
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::Relu(p))
}

/// RELU6: TFLM clamps in the input's codes and copies (no requantization).
fn relu6(cx: &Ctx<'_>) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    let (scale, zero_point) = cx.qparams(input)?;
    let p = wide_act::prepare_relu6_16(scale, zero_point).map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::Clamp(p))
}

/// MAX_POOL_2D / AVERAGE_POOL_2D: the int8 geometry and same-parameters
/// check, with the fused activation's clamp in int16.
fn pool(cx: &Ctx<'_>, attrs: &Pool2D) -> Result<tinyq_kernels::pooling::PoolParams, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    let p = crate::select::pool(cx, attrs)?;
    let (scale, zero_point) = cx.qparams(output)?;
    let (act_min, act_max) = activation_range(
        attrs.activation,
        scale,
        zero_point,
        I16_RANGE.0,
        I16_RANGE.1,
    );
    Ok(tinyq_kernels::pooling::PoolParams {
        act_min,
        act_max,
        ..p
    })
}

/// CONCATENATION: a copy, so every input must share the output's scale and
/// zero point (tinyq refuses what TFLM would copy without rescaling).
fn concatenation(
    cx: &Ctx<'_>,
    axis: usize,
    activation: Activation,
) -> Result<Int16Kernel, LowerError> {
    if activation != Activation::None {
        return Err(cx.unsupported("a fused activation on CONCATENATION is not supported"));
    }
    let output = cx.output()?;
    require_int16(cx, &[output])?;
    let out_q = cx.qparams(output)?;
    let mut shapes = Vec::new();
    for i in 0..cx.op.inputs.len() {
        let t = cx.input(i)?;
        require_int16(cx, &[t])?;
        let q = cx.qparams(t)?;
        if f64::from(q.0) != f64::from(out_q.0) || q.1 != out_q.1 {
            return Err(cx.unsupported(format!(
                "input {:?} has scale {} zero point {}, the output {} / {}; an int16 \
                 concatenation copies values, so they must be equal",
                t.name, q.0, q.1, out_q.0, out_q.1
            )));
        }
        shapes.push(t.shape.as_slice());
    }
    let axis = i32::try_from(axis).map_err(|_| cx.unsupported("axis out of range"))?;
    let params = concat::prepare_concat(&shapes, axis).map_err(|e| cx.kernel_err(e))?;
    // prepare_concat checked the axis against every shape.
    let axis = if axis < 0 {
        axis + shapes[0].len() as i32
    } else {
        axis
    } as usize;
    let blocks = shapes
        .iter()
        .map(|s| s[axis].saturating_mul(params.inner))
        .collect();
    Ok(Int16Kernel::Concat { params, blocks })
}

/// SOFTMAX over the last axis: TFLM's `SoftmaxInt16` (output scale 1/32768).
fn softmax(cx: &Ctx<'_>, beta: f32) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    if input.shape != output.shape {
        return Err(cx.unsupported(format!(
            "input shape {:?} and output shape {:?} differ",
            input.shape, output.shape
        )));
    }
    let depth = input.shape.last().copied().unwrap_or(1);
    let outer = input.num_elements().unwrap_or(0) / depth.max(1);
    let (scale, _) = cx.qparams(input)?;
    let p = wide_softmax::prepare_softmax_16(outer, depth, scale, beta, cx.qparams(output)?)
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::Softmax(Box::new(p)))
}

/// LOGISTIC / TANH: TFLM's int16 table kernels (zero points 0, output
/// scale 1/32768, the input rescaled to the table's 1/(3·4096) units).
fn sigmoid(cx: &Ctx<'_>, function: Sigmoid16) -> Result<Int16Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    require_int16(cx, &[input, output])?;
    let params =
        wide_sigmoid::prepare_sigmoid_16(function, cx.qparams(input)?, cx.qparams(output)?)
            .map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::Sigmoid { function, params })
}

/// BATCH_MATMUL on int16: TFLM's int8 multiplier, zero points 0 (TFLM
/// refuses others), a shift its int64 requantization takes.
fn batch_matmul(cx: &Ctx<'_>, adj_x: bool, adj_y: bool) -> Result<Int16Kernel, LowerError> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    require_int16(cx, &[a, b, out])?;
    let (q1, q2, qo) = (cx.qparams(a)?, cx.qparams(b)?, cx.qparams(out)?);
    if (q1.1, q2.1, qo.1) != (0, 0, 0) {
        return Err(cx.unsupported("int16 BATCH_MATMUL needs zero points 0 (TFLM refuses others)"));
    }
    let shape = crate::select::batch_matmul_shape(a, b, out, adj_x, adj_y)
        .map_err(|why| cx.unsupported(why))?;
    let params = tinyq_kernels::batch_matmul::prepare_batch_matmul(shape, q1, q2, qo)
        .map_err(|e| cx.kernel_err(e))?;
    wide::check_wide_shifts(&[params.shift]).map_err(|e| cx.kernel_err(e))?;
    Ok(Int16Kernel::BatchMatMul(params))
}

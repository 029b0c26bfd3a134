//! Kernel selection: one Graph op → one kernel call with folded parameters.
//!
//! Every number comes from a `tinyq_kernels` `prepare_*` function, which
//! derives it exactly as TFLM's prepare step does.

use tinyq_ir::int16_kernel::Int16Kernel;
use tinyq_ir::kernel::{BinaryOp, Broadcast, SvdfWeights, Weights, WideBiasData, WideWeights};
use tinyq_ir::op::{Conv2D, DepthwiseConv2D, FullyConnected, Pool2D, Resize, TransposeConv};
use tinyq_ir::{Activation, DType, Graph, Kernel, Op, OpKind, Tensor, TensorId};
use tinyq_kernels::{KernelError, conv, depthwise, elementwise, fully_connected, pooling};
use tinyq_kernels::{concat, pad, quantize, reduce, shape, slice, softmax, transpose, wide};
use tinyq_kernels::{int8_math, resize, svdf, transpose_conv};

use crate::error::LowerError;
use crate::lower::LowerOptions;
use crate::tables;
use crate::zero_point;

/// The kernel for an op and the tensors it reads as data buffers.
#[derive(Debug)]
pub struct Selected {
    pub kernel: Kernel,
    pub data_inputs: Vec<TensorId>,
    /// The input zero point went into the bias ([`zero_point`]).
    pub folded_zero_point: bool,
}

/// Context for error messages.
pub(crate) struct Ctx<'g> {
    pub(crate) graph: &'g Graph,
    pub(crate) op: &'g Op,
    pub(crate) index: usize,
}

impl<'g> Ctx<'g> {
    pub(crate) fn unsupported(&self, why: impl Into<String>) -> LowerError {
        LowerError::Unsupported {
            index: self.index,
            op: self.op.kind.name(),
            why: why.into(),
        }
    }

    pub(crate) fn kernel_err(&self, source: KernelError) -> LowerError {
        LowerError::Kernel {
            index: self.index,
            op: self.op.kind.name(),
            source,
        }
    }

    pub(crate) fn input(&self, i: usize) -> Result<&'g Tensor, LowerError> {
        self.op
            .inputs
            .get(i)
            .map(|&t| self.graph.tensor(t))
            .ok_or_else(|| self.unsupported(format!("missing input {i}")))
    }

    pub(crate) fn output(&self) -> Result<&'g Tensor, LowerError> {
        self.op
            .outputs
            .first()
            .map(|&t| self.graph.tensor(t))
            .ok_or_else(|| self.unsupported("missing output"))
    }

    /// Per-tensor scale and zero point of an 8-bit tensor.
    pub(crate) fn qparams(&self, t: &Tensor) -> Result<(f32, i32), LowerError> {
        let q = t
            .quant
            .as_ref()
            .ok_or_else(|| self.unsupported(format!("tensor {:?} is not quantized", t.name)))?;
        if q.is_per_axis() {
            return Err(self.unsupported(format!(
                "tensor {:?} has per-axis quantization where one scale is required",
                t.name
            )));
        }
        Ok((q.scale(), q.zero_point() as i32))
    }

    pub(crate) fn require_dtype(&self, t: &Tensor, dtype: DType) -> Result<(), LowerError> {
        if t.dtype == dtype {
            Ok(())
        } else {
            Err(self.unsupported(format!(
                "tensor {:?} is {}, expected {}",
                t.name, t.dtype, dtype
            )))
        }
    }

    fn const_i8(&self, t: &Tensor) -> Result<Vec<i8>, LowerError> {
        self.require_dtype(t, DType::I8)?;
        let data = t
            .data
            .as_ref()
            .ok_or_else(|| self.unsupported(format!("weights {:?} must be constant", t.name)))?;
        Ok(data.iter().map(|&b| b as i8).collect())
    }

    fn const_bias(&self, t: &Tensor) -> Result<Vec<i32>, LowerError> {
        self.require_dtype(t, DType::I32)?;
        if !t.is_const() {
            return Err(self.unsupported(format!("bias {:?} must be constant", t.name)));
        }
        t.const_i32()
            .ok_or_else(|| self.unsupported(format!("bias {:?} is unreadable", t.name)))
    }

    pub(crate) fn shape4(&self, t: &Tensor) -> Result<[usize; 4], LowerError> {
        <[usize; 4]>::try_from(t.shape.as_slice()).map_err(|_| {
            self.unsupported(format!(
                "tensor {:?} has shape {:?}, expected 4 dimensions",
                t.name, t.shape
            ))
        })
    }
}

/// Selects the kernel for `op` (the `index`-th op of the source model), with
/// the input zero point folded into the bias where that is exact.
pub fn select_kernel(
    graph: &Graph,
    op: &Op,
    index: usize,
    options: LowerOptions,
) -> Result<Selected, LowerError> {
    let mut selected = select_unfolded(graph, op, index, options)?;
    if options.fold_zero_points {
        selected.folded_zero_point = zero_point::fold_into_bias(&mut selected.kernel);
    }
    Ok(selected)
}

fn select_unfolded(
    graph: &Graph,
    op: &Op,
    index: usize,
    options: LowerOptions,
) -> Result<Selected, LowerError> {
    let cx = Ctx { graph, op, index };
    // Plain integers (CAST included, whatever its output type) first.
    if crate::select_int32::is_int32_op(&cx) {
        return crate::select_int32::select_int32(&cx);
    }
    if crate::select_float::is_float_op(graph, op) {
        let (kernel, data_inputs) = crate::select_float::select_float(graph, op, index)?;
        return Ok(Selected {
            kernel: Kernel::Float(kernel),
            data_inputs,
            folded_zero_point: false,
        });
    }
    if matches!(op.kind, OpKind::Signal(_)) {
        // Not an int16 op of a 16x8 model, though it may compute in int16.
    } else if let Some(selected) = crate::select_int16::select_int16(&cx)? {
        return Ok(selected);
    }
    let kernel = match &op.kind {
        OpKind::Conv2D(attrs) => return conv2d(&cx, attrs, options.pointwise_as_matmul),
        OpKind::DepthwiseConv2D(attrs) => return depthwise_conv2d(&cx, attrs),
        OpKind::FullyConnected(attrs) => return fully_connected(&cx, attrs),
        OpKind::AveragePool2D(attrs) => Kernel::AveragePool(pool(&cx, attrs)?),
        OpKind::MaxPool2D(attrs) => Kernel::MaxPool(pool(&cx, attrs)?),
        OpKind::Add { activation } | OpKind::Sub { activation } | OpKind::Mul { activation } => {
            binary(&cx, *activation)?
        }
        OpKind::Maximum | OpKind::Minimum | OpKind::Prelu | OpKind::SquaredDifference => {
            binary(&cx, Activation::None)?
        }
        OpKind::Softmax { beta } => softmax_kernel(&cx, *beta)?,
        OpKind::Logistic
        | OpKind::Tanh
        | OpKind::Relu
        | OpKind::Relu6
        | OpKind::ReluN1To1
        | OpKind::LeakyRelu { .. }
        | OpKind::HardSwish
        | OpKind::Rsqrt => unary_lut(&cx)?,
        OpKind::Lut(lut) => lut_kernel(&cx, &lut.table)?,
        OpKind::Quantize => quantize(&cx)?,
        OpKind::Dequantize => dequantize(&cx)?,
        OpKind::Concatenation { axis, activation } => {
            return concatenation(&cx, *axis, *activation);
        }
        OpKind::Mean { axes, .. } => mean(&cx, axes)?,
        OpKind::Pad { paddings } => pad_kernel(&cx, paddings)?,
        OpKind::Transpose { perm } => transpose_kernel(&cx, perm)?,
        OpKind::SpaceToDepth { .. } | OpKind::DepthToSpace { .. } => Kernel::Transpose(
            space_depth_transpose(&op.kind, &cx.input(0)?.shape).map_err(|e| cx.kernel_err(e))?,
        ),
        OpKind::Gather { axis, indices } => {
            let (params, indices) =
                gather_params(&cx.input(0)?.shape, *axis, indices).map_err(|e| cx.kernel_err(e))?;
            Kernel::Gather { params, indices }
        }
        OpKind::StridedSlice(attrs) => Kernel::StridedSlice(strided_slice(&cx, attrs)?),
        OpKind::BatchMatMul { adj_x, adj_y } => batch_matmul(&cx, *adj_x, *adj_y)?,
        OpKind::ResizeBilinear(r) => resize_kernel(&cx, r, true)?,
        OpKind::ResizeNearestNeighbor(r) => resize_kernel(&cx, r, false)?,
        OpKind::TransposeConv(attrs) => return transpose_conv_kernel(&cx, attrs),
        OpKind::Svdf(attrs) => return svdf_kernel(&cx, attrs),
        // Its options are its kernel's numbers; validation checked the types.
        OpKind::Signal(op) => Kernel::Signal(*op),
        OpKind::Div { .. }
        | OpKind::Exp
        | OpKind::Log
        | OpKind::Sqrt
        | OpKind::Abs
        | OpKind::Neg
        | OpKind::Square => {
            return Err(
                cx.unsupported("float32 only: compile the float model without calibration data")
            );
        }
        OpKind::Lstm(attrs) => return crate::select_lstm::lstm_int8(&cx, attrs),
        OpKind::Cast => return crate::select_int32::select_int32(&cx),
        OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims => {
            let (input, output) = (cx.input(0)?, cx.output()?);
            if input.byte_len() != output.byte_len() {
                return Err(cx.unsupported(format!(
                    "reshape from {:?} to {:?} changes the number of elements",
                    input.shape, output.shape
                )));
            }
            Kernel::Copy
        }
    };
    Ok(Selected {
        kernel,
        data_inputs: op
            .inputs
            .iter()
            .take(data_input_count(&op.kind))
            .copied()
            .collect(),
        folded_zero_point: false,
    })
}

/// How many leading inputs of an op are data buffers (the rest are folded
/// into the kernel's parameters, like PADV2's pad value).
fn data_input_count(kind: &OpKind) -> usize {
    match kind {
        OpKind::Add { .. }
        | OpKind::Sub { .. }
        | OpKind::Mul { .. }
        | OpKind::Maximum
        | OpKind::Minimum
        | OpKind::Prelu
        | OpKind::SquaredDifference
        | OpKind::BatchMatMul { .. } => 2,
        // Every input a buffer: window weights, the square root's shift.
        OpKind::Signal(s) => s.arity(),
        _ => 1,
    }
}

/// BATCH_MATMUL's geometry from its input shapes (either input may be a
/// constant, read through its buffer like any operand).
pub(crate) fn batch_matmul_shape(
    lhs: &Tensor,
    rhs: &Tensor,
    output: &Tensor,
    adj_x: bool,
    adj_y: bool,
) -> Result<tinyq_kernels::batch_matmul::MatMulShape, String> {
    let (shape, out) = tinyq_ir::shapes::batch_matmul(&lhs.shape, &rhs.shape, adj_x, adj_y)?;
    if output.shape != out {
        return Err(format!(
            "output {:?} but the inputs give {out:?}",
            output.shape
        ));
    }
    Ok(shape)
}

/// int8 BATCH_MATMUL: TFLM's multiplier from the three scales, the
/// operands' zero points as offsets.
fn batch_matmul(cx: &Ctx<'_>, adj_x: bool, adj_y: bool) -> Result<Kernel, LowerError> {
    let shape = batch_matmul_shape(cx.input(0)?, cx.input(1)?, cx.output()?, adj_x, adj_y)
        .map_err(|why| cx.unsupported(why))?;
    let lhs = cx.qparams(cx.input(0)?)?;
    let rhs = cx.qparams(cx.input(1)?)?;
    let out = cx.qparams(cx.output()?)?;
    let params = tinyq_kernels::batch_matmul::prepare_batch_matmul(shape, lhs, rhs, out)
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Kernel::BatchMatMul(params))
}

/// Filter, bias and per-channel multipliers of a conv-like op.
fn weights(cx: &Ctx<'_>, channels: usize, per_channel: bool) -> Result<Weights, LowerError> {
    let bias = match cx.op.inputs.get(2) {
        Some(_) => Some(cx.const_bias(cx.input(2)?)?),
        None => None,
    };
    check_bias_len(cx, bias.as_ref().map(Vec::len), channels)?;
    let (multipliers, shifts) = multipliers(cx, channels, per_channel)?;
    Ok(Weights {
        filter: cx.const_i8(cx.input(1)?)?,
        bias,
        multipliers,
        shifts,
    })
}

/// The same for a 16x8 layer, whose bias may be int32 or int64.
pub(crate) fn wide_weights(
    cx: &Ctx<'_>,
    channels: usize,
    per_channel: bool,
) -> Result<WideWeights, LowerError> {
    let bias = match cx.op.inputs.get(2) {
        None => WideBiasData::None,
        Some(_) => {
            let t = cx.input(2)?;
            if !t.is_const() {
                return Err(cx.unsupported(format!("bias {:?} must be constant", t.name)));
            }
            let unreadable = || cx.unsupported(format!("bias {:?} is unreadable", t.name));
            match t.dtype {
                DType::I32 => WideBiasData::I32(t.const_i32().ok_or_else(unreadable)?),
                DType::I64 => WideBiasData::I64(t.const_i64().ok_or_else(unreadable)?),
                other => {
                    return Err(cx.unsupported(format!(
                        "bias {:?} is {other}; a 16x8 layer takes an int32 or int64 bias",
                        t.name
                    )));
                }
            }
        }
    };
    check_bias_len(cx, bias.as_wide().entries(), channels)?;
    let (multipliers, shifts) = multipliers(cx, channels, per_channel)?;
    Ok(WideWeights {
        filter: cx.const_i8(cx.input(1)?)?,
        bias,
        multipliers,
        shifts,
    })
}

fn check_bias_len(cx: &Ctx<'_>, len: Option<usize>, channels: usize) -> Result<(), LowerError> {
    match len {
        Some(n) if n != channels => Err(cx.unsupported(format!(
            "bias has {n} values for {channels} output channels"
        ))),
        _ => Ok(()),
    }
}

/// A 16x8 layer's int16 input and output must be symmetric (zero point 0),
/// as TFLM's prepare insists.
pub(crate) fn check_symmetric_int16(cx: &Ctx<'_>) -> Result<(), LowerError> {
    for t in [cx.input(0)?, cx.output()?] {
        let (_, zp) = cx.qparams(t)?;
        if t.dtype != DType::I16 || zp != 0 {
            return Err(cx.unsupported(format!(
                "tensor {:?} is {} with zero point {zp}; a 16x8 layer reads and writes \
                 int16 with zero point 0",
                t.name, t.dtype
            )));
        }
    }
    Ok(())
}

/// Whether the op computes in 16x8 (its data input is int16).
fn is_16x8(cx: &Ctx<'_>) -> Result<bool, LowerError> {
    Ok(cx.input(0)?.dtype == DType::I16)
}

/// Per-channel (or per-tensor) multipliers of a conv-like op, as TFLM's
/// prepare derives them.
fn multipliers(
    cx: &Ctx<'_>,
    channels: usize,
    per_channel: bool,
) -> Result<(Vec<i32>, Vec<i32>), LowerError> {
    let input = cx.input(0)?;
    let filter = cx.input(1)?;
    let output = cx.output()?;
    let (in_scale, _) = cx.qparams(input)?;
    let (out_scale, _) = cx.qparams(output)?;
    let fq = filter
        .quant
        .as_ref()
        .ok_or_else(|| cx.unsupported(format!("filter {:?} is not quantized", filter.name)))?;
    let n = if per_channel { channels } else { 1 };
    let mut multipliers = vec![0; n];
    let mut shifts = vec![0; n];
    if per_channel {
        conv::prepare_conv_multipliers(
            in_scale,
            &fq.scales,
            out_scale,
            &mut multipliers,
            &mut shifts,
        )
        .map_err(|e| cx.kernel_err(e))?;
    } else {
        let bias_scale = match cx.op.inputs.get(2) {
            Some(_) => cx.input(2)?.quant.as_ref().map(|q| q.scale()),
            None => None,
        };
        let (m, s) = fully_connected::prepare_fc_multiplier_per_tensor(
            in_scale,
            fq.scale(),
            out_scale,
            bias_scale,
        )
        .map_err(|e| cx.kernel_err(e))?;
        multipliers[0] = m;
        shifts[0] = s;
    }
    Ok((multipliers, shifts))
}

fn conv2d(cx: &Ctx<'_>, attrs: &Conv2D, matmul: bool) -> Result<Selected, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [oc, kh, kw, fic] = cx.shape4(filter)?;
    let [on, oh, ow, occ] = cx.shape4(output)?;
    if on != n || occ != oc || fic == 0 || ic % fic != 0 {
        return Err(cx.unsupported(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {:?}",
            input.shape, filter.shape, output.shape
        )));
    }
    let (_, in_zp) = cx.qparams(input)?;
    let (out_scale, out_zp) = cx.qparams(output)?;
    let wide = is_16x8(cx)?;
    let geom = conv::Conv2DParams {
        batches: n,
        input_height: ih,
        input_width: iw,
        input_channels: ic,
        filter_height: kh,
        filter_width: kw,
        filter_input_channels: fic,
        output_height: oh,
        output_width: ow,
        output_channels: oc,
        stride_height: attrs.stride.h,
        stride_width: attrs.stride.w,
        dilation_height: attrs.dilation.h,
        dilation_width: attrs.dilation.w,
        pad_top: attrs.padding.top,
        pad_left: attrs.padding.left,
        input_offset: 0,
        pad_value: 0,
        output_offset: 0,
        act_min: 0,
        act_max: 0,
    };
    if wide {
        check_symmetric_int16(cx)?;
        return Ok(Selected {
            kernel: Kernel::Conv2D16x8 {
                params: wide::prepare_conv2d_16x8(geom, out_scale, attrs.activation),
                weights: wide_weights(cx, oc, true)?,
            },
            data_inputs: vec![cx.op.inputs[0]],
            folded_zero_point: false,
        });
    }
    let params = conv::prepare_conv2d(geom, in_zp, (out_scale, out_zp), attrs.activation);
    let weights = weights(cx, oc, true)?;
    Ok(Selected {
        kernel: matmul
            .then(|| as_matmul(&params, &weights))
            .flatten()
            .unwrap_or(Kernel::Conv2D { params, weights }),
        data_inputs: vec![cx.op.inputs[0]],
        folded_zero_point: false,
    })
}

/// A 1×1, stride-1, unpadded, ungrouped convolution is a matrix multiply:
/// every pixel is a row of `IC` values times the `[OC, IC]` filter (OHWI
/// with H = W = 1 is that matrix). The fully-connected kernel computes the
/// same sums with the conv's own per-channel multipliers, so the result is
/// identical; it runs one long loop instead of four nested ones.
fn as_matmul(p: &conv::Conv2DParams, w: &Weights) -> Option<Kernel> {
    let pointwise = p.filter_height == 1
        && p.filter_width == 1
        && p.stride_height == 1
        && p.stride_width == 1
        && p.pad_top == 0
        && p.pad_left == 0
        && p.filter_input_channels == p.input_channels
        && p.output_height == p.input_height
        && p.output_width == p.input_width;
    if !pointwise {
        return None;
    }
    let params = fully_connected::FullyConnectedParams {
        batches: p.batches * p.input_height * p.input_width,
        accum_depth: p.input_channels,
        output_depth: p.output_channels,
        input_offset: p.input_offset,
        filter_offset: 0,
        output_offset: p.output_offset,
        act_min: p.act_min,
        act_max: p.act_max,
    };
    Some(Kernel::FullyConnected {
        params,
        weights: w.clone(),
    })
}

fn depthwise_conv2d(cx: &Ctx<'_>, attrs: &DepthwiseConv2D) -> Result<Selected, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [one, kh, kw, fc] = cx.shape4(filter)?;
    let [on, oh, ow, oc] = cx.shape4(output)?;
    if one != 1 || on != n || fc != oc || ic == 0 || oc % ic != 0 {
        return Err(cx.unsupported(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {:?}",
            input.shape, filter.shape, output.shape
        )));
    }
    let (_, in_zp) = cx.qparams(input)?;
    let (out_scale, out_zp) = cx.qparams(output)?;
    let geom = depthwise::DepthwiseParams {
        batches: n,
        input_height: ih,
        input_width: iw,
        input_channels: ic,
        depth_multiplier: oc / ic,
        filter_height: kh,
        filter_width: kw,
        output_height: oh,
        output_width: ow,
        stride_height: attrs.stride.h,
        stride_width: attrs.stride.w,
        dilation_height: attrs.dilation.h,
        dilation_width: attrs.dilation.w,
        pad_top: attrs.padding.top,
        pad_left: attrs.padding.left,
        input_offset: 0,
        pad_value: 0,
        output_offset: 0,
        act_min: 0,
        act_max: 0,
    };
    if is_16x8(cx)? {
        check_symmetric_int16(cx)?;
        return Ok(Selected {
            kernel: Kernel::DepthwiseConv2D16x8 {
                params: wide::prepare_depthwise_16x8(geom, out_scale, attrs.activation),
                weights: wide_weights(cx, oc, true)?,
            },
            data_inputs: vec![cx.op.inputs[0]],
            folded_zero_point: false,
        });
    }
    let params = depthwise::prepare_depthwise(geom, in_zp, (out_scale, out_zp), attrs.activation);
    let weights = weights(cx, oc, true)?;
    Ok(Selected {
        kernel: Kernel::DepthwiseConv2D { params, weights },
        data_inputs: vec![cx.op.inputs[0]],
        folded_zero_point: false,
    })
}

fn fully_connected(cx: &Ctx<'_>, attrs: &FullyConnected) -> Result<Selected, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let [out_depth, depth] = <[usize; 2]>::try_from(filter.shape.as_slice()).map_err(|_| {
        cx.unsupported(format!(
            "filter {:?} must be 2-D, is {:?}",
            filter.name, filter.shape
        ))
    })?;
    let in_elems = input.num_elements().unwrap_or(0);
    let out_elems = output.num_elements().unwrap_or(0);
    if depth == 0
        || out_depth == 0
        || in_elems % depth != 0
        || out_elems != in_elems / depth * out_depth
    {
        return Err(cx.unsupported(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {:?}",
            input.shape, filter.shape, output.shape
        )));
    }
    let batches = in_elems / depth;
    let (_, in_zp) = cx.qparams(input)?;
    let out_q = cx.qparams(output)?;
    let fq = filter
        .quant
        .as_ref()
        .ok_or_else(|| cx.unsupported(format!("filter {:?} is not quantized", filter.name)))?;
    let per_channel = fq.is_per_axis();
    let geom = fully_connected::FullyConnectedParams {
        batches,
        accum_depth: depth,
        output_depth: out_depth,
        input_offset: 0,
        filter_offset: 0,
        output_offset: 0,
        act_min: 0,
        act_max: 0,
    };
    if is_16x8(cx)? {
        check_symmetric_int16(cx)?;
        return Ok(Selected {
            kernel: Kernel::FullyConnected16x8 {
                params: wide::prepare_fully_connected_16x8(
                    geom,
                    fq.zero_point() as i32,
                    per_channel,
                    out_q.0,
                    attrs.activation,
                ),
                weights: wide_weights(cx, out_depth, per_channel)?,
            },
            data_inputs: vec![cx.op.inputs[0]],
            folded_zero_point: false,
        });
    }
    let params = fully_connected::prepare_fully_connected(
        geom,
        in_zp,
        fq.zero_point() as i32,
        per_channel,
        out_q,
        attrs.activation,
    );
    let weights = weights(cx, out_depth, per_channel)?;
    Ok(Selected {
        kernel: Kernel::FullyConnected { params, weights },
        data_inputs: vec![cx.op.inputs[0]],
        folded_zero_point: false,
    })
}

pub(crate) fn pool(cx: &Ctx<'_>, attrs: &Pool2D) -> Result<pooling::PoolParams, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let [n, ih, iw, c] = cx.shape4(input)?;
    let [on, oh, ow, oc] = cx.shape4(output)?;
    if on != n || oc != c {
        return Err(cx.unsupported(format!(
            "shapes do not fit: input {:?}, output {:?}",
            input.shape, output.shape
        )));
    }
    let geom = pooling::PoolParams {
        batches: n,
        input_height: ih,
        input_width: iw,
        channels: c,
        filter_height: attrs.filter.h,
        filter_width: attrs.filter.w,
        output_height: oh,
        output_width: ow,
        stride_height: attrs.stride.h,
        stride_width: attrs.stride.w,
        pad_top: attrs.padding.top,
        pad_left: attrs.padding.left,
        act_min: 0,
        act_max: 0,
    };
    pooling::prepare_pool(
        geom,
        cx.qparams(input)?,
        cx.qparams(output)?,
        attrs.activation,
    )
    .map_err(|e| cx.kernel_err(e))
}

fn binary(cx: &Ctx<'_>, activation: Activation) -> Result<Kernel, LowerError> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    for t in [a, b, out] {
        cx.require_dtype(t, DType::I8)?;
    }
    let (s1, z1) = cx.qparams(a)?;
    let (s2, z2) = cx.qparams(b)?;
    let (so, zo) = cx.qparams(out)?;
    let err = |e| cx.kernel_err(e);
    let op = match cx.op.kind {
        OpKind::Add { .. } => BinaryOp::Add(
            elementwise::prepare_add((s1, z1), (s2, z2), (so, zo), activation).map_err(err)?,
        ),
        OpKind::Sub { .. } => BinaryOp::Sub(
            elementwise::prepare_sub((s1, z1), (s2, z2), (so, zo), activation).map_err(err)?,
        ),
        OpKind::Mul { .. } => BinaryOp::Mul(elementwise::prepare_mul(
            (s1, z1),
            (s2, z2),
            (so, zo),
            activation,
        )),
        OpKind::Prelu => BinaryOp::Prelu(elementwise::prepare_prelu((s1, z1), (s2, z2), (so, zo))),
        OpKind::SquaredDifference => BinaryOp::SquaredDifference(
            int8_math::prepare_squared_difference((s1, z1), (s2, z2), (so, zo)).map_err(err)?,
        ),
        OpKind::Maximum => BinaryOp::Maximum,
        _ => BinaryOp::Minimum,
    };
    let broadcast = if a.shape == b.shape && a.shape == out.shape {
        None
    } else {
        let pad = |t: &Tensor| shape::pad_shape(&t.shape).map_err(err);
        let bc = Broadcast {
            shape1: pad(a)?,
            shape2: pad(b)?,
            out_shape: pad(out)?,
        };
        let expected = shape::broadcast_shape(&bc.shape1, &bc.shape2).map_err(err)?;
        if expected != bc.out_shape {
            return Err(cx.unsupported(format!(
                "shapes {:?} and {:?} do not broadcast to {:?}",
                a.shape, b.shape, out.shape
            )));
        }
        Some(bc)
    };
    Ok(Kernel::Binary { op, broadcast })
}

fn softmax_kernel(cx: &Ctx<'_>, beta: f32) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let depth = input.shape.last().copied().unwrap_or(1);
    let outer = input.num_elements().unwrap_or(0) / depth.max(1);
    let (in_scale, _) = cx.qparams(input)?;
    let (out_scale, out_zp) = cx.qparams(output)?;
    let params = softmax::prepare_softmax(in_scale, beta, out_scale, out_zp, outer, depth)
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Kernel::Softmax(params))
}

/// Unary int8 ops as 256-entry tables: the kernel's scalar function run on
/// every possible input, so exact by construction.
fn unary_lut(cx: &Ctx<'_>) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    cx.require_dtype(input, DType::I8)?;
    cx.require_dtype(output, DType::I8)?;
    cx.qparams(input)?;
    cx.qparams(output)?;
    match tables::table_of(&cx.op.kind, input, output).map_err(|e| cx.kernel_err(e))? {
        Some(table) => Ok(Kernel::Lut { table }),
        None => Err(cx.unsupported(format!("{} is not a unary op", cx.op.kind.name()))),
    }
}

/// A table made by the `lut` pass: 8-bit in, 8-bit out, 256 entries.
fn lut_kernel(cx: &Ctx<'_>, table: &[u8]) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    if !input.dtype.is_8bit() || !output.dtype.is_8bit() || table.len() != 256 {
        return Err(cx.unsupported(format!(
            "a LUT maps 8-bit to 8-bit with 256 entries; here {} -> {} with {}",
            input.dtype,
            output.dtype,
            table.len()
        )));
    }
    Ok(Kernel::Lut {
        table: table.to_vec(),
    })
}

fn quantize(cx: &Ctx<'_>) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let (so, zo) = cx.qparams(output)?;
    if (input.dtype, output.dtype) == (DType::F32, DType::I16) {
        return Ok(Kernel::QuantizeI16 {
            params: quantize::QuantParams {
                scale: so,
                zero_point: zo,
            },
        });
    }
    if !output.dtype.is_8bit() {
        return Err(cx.unsupported(format!("QUANTIZE to {} is not supported", output.dtype)));
    }
    let unsigned = output.dtype == DType::U8;
    match input.dtype {
        DType::F32 => Ok(Kernel::Quantize {
            params: quantize::QuantParams {
                scale: so,
                zero_point: zo,
            },
            unsigned,
        }),
        DType::I8 | DType::U8 => {
            cx.qparams(input)?;
            match tables::table_of(&cx.op.kind, input, output).map_err(|e| cx.kernel_err(e))? {
                Some(table) => Ok(Kernel::Lut { table }),
                None => Err(cx.unsupported(format!(
                    "QUANTIZE from {} to {} is not supported",
                    input.dtype, output.dtype
                ))),
            }
        }
        other => Err(cx.unsupported(format!("QUANTIZE from {other} is not supported"))),
    }
}

fn dequantize(cx: &Ctx<'_>) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    cx.require_dtype(output, DType::F32)?;
    if input.dtype == DType::I16 {
        let (scale, zero_point) = cx.qparams(input)?;
        return Ok(Kernel::DequantizeI16 {
            params: quantize::QuantParams { scale, zero_point },
        });
    }
    if !input.dtype.is_8bit() {
        return Err(cx.unsupported(format!("DEQUANTIZE from {} is not supported", input.dtype)));
    }
    let (scale, zero_point) = cx.qparams(input)?;
    let p = quantize::QuantParams { scale, zero_point };
    let codes: Vec<u8> = (0..=255).collect();
    let mut table = vec![0f32; 256];
    let result = if input.dtype == DType::U8 {
        quantize::dequantize_u8(&p, &codes, &mut table)
    } else {
        let signed: Vec<i8> = codes.iter().map(|&b| b as i8).collect();
        quantize::dequantize_i8(&p, &signed, &mut table)
    };
    result.map_err(|e| cx.kernel_err(e))?;
    Ok(Kernel::DequantizeLut { table })
}

fn concatenation(
    cx: &Ctx<'_>,
    axis: usize,
    activation: Activation,
) -> Result<Selected, LowerError> {
    let output = cx.output()?;
    let out_q = cx.qparams(output)?;
    if activation != Activation::None {
        return Err(cx.unsupported("a fused activation on int8 CONCATENATION is not supported"));
    }
    for i in 0..cx.op.inputs.len() {
        let t = cx.input(i)?;
        cx.require_dtype(t, DType::I8)?;
        // TFLM copies raw codes: every input must share the output's parameters.
        let q = cx.qparams(t)?;
        if f64::from(q.0) != f64::from(out_q.0) || q.1 != out_q.1 {
            return Err(cx.unsupported(format!(
                "input {:?} has scale {} zero point {}, the output {} / {}; TFLM requires equal parameters",
                t.name, q.0, q.1, out_q.0, out_q.1
            )));
        }
    }
    let params = concat_params(cx, axis)?;
    Ok(Selected {
        kernel: Kernel::Concat(params),
        data_inputs: cx.op.inputs.clone(),
        folded_zero_point: false,
    })
}

/// A CONCATENATION's blocks from its inputs' shapes and its axis (checked
/// against every shape), whatever the element type.
pub(crate) fn concat_params(cx: &Ctx<'_>, axis: usize) -> Result<concat::ConcatParams, LowerError> {
    let mut shapes = Vec::new();
    for i in 0..cx.op.inputs.len() {
        shapes.push(cx.input(i)?.shape.as_slice());
    }
    let axis = i32::try_from(axis).map_err(|_| cx.unsupported("axis out of range"))?;
    concat::prepare_concat(&shapes, axis).map_err(|e| cx.kernel_err(e))
}

pub(crate) fn mean(cx: &Ctx<'_>, axes: &[usize]) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let (si, zi) = cx.qparams(input)?;
    let (so, zo) = cx.qparams(output)?;
    let axes: Vec<i32> = axes.iter().map(|&a| a as i32).collect();
    let params =
        reduce::prepare_mean(&input.shape, &axes, si, zi, so, zo).map_err(|e| cx.kernel_err(e))?;
    if params.output_len() != output.num_elements().unwrap_or(0) {
        return Err(cx.unsupported(format!(
            "output shape {:?} does not match the reduction of {:?}",
            output.shape, input.shape
        )));
    }
    Ok(Kernel::Mean(params))
}

fn pad_kernel(cx: &Ctx<'_>, paddings: &[(usize, usize)]) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let (_, out_zp) = cx.qparams(output)?;
    let (in_q, out_q) = (cx.qparams(input)?, cx.qparams(output)?);
    if in_q != out_q {
        return Err(cx.unsupported("PAD input and output must share scale and zero point"));
    }
    // PADV2's second input is the pad value, a constant with the output's parameters.
    let constant = match cx.op.inputs.get(1) {
        Some(_) => {
            let t = cx.input(1)?;
            let value = cx.const_i8(t)?;
            let [v] = value[..] else {
                return Err(cx.unsupported("PADV2 pad value must be a single constant"));
            };
            Some(v)
        }
        None => None,
    };
    let pairs: Vec<[i32; 2]> = paddings
        .iter()
        .map(|&(b, a)| [b as i32, a as i32])
        .collect();
    let params =
        pad::prepare_pad(&input.shape, &pairs, constant, out_zp).map_err(|e| cx.kernel_err(e))?;
    Ok(Kernel::Pad(params))
}

fn transpose_kernel(cx: &Ctx<'_>, perm: &[usize]) -> Result<Kernel, LowerError> {
    let input = cx.input(0)?;
    let perm: Vec<i32> = perm.iter().map(|&p| p as i32).collect();
    let params = transpose::prepare_transpose(&input.shape, &perm).map_err(|e| cx.kernel_err(e))?;
    Ok(Kernel::Transpose(params))
}

/// SPACE_TO_DEPTH / DEPTH_TO_SPACE move bytes exactly as one transpose of
/// a reshaped view of the input ([`tinyq_kernels::space_depth`]); int8
/// and float32 alike.
pub(crate) fn space_depth_transpose(
    kind: &OpKind,
    input_shape: &[usize],
) -> Result<tinyq_kernels::transpose::TransposeParams, KernelError> {
    match *kind {
        OpKind::SpaceToDepth { block } => {
            tinyq_kernels::space_depth::prepare_space_to_depth(input_shape, block)
        }
        OpKind::DepthToSpace { block } => {
            tinyq_kernels::space_depth::prepare_depth_to_space(input_shape, block)
        }
        _ => Err(KernelError::InvalidParams("not a space/depth op")),
    }
}

/// GATHER's geometry and its constant indices as the kernel reads them
/// (each checked inside the axis here, once).
pub(crate) fn gather_params(
    input_shape: &[usize],
    axis: usize,
    indices: &[usize],
) -> Result<(tinyq_kernels::gather::GatherParams, Vec<i32>), KernelError> {
    let indices = indices
        .iter()
        .map(|&i| i32::try_from(i))
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| KernelError::InvalidParams("a gather index does not fit int32"))?;
    let params = tinyq_kernels::gather::prepare_gather(input_shape, axis, indices.len())?;
    params.check(&indices, params.input_len(), params.output_len())?;
    Ok((params, indices))
}

/// RESIZE_*: TFLM's int8 resize copies or interpolates codes, so input and
/// output must share scale and zero point (the converter's same-scale rule).
fn resize_kernel(cx: &Ctx<'_>, r: &Resize, bilinear: bool) -> Result<Kernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    if cx.qparams(input)? != cx.qparams(output)? {
        return Err(cx.unsupported(
            "input and output must share scale and zero point (TFLM's int8 resize does not requantize)",
        ));
    }
    let [n, ih, iw, c] = cx.shape4(input)?;
    let [_, oh, ow, _] = cx.shape4(output)?;
    let geometry = resize::ResizeGeometry {
        batches: n,
        input_height: ih,
        input_width: iw,
        channels: c,
        output_height: oh,
        output_width: ow,
    };
    Ok(if bilinear {
        let params =
            resize::prepare_resize_bilinear(geometry, r.align_corners, r.half_pixel_centers)
                .map_err(|e| cx.kernel_err(e))?;
        Kernel::ResizeBilinear(params)
    } else {
        Kernel::ResizeNearest(resize::prepare_resize_nearest(
            geometry,
            r.align_corners,
            r.half_pixel_centers,
        ))
    })
}

fn transpose_conv_kernel(cx: &Ctx<'_>, attrs: &TransposeConv) -> Result<Selected, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [oc, kh, kw, fic] = cx.shape4(filter)?;
    let [on, oh, ow, occ] = cx.shape4(output)?;
    if on != n || occ != oc || fic != ic {
        return Err(cx.unsupported(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {:?}",
            input.shape, filter.shape, output.shape
        )));
    }
    let (_, in_zp) = cx.qparams(input)?;
    let out_q = cx.qparams(output)?;
    let geom = transpose_conv::TransposeConvParams {
        batches: n,
        input_height: ih,
        input_width: iw,
        input_channels: ic,
        filter_height: kh,
        filter_width: kw,
        output_height: oh,
        output_width: ow,
        output_channels: oc,
        stride_height: attrs.stride.h,
        stride_width: attrs.stride.w,
        pad_top: attrs.padding.top,
        pad_left: attrs.padding.left,
        input_offset: 0,
        output_offset: 0,
        act_min: 0,
        act_max: 0,
    };
    if is_16x8(cx)? {
        check_symmetric_int16(cx)?;
        let weights = wide_weights(cx, oc, true)?;
        return Ok(Selected {
            kernel: Kernel::Int16(Int16Kernel::TransposeConv {
                params: wide::prepare_transpose_conv_16x8(geom, out_q.0, attrs.activation),
                weights,
            }),
            data_inputs: vec![cx.op.inputs[0]],
            folded_zero_point: false,
        });
    }
    let params = transpose_conv::prepare_transpose_conv(geom, in_zp, out_q, attrs.activation);
    Ok(Selected {
        kernel: Kernel::TransposeConv {
            params,
            weights: weights(cx, oc, true)?,
        },
        data_inputs: vec![cx.op.inputs[0]],
        folded_zero_point: false,
    })
}

/// The shape of an SVDF from its validated tensors, the quantization
/// fields left at zero.
pub(crate) fn svdf_shape(graph: &Graph, op: &Op, rank: usize) -> Option<svdf::SvdfParams> {
    let t = |i: usize| op.inputs.get(i).map(|&t| graph.tensor(t));
    let (x, wt) = (t(0)?, t(2)?);
    Some(svdf::SvdfParams {
        batches: *x.shape.first()?,
        input_size: *x.shape.get(1)?,
        num_filters: *wt.shape.first()?,
        memory_size: *wt.shape.get(1)?,
        rank,
        input_zero_point: 0,
        state_zero_point: 0,
        output_zero_point: 0,
        feature_multiplier: 0,
        feature_shift: 0,
        output_multiplier: 0,
        output_shift: 0,
    })
}

/// SVDF with int8 data and an int16 state and time weights (TFLM's int8
/// state variant is not supported yet). Data inputs: the data and the state.
fn svdf_kernel(cx: &Ctx<'_>, attrs: &tinyq_ir::op::Svdf) -> Result<Selected, LowerError> {
    let n = cx.op.inputs.len();
    let (x, wf, wt, state, y) = (
        cx.input(0)?,
        cx.input(1)?,
        cx.input(2)?,
        cx.input(n - 1)?,
        cx.output()?,
    );
    let bias = if n == 5 { Some(cx.input(3)?) } else { None };
    for t in [x, y] {
        cx.require_dtype(t, DType::I8)?;
    }
    if state.dtype != DType::I16 || wt.dtype != DType::I16 {
        return Err(cx.unsupported(format!(
            "state {:?} is {} and time weights {:?} are {}: only int16 state and time weights are supported",
            state.name, state.dtype, wt.name, wt.dtype
        )));
    }
    let ((in_scale, in_zp), (wf_scale, _), (wt_scale, _)) =
        (cx.qparams(x)?, cx.qparams(wf)?, cx.qparams(wt)?);
    let ((state_scale, state_zp), (out_scale, out_zp)) = (cx.qparams(state)?, cx.qparams(y)?);
    let bias = bias
        .map(|b| Ok::<_, LowerError>((cx.const_bias(b)?, cx.qparams(b)?.0)))
        .transpose()?;
    let ((m1, s1), (m2, s2)) = svdf::prepare_svdf_multipliers(
        in_scale,
        wf_scale,
        state_scale,
        wt_scale,
        out_scale,
        bias.as_ref().map(|b| b.1),
    )
    .map_err(|e| cx.kernel_err(e))?;
    let geometry = svdf_shape(cx.graph, cx.op, attrs.rank)
        .ok_or_else(|| cx.unsupported("malformed SVDF shapes"))?;
    let params = svdf::SvdfParams {
        input_zero_point: in_zp,
        state_zero_point: state_zp,
        output_zero_point: out_zp,
        feature_multiplier: m1,
        feature_shift: s1,
        output_multiplier: m2,
        output_shift: s2,
        ..geometry
    };
    let time = wt
        .data
        .as_ref()
        .ok_or_else(|| cx.unsupported(format!("time weights {:?} must be constant", wt.name)))?
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let weights = SvdfWeights {
        feature: cx.const_i8(wf)?,
        time,
        bias: bias.map(|b| b.0),
    };
    params
        .check(
            params.batches * params.input_size,
            weights.feature.len(),
            weights.time.len(),
            weights.bias.as_ref().map(Vec::len),
            params.state_len().unwrap_or(0),
            params.batches * params.units(),
        )
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Selected {
        kernel: Kernel::Svdf { params, weights },
        data_inputs: vec![cx.op.inputs[0], cx.op.inputs[n - 1]],
        folded_zero_point: false,
    })
}

/// A STRIDED_SLICE's parameters in elements, whatever their type.
pub(crate) fn strided_slice(
    cx: &Ctx<'_>,
    attrs: &tinyq_ir::op::StridedSlice,
) -> Result<slice::StridedSliceParams, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let (params, shape) = slice::prepare_strided_slice(
        &input.shape,
        &attrs.begin,
        &attrs.end,
        &attrs.strides,
        attrs.begin_mask,
        attrs.end_mask,
        attrs.ellipsis_mask,
        attrs.new_axis_mask,
        attrs.shrink_axis_mask,
        attrs.offset,
    )
    .map_err(|e| cx.kernel_err(e))?;
    // The slice's element count must match the model's output tensor.
    let count: usize = shape.as_slice().iter().product();
    if Some(count) != output.num_elements() {
        return Err(cx.unsupported(format!(
            "slice of {:?} gives shape {:?}, the model says {:?}",
            input.shape,
            shape.as_slice(),
            output.shape
        )));
    }
    Ok(params)
}

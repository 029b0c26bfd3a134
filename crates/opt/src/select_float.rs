//! Kernel selection for float32 ops: one Graph op → one
//! [`FloatKernel`] call. Float kernels fold nothing but the activation
//! range (`CalculateActivationRange<float>`) and the shapes.

use tinyq_ir::float_kernel::{Filter, FloatWeights, SvdfF32Weights};
use tinyq_ir::kernel::Broadcast;
use tinyq_ir::op::{Conv2D, DepthwiseConv2D, FullyConnected, Pool2D, TransposeConv};
use tinyq_ir::{Activation, DType, FloatKernel, Graph, Op, OpKind, Tensor, TensorId};
use tinyq_kernels::float_conv::{ConvF32Params, DepthwiseF32Params, FullyConnectedF32Params};
use tinyq_kernels::float_elementwise::{BinaryF32, SoftmaxF32Params, UnaryF32};
use tinyq_kernels::float_math::FloatRange;
use tinyq_kernels::float_pool::{MeanF32Params, PoolF32Params};
use tinyq_kernels::float_resize;
use tinyq_kernels::float_transpose_conv::TransposeConvF32Params;
use tinyq_kernels::resize::{self, ResizeGeometry};
use tinyq_kernels::shape::{MAX_DIMS, pad_shape};
use tinyq_kernels::{KernelError, concat, pad, shape, slice, transpose};

use crate::error::LowerError;

/// True when `op` computes in float32: its output is float and it is not
/// a DEQUANTIZE (whose input is integer).
pub(crate) fn is_float_op(graph: &Graph, op: &Op) -> bool {
    !matches!(op.kind, OpKind::Dequantize)
        && !op.kind.is_reshape_like()
        && op
            .outputs
            .first()
            .is_some_and(|&t| graph.tensor(t).dtype == DType::F32)
}

struct Ctx<'g> {
    graph: &'g Graph,
    op: &'g Op,
    index: usize,
}

impl<'g> Ctx<'g> {
    fn unsupported(&self, why: impl Into<String>) -> LowerError {
        LowerError::Unsupported {
            index: self.index,
            op: self.op.kind.name(),
            why: why.into(),
        }
    }

    fn kernel_err(&self, source: KernelError) -> LowerError {
        LowerError::Kernel {
            index: self.index,
            op: self.op.kind.name(),
            source,
        }
    }

    /// Input `i`, which must be float32.
    fn input(&self, i: usize) -> Result<&'g Tensor, LowerError> {
        let t = self
            .op
            .inputs
            .get(i)
            .map(|&t| self.graph.tensor(t))
            .ok_or_else(|| self.unsupported(format!("missing input {i}")))?;
        self.float(t)
    }

    fn output(&self) -> Result<&'g Tensor, LowerError> {
        let t = self
            .op
            .outputs
            .first()
            .map(|&t| self.graph.tensor(t))
            .ok_or_else(|| self.unsupported("missing output"))?;
        self.float(t)
    }

    fn float(&self, t: &'g Tensor) -> Result<&'g Tensor, LowerError> {
        if t.dtype == DType::F32 {
            Ok(t)
        } else {
            Err(self.unsupported(format!(
                "tensor {:?} is {} in a float32 op; mixed float/integer ops are not supported",
                t.name, t.dtype
            )))
        }
    }

    fn constant(&self, i: usize) -> Result<Vec<f32>, LowerError> {
        let t = self.input(i)?;
        t.const_f32()
            .ok_or_else(|| self.unsupported(format!("{:?} must be a constant", t.name)))
    }

    fn shape4(&self, t: &Tensor) -> Result<[usize; 4], LowerError> {
        <[usize; 4]>::try_from(t.shape.as_slice()).map_err(|_| {
            self.unsupported(format!(
                "tensor {:?} has shape {:?}, expected 4 dimensions",
                t.name, t.shape
            ))
        })
    }

    /// The filter: float32, or a dynamic-range model's constant int8
    /// filter (symmetric, per output channel or per tensor).
    fn filter(&self) -> Result<&'g Tensor, LowerError> {
        match self.op.inputs.get(1).map(|&t| self.graph.tensor(t)) {
            Some(t) if t.dtype == DType::I8 => Ok(t),
            _ => self.input(1),
        }
    }

    fn weights(&self, channels: usize) -> Result<FloatWeights, LowerError> {
        let t = self.filter()?;
        let filter = if t.dtype == DType::I8 {
            self.int8_filter(t, channels)?
        } else {
            Filter::F32(self.constant(1)?)
        };
        let bias = match self.op.inputs.get(2) {
            Some(_) => Some(self.constant(2)?),
            None => None,
        };
        if let Some(b) = &bias
            && b.len() != channels
        {
            return Err(self.unsupported(format!(
                "bias has {} values for {channels} output channels",
                b.len()
            )));
        }
        Ok(FloatWeights { filter, bias })
    }

    /// An int8 filter's values and one scale per output channel (a
    /// per-tensor scale repeated); the validator saw zero points of 0.
    fn int8_filter(&self, t: &Tensor, channels: usize) -> Result<Filter, LowerError> {
        let values: Vec<i8> = match &t.data {
            Some(bytes) => bytes.iter().map(|&b| b as i8).collect(),
            None => return Err(self.unsupported(format!("{:?} must be a constant", t.name))),
        };
        let scales = match &t.quant {
            Some(q) if q.scales.len() == channels => q.scales.clone(),
            Some(q) if q.scales.len() == 1 => vec![q.scales[0]; channels],
            _ => {
                return Err(self.unsupported(format!(
                    "int8 filter {:?} needs one scale or one per output channel ({channels})",
                    t.name
                )));
            }
        };
        Ok(Filter::Int8 { values, scales })
    }

    fn shapes_do_not_fit(&self, tensors: &[&Tensor]) -> LowerError {
        let shapes: Vec<String> = tensors
            .iter()
            .map(|t| format!("{:?} {:?}", t.name, t.shape))
            .collect();
        self.unsupported(format!("shapes do not fit: {}", shapes.join(", ")))
    }
}

/// The float kernel for `op` and the tensors it reads as data buffers.
pub(crate) fn select_float(
    graph: &Graph,
    op: &Op,
    index: usize,
) -> Result<(FloatKernel, Vec<TensorId>), LowerError> {
    let cx = Ctx { graph, op, index };
    let one: Vec<TensorId> = op.inputs.iter().take(1).copied().collect();
    let kernel = match &op.kind {
        OpKind::Conv2D(a) => conv2d(&cx, a)?,
        OpKind::DepthwiseConv2D(a) => depthwise(&cx, a)?,
        OpKind::FullyConnected(a) => fully_connected(&cx, a)?,
        OpKind::AveragePool2D(a) => FloatKernel::AveragePool(pool(&cx, a)?),
        OpKind::MaxPool2D(a) => FloatKernel::MaxPool(pool(&cx, a)?),
        OpKind::Add { activation }
        | OpKind::Sub { activation }
        | OpKind::Mul { activation }
        | OpKind::Div { activation } => {
            let r = FloatRange::of(*activation);
            let (act_min, act_max) = (r.min, r.max);
            let op = match op.kind {
                OpKind::Add { .. } => BinaryF32::Add { act_min, act_max },
                OpKind::Sub { .. } => BinaryF32::Sub { act_min, act_max },
                OpKind::Div { .. } => BinaryF32::Div { act_min, act_max },
                _ => BinaryF32::Mul { act_min, act_max },
            };
            return Ok((binary(&cx, op)?, cx.op.inputs.clone()));
        }
        OpKind::Maximum => return Ok((binary(&cx, BinaryF32::Maximum)?, op.inputs.clone())),
        OpKind::Minimum => return Ok((binary(&cx, BinaryF32::Minimum)?, op.inputs.clone())),
        OpKind::Prelu => return Ok((binary(&cx, BinaryF32::Prelu)?, op.inputs.clone())),
        OpKind::SquaredDifference => {
            return Ok((
                binary(&cx, BinaryF32::SquaredDifference)?,
                op.inputs.clone(),
            ));
        }
        OpKind::Relu => unary(&cx, UnaryF32::Relu)?,
        OpKind::Relu6 => unary(&cx, UnaryF32::Relu6)?,
        OpKind::ReluN1To1 => unary(&cx, UnaryF32::ReluN1To1)?,
        OpKind::LeakyRelu { alpha } => unary(&cx, UnaryF32::LeakyRelu { alpha: *alpha })?,
        OpKind::HardSwish => unary(&cx, UnaryF32::HardSwish)?,
        OpKind::Logistic => unary(&cx, UnaryF32::Logistic)?,
        OpKind::Tanh => unary(&cx, UnaryF32::Tanh)?,
        OpKind::Exp => unary(&cx, UnaryF32::Exp)?,
        OpKind::Log => unary(&cx, UnaryF32::Log)?,
        OpKind::Sqrt => unary(&cx, UnaryF32::Sqrt)?,
        OpKind::Rsqrt => unary(&cx, UnaryF32::Rsqrt)?,
        OpKind::Abs => unary(&cx, UnaryF32::Abs)?,
        OpKind::Neg => unary(&cx, UnaryF32::Neg)?,
        OpKind::Square => unary(&cx, UnaryF32::Square)?,
        OpKind::Softmax { beta } => {
            let input = cx.input(0)?;
            cx.output()?;
            let depth = input.shape.last().copied().unwrap_or(1);
            let outer = input.num_elements().unwrap_or(0) / depth.max(1);
            FloatKernel::Softmax(SoftmaxF32Params {
                outer,
                depth,
                beta: *beta,
            })
        }
        OpKind::Mean { axes, .. } => mean(&cx, axes)?,
        OpKind::Pad { paddings } => pad_kernel(&cx, paddings)?,
        OpKind::Concatenation { axis, activation } => {
            if *activation != Activation::None {
                return Err(cx.unsupported("a fused activation on CONCATENATION"));
            }
            let mut shapes = Vec::new();
            for i in 0..op.inputs.len() {
                shapes.push(cx.input(i)?.shape.as_slice());
            }
            cx.output()?;
            let axis = i32::try_from(*axis).map_err(|_| cx.unsupported("axis out of range"))?;
            let params = concat::prepare_concat(&shapes, axis).map_err(|e| cx.kernel_err(e))?;
            return Ok((FloatKernel::Concat(params), op.inputs.clone()));
        }
        OpKind::Transpose { perm } => {
            let input = cx.input(0)?;
            cx.output()?;
            let perm: Vec<i32> = perm.iter().map(|&p| p as i32).collect();
            FloatKernel::Transpose(
                transpose::prepare_transpose(&input.shape, &perm).map_err(|e| cx.kernel_err(e))?,
            )
        }
        OpKind::SpaceToDepth { .. } | OpKind::DepthToSpace { .. } => {
            let input = cx.input(0)?;
            cx.output()?;
            FloatKernel::Transpose(
                crate::select::space_depth_transpose(&op.kind, &input.shape)
                    .map_err(|e| cx.kernel_err(e))?,
            )
        }
        OpKind::Gather { axis, indices } => {
            let input = cx.input(0)?;
            cx.output()?;
            let (params, indices) = crate::select::gather_params(&input.shape, *axis, indices)
                .map_err(|e| cx.kernel_err(e))?;
            FloatKernel::Gather { params, indices }
        }
        OpKind::StridedSlice(a) => strided_slice(&cx, a)?,
        OpKind::BatchMatMul { adj_x, adj_y } => {
            let (lhs, rhs, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
            let shape = crate::select::batch_matmul_shape(lhs, rhs, out, *adj_x, *adj_y)
                .map_err(|why| cx.unsupported(why))?;
            return Ok((FloatKernel::BatchMatMul(shape), op.inputs.clone()));
        }
        OpKind::Quantize
        | OpKind::Dequantize
        | OpKind::Lut(_)
        | OpKind::Reshape
        | OpKind::Squeeze
        | OpKind::ExpandDims => {
            return Err(cx.unsupported("not a float32 computation"));
        }
        OpKind::Svdf(a) => {
            let n = op.inputs.len();
            let geometry = crate::select::svdf_shape(graph, op, a.rank)
                .ok_or_else(|| cx.unsupported("malformed SVDF shapes"))?;
            cx.input(n - 1)?;
            cx.output()?;
            let weights = SvdfF32Weights {
                feature: cx.constant(1)?,
                time: cx.constant(2)?,
                bias: if n == 5 { Some(cx.constant(3)?) } else { None },
            };
            let p = geometry;
            p.check(
                p.batches * p.input_size,
                weights.feature.len(),
                weights.time.len(),
                weights.bias.as_ref().map(Vec::len),
                p.state_len().unwrap_or(0),
                p.batches * p.units(),
            )
            .map_err(|e| cx.kernel_err(e))?;
            let kernel = FloatKernel::Svdf {
                params: geometry,
                activation: a.activation,
                weights,
            };
            return Ok((kernel, vec![op.inputs[0], op.inputs[n - 1]]));
        }
        OpKind::Lstm(a) => return lstm(&cx, a),
        // Signal-library ops compute in their own integer types, CAST in
        // `select_int32` (`select`).
        OpKind::Signal(_) | OpKind::Cast => {
            return Err(cx.unsupported("an integer op, never float"));
        }
        OpKind::ResizeBilinear(r) => {
            let params = float_resize::prepare_resize_bilinear_f32(
                resize_geometry(&cx)?,
                r.align_corners,
                r.half_pixel_centers,
            )
            .map_err(|e| cx.kernel_err(e))?;
            FloatKernel::ResizeBilinear(params)
        }
        OpKind::ResizeNearestNeighbor(r) => {
            FloatKernel::ResizeNearest(resize::prepare_resize_nearest(
                resize_geometry(&cx)?,
                r.align_corners,
                r.half_pixel_centers,
            ))
        }
        OpKind::TransposeConv(a) => transpose_conv(&cx, a)?,
    };
    Ok((kernel, one))
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM: the shapes from the validated input and
/// hidden state, the weights gathered gate by gate in the kernel's layout;
/// the step reads the data and the op's state block (keyed by the hidden
/// state, `plan_state`).
fn lstm(cx: &Ctx<'_>, a: &tinyq_ir::op::Lstm) -> Result<(FloatKernel, Vec<TensorId>), LowerError> {
    use tinyq_kernels::lstm::LstmParams;
    let (x, hidden) = (cx.input(0)?, cx.input(13)?);
    cx.output()?;
    let (&[d0, d1, input_size], &[_, units]) = (x.shape.as_slice(), hidden.shape.as_slice()) else {
        return Err(cx.unsupported("malformed LSTM shapes"));
    };
    let (time_steps, batches) = if a.time_major { (d0, d1) } else { (d1, d0) };
    let params = LstmParams {
        batches,
        time_steps,
        input_size,
        units,
        time_major: a.time_major,
        cell_clip: a.cell_clip,
    };
    let mut weights = Vec::new();
    for gate in 0..4 {
        for k in [1 + gate, 5 + gate, 9 + gate] {
            weights.extend(cx.constant(k)?);
        }
    }
    let rows = batches * time_steps;
    params
        .check(
            rows * input_size,
            weights.len(),
            params.state_len().unwrap_or(0),
            rows * units,
        )
        .map_err(|e| cx.kernel_err(e))?;
    let op = cx.op;
    Ok((
        FloatKernel::Lstm { params, weights },
        vec![op.inputs[0], op.inputs[13]],
    ))
}

fn conv2d(cx: &Ctx<'_>, a: &Conv2D) -> Result<FloatKernel, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.filter()?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [oc, kh, kw, fic] = cx.shape4(filter)?;
    let [on, oh, ow, occ] = cx.shape4(output)?;
    if on != n || occ != oc || fic == 0 || ic % fic != 0 {
        return Err(cx.shapes_do_not_fit(&[input, filter, output]));
    }
    let r = FloatRange::of(a.activation);
    let params = ConvF32Params {
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
        stride_height: a.stride.h,
        stride_width: a.stride.w,
        dilation_height: a.dilation.h,
        dilation_width: a.dilation.w,
        pad_top: a.padding.top,
        pad_left: a.padding.left,
        act_min: r.min,
        act_max: r.max,
    };
    Ok(FloatKernel::Conv2D {
        params,
        weights: cx.weights(oc)?,
    })
}

fn depthwise(cx: &Ctx<'_>, a: &DepthwiseConv2D) -> Result<FloatKernel, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.filter()?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [one, kh, kw, fc] = cx.shape4(filter)?;
    let [on, oh, ow, oc] = cx.shape4(output)?;
    if one != 1 || on != n || fc != oc || ic == 0 || oc % ic != 0 {
        return Err(cx.shapes_do_not_fit(&[input, filter, output]));
    }
    let r = FloatRange::of(a.activation);
    let params = DepthwiseF32Params {
        batches: n,
        input_height: ih,
        input_width: iw,
        input_channels: ic,
        depth_multiplier: oc / ic,
        filter_height: kh,
        filter_width: kw,
        output_height: oh,
        output_width: ow,
        stride_height: a.stride.h,
        stride_width: a.stride.w,
        dilation_height: a.dilation.h,
        dilation_width: a.dilation.w,
        pad_top: a.padding.top,
        pad_left: a.padding.left,
        act_min: r.min,
        act_max: r.max,
    };
    Ok(FloatKernel::DepthwiseConv2D {
        params,
        weights: cx.weights(oc)?,
    })
}

/// TRANSPOSE_CONV: float32 data, filter and bias (an int8 filter, which
/// TFLM runs through its hybrid kernel, is refused by `cx.input`).
fn transpose_conv(cx: &Ctx<'_>, a: &TransposeConv) -> Result<FloatKernel, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let [n, ih, iw, ic] = cx.shape4(input)?;
    let [oc, kh, kw, fic] = cx.shape4(filter)?;
    let [on, oh, ow, occ] = cx.shape4(output)?;
    if on != n || occ != oc || fic != ic {
        return Err(cx.shapes_do_not_fit(&[input, filter, output]));
    }
    let r = FloatRange::of(a.activation);
    let params = TransposeConvF32Params {
        batches: n,
        input_height: ih,
        input_width: iw,
        input_channels: ic,
        filter_height: kh,
        filter_width: kw,
        output_height: oh,
        output_width: ow,
        output_channels: oc,
        stride_height: a.stride.h,
        stride_width: a.stride.w,
        pad_top: a.padding.top,
        pad_left: a.padding.left,
        act_min: r.min,
        act_max: r.max,
    };
    Ok(FloatKernel::TransposeConv {
        params,
        weights: cx.weights(oc)?,
    })
}

/// The NHWC geometry of a RESIZE_* op (the size input is already folded
/// into the output shape).
fn resize_geometry(cx: &Ctx<'_>) -> Result<ResizeGeometry, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let [n, ih, iw, c] = cx.shape4(input)?;
    let [on, oh, ow, oc] = cx.shape4(output)?;
    if on != n || oc != c {
        return Err(cx.shapes_do_not_fit(&[input, output]));
    }
    Ok(ResizeGeometry {
        batches: n,
        input_height: ih,
        input_width: iw,
        channels: c,
        output_height: oh,
        output_width: ow,
    })
}

fn fully_connected(cx: &Ctx<'_>, a: &FullyConnected) -> Result<FloatKernel, LowerError> {
    let (input, filter, output) = (cx.input(0)?, cx.filter()?, cx.output()?);
    let Ok([out_depth, depth]) = <[usize; 2]>::try_from(filter.shape.as_slice()) else {
        return Err(cx.shapes_do_not_fit(&[input, filter, output]));
    };
    let in_elems = input.num_elements().unwrap_or(0);
    let out_elems = output.num_elements().unwrap_or(0);
    if depth == 0 || in_elems % depth != 0 || out_elems != in_elems / depth * out_depth {
        return Err(cx.shapes_do_not_fit(&[input, filter, output]));
    }
    let r = FloatRange::of(a.activation);
    let params = FullyConnectedF32Params {
        batches: in_elems / depth,
        accum_depth: depth,
        output_depth: out_depth,
        act_min: r.min,
        act_max: r.max,
    };
    Ok(FloatKernel::FullyConnected {
        params,
        weights: cx.weights(out_depth)?,
    })
}

fn pool(cx: &Ctx<'_>, a: &Pool2D) -> Result<PoolF32Params, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let [n, ih, iw, c] = cx.shape4(input)?;
    let [on, oh, ow, oc] = cx.shape4(output)?;
    if on != n || oc != c {
        return Err(cx.shapes_do_not_fit(&[input, output]));
    }
    let r = FloatRange::of(a.activation);
    Ok(PoolF32Params {
        batches: n,
        input_height: ih,
        input_width: iw,
        channels: c,
        filter_height: a.filter.h,
        filter_width: a.filter.w,
        output_height: oh,
        output_width: ow,
        stride_height: a.stride.h,
        stride_width: a.stride.w,
        pad_top: a.padding.top,
        pad_left: a.padding.left,
        act_min: r.min,
        act_max: r.max,
    })
}

fn binary(cx: &Ctx<'_>, op: BinaryF32) -> Result<FloatKernel, LowerError> {
    let (a, b, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
    let err = |e| cx.kernel_err(e);
    let broadcast = if a.shape == b.shape && a.shape == out.shape {
        None
    } else {
        let pad = |t: &Tensor| pad_shape(&t.shape).map_err(err);
        let bc = Broadcast {
            shape1: pad(a)?,
            shape2: pad(b)?,
            out_shape: pad(out)?,
        };
        if shape::broadcast_shape(&bc.shape1, &bc.shape2).map_err(err)? != bc.out_shape {
            return Err(cx.shapes_do_not_fit(&[a, b, out]));
        }
        Some(bc)
    };
    Ok(FloatKernel::Binary { op, broadcast })
}

fn unary(cx: &Ctx<'_>, op: UnaryF32) -> Result<FloatKernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    if input.num_elements() != output.num_elements() {
        return Err(cx.shapes_do_not_fit(&[input, output]));
    }
    Ok(FloatKernel::Unary(op))
}

fn mean(cx: &Ctx<'_>, axes: &[usize]) -> Result<FloatKernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let input_shape = pad_shape(&input.shape).map_err(|e| cx.kernel_err(e))?;
    let rank = input.shape.len();
    let mut reduce = [false; MAX_DIMS];
    for &a in axes {
        if a >= rank {
            return Err(cx.unsupported(format!("axis {a} out of range for rank {rank}")));
        }
        reduce[MAX_DIMS - rank + a] = true;
    }
    let params = MeanF32Params {
        input_shape,
        reduce,
    };
    let kept: usize = (0..MAX_DIMS)
        .filter(|&d| !reduce[d])
        .map(|d| input_shape[d])
        .product();
    if Some(kept) != output.num_elements() {
        return Err(cx.shapes_do_not_fit(&[input, output]));
    }
    Ok(FloatKernel::Mean(params))
}

fn pad_kernel(cx: &Ctx<'_>, paddings: &[(usize, usize)]) -> Result<FloatKernel, LowerError> {
    let input = cx.input(0)?;
    cx.output()?;
    // PADV2's second input is the pad value.
    let value = match cx.op.inputs.get(1) {
        Some(_) => match cx.constant(1)?[..] {
            [v] => v,
            _ => return Err(cx.unsupported("PADV2 pad value must be a single constant")),
        },
        None => 0.0,
    };
    let pairs: Vec<[i32; 2]> = paddings
        .iter()
        .map(|&(b, a)| [b as i32, a as i32])
        .collect();
    let params =
        pad::prepare_pad(&input.shape, &pairs, Some(0), 0).map_err(|e| cx.kernel_err(e))?;
    Ok(FloatKernel::Pad { params, value })
}

fn strided_slice(cx: &Ctx<'_>, a: &tinyq_ir::op::StridedSlice) -> Result<FloatKernel, LowerError> {
    let (input, output) = (cx.input(0)?, cx.output()?);
    let (params, shape) = slice::prepare_strided_slice(
        &input.shape,
        &a.begin,
        &a.end,
        &a.strides,
        a.begin_mask,
        a.end_mask,
        a.ellipsis_mask,
        a.new_axis_mask,
        a.shrink_axis_mask,
        a.offset,
    )
    .map_err(|e| cx.kernel_err(e))?;
    let count: usize = shape.as_slice().iter().product();
    if Some(count) != output.num_elements() {
        return Err(cx.shapes_do_not_fit(&[input, output]));
    }
    Ok(FloatKernel::StridedSlice(params))
}

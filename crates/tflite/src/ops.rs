//! TFLite operators to IR ops: builtin options to typed attributes,
//! parameter tensors (axes, paddings, permutations, slice bounds, shapes)
//! folded into attributes, SAME/VALID resolved to explicit padding.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use tinyq_ir::op::{
    Conv2D, DepthwiseConv2D, FullyConnected, Hw, Pool2D, Resize, StridedSlice, TransposeConv,
};
use tinyq_ir::tensor::shape_string;
use tinyq_ir::{Activation, DType, OpKind, Tensor};

use crate::error::ReadError;
use crate::fold::IntConst;
use crate::limits::{MAX_PARAM_ELEMENTS, MAX_RANK};
use crate::padding::{self, Axis};
use crate::schema::{OperatorCode, fb, malformed, unknown_enum_tag};
use crate::support;

/// An operator of subgraph 0 as read from the file, before mapping.
#[derive(Debug)]
pub(crate) struct RawOp<'a> {
    /// Position in `SubGraph.operators`.
    pub index: usize,
    pub code: OperatorCode,
    /// Tensor indices; `None` for an absent optional input (`-1`).
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
    pub fb: fb::OperatorRef<'a>,
}

/// An op mapped to the IR, still speaking of tensors by file index.
#[derive(Debug)]
pub(crate) struct Mapped {
    pub kind: OpKind,
    /// The data inputs that remain after parameters were folded.
    pub inputs: Vec<usize>,
    /// A tensor the op gets as its last input: a zero bias (see
    /// [`Cx::wide_zero_bias`]) or SignalFilterBankSpectralSubtraction's
    /// noise-estimate state (see [`map_signal`]).
    pub zero_bias: Option<Tensor>,
}

/// The op being mapped and the tensors it can see.
struct Cx<'o, 'a> {
    op: &'o RawOp<'a>,
    kind: &'static str,
    tensors: &'o BTreeMap<usize, Tensor>,
}

/// Whether file input `k` of a stateful op is its state (a variable
/// tensor): an SVDF's input 4, an LSTM's 18 (hidden) and 19 (cell).
pub(crate) fn is_state_input(op: &RawOp<'_>, k: usize) -> bool {
    match fb::BuiltinOperator::try_from(op.code.code) {
        Ok(fb::BuiltinOperator::Svdf) => k == 4,
        Ok(fb::BuiltinOperator::UnidirectionalSequenceLstm) => k == 18 || k == 19,
        _ => false,
    }
}

/// The custom code of a signal-library op tinyq reads, if `op` is one.
pub(crate) fn signal_code<'o>(op: &'o RawOp<'_>) -> Option<&'o str> {
    let code = op.code.custom.as_deref()?;
    (op.code.code == crate::schema::CUSTOM && crate::signal::is_signal(code)).then_some(code)
}

/// Maps a signal-library custom op: its flexbuffer options, every input a
/// data input. SignalFilterBankSpectralSubtraction keeps its noise estimate
/// between invokes in TFLM's persistent buffer, which reset zeroes: tinyq
/// gives the op a variable tensor for it (`NAME/noise_estimate_state`,
/// UINT32 `[num_channels]`, zeroed at reset) as its last input, so the
/// state machinery of SVDF and LSTM plans, resets and streams it; the
/// writer leaves it out again.
fn map_signal(
    op: &RawOp<'_>,
    code: &str,
    tensors: &BTreeMap<usize, Tensor>,
) -> Result<Mapped, ReadError> {
    let err = |why: String| ReadError::InvalidOp {
        index: op.index,
        kind: tinyq_ir::signal::SignalOp::NAMES
            .into_iter()
            .find(|n| *n == code)
            .unwrap_or("CUSTOM"),
        why,
    };
    let options = op
        .fb
        .custom_options()
        .map_err(|e| err(format!("custom options: {e}")))?;
    let kind = crate::signal::map(code, options).map_err(err)?;
    let n = kind.file_arity();
    let outputs = 1 + usize::from(kind.second_output().is_some());
    if op.inputs.len() != n || op.outputs.len() != outputs {
        return Err(err(format!(
            "{} inputs and {} outputs, expected {n} and {outputs}",
            op.inputs.len(),
            op.outputs.len()
        )));
    }
    let state = match kind {
        tinyq_ir::signal::SignalOp::SpectralSubtraction(p) => {
            let name = op
                .outputs
                .first()
                .and_then(|t| tensors.get(t))
                .map_or("spectral_subtraction", |t| t.name.as_str());
            Some(Tensor::new(
                format!("{name}/noise_estimate_state"),
                vec![p.num_channels],
                tinyq_ir::DType::U32,
            ))
        }
        _ => None,
    };
    let inputs = op
        .inputs
        .iter()
        .enumerate()
        .map(|(i, t)| t.ok_or_else(|| err(format!("input {i} is missing"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Mapped {
        kind: OpKind::Signal(kind),
        inputs,
        zero_bias: state,
    })
}

/// Maps one op. `tensors` holds every tensor the op refers to.
pub(crate) fn map(op: &RawOp<'_>, tensors: &BTreeMap<usize, Tensor>) -> Result<Mapped, ReadError> {
    use fb::BuiltinOperator as B;
    if let Some(code) = signal_code(op) {
        return map_signal(op, code, tensors);
    }
    let unsupported = || ReadError::UnsupportedOp {
        index: op.index,
        name: op.code.name(),
        supported: support::supported_list(),
    };
    let code = fb::BuiltinOperator::try_from(op.code.code)
        .ok()
        .filter(|&c| support::is_mapped(c))
        .ok_or_else(unsupported)?;
    let cx = Cx {
        op,
        kind: op.code.static_name(),
        tensors,
    };
    let (kind, inputs) = match code {
        B::Conv2d => cx.conv2d()?,
        B::DepthwiseConv2d => cx.depthwise()?,
        B::FullyConnected => cx.fully_connected()?,
        B::AveragePool2d => cx.pool(false)?,
        B::MaxPool2d => cx.pool(true)?,
        B::Add | B::Sub | B::Mul | B::Div => cx.binary_act(code)?,
        B::Exp => (OpKind::Exp, cx.data_inputs(1)?),
        B::Log => (OpKind::Log, cx.data_inputs(1)?),
        B::Sqrt => (OpKind::Sqrt, cx.data_inputs(1)?),
        B::Rsqrt => (OpKind::Rsqrt, cx.data_inputs(1)?),
        B::Cast => (OpKind::Cast, cx.data_inputs(1)?),
        B::Abs => (OpKind::Abs, cx.data_inputs(1)?),
        B::Neg => (OpKind::Neg, cx.data_inputs(1)?),
        B::Square => (OpKind::Square, cx.data_inputs(1)?),
        B::Maximum => (OpKind::Maximum, cx.data_inputs(2)?),
        B::Prelu => (OpKind::Prelu, cx.data_inputs(2)?),
        B::Minimum => (OpKind::Minimum, cx.data_inputs(2)?),
        B::SquaredDifference => (OpKind::SquaredDifference, cx.data_inputs(2)?),
        B::BatchMatmul => {
            // `asymmetric_quantize_inputs` only concerns the hybrid kernel
            // (float lhs, int8 rhs), which TFLM refuses and validation too.
            let o: fb::BatchMatMulOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::BatchMatMulOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            let kind = OpKind::BatchMatMul {
                adj_x: o.adj_x,
                adj_y: o.adj_y,
            };
            (kind, cx.data_inputs(2)?)
        }
        B::Softmax => {
            // Schema default 0.0 when absent; converters always write 1.0.
            let o: fb::SoftmaxOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::SoftmaxOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            (OpKind::Softmax { beta: o.beta }, cx.data_inputs(1)?)
        }
        B::Logistic => (OpKind::Logistic, cx.data_inputs(1)?),
        B::Tanh => (OpKind::Tanh, cx.data_inputs(1)?),
        B::Relu => (OpKind::Relu, cx.data_inputs(1)?),
        B::Relu6 => (OpKind::Relu6, cx.data_inputs(1)?),
        B::ReluN1To1 => (OpKind::ReluN1To1, cx.data_inputs(1)?),
        B::HardSwish => (OpKind::HardSwish, cx.data_inputs(1)?),
        B::LeakyRelu => {
            let o: fb::LeakyReluOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::LeakyReluOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            (OpKind::LeakyRelu { alpha: o.alpha }, cx.data_inputs(1)?)
        }
        B::Quantize => (OpKind::Quantize, cx.data_inputs(1)?),
        B::Dequantize => (OpKind::Dequantize, cx.data_inputs(1)?),
        B::Concatenation => cx.concatenation()?,
        B::Mean => cx.mean()?,
        B::Pad | B::Padv2 => cx.pad(code == B::Padv2)?,
        B::Reshape => cx.reshape_like(OpKind::Reshape, 1, 2)?,
        B::Squeeze => cx.reshape_like(OpKind::Squeeze, 1, 1)?,
        B::ExpandDims => cx.reshape_like(OpKind::ExpandDims, 2, 2)?,
        B::Transpose => cx.transpose()?,
        B::SpaceToDepth => {
            let o: fb::SpaceToDepthOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::SpaceToDepthOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            let block = cx.positive("block_size", o.block_size)?;
            (OpKind::SpaceToDepth { block }, cx.data_inputs(1)?)
        }
        B::DepthToSpace => {
            let o: fb::DepthToSpaceOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::DepthToSpaceOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            let block = cx.positive("block_size", o.block_size)?;
            (OpKind::DepthToSpace { block }, cx.data_inputs(1)?)
        }
        B::Gather => cx.gather()?,
        B::StridedSlice => cx.strided_slice()?,
        B::ResizeBilinear => {
            let o: fb::ResizeBilinearOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::ResizeBilinearOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            let r = Resize {
                align_corners: o.align_corners,
                half_pixel_centers: o.half_pixel_centers,
            };
            (OpKind::ResizeBilinear(r), cx.resize()?)
        }
        B::ResizeNearestNeighbor => {
            let o: fb::ResizeNearestNeighborOptions = cx.options(|o| match o {
                fb::BuiltinOptionsRef::ResizeNearestNeighborOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            let r = Resize {
                align_corners: o.align_corners,
                half_pixel_centers: o.half_pixel_centers,
            };
            (OpKind::ResizeNearestNeighbor(r), cx.resize()?)
        }
        B::TransposeConv => cx.transpose_conv()?,
        B::Svdf => cx.svdf()?,
        B::UnidirectionalSequenceLstm => cx.lstm()?,
        _ => return Err(unsupported()),
    };
    let zero_bias = match code {
        B::Conv2d | B::FullyConnected => cx.wide_zero_bias(code)?,
        _ => None,
    };
    Ok(Mapped {
        kind,
        inputs,
        zero_bias,
    })
}

type Result<T, E = ReadError> = std::result::Result<T, E>;

impl<'o, 'a> Cx<'o, 'a> {
    fn err(&self, why: impl Into<String>) -> ReadError {
        ReadError::InvalidOp {
            index: self.op.index,
            kind: self.kind,
            why: why.into(),
        }
    }

    /// Checks the number of inputs (absent optional ones included) and that
    /// there is exactly one output.
    fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.op.inputs.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.err(format!("{n} inputs, expected {want}")));
        }
        if self.op.outputs.len() != 1 {
            return Err(self.err(format!("{} outputs, expected 1", self.op.outputs.len())));
        }
        Ok(())
    }

    /// Input `i` (must be present), with its file index.
    fn input(&self, i: usize) -> Result<(usize, &'o Tensor)> {
        let idx = self
            .op
            .inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| self.err(format!("input {i} is missing")))?;
        Ok((idx, self.tensor(idx)?))
    }

    /// Optional input `i`: `None` when absent or `-1`.
    fn opt_input(&self, i: usize) -> Result<Option<(usize, &'o Tensor)>> {
        match self.op.inputs.get(i).copied().flatten() {
            Some(idx) => Ok(Some((idx, self.tensor(idx)?))),
            None => Ok(None),
        }
    }

    fn tensor(&self, idx: usize) -> Result<&'o Tensor> {
        self.tensors
            .get(&idx)
            .ok_or_else(|| self.err(format!("tensor {idx} was not loaded")))
    }

    fn output(&self) -> Result<&'o Tensor> {
        let idx = *self
            .op
            .outputs
            .first()
            .ok_or_else(|| self.err("has no output"))?;
        self.tensor(idx)
    }

    /// For ops whose inputs are all data: checks arity, returns them.
    fn data_inputs(&self, n: usize) -> Result<Vec<usize>> {
        self.arity(n, n)?;
        (0..n).map(|i| Ok(self.input(i)?.0)).collect()
    }

    /// The builtin options of the expected type, or the schema defaults when
    /// the op has none. `pick` converts the matching union variant.
    fn options<T: Default>(
        &self,
        pick: impl FnOnce(fb::BuiltinOptionsRef<'a>) -> Option<planus::Result<T>>,
    ) -> Result<T> {
        let options = self
            .op
            .fb
            .builtin_options()
            .map_err(|e| self.planus_err(e))?;
        match options {
            None => Ok(T::default()),
            Some(o) => match pick(o) {
                Some(r) => r.map_err(|e| self.planus_err(e)),
                None => Err(self.err("its builtin options are of the wrong type")),
            },
        }
    }

    fn planus_err(&self, e: planus::Error) -> ReadError {
        if let Some(tag) = unknown_enum_tag(&e) {
            return self.err(format!("its options hold an unknown enum value {tag}"));
        }
        if let planus::errors::ErrorKind::UnknownUnionTag { tag } = e.error_kind {
            return self.err(format!("its options have an unknown type tag {tag}"));
        }
        malformed(format!("op #{} ({}) options", self.op.index, self.kind), e)
    }

    fn activation(&self, a: fb::ActivationFunctionType) -> Result<Activation> {
        use fb::ActivationFunctionType as A;
        match a {
            A::None => Ok(Activation::None),
            A::Relu => Ok(Activation::Relu),
            A::ReluN1To1 => Ok(Activation::ReluN1To1),
            A::Relu6 => Ok(Activation::Relu6),
            A::Tanh | A::SignBit => Err(ReadError::UnsupportedActivation {
                index: self.op.index,
                kind: self.kind,
                activation: if a == A::Tanh { "TANH" } else { "SIGN_BIT" }.to_owned(),
            }),
        }
    }

    /// A positive stride/dilation/window size from an options field.
    fn positive(&self, what: &str, v: i32) -> Result<usize> {
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| self.err(format!("{what} is {v}, it must be at least 1")))
    }

    /// A tensor of rank `rank`, named `what` in messages.
    fn rank(&self, t: &Tensor, rank: usize, what: &str) -> Result<()> {
        if t.shape.len() == rank {
            Ok(())
        } else {
            Err(self.err(format!(
                "{what} {:?} has shape {}, expected rank {rank}",
                t.name,
                shape_string(&t.shape)
            )))
        }
    }

    /// The integer values of parameter input `i`, which must be constant.
    fn const_param(&self, i: usize, what: &str) -> Result<IntConst> {
        let (_, t) = self.input(i)?;
        if t.num_elements().is_none_or(|n| n > MAX_PARAM_ELEMENTS) {
            return Err(self.err(format!(
                "{what} (tensor {:?}) has shape {}, too large for a parameter",
                t.name,
                shape_string(&t.shape)
            )));
        }
        IntConst::of(t).ok_or_else(|| {
            self.err(format!(
                "{what} (tensor {:?}) must be a constant int32/int64 tensor",
                t.name
            ))
        })
    }

    fn padding(&self, p: fb::Padding, axis: Axis, which: &str) -> Result<(usize, usize)> {
        padding::resolve(p, axis).map_err(|why| self.err(format!("{which}: {why}")))
    }

    /// Optional bias: absent, or a vector with one value per output channel.
    fn bias(&self, i: usize, channels: usize) -> Result<Option<usize>> {
        let Some((idx, b)) = self.opt_input(i)? else {
            return Ok(None);
        };
        if b.num_elements() != Some(channels) {
            return Err(self.err(format!(
                "bias {:?} has shape {}, expected {channels} values",
                b.name,
                shape_string(&b.shape)
            )));
        }
        Ok(Some(idx))
    }

    /// A 16x8 CONV_2D or FULLY_CONNECTED without a bias still has an
    /// accumulator type: TFLM sums in int32 when the options'
    /// `quantized_bias_type` is INT32 and in int64 otherwise (measured on
    /// TFLM with every value of the field), and rounds differently for each.
    /// The reader makes that explicit as a zero bias of that type, which adds
    /// nothing and selects the same arithmetic downstream.
    fn wide_zero_bias(&self, code: fb::BuiltinOperator) -> Result<Option<Tensor>> {
        let (_, x) = self.input(0)?;
        if x.dtype != DType::I16 || self.opt_input(2)?.is_some() {
            return Ok(None);
        }
        let (bias_type, channels) = if code == fb::BuiltinOperator::Conv2d {
            let o: fb::Conv2DOptions = self.options(|o| match o {
                fb::BuiltinOptionsRef::Conv2DOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            (o.quantized_bias_type, self.input(1)?.1.shape[0])
        } else {
            let o: fb::FullyConnectedOptions = self.options(|o| match o {
                fb::BuiltinOptionsRef::FullyConnectedOptions(r) => Some(r.try_into()),
                _ => None,
            })?;
            (o.quantized_bias_type, self.input(1)?.1.shape[0])
        };
        let (dtype, size) = if bias_type == fb::TensorType::Int32 {
            (DType::I32, 4)
        } else {
            (DType::I64, 8)
        };
        let name = format!("{}/zero_bias", self.output()?.name);
        Ok(Some(Tensor {
            data: Some(vec![0; size * channels]),
            ..Tensor::new(name, vec![channels], dtype)
        }))
    }

    fn conv2d(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 3)?;
        let o: fb::Conv2DOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::Conv2DOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let (xi, x) = self.input(0)?;
        let (wi, w) = self.input(1)?;
        let out = self.output()?;
        self.rank(x, 4, "input")?;
        self.rank(w, 4, "filter")?;
        self.rank(out, 4, "output")?;
        if x.shape[3] != w.shape[3] {
            return Err(self.err(format!(
                "input has {} channels but filter {:?} expects {} (grouped convolution is not supported)",
                x.shape[3], w.name, w.shape[3]
            )));
        }
        if out.shape[0] != x.shape[0] || out.shape[3] != w.shape[0] {
            return Err(self.err(format!(
                "output shape {} does not match input {} and filter {}",
                shape_string(&out.shape),
                shape_string(&x.shape),
                shape_string(&w.shape)
            )));
        }
        let stride = Hw {
            h: self.positive("stride_h", o.stride_h)?,
            w: self.positive("stride_w", o.stride_w)?,
        };
        let dilation = Hw {
            h: self.positive("dilation_h_factor", o.dilation_h_factor)?,
            w: self.positive("dilation_w_factor", o.dilation_w_factor)?,
        };
        let padding =
            self.window_padding(o.padding, x, w.shape[1], w.shape[2], stride, dilation)?;
        let mut inputs = vec![xi, wi];
        inputs.extend(self.bias(2, w.shape[0])?);
        let activation = self.activation(o.fused_activation_function)?;
        Ok((
            OpKind::Conv2D(Conv2D {
                stride,
                dilation,
                padding,
                activation,
            }),
            inputs,
        ))
    }

    /// Explicit padding of a 2-D window op over NHWC `x` whose output is
    /// this op's output.
    fn window_padding(
        &self,
        p: fb::Padding,
        x: &Tensor,
        kh: usize,
        kw: usize,
        stride: Hw,
        dilation: Hw,
    ) -> Result<tinyq_ir::Padding2D> {
        let out = self.output()?;
        let (top, bottom) = self.padding(
            p,
            Axis {
                input: x.shape[1],
                kernel: kh,
                stride: stride.h,
                dilation: dilation.h,
                output: out.shape[1],
            },
            "height",
        )?;
        let (left, right) = self.padding(
            p,
            Axis {
                input: x.shape[2],
                kernel: kw,
                stride: stride.w,
                dilation: dilation.w,
                output: out.shape[2],
            },
            "width",
        )?;
        Ok(tinyq_ir::Padding2D {
            top,
            bottom,
            left,
            right,
        })
    }

    fn depthwise(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 3)?;
        let o: fb::DepthwiseConv2DOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::DepthwiseConv2DOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let (xi, x) = self.input(0)?;
        let (wi, w) = self.input(1)?;
        let out = self.output()?;
        self.rank(x, 4, "input")?;
        self.rank(w, 4, "filter")?;
        self.rank(out, 4, "output")?;
        let (c_in, c_out) = (x.shape[3], w.shape[3]);
        // `depth_multiplier` is redundant per the schema (and some converters
        // write it wrong): the shapes decide.
        if w.shape[0] != 1 || c_in == 0 || c_out % c_in != 0 {
            return Err(self.err(format!(
                "filter shape {} does not fit input shape {} (expected [1, KH, KW, C_in * multiplier])",
                shape_string(&w.shape),
                shape_string(&x.shape)
            )));
        }
        if out.shape[0] != x.shape[0] || out.shape[3] != c_out {
            return Err(self.err(format!(
                "output shape {} does not match input {} and filter {}",
                shape_string(&out.shape),
                shape_string(&x.shape),
                shape_string(&w.shape)
            )));
        }
        let stride = Hw {
            h: self.positive("stride_h", o.stride_h)?,
            w: self.positive("stride_w", o.stride_w)?,
        };
        let dilation = Hw {
            h: self.positive("dilation_h_factor", o.dilation_h_factor)?,
            w: self.positive("dilation_w_factor", o.dilation_w_factor)?,
        };
        let padding =
            self.window_padding(o.padding, x, w.shape[1], w.shape[2], stride, dilation)?;
        let mut inputs = vec![xi, wi];
        inputs.extend(self.bias(2, c_out)?);
        let activation = self.activation(o.fused_activation_function)?;
        Ok((
            OpKind::DepthwiseConv2D(DepthwiseConv2D {
                stride,
                dilation,
                padding,
                depth_multiplier: c_out / c_in,
                activation,
            }),
            inputs,
        ))
    }

    fn fully_connected(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 3)?;
        let o: fb::FullyConnectedOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::FullyConnectedOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        if o.weights_format != fb::FullyConnectedOptionsWeightsFormat::Default {
            return Err(self.err(format!(
                "weights_format {:?} is not supported (only DEFAULT)",
                o.weights_format
            )));
        }
        let (xi, x) = self.input(0)?;
        let (wi, w) = self.input(1)?;
        let out = self.output()?;
        self.rank(w, 2, "filter")?;
        let (units, depth) = (w.shape[0], w.shape[1]);
        let x_elems = x.num_elements().unwrap_or(0);
        let rows = x_elems.checked_div(depth).unwrap_or(0);
        let ok = depth > 0
            && x_elems % depth == 0
            && out.shape.last() == Some(&units)
            && out.num_elements() == rows.checked_mul(units);
        if !ok {
            return Err(self.err(format!(
                "input {}, filter {} and output {} do not fit together",
                shape_string(&x.shape),
                shape_string(&w.shape),
                shape_string(&out.shape)
            )));
        }
        let mut inputs = vec![xi, wi];
        inputs.extend(self.bias(2, units)?);
        let activation = self.activation(o.fused_activation_function)?;
        Ok((
            OpKind::FullyConnected(FullyConnected {
                keep_num_dims: o.keep_num_dims,
                activation,
            }),
            inputs,
        ))
    }

    fn pool(&self, max: bool) -> Result<(OpKind, Vec<usize>)> {
        let inputs = self.data_inputs(1)?;
        let o: fb::Pool2DOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::Pool2DOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let (_, x) = self.input(0)?;
        let out = self.output()?;
        self.rank(x, 4, "input")?;
        self.rank(out, 4, "output")?;
        if out.shape[0] != x.shape[0] || out.shape[3] != x.shape[3] {
            return Err(self.err(format!(
                "output shape {} does not match input {}",
                shape_string(&out.shape),
                shape_string(&x.shape)
            )));
        }
        let filter = Hw {
            h: self.positive("filter_height", o.filter_height)?,
            w: self.positive("filter_width", o.filter_width)?,
        };
        let stride = Hw {
            h: self.positive("stride_h", o.stride_h)?,
            w: self.positive("stride_w", o.stride_w)?,
        };
        let one = Hw { h: 1, w: 1 };
        let padding = self.window_padding(o.padding, x, filter.h, filter.w, stride, one)?;
        let attrs = Pool2D {
            filter,
            stride,
            padding,
            activation: self.activation(o.fused_activation_function)?,
        };
        let kind = if max {
            OpKind::MaxPool2D(attrs)
        } else {
            OpKind::AveragePool2D(attrs)
        };
        Ok((kind, inputs))
    }

    fn binary_act(&self, code: fb::BuiltinOperator) -> Result<(OpKind, Vec<usize>)> {
        use fb::BuiltinOperator as B;
        let inputs = self.data_inputs(2)?;
        let kind = match code {
            B::Add => {
                let o: fb::AddOptions = self.options(|o| match o {
                    fb::BuiltinOptionsRef::AddOptions(r) => Some(r.try_into()),
                    _ => None,
                })?;
                OpKind::Add {
                    activation: self.activation(o.fused_activation_function)?,
                }
            }
            B::Sub => {
                let o: fb::SubOptions = self.options(|o| match o {
                    fb::BuiltinOptionsRef::SubOptions(r) => Some(r.try_into()),
                    _ => None,
                })?;
                OpKind::Sub {
                    activation: self.activation(o.fused_activation_function)?,
                }
            }
            B::Div => {
                let o: fb::DivOptions = self.options(|o| match o {
                    fb::BuiltinOptionsRef::DivOptions(r) => Some(r.try_into()),
                    _ => None,
                })?;
                OpKind::Div {
                    activation: self.activation(o.fused_activation_function)?,
                }
            }
            _ => {
                let o: fb::MulOptions = self.options(|o| match o {
                    fb::BuiltinOptionsRef::MulOptions(r) => Some(r.try_into()),
                    _ => None,
                })?;
                OpKind::Mul {
                    activation: self.activation(o.fused_activation_function)?,
                }
            }
        };
        Ok((kind, inputs))
    }

    /// `axis` in `-rank..rank`, normalized.
    fn axis(&self, axis: i64, rank: usize) -> Result<usize> {
        let r = rank as i64;
        let a = if axis < 0 { axis + r } else { axis };
        if (0..r).contains(&a) {
            Ok(a as usize)
        } else {
            Err(self.err(format!("axis {axis} is out of range for rank {rank}")))
        }
    }

    fn concatenation(&self) -> Result<(OpKind, Vec<usize>)> {
        let n = self.op.inputs.len();
        if n == 0 {
            return Err(self.err("has no inputs"));
        }
        let inputs = self.data_inputs(n)?;
        let o: fb::ConcatenationOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::ConcatenationOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let out = self.output()?;
        let axis = self.axis(i64::from(o.axis), out.shape.len())?;
        // Every input agrees with the output except along `axis`, whose sizes add up.
        let mut along = 0usize;
        for i in 0..n {
            let (_, t) = self.input(i)?;
            let fits = t.shape.len() == out.shape.len()
                && t.shape
                    .iter()
                    .zip(&out.shape)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !fits {
                return Err(self.err(format!(
                    "input {:?} of shape {} does not fit output {} along axis {axis}",
                    t.name,
                    shape_string(&t.shape),
                    shape_string(&out.shape)
                )));
            }
            along = along.saturating_add(t.shape[axis]);
        }
        if along != out.shape[axis] {
            return Err(self.err(format!(
                "inputs add up to {along} along axis {axis}, but the output has {}",
                out.shape[axis]
            )));
        }
        let activation = self.activation(o.fused_activation_function)?;
        Ok((OpKind::Concatenation { axis, activation }, inputs))
    }

    fn mean(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 2)?;
        let (xi, x) = self.input(0)?;
        let axes = self.const_param(1, "axes")?;
        let o: fb::ReducerOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::ReducerOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let mut norm = Vec::with_capacity(axes.values.len());
        for &a in &axes.values {
            norm.push(self.axis(a, x.shape.len())?);
        }
        norm.sort_unstable();
        norm.dedup();
        // The reduced shape must be what the output declares.
        let out = self.output()?;
        let expect: Vec<usize> = x
            .shape
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match (norm.contains(&d), o.keep_dims) {
                (false, _) => Some(n),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        if out.shape != expect {
            return Err(self.err(format!(
                "output shape {} is not input {} reduced over axes {norm:?} (keep_dims={})",
                shape_string(&out.shape),
                shape_string(&x.shape),
                o.keep_dims
            )));
        }
        Ok((
            OpKind::Mean {
                axes: norm,
                keep_dims: o.keep_dims,
            },
            vec![xi],
        ))
    }

    fn pad(&self, v2: bool) -> Result<(OpKind, Vec<usize>)> {
        if v2 {
            self.arity(3, 3)?;
        } else {
            self.arity(2, 2)?;
        }
        let (xi, x) = self.input(0)?;
        let pads = self.const_param(1, "paddings")?;
        let rank = x.shape.len();
        if pads.shape != [rank, 2] {
            return Err(self.err(format!(
                "paddings have shape {}, expected [{rank},2] for an input of rank {rank}",
                shape_string(&pads.shape)
            )));
        }
        let out = self.output()?;
        let mut paddings = Vec::with_capacity(rank);
        for (d, pair) in pads.values.chunks_exact(2).enumerate() {
            let (Ok(before), Ok(after)) = (usize::try_from(pair[0]), usize::try_from(pair[1]))
            else {
                return Err(self.err(format!("negative padding {pair:?} on axis {d}")));
            };
            let want = x.shape[d]
                .checked_add(before)
                .and_then(|v| v.checked_add(after));
            if out.shape.get(d).copied() != want || out.shape.len() != rank {
                return Err(self.err(format!(
                    "output shape {} is not input {} padded by {:?}",
                    shape_string(&out.shape),
                    shape_string(&x.shape),
                    pads.values
                )));
            }
            paddings.push((before, after));
        }
        let mut inputs = vec![xi];
        if v2 {
            let (vi, v) = self.input(2)?;
            if v.num_elements() != Some(1) {
                return Err(self.err(format!(
                    "pad value {:?} has shape {}, expected a single value",
                    v.name,
                    shape_string(&v.shape)
                )));
            }
            inputs.push(vi);
        }
        Ok((OpKind::Pad { paddings }, inputs))
    }

    /// RESHAPE / SQUEEZE / EXPAND_DIMS: the output tensor's static shape is
    /// the truth; a shape/axis input must be constant and is dropped.
    fn reshape_like(&self, kind: OpKind, min: usize, max: usize) -> Result<(OpKind, Vec<usize>)> {
        self.arity(min, max)?;
        let (xi, x) = self.input(0)?;
        if self.opt_input(1)?.is_some() {
            let what = if kind == OpKind::ExpandDims {
                "axis"
            } else {
                "new shape"
            };
            self.const_param(1, what)?;
        }
        let out = self.output()?;
        if x.num_elements() != out.num_elements() {
            return Err(self.err(format!(
                "input {} and output {} have different sizes",
                shape_string(&x.shape),
                shape_string(&out.shape)
            )));
        }
        Ok((kind, vec![xi]))
    }

    /// RESIZE_*: the data input, once the constant `size` input is checked
    /// against the output's height and width.
    fn resize(&self) -> Result<Vec<usize>> {
        self.arity(2, 2)?;
        let (xi, x) = self.input(0)?;
        let out = self.output()?;
        self.rank(x, 4, "input")?;
        self.rank(out, 4, "output")?;
        let size = self.const_param(1, "size")?;
        let want = [out.shape[1] as i64, out.shape[2] as i64];
        if size.values != want {
            return Err(self.err(format!(
                "size {:?} differs from the output's height and width {want:?}",
                size.values
            )));
        }
        Ok(vec![xi])
    }

    /// TRANSPOSE_CONV: inputs reordered to data, filter, optional bias; the
    /// constant output-shape input checked against the output tensor; the
    /// cropped padding resolved from SAME/VALID as TFLM does.
    fn transpose_conv(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(3, 4)?;
        let o: fb::TransposeConvOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::TransposeConvOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let (wi, w) = self.input(1)?;
        let (xi, x) = self.input(2)?;
        let out = self.output()?;
        self.rank(x, 4, "input")?;
        self.rank(w, 4, "filter")?;
        self.rank(out, 4, "output")?;
        let shape = self.const_param(0, "output shape")?;
        let want: Vec<i64> = out.shape.iter().map(|&d| d as i64).collect();
        if shape.values != want {
            return Err(self.err(format!(
                "output shape input {:?} differs from the output tensor's {}",
                shape.values,
                shape_string(&out.shape)
            )));
        }
        if x.shape[3] != w.shape[3] || out.shape[0] != x.shape[0] || out.shape[3] != w.shape[0] {
            return Err(self.err(format!(
                "input {}, filter {} (OHWI) and output {} do not fit",
                shape_string(&x.shape),
                shape_string(&w.shape),
                shape_string(&out.shape)
            )));
        }
        let stride = Hw {
            h: self.positive("stride_h", o.stride_h)?,
            w: self.positive("stride_w", o.stride_w)?,
        };
        let (top, bottom) =
            padding::transposed(o.padding, x.shape[1], w.shape[1], stride.h, out.shape[1]);
        let (left, right) =
            padding::transposed(o.padding, x.shape[2], w.shape[2], stride.w, out.shape[2]);
        let mut inputs = vec![xi, wi];
        inputs.extend(self.bias(3, w.shape[0])?);
        let activation = self.activation(o.fused_activation_function)?;
        Ok((
            OpKind::TransposeConv(TransposeConv {
                stride,
                padding: tinyq_ir::Padding2D {
                    top,
                    bottom,
                    left,
                    right,
                },
                activation,
            }),
            inputs,
        ))
    }

    /// SVDF: data, feature weights, time weights, optional bias, state (a
    /// variable tensor); the bias is dropped from the inputs when absent,
    /// so the state is always the last input.
    fn svdf(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(5, 5)?;
        let o: fb::SvdfOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::SvdfOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let rank = self.positive("rank", o.rank)?;
        let activation = self.activation(o.fused_activation_function)?;
        let mut inputs = vec![self.input(0)?.0, self.input(1)?.0, self.input(2)?.0];
        if let Some((idx, _)) = self.opt_input(3)? {
            inputs.push(idx);
        }
        inputs.push(self.input(4)?.0);
        Ok((
            OpKind::Svdf(tinyq_ir::op::Svdf { rank, activation }),
            inputs,
        ))
    }

    /// UNIDIRECTIONAL_SEQUENCE_LSTM, the standard (Keras) form only: the
    /// file's 24 inputs (absent ones `-1`) become data, the 8 gate weights,
    /// the 4 gate biases, then the hidden and cell states (variable tensors).
    fn lstm(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(20, 24)?;
        let o: fb::UnidirectionalSequenceLstmOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::UnidirectionalSequenceLstmOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        if o.fused_activation_function != fb::ActivationFunctionType::Tanh {
            return Err(self.err(format!(
                "cell activation {:?} is not supported (only TANH, the Keras LSTM's)",
                o.fused_activation_function
            )));
        }
        if o.diagonal_recurrent_tensors {
            return Err(self.err("diagonal recurrent weights are not supported"));
        }
        // 9-11 peepholes, 16-17 projection, 20-23 layer normalization.
        let variants = [
            (9..12, "peephole weights"),
            (16..18, "a projection"),
            (20..24, "layer normalization"),
        ];
        for (range, what) in variants {
            if range
                .clone()
                .any(|k| self.op.inputs.get(k).copied().flatten().is_some())
            {
                return Err(self.err(format!(
                    "{what} is not supported (only the standard Keras LSTM is)"
                )));
            }
        }
        if self.opt_input(1)?.is_none() {
            return Err(self.err(
                "a coupled input and forget gate (CIFG, no input gate weights) is not supported",
            ));
        }
        let mut inputs = Vec::with_capacity(tinyq_ir::op::LSTM_INPUTS);
        for k in (0..9).chain(12..16).chain(18..20) {
            inputs.push(self.input(k)?.0);
        }
        Ok((
            OpKind::Lstm(tinyq_ir::op::Lstm {
                cell_clip: o.cell_clip,
                time_major: o.time_major,
            }),
            inputs,
        ))
    }

    fn transpose(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 2)?;
        let (xi, x) = self.input(0)?;
        let perm = self.const_param(1, "permutation")?;
        let rank = x.shape.len();
        let mut seen = vec![false; rank];
        let mut out_perm = Vec::with_capacity(rank);
        for &p in &perm.values {
            let p = usize::try_from(p).ok().filter(|&p| p < rank && !seen[p]);
            let Some(p) = p else {
                return Err(self.err(format!(
                    "{:?} is not a permutation of 0..{rank}",
                    perm.values
                )));
            };
            seen[p] = true;
            out_perm.push(p);
        }
        if out_perm.len() != rank {
            return Err(self.err(format!(
                "{:?} is not a permutation of 0..{rank}",
                perm.values
            )));
        }
        let out = self.output()?;
        let want: Vec<usize> = out_perm.iter().map(|&p| x.shape[p]).collect();
        if out.shape != want {
            return Err(self.err(format!(
                "output shape {} is not input {} permuted by {out_perm:?}",
                shape_string(&out.shape),
                shape_string(&x.shape)
            )));
        }
        Ok((OpKind::Transpose { perm: out_perm }, vec![xi]))
    }

    /// GATHER with constant int32 indices, `batch_dims` 0; the indices
    /// become the op's attribute (a gather whose indices come from another
    /// op is refused).
    fn gather(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(2, 2)?;
        let (xi, x) = self.input(0)?;
        let o: fb::GatherOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::GatherOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        if o.batch_dims != 0 {
            return Err(self.err(format!(
                "batch_dims {} is not supported (only 0)",
                o.batch_dims
            )));
        }
        let axis = self.axis(i64::from(o.axis), x.shape.len())?;
        let (_, t) = self.input(1)?;
        if t.dtype != DType::I32 {
            return Err(self.err(format!(
                "indices {:?} are {}; tinyq takes int32 indices",
                t.name, t.dtype
            )));
        }
        let values = self.const_param(1, "indices")?.values;
        let axis_size = x.shape[axis];
        let indices = values
            .iter()
            .map(|&i| usize::try_from(i).ok().filter(|&i| i < axis_size))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                self.err(format!(
                    "indices {:?} hold a value outside 0..{axis_size} (axis {axis} of input {:?})",
                    t.name, x.name
                ))
            })?;
        Ok((OpKind::Gather { axis, indices }, vec![xi]))
    }

    fn strided_slice(&self) -> Result<(OpKind, Vec<usize>)> {
        self.arity(4, 4)?;
        let (xi, _) = self.input(0)?;
        let o: fb::StridedSliceOptions = self.options(|o| match o {
            fb::BuiltinOptionsRef::StridedSliceOptions(r) => Some(r.try_into()),
            _ => None,
        })?;
        let to_i32 = |c: IntConst, what: &str| -> Result<Vec<i32>> {
            c.values
                .iter()
                .map(|&v| i32::try_from(v))
                .collect::<Result<_, _>>()
                .map_err(|_| self.err(format!("{what} value out of int32 range")))
        };
        let begin = to_i32(self.const_param(1, "begin")?, "begin")?;
        let end = to_i32(self.const_param(2, "end")?, "end")?;
        let strides = to_i32(self.const_param(3, "strides")?, "strides")?;
        let n = begin.len();
        if end.len() != n || strides.len() != n || n > MAX_RANK {
            return Err(self.err(format!(
                "begin/end/strides have lengths {}/{}/{}",
                n,
                end.len(),
                strides.len()
            )));
        }
        if strides.contains(&0) {
            return Err(self.err("a stride is 0"));
        }
        Ok((
            OpKind::StridedSlice(StridedSlice {
                begin,
                end,
                strides,
                begin_mask: o.begin_mask,
                end_mask: o.end_mask,
                ellipsis_mask: o.ellipsis_mask,
                new_axis_mask: o.new_axis_mask,
                shrink_axis_mask: o.shrink_axis_mask,
                offset: o.offset,
            }),
            vec![xi],
        ))
    }
}

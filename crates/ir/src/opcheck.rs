//! Per-op checks of [`crate::validate`]: arity, element types, operand
//! quantization, attributes, zero-sized dimensions and the output shape
//! TFLite derives from the inputs and attributes.
//!
//! The element types are those TFLite-Micro's kernels take (tinyq is
//! bit-exact with TFLM, so a graph TFLM cannot run means nothing here):
//! float32 everywhere, int8 for every quantized op, int16 where TFLM has a
//! 16-bit kernel, int32 for arithmetic and data movement, bool where TFLM
//! moves it. Which of these
//! tinyq can *lower* is kernel selection's business; what a graph means is
//! decided here, once.

use tinyq_kernels::KernelError;
use tinyq_kernels::shape::MAX_DIMS;
use tinyq_kernels::slice::prepare_strided_slice;

use crate::graph::Graph;
use crate::op::{
    Conv2D, DepthwiseConv2D, FullyConnected, Hw, LSTM_INPUTS, Lstm, Op, OpKind, Padding2D, Pool2D,
    Resize, Svdf, TransposeConv,
};
use crate::shapes::{self, BroadcastError, FcError, WindowError};
use crate::tensor::{DType, Tensor, shape_string};
use crate::validate::{OpAt, ValidationError};

use DType::{Bool, F32, I8, I16, I32, I64, U8};

/// Float or a quantized activation type with a TFLM kernel for most ops.
const FLOAT_OR_QUANT: &[DType] = &[F32, I8, I16];
/// Arithmetic and data movement: also int32.
const NUMERIC: &[DType] = &[F32, I8, I16, I32];

/// Checks one op of a structurally valid graph (every handle exists).
pub(crate) fn check_op(graph: &Graph, at: OpAt, op: &Op) -> Result<(), ValidationError> {
    let cx = Cx { graph, op, at };
    match &op.kind {
        OpKind::Conv2D(a) => cx.conv2d(a),
        OpKind::DepthwiseConv2D(a) => cx.depthwise(a),
        OpKind::FullyConnected(a) => cx.fully_connected(a),
        OpKind::AveragePool2D(a) | OpKind::MaxPool2D(a) => cx.pool(a),
        OpKind::Add { .. }
        | OpKind::Sub { .. }
        | OpKind::Mul { .. }
        | OpKind::Maximum
        | OpKind::Minimum
        | OpKind::Prelu => cx.binary(),
        // DIV: float, or plain int32 as TFLM's int32 kernel (no quantization).
        OpKind::Div { .. } => {
            cx.binary()?;
            cx.dtype_in("input 0", cx.input(0)?, &[F32, I32])
        }
        // SQUARED_DIFFERENCE and RSQRT: float or int8 (TFLM's quantized
        // kernels). The other math ops: float only in tinyq (TFLM's LOG,
        // SQRT and SQUARE are float only; its quantized DIV, EXP, ABS and
        // NEG are not read).
        OpKind::SquaredDifference => {
            cx.binary()?;
            cx.dtype_in("input 0", cx.input(0)?, &[F32, I8])
        }
        OpKind::Rsqrt => cx.unary(&[F32, I8]),
        OpKind::BatchMatMul { adj_x, adj_y } => cx.batch_matmul(*adj_x, *adj_y),
        OpKind::Exp | OpKind::Log | OpKind::Sqrt | OpKind::Abs | OpKind::Neg | OpKind::Square => {
            cx.unary(&[F32])
        }
        OpKind::Softmax { .. } => cx.softmax(),
        // TFLM's HARD_SWISH has no int16 kernel.
        OpKind::HardSwish => cx.unary(&[F32, I8]),
        OpKind::Logistic
        | OpKind::Tanh
        | OpKind::Relu
        | OpKind::Relu6
        | OpKind::ReluN1To1
        | OpKind::LeakyRelu { .. } => cx.unary(FLOAT_OR_QUANT),
        OpKind::Concatenation { axis, .. } => cx.concatenation(*axis),
        OpKind::Mean { axes, keep_dims } => cx.mean(axes, *keep_dims),
        OpKind::Pad { paddings } => cx.pad(paddings),
        OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims => cx.reshape_like(),
        OpKind::Transpose { perm } => cx.transpose(perm),
        OpKind::SpaceToDepth { block } => cx.space_depth(*block, shapes::space_to_depth),
        OpKind::DepthToSpace { block } => cx.space_depth(*block, shapes::depth_to_space),
        OpKind::Gather { axis, indices } => cx.gather(*axis, indices),
        OpKind::StridedSlice(s) => cx.strided_slice(s),
        OpKind::Quantize => cx.quantize(),
        OpKind::Dequantize => cx.dequantize(),
        OpKind::Lut(l) => cx.lut(l.table.len()),
        OpKind::ResizeBilinear(r) => cx.resize(r, true),
        OpKind::ResizeNearestNeighbor(r) => cx.resize(r, false),
        OpKind::TransposeConv(a) => cx.transpose_conv(a),
        OpKind::Svdf(a) => cx.svdf(a),
        OpKind::Lstm(a) => cx.lstm(a),
        OpKind::Signal(op) => cx.signal(op),
        OpKind::Cast => cx.cast(),
    }
}

/// Which [`ValidationError`] variant a failure is.
#[derive(Debug, Clone, Copy)]
enum Problem {
    Arity,
    Type,
    Shape,
    Attribute,
    ZeroSized,
    Quantization,
}

type Result<T = (), E = ValidationError> = core::result::Result<T, E>;

/// The op being checked.
struct Cx<'g> {
    graph: &'g Graph,
    op: &'g Op,
    at: OpAt,
}

/// `"f32, i8 or i16"`.
fn one_of(dtypes: &[DType]) -> String {
    match dtypes {
        [] => String::new(),
        [only] => only.name().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(|d| d.name()).collect();
            format!("{} or {}", init.join(", "), last.name())
        }
    }
}

fn s(shape: &[usize]) -> String {
    shape_string(shape)
}

fn pad_string(p: &Padding2D) -> String {
    format!("{},{},{},{}", p.top, p.bottom, p.left, p.right)
}

impl<'g> Cx<'g> {
    fn fail(&self, problem: Problem, why: impl Into<String>) -> ValidationError {
        let (at, kind, why) = (self.at, self.op.kind.name(), why.into());
        match problem {
            Problem::Arity => ValidationError::Arity { at, kind, why },
            Problem::Type => ValidationError::Type { at, kind, why },
            Problem::Shape => ValidationError::Shape { at, kind, why },
            Problem::Attribute => ValidationError::Attribute { at, kind, why },
            Problem::ZeroSized => ValidationError::ZeroSized { at, kind, why },
            Problem::Quantization => ValidationError::OperandQuantization { at, kind, why },
        }
    }

    fn shape_err(&self, why: impl Into<String>) -> ValidationError {
        self.fail(Problem::Shape, why)
    }

    /// `min..=max` inputs and exactly one output (every op kind has one).
    fn arity(&self, min: usize, max: usize) -> Result {
        let n = self.op.inputs.len();
        if n < min || n > max {
            let want = match (min, max) {
                (a, b) if a == b => format!("{a}"),
                (a, usize::MAX) => format!("at least {a}"),
                (a, b) if b == a + 1 => format!("{a} or {b}"),
                (a, b) => format!("{a} to {b}"),
            };
            return Err(self.fail(Problem::Arity, format!("{n} inputs, expected {want}")));
        }
        let outputs = self.op.outputs.len();
        if outputs != 1 {
            return Err(self.fail(Problem::Arity, format!("{outputs} outputs, expected 1")));
        }
        Ok(())
    }

    fn input(&self, i: usize) -> Result<&'g Tensor> {
        self.op
            .inputs
            .get(i)
            .and_then(|&t| self.graph.tensors.get(t))
            .ok_or_else(|| self.fail(Problem::Arity, format!("input {i} is missing")))
    }

    fn optional_input(&self, i: usize) -> Result<Option<&'g Tensor>> {
        match self.op.inputs.get(i) {
            Some(_) => self.input(i).map(Some),
            None => Ok(None),
        }
    }

    fn output(&self) -> Result<&'g Tensor> {
        self.op
            .outputs
            .first()
            .and_then(|&t| self.graph.tensors.get(t))
            .ok_or_else(|| self.fail(Problem::Arity, "the output is missing"))
    }

    /// The inputs, in order (their count already checked).
    fn inputs(&self) -> Result<Vec<&'g Tensor>> {
        (0..self.op.inputs.len()).map(|i| self.input(i)).collect()
    }

    fn dtype_in(&self, role: &str, t: &Tensor, allowed: &[DType]) -> Result {
        if allowed.contains(&t.dtype) {
            Ok(())
        } else {
            Err(self.fail(
                Problem::Type,
                format!(
                    "{role} {:?} is {}, expected {}",
                    t.name,
                    t.dtype,
                    one_of(allowed)
                ),
            ))
        }
    }

    fn same_dtype(&self, role: &str, t: &Tensor, like_role: &str, like: &Tensor) -> Result {
        if t.dtype == like.dtype {
            Ok(())
        } else {
            Err(self.fail(
                Problem::Type,
                format!(
                    "{role} {:?} is {} but {like_role} {:?} is {}",
                    t.name, t.dtype, like.name, like.dtype
                ),
            ))
        }
    }

    fn constant(&self, role: &str, t: &Tensor) -> Result {
        if t.is_const() {
            Ok(())
        } else {
            Err(self.fail(
                Problem::Type,
                format!("{role} {:?} must be constant in a quantized op", t.name),
            ))
        }
    }

    /// A signal-library op: TFLM's `Prepare` checks (types, ranks), then
    /// the kernel's own size checks.
    fn signal(&self, op: &crate::signal::SignalOp) -> Result {
        let (types, out_type) = op.dtypes();
        let (ranks, out_rank) = op.ranks();
        if op.is_step_only() {
            return Err(self.fail(
                Problem::Attribute,
                format!("{} is a lowering step, not a graph op", op.name()),
            ));
        }
        let outputs = 1 + usize::from(op.second_output().is_some());
        if self.op.inputs.len() != types.len() || self.op.outputs.len() != outputs {
            return Err(self.fail(
                Problem::Arity,
                format!(
                    "{} inputs and {} outputs, expected {} and {outputs}",
                    self.op.inputs.len(),
                    self.op.outputs.len(),
                    types.len()
                ),
            ));
        }
        let rank = |role: &str, t: &Tensor, want: Option<usize>| match want {
            Some(r) if t.shape.len() != r => Err(self.shape_err(format!(
                "{role} {:?} has shape {}, expected rank {r}",
                t.name,
                s(&t.shape)
            ))),
            None if t.shape.is_empty() => Err(self.shape_err(format!(
                "{role} {:?} is a scalar, expected rank 1 or more",
                t.name
            ))),
            _ => Ok(()),
        };
        let mut lens = Vec::with_capacity(types.len());
        for (i, (&dtype, &want)) in types.iter().zip(ranks).enumerate() {
            let t = self.input(i)?;
            self.dtype_in(&format!("input {i}"), t, &[dtype])?;
            rank(&format!("input {i}"), t, want)?;
            lens.push(t.byte_len().unwrap_or(usize::MAX));
        }
        let y = self.output()?;
        self.dtype_in("output", y, &[out_type])?;
        rank("output", y, out_rank)?;
        if let crate::signal::SignalOp::Window(_) = op
            && self.input(0)?.shape != y.shape
        {
            return Err(self.shape_err(format!(
                "output {:?} has shape {}, expected the input's {}",
                y.name,
                s(&y.shape),
                s(&self.input(0)?.shape)
            )));
        }
        if let Some((dtype, want)) = op.second_output() {
            let t = self
                .op
                .outputs
                .get(1)
                .and_then(|&t| self.graph.tensors.get(t))
                .ok_or_else(|| self.fail(Problem::Arity, "output 1 is missing"))?;
            self.dtype_in("output 1", t, &[dtype])?;
            rank("output 1", t, Some(want))?;
            if want == 1 && t.shape != y.shape {
                return Err(self.shape_err(format!(
                    "output 1 {:?} has shape {}, expected output 0's {}",
                    t.name,
                    s(&t.shape),
                    s(&y.shape)
                )));
            }
        }
        if let crate::signal::SignalOp::Rfft(p) = op {
            // TFLM: the same rank in and out; tinyq: the same rows too.
            let x = self.input(0)?;
            let (xr, yr) = (x.shape.len(), y.shape.len());
            if xr != yr
                || x.shape[..xr - 1] != y.shape[..yr - 1]
                || y.shape[yr - 1] != p.fft_length + 2
            {
                return Err(self.shape_err(format!(
                    "output {:?} has shape {}, expected the input's {} with the last axis fft_length + 2 = {}",
                    y.name,
                    s(&y.shape),
                    s(&x.shape),
                    p.fft_length + 2
                )));
            }
        }
        op.check(&lens, y.byte_len().unwrap_or(usize::MAX))
            .map_err(|e| self.fail(Problem::Attribute, e.to_string()))
    }

    /// Activations take one scale and zero point; per-axis parameters
    /// belong to filters and biases only.
    fn per_tensor(&self, role: &str, t: &Tensor) -> Result {
        match &t.quant {
            Some(q) if q.is_per_axis() => Err(self.fail(
                Problem::Quantization,
                format!(
                    "{role} {:?} has per-axis quantization ({} scales); only filters and biases may",
                    t.name,
                    q.scales.len()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Integer operands of QUANTIZE/DEQUANTIZE need parameters (8-bit ones
    /// are already required to have them by the tensor check).
    fn quantized(&self, role: &str, t: &Tensor) -> Result {
        if t.quant.is_none() {
            return Err(self.fail(
                Problem::Quantization,
                format!(
                    "{role} {:?} is {} without quantization parameters",
                    t.name, t.dtype
                ),
            ));
        }
        self.per_tensor(role, t)
    }

    fn same_shape(&self, role: &str, t: &Tensor, like_role: &str, like: &Tensor) -> Result {
        if t.shape == like.shape {
            Ok(())
        } else {
            Err(self.shape_err(format!(
                "{role} {} but {like_role} {}: the shapes must be equal",
                s(&t.shape),
                s(&like.shape)
            )))
        }
    }

    fn rank4(&self, role: &str, t: &Tensor) -> Result<[usize; 4]> {
        <[usize; 4]>::try_from(t.shape.as_slice()).map_err(|_| {
            self.shape_err(format!(
                "{role} {:?} has shape {}, expected 4 dimensions",
                t.name,
                s(&t.shape)
            ))
        })
    }

    /// The N-D kernels (broadcast, pad, mean, transpose, slice) stop at
    /// [`MAX_DIMS`].
    fn max_rank(&self, role: &str, t: &Tensor) -> Result {
        if t.shape.len() <= MAX_DIMS {
            Ok(())
        } else {
            Err(self.shape_err(format!(
                "{role} {} has rank {}; {} supports at most {MAX_DIMS}",
                s(&t.shape),
                t.shape.len(),
                self.op.kind.name()
            )))
        }
    }

    /// One input, one output, same element type from `allowed`, both
    /// per-tensor quantized.
    fn one_to_one(&self, allowed: &[DType]) -> Result<(&'g Tensor, &'g Tensor)> {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.dtype_in("input", x, allowed)?;
        self.same_dtype("output", y, "input", x)?;
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        Ok((x, y))
    }

    /// Element types and quantization of CONV_2D, DEPTHWISE_CONV_2D and
    /// FULLY_CONNECTED: float32 throughout, or int8/int16 activations with
    /// constant int8 weights (per-channel along `filter_axis`, the output
    /// channels) and a constant int32 (int16: int32 or int64) bias.
    fn weighted_types(&self, filter_axis: usize) -> Result {
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let bias = self.optional_input(2)?;
        self.dtype_in("input", x, FLOAT_OR_QUANT)?;
        self.same_dtype("output", y, "input", x)?;
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        let (filter_type, bias_types): (DType, &[DType]) = match x.dtype {
            F32 => (F32, &[F32]),
            I16 => (I8, &[I32, I64]),
            _ => (I8, &[I32]),
        };
        // A dynamic-range ("hybrid") op: float activations, constant
        // symmetric int8 weights.
        let hybrid = x.dtype == F32 && w.dtype == I8;
        if w.dtype != filter_type && !hybrid {
            return Err(self.fail(
                Problem::Type,
                format!(
                    "filter {:?} is {}, but a {} input takes a {filter_type} filter",
                    w.name, w.dtype, x.dtype
                ),
            ));
        }
        if let Some(b) = bias
            && !bias_types.contains(&b.dtype)
        {
            return Err(self.fail(
                Problem::Type,
                format!(
                    "bias {:?} is {}, but a {} input takes a {} bias",
                    b.name,
                    b.dtype,
                    x.dtype,
                    one_of(bias_types)
                ),
            ));
        }
        if x.dtype == F32 && !hybrid {
            // Float weights may be computed (TFLite allows it); the
            // quantizer insists on constants itself.
            return Ok(());
        }
        if hybrid
            && let Some(q) = &w.quant
            && q.zero_points.iter().any(|&z| z != 0)
        {
            return Err(self.fail(
                Problem::Quantization,
                format!(
                    "int8 filter {:?} of a float op has a non-zero zero point; dynamic-range weights are symmetric",
                    w.name
                ),
            ));
        }
        self.constant("filter", w)?;
        if let Some(b) = bias {
            self.constant("bias", b)?;
        }
        if let Some(q) = &w.quant
            && q.is_per_axis()
            && q.axis != filter_axis
        {
            return Err(self.fail(
                Problem::Quantization,
                format!(
                    "filter {:?} is quantized per channel along axis {}; {} needs axis {filter_axis} (output channels)",
                    w.name,
                    q.axis,
                    self.op.kind.name()
                ),
            ));
        }
        Ok(())
    }

    /// Optional bias: one value per output channel.
    fn bias(&self, channels: usize) -> Result {
        if let Some(b) = self.optional_input(2)?
            && b.num_elements() != Some(channels)
        {
            return Err(self.shape_err(format!(
                "bias {:?} has shape {}, expected {channels} values (one per output channel)",
                b.name,
                s(&b.shape)
            )));
        }
        Ok(())
    }

    fn strides(&self, stride: Hw, dilation: Option<Hw>) -> Result {
        if stride.h == 0 || stride.w == 0 {
            return Err(self.fail(
                Problem::Attribute,
                format!("stride {stride}: strides must be at least 1"),
            ));
        }
        if let Some(d) = dilation
            && (d.h == 0 || d.w == 0)
        {
            return Err(self.fail(
                Problem::Attribute,
                format!("dilation {d}: dilations must be at least 1"),
            ));
        }
        Ok(())
    }

    /// Output height and width of a window op over NHWC `input`.
    fn window(
        &self,
        input: &Tensor,
        kernel: Hw,
        stride: Hw,
        dilation: Hw,
        p: &Padding2D,
    ) -> Result<(usize, usize)> {
        let axis = |what: &str, n: usize, k: usize, st: usize, d: usize, before: usize, after| {
            shapes::window_output(n, k, st, d, before, after).map_err(|e| match e {
                WindowError::KernelTooLarge {
                    padded,
                    dilated_kernel,
                } => self.shape_err(format!(
                    "input {} padded by {} is {padded} {what}, smaller than the window's {dilated_kernel} (dilation included)",
                    s(&input.shape),
                    pad_string(p)
                )),
                WindowError::ZeroParameter => self.fail(
                    Problem::ZeroSized,
                    format!("window {kernel}, stride {stride}, dilation {dilation}: none may be 0"),
                ),
                WindowError::Overflow => {
                    self.shape_err(format!("input {} and window {kernel} overflow", s(&input.shape)))
                }
            })
        };
        let (h, w) = (
            input.shape.get(1).copied().unwrap_or(0),
            input.shape.get(2).copied().unwrap_or(0),
        );
        Ok((
            axis("high", h, kernel.h, stride.h, dilation.h, p.top, p.bottom)?,
            axis("wide", w, kernel.w, stride.w, dilation.w, p.left, p.right)?,
        ))
    }

    /// Compares a convolution's output with `[n, OH, OW, oc]`, the window
    /// formula applied to the input and a `kh`x`kw` filter.
    #[allow(clippy::too_many_arguments)]
    fn window_output(
        &self,
        n: usize,
        oc: usize,
        kh: usize,
        kw: usize,
        stride: Hw,
        dilation: Hw,
        padding: &Padding2D,
    ) -> Result {
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let (oh, ow) = self.window(x, Hw { h: kh, w: kw }, stride, dilation, padding)?;
        let want = [n, oh, ow, oc];
        if y.shape == want {
            return Ok(());
        }
        let dilation = if dilation == (Hw { h: 1, w: 1 }) {
            String::new()
        } else {
            format!(", dilation {dilation}")
        };
        Err(self.shape_err(format!(
            "output {} but input {}, filter {}, stride {stride}{dilation}, padding {} give {}",
            s(&y.shape),
            s(&x.shape),
            s(&w.shape),
            pad_string(padding),
            s(&want)
        )))
    }

    fn conv2d(&self, a: &Conv2D) -> Result {
        self.arity(2, 3)?;
        self.weighted_types(0)?;
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let [n, _, _, c] = self.rank4("input", x)?;
        let [oc, kh, kw, fc] = self.rank4("filter", w)?;
        self.rank4("output", y)?;
        self.strides(a.stride, Some(a.dilation))?;
        if kh == 0 || kw == 0 || oc == 0 || fc == 0 || c == 0 {
            return Err(self.fail(
                Problem::ZeroSized,
                format!(
                    "input {} and filter {} (OHWI): kernel size and channel counts must be at least 1",
                    s(&x.shape),
                    s(&w.shape)
                ),
            ));
        }
        // Grouped convolution: the filter sees `fc` channels per group.
        if c % fc != 0 || oc % (c / fc) != 0 {
            return Err(self.shape_err(format!(
                "input {} has {c} channels and filter {} (OHWI) {fc} per group: {c} must be a multiple of {fc} and the {oc} output channels a multiple of the groups",
                s(&x.shape),
                s(&w.shape)
            )));
        }
        self.bias(oc)?;
        self.window_output(n, oc, kh, kw, a.stride, a.dilation, &a.padding)
    }

    fn depthwise(&self, a: &DepthwiseConv2D) -> Result {
        self.arity(2, 3)?;
        self.weighted_types(3)?;
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let [n, _, _, c] = self.rank4("input", x)?;
        let [one, kh, kw, oc] = self.rank4("filter", w)?;
        self.rank4("output", y)?;
        self.strides(a.stride, Some(a.dilation))?;
        if one != 1 {
            return Err(self.shape_err(format!("filter {} must be [1,KH,KW,C*M]", s(&w.shape))));
        }
        if kh == 0 || kw == 0 || oc == 0 || c == 0 {
            return Err(self.fail(
                Problem::ZeroSized,
                format!(
                    "input {} and filter {}: kernel size and channel counts must be at least 1",
                    s(&x.shape),
                    s(&w.shape)
                ),
            ));
        }
        if oc % c != 0 {
            return Err(self.shape_err(format!(
                "filter {} has {oc} channels, not a multiple of the input's {c} (input {})",
                s(&w.shape),
                s(&x.shape)
            )));
        }
        if a.depth_multiplier != oc / c {
            return Err(self.fail(
                Problem::Attribute,
                format!(
                    "depth_multiplier {} but filter {} over {c} input channels gives {}",
                    a.depth_multiplier,
                    s(&w.shape),
                    oc / c
                ),
            ));
        }
        self.bias(oc)?;
        self.window_output(n, oc, kh, kw, a.stride, a.dilation, &a.padding)
    }

    fn fully_connected(&self, a: &FullyConnected) -> Result {
        self.arity(2, 3)?;
        self.weighted_types(0)?;
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let [units, depth] = <[usize; 2]>::try_from(w.shape.as_slice()).map_err(|_| {
            self.shape_err(format!(
                "filter {:?} has shape {}, expected [units, depth]",
                w.name,
                s(&w.shape)
            ))
        })?;
        if units == 0 || depth == 0 {
            return Err(self.fail(
                Problem::ZeroSized,
                format!(
                    "filter {} (units, depth): both must be at least 1",
                    s(&w.shape)
                ),
            ));
        }
        self.bias(units)?;
        let want = shapes::fully_connected(&x.shape, units, depth, a.keep_num_dims).map_err(
            |e| match e {
                FcError::NotMultiple { elements } => self.shape_err(format!(
                    "input {} has {elements} elements, not a multiple of the depth {depth} of filter {}",
                    s(&x.shape),
                    s(&w.shape)
                )),
                FcError::LastDim { .. } => self.shape_err(format!(
                    "keep_num_dims needs the last dimension of input {} to be the depth {depth} of filter {}",
                    s(&x.shape),
                    s(&w.shape)
                )),
                FcError::ZeroDepth | FcError::Overflow => {
                    self.shape_err(format!("input {} overflows", s(&x.shape)))
                }
            },
        )?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {}, filter {}, keep_num_dims={} give {}",
                s(&y.shape),
                s(&x.shape),
                s(&w.shape),
                a.keep_num_dims,
                s(&want)
            )));
        }
        Ok(())
    }

    /// RESIZE_*: NHWC in and out, same batch and channels, any output size
    /// of at least 1x1. TFLM's bilinear resize refuses `align_corners`
    /// together with `half_pixel_centers`.
    fn resize(&self, r: &Resize, bilinear: bool) -> Result {
        let (x, y) = self.one_to_one(FLOAT_OR_QUANT)?;
        let [n, h, w, c] = self.rank4("input", x)?;
        let [on, oh, ow, oc] = self.rank4("output", y)?;
        if [h, w, c, oh, ow].contains(&0) {
            return Err(self.fail(
                Problem::ZeroSized,
                format!(
                    "input {} and output {}: heights, widths and channels must be at least 1",
                    s(&x.shape),
                    s(&y.shape)
                ),
            ));
        }
        if on != n || oc != c {
            return Err(self.shape_err(format!(
                "output {} but input {}: batch and channels must be equal",
                s(&y.shape),
                s(&x.shape)
            )));
        }
        if bilinear && r.align_corners && r.half_pixel_centers {
            return Err(self.fail(
                Problem::Attribute,
                "align_corners and half_pixel_centers cannot both be set",
            ));
        }
        Ok(())
    }

    /// TRANSPOSE_CONV: a convolution's types and weights (per-channel along
    /// axis 0, the output channels); the output size is free (TFLite's
    /// output-shape input), batch and channels follow the input and filter.
    /// TFLM's `PrepareSvdf`: shapes from the feature and time weights, float
    /// throughout or int8 data with int16 (or int8) time weights and state.
    fn svdf(&self, a: &Svdf) -> Result {
        self.arity(4, 5)?;
        let n = self.op.inputs.len();
        let (x, wf, wt, state, y) = (
            self.input(0)?,
            self.input(1)?,
            self.input(2)?,
            self.input(n - 1)?,
            self.output()?,
        );
        let bias = if n == 5 { Some(self.input(3)?) } else { None };
        let two = |role: &str, t: &Tensor| -> Result<[usize; 2]> {
            <[usize; 2]>::try_from(t.shape.as_slice()).map_err(|_| {
                self.shape_err(format!(
                    "{role} {:?} has shape {}, expected rank 2",
                    t.name,
                    s(&t.shape)
                ))
            })
        };
        let [batches, input_size] = two("input", x)?;
        let [filters, depth] = two("feature weights", wf)?;
        let [time_filters, memory] = two("time weights", wt)?;
        if [batches, input_size, filters, memory, a.rank].contains(&0) {
            return Err(self.fail(
                Problem::ZeroSized,
                "batches, input size, filters, memory and rank must be at least 1",
            ));
        }
        if !filters.is_multiple_of(a.rank) {
            return Err(self.fail(
                Problem::Attribute,
                format!("rank {} does not divide the {filters} filters", a.rank),
            ));
        }
        let units = filters / a.rank;
        if depth != input_size || time_filters != filters {
            return Err(self.shape_err(format!(
                "input {}, feature weights {} and time weights {} disagree",
                s(&x.shape),
                s(&wf.shape),
                s(&wt.shape)
            )));
        }
        let state_len = filters.saturating_mul(memory);
        if state.shape != [batches, state_len] {
            return Err(self.shape_err(format!(
                "state {:?} has shape {}, expected [{batches}, {state_len}]",
                state.name,
                s(&state.shape)
            )));
        }
        if y.shape != [batches, units] {
            return Err(self.shape_err(format!(
                "output {} but the weights give [{batches}, {units}]",
                s(&y.shape)
            )));
        }
        if let Some(b) = bias
            && b.shape != [units]
        {
            return Err(self.shape_err(format!(
                "bias {:?} has shape {}, expected [{units}]",
                b.name,
                s(&b.shape)
            )));
        }
        self.constant("feature weights", wf)?;
        self.constant("time weights", wt)?;
        if let Some(b) = bias {
            self.constant("bias", b)?;
        }
        if x.dtype == F32 {
            for (role, t) in [
                ("feature weights", wf),
                ("time weights", wt),
                ("state", state),
                ("output", y),
            ] {
                self.dtype_in(role, t, &[F32])?;
            }
            if let Some(b) = bias {
                self.dtype_in("bias", b, &[F32])?;
            }
            return Ok(());
        }
        self.dtype_in("input", x, &[F32, I8])?;
        self.dtype_in("feature weights", wf, &[I8])?;
        self.dtype_in("time weights", wt, &[I8, I16])?;
        self.dtype_in("state", state, &[I8, I16])?;
        self.dtype_in("output", y, &[I8])?;
        for (role, t) in [
            ("input", x),
            ("feature weights", wf),
            ("time weights", wt),
            ("state", state),
            ("output", y),
        ] {
            self.quantized(role, t)?;
        }
        match bias {
            Some(b) => self.dtype_in("bias", b, &[I32]),
            // TFLM's integer SVDF reads the bias scale unconditionally.
            None => Err(self.fail(
                Problem::Arity,
                "an int8 SVDF needs a bias (TFLM requires one)",
            )),
        }
    }

    /// TFLM's `ValidateTensorSize` for the standard LSTM: shapes from the
    /// input and the hidden state; float throughout, or int8 data and
    /// weights with int32 biases, an int8 hidden and an int16 cell state.
    fn lstm(&self, a: &Lstm) -> Result {
        self.arity(LSTM_INPUTS, LSTM_INPUTS)?;
        if a.cell_clip.is_nan() || a.cell_clip < 0.0 {
            return Err(self.fail(
                Problem::Attribute,
                format!("cell clip {} must be zero or positive", a.cell_clip),
            ));
        }
        let (x, y) = (self.input(0)?, self.output()?);
        let (hidden, cell) = (self.input(13)?, self.input(14)?);
        let [d0, d1, input_size] = <[usize; 3]>::try_from(x.shape.as_slice()).map_err(|_| {
            self.shape_err(format!("input has shape {}, expected rank 3", s(&x.shape)))
        })?;
        let (time, batches) = if a.time_major { (d0, d1) } else { (d1, d0) };
        let units = hidden.shape.last().copied().unwrap_or(0);
        if [time, batches, input_size, units].contains(&0) {
            return Err(self.fail(
                Problem::ZeroSized,
                "time steps, batches, input size and units must be at least 1",
            ));
        }
        let expect = |role: &str, t: &Tensor, shape: &[usize]| -> Result {
            if t.shape == shape {
                Ok(())
            } else {
                Err(self.shape_err(format!(
                    "{role} {:?} has shape {}, expected {}",
                    t.name,
                    s(&t.shape),
                    s(shape)
                )))
            }
        };
        expect("hidden state", hidden, &[batches, units])?;
        expect("cell state", cell, &[batches, units])?;
        expect("output", y, &[d0, d1, units])?;
        for k in 1..13 {
            let t = self.input(k)?;
            let (role, shape) = match k {
                1..=4 => ("input weights", vec![units, input_size]),
                5..=8 => ("recurrent weights", vec![units, units]),
                _ => ("bias", vec![units]),
            };
            expect(role, t, &shape)?;
            self.constant(role, t)?;
        }
        if x.dtype == F32 {
            for k in 1..LSTM_INPUTS {
                self.dtype_in("weights, biases and states", self.input(k)?, &[F32])?;
            }
            return self.dtype_in("output", y, &[F32]);
        }
        self.dtype_in("input", x, &[F32, I8])?;
        for k in 1..9 {
            self.dtype_in("weights", self.input(k)?, &[I8])?;
        }
        for k in 9..13 {
            self.dtype_in("bias", self.input(k)?, &[I32])?;
        }
        self.dtype_in("hidden state", hidden, &[I8])?;
        self.dtype_in("cell state", cell, &[I16])?;
        self.dtype_in("output", y, &[I8])
    }

    fn transpose_conv(&self, a: &TransposeConv) -> Result {
        self.arity(2, 3)?;
        self.weighted_types(0)?;
        let (x, w, y) = (self.input(0)?, self.input(1)?, self.output()?);
        let [n, _, _, c] = self.rank4("input", x)?;
        let [oc, kh, kw, fc] = self.rank4("filter", w)?;
        let [on, oh, ow, occ] = self.rank4("output", y)?;
        self.strides(a.stride, None)?;
        if [kh, kw, oc, c, oh, ow].contains(&0) {
            return Err(self.fail(
                Problem::ZeroSized,
                format!(
                    "input {}, filter {} (OHWI) and output {}: sizes and channel counts must be at least 1",
                    s(&x.shape),
                    s(&w.shape),
                    s(&y.shape)
                ),
            ));
        }
        if fc != c || on != n || occ != oc {
            return Err(self.shape_err(format!(
                "input {}, filter {} (OHWI) and output {} do not fit: the filter's last dimension is the input's channels, its first the output's",
                s(&x.shape),
                s(&w.shape),
                s(&y.shape)
            )));
        }
        self.bias(oc)
    }

    fn pool(&self, a: &Pool2D) -> Result {
        let (x, y) = self.one_to_one(FLOAT_OR_QUANT)?;
        let [n, _, _, c] = self.rank4("input", x)?;
        self.rank4("output", y)?;
        if a.filter.h == 0 || a.filter.w == 0 {
            return Err(self.fail(
                Problem::ZeroSized,
                format!("window {}: both sizes must be at least 1", a.filter),
            ));
        }
        self.strides(a.stride, None)?;
        let one = Hw { h: 1, w: 1 };
        let (oh, ow) = self.window(x, a.filter, a.stride, one, &a.padding)?;
        let want = [n, oh, ow, c];
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {}, window {}, stride {}, padding {} give {}",
                s(&y.shape),
                s(&x.shape),
                a.filter,
                a.stride,
                pad_string(&a.padding),
                s(&want)
            )));
        }
        Ok(())
    }

    fn binary(&self) -> Result {
        self.arity(2, 2)?;
        let (a, b, y) = (self.input(0)?, self.input(1)?, self.output()?);
        self.dtype_in("input 0", a, NUMERIC)?;
        self.same_dtype("input 1", b, "input 0", a)?;
        self.same_dtype("output", y, "input 0", a)?;
        self.per_tensor("input 0", a)?;
        self.per_tensor("input 1", b)?;
        self.per_tensor("output", y)?;
        let want = shapes::broadcast(&a.shape, &b.shape).map_err(|e| match e {
            BroadcastError::RankTooHigh(rank) => self.shape_err(format!(
                "inputs {} and {} have rank {rank}; broadcasting supports at most {MAX_DIMS}",
                s(&a.shape),
                s(&b.shape)
            )),
            BroadcastError::Incompatible => self.shape_err(format!(
                "inputs {} and {} do not broadcast (aligned from the right, sizes must be equal or 1)",
                s(&a.shape),
                s(&b.shape)
            )),
        })?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but inputs {} and {} broadcast to {}",
                s(&y.shape),
                s(&a.shape),
                s(&b.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    fn softmax(&self) -> Result {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        // TFLM: float, int8 to int8 or int16, int16 to int16.
        let ok = matches!(
            (x.dtype, y.dtype),
            (F32, F32) | (I8, I8) | (I8, I16) | (I16, I16)
        );
        if !ok {
            return Err(self.fail(
                Problem::Type,
                format!(
                    "{} to {}: SOFTMAX maps f32 to f32, i8 to i8 or i16, i16 to i16",
                    x.dtype, y.dtype
                ),
            ));
        }
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        if x.shape.is_empty() {
            return Err(self.shape_err("input is a scalar; SOFTMAX needs rank 1 or more"));
        }
        self.same_shape("output", y, "input", x)
    }

    /// CAST: the types TFLM's kernel converts between (int8, int16,
    /// int32, UINT32, float32), two different ones, the same shape.
    fn cast(&self) -> Result {
        const CAST: &[DType] = &[I8, I16, I32, DType::U32, F32];
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.dtype_in("input", x, CAST)?;
        self.dtype_in("output", y, CAST)?;
        if x.dtype == y.dtype {
            return Err(self.fail(
                Problem::Type,
                format!("input and output are both {}: nothing to cast", x.dtype),
            ));
        }
        self.same_shape("output", y, "input", x)
    }

    fn unary(&self, allowed: &[DType]) -> Result {
        let (x, y) = self.one_to_one(allowed)?;
        self.same_shape("output", y, "input", x)
    }

    fn concatenation(&self, axis: usize) -> Result {
        self.arity(1, usize::MAX)?;
        let y = self.output()?;
        let inputs = self.inputs()?;
        self.dtype_in("output", y, &[F32, I8, I16, I32, I64, Bool])?;
        self.per_tensor("output", y)?;
        let rank = y.shape.len();
        if axis >= rank {
            return Err(self.fail(
                Problem::Attribute,
                format!(
                    "axis {axis} is out of range for output {} of rank {rank}",
                    s(&y.shape)
                ),
            ));
        }
        let mut along = 0usize;
        for (i, t) in inputs.iter().enumerate() {
            let role = format!("input {i}");
            self.same_dtype(&role, t, "output", y)?;
            self.per_tensor(&role, t)?;
            let fits = t.shape.len() == rank
                && t.shape
                    .iter()
                    .zip(&y.shape)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !fits {
                return Err(self.shape_err(format!(
                    "input {i} {} does not fit output {} off axis {axis}",
                    s(&t.shape),
                    s(&y.shape)
                )));
            }
            along = along
                .checked_add(t.shape[axis])
                .ok_or_else(|| self.shape_err("the inputs' sizes along the axis overflow"))?;
        }
        if along != y.shape[axis] {
            return Err(self.shape_err(format!(
                "inputs add up to {along} along axis {axis}, but output {} has {}",
                s(&y.shape),
                y.shape[axis]
            )));
        }
        Ok(())
    }

    fn mean(&self, axes: &[usize], keep_dims: bool) -> Result {
        let (x, y) = self.one_to_one(FLOAT_OR_QUANT)?;
        self.max_rank("input", x)?;
        let rank = x.shape.len();
        // The IR keeps axes sorted and distinct (import normalizes them).
        let sorted = axes.windows(2).all(|w| w[0] < w[1]);
        if !sorted || axes.iter().any(|&a| a >= rank) {
            return Err(self.fail(
                Problem::Attribute,
                format!("axes {axes:?} must be sorted, distinct and below the input's rank {rank}"),
            ));
        }
        let want = shapes::reduced(&x.shape, axes, keep_dims);
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {} reduced over axes {axes:?} (keep_dims={keep_dims}) gives {}",
                s(&y.shape),
                s(&x.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    fn pad(&self, paddings: &[(usize, usize)]) -> Result {
        self.arity(1, 2)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.dtype_in("input", x, NUMERIC)?;
        self.same_dtype("output", y, "input", x)?;
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        // PADV2's pad value: one element of the data's type.
        if let Some(v) = self.optional_input(1)? {
            self.same_dtype("pad value", v, "input", x)?;
            self.per_tensor("pad value", v)?;
            if v.num_elements() != Some(1) {
                return Err(self.shape_err(format!(
                    "pad value {:?} has shape {}, expected a single value",
                    v.name,
                    s(&v.shape)
                )));
            }
        }
        self.max_rank("input", x)?;
        if paddings.len() != x.shape.len() {
            return Err(self.fail(
                Problem::Attribute,
                format!(
                    "{} (before, after) pairs for input {} of rank {}",
                    paddings.len(),
                    s(&x.shape),
                    x.shape.len()
                ),
            ));
        }
        let want = shapes::padded(&x.shape, paddings)
            .ok_or_else(|| self.shape_err(format!("input {} padded overflows", s(&x.shape))))?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {} padded by {paddings:?} gives {}",
                s(&y.shape),
                s(&x.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    fn reshape_like(&self) -> Result {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.same_dtype("output", y, "input", x)?;
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        if x.num_elements() != y.num_elements() {
            return Err(self.shape_err(format!(
                "output {} but input {}: the element counts differ",
                s(&y.shape),
                s(&x.shape)
            )));
        }
        match self.op.kind {
            OpKind::Squeeze if shapes::dropped_ones(&x.shape, &y.shape).is_none() => Err(self
                .shape_err(format!(
                    "output {} is not input {} with size-1 dimensions removed",
                    s(&y.shape),
                    s(&x.shape)
                ))),
            OpKind::ExpandDims if shapes::dropped_ones(&y.shape, &x.shape) != Some(1) => Err(self
                .shape_err(format!(
                    "output {} is not input {} with one size-1 dimension inserted",
                    s(&y.shape),
                    s(&x.shape)
                ))),
            _ => Ok(()),
        }
    }

    /// SPACE_TO_DEPTH / DEPTH_TO_SPACE: TFLM moves float32 and int8.
    fn space_depth(
        &self,
        block: usize,
        shape: fn(&[usize], usize) -> Option<Vec<usize>>,
    ) -> Result {
        let (x, y) = self.one_to_one(&[F32, I8])?;
        let want = shape(&x.shape, block).ok_or_else(|| {
            self.fail(
                Problem::Attribute,
                format!(
                    "block {block} does not fit the 4-D NHWC input {}",
                    s(&x.shape)
                ),
            )
        })?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {} with block {block} gives {}",
                s(&y.shape),
                s(&x.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    /// GATHER (`batch_dims` 0, constant indices folded in): TFLM moves
    /// float32, int8 and int32.
    fn gather(&self, axis: usize, indices: &[usize]) -> Result {
        let (x, y) = self.one_to_one(&[F32, I8, I32])?;
        let Some(&axis_size) = x.shape.get(axis) else {
            return Err(self.fail(
                Problem::Attribute,
                format!("axis {axis} is outside input {}", s(&x.shape)),
            ));
        };
        if let Some(bad) = indices.iter().find(|&&i| i >= axis_size) {
            return Err(self.fail(
                Problem::Attribute,
                format!(
                    "index {bad} is outside axis {axis} of input {} (TFLM refuses it)",
                    s(&x.shape)
                ),
            ));
        }
        let fits = shapes::gather_indices_shape(&x.shape, &y.shape, axis).is_some_and(|d| {
            d.iter().try_fold(1usize, |n, &k| n.checked_mul(k)) == Some(indices.len())
        });
        if !fits {
            return Err(self.shape_err(format!(
                "output {} is not input {} with axis {axis} replaced by {} indices",
                s(&y.shape),
                s(&x.shape),
                indices.len()
            )));
        }
        Ok(())
    }

    /// BATCH_MATMUL: float32, int8 or int16 (per-tensor) as TFLM, both inputs
    /// and the output of one type, ranks 2 to 5, batch dimensions that
    /// broadcast and equal depths (TFLM's prepare); the output shape TFLM
    /// derives.
    fn batch_matmul(&self, adj_x: bool, adj_y: bool) -> Result {
        self.arity(2, 2)?;
        let (a, b, y) = (self.input(0)?, self.input(1)?, self.output()?);
        self.dtype_in("input 0", a, &[F32, I8, I16])?;
        self.same_dtype("input 1", b, "input 0", a)?;
        self.same_dtype("output", y, "input 0", a)?;
        self.per_tensor("input 0", a)?;
        self.per_tensor("input 1", b)?;
        self.per_tensor("output", y)?;
        let (_, want) = shapes::batch_matmul(&a.shape, &b.shape, adj_x, adj_y)
            .map_err(|why| self.shape_err(why))?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but inputs {} and {} (adj_x={adj_x}, adj_y={adj_y}) give {}",
                s(&y.shape),
                s(&a.shape),
                s(&b.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    fn transpose(&self, perm: &[usize]) -> Result {
        let (x, y) = self.one_to_one(NUMERIC)?;
        self.max_rank("input", x)?;
        let want = shapes::permuted(&x.shape, perm).ok_or_else(|| {
            self.fail(
                Problem::Attribute,
                format!(
                    "perm {perm:?} is not a permutation of the {} dimensions of input {}",
                    x.shape.len(),
                    s(&x.shape)
                ),
            )
        })?;
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but input {} permuted by {perm:?} gives {}",
                s(&y.shape),
                s(&x.shape),
                s(&want)
            )));
        }
        Ok(())
    }

    fn strided_slice(&self, a: &crate::op::StridedSlice) -> Result {
        let (x, y) = self.one_to_one(&[F32, I8, I16, I32, Bool])?;
        self.max_rank("input", x)?;
        // The kernels' own resolution of begin/end/masks: the shape lowering
        // will use, so the two cannot disagree.
        let (_, shape) = prepare_strided_slice(
            &x.shape,
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
        .map_err(|e| {
            let why = match e {
                KernelError::InvalidParams(why) => why.to_owned(),
                other => other.to_string(),
            };
            self.fail(
                Problem::Attribute,
                format!("{why} (input {}, {})", s(&x.shape), self.op.kind),
            )
        })?;
        let want = shape.as_slice();
        if y.shape != want {
            return Err(self.shape_err(format!(
                "output {} but slicing input {} gives {}",
                s(&y.shape),
                s(&x.shape),
                s(want)
            )));
        }
        Ok(())
    }

    fn quantize(&self) -> Result {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.dtype_in("input", x, &[F32, I8, U8, I16])?;
        self.dtype_in("output", y, &[I8, U8, I16])?;
        if x.dtype != F32 {
            self.quantized("input", x)?;
        }
        self.quantized("output", y)?;
        self.same_shape("output", y, "input", x)
    }

    fn dequantize(&self) -> Result {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        self.dtype_in("input", x, &[I8, U8, I16])?;
        self.dtype_in("output", y, &[F32])?;
        self.quantized("input", x)?;
        self.same_shape("output", y, "input", x)
    }

    fn lut(&self, table_len: usize) -> Result {
        self.arity(1, 1)?;
        let (x, y) = (self.input(0)?, self.output()?);
        if !x.dtype.is_8bit() || !y.dtype.is_8bit() {
            return Err(self.fail(
                Problem::Type,
                format!(
                    "{} to {}: a LUT maps 8-bit codes to 8-bit codes",
                    x.dtype, y.dtype
                ),
            ));
        }
        self.per_tensor("input", x)?;
        self.per_tensor("output", y)?;
        if table_len != 256 {
            return Err(self.fail(
                Problem::Attribute,
                format!("the table has {table_len} entries, expected 256 (one per input code)"),
            ));
        }
        self.same_shape("output", y, "input", x)
    }
}

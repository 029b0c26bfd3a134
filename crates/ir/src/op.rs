//! Ops: an enum of kinds with typed attributes. Parameters that TFLite passes
//! as constant tensors (axes, paddings, permutations, slice bounds) are folded
//! into attributes at import, so an op's inputs are only the data it reads.

use core::fmt;

pub use tinyq_kernels::Activation;

use crate::TensorId;

/// Explicit spatial padding, resolved from SAME/VALID at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Padding2D {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

/// Height/width pair (strides, dilations, window sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hw {
    pub h: usize,
    pub w: usize,
}

impl fmt::Display for Hw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.h, self.w)
    }
}

/// CONV_2D attributes. Inputs: data, filter (OHWI), optional bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2D {
    pub stride: Hw,
    pub dilation: Hw,
    pub padding: Padding2D,
    pub activation: Activation,
}

/// DEPTHWISE_CONV_2D attributes. Inputs: data, filter `[1,KH,KW,C*M]`, optional bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthwiseConv2D {
    pub stride: Hw,
    pub dilation: Hw,
    pub padding: Padding2D,
    pub depth_multiplier: usize,
    pub activation: Activation,
}

/// FULLY_CONNECTED attributes. Inputs: data, filter `[O,I]`, optional bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullyConnected {
    pub keep_num_dims: bool,
    pub activation: Activation,
}

/// AVERAGE_POOL_2D / MAX_POOL_2D attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2D {
    pub filter: Hw,
    pub stride: Hw,
    pub padding: Padding2D,
    pub activation: Activation,
}

/// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR attributes. The output size
/// is the output tensor's height and width (TFLite's constant `size` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resize {
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

/// TRANSPOSE_CONV attributes. Inputs: data, filter (OHWI), optional bias
/// (TFLite's order is output shape, filter, data, bias; the output shape is
/// the output tensor's). `padding` is what TFLM crops from the full
/// transposed output, resolved from SAME/VALID at import; only `top` and
/// `left` place the output, `bottom` and `right` follow from its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposeConv {
    pub stride: Hw,
    pub padding: Padding2D,
    pub activation: Activation,
}

/// STRIDED_SLICE attributes exactly as TFLite gives them; resolution of the
/// masks happens at lowering, where the kernel's logic lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StridedSlice {
    pub begin: Vec<i32>,
    pub end: Vec<i32>,
    pub strides: Vec<i32>,
    pub begin_mask: i32,
    pub end_mask: i32,
    pub ellipsis_mask: i32,
    pub new_axis_mask: i32,
    pub shrink_axis_mask: i32,
    pub offset: bool,
}

/// What an op computes.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Conv2D(Conv2D),
    DepthwiseConv2D(DepthwiseConv2D),
    FullyConnected(FullyConnected),
    AveragePool2D(Pool2D),
    MaxPool2D(Pool2D),
    Add {
        activation: Activation,
    },
    Sub {
        activation: Activation,
    },
    Mul {
        activation: Activation,
    },
    /// Float, or plain int32 (truncating); TFLM's int8 DIV is not supported.
    Div {
        activation: Activation,
    },
    Maximum,
    Minimum,
    /// `input1` is alpha, broadcast against the input.
    Prelu,
    /// `(a - b)^2` with broadcasting, float only (no fused activation).
    SquaredDifference,
    /// `lhs · rhs` over broadcast batch dimensions (ranks 2 to 5);
    /// `adj_x`/`adj_y` read an operand's last two dimensions transposed.
    BatchMatMul {
        adj_x: bool,
        adj_y: bool,
    },
    Softmax {
        beta: f32,
    },
    Logistic,
    Tanh,
    Relu,
    Relu6,
    ReluN1To1,
    LeakyRelu {
        alpha: f32,
    },
    HardSwish,
    /// The unary math ops, float only: `exp`, `log`, `sqrt`, `1 / sqrt`,
    /// `|x|`, `-x`, `x * x`.
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Abs,
    Neg,
    Square,
    Concatenation {
        axis: usize,
        activation: Activation,
    },
    /// MEAN over `axes` (sorted, deduplicated).
    Mean {
        axes: Vec<usize>,
        keep_dims: bool,
    },
    /// PAD / PADV2: `(before, after)` per dimension. PADV2 has a second
    /// input, the scalar pad value.
    Pad {
        paddings: Vec<(usize, usize)>,
    },
    Reshape,
    Squeeze,
    ExpandDims,
    Transpose {
        perm: Vec<usize>,
    },
    StridedSlice(StridedSlice),
    /// SPACE_TO_DEPTH (NHWC): each `block`×`block` patch becomes channels.
    SpaceToDepth {
        block: usize,
    },
    /// DEPTH_TO_SPACE (NHWC): the inverse of SPACE_TO_DEPTH.
    DepthToSpace {
        block: usize,
    },
    /// GATHER along `axis` (`batch_dims` 0) with TFLite's constant int32
    /// indices folded in, each inside the axis; the indices' shape is the
    /// output's dimensions that replace the axis ([`crate::shapes::gather_indices_shape`]).
    Gather {
        axis: usize,
        indices: Vec<usize>,
    },
    Quantize,
    Dequantize,
    /// tinyq's own: an 8-bit element-wise op given by a 256-entry table
    /// indexed by the input byte, made by the `lut` pass from unary ops
    /// (and chains of them) by running their reference kernel on every
    /// input. Never read from nor written to a `.tflite` file.
    Lut(Lut),
    ResizeBilinear(Resize),
    ResizeNearestNeighbor(Resize),
    TransposeConv(TransposeConv),
    /// SVDF. Inputs: data `[batches, input_size]`, feature weights
    /// `[filters, input_size]`, time weights `[filters, memory]`, optional
    /// bias `[units]`, and last its state `[batches, filters·memory]`: a
    /// variable tensor, which no op produces, that persists between invokes
    /// and that this op updates in place ([`OpKind::state_input`]).
    Svdf(Svdf),
    /// UNIDIRECTIONAL_SEQUENCE_LSTM, the standard (Keras) LSTM: TANH cell
    /// activation, no peephole, projection, layer normalization nor CIFG.
    /// Inputs: data `[batches, time, input_size]` (time-major:
    /// `[time, batches, input_size]`); input weights `[units, input_size]`
    /// and recurrent weights `[units, units]` of the input, forget, cell and
    /// output gates (8 inputs, that order); the 4 gate biases `[units]`;
    /// last the hidden and the cell state `[batches, units]`, variable
    /// tensors updated in place ([`OpKind::state_inputs`]).
    Lstm(Lstm),
    /// A signal-library custom op (TFLM's audio front end).
    Signal(crate::signal::SignalOp),
    /// CAST between int8, int16, int32, UINT32 and float32 (the types TFLM's
    /// kernel converts), `static_cast` per element.
    Cast,
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lstm {
    /// The cell state is clipped to `[-cell_clip, cell_clip]` when positive.
    pub cell_clip: f32,
    pub time_major: bool,
}

/// Inputs of an [`OpKind::Lstm`]: data, 8 weights, 4 biases, 2 states.
pub const LSTM_INPUTS: usize = 15;

/// SVDF attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Svdf {
    pub rank: usize,
    pub activation: Activation,
}

/// A table op: `output = table[input byte]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lut {
    pub table: Vec<u8>,
    /// The TFLite ops it computes, first to last (`["LOGISTIC", "TANH"]`).
    pub ops: Vec<&'static str>,
}

impl Lut {
    /// `LOGISTIC+TANH`: what the table computes, for reports.
    pub fn describe(&self) -> String {
        self.ops.join("+")
    }
}

impl OpKind {
    /// The TFLite builtin name (`CONV_2D`, ...), used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Conv2D(_) => "CONV_2D",
            OpKind::DepthwiseConv2D(_) => "DEPTHWISE_CONV_2D",
            OpKind::FullyConnected(_) => "FULLY_CONNECTED",
            OpKind::AveragePool2D(_) => "AVERAGE_POOL_2D",
            OpKind::MaxPool2D(_) => "MAX_POOL_2D",
            OpKind::Add { .. } => "ADD",
            OpKind::Sub { .. } => "SUB",
            OpKind::Mul { .. } => "MUL",
            OpKind::Div { .. } => "DIV",
            OpKind::Maximum => "MAXIMUM",
            OpKind::Minimum => "MINIMUM",
            OpKind::Prelu => "PRELU",
            OpKind::SquaredDifference => "SQUARED_DIFFERENCE",
            OpKind::BatchMatMul { .. } => "BATCH_MATMUL",
            OpKind::Softmax { .. } => "SOFTMAX",
            OpKind::Logistic => "LOGISTIC",
            OpKind::Tanh => "TANH",
            OpKind::Relu => "RELU",
            OpKind::Relu6 => "RELU6",
            OpKind::ReluN1To1 => "RELU_N1_TO_1",
            OpKind::LeakyRelu { .. } => "LEAKY_RELU",
            OpKind::HardSwish => "HARD_SWISH",
            OpKind::Exp => "EXP",
            OpKind::Log => "LOG",
            OpKind::Sqrt => "SQRT",
            OpKind::Rsqrt => "RSQRT",
            OpKind::Abs => "ABS",
            OpKind::Neg => "NEG",
            OpKind::Square => "SQUARE",
            OpKind::Concatenation { .. } => "CONCATENATION",
            OpKind::Mean { .. } => "MEAN",
            OpKind::Pad { .. } => "PAD",
            OpKind::Reshape => "RESHAPE",
            OpKind::Squeeze => "SQUEEZE",
            OpKind::Cast => "CAST",
            OpKind::ExpandDims => "EXPAND_DIMS",
            OpKind::Transpose { .. } => "TRANSPOSE",
            OpKind::StridedSlice(_) => "STRIDED_SLICE",
            OpKind::SpaceToDepth { .. } => "SPACE_TO_DEPTH",
            OpKind::DepthToSpace { .. } => "DEPTH_TO_SPACE",
            OpKind::Gather { .. } => "GATHER",
            OpKind::Quantize => "QUANTIZE",
            OpKind::Dequantize => "DEQUANTIZE",
            OpKind::Lut(_) => "LUT",
            OpKind::ResizeBilinear(_) => "RESIZE_BILINEAR",
            OpKind::ResizeNearestNeighbor(_) => "RESIZE_NEAREST_NEIGHBOR",
            OpKind::TransposeConv(_) => "TRANSPOSE_CONV",
            OpKind::Svdf(_) => "SVDF",
            OpKind::Lstm(_) => "UNIDIRECTIONAL_SEQUENCE_LSTM",
            OpKind::Signal(s) => s.name(),
        }
    }

    /// The fused activation, for ops that have one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            OpKind::Conv2D(a) => Some(a.activation),
            OpKind::DepthwiseConv2D(a) => Some(a.activation),
            OpKind::FullyConnected(a) => Some(a.activation),
            OpKind::TransposeConv(a) => Some(a.activation),
            OpKind::Svdf(a) => Some(a.activation),
            OpKind::AveragePool2D(a) | OpKind::MaxPool2D(a) => Some(a.activation),
            OpKind::Add { activation }
            | OpKind::Sub { activation }
            | OpKind::Mul { activation }
            | OpKind::Div { activation }
            | OpKind::Concatenation { activation, .. } => Some(*activation),
            _ => None,
        }
    }

    /// Which of an op's `n_inputs` inputs are its persistent state
    /// (variable tensors it reads and updates in place), for stateful ops:
    /// always its last inputs; empty for the others.
    pub fn state_inputs(&self, n_inputs: usize) -> core::ops::Range<usize> {
        let count = match self {
            OpKind::Svdf(_) => 1,
            OpKind::Lstm(_) => 2,
            // The noise estimate the reader adds (`SignalOp::SpectralSubtraction`).
            OpKind::Signal(s) if s.state_input().is_some() => 1,
            _ => 0,
        };
        n_inputs.saturating_sub(count)..n_inputs
    }

    /// True for ops that only reinterpret the shape of their input.
    pub fn is_reshape_like(&self) -> bool {
        matches!(self, OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims)
    }
}

/// Name of a fused activation as TFLite spells it.
pub fn activation_name(activation: Activation) -> &'static str {
    match activation {
        Activation::None => "NONE",
        Activation::Relu => "RELU",
        Activation::ReluN1To1 => "RELU_N1_TO_1",
        Activation::Relu6 => "RELU6",
    }
}

/// One op of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
    /// Index of the operator in the source model, for error messages and
    /// reports that speak of "the model as given".
    pub origin: Option<usize>,
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        let pad = |p: &Padding2D| format!("{},{},{},{}", p.top, p.bottom, p.left, p.right);
        match self {
            OpKind::Conv2D(a) => write!(
                f,
                "(stride={}, dilation={}, pad={}, act={})",
                a.stride,
                a.dilation,
                pad(&a.padding),
                activation_name(a.activation)
            ),
            OpKind::DepthwiseConv2D(a) => write!(
                f,
                "(stride={}, dilation={}, pad={}, multiplier={}, act={})",
                a.stride,
                a.dilation,
                pad(&a.padding),
                a.depth_multiplier,
                activation_name(a.activation)
            ),
            OpKind::FullyConnected(a) => write!(
                f,
                "(keep_num_dims={}, act={})",
                a.keep_num_dims,
                activation_name(a.activation)
            ),
            OpKind::AveragePool2D(a) | OpKind::MaxPool2D(a) => write!(
                f,
                "(filter={}, stride={}, pad={}, act={})",
                a.filter,
                a.stride,
                pad(&a.padding),
                activation_name(a.activation)
            ),
            OpKind::Add { activation }
            | OpKind::Sub { activation }
            | OpKind::Mul { activation }
            | OpKind::Div { activation } => {
                write!(f, "(act={})", activation_name(*activation))
            }
            OpKind::Softmax { beta } => write!(f, "(beta={beta})"),
            OpKind::LeakyRelu { alpha } => write!(f, "(alpha={alpha})"),
            OpKind::Concatenation { axis, activation } => {
                write!(f, "(axis={axis}, act={})", activation_name(*activation))
            }
            OpKind::Mean { axes, keep_dims } => write!(f, "(axes={axes:?}, keep_dims={keep_dims})"),
            OpKind::Pad { paddings } => write!(f, "(paddings={paddings:?})"),
            OpKind::Transpose { perm } => write!(f, "(perm={perm:?})"),
            OpKind::SpaceToDepth { block } | OpKind::DepthToSpace { block } => {
                write!(f, "(block={block})")
            }
            OpKind::Gather { axis, indices } => write!(f, "(axis={axis}, indices={indices:?})"),
            OpKind::BatchMatMul { adj_x, adj_y } => write!(f, "(adj_x={adj_x}, adj_y={adj_y})"),
            OpKind::ResizeBilinear(r) | OpKind::ResizeNearestNeighbor(r) => write!(
                f,
                "(align_corners={}, half_pixel_centers={})",
                r.align_corners, r.half_pixel_centers
            ),
            OpKind::TransposeConv(a) => {
                write!(
                    f,
                    "(stride={}, pad={}, act={})",
                    a.stride,
                    pad(&a.padding),
                    activation_name(a.activation)
                )
            }
            OpKind::Lstm(a) => write!(
                f,
                "(cell_clip={}, time_major={})",
                a.cell_clip, a.time_major
            ),
            OpKind::Svdf(a) => write!(
                f,
                "(rank={}, act={})",
                a.rank,
                activation_name(a.activation)
            ),
            OpKind::Lut(l) => write!(
                f,
                "(of={}, table={:016x})",
                l.describe(),
                table_hash(&l.table)
            ),
            OpKind::StridedSlice(s) => write!(
                f,
                "(begin={:?}, end={:?}, strides={:?}, masks={}/{}/{}/{}/{}, offset={})",
                s.begin,
                s.end,
                s.strides,
                s.begin_mask,
                s.end_mask,
                s.ellipsis_mask,
                s.new_axis_mask,
                s.shrink_axis_mask,
                s.offset
            ),
            _ => Ok(()),
        }
    }
}

/// A short stable fingerprint of a table, so dumps show when two differ.
fn table_hash(table: &[u8]) -> u64 {
    table.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

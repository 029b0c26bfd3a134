//! The kernel calls a Program step can make, with their folded parameters.
//! Parameter structs are the `crates/kernels` ones, so a folded number has
//! one type from lowering to the generated code.

use tinyq_kernels::batch_matmul::BatchMatMulParams;
use tinyq_kernels::concat::ConcatParams;
use tinyq_kernels::conv::Conv2DParams;
use tinyq_kernels::depthwise::DepthwiseParams;
use tinyq_kernels::elementwise::{AddSubParams, MulParams, PreluParams};
use tinyq_kernels::fully_connected::FullyConnectedParams;
use tinyq_kernels::gather::GatherParams;
use tinyq_kernels::int8_math::SquaredDifferenceParams;
use tinyq_kernels::lstm_int8::LstmInt8Params;
use tinyq_kernels::pad::PadParams;
use tinyq_kernels::pooling::PoolParams;
use tinyq_kernels::reduce::MeanParams;
use tinyq_kernels::resize::{ResizeBilinearParams, ResizeNearestParams};
use tinyq_kernels::shape::Shape;
use tinyq_kernels::softmax::SoftmaxParams;
use tinyq_kernels::svdf::SvdfParams;
use tinyq_kernels::transpose::TransposeParams;
use tinyq_kernels::transpose_conv::TransposeConvParams;
use tinyq_kernels::wide::WideBias;

/// Weights and per-channel requantization of a convolution-like kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights {
    /// int8 filter in the kernel's layout (OHWI, `[1,KH,KW,C*M]` or `[O,I]`).
    pub filter: Vec<i8>,
    /// int32 bias per output channel.
    pub bias: Option<Vec<i32>>,
    /// Q31 multiplier per output channel (one entry for a per-tensor FC).
    pub multipliers: Vec<i32>,
    /// Shift per output channel (positive = left).
    pub shifts: Vec<i32>,
}

/// The bias of a 16x8 layer; its type selects TFLM's accumulator
/// ([`tinyq_kernels::wide`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WideBiasData {
    None,
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl WideBiasData {
    /// The kernels' borrowed view.
    pub fn as_wide(&self) -> WideBias<'_> {
        match self {
            WideBiasData::None => WideBias::None,
            WideBiasData::I32(b) => WideBias::I32(b),
            WideBiasData::I64(b) => WideBias::I64(b),
        }
    }

    /// Bytes of constant data.
    pub fn byte_len(&self) -> usize {
        match self {
            WideBiasData::None => 0,
            WideBiasData::I32(b) => 4 * b.len(),
            WideBiasData::I64(b) => 8 * b.len(),
        }
    }
}

/// Weights and per-channel requantization of a 16x8 convolution-like
/// kernel (int16 activations, int8 weights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WideWeights {
    /// int8 filter in the kernel's layout, as [`Weights::filter`].
    pub filter: Vec<i8>,
    pub bias: WideBiasData,
    /// Q31 multiplier per output channel (one entry for a per-tensor FC).
    pub multipliers: Vec<i32>,
    /// Shift per output channel (positive = left).
    pub shifts: Vec<i32>,
}

/// The constants of an int8 SVDF (int16 time weights).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvdfWeights {
    /// `[filters, input_size]`.
    pub feature: Vec<i8>,
    /// `[filters, memory]`.
    pub time: Vec<i16>,
    /// `[units]`.
    pub bias: Option<Vec<i32>>,
}

/// The constants of an integer LSTM, in [`tinyq_kernels::lstm_int8`]'s
/// layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LstmWeights {
    /// Per gate: input weights `[units, input_size]`, recurrent weights
    /// `[units, units]`.
    pub weights: Vec<i8>,
    /// Per gate: the input layer's biases then the recurrent layer's
    /// (`[units]` each; zero points folded in when the offsets are 0).
    pub biases: Vec<i32>,
}

/// Shapes of a broadcasting binary op, left-padded to the kernels' rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broadcast {
    pub shape1: Shape,
    pub shape2: Shape,
    pub out_shape: Shape,
}

/// A two-input element-wise op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add(AddSubParams),
    Sub(AddSubParams),
    Mul(MulParams),
    Maximum,
    Minimum,
    /// `input2` is alpha.
    Prelu(PreluParams),
    SquaredDifference(SquaredDifferenceParams),
}

/// One kernel call with everything it needs but its data buffers.
#[derive(Debug, Clone, PartialEq)]
pub enum Kernel {
    Conv2D {
        params: Conv2DParams,
        weights: Weights,
    },
    DepthwiseConv2D {
        params: DepthwiseParams,
        weights: Weights,
    },
    FullyConnected {
        params: FullyConnectedParams,
        weights: Weights,
    },
    AveragePool(PoolParams),
    MaxPool(PoolParams),
    /// Element-wise binary op; `broadcast` is `None` when all shapes agree.
    Binary {
        op: BinaryOp,
        broadcast: Option<Broadcast>,
    },
    Softmax(SoftmaxParams),
    /// Any 8-bit → 8-bit element-wise op (logistic, tanh, relu, requantize,
    /// ...) as a 256-entry table indexed by the input byte.
    Lut {
        table: Vec<u8>,
    },
    /// 8-bit → float32 (DEQUANTIZE) as a 256-entry table indexed by the input byte.
    DequantizeLut {
        table: Vec<f32>,
    },
    /// float32 → int8/uint8 (QUANTIZE): `q = round(x / scale) + zero_point`,
    /// clamped to the output type, in float as TFLM does.
    Quantize {
        params: tinyq_kernels::quantize::QuantParams,
        unsigned: bool,
    },
    Mean(MeanParams),
    Pad(PadParams),
    Concat(ConcatParams),
    Transpose(TransposeParams),
    /// GATHER with its constant indices (each checked inside the axis).
    Gather {
        params: GatherParams,
        indices: Vec<i32>,
    },
    StridedSlice(tinyq_kernels::slice::StridedSliceParams),
    /// int8 BATCH_MATMUL. Inputs: lhs, rhs (either may be a constant).
    BatchMatMul(BatchMatMulParams),
    /// Byte copy (a reshape that could not be an alias).
    Copy,
    /// A float32 kernel (a model compiled as float).
    Float(crate::float_kernel::FloatKernel),
    ResizeBilinear(ResizeBilinearParams),
    ResizeNearest(ResizeNearestParams),
    /// `weights.filter` is OHWI.
    TransposeConv {
        params: TransposeConvParams,
        weights: Weights,
    },
    /// CONV_2D with int16 activations and int8 weights.
    Conv2D16x8 {
        params: Conv2DParams,
        weights: WideWeights,
    },
    /// DEPTHWISE_CONV_2D with int16 activations and int8 weights.
    DepthwiseConv2D16x8 {
        params: DepthwiseParams,
        weights: WideWeights,
    },
    /// FULLY_CONNECTED with int16 activations and int8 weights.
    FullyConnected16x8 {
        params: FullyConnectedParams,
        weights: WideWeights,
    },
    /// float32 → int16 (QUANTIZE), as [`Kernel::Quantize`] with the int16 clamp.
    QuantizeI16 {
        params: tinyq_kernels::quantize::QuantParams,
    },
    /// int16 → float32 (DEQUANTIZE): `(float)(scale * (q - zero_point))`
    /// with the scale in double, as TFLM.
    DequantizeI16 {
        params: tinyq_kernels::quantize::QuantParams,
    },
    /// The other int16 kernels of 16x8 models (element-wise, requantize,
    /// layout, transposed convolution).
    Int16(crate::int16_kernel::Int16Kernel),
    /// A plain integer op (int32 arithmetic, CAST): little-endian buffers
    /// of [`crate::int32_kernel::Int32Kernel::dtypes`].
    Int32(crate::int32_kernel::Int32Kernel),
    /// A signal-library op (its buffers: the element types of
    /// `SignalOp::dtypes`, little-endian).
    Signal(crate::signal::SignalOp),
    /// SVDF, int8 data with an int16 state. Inputs: the data, then the
    /// state (in the arena's persistent region), which the step updates in
    /// place.
    Svdf {
        params: SvdfParams,
        weights: SvdfWeights,
    },
    /// UNIDIRECTIONAL_SEQUENCE_LSTM, int8 data with an int8 hidden and an
    /// int16 cell state. Inputs: the data, then the state block (hidden
    /// then cell, in the arena's persistent region), updated in place.
    Lstm {
        params: LstmInt8Params,
        weights: LstmWeights,
    },
}

impl Kernel {
    /// Bytes of filters and biases the kernel carries (conv-like kernels).
    pub fn weight_bytes(&self) -> usize {
        match self {
            Kernel::Conv2D { weights, .. }
            | Kernel::DepthwiseConv2D { weights, .. }
            | Kernel::FullyConnected { weights, .. }
            | Kernel::TransposeConv { weights, .. } => {
                weights.filter.len() + 4 * weights.bias.as_ref().map_or(0, Vec::len)
            }
            Kernel::Float(k) => k.weight_bytes(),
            Kernel::Int16(k) => k.weight_bytes(),
            Kernel::Conv2D16x8 { weights, .. }
            | Kernel::DepthwiseConv2D16x8 { weights, .. }
            | Kernel::FullyConnected16x8 { weights, .. } => {
                weights.filter.len() + weights.bias.byte_len()
            }
            Kernel::Svdf { weights, .. } => {
                weights.feature.len()
                    + 2 * weights.time.len()
                    + 4 * weights.bias.as_ref().map_or(0, Vec::len)
            }
            Kernel::Lstm { weights, .. } => weights.weights.len() + 4 * weights.biases.len(),
            _ => 0,
        }
    }

    /// Bytes of constant data the kernel itself carries: weights, biases,
    /// multipliers and shifts, tables (not its constant operands).
    pub fn constant_bytes(&self) -> usize {
        let requant = |multipliers: &[i32], shifts: &[i32]| 4 * multipliers.len() + shifts.len();
        match self {
            Kernel::Conv2D { weights, .. }
            | Kernel::DepthwiseConv2D { weights, .. }
            | Kernel::FullyConnected { weights, .. }
            | Kernel::TransposeConv { weights, .. } => {
                self.weight_bytes() + requant(&weights.multipliers, &weights.shifts)
            }
            Kernel::Float(k) => k.constant_bytes(),
            Kernel::Int16(k) => k.constant_bytes(),
            Kernel::Conv2D16x8 { weights, .. }
            | Kernel::DepthwiseConv2D16x8 { weights, .. }
            | Kernel::FullyConnected16x8 { weights, .. } => {
                self.weight_bytes() + requant(&weights.multipliers, &weights.shifts)
            }
            Kernel::Svdf { .. } | Kernel::Lstm { .. } => self.weight_bytes(),
            Kernel::Lut { table } => table.len(),
            Kernel::DequantizeLut { table } => 4 * table.len(),
            Kernel::Gather { indices, .. } => 4 * indices.len(),
            _ => 0,
        }
    }

    /// Short name for reports and generated code.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Conv2D { .. } => "conv2d",
            Kernel::DepthwiseConv2D { .. } => "depthwise_conv2d",
            Kernel::FullyConnected { .. } => "fully_connected",
            Kernel::AveragePool(_) => "average_pool",
            Kernel::MaxPool(_) => "max_pool",
            Kernel::Binary { op, .. } => match op {
                BinaryOp::Add(_) => "add",
                BinaryOp::Sub(_) => "sub",
                BinaryOp::Mul(_) => "mul",
                BinaryOp::Maximum => "maximum",
                BinaryOp::Minimum => "minimum",
                BinaryOp::Prelu(_) => "prelu",
                BinaryOp::SquaredDifference(_) => "squared_difference",
            },
            Kernel::Softmax(_) => "softmax",
            Kernel::Lut { .. } => "lut",
            Kernel::DequantizeLut { .. } => "dequantize",
            Kernel::Quantize { .. } => "quantize",
            Kernel::Mean(_) => "mean",
            Kernel::Pad(_) => "pad",
            Kernel::Concat(_) => "concat",
            Kernel::Transpose(_) => "transpose",
            Kernel::Gather { .. } => "gather",
            Kernel::StridedSlice(_) => "strided_slice",
            Kernel::BatchMatMul(_) => "batch_matmul",
            Kernel::Copy => "copy",
            Kernel::Float(k) => k.name(),
            Kernel::ResizeBilinear(_) => "resize_bilinear",
            Kernel::ResizeNearest(_) => "resize_nearest",
            Kernel::TransposeConv { .. } => "transpose_conv",
            Kernel::Conv2D16x8 { .. } => "conv2d_16x8",
            Kernel::DepthwiseConv2D16x8 { .. } => "depthwise_conv2d_16x8",
            Kernel::FullyConnected16x8 { .. } => "fully_connected_16x8",
            Kernel::QuantizeI16 { .. } => "quantize_i16",
            Kernel::DequantizeI16 { .. } => "dequantize_i16",
            Kernel::Int16(k) => k.name(),
            Kernel::Svdf { .. } => "svdf",
            Kernel::Signal(op) => op.name(),
            Kernel::Int32(k) => k.name(),
            Kernel::Lstm { .. } => "lstm_int8",
        }
    }

    /// The input that is the step's persistent state, read and updated in
    /// place (stateful kernels only).
    pub fn state_input(&self) -> Option<usize> {
        match self {
            Kernel::Svdf { .. }
            | Kernel::Lstm { .. }
            | Kernel::Float(crate::FloatKernel::Svdf { .. } | crate::FloatKernel::Lstm { .. }) => {
                Some(1)
            }
            Kernel::Signal(op) => op.state_input(),
            _ => None,
        }
    }
}

//! The kernel calls a Program step can make, with their folded parameters.
//! Parameter structs are the `crates/kernels` ones, so a folded number has
//! one type from lowering to the generated code.

use tinyq_kernels::concat::ConcatParams;
use tinyq_kernels::conv::Conv2DParams;
use tinyq_kernels::depthwise::DepthwiseParams;
use tinyq_kernels::elementwise::{AddSubParams, MulParams, PreluParams};
use tinyq_kernels::fully_connected::FullyConnectedParams;
use tinyq_kernels::pad::PadParams;
use tinyq_kernels::pooling::PoolParams;
use tinyq_kernels::reduce::MeanParams;
use tinyq_kernels::resize::{ResizeBilinearParams, ResizeNearestParams};
use tinyq_kernels::shape::Shape;
use tinyq_kernels::softmax::SoftmaxParams;
use tinyq_kernels::transpose::TransposeParams;
use tinyq_kernels::transpose_conv::TransposeConvParams;

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
    StridedSlice(tinyq_kernels::slice::StridedSliceParams),
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
}

impl Kernel {
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
            },
            Kernel::Softmax(_) => "softmax",
            Kernel::Lut { .. } => "lut",
            Kernel::DequantizeLut { .. } => "dequantize",
            Kernel::Quantize { .. } => "quantize",
            Kernel::Mean(_) => "mean",
            Kernel::Pad(_) => "pad",
            Kernel::Concat(_) => "concat",
            Kernel::Transpose(_) => "transpose",
            Kernel::StridedSlice(_) => "strided_slice",
            Kernel::Copy => "copy",
            Kernel::Float(k) => k.name(),
            Kernel::ResizeBilinear(_) => "resize_bilinear",
            Kernel::ResizeNearest(_) => "resize_nearest",
            Kernel::TransposeConv { .. } => "transpose_conv",
        }
    }
}

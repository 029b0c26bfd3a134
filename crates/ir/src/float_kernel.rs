//! Float32 kernel calls: the steps of a model compiled as float, kept in
//! one enum so [`crate::Kernel`] grows by a single variant. Every buffer
//! of such a step is float32; the parameter structs are the
//! `tinyq_kernels::float_*` ones.

use tinyq_kernels::Activation;
use tinyq_kernels::KernelError;
use tinyq_kernels::concat::ConcatParams;
use tinyq_kernels::float_conv::{ConvF32Params, DepthwiseF32Params, FullyConnectedF32Params};
use tinyq_kernels::float_elementwise::{BinaryF32, SoftmaxF32Params, UnaryF32};
use tinyq_kernels::float_pool::{MeanF32Params, PoolF32Params};
use tinyq_kernels::float_resize::ResizeBilinearF32Params;
use tinyq_kernels::float_transpose_conv::TransposeConvF32Params;
use tinyq_kernels::lstm::LstmParams;
use tinyq_kernels::pad::PadParams;
use tinyq_kernels::resize::ResizeNearestParams;
use tinyq_kernels::slice::StridedSliceParams;
use tinyq_kernels::svdf::SvdfParams;
use tinyq_kernels::transpose::TransposeParams;

use crate::kernel::Broadcast;

/// Float filter and optional bias of a convolution-like step.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatWeights {
    pub filter: Filter,
    pub bias: Option<Vec<f32>>,
}

/// The filter of a float step: float32 values, or a dynamic-range model's
/// int8 values with one symmetric scale per output channel, dequantized
/// value by value inside the kernel (`tinyq_kernels::float_conv::Int8Filter`).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    F32(Vec<f32>),
    Int8 { values: Vec<i8>, scales: Vec<f32> },
}

impl Filter {
    /// Values in the filter.
    pub fn len(&self) -> usize {
        match self {
            Filter::F32(v) => v.len(),
            Filter::Int8 { values, .. } => values.len(),
        }
    }

    /// True for a filter without values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for a dynamic-range model's int8 filter.
    pub fn is_int8(&self) -> bool {
        matches!(self, Filter::Int8 { .. })
    }

    /// Bytes of constant data: the values and, for int8, the scales.
    pub fn bytes(&self) -> usize {
        match self {
            Filter::F32(v) => 4 * v.len(),
            Filter::Int8 { values, scales } => values.len() + 4 * scales.len(),
        }
    }

    /// The kernels' check of an int8 filter's scales: one per output channel.
    fn check(&self, channels: usize) -> Result<(), KernelError> {
        match self {
            Filter::F32(_) => Ok(()),
            Filter::Int8 { scales, .. } => {
                tinyq_kernels::error::check_len("filter scales", channels, scales.len())
            }
        }
    }
}

/// One float32 kernel call.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatKernel {
    Conv2D {
        params: ConvF32Params,
        weights: FloatWeights,
    },
    DepthwiseConv2D {
        params: DepthwiseF32Params,
        weights: FloatWeights,
    },
    FullyConnected {
        params: FullyConnectedF32Params,
        weights: FloatWeights,
    },
    AveragePool(PoolF32Params),
    MaxPool(PoolF32Params),
    /// `broadcast` is `None` when all shapes agree.
    Binary {
        op: BinaryF32,
        broadcast: Option<Broadcast>,
    },
    Unary(UnaryF32),
    Softmax(SoftmaxF32Params),
    Mean(MeanF32Params),
    /// `params.pad_value` is unused: the pad value is `value`.
    Pad {
        params: PadParams,
        value: f32,
    },
    Concat(ConcatParams),
    Transpose(TransposeParams),
    /// GATHER with its constant indices.
    Gather {
        params: tinyq_kernels::gather::GatherParams,
        indices: Vec<i32>,
    },
    StridedSlice(StridedSliceParams),
    /// BATCH_MATMUL. Inputs: lhs, rhs (either may be a constant).
    BatchMatMul(tinyq_kernels::batch_matmul::MatMulShape),
    ResizeBilinear(ResizeBilinearF32Params),
    /// The int8 kernel's parameters (the same float32 coordinates); the
    /// copy moves whole float values.
    ResizeNearest(ResizeNearestParams),
    /// Inputs: the data; the filter (float32 only) and bias are constants.
    TransposeConv {
        params: TransposeConvF32Params,
        weights: FloatWeights,
    },
    /// SVDF; inputs: the data, then the state (updated in place).
    Svdf {
        params: SvdfParams,
        activation: Activation,
        weights: SvdfF32Weights,
    },
    /// UNIDIRECTIONAL_SEQUENCE_LSTM; inputs: the data, then the state (the
    /// hidden then the cell state, one block updated in place). `weights`
    /// in the kernel's layout ([`tinyq_kernels::lstm`]).
    Lstm {
        params: LstmParams,
        weights: Vec<f32>,
    },
}

/// The constants of a float SVDF.
#[derive(Debug, Clone, PartialEq)]
pub struct SvdfF32Weights {
    pub feature: Vec<f32>,
    pub time: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

impl FloatKernel {
    /// The filter and bias of a convolution-like step.
    pub fn weights(&self) -> Option<&FloatWeights> {
        match self {
            FloatKernel::Conv2D { weights, .. }
            | FloatKernel::DepthwiseConv2D { weights, .. }
            | FloatKernel::FullyConnected { weights, .. }
            | FloatKernel::TransposeConv { weights, .. } => Some(weights),
            _ => None,
        }
    }

    /// Bytes of float filters and biases the step carries.
    pub fn weight_bytes(&self) -> usize {
        if let FloatKernel::Svdf { weights: w, .. } = self {
            return 4 * (w.feature.len() + w.time.len() + w.bias.as_ref().map_or(0, Vec::len));
        }
        if let FloatKernel::Lstm { weights, .. } = self {
            return 4 * weights.len();
        }
        self.weights().map_or(0, |w| {
            w.filter.bytes() + 4 * w.bias.as_ref().map_or(0, Vec::len)
        })
    }

    /// Bytes of constant data the kernel itself carries: its weights, or a
    /// GATHER's int32 indices.
    pub fn constant_bytes(&self) -> usize {
        match self {
            FloatKernel::Gather { indices, .. } => 4 * indices.len(),
            _ => self.weight_bytes(),
        }
    }

    /// Short name for reports and generated code.
    pub fn name(&self) -> &'static str {
        match self {
            FloatKernel::Conv2D { weights, .. } if weights.filter.is_int8() => "conv2d_f32_i8",
            FloatKernel::DepthwiseConv2D { weights, .. } if weights.filter.is_int8() => {
                "depthwise_conv2d_f32_i8"
            }
            FloatKernel::FullyConnected { weights, .. } if weights.filter.is_int8() => {
                "fully_connected_f32_i8"
            }
            FloatKernel::Conv2D { .. } => "conv2d_f32",
            FloatKernel::DepthwiseConv2D { .. } => "depthwise_conv2d_f32",
            FloatKernel::FullyConnected { .. } => "fully_connected_f32",
            FloatKernel::AveragePool(_) => "average_pool_f32",
            FloatKernel::MaxPool(_) => "max_pool_f32",
            FloatKernel::Binary { op, .. } => match op {
                BinaryF32::Add { .. } => "add_f32",
                BinaryF32::Sub { .. } => "sub_f32",
                BinaryF32::Mul { .. } => "mul_f32",
                BinaryF32::Div { .. } => "div_f32",
                BinaryF32::Maximum => "maximum_f32",
                BinaryF32::Minimum => "minimum_f32",
                BinaryF32::Prelu => "prelu_f32",
                BinaryF32::SquaredDifference => "squared_difference_f32",
            },
            FloatKernel::Unary(op) => match op {
                UnaryF32::Relu => "relu_f32",
                UnaryF32::Relu6 => "relu6_f32",
                UnaryF32::ReluN1To1 => "relu_n1_to_1_f32",
                UnaryF32::LeakyRelu { .. } => "leaky_relu_f32",
                UnaryF32::HardSwish => "hard_swish_f32",
                UnaryF32::Logistic => "logistic_f32",
                UnaryF32::Tanh => "tanh_f32",
                UnaryF32::Exp => "exp_f32",
                UnaryF32::Log => "log_f32",
                UnaryF32::Sqrt => "sqrt_f32",
                UnaryF32::Rsqrt => "rsqrt_f32",
                UnaryF32::Abs => "abs_f32",
                UnaryF32::Neg => "neg_f32",
                UnaryF32::Square => "square_f32",
            },
            FloatKernel::Softmax(_) => "softmax_f32",
            FloatKernel::Mean(_) => "mean_f32",
            FloatKernel::Pad { .. } => "pad_f32",
            FloatKernel::Concat(_) => "concat_f32",
            FloatKernel::Transpose(_) => "transpose_f32",
            FloatKernel::Gather { .. } => "gather_f32",
            FloatKernel::StridedSlice(_) => "strided_slice_f32",
            FloatKernel::BatchMatMul(_) => "batch_matmul_f32",
            FloatKernel::ResizeBilinear(_) => "resize_bilinear_f32",
            FloatKernel::ResizeNearest(_) => "resize_nearest_f32",
            FloatKernel::TransposeConv { .. } => "transpose_conv_f32",
            FloatKernel::Svdf { .. } => "svdf_f32",
            FloatKernel::Lstm { .. } => "lstm_f32",
        }
    }

    /// Data inputs the kernel takes (`None`: any number, a concatenation).
    pub fn arity(&self) -> Option<usize> {
        match self {
            FloatKernel::Binary { .. }
            | FloatKernel::BatchMatMul(_)
            | FloatKernel::Svdf { .. }
            | FloatKernel::Lstm { .. } => Some(2),
            FloatKernel::Concat(_) => None,
            _ => Some(1),
        }
    }

    /// Whether the step calls `exp`, `log` or `tanh`, so its last bit follows the
    /// C library's (TFLM's float outputs were computed with glibc's).
    pub fn is_transcendental(&self) -> bool {
        match self {
            FloatKernel::Unary(op) => op.is_transcendental(),
            FloatKernel::Softmax(_) | FloatKernel::Lstm { .. } => true,
            _ => false,
        }
    }

    /// The kernel's own checks on its buffer lengths, in float elements.
    pub fn check(&self, ins: &[usize], out: usize) -> Result<(), KernelError> {
        let n = |k: usize| ins.get(k).copied().unwrap_or(0);
        let lens = |w: &FloatWeights| (w.filter.len(), w.bias.as_ref().map(Vec::len));
        match self {
            FloatKernel::Conv2D { params, weights } => {
                let (f, b) = lens(weights);
                weights.filter.check(params.output_channels)?;
                params.check(n(0), f, b, out)
            }
            FloatKernel::DepthwiseConv2D { params, weights } => {
                let (f, b) = lens(weights);
                let channels = params
                    .input_channels
                    .checked_mul(params.depth_multiplier)
                    .ok_or(KernelError::InvalidParams("tensor size overflows usize"))?;
                weights.filter.check(channels)?;
                params.check(n(0), f, b, out)
            }
            FloatKernel::FullyConnected { params, weights } => {
                let (f, b) = lens(weights);
                weights.filter.check(params.output_depth)?;
                params.check(n(0), f, b, out)
            }
            FloatKernel::AveragePool(p) => p.check_average(n(0), out),
            FloatKernel::MaxPool(p) => p.check(n(0), out),
            FloatKernel::Binary { op, broadcast } => {
                op.check()?;
                match broadcast {
                    None => tinyq_kernels::elementwise::check_same_shape(n(0), n(1), out),
                    Some(s) => tinyq_kernels::elementwise::check_broadcast(
                        &s.shape1,
                        n(0),
                        &s.shape2,
                        n(1),
                        &s.out_shape,
                        out,
                    ),
                }
            }
            FloatKernel::Unary(_) => tinyq_kernels::error::check_len("output", n(0), out),
            FloatKernel::Softmax(p) => p.check(n(0), out),
            FloatKernel::Mean(p) => p.check(n(0), out),
            FloatKernel::Pad { params, .. } => params.check(n(0), out),
            FloatKernel::Concat(p) => p.check(ins.iter().copied(), out),
            FloatKernel::Transpose(p) => p.check(n(0), out),
            FloatKernel::Gather { params, indices } => params.check(indices, n(0), out),
            FloatKernel::StridedSlice(p) => p.check(n(0), out).map(|_| ()),
            FloatKernel::BatchMatMul(s) => s.check(n(0), n(1), out),
            FloatKernel::ResizeBilinear(p) => p.check(n(0), out),
            FloatKernel::ResizeNearest(p) => p.check(n(0), out),
            FloatKernel::TransposeConv { params, weights } => {
                if weights.filter.is_int8() {
                    return Err(KernelError::InvalidParams(
                        "a float TRANSPOSE_CONV takes a float32 filter",
                    ));
                }
                let (f, b) = lens(weights);
                params.check(n(0), f, b, out)
            }
            FloatKernel::Svdf {
                params, weights: w, ..
            } => params.check(
                n(0),
                w.feature.len(),
                w.time.len(),
                w.bias.as_ref().map(Vec::len),
                n(1),
                out,
            ),
            FloatKernel::Lstm { params, weights } => params.check(n(0), weights.len(), n(1), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FloatKernel;
    use crate::Kernel;
    use tinyq_kernels::gather::GatherParams;

    #[test]
    fn a_float_gather_counts_its_indices_as_constant_data() {
        let gather = FloatKernel::Gather {
            params: GatherParams {
                outer: 1,
                axis_size: 10,
                inner: 4,
                count: 3,
            },
            indices: vec![7, 0, 9],
        };
        assert_eq!(gather.weight_bytes(), 0);
        assert_eq!(Kernel::Float(gather).constant_bytes(), 3 * 4);
    }
}

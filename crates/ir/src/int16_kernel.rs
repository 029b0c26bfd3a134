//! The int16 steps of 16x8 models besides the conv-like layers of
//! [`crate::Kernel`]: element-wise (ADD, SUB, MUL, LEAKY_RELU, RELU, RELU6),
//! requantization, layout, pooling, MEAN, SOFTMAX, LOGISTIC, TANH and
//! transposed convolution kernels of `tinyq_kernels::wide_ops` / `wide_act` /
//! `wide_pool` / `wide_softmax` / `wide_sigmoid` / `wide`. Buffers hold
//! int16 values (little-endian pairs in the arena), except the int8 side of
//! a requantization.

use tinyq_kernels::KernelError;
use tinyq_kernels::concat::ConcatParams;
use tinyq_kernels::elementwise::{AddSubParams, MulParams};
use tinyq_kernels::pad::PadParams;
use tinyq_kernels::pooling::PoolParams;
use tinyq_kernels::quantize::RequantizeParams;
use tinyq_kernels::reduce::MeanParams;
use tinyq_kernels::slice::StridedSliceParams;
use tinyq_kernels::transpose_conv::TransposeConvParams;
use tinyq_kernels::unary::{LeakyReluParams, ReluParams};
use tinyq_kernels::wide_act::{self, Clamp16};
use tinyq_kernels::wide_ops::{self, WideBroadcast};
use tinyq_kernels::wide_sigmoid::{self, Sigmoid16, SigmoidI16Params};
use tinyq_kernels::wide_softmax::{LUT16_LEN, SoftmaxI16Params};
use tinyq_kernels::{wide, wide_pool};

use crate::DType;
use crate::kernel::WideWeights;

/// The int16 range, the clamp bounds of an int16 output.
const I16: (i32, i32) = (i16::MIN as i32, i16::MAX as i32);

/// Which integer types a requantization (QUANTIZE) maps between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requantize16 {
    I16ToI16,
    I16ToI8,
    I8ToI16,
}

/// One int16 kernel call.
#[derive(Debug, Clone, PartialEq)]
pub enum Int16Kernel {
    /// ADD (`subtract == false`) or SUB; `broadcast` is `None` when all
    /// shapes agree.
    AddSub {
        params: AddSubParams,
        subtract: bool,
        broadcast: Option<WideBroadcast>,
    },
    /// MUL; `broadcast` as for ADD/SUB.
    Mul {
        params: MulParams,
        broadcast: Option<WideBroadcast>,
    },
    LeakyRelu(LeakyReluParams),
    /// RELU: requantized, then clamped.
    Relu(ReluParams),
    /// RELU6: clamped in the input's codes, not requantized.
    Clamp(Clamp16),
    MaxPool(PoolParams),
    AveragePool(PoolParams),
    Mean(MeanParams),
    /// LOGISTIC or TANH: TFLM's interpolated `sigmoid(i / 24)` table.
    Sigmoid {
        function: Sigmoid16,
        params: SigmoidI16Params,
    },
    /// SOFTMAX over the last axis, with its two interpolation tables.
    Softmax(Box<SoftmaxI16Params>),
    /// CONCATENATION; `blocks[k]` is input `k`'s block (its axis size
    /// times `params.inner`), so input `k` holds `params.outer` of them.
    Concat {
        params: ConcatParams,
        blocks: Vec<usize>,
    },
    Requantize {
        params: RequantizeParams,
        types: Requantize16,
    },
    /// PAD / PADV2 with its int16 pad value (`params.pad_value` unused).
    Pad {
        params: PadParams,
        value: i16,
    },
    StridedSlice(StridedSliceParams),
    TransposeConv {
        params: TransposeConvParams,
        weights: WideWeights,
    },
    /// BATCH_MATMUL with int16 operands (zero points 0). Inputs: lhs, rhs.
    BatchMatMul(tinyq_kernels::batch_matmul::BatchMatMulParams),
}

impl Int16Kernel {
    /// Short name for reports and generated code.
    pub fn name(&self) -> &'static str {
        match self {
            Int16Kernel::AddSub {
                subtract: false, ..
            } => "add_i16",
            Int16Kernel::AddSub { subtract: true, .. } => "sub_i16",
            Int16Kernel::Mul { .. } => "mul_i16",
            Int16Kernel::LeakyRelu(_) => "leaky_relu_i16",
            Int16Kernel::Relu(_) => "relu_i16",
            Int16Kernel::Clamp(_) => "clamp_i16",
            Int16Kernel::MaxPool(_) => "max_pool_i16",
            Int16Kernel::AveragePool(_) => "average_pool_i16",
            Int16Kernel::Mean(_) => "mean_i16",
            Int16Kernel::Softmax(_) => "softmax_i16",
            Int16Kernel::Sigmoid {
                function: Sigmoid16::Logistic,
                ..
            } => "logistic_i16",
            Int16Kernel::Sigmoid {
                function: Sigmoid16::Tanh,
                ..
            } => "tanh_i16",
            Int16Kernel::Concat { .. } => "concat_i16",
            Int16Kernel::Requantize { types, .. } => match types {
                Requantize16::I16ToI16 => "requantize_i16_to_i16",
                Requantize16::I16ToI8 => "requantize_i16_to_i8",
                Requantize16::I8ToI16 => "requantize_i8_to_i16",
            },
            Int16Kernel::Pad { .. } => "pad_i16",
            Int16Kernel::StridedSlice(_) => "strided_slice_i16",
            Int16Kernel::TransposeConv { .. } => "transpose_conv_16x8",
            Int16Kernel::BatchMatMul(_) => "batch_matmul_i16",
        }
    }

    /// Data inputs the kernel reads.
    pub fn arity(&self) -> usize {
        match self {
            Int16Kernel::AddSub { .. } | Int16Kernel::Mul { .. } | Int16Kernel::BatchMatMul(_) => 2,
            Int16Kernel::Concat { blocks, .. } => blocks.len(),
            _ => 1,
        }
    }

    /// The element type of its inputs and of its output.
    pub fn dtypes(&self) -> (DType, DType) {
        match self {
            Int16Kernel::Requantize {
                types: Requantize16::I16ToI8,
                ..
            } => (DType::I16, DType::I8),
            Int16Kernel::Requantize {
                types: Requantize16::I8ToI16,
                ..
            } => (DType::I8, DType::I16),
            _ => (DType::I16, DType::I16),
        }
    }

    /// Bytes of filters and biases (TRANSPOSE_CONV).
    pub fn weight_bytes(&self) -> usize {
        match self {
            Int16Kernel::TransposeConv { weights, .. } => {
                weights.filter.len() + weights.bias.byte_len()
            }
            _ => 0,
        }
    }

    /// Bytes of constant data it carries (weights and requantization).
    pub fn constant_bytes(&self) -> usize {
        match self {
            Int16Kernel::TransposeConv { weights, .. } => {
                self.weight_bytes() + 4 * weights.multipliers.len() + weights.shifts.len()
            }
            // The two int16 tables.
            Int16Kernel::Softmax(_) => 2 * 2 * LUT16_LEN,
            _ => 0,
        }
    }

    /// The kernel's own checks on its buffers' element counts (`ins` and
    /// `out` in elements of [`Int16Kernel::dtypes`]).
    pub fn check(&self, ins: &[usize], out: usize) -> Result<(), KernelError> {
        let n = |k: usize| ins.get(k).copied().unwrap_or(0);
        match self {
            Int16Kernel::AddSub {
                params, broadcast, ..
            } => wide_ops::check_add_sub_16(params, broadcast.as_ref(), [n(0), n(1), out]),
            Int16Kernel::Mul { params, broadcast } => {
                wide_ops::check_mul_16(params, broadcast.as_ref(), [n(0), n(1), out])
            }
            Int16Kernel::LeakyRelu(p) => wide_ops::check_leaky_relu_16(p, n(0), out),
            Int16Kernel::Relu(p) => wide_act::check_relu_16(p, n(0), out),
            Int16Kernel::Clamp(p) => wide_act::check_clamp_16(p, n(0), out),
            Int16Kernel::MaxPool(p) => p.check_within(n(0), out, I16),
            Int16Kernel::AveragePool(p) => p.check_average_within(n(0), out, I16),
            Int16Kernel::Mean(p) => wide_pool::check_mean_16(p, n(0), out),
            Int16Kernel::Softmax(p) => p.check(n(0), out),
            Int16Kernel::Sigmoid { params, .. } => {
                wide_sigmoid::check_sigmoid_16(params, n(0), out)
            }
            Int16Kernel::Concat { params, blocks } => {
                for (k, &block) in blocks.iter().enumerate() {
                    let want = block
                        .checked_mul(params.outer)
                        .ok_or(KernelError::InvalidParams("concatenation size overflows"))?;
                    if n(k) != want {
                        return Err(KernelError::BufferLength {
                            what: "concatenation input",
                            expected: want,
                            actual: n(k),
                        });
                    }
                }
                params.check((0..blocks.len()).map(n), out)
            }
            Int16Kernel::Requantize { params, .. } => {
                wide_ops::check_requantize_16(params, n(0), out)
            }
            Int16Kernel::Pad { params, .. } => params.check(n(0), out),
            Int16Kernel::StridedSlice(p) => p.check(n(0), out).map(|_| ()),
            Int16Kernel::BatchMatMul(p) => {
                tinyq_kernels::batch_matmul::check_i16(p, n(0), n(1), out)
            }
            Int16Kernel::TransposeConv { params, weights } => wide::check_transpose_conv_16x8(
                params,
                [n(0), weights.filter.len(), out],
                weights.bias.as_wide(),
                &weights.multipliers,
                &weights.shifts,
            ),
        }
    }
}

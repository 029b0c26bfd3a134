//! Errors of lowering a Graph to a Program.

use tinyq_ir::ValidationError;
use tinyq_kernels::KernelError;

/// Why a graph cannot be lowered. Each variant names the op or tensor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LowerError {
    #[error("invalid graph: {0}")]
    Invalid(#[from] ValidationError),
    #[error(
        "this is a float model (op {index}, {op}, computes in float32); tinyq runs \
         full-integer models: quantize it first with a representative dataset"
    )]
    FloatModel { index: usize, op: &'static str },
    #[error(
        "op {index} ({op}) computes in {dtype}: tinyq has int8 kernels for every op it \
         reads, and 16x8 (int16 activations) kernels for {wide} so far \
         (quantize the whole model to int8, or use integer-only conversion)",
        wide = crate::lower::WIDE_OPS.join(", ")
    )]
    UnsupportedType {
        index: usize,
        op: &'static str,
        dtype: &'static str,
    },
    #[error("op {index} ({op}): {why}")]
    Unsupported {
        index: usize,
        op: &'static str,
        why: String,
    },
    #[error("op {index} ({op}): {source}")]
    Kernel {
        index: usize,
        op: &'static str,
        source: KernelError,
    },
    #[error("graph output {name:?} is a constant; tinyq needs outputs computed by an op")]
    ConstantOutput { name: String },
}

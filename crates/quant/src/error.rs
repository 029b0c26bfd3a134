//! Errors of float execution, calibration and quantization. Each variant
//! names the op or tensor involved.

/// Why a float graph could not be executed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExecError {
    #[error("op {index} ({op}): {why}")]
    Op {
        index: usize,
        op: &'static str,
        why: String,
    },
    #[error("the model has {expected} inputs but {actual} arrays were given")]
    InputCount { expected: usize, actual: usize },
    #[error("input {index} ({name:?}) has shape {expected:?} but the sample has shape {actual:?}")]
    InputShape {
        index: usize,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("tensor {name:?} is {dtype}; the float executor runs float32 models only")]
    NotFloat { name: String, dtype: &'static str },
    #[error("constant tensor {name:?} cannot be decoded")]
    BadConstant { name: String },
    #[error("tensor {name:?} is read before it is computed")]
    Missing { name: String },
    #[error("invalid graph: {0}")]
    Invalid(#[from] tinyq_ir::ValidationError),
}

/// Why a graph could not be quantized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuantError {
    #[error("calibration: {0}")]
    Calibration(String),
    #[error("float execution during calibration (sample {sample}): {source}")]
    Exec { sample: usize, source: ExecError },
    #[error("the model is not a float32 model: tensor {name:?} is {dtype}")]
    NotFloatModel { name: String, dtype: &'static str },
    #[error("{0}")]
    Options(String),
    #[error("op {index} ({op}) cannot be quantized: {why}")]
    Unsupported {
        index: usize,
        op: &'static str,
        why: String,
    },
    #[error("tensor {name:?}: {why}")]
    Tensor { name: String, why: String },
    #[error("--keep-float {keep}: {why}")]
    KeepFloat { keep: String, why: String },
    #[error("the quantized graph is invalid: {0}")]
    Invalid(#[from] tinyq_ir::ValidationError),
}

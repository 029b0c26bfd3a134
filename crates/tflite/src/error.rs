//! Why a model could not be read. Every message is one line that names the
//! op (index and type) or the tensor (name) and what is wrong with it.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use tinyq_ir::ValidationError;

/// An error from [`read`](crate::read) or [`read_file`](crate::read_file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read from disk.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a TFLite flatbuffer at all (empty, too short, no root).
    #[error("not a TFLite model: {0}")]
    NotTflite(String),

    /// The file lacks the `TFL3` identifier or has a schema version other
    /// than 3, and reading it failed: most likely not a TFLite v3 model.
    #[error(
        "not a TFLite schema-3 model (identifier {identifier:?}, schema version {version}) and unreadable: {cause}"
    )]
    UnknownFormat {
        identifier: String,
        version: u32,
        cause: Box<ReadError>,
    },

    /// The flatbuffer is structurally broken (bad offset, length, vtable, UTF-8).
    #[error("malformed TFLite flatbuffer in {context}: {detail}")]
    Malformed { context: String, detail: String },

    /// The file asks for more than tinyq's limits for untrusted input allow
    /// (counts, sizes, or shared data referenced too often).
    #[error("the model exceeds tinyq's limits: {0}")]
    Limit(String),

    /// The model has no subgraph to read.
    #[error("the model has no subgraph")]
    NoSubgraph,

    /// A tensor index (in an op, or the subgraph's inputs/outputs) is out of range.
    #[error("{at} refers to tensor {index}, but subgraph 0 has {count} tensors")]
    TensorIndex {
        at: String,
        index: i64,
        count: usize,
    },

    /// A tensor's buffer index is out of range.
    #[error("tensor {tensor:?} refers to buffer {index}, but the model has {count} buffers")]
    BufferIndex {
        tensor: String,
        index: u32,
        count: usize,
    },

    /// An op's operator-code index is out of range.
    #[error("op #{op} refers to operator code {index}, but the model has {count} operator codes")]
    OpcodeIndex { op: usize, index: u32, count: usize },

    /// An op tinyq has no kernel for. `name` is the TFLite builtin name, or
    /// `CUSTOM "code"` for custom ops.
    #[error("op #{index} is {name}, which tinyq does not support (tinyq supports: {supported})")]
    UnsupportedOp {
        index: usize,
        name: String,
        supported: String,
    },

    /// A fused activation other than NONE, RELU, RELU_N1_TO_1 and RELU6.
    #[error(
        "op #{index} ({kind}) has fused activation {activation}, which tinyq does not support (only NONE, RELU, RELU_N1_TO_1, RELU6)"
    )]
    UnsupportedActivation {
        index: usize,
        kind: &'static str,
        activation: String,
    },

    /// A supported op whose inputs, outputs, options or shapes are wrong or
    /// use a feature tinyq does not implement.
    #[error("op #{index} ({kind}): {why}")]
    InvalidOp {
        index: usize,
        kind: &'static str,
        why: String,
    },

    /// A tensor an op reads or writes is unusable: the op, then why.
    #[error("op #{index} ({kind}): {source}")]
    InOp {
        index: usize,
        kind: &'static str,
        #[source]
        source: Box<ReadError>,
    },

    /// A tensor element type tinyq does not handle.
    #[error("tensor {name:?} has type {dtype}, which tinyq does not support")]
    UnsupportedType { name: String, dtype: String },

    /// A tensor whose shape is not fully known when the model is compiled.
    #[error("tensor {name:?} has a dynamic shape ({detail}); tinyq needs static shapes")]
    DynamicShape { name: String, detail: String },

    /// A tensor whose shape, size, data or quantization is unusable.
    #[error("tensor {name:?}: {why}")]
    InvalidTensor { name: String, why: String },

    /// The graph the model describes is inconsistent (a tensor read before
    /// it is written, written twice, ...).
    #[error("the model's graph is inconsistent: {0}")]
    Graph(#[from] ValidationError),
}

impl ReadError {
    /// True for errors that suggest the bytes are not a TFLite model at all,
    /// rather than a TFLite model tinyq cannot handle.
    pub(crate) fn is_structural(&self) -> bool {
        if let ReadError::InOp { source, .. } = self {
            return source.is_structural();
        }
        matches!(
            self,
            ReadError::Malformed { .. }
                | ReadError::Limit(_)
                | ReadError::NoSubgraph
                | ReadError::TensorIndex { .. }
                | ReadError::BufferIndex { .. }
                | ReadError::OpcodeIndex { .. }
        )
    }
}

impl ReadError {
    /// The index of the op the error is about, when it names one.
    pub fn op_index(&self) -> Option<usize> {
        match self {
            ReadError::UnsupportedOp { index, .. }
            | ReadError::UnsupportedActivation { index, .. }
            | ReadError::InvalidOp { index, .. }
            | ReadError::InOp { index, .. } => Some(*index),
            ReadError::OpcodeIndex { op, .. } => Some(*op),
            _ => None,
        }
    }

    /// What went wrong, without the op context [`ReadError::InOp`] adds.
    pub fn cause(&self) -> &ReadError {
        match self {
            ReadError::InOp { source, .. } => source.cause(),
            other => other,
        }
    }

    /// The error without the op it is about: the reason alone.
    pub fn reason(&self) -> String {
        match self {
            ReadError::UnsupportedOp { name, .. } => format!("tinyq has no kernel for {name}"),
            ReadError::UnsupportedActivation { activation, .. } => {
                format!("fused activation {activation} is not supported")
            }
            ReadError::InvalidOp { why, .. } => why.clone(),
            ReadError::InOp { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }
}

/// Shorthand for an error about a tensor.
pub(crate) fn tensor_err(name: &str, why: impl Into<String>) -> ReadError {
    ReadError::InvalidTensor {
        name: name.to_owned(),
        why: why.into(),
    }
}

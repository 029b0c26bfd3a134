//! Why a model could not be checked at all.

/// An error from [`crate::view_of_tflite`] or [`crate::assess`]: the bytes are
/// not a TFLite model the checker can list. (A model that tinyq cannot
/// *compile* is still checked; only its after-folding verdict is missing.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The bytes are not a TFLite flatbuffer.
    #[error("not a TFLite model: {0}")]
    NotTflite(String),

    /// The flatbuffer is structurally broken.
    #[error("malformed TFLite flatbuffer in {context}: {detail}")]
    Malformed { context: String, detail: String },

    /// The model has no subgraph.
    #[error("the model has no subgraph")]
    NoSubgraph,

    /// An index in the file points nowhere.
    #[error("{at} refers to {what} {index}, but the model has {count}")]
    Index {
        at: String,
        what: &'static str,
        index: i64,
        count: usize,
    },

    /// The file asks for more than the checker reads from untrusted input.
    #[error("the model exceeds the checker's limits: {0}")]
    Limit(String),
}

impl CheckError {
    /// A planus error with what was being read.
    pub(crate) fn malformed(context: String, e: &planus::Error) -> Self {
        let at = e.source_location.byte_offset;
        let detail = if at == usize::MAX {
            e.error_kind.to_string()
        } else {
            format!("{} (at byte {at:#x})", e.error_kind)
        };
        CheckError::Malformed { context, detail }
    }
}

//! Errors of the driver. Each names the model (its path, or the name the
//! caller gave its bytes) and carries the stage's own error as its source.

use tinyq_opt::{LowerError, OptError};
use tinyq_quant::QuantError;
use tinyq_tflite::ReadError;

/// Why a model could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{}", prefixed(model, source))]
    Read {
        model: String,
        #[source]
        source: ReadError,
    },
    #[error(
        "{model}: this is a float model; pass calibration data (representative inputs) \
         to quantize it"
    )]
    NeedsCalibration { model: String },
    #[error("{model}: the model is already quantized; use it as it is (no calibration data)")]
    AlreadyQuantized { model: String },
    #[error("{model}: {source}")]
    Quantize {
        model: String,
        #[source]
        source: QuantError,
    },
    #[error("{model}: {source}")]
    Write {
        model: String,
        #[source]
        source: tinyq_tflite::WriteError,
    },
    #[error("{model}: {source}")]
    Optimize {
        model: String,
        #[source]
        source: OptError,
    },
    #[error("{model}: {source}")]
    Lower {
        model: String,
        #[source]
        source: LowerError,
    },
    #[cfg(feature = "c")]
    #[error("{model}: {source}")]
    EmitC {
        model: String,
        #[source]
        source: tinyq_backend_c::EmitError,
    },
    #[cfg(feature = "rust")]
    #[error("{model}: {source}")]
    EmitRust {
        model: String,
        #[source]
        source: tinyq_backend_rust::EmitError,
    },
}

/// `model: error`, unless the error already names the model (I/O errors
/// carry the path themselves).
fn prefixed(model: &str, error: &ReadError) -> String {
    let text = error.to_string();
    if text.contains(model) {
        text
    } else {
        format!("{model}: {text}")
    }
}

//! Limits that keep an untrusted file from costing unbounded time or memory.
//!
//! A flatbuffer is a DAG: many tensors may point at one buffer, name or
//! quantization table, many operators at one input vector. Reading is
//! zero-copy, but the Graph owns its data, so every copy the reader makes
//! is charged to a [`Budget`] proportional to the file size.

#![forbid(unsafe_code)]

use std::cell::Cell;

use crate::error::ReadError;

/// Highest rank tinyq accepts (TFLite's own kernels stop at 5 or 6).
pub(crate) const MAX_RANK: usize = 8;

/// Largest activation (non-constant tensor) tinyq accepts, in bytes. Nothing
/// that fits a microcontroller comes close; bigger means a corrupt file.
pub(crate) const MAX_ACTIVATION_BYTES: usize = 1 << 30;

/// More tensors or operators than this in one subgraph is a corrupt file,
/// not a model (the largest real models have tens of thousands).
pub(crate) const MAX_COUNT: usize = 1 << 20;

/// Largest constant the shape-arithmetic evaluator reads or produces, in
/// elements. Shape arithmetic is tiny; this bounds work on corrupt files.
pub(crate) const MAX_FOLD_ELEMENTS: usize = 1 << 16;

/// Largest parameter tensor (axes, paddings, permutation, slice bounds,
/// shape) read into an attribute, in elements.
pub(crate) const MAX_PARAM_ELEMENTS: usize = 1 << 10;

/// Bytes the reader may copy out of a file of `file_len` bytes: a few times
/// the file, since legitimate models share only small things.
fn budget_for(file_len: usize) -> usize {
    file_len.saturating_mul(4).saturating_add(16 << 20)
}

/// What the reader may still allocate for data copied out of the file.
#[derive(Debug)]
pub(crate) struct Budget {
    left: Cell<usize>,
}

impl Budget {
    /// The budget for a file of `file_len` bytes.
    pub(crate) fn for_file(file_len: usize) -> Self {
        Budget {
            left: Cell::new(budget_for(file_len)),
        }
    }

    /// Charges `bytes` (about to be copied for `what`), or fails when the
    /// file asks for far more memory than its size justifies.
    pub(crate) fn charge(
        &self,
        bytes: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), ReadError> {
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(ReadError::Limit(format!(
                "{} would take more memory than a file of this size can justify (shared data referenced too often?)",
                what()
            ))),
        }
    }
}

//! The one error type every kernel returns instead of panicking.

use core::fmt;

/// Why a kernel refused to run. Kernels check every buffer length against
/// their parameters before touching data, so a mismatch is reported, not a
/// panic or an out-of-bounds read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelError {
    /// A buffer does not have the length the parameters imply.
    BufferLength {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    /// The parameters themselves are inconsistent (e.g. a zero-sized window).
    InvalidParams(&'static str),
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::BufferLength {
                what,
                expected,
                actual,
            } => write!(
                f,
                "{what} buffer holds {actual} elements, expected {expected}"
            ),
            KernelError::InvalidParams(why) => write!(f, "invalid kernel parameters: {why}"),
        }
    }
}

/// Checks that `actual == expected`, naming the buffer otherwise.
pub fn check_len(what: &'static str, expected: usize, actual: usize) -> Result<(), KernelError> {
    if expected == actual {
        Ok(())
    } else {
        Err(KernelError::BufferLength {
            what,
            expected,
            actual,
        })
    }
}

impl core::error::Error for KernelError {}

//! C99 backend: a [`Program`] becomes `NAME.h` and `NAME.c` under the
//! "Generated C" contract of `DESIGN.md`.
//!
//! The [`Writer`] verifies the Program ([`tinyq_ir::verify()`]), then walks
//! it once, collecting which kernels it uses and rendering the folded
//! parameters as `static const` data: each step's weight arrays and, for the
//! kernels with many numbers, one `tq_stepN_params` struct with designated
//! initializers, so a step is one short call such as
//! `tq_conv2d(&tq_step0_params, in0, a + 0);`. The file skeleton
//! and the kernels themselves live in `templates/c/*.tera` (embedded with
//! `include_str!`), one snippet per kernel, and only the snippets the model
//! uses are emitted. The C kernels are ports of `crates/kernels` and are
//! tested equal to them (and to TFLM) on every fixture.
//!
//! Untrusted text from the model reaches the C files only through
//! [`namer`]: as sanitized identifiers in comments.

pub mod namer;
mod writer;

pub use writer::Writer;

use tinyq_ir::Program;

/// The two generated files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedC {
    /// `NAME.h`: the contract's macros and the `NAME_invoke` prototype.
    pub header: String,
    /// `NAME.c`: kernels, folded parameters and `NAME_invoke`.
    pub source: String,
    /// Bytes of `static const` data in `source` (weights, biases,
    /// multipliers, shifts, tables, constant operands): the flash it needs
    /// beside the code.
    pub const_bytes: usize,
    /// Names of the kernels emitted, sorted.
    pub kernels: Vec<&'static str>,
}

/// Why a Program cannot become C.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error(
        "model name {name:?} is not a usable C identifier (letters, digits and single \
         underscores, starting with a letter, at most {max} characters, not a C keyword); \
         try {suggestion:?}"
    )]
    BadName {
        name: String,
        suggestion: String,
        max: usize,
    },
    /// The Program verifier refused the Program: the message names the
    /// step, its kernel and what is wrong.
    #[error(transparent)]
    Invalid(#[from] tinyq_ir::VerifyError),
    /// A step the C backend cannot express (beyond what the verifier checks).
    #[error("step {step} ({kernel}): {why}")]
    InvalidStep {
        step: usize,
        kernel: &'static str,
        why: String,
    },
    #[error("{what} is {value}, more than the C backend's limit of {limit}")]
    TooLarge {
        what: String,
        value: usize,
        limit: usize,
    },
    #[error("{what}: {why}")]
    Unsupported { what: String, why: String },
    #[error("internal template error: {0}")]
    Template(String),
}

/// Generates `NAME.h` and `NAME.c` for `program`. `name` must be a C
/// identifier ([`namer::is_identifier`]); [`namer::sanitize`] makes one from
/// any text. The output depends only on the Program and the name.
pub fn emit(program: &Program, name: &str) -> Result<GeneratedC, EmitError> {
    Writer::new(program, name)?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Provenance, Step};

    fn copy_program(out_len: usize) -> Program {
        let io = |n: usize| IoSpec {
            name: "t".to_string(),
            shape: vec![n],
            dtype: DType::I8,
            quant: None,
        };
        Program {
            steps: vec![Step {
                kernel: Kernel::Copy,
                inputs: vec![BufferRef::Input(0)],
                output: BufferRef::Output(0),
                provenance: Provenance::default(),
            }],
            inputs: vec![io(8)],
            outputs: vec![io(out_len)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        }
    }

    #[test]
    fn refuses_what_the_verifier_refuses_naming_the_step() {
        assert!(emit(&copy_program(8), "m").is_ok());
        let e = emit(&copy_program(6), "m").expect_err("sizes differ");
        assert!(matches!(e, EmitError::Invalid(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "step 0 (copy): the output holds 6 bytes; the kernel needs 8"
        );
    }
}

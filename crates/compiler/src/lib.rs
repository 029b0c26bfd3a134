//! The driver: one [`Session`] owns tinyq's pipeline.
//!
//! ```text
//! read ──► [quantize] ──► optimize (passes, verified) ──► lower ──► emit C / Rust
//! ```
//!
//! The CLI, `cargo xtask`, `include_model!` and the tests call this crate;
//! none of them assembles the stages itself. Every error names the model.
//!
//! ```no_run
//! use tinyq_compiler::Session;
//! let session = Session::new();
//! let model = session.read_file(std::path::Path::new("model.tflite"))?;
//! let compiled = session.compile(&model, None)?;
//! println!("{} steps, arena {} B", compiled.program.steps.len(), compiled.program.arena_size);
//! # Ok::<(), tinyq_compiler::CompileError>(())
//! ```

mod error;
pub mod rules;
mod session;

pub use error::CompileError;
pub use rules::OptionError;
pub use session::{Calibration, Compiled, Model, PassLine, Session};
pub use tinyq_ir::GraphKind;
pub use tinyq_opt::AccumulatorOverflow;
pub use tinyq_opt::passes;
pub use tinyq_quant::{Activations, Fallback, IoMode, KeepFloat, Method, QuantOptions};

//! Edge TPU compatibility: which ops of a TFLite model Google's
//! `edgetpu_compiler` would map to the Coral Edge TPU, and why the others
//! would not, with a fix for each.
//!
//! ```no_run
//! let bytes = std::fs::read("model.tflite")?;
//! let assessment = tinyq_edgetpu::assess(&bytes, &tinyq_edgetpu::CheckOptions::default())?;
//! print!("{}", assessment.given.table());
//! if let Some(line) = assessment.folded_line() {
//!     println!("{line}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How it works:
//! * [`ModelView`] is the checker's light view of a model: ops in execution
//!   order, with their tensors' types, shapes and const-ness and the options
//!   the rules read. [`view_of_tflite`] builds it from the flatbuffer as given
//!   (every op, including those tinyq's reader folds away or cannot run);
//!   [`view_of_graph`] from tinyq's [`Graph`], the model after folding.
//! * [`judge`] applies Coral's rules to one op ([`rules`] lists them) and
//!   [`check`] partitions the ops into Edge TPU segments like the compiler,
//!   giving a [`Report`]: JSON, the compiler's table, a one-line verdict.
//! * [`assess`] does both for a model file: the verdict on the model as
//!   given, and on what `tinyq quantize -o` would write.

#![forbid(unsafe_code)]

mod error;
pub mod graph;
pub mod model;
mod names;
pub mod raw;
pub mod report;
pub mod rules;

use tinyq_ir::{Graph, GraphKind};

pub use error::CheckError;
pub use graph::view_of_graph;
pub use model::{Attrs, ElemType, Input, ModelView, OpView, Role, TensorView};
pub use raw::read_view as view_of_tflite;
pub use report::{CheckOptions, OpVerdict, Report, check};
pub use rules::{Finding, Status, judge};

/// Checks tinyq's Graph as it is (for `tinyq compile`, after quantization).
pub fn check_graph(graph: &Graph, options: &CheckOptions) -> Report {
    check(&view_of_graph(graph, false), options)
}

/// The verdict on the model after tinyq's folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folded {
    /// The int8 model tinyq reads (what `tinyq quantize -o` writes of it).
    Int8(Report),
    /// A float model, judged as the int8 model `tinyq quantize` would make.
    FromFloat(Report),
    /// tinyq's reader refused the model (an op it cannot run, ...): the message.
    Unreadable(String),
}

/// Both verdicts on one model file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The model as given: one entry per op of the file.
    pub given: Report,
    /// The model after tinyq's folding.
    pub folded: Folded,
}

/// Checks the TFLite model in `bytes`, as given and after tinyq's folding.
pub fn assess(bytes: &[u8], options: &CheckOptions) -> Result<Assessment, CheckError> {
    let given = check(&view_of_tflite(bytes)?, options);
    let folded = match tinyq_tflite::read(bytes) {
        Ok(graph) if graph.kind() == GraphKind::Float => {
            Folded::FromFloat(check(&view_of_graph(&graph, true), options))
        }
        Ok(graph) => Folded::Int8(check(&view_of_graph(&graph, false), options)),
        Err(e) => Folded::Unreadable(e.to_string()),
    };
    Ok(Assessment { given, folded })
}

impl Report {
    /// `all 3 ops map, 1 segment` or `5 of 7 ops map, 1 segment`.
    pub fn brief(&self) -> String {
        let segments = report::count(self.segments, "segment");
        let total = self.total();
        match (self.cpu, total) {
            (0, 1) => format!("its 1 op maps, {segments}"),
            (0, t) if t > 0 => format!("all {t} ops map, {segments}"),
            (_, 1) => format!("{} of 1 op maps, {segments}", self.mapped),
            _ => format!("{} of {total} ops map, {segments}", self.mapped),
        }
    }

    /// True when both reports count the same ops, mapped, on the CPU, in
    /// the same number of segments.
    fn same_counts(&self, other: &Report) -> bool {
        (self.total(), self.mapped, self.cpu, self.segments)
            == (other.total(), other.mapped, other.cpu, other.segments)
    }
}

impl Assessment {
    /// The line about the model after folding, when there is something to
    /// say: its verdict differs from the model as given, it is a float model,
    /// or tinyq cannot read it.
    pub fn folded_line(&self) -> Option<String> {
        match &self.folded {
            Folded::Int8(r) if r.same_counts(&self.given) => None,
            Folded::Int8(r) => Some(format!(
                "after tinyq's folding (what `tinyq quantize -o` writes): {}",
                r.brief()
            )),
            Folded::FromFloat(r) => Some(format!(
                "a float model: `tinyq quantize` writes an int8 model, and as int8 {}",
                r.brief()
            )),
            Folded::Unreadable(e) => Some(format!(
                "tinyq cannot read this model, so there is no verdict after its folding: {e}"
            )),
        }
    }
}

//! The pass manager: an ordered list of graph rewrites, each exact (every
//! output byte stays what TFLM computes on the unoptimized model), with the
//! Graph verifier run after every pass in debug builds and tests
//! (cranelift's `verify_if` habit).

use tinyq_ir::{Graph, ValidationError, validate};

use crate::error::LowerError;

/// What one run of a pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PassOutcome {
    /// How many rewrites it made; 0 means the graph is unchanged.
    pub rewrites: usize,
    /// One line for humans, e.g. `18 PAD ops folded into convolutions`.
    pub summary: String,
}

impl PassOutcome {
    /// Nothing changed.
    pub fn unchanged() -> Self {
        Self::default()
    }

    /// `rewrites` changes, described by `summary`.
    pub fn changed(rewrites: usize, summary: impl Into<String>) -> Self {
        PassOutcome {
            rewrites,
            summary: if rewrites == 0 {
                String::new()
            } else {
                summary.into()
            },
        }
    }

    /// True when the pass rewrote something.
    pub fn is_changed(&self) -> bool {
        self.rewrites > 0
    }
}

/// One graph rewrite.
pub trait Pass {
    /// Stable kebab-case name (`fold-pad`), used by `--after` and filetests.
    fn name(&self) -> &'static str;
    /// What it does, in one line.
    fn description(&self) -> &'static str;
    /// Rewrites `graph` in place. It receives a valid graph and must leave
    /// one (the manager checks that in debug builds and tests).
    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError>;
}

/// A pass's entry in the compile report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub pass: &'static str,
    pub outcome: PassOutcome,
    pub ops_before: usize,
    pub ops_after: usize,
}

/// Why the pipeline stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptError {
    #[error("pass {pass}: {source}")]
    Pass {
        pass: &'static str,
        #[source]
        source: LowerError,
    },
    /// A pass left an invalid graph: a tinyq bug, caught by the verifier.
    #[error("pass {pass} left an invalid graph (a tinyq bug; please report it): {source}")]
    Verify {
        pass: &'static str,
        #[source]
        source: ValidationError,
    },
    #[error("unknown pass {name:?}; the passes are: {known}")]
    UnknownPass { name: String, known: String },
}

/// An ordered list of passes.
pub struct Pipeline {
    passes: Vec<Box<dyn Pass>>,
    verify: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("passes", &self.names())
            .field("verify", &self.verify)
            .finish()
    }
}

impl Default for Pipeline {
    /// The standard pipeline, [`crate::passes::standard`].
    fn default() -> Self {
        Pipeline::new(crate::passes::standard())
    }
}

impl Pipeline {
    /// The given passes, in order; verification on in debug builds.
    pub fn new(passes: Vec<Box<dyn Pass>>) -> Self {
        Pipeline {
            passes,
            verify: cfg!(debug_assertions),
        }
    }

    /// No passes at all: the graph is lowered as read.
    pub fn empty() -> Self {
        Pipeline::new(Vec::new())
    }

    /// Runs the Graph verifier after every pass (always, not only in debug
    /// builds).
    pub fn verify_each(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }

    /// Pass names in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// The passes themselves, in order.
    pub fn passes(&self) -> impl Iterator<Item = &dyn Pass> {
        self.passes.iter().map(|p| p.as_ref())
    }

    /// Keeps the passes up to and including `last`.
    pub fn until(mut self, last: &str) -> Result<Self, OptError> {
        let Some(pos) = self.passes.iter().position(|p| p.name() == last) else {
            return Err(OptError::UnknownPass {
                name: last.to_string(),
                known: self.names().join(", "),
            });
        };
        self.passes.truncate(pos + 1);
        Ok(self)
    }

    /// Runs one pass and verifies the result when asked to.
    pub fn run_pass(&self, pass: &dyn Pass, graph: &mut Graph) -> Result<PassReport, OptError> {
        let ops_before = graph.ops.len();
        let outcome = pass.run(graph).map_err(|source| OptError::Pass {
            pass: pass.name(),
            source,
        })?;
        if self.verify {
            validate(graph).map_err(|source| OptError::Verify {
                pass: pass.name(),
                source,
            })?;
        }
        Ok(PassReport {
            pass: pass.name(),
            outcome,
            ops_before,
            ops_after: graph.ops.len(),
        })
    }

    /// Runs every pass in order.
    pub fn run(&self, graph: &mut Graph) -> Result<Vec<PassReport>, OptError> {
        self.passes().map(|p| self.run_pass(p, graph)).collect()
    }
}

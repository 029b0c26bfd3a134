//! Graph passes, lowering to a Program, and memory planning.
//!
//! * [`pass`]: the [`Pass`] trait and the [`Pipeline`] that runs passes in
//!   order with the Graph verifier after each;
//! * [`passes`]: the exact rewrites and the standard pipeline;
//! * [`lower()`]: kernel selection, folded numbers, buffers and the memory plan.

pub mod error;
pub mod lower;
pub mod order;
pub mod overflow;
pub mod pass;
pub mod passes;
pub mod plan;
mod select;
mod select_float;
mod select_int16;
mod select_int32;
mod select_lstm;
mod tables;
mod zero_point;

pub use error::LowerError;
pub use lower::{LowerOptions, LowerReport, lower, lower_with};
pub use overflow::{AccumulatorOverflow, accumulator_overflows};
pub use pass::{OptError, Pass, PassOutcome, PassReport, Pipeline};
pub use plan::{Lifetime, MemoryPlan, Overlap};

//! Graph passes, lowering to a Program, and memory planning.

pub mod error;
pub mod lower;
pub mod plan;
mod select;

pub use error::LowerError;
pub use lower::lower;
pub use plan::{Lifetime, MemoryPlan};

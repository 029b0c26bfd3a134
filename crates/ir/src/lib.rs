//! tinyq's two intermediate representations.
//!
//! * [`Graph`]: what a model *means*: tensors and ops in arenas, addressed by
//!   typed handles, ops in execution order, validated by [`validate`].
//! * [`Program`]: what the machine *does*: kernel steps with every parameter
//!   folded and every buffer resolved to an arena offset, a constant or a
//!   model input/output. The interpreter and both backends read it, so each
//!   number is decided once.

pub mod arena;
pub mod float_kernel;
pub mod graph;
pub mod int16_kernel;
pub mod int32_kernel;
pub mod kernel;
pub mod liveness;
pub mod op;
mod opcheck;
pub mod overlap;
pub mod program;
pub mod shapes;
pub mod signal;
pub mod stats;
pub mod tensor;
pub mod text;
pub mod uses;
pub mod validate;
pub mod verify;

pub use arena::{Arena, Handle};
pub use float_kernel::FloatKernel;
pub use graph::{Graph, GraphKind, OpId, TensorId};
pub use int16_kernel::Int16Kernel;
pub use kernel::Kernel;
pub use op::{Activation, Op, OpKind, Padding2D};
pub use program::{BufferRef, IoSpec, Program, Provenance, Step};
pub use tensor::{DType, Quantization, Tensor};
pub use uses::DefUse;
pub use validate::{OpAt, ValidationError, validate};
pub use verify::{VerifyError, verify};

//! int8 kernels bit-exact with the TFLite-Micro reference kernels, and the
//! float32 kernels (`float_*`) in the float reference kernels' order.
//!
//! This crate is the semantic oracle of tinyq: the interpreter runs it, and
//! the Rust backend embeds its source text in generated code. It therefore
//! depends on nothing, uses no `unsafe`, never allocates and never panics on
//! bad input: every kernel checks its buffers against its parameters and
//! returns [`KernelError`] instead.
//!
//! Each op module holds the op's parameter struct, a host-side `prepare`
//! function deriving the folded integers from float scales exactly as TFLM
//! derives them (the float-vs-double details matter), and the kernel itself.
#![no_std]

pub mod error;
pub mod fixedpoint;
pub mod gemmlowp;

pub mod batch_matmul;
pub mod concat;
pub mod conv;
pub mod depthwise;
pub mod elementwise;
pub mod float_conv;
pub mod float_elementwise;
pub mod float_math;
pub mod float_pool;
pub mod float_resize;
pub mod float_transpose_conv;
pub mod fully_connected;
pub mod gather;
pub mod int16;
pub mod int32;
pub mod int8_math;
pub mod le;
pub mod lstm;
pub mod lstm_int8;
pub mod pad;
pub mod pooling;
pub mod quantize;
pub mod reduce;
pub mod resize;
pub mod shape;
pub mod signal;
pub mod signal_bank;
pub mod signal_fft;
pub mod slice;
pub mod softmax;
pub mod space_depth;
pub mod svdf;
pub mod transpose;
pub mod transpose_conv;
pub mod unary;
pub mod wide;
pub mod wide_act;
pub mod wide_ops;
pub mod wide_pool;
pub mod wide_sigmoid;
pub mod wide_softmax;

pub use error::KernelError;
pub use fixedpoint::Activation;

//! Float reference execution, calibration and post-training full-integer
//! quantization, without TensorFlow.
//!
//! ```no_run
//! # fn demo(graph: &tinyq_ir::Graph, calib: ndarray::ArrayD<f32>) -> Result<(), tinyq_quant::QuantError> {
//! use tinyq_quant::{quantize, QuantOptions};
//! let int8 = quantize(graph, &[calib], QuantOptions::default())?;
//! let program = tinyq_opt::lower(&int8);
//! # Ok(()) }
//! ```
//!
//! * [`exec::FloatModel`] runs a float32 [`tinyq_ir::Graph`] on `ndarray`
//!   (every op the Graph can hold), optionally keeping every intermediate.
//! * [`calibrate`] observes activation ranges ([`observer::Method`]:
//!   min/max as the TF converter, percentile, MSE).
//! * [`quantize()`] reproduces the TF converter's post-training integer
//!   quantization numerics (spec §3) and same-scale propagation.
//! * [`quantize_dynamic`] stores the weights of CONV_2D, DEPTHWISE_CONV_2D
//!   and FULLY_CONNECTED as int8 with per-channel scales and keeps float
//!   activations (the converter's dynamic-range mode; no calibration).
//! * [`fallback`] decides which ops stay float32 (no int8 kernel, or kept
//!   by the user); [`quantize_keeping`] quantizes the rest around them.
//! * [`lstm`] holds the converter's rules for the integer LSTM (int8 data,
//!   int16 cell state with a power-of-two scale).
//! * [`report`] computes accuracy and per-tensor SQNR.

pub mod calibrate;
pub mod dynamic;
pub mod error;
pub mod exec;
pub mod fallback;
pub mod lstm;
pub mod npy;
pub mod observer;
pub mod params;
pub mod propagate;
pub mod quantize;
pub mod report;

pub use dynamic::quantize_dynamic;
pub use error::{ExecError, QuantError};
pub use exec::{Accumulation, FloatModel, Kernels, State};
pub use fallback::{Fallback, KeepFloat};
pub use observer::Method;
pub use params::Activations;
pub use quantize::{
    IoMode, QuantOptions, quantize, quantize_keeping, quantize_with_progress, quantize_with_ranges,
    quantize_with_ranges_keeping,
};

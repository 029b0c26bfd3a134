//! tinyq: ahead-of-time compilation of int8 TinyML models into `no_std`
//! Rust that computes exactly what the TFLite-Micro reference kernels
//! compute.
//!
//! # `include_model!`
//!
//! ```
//! mod conv {
//!     // A path relative to this crate's Cargo.toml (here, a test fixture).
//!     tinyq::include_model!("../../tests/fixtures/conv_basic/int8.tflite");
//! }
//!
//! let mut arena = conv::Arena::new();
//! let image = [0i8; conv::INPUT_0_LEN];
//! let mut features = [0i8; conv::OUTPUT_0_LEN];
//! conv::invoke(&image, &mut features, &mut arena).expect("invoke");
//! ```
//!
//! A float model without calibration data compiles as float32 (equal to
//! TFLM's float outputs bit for bit, TANH within a few ulp); pass
//! calibration samples and it is quantized to int8 while your crate builds:
//!
//! ```text
//! mod mnist {
//!     tinyq::include_model!("models/mnist.tflite", calibration = "data/calib.npy");
//! }
//! ```
//!
//! The macro compiles the model while your crate builds and expands to the
//! same items `tinyq compile MODEL --emit rust` writes into `NAME.rs`:
//! `ARENA_SIZE`, `NUM_INPUTS`/`NUM_OUTPUTS`, `INPUT_SIZES`/`OUTPUT_SIZES`,
//! per-I/O `INPUT_i_LEN`/`_SHAPE` (and `_SCALE`/`_ZERO_POINT` when
//! quantized), `Arena` (16-byte aligned, `Arena::new()` is `const`), `Error`,
//! the typed `invoke(&[T; INPUT_0_LEN].., &mut [T; OUTPUT_0_LEN].., &mut Arena)`
//! and `invoke_bytes(&[&[u8]], &mut [&mut [u8]], &mut Arena)` (int8 and
//! float I/O copied through a `Staging` on the stack, or the caller's with
//! `invoke_bytes_staged`). `ARENA_SIZE` is the planned arena, what
//! `tinyq compile` prints. The code has no `unsafe`, no allocation, no
//! panics, needs only `core`, and is warning-free even when unused.
//!
//! Options, after the model path:
//! - `calibration = "samples.npy"`: float32 `[N, ...input shape]` samples
//!   (`.npz` with one array per input for several inputs). A float model
//!   is then quantized as the TFLite converter's post-training integer
//!   quantization does; refused for an int8 model.
//! - `io = int8 | uint8 | float`: I/O types of a quantized float model
//!   (default `int8`; only with `calibration`).
//! - `name = "mnist"`: the model's name in the generated documentation.
//!
//! Paths resolve against the invoking crate's `CARGO_MANIFEST_DIR`. The
//! files are `include_bytes!`-ed, so editing them rebuilds the crate. Every
//! problem (missing file, unsupported op, `io` without calibration)
//! is a compile error on the offending literal carrying the compiler's own
//! message.
#![no_std]

pub use tinyq_macros::include_model;

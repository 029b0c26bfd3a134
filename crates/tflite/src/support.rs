//! The one list of what the reader accepts: the TFLite operators it maps to
//! IR ops, and the shape arithmetic it folds away. Error messages, `tinyq
//! inspect` and the README's table (`cargo xtask codegen`) all read it.

#![forbid(unsafe_code)]

use crate::fold;
use crate::schema::fb::BuiltinOperator as B;

/// An operator tinyq compiles, with what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedOp {
    /// The TFLite builtin name (`CONV_2D`).
    pub name: &'static str,
    /// What tinyq accepts of it, in a few words.
    pub notes: &'static str,
    code: B,
}

const fn op(code: B, name: &'static str, notes: &'static str) -> SupportedOp {
    SupportedOp { name, notes, code }
}

/// Every operator the reader maps to an IR op, in alphabetical order.
/// `ops::map` implements each; `support` tests keep the two in step.
const MAPPED: &[SupportedOp] = &[
    op(B::Abs, "ABS", "float32"),
    op(
        B::Add,
        "ADD",
        "broadcasting; fused RELU/RELU6/RELU_N1_TO_1; int16",
    ),
    op(
        B::AveragePool2d,
        "AVERAGE_POOL_2D",
        "SAME/VALID, any stride; fused activation; int16",
    ),
    op(
        B::BatchMatmul,
        "BATCH_MATMUL",
        "float32, int8 (per-tensor, any zero points), int16 (zero points 0); adj_x/adj_y, broadcast batch dimensions, ranks 2 to 5, constant or not",
    ),
    op(
        B::Cast,
        "CAST",
        "between int8, int16, int32, UINT32 and float32 (TFLM's casts)",
    ),
    op(
        B::Concatenation,
        "CONCATENATION",
        "any axis; in place when its inputs allow; int16",
    ),
    op(
        B::Conv2d,
        "CONV_2D",
        "per-channel int8 weights, int32 bias; stride, dilation, SAME/VALID; 16x8 (int16 activations, int32/int64 bias)",
    ),
    op(
        B::DepthwiseConv2d,
        "DEPTHWISE_CONV_2D",
        "any depth multiplier; stride, dilation, SAME/VALID; 16x8 (int64 bias)",
    ),
    op(
        B::DepthToSpace,
        "DEPTH_TO_SPACE",
        "int8/float32; a transpose of a reshaped view",
    ),
    op(
        B::Dequantize,
        "DEQUANTIZE",
        "int8/uint8/int16 to float32 at the outputs; float16 constants are widened at import",
    ),
    op(
        B::Div,
        "DIV",
        "float32, int32 (truncating); broadcasting; fused activation",
    ),
    op(B::Exp, "EXP", "float32 (the C library's expf)"),
    op(
        B::ExpandDims,
        "EXPAND_DIMS",
        "constant axis (an alias, no copy)",
    ),
    op(
        B::FullyConnected,
        "FULLY_CONNECTED",
        "per-tensor or per-channel weights, keep_num_dims; DEFAULT weights format; 16x8 (int32/int64 bias)",
    ),
    op(
        B::Gather,
        "GATHER",
        "int8/float32; constant int32 indices, any axis, batch_dims 0; int32 shape arithmetic folded at import",
    ),
    op(B::HardSwish, "HARD_SWISH", "8-bit: a 256-entry table"),
    op(
        B::LeakyRelu,
        "LEAKY_RELU",
        "8-bit: a 256-entry table; int16",
    ),
    op(B::Log, "LOG", "float32 (the C library's logf)"),
    op(
        B::Logistic,
        "LOGISTIC",
        "8-bit: a 256-entry table; int16: TFLM's interpolated sigmoid table",
    ),
    op(B::Maximum, "MAXIMUM", "broadcasting"),
    op(
        B::MaxPool2d,
        "MAX_POOL_2D",
        "SAME/VALID, any stride; fused activation; int16",
    ),
    op(B::Mean, "MEAN", "constant axes, keep_dims; int16"),
    op(B::Minimum, "MINIMUM", "broadcasting"),
    op(B::Mul, "MUL", "broadcasting; fused activation; int16"),
    op(B::Neg, "NEG", "float32"),
    op(
        B::Pad,
        "PAD",
        "constant paddings; folded into a following convolution; int16",
    ),
    op(B::Padv2, "PADV2", "constant paddings and pad value; int16"),
    op(
        B::Prelu,
        "PRELU",
        "alpha broadcast against the input (per channel, as Keras' PReLU)",
    ),
    op(
        B::Quantize,
        "QUANTIZE",
        "float32/int8/uint8 to int8/uint8 (inputs, requantization); float32 to int16; int16 to int16/int8, int8 to int16",
    ),
    op(
        B::Relu,
        "RELU",
        "merged into the producer when exact; int16",
    ),
    op(
        B::Relu6,
        "RELU6",
        "merged into the producer when exact; int16",
    ),
    op(
        B::ReluN1To1,
        "RELU_N1_TO_1",
        "merged into the producer when exact",
    ),
    op(B::Reshape, "RESHAPE", "static shape (an alias, no copy)"),
    op(
        B::ResizeBilinear,
        "RESIZE_BILINEAR",
        "constant size; align_corners, half_pixel_centers; same scale in and out; float32",
    ),
    op(
        B::ResizeNearestNeighbor,
        "RESIZE_NEAREST_NEIGHBOR",
        "constant size; align_corners, half_pixel_centers; same scale in and out; float32",
    ),
    op(
        B::Rsqrt,
        "RSQRT",
        "float32 (1 / the correctly rounded sqrt); int8: a 256-entry table of TFLM's kernel",
    ),
    op(B::Softmax, "SOFTMAX", "last axis, any beta; int16"),
    op(
        B::SpaceToDepth,
        "SPACE_TO_DEPTH",
        "int8/float32; a transpose of a reshaped view",
    ),
    op(B::Sqrt, "SQRT", "float32 (correctly rounded)"),
    op(B::Square, "SQUARE", "float32"),
    op(
        B::SquaredDifference,
        "SQUARED_DIFFERENCE",
        "float32, int8; broadcasting",
    ),
    op(B::Squeeze, "SQUEEZE", "an alias, no copy"),
    op(
        B::StridedSlice,
        "STRIDED_SLICE",
        "constant begin, end and strides; int16",
    ),
    op(B::Sub, "SUB", "broadcasting; fused activation; int16"),
    op(
        B::Svdf,
        "SVDF",
        "int8 with an int16 state and time weights, or float; the state persists between invokes",
    ),
    op(
        B::Tanh,
        "TANH",
        "8-bit: a 256-entry table; int16: TFLM's interpolated sigmoid table",
    ),
    op(
        B::Transpose,
        "TRANSPOSE",
        "constant permutation, up to 6 dimensions",
    ),
    op(
        B::TransposeConv,
        "TRANSPOSE_CONV",
        "constant output shape; per-channel int8 weights, optional int32 bias; stride, SAME/VALID; 16x8 (int64 bias); float32",
    ),
    op(
        B::UnidirectionalSequenceLstm,
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "float, or int8 with an int16 cell (TFLM's integer LSTM); the standard Keras LSTM (no peephole, projection, layer norm); the states persist between invokes",
    ),
];

/// Shape arithmetic the reader evaluates at import when its inputs are
/// constant (Keras' flatten: SHAPE → STRIDED_SLICE → PACK → RESHAPE).
const FOLDED: &[SupportedOp] = &[
    op(
        B::Pack,
        "PACK",
        "folded at import when it computes a constant shape",
    ),
    op(B::Shape, "SHAPE", "folded at import (static shapes)"),
];

/// The operators tinyq compiles, alphabetically, then the ones it only
/// folds at import.
pub fn supported_ops() -> impl Iterator<Item = &'static SupportedOp> {
    MAPPED.iter().chain(FOLDED).chain(SIGNAL)
}

/// True when the reader maps `code` to an IR op.
pub(crate) fn is_mapped(code: B) -> bool {
    MAPPED.iter().any(|o| o.code == code)
}

/// True when the reader can read an op of `code` at all: mapped, or
/// shape arithmetic it may fold.
pub(crate) fn is_readable(code: B) -> bool {
    is_mapped(code) || fold::is_foldable_kind(code)
}

/// The signal library's custom ops (TFLM's audio front end), by custom
/// code; `crate::signal` reads their flexbuffer options.
const SIGNAL: &[SupportedOp] = &[
    op(
        B::Custom,
        "SignalWindow",
        "custom op: int16 samples times int16 weights, shifted, saturated; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalEnergy",
        "custom op: complex int16 bins to UINT32 energies; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalFilterBankLog",
        "custom op: UINT32 to int16 fixed-point log; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalFilterBankSquareRoot",
        "custom op: UINT64 to UINT32 integer square root, run-time shift; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalFilterBank",
        "custom op: UINT32 energies to UINT64 weighted channel sums, constant tables; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalPCAN",
        "custom op: UINT32 per-channel amplitude normalization by a noise estimate and int16 gain table; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalFftAutoScale",
        "custom op: int16 shifted up to full scale, and the int32 shift; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalRfft",
        "custom op: int16 real FFT (kiss_fftr fixed point), power-of-two lengths; interpreter, C and Rust",
    ),
    op(
        B::Custom,
        "SignalFilterBankSpectralSubtraction",
        "custom op: UINT32 noise subtraction, the noise estimate kept between invokes; interpreter, C and Rust",
    ),
];

/// The list for "unsupported op" messages.
pub(crate) fn supported_list() -> String {
    let mapped: Vec<&str> = MAPPED.iter().map(|o| o.name).collect();
    let folded: Vec<&str> = FOLDED.iter().map(|o| o.name).collect();
    let signal: Vec<&str> = SIGNAL.iter().map(|o| o.name).collect();
    format!(
        "{}; plus {} when they compute constant shapes; custom ops {}",
        mapped.join(", "),
        folded.join(", "),
        signal.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::builtin_name;

    #[test]
    fn names_are_the_schema_names_and_sorted() {
        for list in [MAPPED, FOLDED] {
            for o in list {
                assert_eq!(builtin_name(o.code as i32), Some(o.name));
            }
            let names: Vec<&str> = list.iter().map(|o| o.name).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
        }
    }

    #[test]
    fn folded_kinds_are_the_evaluator_kinds_not_mapped_elsewhere() {
        // GATHER is both: int32 shape arithmetic is folded, data gathered.
        assert!(fold::is_foldable_kind(B::Gather) && is_mapped(B::Gather));
        for o in FOLDED {
            assert!(fold::is_foldable_kind(o.code), "{}", o.name);
            assert!(!is_mapped(o.code), "{}", o.name);
        }
    }
}

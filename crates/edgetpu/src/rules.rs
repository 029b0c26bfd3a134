//! The Edge TPU's rules for one op, as Coral documents them
//! (coral.ai/docs/edgetpu/models-intro: "Model requirements" and
//! "Supported operations"; `reference/tflite-int8-spec.md` §5 collects them).
//!
//! [`judge`] looks at one op alone. Partitioning (the single Edge TPU
//! segment) is [`crate::report`]'s job.
//!
//! The checks run in this order, and the first that fails gives the status:
//! 1. the op is in the Edge TPU op set (`Operation not supported`);
//! 2. its tensors are 8-bit quantized (`Operation is working on an
//!    unsupported data type`), except that a float→int8 QUANTIZE at the model
//!    input stays on the CPU as the real compiler leaves it;
//! 3. data tensors have at most 3 dimensions larger than 1, the innermost
//!    (`Tensor has unsupported rank ...`);
//! 4. filters, biases and parameters are constant (`Filter, bias, or other
//!    param is not constant at compile-time`);
//! 5. shapes are static and the op's own limitations hold (`Operation is
//!    otherwise supported, but not mapped due to some unspecified limitation`).

use core::fmt;

use crate::model::{ElemType, OpView, Role, TensorView};

/// An op's status, in the Edge TPU compiler's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `Mapped to Edge TPU`.
    Mapped,
    /// `Operation not supported`: not in the Edge TPU op set.
    NotSupported,
    /// `Operation is working on an unsupported data type`: not 8-bit quantized.
    UnsupportedDataType,
    /// `Tensor has unsupported rank (up to 3 innermost dimensions mapped)`.
    UnsupportedRank,
    /// `Filter, bias, or other param is not constant at compile-time`.
    NonConstantParam,
    /// `More than one subgraph is not supported`: mappable, but after the
    /// op that ended the single Edge TPU segment.
    MoreThanOneSubgraph,
    /// `Operation is otherwise supported, but not mapped due to some
    /// unspecified limitation`: one of the op's documented limitations.
    OtherLimitation,
}

impl Status {
    /// The compiler's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Mapped => "Mapped to Edge TPU",
            Status::NotSupported => "Operation not supported",
            Status::UnsupportedDataType => "Operation is working on an unsupported data type",
            Status::UnsupportedRank => {
                "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
            }
            Status::NonConstantParam => {
                "Filter, bias, or other param is not constant at compile-time"
            }
            Status::MoreThanOneSubgraph => "More than one subgraph is not supported",
            Status::OtherLimitation => {
                "Operation is otherwise supported, but not mapped due to some unspecified limitation"
            }
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an op does not map, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub status: Status,
    pub hint: String,
}

fn finding(status: Status, hint: impl Into<String>) -> Finding {
    Finding {
        status,
        hint: hint.into(),
    }
}

/// The ops of Coral's supported-operations table, as TFLite names them.
/// DEQUANTIZE is listed so that it is judged on its types, as the compiler
/// does ("unsupported data type" for int8→float).
pub const EDGE_TPU_OPS: &[&str] = &[
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "EXPAND_DIMS",
    "FULLY_CONNECTED",
    "L2_NORMALIZATION",
    "LOGISTIC",
    "LSTM",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "MAXIMUM",
    "MAX_POOL_2D",
    "MEAN",
    "MINIMUM",
    "MUL",
    "PACK",
    "PAD",
    "PRELU",
    "QUANTIZE",
    "REDUCE_MAX",
    "REDUCE_MIN",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "RSQRT",
    "SLICE",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SPLIT",
    "SPLIT_V",
    "SQUARED_DIFFERENCE",
    "SQUEEZE",
    "STRIDED_SLICE",
    "SUB",
    "SUM",
    "TANH",
    "TRANSPOSE",
    "TRANSPOSE_CONV",
    "UNPACK",
];

/// Largest SOFTMAX input the Edge TPU takes, in elements.
pub const MAX_SOFTMAX_ELEMENTS: usize = 16_000;

/// Ops that Keras' shape arithmetic uses on int32, which tinyq's reader folds.
const SHAPE_ARITHMETIC: &[&str] = &[
    "SHAPE",
    "STRIDED_SLICE",
    "PACK",
    "CONCATENATION",
    "GATHER",
    "RESHAPE",
    "SQUEEZE",
    "EXPAND_DIMS",
];

/// Judges one op alone: `Ok` if the Edge TPU can run it.
pub fn judge(op: &OpView) -> Result<(), Finding> {
    in_op_set(op)?;
    data_types(op)?;
    ranks(op)?;
    constants(op)?;
    static_shapes(op)?;
    limitations(op)
}

/// True for an op that computes int32/int64 shape values (Keras' SHAPE →
/// STRIDED_SLICE → PACK chains): the ops tinyq's reader folds away.
fn is_shape_arithmetic(op: &OpView) -> bool {
    SHAPE_ARITHMETIC.contains(&op.op.as_str())
        && !op.outputs.is_empty()
        && op.outputs.iter().all(|t| t.dtype.is_wide_int())
}

const FOLD_HINT: &str = "tinyq folds this shape arithmetic into a constant (the model `tinyq quantize -o` writes has none); \
or give the Keras model a fixed batch size so the converter folds it";

fn in_op_set(op: &OpView) -> Result<(), Finding> {
    if EDGE_TPU_OPS.contains(&op.op.as_str()) {
        return Ok(());
    }
    let name = op.op.as_str();
    let hint = match name {
        "LEAKY_RELU" => "LEAKY_RELU is not in the Edge TPU op set; PRELU with a 1-D alpha is \
(Keras: PReLU(shared_axes=[1, 2]) with alpha set to the slope), and so is RELU"
            .to_owned(),
        "HARD_SWISH" => "HARD_SWISH is not in the Edge TPU op set; write it as x * RELU6(x + 3) / 6 \
(ADD, RELU6, MUL), which maps, or use RELU6"
            .to_owned(),
        "SHAPE" => format!("SHAPE is not in the Edge TPU op set; {FOLD_HINT}"),
        "GATHER" | "GATHER_ND" => format!(
            "{name} is not in the Edge TPU op set; with constant contiguous indices, \
use SLICE or STRIDED_SLICE with unit strides, which map"
        ),
        "DIV" => "DIV is not in the Edge TPU op set; divide by a constant as MUL by its reciprocal, which maps"
            .to_owned(),
        "LOG_SOFTMAX" => "LOG_SOFTMAX is not in the Edge TPU op set; use SOFTMAX (1-D, up to 16,000 \
elements) and take the log on the CPU"
            .to_owned(),
        "PADV2" => "PADV2 (padding with a non-zero value) is not in the Edge TPU op set; PAD \
(padding with zeros) is"
            .to_owned(),
        "BIDIRECTIONAL_SEQUENCE_LSTM" => "only unidirectional LSTM maps to the Edge TPU; \
use two UNIDIRECTIONAL_SEQUENCE_LSTMs and a CONCATENATION"
            .to_owned(),
        "BATCH_MATMUL" => "BATCH_MATMUL is not in the Edge TPU op set; with a constant right-hand \
side, FULLY_CONNECTED maps"
            .to_owned(),
        "CAST" => "CAST is not in the Edge TPU op set; keep the model's tensors int8/uint8 so \
no type conversion is needed"
            .to_owned(),
        "CUSTOM" => format!(
            "the custom op {} runs on the CPU; only builtin ops map to the Edge TPU",
            op.custom_code
                .as_deref()
                .map_or_else(|| "(no custom code)".to_owned(), |c| format!("{c:?}"))
        ),
        _ => format!(
            "{name} is not in the Edge TPU op set (Coral's supported-operations table); \
it runs on the CPU, so replace it with supported ops or accept the CPU segment"
        ),
    };
    Err(finding(Status::NotSupported, hint))
}

fn data_types(op: &OpView) -> Result<(), Finding> {
    let bad = |what: &str, t: &TensorView| {
        if is_shape_arithmetic(op) {
            return finding(
                Status::UnsupportedDataType,
                format!(
                    "{} computes a shape on {} ({what} {:?}); {FOLD_HINT}",
                    op.op, t.dtype, t.name
                ),
            );
        }
        if t.dtype == ElemType::I16 {
            return finding(
                Status::UnsupportedDataType,
                format!(
                    "{} {what} {:?}: int16 activations (16x8 quantization) are not supported by \
the Edge TPU; quantize with int8 activations (`tinyq quantize`, or the TF converter with \
TFLITE_BUILTINS_INT8)",
                    op.op, t.name
                ),
            );
        }
        let fix = if t.dtype.is_float() {
            "quantize the model to full int8 (`tinyq quantize`, or the TF converter with a \
representative dataset and TFLITE_BUILTINS_INT8)"
        } else {
            "the Edge TPU computes only in 8-bit quantized tensors (int8 or uint8)"
        };
        finding(
            Status::UnsupportedDataType,
            format!("{} {what} {:?} is {}; {fix}", op.op, t.name, t.dtype),
        )
    };
    let input = op.data_input();
    match op.op.as_str() {
        "QUANTIZE" => {
            let all_8bit = op.outputs.iter().all(|o| o.dtype.is_8bit());
            if let Some(t) = input.filter(|t| t.dtype.is_float() && all_8bit) {
                return Err(finding(
                    Status::OtherLimitation,
                    format!(
                        "the float→{} QUANTIZE of input {:?} stays on the CPU, as edgetpu_compiler \
leaves it; give the model 8-bit inputs (`tinyq quantize --io int8` or `--io uint8`) to drop it",
                        op.outputs.first().map_or("int8", |o| o.dtype.name()),
                        t.name
                    ),
                ));
            }
        }
        "DEQUANTIZE" => {
            if let Some(o) = op.outputs.iter().find(|o| o.dtype.is_float()) {
                return Err(finding(
                    Status::UnsupportedDataType,
                    format!(
                        "DEQUANTIZE to {} output {:?} runs on the CPU; give the model 8-bit outputs \
(`tinyq quantize --io int8` or `--io uint8`) to drop it",
                        o.dtype, o.name
                    ),
                ));
            }
        }
        _ => {}
    }
    for input in &op.inputs {
        let Some(t) = &input.tensor else { continue };
        match input.role {
            Role::Data | Role::Weights if !t.dtype.is_8bit() => {
                let what = if input.role == Role::Data {
                    "input"
                } else {
                    "weights"
                };
                return Err(bad(what, t));
            }
            Role::Bias if t.dtype != ElemType::I32 => return Err(bad("bias", t)),
            _ => {}
        }
    }
    if let Some(t) = op.outputs.iter().find(|t| !t.dtype.is_8bit()) {
        return Err(bad("output", t));
    }
    if let Some(t) = op
        .inputs
        .iter()
        .filter(|i| matches!(i.role, Role::Data | Role::Weights))
        .filter_map(|i| i.tensor.as_ref())
        .chain(&op.outputs)
        .find(|t| !t.quantized)
    {
        return Err(finding(
            Status::UnsupportedDataType,
            format!(
                "{} tensor {:?} is {} without quantization parameters; the Edge TPU needs \
quantized tensors (a scale and zero point)",
                op.op, t.name, t.dtype
            ),
        ));
    }
    Ok(())
}

/// True when `shape` has a dimension larger than 1 outside its 3 innermost.
pub fn exceeds_rank(shape: &[usize]) -> bool {
    shape.len() > 3 && shape[..shape.len() - 3].iter().any(|&d| d > 1)
}

fn ranks(op: &OpView) -> Result<(), Finding> {
    let data = op
        .inputs
        .iter()
        .filter(|i| i.role == Role::Data)
        .filter_map(|i| i.tensor.as_ref())
        .filter(|t| !t.constant)
        .chain(&op.outputs);
    for t in data {
        if exceeds_rank(&t.shape) {
            return Err(finding(
                Status::UnsupportedRank,
                format!(
                    "tensor {:?} has shape {}: only the 3 innermost dimensions may be larger than 1 \
(a batch larger than 1 does not map); use batch 1, or reshape to at most 3 significant dimensions",
                    t.name,
                    t.shape_string()
                ),
            ));
        }
    }
    Ok(())
}

fn constants(op: &OpView) -> Result<(), Finding> {
    for input in &op.inputs {
        let Some(t) = &input.tensor else { continue };
        let what = match input.role {
            Role::Weights => "filter",
            Role::Bias => "bias",
            Role::Param => "parameter",
            Role::Data | Role::Other => continue,
        };
        if t.constant {
            continue;
        }
        let hint = if op.op == "RESHAPE" {
            format!(
                "RESHAPE's target shape {:?} is computed at run time (Keras' SHAPE/STRIDED_SLICE/PACK \
chain); tinyq folds it into a constant, and the model `tinyq quantize -o` writes maps",
                t.name
            )
        } else {
            format!(
                "the {what} {:?} of {} is computed at run time; the Edge TPU needs filters, biases \
and parameters (axes, shapes, paddings, strides) stored as constants in the model",
                t.name, op.op
            )
        };
        return Err(finding(Status::NonConstantParam, hint));
    }
    Ok(())
}

fn static_shapes(op: &OpView) -> Result<(), Finding> {
    let tensors = op
        .inputs
        .iter()
        .filter_map(|i| i.tensor.as_ref())
        .chain(&op.outputs);
    for t in tensors {
        if let Some(why) = &t.dynamic {
            return Err(finding(
                Status::OtherLimitation,
                format!(
                    "tensor {:?} has a dynamic shape ({why}); the Edge TPU needs static shapes: \
fix the input shape (batch 1) before converting",
                    t.name
                ),
            ));
        }
    }
    Ok(())
}

/// The batch axis, in Coral's terms: the outermost of a tensor of rank 4 or
/// more (`[b, y, x, z]`), none for rank 3 or less (`[y, x, z]`).
fn is_batch_axis(axis: i64, rank: usize) -> bool {
    rank >= 4 && normalize(axis, rank) == Some(0)
}

fn normalize(axis: i64, rank: usize) -> Option<usize> {
    let r = i64::try_from(rank).ok()?;
    let a = if axis < 0 { axis.checked_add(r)? } else { axis };
    usize::try_from(a).ok().filter(|&a| a < rank)
}

/// True when at most the innermost dimension is larger than 1.
fn is_one_dimensional(shape: &[usize]) -> bool {
    shape.iter().rev().skip(1).all(|&d| d == 1)
}

fn limitations(op: &OpView) -> Result<(), Finding> {
    let limit = |hint: String| Err(finding(Status::OtherLimitation, hint));
    let in_shape = op.data_input().map(|t| t.shape.clone()).unwrap_or_default();
    let rank = in_shape.len();
    let activation = op.attrs.activation.as_deref().unwrap_or("NONE");
    match op.op.as_str() {
        "AVERAGE_POOL_2D" | "MAX_POOL_2D" | "CONCATENATION" if activation != "NONE" => {
            return limit(format!(
                "{} has a fused {activation}, and the Edge TPU takes {} without a fused activation; \
make the activation a separate op ({activation} maps on its own)",
                op.op, op.op
            ));
        }
        "CONV_2D" | "DEPTHWISE_CONV_2D" => {
            if let Some((h, w)) = op.attrs.dilation.filter(|(h, w)| h != w) {
                return limit(format!(
                    "{} has dilation {h}x{w} (height x width); the Edge TPU needs the same dilation \
in x and y",
                    op.op
                ));
            }
        }
        "FULLY_CONNECTED" => {
            if op.attrs.shuffled_weights {
                return limit(
                    "FULLY_CONNECTED uses shuffled weights; only the default weights format maps"
                        .to_owned(),
                );
            }
            if let Some(o) = op.outputs.first().filter(|o| !is_one_dimensional(&o.shape)) {
                return limit(format!(
                    "FULLY_CONNECTED output {:?} has shape {}; the Edge TPU needs a one-dimensional \
output (batch 1, keep_num_dims off, or a RESHAPE to [1, N] first)",
                    o.name,
                    o.shape_string()
                ));
            }
        }
        "CONCATENATION" => {
            let consts: Vec<&TensorView> = op
                .inputs
                .iter()
                .filter_map(|i| i.tensor.as_ref())
                .filter(|t| t.constant)
                .collect();
            if !consts.is_empty()
                && (op.inputs.len() != 2 || consts.iter().any(|t| t.all_zero == Some(false)))
            {
                return limit(format!(
                    "CONCATENATION with a constant input ({:?}) maps only as zero padding: exactly 2 inputs \
and the constant all zeros; use PAD instead",
                    consts[0].name
                ));
            }
        }
        "MEAN" | "SUM" | "REDUCE_MAX" | "REDUCE_MIN" => {
            if let Some(axes) = &op.attrs.axes {
                if axes.iter().any(|&a| is_batch_axis(a, rank)) {
                    return limit(format!(
                        "{} reduces over the batch dimension (axes {axes:?} of {}); the Edge TPU \
cannot reduce the batch",
                        op.op,
                        tinyq_ir::tensor::shape_string(&in_shape)
                    ));
                }
                let z = rank.checked_sub(1);
                let over_z = axes.iter().any(|&a| z.is_some() && normalize(a, rank) == z);
                let depth = in_shape.last().copied().unwrap_or(1);
                if op.op == "MEAN" && over_z && depth % 4 != 0 {
                    return limit(format!(
                        "MEAN reduces over the channels (axes {axes:?} of {}), and the Edge TPU \
reduces channels only when their count is a multiple of 4 (here {depth}); reduce over x/y only, \
or pad the channels to a multiple of 4",
                        tinyq_ir::tensor::shape_string(&in_shape)
                    ));
                }
            }
        }
        "PAD" => {
            let batch_padded = |p: &&Vec<(i64, i64)>| {
                rank >= 4 && p.first().is_some_and(|&(b, e)| b != 0 || e != 0)
            };
            if let Some(p) = op.attrs.paddings.as_ref().filter(batch_padded) {
                return limit(format!(
                    "PAD pads the batch dimension ({:?}); the Edge TPU cannot pad the batch",
                    p[0]
                ));
            }
        }
        "PACK" | "UNPACK" | "SPLIT" | "SPLIT_V" => {
            // PACK's batch axis counts in the output's rank, the others in the input's.
            let rank = if op.op == "PACK" {
                op.outputs.first().map_or(0, |o| o.shape.len())
            } else {
                rank
            };
            if let Some(axis) = op.attrs.axis.filter(|&a| is_batch_axis(a, rank)) {
                return limit(format!(
                    "{} works along the batch dimension (axis {axis}); the Edge TPU cannot",
                    op.op
                ));
            }
        }
        "PRELU" => {
            let alpha = op.inputs_with(Role::Weights).next();
            if let Some(alpha) = alpha.filter(|a| !is_one_dimensional(&a.shape)) {
                return limit(format!(
                    "PRELU alpha {:?} has shape {}; it must be 1-D (only the innermost dimension \
larger than 1): in Keras, PReLU(shared_axes=[1, 2])",
                    alpha.name,
                    alpha.shape_string()
                ));
            }
        }
        "SOFTMAX" => {
            let n = tinyq_ir::tensor::checked_product(&in_shape).unwrap_or(usize::MAX);
            if !is_one_dimensional(&in_shape) || n > MAX_SOFTMAX_ELEMENTS {
                return limit(format!(
                    "SOFTMAX input has shape {}; the Edge TPU takes only a 1-D input of at most \
16,000 elements (one distribution, e.g. [1, N])",
                    tinyq_ir::tensor::shape_string(&in_shape)
                ));
            }
        }
        "SQUEEZE" => {
            if let Some(o) = op.outputs.first() {
                let k = rank.saturating_sub(o.shape.len());
                let leading = in_shape.len() >= k
                    && in_shape[..k].iter().all(|&d| d == 1)
                    && in_shape[k..] == o.shape[..];
                if !leading {
                    return limit(format!(
                        "SQUEEZE {} → {} removes a dimension of size 1 that is not leading, which needs \
a relayout on the Edge TPU; squeeze only leading 1s, or use RESHAPE",
                        tinyq_ir::tensor::shape_string(&in_shape),
                        o.shape_string()
                    ));
                }
            }
        }
        "STRIDED_SLICE" => {
            if let Some(s) = op
                .attrs
                .strides
                .as_ref()
                .filter(|s| s.iter().any(|&x| x != 1))
            {
                return limit(format!(
                    "STRIDED_SLICE has strides {s:?}; the Edge TPU takes only unit strides \
(a plain slice); subsample with a strided CONV_2D/pooling, or slice on the CPU"
                ));
            }
            if op.attrs.ellipsis_mask != 0 || op.attrs.new_axis_mask != 0 {
                return limit(format!(
                    "STRIDED_SLICE has ellipsis_mask {} and new_axis_mask {}; the Edge TPU needs both 0 \
(write the slice with explicit bounds, and add axes with RESHAPE)",
                    op.attrs.ellipsis_mask, op.attrs.new_axis_mask
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

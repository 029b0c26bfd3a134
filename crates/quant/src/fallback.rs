//! Which ops of a quantized model stay float32: those without an int8
//! kernel (with [`Fallback::Float`]) and those the user keeps
//! ([`KeepFloat`]). The builder puts a DEQUANTIZE before and a QUANTIZE
//! after each run of such ops, as the TF converter does when its supported
//! ops are not int8-only.

use tinyq_ir::{Activation, Graph, OpKind};

use crate::error::QuantError;

/// What to do with an op that has no int8 kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Refuse the model, naming the op (full-integer quantization).
    #[default]
    Error,
    /// Keep the op in float32 between a DEQUANTIZE and a QUANTIZE.
    Float,
}

/// An op the user keeps in float32: by its index in the model, or by the
/// name of a tensor it produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepFloat {
    Op(usize),
    Tensor(String),
}

impl KeepFloat {
    /// `12` is an op index, anything else a tensor name (as `--keep-float` takes it).
    pub fn parse(text: &str) -> KeepFloat {
        match text.parse::<usize>() {
            Ok(index) => KeepFloat::Op(index),
            Err(_) => KeepFloat::Tensor(text.to_string()),
        }
    }
}

impl std::fmt::Display for KeepFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepFloat::Op(i) => write!(f, "op {i}"),
            KeepFloat::Tensor(name) => write!(f, "tensor {name:?}"),
        }
    }
}

/// Why `kind` has no int8 kernel in tinyq (and TFLM), or `None` when it has one.
pub fn no_int8_kernel(kind: &OpKind) -> Option<&'static str> {
    match kind {
        OpKind::Concatenation { activation, .. } if *activation != Activation::None => {
            Some("a fused activation on CONCATENATION has no int8 kernel in TFLM")
        }
        OpKind::Div { .. }
        | OpKind::Exp
        | OpKind::Log
        | OpKind::Sqrt
        | OpKind::Abs
        | OpKind::Neg
        | OpKind::Square => Some(
            "tinyq has no int8 kernel for it; compile the float model without --calibration \
             (float32 code)",
        ),
        // tinyq compiles the converter's int8 form, but does not choose
        // their quantization itself yet (BATCH_MATMUL: the converter
        // quantizes even a constant right-hand side as an activation).
        OpKind::Rsqrt | OpKind::SquaredDifference | OpKind::BatchMatMul { .. } => Some(
            "tinyq quantize does not quantize it yet (the converter's int8 form compiles); \
             compile the float model without --calibration (float32 code)",
        ),
        _ => None,
    }
}

/// Per op of `graph`: whether it stays float32. Errors name an op without
/// an int8 kernel when `fallback` is [`Fallback::Error`], and a `keep`
/// entry that matches no op.
pub fn float_ops(
    graph: &Graph,
    fallback: Fallback,
    keep: &[KeepFloat],
) -> Result<Vec<bool>, QuantError> {
    let ops: Vec<_> = graph.ops.iter().map(|(_, op)| op).collect();
    let mut float = vec![false; ops.len()];
    for k in keep {
        let mut found = false;
        for (i, op) in ops.iter().enumerate() {
            let hit = match k {
                KeepFloat::Op(index) => op.origin.unwrap_or(i) == *index,
                KeepFloat::Tensor(name) => {
                    op.outputs.iter().any(|&t| graph.tensor(t).name == *name)
                }
            };
            if hit {
                float[i] = true;
                found = true;
            }
        }
        if !found {
            let what = match k {
                KeepFloat::Op(_) => format!("{} ops", ops.len()),
                KeepFloat::Tensor(_) => "no op producing a tensor of that name".to_string(),
            };
            return Err(QuantError::KeepFloat {
                keep: k.to_string(),
                why: format!(
                    "the model has {what} (`tinyq inspect MODEL` lists op indices and tensor names)"
                ),
            });
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if let Some(why) = no_int8_kernel(&op.kind) {
            match fallback {
                Fallback::Float => float[i] = true,
                Fallback::Error if !float[i] => {
                    return Err(QuantError::Unsupported {
                        index: op.origin.unwrap_or(i),
                        op: op.kind.name(),
                        why: format!(
                            "{why}; pass --fallback float to keep it in float32 \
                             (QUANTIZE/DEQUANTIZE around it)"
                        ),
                    });
                }
                Fallback::Error => {}
            }
        }
    }
    Ok(float)
}

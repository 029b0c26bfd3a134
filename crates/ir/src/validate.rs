//! Validation of a Graph. Passes and backends only see graphs that passed
//! this check: first the structure (handles, single assignment, order,
//! sizes, quantization parameters), then every op's arity, element types,
//! operand quantization, attributes and output shape (`opcheck.rs`),
//! so kernel selection can rely on them.

use core::fmt;

use crate::graph::{Graph, TensorId};
use crate::tensor::DType;

/// Where an op is, for messages: the operator of the model file it came
/// from when known (what the user can look up in the file), then its graph
/// position (what `inspect --ir` dumps show, `#` as in the structural
/// errors): `model operator 5, op #3`, or `op #3` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpAt {
    /// Position in `Graph::ops`.
    pub index: usize,
    /// `Op::origin`.
    pub origin: Option<usize>,
}

impl fmt::Display for OpAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(k) = self.origin {
            write!(f, "model operator {k}, ")?;
        }
        write!(f, "op #{}", self.index)
    }
}

/// Why a graph is not well formed. Each variant names the tensor or op.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    #[error("op #{op} ({kind}) refers to tensor %{tensor}, which does not exist")]
    DanglingTensor {
        op: usize,
        kind: &'static str,
        tensor: usize,
    },
    #[error("graph input/output %{0} does not exist")]
    DanglingIo(usize),
    #[error(
        "tensor {name:?} is written by more than one op (or is a graph input and also written)"
    )]
    MultipleProducers { name: String },
    #[error(
        "op #{op} ({kind}) reads tensor {name:?} before anything produces it (a cycle or misordered ops)"
    )]
    UseBeforeDef {
        op: usize,
        kind: &'static str,
        name: String,
    },
    #[error(
        "op #{op} ({kind}) keeps its state in tensor {name:?}, which {why}: a state is a variable tensor only its op reads and writes"
    )]
    BadState {
        op: usize,
        kind: &'static str,
        name: String,
        why: &'static str,
    },
    #[error("graph output {name:?} is never produced")]
    UnproducedOutput { name: String },
    #[error("op #{op} ({kind}) writes constant tensor {name:?}")]
    WritesConstant {
        op: usize,
        kind: &'static str,
        name: String,
    },
    #[error("tensor {name:?} has shape {shape:?} whose size overflows")]
    SizeOverflow { name: String, shape: Vec<usize> },
    #[error("constant tensor {name:?} holds {actual} bytes but its shape and type need {expected}")]
    ConstSize {
        name: String,
        expected: usize,
        actual: usize,
    },
    #[error("tensor {name:?}: {why}")]
    Quantization { name: String, why: String },
    /// Too few or too many inputs or outputs.
    #[error("{at} ({kind}): {why}")]
    Arity {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
    /// An operand of an element type the op does not take, or not constant
    /// where the op needs a constant.
    #[error("{at} ({kind}): {why}")]
    Type {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
    /// Shapes that do not fit together, or an output shape other than the
    /// one the inputs and attributes give.
    #[error("{at} ({kind}): {why}")]
    Shape {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
    /// An attribute out of range (stride 0, an axis beyond the rank, a
    /// permutation that is not one, a table of the wrong length).
    #[error("{at} ({kind}): {why}")]
    Attribute {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
    /// A zero-sized dimension the op cannot take (a kernel or channel
    /// count of 0).
    #[error("{at} ({kind}): {why}")]
    ZeroSized {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
    /// Quantization an operand cannot have here (per-axis parameters on an
    /// activation, a filter quantized along the wrong axis, a quantized
    /// type without parameters).
    #[error("{at} ({kind}): {why}")]
    OperandQuantization {
        at: OpAt,
        kind: &'static str,
        why: String,
    },
}

/// Checks handles, single assignment, topological order, sizes and
/// quantization parameters, then each op against its kind. Linear in the
/// number of ops and tensors: per-op work is per dimension, never per
/// element.
pub fn validate(graph: &Graph) -> Result<(), ValidationError> {
    validate_structure(graph)?;
    // Every handle is now known to exist, so the op checks can look up
    // tensors without failing on a dangling one.
    for (id, op) in graph.ops.iter() {
        let at = OpAt {
            index: id.index(),
            origin: op.origin,
        };
        crate::opcheck::check_op(graph, at, op)?;
    }
    Ok(())
}

/// Handles, single assignment, topological order, sizes and quantization.
fn validate_structure(graph: &Graph) -> Result<(), ValidationError> {
    let n = graph.tensors.len();
    let exists = |t: TensorId| t.index() < n;
    for &io in graph.inputs.iter().chain(&graph.outputs) {
        if !exists(io) {
            return Err(ValidationError::DanglingIo(io.index()));
        }
    }
    // CAST reads and writes plain integers: its int8 operands need no
    // quantization (TFLM's audio preprocessor ends in an unquantized int8).
    let mut plain = vec![false; n];
    for (_, op) in graph.ops.iter() {
        if matches!(op.kind, crate::OpKind::Cast) {
            for &t in op.inputs.iter().chain(&op.outputs).filter(|&&t| exists(t)) {
                plain[t.index()] = true;
            }
        }
    }
    for (id, t) in graph.tensors.iter() {
        check_tensor(t, plain[id.index()])?;
    }

    // Defined = constant, graph input, or output of an earlier op.
    let mut defined: Vec<bool> = graph.tensors.iter().map(|(_, t)| t.is_const()).collect();
    for &i in &graph.inputs {
        if defined[i.index()] && !graph.tensor(i).is_const() {
            return Err(ValidationError::MultipleProducers {
                name: graph.tensor(i).name.clone(),
            });
        }
        defined[i.index()] = true;
    }
    for (id, op) in graph.ops.iter() {
        let kind = op.kind.name();
        for &t in op.inputs.iter().chain(&op.outputs) {
            if !exists(t) {
                return Err(ValidationError::DanglingTensor {
                    op: id.index(),
                    kind,
                    tensor: t.index(),
                });
            }
        }
        let state = op.kind.state_inputs(op.inputs.len());
        for (k, &t) in op.inputs.iter().enumerate() {
            if state.contains(&k) {
                check_state(graph, id.index(), op, t, &defined)?;
                defined[t.index()] = true;
                continue;
            }
            if !defined[t.index()] {
                return Err(ValidationError::UseBeforeDef {
                    op: id.index(),
                    kind,
                    name: graph.tensor(t).name.clone(),
                });
            }
        }
        for &t in &op.outputs {
            let tensor = graph.tensor(t);
            if tensor.is_const() {
                return Err(ValidationError::WritesConstant {
                    op: id.index(),
                    kind,
                    name: tensor.name.clone(),
                });
            }
            if defined[t.index()] {
                return Err(ValidationError::MultipleProducers {
                    name: tensor.name.clone(),
                });
            }
            defined[t.index()] = true;
        }
    }
    for &o in &graph.outputs {
        if !defined[o.index()] {
            return Err(ValidationError::UnproducedOutput {
                name: graph.tensor(o).name.clone(),
            });
        }
    }
    Ok(())
}

/// A stateful op's state: a non-constant tensor that no op produces, that
/// is not a graph input or output, and that this op alone reads.
fn check_state(
    graph: &Graph,
    index: usize,
    op: &crate::Op,
    t: TensorId,
    defined: &[bool],
) -> Result<(), ValidationError> {
    let why = if graph.tensor(t).is_const() {
        Some("is constant")
    } else if defined[t.index()] {
        Some("is produced by an op, a graph input or another op's state")
    } else if graph.outputs.contains(&t) {
        Some("is a graph output")
    } else if graph.use_count(t) != 1 {
        Some("is read more than once")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(ValidationError::BadState {
            op: index,
            kind: op.kind.name(),
            name: graph.tensor(t).name.clone(),
            why,
        }),
    }
}

/// `plain`: an operand of a CAST, which may be an unquantized 8-bit tensor.
fn check_tensor(t: &crate::Tensor, plain: bool) -> Result<(), ValidationError> {
    let bytes = t.byte_len().ok_or_else(|| ValidationError::SizeOverflow {
        name: t.name.clone(),
        shape: t.shape.clone(),
    })?;
    if let Some(data) = &t.data
        && data.len() != bytes
    {
        return Err(ValidationError::ConstSize {
            name: t.name.clone(),
            expected: bytes,
            actual: data.len(),
        });
    }
    let quant_err = |why: String| ValidationError::Quantization {
        name: t.name.clone(),
        why,
    };
    if let Some(q) = &t.quant {
        if q.scales.is_empty() || q.scales.len() != q.zero_points.len() {
            return Err(quant_err(format!(
                "{} scales but {} zero points",
                q.scales.len(),
                q.zero_points.len()
            )));
        }
        if let Some(bad) = q.scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(quant_err(format!(
                "scale {bad} is not a positive finite number"
            )));
        }
        if q.is_per_axis() {
            let dim = t.shape.get(q.axis).copied();
            if dim != Some(q.scales.len()) {
                return Err(quant_err(format!(
                    "{} per-axis scales along axis {} of shape {:?}",
                    q.scales.len(),
                    q.axis,
                    t.shape
                )));
            }
        }
        let range = match t.dtype {
            DType::I8 => -128..=127,
            DType::U8 => 0..=255,
            DType::I16 => -32768..=32767,
            _ => i64::MIN..=i64::MAX,
        };
        if let Some(zp) = q.zero_points.iter().find(|z| !range.contains(z)) {
            return Err(quant_err(format!(
                "zero point {zp} is outside the {} range",
                t.dtype
            )));
        }
    } else if t.dtype.is_8bit() && !plain {
        return Err(quant_err(format!(
            "{} tensor without quantization parameters",
            t.dtype
        )));
    }
    Ok(())
}

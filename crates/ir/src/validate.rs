//! Structural validation of a Graph. Passes and backends only see graphs
//! that passed this check.

use crate::graph::{Graph, TensorId};
use crate::tensor::DType;

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
}

/// Checks handles, single assignment, topological order, sizes and
/// quantization parameters.
pub fn validate(graph: &Graph) -> Result<(), ValidationError> {
    let n = graph.tensors.len();
    let exists = |t: TensorId| t.index() < n;
    for &io in graph.inputs.iter().chain(&graph.outputs) {
        if !exists(io) {
            return Err(ValidationError::DanglingIo(io.index()));
        }
    }
    for (_, t) in graph.tensors.iter() {
        check_tensor(t)?;
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
        for &t in &op.inputs {
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

fn check_tensor(t: &crate::Tensor) -> Result<(), ValidationError> {
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
    } else if t.dtype.is_8bit() {
        return Err(quant_err(format!(
            "{} tensor without quantization parameters",
            t.dtype
        )));
    }
    Ok(())
}

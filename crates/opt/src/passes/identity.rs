//! Ops that move no byte: reshapes to the same shape, identity transposes
//! and slices, requantizations to the same parameters. Their readers read
//! the input instead. A reshape of a reshape reads the first one's input.
//! Bypassing needs equal dtype and quantization (readers derive their
//! numbers from them), and a graph output keeps its producer (its name and
//! buffer are part of the model's interface).

use tinyq_ir::{DefUse, Graph, OpId, OpKind, TensorId};

use super::count;
use crate::error::LowerError;
use crate::pass::{Pass, PassOutcome};

/// The `remove-identity` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveIdentity;

impl Pass for RemoveIdentity {
    fn name(&self) -> &'static str {
        "remove-identity"
    }

    fn description(&self) -> &'static str {
        "bypasses identity reshapes, transposes, slices and requantizations; shortens reshape chains"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let mut removed: Vec<OpId> = Vec::new();
        let mut chains = 0;
        let ids: Vec<OpId> = graph.ops.handles().collect();
        for id in ids {
            let du = graph.def_use();
            let op = &graph.ops[id];
            let (Some(&input), Some(&output)) = (op.inputs.first(), op.outputs.first()) else {
                continue;
            };
            if !same_numbers(graph, input, output) {
                continue;
            }
            if is_identity(graph, id) {
                if du.is_graph_output(output) {
                    continue;
                }
                graph.replace_uses(output, input);
                removed.push(id);
            } else if op.kind.is_reshape_like()
                && let Some(source) = reshape_source(graph, &du, input)
            {
                // RESHAPE(RESHAPE(x)) == RESHAPE(x): the shapes are static.
                graph.ops[id].inputs[0] = source;
                graph.ops[id].kind = OpKind::Reshape;
                chains += 1;
            }
        }
        graph.remove_ops(&removed);
        graph.compact();
        let mut parts = Vec::new();
        if !removed.is_empty() {
            parts.push(format!("{} bypassed", count(removed.len(), "identity op")));
        }
        if chains > 0 {
            parts.push(format!("{} shortened", count(chains, "reshape chain")));
        }
        Ok(PassOutcome::changed(
            removed.len() + chains,
            parts.join(", "),
        ))
    }
}

/// Same dtype and quantization: a reader cannot tell the tensors apart.
fn same_numbers(graph: &Graph, a: TensorId, b: TensorId) -> bool {
    let (a, b) = (graph.tensor(a), graph.tensor(b));
    a.dtype == b.dtype && a.quant == b.quant && a.num_elements() == b.num_elements()
}

/// The input of the reshape-like op producing `t`, if one does.
fn reshape_source(graph: &Graph, du: &DefUse, t: TensorId) -> Option<TensorId> {
    let producer = &graph.ops[du.producer(t)?];
    let source = *producer.inputs.first()?;
    (producer.kind.is_reshape_like() && same_numbers(graph, source, t)).then_some(source)
}

/// True when the op's output holds its input's bytes in the same order
/// under the same shape.
fn is_identity(graph: &Graph, id: OpId) -> bool {
    let op = &graph.ops[id];
    let (Some(&input), Some(&output)) = (op.inputs.first(), op.outputs.first()) else {
        return false;
    };
    let (x, y) = (graph.tensor(input), graph.tensor(output));
    if x.shape != y.shape {
        return false;
    }
    match &op.kind {
        OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims => op.inputs.len() == 1,
        OpKind::Transpose { perm } => perm.iter().enumerate().all(|(i, &p)| i == p),
        // Same shape with positive strides and no axis games selects every
        // element in order.
        OpKind::StridedSlice(s) => {
            s.ellipsis_mask == 0
                && s.new_axis_mask == 0
                && s.shrink_axis_mask == 0
                && s.strides.iter().all(|&st| st > 0)
        }
        // Equal parameters make TFLM's requantization the identity; the
        // table proves it rather than trusting the arithmetic.
        OpKind::Quantize => matches!(
            crate::tables::table_of(&op.kind, x, y),
            Ok(Some(table)) if table.iter().enumerate().all(|(i, &v)| usize::from(v) == i)
        ),
        _ => false,
    }
}

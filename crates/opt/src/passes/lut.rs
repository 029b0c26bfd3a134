//! 8-bit element-wise ops (LOGISTIC, TANH, RELU*, LEAKY_RELU, HARD_SWISH,
//! an 8-bit → 8-bit QUANTIZE) become 256-entry tables computed by their
//! reference kernels, and a table reading only another table's result is
//! composed with it into one: `t2[t1[x]]` is what the two steps compute.

use tinyq_ir::op::Lut as LutOp;
use tinyq_ir::{Graph, OpId, OpKind};

use super::count;
use crate::error::LowerError;
use crate::pass::{Pass, PassOutcome};
use crate::tables::table_of;

/// The `lut` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lut;

impl Pass for Lut {
    fn name(&self) -> &'static str {
        "lut"
    }

    fn description(&self) -> &'static str {
        "turns 8-bit element-wise ops into 256-entry tables and composes chains of them"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let ids: Vec<OpId> = graph.ops.handles().collect();
        let mut tabulated = 0;
        for &id in &ids {
            let op = &graph.ops[id];
            if matches!(op.kind, OpKind::Lut(_)) {
                continue;
            }
            let (Some(&x), Some(&y)) = (op.inputs.first(), op.outputs.first()) else {
                continue;
            };
            if op.inputs.len() != 1 || op.outputs.len() != 1 {
                continue;
            }
            // A kernel that refuses the parameters is left for lowering to
            // report with its own message.
            let Ok(Some(table)) = table_of(&op.kind, graph.tensor(x), graph.tensor(y)) else {
                continue;
            };
            let name = op.kind.name();
            graph.ops[id].kind = OpKind::Lut(LutOp {
                table,
                ops: vec![name],
            });
            tabulated += 1;
        }

        let mut composed: Vec<OpId> = Vec::new();
        for &id in &ids {
            let du = graph.def_use();
            let OpKind::Lut(second) = &graph.ops[id].kind else {
                continue;
            };
            let Some(&mid) = graph.ops[id].inputs.first() else {
                continue;
            };
            let Some(first_id) = du.producer(mid) else {
                continue;
            };
            if du.sole_consumer(mid) != Some(id) || composed.contains(&first_id) {
                continue;
            }
            let OpKind::Lut(first) = &graph.ops[first_id].kind else {
                continue;
            };
            let table: Vec<u8> = first
                .table
                .iter()
                .map(|&m| second.table[usize::from(m)])
                .collect();
            let mut ops = first.ops.clone();
            ops.extend(&second.ops);
            let source = graph.ops[first_id].inputs[0];
            let origin = graph.ops[first_id].origin;
            let op = &mut graph.ops[id];
            op.kind = OpKind::Lut(LutOp { table, ops });
            op.inputs[0] = source;
            op.origin = origin;
            composed.push(first_id);
        }
        graph.remove_ops(&composed);
        graph.compact();
        let mut parts = Vec::new();
        if tabulated > 0 {
            parts.push(format!("{} as tables", count(tabulated, "element-wise op")));
        }
        if !composed.is_empty() {
            parts.push(format!("{} composed", count(composed.len(), "table pair")));
        }
        Ok(PassOutcome::changed(
            tabulated + composed.len(),
            parts.join(", "),
        ))
    }
}

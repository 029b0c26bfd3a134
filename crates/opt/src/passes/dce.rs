//! Dead-code elimination: ops whose outputs nobody reads (and that are not
//! graph outputs) go, then the tensors nothing refers to.

use tinyq_ir::{Graph, OpId};

use super::count;
use crate::error::LowerError;
use crate::pass::{Pass, PassOutcome};

/// The `dce` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dce;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn description(&self) -> &'static str {
        "removes ops whose results nobody reads, and unused tensors"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let dead = dead_ops(graph);
        graph.remove_ops(&dead);
        let tensors = graph.compact();
        if dead.is_empty() && tensors == 0 {
            return Ok(PassOutcome::unchanged());
        }
        let mut parts = Vec::new();
        if !dead.is_empty() {
            parts.push(count(dead.len(), "dead op"));
        }
        if tensors > 0 {
            parts.push(count(tensors, "unused tensor"));
        }
        Ok(PassOutcome::changed(
            dead.len() + tensors,
            format!("{} removed", parts.join(" and ")),
        ))
    }
}

/// Ops that contribute to no graph output, found in one backward sweep
/// (ops are in execution order, so readers come after writers).
fn dead_ops(graph: &Graph) -> Vec<OpId> {
    let mut readers = vec![0usize; graph.tensors.len()];
    for (_, op) in graph.ops.iter() {
        for &t in &op.inputs {
            readers[t.index()] += 1;
        }
    }
    for &t in &graph.outputs {
        readers[t.index()] += 1;
    }
    let mut dead = Vec::new();
    let ops: Vec<_> = graph.ops.iter().collect();
    for &(id, op) in ops.iter().rev() {
        if op.outputs.iter().all(|t| readers[t.index()] == 0) {
            dead.push(id);
            for &t in &op.inputs {
                readers[t.index()] -= 1;
            }
        }
    }
    dead.reverse();
    dead
}

//! Another execution order for branching graphs, with a lower memory peak.
//!
//! A graph's ops come in one valid order, but where branches meet
//! (residual and concatenation blocks) other topological orders exist, and
//! they need different amounts of memory: finishing one branch before
//! starting the next keeps fewer intermediate tensors alive. Lowering plans
//! the graph's own order and the one proposed here and keeps the smaller
//! arena (ties: the graph's order), so reordering never makes an arena
//! larger. The proposal is greedy over the ready ops, O(ops² · inputs).

use tinyq_ir::{Graph, OpId};

/// A topological order of `graph`'s ops: repeatedly, of the ops whose
/// inputs are all computed, the one that adds the fewest bytes to what is
/// live (its output, less the inputs it is the last reader of); ties go to
/// the op that comes first in the graph.
pub fn low_memory_order(graph: &Graph) -> Vec<OpId> {
    let du = graph.def_use();
    let ops: Vec<OpId> = graph.ops.iter().map(|(id, _)| id).collect();
    // Graph position by op index.
    let mut position = vec![usize::MAX; ops.iter().map(|o| o.index() + 1).max().unwrap_or(0)];
    for (k, o) in ops.iter().enumerate() {
        position[o.index()] = k;
    }
    // Bytes a tensor holds in the arena while live: intermediate values
    // only (constants, graph inputs and outputs live elsewhere).
    let bytes = |t: tinyq_ir::TensorId| -> usize {
        let tensor = graph.tensor(t);
        if tensor.is_const() || du.producer(t).is_none() || du.is_graph_output(t) {
            return 0;
        }
        tensor.byte_len().unwrap_or(0)
    };
    let mut done = vec![false; ops.len()];
    // Per tensor: its readers not yet run.
    let mut readers: Vec<usize> = (0..graph.tensors.len())
        .map(|i| du.consumers(tinyq_ir::TensorId::from_index(i)).len())
        .collect();
    let mut order = Vec::with_capacity(ops.len());
    while order.len() < ops.len() {
        let ready = ops.iter().enumerate().filter(|&(k, &id)| {
            !done[k]
                && graph.ops[id].inputs.iter().all(|&t| {
                    du.producer(t).is_none_or(|p| {
                        let k = position.get(p.index()).copied().unwrap_or(usize::MAX);
                        done.get(k).copied().unwrap_or(true)
                    })
                })
        });
        let cost = |id: OpId| -> isize {
            let op = &graph.ops[id];
            let added: usize = op.outputs.iter().map(|&t| bytes(t)).sum();
            let mut freed = 0usize;
            for (k, &t) in op.inputs.iter().enumerate() {
                // Each tensor once, however many operands read it.
                if !op.inputs[..k].contains(&t) && readers[t.index()] == 1 {
                    freed += bytes(t);
                }
            }
            added as isize - freed as isize
        };
        let Some((k, id)) = ready.min_by_key(|&(k, &id)| (cost(id), k)) else {
            // Not a valid graph (a cycle): keep the graph's order.
            return ops;
        };
        let id = *id;
        done[k] = true;
        let op = &graph.ops[id];
        for (j, &t) in op.inputs.iter().enumerate() {
            if !op.inputs[..j].contains(&t) {
                readers[t.index()] = readers[t.index()].saturating_sub(1);
            }
        }
        order.push(id);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{LowerOptions, lower_with};
    use tinyq_interp::Interpreter;

    /// Two branches from one input, each a large value reduced to a small
    /// one, then added: run branch by branch, only one large value is ever
    /// live.
    const TWO_BRANCHES: &str = "\
inputs: %0
outputs: %5
tensors:
  %0 i8[1,16,16,4] \"x\" scale=0.1 zp=0
  %1 i8[1,16,16,4] \"a\" scale=0.1 zp=0
  %2 i8[1,16,16,4] \"b\" scale=0.1 zp=0
  %3 i8[1,8,8,4] \"a2\" scale=0.1 zp=0
  %4 i8[1,8,8,4] \"b2\" scale=0.1 zp=0
  %5 i8[1,8,8,4] \"y\" scale=0.2 zp=0
ops:
  %1 = MAX_POOL_2D(filter=3x3, stride=1x1, pad=[1, 1, 1, 1], act=NONE) %0 @0
  %2 = MAX_POOL_2D(filter=1x1, stride=1x1, pad=[0, 0, 0, 0], act=NONE) %0 @1
  %3 = MAX_POOL_2D(filter=2x2, stride=2x2, pad=[0, 0, 0, 0], act=NONE) %1 @2
  %4 = MAX_POOL_2D(filter=2x2, stride=2x2, pad=[0, 0, 0, 0], act=NONE) %2 @3
  %5 = ADD(act=NONE) %3, %4 @4
";

    fn run(program: &tinyq_ir::Program, x: &[u8]) -> Vec<u8> {
        let mut y = vec![0u8; 8 * 8 * 4];
        Interpreter::poisoned(program)
            .invoke(&[x], &mut [&mut y])
            .expect("runs");
        y
    }

    #[test]
    fn a_branch_runs_to_its_end_before_the_next_starts() {
        let graph = tinyq_ir::text::parse(TWO_BRANCHES).expect("parses");
        let order: Vec<usize> = low_memory_order(&graph)
            .iter()
            .map(|id| id.index())
            .collect();
        assert_eq!(order, [0, 2, 1, 3, 4]);
        let as_given = LowerOptions {
            reorder_ops: false,
            ..LowerOptions::default()
        };
        let (before, _) = lower_with(&graph, as_given).expect("lowers");
        let (after, _) = lower_with(&graph, LowerOptions::default()).expect("lowers");
        // 2 x 1024 B live at once before; after, 1024 + 256 B and the
        // distance a padded 3x3 window keeps between output and input.
        assert!(
            after.arena_size < before.arena_size,
            "{} B reordered vs {} B",
            after.arena_size,
            before.arena_size
        );
        assert!(before.arena_size >= 2048, "{} B", before.arena_size);
        assert_eq!(after.arena_size, 1024 + 256 + 32);
        // The same bytes, every dead arena byte poisoned between steps.
        let x: Vec<u8> = (0..16 * 16 * 4).map(|i| (i * 37 % 251) as u8).collect();
        assert_eq!(run(&after, &x), run(&before, &x));
    }
}

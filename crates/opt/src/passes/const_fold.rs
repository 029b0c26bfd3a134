//! Ops whose inputs are all constant become constants, computed by the very
//! kernel the op would run (selected and executed exactly as at run time).

use tinyq_ir::{Graph, OpId};

use super::count;
use crate::error::LowerError;
use crate::lower::LowerOptions;
use crate::pass::{Pass, PassOutcome};
use crate::select::select_kernel;

/// The `const-fold` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConstFold;

/// Constants larger than this stay ops: folding would trade a small kernel
/// for a large table in flash.
const MAX_FOLDED_BYTES: usize = 64 * 1024;

impl Pass for ConstFold {
    fn name(&self) -> &'static str {
        "const-fold"
    }

    fn description(&self) -> &'static str {
        "computes ops whose inputs are all constant at compile time"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let mut folded: Vec<OpId> = Vec::new();
        let ids: Vec<OpId> = graph.ops.handles().collect();
        for id in ids {
            let op = &graph.ops[id];
            let [output] = op.outputs[..] else {
                continue;
            };
            let all_const =
                !op.inputs.is_empty() && op.inputs.iter().all(|&t| graph.tensor(t).is_const());
            // A graph output must stay computed: the caller's buffer is
            // written by a step.
            if !all_const || graph.outputs.contains(&output) {
                continue;
            }
            let Some(len) = graph.tensor(output).byte_len() else {
                continue;
            };
            if len > MAX_FOLDED_BYTES {
                continue;
            }
            let index = op.origin.unwrap_or(id.index());
            // Ops tinyq cannot run (float compute) are left for lowering to
            // judge with its own message.
            let Ok(selected) = select_kernel(graph, op, index, LowerOptions::none()) else {
                continue;
            };
            let inputs: Vec<&[u8]> = selected
                .data_inputs
                .iter()
                .map(|&t| graph.tensor(t).data.as_deref().unwrap_or(&[]))
                .collect();
            let mut bytes = vec![0u8; len];
            if tinyq_interp::execute(&selected.kernel, &inputs, &mut bytes).is_err() {
                continue;
            }
            graph.tensors[output].data = Some(bytes);
            folded.push(id);
        }
        graph.remove_ops(&folded);
        graph.compact();
        Ok(PassOutcome::changed(
            folded.len(),
            format!(
                "{} computed at compile time",
                count(folded.len(), "constant op")
            ),
        ))
    }
}

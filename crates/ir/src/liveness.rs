//! Which arena bytes a Program still needs after each step.
//!
//! The one computation of byte liveness over a planned Program: the
//! interpreter's poisoned mode and the C backend's poisoned test harness
//! both overwrite every other byte with garbage between steps, so a plan
//! that lets a value be overwritten while it is still live gives wrong
//! outputs.

use crate::program::{BufferRef, Program};

/// Per step, the arena ranges `start..end` (sorted, disjoint, merged) that
/// a later step reads before any step rewrites them, and the persistent
/// state, which is always live (the next invoke reads it). Buffers outside
/// the arena are ignored (the verifier refuses them).
pub fn live_after(program: &Program) -> Vec<Vec<(usize, usize)>> {
    let n = program.arena_size;
    let mut live = vec![false; n];
    let state = program.state_size.min(n);
    let arena = |b: &BufferRef| match *b {
        BufferRef::Arena { offset, size } if offset.checked_add(size).is_some_and(|e| e <= n) => {
            Some(offset..offset + size)
        }
        _ => None,
    };
    let mut out = vec![Vec::new(); program.steps.len()];
    for (index, step) in program.steps.iter().enumerate().rev() {
        // `live` holds what is live after this step.
        live[..state].fill(true);
        out[index] = ranges(&live);
        if let Some(r) = arena(&step.output) {
            live[r].fill(false);
        }
        for r in step.inputs.iter().filter_map(arena) {
            live[r].fill(true);
        }
        live[..state].fill(true);
    }
    out
}

/// The runs of `true` in `live`.
fn ranges(live: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < live.len() {
        if live[at] {
            let start = at;
            while at < live.len() && live[at] {
                at += 1;
            }
            out.push((start, at));
        } else {
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Kernel;
    use crate::program::{Provenance, Step};

    fn step(inputs: Vec<BufferRef>, output: BufferRef) -> Step {
        Step {
            kernel: Kernel::Copy,
            inputs,
            output,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn a_chain_keeps_only_what_is_read_later() {
        let a = |offset, size| BufferRef::Arena { offset, size };
        let program = Program {
            steps: vec![
                step(vec![BufferRef::Input(0)], a(0, 16)),
                step(vec![a(0, 16)], a(16, 8)),
                step(vec![a(16, 4)], BufferRef::Output(0)),
            ],
            inputs: Vec::new(),
            outputs: Vec::new(),
            constants: Vec::new(),
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 32,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(
            live_after(&program),
            vec![vec![(0, 16)], vec![(16, 20)], vec![]]
        );
    }

    #[test]
    fn the_persistent_state_is_always_live() {
        let a = |offset, size| BufferRef::Arena { offset, size };
        let program = Program {
            steps: vec![
                step(vec![BufferRef::Input(0)], a(16, 8)),
                step(vec![a(16, 8)], BufferRef::Output(0)),
            ],
            inputs: Vec::new(),
            outputs: Vec::new(),
            constants: Vec::new(),
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 32,
            state_size: 16,
            state_init: vec![0; 16],
        };
        assert_eq!(live_after(&program), vec![vec![(0, 24)], vec![(0, 16)]]);
    }
}

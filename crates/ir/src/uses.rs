//! Def-use information and the graph edits passes build on: replacing the
//! uses of a tensor, removing ops, and compacting away what nothing refers to
//! (naga's `compact`).

use crate::arena::Arena;
use crate::graph::{Graph, OpId, TensorId};
use crate::op::Op;
use crate::tensor::Tensor;

/// Who writes and who reads each tensor. A snapshot: recompute it after an
/// edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefUse {
    producer: Vec<Option<OpId>>,
    consumers: Vec<Vec<OpId>>,
    graph_outputs: Vec<bool>,
}

impl DefUse {
    /// Scans `graph` once.
    pub fn new(graph: &Graph) -> Self {
        let n = graph.tensors.len();
        let mut producer = vec![None; n];
        let mut consumers = vec![Vec::new(); n];
        for (id, op) in graph.ops.iter() {
            for &t in &op.outputs {
                if let Some(p) = producer.get_mut(t.index()) {
                    *p = Some(id);
                }
            }
            for &t in &op.inputs {
                if let Some(c) = consumers.get_mut(t.index())
                    && !c.contains(&id)
                {
                    c.push(id);
                }
            }
        }
        let mut graph_outputs = vec![false; n];
        for &o in &graph.outputs {
            if let Some(g) = graph_outputs.get_mut(o.index()) {
                *g = true;
            }
        }
        DefUse {
            producer,
            consumers,
            graph_outputs,
        }
    }

    /// The op writing `t`, if any.
    pub fn producer(&self, t: TensorId) -> Option<OpId> {
        self.producer.get(t.index()).copied().flatten()
    }

    /// The ops reading `t`, in execution order, each once.
    pub fn consumers(&self, t: TensorId) -> &[OpId] {
        self.consumers.get(t.index()).map_or(&[], Vec::as_slice)
    }

    /// True when `t` is a graph output.
    pub fn is_graph_output(&self, t: TensorId) -> bool {
        self.graph_outputs.get(t.index()).copied().unwrap_or(false)
    }

    /// The single op reading `t` when `t` has exactly one reader and is not
    /// a graph output: the condition for fusing its producer into it.
    pub fn sole_consumer(&self, t: TensorId) -> Option<OpId> {
        match self.consumers(t) {
            [only] if !self.is_graph_output(t) => Some(*only),
            _ => None,
        }
    }

    /// True when nothing reads `t` and it is not a graph output.
    pub fn is_dead(&self, t: TensorId) -> bool {
        self.consumers(t).is_empty() && !self.is_graph_output(t)
    }
}

impl Graph {
    /// Who writes and reads each tensor.
    pub fn def_use(&self) -> DefUse {
        DefUse::new(self)
    }

    /// Makes every op input and graph output that refers to `old` refer to
    /// `new` instead.
    pub fn replace_uses(&mut self, old: TensorId, new: TensorId) {
        for id in self.ops.handles().collect::<Vec<_>>() {
            for t in &mut self.ops[id].inputs {
                if *t == old {
                    *t = new;
                }
            }
        }
        for t in &mut self.outputs {
            if *t == old {
                *t = new;
            }
        }
    }

    /// Removes the ops in `dead` (their handles, and those of every later
    /// op, change), keeping the others in order. Tensors stay: call
    /// [`Graph::compact`] to drop the ones nothing refers to any more.
    pub fn remove_ops(&mut self, dead: &[OpId]) {
        if dead.is_empty() {
            return;
        }
        let old = std::mem::take(&mut self.ops);
        let mut ops = Arena::new();
        for (id, op) in old.iter() {
            if !dead.contains(&id) {
                ops.push(op.clone());
            }
        }
        self.ops = ops;
    }

    /// Drops tensors that no op, graph input or graph output refers to and
    /// renumbers the rest in their old order. Returns how many were dropped.
    pub fn compact(&mut self) -> usize {
        let n = self.tensors.len();
        let mut used = vec![false; n];
        let mut mark = |t: TensorId| {
            if let Some(u) = used.get_mut(t.index()) {
                *u = true;
            }
        };
        for &t in self.inputs.iter().chain(&self.outputs) {
            mark(t);
        }
        for (_, op) in self.ops.iter() {
            for &t in op.inputs.iter().chain(&op.outputs) {
                mark(t);
            }
        }
        let dropped = used.iter().filter(|u| !**u).count();
        if dropped == 0 {
            return 0;
        }
        let mut remap: Vec<Option<TensorId>> = vec![None; n];
        let mut tensors: Arena<Tensor> = Arena::new();
        for (id, t) in self.tensors.iter() {
            if used[id.index()] {
                remap[id.index()] = Some(tensors.push(t.clone()));
            }
        }
        let map = |t: TensorId| remap.get(t.index()).copied().flatten().unwrap_or(t);
        for t in self.inputs.iter_mut().chain(self.outputs.iter_mut()) {
            *t = map(*t);
        }
        let ops: Vec<Op> = self.ops.iter().map(|(_, op)| op.clone()).collect();
        self.ops = Arena::new();
        for mut op in ops {
            for t in op.inputs.iter_mut().chain(op.outputs.iter_mut()) {
                *t = map(*t);
            }
            self.ops.push(op);
        }
        self.tensors = tensors;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::OpKind;
    use crate::tensor::DType;

    fn chain() -> Graph {
        let mut g = Graph::new();
        let a = g.tensors.push(Tensor::new("a", vec![4], DType::F32));
        let b = g.tensors.push(Tensor::new("b", vec![4], DType::F32));
        let unused = g.tensors.push(Tensor::new("unused", vec![4], DType::F32));
        let c = g.tensors.push(Tensor::new("c", vec![4], DType::F32));
        let _ = unused;
        g.ops.push(Op {
            kind: OpKind::Relu,
            inputs: vec![a],
            outputs: vec![b],
            origin: Some(0),
        });
        g.ops.push(Op {
            kind: OpKind::Tanh,
            inputs: vec![b],
            outputs: vec![c],
            origin: Some(1),
        });
        g.inputs = vec![a];
        g.outputs = vec![c];
        g
    }

    #[test]
    fn def_use_finds_producers_and_consumers() {
        let g = chain();
        let du = g.def_use();
        let b = TensorId::from_index(1);
        assert_eq!(du.producer(b), Some(OpId::from_index(0)));
        assert_eq!(du.consumers(b), &[OpId::from_index(1)]);
        assert_eq!(du.sole_consumer(b), Some(OpId::from_index(1)));
        assert!(du.is_graph_output(TensorId::from_index(3)));
        assert_eq!(du.sole_consumer(TensorId::from_index(3)), None);
        assert!(du.is_dead(TensorId::from_index(2)));
    }

    #[test]
    fn remove_and_compact_renumber_consistently() {
        let mut g = chain();
        // Bypass the RELU: the TANH reads the input directly.
        g.replace_uses(TensorId::from_index(1), TensorId::from_index(0));
        g.remove_ops(&[OpId::from_index(0)]);
        assert_eq!(g.compact(), 2);
        assert_eq!(g.tensors.len(), 2);
        assert_eq!(g.ops.len(), 1);
        let op = &g.ops[OpId::from_index(0)];
        assert_eq!(g.tensor(op.inputs[0]).name, "a");
        assert_eq!(g.tensor(op.outputs[0]).name, "c");
        assert_eq!(g.tensor(g.outputs[0]).name, "c");
        crate::validate(&g).expect("still valid");
    }
}

//! The Graph: tensors and ops in arenas, ops in topological order.

use crate::arena::{Arena, Handle};
use crate::op::Op;
use crate::tensor::{DType, Tensor};

/// Handle of a tensor.
pub type TensorId = Handle<Tensor>;
/// Handle of an op.
pub type OpId = Handle<Op>;

/// A model: what it *means*, before lowering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    pub tensors: Arena<Tensor>,
    /// Ops in execution order: every op comes after the producers of its inputs.
    pub ops: Arena<Op>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

/// What a graph computes in, the one answer to "is this a float model".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphKind {
    /// Every computed tensor is float32: quantize it (or compile it as float).
    Float,
    /// Every computed tensor is an integer type (int8, uint8, int16, int32):
    /// a fully quantized model.
    Integer,
    /// Integer compute with float32 tensors too: float I/O around QUANTIZE /
    /// DEQUANTIZE, or ops left in float.
    Mixed,
}

impl GraphKind {
    /// `float`, `integer` or `mixed`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            GraphKind::Float => "float",
            GraphKind::Integer => "integer",
            GraphKind::Mixed => "mixed",
        }
    }
}

impl Graph {
    /// Whether any op keeps state between invokes (a variable tensor, e.g.
    /// SVDF's).
    pub fn is_stateful(&self) -> bool {
        self.ops
            .iter()
            .any(|(_, op)| !op.kind.state_inputs(op.inputs.len()).is_empty())
    }

    /// Float, integer or mixed, judged by the computed (non-constant)
    /// tensors: quantized activations (int8, uint8, int16) make it integer,
    /// float32 ones float, both mixed. Constants do not count (a quantized
    /// model's weights are integers, a float model's float), nor do int32
    /// index tensors. A graph with neither counts as float.
    pub fn kind(&self) -> GraphKind {
        let computed = self.tensors.iter().filter(|(_, t)| !t.is_const());
        let (mut float, mut quantized) = (false, false);
        for (_, t) in computed {
            match t.dtype {
                DType::F32 => float = true,
                // UINT32/UINT64: the signal library's integer front end.
                DType::I8 | DType::U8 | DType::I16 | DType::U32 | DType::U64 => quantized = true,
                _ => {}
            }
        }
        match (float, quantized) {
            (_, false) => GraphKind::Float,
            (false, true) => GraphKind::Integer,
            (true, true) => GraphKind::Mixed,
        }
    }

    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tensor behind `id`. Panics on a foreign handle; use on validated graphs.
    pub fn tensor(&self, id: TensorId) -> &Tensor {
        &self.tensors[id]
    }

    /// The op producing `id`, if any.
    pub fn producer(&self, id: TensorId) -> Option<OpId> {
        self.ops
            .iter()
            .find(|(_, op)| op.outputs.contains(&id))
            .map(|(h, _)| h)
    }

    /// How many ops read `id`, plus one if it is a graph output.
    pub fn use_count(&self, id: TensorId) -> usize {
        let reads: usize = self
            .ops
            .iter()
            .map(|(_, op)| op.inputs.iter().filter(|&&t| t == id).count())
            .sum();
        reads + usize::from(self.outputs.contains(&id))
    }

    /// A stable, human-readable dump: the [`crate::text`] format with
    /// constants over 64 bytes elided (so `inspect --ir` stays readable on
    /// real models); [`crate::text::print`] gives every byte.
    pub fn dump(&self) -> String {
        crate::text::print_with(self, crate::text::PrintOptions::dump())
    }
}

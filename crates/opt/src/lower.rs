//! Graph → Program: kernel selection, buffer assignment and memory planning.

use std::collections::HashMap;

use tinyq_ir::program::{BufferRef, IoSpec, Provenance, Step};
use tinyq_ir::{DType, Graph, Kernel, Program, TensorId, validate};

use crate::error::LowerError;
use crate::plan::{Lifetime, plan};
use crate::select::select_kernel;

/// Where a tensor's bytes live while the Program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    Input(usize),
    Output(usize),
    Const(usize),
    /// An arena slot, placed by the planner.
    Slot(usize),
}

/// Lowers a validated integer graph to a Program.
pub fn lower(graph: &Graph) -> Result<Program, LowerError> {
    validate(graph)?;
    check_integer(graph)?;
    let mut lowering = Lowering::new(graph)?;
    for (id, op) in graph.ops.iter() {
        let index = op.origin.unwrap_or(id.index());
        lowering.lower_op(index, op)?;
    }
    lowering.finish()
}

/// Refuses float compute with a message that says what to do.
fn check_integer(graph: &Graph) -> Result<(), LowerError> {
    let any_int = graph.ops.iter().any(|(_, op)| {
        op.outputs
            .iter()
            .any(|&t| graph.tensor(t).dtype == DType::I8)
    });
    for (id, op) in graph.ops.iter() {
        let index = op.origin.unwrap_or(id.index());
        let name = op.kind.name();
        let dtypes = op
            .inputs
            .iter()
            .chain(&op.outputs)
            .map(|&t| graph.tensor(t));
        let float_io = matches!(
            op.kind,
            tinyq_ir::OpKind::Quantize | tinyq_ir::OpKind::Dequantize
        );
        for t in dtypes.filter(|t| !t.is_const()) {
            match t.dtype {
                DType::I8 | DType::U8 => {}
                DType::F32 if float_io => {}
                DType::F32 if !any_int => return Err(LowerError::FloatModel { index, op: name }),
                other => {
                    return Err(LowerError::UnsupportedType {
                        index,
                        op: name,
                        dtype: other.name(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// A step whose buffers are not placed yet.
struct Draft {
    kernel: Kernel,
    inputs: Vec<Storage>,
    output: Storage,
    provenance: Provenance,
}

struct Lowering<'g> {
    graph: &'g Graph,
    storage: HashMap<TensorId, Storage>,
    /// Per slot: size and the step that writes it, and the last step reading it.
    slots: Vec<Lifetime>,
    steps: Vec<Draft>,
    constants: Vec<Vec<u8>>,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
}

fn io_spec(graph: &Graph, id: TensorId) -> IoSpec {
    let t = graph.tensor(id);
    IoSpec {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype,
        quant: t.scale_zp().map(|(s, z)| (s, z as i32)),
    }
}

impl<'g> Lowering<'g> {
    fn new(graph: &'g Graph) -> Result<Self, LowerError> {
        let mut storage = HashMap::new();
        for (i, &t) in graph.inputs.iter().enumerate() {
            storage.insert(t, Storage::Input(i));
        }
        let inputs = graph.inputs.iter().map(|&t| io_spec(graph, t)).collect();
        let outputs = graph.outputs.iter().map(|&t| io_spec(graph, t)).collect();
        Ok(Lowering {
            graph,
            storage,
            slots: Vec::new(),
            steps: Vec::new(),
            constants: Vec::new(),
            inputs,
            outputs,
        })
    }

    /// The storage of a tensor an op reads, extending slot lifetimes.
    fn read(&mut self, t: TensorId) -> Storage {
        if let Some(&s) = self.storage.get(&t) {
            if let Storage::Slot(slot) = s {
                self.slots[slot].last = self.steps.len();
            }
            return s;
        }
        // Constants become Program constants on first use.
        let data = self.graph.tensor(t).data.clone().unwrap_or_default();
        self.constants.push(data);
        let s = Storage::Const(self.constants.len() - 1);
        self.storage.insert(t, s);
        s
    }

    /// Storage for an op output: the caller's buffer for a graph output (the
    /// first listing of it), else a fresh arena slot.
    fn write(&mut self, t: TensorId) -> Storage {
        let s = match self.graph.outputs.iter().position(|&o| o == t) {
            Some(i) => Storage::Output(i),
            None => {
                let size = self.graph.tensor(t).byte_len().unwrap_or(0);
                let step = self.steps.len();
                self.slots.push(Lifetime {
                    size,
                    first: step,
                    last: step,
                });
                Storage::Slot(self.slots.len() - 1)
            }
        };
        self.storage.insert(t, s);
        s
    }

    fn lower_op(&mut self, index: usize, op: &tinyq_ir::Op) -> Result<(), LowerError> {
        let graph = self.graph;
        let [output] = op.outputs[..] else {
            return Err(LowerError::Unsupported {
                index,
                op: op.kind.name(),
                why: format!("{} outputs, expected 1", op.outputs.len()),
            });
        };
        // Reshape-like ops on arena data are free: the output aliases the input.
        if op.kind.is_reshape_like()
            && !graph.outputs.contains(&output)
            && let Some(&input) = op.inputs.first()
            && let Some(Storage::Slot(slot)) = self.storage.get(&input).copied()
        {
            self.slots[slot].last = self.steps.len();
            self.storage.insert(output, Storage::Slot(slot));
            return Ok(());
        }
        let selected = select_kernel(graph, op, index)?;
        let inputs: Vec<Storage> = selected.data_inputs.iter().map(|&t| self.read(t)).collect();
        let out = self.write(output);
        let provenance = Provenance {
            origin: Some(index),
            op: match &op.kind {
                tinyq_ir::OpKind::Lut(lut) => lut.describe(),
                kind => kind.name().to_string(),
            },
            output: graph.tensor(output).name.clone(),
            input_shapes: selected
                .data_inputs
                .iter()
                .map(|&t| graph.tensor(t).shape.clone())
                .collect(),
            output_shape: graph.tensor(output).shape.clone(),
        };
        self.steps.push(Draft {
            kernel: selected.kernel,
            inputs,
            output: out,
            provenance,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<Program, LowerError> {
        // Outputs not written by an op: graph inputs, constants or repeats.
        for (i, &t) in self.graph.outputs.clone().iter().enumerate() {
            let current = self.storage.get(&t).copied();
            if current == Some(Storage::Output(i)) {
                continue;
            }
            let source = match current {
                Some(s) => s,
                None => {
                    return Err(LowerError::ConstantOutput {
                        name: self.graph.tensor(t).name.clone(),
                    });
                }
            };
            let source = match source {
                Storage::Slot(slot) => {
                    self.slots[slot].last = self.steps.len();
                    Storage::Slot(slot)
                }
                other => other,
            };
            let tensor = self.graph.tensor(t);
            self.steps.push(Draft {
                kernel: Kernel::Copy,
                inputs: vec![source],
                output: Storage::Output(i),
                provenance: Provenance {
                    origin: None,
                    op: "COPY".to_string(),
                    output: tensor.name.clone(),
                    input_shapes: vec![tensor.shape.clone()],
                    output_shape: tensor.shape.clone(),
                },
            });
        }
        let memory = plan(&self.slots);
        let resolve = |s: Storage| match s {
            Storage::Input(i) => BufferRef::Input(i),
            Storage::Output(i) => BufferRef::Output(i),
            Storage::Const(i) => BufferRef::Const(i),
            Storage::Slot(slot) => BufferRef::Arena {
                offset: memory.offsets[slot],
                size: self.slots[slot].size,
            },
        };
        let steps = self
            .steps
            .into_iter()
            .map(|draft| Step {
                kernel: draft.kernel,
                inputs: draft.inputs.into_iter().map(resolve).collect(),
                output: resolve(draft.output),
                provenance: draft.provenance,
            })
            .collect();
        Ok(Program {
            steps,
            inputs: self.inputs,
            outputs: self.outputs,
            constants: self.constants,
            arena_size: memory.arena_size,
            arena_lower_bound: memory.lower_bound,
        })
    }
}

//! Graph → Program: kernel selection, buffer assignment and memory planning.

use std::collections::HashMap;

use tinyq_ir::program::{BufferRef, IoSpec, Provenance, Step};
use tinyq_ir::{Activation, DType, Graph, Kernel, OpId, OpKind, Program, TensorId, validate};

use crate::error::LowerError;
use crate::plan::{Lifetime, Overlap, plan_with};
use crate::select::select_kernel;

/// Where a tensor's bytes live while the Program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    Input(usize),
    Output(usize),
    Const(usize),
    /// An arena slot, placed by the planner.
    Slot(usize),
    /// `size` bytes at `offset` inside a slot: an input of a concatenation
    /// done in place, written straight into its part of the result.
    Part {
        slot: usize,
        offset: usize,
        size: usize,
    },
    /// A stateful op's state: `size` bytes at `offset` of the persistent
    /// region that starts the arena, never reused by the scratch plan.
    State {
        offset: usize,
        size: usize,
    },
}

/// The persistent region: every stateful op's state, in op order, each
/// op's block 16-byte aligned, and their bytes after a reset (TFLM's
/// `ResetVariableTensors`: an int8 tensor's zero point, else zeros). An op
/// with several state tensors (LSTM: hidden, cell) gets them back to back
/// as one block, which its step reads as one buffer, keyed by the first.
fn plan_state(graph: &Graph) -> (HashMap<TensorId, Storage>, Vec<u8>) {
    let mut storage = HashMap::new();
    let mut init = Vec::new();
    for (_, op) in graph.ops.iter() {
        let states = op.kind.state_inputs(op.inputs.len());
        let Some(tensors) = op.inputs.get(states) else {
            continue;
        };
        let Some(&first) = tensors.first() else {
            continue;
        };
        let start = init.len();
        for &t in tensors {
            let tensor = graph.tensor(t);
            let size = tensor.byte_len().unwrap_or(0);
            let fill = match (tensor.dtype, tensor.scale_zp()) {
                (DType::I8, Some((_, zp))) => zp as i8 as u8,
                _ => 0,
            };
            let offset = init.len();
            storage.insert(t, Storage::State { offset, size });
            init.resize(offset + size, fill);
        }
        let size = init.len() - start;
        storage.insert(
            first,
            Storage::State {
                offset: start,
                size,
            },
        );
        init.resize(
            init.len().next_multiple_of(tinyq_ir::verify::ARENA_ALIGN),
            0,
        );
    }
    (storage, init)
}

/// What lowering decided beyond one kernel per op, for the compile report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LowerReport {
    /// Convolutions and fully-connected layers whose input zero point went
    /// into the bias.
    pub zero_points_folded: usize,
    /// 1×1 convolutions run as matrix multiplies.
    pub pointwise_as_matmul: usize,
    /// Concatenations whose inputs are written in place (no copy step).
    pub concats_in_place: usize,
    /// Reshape-like ops that became aliases of their input (no step).
    pub reshapes_aliased: usize,
}

impl LowerReport {
    /// `lower: 3 zero points folded into biases, ...`, or `None` when
    /// lowering made no such decision.
    pub fn line(&self) -> Option<String> {
        let count = crate::passes::count;
        let mut parts = Vec::new();
        if self.zero_points_folded > 0 {
            parts.push(format!(
                "{} folded into biases",
                count(self.zero_points_folded, "input zero point")
            ));
        }
        if self.pointwise_as_matmul > 0 {
            parts.push(format!(
                "{} run as matrix multiplies",
                count(self.pointwise_as_matmul, "1x1 convolution")
            ));
        }
        if self.concats_in_place > 0 {
            parts.push(format!(
                "{} in place",
                count(self.concats_in_place, "concatenation")
            ));
        }
        if self.reshapes_aliased > 0 {
            parts.push(format!(
                "{} aliased",
                count(self.reshapes_aliased, "reshape")
            ));
        }
        (!parts.is_empty()).then(|| format!("lower: {}", parts.join(", ")))
    }
}

/// Which of lowering's exact rewrites to make. All are on by default;
/// [`LowerOptions::none`] gives the plain one-kernel-per-op Program that the
/// optimized one is tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowerOptions {
    /// The input zero point into the bias (padded convolutions too: the
    /// kernels add `w·pad_value` for an out-of-bounds tap).
    pub fold_zero_points: bool,
    /// 1×1 stride-1 unpadded convolutions as matrix multiplies.
    pub pointwise_as_matmul: bool,
    /// Concatenations whose inputs are written into the result directly.
    pub concat_in_place: bool,
    /// Outputs placed over the inputs they consume where the kernel's
    /// access order allows it ([`tinyq_ir::overlap`]).
    pub overlap_buffers: bool,
    /// Ops run in another topological order where that needs a smaller
    /// arena ([`crate::order`]; branching graphs only).
    pub reorder_ops: bool,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            fold_zero_points: true,
            pointwise_as_matmul: true,
            concat_in_place: true,
            overlap_buffers: true,
            reorder_ops: true,
        }
    }
}

impl LowerOptions {
    /// No rewrite: one kernel per op, as TFLM runs the model.
    pub fn none() -> Self {
        LowerOptions {
            fold_zero_points: false,
            pointwise_as_matmul: false,
            concat_in_place: false,
            overlap_buffers: false,
            reorder_ops: false,
        }
    }
}

/// Lowers a validated integer or float32 graph to a Program, with every exact rewrite.
pub fn lower(graph: &Graph) -> Result<Program, LowerError> {
    lower_with(graph, LowerOptions::default()).map(|(program, _)| program)
}

/// [`lower`] with a choice of rewrites, also saying what lowering decided.
pub fn lower_with(
    graph: &Graph,
    options: LowerOptions,
) -> Result<(Program, LowerReport), LowerError> {
    validate(graph)?;
    check_integer(graph)?;
    let order: Vec<OpId> = graph.ops.iter().map(|(id, _)| id).collect();
    let as_given = lower_in_order(graph, options, &order)?;
    if options.reorder_ops {
        let other = crate::order::low_memory_order(graph);
        if other != order {
            let reordered = lower_in_order(graph, options, &other)?;
            if reordered.0.arena_size < as_given.0.arena_size {
                return Ok(reordered);
            }
        }
    }
    Ok(as_given)
}

/// Lowers the ops in `order`, a topological order of `graph`'s ops: the
/// Program's steps come in that order.
fn lower_in_order(
    graph: &Graph,
    options: LowerOptions,
    order: &[OpId],
) -> Result<(Program, LowerReport), LowerError> {
    let mut lowering = Lowering::new(graph, options)?;
    for &id in order {
        let op = &graph.ops[id];
        let index = op.origin.unwrap_or(id.index());
        lowering.lower_op(id, index, op)?;
    }
    let report = lowering.report;
    Ok((lowering.finish()?, report))
}

/// Concatenations that can be done in place: the result's outer dimensions
/// (those before the axis) are all 1, so each input is one contiguous block
/// of it, and every input is computed by an op that writes only it and is
/// read by nothing else. Returns, per such input, the concatenation's result
/// and the byte offset of its block, and the concatenations themselves.
fn in_place_concats(graph: &Graph) -> (HashMap<TensorId, (TensorId, usize)>, Vec<OpId>) {
    let du = graph.def_use();
    let mut parts = HashMap::new();
    let mut concats = Vec::new();
    for (id, op) in graph.ops.iter() {
        let OpKind::Concatenation { axis, activation } = op.kind else {
            continue;
        };
        let [result] = op.outputs[..] else {
            continue;
        };
        let out = graph.tensor(result);
        let outer: usize = out.shape.iter().take(axis).product();
        if activation != Activation::None
            || outer != 1
            || out.dtype != DType::I8
            || du.is_graph_output(result)
        {
            continue;
        }
        let fits = op.inputs.iter().all(|&t| {
            let x = graph.tensor(t);
            let producer = du.producer(t).map(|p| &graph.ops[p]);
            x.dtype == out.dtype
                && x.quant == out.quant
                && du.sole_consumer(t) == Some(id)
                && op.inputs.iter().filter(|&&u| u == t).count() == 1
                && producer.is_some_and(|p| {
                    p.outputs.len() == 1
                        && !p.kind.is_reshape_like()
                        && !matches!(p.kind, OpKind::Concatenation { .. })
                })
        });
        if !fits {
            continue;
        }
        let mut offset = 0;
        for &t in &op.inputs {
            parts.insert(t, (result, offset));
            offset += graph.tensor(t).byte_len().unwrap_or(0);
        }
        concats.push(id);
    }
    (parts, concats)
}

/// The ops with a 16x8 kernel (int16 activations, int8 weights).
pub const WIDE_OPS: &[&str] = &[
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "RESHAPE",
    "SQUEEZE",
    "EXPAND_DIMS",
    "QUANTIZE (float32 to int16)",
    "DEQUANTIZE (int16 to float32)",
    "TRANSPOSE_CONV",
    "ADD",
    "SUB",
    "MUL",
    "LEAKY_RELU",
    "QUANTIZE (int16 to int16/int8, int8 to int16)",
    "PAD",
    "PADV2",
    "STRIDED_SLICE",
    "CONCATENATION",
    "RELU",
    "RELU6",
    "MAX_POOL_2D",
    "AVERAGE_POOL_2D",
    "MEAN",
    "SOFTMAX",
    "LOGISTIC",
    "TANH",
    "BATCH_MATMUL",
];

/// Whether `kind` has a 16x8 kernel ([`WIDE_OPS`]).
fn has_wide_kernel(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::Conv2D(_)
            | OpKind::DepthwiseConv2D(_)
            | OpKind::FullyConnected(_)
            | OpKind::Quantize
            | OpKind::Dequantize
            | OpKind::TransposeConv(_)
            | OpKind::Add { .. }
            | OpKind::Sub { .. }
            | OpKind::Mul { .. }
            | OpKind::LeakyRelu { .. }
            | OpKind::Pad { .. }
            | OpKind::StridedSlice(_)
            | OpKind::Concatenation { .. }
            | OpKind::Relu
            | OpKind::Relu6
            | OpKind::MaxPool2D(_)
            | OpKind::AveragePool2D(_)
            | OpKind::Mean { .. }
            | OpKind::Softmax { .. }
            | OpKind::Logistic
            | OpKind::Tanh
            | OpKind::BatchMatMul { .. }
            | OpKind::Svdf(_)
            | OpKind::Lstm(_)
    ) || kind.is_reshape_like()
}

/// Refuses int16 compute without a 16x8 kernel, with a message that says
/// what to do. Float32 ops may sit in an integer graph (quantization's
/// float fallback): they run float kernels, reached through QUANTIZE and
/// DEQUANTIZE.
fn check_integer(graph: &Graph) -> Result<(), LowerError> {
    let any_int = graph.ops.iter().any(|(_, op)| {
        op.outputs
            .iter()
            .any(|&t| matches!(graph.tensor(t).dtype, DType::I8 | DType::I16))
    });
    // A signal-library op computes in the types validation checked, a
    // plain integer op (CAST, int32 arithmetic) too.
    let typed = |op: &tinyq_ir::Op| {
        matches!(op.kind, tinyq_ir::OpKind::Signal(_))
            || crate::select_int32::is_int32_op(&crate::select::Ctx {
                graph,
                op,
                index: 0,
            })
    };
    for (id, op) in graph.ops.iter().filter(|(_, op)| !typed(op)) {
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
                DType::I16 if has_wide_kernel(&op.kind) => {}
                DType::F32 if float_io => {}
                // A float model compiles as float, a float op of a mixed graph too.
                DType::F32
                    if !any_int
                        || op.kind.is_reshape_like()
                        || crate::select_float::is_float_op(graph, op) => {}
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
    options: LowerOptions,
    /// Inputs of in-place concatenations: their result and byte offset.
    parts: HashMap<TensorId, (TensorId, usize)>,
    /// The in-place concatenations (no step of their own).
    in_place: Vec<OpId>,
    report: LowerReport,
    storage: HashMap<TensorId, Storage>,
    /// Per slot: size and the step that writes it, and the last step reading it.
    slots: Vec<Lifetime>,
    steps: Vec<Draft>,
    constants: Vec<Vec<u8>>,
    inputs: Vec<IoSpec>,
    outputs: Vec<IoSpec>,
    /// The persistent region's bytes after a reset ([`plan_state`]).
    state_init: Vec<u8>,
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
    fn new(graph: &'g Graph, options: LowerOptions) -> Result<Self, LowerError> {
        let (mut storage, state_init) = plan_state(graph);
        for (i, &t) in graph.inputs.iter().enumerate() {
            storage.insert(t, Storage::Input(i));
        }
        let inputs = graph.inputs.iter().map(|&t| io_spec(graph, t)).collect();
        let outputs = graph.outputs.iter().map(|&t| io_spec(graph, t)).collect();
        let (parts, in_place) = if options.concat_in_place {
            in_place_concats(graph)
        } else {
            Default::default()
        };
        Ok(Lowering {
            graph,
            options,
            parts,
            report: LowerReport {
                concats_in_place: in_place.len(),
                ..LowerReport::default()
            },
            in_place,
            storage,
            slots: Vec::new(),
            steps: Vec::new(),
            constants: Vec::new(),
            inputs,
            outputs,
            state_init,
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
    /// first listing of it), its block of an in-place concatenation, else a
    /// fresh arena slot.
    fn write(&mut self, t: TensorId) -> Storage {
        if let Some(&(result, offset)) = self.parts.get(&t) {
            let slot = match self.storage.get(&result) {
                Some(&Storage::Slot(slot)) => slot,
                _ => self.new_slot(result),
            };
            let size = self.graph.tensor(t).byte_len().unwrap_or(0);
            let s = Storage::Part { slot, offset, size };
            self.storage.insert(t, s);
            return s;
        }
        let s = match self.graph.outputs.iter().position(|&o| o == t) {
            Some(i) => Storage::Output(i),
            None => Storage::Slot(self.new_slot(t)),
        };
        self.storage.insert(t, s);
        s
    }

    /// A slot for `t`, live from the current step on; returns its index.
    fn new_slot(&mut self, t: TensorId) -> usize {
        let size = self.graph.tensor(t).byte_len().unwrap_or(0);
        let step = self.steps.len();
        self.slots.push(Lifetime {
            size,
            first: step,
            last: step,
        });
        let slot = self.slots.len() - 1;
        self.storage.insert(t, Storage::Slot(slot));
        slot
    }

    fn lower_op(&mut self, id: OpId, index: usize, op: &tinyq_ir::Op) -> Result<(), LowerError> {
        let graph = self.graph;
        // Its inputs already sit in their blocks of the result.
        if self.in_place.contains(&id) {
            return Ok(());
        }
        if let OpKind::Signal(signal) = &op.kind
            && signal.second_output().is_some()
        {
            return self.lower_two_outputs(index, op, signal);
        }
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
            self.report.reshapes_aliased += 1;
            return Ok(());
        }
        let selected = select_kernel(graph, op, index, self.options)?;
        if selected.folded_zero_point {
            self.report.zero_points_folded += 1;
        }
        if matches!(op.kind, OpKind::Conv2D(_))
            && matches!(selected.kernel, Kernel::FullyConnected { .. })
        {
            self.report.pointwise_as_matmul += 1;
        }
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

    /// The one place a two-output op becomes steps (a Program step has one
    /// output), each step computing one output:
    ///
    /// * SignalFftAutoScale: the int32 shift from the input, then the input
    ///   shifted by it;
    /// * SignalFilterBankSpectralSubtraction: the stateful step that
    ///   updates the noise estimate in the persistent region and writes a
    ///   copy to the second output (only a stateful step may read the
    ///   state), then the result from the input and that copy.
    ///
    /// Both outputs get storage even when nothing reads one: the second
    /// step reads the first's.
    fn lower_two_outputs(
        &mut self,
        index: usize,
        op: &tinyq_ir::Op,
        signal: &tinyq_ir::signal::SignalOp,
    ) -> Result<(), LowerError> {
        use tinyq_ir::signal::SignalOp;
        let unsupported = |why: String| LowerError::Unsupported {
            index,
            op: op.kind.name(),
            why,
        };
        let (&[first, second], Some(&input)) = (&op.outputs[..], op.inputs.first()) else {
            return Err(unsupported(format!(
                "{} outputs, expected 2",
                op.outputs.len()
            )));
        };
        // (kernel, inputs, output) of each step, in order.
        let steps = match *signal {
            SignalOp::FftAutoScale => [
                (SignalOp::FftAutoScaleBits, vec![input], second),
                (SignalOp::FftAutoScaleApply, vec![input, second], first),
            ],
            SignalOp::SpectralSubtraction(p) => {
                let state = *op
                    .inputs
                    .get(1)
                    .ok_or_else(|| unsupported("the noise estimate state is missing".into()))?;
                [
                    (SignalOp::SpectralSubtraction(p), vec![input, state], second),
                    (
                        SignalOp::SpectralSubtractionOutput(p),
                        vec![input, second],
                        first,
                    ),
                ]
            }
            _ => return Err(unsupported("no lowering for a second output".into())),
        };
        for (kernel, ins, out) in steps {
            let inputs: Vec<Storage> = ins.iter().map(|&t| self.read(t)).collect();
            let output = self.write(out);
            let graph = self.graph;
            self.steps.push(Draft {
                kernel: Kernel::Signal(kernel),
                inputs,
                output,
                provenance: Provenance {
                    origin: Some(index),
                    op: kernel.name().to_string(),
                    output: graph.tensor(out).name.clone(),
                    input_shapes: ins.iter().map(|&t| graph.tensor(t).shape.clone()).collect(),
                    output_shape: graph.tensor(out).shape.clone(),
                },
            });
        }
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
        let overlaps = self.overlaps();
        let memory = plan_with(&self.slots, &overlaps);
        // Scratch goes after the persistent state.
        let state_size = self.state_init.len();
        let resolve = |s: Storage| match s {
            Storage::Input(i) => BufferRef::Input(i),
            Storage::Output(i) => BufferRef::Output(i),
            Storage::Const(i) => BufferRef::Const(i),
            Storage::Slot(slot) => BufferRef::Arena {
                offset: state_size + memory.offsets[slot],
                size: self.slots[slot].size,
            },
            Storage::Part { slot, offset, size } => BufferRef::Arena {
                offset: state_size + memory.offsets[slot] + offset,
                size,
            },
            Storage::State { offset, size } => BufferRef::Arena { offset, size },
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
            arena_size: state_size + memory.arena_size,
            arena_lower_bound: state_size + memory.lower_bound,
            arena_overlap_bound: state_size + memory.overlap_bound,
            state_size,
            state_init: self.state_init,
        })
    }

    /// Steps whose output may share bytes with an input: the kernel
    /// declares an access order for that input that allows it
    /// ([`tinyq_ir::overlap`]), both are whole arena slots, the step is the
    /// input's last reader and reads it as no other operand.
    fn overlaps(&self) -> Vec<Overlap> {
        if !self.options.overlap_buffers {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (index, draft) in self.steps.iter().enumerate() {
            let Storage::Slot(output) = draft.output else {
                continue;
            };
            for (k, storage) in draft.inputs.iter().enumerate() {
                let &Storage::Slot(input) = storage else {
                    continue;
                };
                let read_once = draft.inputs.iter().filter(|&s| s == storage).count() == 1;
                let (i, o) = (self.slots[input], self.slots[output]);
                if !read_once || input == output || i.last != index || o.first != index {
                    continue;
                }
                if let Some(access) = tinyq_ir::overlap::access(&draft.kernel, k)
                    .and_then(|a| a.sized(i.size, o.size))
                {
                    out.push(Overlap::new(input, output, access));
                }
            }
        }
        out
    }
}

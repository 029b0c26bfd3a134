//! Which tensors share quantization parameters, as the TF converter's MLIR
//! quantizer decides it:
//!
//! 1. `RemoveRedundantStatsOps`: the calibrated range of a fixed-range op's
//!    output is dropped; a single-input same-scale op's output takes its
//!    input's range (forward); a kept range then climbs back through every
//!    same-scale producer (concat, maximum, reshape...) to the ranges
//!    behind it (backward).
//! 2. `QuantizationDriver`: a work stack seeded with every constant, then
//!    every op in order (popped from the back), propagates parameters
//!    through same-scale ops and sets fixed output ranges; where a tensor
//!    already has different parameters, a requantization is recorded.
//!
//! The result is one `(scale, zero_point)` per activation tensor and
//! non-weight constant, plus the requantizations to insert.

use std::collections::HashSet;

use tinyq_ir::{DType, Graph, OpKind, TensorId};

use crate::calibrate::Ranges;
use crate::error::QuantError;
use crate::params::Activations;

/// `(scale, zero_point)` of a per-tensor int8 (or int16) quantization.
pub type Params = (f32, i64);

/// Output parameters fixed by the op (spec §1): SOFTMAX and LOGISTIC
/// (1/256, -128), TANH (1/128, 0); with int16 activations all three
/// (1/32768, 0), as the converter writes them.
pub fn fixed_output(kind: &OpKind, activations: Activations) -> Option<Params> {
    let wide = activations == Activations::Int16;
    match kind {
        OpKind::Softmax { .. } | OpKind::Logistic | OpKind::Tanh if wide => {
            Some((1.0 / 32768.0, 0))
        }
        OpKind::Softmax { .. } | OpKind::Logistic => Some((1.0 / 256.0, -128)),
        OpKind::Tanh => Some((1.0 / 128.0, 0)),
        _ => None,
    }
}

/// Ops whose inputs and output must share parameters
/// (`SameOperandsAndResultsScale` in the TFL dialect).
pub fn is_same_scale(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::MaxPool2D(_)
            | OpKind::AveragePool2D(_)
            | OpKind::Concatenation { .. }
            | OpKind::Reshape
            | OpKind::Squeeze
            | OpKind::ExpandDims
            | OpKind::Transpose { .. }
            | OpKind::SpaceToDepth { .. }
            | OpKind::DepthToSpace { .. }
            | OpKind::Gather { .. }
            | OpKind::StridedSlice(_)
            | OpKind::Pad { .. }
            | OpKind::Maximum
            | OpKind::Minimum
            | OpKind::ResizeBilinear(_)
            | OpKind::ResizeNearestNeighbor(_)
    )
}

/// CONCATENATION with int16 activations follows the converter's older rule
/// (its 16x8 quantizer): the output keeps its own calibrated range, nothing
/// climbs back to the inputs, and each input whose parameters differ is
/// requantized by a QUANTIZE placed just before the op.
pub fn requantizes_inputs(kind: &OpKind, activations: Activations) -> bool {
    activations == Activations::Int16 && matches!(kind, OpKind::Concatenation { .. })
}

/// Operands the TFLite op has that tinyq folded into attributes (shape,
/// axis, perm, paddings, slice bounds): they count in the driver's
/// "exactly one operand" rules.
fn folded_operands(kind: &OpKind) -> usize {
    match kind {
        OpKind::Reshape
        | OpKind::ExpandDims
        | OpKind::Transpose { .. }
        | OpKind::Pad { .. }
        | OpKind::Gather { .. } => 1,
        OpKind::Mean { .. } => 1,
        // The constant size; TRANSPOSE_CONV's output shape.
        OpKind::ResizeBilinear(_) | OpKind::ResizeNearestNeighbor(_) | OpKind::TransposeConv(_) => {
            1
        }
        OpKind::StridedSlice(_) => 3,
        _ => 0,
    }
}

/// Inputs read as weights (1) or bias (2) by conv-like ops, PRELU's
/// alpha (1), which the converter quantizes as symmetric per-tensor weights,
/// and an LSTM's gate weights and biases ([`crate::lstm`]).
pub fn is_weight_operand(kind: &OpKind, operand: usize) -> bool {
    match kind {
        OpKind::Conv2D(_)
        | OpKind::DepthwiseConv2D(_)
        | OpKind::FullyConnected(_)
        | OpKind::TransposeConv(_) => operand == 1 || operand == 2,
        OpKind::Prelu => operand == 1,
        OpKind::Lstm(_) => crate::lstm::is_constant_operand(operand),
        _ => false,
    }
}

/// A requantized copy of a tensor for some readers:
/// `(tensor, params, [(op index, operand index)])`.
pub type InputRequant = (TensorId, Params, Vec<(usize, usize)>);

/// Parameters of every tensor and the requantizations to insert.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Per tensor index; `None` for weights, biases and non-float tensors.
    pub params: Vec<Option<Params>>,
    /// Requantizations of a tensor read by particular ops:
    /// `(tensor, params, [(op index, operand index)])`.
    pub on_input: Vec<InputRequant>,
    /// Requantizations emitted just before their one reader, last operand
    /// first (see [`requantizes_inputs`]), instead of after the producer.
    pub before_reader: Vec<InputRequant>,
    /// Requantizations of an op's output seen by all its readers.
    pub on_output: Vec<(TensorId, Params)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Item {
    Const(usize),
    Op(usize),
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    params: Option<Params>,
    immutable: bool,
}

struct Driver<'g> {
    graph: &'g Graph,
    activations: Activations,
    ops: Vec<&'g tinyq_ir::Op>,
    states: Vec<State>,
    producer: Vec<Option<usize>>,
    users: Vec<Vec<usize>>,
    stack: Vec<Item>,
    done: HashSet<Item>,
    plan: Plan,
    /// Per op: quantized (`false`: it stays float32 and constrains nothing).
    int8_op: Vec<bool>,
}

/// Computes the plan from the calibrated `ranges` for `activations`.
pub fn plan(graph: &Graph, ranges: &Ranges, activations: Activations) -> Result<Plan, QuantError> {
    plan_mixed(graph, ranges, &[], activations)
}

/// [`plan`] for a graph whose ops marked in `float` stay float32: they
/// constrain nothing (no same scale, no fixed output), so the int8 tensors
/// around them keep their own calibrated ranges.
pub fn plan_mixed(
    graph: &Graph,
    ranges: &Ranges,
    float: &[bool],
    activations: Activations,
) -> Result<Plan, QuantError> {
    let is_float = |i: usize| float.get(i).copied().unwrap_or(false);
    let ops: Vec<_> = graph.ops.iter().map(|(_, op)| op).collect();
    let n = graph.tensors.len();
    let mut producer = vec![None; n];
    let mut users = vec![Vec::new(); n];
    for (i, op) in ops.iter().enumerate() {
        for &t in &op.outputs {
            producer[t.index()] = Some(i);
        }
        for &t in &op.inputs {
            if !users[t.index()].contains(&i) {
                users[t.index()].push(i);
            }
        }
    }
    let is_activation = |t: usize| {
        let tensor = &graph.tensors[TensorId::from_index(t)];
        !tensor.is_const() && tensor.dtype == DType::F32
    };
    let has_stats: Vec<bool> = (0..n)
        .map(|t| is_activation(t) && ranges.get(t).is_some_and(Option::is_some))
        .collect();
    let int8_op: Vec<bool> = (0..ops.len()).map(|i| !is_float(i)).collect();
    let redundant = redundant_stats(&ops, &int8_op, &producer, &users, &has_stats, activations);

    let mut states = vec![State::default(); n];
    for t in 0..n {
        if let (true, false, Some(Some((lo, hi)))) = (has_stats[t], redundant[t], ranges.get(t)) {
            states[t] = State {
                params: Some(activations.params(*lo, *hi)),
                immutable: true,
            };
        }
    }
    // Seed: constants (MLIR hoists them to the top), then ops in order.
    let mut stack = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        for (k, &t) in op.inputs.iter().enumerate() {
            let tensor = graph.tensor(t);
            let item = Item::Const(t.index());
            if tensor.is_const()
                && int8_op[i]
                && tensor.dtype == DType::F32
                && !is_weight_operand(&op.kind, k)
                && !stack.contains(&item)
            {
                stack.push(item);
            }
        }
    }
    stack.extend((0..ops.len()).map(Item::Op));
    let mut driver = Driver {
        graph,
        activations,
        ops,
        states,
        producer,
        users,
        stack,
        done: HashSet::new(),
        plan: Plan::default(),
        int8_op,
    };
    driver.run()?;
    let mut plan = driver.plan;
    plan.params = driver.states.iter().map(|s| s.params).collect();
    // Anything left without parameters falls back to its own range.
    for t in 0..n {
        if plan.params[t].is_none() && is_activation(t) {
            match ranges.get(t).copied().flatten() {
                Some((lo, hi)) => plan.params[t] = Some(activations.params(lo, hi)),
                None => {
                    return Err(QuantError::Tensor {
                        name: graph.tensors[TensorId::from_index(t)].name.clone(),
                        why: "no calibration range was observed (the tensor is never computed)"
                            .into(),
                    });
                }
            }
        }
    }
    Ok(plan)
}

/// `RemoveRedundantStatsOps`: which calibrated ranges are dropped.
fn redundant_stats(
    ops: &[&tinyq_ir::Op],
    int8_op: &[bool],
    producer: &[Option<usize>],
    users: &[Vec<usize>],
    has_stats: &[bool],
    activations: Activations,
) -> Vec<bool> {
    let n = has_stats.len();
    let mut redundant = vec![false; n];
    let float_operands = |op: &tinyq_ir::Op| op.inputs.len();
    // Forward.
    let mut work: Vec<usize> = (0..n).filter(|&t| has_stats[t]).collect();
    while let Some(t) = work.pop() {
        if producer[t]
            .is_some_and(|p| int8_op[p] && fixed_output(&ops[p].kind, activations).is_some())
        {
            redundant[t] = true;
        }
        for &u in &users[t] {
            let op = ops[u];
            if int8_op[u] && is_same_scale(&op.kind) && float_operands(op) <= 1 {
                for &r in &op.outputs {
                    if has_stats[r.index()] && !redundant[r.index()] {
                        redundant[r.index()] = true;
                        work.push(r.index());
                    }
                }
            }
        }
    }
    // Backward: from every range the forward pass kept, up through every
    // same-scale producer, as far as it goes: also through ranges the
    // forward pass already dropped (a CONCATENATION's scale reaches the
    // convolutions behind the RESHAPEs that feed it).
    let mut work: Vec<usize> = (0..n).filter(|&t| has_stats[t] && !redundant[t]).collect();
    let mut walked = vec![false; n];
    while let Some(t) = work.pop() {
        let Some(p) = producer[t] else { continue };
        let op = ops[p];
        if int8_op[p] && is_same_scale(&op.kind) && !requantizes_inputs(&op.kind, activations) {
            for &i in &op.inputs {
                if has_stats[i.index()] && !walked[i.index()] {
                    redundant[i.index()] = true;
                    walked[i.index()] = true;
                    work.push(i.index());
                }
            }
        }
    }
    redundant
}

impl Driver<'_> {
    fn run(&mut self) -> Result<(), QuantError> {
        while let Some(item) = self.stack.pop() {
            if !self.done.insert(item) {
                continue;
            }
            match item {
                Item::Const(t) => {
                    if self.states[t].params.is_none() {
                        let tensor = &self.graph.tensors[TensorId::from_index(t)];
                        let values = tensor.const_f32().ok_or_else(|| QuantError::Tensor {
                            name: tensor.name.clone(),
                            why: "constant is not float32".into(),
                        })?;
                        let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
                        let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let (lo, hi) = if lo <= hi { (lo, hi) } else { (0.0, 0.0) };
                        self.states[t].params = Some(self.activations.params(lo, hi));
                        let users = self.users[t].clone();
                        self.stack.extend(users.into_iter().map(Item::Op));
                    }
                }
                Item::Op(i) => self.visit_op(i),
            }
        }
        Ok(())
    }

    fn visit_op(&mut self, i: usize) {
        if !self.int8_op[i] {
            return;
        }
        let op = self.ops[i];
        if is_same_scale(&op.kind) {
            let Some(params) = self.same_scale_params(i) else {
                self.done.remove(&Item::Op(i));
                return;
            };
            for k in 0..op.inputs.len() {
                self.set_operand(i, k, params);
            }
            for &r in &op.outputs {
                self.set_result(r, params);
            }
        }
        if let Some(params) = fixed_output(&op.kind, self.activations) {
            for &r in &op.outputs {
                self.set_result(r, params);
            }
        }
    }

    /// `GetQuantParamsForSameScaleConstraint`.
    fn same_scale_params(&self, i: usize) -> Option<Params> {
        let op = self.ops[i];
        let mut immutable = Vec::new();
        let mut mutable = Vec::new();
        for &t in &op.inputs {
            let s = self.states[t.index()];
            match (s.immutable, s.params) {
                (true, Some(p)) => immutable.push(p),
                (false, Some(p)) => mutable.push(p),
                _ => {}
            }
        }
        let (imm_ops, mut_ops) = (immutable.len(), mutable.len());
        let num_operands = op.inputs.len() + folded_operands(&op.kind);
        if num_operands == 1 && imm_ops == 1 {
            return immutable.first().copied();
        }
        for &t in &op.outputs {
            let s = self.states[t.index()];
            match (s.immutable, s.params) {
                (true, Some(p)) => immutable.push(p),
                (false, Some(p)) => mutable.push(p),
                _ => {}
            }
        }
        let num_results = op.outputs.len();
        if num_results == 1 && immutable.len() - imm_ops == 1 {
            return immutable.last().copied();
        }
        if let Some(&p) = immutable.first() {
            return Some(p);
        }
        if num_operands == 1 && mut_ops == 1 {
            return mutable.first().copied();
        }
        if num_results == 1 && mutable.len() - mut_ops == 1 {
            return mutable.last().copied();
        }
        mutable.first().copied()
    }

    fn set_operand(&mut self, i: usize, k: usize, params: Params) {
        let t = self.ops[i].inputs[k];
        let state = &mut self.states[t.index()];
        if state.params == Some(params) {
            return;
        }
        if state.params.is_some() {
            let requants = if requantizes_inputs(&self.ops[i].kind, self.activations) {
                &mut self.plan.before_reader
            } else {
                &mut self.plan.on_input
            };
            match requants
                .iter_mut()
                .find(|(rt, rp, _)| *rt == t && *rp == params)
            {
                Some((_, _, readers)) => readers.push((i, k)),
                None => requants.push((t, params, vec![(i, k)])),
            }
            return;
        }
        state.params = Some(params);
        if self.graph.tensor(t).is_const() {
            self.stack.push(Item::Const(t.index()));
        } else if let Some(p) = self.producer[t.index()] {
            self.stack.push(Item::Op(p));
        }
    }

    fn set_result(&mut self, t: TensorId, params: Params) {
        let state = &mut self.states[t.index()];
        if state.params == Some(params) {
            return;
        }
        if state.params.is_some() {
            self.plan.on_output.push((t, params));
            return;
        }
        state.params = Some(params);
        let users = self.users[t.index()].clone();
        self.stack.extend(users.into_iter().map(Item::Op));
    }
}

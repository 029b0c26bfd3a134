//! The reader's driver: subgraph 0 to a validated [`Graph`].
//!
//! 1. read operator codes, the subgraph's I/O and operators, checking every
//!    index;
//! 2. convert every tensor an op or the I/O refers to;
//! 3. fold constant shape arithmetic ([`crate::fold`]);
//! 4. map the remaining ops ([`crate::ops`]);
//! 5. keep only the tensors the result uses, and validate.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};

use tinyq_ir::{DType, Graph, Op, Tensor, TensorId};

use crate::error::ReadError;
use crate::fold::{self, FoldOp};
use crate::limits::{Budget, MAX_COUNT, MAX_FOLD_ELEMENTS};
use crate::ops::{self, RawOp};
use crate::schema::{self, Ctx, fb};
use crate::support;
use crate::tensors::{self, Buffers};

/// Reads subgraph 0 of `model`, whose bytes are `file`.
pub(crate) fn import(file: &[u8], model: &fb::ModelRef<'_>) -> Result<Graph, ReadError> {
    let budget = Budget::for_file(file.len());
    let codes = schema::operator_codes(model, &budget)?;
    let subgraphs = model
        .subgraphs()
        .ctx(|| "Model.subgraphs".into())?
        .ok_or(ReadError::NoSubgraph)?;
    let sg = subgraphs
        .get(0)
        .ok_or(ReadError::NoSubgraph)?
        .ctx(|| "subgraph 0".into())?;
    let fb_tensors = sg.tensors().ctx(|| "subgraph 0 tensors".into())?;
    let count = fb_tensors.map_or(0, |t| t.len());
    if count > MAX_COUNT {
        return Err(ReadError::Limit(format!(
            "subgraph 0 has {count} tensors, more than {MAX_COUNT}"
        )));
    }
    let buffers = Buffers {
        file,
        buffers: model.buffers().ctx(|| "Model.buffers".into())?,
        budget: &budget,
    };

    let io = |v: Option<planus::Vector<'_, i32>>, what: &str| -> Result<Vec<usize>, ReadError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        v.iter()
            .enumerate()
            .map(|(i, t)| tensor_index(t, count, || format!("subgraph {what} {i}")))
            .collect()
    };
    let inputs = io(sg.inputs().ctx(|| "subgraph 0 inputs".into())?, "input")?;
    let outputs = io(sg.outputs().ctx(|| "subgraph 0 outputs".into())?, "output")?;
    let raw = raw_ops(&sg, &codes, count, &budget)?;
    // An op tinyq cannot read is the first thing to say, before anything
    // about the tensors it uses (an LSTM's state, an int16 gate).
    if let Some(op) = raw.iter().find(|op| !readable(op)) {
        return Err(ReadError::UnsupportedOp {
            index: op.index,
            name: op.code.name(),
            supported: support::supported_list(),
        });
    }

    let mut table = load_tensors(&raw, &inputs, &outputs, fb_tensors, &buffers)?;

    let removed = fold_constants(&raw, &mut table, &budget)?;

    let mut mapped = Vec::with_capacity(raw.len());
    for (op, _) in raw.iter().zip(&removed).filter(|(_, r)| !**r) {
        let m = ops::map(op, &table)?;
        mapped.push((op, m));
    }

    let graph = assemble(table, &inputs, &outputs, mapped);
    tinyq_ir::validate(&graph)?;
    Ok(graph)
}

/// True when the reader maps or folds ops of this kind.
fn readable(op: &RawOp<'_>) -> bool {
    fb::BuiltinOperator::try_from(op.code.code).is_ok_and(support::is_readable)
        || ops::signal_code(op).is_some()
}

/// Converts every tensor an op or the subgraph I/O refers to, by file index.
/// A tensor an op uses is converted in that op's name, so that an error
/// names the op first.
fn load_tensors(
    raw: &[RawOp<'_>],
    inputs: &[usize],
    outputs: &[usize],
    fb_tensors: Option<planus::Vector<'_, planus::Result<fb::TensorRef<'_>>>>,
    buffers: &Buffers<'_>,
) -> Result<BTreeMap<usize, Tensor>, ReadError> {
    let mut table = BTreeMap::new();
    let Some(fb_tensors) = fb_tensors else {
        return Ok(table); // no tensors: every index was already refused
    };
    let mut load = |idx: usize, state: bool| -> Result<(), ReadError> {
        if table.contains_key(&idx) {
            // A state read twice is refused by the validator, naming the op.
            return Ok(());
        }
        let t = fb_tensors
            .get(idx)
            .ok_or_else(|| ReadError::Malformed {
                context: format!("tensor {idx}"),
                detail: "missing from the tensor vector".into(),
            })?
            .ctx(|| format!("tensor {idx}"))?;
        table.insert(idx, tensors::convert(buffers, &t, idx, state)?);
        Ok(())
    };
    for op in raw {
        let inputs = op
            .inputs
            .iter()
            .enumerate()
            .map(|(k, i)| (*i, ops::is_state_input(op, k)));
        let outputs = op.outputs.iter().map(|&i| (Some(i), false));
        for (idx, is_state) in inputs.chain(outputs) {
            let Some(idx) = idx else { continue };
            load(idx, is_state).map_err(|e| {
                // A broken file is about the file, not about this op.
                if e.is_structural() {
                    return e;
                }
                ReadError::InOp {
                    index: op.index,
                    kind: op.code.static_name(),
                    source: Box::new(e),
                }
            })?;
        }
    }
    for &idx in inputs.iter().chain(outputs) {
        load(idx, false)?;
    }
    Ok(table)
}

/// Builds the Graph from the mapped ops, keeping only the tensors they and
/// the I/O use, in file order.
fn assemble(
    mut table: BTreeMap<usize, Tensor>,
    inputs: &[usize],
    outputs: &[usize],
    mapped: Vec<(&RawOp<'_>, ops::Mapped)>,
) -> Graph {
    let mut used: BTreeSet<usize> = inputs.iter().chain(outputs).copied().collect();
    for (op, m) in &mapped {
        used.extend(&m.inputs);
        used.extend(&op.outputs);
    }
    let mut graph = Graph::new();
    let mut handles: BTreeMap<usize, TensorId> = BTreeMap::new();
    for idx in used {
        if let Some(t) = table.remove(&idx) {
            handles.insert(idx, graph.tensors.push(t));
        }
    }
    // Every used index was referenced, hence loaded; were one not, the
    // dangling handle would fail validation rather than panic.
    let h = |idx: &usize| {
        handles
            .get(idx)
            .copied()
            .unwrap_or(TensorId::from_index(usize::MAX))
    };
    graph.inputs = inputs.iter().map(h).collect();
    graph.outputs = outputs.iter().map(h).collect();
    for (op, m) in mapped {
        let mut inputs: Vec<TensorId> = m.inputs.iter().map(h).collect();
        if let Some(bias) = m.zero_bias {
            inputs.push(graph.tensors.push(bias));
        }
        graph.ops.push(Op {
            kind: m.kind,
            inputs,
            outputs: op.outputs.iter().map(h).collect(),
            origin: Some(op.index),
        });
    }
    graph
}

/// A tensor index from the file, checked against the subgraph's tensor count.
fn tensor_index(raw: i32, count: usize, at: impl FnOnce() -> String) -> Result<usize, ReadError> {
    usize::try_from(raw)
        .ok()
        .filter(|&i| i < count)
        .ok_or_else(|| ReadError::TensorIndex {
            at: at(),
            index: i64::from(raw),
            count,
        })
}

/// Reads the operators of `sg`, checking opcode and tensor indices.
fn raw_ops<'a>(
    sg: &fb::SubGraphRef<'a>,
    codes: &[schema::OperatorCode],
    count: usize,
    budget: &Budget,
) -> Result<Vec<RawOp<'a>>, ReadError> {
    let Some(fb_ops) = sg.operators().ctx(|| "subgraph 0 operators".into())? else {
        return Ok(Vec::new());
    };
    if fb_ops.len() > MAX_COUNT {
        return Err(ReadError::Limit(format!(
            "subgraph 0 has {} operators, more than {MAX_COUNT}",
            fb_ops.len()
        )));
    }
    let mut raw = Vec::with_capacity(fb_ops.len());
    for (index, op) in fb_ops.iter().enumerate() {
        let at = || format!("op #{index}");
        let op = op.ctx(at)?;
        let opcode = op.opcode_index().ctx(at)?;
        let code = usize::try_from(opcode)
            .ok()
            .and_then(|i| codes.get(i))
            .ok_or(ReadError::OpcodeIndex {
                op: index,
                index: opcode,
                count: codes.len(),
            })?
            .clone();
        let name = code.static_name();
        let fb_inputs = op.inputs().ctx(at)?;
        let fb_outputs = op.outputs().ctx(at)?;
        // Several operators may share one (long) index vector: charge copies.
        let n = fb_inputs.map_or(0, |v| v.len()) + fb_outputs.map_or(0, |v| v.len());
        budget.charge(size_of::<RawOp<'_>>() + n * size_of::<Option<usize>>(), at)?;
        let mut inputs = Vec::new();
        if let Some(v) = fb_inputs {
            for (i, t) in v.iter().enumerate() {
                // -1 marks an absent optional input (e.g. no bias).
                inputs.push(if t == -1 {
                    None
                } else {
                    Some(tensor_index(t, count, || {
                        format!("op #{index} ({name}) input {i}")
                    })?)
                });
            }
        }
        let mut outputs = Vec::new();
        if let Some(v) = fb_outputs {
            for (i, t) in v.iter().enumerate() {
                outputs.push(tensor_index(t, count, || {
                    format!("op #{index} ({name}) output {i}")
                })?);
            }
        }
        raw.push(RawOp {
            index,
            code,
            inputs,
            outputs,
            fb: op,
        });
    }
    Ok(raw)
}

/// A DEQUANTIZE of a float16 constant (how converters store float16
/// weights): the constant was widened to float32 at load, exactly as the
/// runtime's DEQUANTIZE computes it, so the output takes its data and the op
/// goes. Returns whether it did.
fn widen_dequantized(op: &RawOp<'_>, out_idx: usize, table: &mut BTreeMap<usize, Tensor>) -> bool {
    let [Some(in_idx)] = op.inputs[..] else {
        return false;
    };
    let Some(data) = table
        .get(&in_idx)
        .filter(|t| t.dtype == DType::F32)
        .and_then(|t| t.data.clone())
    else {
        return false;
    };
    match table.get_mut(&out_idx) {
        Some(out)
            if out.dtype == DType::F32
                && !out.is_const()
                && out.num_elements().map(|n| n * 4) == Some(data.len()) =>
        {
            out.data = Some(data);
            true
        }
        _ => false,
    }
}

/// Folds constant int32/int64 shape arithmetic in execution order: each
/// folded op's output tensor receives the value as constant data, and the
/// op is marked removed (the returned flags, by op position).
fn fold_constants(
    raw: &[RawOp<'_>],
    table: &mut BTreeMap<usize, Tensor>,
    budget: &Budget,
) -> Result<Vec<bool>, ReadError> {
    let mut removed = vec![false; raw.len()];
    for (op, removed) in raw.iter().zip(&mut removed) {
        let Ok(code) = fb::BuiltinOperator::try_from(op.code.code) else {
            continue;
        };
        let [out_idx] = op.outputs[..] else { continue };
        if code == fb::BuiltinOperator::Dequantize {
            *removed = widen_dequantized(op, out_idx, table);
            continue;
        }
        if !fold::is_foldable_kind(code) {
            continue;
        }
        let Some(output) = table.get(&out_idx) else {
            continue;
        };
        if output.is_const() || !matches!(output.dtype, DType::I32 | DType::I64) {
            continue; // (an op writing a constant: the validator will say so)
        }
        // The evaluator decodes its constant inputs: bound that work.
        let const_elems = op
            .inputs
            .iter()
            .flatten()
            .filter_map(|i| table.get(i))
            .filter(|t| t.is_const())
            .map(|t| t.num_elements().unwrap_or(usize::MAX))
            .fold(0usize, usize::saturating_add);
        if const_elems > MAX_FOLD_ELEMENTS {
            continue;
        }
        budget.charge(const_elems * 8, || format!("folding op #{}", op.index))?;
        // Options we cannot read simply leave the op unfolded; the op
        // mapping reports them if the op survives.
        let options = op.fb.builtin_options().ok().flatten();
        let inputs = op
            .inputs
            .iter()
            .map(|i| i.and_then(|i| table.get(&i)))
            .collect();
        let fold_op = FoldOp {
            code,
            inputs,
            output,
            options,
        };
        let err = |why: String| ReadError::InvalidOp {
            index: op.index,
            kind: op.code.static_name(),
            why,
        };
        let Some(value) = fold::fold(&fold_op).map_err(err)? else {
            continue;
        };
        let bytes = value
            .encode(output.dtype)
            .ok_or_else(|| err(format!("a folded value does not fit {}", output.dtype)))?;
        budget.charge(bytes.len(), || format!("folding op #{}", op.index))?;
        if let Some(out) = table.get_mut(&out_idx) {
            out.data = Some(bytes);
        }
        *removed = true;
    }
    Ok(removed)
}

//! The TF converter's full-integer UNIDIRECTIONAL_SEQUENCE_LSTM (the
//! standard Keras LSTM; TFLM's 8x8→16 integer kernel), every rule in one
//! place. Checked against the converter's files of the `lstm_int8` and
//! `lstm_stack_int8` fixtures (`tests/converter_match.rs`):
//!
//! * data input and output: int8 from their calibrated ranges, as any
//!   activation; the calibrator streams the samples through the state (it
//!   never resets it), so the ranges are those of one long stream;
//! * the hidden state (input 18 of the file, 13 of the op here) shares the
//!   output's parameters: the converter's driver gives the stateful operand
//!   and the result one state, over both calibrated ranges;
//! * the cell state (input 19, here 14): int16, zero point 0, scale
//!   `2^ceil(log2(m)) / 32768`, `m` its largest calibrated magnitude
//!   (`PowerOfTwoBound`), so TFLM's integer tanh can take its exponent;
//! * the 8 gate weights: int8 symmetric per tensor, narrow range;
//! * the 4 gate biases: int32 with scale `input_scale · w_scale`, `w_scale`
//!   the gate's input weights' scale.
//!
//! The converter's intermediate tensors (the layer-norm ones, absent for
//! this LSTM, and `effective_hidden_scale_intermediate`, the output's
//! parameters) are written by `tinyq_tflite::write`; TFLM's kernel ignores
//! them.

use tinyq_ir::{Graph, OpKind, TensorId};

use crate::calibrate::Ranges;
use crate::error::QuantError;
use crate::params::{self, Activations};
use crate::propagate::{Params, Plan};

/// The op's operands: the hidden and the cell state.
pub const HIDDEN: usize = 13;
pub const CELL: usize = 14;

/// The gate weights (1..=8) and biases (9..=12).
pub fn is_constant_operand(operand: usize) -> bool {
    (1..=12).contains(&operand)
}

/// The LSTM ops of `graph` that are quantized (not kept float).
fn lstms<'g>(
    graph: &'g Graph,
    float: &'g [bool],
) -> impl Iterator<Item = (usize, &'g tinyq_ir::Op)> {
    graph
        .ops
        .iter()
        .enumerate()
        .map(|(i, (_, op))| (i, op))
        .filter(move |(i, op)| {
            matches!(op.kind, OpKind::Lstm(_)) && !float.get(*i).copied().unwrap_or(false)
        })
}

/// Refuses what the integer LSTM cannot be: 16x8 (tinyq's integer LSTM is
/// TFLM's 8x8→16 one) and an LSTM kept in float32 inside a quantized model.
pub fn check(graph: &Graph, activations: Activations, float: &[bool]) -> Result<(), QuantError> {
    for (i, (_, op)) in graph.ops.iter().enumerate() {
        if !matches!(op.kind, OpKind::Lstm(_)) {
            continue;
        }
        let why = if float.get(i).copied().unwrap_or(false) {
            "an LSTM cannot stay float32 in a quantized model (its state would need a float \
             copy); quantize it, or compile the float model without --calibration"
        } else if activations == Activations::Int16 {
            "tinyq's integer LSTM takes int8 activations with an int16 cell state (TFLM's \
             8x8->16 kernel); quantize with --activations int8"
        } else {
            continue;
        };
        return Err(QuantError::Unsupported {
            index: op.origin.unwrap_or(i),
            op: op.kind.name(),
            why: why.into(),
        });
    }
    Ok(())
}

/// The calibrated ranges with each LSTM's output and hidden state joined:
/// the converter quantizes both with one set of parameters.
pub fn joined_ranges(graph: &Graph, ranges: &Ranges, float: &[bool]) -> Ranges {
    let mut ranges = ranges.clone();
    for (_, op) in lstms(graph, float) {
        let (Some(&out), Some(&hidden)) = (op.outputs.first(), op.inputs.get(HIDDEN)) else {
            continue;
        };
        let get = |t: TensorId| ranges.get(t.index()).copied().flatten();
        let joined = match (get(out), get(hidden)) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (one, other) => one.or(other),
        };
        for t in [out, hidden] {
            if let Some(slot) = ranges.get_mut(t.index()) {
                *slot = joined;
            }
        }
    }
    ranges
}

/// Sets each LSTM's state parameters in `plan`: the hidden state takes
/// what the op writes to its output, the cell state its power-of-two
/// int16 parameters.
pub fn set_state_params(
    graph: &Graph,
    ranges: &Ranges,
    float: &[bool],
    plan: &mut Plan,
) -> Result<(), QuantError> {
    for (_, op) in lstms(graph, float) {
        let (out, hidden, cell) = (op.outputs[0], op.inputs[HIDDEN], op.inputs[CELL]);
        let produced = plan
            .on_output
            .iter()
            .find(|(t, _)| *t == out)
            .map(|&(_, p)| p)
            .or(plan.params[out.index()]);
        plan.params[hidden.index()] = produced;
        let (lo, hi) =
            ranges
                .get(cell.index())
                .copied()
                .flatten()
                .ok_or_else(|| QuantError::Tensor {
                    name: graph.tensor(cell).name.clone(),
                    why: "the LSTM's cell state has no calibration range".into(),
                })?;
        plan.params[cell.index()] = Some(cell_state_params(lo, hi));
    }
    Ok(())
}

/// The cell states of the quantized LSTMs (int16 tensors).
pub fn cell_states(graph: &Graph, float: &[bool]) -> Vec<TensorId> {
    lstms(graph, float).map(|(_, op)| op.inputs[CELL]).collect()
}

/// The cell state's int16 parameters from its calibrated range: the
/// converter's `PowerOfTwoBound` of the largest magnitude over 32768. A
/// state that stayed 0 (nothing to measure) gets the bound 1.
pub fn cell_state_params(lo: f32, hi: f32) -> Params {
    let m = f64::from(lo.min(0.0)).abs().max(f64::from(hi.max(0.0)));
    let bound = if m > 0.0 && m.is_finite() {
        m.log2().ceil().exp2()
    } else {
        1.0
    };
    ((bound / 32768.0) as f32, 0)
}

/// A gate's weights: int8 symmetric per tensor, narrow range.
pub fn gate_weights(values: &[f32]) -> (Vec<i8>, f32) {
    params::quantize_weights_per_tensor(values)
}

/// A gate's bias: int32 at `input_scale · weight_scale`, little-endian
/// bytes, and that scale.
pub fn gate_bias(values: &[f32], input_scale: f32, weight_scale: f32) -> (Vec<u8>, f32) {
    let scale = params::bias_scale(input_scale, weight_scale);
    let bytes = values
        .iter()
        .flat_map(|&v| params::quantize_bias(v, scale).to_le_bytes())
        .collect();
    (bytes, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_scale_is_the_power_of_two_above_the_largest_magnitude() {
        // lstm_int8's calibrated cell range: 2^2 / 32768.
        assert_eq!(
            cell_state_params(-2.282_490_3, 3.738_883_3),
            (1.0 / 8192.0, 0)
        );
        // The converter's own test: [-2.73, 7.95] gives 2.44140625e-4.
        assert_eq!(
            cell_state_params(-2.730_906, 7.948_721),
            (2.441_406_3e-4, 0)
        );
        assert_eq!(cell_state_params(-4.0, 1.0), (4.0 / 32768.0, 0));
        assert_eq!(cell_state_params(0.0, 0.3), (0.5 / 32768.0, 0));
        assert_eq!(cell_state_params(0.0, 0.0), (1.0 / 32768.0, 0));
    }
}

//! UNIDIRECTIONAL_SEQUENCE_LSTM in float, through the `tinyq_kernels::lstm`
//! kernel (TFLM's order), its state carried between samples by the caller.

use ndarray::ArrayD;
use tinyq_kernels::lstm::{LstmParams, lstm_f32};

use super::{OpCx, array, flat};
use crate::error::ExecError;

/// The output, then the new hidden and cell states.
pub(crate) type LstmResult = (ArrayD<f32>, ArrayD<f32>, ArrayD<f32>);

/// Runs the LSTM on `ins` (the op's 15 inputs, the last two its hidden and
/// cell state as they stand before this sample).
pub(crate) fn lstm(
    cx: &OpCx<'_>,
    a: &tinyq_ir::op::Lstm,
    ins: &[&ArrayD<f32>],
    out_shape: &[usize],
) -> Result<LstmResult, ExecError> {
    let [x, rest @ .., hidden, cell] = ins else {
        return Err(cx.err(format!("{} inputs, expected 15", ins.len())));
    };
    let (&[d0, d1, input_size], &[_, units]) = (x.shape(), hidden.shape()) else {
        return Err(cx.err("malformed LSTM shapes"));
    };
    let (time_steps, batches) = if a.time_major { (d0, d1) } else { (d1, d0) };
    let params = LstmParams {
        batches,
        time_steps,
        input_size,
        units,
        time_major: a.time_major,
        cell_clip: a.cell_clip,
    };
    // The kernel's layout: per gate, input weights, recurrent weights, bias.
    let mut weights = Vec::new();
    for gate in 0..4 {
        for k in [gate, 4 + gate, 8 + gate] {
            let w = rest
                .get(k)
                .ok_or_else(|| cx.err(format!("missing input {}", k + 1)))?;
            weights.extend_from_slice(&flat(w));
        }
    }
    let mut state: Vec<f32> = flat(hidden).into_owned();
    state.extend_from_slice(&flat(cell));
    let mut output = vec![0.0f32; out_shape.iter().product()];
    lstm_f32(&params, &flat(x), &weights, &mut state, &mut output)
        .map_err(|e| cx.err(e.to_string()))?;
    let new_cell = state.split_off(batches * units);
    Ok((
        array(cx, out_shape, output)?,
        array(cx, hidden.shape(), state)?,
        array(cx, cell.shape(), new_cell)?,
    ))
}

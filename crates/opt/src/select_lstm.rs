//! The integer UNIDIRECTIONAL_SEQUENCE_LSTM: every number TFLM's integer
//! `EvalLstm` uses, from the op's tensors (`tinyq_kernels::lstm_int8`).
//! The converter's intermediate tensors play no part: TFLM fixes each
//! gate's pre-activation at Q3.12.

use tinyq_ir::kernel::LstmWeights;
use tinyq_ir::{DType, Kernel};
use tinyq_kernels::lstm_int8::{LstmInt8Params, LstmInt8Scales, prepare_lstm_int8};

use crate::error::LowerError;
use crate::select::{Ctx, Selected};

/// int8 data, weights and hidden state, int32 biases, an int16 cell state
/// whose scale is a power of two. Data inputs: the data and the state block
/// (keyed by the hidden state, `plan_state`).
pub(crate) fn lstm_int8(cx: &Ctx<'_>, a: &tinyq_ir::op::Lstm) -> Result<Selected, LowerError> {
    let (x, hidden, cell, y) = (cx.input(0)?, cx.input(13)?, cx.input(14)?, cx.output()?);
    for (role, t, dtype) in [
        ("input", x, DType::I8),
        ("output", y, DType::I8),
        ("hidden state", hidden, DType::I8),
        ("cell state", cell, DType::I16),
    ] {
        if t.dtype != dtype {
            return Err(cx.unsupported(format!(
                "{role} {:?} is {}, the integer LSTM needs {dtype}",
                t.name, t.dtype
            )));
        }
    }
    let (&[d0, d1, input_size], &[_, units]) = (x.shape.as_slice(), hidden.shape.as_slice()) else {
        return Err(cx.unsupported("malformed LSTM shapes"));
    };
    let (time_steps, batches) = if a.time_major { (d0, d1) } else { (d1, d0) };
    let weight_scale = |k: usize| -> Result<f32, LowerError> {
        let t = cx.input(k)?;
        let (scale, zp) = cx.qparams(t)?;
        if zp != 0 {
            return Err(cx.unsupported(format!(
                "weights {:?} have zero point {zp}: TFLM's integer LSTM needs symmetric weights",
                t.name
            )));
        }
        Ok(scale)
    };
    let (input_scale, input_zero_point) = cx.qparams(x)?;
    let (hidden_scale, hidden_zero_point) = cx.qparams(hidden)?;
    let (cell_scale, _) = cx.qparams(cell)?;
    let scales_of = |first: usize| -> Result<[f32; 4], LowerError> {
        Ok([
            weight_scale(first)?,
            weight_scale(first + 1)?,
            weight_scale(first + 2)?,
            weight_scale(first + 3)?,
        ])
    };
    let (input_weight_scales, recurrent_weight_scales) = (scales_of(1)?, scales_of(5)?);
    let scales = LstmInt8Scales {
        input_scale,
        input_zero_point,
        hidden_scale,
        hidden_zero_point,
        cell_scale,
        input_weight_scales,
        recurrent_weight_scales,
        cell_clip: a.cell_clip,
    };
    let (prepared, _) = prepare_lstm_int8(&scales).map_err(|e| cx.kernel_err(e))?;
    let params = LstmInt8Params {
        batches,
        time_steps,
        input_size,
        units,
        time_major: a.time_major,
        ..prepared
    };
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for g in 0..4 {
        for k in [1 + g, 5 + g] {
            weights.extend(constant_i8(cx, k)?);
        }
        biases.extend(constant_i32(cx, 9 + g)?);
        // The recurrent layer has no bias: zeros until lowering folds the
        // hidden zero point in.
        biases.extend(std::iter::repeat_n(0, units));
    }
    let weights = LstmWeights { weights, biases };
    let rows = batches * time_steps;
    let states = batches * units;
    params
        .check(
            rows * input_size,
            weights.weights.len(),
            weights.biases.len(),
            states,
            states,
            rows * units,
        )
        .map_err(|e| cx.kernel_err(e))?;
    Ok(Selected {
        kernel: Kernel::Lstm { params, weights },
        data_inputs: vec![cx.op.inputs[0], cx.op.inputs[13]],
        folded_zero_point: false,
    })
}

fn constant_i8(cx: &Ctx<'_>, k: usize) -> Result<Vec<i8>, LowerError> {
    let t = cx.input(k)?;
    cx.require_dtype(t, DType::I8)?;
    let data = t
        .data
        .as_ref()
        .ok_or_else(|| cx.unsupported(format!("weights {:?} must be constant", t.name)))?;
    Ok(data.iter().map(|&b| b as i8).collect())
}

fn constant_i32(cx: &Ctx<'_>, k: usize) -> Result<Vec<i32>, LowerError> {
    let t = cx.input(k)?;
    cx.require_dtype(t, DType::I32)?;
    t.const_i32()
        .ok_or_else(|| cx.unsupported(format!("bias {:?} must be constant int32", t.name)))
}

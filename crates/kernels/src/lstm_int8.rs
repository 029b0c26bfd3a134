//! UNIDIRECTIONAL_SEQUENCE_LSTM with int8 activations, int8 weights, int32
//! biases and an int16 cell state, as TFLM's integer `EvalLstm` computes it
//! (`lstm_eval.h`, 8x8→16: the standard Keras LSTM, no peephole,
//! projection, layer normalization or CIFG).
//!
//! Per time step and batch row, each gate is two of TFLM's int8
//! fully-connected layers with int16 outputs at the fixed scale 2^-12
//! (Q3.12): the input's (with the gate bias) and the hidden state's (no
//! bias), each requantized with its own multiplier and clamped to int16,
//! added with int16 saturation; then TFLM's int16 sigmoid, or tanh for the
//! cell gate, both Q0.15 out of the shared 256-entry sigmoid table. The cell
//! becomes `forget·cell + input·cell_gate` (two int16 MULs at the cell
//! state's scale, added with saturation), clipped when a clip is set; the
//! hidden value is `tanh(cell)·output_gate` requantized to int8 with the
//! hidden state's zero point. A row's hidden values go to the output first
//! and to the state after the row, since every unit's gates read the old
//! hidden state.
//!
//! Layouts as [`crate::lstm`]: weights per gate in TFLM's order (input,
//! forget, cell, output), each the input weights `[units, input_size]` then
//! the recurrent weights `[units, units]`; biases per gate, the input
//! layer's `[units]` then the recurrent layer's `[units]` (the recurrent
//! one is zero unless lowering folded the hidden zero point into it). The
//! state is the hidden state (int8, `batches·units`) and the cell state
//! (int16, `batches·units`), passed separately.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, quantize_multiplier};
use crate::int16::Int16sMut;
use crate::wide_sigmoid::{Sigmoid16, SigmoidI16Params, sigmoid_value};

/// One requantization: `MultiplyByQuantizedMultiplier`'s multiplier and
/// shift (positive = left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Requant {
    pub multiplier: i32,
    pub shift: i32,
}

impl Requant {
    fn from_real(real: f64) -> Self {
        let (multiplier, shift) = quantize_multiplier(real);
        Requant { multiplier, shift }
    }

    fn valid(&self) -> bool {
        self.multiplier >= 0 && (-31..=30).contains(&self.shift)
    }
}

/// Shape and folded quantization of one integer LSTM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LstmInt8Params {
    pub batches: usize,
    pub time_steps: usize,
    pub input_size: usize,
    pub units: usize,
    /// Input and output `[time, batch, ...]` instead of `[batch, time, ...]`.
    pub time_major: bool,
    /// Added to every input value in the input layers' dot products (minus
    /// the input zero point; 0 once folded into the biases).
    pub input_offset: i32,
    /// Added to every hidden value in the recurrent layers' dot products
    /// (minus the hidden zero point; 0 once folded).
    pub recurrent_offset: i32,
    /// Per gate (input, forget, cell, output): input layer → Q3.12.
    pub input_requant: [Requant; 4],
    /// Per gate: recurrent layer → Q3.12.
    pub recurrent_requant: [Requant; 4],
    /// forget (Q0.15) · cell → cell.
    pub forget_cell: Requant,
    /// input gate (Q0.15) · cell gate (Q0.15) → cell.
    pub input_cell: Requant,
    /// tanh(cell) (Q0.15) · output gate (Q0.15) → hidden (int8).
    pub hidden: Requant,
    pub hidden_zero_point: i32,
    /// The int16 tanh of the cell state: TFLM's `input_multiplier` (3·2^k,
    /// or 3 with a right shift) and right shift.
    pub cell_tanh_multiplier: i32,
    pub cell_tanh_shift: i32,
    /// The cell state is clipped to `[-cell_clip, cell_clip]` when set.
    pub clip_cell: bool,
    pub cell_clip: i16,
}

/// The Q3.12 scale of every gate's pre-activation, TFLM's decimal literal
/// (the float nearest it is 2^-12 exactly).
pub const GATE_INPUT_SCALE: f32 = 0.000_244_140_62;
/// The Q0.15 scale of every gate's output, TFLM's decimal literal: the float
/// nearest it is a few ulps below 2^-15, which changes the inter-gate
/// multipliers (`2^-15·s/s` is not `2^30·2^-14`), so it is kept as written.
pub const GATE_OUTPUT_SCALE: f32 = 0.000_030_517_57;

/// The scales and zero points an integer LSTM is prepared from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmInt8Scales {
    pub input_scale: f32,
    pub input_zero_point: i32,
    pub hidden_scale: f32,
    pub hidden_zero_point: i32,
    pub cell_scale: f32,
    /// Per gate (input, forget, cell, output).
    pub input_weight_scales: [f32; 4],
    pub recurrent_weight_scales: [f32; 4],
    /// The op's float `cell_clip` (0: none).
    pub cell_clip: f32,
}

/// Host side: every number TFLM's `PrepareGateParametersInteger` and
/// `CreateLstmCellStateInfo` derive. A gate layer's multiplier is
/// `(double)(float)(input_scale·weight_scale) / 2^-12` (TFLM's
/// fully-connected preparation); an inter-gate MUL's
/// `(double)a·(double)b / (double)out`. The cell state's scale must be a
/// power of two (its exponent sets the cell tanh's input shift).
pub fn prepare_lstm_int8(s: &LstmInt8Scales) -> Result<(LstmInt8Params, i32), KernelError> {
    let bad = KernelError::InvalidParams;
    let positive = |v: f32| v.is_finite() && v > 0.0;
    let all = [s.input_scale, s.hidden_scale, s.cell_scale];
    if !all
        .iter()
        .chain(&s.input_weight_scales)
        .chain(&s.recurrent_weight_scales)
        .all(|&v| positive(v))
    {
        return Err(bad("LSTM scales must be finite and positive"));
    }
    let power = exact_log2(s.cell_scale).ok_or(bad(
        "LSTM cell state scale must be a power of two (TFLM's integer tanh needs its exponent)",
    ))?;
    let fc = |a: f32, w: f32| Requant::from_real(f64::from(a * w) / f64::from(GATE_INPUT_SCALE));
    let input_requant = s.input_weight_scales.map(|w| fc(s.input_scale, w));
    let recurrent_requant = s.recurrent_weight_scales.map(|w| fc(s.hidden_scale, w));
    let mul =
        |a: f32, b: f32, out: f32| Requant::from_real(f64::from(a) * f64::from(b) / f64::from(out));
    let q15 = GATE_OUTPUT_SCALE;
    // TFLM: tanh_input_left_shift = (15 + power) - 3; a negative one becomes
    // a right shift with the multiplier 3, else the multiplier is 3 << shift.
    let left = 12 + power;
    let (cell_tanh_multiplier, cell_tanh_shift) = if left < 0 {
        (3, -left)
    } else if left <= 14 {
        (3 << left, 0)
    } else {
        return Err(bad("LSTM cell state scale too large for TFLM's int16 tanh"));
    };
    let clip_cell = s.cell_clip > 0.0;
    let cell_clip = if clip_cell {
        // static_cast<int16_t>(min(max(clip / scale, -32768), 32767)) in double.
        (f64::from(s.cell_clip) / f64::from(s.cell_scale)).clamp(-32768.0, 32767.0) as i16
    } else {
        0
    };
    Ok((
        LstmInt8Params {
            batches: 0,
            time_steps: 0,
            input_size: 0,
            units: 0,
            time_major: false,
            input_offset: -s.input_zero_point,
            recurrent_offset: -s.hidden_zero_point,
            input_requant,
            recurrent_requant,
            forget_cell: mul(q15, s.cell_scale, s.cell_scale),
            input_cell: mul(q15, q15, s.cell_scale),
            hidden: mul(q15, q15, s.hidden_scale),
            hidden_zero_point: s.hidden_zero_point,
            cell_tanh_multiplier,
            cell_tanh_shift,
            clip_cell,
            cell_clip,
        },
        power,
    ))
}

/// `Some(k)` when `x == 2^k` exactly.
fn exact_log2(x: f32) -> Option<i32> {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32;
    let mantissa = bits & 0x7f_ffff;
    if exponent == 0 || exponent == 0xff {
        // Subnormal powers of two are too small for any cell state.
        return None;
    }
    (mantissa == 0).then_some(exponent - 127)
}

impl LstmInt8Params {
    /// int8 weights of one gate: input weights then recurrent weights.
    pub fn gate_weights_len(&self) -> Option<usize> {
        let n = self.units;
        n.checked_mul(self.input_size)?
            .checked_add(n.checked_mul(n)?)
    }

    /// int8 weights of all four gates.
    pub fn weights_len(&self) -> Option<usize> {
        self.gate_weights_len()?.checked_mul(4)
    }

    /// int32 biases: per gate, the input layer's then the recurrent layer's.
    pub fn biases_len(&self) -> Option<usize> {
        self.units.checked_mul(8)
    }

    /// Values in each of the hidden and cell states.
    pub fn state_values(&self) -> Option<usize> {
        self.batches.checked_mul(self.units)
    }

    /// Bytes of state: the int8 hidden state then the int16 cell state.
    pub fn state_bytes(&self) -> Option<usize> {
        self.state_values()?.checked_mul(3)
    }

    /// Everything the kernel checks before it reads a value (lengths in
    /// elements; `cell` in int16 values).
    pub fn check(
        &self,
        input: usize,
        weights: usize,
        biases: usize,
        hidden: usize,
        cell: usize,
        output: usize,
    ) -> Result<(), KernelError> {
        let bad = KernelError::InvalidParams;
        if self.batches == 0 || self.time_steps == 0 || self.units == 0 || self.input_size == 0 {
            return Err(bad("LSTM needs a batch, a time step, units and inputs"));
        }
        let inter_gate = [self.forget_cell, self.input_cell, self.hidden];
        let mut requants = self
            .input_requant
            .iter()
            .chain(&self.recurrent_requant)
            .chain(&inter_gate);
        if !requants.all(Requant::valid) {
            return Err(bad("LSTM multiplier or shift out of range"));
        }
        let offset = -255..=255;
        if !offset.contains(&self.input_offset)
            || !offset.contains(&self.recurrent_offset)
            || !(-128..=127).contains(&self.hidden_zero_point)
        {
            return Err(bad("LSTM zero point out of range"));
        }
        if !(1..=3 << 14).contains(&self.cell_tanh_multiplier)
            || !(0..=31).contains(&self.cell_tanh_shift)
        {
            return Err(bad("LSTM cell tanh multiplier or shift out of range"));
        }
        if self.clip_cell && self.cell_clip < 0 {
            return Err(bad("LSTM cell clip must be zero or positive"));
        }
        let overflow = bad("LSTM shape overflows");
        let rows = self.batches.checked_mul(self.time_steps).ok_or(overflow)?;
        check_len(
            "input",
            rows.checked_mul(self.input_size).ok_or(overflow)?,
            input,
        )?;
        check_len("weights", self.weights_len().ok_or(overflow)?, weights)?;
        check_len("biases", self.biases_len().ok_or(overflow)?, biases)?;
        let states = self.state_values().ok_or(overflow)?;
        check_len("hidden state", states, hidden)?;
        check_len("cell state", states, cell)?;
        check_len(
            "output",
            rows.checked_mul(self.units).ok_or(overflow)?,
            output,
        )
    }

    /// The row of `[batch b, time t]` in the input and the output.
    fn row(&self, b: usize, t: usize) -> usize {
        if self.time_major {
            t * self.batches + b
        } else {
            b * self.time_steps + t
        }
    }
}

/// Gates in TFLM's tensor order, as in the float LSTM.
pub use crate::lstm::{GATE_CELL, GATE_FORGET, GATE_INPUT, GATE_OUTPUT};

/// TFLM's int16 sigmoid at the gates' Q3.12 input (`input_multiplier` 0:
/// the value times 3), Q0.15 out: the int16 LOGISTIC kernel's arithmetic.
pub fn sigmoid_q12(x: i16) -> i16 {
    let q12 = SigmoidI16Params {
        multiplier: 3,
        shift: 0,
    };
    sigmoid_value(Sigmoid16::Logistic, &q12, x)
}

/// TFLM's int16 tanh: the input scaled by `multiplier` and rounded right by
/// `shift`, Q0.15 out (the int16 TANH kernel's arithmetic).
pub fn tanh_i16(x: i16, multiplier: i32, shift: i32) -> i16 {
    sigmoid_value(Sigmoid16::Tanh, &SigmoidI16Params { multiplier, shift }, x)
}

/// The gates' tanh at Q3.12 (TFLM passes the power -12: multiplier 3).
pub fn tanh_q12(x: i16) -> i16 {
    tanh_i16(x, 3, 0)
}

/// `a + b` clamped to int16 (TFLM's `AddElementWise`).
pub fn add_sat(a: i16, b: i16) -> i16 {
    (i32::from(a) + i32::from(b)).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// TFLM's `MulElementwise` of two int16 values, offset and clamped.
pub fn mul_requant(a: i16, b: i16, r: Requant, offset: i32, lo: i32, hi: i32) -> i32 {
    (offset + mbqm(i32::from(a) * i32::from(b), r.multiplier, r.shift)).clamp(lo, hi)
}

/// One fully-connected layer's value for unit `j`: `bias + Σ (x + offset)·w`
/// (wrapping, as TFLM's int32 accumulator), requantized and clamped to int16.
#[inline(always)]
fn layer(x: &[i8], offset: i32, w: &[i8], bias: i32, r: Requant) -> i16 {
    let mut acc = bias;
    for (&v, &w) in x.iter().zip(w) {
        acc = acc.wrapping_add((i32::from(v) + offset).wrapping_mul(i32::from(w)));
    }
    mbqm(acc, r.multiplier, r.shift).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// One gate's Q3.12 pre-activation for unit `j`.
#[allow(clippy::too_many_arguments)] // a gate's two layers and their operands
#[inline(always)]
fn gate(
    p: &LstmInt8Params,
    weights: &[i8],
    biases: &[i32],
    g: usize,
    j: usize,
    x: &[i8],
    h: &[i8],
) -> i16 {
    let (n, n_in) = (p.units, p.input_size);
    let base = g * (n * n_in + n * n);
    let w_in = &weights[base + j * n_in..base + (j + 1) * n_in];
    let w_rec = &weights[base + n * n_in + j * n..base + n * n_in + (j + 1) * n];
    let from_input = layer(
        x,
        p.input_offset,
        w_in,
        biases[g * 2 * n + j],
        p.input_requant[g],
    );
    let from_hidden = layer(
        h,
        p.recurrent_offset,
        w_rec,
        biases[g * 2 * n + n + j],
        p.recurrent_requant[g],
    );
    add_sat(from_input, from_hidden)
}

/// One cell update: `forget·cell + input·cell_gate`, saturated, clipped.
pub fn cell_update(p: &LstmInt8Params, forget: i16, cell: i16, input: i16, cell_gate: i16) -> i16 {
    let (lo, hi) = (i32::from(i16::MIN), i32::from(i16::MAX));
    let kept = mul_requant(forget, cell, p.forget_cell, 0, lo, hi) as i16;
    let added = mul_requant(input, cell_gate, p.input_cell, 0, lo, hi) as i16;
    let c = add_sat(kept, added);
    if p.clip_cell {
        c.min(p.cell_clip).max(-p.cell_clip)
    } else {
        c
    }
}

/// One hidden value: `tanh(cell)·output_gate` to int8.
pub fn hidden_value(p: &LstmInt8Params, cell: i16, output_gate: i16) -> i8 {
    let t = tanh_i16(cell, p.cell_tanh_multiplier, p.cell_tanh_shift);
    mul_requant(t, output_gate, p.hidden, p.hidden_zero_point, -128, 127) as i8
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM with int8 data and an int16 cell state;
/// `hidden` and `cell` are updated in place.
pub fn lstm_int8<C: Int16sMut + ?Sized>(
    p: &LstmInt8Params,
    input: &[i8],
    weights: &[i8],
    biases: &[i32],
    hidden: &mut [i8],
    cell: &mut C,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        weights.len(),
        biases.len(),
        hidden.len(),
        cell.count(),
        output.len(),
    )?;
    let (n, n_in) = (p.units, p.input_size);
    for b in 0..p.batches {
        for t in 0..p.time_steps {
            let row = p.row(b, t);
            let x = &input[row * n_in..(row + 1) * n_in];
            let h = &mut hidden[b * n..(b + 1) * n];
            let out = &mut output[row * n..(row + 1) * n];
            for (j, slot) in out.iter_mut().enumerate() {
                let forget = sigmoid_q12(gate(p, weights, biases, GATE_FORGET, j, x, h));
                let input_gate = sigmoid_q12(gate(p, weights, biases, GATE_INPUT, j, x, h));
                let cell_gate = tanh_q12(gate(p, weights, biases, GATE_CELL, j, x, h));
                let c = cell_update(p, forget, cell.at(b * n + j), input_gate, cell_gate);
                let output_gate = sigmoid_q12(gate(p, weights, biases, GATE_OUTPUT, j, x, h));
                cell.put(b * n + j, c);
                *slot = hidden_value(p, c, output_gate);
            }
            h.copy_from_slice(out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

//! UNIDIRECTIONAL_SEQUENCE_LSTM in float32, as TFLM's `EvalLstm` computes
//! it (`lstm_eval.h`, the standard Keras LSTM: no peephole, projection,
//! layer normalization or CIFG).
//!
//! Layouts: input `[batches, time_steps, input_size]` (or
//! `[time_steps, batches, input_size]` when time-major), output likewise
//! with `units` values per row. The state is one block: the hidden state
//! `[batches, units]` then the cell state `[batches, units]`. The weights
//! are one block too, per gate in TFLM's input order (input, forget, cell,
//! output): the input weights `[units, input_size]`, the recurrent weights
//! `[units, units]`, the bias `[units]`.
//!
//! Per time step and batch row, each gate is TFLM's two fully-connected
//! layers added: the input's (a sum from 0.0 adding one product at a time,
//! then `+ bias`) and the hidden state's (the same, `+ 0.0` for its absent
//! bias), each clamped to the finite floats as `CreateFCParamsFloat`'s
//! range does; then the sigmoid (or `tanh` for the cell gate). The cell
//! becomes `forget·cell + input·cell_gate` (each product clamped as the
//! inter-gate MULs are), clipped when `cell_clip > 0`; the hidden value
//! `tanh(cell)·output_gate`, written to the output row first and copied to
//! the hidden state after the whole row, since every unit's gates read the
//! old hidden state.

use crate::error::{KernelError, check_len};
use crate::float_elementwise::UnaryF32;

/// Shape and options of one float LSTM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LstmParams {
    pub batches: usize,
    pub time_steps: usize,
    pub input_size: usize,
    pub units: usize,
    /// Input and output `[time, batch, ...]` instead of `[batch, time, ...]`.
    pub time_major: bool,
    /// The cell state is clipped to `[-cell_clip, cell_clip]` when positive.
    pub cell_clip: f32,
}

/// Gates in TFLM's tensor order.
pub const GATE_INPUT: usize = 0;
pub const GATE_FORGET: usize = 1;
pub const GATE_CELL: usize = 2;
pub const GATE_OUTPUT: usize = 3;

impl LstmParams {
    /// Floats of one gate's weights: input weights, recurrent weights, bias.
    pub fn gate_len(&self) -> Option<usize> {
        let n = self.units;
        n.checked_mul(self.input_size)?
            .checked_add(n.checked_mul(n)?)?
            .checked_add(n)
    }

    /// Floats of all four gates' weights.
    pub fn weights_len(&self) -> Option<usize> {
        self.gate_len()?.checked_mul(4)
    }

    /// Floats of state: hidden then cell, `batches·units` each.
    pub fn state_len(&self) -> Option<usize> {
        self.batches.checked_mul(self.units)?.checked_mul(2)
    }

    /// Everything the kernel checks before it reads a value (lengths in
    /// elements).
    pub fn check(
        &self,
        input: usize,
        weights: usize,
        state: usize,
        output: usize,
    ) -> Result<(), KernelError> {
        let bad = KernelError::InvalidParams;
        if self.batches == 0 || self.time_steps == 0 || self.units == 0 || self.input_size == 0 {
            return Err(bad("LSTM needs a batch, a time step, units and inputs"));
        }
        if self.cell_clip.is_nan() || self.cell_clip < 0.0 {
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
        check_len("state", self.state_len().ok_or(overflow)?, state)?;
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

/// TFLM's float activation range for the LSTM's fully-connected layers and
/// multiplications: `min(max(x, lowest), max)` with `std::min`/`std::max`'s
/// comparisons (a NaN passes through).
#[inline(always)]
fn clamp_finite(x: f32) -> f32 {
    let y = if x < f32::MIN { f32::MIN } else { x };
    if f32::MAX < y { f32::MAX } else { y }
}

/// A dot product in TFLM's order: from 0.0, one rounded product at a time.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut total = 0.0f32;
    for (&x, &w) in a.iter().zip(b) {
        total += x * w;
    }
    total
}

/// One gate's value before its activation, for unit `j`.
#[inline(always)]
fn gate(p: &LstmParams, weights: &[f32], g: usize, j: usize, x: &[f32], h: &[f32]) -> f32 {
    let (n, n_in) = (p.units, p.input_size);
    let base = g * (n * n_in + n * n + n);
    let w_in = &weights[base + j * n_in..base + (j + 1) * n_in];
    let w_rec = &weights[base + n * n_in + j * n..base + n * n_in + (j + 1) * n];
    let bias = weights[base + n * n_in + n * n + j];
    let from_input = clamp_finite(dot(x, w_in) + bias);
    let from_hidden = clamp_finite(dot(h, w_rec) + 0.0);
    from_input + from_hidden
}

/// UNIDIRECTIONAL_SEQUENCE_LSTM float32; `state` (hidden, then cell) is
/// updated in place.
pub fn lstm_f32(
    p: &LstmParams,
    input: &[f32],
    weights: &[f32],
    state: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(input.len(), weights.len(), state.len(), output.len())?;
    let (n, n_in) = (p.units, p.input_size);
    let (hidden, cell) = state.split_at_mut(p.batches * n);
    let sigmoid = |v: f32| UnaryF32::Logistic.apply(v);
    let tanh = |v: f32| UnaryF32::Tanh.apply(v);
    for b in 0..p.batches {
        for t in 0..p.time_steps {
            let row = p.row(b, t);
            let x = &input[row * n_in..(row + 1) * n_in];
            let h = &mut hidden[b * n..(b + 1) * n];
            let c = &mut cell[b * n..(b + 1) * n];
            let out = &mut output[row * n..(row + 1) * n];
            for j in 0..n {
                let forget = sigmoid(gate(p, weights, GATE_FORGET, j, x, h));
                let input_gate = sigmoid(gate(p, weights, GATE_INPUT, j, x, h));
                let cell_gate = tanh(gate(p, weights, GATE_CELL, j, x, h));
                let kept = clamp_finite(forget * c[j]);
                let added = clamp_finite(input_gate * cell_gate);
                let mut new_cell = kept + added;
                if p.cell_clip > 0.0 {
                    // std::max(std::min(clip, v), -clip).
                    let m = if new_cell < p.cell_clip {
                        new_cell
                    } else {
                        p.cell_clip
                    };
                    new_cell = if m < -p.cell_clip { -p.cell_clip } else { m };
                }
                let output_gate = sigmoid(gate(p, weights, GATE_OUTPUT, j, x, h));
                c[j] = new_cell;
                out[j] = clamp_finite(tanh(new_cell) * output_gate);
            }
            h.copy_from_slice(out);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// TFLM's float `LstmStep` transcribed with its four gate buffers: each
    /// gate over all units (input FC, recurrent FC into a scratch, added,
    /// activated), the cell update through a buffer, the hidden state
    /// through the tanh buffer, then the copy to the output.
    fn tflm(p: &LstmParams, input: &[f32], w: &[f32], state: &mut [f32], output: &mut [f32]) {
        let (n, n_in) = (p.units, p.input_size);
        let per = n * n_in + n * n + n;
        let fc = |x: &[f32], m: &[f32], bias: Option<&[f32]>, out: &mut [f32], depth: usize| {
            for (o, slot) in out.iter_mut().enumerate() {
                let mut total = 0.0f32;
                for d in 0..depth {
                    total += x[d] * m[o * depth + d];
                }
                let bias_value = bias.map_or(0.0, |b| b[o]);
                // ActivationFunctionWithMinMax with the float range's bounds.
                let v = total + bias_value;
                let v = if v < f32::MIN { f32::MIN } else { v };
                *slot = if f32::MAX < v { f32::MAX } else { v };
            }
        };
        for b in 0..p.batches {
            for t in 0..p.time_steps {
                let row = p.row(b, t);
                let x = &input[row * n_in..(row + 1) * n_in];
                let h: Vec<f32> = state[b * n..(b + 1) * n].to_vec();
                let mut gates = vec![vec![0.0f32; n]; 4];
                for (g, out) in gates.iter_mut().enumerate() {
                    let base = g * per;
                    fc(
                        x,
                        &w[base..],
                        Some(&w[base + n * n_in + n * n..]),
                        out,
                        n_in,
                    );
                    let mut scratch = vec![0.0f32; n];
                    fc(&h, &w[base + n * n_in..], None, &mut scratch, n);
                    for (o, s) in out.iter_mut().zip(&scratch) {
                        *o += *s;
                    }
                    let act = if g == GATE_CELL {
                        UnaryF32::Tanh
                    } else {
                        UnaryF32::Logistic
                    };
                    for o in out.iter_mut() {
                        *o = act.apply(*o);
                    }
                }
                let off = p.batches * n + b * n;
                for j in 0..n {
                    let kept = gates[GATE_FORGET][j] * state[off + j];
                    let added = gates[GATE_INPUT][j] * gates[GATE_CELL][j];
                    let mut v = kept + added;
                    if p.cell_clip > 0.0 {
                        v = v.min(p.cell_clip).max(-p.cell_clip);
                    }
                    state[off + j] = v;
                }
                for j in 0..n {
                    let hv = UnaryF32::Tanh.apply(state[off + j]) * gates[GATE_OUTPUT][j];
                    state[b * n + j] = hv;
                    output[row * n + j] = hv;
                }
            }
        }
    }

    fn case() -> impl Strategy<Value = (LstmParams, Vec<f32>, Vec<f32>, Vec<f32>)> {
        (
            1usize..3,
            1usize..4,
            1usize..5,
            1usize..5,
            any::<bool>(),
            prop_oneof![Just(0.0f32), 0.1f32..3.0],
        )
            .prop_flat_map(
                |(batches, time_steps, input_size, units, time_major, cell_clip)| {
                    let p = LstmParams {
                        batches,
                        time_steps,
                        input_size,
                        units,
                        time_major,
                        cell_clip,
                    };
                    let rows = batches * time_steps;
                    (
                        Just(p),
                        proptest::collection::vec(-3.0f32..3.0, rows * input_size),
                        proptest::collection::vec(
                            -2.0f32..2.0,
                            p.weights_len().expect("small shapes"),
                        ),
                        proptest::collection::vec(
                            -1.0f32..1.0,
                            p.state_len().expect("small shapes"),
                        ),
                    )
                },
            )
    }

    proptest! {
        #[test]
        fn matches_tflm_step_order((p, input, w, state) in case()) {
            let rows = p.batches * p.time_steps;
            let (mut s1, mut s2) = (state.clone(), state);
            let (mut o1, mut o2) = (vec![0.0f32; rows * p.units], vec![0.0f32; rows * p.units]);
            lstm_f32(&p, &input, &w, &mut s1, &mut o1).expect("valid case");
            tflm(&p, &input, &w, &mut s2, &mut o2);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&o1), bits(&o2));
            prop_assert_eq!(bits(&s1), bits(&s2));
        }
    }

    #[test]
    fn refuses_wrong_lengths() {
        let p = LstmParams {
            batches: 1,
            time_steps: 2,
            input_size: 3,
            units: 2,
            time_major: false,
            cell_clip: 0.0,
        };
        let mut s = [0.0f32; 4];
        let mut o = [0.0f32; 4];
        assert!(lstm_f32(&p, &[0.0; 5], &[0.0; 4 * 12], &mut s, &mut o).is_err());
        assert!(lstm_f32(&p, &[0.0; 6], &[0.0; 4 * 12], &mut s, &mut o).is_ok());
        assert!(lstm_f32(&p, &[0.0; 6], &[0.0; 4 * 12], &mut s[..3], &mut o).is_err());
    }
}

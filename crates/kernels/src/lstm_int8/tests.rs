//! The integer LSTM against a direct transcription of TFLM's integer
//! `LstmStep` (whole-vector gate buffers, unfolded zero points, TFLM's
//! parameter derivations from the scales), and the int16 activations
//! against TFLM's `reference_integer_ops::Logistic`/`Tanh` transcribed.

extern crate std;
use super::*;
use crate::wide_sigmoid::SIGMOID_TABLE_U16;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

/// TFLM's int16 `Logistic(input_multiplier, input_left_shift, ...)`.
fn tflm_logistic(mut multiplier: i32, mut left_shift: i32, x: i16) -> i16 {
    if multiplier == 0 {
        multiplier = 3 << left_shift;
        left_shift = 0;
    }
    let round = if left_shift > 0 {
        1 << (left_shift - 1)
    } else {
        0
    };
    let input = (i32::from(x) * multiplier + round) >> left_shift;
    let abs = input.unsigned_abs();
    let uh = abs >> 9;
    let mut result: u32 = if uh >= 255 {
        0x7FFF << 10
    } else {
        let ua = u32::from(SIGMOID_TABLE_U16[uh as usize]);
        let ub = u32::from(SIGMOID_TABLE_U16[uh as usize + 1]);
        let ut = abs & 0x1ff;
        (ua << 9).wrapping_add(ut.wrapping_mul(ub.wrapping_sub(ua)))
    };
    result = if input >= 0 {
        result.wrapping_add(1 << 9)
    } else {
        (1u32 << 25)
            .wrapping_sub(result)
            .wrapping_add(1 << 9)
            .wrapping_sub(1)
    };
    (result >> 10) as i16
}

/// TFLM's int16 `Tanh(input_multiplier, input_left_shift, ...)`.
fn tflm_tanh(mut multiplier: i32, mut left_shift: i32, x: i16) -> i16 {
    if multiplier == 0 {
        multiplier = 3 << left_shift;
        left_shift = 0;
    }
    let round = if left_shift > 0 {
        1 << (left_shift - 1)
    } else {
        0
    };
    let input = (i32::from(x) * multiplier + round) >> left_shift;
    let abs = input.unsigned_abs();
    let uh = abs >> 8;
    let mut result: i32 = if uh >= 255 {
        0xFFFF << 8
    } else {
        let ua = u32::from(SIGMOID_TABLE_U16[uh as usize]);
        let ub = u32::from(SIGMOID_TABLE_U16[uh as usize + 1]);
        let ut = abs & 0xff;
        (ua << 8).wrapping_add(ut.wrapping_mul(ub.wrapping_sub(ua))) as i32
    };
    result = if input >= 0 {
        result - (1 << (14 + 9)) + (1 << (9 - 2))
    } else {
        -result + (1 << (14 + 9)) + (1 << (9 - 2)) - 1
    };
    (result >> (9 - 1)) as i16
}

/// `lstm_internal::Tanh(cell_state_scale_power, ...)`.
fn tflm_lstm_tanh(power: i32, x: i16) -> i16 {
    let mut shift = (15 + power) - 3;
    let mut multiplier = 0;
    if shift < 0 {
        shift = -shift;
        multiplier = 3;
    }
    tflm_tanh(multiplier, shift, x)
}

/// `QuantizeMultiplier` of `CreateInterGateMulParams`' effective scale.
fn mul_params(a: f32, b: f32, out: f32) -> (i32, i32) {
    quantize_multiplier(f64::from(a) * f64::from(b) / f64::from(out))
}

/// `MulElementwise`.
fn tflm_mul(a: i16, b: i16, (m, s): (i32, i32), zp: i32, lo: i32, hi: i32) -> i32 {
    (zp + mbqm(i32::from(a) * i32::from(b), m, s)).clamp(lo, hi)
}

/// The int8 → int16 `FullyConnected` of one gate layer, all units.
fn tflm_fc(x: &[i8], zp: i32, w: &[i8], bias: Option<&[i32]>, (m, s): (i32, i32)) -> Vec<i16> {
    let depth = x.len();
    (0..w.len() / depth)
        .map(|o| {
            let mut acc = 0i32;
            for d in 0..depth {
                acc = acc
                    .wrapping_add((i32::from(x[d]) - zp).wrapping_mul(i32::from(w[o * depth + d])));
            }
            acc = acc.wrapping_add(bias.map_or(0, |b| b[o]));
            mbqm(acc, m, s).clamp(-32768, 32767) as i16
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    scales: LstmInt8Scales,
    batches: usize,
    time_steps: usize,
    input_size: usize,
    units: usize,
    time_major: bool,
    input: Vec<i8>,
    /// Per gate: input weights then recurrent weights.
    weights: Vec<i8>,
    /// Per gate: `[units]`.
    bias: Vec<i32>,
    hidden: Vec<i8>,
    cell: Vec<i16>,
}

/// TFLM's `EvalLstm` for one invoke, from the scales.
fn tflm(c: &Case, hidden: &mut [i8], cell: &mut [i16], output: &mut [i8]) {
    let s = &c.scales;
    let (n, n_in) = (c.units, c.input_size);
    let q12 = 0.000_244_140_62_f32;
    let q15 = 0.000_030_517_57_f32;
    let fc_params = |a: f32, w: f32| quantize_multiplier(f64::from(a * w) / f64::from(q12));
    let power = (libm_log2(s.cell_scale)).round() as i32;
    let qclip = if s.cell_clip > 0.0 {
        (f64::from(s.cell_clip) / f64::from(s.cell_scale)).clamp(-32768.0, 32767.0) as i16
    } else {
        0
    };
    let per = n * n_in + n * n;
    for b in 0..c.batches {
        for t in 0..c.time_steps {
            let row = if c.time_major {
                t * c.batches + b
            } else {
                b * c.time_steps + t
            };
            let x = &c.input[row * n_in..(row + 1) * n_in];
            let h: Vec<i8> = hidden[b * n..(b + 1) * n].to_vec();
            let gate = |g: usize, sigmoid: bool| -> Vec<i16> {
                let w = &c.weights[g * per..(g + 1) * per];
                let a = tflm_fc(
                    x,
                    s.input_zero_point,
                    &w[..n * n_in],
                    Some(&c.bias[g * n..(g + 1) * n]),
                    fc_params(s.input_scale, s.input_weight_scales[g]),
                );
                let r = tflm_fc(
                    &h,
                    s.hidden_zero_point,
                    &w[n * n_in..],
                    None,
                    fc_params(s.hidden_scale, s.recurrent_weight_scales[g]),
                );
                a.iter()
                    .zip(&r)
                    .map(|(&a, &r)| {
                        let v = (i32::from(a) + i32::from(r)).clamp(-32768, 32767) as i16;
                        if sigmoid {
                            tflm_logistic(0, 0, v)
                        } else {
                            tflm_lstm_tanh(-12, v)
                        }
                    })
                    .collect()
            };
            let forget = gate(GATE_FORGET, true);
            let input_gate = gate(GATE_INPUT, true);
            let cell_gate = gate(GATE_CELL, false);
            let cs = &mut cell[b * n..(b + 1) * n];
            let fc_mul = mul_params(q15, s.cell_scale, s.cell_scale);
            let ic_mul = mul_params(q15, q15, s.cell_scale);
            for j in 0..n {
                cs[j] = tflm_mul(forget[j], cs[j], fc_mul, 0, -32768, 32767) as i16;
            }
            let buffer: Vec<i16> = (0..n)
                .map(|j| tflm_mul(input_gate[j], cell_gate[j], ic_mul, 0, -32768, 32767) as i16)
                .collect();
            for j in 0..n {
                cs[j] = (i32::from(cs[j]) + i32::from(buffer[j])).clamp(-32768, 32767) as i16;
                if s.cell_clip > 0.0 {
                    cs[j] = cs[j].min(qclip).max(-qclip);
                }
            }
            let output_gate = gate(GATE_OUTPUT, true);
            let h_mul = mul_params(q15, q15, s.hidden_scale);
            for j in 0..n {
                let th = tflm_lstm_tanh(power, cs[j]);
                hidden[b * n + j] =
                    tflm_mul(th, output_gate[j], h_mul, s.hidden_zero_point, -128, 127) as i8;
            }
            output[row * n..(row + 1) * n].copy_from_slice(&hidden[b * n..(b + 1) * n]);
        }
    }
}

/// `log2` of a power of two (the cases' cell scales are).
fn libm_log2(x: f32) -> f32 {
    exact_log2(x).expect("a power of two") as f32
}

/// The kernel's parameters and weight blocks, zero points folded or not.
fn ours(c: &Case, fold: bool) -> (LstmInt8Params, Vec<i32>) {
    let (mut p, _) = prepare_lstm_int8(&c.scales).expect("valid scales");
    p.batches = c.batches;
    p.time_steps = c.time_steps;
    p.input_size = c.input_size;
    p.units = c.units;
    p.time_major = c.time_major;
    let (n, n_in) = (c.units, c.input_size);
    let per = n * n_in + n * n;
    let mut biases = vec![0i32; 8 * n];
    for g in 0..4 {
        let w = &c.weights[g * per..(g + 1) * per];
        for j in 0..n {
            let mut bi = c.bias[g * n + j];
            let mut br = 0i32;
            if fold {
                let sum_in: i32 = w[j * n_in..(j + 1) * n_in]
                    .iter()
                    .map(|&v| i32::from(v))
                    .sum();
                let sum_rec: i32 = w[n * n_in + j * n..n * n_in + (j + 1) * n]
                    .iter()
                    .map(|&v| i32::from(v))
                    .sum();
                bi = bi.wrapping_add(p.input_offset.wrapping_mul(sum_in));
                br = p.recurrent_offset.wrapping_mul(sum_rec);
            }
            biases[g * 2 * n + j] = bi;
            biases[g * 2 * n + n + j] = br;
        }
    }
    if fold {
        p.input_offset = 0;
        p.recurrent_offset = 0;
    }
    (p, biases)
}

fn scale() -> impl Strategy<Value = f32> {
    (1.0f32..8.0, -9i32..-4).prop_map(|(m, e)| m * 2f32.powi(e))
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..3, 1usize..4, 1usize..5, 1usize..6, any::<bool>()),
        (scale(), -128i32..128, scale(), -128i32..128, -15i32..-7),
        (
            proptest::array::uniform4(scale()),
            proptest::array::uniform4(scale()),
            prop_oneof![Just(0.0f32), 0.01f32..4.0],
        ),
    )
        .prop_flat_map(|(dims, q, (iw, rw, clip))| {
            let (batches, time_steps, input_size, units, time_major) = dims;
            let scales = LstmInt8Scales {
                input_scale: q.0,
                input_zero_point: q.1,
                hidden_scale: q.2,
                hidden_zero_point: q.3,
                cell_scale: 2f32.powi(q.4),
                input_weight_scales: iw,
                recurrent_weight_scales: rw,
                cell_clip: clip,
            };
            let rows = batches * time_steps;
            let per = units * input_size + units * units;
            // Extreme values: the int8 and int16 limits among ordinary ones.
            let i8s = || prop_oneof![any::<i8>(), Just(i8::MIN), Just(i8::MAX)];
            let i16s = prop_oneof![any::<i16>(), Just(i16::MIN), Just(i16::MAX), -3000i16..3000];
            (
                Just((scales, batches, time_steps, input_size, units, time_major)),
                proptest::collection::vec(i8s(), rows * input_size),
                proptest::collection::vec(i8s(), 4 * per),
                proptest::collection::vec(prop_oneof![-20_000i32..20_000, any::<i32>()], 4 * units),
                proptest::collection::vec(i8s(), batches * units),
                proptest::collection::vec(i16s, batches * units),
            )
        })
        .prop_map(|(d, input, weights, bias, hidden, cell)| Case {
            scales: d.0,
            batches: d.1,
            time_steps: d.2,
            input_size: d.3,
            units: d.4,
            time_major: d.5,
            input,
            weights,
            bias,
            hidden,
            cell,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_tflm_step(c in case(), fold in any::<bool>()) {
        let rows = c.batches * c.time_steps;
        let (mut h1, mut c1, mut o1) = (c.hidden.clone(), c.cell.clone(), vec![0i8; rows * c.units]);
        let (mut h2, mut c2, mut o2) = (c.hidden.clone(), c.cell.clone(), vec![0i8; rows * c.units]);
        let (p, biases) = ours(&c, fold);
        lstm_int8(&p, &c.input, &c.weights, &biases, &mut h1, &mut c1[..], &mut o1)
            .expect("valid case");
        tflm(&c, &mut h2, &mut c2, &mut o2);
        prop_assert_eq!(o1, o2);
        prop_assert_eq!(h1, h2);
        prop_assert_eq!(c1, c2);
    }

    #[test]
    fn byte_pair_cell_state_is_the_same(c in case()) {
        let rows = c.batches * c.time_steps;
        let (p, biases) = ours(&c, true);
        let (mut h1, mut c1, mut o1) = (c.hidden.clone(), c.cell.clone(), vec![0i8; rows * c.units]);
        let mut h2 = c.hidden.clone();
        let mut pairs: Vec<[u8; 2]> = c.cell.iter().map(|v| v.to_le_bytes()).collect();
        let mut o2 = vec![0i8; rows * c.units];
        lstm_int8(&p, &c.input, &c.weights, &biases, &mut h1, &mut c1[..], &mut o1).expect("valid");
        lstm_int8(&p, &c.input, &c.weights, &biases, &mut h2, &mut pairs[..], &mut o2).expect("valid");
        prop_assert_eq!(o1, o2);
        let back: Vec<i16> = pairs.iter().map(|&b| i16::from_le_bytes(b)).collect();
        prop_assert_eq!(c1, back);
    }

    #[test]
    fn cell_tanh_matches_tflm_for_every_power(power in -30i32..=2, x in any::<i16>()) {
        let scales = LstmInt8Scales {
            input_scale: 0.01,
            input_zero_point: 0,
            hidden_scale: 0.01,
            hidden_zero_point: 0,
            cell_scale: 2f32.powi(power),
            input_weight_scales: [0.01; 4],
            recurrent_weight_scales: [0.01; 4],
            cell_clip: 0.0,
        };
        let (p, got_power) = prepare_lstm_int8(&scales).expect("valid");
        prop_assert_eq!(got_power, power);
        prop_assert_eq!(
            tanh_i16(x, p.cell_tanh_multiplier, p.cell_tanh_shift),
            tflm_lstm_tanh(power, x)
        );
    }
}

#[test]
fn activations_match_tflm_on_every_input() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(sigmoid_q12(x), tflm_logistic(0, 0, x), "sigmoid {x}");
        assert_eq!(tanh_q12(x), tflm_lstm_tanh(-12, x), "tanh {x}");
    }
}

#[test]
fn activations_approximate_the_functions() {
    for x in (i16::MIN..=i16::MAX).step_by(97) {
        let real = f64::from(x) / 4096.0;
        let s = f64::from(sigmoid_q12(x)) / 32768.0;
        let t = f64::from(tanh_q12(x)) / 32768.0;
        let sigmoid = 1.0 / (1.0 + libm_exp(-real));
        let tanh = 2.0 / (1.0 + libm_exp(-2.0 * real)) - 1.0;
        assert!((s - sigmoid).abs() < 2e-3, "sigmoid {x}: {s} vs {sigmoid}");
        assert!((t - tanh).abs() < 4e-3, "tanh {x}: {t} vs {tanh}");
    }
}

/// `exp` for the approximation check (std is available under test).
fn libm_exp(x: f64) -> f64 {
    std::primitive::f64::exp(x)
}

#[test]
fn saturated_gates_and_the_cell_clip() {
    // Saturating layers: every weight and input at the int8 limits.
    let scales = LstmInt8Scales {
        input_scale: 0.05,
        input_zero_point: -128,
        hidden_scale: 0.05,
        hidden_zero_point: 127,
        cell_scale: 2f32.powi(-11),
        input_weight_scales: [0.05; 4],
        recurrent_weight_scales: [0.05; 4],
        cell_clip: 3.0,
    };
    let (mut p, _) = prepare_lstm_int8(&scales).expect("valid");
    assert!(p.clip_cell);
    assert_eq!(p.cell_clip, 6144);
    p.batches = 1;
    p.time_steps = 3;
    p.input_size = 2;
    p.units = 2;
    // 2^-15 is not TFLM's Q0.15 scale: its literal is a few ulps below.
    assert_ne!(p.forget_cell.multiplier, 1 << 30);
    let weights = vec![127i8; 4 * (2 * 2 + 2 * 2)];
    let biases = vec![i32::MAX; 16];
    let (mut h, mut c, mut o) = (vec![-128i8; 2], vec![i16::MAX; 2], vec![0i8; 6]);
    lstm_int8(&p, &[127; 6], &weights, &biases, &mut h, &mut c[..], &mut o).expect("valid");
    // Every value clipped to 3.0 at 2^-11.
    assert_eq!(c, vec![6144, 6144]);
    assert_eq!(h, o[4..].to_vec());
}

#[test]
fn refuses_bad_scales_and_lengths() {
    let mut scales = LstmInt8Scales {
        input_scale: 0.05,
        input_zero_point: 0,
        hidden_scale: 0.05,
        hidden_zero_point: 0,
        cell_scale: 0.0003,
        input_weight_scales: [0.05; 4],
        recurrent_weight_scales: [0.05; 4],
        cell_clip: 0.0,
    };
    assert!(prepare_lstm_int8(&scales).is_err());
    scales.cell_scale = 2f32.powi(-12);
    let (mut p, _) = prepare_lstm_int8(&scales).expect("valid");
    p.batches = 1;
    p.time_steps = 1;
    p.input_size = 1;
    p.units = 1;
    let (mut h, mut c, mut o) = ([0i8; 1], [0i16; 1], [0i8; 1]);
    assert!(lstm_int8(&p, &[0], &[0; 8], &[0; 8], &mut h, &mut c[..], &mut o).is_ok());
    assert!(lstm_int8(&p, &[0], &[0; 7], &[0; 8], &mut h, &mut c[..], &mut o).is_err());
    assert!(lstm_int8(&p, &[0], &[0; 8], &[0; 7], &mut h, &mut c[..], &mut o).is_err());
}

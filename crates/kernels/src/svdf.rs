//! SVDF (a rank-limited time-delay layer with persistent state), as TFLM's
//! `EvalIntegerSvdfReference` (int8 activations, int16 state and time
//! weights) and `EvalFloatSvdfReference` compute it.
//!
//! Layouts: input `[batches, input_size]`, feature weights
//! `[num_filters, input_size]`, time weights `[num_filters, memory_size]`,
//! bias `[units]` (`units = num_filters / rank`), state
//! `[batches, num_filters, memory_size]` (the oldest column first), output
//! `[batches, units]`.
//!
//! One invoke: the whole state moves one value towards its start (each
//! filter's row forgets its oldest column; the value moved into a row's last
//! column from the next row is overwritten next), the feature dot products
//! fill each row's last column, then each unit sums `rank` filters' dot
//! products of their time weights with their state rows, plus the bias.
//! The integer kernel ignores the fused activation, as TFLM's does.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, mbqm, quantize_multiplier};
use crate::int16::Int16sMut;

/// Shape and folded quantization of one SVDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvdfParams {
    pub batches: usize,
    pub input_size: usize,
    pub num_filters: usize,
    pub memory_size: usize,
    pub rank: usize,
    /// Integer kernel only (0 for float).
    pub input_zero_point: i32,
    /// Integer kernel only: added to each new state value before its clamp,
    /// subtracted from each state value in the time dot products.
    pub state_zero_point: i32,
    pub output_zero_point: i32,
    /// input·feature → state (`effective_scale_1`).
    pub feature_multiplier: i32,
    pub feature_shift: i32,
    /// state·time → output (`effective_scale_2`).
    pub output_multiplier: i32,
    pub output_shift: i32,
}

impl SvdfParams {
    /// Output values per batch row.
    pub fn units(&self) -> usize {
        self.num_filters / self.rank.max(1)
    }

    /// Values of state the op keeps (`batches·num_filters·memory_size`).
    pub fn state_len(&self) -> Option<usize> {
        self.batches
            .checked_mul(self.num_filters)?
            .checked_mul(self.memory_size)
    }

    /// Everything the kernels check before they read a value (lengths in
    /// elements).
    pub fn check(
        &self,
        input: usize,
        feature: usize,
        time: usize,
        bias: Option<usize>,
        state: usize,
        output: usize,
    ) -> Result<(), KernelError> {
        let bad = KernelError::InvalidParams;
        if self.rank == 0 || !self.num_filters.is_multiple_of(self.rank) {
            return Err(bad("SVDF rank must divide the number of filters"));
        }
        if self.memory_size == 0 || self.num_filters == 0 || self.batches == 0 {
            return Err(bad("SVDF needs filters, a memory and a batch"));
        }
        if !(-32..=31).contains(&self.feature_shift) || !(-32..=31).contains(&self.output_shift) {
            return Err(bad("SVDF shift out of range"));
        }
        let mul = |a: usize, b: usize| a.checked_mul(b).ok_or(bad("SVDF shape overflows"));
        check_len("input", mul(self.batches, self.input_size)?, input)?;
        check_len(
            "feature weights",
            mul(self.num_filters, self.input_size)?,
            feature,
        )?;
        check_len(
            "time weights",
            mul(self.num_filters, self.memory_size)?,
            time,
        )?;
        check_len(
            "state",
            self.state_len().ok_or(bad("SVDF shape overflows"))?,
            state,
        )?;
        check_len("output", mul(self.batches, self.units())?, output)?;
        if let Some(bias) = bias {
            check_len("bias", self.units(), bias)?;
        }
        Ok(())
    }
}

/// `((feature_multiplier, feature_shift), (output_multiplier, output_shift))`.
pub type SvdfMultipliers = ((i32, i32), (i32, i32));

/// Host side: the two requantization multipliers, each scale ratio taken
/// in float then widened to double as TFLM's `PrepareSvdf` does, and TFLM's
/// check that the bias scale is `state_scale·time_scale` (within 1e-5).
/// Returns `((feature_multiplier, feature_shift), (output_multiplier, output_shift))`.
pub fn prepare_svdf_multipliers(
    input_scale: f32,
    feature_scale: f32,
    state_scale: f32,
    time_scale: f32,
    output_scale: f32,
    bias_scale: Option<f32>,
) -> Result<SvdfMultipliers, KernelError> {
    let positive = |s: f32| s.is_finite() && s > 0.0;
    if ![
        input_scale,
        feature_scale,
        state_scale,
        time_scale,
        output_scale,
    ]
    .into_iter()
    .all(positive)
    {
        return Err(KernelError::InvalidParams(
            "SVDF scales must be finite and positive",
        ));
    }
    if let Some(b) = bias_scale
        && (f64::from(b) - f64::from(state_scale * time_scale)).abs() >= 1e-5
    {
        return Err(KernelError::InvalidParams(
            "SVDF bias scale must equal state scale x time weights scale (TFLM fails to prepare)",
        ));
    }
    let scale_1 = f64::from(input_scale * feature_scale / state_scale);
    let scale_2 = f64::from(state_scale * time_scale / output_scale);
    Ok((quantize_multiplier(scale_1), quantize_multiplier(scale_2)))
}

/// Forgets each row's oldest state column: every value moves one place
/// towards the start (TFLM moves the whole buffer; each row's last column
/// is rewritten next).
fn shift_state<S: Int16sMut + ?Sized>(state: &mut S) {
    for k in 1..state.count() {
        let v = state.at(k);
        state.put(k - 1, v);
    }
}

/// SVDF with int8 input and output, int16 time weights and state.
pub fn svdf_int8<S: Int16sMut + ?Sized>(
    p: &SvdfParams,
    input: &[i8],
    feature: &[i8],
    time: &[i16],
    bias: Option<&[i32]>,
    state: &mut S,
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        feature.len(),
        time.len(),
        bias.map(<[i32]>::len),
        state.count(),
        output.len(),
    )?;
    let (n_in, n_f, n_m) = (p.input_size, p.num_filters, p.memory_size);
    shift_state(state);
    for b in 0..p.batches {
        let x = &input[b * n_in..(b + 1) * n_in];
        for f in 0..n_f {
            let w = &feature[f * n_in..(f + 1) * n_in];
            let dot = x.iter().zip(w).fold(0i32, |acc, (&x, &w)| {
                acc.wrapping_add(
                    i32::from(w).wrapping_mul(i32::from(x).wrapping_sub(p.input_zero_point)),
                )
            });
            let v = mbqm(dot, p.feature_multiplier, p.feature_shift)
                .wrapping_add(p.state_zero_point)
                .clamp(i32::from(i16::MIN), i32::from(i16::MAX));
            state.put((b * n_f + f) * n_m + n_m - 1, v as i16);
        }
    }
    let units = p.units();
    for b in 0..p.batches {
        for u in 0..units {
            let mut acc = bias.map_or(0, |bias| bias[u]);
            for f in u * p.rank..(u + 1) * p.rank {
                let row = (b * n_f + f) * n_m;
                let mut dot = 0i32;
                for (j, &w) in time[f * n_m..(f + 1) * n_m].iter().enumerate() {
                    let s = i32::from(state.at(row + j)).wrapping_sub(p.state_zero_point);
                    dot = dot.wrapping_add(i32::from(w).wrapping_mul(s));
                }
                acc = acc.wrapping_add(dot);
            }
            let y = mbqm(acc, p.output_multiplier, p.output_shift)
                .wrapping_add(p.output_zero_point)
                .clamp(-128, 127);
            output[b * units + u] = y as i8;
        }
    }
    Ok(())
}

/// `std::fmax` as glibc computes it: `x` unless `y` is larger or `x` is NaN.
fn fmax(x: f32, y: f32) -> f32 {
    if x >= y || y.is_nan() { x } else { y }
}

/// `std::fmin` as glibc computes it.
fn fmin(x: f32, y: f32) -> f32 {
    if x <= y || y.is_nan() { x } else { y }
}

/// TFLM's `ActivationValFloat` for the fused activations SVDF takes
/// (`TfLiteMax`/`TfLiteMin` are `fmax`/`fmin`).
pub fn svdf_activation_f32(activation: Activation, a: f32) -> f32 {
    match activation {
        Activation::None => a,
        Activation::Relu => fmax(0.0, a),
        Activation::ReluN1To1 => fmax(-1.0, fmin(a, 1.0)),
        Activation::Relu6 => fmax(0.0, fmin(a, 6.0)),
    }
}

/// SVDF in float32, in TFLM's order: each dot product a sum from `0.0`
/// adding one rounded product at a time, each unit `bias` (or `0.0`) plus
/// its filters' sums in order, then the activation.
#[allow(clippy::too_many_arguments)] // the op's five tensors, its output and its activation
pub fn svdf_f32(
    p: &SvdfParams,
    activation: Activation,
    input: &[f32],
    feature: &[f32],
    time: &[f32],
    bias: Option<&[f32]>,
    state: &mut [f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        feature.len(),
        time.len(),
        bias.map(<[f32]>::len),
        state.len(),
        output.len(),
    )?;
    let (n_in, n_f, n_m) = (p.input_size, p.num_filters, p.memory_size);
    state.copy_within(1.., 0);
    for b in 0..p.batches {
        let x = &input[b * n_in..(b + 1) * n_in];
        for f in 0..n_f {
            let mut dot = 0.0f32;
            for (&w, &x) in feature[f * n_in..(f + 1) * n_in].iter().zip(x) {
                dot += w * x;
            }
            state[(b * n_f + f) * n_m + n_m - 1] = dot;
        }
    }
    let units = p.units();
    for b in 0..p.batches {
        for u in 0..units {
            let mut acc = bias.map_or(0.0, |bias| bias[u]);
            for f in u * p.rank..(u + 1) * p.rank {
                let row = &state[(b * n_f + f) * n_m..(b * n_f + f + 1) * n_m];
                let mut dot = 0.0f32;
                for (&w, &s) in time[f * n_m..(f + 1) * n_m].iter().zip(row) {
                    dot += w * s;
                }
                acc += dot;
            }
            output[b * units + u] = svdf_activation_f32(activation, acc);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// TFLM's integer reference transcribed step by step: a separate state
    /// shift over the flat buffer, an int32 scratch per filter, an int32
    /// scratch per unit starting at the bias, then the requantization.
    fn tflm_int(
        p: &SvdfParams,
        input: &[i8],
        feature: &[i8],
        time: &[i16],
        bias: Option<&[i32]>,
        state: &mut [i16],
    ) -> Vec<i8> {
        let (nb, ni, nf, nm, rank) = (
            p.batches,
            p.input_size,
            p.num_filters,
            p.memory_size,
            p.rank,
        );
        let nu = nf / rank;
        for k in 0..state.len() - 1 {
            state[k] = state[k + 1];
        }
        for b in 0..nb {
            for r in 0..nf {
                let mut dot: i32 = 0;
                for c in 0..ni {
                    dot = dot.wrapping_add(
                        (feature[r * ni + c] as i32)
                            .wrapping_mul(input[b * ni + c] as i32 - p.input_zero_point),
                    );
                }
                dot = mbqm(dot, p.feature_multiplier, p.feature_shift);
                dot = p.state_zero_point.wrapping_add(dot);
                dot = dot.clamp(-32768, 32767);
                state[b * nf * nm + r * nm + nm - 1] = dot as i16;
            }
        }
        let mut scratch = std::vec![0i32; nb * nf];
        for b in 0..nb {
            for i in 0..nf {
                for j in 0..nm {
                    let s = state[b * nm * nf + i * nm + j] as i32 - p.state_zero_point;
                    scratch[b * nf + i] =
                        scratch[b * nf + i].wrapping_add((time[i * nm + j] as i32).wrapping_mul(s));
                }
            }
        }
        let mut out32 = std::vec![0i32; nb * nu];
        for b in 0..nb {
            for j in 0..nu {
                out32[b * nu + j] = bias.map_or(0, |bias| bias[j]);
            }
        }
        for b in 0..nb {
            let mut k = 0;
            for i in 0..nu {
                for _ in 0..rank {
                    out32[b * nu + i] = out32[b * nu + i].wrapping_add(scratch[b * nf + k]);
                    k += 1;
                }
            }
        }
        out32
            .iter()
            .map(|&x| {
                let x2 = mbqm(x, p.output_multiplier, p.output_shift);
                (x2.wrapping_add(p.output_zero_point)).clamp(-128, 127) as i8
            })
            .collect()
    }

    fn shape() -> impl Strategy<Value = (usize, usize, usize, usize, usize)> {
        // batches, input size, units, rank, memory
        (1usize..3, 1usize..9, 1usize..5, 1usize..3, 1usize..6)
    }

    fn params(
        (nb, ni, nu, rank, nm): (usize, usize, usize, usize, usize),
        zps: (i32, i32, i32),
        m1: (i32, i32),
        m2: (i32, i32),
    ) -> SvdfParams {
        SvdfParams {
            batches: nb,
            input_size: ni,
            num_filters: nu * rank,
            memory_size: nm,
            rank,
            input_zero_point: zps.0,
            state_zero_point: zps.1,
            output_zero_point: zps.2,
            feature_multiplier: m1.0,
            feature_shift: m1.1,
            output_multiplier: m2.0,
            output_shift: m2.1,
        }
    }

    fn extreme_i8() -> impl Strategy<Value = i8> {
        prop_oneof![Just(-128i8), Just(127i8), any::<i8>()]
    }

    fn extreme_i16() -> impl Strategy<Value = i16> {
        prop_oneof![Just(i16::MIN), Just(i16::MAX), any::<i16>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Three invokes in a row (the state carried between them) equal
        /// the transcription, also on int16 state stored as byte pairs.
        #[test]
        fn int8_equals_tflm_transcription(
            dims in shape(),
            seed in any::<u64>(),
            zps in (-128i32..128, -300i32..300, -128i32..128),
            m1 in (1i32 << 30..i32::MAX, -20i32..8),
            m2 in (1i32 << 30..i32::MAX, -31i32..2),
            with_bias in any::<bool>(),
            values in proptest::collection::vec((extreme_i8(), extreme_i16(), any::<i32>()), 512),
        ) {
            let p = params(dims, zps, m1, m2);
            let (nb, ni, nf, nm) = (p.batches, p.input_size, p.num_filters, p.memory_size);
            let pick = |k: usize| values[(k.wrapping_mul(2654435761) ^ seed as usize) % values.len()];
            let feature: Vec<i8> = (0..nf * ni).map(|k| pick(k).0).collect();
            let time: Vec<i16> = (0..nf * nm).map(|k| pick(k + 1000).1).collect();
            let bias: Vec<i32> = (0..p.units()).map(|k| pick(k + 2000).2 >> 8).collect();
            let bias = with_bias.then_some(bias.as_slice());
            let mut want_state: Vec<i16> = (0..nb * nf * nm).map(|k| pick(k + 3000).1).collect();
            let mut bytes: Vec<[u8; 2]> = want_state.iter().map(|v| v.to_le_bytes()).collect();
            for round in 0..3 {
                let input: Vec<i8> = (0..nb * ni).map(|k| pick(k + 4000 + 97 * round).0).collect();
                let want = tflm_int(&p, &input, &feature, &time, bias, &mut want_state);
                let mut got = std::vec![0i8; nb * p.units()];
                svdf_int8(&p, &input, &feature, &time, bias, &mut bytes[..], &mut got).expect("valid shapes");
                prop_assert_eq!(&got, &want);
                let state: Vec<i16> = bytes.iter().map(|b| i16::from_le_bytes(*b)).collect();
                prop_assert_eq!(&state, &want_state);
            }
        }

        /// The float kernel equals TFLM's float reference transcribed, to the bit.
        #[test]
        fn float_equals_tflm_transcription(
            dims in shape(),
            values in proptest::collection::vec(-4.0f32..4.0, 256),
            with_bias in any::<bool>(),
            act in 0usize..4,
        ) {
            let p = params(dims, (0, 0, 0), (0, 0), (0, 0));
            let (nb, ni, nf, nm, rank) = (p.batches, p.input_size, p.num_filters, p.memory_size, p.rank);
            let nu = p.units();
            let v = |k: usize| values[k % values.len()];
            let feature: Vec<f32> = (0..nf * ni).map(|k| v(k * 7)).collect();
            let time: Vec<f32> = (0..nf * nm).map(|k| v(k * 11 + 3)).collect();
            let bias_v: Vec<f32> = (0..nu).map(|k| v(k * 13 + 5)).collect();
            let bias = with_bias.then_some(bias_v.as_slice());
            let activation = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let mut state: Vec<f32> = (0..nb * nf * nm).map(|k| v(k * 17 + 1)).collect();
            let mut want_state = state.clone();
            for round in 0..2 {
                let input: Vec<f32> = (0..nb * ni).map(|k| v(k * 5 + round)).collect();
                // Transcription.
                for k in 0..want_state.len() - 1 {
                    want_state[k] = want_state[k + 1];
                }
                for b in 0..nb {
                    for j in 0..nf {
                        let mut dot = 0.0f32;
                        for k in 0..ni {
                            dot += feature[j * ni + k] * input[b * ni + k];
                        }
                        want_state[b * nf * nm + j * nm + nm - 1] = dot;
                    }
                }
                let mut scratch = std::vec![0.0f32; nb * nf];
                for b in 0..nb {
                    for i in 0..nf {
                        for j in 0..nm {
                            scratch[b * nf + i] += time[i * nm + j] * want_state[b * nm * nf + i * nm + j];
                        }
                    }
                }
                let mut want = std::vec![0.0f32; nb * nu];
                if let Some(bias) = bias {
                    for b in 0..nb {
                        want[b * nu..(b + 1) * nu].copy_from_slice(bias);
                    }
                }
                for b in 0..nb {
                    let mut k = 0;
                    for i in 0..nu {
                        for _ in 0..rank {
                            want[b * nu + i] += scratch[b * nf + k];
                            k += 1;
                        }
                    }
                }
                let fmax = |x: f32, y: f32| if x >= y || y.is_nan() { x } else { y };
                let fmin = |x: f32, y: f32| if x <= y || y.is_nan() { x } else { y };
                for w in &mut want {
                    *w = match activation {
                        Activation::None => *w,
                        Activation::Relu => fmax(0.0, *w),
                        Activation::Relu6 => fmax(0.0, fmin(*w, 6.0)),
                        Activation::ReluN1To1 => fmax(-1.0, fmin(*w, 1.0)),
                    };
                }
                let mut got = std::vec![0.0f32; nb * nu];
                svdf_f32(&p, activation, &input, &feature, &time, bias, &mut state, &mut got).expect("valid shapes");
                let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&got), bits(&want));
                prop_assert_eq!(bits(&state), bits(&want_state));
            }
        }
    }

    #[test]
    fn refuses_a_rank_that_does_not_divide_the_filters() {
        let mut p = params((1, 2, 2, 2, 3), (0, 0, 0), (1 << 30, 0), (1 << 30, 0));
        p.num_filters = 3;
        let mut state = [0i16; 9];
        let err = svdf_int8(
            &p,
            &[0; 2],
            &[0; 6],
            &[0; 9],
            None,
            &mut state[..],
            &mut [0; 1],
        );
        assert!(err.is_err());
    }

    #[test]
    fn multipliers_follow_float_scale_ratios() {
        let ((m1, s1), (m2, s2)) =
            prepare_svdf_multipliers(0.5, 0.25, 0.125, 0.5, 0.0625, Some(0.0625))
                .expect("exact scales");
        assert_eq!((m1, s1), quantize_multiplier(1.0));
        assert_eq!((m2, s2), quantize_multiplier(1.0));
        assert!(prepare_svdf_multipliers(0.5, 0.25, 0.125, 0.5, 0.0625, Some(0.07)).is_err());
    }
}

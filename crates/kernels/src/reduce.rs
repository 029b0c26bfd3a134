//! MEAN int8 over arbitrary axes, TFLM flavour (spec 2.17):
//! `reference_ops::QuantizedMeanOrSum` as `micro/kernels/reduce_common.cc`
//! calls it for every int8 MEAN (no same-scale or 4-D special case).
//!
//! `keep_dims` only changes the output *shape*; the output elements and their
//! order are the same either way, so it is not a kernel parameter.
//!
//! Some TFLM versions (and the Xtensa port as of its last sync) route MEAN
//! with identical input/output scale and zero point to `reference_ops::Mean`
//! instead: the raw int32 sum divided by `N` with C truncation.
//! [`prepare_mean_with_same_params_shortcut`] selects that behaviour.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{mbqm, quantize_multiplier};
use crate::shape::{MAX_DIMS, Shape, num_elements, pad_shape, strides};

/// Folded parameters of one MEAN node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeanParams {
    /// Input shape, left-padded with 1s.
    pub input_shape: Shape,
    /// `true` for every (padded) dimension that is averaged away.
    pub reduce: [bool; MAX_DIMS],
    /// Input zero point.
    pub input_zero_point: i32,
    /// Output zero point.
    pub output_zero_point: i32,
    /// Number of input elements averaged into each output (`N`).
    pub num_elements_in_axis: i64,
    /// Q31 multiplier of `input_scale / output_scale / N` (folded as TFLM).
    pub multiplier: i32,
    /// Exponent of `multiplier` (positive = left).
    pub shift: i32,
    /// Compute `sum / N` (C truncation) instead of requantizing: the
    /// same-params shortcut of some TFLM versions.
    pub truncating_same_params: bool,
}

impl MeanParams {
    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        let mut n = 1usize;
        for d in 0..MAX_DIMS {
            if !self.reduce[d] {
                n = n.saturating_mul(self.input_shape[d]);
            }
        }
        n
    }

    /// What [`mean`] checks: the input holds the input shape's elements and
    /// the output one per kept position.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        check_len("mean input", num_elements(&self.input_shape), input)?;
        check_len("mean output", self.output_len(), output)
    }
}

/// Derives [`MeanParams`] as TFLM: `QuantizeMultiplier((double)in_scale /
/// (double)out_scale)` in prepare, then the `1/N` fold of
/// `QuantizedMeanOrSum`.
///
/// `axes` may be negative and may repeat (duplicates count once, as TFLM's
/// `ResolveAxis`); out-of-range axes are an error. TFLM itself limits MEAN to
/// rank <= 5 and at most 2 distinct axes (stack arrays in `reduce_common.cc`);
/// this accepts up to rank 6 and any axes.
pub fn prepare_mean(
    input_shape: &[usize],
    axes: &[i32],
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<MeanParams, KernelError> {
    let rank = input_shape.len();
    let padded = pad_shape(input_shape)?;
    if !(input_scale.is_finite()
        && input_scale > 0.0
        && output_scale.is_finite()
        && output_scale > 0.0)
    {
        return Err(KernelError::InvalidParams(
            "mean scales must be finite and positive",
        ));
    }
    let mut reduce = [false; MAX_DIMS];
    // TFLM's ResolveAxis ignores the axes of a scalar input.
    let axes = if rank == 0 { &[][..] } else { axes };
    for &axis in axes {
        let a = if axis < 0 {
            i64::from(axis) + rank as i64
        } else {
            i64::from(axis)
        };
        if a < 0 || a >= rank as i64 {
            return Err(KernelError::InvalidParams("mean axis out of range"));
        }
        reduce[MAX_DIMS - rank + a as usize] = true;
    }

    // CheckedReducedElementCount over the distinct axes, in int64.
    let mut n: i64 = 1;
    for d in 0..MAX_DIMS {
        if reduce[d] {
            let dim = i64::try_from(padded[d])
                .map_err(|_| KernelError::InvalidParams("mean dimension too large"))?;
            n = n
                .checked_mul(dim)
                .ok_or(KernelError::InvalidParams("mean element count overflows"))?;
        }
    }

    let (mut multiplier, mut shift) =
        quantize_multiplier(f64::from(input_scale) / f64::from(output_scale));
    if n > 0 {
        // Fold 1/N into the multiplier: pre-shift by up to floor(log2 N)
        // (at most 32, and keeping shift - s >= -31), then divide.
        let s = (63 - (n as u64).leading_zeros() as i32)
            .min(32)
            .min(31 + shift);
        multiplier = ((i64::from(multiplier) << s) / n) as i32;
        shift -= s;
    }
    Ok(MeanParams {
        input_shape: padded,
        reduce,
        input_zero_point,
        output_zero_point,
        num_elements_in_axis: n,
        multiplier,
        shift,
        truncating_same_params: false,
    })
}

/// Like [`prepare_mean`], but when input and output scale (compared as
/// float) and zero point are equal, selects the `reference_ops::Mean` path of
/// TFLM versions that special-case it: `output = (int8)(sum / N)` with C
/// truncating division of the raw int32 sum.
pub fn prepare_mean_with_same_params_shortcut(
    input_shape: &[usize],
    axes: &[i32],
    input_scale: f32,
    input_zero_point: i32,
    output_scale: f32,
    output_zero_point: i32,
) -> Result<MeanParams, KernelError> {
    let mut p = prepare_mean(
        input_shape,
        axes,
        input_scale,
        input_zero_point,
        output_scale,
        output_zero_point,
    )?;
    p.truncating_same_params = input_scale == output_scale && input_zero_point == output_zero_point;
    Ok(p)
}

/// Calls `f(offset)` for every multi-index of `shape`, in row-major order,
/// with `offset = sum(index[d] * stride[d])`.
#[inline]
pub(crate) fn for_each_offset(shape: &Shape, stride: &[usize; MAX_DIMS], mut f: impl FnMut(usize)) {
    for i0 in 0..shape[0] {
        let o0 = i0 * stride[0];
        for i1 in 0..shape[1] {
            let o1 = o0 + i1 * stride[1];
            for i2 in 0..shape[2] {
                let o2 = o1 + i2 * stride[2];
                for i3 in 0..shape[3] {
                    let o3 = o2 + i3 * stride[3];
                    for i4 in 0..shape[4] {
                        let o4 = o3 + i4 * stride[4];
                        for i5 in 0..shape[5] {
                            f(o4 + i5 * stride[5]);
                        }
                    }
                }
            }
        }
    }
}

/// MEAN: `output[o] = clamp(MBQM(sum - in_zp * N, multiplier, shift) + out_zp)`
/// where `sum` is the int32 (wrapping) sum of the raw input codes reduced
/// into output `o`.
pub fn mean(p: &MeanParams, input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;

    // TFLM zero-fills the output (not with the zero point) and stops when
    // the input is empty.
    if input.is_empty() || p.num_elements_in_axis <= 0 {
        output.fill(0);
        return Ok(());
    }

    let stride = strides(&p.input_shape);
    let mut outer_shape = p.input_shape;
    let mut reduced_shape = [1usize; MAX_DIMS];
    for d in 0..MAX_DIMS {
        if p.reduce[d] {
            outer_shape[d] = 1;
            reduced_shape[d] = p.input_shape[d];
        }
    }
    // int64 product, truncated to int32 with the subtraction (C++ `static_cast<U>`).
    let zero_point_sum = i64::from(p.input_zero_point).wrapping_mul(p.num_elements_in_axis);

    let mut out = output.iter_mut();
    for_each_offset(&outer_shape, &stride, |base| {
        let mut sum = 0i32;
        for_each_offset(&reduced_shape, &stride, |offset| {
            sum = sum.wrapping_add(i32::from(input[base + offset]));
        });
        let value = if p.truncating_same_params {
            // reference_ops::Mean: int32 sum / (int32)N, truncating (N
            // cannot be 0 here unless it wrapped; never divide by 0).
            let n = p.num_elements_in_axis as i32;
            if n == 0 { 0 } else { sum.wrapping_div(n) }
        } else {
            let shifted_sum = (i64::from(sum).wrapping_sub(zero_point_sum)) as i32;
            mbqm(shifted_sum, p.multiplier, p.shift).wrapping_add(p.output_zero_point)
        };
        if let Some(o) = out.next() {
            *o = value.clamp(-128, 127) as i8;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn global_average_pool_nhwc() {
        // 1x2x2x2, mean over H and W, same params: exact averages.
        let p = prepare_mean(&[1, 2, 2, 2], &[1, 2], 0.5, 0, 0.5, 0).expect("prepare");
        let x: [i8; 8] = [1, 10, 2, 20, 3, 30, 5, 40];
        let mut out = [0i8; 2];
        mean(&p, &x, &mut out).expect("runs");
        // 11/4 = 2.75 -> 3, 100/4 = 25.
        assert_eq!(out, [3, 25]);
        assert_eq!(p.output_len(), 2);
    }

    #[test]
    fn negative_and_duplicate_axes() {
        let a = prepare_mean(&[2, 3, 4], &[-1, 2, -1], 0.1, 1, 0.2, -3).expect("prepare");
        let b = prepare_mean(&[2, 3, 4], &[2], 0.1, 1, 0.2, -3).expect("prepare");
        assert_eq!(a, b);
        assert_eq!(a.num_elements_in_axis, 4);
        assert!(prepare_mean(&[2, 3], &[2], 0.1, 0, 0.1, 0).is_err());
        assert!(prepare_mean(&[2, 3], &[-3], 0.1, 0, 0.1, 0).is_err());
    }

    #[test]
    fn multiplier_fold_matches_tflm_formula() {
        // N = 49 (7x7): shift = floor(log2 49) = 5.
        let p = prepare_mean(&[1, 7, 7, 8], &[1, 2], 0.02, -5, 0.01, 3).expect("prepare");
        let (m, s) = quantize_multiplier(f64::from(0.02f32) / f64::from(0.01f32));
        assert_eq!(p.multiplier, ((i64::from(m) << 5) / 49) as i32);
        assert_eq!(p.shift, s - 5);
    }

    #[test]
    fn same_params_shortcut_truncates() {
        let x: [i8; 4] = [-1, -2, -2, 0]; // sum -5, N 4
        let a = prepare_mean(&[4], &[0], 0.1, 0, 0.1, 0).expect("prepare");
        let b =
            prepare_mean_with_same_params_shortcut(&[4], &[0], 0.1, 0, 0.1, 0).expect("prepare");
        assert!(b.truncating_same_params);
        let (mut oa, mut ob) = ([0i8], [0i8]);
        mean(&a, &x, &mut oa).expect("runs");
        mean(&b, &x, &mut ob).expect("runs");
        assert_eq!((oa[0], ob[0]), (-1, -1)); // -1.25 rounds and truncates to -1
        let y: [i8; 2] = [3, 4]; // 3.5
        let a = prepare_mean(&[2], &[0], 0.1, 0, 0.1, 0).expect("prepare");
        let b =
            prepare_mean_with_same_params_shortcut(&[2], &[0], 0.1, 0, 0.1, 0).expect("prepare");
        mean(&a, &y, &mut oa).expect("runs");
        mean(&b, &y, &mut ob).expect("runs");
        assert_eq!((oa[0], ob[0]), (4, 3));
        let c =
            prepare_mean_with_same_params_shortcut(&[2], &[0], 0.1, 0, 0.1, 1).expect("prepare");
        assert!(!c.truncating_same_params);
    }

    #[test]
    fn errors_and_empty_inputs() {
        let p = prepare_mean(&[2, 3], &[1], 0.1, 0, 0.1, 0).expect("prepare");
        let mut out = [0i8; 2];
        assert!(mean(&p, &[0; 5], &mut out).is_err());
        assert!(mean(&p, &[0; 6], &mut out[..1]).is_err());
        // Reducing over an empty axis zero-fills the output.
        let e = prepare_mean(&[2, 0], &[1], 0.1, 0, 0.1, 5).expect("prepare");
        let mut out = [9i8; 2];
        mean(&e, &[], &mut out).expect("runs");
        assert_eq!(out, [0, 0]);
    }

    /// Exact reference: the documented formula with i128 arithmetic and a
    /// by-the-definition index walk.
    fn reference(shape: &[usize], axes: &[usize], x: &[i8], p: &MeanParams) -> Vec<i8> {
        let rank = shape.len();
        let out_dims: Vec<usize> = (0..rank)
            .map(|d| if axes.contains(&d) { 1 } else { shape[d] })
            .collect();
        let out_len: usize = out_dims.iter().product();
        let mut sums = vec![0i128; out_len];
        for (flat, &v) in x.iter().enumerate() {
            // unravel flat index, then ravel into the output
            let mut rem = flat;
            let mut idx = vec![0usize; rank];
            for d in (0..rank).rev() {
                idx[d] = rem % shape[d];
                rem /= shape[d];
            }
            let mut o = 0usize;
            for d in 0..rank {
                o = o * out_dims[d] + if axes.contains(&d) { 0 } else { idx[d] };
            }
            sums[o] += i128::from(v);
        }
        let n = i128::from(p.num_elements_in_axis);
        sums.iter()
            .map(|&s| {
                let shifted = s - i128::from(p.input_zero_point) * n;
                // MBQM with double rounding, written out in i128.
                let left = p.shift.max(0);
                let right = (-p.shift).max(0);
                let a = shifted << left;
                let ab = a * i128::from(p.multiplier);
                let hi = if ab >= 0 {
                    (ab + (1 << 30)) >> 31
                } else {
                    -((-ab + (1 << 30) - 1) >> 31)
                };
                let d = 1i128 << right;
                let q = if hi >= 0 {
                    (hi + d / 2) / d
                } else {
                    -((-hi + d / 2) / d)
                };
                let q = if right == 0 { hi } else { q };
                (q + i128::from(p.output_zero_point)).clamp(-128, 127) as i8
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn matches_exact_reference(
            shape in proptest::collection::vec(1usize..5, 1..=6),
            axis_bits in 1u32..64,
            in_scale in 0.001f32..1.0, in_zp in -128i32..=127,
            out_scale in 0.001f32..1.0, out_zp in -128i32..=127,
            seed in any::<u64>(),
        ) {
            let rank = shape.len();
            let axes: Vec<usize> = (0..rank).filter(|d| axis_bits & (1 << d) != 0).collect();
            let axes_i32: Vec<i32> = axes.iter().map(|&a| a as i32).collect();
            let p = prepare_mean(&shape, &axes_i32, in_scale, in_zp, out_scale, out_zp).expect("prepare");
            let len: usize = shape.iter().product();
            let mut state = seed;
            let x: Vec<i8> = (0..len).map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 56) as i8
            }).collect();
            let mut out = vec![0i8; p.output_len()];
            mean(&p, &x, &mut out).expect("runs");
            prop_assert_eq!(out, reference(&shape, &axes, &x, &p));
        }
    }
}

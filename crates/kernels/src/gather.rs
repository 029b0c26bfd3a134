//! GATHER along one axis with int32 indices, `batch_dims = 0` (TFLM
//! `gather.cc`): for every outer slice, the input's `inner`-long runs at
//! each index along the axis, in index order. Pure data movement, generic
//! over the element type.

use crate::error::{KernelError, check_len};

/// The input seen as `[outer, axis_size, inner]`; the output is
/// `[outer, count, inner]`, `count` being the number of indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatherParams {
    /// Product of the input dimensions before the axis.
    pub outer: usize,
    /// The input's size along the axis.
    pub axis_size: usize,
    /// Product of the input dimensions after the axis.
    pub inner: usize,
    /// Number of indices.
    pub count: usize,
}

impl GatherParams {
    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.outer
            .saturating_mul(self.axis_size)
            .saturating_mul(self.inner)
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.outer
            .saturating_mul(self.count)
            .saturating_mul(self.inner)
    }

    /// What [`gather`] checks: one index per `count`, each inside the
    /// axis (TFLM refuses an index outside it), and the buffer lengths.
    pub fn check(&self, indices: &[i32], input: usize, output: usize) -> Result<(), KernelError> {
        check_len("gather indices", self.count, indices.len())?;
        if indices
            .iter()
            .any(|&i| usize::try_from(i).map_or(true, |i| i >= self.axis_size))
        {
            return Err(KernelError::InvalidParams("gather index outside the axis"));
        }
        check_len("gather input", self.input_len(), input)?;
        check_len("gather output", self.output_len(), output)
    }
}

/// Builds [`GatherParams`] for `count` indices into `input_shape` along
/// `axis`.
pub fn prepare_gather(
    input_shape: &[usize],
    axis: usize,
    count: usize,
) -> Result<GatherParams, KernelError> {
    let Some(&axis_size) = input_shape.get(axis) else {
        return Err(KernelError::InvalidParams("gather axis outside the input"));
    };
    let product = |dims: &[usize]| {
        dims.iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or(KernelError::InvalidParams("gather input size overflows"))
    };
    Ok(GatherParams {
        outer: product(&input_shape[..axis])?,
        axis_size,
        inner: product(&input_shape[axis + 1..])?,
        count,
    })
}

/// GATHER: `output[o, j, :] = input[o, indices[j], :]`.
pub fn gather<T: Copy>(
    p: &GatherParams,
    indices: &[i32],
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    p.check(indices, input.len(), output.len())?;
    if p.inner == 0 {
        return Ok(());
    }
    let mut runs = output.chunks_exact_mut(p.inner);
    for o in 0..p.outer {
        for &i in indices {
            // `check` proved every index is in 0..axis_size.
            let start = (o * p.axis_size + i as usize) * p.inner;
            let Some(run) = runs.next() else {
                return Ok(());
            };
            run.copy_from_slice(&input[start..start + p.inner]);
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

    #[test]
    fn gathers_rows_and_columns() {
        let x = [1i8, 2, 3, 4, 5, 6]; // [2, 3]
        let p = prepare_gather(&[2, 3], 1, 2).expect("prepare");
        let mut out = [0i8; 4];
        gather(&p, &[2, 0], &x, &mut out).expect("runs");
        assert_eq!(out, [3, 1, 6, 4]);
        let p = prepare_gather(&[2, 3], 0, 3).expect("prepare");
        let mut out = [0i8; 9];
        gather(&p, &[1, 1, 0], &x, &mut out).expect("runs");
        assert_eq!(out, [4, 5, 6, 4, 5, 6, 1, 2, 3]);
    }

    #[test]
    fn refuses_bad_indices_and_buffers() {
        let p = prepare_gather(&[2, 3], 1, 2).expect("prepare");
        let mut out = [0i8; 4];
        assert!(gather(&p, &[3, 0], &[0; 6], &mut out).is_err());
        assert!(gather(&p, &[-1, 0], &[0; 6], &mut out).is_err());
        assert!(gather(&p, &[0], &[0; 6], &mut out).is_err());
        assert!(gather(&p, &[0, 0], &[0; 5], &mut out).is_err());
        assert!(gather(&p, &[0, 0], &[0; 6], &mut [0i8; 5]).is_err());
        assert!(prepare_gather(&[2, 3], 2, 1).is_err());
        assert!(prepare_gather(&[usize::MAX, 2, 3], 2, 1).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Against an N-D index walk: output index = input index with the
        /// axis coordinate replaced by `indices[j]`.
        #[test]
        fn matches_index_reference(
            shape in proptest::collection::vec(1usize..4, 1..=5),
            axis_pick in any::<usize>(),
            picks in proptest::collection::vec(any::<u16>(), 0..6),
        ) {
            let axis = axis_pick % shape.len();
            let indices: Vec<i32> = picks.iter().map(|&k| (k as usize % shape[axis]) as i32).collect();
            let len: usize = shape.iter().product();
            let x: Vec<f32> = (0..len).map(|i| f32::from_bits(0xff80_0001u32.wrapping_add(i as u32 * 977))).collect();
            let p = prepare_gather(&shape, axis, indices.len()).expect("prepare");
            let mut out = vec![0f32; p.output_len()];
            gather(&p, &indices, &x, &mut out).expect("runs");
            let mut out_shape = shape.clone();
            out_shape[axis] = indices.len();
            for (flat, got) in out.iter().enumerate() {
                let mut rem = flat;
                let mut idx = vec![0usize; shape.len()];
                for d in (0..shape.len()).rev() {
                    idx[d] = rem % out_shape[d];
                    rem /= out_shape[d];
                }
                idx[axis] = indices[idx[axis]] as usize;
                let src = idx.iter().zip(&shape).fold(0, |s, (&i, &n)| s * n + i);
                prop_assert_eq!(got.to_bits(), x[src].to_bits());
            }
        }
    }
}

//! CONCATENATION of int8 tensors along one axis (spec 2.20; TFLM
//! `reference/concatenation.h`). int8 inputs and output share scale and zero
//! point, so this is a copy.
//!
//! With `outer` = product of the dims before the axis and `inner` = product
//! of the dims after it, each input `i` is `outer` blocks of
//! `axis_i * inner` values and the output interleaves those blocks. The
//! per-input axis sizes follow from the input lengths, so the parameters are
//! just `outer` and `inner`.

use crate::error::{KernelError, check_len};

/// Parameters of one CONCATENATION node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatParams {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// Product of the dimensions after the axis.
    pub inner: usize,
}

impl ConcatParams {
    /// What [`concat`] checks: every input is a whole number of
    /// `outer * inner` blocks (all empty when that is 0) and the output
    /// holds them all. Lengths are in elements.
    pub fn check(
        &self,
        inputs: impl IntoIterator<Item = usize>,
        output: usize,
    ) -> Result<(), KernelError> {
        let block = self.outer.saturating_mul(self.inner);
        let mut total = 0usize;
        for len in inputs {
            if block == 0 {
                check_len("concatenation input", 0, len)?;
            } else if len % block != 0 {
                return Err(KernelError::BufferLength {
                    what: "concatenation input",
                    expected: (len / block) * block,
                    actual: len,
                });
            }
            total = total.saturating_add(len);
        }
        check_len("concatenation output", total, output)
    }
}

/// Builds [`ConcatParams`] from the input shapes and the (possibly negative)
/// axis, checking that all inputs have the same rank and agree on every
/// dimension but the axis. TFLM itself accepts at most 10 inputs of rank <= 4.
pub fn prepare_concat(input_shapes: &[&[usize]], axis: i32) -> Result<ConcatParams, KernelError> {
    let first = input_shapes.first().ok_or(KernelError::InvalidParams(
        "concatenation needs at least one input",
    ))?;
    let rank = first.len();
    let axis = if axis < 0 {
        i64::from(axis) + rank as i64
    } else {
        i64::from(axis)
    };
    if axis < 0 || axis >= rank as i64 {
        return Err(KernelError::InvalidParams(
            "concatenation axis out of range",
        ));
    }
    let axis = axis as usize;
    for shape in input_shapes {
        if shape.len() != rank {
            return Err(KernelError::InvalidParams(
                "concatenation inputs differ in rank",
            ));
        }
        for d in 0..rank {
            if d != axis && shape[d] != first[d] {
                return Err(KernelError::InvalidParams(
                    "concatenation inputs differ off the axis",
                ));
            }
        }
    }
    let product = |dims: &[usize]| dims.iter().fold(1usize, |n, &d| n.saturating_mul(d));
    Ok(ConcatParams {
        outer: product(&first[..axis]),
        inner: product(&first[axis + 1..]),
    })
}

/// CONCATENATION: copies `inputs` (in order) into `output` along the axis.
pub fn concat<T: Copy>(
    p: &ConcatParams,
    inputs: &[&[T]],
    output: &mut [T],
) -> Result<(), KernelError> {
    p.check(inputs.iter().map(|input| input.len()), output.len())?;
    if p.outer.saturating_mul(p.inner) == 0 {
        // Nothing to copy: every buffer is empty.
        return Ok(());
    }

    let mut out = 0usize;
    for k in 0..p.outer {
        for input in inputs {
            // Each input's slab for this outer index: axis_i * inner values.
            let copy_size = input.len() / p.outer;
            let src = &input[k * copy_size..(k + 1) * copy_size];
            output[out..out + copy_size].copy_from_slice(src);
            out += copy_size;
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
    fn concat_middle_axis() {
        // [2,1,2] ++ [2,2,2] on axis 1 (negative: -2).
        let p = prepare_concat(&[&[2, 1, 2], &[2, 2, 2]], -2).expect("prepare");
        assert_eq!(p, ConcatParams { outer: 2, inner: 2 });
        let a = [1i8, 2, 3, 4];
        let b = [10i8, 11, 12, 13, 20, 21, 22, 23];
        let mut out = [0i8; 12];
        concat(&p, &[&a, &b], &mut out).expect("runs");
        assert_eq!(out, [1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23]);
    }

    #[test]
    fn errors() {
        assert!(prepare_concat(&[], 0).is_err());
        assert!(prepare_concat(&[&[2, 3], &[3, 3]], 1).is_err());
        assert!(prepare_concat(&[&[2, 3], &[2, 3, 1]], 0).is_err());
        assert!(prepare_concat(&[&[2, 3]], 2).is_err());
        let p = prepare_concat(&[&[2, 3], &[2, 1]], 1).expect("prepare");
        let mut out = [0i8; 8];
        assert!(concat(&p, &[&[0; 6], &[0; 2]], &mut out[..7]).is_err());
        assert!(concat(&p, &[&[0; 5], &[0; 3]], &mut out).is_err());
        // Zero-sized blocks with data are rejected too.
        let z = ConcatParams { outer: 0, inner: 3 };
        assert!(concat(&z, &[&[1]], &mut []).is_err());
        assert!(concat::<i8>(&z, &[&[]], &mut []).is_ok());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn matches_index_reference(
            base in proptest::collection::vec(1usize..4, 1..=5),
            axis_sizes in proptest::collection::vec(0usize..4, 1..5),
            axis_seed in any::<usize>(),
        ) {
            let rank = base.len();
            let axis = axis_seed % rank;
            let shapes: Vec<Vec<usize>> = axis_sizes.iter().map(|&a| {
                let mut s = base.clone();
                s[axis] = a;
                s
            }).collect();
            let datas: Vec<Vec<i8>> = shapes.iter().enumerate().map(|(i, s)| {
                let n: usize = s.iter().product();
                (0..n).map(|j| (i * 37 + j) as i8).collect()
            }).collect();
            let shape_refs: Vec<&[usize]> = shapes.iter().map(|s| &s[..]).collect();
            let data_refs: Vec<&[i8]> = datas.iter().map(|d| &d[..]).collect();
            let p = prepare_concat(&shape_refs, axis as i32).expect("prepare");
            let total_axis: usize = axis_sizes.iter().sum();
            let mut out_shape = base.clone();
            out_shape[axis] = total_axis;
            let out_len: usize = out_shape.iter().product();
            let mut out = vec![0i8; out_len];
            concat(&p, &data_refs, &mut out).expect("runs");

            // Reference: for every output index, find the source input.
            for (flat, &got) in out.iter().enumerate() {
                let mut rem = flat;
                let mut idx = vec![0usize; rank];
                for d in (0..rank).rev() {
                    idx[d] = rem % out_shape[d];
                    rem /= out_shape[d];
                }
                let mut a = idx[axis];
                let mut which = 0;
                while a >= axis_sizes[which] {
                    a -= axis_sizes[which];
                    which += 1;
                }
                let mut src = 0usize;
                for d in 0..rank {
                    let i = if d == axis { a } else { idx[d] };
                    src = src * shapes[which][d] + i;
                }
                prop_assert_eq!(got, datas[which][src]);
            }
        }
    }
}

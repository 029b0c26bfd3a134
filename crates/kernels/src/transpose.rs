//! TRANSPOSE of an int8 tensor, up to 6-D (TFLM `reference/transpose.h`,
//! `kTransposeMaxDimensions = 6`): `output[i0..i5] = input[i_perm...]`.

use crate::error::{KernelError, check_len};
use crate::shape::{MAX_DIMS, Shape, num_elements, pad_shape, strides};

/// Parameters of one TRANSPOSE node, left-padded to [`MAX_DIMS`]: output
/// dimension `d` is input dimension `perm[d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposeParams {
    /// Input shape, left-padded with 1s.
    pub input_shape: Shape,
    /// Permutation of `0..MAX_DIMS` (identity on the padding dims).
    pub perm: [usize; MAX_DIMS],
}

impl TransposeParams {
    /// Output shape (left-padded): `input_shape[perm[d]]`.
    pub fn output_shape(&self) -> Shape {
        core::array::from_fn(|d| self.input_shape[self.perm[d] % MAX_DIMS])
    }

    fn perm_is_valid(&self) -> bool {
        let mut seen = [false; MAX_DIMS];
        for &p in &self.perm {
            if p >= MAX_DIMS || seen[p] {
                return false;
            }
            seen[p] = true;
        }
        true
    }

    /// What [`transpose`] checks: `perm` is a permutation and each buffer
    /// holds its shape's elements.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        if !self.perm_is_valid() {
            return Err(KernelError::InvalidParams(
                "transpose perm is not a permutation",
            ));
        }
        check_len("transpose input", num_elements(&self.input_shape), input)?;
        check_len(
            "transpose output",
            num_elements(&self.output_shape()),
            output,
        )
    }
}

/// Builds [`TransposeParams`] from the input shape and the `perm` tensor,
/// which must be a permutation of `0..rank` (no negative entries, as TFLM).
pub fn prepare_transpose(
    input_shape: &[usize],
    perm: &[i32],
) -> Result<TransposeParams, KernelError> {
    let rank = input_shape.len();
    let padded = pad_shape(input_shape)?;
    if perm.len() != rank {
        return Err(KernelError::InvalidParams(
            "transpose perm length differs from rank",
        ));
    }
    let offset = MAX_DIMS - rank;
    let mut full = [0usize; MAX_DIMS];
    for (d, slot) in full.iter_mut().enumerate().take(offset) {
        *slot = d;
    }
    for (d, &p) in perm.iter().enumerate() {
        let p = usize::try_from(p)
            .ok()
            .filter(|&p| p < rank)
            .ok_or(KernelError::InvalidParams(
                "transpose perm entry out of range",
            ))?;
        full[offset + d] = offset + p;
    }
    let params = TransposeParams {
        input_shape: padded,
        perm: full,
    };
    if !params.perm_is_valid() {
        return Err(KernelError::InvalidParams(
            "transpose perm is not a permutation",
        ));
    }
    Ok(params)
}

/// TRANSPOSE: walks the output in row-major order, reading the input with
/// the permuted strides.
pub fn transpose<T: Copy>(
    p: &TransposeParams,
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let out_shape = p.output_shape();
    if output.is_empty() {
        return Ok(());
    }
    let in_stride = strides(&p.input_shape);
    // Input stride of each output dimension.
    let s: [usize; MAX_DIMS] = core::array::from_fn(|d| in_stride[p.perm[d]]);
    let row_len = out_shape[MAX_DIMS - 1];
    let mut rows = output.chunks_exact_mut(row_len);
    for i0 in 0..out_shape[0] {
        let b0 = i0 * s[0];
        for i1 in 0..out_shape[1] {
            let b1 = b0 + i1 * s[1];
            for i2 in 0..out_shape[2] {
                let b2 = b1 + i2 * s[2];
                for i3 in 0..out_shape[3] {
                    let b3 = b2 + i3 * s[3];
                    for i4 in 0..out_shape[4] {
                        let b4 = b3 + i4 * s[4];
                        let Some(row) = rows.next() else {
                            return Ok(());
                        };
                        if s[5] == 1 {
                            // The last dimension stays last: a contiguous copy.
                            row.copy_from_slice(&input[b4..b4 + row_len]);
                        } else {
                            for (i5, o) in row.iter_mut().enumerate() {
                                *o = input[b4 + i5 * s[5]];
                            }
                        }
                    }
                }
            }
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
    fn transposes_2d() {
        let p = prepare_transpose(&[2, 3], &[1, 0]).expect("prepare");
        let mut out = [0i8; 6];
        transpose(&p, &[1, 2, 3, 4, 5, 6], &mut out).expect("runs");
        assert_eq!(out, [1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn errors() {
        assert!(prepare_transpose(&[2, 3], &[0]).is_err());
        assert!(prepare_transpose(&[2, 3], &[0, 0]).is_err());
        assert!(prepare_transpose(&[2, 3], &[0, 2]).is_err());
        assert!(prepare_transpose(&[2, 3], &[-1, 0]).is_err());
        let p = prepare_transpose(&[2, 3], &[1, 0]).expect("prepare");
        let mut out = [0i8; 6];
        assert!(transpose(&p, &[0; 5], &mut out).is_err());
        let bad = TransposeParams {
            perm: [0, 0, 2, 3, 4, 5],
            ..p
        };
        assert!(transpose(&bad, &[0; 6], &mut out).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn matches_index_reference(
            shape in proptest::collection::vec(0usize..4, 0..=6),
            keys in proptest::collection::vec(any::<u32>(), 6),
        ) {
            let rank = shape.len();
            // A random permutation: sort 0..rank by random keys.
            let mut perm: Vec<usize> = (0..rank).collect();
            perm.sort_by_key(|&i| keys[i]);
            let perm_i32: Vec<i32> = perm.iter().map(|&p| p as i32).collect();
            let p = prepare_transpose(&shape, &perm_i32).expect("prepare");
            let len: usize = shape.iter().product();
            let x: Vec<i8> = (0..len).map(|i| (i * 7 % 256) as u8 as i8).collect();
            let out_dims: Vec<usize> = perm.iter().map(|&q| shape[q]).collect();
            let mut out = vec![0i8; len];
            transpose(&p, &x, &mut out).expect("runs");
            for (flat, &got) in out.iter().enumerate() {
                let mut rem = flat;
                let mut idx = vec![0usize; rank];
                for d in (0..rank).rev() {
                    idx[d] = rem % out_dims[d];
                    rem /= out_dims[d];
                }
                // output index d corresponds to input dim perm[d]
                let mut in_idx = vec![0usize; rank];
                for d in 0..rank {
                    in_idx[perm[d]] = idx[d];
                }
                let mut src = 0usize;
                for d in 0..rank {
                    src = src * shape[d] + in_idx[d];
                }
                prop_assert_eq!(got, x[src]);
            }
        }
    }
}

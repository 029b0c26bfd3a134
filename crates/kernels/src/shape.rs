//! N-D shape helpers shared by the N-D kernels (broadcasting elementwise
//! ops, transpose, slice, ...).
//!
//! Convention: a shape is a `[usize; MAX_DIMS]` **left-padded with 1s**, so a
//! rank-2 tensor `[3, 4]` is `[1, 1, 1, 1, 3, 4]`. Strides are in elements,
//! row-major (last dimension contiguous). Element counts saturate instead of
//! overflowing, so an absurd shape yields `usize::MAX`, which no buffer length
//! matches and `check_len` rejects.

use crate::error::KernelError;

/// Highest tensor rank the N-D kernels handle (TFLM's broadcast limit).
pub const MAX_DIMS: usize = 6;

/// A shape left-padded with 1s to [`MAX_DIMS`] dimensions.
pub type Shape = [usize; MAX_DIMS];

/// Left-pads `dims` (rank 0..=6) with 1s, e.g. `[3, 4]` → `[1, 1, 1, 1, 3, 4]`.
/// A rank-0 (scalar) shape becomes all 1s.
pub fn pad_shape(dims: &[usize]) -> Result<Shape, KernelError> {
    if dims.len() > MAX_DIMS {
        return Err(KernelError::InvalidParams("tensor rank exceeds MAX_DIMS"));
    }
    let mut shape = [1; MAX_DIMS];
    shape[MAX_DIMS - dims.len()..].copy_from_slice(dims);
    Ok(shape)
}

/// Number of elements (product of the dims), saturating at `usize::MAX`.
pub fn num_elements(shape: &Shape) -> usize {
    shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
}

/// Row-major strides in elements: `strides[MAX_DIMS - 1] == 1`.
pub fn strides(shape: &Shape) -> [usize; MAX_DIMS] {
    let mut s = [1usize; MAX_DIMS];
    for d in (0..MAX_DIMS - 1).rev() {
        s[d] = s[d + 1].saturating_mul(shape[d + 1]);
    }
    s
}

/// Strides for reading `input` while walking `output` (NumPy broadcasting):
/// dims where `input` is 1 get stride 0. Every input dim must be 1 or equal
/// the output dim.
pub fn broadcast_strides(input: &Shape, output: &Shape) -> Result<[usize; MAX_DIMS], KernelError> {
    let mut s = strides(input);
    for d in 0..MAX_DIMS {
        if input[d] == 1 {
            s[d] = 0;
        } else if input[d] != output[d] {
            return Err(KernelError::InvalidParams(
                "shapes are not broadcast-compatible",
            ));
        }
    }
    Ok(s)
}

/// The NumPy broadcast of two shapes: per dim, equal sizes or one of them 1.
pub fn broadcast_shape(a: &Shape, b: &Shape) -> Result<Shape, KernelError> {
    let mut out = [1; MAX_DIMS];
    for d in 0..MAX_DIMS {
        out[d] = if a[d] == b[d] || b[d] == 1 {
            a[d]
        } else if a[d] == 1 {
            b[d]
        } else {
            return Err(KernelError::InvalidParams(
                "shapes are not broadcast-compatible",
            ));
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_left_with_ones() {
        assert_eq!(pad_shape(&[3, 4]), Ok([1, 1, 1, 1, 3, 4]));
        assert_eq!(pad_shape(&[]), Ok([1; MAX_DIMS]));
        assert_eq!(pad_shape(&[1, 2, 3, 4, 5, 6]), Ok([1, 2, 3, 4, 5, 6]));
        assert!(pad_shape(&[1; 7]).is_err());
    }

    #[test]
    fn counts_and_strides() {
        let s = [1, 1, 2, 3, 4, 5];
        assert_eq!(num_elements(&s), 120);
        assert_eq!(strides(&s), [120, 120, 60, 20, 5, 1]);
        assert_eq!(num_elements(&[1, 1, 1, 1, 0, 5]), 0);
        assert_eq!(num_elements(&[usize::MAX, 2, 1, 1, 1, 1]), usize::MAX);
    }

    #[test]
    fn broadcasting() {
        let a = [1, 1, 1, 2, 1, 4];
        let b = [1, 1, 1, 1, 3, 1];
        let out = broadcast_shape(&a, &b).expect("compatible");
        assert_eq!(out, [1, 1, 1, 2, 3, 4]);
        assert_eq!(broadcast_strides(&a, &out), Ok([0, 0, 0, 4, 0, 1]));
        assert_eq!(broadcast_strides(&b, &out), Ok([0, 0, 0, 0, 1, 0]));
        assert!(broadcast_shape(&[1, 1, 1, 1, 2, 3], &[1, 1, 1, 1, 3, 3]).is_err());
        assert!(broadcast_strides(&[1, 1, 1, 1, 2, 3], &[1, 1, 1, 1, 4, 3]).is_err());
    }
}

//! PAD and PADV2 for int8 (spec 2.18; TFLM `reference/pad.h`,
//! `micro/kernels/pad_common.cc`): a copy of the input surrounded by a
//! constant, up to 6-D (TFLM itself stops at 5-D).
//!
//! Input and output share scale and zero point, so values are copied
//! unchanged. The pad value is the output zero point (PAD) or the
//! `constant_values` scalar (PADV2), which TFLM requires to share the
//! output's quantization.

use crate::error::{KernelError, check_len};
use crate::shape::{MAX_DIMS, Shape, num_elements, pad_shape, strides};

/// Parameters of one PAD/PADV2 node; all per-dimension arrays are
/// left-padded to [`MAX_DIMS`] (padding dims have 0 before/after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PadParams {
    /// Input shape, left-padded with 1s.
    pub input_shape: Shape,
    /// Elements inserted before the data, per dimension.
    pub before: [usize; MAX_DIMS],
    /// Elements inserted after the data, per dimension.
    pub after: [usize; MAX_DIMS],
    /// The value written into the padding.
    pub pad_value: i8,
}

impl PadParams {
    /// Output shape (left-padded): `before + input + after` per dimension.
    pub fn output_shape(&self) -> Shape {
        core::array::from_fn(|d| {
            self.input_shape[d]
                .saturating_add(self.before[d])
                .saturating_add(self.after[d])
        })
    }

    /// What [`pad`] checks: each buffer holds its shape's elements.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        check_len("pad input", num_elements(&self.input_shape), input)?;
        check_len("pad output", num_elements(&self.output_shape()), output)
    }
}

/// Builds [`PadParams`]: `paddings[d] = [before, after]` for each input
/// dimension (the `paddings` tensor, one row per dimension). Negative
/// paddings are rejected. `constant_value` is PADV2's scalar; without it
/// (PAD) the output zero point is used, which must fit int8.
pub fn prepare_pad(
    input_shape: &[usize],
    paddings: &[[i32; 2]],
    constant_value: Option<i8>,
    output_zero_point: i32,
) -> Result<PadParams, KernelError> {
    let rank = input_shape.len();
    let padded = pad_shape(input_shape)?;
    if paddings.len() != rank {
        return Err(KernelError::InvalidParams(
            "pad needs one [before, after] pair per dimension",
        ));
    }
    let mut before = [0usize; MAX_DIMS];
    let mut after = [0usize; MAX_DIMS];
    for (d, &[b, a]) in paddings.iter().enumerate() {
        before[MAX_DIMS - rank + d] =
            usize::try_from(b).map_err(|_| KernelError::InvalidParams("negative padding"))?;
        after[MAX_DIMS - rank + d] =
            usize::try_from(a).map_err(|_| KernelError::InvalidParams("negative padding"))?;
    }
    let pad_value = match constant_value {
        Some(v) => v,
        None => i8::try_from(output_zero_point)
            .map_err(|_| KernelError::InvalidParams("pad output zero point out of int8 range"))?,
    };
    Ok(PadParams {
        input_shape: padded,
        before,
        after,
        pad_value,
    })
}

/// PAD / PADV2: writes the padded tensor, row by row of the last dimension.
pub fn pad(p: &PadParams, input: &[i8], output: &mut [i8]) -> Result<(), KernelError> {
    pad_with(p, p.pad_value, input, output)
}

/// PAD / PADV2 of any element type with the pad value `value` (float32
/// models pad with a float; `p.pad_value` is then unused).
pub fn pad_with<T: Copy>(
    p: &PadParams,
    value: T,
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let out_shape = p.output_shape();
    let row_len = out_shape[MAX_DIMS - 1];
    if output.is_empty() || row_len == 0 {
        return Ok(());
    }
    let in_stride = strides(&p.input_shape);
    let in_row = p.input_shape[MAX_DIMS - 1];
    let row_before = p.before[MAX_DIMS - 1];

    // Maps an output index of dim `d` to the input index, if not padding.
    let inside = |d: usize, o: usize| -> Option<usize> {
        o.checked_sub(p.before[d]).filter(|&i| i < p.input_shape[d])
    };

    let mut rows = output.chunks_exact_mut(row_len);
    for o0 in 0..out_shape[0] {
        let i0 = inside(0, o0);
        for o1 in 0..out_shape[1] {
            let i1 = inside(1, o1);
            for o2 in 0..out_shape[2] {
                let i2 = inside(2, o2);
                for o3 in 0..out_shape[3] {
                    let i3 = inside(3, o3);
                    for o4 in 0..out_shape[4] {
                        let i4 = inside(4, o4);
                        let Some(row) = rows.next() else {
                            return Ok(());
                        };
                        match (i0, i1, i2, i3, i4) {
                            (Some(i0), Some(i1), Some(i2), Some(i3), Some(i4)) => {
                                let start = i0 * in_stride[0]
                                    + i1 * in_stride[1]
                                    + i2 * in_stride[2]
                                    + i3 * in_stride[3]
                                    + i4 * in_stride[4];
                                let (head, rest) = row.split_at_mut(row_before);
                                let (body, tail) = rest.split_at_mut(in_row);
                                head.fill(value);
                                body.copy_from_slice(&input[start..start + in_row]);
                                tail.fill(value);
                            }
                            // Any outer index in the padding: the whole row is padding.
                            _ => row.fill(value),
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
    fn pads_2d() {
        let p = prepare_pad(&[2, 2], &[[1, 0], [0, 2]], None, -3).expect("prepare");
        let mut out = [0i8; 12];
        pad(&p, &[1, 2, 3, 4], &mut out).expect("runs");
        assert_eq!(out, [-3, -3, -3, -3, 1, 2, -3, -3, 3, 4, -3, -3]);
    }

    #[test]
    fn padv2_constant_and_errors() {
        let p = prepare_pad(&[3], &[[2, 1]], Some(9), 0).expect("prepare");
        let mut out = [0i8; 6];
        pad(&p, &[1, 2, 3], &mut out).expect("runs");
        assert_eq!(out, [9, 9, 1, 2, 3, 9]);
        assert!(pad(&p, &[1, 2], &mut out).is_err());
        assert!(pad(&p, &[1, 2, 3], &mut out[..5]).is_err());
        assert!(prepare_pad(&[3], &[[-1, 0]], None, 0).is_err());
        assert!(prepare_pad(&[3], &[[0, 0], [0, 0]], None, 0).is_err());
        assert!(prepare_pad(&[3], &[[0, 0]], None, 200).is_err());
    }

    #[test]
    fn empty_input_dim_is_all_padding() {
        let p = prepare_pad(&[2, 0], &[[0, 0], [1, 1]], None, 4).expect("prepare");
        let mut out = [0i8; 4];
        pad(&p, &[], &mut out).expect("runs");
        assert_eq!(out, [4; 4]);
    }

    fn reference(shape: &[usize], pads: &[[i32; 2]], value: i8, x: &[i8]) -> Vec<i8> {
        let rank = shape.len();
        let out_dims: Vec<usize> = (0..rank)
            .map(|d| shape[d] + pads[d][0] as usize + pads[d][1] as usize)
            .collect();
        let total: usize = out_dims.iter().product();
        (0..total)
            .map(|flat| {
                let mut rem = flat;
                let mut src = 0usize;
                let mut inside = true;
                let mut idx = vec![0usize; rank];
                for d in (0..rank).rev() {
                    idx[d] = rem % out_dims[d];
                    rem /= out_dims[d];
                }
                for d in 0..rank {
                    let i = idx[d] as i64 - i64::from(pads[d][0]);
                    if i < 0 || i >= shape[d] as i64 {
                        inside = false;
                    }
                    src = src * shape[d] + i.max(0) as usize;
                }
                if inside { x[src] } else { value }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_params_never_panic(
            shape in proptest::array::uniform6(0usize..4),
            before in proptest::array::uniform6(0usize..3),
            after in proptest::array::uniform6(0usize..3),
            in_len in 0usize..300,
            out_len in 0usize..3000,
        ) {
            let p = PadParams { input_shape: shape, before, after, pad_value: 1 };
            let (in_len, out_len) = if in_len % 4 == 0 {
                (in_len, out_len)
            } else {
                (num_elements(&shape), num_elements(&p.output_shape()))
            };
            let x = vec![1i8; in_len];
            let mut out = vec![0i8; out_len];
            let _ = pad(&p, &x, &mut out);
            let huge = PadParams { before: [usize::MAX; MAX_DIMS], ..p };
            let _ = pad(&huge, &x, &mut out);
        }

        #[test]
        fn matches_index_reference(
            dims in proptest::collection::vec((0usize..4, 0i32..3, 0i32..3), 0..=6),
            value in any::<i8>(),
        ) {
            let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
            let pads: Vec<[i32; 2]> = dims.iter().map(|d| [d.1, d.2]).collect();
            let len: usize = shape.iter().product();
            let x: Vec<i8> = (0..len).map(|i| (i % 251) as i8).collect();
            let p = prepare_pad(&shape, &pads, Some(value), 0).expect("prepare");
            let mut out = vec![0i8; num_elements(&p.output_shape())];
            pad(&p, &x, &mut out).expect("runs");
            prop_assert_eq!(out, reference(&shape, &pads, value, &x));
        }
    }
}

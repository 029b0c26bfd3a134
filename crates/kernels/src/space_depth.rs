//! SPACE_TO_DEPTH and DEPTH_TO_SPACE (NHWC, TFLM `reference_ops`), both
//! pure data movement. Each is one 4-D TRANSPOSE of a reshaped view of its
//! input, so they run on [`crate::transpose::transpose`]: only the
//! parameters are derived here.
//!
//! SPACE_TO_DEPTH with block `b`: `out[n, h, w, (bh·b + bw)·C + c] =
//! in[n, h·b + bh, w·b + bw, c]`. Viewing the input as `[N·H/b, b, W/b,
//! b·C]` (row block, row in block, column block, then the `b` columns of a
//! block with their channels) and swapping the middle two dimensions gives
//! `[N·H/b, W/b, b, b·C]`, which is the output in memory order.
//! DEPTH_TO_SPACE is the inverse: the input `[N, H, W, C]` viewed as
//! `[N·H, W, b, b·C/b²]` becomes `[N·H, b, W, b·C/b²]`, the output
//! `[N, H·b, W·b, C/b²]` in memory order.

use crate::error::KernelError;
use crate::transpose::{TransposeParams, prepare_transpose};

/// Swaps the middle two dimensions of a 4-D view.
const SWAP_MIDDLE: [i32; 4] = [0, 2, 1, 3];

fn nhwc(input_shape: &[usize]) -> Result<[usize; 4], KernelError> {
    <[usize; 4]>::try_from(input_shape)
        .map_err(|_| KernelError::InvalidParams("space/depth ops need a 4-D NHWC input"))
}

fn product(dims: &[usize]) -> Result<usize, KernelError> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or(KernelError::InvalidParams(
            "space/depth view size overflows",
        ))
}

/// SPACE_TO_DEPTH of an NHWC input as a transpose; `block` must divide
/// the height and the width (TFLM's Prepare).
pub fn prepare_space_to_depth(
    input_shape: &[usize],
    block: usize,
) -> Result<TransposeParams, KernelError> {
    let [n, h, w, c] = nhwc(input_shape)?;
    if block == 0 || h % block != 0 || w % block != 0 {
        return Err(KernelError::InvalidParams(
            "space_to_depth block size must divide the height and the width",
        ));
    }
    let view = [
        product(&[n, h / block])?,
        block,
        w / block,
        product(&[block, c])?,
    ];
    prepare_transpose(&view, &SWAP_MIDDLE)
}

/// DEPTH_TO_SPACE of an NHWC input as a transpose; `block²` must divide
/// the depth (TFLM's Prepare).
pub fn prepare_depth_to_space(
    input_shape: &[usize],
    block: usize,
) -> Result<TransposeParams, KernelError> {
    let [n, h, w, c] = nhwc(input_shape)?;
    let square = block.checked_mul(block).unwrap_or(0);
    if square == 0 || c % square != 0 {
        return Err(KernelError::InvalidParams(
            "depth_to_space block size squared must divide the depth",
        ));
    }
    let view = [product(&[n, h])?, w, block, c / block];
    prepare_transpose(&view, &SWAP_MIDDLE)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::transpose::transpose;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// TFLM's SpaceToDepth loop, walking the input.
    fn space_to_depth_reference(x: &[i8], [n, h, w, c]: [usize; 4], b: usize) -> Vec<i8> {
        let (oh, ow, oc) = (h / b, w / b, c * b * b);
        let mut out = vec![0i8; x.len()];
        for ib in 0..n {
            for ih in 0..h {
                for iw in 0..w {
                    for id in 0..c {
                        let od = id + ((ih % b) * b + iw % b) * c;
                        let o = ((ib * oh + ih / b) * ow + iw / b) * oc + od;
                        out[o] = x[((ib * h + ih) * w + iw) * c + id];
                    }
                }
            }
        }
        out
    }

    /// TFLM's DepthToSpace loop, walking the output.
    fn depth_to_space_reference(x: &[i8], [n, h, w, c]: [usize; 4], b: usize) -> Vec<i8> {
        let (oh, ow, oc) = (h * b, w * b, c / (b * b));
        let mut out = vec![0i8; x.len()];
        for ob in 0..n {
            for y in 0..oh {
                for xw in 0..ow {
                    for od in 0..oc {
                        let id = od + ((y % b) * b + xw % b) * oc;
                        let i = ((ob * h + y / b) * w + xw / b) * c + id;
                        out[((ob * oh + y) * ow + xw) * oc + od] = x[i];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn space_to_depth_2x2() {
        // [1, 2, 2, 1] → [1, 1, 1, 4].
        let p = prepare_space_to_depth(&[1, 2, 2, 1], 2).expect("prepare");
        let mut out = [0i8; 4];
        transpose(&p, &[1, 2, 3, 4], &mut out).expect("runs");
        assert_eq!(out, [1, 2, 3, 4]);
        let p = prepare_depth_to_space(&[1, 1, 1, 4], 2).expect("prepare");
        transpose(&p, &[1, 2, 3, 4], &mut out).expect("runs");
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn refuses_bad_blocks() {
        assert!(prepare_space_to_depth(&[1, 3, 4, 1], 2).is_err());
        assert!(prepare_space_to_depth(&[1, 4, 4, 1], 0).is_err());
        assert!(prepare_space_to_depth(&[4, 4, 1], 2).is_err());
        assert!(prepare_depth_to_space(&[1, 2, 2, 6], 2).is_err());
        assert!(prepare_depth_to_space(&[1, 2, 2, 4], 0).is_err());
        assert!(prepare_depth_to_space(&[1, 2, 2, 4], usize::MAX).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn space_to_depth_matches_reference(
            n in 1usize..3, hb in 0usize..4, wb in 0usize..4, c in 1usize..4, b in 1usize..4,
            seed in any::<u64>(),
        ) {
            let shape = [n, hb * b, wb * b, c];
            let len = shape.iter().product::<usize>();
            let x: Vec<i8> = (0..len).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 13) as i8).collect();
            let p = prepare_space_to_depth(&shape, b).expect("prepare");
            let mut out = vec![0i8; len];
            transpose(&p, &x, &mut out).expect("runs");
            prop_assert_eq!(out, space_to_depth_reference(&x, shape, b));
        }

        #[test]
        fn depth_to_space_matches_reference(
            n in 1usize..3, h in 0usize..4, w in 0usize..4, cb in 1usize..4, b in 1usize..4,
            seed in any::<u64>(),
        ) {
            let shape = [n, h, w, cb * b * b];
            let len = shape.iter().product::<usize>();
            let x: Vec<i8> = (0..len).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 13) as i8).collect();
            let p = prepare_depth_to_space(&shape, b).expect("prepare");
            let mut out = vec![0i8; len];
            transpose(&p, &x, &mut out).expect("runs");
            prop_assert_eq!(out, depth_to_space_reference(&x, shape, b));
        }

        /// The two are inverses: float data round-trips bit for bit.
        #[test]
        fn depth_to_space_inverts_space_to_depth(
            hb in 1usize..4, wb in 1usize..4, c in 1usize..4, b in 1usize..4,
        ) {
            let shape = [1, hb * b, wb * b, c];
            let len = shape.iter().product::<usize>();
            let x: Vec<f32> = (0..len).map(|i| f32::from_bits(0x8000_0001u32.wrapping_mul(i as u32 + 3))).collect();
            let s2d = prepare_space_to_depth(&shape, b).expect("prepare");
            let mut mid = vec![0f32; len];
            transpose(&s2d, &x, &mut mid).expect("runs");
            let d2s = prepare_depth_to_space(&[1, hb, wb, c * b * b], b).expect("prepare");
            let mut back = vec![0f32; len];
            transpose(&d2s, &mid, &mut back).expect("runs");
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&back), bits(&x));
        }
    }
}

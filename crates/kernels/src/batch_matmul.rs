//! BATCH_MATMUL (TFLM `batch_matmul.cc`): `out[b] = lhs[b] · rhs[b]` over
//! up to three broadcast batch dimensions, with `adj_x` / `adj_y` reading
//! either operand transposed.
//!
//! TFLM copies the operands into transposed scratch tensors and runs its
//! reference loop with the operands swapped; each output value is still one
//! sum over the depth in increasing order, so reading the operands in place
//! with the transposition folded into the index gives the same numbers
//! without scratch. int8: `Σ (l − lhs_zp)(r − rhs_zp)` in wrapping int32,
//! then `MultiplyByQuantizedMultiplier`, the output zero point and the int8
//! clamp (no fused activation). float32: a sum from `0.0` adding one rounded
//! product at a time.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::mbqm;
use crate::int16::{Int16s, Int16sMut};
use crate::wide::mbqm_wide;

/// Batch dimensions TFLM supports (ranks up to 5: three batch dimensions
/// and the matrix).
pub const BATCH_DIMS: usize = 3;

/// The geometry of one BATCH_MATMUL: `lhs` is logically
/// `[batch.., rows, depth]` and `rhs` `[batch.., depth, cols]`; the output
/// is `[batch.., rows, cols]` with each batch dimension broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatMulShape {
    /// The lhs batch dimensions, left-padded with 1s.
    pub lhs_batch: [usize; BATCH_DIMS],
    /// The rhs batch dimensions, left-padded with 1s.
    pub rhs_batch: [usize; BATCH_DIMS],
    pub rows: usize,
    pub depth: usize,
    pub cols: usize,
    /// lhs is stored `[.., depth, rows]`.
    pub adj_x: bool,
    /// rhs is stored `[.., cols, depth]`.
    pub adj_y: bool,
}

/// The requantization of an int8 BATCH_MATMUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMatMulParams {
    pub shape: MatMulShape,
    /// `-lhs_zero_point`.
    pub lhs_offset: i32,
    /// `-rhs_zero_point`.
    pub rhs_offset: i32,
    pub output_offset: i32,
    pub multiplier: i32,
    pub shift: i32,
}

/// Product of `dims`, `None` on overflow.
fn product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl MatMulShape {
    /// The output's batch dimensions (each pair equal or one of them 1).
    pub fn out_batch(&self) -> [usize; BATCH_DIMS] {
        let mut out = [1; BATCH_DIMS];
        for (d, o) in out.iter_mut().enumerate() {
            *o = if self.lhs_batch[d] == 1 {
                self.rhs_batch[d]
            } else {
                self.lhs_batch[d]
            };
        }
        out
    }

    /// Elements of lhs, rhs and the output; `None` on overflow.
    fn lens(&self) -> Option<(usize, usize, usize)> {
        let lhs = product(&self.lhs_batch)?.checked_mul(product(&[self.rows, self.depth])?)?;
        let rhs = product(&self.rhs_batch)?.checked_mul(product(&[self.depth, self.cols])?)?;
        let out = product(&self.out_batch())?.checked_mul(product(&[self.rows, self.cols])?)?;
        Some((lhs, rhs, out))
    }

    /// Elements of the output (saturating).
    pub fn output_len(&self) -> usize {
        self.lens().map_or(usize::MAX, |l| l.2)
    }

    /// The batch dimensions broadcast and the buffer lengths match.
    pub fn check(&self, lhs: usize, rhs: usize, out: usize) -> Result<(), KernelError> {
        for d in 0..BATCH_DIMS {
            let (l, r) = (self.lhs_batch[d], self.rhs_batch[d]);
            if l != r && l != 1 && r != 1 {
                return Err(KernelError::InvalidParams(
                    "batch matmul batch dimensions do not broadcast",
                ));
            }
        }
        let Some((l, r, o)) = self.lens() else {
            return Err(KernelError::InvalidParams("batch matmul shape overflows"));
        };
        check_len("batch matmul lhs", l, lhs)?;
        check_len("batch matmul rhs", r, rhs)?;
        check_len("batch matmul output", o, out)
    }

    /// Calls `f(lhs_base, rhs_base, out_base)` for each output matrix in
    /// order: the element offsets of its operands (a broadcast dimension
    /// does not advance) and of its output.
    fn for_each_matrix(&self, mut f: impl FnMut(usize, usize, usize)) {
        let ob = self.out_batch();
        let lhs_mat = self.rows * self.depth;
        let rhs_mat = self.depth * self.cols;
        let out_mat = self.rows * self.cols;
        // Element strides of each batch dimension, 0 where it broadcasts.
        let strides = |batch: &[usize; BATCH_DIMS], mat: usize| {
            let mut s = [0usize; BATCH_DIMS];
            let mut inner = mat;
            for d in (0..BATCH_DIMS).rev() {
                s[d] = if batch[d] == 1 { 0 } else { inner };
                inner *= batch[d];
            }
            s
        };
        let ls = strides(&self.lhs_batch, lhs_mat);
        let rs = strides(&self.rhs_batch, rhs_mat);
        let mut out = 0;
        for b0 in 0..ob[0] {
            for b1 in 0..ob[1] {
                for b2 in 0..ob[2] {
                    let l = b0 * ls[0] + b1 * ls[1] + b2 * ls[2];
                    let r = b0 * rs[0] + b1 * rs[1] + b2 * rs[2];
                    f(l, r, out);
                    out += out_mat;
                }
            }
        }
    }

    /// Offset of logical `lhs[i][k]` inside its matrix.
    fn lhs_at(&self, i: usize, k: usize) -> usize {
        if self.adj_x {
            k * self.rows + i
        } else {
            i * self.depth + k
        }
    }

    /// Offset of logical `rhs[k][j]` inside its matrix.
    fn rhs_at(&self, k: usize, j: usize) -> usize {
        if self.adj_y {
            j * self.depth + k
        } else {
            k * self.cols + j
        }
    }
}

impl BatchMatMulParams {
    /// What [`batch_matmul_i8`] checks.
    pub fn check(&self, lhs: usize, rhs: usize, out: usize) -> Result<(), KernelError> {
        self.shape.check(lhs, rhs, out)
    }
}

/// Host side: TFLM's prepare for int8 (`GetQuantizedConvolutionMultipler`
/// without a bias: the scale product in float, the quotient in double).
pub fn prepare_batch_matmul(
    shape: MatMulShape,
    lhs: (f32, i32),
    rhs: (f32, i32),
    output: (f32, i32),
) -> Result<BatchMatMulParams, KernelError> {
    let (multiplier, shift) =
        crate::fully_connected::prepare_fc_multiplier_per_tensor(lhs.0, rhs.0, output.0, None)?;
    Ok(BatchMatMulParams {
        shape,
        lhs_offset: lhs.1.wrapping_neg(),
        rhs_offset: rhs.1.wrapping_neg(),
        output_offset: output.1,
        multiplier,
        shift,
    })
}

/// int8 BATCH_MATMUL.
pub fn batch_matmul_i8(
    p: &BatchMatMulParams,
    lhs: &[i8],
    rhs: &[i8],
    out: &mut [i8],
) -> Result<(), KernelError> {
    p.check(lhs.len(), rhs.len(), out.len())?;
    let s = &p.shape;
    s.for_each_matrix(|lb, rb, ob| {
        for i in 0..s.rows {
            for j in 0..s.cols {
                let mut total: i32 = 0;
                for k in 0..s.depth {
                    let l = i32::from(lhs[lb + s.lhs_at(i, k)]) + p.lhs_offset;
                    let r = i32::from(rhs[rb + s.rhs_at(k, j)]) + p.rhs_offset;
                    total = total.wrapping_add(l.wrapping_mul(r));
                }
                let v = mbqm(total, p.multiplier, p.shift).wrapping_add(p.output_offset);
                out[ob + i * s.cols + j] = v.clamp(-128, 127) as i8;
            }
        }
    });
    Ok(())
}

/// What [`batch_matmul_i16`] checks besides the shapes: a shift the int64
/// `MultiplyByQuantizedMultiplier` takes.
pub fn check_i16(
    p: &BatchMatMulParams,
    lhs: usize,
    rhs: usize,
    out: usize,
) -> Result<(), KernelError> {
    crate::wide::check_wide_shifts(&[p.shift])?;
    p.check(lhs, rhs, out)
}

/// int16 BATCH_MATMUL (TFLM's 16x8 path: zero points 0, validated before):
/// products summed in wrapping int64, the int64
/// `MultiplyByQuantizedMultiplier`, the int16 clamp.
pub fn batch_matmul_i16<L, R, O>(
    p: &BatchMatMulParams,
    lhs: &L,
    rhs: &R,
    out: &mut O,
) -> Result<(), KernelError>
where
    L: Int16s + ?Sized,
    R: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_i16(p, lhs.count(), rhs.count(), out.count())?;
    let s = &p.shape;
    s.for_each_matrix(|lb, rb, ob| {
        for i in 0..s.rows {
            for j in 0..s.cols {
                let mut total: i64 = 0;
                for k in 0..s.depth {
                    let l = i64::from(lhs.at(lb + s.lhs_at(i, k))) + i64::from(p.lhs_offset);
                    let r = i64::from(rhs.at(rb + s.rhs_at(k, j))) + i64::from(p.rhs_offset);
                    total = total.wrapping_add(l.wrapping_mul(r));
                }
                let v = mbqm_wide(total, p.multiplier, p.shift).wrapping_add(p.output_offset);
                out.put(ob + i * s.cols + j, v.clamp(-32768, 32767) as i16);
            }
        }
    });
    Ok(())
}

/// float32 BATCH_MATMUL.
pub fn batch_matmul_f32(
    s: &MatMulShape,
    lhs: &[f32],
    rhs: &[f32],
    out: &mut [f32],
) -> Result<(), KernelError> {
    s.check(lhs.len(), rhs.len(), out.len())?;
    s.for_each_matrix(|lb, rb, ob| {
        for i in 0..s.rows {
            for j in 0..s.cols {
                let mut total = 0.0f32;
                for k in 0..s.depth {
                    total += lhs[lb + s.lhs_at(i, k)] * rhs[rb + s.rhs_at(k, j)];
                }
                out[ob + i * s.cols + j] = total;
            }
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

    /// TFLM's own route, transcribed: RHS copied to `[.., cols, depth]`
    /// unless `adj_y`, LHS to `[.., rows, depth]` when `adj_x`; then the
    /// reference loop with the operands swapped (RHS as its "lhs"), batch
    /// extents 0 where a dimension is 1, output index `lhs_rows·j + i`.
    fn tflm<T: Copy + Default, A: Copy>(
        s: &MatMulShape,
        lhs: &[T],
        rhs: &[T],
        zero: A,
        mut mac: impl FnMut(A, T, T) -> A,
        mut finish: impl FnMut(A) -> T,
    ) -> Vec<T> {
        let transpose = |data: &[T], batches: usize, r: usize, c: usize| {
            let mut t = vec![T::default(); data.len()];
            for b in 0..batches {
                for x in 0..r {
                    for y in 0..c {
                        t[b * r * c + y * r + x] = data[b * r * c + x * c + y];
                    }
                }
            }
            t
        };
        let lb: usize = s.lhs_batch.iter().product();
        let rb: usize = s.rhs_batch.iter().product();
        let rhs_t = if s.adj_y {
            rhs.to_vec()
        } else {
            transpose(rhs, rb, s.depth, s.cols)
        };
        let lhs_t = if s.adj_x {
            transpose(lhs, lb, s.depth, s.rows)
        } else {
            lhs.to_vec()
        };
        // Reference "lhs" = model RHS `[.., cols, depth]`, "rhs" = model LHS.
        let ext = |batch: &[usize; 3], d: usize, mat: usize| -> usize {
            if batch[d] == 1 {
                0
            } else {
                batch[d + 1..].iter().product::<usize>() * mat
            }
        };
        let (lhs_rows, rhs_cols, depth) = (s.cols, s.rows, s.depth);
        let bd = s.out_batch();
        let mut out = vec![T::default(); s.output_len()];
        for b0 in 0..bd[0] {
            for b1 in 0..bd[1] {
                for b2 in 0..bd[2] {
                    let l2 = b0 * ext(&s.rhs_batch, 0, lhs_rows * depth)
                        + b1 * ext(&s.rhs_batch, 1, lhs_rows * depth)
                        + b2 * ext(&s.rhs_batch, 2, lhs_rows * depth);
                    let r2 = b0 * ext(&s.lhs_batch, 0, rhs_cols * depth)
                        + b1 * ext(&s.lhs_batch, 1, rhs_cols * depth)
                        + b2 * ext(&s.lhs_batch, 2, rhs_cols * depth);
                    let o = ((b0 * bd[1] + b1) * bd[2] + b2) * lhs_rows * rhs_cols;
                    for j in 0..rhs_cols {
                        for i in 0..lhs_rows {
                            let mut total = zero;
                            for k in 0..depth {
                                total = mac(
                                    total,
                                    rhs_t[l2 + depth * i + k],
                                    lhs_t[r2 + depth * j + k],
                                );
                            }
                            out[o + lhs_rows * j + i] = finish(total);
                        }
                    }
                }
            }
        }
        out
    }

    fn shapes() -> impl Strategy<Value = MatMulShape> {
        let batch = || prop::array::uniform3(prop_oneof![Just(1usize), Just(2), Just(3)]);
        (
            batch(),
            batch(),
            prop::array::uniform3(any::<bool>()),
            1usize..5,
            1usize..7,
            1usize..5,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(l, r, same, rows, depth, cols, adj_x, adj_y)| {
                let mut rhs_batch = r;
                for d in 0..BATCH_DIMS {
                    // Mostly broadcastable pairs: equal, or one side 1.
                    if same[d] || (l[d] != 1 && r[d] != 1) {
                        rhs_batch[d] = if same[d] { l[d] } else { 1 };
                    }
                }
                MatMulShape {
                    lhs_batch: l,
                    rhs_batch,
                    rows,
                    depth,
                    cols,
                    adj_x,
                    adj_y,
                }
            })
    }

    fn values_i8(n: usize) -> impl Strategy<Value = Vec<i8>> {
        prop::collection::vec(prop_oneof![Just(-128i8), Just(127), any::<i8>()], n)
    }

    proptest! {
        #[test]
        fn int8_equals_tflm(
            (s, lhs, rhs) in shapes().prop_flat_map(|s| {
                let l = s.lhs_batch.iter().product::<usize>() * s.rows * s.depth;
                let r = s.rhs_batch.iter().product::<usize>() * s.depth * s.cols;
                (Just(s), values_i8(l), values_i8(r))
            }),
            zps in (prop_oneof![Just(-128i32), Just(127), -128i32..128],
                    prop_oneof![Just(-128i32), Just(127), -128i32..128],
                    -128i32..128),
            scales in (1e-4f32..1.0, 1e-4f32..1.0, 1e-5f32..1.0),
        ) {
            let p = prepare_batch_matmul(s, (scales.0, zps.0), (scales.1, zps.1), (scales.2, zps.2)).expect("valid kernel input");
            let mut got = vec![0i8; s.output_len()];
            batch_matmul_i8(&p, &lhs, &rhs, &mut got).expect("valid kernel input");
            let want = tflm(&s, &lhs, &rhs, 0i32,
                |t, w, x| t.wrapping_add((i32::from(w) + p.rhs_offset) * (i32::from(x) + p.lhs_offset)),
                |t| (mbqm(t, p.multiplier, p.shift) + p.output_offset).clamp(-128, 127) as i8);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn int16_equals_tflm(
            (s, lhs, rhs) in shapes().prop_flat_map(|s| {
                let l = s.lhs_batch.iter().product::<usize>() * s.rows * s.depth;
                let r = s.rhs_batch.iter().product::<usize>() * s.depth * s.cols;
                let v = |n| prop::collection::vec(prop_oneof![Just(i16::MIN), Just(i16::MAX), any::<i16>()], n);
                (Just(s), v(l), v(r))
            }),
            scales in (1e-6f32..1e-2, 1e-6f32..1e-2, 1e-7f32..1e-2),
        ) {
            let p = prepare_batch_matmul(s, (scales.0, 0), (scales.1, 0), (scales.2, 0)).expect("valid kernel input");
            prop_assume!(crate::wide::check_wide_shifts(&[p.shift]).is_ok());
            let mut got = vec![0i16; s.output_len()];
            batch_matmul_i16(&p, &lhs[..], &rhs[..], &mut got[..]).expect("valid kernel input");
            // TFLM's int64 `MultiplyByQuantizedMultiplier`, transcribed.
            let requant = |x: i64| -> i32 {
                let m = p.multiplier;
                let reduced = if m < 0x7FFF_0000 { i64::from((m + (1 << 15)) >> 16) } else { 0x7FFF };
                let total_shift = 15 - p.shift;
                let round = 1i64 << (total_shift - 1);
                ((x * reduced + round) >> total_shift) as i32
            };
            let want = tflm(&s, &lhs, &rhs, 0i64,
                |t, w, x| t + i64::from(w) * i64::from(x),
                |t| (requant(t) + p.output_offset).clamp(-32768, 32767) as i16);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn float_equals_tflm(
            (s, lhs, rhs) in shapes().prop_flat_map(|s| {
                let l = s.lhs_batch.iter().product::<usize>() * s.rows * s.depth;
                let r = s.rhs_batch.iter().product::<usize>() * s.depth * s.cols;
                let v = |n| prop::collection::vec(prop_oneof![Just(f32::MAX), Just(-0.0f32), -1e3f32..1e3], n);
                (Just(s), v(l), v(r))
            }),
        ) {
            let mut got = vec![0f32; s.output_len()];
            batch_matmul_f32(&s, &lhs, &rhs, &mut got).expect("valid kernel input");
            let want = tflm(&s, &lhs, &rhs, 0f32, |t, w, x| t + w * x, |t| t);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    #[test]
    fn refuses_bad_shapes() {
        let s = MatMulShape {
            lhs_batch: [1, 1, 2],
            rhs_batch: [1, 1, 3],
            rows: 1,
            depth: 1,
            cols: 1,
            adj_x: false,
            adj_y: false,
        };
        assert!(s.check(2, 3, 6).is_err());
        let s = MatMulShape {
            rhs_batch: [1, 1, 1],
            ..s
        };
        assert!(s.check(2, 1, 3).is_err());
        assert!(s.check(2, 1, 2).is_ok());
    }
}

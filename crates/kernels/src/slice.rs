//! STRIDED_SLICE for int8 (TFLM `reference/strided_slice.h`,
//! `kernels/internal/strided_slice_logic.h`, `micro/kernels/strided_slice_common.cc`).
//!
//! The kernel takes already-resolved per-dimension `start`, `stop` and
//! `stride` (negative strides walk backwards, `stop` exclusive). The host
//! side [`prepare_strided_slice`] resolves the op's begin/end/strides tensors
//! and masks into them exactly as TFLM's `StridedSliceStartForAxis` /
//! `StridedSliceEndForAxis` do.

use crate::error::{KernelError, check_len};
use crate::shape::{MAX_DIMS, Shape, num_elements, pad_shape, strides};

/// Resolved STRIDED_SLICE parameters, left-padded to [`MAX_DIMS`]
/// (padding dims take `start 0, stop 1, stride 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StridedSliceParams {
    /// Input shape, left-padded with 1s.
    pub input_shape: Shape,
    /// First index visited, per dimension.
    pub start: [i32; MAX_DIMS],
    /// Exclusive end, per dimension (`-1` allowed for negative strides).
    pub stop: [i32; MAX_DIMS],
    /// Step, per dimension; never 0.
    pub stride: [i32; MAX_DIMS],
}

/// Number of indices `start, start + stride, ...` strictly before `stop`.
fn axis_count(start: i32, stop: i32, stride: i32) -> usize {
    let (start, stop, stride) = (i64::from(start), i64::from(stop), i64::from(stride));
    let n = if stride > 0 && stop > start {
        (stop - start + stride - 1) / stride
    } else if stride < 0 && start > stop {
        (start - stop - stride - 1) / -stride
    } else {
        0
    };
    n as usize
}

impl StridedSliceParams {
    /// Elements visited per dimension (the output shape before shrinking).
    pub fn counts(&self) -> Shape {
        core::array::from_fn(|d| axis_count(self.start[d], self.stop[d], self.stride[d]))
    }

    /// Checks that strides are non-zero and every visited index is inside
    /// the input.
    fn validate(&self) -> Result<Shape, KernelError> {
        let counts = self.counts();
        for (d, &count) in counts.iter().enumerate() {
            if self.stride[d] == 0 {
                return Err(KernelError::InvalidParams("strided slice stride is 0"));
            }
            if count == 0 {
                continue;
            }
            let first = i64::from(self.start[d]);
            let last = first + (count as i64 - 1) * i64::from(self.stride[d]);
            let size = self.input_shape[d] as i64;
            if first < 0 || first >= size || last < 0 || last >= size {
                return Err(KernelError::InvalidParams(
                    "strided slice index out of range",
                ));
            }
        }
        Ok(counts)
    }

    /// What [`strided_slice`] checks: non-zero strides, every visited index
    /// inside the input, and each buffer's length in elements. Returns the
    /// elements visited per dimension.
    pub fn check(&self, input: usize, output: usize) -> Result<Shape, KernelError> {
        let counts = self.validate()?;
        check_len(
            "strided slice input",
            num_elements(&self.input_shape),
            input,
        )?;
        check_len("strided slice output", num_elements(&counts), output)?;
        Ok(counts)
    }

    /// The same slice over the tensor's bytes, for elements of `size`
    /// bytes. A last axis of stride 1 is visited in runs of whole
    /// elements, so it simply becomes `size` times longer. Otherwise the
    /// leading axis (1, padding for any tensor of lower rank) is dropped
    /// and an axis of `size` bytes, kept whole, is appended; `None` for a
    /// tensor of full rank, whose bytes would need one axis more.
    pub fn over_bytes(&self, size: usize) -> Option<StridedSliceParams> {
        let last = MAX_DIMS - 1;
        if self.stride[last] == 1 {
            let scale = i32::try_from(size).ok()?;
            let count = i32::try_from(self.counts()[last]).ok()?;
            let mut q = *self;
            q.input_shape[last] = self.input_shape[last].checked_mul(size)?;
            q.start[last] = self.start[last].checked_mul(scale)?;
            q.stop[last] = self.start[last].checked_add(count)?.checked_mul(scale)?;
            return Some(q);
        }
        if self.input_shape[0] != 1 || self.counts()[0] != 1 {
            return None;
        }
        let shift = |a: [i32; MAX_DIMS], last: i32| {
            core::array::from_fn(|d| if d + 1 < MAX_DIMS { a[d + 1] } else { last })
        };
        let last = i32::try_from(size).ok()?;
        Some(StridedSliceParams {
            input_shape: core::array::from_fn(|d| {
                if d + 1 < MAX_DIMS {
                    self.input_shape[d + 1]
                } else {
                    size
                }
            }),
            start: shift(self.start, 0),
            stop: shift(self.stop, last),
            stride: shift(self.stride, 1),
        })
    }
}

/// Output shape of a strided slice with the shrunk axes removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceOutputShape {
    /// The dimensions; only the first `rank` are meaningful.
    pub dims: [usize; MAX_DIMS],
    /// Output rank.
    pub rank: usize,
}

impl SliceOutputShape {
    /// The output dimensions as a slice.
    pub fn as_slice(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
}

/// Resolves the STRIDED_SLICE inputs and options into [`StridedSliceParams`]
/// and the output shape, as TFLM:
///
/// - start: negative += size; clamp to `[0, size]` (stride > 0) or
///   `[-1, size - 1]` (stride < 0); `begin_mask` overrides with `0` /
///   `size - 1`;
/// - stop: for a shrunk axis `start + 1` (or `start` if `start >= size`);
///   otherwise `end` (plus `start` when `offset`), negative += size, the
///   same clamp, and `end_mask` overrides with `size` / `-1`.
///
/// `begin`, `end` and `strides` must have one entry per input dimension.
/// Errors where TFLM would fail or silently misbehave: zero strides,
/// non-zero `ellipsis_mask` or `new_axis_mask` (TFLM ignores both, then
/// rejects the model's output shape), and shrunk axes whose index is out of
/// range or whose stride is negative (TFLM writes no data for those).
#[allow(clippy::too_many_arguments)]
pub fn prepare_strided_slice(
    input_shape: &[usize],
    begin: &[i32],
    end: &[i32],
    strides: &[i32],
    begin_mask: i32,
    end_mask: i32,
    ellipsis_mask: i32,
    new_axis_mask: i32,
    shrink_axis_mask: i32,
    offset: bool,
) -> Result<(StridedSliceParams, SliceOutputShape), KernelError> {
    let rank = input_shape.len();
    let padded = pad_shape(input_shape)?;
    if begin.len() != rank || end.len() != rank || strides.len() != rank {
        return Err(KernelError::InvalidParams(
            "strided slice begin/end/strides need one entry per dimension",
        ));
    }
    if ellipsis_mask != 0 || new_axis_mask != 0 {
        return Err(KernelError::InvalidParams(
            "strided slice ellipsis_mask/new_axis_mask are not supported by TFLM",
        ));
    }
    let pad = MAX_DIMS - rank;
    let mut params = StridedSliceParams {
        input_shape: padded,
        start: [0; MAX_DIMS],
        stop: [1; MAX_DIMS],
        stride: [1; MAX_DIMS],
    };
    let mut out = SliceOutputShape {
        dims: [0; MAX_DIMS],
        rank: 0,
    };
    for axis in 0..rank {
        let bit = |mask: i32| mask & (1i32 << axis) != 0;
        let size = i64::try_from(input_shape[axis])
            .ok()
            .filter(|&s| s <= i64::from(i32::MAX))
            .ok_or(KernelError::InvalidParams(
                "strided slice dimension too large",
            ))?;
        let stride = strides[axis];
        if stride == 0 {
            return Err(KernelError::InvalidParams("strided slice stride is 0"));
        }
        // The clamp of Start/EndForAxis: [0, size] forwards, [-1, size-1] backwards.
        let clamp = |v: i64| {
            if stride > 0 {
                v.clamp(0, size)
            } else {
                v.clamp(-1, size - 1)
            }
        };

        // StridedSliceStartForAxis.
        let mut start = i64::from(begin[axis]);
        if start < 0 {
            start += size;
        }
        start = clamp(start);
        if bit(begin_mask) {
            start = if stride > 0 { 0 } else { size - 1 };
        }

        // StridedSliceEndForAxis.
        let shrink = bit(shrink_axis_mask);
        let stop = if shrink {
            if stride < 0 || start < 0 || start >= size {
                return Err(KernelError::InvalidParams(
                    "strided slice shrunk index out of range",
                ));
            }
            start + 1
        } else {
            let mut stop = i64::from(end[axis]);
            if offset {
                stop += start;
            }
            if stop < 0 {
                stop += size;
            }
            stop = clamp(stop);
            if bit(end_mask) {
                stop = if stride > 0 { size } else { -1 };
            }
            stop
        };

        // All values are now within [-1, size] and fit i32.
        params.start[pad + axis] = start as i32;
        params.stop[pad + axis] = stop as i32;
        params.stride[pad + axis] = stride;
        if !shrink {
            out.dims[out.rank] = axis_count(start as i32, stop as i32, stride);
            out.rank += 1;
        }
    }
    params.validate()?;
    Ok((params, out))
}

/// STRIDED_SLICE: writes the visited input elements in row-major order.
pub fn strided_slice<T: Copy>(
    p: &StridedSliceParams,
    input: &[T],
    output: &mut [T],
) -> Result<(), KernelError> {
    let counts = p.check(input.len(), output.len())?;
    if output.is_empty() {
        return Ok(());
    }
    let in_stride = strides(&p.input_shape);
    // Offset of the first visited element along dim d, and the (signed)
    // step between visited elements; validate() keeps all of them in range.
    let first: [isize; MAX_DIMS] =
        core::array::from_fn(|d| p.start[d] as isize * in_stride[d] as isize);
    let step: [isize; MAX_DIMS] =
        core::array::from_fn(|d| p.stride[d] as isize * in_stride[d] as isize);
    let row_len = counts[MAX_DIMS - 1];
    let mut rows = output.chunks_exact_mut(row_len);
    let mut o0 = first[0];
    for _ in 0..counts[0] {
        let mut o1 = o0 + first[1];
        for _ in 0..counts[1] {
            let mut o2 = o1 + first[2];
            for _ in 0..counts[2] {
                let mut o3 = o2 + first[3];
                for _ in 0..counts[3] {
                    let mut o4 = o3 + first[4];
                    for _ in 0..counts[4] {
                        let Some(row) = rows.next() else {
                            return Ok(());
                        };
                        let base = o4 + first[5];
                        if step[5] == 1 {
                            let b = base as usize;
                            row.copy_from_slice(&input[b..b + row_len]);
                        } else {
                            for (k, o) in row.iter_mut().enumerate() {
                                *o = input[(base + k as isize * step[5]) as usize];
                            }
                        }
                        o4 += step[4];
                    }
                    o3 += step[3];
                }
                o2 += step[2];
            }
            o1 += step[1];
        }
        o0 += step[0];
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

    fn run(
        shape: &[usize],
        b: &[i32],
        e: &[i32],
        s: &[i32],
        bm: i32,
        em: i32,
        sm: i32,
    ) -> (Vec<i8>, Vec<usize>) {
        let (p, out_shape) =
            prepare_strided_slice(shape, b, e, s, bm, em, 0, 0, sm, false).expect("prepare");
        let len: usize = shape.iter().product();
        let x: Vec<i8> = (0..len).map(|i| i as i8).collect();
        let mut out = vec![0i8; out_shape.as_slice().iter().product()];
        strided_slice(&p, &x, &mut out).expect("runs");
        (out, out_shape.as_slice().to_vec())
    }

    #[test]
    fn tflite_test_cases() {
        // From TFLite's strided_slice_test.cc (In1D, negative stride, masks).
        assert_eq!(run(&[4], &[1], &[3], &[1], 0, 0, 0).0, [1, 2]);
        assert_eq!(run(&[4], &[-3], &[3], &[1], 0, 0, 0).0, [1, 2]);
        assert_eq!(run(&[4], &[-5], &[3], &[1], 0, 0, 0).0, [0, 1, 2]);
        assert_eq!(run(&[4], &[1], &[-2], &[1], 0, 0, 0).0, [1]);
        assert_eq!(run(&[4], &[1], &[3], &[1], 1, 0, 0).0, [0, 1, 2]);
        assert_eq!(run(&[4], &[1], &[3], &[1], 0, 1, 0).0, [1, 2, 3]);
        assert_eq!(run(&[4], &[-1], &[-4], &[-1], 0, 0, 0).0, [3, 2, 1]);
        assert_eq!(run(&[4], &[3], &[0], &[-2], 1, 1, 0).0, [3, 1]);
        assert_eq!(run(&[3], &[1], &[2], &[1], 0, 0, 0).0, [1]);
        // 2D with shrink on axis 0: x[1, 0:3:2] of a 2x3.
        let (out, shape) = run(&[2, 3], &[1, 0], &[2, 3], &[1, 2], 0, 0, 1);
        assert_eq!(out, [3, 5]);
        assert_eq!(shape, [2]);
        // Negative begin with shrink (issue 19260): x[-1] of a 4-vector.
        let (out, shape) = run(&[4], &[-1], &[0], &[1], 0, 0, 1);
        assert_eq!(out, [3]);
        assert_eq!(shape, Vec::<usize>::new());
        // Offset: end is relative to begin.
        let (p, s) =
            prepare_strided_slice(&[5], &[1], &[3], &[1], 0, 0, 0, 0, 0, true).expect("prepare");
        assert_eq!((p.start[5], p.stop[5], s.as_slice()), (1, 4, &[3usize][..]));
    }

    #[test]
    fn errors() {
        let ok = |r: Result<(StridedSliceParams, SliceOutputShape), KernelError>| r.is_ok();
        assert!(!ok(prepare_strided_slice(
            &[4],
            &[0],
            &[4],
            &[0],
            0,
            0,
            0,
            0,
            0,
            false
        )));
        assert!(!ok(prepare_strided_slice(
            &[4],
            &[0],
            &[4],
            &[1],
            0,
            0,
            1,
            0,
            0,
            false
        )));
        assert!(!ok(prepare_strided_slice(
            &[4],
            &[0],
            &[4],
            &[1],
            0,
            0,
            0,
            1,
            0,
            false
        )));
        assert!(!ok(prepare_strided_slice(
            &[4],
            &[4],
            &[5],
            &[1],
            0,
            0,
            0,
            0,
            1,
            false
        )));
        assert!(!ok(prepare_strided_slice(
            &[4],
            &[1],
            &[0],
            &[-1],
            0,
            0,
            0,
            0,
            1,
            false
        )));
        assert!(!ok(prepare_strided_slice(
            &[4, 2],
            &[0],
            &[4],
            &[1],
            0,
            0,
            0,
            0,
            0,
            false
        )));
        let (p, _) =
            prepare_strided_slice(&[4], &[0], &[4], &[1], 0, 0, 0, 0, 0, false).expect("prepare");
        let mut out = [0i8; 4];
        assert!(strided_slice(&p, &[0; 3], &mut out).is_err());
        assert!(strided_slice(&p, &[0; 4], &mut out[..3]).is_err());
        let mut bad = p;
        bad.stop[5] = 9;
        assert!(strided_slice(&bad, &[0; 4], &mut [0; 9]).is_err());
        bad.stride[5] = 0;
        assert!(strided_slice(&bad, &[0; 4], &mut out).is_err());
    }

    /// TFLM's per-axis logic, written out again in the legacy
    /// `StartForAxis`/`StopForAxis` style (mask to lowest()/max(), then
    /// negative-index fix-up, then clamp), plus a `ceil(float)` shape
    /// computation as in `CheckOutputSize`.
    fn legacy_axis(
        size: i64,
        b: i32,
        e: i32,
        s: i32,
        bm: bool,
        em: bool,
        shrink: bool,
    ) -> (i64, i64, usize) {
        let mut start = if bm {
            if s > 0 {
                i64::from(i32::MIN)
            } else {
                i64::from(i32::MAX)
            }
        } else {
            i64::from(b)
        };
        if start < 0 {
            start += size;
        }
        start = if s > 0 {
            start.clamp(0, size)
        } else {
            start.clamp(-1, size - 1)
        };
        let stop = if shrink {
            start + 1
        } else {
            let mut stop = if em {
                if s > 0 {
                    i64::from(i32::MAX)
                } else {
                    i64::from(i32::MIN)
                }
            } else {
                i64::from(e)
            };
            if stop < 0 {
                stop += size;
            }
            if s > 0 {
                stop.clamp(0, size)
            } else {
                stop.clamp(-1, size - 1)
            }
        };
        let n = ((stop - start) as f32 / s as f32).ceil().max(0.0) as usize;
        (start, stop, n)
    }

    /// (size, begin, end, stride, begin bit, end bit, shrink bit) of one axis.
    type AxisCase = (usize, i32, i32, i32, bool, bool, bool);
    /// (size, begin, end, stride, begin bit, end bit) of one axis.
    type ByteAxis = (usize, i32, i32, i32, bool, bool);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn arbitrary_params_never_panic(
            shape in proptest::array::uniform6(0usize..4),
            start in proptest::array::uniform6(-5i32..6),
            stop in proptest::array::uniform6(-5i32..6),
            stride in proptest::array::uniform6(-3i32..4),
            in_len in 0usize..300,
            out_len in 0usize..300,
        ) {
            let p = StridedSliceParams { input_shape: shape, start, stop, stride };
            // Mostly use the lengths the params imply, to reach the loops.
            let (in_len, out_len) = if in_len % 4 == 0 {
                (in_len, out_len)
            } else {
                (num_elements(&shape), num_elements(&p.counts()))
            };
            let x = vec![1i8; in_len];
            let mut out = vec![0i8; out_len];
            let _ = strided_slice(&p, &x, &mut out);
        }

        #[test]
        fn matches_legacy_logic_and_index_reference(
            dims in proptest::collection::vec(
                (1usize..5, -6i32..6, -6i32..6, prop_oneof![-3i32..0, 1i32..4], any::<bool>(), any::<bool>(), any::<bool>()),
                1..=5),
        ) {
            let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
            let begin: Vec<i32> = dims.iter().map(|d| d.1).collect();
            let end: Vec<i32> = dims.iter().map(|d| d.2).collect();
            let stride: Vec<i32> = dims.iter().map(|d| d.3).collect();
            let mask = |f: fn(&AxisCase) -> bool| {
                dims.iter().enumerate().fold(0i32, |m, (i, d)| if f(d) { m | 1 << i } else { m })
            };
            let bm = mask(|d| d.4);
            let em = mask(|d| d.5);
            let sm = mask(|d| d.6);
            let result = prepare_strided_slice(&shape, &begin, &end, &stride, bm, em, 0, 0, sm, false);
            let rank = shape.len();

            // Expected per axis from the legacy formulation.
            let mut starts = vec![];
            let mut counts = vec![];
            let mut out_shape = vec![];
            let mut shrink_invalid = false;
            for a in 0..rank {
                let shrink = sm & (1 << a) != 0;
                let (st, _sp, n) = legacy_axis(shape[a] as i64, begin[a], end[a], stride[a],
                    bm & (1 << a) != 0, em & (1 << a) != 0, shrink);
                if shrink && (stride[a] < 0 || st < 0 || st >= shape[a] as i64) {
                    shrink_invalid = true;
                }
                starts.push(st);
                counts.push(if shrink { 1 } else { n });
                if !shrink { out_shape.push(n); }
            }
            if shrink_invalid {
                prop_assert!(result.is_err());
                return Ok(());
            }
            let (p, s) = result.expect("prepare");
            prop_assert_eq!(s.as_slice(), &out_shape[..]);

            let len: usize = shape.iter().product();
            let x: Vec<i8> = (0..len).map(|i| (i * 13 % 256) as u8 as i8).collect();
            let total: usize = counts.iter().product();
            let mut out = vec![0i8; total];
            strided_slice(&p, &x, &mut out).expect("runs");
            // Index reference: unravel each output position over `counts`.
            for (flat, &got) in out.iter().enumerate() {
                let mut rem = flat;
                let mut src = 0i64;
                let mut idx = vec![0usize; rank];
                for a in (0..rank).rev() {
                    idx[a] = rem % counts[a];
                    rem /= counts[a];
                }
                for a in 0..rank {
                    let i = starts[a] + idx[a] as i64 * i64::from(stride[a]);
                    src = src * shape[a] as i64 + i;
                }
                prop_assert_eq!(got, x[src as usize]);
            }
        }

        /// A slice of 4-byte values equals the slice of their bytes
        /// (`over_bytes`), for every rank it takes, negative strides too.
        #[test]
        fn over_bytes_moves_whole_values(
            dims in proptest::collection::vec(
                (1usize..5, -6i32..6, -6i32..6, prop_oneof![-3i32..0, 1i32..4], any::<bool>(), any::<bool>()),
                1..=5),
            seed in any::<u32>(),
        ) {
            let shape: Vec<usize> = dims.iter().map(|d| d.0).collect();
            let begin: Vec<i32> = dims.iter().map(|d| d.1).collect();
            let end: Vec<i32> = dims.iter().map(|d| d.2).collect();
            let stride: Vec<i32> = dims.iter().map(|d| d.3).collect();
            let mask = |f: fn(&ByteAxis) -> bool| {
                dims.iter().enumerate().fold(0i32, |m, (i, d)| if f(d) { m | 1 << i } else { m })
            };
            let (p, _) = prepare_strided_slice(
                &shape, &begin, &end, &stride, mask(|d| d.4), mask(|d| d.5), 0, 0, 0, false,
            ).expect("no shrink: always valid");
            let len: usize = shape.iter().product();
            let values: Vec<i32> = (0..len as u32)
                .map(|i| (i.wrapping_mul(0x9E37_79B9) ^ seed) as i32)
                .collect();
            let n: usize = p.counts().iter().product();
            let mut want = vec![0i32; n];
            strided_slice(&p, &values, &mut want).expect("runs");
            let Some(q) = p.over_bytes(4) else {
                // Only a full-rank tensor with a strided last axis.
                prop_assert!(false, "over_bytes refused {:?}", p);
                return Ok(());
            };
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut got = vec![0u8; 4 * n];
            strided_slice(&q, &bytes, &mut got).expect("runs");
            let want: Vec<u8> = want.iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert_eq!(got, want);
        }
    }
}

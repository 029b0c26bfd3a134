//! The int16 reductions of 16x8 models, as TFLM's int16 reference kernels:
//!
//! * MAX_POOL_2D / AVERAGE_POOL_2D: `reference_integer_ops::MaxPool16` and
//!   `AveragePool16`, the int8 arithmetic on int16 values (an int32 window
//!   sum divided with rounding half away from zero; a max starting from
//!   -32768), clamped to the int16 fused-activation range. Input and output
//!   share scale and zero point ([`crate::pooling::prepare_pool`]'s check).
//! * MEAN: `reference_ops::QuantizedMeanOrSum<int16_t>`, the int8 path of
//!   [`crate::reduce::mean`] with an int16 clamp.
//!
//! Parameters are the int8 kernels' ([`PoolParams`], [`MeanParams`]); values
//! go through the views of [`crate::int16`].

use crate::conv::I16_RANGE;
use crate::error::KernelError;
use crate::int16::{Int16s, Int16sMut};
use crate::pooling::{PoolParams, clip};
use crate::reduce::{MeanParams, for_each_offset};
use crate::shape::{MAX_DIMS, strides};

/// int16 MAX_POOL_2D: the largest value in the clipped window (from
/// -32768), then the clamp.
pub fn max_pool_16<I, O>(p: &PoolParams, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    p.check_within(input.count(), output.count(), I16_RANGE)?;
    let (ih, iw, c) = (p.input_height, p.input_width, p.channels);
    let (oh, ow) = (p.output_height, p.output_width);
    for b in 0..p.batches {
        for oy in 0..oh {
            let (y0, y1) = clip(oy, p.stride_height, p.pad_top, p.filter_height, ih);
            for ox in 0..ow {
                let (x0, x1) = clip(ox, p.stride_width, p.pad_left, p.filter_width, iw);
                let out_base = ((b * oh + oy) * ow + ox) * c;
                for ch in 0..c {
                    let mut max = i32::from(i16::MIN);
                    for y in y0..y1 {
                        let row = (b * ih + y) * iw;
                        for x in x0..x1 {
                            max = max.max(i32::from(input.at((row + x) * c + ch)));
                        }
                    }
                    // The clamp lies inside int16 (checked).
                    output.put(out_base + ch, max.clamp(p.act_min, p.act_max) as i16);
                }
            }
        }
    }
    Ok(())
}

/// int16 AVERAGE_POOL_2D: the int32 sum over the clipped window divided by
/// the cells read, rounding half away from zero, then the clamp. A window
/// with no cell in the image is an error (TFLM fails), found before writing.
pub fn average_pool_16<I, O>(p: &PoolParams, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    p.check_average_within(input.count(), output.count(), I16_RANGE)?;
    let (ih, iw, c) = (p.input_height, p.input_width, p.channels);
    let (oh, ow) = (p.output_height, p.output_width);
    for b in 0..p.batches {
        for oy in 0..oh {
            let (y0, y1) = clip(oy, p.stride_height, p.pad_top, p.filter_height, ih);
            for ox in 0..ow {
                let (x0, x1) = clip(ox, p.stride_width, p.pad_left, p.filter_width, iw);
                // count > 0 and fits an i32 (check_average_within).
                let count = i32::try_from((y1 - y0) * (x1 - x0))
                    .map_err(|_| KernelError::InvalidParams("pooling window too large"))?;
                let out_base = ((b * oh + oy) * ow + ox) * c;
                for ch in 0..c {
                    let mut acc: i32 = 0;
                    for y in y0..y1 {
                        let row = (b * ih + y) * iw;
                        for x in x0..x1 {
                            acc = acc.wrapping_add(i32::from(input.at((row + x) * c + ch)));
                        }
                    }
                    let avg = if acc > 0 {
                        acc.wrapping_add(count / 2) / count
                    } else {
                        acc.wrapping_sub(count / 2) / count
                    };
                    output.put(out_base + ch, avg.clamp(p.act_min, p.act_max) as i16);
                }
            }
        }
    }
    Ok(())
}

/// What the int16 MEAN checks: the lengths, zero points inside int16, a
/// shift the fixed-point helper handles, and no same-params truncation
/// (TFLM's int16 MEAN always requantizes).
pub fn check_mean_16(p: &MeanParams, input: usize, output: usize) -> Result<(), KernelError> {
    p.check(input, output)?;
    if [p.input_zero_point, p.output_zero_point]
        .iter()
        .any(|z| !(I16_RANGE.0..=I16_RANGE.1).contains(z))
    {
        return Err(KernelError::InvalidParams(
            "int16 MEAN zero point outside int16",
        ));
    }
    if !(-31..=31).contains(&p.shift) || p.truncating_same_params {
        return Err(KernelError::InvalidParams(
            "int16 MEAN takes a requantizing multiplier with a shift in -31..=31",
        ));
    }
    Ok(())
}

/// int16 MEAN: `clamp(MBQM(sum - in_zp * N) + out_zp)` per output, `sum`
/// the wrapping int32 sum of the values reduced into it; an empty
/// reduction writes zeros, as TFLM.
pub fn mean_16<I, O>(p: &MeanParams, input: &I, output: &mut O) -> Result<(), KernelError>
where
    I: Int16s + ?Sized,
    O: Int16sMut + ?Sized,
{
    check_mean_16(p, input.count(), output.count())?;
    if input.count() == 0 || p.num_elements_in_axis <= 0 {
        for o in 0..output.count() {
            output.put(o, 0);
        }
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
    // int64 product, truncated to int32 with the subtraction, as TFLM.
    let zero_point_sum = i64::from(p.input_zero_point).wrapping_mul(p.num_elements_in_axis);
    let mut o = 0;
    for_each_offset(&outer_shape, &stride, |base| {
        let mut sum = 0i32;
        for_each_offset(&reduced_shape, &stride, |offset| {
            sum = sum.wrapping_add(i32::from(input.at(base + offset)));
        });
        let shifted = (i64::from(sum).wrapping_sub(zero_point_sum)) as i32;
        let v = crate::fixedpoint::mbqm(shifted, p.multiplier, p.shift)
            .wrapping_add(p.output_zero_point);
        output.put(o, v.clamp(I16_RANGE.0, I16_RANGE.1) as i16);
        o += 1;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::conv::test_ref::{Rng, requant};
    use crate::reduce::prepare_mean;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// int16 test data with both extremes among uniform values.
    fn i16s(rng: &mut Rng, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| match i % 5 {
                0 => i16::MIN,
                1 => i16::MAX,
                _ => rng.range(-32768, 32767) as i16,
            })
            .collect()
    }

    /// Pooling by the definition: the full window with signed coordinates,
    /// cells outside skipped, exact rational rounding half away from zero.
    fn pool_reference(p: &PoolParams, x: &[i16], avg: bool) -> Option<Vec<i64>> {
        let mut out = Vec::new();
        for b in 0..p.batches as i64 {
            for oy in 0..p.output_height as i64 {
                for ox in 0..p.output_width as i64 {
                    for ch in 0..p.channels as i64 {
                        let (mut sum, mut n, mut max) = (0i64, 0i64, -32768i64);
                        for ky in 0..p.filter_height as i64 {
                            for kx in 0..p.filter_width as i64 {
                                let y = oy * p.stride_height as i64 + ky - p.pad_top as i64;
                                let xx = ox * p.stride_width as i64 + kx - p.pad_left as i64;
                                if y < 0
                                    || xx < 0
                                    || y >= p.input_height as i64
                                    || xx >= p.input_width as i64
                                {
                                    continue;
                                }
                                let i = ((b * p.input_height as i64 + y) * p.input_width as i64
                                    + xx)
                                    * p.channels as i64
                                    + ch;
                                let v = i64::from(x[i as usize]);
                                sum += v;
                                n += 1;
                                max = max.max(v);
                            }
                        }
                        let v = if avg {
                            if n == 0 {
                                return None;
                            }
                            let mag = (2 * sum.abs() + n) / (2 * n);
                            if sum < 0 { -mag } else { mag }
                        } else {
                            max
                        };
                        out.push(v.clamp(i64::from(p.act_min), i64::from(p.act_max)));
                    }
                }
            }
        }
        Some(out)
    }

    fn pool_params() -> impl Strategy<Value = PoolParams> {
        (
            (1usize..3, 1usize..8, 1usize..8, 1usize..4),
            (1usize..4, 1usize..4, 1usize..3, 1usize..3),
            (0usize..3, 0usize..3),
            prop_oneof![Just((-32768, 32767)), Just((0, 32767)), Just((-100, 6000))],
        )
            .prop_map(|((n, ih, iw, c), (kh, kw, sh, sw), (pt, pl), (lo, hi))| {
                let out = |size: usize, k: usize, s: usize, pad: usize| {
                    (size + 2 * pad - k.min(size + 2 * pad)) / s + 1
                };
                PoolParams {
                    batches: n,
                    input_height: ih,
                    input_width: iw,
                    channels: c,
                    filter_height: kh,
                    filter_width: kw,
                    output_height: out(ih, kh, sh, pt),
                    output_width: out(iw, kw, sw, pl),
                    stride_height: sh,
                    stride_width: sw,
                    pad_top: pt,
                    pad_left: pl,
                    act_min: lo,
                    act_max: hi,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn pools_match_reference(p in pool_params(), seed: u64) {
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, p.batches * p.input_height * p.input_width * p.channels);
            let n = p.batches * p.output_height * p.output_width * p.channels;
            let mut got = vec![[0u8; 2]; n];
            prop_assert_eq!(max_pool_16(&p, &x[..], &mut got[..]), Ok(()));
            let want = pool_reference(&p, &x, false).expect("max never fails");
            for (i, &w) in want.iter().enumerate() {
                prop_assert_eq!(i64::from(got[..].at(i)), w);
            }
            let mut got = vec![0i16; n];
            match pool_reference(&p, &x, true) {
                Some(want) => {
                    prop_assert_eq!(average_pool_16(&p, &x[..], &mut got[..]), Ok(()));
                    for (i, &w) in want.iter().enumerate() {
                        prop_assert_eq!(i64::from(got[i]), w);
                    }
                }
                None => prop_assert!(average_pool_16(&p, &x[..], &mut got[..]).is_err()),
            }
        }

        #[test]
        fn mean_matches_reference(
            shape in proptest::collection::vec(1usize..5, 1..=5),
            axis_bits in 1u32..32,
            scales in proptest::array::uniform2(1e-5f32..0.05),
            zps in proptest::array::uniform2(-300i32..=300),
            seed: u64,
        ) {
            let rank = shape.len();
            let axes: Vec<usize> = (0..rank).filter(|d| axis_bits & (1 << d) != 0).collect();
            let axes_i32: Vec<i32> = axes.iter().map(|&a| a as i32).collect();
            let p = prepare_mean(&shape, &axes_i32, scales[0], zps[0], scales[1], zps[1]).expect("prepare");
            let mut rng = Rng(seed);
            let x = i16s(&mut rng, shape.iter().product());
            let mut got = vec![[0i8; 2]; p.output_len()];
            prop_assert_eq!(mean_16(&p, &x[..], &mut got[..]), Ok(()));
            // The sums by the definition, in i64 (they fit int32 here).
            let out_dims: Vec<usize> = (0..rank).map(|d| if axes.contains(&d) { 1 } else { shape[d] }).collect();
            let mut sums = vec![0i64; p.output_len()];
            for (flat, &v) in x.iter().enumerate() {
                let (mut rem, mut o) = (flat, 0usize);
                let mut idx = vec![0usize; rank];
                for d in (0..rank).rev() {
                    idx[d] = rem % shape[d];
                    rem /= shape[d];
                }
                for d in 0..rank {
                    o = o * out_dims[d] + if axes.contains(&d) { 0 } else { idx[d] };
                }
                sums[o] += i64::from(v);
            }
            let n = p.num_elements_in_axis;
            for (i, &s) in sums.iter().enumerate() {
                let want = (requant(s - i64::from(p.input_zero_point) * n, p.multiplier, p.shift)
                    + i64::from(p.output_zero_point)).clamp(-32768, 32767);
                prop_assert_eq!(i64::from(got[..].at(i)), want, "output {}", i);
            }
        }
    }

    #[test]
    fn refuses_int8_clamps_lengths_and_truncation() {
        let p = PoolParams {
            batches: 1,
            input_height: 2,
            input_width: 2,
            channels: 1,
            filter_height: 2,
            filter_width: 2,
            output_height: 1,
            output_width: 1,
            stride_height: 1,
            stride_width: 1,
            pad_top: 0,
            pad_left: 0,
            act_min: -32768,
            act_max: 40000,
        };
        let mut out = [0i16; 1];
        assert!(max_pool_16(&p, &[0i16; 4][..], &mut out[..]).is_err());
        let ok = PoolParams {
            act_max: 32767,
            ..p
        };
        assert!(average_pool_16(&ok, &[0i16; 3][..], &mut out[..]).is_err());
        assert_eq!(
            average_pool_16(&ok, &[1i16, 2, 2, 2][..], &mut out[..]),
            Ok(())
        );
        assert_eq!(out, [2]); // 7/4 rounds to 2
        let m = crate::reduce::prepare_mean_with_same_params_shortcut(&[4], &[0], 0.1, 0, 0.1, 0)
            .expect("prepare");
        assert!(mean_16(&m, &[0i16; 4][..], &mut out[..]).is_err());
    }
}

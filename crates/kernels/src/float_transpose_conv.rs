//! TRANSPOSE_CONV in float32, as TFLM's float `reference_ops::TransposeConv`
//! computes it, accumulation order included.
//!
//! TFLM zeroes the output, then scatters: for each input pixel `(iy, ix)`
//! and input channel in order, each tap's product is added into the output
//! value it lands on; then `+ bias` (when there is one) and the activation
//! clamp. So every output value is a float sum started at `+0.0` over its
//! contributions in increasing `(iy, ix, ic)` order. This kernel gathers
//! them in that order: `iy = (oy + pad - ky) / stride` grows as `ky`
//! shrinks, so taps run from the last filter row and column to the first,
//! channels upward. Same sums, same roundings, no scratch copy of the
//! output. Layouts as the int8 kernel ([`crate::transpose_conv`]).

use crate::conv::volume;
use crate::error::{KernelError, check_len};
use crate::float_math::FloatRange;

/// Geometry and activation clamp of one float TRANSPOSE_CONV (the fields as
/// in [`crate::transpose_conv::TransposeConvParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransposeConvF32Params {
    pub batches: usize,
    pub input_height: usize,
    pub input_width: usize,
    pub input_channels: usize,
    pub filter_height: usize,
    pub filter_width: usize,
    pub output_height: usize,
    pub output_width: usize,
    pub output_channels: usize,
    pub stride_height: usize,
    pub stride_width: usize,
    /// Output rows cropped above (TFLM's `padding_values.height`).
    pub pad_top: usize,
    /// Output columns cropped on the left.
    pub pad_left: usize,
    pub act_min: f32,
    pub act_max: f32,
}

impl TransposeConvF32Params {
    /// Everything [`transpose_conv_f32`] checks before it reads a value;
    /// lengths in elements (`bias` is `None` when there is none).
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<(), KernelError> {
        let (n, ih, iw, ic) = (
            self.batches,
            self.input_height,
            self.input_width,
            self.input_channels,
        );
        let (kh, kw) = (self.filter_height, self.filter_width);
        let (oh, ow, oc) = (self.output_height, self.output_width, self.output_channels);
        if self.stride_height == 0 || self.stride_width == 0 {
            return Err(KernelError::InvalidParams("strides must be >= 1"));
        }
        if !(FloatRange {
            min: self.act_min,
            max: self.act_max,
        })
        .is_valid()
        {
            return Err(KernelError::InvalidParams(
                "activation range must satisfy min <= max",
            ));
        }
        // Output coordinates plus padding stay far inside usize.
        let limit = 1usize << 24;
        if [oh, ow, kh, kw, self.pad_top, self.pad_left]
            .iter()
            .any(|&d| d > limit)
        {
            return Err(KernelError::InvalidParams(
                "transpose conv size or padding too large",
            ));
        }
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        check_len("filter", volume(&[oc, kh, kw, ic])?, filter)?;
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        Ok(())
    }
}

/// The input coordinate that reaches output coordinate `out` through tap
/// `k`, if any: `i * stride - pad + k == out` with `0 <= i < size`.
#[inline]
fn source(out: usize, pad: usize, k: usize, stride: usize, size: usize) -> Option<usize> {
    let t = (out + pad).checked_sub(k)?;
    if t % stride != 0 {
        return None;
    }
    let i = t / stride;
    (i < size).then_some(i)
}

/// TRANSPOSE_CONV float32: NHWC input, OHWI filter, optional bias.
pub fn transpose_conv_f32(
    p: &TransposeConvF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        bias.map(<[f32]>::len),
        output.len(),
    )?;
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    let range = FloatRange {
        min: p.act_min,
        max: p.act_max,
    };
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for o in 0..oc {
                    let mut acc = 0.0f32;
                    for ky in (0..kh).rev() {
                        let Some(iy) = source(oy, p.pad_top, ky, p.stride_height, ih) else {
                            continue;
                        };
                        for kx in (0..kw).rev() {
                            let Some(ix) = source(ox, p.pad_left, kx, p.stride_width, iw) else {
                                continue;
                            };
                            let i0 = ((b * ih + iy) * iw + ix) * ic;
                            let f0 = ((o * kh + ky) * kw + kx) * ic;
                            for (&x, &w) in input[i0..i0 + ic].iter().zip(&filter[f0..f0 + ic]) {
                                acc += x * w;
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc += bias[o];
                    }
                    output[out_base + o] = range.apply(acc);
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
    use crate::float_conv::tests::draw;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// TFLM's scatter formulation: a zeroed output, every input value times
    /// every tap added into the cell it lands on, then bias and clamp.
    fn reference(
        p: &TransposeConvF32Params,
        x: &[f32],
        f: &[f32],
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
        let (kh, kw) = (p.filter_height, p.filter_width);
        let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
        let mut out = vec![0.0f32; n * oh * ow * oc];
        for b in 0..n {
            for iy in 0..ih {
                for ix in 0..iw {
                    for c in 0..ic {
                        let oy0 = (iy * p.stride_height) as i64 - p.pad_top as i64;
                        let ox0 = (ix * p.stride_width) as i64 - p.pad_left as i64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                for o in 0..oc {
                                    let (oy, ox) = (oy0 + ky as i64, ox0 + kx as i64);
                                    if oy < 0 || ox < 0 || oy >= oh as i64 || ox >= ow as i64 {
                                        continue;
                                    }
                                    let xv = x[((b * ih + iy) * iw + ix) * ic + c];
                                    let fv = f[((o * kh + ky) * kw + kx) * ic + c];
                                    out[((b * oh + oy as usize) * ow + ox as usize) * oc + o] +=
                                        xv * fv;
                                }
                            }
                        }
                    }
                }
            }
        }
        for (i, v) in out.iter_mut().enumerate() {
            let mut acc = *v;
            if let Some(bias) = bias {
                acc += bias[i % oc];
            }
            // std::min(std::max(acc, lo), hi)
            let lo = if acc < p.act_min { p.act_min } else { acc };
            *v = if p.act_max < lo { p.act_max } else { lo };
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #[test]
        fn gather_equals_tflm_scatter(
            n in 1usize..3, ih in 1usize..5, iw in 1usize..5, ic in 1usize..4,
            kh in 1usize..5, kw in 1usize..5, oc in 1usize..4,
            sh in 1usize..4, sw in 1usize..4, pt in 0usize..3, pl in 0usize..3,
            extra_h in 0usize..3, extra_w in 0usize..3,
            has_bias in any::<bool>(), act in 0u8..3, seed in any::<u64>(),
        ) {
            let oh = ((ih - 1) * sh + kh).saturating_sub(pt) + extra_h;
            let ow = ((iw - 1) * sw + kw).saturating_sub(pl) + extra_w;
            prop_assume!(oh > 0 && ow > 0);
            let (act_min, act_max) = match act {
                0 => (f32::MIN, f32::MAX),
                1 => (0.0, f32::MAX),
                _ => (-1.0, 1.0),
            };
            let p = TransposeConvF32Params {
                batches: n, input_height: ih, input_width: iw, input_channels: ic,
                filter_height: kh, filter_width: kw, output_height: oh, output_width: ow,
                output_channels: oc, stride_height: sh, stride_width: sw,
                pad_top: pt, pad_left: pl, act_min, act_max,
            };
            let mut state = seed;
            let x = draw(&mut state, n * ih * iw * ic);
            let f = draw(&mut state, oc * kh * kw * ic);
            let b = draw(&mut state, oc);
            let bias = has_bias.then_some(b.as_slice());
            let mut got = vec![0.0f32; n * oh * ow * oc];
            transpose_conv_f32(&p, &x, &f, bias, &mut got).expect("valid test parameters");
            prop_assert_eq!(bits(&got), bits(&reference(&p, &x, &f, bias)));
        }
    }

    #[test]
    fn refuses_short_buffers_and_zero_strides() {
        let p = TransposeConvF32Params {
            batches: 1,
            input_height: 2,
            input_width: 2,
            input_channels: 1,
            filter_height: 2,
            filter_width: 2,
            output_height: 4,
            output_width: 4,
            output_channels: 1,
            stride_height: 2,
            stride_width: 2,
            pad_top: 0,
            pad_left: 0,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [0.0f32; 16];
        assert!(transpose_conv_f32(&p, &[0.0; 3], &[0.0; 4], None, &mut out).is_err());
        let q = TransposeConvF32Params {
            stride_width: 0,
            ..p
        };
        assert!(transpose_conv_f32(&q, &[0.0; 4], &[0.0; 4], None, &mut out).is_err());
        assert!(transpose_conv_f32(&p, &[0.0; 4], &[0.0; 4], None, &mut out).is_ok());
    }
}

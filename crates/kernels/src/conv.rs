//! CONV_2D, int8 activations and per-channel int8 weights (spec 2.7), as
//! TFLM's `reference_integer_ops::ConvPerChannel`.
//!
//! Layouts: input NHWC `[N, IH, IW, IC]`, filter OHWI `[OC, KH, KW, FIC]`
//! (grouped when `FIC < IC`: `groups = IC / FIC`, output channel `o` reads
//! input channels `g * FIC ..` with `g = o / (OC / groups)`), bias `[OC]`,
//! output `[N, OH, OW, OC]`. Multiplier/shift arrays always hold one entry per
//! output channel; a per-tensor filter scale is broadcast by
//! [`prepare_conv_multipliers`], exactly as TFLM does.
//!
//! Padding is explicit (`pad_top`, `pad_left`); a tap outside the image reads
//! a padded cell holding `pad_value` (the input zero point), so it contributes
//! `w·(pad_value + input_offset)`: nothing without folding, and `w·zp` once the
//! input offset is folded into the bias (`input_offset = 0`). Bottom/right
//! padding is implied by the output size.

use crate::error::{KernelError, check_len};
use crate::fixedpoint::{Activation, activation_range, clamp_to_i8, mbqm, quantize_multiplier};

/// Geometry and folded quantization of one CONV_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2DParams {
    /// N (same for input and output).
    pub batches: usize,
    /// IH.
    pub input_height: usize,
    /// IW.
    pub input_width: usize,
    /// IC.
    pub input_channels: usize,
    /// KH.
    pub filter_height: usize,
    /// KW.
    pub filter_width: usize,
    /// FIC, the filter's input depth; `IC / FIC` groups.
    pub filter_input_channels: usize,
    /// OH.
    pub output_height: usize,
    /// OW.
    pub output_width: usize,
    /// OC.
    pub output_channels: usize,
    /// Vertical stride (>= 1).
    pub stride_height: usize,
    /// Horizontal stride (>= 1).
    pub stride_width: usize,
    /// Vertical dilation (>= 1).
    pub dilation_height: usize,
    /// Horizontal dilation (>= 1).
    pub dilation_width: usize,
    /// Rows of padding above the image.
    pub pad_top: usize,
    /// Columns of padding left of the image.
    pub pad_left: usize,
    /// `-input_zero_point`, or 0 once folded into the bias.
    pub input_offset: i32,
    /// The code a padded cell holds, the input zero point: an out-of-bounds
    /// tap contributes `w·(pad_value + input_offset)` (wrapping), which is 0
    /// without folding.
    pub pad_value: i32,
    /// `output_zero_point`.
    pub output_offset: i32,
    /// Fused-activation clamp, lower bound (within -128..=127).
    pub act_min: i32,
    /// Fused-activation clamp, upper bound (within act_min..=127).
    pub act_max: i32,
}

/// Host side: completes `geom` (whose quantization fields are ignored) with
/// the offsets and the fused-activation clamp, as TFLM's conv prepare does.
pub fn prepare_conv2d(
    geom: Conv2DParams,
    input_zero_point: i32,
    (output_scale, output_zero_point): (f32, i32),
    activation: Activation,
) -> Conv2DParams {
    let (act_min, act_max) =
        activation_range(activation, output_scale, output_zero_point, -128, 127);
    Conv2DParams {
        input_offset: -input_zero_point,
        pad_value: input_zero_point,
        output_offset: output_zero_point,
        act_min,
        act_max,
        ..geom
    }
}

/// Host side: per-output-channel multipliers for CONV_2D, DEPTHWISE_CONV_2D
/// and per-channel FULLY_CONNECTED (`PopulateConvolutionQuantizationParams`):
/// `QuantizeMultiplier((f64)in * (f64)w[c] / (f64)out)`, evaluated left to
/// right in double. `filter_scales` holds one scale (broadcast to every
/// channel) or one per channel; the channel count is `out_multiplier.len()`.
pub fn prepare_conv_multipliers(
    input_scale: f32,
    filter_scales: &[f32],
    output_scale: f32,
    out_multiplier: &mut [i32],
    out_shift: &mut [i32],
) -> Result<(), KernelError> {
    let channels = out_multiplier.len();
    check_len("out_shift", channels, out_shift.len())?;
    if filter_scales.len() != 1 {
        check_len("filter_scales", channels, filter_scales.len())?;
    }
    if !(input_scale.is_finite()
        && input_scale > 0.0
        && output_scale.is_finite()
        && output_scale > 0.0)
    {
        return Err(KernelError::InvalidParams(
            "scales must be finite and positive",
        ));
    }
    for c in 0..channels {
        let w = if filter_scales.len() == 1 {
            filter_scales[0]
        } else {
            filter_scales[c]
        };
        if !w.is_finite() {
            return Err(KernelError::InvalidParams("filter scale is not finite"));
        }
        let effective = f64::from(input_scale) * f64::from(w) / f64::from(output_scale);
        let (m, s) = quantize_multiplier(effective);
        out_multiplier[c] = m;
        out_shift[c] = s;
    }
    Ok(())
}

/// Product of dims, or an error if it overflows `usize`.
pub(crate) fn volume(dims: &[usize]) -> Result<usize, KernelError> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or(KernelError::InvalidParams("tensor size overflows usize"))
}

/// Checks that the largest unpadded coordinate a window reads,
/// `(out - 1) * stride + (k - 1) * dilation`, fits in `usize`.
pub(crate) fn check_span(
    out: usize,
    stride: usize,
    k: usize,
    dilation: usize,
) -> Result<(), KernelError> {
    let span = out.saturating_sub(1).checked_mul(stride).and_then(|a| {
        k.saturating_sub(1)
            .checked_mul(dilation)
            .and_then(|b| a.checked_add(b))
    });
    span.map(|_| ())
        .ok_or(KernelError::InvalidParams("window span overflows usize"))
}

/// The int8 output range.
pub(crate) const I8_RANGE: (i32, i32) = (-128, 127);
/// The int16 output range (16x8 kernels).
pub(crate) const I16_RANGE: (i32, i32) = (-32768, 32767);

/// Checks a fused-activation clamp: `-128 <= min <= max <= 127`.
pub(crate) fn check_act_range(act_min: i32, act_max: i32) -> Result<(), KernelError> {
    check_act_range_within(act_min, act_max, I8_RANGE)
}

/// Checks a fused-activation clamp inside an output type's range.
pub(crate) fn check_act_range_within(
    act_min: i32,
    act_max: i32,
    (lo, hi): (i32, i32),
) -> Result<(), KernelError> {
    if lo <= act_min && act_min <= act_max && act_max <= hi {
        Ok(())
    } else if (lo, hi) == I8_RANGE {
        Err(KernelError::InvalidParams(
            "activation range must satisfy -128 <= min <= max <= 127",
        ))
    } else {
        Err(KernelError::InvalidParams(
            "activation range must satisfy -32768 <= min <= max <= 32767",
        ))
    }
}

/// Checks per-channel shifts are in the range `QuantizeMultiplier` produces
/// for sane scales (`-31..=31`).
pub(crate) fn check_shifts(shifts: &[i32]) -> Result<(), KernelError> {
    if shifts.iter().all(|s| (-31..=31).contains(s)) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "multiplier shift outside -31..=31",
        ))
    }
}

impl Conv2DParams {
    /// Everything [`conv2d`] checks before it reads a value: the parameters,
    /// the length in elements of each buffer (`bias` is `None` when there is
    /// none) and the shift range. The Program verifier calls this with the
    /// buffers a step will pass, so it accepts exactly what the kernel does.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        out_multiplier: usize,
        out_shift: &[i32],
        output: usize,
    ) -> Result<(), KernelError> {
        self.check_within(
            [input, filter, output],
            bias,
            out_multiplier,
            out_shift,
            I8_RANGE,
        )
    }

    /// [`Self::check`] for outputs in `range` (the int8 or int16 type range).
    pub(crate) fn check_within(
        &self,
        [input, filter, output]: [usize; 3],
        bias: Option<usize>,
        out_multiplier: usize,
        out_shift: &[i32],
        range: (i32, i32),
    ) -> Result<(), KernelError> {
        let (n, ih, iw, ic) = (
            self.batches,
            self.input_height,
            self.input_width,
            self.input_channels,
        );
        let (kh, kw, fic) = (
            self.filter_height,
            self.filter_width,
            self.filter_input_channels,
        );
        let (oh, ow, oc) = (self.output_height, self.output_width, self.output_channels);
        let (sh, sw, dh, dw) = (
            self.stride_height,
            self.stride_width,
            self.dilation_height,
            self.dilation_width,
        );
        if sh == 0 || sw == 0 || dh == 0 || dw == 0 {
            return Err(KernelError::InvalidParams(
                "strides and dilations must be >= 1",
            ));
        }
        if fic == 0 || ic % fic != 0 {
            return Err(KernelError::InvalidParams(
                "input channels must be a multiple of filter input channels",
            ));
        }
        let groups = ic / fic;
        if groups == 0 || oc % groups != 0 {
            return Err(KernelError::InvalidParams(
                "output channels must be a multiple of the group count",
            ));
        }
        check_act_range_within(self.act_min, self.act_max, range)?;
        check_span(oh, sh, kh, dh)?;
        check_span(ow, sw, kw, dw)?;
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        check_len("filter", volume(&[oc, kh, kw, fic])?, filter)?;
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        check_len("out_multiplier", oc, out_multiplier)?;
        check_len("out_shift", oc, out_shift.len())?;
        check_shifts(out_shift)
    }
}

/// CONV_2D int8 per-channel. `bias`, if present, and `out_multiplier` /
/// `out_shift` hold one entry per output channel.
pub fn conv2d(
    p: &Conv2DParams,
    input: &[i8],
    filter: &[i8],
    bias: Option<&[i32]>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        bias.map(<[i32]>::len),
        out_multiplier.len(),
        out_shift,
        output.len(),
    )?;
    let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
    let (kh, kw, fic) = (p.filter_height, p.filter_width, p.filter_input_channels);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    let (sh, sw, dh, dw) = (
        p.stride_height,
        p.stride_width,
        p.dilation_height,
        p.dilation_width,
    );
    // Both divisors are non-zero: `check` saw `fic` and `ic / fic` divide.
    let filters_per_group = oc / (ic / fic);

    let input_offset = p.input_offset;
    // What a padded cell contributes per unit of weight (0 unless folded).
    let pad_term = p.pad_value.wrapping_add(input_offset);
    for b in 0..n {
        for oy in 0..oh {
            // Unpadded row coordinate of the window's first tap.
            let y0 = oy * sh;
            for ox in 0..ow {
                let x0 = ox * sw;
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for o in 0..oc {
                    let in_c0 = (o / filters_per_group) * fic;
                    let mut acc: i32 = 0;
                    for ky in 0..kh {
                        let ry = y0 + ky * dh;
                        let row_in = ry >= p.pad_top && ry - p.pad_top < ih;
                        for kx in 0..kw {
                            let rx = x0 + kx * dw;
                            let f0 = ((o * kh + ky) * kw + kx) * fic;
                            let ws = &filter[f0..f0 + fic];
                            if !row_in || rx < p.pad_left || rx - p.pad_left >= iw {
                                // A padded cell: `w·(pad_value + input_offset)`.
                                if pad_term != 0 {
                                    for &w in ws {
                                        acc = acc.wrapping_add(i32::from(w).wrapping_mul(pad_term));
                                    }
                                }
                                continue;
                            }
                            let iy = ry - p.pad_top;
                            let ix = rx - p.pad_left;
                            let i0 = ((b * ih + iy) * iw + ix) * ic + in_c0;
                            let xs = &input[i0..i0 + fic];
                            for (&x, &w) in xs.iter().zip(ws) {
                                // int32 arithmetic as in C++ (wraps instead of UB).
                                let v = i32::from(x).wrapping_add(input_offset);
                                acc = acc.wrapping_add(i32::from(w).wrapping_mul(v));
                            }
                        }
                    }
                    if let Some(bias) = bias {
                        acc = acc.wrapping_add(bias[o]);
                    }
                    let v =
                        mbqm(acc, out_multiplier[o], out_shift[o]).wrapping_add(p.output_offset);
                    output[out_base + o] = clamp_to_i8(v, p.act_min, p.act_max);
                }
            }
        }
    }
    Ok(())
}

/// Shared by the tests of the conv-like modules: exact wide-integer
/// references, written independently of `fixedpoint`.
#[cfg(test)]
pub(crate) mod test_ref {
    /// `MultiplyByQuantizedMultiplier` (double rounding), from its
    /// definition: wrap `x * 2^left` to i32, `floor((x*m + 2^30) / 2^31)`
    /// (saturating MIN*MIN), then divide by `2^right` rounding half away.
    pub fn requant(x: i64, m: i32, shift: i32) -> i64 {
        let left = shift.max(0) as u32;
        let right = (-shift).max(0) as u32;
        let x = (x as i32 as i128 * (1i128 << left)) as i64 as i32; // C++ int32 wrap
        let high = if x == i32::MIN && m == i32::MIN {
            i32::MAX as i128
        } else {
            (x as i128 * m as i128 + (1i128 << 30)).div_euclid(1i128 << 31)
        };
        round_div_pow2(high, right.min(31)) as i64
    }

    /// `v / 2^e` rounded half away from zero.
    pub fn round_div_pow2(v: i128, e: u32) -> i128 {
        if e == 0 {
            return v;
        }
        let mag = (v.abs() + (1i128 << (e - 1))) >> e;
        if v < 0 { -mag } else { mag }
    }

    /// Clamp to the activation range and int8.
    pub fn clamp(v: i64, lo: i32, hi: i32) -> i8 {
        v.clamp(i64::from(lo), i64::from(hi)).clamp(-128, 127) as i8
    }

    /// Deterministic test data from a seed (xorshift64*).
    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0 | 1;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform-ish in `lo..=hi`.
        pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % ((hi - lo + 1) as u64)) as i64
        }
        pub fn i8s(&mut self, n: usize, lo: i64, hi: i64) -> std::vec::Vec<i8> {
            (0..n).map(|_| self.range(lo, hi) as i8).collect()
        }
        pub fn i32s(&mut self, n: usize, lo: i64, hi: i64) -> std::vec::Vec<i32> {
            (0..n).map(|_| self.range(lo, hi) as i32).collect()
        }
    }

    extern crate std;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::test_ref::{Rng, clamp, requant};
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// `[IH, IW, IC]`, `[KH, KW, FIC]`, `[OH, OW, OC]`; unit strides, no padding.
    fn geom(n: usize, i: [usize; 3], k: [usize; 3], o: [usize; 3]) -> Conv2DParams {
        Conv2DParams {
            batches: n,
            input_height: i[0],
            input_width: i[1],
            input_channels: i[2],
            filter_height: k[0],
            filter_width: k[1],
            filter_input_channels: k[2],
            output_height: o[0],
            output_width: o[1],
            output_channels: o[2],
            stride_height: 1,
            stride_width: 1,
            dilation_height: 1,
            dilation_width: 1,
            pad_top: 0,
            pad_left: 0,
            input_offset: 0,
            pad_value: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    /// Naive reference: materializes the zero-point-padded input, 7 loops in i64.
    fn reference(
        p: &Conv2DParams,
        input: &[i8],
        filter: &[i8],
        bias: Option<&[i32]>,
        mult: &[i32],
        shift: &[i32],
    ) -> Vec<i8> {
        let in_zp = -i64::from(p.input_offset);
        let (ph, pw) = (
            p.pad_top
                + p.input_height
                + p.output_height * p.stride_height
                + p.filter_height * p.dilation_height,
            p.pad_left
                + p.input_width
                + p.output_width * p.stride_width
                + p.filter_width * p.dilation_width,
        );
        let ic = p.input_channels;
        let mut padded = vec![in_zp; p.batches * ph * pw * ic];
        for b in 0..p.batches {
            for y in 0..p.input_height {
                for x in 0..p.input_width {
                    for c in 0..ic {
                        padded[((b * ph + y + p.pad_top) * pw + x + p.pad_left) * ic + c] =
                            i64::from(
                                input[((b * p.input_height + y) * p.input_width + x) * ic + c],
                            );
                    }
                }
            }
        }
        let groups = ic / p.filter_input_channels;
        let per_group = p.output_channels / groups;
        let mut out = Vec::new();
        for b in 0..p.batches {
            for oy in 0..p.output_height {
                for ox in 0..p.output_width {
                    for o in 0..p.output_channels {
                        let g = o / per_group;
                        let mut acc: i64 = 0;
                        for ky in 0..p.filter_height {
                            for kx in 0..p.filter_width {
                                for c in 0..p.filter_input_channels {
                                    let y = oy * p.stride_height + ky * p.dilation_height;
                                    let x = ox * p.stride_width + kx * p.dilation_width;
                                    let xv = padded[((b * ph + y) * pw + x) * ic
                                        + g * p.filter_input_channels
                                        + c];
                                    let wv = i64::from(
                                        filter[((o * p.filter_height + ky) * p.filter_width + kx)
                                            * p.filter_input_channels
                                            + c],
                                    );
                                    acc += wv * (xv - in_zp);
                                }
                            }
                        }
                        acc += bias.map_or(0, |bs| i64::from(bs[o]));
                        let v = requant(acc, mult[o], shift[o]) + i64::from(p.output_offset);
                        out.push(clamp(v, p.act_min, p.act_max));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn hand_computed_1x1_and_3x3() {
        // 1x1 conv, 2 in / 1 out channel, multiplier 0.5: (3*(10-2) + 1*(20-2) + 6) * 0.5 = 24.
        let mut p = geom(1, [1, 1, 2], [1, 1, 2], [1, 1, 1]);
        p.input_offset = -2;
        p.output_offset = 1;
        let mut out = [0i8; 1];
        conv2d(
            &p,
            &[10, 20],
            &[3, 1],
            Some(&[6]),
            &[1 << 30],
            &[0],
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, [25]);

        // 3x3 all-ones filter over a 3x3 image with one pixel of padding: the
        // centre output sums 9 taps, the corner only 4 (padding skipped).
        let mut p = geom(1, [3, 3, 1], [3, 3, 1], [3, 3, 1]);
        p.pad_top = 1;
        p.pad_left = 1;
        let mut out = [0i8; 9];
        conv2d(&p, &[1; 9], &[1; 9], None, &[1 << 30], &[1], &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, [4, 6, 4, 6, 9, 6, 4, 6, 4]);
    }

    #[test]
    fn spec_mbqm_vectors_through_conv() {
        // A 1x1 conv with a bias reproduces the spec's double-rounding vectors.
        let p = geom(1, [1, 1, 1], [1, 1, 1], [1, 1, 1]);
        for (acc, m, s, want) in [
            (29875, 1_621_498_398, -2, 5640),
            (41158, 1_816_938_500, -1, 17412),
            (-95625, 1_225_039_507, -2, -13638),
        ] {
            let mut p = p;
            p.act_min = -128;
            p.output_offset = -want + 7; // lands inside int8 only if the rounding is right
            let mut out = [0i8; 1];
            conv2d(&p, &[0], &[0], Some(&[acc]), &[m], &[s], &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(out, [7]);
        }
    }

    #[test]
    fn prepare_uses_double_product_and_broadcasts() {
        let (mut m, mut s) = ([0; 3], [0; 3]);
        prepare_conv_multipliers(0.5, &[0.25], 0.125, &mut m, &mut s)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m, [1 << 30; 3]);
        assert_eq!(s, [1; 3]);
        let (in_s, w, out_s) = (0.017_234_f32, [0.003_1_f32, 0.000_7], 0.094_f32);
        let (mut m, mut s) = ([0; 2], [0; 2]);
        prepare_conv_multipliers(in_s, &w, out_s, &mut m, &mut s).unwrap_or_else(|e| panic!("{e}"));
        for c in 0..2 {
            let want = quantize_multiplier(in_s as f64 * w[c] as f64 / out_s as f64);
            assert_eq!((m[c], s[c]), want);
        }
        assert!(prepare_conv_multipliers(0.0, &[1.0], 1.0, &mut m, &mut s).is_err());
        assert!(prepare_conv_multipliers(1.0, &[1.0; 3], 1.0, &mut m, &mut s).is_err());
        assert!(prepare_conv_multipliers(1.0, &[1.0], 1.0, &mut m, &mut s[..1]).is_err());
    }

    #[test]
    fn prepare_sets_offsets_and_clamp() {
        let p = prepare_conv2d(
            geom(1, [1, 1, 1], [1, 1, 1], [1, 1, 1]),
            -5,
            (0.05, -10),
            Activation::Relu6,
        );
        assert_eq!(
            (p.input_offset, p.output_offset, p.act_min, p.act_max),
            (5, -10, -10, 110)
        );
    }

    #[test]
    fn bad_buffers_and_params_are_errors() {
        let p = geom(1, [2, 2, 2], [1, 1, 2], [2, 2, 1]);
        let mut out = [0i8; 4];
        let ok = conv2d(&p, &[0; 8], &[0; 2], None, &[1], &[0], &mut out);
        assert_eq!(ok, Ok(()));
        assert!(conv2d(&p, &[0; 7], &[0; 2], None, &[1], &[0], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 3], None, &[1], &[0], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 2], Some(&[]), &[1], &[0], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 2], None, &[], &[0], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 2], None, &[1], &[0, 0], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 2], None, &[1], &[i32::MIN], &mut out).is_err());
        assert!(conv2d(&p, &[0; 8], &[0; 2], None, &[1], &[0], &mut out[..3]).is_err());
        for bad in [
            Conv2DParams {
                stride_height: 0,
                ..p
            },
            Conv2DParams {
                dilation_width: 0,
                ..p
            },
            Conv2DParams {
                filter_input_channels: 0,
                ..p
            },
            Conv2DParams {
                filter_input_channels: 3,
                ..p
            },
            Conv2DParams {
                act_min: 5,
                act_max: 4,
                ..p
            },
            Conv2DParams { act_max: 200, ..p },
            Conv2DParams {
                output_height: usize::MAX,
                ..p
            },
            Conv2DParams {
                stride_height: usize::MAX,
                output_height: 3,
                ..p
            },
        ] {
            assert!(
                conv2d(&bad, &[0; 8], &[0; 2], None, &[1], &[0], &mut out).is_err(),
                "{bad:?}"
            );
        }
        // Two groups need an even output channel count.
        let grouped = Conv2DParams {
            filter_input_channels: 1,
            output_channels: 3,
            ..p
        };
        assert!(
            conv2d(
                &grouped,
                &[0; 8],
                &[0; 3],
                None,
                &[1; 3],
                &[0; 3],
                &mut [0; 12]
            )
            .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]
        #[test]
        fn matches_naive_reference(
            n in 1usize..=2, ih in 1usize..=6, iw in 1usize..=6,
            fic in 1usize..=3, groups in 1usize..=2, per_group in 1usize..=3,
            kh in 1usize..=3, kw in 1usize..=3, oh in 1usize..=5, ow in 1usize..=5,
            sh in 1usize..=3, sw in 1usize..=3, dh in 1usize..=2, dw in 1usize..=2,
            pt in 0usize..=2, pl in 0usize..=2,
            in_zp in -128i32..=127, out_zp in -128i32..=127,
            act in 0usize..4, with_bias: bool, seed: u64,
        ) {
            let ic = fic * groups;
            let oc = per_group * groups;
            let mut p = geom(n, [ih, iw, ic], [kh, kw, fic], [oh, ow, oc]);
            p.stride_height = sh; p.stride_width = sw;
            p.dilation_height = dh; p.dilation_width = dw;
            p.pad_top = pt; p.pad_left = pl;
            let act = [Activation::None, Activation::Relu, Activation::Relu6, Activation::ReluN1To1][act];
            let p = prepare_conv2d(p, in_zp, (0.05, out_zp), act);
            let mut rng = Rng(seed);
            let input = rng.i8s(n * ih * iw * ic, -128, 127);
            let filter = rng.i8s(oc * kh * kw * fic, -127, 127);
            let bias = rng.i32s(oc, -40_000, 40_000);
            let mult = rng.i32s(oc, 1 << 30, i32::MAX as i64);
            let shift = rng.i32s(oc, -18, 2);
            let bias = if with_bias { Some(&bias[..]) } else { None };
            let mut out = vec![0i8; n * oh * ow * oc];
            prop_assert_eq!(conv2d(&p, &input, &filter, bias, &mult, &shift, &mut out), Ok(()));
            prop_assert_eq!(out, reference(&p, &input, &filter, bias, &mult, &shift));
        }

        /// The input offset folded into the bias (`bias + input_offset·Σw`,
        /// wrapping) with `pad_value` left at the zero point computes the same
        /// bytes as the unfolded kernel, padding, extreme values and wrapping
        /// accumulators included.
        #[test]
        fn folded_offset_equals_unfolded(
            n in 1usize..=2, ih in 1usize..=5, iw in 1usize..=5,
            fic in 1usize..=4, groups in 1usize..=2, per_group in 1usize..=3,
            kh in 1usize..=4, kw in 1usize..=4, oh in 1usize..=5, ow in 1usize..=5,
            sh in 1usize..=2, sw in 1usize..=2, dh in 1usize..=2, dw in 1usize..=2,
            pt in 0usize..=3, pl in 0usize..=3,
            in_zp in prop_oneof![Just(-128i32), Just(127), -128i32..=127],
            out_zp in -128i32..=127, extreme in 0usize..3, with_bias: bool, seed: u64,
        ) {
            let ic = fic * groups;
            let oc = per_group * groups;
            let mut p = geom(n, [ih, iw, ic], [kh, kw, fic], [oh, ow, oc]);
            p.stride_height = sh; p.stride_width = sw;
            p.dilation_height = dh; p.dilation_width = dw;
            p.pad_top = pt; p.pad_left = pl;
            let p = prepare_conv2d(p, in_zp, (0.05, out_zp), Activation::None);
            let mut rng = Rng(seed);
            let (input, filter) = match extreme {
                0 => (rng.i8s(n * ih * iw * ic, -128, 127), rng.i8s(oc * kh * kw * fic, -128, 127)),
                1 => (vec![-128i8; n * ih * iw * ic], vec![-128i8; oc * kh * kw * fic]),
                _ => (rng.i8s(n * ih * iw * ic, -128, -127), rng.i8s(oc * kh * kw * fic, 126, 127)),
            };
            let bias = rng.i32s(oc, i64::from(i32::MIN), i64::from(i32::MAX));
            let mult = rng.i32s(oc, 0, i32::MAX as i64);
            let shift = rng.i32s(oc, -31, 31);
            let bias = if with_bias { Some(&bias[..]) } else { None };
            let per_filter = kh * kw * fic;
            let folded_bias: Vec<i32> = (0..oc)
                .map(|o| {
                    let sum = filter[o * per_filter..(o + 1) * per_filter]
                        .iter()
                        .fold(0i32, |a, &w| a.wrapping_add(i32::from(w)));
                    bias.map_or(0, |b| b[o]).wrapping_add(p.input_offset.wrapping_mul(sum))
                })
                .collect();
            let folded = Conv2DParams { input_offset: 0, ..p };
            let mut out = vec![0i8; n * oh * ow * oc];
            let mut out_folded = vec![0i8; n * oh * ow * oc];
            prop_assert_eq!(conv2d(&p, &input, &filter, bias, &mult, &shift, &mut out), Ok(()));
            prop_assert_eq!(
                conv2d(&folded, &input, &filter, Some(&folded_bias), &mult, &shift, &mut out_folded),
                Ok(())
            );
            prop_assert_eq!(out, out_folded);
        }
    }
}

//! CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED in float32, as TFLM's
//! float reference kernels (`reference_ops::Conv`, `DepthwiseConv`,
//! `FullyConnected`) compute them, accumulation order included: per output,
//! a float sum started at `0.0` over filter rows, filter columns, then
//! input channels (taps outside the image skipped), then `sum + bias`
//! (`+ 0.0` without a bias, which turns a `-0.0` sum into `+0.0`), then
//! the activation clamp. Each product is rounded before it is added (no
//! fused multiply-add). Layouts as the int8 kernels.
//!
//! The filter is float32, or int8 with one symmetric scale per output
//! channel (a dynamic-range model's weights, [`Int8Filter`]): each weight
//! is dequantized as the rounded float product `scale * q` just before its
//! product with the input, so the result equals, bit for bit, the float
//! kernel run on the weights a DEQUANTIZE would have produced.

use crate::conv::{check_span, volume};
use crate::error::{KernelError, check_len};
use crate::float_math::FloatRange;

/// Geometry and activation clamp of one float CONV_2D (the fields as in
/// [`crate::conv::Conv2DParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConvF32Params {
    pub batches: usize,
    pub input_height: usize,
    pub input_width: usize,
    pub input_channels: usize,
    pub filter_height: usize,
    pub filter_width: usize,
    /// The filter's input depth; `input_channels / filter_input_channels` groups.
    pub filter_input_channels: usize,
    pub output_height: usize,
    pub output_width: usize,
    pub output_channels: usize,
    pub stride_height: usize,
    pub stride_width: usize,
    pub dilation_height: usize,
    pub dilation_width: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub act_min: f32,
    pub act_max: f32,
}

impl ConvF32Params {
    /// Everything [`conv2d_f32`] checks before it reads a value; lengths
    /// in elements.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<(), KernelError> {
        let (ic, fic, oc) = (
            self.input_channels,
            self.filter_input_channels,
            self.output_channels,
        );
        check_geometry(
            [self.stride_height, self.stride_width],
            [self.dilation_height, self.dilation_width],
            self.act(),
        )?;
        if fic == 0 || ic % fic != 0 || oc % (ic / fic).max(1) != 0 {
            return Err(KernelError::InvalidParams(
                "channels must split into equal groups",
            ));
        }
        check_span(
            self.output_height,
            self.stride_height,
            self.filter_height,
            self.dilation_height,
        )?;
        check_span(
            self.output_width,
            self.stride_width,
            self.filter_width,
            self.dilation_width,
        )?;
        let (n, ih, iw) = (self.batches, self.input_height, self.input_width);
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        let (kh, kw) = (self.filter_height, self.filter_width);
        check_len("filter", volume(&[oc, kh, kw, fic])?, filter)?;
        let (oh, ow) = (self.output_height, self.output_width);
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        Ok(())
    }

    fn act(&self) -> FloatRange {
        FloatRange {
            min: self.act_min,
            max: self.act_max,
        }
    }
}

fn check_geometry(
    strides: [usize; 2],
    dilations: [usize; 2],
    act: FloatRange,
) -> Result<(), KernelError> {
    if strides.contains(&0) || dilations.contains(&0) {
        return Err(KernelError::InvalidParams(
            "strides and dilations must be >= 1",
        ));
    }
    if !act.is_valid() {
        return Err(KernelError::InvalidParams(
            "activation range must satisfy min <= max",
        ));
    }
    Ok(())
}

/// A filter read one value at a time: float32 values, or int8 values
/// dequantized on the fly ([`Int8Filter`]).
pub trait FloatFilter {
    /// Values in the filter.
    fn values(&self) -> usize;
    /// Value `i`, which belongs to output channel `channel`.
    fn at(&self, i: usize, channel: usize) -> f32;
}

impl FloatFilter for [f32] {
    fn values(&self) -> usize {
        self.len()
    }

    #[inline(always)]
    fn at(&self, i: usize, _channel: usize) -> f32 {
        self[i]
    }
}

/// An int8 filter with one symmetric scale per output channel (zero point
/// 0): value `i` of channel `c` is `scales[c] * values[i]`, rounded to
/// float32 as TFLite's DEQUANTIZE rounds it.
#[derive(Debug, Clone, Copy)]
pub struct Int8Filter<'a> {
    pub values: &'a [i8],
    pub scales: &'a [f32],
}

impl Int8Filter<'_> {
    /// One scale per output channel.
    pub fn check(&self, channels: usize) -> Result<(), KernelError> {
        check_len("filter scales", channels, self.scales.len())
    }
}

impl FloatFilter for Int8Filter<'_> {
    fn values(&self) -> usize {
        self.values.len()
    }

    #[inline(always)]
    fn at(&self, i: usize, channel: usize) -> f32 {
        self.scales[channel] * f32::from(self.values[i])
    }
}

/// The input coordinate of a tap, if inside the image.
#[inline(always)]
fn tap(
    out: usize,
    stride: usize,
    k: usize,
    dilation: usize,
    pad: usize,
    size: usize,
) -> Option<usize> {
    (out * stride + k * dilation)
        .checked_sub(pad)
        .filter(|&i| i < size)
}

/// CONV_2D float32 (`reference_ops::Conv`).
pub fn conv2d_f32(
    p: &ConvF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    conv2d_f32_with(p, input, filter, bias, output)
}

/// CONV_2D with int8 weights dequantized on the fly (a dynamic-range model).
pub fn conv2d_f32_i8(
    p: &ConvF32Params,
    input: &[f32],
    filter: Int8Filter<'_>,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    filter.check(p.output_channels)?;
    conv2d_f32_with(p, input, &filter, bias, output)
}

fn conv2d_f32_with<F: FloatFilter + ?Sized>(
    p: &ConvF32Params,
    input: &[f32],
    filter: &F,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.values(),
        bias.map(<[f32]>::len),
        output.len(),
    )?;
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw, fic) = (p.filter_height, p.filter_width, p.filter_input_channels);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    // Non-zero: `check` saw the groups divide.
    let filters_per_group = oc / (ic / fic);
    let act = p.act();
    let mut out = output.iter_mut();
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..oc {
                    let in_c0 = (o / filters_per_group) * fic;
                    let mut total = 0.0f32;
                    for ky in 0..kh {
                        let Some(iy) =
                            tap(oy, p.stride_height, ky, p.dilation_height, p.pad_top, ih)
                        else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ix) =
                                tap(ox, p.stride_width, kx, p.dilation_width, p.pad_left, iw)
                            else {
                                continue;
                            };
                            let i0 = ((b * ih + iy) * iw + ix) * ic + in_c0;
                            let f0 = ((o * kh + ky) * kw + kx) * fic;
                            for (k, &x) in input[i0..i0 + fic].iter().enumerate() {
                                total += x * filter.at(f0 + k, o);
                            }
                        }
                    }
                    let bias_value = bias.map_or(0.0, |bs| bs[o]);
                    if let Some(slot) = out.next() {
                        *slot = act.apply(total + bias_value);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Geometry and activation clamp of one float DEPTHWISE_CONV_2D (the fields
/// as in [`crate::depthwise::DepthwiseParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepthwiseF32Params {
    pub batches: usize,
    pub input_height: usize,
    pub input_width: usize,
    pub input_channels: usize,
    pub depth_multiplier: usize,
    pub filter_height: usize,
    pub filter_width: usize,
    pub output_height: usize,
    pub output_width: usize,
    pub stride_height: usize,
    pub stride_width: usize,
    pub dilation_height: usize,
    pub dilation_width: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub act_min: f32,
    pub act_max: f32,
}

impl DepthwiseF32Params {
    /// Everything [`depthwise_conv2d_f32`] checks before it reads a value.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<(), KernelError> {
        check_geometry(
            [self.stride_height, self.stride_width],
            [self.dilation_height, self.dilation_width],
            self.act(),
        )?;
        check_span(
            self.output_height,
            self.stride_height,
            self.filter_height,
            self.dilation_height,
        )?;
        check_span(
            self.output_width,
            self.stride_width,
            self.filter_width,
            self.dilation_width,
        )?;
        let oc = self
            .input_channels
            .checked_mul(self.depth_multiplier)
            .ok_or(KernelError::InvalidParams("tensor size overflows usize"))?;
        let (n, ih, iw, ic) = (
            self.batches,
            self.input_height,
            self.input_width,
            self.input_channels,
        );
        check_len("input", volume(&[n, ih, iw, ic])?, input)?;
        let (kh, kw) = (self.filter_height, self.filter_width);
        check_len("filter", volume(&[kh, kw, oc])?, filter)?;
        let (oh, ow) = (self.output_height, self.output_width);
        check_len("output", volume(&[n, oh, ow, oc])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", oc, bias)?;
        }
        Ok(())
    }

    fn act(&self) -> FloatRange {
        FloatRange {
            min: self.act_min,
            max: self.act_max,
        }
    }
}

/// DEPTHWISE_CONV_2D float32 (`reference_ops::DepthwiseConv`).
pub fn depthwise_conv2d_f32(
    p: &DepthwiseF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    depthwise_conv2d_f32_with(p, input, filter, bias, output)
}

/// DEPTHWISE_CONV_2D with int8 weights dequantized on the fly.
pub fn depthwise_conv2d_f32_i8(
    p: &DepthwiseF32Params,
    input: &[f32],
    filter: Int8Filter<'_>,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    let channels = p
        .input_channels
        .checked_mul(p.depth_multiplier)
        .ok_or(KernelError::InvalidParams("tensor size overflows usize"))?;
    filter.check(channels)?;
    depthwise_conv2d_f32_with(p, input, &filter, bias, output)
}

fn depthwise_conv2d_f32_with<F: FloatFilter + ?Sized>(
    p: &DepthwiseF32Params,
    input: &[f32],
    filter: &F,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.values(),
        bias.map(<[f32]>::len),
        output.len(),
    )?;
    let (ih, iw, ic, m) = (
        p.input_height,
        p.input_width,
        p.input_channels,
        p.depth_multiplier,
    );
    let (kh, kw) = (p.filter_height, p.filter_width);
    let oc = ic * m;
    let act = p.act();
    let mut out = output.iter_mut();
    for b in 0..p.batches {
        for oy in 0..p.output_height {
            for ox in 0..p.output_width {
                for c in 0..ic {
                    for j in 0..m {
                        let o = c * m + j;
                        let mut total = 0.0f32;
                        for ky in 0..kh {
                            let Some(iy) =
                                tap(oy, p.stride_height, ky, p.dilation_height, p.pad_top, ih)
                            else {
                                continue;
                            };
                            for kx in 0..kw {
                                let Some(ix) =
                                    tap(ox, p.stride_width, kx, p.dilation_width, p.pad_left, iw)
                                else {
                                    continue;
                                };
                                let x = input[((b * ih + iy) * iw + ix) * ic + c];
                                let w = filter.at((ky * kw + kx) * oc + o, o);
                                total += x * w;
                            }
                        }
                        let bias_value = bias.map_or(0.0, |bs| bs[o]);
                        if let Some(slot) = out.next() {
                            *slot = act.apply(total + bias_value);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Shape and activation clamp of one float FULLY_CONNECTED.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FullyConnectedF32Params {
    /// Rows of the input (every dimension but the last, multiplied).
    pub batches: usize,
    /// Input values per row.
    pub accum_depth: usize,
    /// Output values per row.
    pub output_depth: usize,
    pub act_min: f32,
    pub act_max: f32,
}

impl FullyConnectedF32Params {
    /// Everything [`fully_connected_f32`] checks before it reads a value.
    pub fn check(
        &self,
        input: usize,
        filter: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<(), KernelError> {
        check_geometry([1, 1], [1, 1], self.act())?;
        let (b, d, o) = (self.batches, self.accum_depth, self.output_depth);
        check_len("input", volume(&[b, d])?, input)?;
        check_len("filter", volume(&[o, d])?, filter)?;
        check_len("output", volume(&[b, o])?, output)?;
        if let Some(bias) = bias {
            check_len("bias", o, bias)?;
        }
        Ok(())
    }

    fn act(&self) -> FloatRange {
        FloatRange {
            min: self.act_min,
            max: self.act_max,
        }
    }
}

/// FULLY_CONNECTED float32 (`reference_ops::FullyConnected`).
pub fn fully_connected_f32(
    p: &FullyConnectedF32Params,
    input: &[f32],
    filter: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    fully_connected_f32_with(p, input, filter, bias, output)
}

/// FULLY_CONNECTED with int8 weights dequantized on the fly.
pub fn fully_connected_f32_i8(
    p: &FullyConnectedF32Params,
    input: &[f32],
    filter: Int8Filter<'_>,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    filter.check(p.output_depth)?;
    fully_connected_f32_with(p, input, &filter, bias, output)
}

fn fully_connected_f32_with<F: FloatFilter + ?Sized>(
    p: &FullyConnectedF32Params,
    input: &[f32],
    filter: &F,
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.values(),
        bias.map(<[f32]>::len),
        output.len(),
    )?;
    let (d, od) = (p.accum_depth, p.output_depth);
    let act = p.act();
    let mut out = output.iter_mut();
    for b in 0..p.batches {
        let row = &input[b * d..(b + 1) * d];
        for o in 0..od {
            let mut total = 0.0f32;
            for (k, &x) in row.iter().enumerate() {
                total += x * filter.at(o * d + k, o);
            }
            let bias_value = bias.map_or(0.0, |bs| bs[o]);
            if let Some(slot) = out.next() {
                *slot = act.apply(total + bias_value);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// The reference loops written out directly (signed coordinates, an
    /// explicit inside-the-image test), for comparison bit for bit.
    fn conv_ref(p: &ConvF32Params, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = Vec::new();
        let groups = p.input_channels / p.filter_input_channels;
        let per_group = p.output_channels / groups;
        for b in 0..p.batches as i64 {
            for oy in 0..p.output_height as i64 {
                for ox in 0..p.output_width as i64 {
                    for o in 0..p.output_channels {
                        let g = o / per_group;
                        let mut total = 0.0f32;
                        for ky in 0..p.filter_height as i64 {
                            let iy = oy * p.stride_height as i64 - p.pad_top as i64
                                + ky * p.dilation_height as i64;
                            for kx in 0..p.filter_width as i64 {
                                let ix = ox * p.stride_width as i64 - p.pad_left as i64
                                    + kx * p.dilation_width as i64;
                                if iy < 0
                                    || ix < 0
                                    || iy >= p.input_height as i64
                                    || ix >= p.input_width as i64
                                {
                                    continue;
                                }
                                for c in 0..p.filter_input_channels {
                                    let xi = ((b * p.input_height as i64 + iy)
                                        * p.input_width as i64
                                        + ix) as usize
                                        * p.input_channels
                                        + c
                                        + g * p.filter_input_channels;
                                    let wi = ((o * p.filter_height + ky as usize) * p.filter_width
                                        + kx as usize)
                                        * p.filter_input_channels
                                        + c;
                                    total += x[xi] * w[wi];
                                }
                            }
                        }
                        let bv = bias.map_or(0.0, |bs| bs[o]);
                        let v = total + bv;
                        // std::min(std::max(v, lo), hi), NaN passing through.
                        let lo = if v < p.act_min { p.act_min } else { v };
                        out.push(if p.act_max < lo { p.act_max } else { lo });
                    }
                }
            }
        }
        out
    }

    /// `n` values from a seeded generator: mostly small, some zeros of
    /// both signs and some huge (overflow to infinity is part of the test).
    pub(crate) fn draw(state: &mut u64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let r = (*state >> 33) as u32;
                let unit = (r & 0xffff) as f32 / 65536.0 * 8.0 - 4.0;
                match r >> 28 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => unit * 1e30,
                    _ => unit,
                }
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #[test]
        fn conv_equals_the_reference_loops(
            (ih, iw, fic, groups, per_group, kh, kw) in (1usize..6, 1usize..6, 1usize..3, 1usize..3, 1usize..3, 1usize..4, 1usize..4),
            (sh, sw, dh, dw, pt, pl) in (1usize..3, 1usize..3, 1usize..3, 1usize..3, 0usize..3, 0usize..3),
            (relu, has_bias, seed) in (0u8..3, any::<bool>(), any::<u64>()),
        ) {
            let ic = fic * groups;
            let oc = per_group * groups;
            let span_h = (kh - 1) * dh + 1;
            let span_w = (kw - 1) * dw + 1;
            prop_assume!(ih + 2 * pt >= span_h && iw + 2 * pl >= span_w);
            let oh = (ih + 2 * pt - span_h) / sh + 1;
            let ow = (iw + 2 * pl - span_w) / sw + 1;
            let (act_min, act_max) = match relu { 0 => (f32::MIN, f32::MAX), 1 => (0.0, f32::MAX), _ => (0.0, 6.0) };
            let p = ConvF32Params {
                batches: 1, input_height: ih, input_width: iw, input_channels: ic,
                filter_height: kh, filter_width: kw, filter_input_channels: fic,
                output_height: oh, output_width: ow, output_channels: oc,
                stride_height: sh, stride_width: sw, dilation_height: dh, dilation_width: dw,
                pad_top: pt, pad_left: pl, act_min, act_max,
            };
            let mut state = seed;
            let x = draw(&mut state, ih * iw * ic);
            let w = draw(&mut state, oc * kh * kw * fic);
            let bias = draw(&mut state, oc);
            let bias = has_bias.then_some(bias.as_slice());
            let mut out = vec![0.0f32; oh * ow * oc];
            conv2d_f32(&p, &x, &w, bias, &mut out).expect("valid test parameters");
            prop_assert_eq!(bits(&out), bits(&conv_ref(&p, &x, &w, bias)));
        }
    }

    /// `n` int8 weights from a seeded generator, the extremes included.
    fn draw_i8(state: &mut u64, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| {
                *state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                match (*state >> 60) as u8 {
                    0 => -127,
                    1 => 127,
                    2 => 0,
                    _ => (*state >> 33) as u8 as i8,
                }
            })
            .collect()
    }

    /// The filter a DEQUANTIZE would produce: `scale * q` per value.
    fn dequantized(q: &[i8], scales: &[f32], channel_of: impl Fn(usize) -> usize) -> Vec<f32> {
        q.iter()
            .enumerate()
            .map(|(i, &v)| scales[channel_of(i)] * f32::from(v))
            .collect()
    }

    proptest! {
        #[test]
        fn int8_filters_equal_the_dequantized_float_filter(
            (ih, iw, ic, oc, kh, kw) in (1usize..6, 1usize..6, 1usize..4, 1usize..4, 1usize..4, 1usize..4),
            (sh, pt, pl, m, relu) in (1usize..3, 0usize..3, 0usize..3, 1usize..3, 0u8..3),
            (has_bias, seed) in (any::<bool>(), any::<u64>()),
        ) {
            prop_assume!(ih + 2 * pt >= kh && iw + 2 * pl >= kw);
            let oh = (ih + 2 * pt - kh) / sh + 1;
            let ow = (iw + 2 * pl - kw) / sh + 1;
            let (act_min, act_max) = match relu { 0 => (f32::MIN, f32::MAX), 1 => (0.0, f32::MAX), _ => (0.0, 6.0) };
            let mut state = seed;
            let x = draw(&mut state, ih * iw * ic);
            // Scales as a quantizer makes them: positive, some tiny, some large.
            let scales: Vec<f32> = draw(&mut state, oc * ic * m).iter().map(|v| v.abs().max(1e-30) * 1e-3).collect();
            let bias = draw(&mut state, oc * ic * m);

            let p = ConvF32Params {
                batches: 1, input_height: ih, input_width: iw, input_channels: ic,
                filter_height: kh, filter_width: kw, filter_input_channels: ic,
                output_height: oh, output_width: ow, output_channels: oc,
                stride_height: sh, stride_width: sh, dilation_height: 1, dilation_width: 1,
                pad_top: pt, pad_left: pl, act_min, act_max,
            };
            let q = draw_i8(&mut state, oc * kh * kw * ic);
            let w = dequantized(&q, &scales, |i| i / (kh * kw * ic));
            let b = has_bias.then_some(&bias[..oc]);
            let (mut got, mut want) = (vec![0.0f32; oh * ow * oc], vec![0.0f32; oh * ow * oc]);
            let filter = Int8Filter { values: &q, scales: &scales[..oc] };
            conv2d_f32_i8(&p, &x, filter, b, &mut got).expect("valid test parameters");
            conv2d_f32(&p, &x, &w, b, &mut want).expect("valid test parameters");
            prop_assert_eq!(bits(&got), bits(&want));

            let dc = ic * m;
            let dp = DepthwiseF32Params {
                batches: 1, input_height: ih, input_width: iw, input_channels: ic,
                depth_multiplier: m, filter_height: kh, filter_width: kw,
                output_height: oh, output_width: ow,
                stride_height: sh, stride_width: sh, dilation_height: 1, dilation_width: 1,
                pad_top: pt, pad_left: pl, act_min, act_max,
            };
            let q = draw_i8(&mut state, kh * kw * dc);
            let w = dequantized(&q, &scales, |i| i % dc);
            let b = has_bias.then_some(&bias[..dc]);
            let (mut got, mut want) = (vec![0.0f32; oh * ow * dc], vec![0.0f32; oh * ow * dc]);
            let filter = Int8Filter { values: &q, scales: &scales[..dc] };
            depthwise_conv2d_f32_i8(&dp, &x, filter, b, &mut got).expect("valid test parameters");
            depthwise_conv2d_f32(&dp, &x, &w, b, &mut want).expect("valid test parameters");
            prop_assert_eq!(bits(&got), bits(&want));

            let depth = ih * iw * ic;
            let fp = FullyConnectedF32Params { batches: 1, accum_depth: depth, output_depth: oc, act_min, act_max };
            let q = draw_i8(&mut state, oc * depth);
            let w = dequantized(&q, &scales, |i| i / depth);
            let b = has_bias.then_some(&bias[..oc]);
            let (mut got, mut want) = (vec![0.0f32; oc], vec![0.0f32; oc]);
            let filter = Int8Filter { values: &q, scales: &scales[..oc] };
            fully_connected_f32_i8(&fp, &x, filter, b, &mut got).expect("valid test parameters");
            fully_connected_f32(&fp, &x, &w, b, &mut want).expect("valid test parameters");
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    #[test]
    fn int8_filter_scales_are_checked() {
        let p = FullyConnectedF32Params {
            batches: 1,
            accum_depth: 1,
            output_depth: 2,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [0.0f32; 2];
        let filter = Int8Filter {
            values: &[1, 2],
            scales: &[1.0],
        };
        assert!(fully_connected_f32_i8(&p, &[1.0], filter, None, &mut out).is_err());
    }

    #[test]
    fn a_negative_zero_sum_plus_no_bias_is_positive_zero() {
        let p = FullyConnectedF32Params {
            batches: 1,
            accum_depth: 1,
            output_depth: 1,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [1.0f32];
        fully_connected_f32(&p, &[-0.0], &[1.0], None, &mut out).expect("valid test parameters");
        assert_eq!(out[0].to_bits(), 0);
    }

    #[test]
    fn depthwise_multiplier_layout() {
        // One pixel, 2 channels, multiplier 2: output o = c*2 + j reads channel c.
        let p = DepthwiseF32Params {
            batches: 1,
            input_height: 1,
            input_width: 1,
            input_channels: 2,
            depth_multiplier: 2,
            filter_height: 1,
            filter_width: 1,
            output_height: 1,
            output_width: 1,
            stride_height: 1,
            stride_width: 1,
            dilation_height: 1,
            dilation_width: 1,
            pad_top: 0,
            pad_left: 0,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [0.0f32; 4];
        depthwise_conv2d_f32(&p, &[2.0, 3.0], &[1.0, 10.0, 100.0, 1000.0], None, &mut out)
            .expect("valid test parameters");
        assert_eq!(out, [2.0, 20.0, 300.0, 3000.0]);
    }
}

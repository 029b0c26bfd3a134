//! "16x8" kernels: int16 activations (symmetric, zero point 0) with int8
//! weights, as TFLM's int16 versions of `ConvPerChannel`,
//! `DepthwiseConvPerChannel`, `FullyConnected` and `FullyConnectedPerChannel`.
//!
//! They reuse the int8 parameter structs (same geometry; the offsets are 0
//! and the clamp lies in the int16 range). What differs is the accumulator,
//! which TFLM picks from the bias type:
//!
//! * conv and fully connected with no bias or an int32 bias accumulate in
//!   int32 (wrapping) and requantize with the int32
//!   `MultiplyByQuantizedMultiplier` (double rounding, [`mbqm`]);
//! * with an int64 bias they accumulate in int64 and requantize with the
//!   int64 overload, [`mbqm_wide`] (a 16-bit multiplier, one rounding);
//! * depthwise always takes the int64 path (TFLM's only int16 depthwise).

use crate::conv::{Conv2DParams, I16_RANGE, check_act_range_within};
use crate::depthwise::DepthwiseParams;
use crate::error::KernelError;
use crate::fixedpoint::{Activation, activation_range, mbqm};
use crate::fully_connected::FullyConnectedParams;
use crate::int16::{Int16s, Int16sMut};
use crate::transpose_conv::TransposeConvParams;

/// The bias of a 16x8 layer, whose type selects TFLM's accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WideBias<'a> {
    /// No bias: an int32 accumulator (conv, FC) or int64 (depthwise).
    None,
    /// int32 bias: an int32 accumulator.
    I32(&'a [i32]),
    /// int64 bias: an int64 accumulator.
    I64(&'a [i64]),
}

impl WideBias<'_> {
    /// Entries, or `None` without a bias.
    pub fn entries(&self) -> Option<usize> {
        match self {
            WideBias::None => None,
            WideBias::I32(b) => Some(b.len()),
            WideBias::I64(b) => Some(b.len()),
        }
    }
}

/// The int64 overload of `MultiplyByQuantizedMultiplier`: the Q31
/// multiplier rounded to 16 bits (saturating at `0x7FFF`), then one
/// round-half-up shift by `15 - shift`; the result is truncated to int32 as
/// TFLM's `static_cast` does. `shift` must lie in `-31..=7` ([`check_wide_shifts`]).
pub fn mbqm_wide(x: i64, multiplier: i32, shift: i32) -> i32 {
    let reduced = if multiplier < 0x7FFF_0000 {
        i64::from((multiplier + (1 << 15)) >> 16)
    } else {
        0x7FFF
    };
    let total_shift = (15 - shift) as u32;
    let round = 1i64 << (total_shift - 1);
    (x.wrapping_mul(reduced).wrapping_add(round) >> total_shift) as i32
}

/// The shifts `mbqm_wide` accepts: TFLM asserts `-31 <= shift < 8`.
pub fn check_wide_shifts(shifts: &[i32]) -> Result<(), KernelError> {
    if shifts.iter().all(|s| (-31..=7).contains(s)) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "16x8 multiplier shift outside -31..=7 (effective scale too large)",
        ))
    }
}

/// The multipliers must be non-negative (TFLM asserts it).
fn check_multipliers(multipliers: &[i32]) -> Result<(), KernelError> {
    if multipliers.iter().all(|&m| m >= 0) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams("negative output multiplier"))
    }
}

/// Host side: the int16 clamp of a fused activation (zero point 0).
pub fn wide_activation_range(activation: Activation, output_scale: f32) -> (i32, i32) {
    activation_range(activation, output_scale, 0, I16_RANGE.0, I16_RANGE.1)
}

/// Host side: `geom` as a 16x8 conv: no offsets, an int16 clamp.
pub fn prepare_conv2d_16x8(
    geom: Conv2DParams,
    output_scale: f32,
    activation: Activation,
) -> Conv2DParams {
    let (act_min, act_max) = wide_activation_range(activation, output_scale);
    Conv2DParams {
        input_offset: 0,
        pad_value: 0,
        output_offset: 0,
        act_min,
        act_max,
        ..geom
    }
}

/// Host side: `geom` as a 16x8 depthwise conv.
pub fn prepare_depthwise_16x8(
    geom: DepthwiseParams,
    output_scale: f32,
    activation: Activation,
) -> DepthwiseParams {
    let (act_min, act_max) = wide_activation_range(activation, output_scale);
    DepthwiseParams {
        input_offset: 0,
        pad_value: 0,
        output_offset: 0,
        act_min,
        act_max,
        ..geom
    }
}

/// Host side: `geom` as a 16x8 fully connected (`filter_offset` is
/// `-filter_zero_point` for per-tensor weights, as in int8).
pub fn prepare_fully_connected_16x8(
    geom: FullyConnectedParams,
    filter_zero_point: i32,
    per_channel: bool,
    output_scale: f32,
    activation: Activation,
) -> FullyConnectedParams {
    let (act_min, act_max) = wide_activation_range(activation, output_scale);
    FullyConnectedParams {
        input_offset: 0,
        filter_offset: if per_channel { 0 } else { -filter_zero_point },
        output_offset: 0,
        act_min,
        act_max,
        ..geom
    }
}

/// 16x8 layers have symmetric activations: every offset is 0.
fn check_no_offsets(offsets: &[i32]) -> Result<(), KernelError> {
    if offsets.iter().all(|&o| o == 0) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "16x8 layers take no input/output offsets (int16 zero point must be 0)",
        ))
    }
}

/// One output value of a 16x8 layer from its products `w·x` in TFLM's
/// order (each fits int32: an int8 weight, or an int8 weight plus an int8
/// zero point, times an int16 value); the accumulator and the
/// requantization follow the bias type, and `int64` forces the int64 path
/// without a bias (depthwise).
#[inline]
fn accumulate(
    products: impl Iterator<Item = i32>,
    bias: WideBias<'_>,
    channel: usize,
    int64: bool,
    (multiplier, shift): (i32, i32),
    (act_min, act_max): (i32, i32),
) -> i16 {
    let scaled = match bias {
        WideBias::I32(_) | WideBias::None if !int64 => {
            let mut acc = products.fold(0i32, i32::wrapping_add);
            if let WideBias::I32(b) = bias {
                acc = acc.wrapping_add(b[channel]);
            }
            mbqm(acc, multiplier, shift)
        }
        _ => {
            let mut acc = products.fold(0i64, |acc, v| acc.wrapping_add(i64::from(v)));
            if let WideBias::I64(b) = bias {
                acc = acc.wrapping_add(b[channel]);
            }
            mbqm_wide(acc, multiplier, shift)
        }
    };
    // The clamp lies inside the int16 range (checked), so the cast is exact.
    scaled.clamp(act_min, act_max) as i16
}

/// Everything [`conv2d_16x8`] checks before it reads a value, on the
/// element counts of input, filter and output (the Program verifier calls
/// it with the buffers a step will pass).
pub fn check_conv2d_16x8(
    p: &Conv2DParams,
    [input, filter, output]: [usize; 3],
    bias: Option<usize>,
    out_multiplier: &[i32],
    out_shift: &[i32],
) -> Result<(), KernelError> {
    p.check_within(
        [input, filter, output],
        bias,
        out_multiplier.len(),
        out_shift,
        I16_RANGE,
    )?;
    check_no_offsets(&[p.input_offset, p.pad_value, p.output_offset])?;
    check_wide_shifts(out_shift)?;
    check_multipliers(out_multiplier)
}

/// CONV_2D 16x8 per-channel.
pub fn conv2d_16x8<I: Int16s + ?Sized, O: Int16sMut + ?Sized>(
    p: &Conv2DParams,
    input: &I,
    filter: &[i8],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut O,
) -> Result<(), KernelError> {
    check_conv2d_16x8(
        p,
        [input.count(), filter.len(), output.count()],
        bias.entries(),
        out_multiplier,
        out_shift,
    )?;
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw, fic) = (p.filter_height, p.filter_width, p.filter_input_channels);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    let filters_per_group = oc / (ic / fic);
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for o in 0..oc {
                    let in_c0 = (o / filters_per_group) * fic;
                    // Taps inside the image only: padded cells hold 0.
                    let products = (0..kh).flat_map(move |ky| {
                        (0..kw).flat_map(move |kx| {
                            let ry = oy * p.stride_height + ky * p.dilation_height;
                            let rx = ox * p.stride_width + kx * p.dilation_width;
                            let inside = ry >= p.pad_top
                                && ry - p.pad_top < ih
                                && rx >= p.pad_left
                                && rx - p.pad_left < iw;
                            let i0 = if inside {
                                ((b * ih + ry - p.pad_top) * iw + rx - p.pad_left) * ic + in_c0
                            } else {
                                0
                            };
                            let f0 = ((o * kh + ky) * kw + kx) * fic;
                            (0..if inside { fic } else { 0 }).map(move |c| {
                                i32::from(filter[f0 + c]) * i32::from(input.at(i0 + c))
                            })
                        })
                    });
                    output.put(
                        out_base + o,
                        accumulate(
                            products,
                            bias,
                            o,
                            false,
                            (out_multiplier[o], out_shift[o]),
                            (p.act_min, p.act_max),
                        ),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Everything [`depthwise_conv2d_16x8`] checks, as [`check_conv2d_16x8`].
pub fn check_depthwise_16x8(
    p: &DepthwiseParams,
    [input, filter, output]: [usize; 3],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
) -> Result<(), KernelError> {
    if matches!(bias, WideBias::I32(_)) {
        return Err(KernelError::InvalidParams(
            "16x8 DEPTHWISE_CONV_2D takes an int64 bias (TFLM has no int32-bias version)",
        ));
    }
    p.check_within(
        [input, filter, output],
        bias.entries(),
        out_multiplier.len(),
        out_shift,
        I16_RANGE,
    )?;
    check_no_offsets(&[p.input_offset, p.pad_value, p.output_offset])?;
    check_wide_shifts(out_shift)?;
    check_multipliers(out_multiplier)
}

/// DEPTHWISE_CONV_2D 16x8 per-channel (int64 bias or none).
pub fn depthwise_conv2d_16x8<I: Int16s + ?Sized, O: Int16sMut + ?Sized>(
    p: &DepthwiseParams,
    input: &I,
    filter: &[i8],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut O,
) -> Result<(), KernelError> {
    check_depthwise_16x8(
        p,
        [input.count(), filter.len(), output.count()],
        bias,
        out_multiplier,
        out_shift,
    )?;
    let (ih, iw, ic, dm) = (
        p.input_height,
        p.input_width,
        p.input_channels,
        p.depth_multiplier,
    );
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow) = (p.output_height, p.output_width);
    let oc = ic * dm;
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                let out_base = ((b * oh + oy) * ow + ox) * oc;
                for c in 0..ic {
                    for m in 0..dm {
                        let o = c * dm + m;
                        let products = (0..kh).flat_map(move |ky| {
                            (0..kw).filter_map(move |kx| {
                                let ry = oy * p.stride_height + ky * p.dilation_height;
                                let rx = ox * p.stride_width + kx * p.dilation_width;
                                let inside = ry >= p.pad_top
                                    && ry - p.pad_top < ih
                                    && rx >= p.pad_left
                                    && rx - p.pad_left < iw;
                                inside.then(|| {
                                    let i =
                                        ((b * ih + ry - p.pad_top) * iw + rx - p.pad_left) * ic + c;
                                    i32::from(filter[(ky * kw + kx) * oc + o])
                                        * i32::from(input.at(i))
                                })
                            })
                        });
                        output.put(
                            out_base + o,
                            accumulate(
                                products,
                                bias,
                                o,
                                true,
                                (out_multiplier[o], out_shift[o]),
                                (p.act_min, p.act_max),
                            ),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Everything [`fully_connected_16x8`] checks, as [`check_conv2d_16x8`].
pub fn check_fully_connected_16x8(
    p: &FullyConnectedParams,
    [input, filter, output]: [usize; 3],
    bias: Option<usize>,
    out_multiplier: &[i32],
    out_shift: &[i32],
) -> Result<(), KernelError> {
    p.check_within(
        [input, filter, output],
        bias,
        out_multiplier.len(),
        out_shift,
        I16_RANGE,
    )?;
    check_no_offsets(&[p.input_offset, p.output_offset])?;
    check_wide_shifts(out_shift)?;
    check_multipliers(out_multiplier)?;
    // `(w + filter_offset) * x` must fit the int32 product TFLM forms; a
    // filter offset is only ever a negated int8 zero point.
    if (-127..=128).contains(&p.filter_offset) {
        Ok(())
    } else {
        Err(KernelError::InvalidParams(
            "filter offset outside the negated int8 range",
        ))
    }
}

/// FULLY_CONNECTED 16x8; `out_multiplier` / `out_shift` hold 1 (per-tensor)
/// or `output_depth` (per-channel) entries.
pub fn fully_connected_16x8<I: Int16s + ?Sized, O: Int16sMut + ?Sized>(
    p: &FullyConnectedParams,
    input: &I,
    filter: &[i8],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut O,
) -> Result<(), KernelError> {
    check_fully_connected_16x8(
        p,
        [input.count(), filter.len(), output.count()],
        bias.entries(),
        out_multiplier,
        out_shift,
    )?;
    let (depth, out_depth) = (p.accum_depth, p.output_depth);
    let per_channel = out_multiplier.len() != 1;
    for b in 0..p.batches {
        let x0 = b * depth;
        for o in 0..out_depth {
            let ws = &filter[o * depth..(o + 1) * depth];
            let q = if per_channel { o } else { 0 };
            let offset = p.filter_offset;
            let products = ws
                .iter()
                .enumerate()
                .map(|(d, &w)| (i32::from(w) + offset) * i32::from(input.at(x0 + d)));
            let value = accumulate(
                products,
                bias,
                o,
                false,
                (out_multiplier[q], out_shift[q]),
                (p.act_min, p.act_max),
            );
            output.put(b * out_depth + o, value);
        }
    }
    Ok(())
}

/// Host side: a TRANSPOSE_CONV's geometry as a 16x8 layer: no offsets, an
/// int16 clamp.
pub fn prepare_transpose_conv_16x8(
    geom: TransposeConvParams,
    output_scale: f32,
    activation: Activation,
) -> TransposeConvParams {
    let (act_min, act_max) = wide_activation_range(activation, output_scale);
    TransposeConvParams {
        input_offset: 0,
        output_offset: 0,
        act_min,
        act_max,
        ..geom
    }
}

/// Everything [`transpose_conv_16x8`] checks: the int8 geometry checks of
/// [`TransposeConvParams::check`], no offsets, an int16 clamp, an int64
/// bias or none (TFLM's int16 kernel reads the bias as int64), and the
/// shifts [`mbqm_wide`] takes.
pub fn check_transpose_conv_16x8(
    p: &TransposeConvParams,
    [input, filter, output]: [usize; 3],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
) -> Result<(), KernelError> {
    if matches!(bias, WideBias::I32(_)) {
        return Err(KernelError::InvalidParams(
            "a 16x8 TRANSPOSE_CONV takes an int64 bias (TFLM reads it as int64)",
        ));
    }
    // The geometry and lengths as the int8 kernel checks them; the clamp,
    // which that check bounds to int8, separately in int16.
    let geometry = TransposeConvParams {
        act_min: 0,
        act_max: 0,
        ..*p
    };
    geometry.check(
        input,
        filter,
        bias.entries(),
        out_multiplier.len(),
        out_shift,
        output,
    )?;
    check_no_offsets(&[p.input_offset, p.output_offset])?;
    check_act_range_within(p.act_min, p.act_max, I16_RANGE)?;
    check_multipliers(out_multiplier)?;
    check_wide_shifts(out_shift)
}

/// TRANSPOSE_CONV with int16 activations and int8 weights (TFLM's int16
/// `reference_integer_ops::TransposeConv`): every product summed in int64
/// (TFLM scatters into an int64 scratch copy of the output; gathering per
/// output value gives the same exact sums), the int64 bias added, then the
/// int64 `MultiplyByQuantizedMultiplier` and the clamp.
pub fn transpose_conv_16x8<I: Int16s + ?Sized, O: Int16sMut + ?Sized>(
    p: &TransposeConvParams,
    input: &I,
    filter: &[i8],
    bias: WideBias<'_>,
    out_multiplier: &[i32],
    out_shift: &[i32],
    output: &mut O,
) -> Result<(), KernelError> {
    check_transpose_conv_16x8(
        p,
        [input.count(), filter.len(), output.count()],
        bias,
        out_multiplier,
        out_shift,
    )?;
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    let source = |out: usize, pad: usize, k: usize, stride: usize, size: usize| {
        let t = (out + pad).checked_sub(k)?;
        let i = t / stride;
        (t % stride == 0 && i < size).then_some(i)
    };
    for b in 0..p.batches {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..oc {
                    let taps = (0..kh).flat_map(|ky| (0..kw).map(move |kx| (ky, kx)));
                    let products = taps
                        .filter_map(|(ky, kx)| {
                            let iy = source(oy, p.pad_top, ky, p.stride_height, ih)?;
                            let ix = source(ox, p.pad_left, kx, p.stride_width, iw)?;
                            Some((
                                ((b * ih + iy) * iw + ix) * ic,
                                ((o * kh + ky) * kw + kx) * ic,
                            ))
                        })
                        .flat_map(|(i0, f0)| {
                            (0..ic).map(move |c| {
                                i32::from(filter[f0 + c]) * i32::from(input.at(i0 + c))
                            })
                        });
                    let value = accumulate(
                        products,
                        bias,
                        o,
                        true,
                        (out_multiplier[o], out_shift[o]),
                        (p.act_min, p.act_max),
                    );
                    output.put(((b * oh + oy) * ow + ox) * oc + o, value);
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
    use crate::conv::test_ref::{Rng, requant};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// The int64 `MultiplyByQuantizedMultiplier` from its definition, in
    /// i128: round the Q31 multiplier to Q15 (half up, saturating), then
    /// `floor((x·m + 2^(s-1)) / 2^s)` with `s = 15 - shift`, wrapped to i32.
    fn requant_wide(x: i64, m: i32, shift: i32) -> i32 {
        let m15 = if m < 0x7FFF_0000 {
            (i128::from(m) + (1 << 15)).div_euclid(1 << 16)
        } else {
            0x7FFF
        };
        let s = (15 - shift) as u32;
        let v = (i128::from(x) * m15 + (1i128 << (s - 1))).div_euclid(1i128 << s);
        v as i64 as i32
    }

    /// The bias an accumulator path starts from, and how it requantizes.
    fn finish(acc: i128, bias: WideBias<'_>, o: usize, int64: bool, m: i32, s: i32) -> i64 {
        match bias {
            WideBias::I64(b) => i64::from(requant_wide((acc + i128::from(b[o])) as i64, m, s)),
            WideBias::I32(b) => requant((acc as i32).wrapping_add(b[o]).into(), m, s),
            WideBias::None if int64 => i64::from(requant_wide(acc as i64, m, s)),
            WideBias::None => requant((acc as i32).into(), m, s),
        }
    }

    /// Naive conv over signed coordinates, as TFLM writes it.
    #[allow(clippy::too_many_arguments)]
    fn reference_conv(
        p: &Conv2DParams,
        input: &[i16],
        filter: &[i8],
        bias: WideBias<'_>,
        mult: &[i32],
        shift: &[i32],
    ) -> Vec<i16> {
        let (ih, iw, ic) = (
            p.input_height as i64,
            p.input_width as i64,
            p.input_channels,
        );
        let (kh, kw, fic) = (p.filter_height, p.filter_width, p.filter_input_channels);
        let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
        let per_group = oc / (ic / fic);
        let mut out = vec![0i16; p.batches * oh * ow * oc];
        for b in 0..p.batches {
            for oy in 0..oh {
                for ox in 0..ow {
                    for o in 0..oc {
                        let mut acc = 0i128;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let y = (oy * p.stride_height + ky * p.dilation_height) as i64
                                    - p.pad_top as i64;
                                let x = (ox * p.stride_width + kx * p.dilation_width) as i64
                                    - p.pad_left as i64;
                                if y < 0 || y >= ih || x < 0 || x >= iw {
                                    continue;
                                }
                                for c in 0..fic {
                                    let i = ((b as i64 * ih + y) * iw + x) as usize * ic
                                        + (o / per_group) * fic
                                        + c;
                                    let w = filter[((o * kh + ky) * kw + kx) * fic + c];
                                    acc += i128::from(w) * i128::from(input[i]);
                                }
                            }
                        }
                        let v = finish(acc, bias, o, false, mult[o], shift[o]);
                        out[((b * oh + oy) * ow + ox) * oc + o] =
                            v.clamp(p.act_min.into(), p.act_max.into()) as i16;
                    }
                }
            }
        }
        out
    }

    fn i16s(rng: &mut Rng, n: usize, extreme: bool) -> Vec<i16> {
        (0..n)
            .map(|_| {
                if extreme {
                    [i16::MIN, i16::MAX][(rng.next() % 2) as usize]
                } else {
                    rng.range(-32768, 32767) as i16
                }
            })
            .collect()
    }

    fn multipliers(rng: &mut Rng, n: usize) -> (Vec<i32>, Vec<i32>) {
        let m = (0..n)
            .map(|i| {
                if i == 0 {
                    0x7FFF_8000 // saturates the Q15 rounding
                } else {
                    rng.range(1 << 30, i64::from(i32::MAX)) as i32
                }
            })
            .collect();
        let s = (0..n).map(|_| rng.range(-20, 2) as i32).collect();
        (m, s)
    }

    #[test]
    fn mbqm_wide_matches_its_definition() {
        let mut rng = Rng(7);
        for _ in 0..200_000 {
            let x = rng.range(-(1 << 47), (1 << 47) - 1);
            let m = rng.range(0, i64::from(i32::MAX)) as i32;
            let s = rng.range(-31, 7) as i32;
            assert_eq!(mbqm_wide(x, m, s), requant_wide(x, m, s), "{x} {m} {s}");
        }
        // Spot values worked by hand: 0.5 in Q31 is 2^30 -> Q15 2^14.
        assert_eq!(mbqm_wide(1000, 1 << 30, 0), 500);
        assert_eq!(mbqm_wide(-3, 1 << 30, 0), -1); // -1.5 rounds half up
        assert_eq!(mbqm_wide(3, 1 << 30, 0), 2);
        assert_eq!(mbqm_wide(1, i32::MAX, 7), 128); // saturated 0x7FFF
    }

    #[test]
    fn large_shift_and_bad_offsets_are_refused() {
        let p = prepare_conv2d_16x8(conv_geom(1, 1, 1, 1, 1), 0.1, Activation::None);
        let mut out = [0i16; 1];
        let run = |shift: i32, p: &Conv2DParams, out: &mut [i16]| {
            conv2d_16x8(
                p,
                &[1i16][..],
                &[1],
                WideBias::None,
                &[1 << 30],
                &[shift],
                out,
            )
        };
        assert!(run(7, &p, &mut out[..]).is_ok());
        assert!(run(8, &p, &mut out[..]).is_err());
        let offset = Conv2DParams {
            output_offset: 3,
            ..p
        };
        assert!(run(0, &offset, &mut out[..]).is_err());
        let dw = DepthwiseParams {
            batches: 1,
            input_height: 1,
            input_width: 1,
            input_channels: 1,
            depth_multiplier: 1,
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
            input_offset: 0,
            pad_value: 0,
            output_offset: 0,
            act_min: -32768,
            act_max: 32767,
        };
        let r = depthwise_conv2d_16x8(
            &dw,
            &[1i16][..],
            &[1],
            WideBias::I32(&[0]),
            &[1 << 30],
            &[0],
            &mut out[..],
        );
        assert!(r.is_err());
    }

    fn conv_geom(i: usize, c: usize, k: usize, o: usize, oc: usize) -> Conv2DParams {
        Conv2DParams {
            batches: 1,
            input_height: i,
            input_width: i,
            input_channels: c,
            filter_height: k,
            filter_width: k,
            filter_input_channels: c,
            output_height: o,
            output_width: o,
            output_channels: oc,
            stride_height: 1,
            stride_width: 1,
            dilation_height: 1,
            dilation_width: 1,
            pad_top: 0,
            pad_left: 0,
            input_offset: 0,
            pad_value: 0,
            output_offset: 0,
            act_min: -32768,
            act_max: 32767,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Random geometry (padding on every side, strides, dilations,
        /// groups), every bias type, extreme inputs and clamps.
        #[test]
        fn conv_16x8_matches_reference(
            seed in any::<u64>(),
            (ih, iw) in (1usize..7, 1usize..7),
            (kh, kw) in (1usize..4, 1usize..4),
            (sh, sw, dh, dw) in (1usize..3, 1usize..3, 1usize..3, 1usize..3),
            (pt, pl, pb, pr) in (0usize..3, 0usize..3, 0usize..3, 0usize..3),
            (fic, groups, per_group) in (1usize..4, 1usize..3, 1usize..4),
            bias_kind in 0u8..3,
            extreme in any::<bool>(),
            relu in any::<bool>(),
        ) {
            let span_h = (kh - 1) * dh + 1;
            let span_w = (kw - 1) * dw + 1;
            prop_assume!(ih + pt + pb >= span_h && iw + pl + pr >= span_w);
            let oh = (ih + pt + pb - span_h) / sh + 1;
            let ow = (iw + pl + pr - span_w) / sw + 1;
            let (ic, oc) = (fic * groups, per_group * groups);
            let mut rng = Rng(seed);
            let geom = Conv2DParams {
                input_height: ih,
                input_width: iw,
                input_channels: ic,
                filter_height: kh,
                filter_width: kw,
                filter_input_channels: fic,
                output_height: oh,
                output_width: ow,
                output_channels: oc,
                stride_height: sh,
                stride_width: sw,
                dilation_height: dh,
                dilation_width: dw,
                pad_top: pt,
                pad_left: pl,
                ..conv_geom(1, 1, 1, 1, 1)
            };
            let act = if relu { Activation::Relu } else { Activation::None };
            let p = prepare_conv2d_16x8(geom, 0.01, act);
            let input = i16s(&mut rng, ih * iw * ic, extreme);
            let filter: Vec<i8> = (0..oc * kh * kw * fic)
                .map(|_| if extreme { -128 } else { rng.range(-128, 127) as i8 })
                .collect();
            let b32 = rng.i32s(oc, -(1 << 24), 1 << 24);
            let b64: Vec<i64> = (0..oc).map(|_| rng.range(-(1 << 40), 1 << 40)).collect();
            let bias = match bias_kind {
                0 => WideBias::None,
                1 => WideBias::I32(&b32),
                _ => WideBias::I64(&b64),
            };
            let (mult, shift) = multipliers(&mut rng, oc);
            let mut out = vec![0i16; oh * ow * oc];
            conv2d_16x8(&p, &input[..], &filter, bias, &mult, &shift, &mut out[..]).expect("valid test parameters");
            prop_assert_eq!(out, reference_conv(&p, &input, &filter, bias, &mult, &shift));
        }

        /// Depthwise against the grouped conv reference (one group per
        /// input channel, `dm` filters each), int64 bias or none.
        #[test]
        fn depthwise_16x8_matches_reference(
            seed in any::<u64>(),
            (ih, iw) in (1usize..7, 1usize..7),
            (kh, kw) in (1usize..4, 1usize..4),
            (sh, sw, dh, dw) in (1usize..3, 1usize..3, 1usize..3, 1usize..3),
            (pt, pl, pb, pr) in (0usize..3, 0usize..3, 0usize..3, 0usize..3),
            (ic, dm) in (1usize..5, 1usize..4),
            with_bias in any::<bool>(),
            extreme in any::<bool>(),
        ) {
            let span_h = (kh - 1) * dh + 1;
            let span_w = (kw - 1) * dw + 1;
            prop_assume!(ih + pt + pb >= span_h && iw + pl + pr >= span_w);
            let oh = (ih + pt + pb - span_h) / sh + 1;
            let ow = (iw + pl + pr - span_w) / sw + 1;
            let oc = ic * dm;
            let mut rng = Rng(seed);
            let p = prepare_depthwise_16x8(
                DepthwiseParams {
                    batches: 1,
                    input_height: ih,
                    input_width: iw,
                    input_channels: ic,
                    depth_multiplier: dm,
                    filter_height: kh,
                    filter_width: kw,
                    output_height: oh,
                    output_width: ow,
                    stride_height: sh,
                    stride_width: sw,
                    dilation_height: dh,
                    dilation_width: dw,
                    pad_top: pt,
                    pad_left: pl,
                    input_offset: 0,
                    pad_value: 0,
                    output_offset: 0,
                    act_min: 0,
                    act_max: 0,
                },
                0.02,
                Activation::Relu6,
            );
            let input = i16s(&mut rng, ih * iw * ic, extreme);
            // Depthwise filter [1, KH, KW, OC].
            let filter: Vec<i8> = (0..kh * kw * oc)
                .map(|_| if extreme { -128 } else { rng.range(-128, 127) as i8 })
                .collect();
            let b64: Vec<i64> = (0..oc).map(|_| rng.range(-(1 << 40), 1 << 40)).collect();
            let bias = if with_bias { WideBias::I64(&b64) } else { WideBias::None };
            let (mult, shift) = multipliers(&mut rng, oc);
            let mut out = vec![0i16; oh * ow * oc];
            depthwise_conv2d_16x8(&p, &input[..], &filter, bias, &mult, &shift, &mut out[..]).expect("valid test parameters");

            // The same layer as a grouped conv with OHWI filters, int64 path.
            let mut conv_filter = vec![0i8; oc * kh * kw];
            for o in 0..oc {
                for t in 0..kh * kw {
                    conv_filter[o * kh * kw + t] = filter[t * oc + o];
                }
            }
            let mut expected = vec![0i16; out.len()];
            for (i, e) in expected.iter_mut().enumerate() {
                let (pix, o) = (i / oc, i % oc);
                let (oy, ox) = (pix / ow, pix % ow);
                let mut acc = 0i128;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let y = (oy * sh + ky * dh) as i64 - pt as i64;
                        let x = (ox * sw + kx * dw) as i64 - pl as i64;
                        if y < 0 || y >= ih as i64 || x < 0 || x >= iw as i64 {
                            continue;
                        }
                        let xi = input[(y as usize * iw + x as usize) * ic + o / dm];
                        acc += i128::from(conv_filter[o * kh * kw + ky * kw + kx]) * i128::from(xi);
                    }
                }
                let v = finish(acc, bias, o, true, mult[o], shift[o]);
                *e = v.clamp(p.act_min.into(), p.act_max.into()) as i16;
            }
            prop_assert_eq!(out, expected);
        }

        /// Fully connected: per-tensor (with a filter zero point) and
        /// per-channel, every bias type, K up to 300 with extreme values.
        #[test]
        fn fully_connected_16x8_matches_reference(
            seed in any::<u64>(),
            batches in 1usize..3,
            depth in 1usize..300,
            out_depth in 1usize..6,
            per_channel in any::<bool>(),
            filter_zp in -128i32..128,
            bias_kind in 0u8..3,
            extreme in any::<bool>(),
        ) {
            let mut rng = Rng(seed);
            let p = prepare_fully_connected_16x8(
                FullyConnectedParams {
                    batches,
                    accum_depth: depth,
                    output_depth: out_depth,
                    input_offset: 0,
                    filter_offset: 0,
                    output_offset: 0,
                    act_min: 0,
                    act_max: 0,
                },
                filter_zp,
                per_channel,
                0.05,
                Activation::None,
            );
            let input = i16s(&mut rng, batches * depth, extreme);
            let filter: Vec<i8> = (0..out_depth * depth)
                .map(|_| if extreme { -128 } else { rng.range(-128, 127) as i8 })
                .collect();
            let b32 = rng.i32s(out_depth, -(1 << 24), 1 << 24);
            let b64: Vec<i64> = (0..out_depth).map(|_| rng.range(-(1 << 40), 1 << 40)).collect();
            let bias = match bias_kind {
                0 => WideBias::None,
                1 => WideBias::I32(&b32),
                _ => WideBias::I64(&b64),
            };
            let (mult, shift) = multipliers(&mut rng, if per_channel { out_depth } else { 1 });
            let mut out = vec![0i16; batches * out_depth];
            fully_connected_16x8(&p, &input[..], &filter, bias, &mult, &shift, &mut out[..]).expect("valid test parameters");
            for b in 0..batches {
                for o in 0..out_depth {
                    let acc: i128 = (0..depth)
                        .map(|d| {
                            (i128::from(filter[o * depth + d]) + i128::from(p.filter_offset))
                                * i128::from(input[b * depth + d])
                        })
                        .sum();
                    let q = if per_channel { o } else { 0 };
                    let v = finish(acc, bias, o, false, mult[q], shift[q]);
                    prop_assert_eq!(out[b * out_depth + o], v.clamp(-32768, 32767) as i16);
                }
            }
        }
    }

    /// TFLM's int16 transpose convolution as it is written: every product
    /// scattered into an int64 scratch output, the int64 bias added, then
    /// the int64 requantization and the clamp.
    fn reference_transpose_conv(
        p: &TransposeConvParams,
        x: &[i16],
        f: &[i8],
        bias: Option<&[i64]>,
        m: &[i32],
        s: &[i32],
    ) -> Vec<i16> {
        let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
        let (kh, kw) = (p.filter_height, p.filter_width);
        let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
        let mut scratch = vec![0i64; n * oh * ow * oc];
        for b in 0..n {
            for iy in 0..ih {
                for ix in 0..iw {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let oy = (iy * p.stride_height + ky) as i64 - p.pad_top as i64;
                            let ox = (ix * p.stride_width + kx) as i64 - p.pad_left as i64;
                            if oy < 0 || ox < 0 || oy >= oh as i64 || ox >= ow as i64 {
                                continue;
                            }
                            for o in 0..oc {
                                for c in 0..ic {
                                    let xv = i64::from(x[((b * ih + iy) * iw + ix) * ic + c]);
                                    let fv = i64::from(f[((o * kh + ky) * kw + kx) * ic + c]);
                                    let at = ((b * oh + oy as usize) * ow + ox as usize) * oc + o;
                                    scratch[at] += xv * fv;
                                }
                            }
                        }
                    }
                }
            }
        }
        scratch
            .iter()
            .enumerate()
            .map(|(i, &acc)| {
                let o = i % oc;
                let acc = acc + bias.map_or(0, |b| b[o]);
                requant_wide(acc, m[o], s[o]).clamp(p.act_min, p.act_max) as i16
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Random geometry (crop on both sides, strides), an int64 bias or
        /// none, extreme inputs and clamps, against the scatter form.
        #[test]
        fn transpose_conv_16x8_matches_scatter_reference(
            seed in any::<u64>(),
            (n, ih, iw, ic, oc) in (1usize..=2, 1usize..=5, 1usize..=5, 1usize..=3, 1usize..=3),
            (kh, kw, sh, sw) in (1usize..=4, 1usize..=4, 1usize..=3, 1usize..=3),
            (pt, pl, extra_h, extra_w) in (0usize..3, 0usize..3, 0usize..3, 0usize..3),
            with_bias in any::<bool>(),
            extreme in any::<bool>(),
            relu in any::<bool>(),
        ) {
            let full_h = (ih - 1) * sh + kh;
            let full_w = (iw - 1) * sw + kw;
            prop_assume!(full_h > pt && full_w > pl);
            // Cropped, exact or with bias-only cells past the last product.
            let oh = (full_h + extra_h - pt).saturating_sub(1).max(1);
            let ow = (full_w + extra_w - pl).saturating_sub(1).max(1);
            let mut rng = Rng(seed);
            let geom = TransposeConvParams {
                batches: n,
                input_height: ih,
                input_width: iw,
                input_channels: ic,
                filter_height: kh,
                filter_width: kw,
                output_height: oh,
                output_width: ow,
                output_channels: oc,
                stride_height: sh,
                stride_width: sw,
                pad_top: pt,
                pad_left: pl,
                input_offset: 0,
                output_offset: 0,
                act_min: 0,
                act_max: 0,
            };
            let act = if relu { Activation::Relu } else { Activation::None };
            let p = prepare_transpose_conv_16x8(geom, 0.01, act);
            let input = i16s(&mut rng, n * ih * iw * ic, extreme);
            let filter: Vec<i8> = (0..oc * kh * kw * ic)
                .map(|_| if extreme { -128 } else { rng.range(-128, 127) as i8 })
                .collect();
            let b64: Vec<i64> = (0..oc).map(|_| rng.range(-(1 << 40), 1 << 40)).collect();
            let bias = if with_bias { WideBias::I64(&b64) } else { WideBias::None };
            let (mult, shift) = multipliers(&mut rng, oc);
            let mut out = vec![[0u8; 2]; n * oh * ow * oc];
            transpose_conv_16x8(&p, &input[..], &filter, bias, &mult, &shift, &mut out[..])
                .expect("valid test parameters");
            let want = reference_transpose_conv(
                &p, &input, &filter, with_bias.then_some(&b64[..]), &mult, &shift,
            );
            let got: Vec<i16> = out.iter().map(|v| i16::from_le_bytes(*v)).collect();
            prop_assert_eq!(got, want);
            // An int32 bias is refused: TFLM's int16 kernel reads int64.
            let b32 = vec![0i32; oc];
            prop_assert!(transpose_conv_16x8(
                &p, &input[..], &filter, WideBias::I32(&b32), &mult, &shift, &mut out[..]
            ).is_err());
        }
    }
}

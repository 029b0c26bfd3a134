//! Fast int8 kernels for the generated Rust: CONV_2D, DEPTHWISE_CONV_2D and
//! FULLY_CONNECTED once lowering has folded the input zero point into the
//! bias (`input_offset == 0`).
//!
//! The generated module embeds this file's text as `mod fast` (beside
//! `mod kernels`, whose parameter structs and `check` methods it uses); the
//! backend's tests compile the same file against `tinyq_kernels` and compare
//! it with the reference kernels. Each step calls its kernel from its own
//! function with its parameters as a `const`, and the kernels are
//! `#[inline(always)]`, so every shape is a constant in the step's code.
//!
//! The loops mirror the generated C's fast paths: convolution as blocked
//! window dot products (2 output pixels × 2 output channels), a border pixel
//! as the dot product of its in-image taps plus `pad_value · (weight sum of
//! the padded taps)`, depthwise 16 channels at a time with the taps
//! innermost, fully connected as 2 rows × 2 output channels. A dot product
//! sums at most [`DOT_MAX`] int8 × int8 products from 0, so it is exact in
//! int32; the bias is then added wrapping, as TFLM's int32 accumulator does.
//!
//! Order of reads and writes: output pixels (rows for fully connected) in
//! forward order; a pixel's (row pair's) inputs are all read before its
//! outputs are written.
//!
//! Safe code only, no allocation, no panic: buffers are reached with `get`
//! and iterators (an out-of-range window, which `check` and the Program
//! verifier rule out, reads as empty instead of panicking), and all
//! arithmetic wraps.

use super::kernels::conv::Conv2DParams;
use super::kernels::depthwise::DepthwiseParams;
use super::kernels::error::KernelError;
use super::kernels::fully_connected::FullyConnectedParams;

/// Most products one dot product may sum: `|x·w| <= 2^14`, so a sum of
/// 131071 of them stays within int32.
pub const DOT_MAX: usize = 131_071;

/// Channels a depthwise block keeps in registers.
const LANES: usize = 16;

/// Whether [`conv2d`] takes a layer: input offset folded, ungrouped, no
/// horizontal dilation, a bounded window, padded cells holding an int8 code.
pub fn conv2d_fast(p: &Conv2DParams) -> bool {
    p.input_offset == 0
        && p.filter_input_channels == p.input_channels
        && p.dilation_width == 1
        && p.filter_height
            .saturating_mul(p.filter_width)
            .saturating_mul(p.input_channels)
            <= DOT_MAX
        && (-128..=127).contains(&p.pad_value)
}

/// Whether [`depthwise_conv2d`] takes a layer: input offset folded, depth
/// multiplier 1, a bounded window, padded cells holding an int8 code.
pub fn depthwise_conv2d_fast(p: &DepthwiseParams) -> bool {
    p.input_offset == 0
        && p.depth_multiplier == 1
        && p.filter_height.saturating_mul(p.filter_width) <= DOT_MAX
        && (-128..=127).contains(&p.pad_value)
}

/// Whether [`fully_connected`] takes a layer: input offset folded, no
/// filter offset, a bounded depth.
pub fn fully_connected_fast(p: &FullyConnectedParams) -> bool {
    p.input_offset == 0 && p.filter_offset == 0 && p.accum_depth <= DOT_MAX
}

const NOT_FAST: KernelError =
    KernelError::InvalidParams("the fast kernel does not take this layer");

/// An int8 weight stored as a byte.
#[inline(always)]
fn w8(b: u8) -> i32 {
    i32::from(i8::from_ne_bytes([b]))
}

/// `s[start..start + len]`, or empty when out of range.
#[inline(always)]
fn part<T>(s: &[T], start: usize, len: usize) -> &[T] {
    s.get(start..start.wrapping_add(len)).unwrap_or(&[])
}

/// `s[start..start + len]` mutably, or empty when out of range.
#[inline(always)]
fn part_mut<T>(s: &mut [T], start: usize, len: usize) -> &mut [T] {
    s.get_mut(start..start.wrapping_add(len)).unwrap_or(&mut [])
}

/// The output stage: `(acc + bias)` wrapping, TFLM's
/// `MultiplyByQuantizedMultiplier` (gemmlowp's doubling high multiply, round
/// half up, then its rounding divide by a power of two, round half away
/// from zero), plus the output offset, clamped.
#[derive(Clone, Copy)]
struct Out {
    offset: i32,
    min: i32,
    max: i32,
}

impl Out {
    #[inline(always)]
    fn requant(self, acc: i32, bias: i32, multiplier: i32, shift: i32) -> i8 {
        let x = acc.wrapping_add(bias);
        let left = if shift > 0 { shift.unsigned_abs() } else { 0 };
        let right = if shift > 0 { 0 } else { shift.unsigned_abs() };
        let x = x.wrapping_shl(left);
        // floor((x·m + 2^30) / 2^31) equals gemmlowp's truncating division
        // with its sign-dependent nudge.
        let high = if x == i32::MIN && multiplier == i32::MIN {
            i32::MAX
        } else {
            let ab = i64::from(x).wrapping_mul(i64::from(multiplier));
            // In range: |ab| < 2^62 here, so the quotient fits int32.
            ab.wrapping_add(1 << 30).wrapping_shr(31) as i32
        };
        let mask = 1u32.wrapping_shl(right).wrapping_sub(1) as i32;
        let remainder = high & mask;
        let threshold = (mask >> 1).wrapping_add(i32::from(high < 0));
        let v = high
            .wrapping_shr(right)
            .wrapping_add(i32::from(remainder > threshold))
            .wrapping_add(self.offset);
        // Within int8 after the clamp (`check` saw -128 <= min <= max <= 127).
        v.max(self.min).min(self.max).clamp(-128, 127) as i8
    }

    /// One output element per accumulator (as many as `out` holds).
    #[inline(always)]
    fn store(self, out: &mut [i8], acc: &[i32], bias: &[i32], mult: &[i32], shift: &[i32]) {
        for ((((y, &a), &b), &m), &s) in out.iter_mut().zip(acc).zip(bias).zip(mult).zip(shift) {
            *y = self.requant(a, b, m, s);
        }
    }
}

/// `[x0·w0, x0·w1, x1·w0, x1·w1]` added to `acc`.
#[inline(always)]
fn dot_2x2(x0: &[i8], x1: &[i8], w0: &[u8], w1: &[u8], acc: &mut [i32; 4]) {
    let [mut a00, mut a01, mut a10, mut a11] = *acc;
    for (((&xa, &xb), &wa), &wb) in x0.iter().zip(x1).zip(w0).zip(w1) {
        let (xa, xb, wa, wb) = (i32::from(xa), i32::from(xb), w8(wa), w8(wb));
        a00 = a00.wrapping_add(xa.wrapping_mul(wa));
        a01 = a01.wrapping_add(xa.wrapping_mul(wb));
        a10 = a10.wrapping_add(xb.wrapping_mul(wa));
        a11 = a11.wrapping_add(xb.wrapping_mul(wb));
    }
    *acc = [a00, a01, a10, a11];
}

/// `[x·w0, x·w1]` added to `acc`.
#[inline(always)]
fn dot_1x2(x: &[i8], w0: &[u8], w1: &[u8], acc: &mut [i32; 2]) {
    let [mut a0, mut a1] = *acc;
    for ((&xv, &wa), &wb) in x.iter().zip(w0).zip(w1) {
        let xv = i32::from(xv);
        a0 = a0.wrapping_add(xv.wrapping_mul(w8(wa)));
        a1 = a1.wrapping_add(xv.wrapping_mul(w8(wb)));
    }
    *acc = [a0, a1];
}

/// Sums of two weight runs, added to `s`.
#[inline(always)]
fn sum_2(w0: &[u8], w1: &[u8], s: &mut [i32; 2]) {
    for (&a, &b) in w0.iter().zip(w1) {
        s[0] = s[0].wrapping_add(w8(a));
        s[1] = s[1].wrapping_add(w8(b));
    }
}

/// Signed coordinate.
#[inline(always)]
fn signed(v: usize) -> isize {
    isize::try_from(v).unwrap_or(isize::MAX)
}

/// Non-negative coordinate as an index.
#[inline(always)]
fn index(v: isize) -> usize {
    usize::try_from(v).unwrap_or(0)
}

/// CONV_2D, the input offset folded into `bias` (one entry per output
/// channel; zeros when the layer has none). Filter OHWI as bytes. Equals
/// `kernels::conv::conv2d` on every layer [`conv2d_fast`] accepts.
#[inline(always)]
pub fn conv2d(
    p: &Conv2DParams,
    input: &[i8],
    filter: &[u8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        Some(bias.len()),
        mult.len(),
        shift,
        output.len(),
    )?;
    if !conv2d_fast(p) {
        return Err(NOT_FAST);
    }
    let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow, oc) = (p.output_height, p.output_width, p.output_channels);
    let (sh, sw, dh) = (p.stride_height, p.stride_width, p.dilation_height);
    let out = Out {
        offset: p.output_offset,
        min: p.act_min,
        max: p.act_max,
    };
    let pad = p.pad_value;
    // Per filter row: kw·ic contiguous input bytes against as many
    // contiguous filter bytes.
    let seg = kw * ic;
    let per_filter = kh * seg;
    let row_step = dh * iw * ic;
    let (ih_s, iw_s, kw_s) = (signed(ih), signed(iw), signed(kw));
    for b in 0..n {
        let image = part(input, b * ih * iw * ic, ih * iw * ic);
        let out_image = part_mut(output, b * oh * ow * oc, oh * ow * oc);
        for oy in 0..oh {
            let iy0 = signed(oy * sh) - signed(p.pad_top);
            let rows_in = iy0 >= 0 && iy0 + signed(kh.saturating_sub(1) * dh) < ih_s;
            let out_row = part_mut(out_image, oy * ow * oc, ow * oc);
            let mut ox = 0;
            while ox < ow {
                let ix0 = signed(ox * sw) - signed(p.pad_left);
                if !rows_in || ix0 < 0 || ix0 + kw_s > iw_s {
                    // A border pixel: per filter row, the in-image run of
                    // taps as one dot product; padded taps add
                    // pad_value · (their weight sum).
                    let kx0 = index((-ix0).max(0)).min(kw);
                    let kx1 = index((iw_s - ix0).min(kw_s)).max(kx0);
                    let run = (kx1 - kx0) * ic;
                    let y = part_mut(out_row, ox * oc, oc);
                    for ((((y, w), bias), mult), shift) in y
                        .chunks_mut(2)
                        .zip(filter.chunks(2 * per_filter))
                        .zip(bias.chunks(2))
                        .zip(mult.chunks(2))
                        .zip(shift.chunks(2))
                    {
                        let (w0, w1) = w.split_at(per_filter.min(w.len()));
                        let w1 = if w1.is_empty() { w0 } else { w1 };
                        let mut acc = [0i32; 2];
                        let mut sums = [0i32; 2];
                        for ky in 0..kh {
                            let iy = iy0 + signed(ky * dh);
                            let r0 = part(w0, ky * seg, seg);
                            let r1 = part(w1, ky * seg, seg);
                            if iy < 0 || iy >= ih_s || kx1 == kx0 {
                                sum_2(r0, r1, &mut sums);
                                continue;
                            }
                            sum_2(part(r0, 0, kx0 * ic), part(r1, 0, kx0 * ic), &mut sums);
                            sum_2(
                                part(r0, kx1 * ic, seg - kx1 * ic),
                                part(r1, kx1 * ic, seg - kx1 * ic),
                                &mut sums,
                            );
                            let start = (index(iy) * iw + index(ix0 + signed(kx0))) * ic;
                            dot_1x2(
                                part(image, start, run),
                                part(r0, kx0 * ic, run),
                                part(r1, kx0 * ic, run),
                                &mut acc,
                            );
                        }
                        let acc = [
                            acc[0].wrapping_add(pad.wrapping_mul(sums[0])),
                            acc[1].wrapping_add(pad.wrapping_mul(sums[1])),
                        ];
                        out.store(y, &acc, bias, mult, shift);
                    }
                    ox += 1;
                    continue;
                }
                // Two pixels when the next window is inside too.
                let two = ox + 1 < ow && ix0 + signed(sw + kw) <= iw_s;
                let base = (index(iy0) * iw + index(ix0)) * ic;
                let base1 = if two { base + sw * ic } else { base };
                let pixels = part_mut(out_row, ox * oc, if two { 2 * oc } else { oc });
                let (y0, y1) = pixels.split_at_mut(oc.min(pixels.len()));
                for (((((y0, y1), w), bias), mult), shift) in y0
                    .chunks_mut(2)
                    .zip(y1.chunks_mut(2).chain(core::iter::repeat_with(|| {
                        let empty: &mut [i8] = &mut [];
                        empty
                    })))
                    .zip(filter.chunks(2 * per_filter))
                    .zip(bias.chunks(2))
                    .zip(mult.chunks(2))
                    .zip(shift.chunks(2))
                {
                    let (w0, w1) = w.split_at(per_filter.min(w.len()));
                    let w1 = if w1.is_empty() { w0 } else { w1 };
                    let mut acc = [0i32; 4];
                    let rows = w0.chunks_exact(seg.max(1)).zip(w1.chunks_exact(seg.max(1)));
                    for (ky, (r0, r1)) in rows.enumerate() {
                        dot_2x2(
                            part(image, base + ky * row_step, seg),
                            part(image, base1 + ky * row_step, seg),
                            r0,
                            r1,
                            &mut acc,
                        );
                    }
                    out.store(y0, &acc[..2], bias, mult, shift);
                    out.store(y1, &acc[2..], bias, mult, shift);
                }
                ox += if two { 2 } else { 1 };
            }
        }
    }
    Ok(())
}

/// One depthwise block of `lanes <= LANES` channels from channel `c`:
/// accumulators over every tap, taps outside the image reading `pad`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn depthwise_block(
    p: &DepthwiseParams,
    image: &[i8],
    filter: &[u8],
    iy0: isize,
    ix0: isize,
    c: usize,
    lanes: usize,
    inside: bool,
) -> [i32; LANES] {
    let (ih, iw, ic) = (p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (dh, dw) = (p.dilation_height, p.dilation_width);
    let oc = ic;
    let mut acc = [0i32; LANES];
    for ky in 0..kh {
        let iy = iy0 + signed(ky * dh);
        let row_ok = iy >= 0 && iy < signed(ih);
        for kx in 0..kw {
            let ix = ix0 + signed(kx * dw);
            let w = part(filter, (ky * kw + kx) * oc + c, lanes);
            if inside || (row_ok && ix >= 0 && ix < signed(iw)) {
                let x = part(image, (index(iy) * iw + index(ix)) * ic + c, lanes);
                for ((a, &x), &w) in acc.iter_mut().zip(x).zip(w) {
                    *a = a.wrapping_add(i32::from(x).wrapping_mul(w8(w)));
                }
            } else {
                for (a, &w) in acc.iter_mut().zip(w) {
                    *a = a.wrapping_add(p.pad_value.wrapping_mul(w8(w)));
                }
            }
        }
    }
    acc
}

/// DEPTHWISE_CONV_2D with depth multiplier 1, the input offset folded into
/// `bias` (zeros when the layer has none). Filter `[1, kh, kw, c]` as bytes.
/// Equals `kernels::depthwise::depthwise_conv2d` on every layer
/// [`depthwise_conv2d_fast`] accepts.
#[inline(always)]
pub fn depthwise_conv2d(
    p: &DepthwiseParams,
    input: &[i8],
    filter: &[u8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        Some(bias.len()),
        mult.len(),
        shift,
        output.len(),
    )?;
    if !depthwise_conv2d_fast(p) {
        return Err(NOT_FAST);
    }
    let (n, ih, iw, ic) = (p.batches, p.input_height, p.input_width, p.input_channels);
    let (kh, kw) = (p.filter_height, p.filter_width);
    let (oh, ow) = (p.output_height, p.output_width);
    let (sh, sw, dh, dw) = (
        p.stride_height,
        p.stride_width,
        p.dilation_height,
        p.dilation_width,
    );
    let oc = ic;
    let out = Out {
        offset: p.output_offset,
        min: p.act_min,
        max: p.act_max,
    };
    let full = oc / LANES * LANES;
    for b in 0..n {
        let image = part(input, b * ih * iw * ic, ih * iw * ic);
        let out_image = part_mut(output, b * oh * ow * oc, oh * ow * oc);
        for (pixel, y) in out_image.chunks_exact_mut(oc.max(1)).enumerate() {
            let (oy, ox) = (pixel / ow.max(1), pixel % ow.max(1));
            let iy0 = signed(oy * sh) - signed(p.pad_top);
            let ix0 = signed(ox * sw) - signed(p.pad_left);
            let inside = iy0 >= 0
                && iy0 + signed(kh.saturating_sub(1) * dh) < signed(ih)
                && ix0 >= 0
                && ix0 + signed(kw.saturating_sub(1) * dw) < signed(iw);
            let mut c = 0;
            while c < full {
                let acc = if inside {
                    depthwise_block(p, image, filter, iy0, ix0, c, LANES, true)
                } else {
                    depthwise_block(p, image, filter, iy0, ix0, c, LANES, false)
                };
                out.store(
                    part_mut(y, c, LANES),
                    &acc,
                    part(bias, c, LANES),
                    part(mult, c, LANES),
                    part(shift, c, LANES),
                );
                c += LANES;
            }
            if c < oc {
                let lanes = oc - c;
                let acc = depthwise_block(p, image, filter, iy0, ix0, c, lanes, inside);
                out.store(
                    part_mut(y, c, lanes),
                    &acc,
                    part(bias, c, lanes),
                    part(mult, c, lanes),
                    part(shift, c, lanes),
                );
            }
        }
    }
    Ok(())
}

/// FULLY_CONNECTED, the input offset folded into `bias` (zeros when the
/// layer has none), no filter offset, `mult`/`shift` one entry per output
/// channel (a per-tensor pair repeated). Filter `[out, depth]` as bytes.
/// Equals `kernels::fully_connected::fully_connected` on every layer
/// [`fully_connected_fast`] accepts.
#[inline(always)]
pub fn fully_connected(
    p: &FullyConnectedParams,
    input: &[i8],
    filter: &[u8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    output: &mut [i8],
) -> Result<(), KernelError> {
    p.check(
        input.len(),
        filter.len(),
        Some(bias.len()),
        mult.len(),
        shift,
        output.len(),
    )?;
    if !fully_connected_fast(p) || mult.len() != p.output_depth {
        return Err(NOT_FAST);
    }
    let (depth, od) = (p.accum_depth, p.output_depth);
    let out = Out {
        offset: p.output_offset,
        min: p.act_min,
        max: p.act_max,
    };
    let mut row = 0;
    while row < p.batches {
        let two = row + 1 < p.batches;
        let x0 = part(input, row * depth, depth);
        let x1 = if two {
            part(input, (row + 1) * depth, depth)
        } else {
            x0
        };
        let rows = part_mut(output, row * od, if two { 2 * od } else { od });
        let (y0, y1) = rows.split_at_mut(od.min(rows.len()));
        for (((((y0, y1), w), bias), mult), shift) in y0
            .chunks_mut(2)
            .zip(y1.chunks_mut(2).chain(core::iter::repeat_with(|| {
                let empty: &mut [i8] = &mut [];
                empty
            })))
            .zip(filter.chunks(2 * depth.max(1)))
            .zip(bias.chunks(2))
            .zip(mult.chunks(2))
            .zip(shift.chunks(2))
        {
            let (w0, w1) = w.split_at(depth.min(w.len()));
            let w1 = if w1.is_empty() { w0 } else { w1 };
            let mut acc = [0i32; 4];
            dot_2x2(x0, x1, w0, w1, &mut acc);
            out.store(y0, &acc[..2], bias, mult, shift);
            out.store(y1, &acc[2..], bias, mult, shift);
        }
        row += if two { 2 } else { 1 };
    }
    Ok(())
}

//! CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED in float (TFLM reference
//! order: sum over the window, then add the bias, then the activation).

use ndarray::ArrayD;
use tinyq_ir::op::{Conv2D, DepthwiseConv2D, FullyConnected, TransposeConv};

use super::{OpCx, apply_activation, array, flat};
use crate::error::ExecError;

fn dims4(cx: &OpCx<'_>, what: &str, shape: &[usize]) -> Result<[usize; 4], ExecError> {
    <[usize; 4]>::try_from(shape)
        .map_err(|_| cx.err(format!("{what} has shape {shape:?}, expected 4 dimensions")))
}

fn bias_values(
    cx: &OpCx<'_>,
    bias: Option<&ArrayD<f32>>,
    channels: usize,
) -> Result<Vec<f32>, ExecError> {
    match bias {
        None => Ok(vec![0.0; channels]),
        Some(b) if b.len() == channels => Ok(flat(b).into_owned()),
        Some(b) => Err(cx.err(format!(
            "bias has {} values for {channels} output channels",
            b.len()
        ))),
    }
}

/// Geometry shared by the two convolutions.
struct Window {
    stride: (usize, usize),
    dilation: (usize, usize),
    pad: (usize, usize),
}

impl Window {
    /// Input coordinate of tap `k` for output `o`, if inside `0..size`.
    fn tap(
        o: usize,
        k: usize,
        stride: usize,
        dilation: usize,
        pad: usize,
        size: usize,
    ) -> Option<usize> {
        let pos = (o * stride + k * dilation).checked_sub(pad)?;
        (pos < size).then_some(pos)
    }
}

/// CONV_2D with NHWC input, OHWI filter, groups = in_channels / filter_in_channels.
pub fn conv2d(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    filter: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    a: &Conv2D,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let [n, ih, iw, ic] = dims4(cx, "input", input.shape())?;
    let [oc, kh, kw, fic] = dims4(cx, "filter", filter.shape())?;
    let [on, oh, ow, occ] = dims4(cx, "output", out_shape)?;
    if on != n || occ != oc || fic == 0 || ic % fic != 0 || oc % (ic / fic) != 0 {
        return Err(cx.err(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {out_shape:?}",
            input.shape(),
            filter.shape()
        )));
    }
    let acc = cx.acc;
    let groups = ic / fic;
    let per_group = oc / groups;
    let x = flat(input);
    let w = flat(filter);
    let b = bias_values(cx, bias, oc)?;
    let win = Window {
        stride: (a.stride.h, a.stride.w),
        dilation: (a.dilation.h, a.dilation.w),
        pad: (a.padding.top, a.padding.left),
    };
    let mut out = vec![0f32; n * oh * ow * oc];
    for batch in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for co in 0..oc {
                    let group = co / per_group;
                    let mut total = acc.init(b[co]);
                    for ky in 0..kh {
                        let Some(y) =
                            Window::tap(oy, ky, win.stride.0, win.dilation.0, win.pad.0, ih)
                        else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(xx) =
                                Window::tap(ox, kx, win.stride.1, win.dilation.1, win.pad.1, iw)
                            else {
                                continue;
                            };
                            let in_base = ((batch * ih + y) * iw + xx) * ic + group * fic;
                            let w_base = ((co * kh + ky) * kw + kx) * fic;
                            for ci in 0..fic {
                                total = acc.step(total, x[in_base + ci], w[w_base + ci]);
                            }
                        }
                    }
                    out[((batch * oh + oy) * ow + ox) * oc + co] = acc.finish(total, b[co]);
                }
            }
        }
    }
    apply_activation(&mut out, a.activation);
    array(cx, out_shape, out)
}

/// DEPTHWISE_CONV_2D with filter `[1, KH, KW, IC * M]`.
pub fn depthwise(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    filter: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    a: &DepthwiseConv2D,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let [n, ih, iw, ic] = dims4(cx, "input", input.shape())?;
    let [one, kh, kw, fc] = dims4(cx, "filter", filter.shape())?;
    let [on, oh, ow, oc] = dims4(cx, "output", out_shape)?;
    if one != 1 || on != n || fc != oc || ic == 0 || oc % ic != 0 {
        return Err(cx.err(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {out_shape:?}",
            input.shape(),
            filter.shape()
        )));
    }
    let acc = cx.acc;
    let mult = oc / ic;
    let x = flat(input);
    let w = flat(filter);
    let b = bias_values(cx, bias, oc)?;
    let (sh, sw) = (a.stride.h, a.stride.w);
    let (dh, dw) = (a.dilation.h, a.dilation.w);
    let mut out = vec![0f32; n * oh * ow * oc];
    for batch in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..ic {
                    for m in 0..mult {
                        let co = c * mult + m;
                        let mut total = acc.init(b[co]);
                        for ky in 0..kh {
                            let Some(y) = Window::tap(oy, ky, sh, dh, a.padding.top, ih) else {
                                continue;
                            };
                            for kx in 0..kw {
                                let Some(xx) = Window::tap(ox, kx, sw, dw, a.padding.left, iw)
                                else {
                                    continue;
                                };
                                total = acc.step(
                                    total,
                                    x[((batch * ih + y) * iw + xx) * ic + c],
                                    w[(ky * kw + kx) * oc + co],
                                );
                            }
                        }
                        out[((batch * oh + oy) * ow + ox) * oc + co] = acc.finish(total, b[co]);
                    }
                }
            }
        }
    }
    apply_activation(&mut out, a.activation);
    array(cx, out_shape, out)
}

/// FULLY_CONNECTED: every row of `depth` input values times filter `[O, depth]`.
pub fn fully_connected(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    filter: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    a: &FullyConnected,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let [out_depth, depth] = <[usize; 2]>::try_from(filter.shape()).map_err(|_| {
        cx.err(format!(
            "filter has shape {:?}, expected 2-D",
            filter.shape()
        ))
    })?;
    let elems = input.len();
    if depth == 0 || !elems.is_multiple_of(depth) {
        return Err(cx.err(format!(
            "input of {elems} values does not split into rows of {depth}"
        )));
    }
    let acc = cx.acc;
    let rows = elems / depth;
    if out_shape.iter().product::<usize>() != rows * out_depth {
        return Err(cx.err(format!(
            "output shape {out_shape:?} does not hold {rows} rows of {out_depth}"
        )));
    }
    let x = flat(input);
    let w = flat(filter);
    let b = bias_values(cx, bias, out_depth)?;
    let mut out = vec![0f32; rows * out_depth];
    for r in 0..rows {
        let row = &x[r * depth..(r + 1) * depth];
        for o in 0..out_depth {
            let wrow = &w[o * depth..(o + 1) * depth];
            let mut total = acc.init(b[o]);
            for (&xv, &wv) in row.iter().zip(wrow) {
                total = acc.step(total, xv, wv);
            }
            out[r * out_depth + o] = acc.finish(total, b[o]);
        }
    }
    apply_activation(&mut out, a.activation);
    array(cx, out_shape, out)
}

/// TRANSPOSE_CONV with NHWC input and OHWI filter, as TFLM's float
/// `reference_ops::TransposeConv`: every input value times every tap
/// scattered into a zeroed output (input-major order), then the bias, then
/// the activation.
pub fn transpose_conv(
    cx: &OpCx<'_>,
    input: &ArrayD<f32>,
    filter: &ArrayD<f32>,
    bias: Option<&ArrayD<f32>>,
    a: &TransposeConv,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let [n, ih, iw, ic] = dims4(cx, "input", input.shape())?;
    let [oc, kh, kw, fic] = dims4(cx, "filter", filter.shape())?;
    let [on, oh, ow, occ] = dims4(cx, "output", out_shape)?;
    if on != n || occ != oc || fic != ic {
        return Err(cx.err(format!(
            "shapes do not fit: input {:?}, filter {:?}, output {out_shape:?}",
            input.shape(),
            filter.shape()
        )));
    }
    let x = flat(input);
    let w = flat(filter);
    let b = bias.map(|b| bias_values(cx, Some(b), oc)).transpose()?;
    let mut out = vec![0f32; n * oh * ow * oc];
    for batch in 0..n {
        for iy in 0..ih {
            for ix in 0..iw {
                for c in 0..ic {
                    let v = x[((batch * ih + iy) * iw + ix) * ic + c];
                    for ky in 0..kh {
                        let Some(oy) = (iy * a.stride.h + ky)
                            .checked_sub(a.padding.top)
                            .filter(|&oy| oy < oh)
                        else {
                            continue;
                        };
                        for kx in 0..kw {
                            let Some(ox) = (ix * a.stride.w + kx)
                                .checked_sub(a.padding.left)
                                .filter(|&ox| ox < ow)
                            else {
                                continue;
                            };
                            let o_base = ((batch * oh + oy) * ow + ox) * oc;
                            for co in 0..oc {
                                out[o_base + co] += v * w[((co * kh + ky) * kw + kx) * ic + c];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(b) = b {
        for (i, v) in out.iter_mut().enumerate() {
            *v += b[i % oc];
        }
    }
    apply_activation(&mut out, a.activation);
    array(cx, out_shape, out)
}

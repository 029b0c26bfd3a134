//! The input zero point folded into the bias.
//!
//! A convolution-like kernel computes `Σ w·(x + input_offset) + bias` in
//! wrapping int32 arithmetic, as TFLM's accumulator does. When every tap it
//! sums reads a real input value (no padding is ever touched), that equals
//! `Σ w·x + (bias + input_offset·Σ w)` modulo 2^32 exactly, so the offset
//! moves into a folded bias and the kernel's inner loop loses an add per
//! multiply-accumulate. Padded convolutions fold too: a padded cell holds
//! the input zero point (`pad_value`), and an out-of-bounds tap contributes
//! `w·(pad_value + input_offset)`, 0 before folding and `w·zp` after it,
//! which cancels the `-zp·w` the folded bias added for that tap (the
//! border correction; the kernels apply it).

use tinyq_ir::Kernel;
use tinyq_ir::kernel::Weights;

/// Folds the input offset of `kernel` into its bias where exact; returns
/// whether it did.
pub(crate) fn fold_into_bias(kernel: &mut Kernel) -> bool {
    match kernel {
        Kernel::Lstm { params: p, weights } => {
            if p.input_offset == 0 && p.recurrent_offset == 0 {
                return false;
            }
            // Per gate and unit: the input layer's bias gains
            // `input_offset·Σw_in`, the recurrent layer's (zero)
            // `recurrent_offset·Σw_rec`, both wrapping as the accumulator.
            let (n, n_in) = (p.units, p.input_size);
            let per = n * n_in + n * n;
            let row_sum = |w: Option<&[i8]>| {
                w.into_iter()
                    .flatten()
                    .fold(0i32, |a, &v| a.wrapping_add(i32::from(v)))
            };
            for g in 0..4 {
                for j in 0..n {
                    let base = g * per;
                    let w_in = weights.weights.get(base + j * n_in..base + (j + 1) * n_in);
                    let w_rec = weights
                        .weights
                        .get(base + n * n_in + j * n..base + n * n_in + (j + 1) * n);
                    let add_in = p.input_offset.wrapping_mul(row_sum(w_in));
                    let add_rec = p.recurrent_offset.wrapping_mul(row_sum(w_rec));
                    if let Some(b) = weights.biases.get_mut(g * 2 * n + j) {
                        *b = b.wrapping_add(add_in);
                    }
                    if let Some(b) = weights.biases.get_mut(g * 2 * n + n + j) {
                        *b = b.wrapping_add(add_rec);
                    }
                }
            }
            p.input_offset = 0;
            p.recurrent_offset = 0;
            true
        }
        Kernel::FullyConnected { params, weights } => {
            if params.input_offset == 0 {
                return false;
            }
            let depth = params.accum_depth;
            let (offset, filter_offset) = (params.input_offset, params.filter_offset);
            fold(weights, offset, params.output_depth, |o, filter| {
                filter
                    .get(o * depth..(o + 1) * depth)
                    .map(|row| {
                        row.iter()
                            .map(|&w| i32::from(w).wrapping_add(filter_offset))
                    })
                    .into_iter()
                    .flatten()
                    .fold(0i32, i32::wrapping_add)
            });
            params.input_offset = 0;
            true
        }
        Kernel::Conv2D { params: p, weights } => {
            if p.input_offset == 0 {
                return false;
            }
            let per_filter = p.filter_height * p.filter_width * p.filter_input_channels;
            fold(weights, p.input_offset, p.output_channels, |o, filter| {
                sum(filter.get(o * per_filter..(o + 1) * per_filter))
            });
            p.input_offset = 0;
            true
        }
        Kernel::DepthwiseConv2D { params: p, weights } => {
            if p.input_offset == 0 {
                return false;
            }
            // Filter [1, KH, KW, C*M]: channel o's taps are every (C*M)-th value.
            let channels = p.input_channels * p.depth_multiplier;
            fold(weights, p.input_offset, channels, |o, filter| {
                filter
                    .iter()
                    .skip(o)
                    .step_by(channels.max(1))
                    .map(|&w| i32::from(w))
                    .fold(0i32, i32::wrapping_add)
            });
            p.input_offset = 0;
            true
        }
        _ => false,
    }
}

/// `bias[o] += offset · filter_sum(o)`, wrapping; a missing bias becomes the
/// folded term alone.
fn fold(
    weights: &mut Weights,
    offset: i32,
    channels: usize,
    filter_sum: impl Fn(usize, &[i8]) -> i32,
) {
    let folded: Vec<i32> = (0..channels)
        .map(|o| {
            let bias = weights
                .bias
                .as_ref()
                .and_then(|b| b.get(o))
                .copied()
                .unwrap_or(0);
            bias.wrapping_add(offset.wrapping_mul(filter_sum(o, &weights.filter)))
        })
        .collect();
    weights.bias = Some(folded);
}

fn sum(values: Option<&[i8]>) -> i32 {
    values
        .unwrap_or(&[])
        .iter()
        .map(|&w| i32::from(w))
        .fold(0i32, i32::wrapping_add)
}

//! Float32 steps: the byte buffers as float values, the float kernels, and
//! the result back as little-endian bytes.

use tinyq_ir::FloatKernel;
use tinyq_ir::float_kernel::{Filter, FloatWeights};
use tinyq_kernels::float_conv::{
    Int8Filter, conv2d_f32, conv2d_f32_i8, depthwise_conv2d_f32, depthwise_conv2d_f32_i8,
    fully_connected_f32, fully_connected_f32_i8,
};
use tinyq_kernels::float_elementwise::{binary_f32, binary_f32_broadcast, softmax_f32, unary_f32};
use tinyq_kernels::float_pool::{average_pool_f32, max_pool_f32, mean_f32};
use tinyq_kernels::float_resize::resize_bilinear_f32;
use tinyq_kernels::float_transpose_conv::transpose_conv_f32;
use tinyq_kernels::lstm::lstm_f32;
use tinyq_kernels::svdf::svdf_f32;
use tinyq_kernels::{KernelError, concat, pad, resize, slice, transpose};

fn floats(bytes: &[u8]) -> Result<Vec<f32>, KernelError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(KernelError::InvalidParams(
            "a float32 buffer's size is not a multiple of 4",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// A dynamic-range model's int8 filter, as the kernels take it.
fn int8(w: &FloatWeights) -> Option<Int8Filter<'_>> {
    match &w.filter {
        Filter::Int8 { values, scales } => Some(Int8Filter { values, scales }),
        Filter::F32(_) => None,
    }
}

/// A float32 filter's values (empty for an int8 one, which [`int8`] takes).
fn floats_of(w: &FloatWeights) -> &[f32] {
    match &w.filter {
        Filter::F32(v) => v,
        Filter::Int8 { .. } => &[],
    }
}

/// Executes one float kernel on byte buffers.
pub fn execute_float(
    kernel: &FloatKernel,
    ins: &[&[u8]],
    out: &mut [u8],
) -> Result<(), KernelError> {
    let ins: Vec<Vec<f32>> = ins.iter().map(|b| floats(b)).collect::<Result<_, _>>()?;
    let mut result = floats(out)?;
    let x = |k: usize| {
        ins.get(k)
            .map(Vec::as_slice)
            .ok_or(KernelError::InvalidParams("missing input buffer"))
    };
    let y = result.as_mut_slice();
    match kernel {
        FloatKernel::Conv2D { params, weights } => {
            let b = weights.bias.as_deref();
            match int8(weights) {
                None => conv2d_f32(params, x(0)?, floats_of(weights), b, y),
                Some(f) => conv2d_f32_i8(params, x(0)?, f, b, y),
            }
        }
        FloatKernel::DepthwiseConv2D { params, weights } => {
            let b = weights.bias.as_deref();
            match int8(weights) {
                None => depthwise_conv2d_f32(params, x(0)?, floats_of(weights), b, y),
                Some(f) => depthwise_conv2d_f32_i8(params, x(0)?, f, b, y),
            }
        }
        FloatKernel::FullyConnected { params, weights } => {
            let b = weights.bias.as_deref();
            match int8(weights) {
                None => fully_connected_f32(params, x(0)?, floats_of(weights), b, y),
                Some(f) => fully_connected_f32_i8(params, x(0)?, f, b, y),
            }
        }
        FloatKernel::AveragePool(p) => average_pool_f32(p, x(0)?, y),
        FloatKernel::MaxPool(p) => max_pool_f32(p, x(0)?, y),
        FloatKernel::Binary { op, broadcast } => match broadcast {
            None => binary_f32(*op, x(0)?, x(1)?, y),
            Some(s) => {
                binary_f32_broadcast(*op, &s.shape1, x(0)?, &s.shape2, x(1)?, &s.out_shape, y)
            }
        },
        FloatKernel::Unary(op) => unary_f32(*op, x(0)?, y),
        FloatKernel::Softmax(p) => softmax_f32(p, x(0)?, y),
        FloatKernel::Mean(p) => mean_f32(p, x(0)?, y),
        FloatKernel::Pad { params, value } => pad::pad_with(params, *value, x(0)?, y),
        FloatKernel::Concat(p) => {
            let views: Vec<&[f32]> = ins.iter().map(Vec::as_slice).collect();
            concat::concat(p, &views, y)
        }
        FloatKernel::Transpose(p) => transpose::transpose(p, x(0)?, y),
        FloatKernel::Gather { params, indices } => {
            tinyq_kernels::gather::gather(params, indices, x(0)?, y)
        }
        FloatKernel::StridedSlice(p) => slice::strided_slice(p, x(0)?, y),
        FloatKernel::BatchMatMul(s) => {
            tinyq_kernels::batch_matmul::batch_matmul_f32(s, x(0)?, x(1)?, y)
        }
        FloatKernel::ResizeBilinear(p) => resize_bilinear_f32(p, x(0)?, y),
        FloatKernel::ResizeNearest(p) => resize::resize_nearest(p, x(0)?, y),
        FloatKernel::TransposeConv { params, weights } => {
            // `check` refuses an int8 filter, so `floats_of` is the filter.
            transpose_conv_f32(
                params,
                x(0)?,
                floats_of(weights),
                weights.bias.as_deref(),
                y,
            )
        }
        FloatKernel::Svdf { .. } | FloatKernel::Lstm { .. } => Err(KernelError::InvalidParams(
            "a stateful kernel runs through execute_stateful",
        )),
    }?;
    for (o, v) in out.chunks_exact_mut(4).zip(result) {
        o.copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

/// Executes one stateful float kernel: `ins` with the state's place left
/// empty, `state` updated in place.
pub fn execute_float_stateful(
    kernel: &FloatKernel,
    ins: &[&[u8]],
    state: &mut [u8],
    out: &mut [u8],
) -> Result<(), KernelError> {
    let input = floats(ins.first().copied().unwrap_or(&[]))?;
    let mut values = floats(state)?;
    let mut result = floats(out)?;
    match kernel {
        FloatKernel::Svdf {
            params,
            activation,
            weights,
        } => svdf_f32(
            params,
            *activation,
            &input,
            &weights.feature,
            &weights.time,
            weights.bias.as_deref(),
            &mut values,
            &mut result,
        )?,
        FloatKernel::Lstm { params, weights } => {
            lstm_f32(params, &input, weights, &mut values, &mut result)?;
        }
        _ => return Err(KernelError::InvalidParams("not a stateful kernel")),
    }
    for (o, v) in state.chunks_exact_mut(4).zip(values) {
        o.copy_from_slice(&v.to_le_bytes());
    }
    for (o, v) in out.chunks_exact_mut(4).zip(result) {
        o.copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

//! Runs the int16 kernels of 16x8 models ([`Int16Kernel`]) on byte
//! buffers: int16 values as little-endian pairs, int8 as bytes.

use tinyq_ir::Int16Kernel;
use tinyq_ir::int16_kernel::Requantize16;
use tinyq_kernels::{KernelError, wide, wide_act, wide_ops, wide_pool, wide_sigmoid, wide_softmax};

fn input<'a>(ins: &[&'a [u8]], k: usize) -> Result<&'a [u8], KernelError> {
    ins.get(k)
        .copied()
        .ok_or(KernelError::InvalidParams("missing input buffer"))
}

/// The int16 values of a byte buffer (the verifier saw an even length).
fn pairs(bytes: &[u8]) -> &[[u8; 2]] {
    bytes.as_chunks::<2>().0
}

fn pairs_mut(bytes: &mut [u8]) -> &mut [[u8; 2]] {
    bytes.as_chunks_mut::<2>().0
}

/// Executes one int16 kernel.
pub fn execute_int16(
    kernel: &Int16Kernel,
    ins: &[&[u8]],
    out: &mut [u8],
) -> Result<(), KernelError> {
    let x = pairs(input(ins, 0)?);
    match kernel {
        Int16Kernel::AddSub {
            params,
            subtract,
            broadcast,
        } => {
            let y = pairs(input(ins, 1)?);
            wide_ops::add_sub_16(params, *subtract, broadcast.as_ref(), x, y, pairs_mut(out))
        }
        Int16Kernel::BatchMatMul(p) => {
            let y = pairs(input(ins, 1)?);
            tinyq_kernels::batch_matmul::batch_matmul_i16(p, x, y, pairs_mut(out))
        }
        Int16Kernel::Mul { params, broadcast } => {
            let y = pairs(input(ins, 1)?);
            wide_ops::mul_16(params, broadcast.as_ref(), x, y, pairs_mut(out))
        }
        Int16Kernel::LeakyRelu(p) => wide_ops::leaky_relu_16(p, x, pairs_mut(out)),
        Int16Kernel::Relu(p) => wide_act::relu_16(p, x, pairs_mut(out)),
        Int16Kernel::Clamp(p) => wide_act::clamp_16(p, x, pairs_mut(out)),
        Int16Kernel::MaxPool(p) => wide_pool::max_pool_16(p, x, pairs_mut(out)),
        Int16Kernel::AveragePool(p) => wide_pool::average_pool_16(p, x, pairs_mut(out)),
        Int16Kernel::Mean(p) => wide_pool::mean_16(p, x, pairs_mut(out)),
        Int16Kernel::Softmax(p) => wide_softmax::softmax_16(p, x, pairs_mut(out)),
        Int16Kernel::Sigmoid { function, params } => {
            wide_sigmoid::sigmoid_16(*function, params, x, pairs_mut(out))
        }
        Int16Kernel::Concat { params, blocks } => {
            let lens: Vec<usize> = (0..blocks.len())
                .map(|k| input(ins, k).map(|b| b.len() / 2))
                .collect::<Result<_, _>>()?;
            kernel.check(&lens, out.len() / 2)?;
            let mut offset = 0;
            for (k, block) in blocks.iter().enumerate() {
                wide_ops::concat_part_16(params, offset, pairs(input(ins, k)?), pairs_mut(out))?;
                offset += block;
            }
            Ok(())
        }
        Int16Kernel::Requantize { params, types } => match types {
            Requantize16::I16ToI16 => wide_ops::requantize_i16_to_i16(params, x, pairs_mut(out)),
            Requantize16::I16ToI8 => {
                let mut result = vec![0i8; out.len()];
                wide_ops::requantize_i16_to_i8(params, x, &mut result)?;
                for (o, r) in out.iter_mut().zip(result) {
                    *o = r as u8;
                }
                Ok(())
            }
            Requantize16::I8ToI16 => {
                let bytes: Vec<i8> = input(ins, 0)?.iter().map(|&b| b as i8).collect();
                wide_ops::requantize_i8_to_i16(params, &bytes, pairs_mut(out))
            }
        },
        Int16Kernel::Pad { params, value } => wide_ops::pad_16(params, *value, x, pairs_mut(out)),
        Int16Kernel::StridedSlice(p) => wide_ops::strided_slice_16(p, x, pairs_mut(out)),
        Int16Kernel::TransposeConv { params, weights } => wide::transpose_conv_16x8(
            params,
            x,
            &weights.filter,
            weights.bias.as_wide(),
            &weights.multipliers,
            &weights.shifts,
            pairs_mut(out),
        ),
    }
}

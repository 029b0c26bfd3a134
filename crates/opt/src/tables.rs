//! 256-entry tables for 8-bit element-wise ops, built by running the
//! reference kernel's scalar function on every input byte: exact by
//! construction. Kernel selection and the `lut` pass share them.

use tinyq_ir::{DType, OpKind, Tensor};
use tinyq_kernels::{KernelError, int8_math, quantize, unary};

/// The table computing `kind` from `input` to `output`, or `None` when the op
/// is not an 8-bit → 8-bit element-wise op tinyq tabulates (a float QUANTIZE,
/// a DEQUANTIZE, a non-int8 activation...). Errors come from the kernels'
/// `prepare_*` (e.g. an unusable scale).
pub(crate) fn table_of(
    kind: &OpKind,
    input: &Tensor,
    output: &Tensor,
) -> Result<Option<Vec<u8>>, KernelError> {
    let (Some((si, zi)), Some((so, zo))) = (input.scale_zp(), output.scale_zp()) else {
        return Ok(None);
    };
    let (zi, zo) = (zi as i32, zo as i32);
    if let OpKind::Quantize = kind {
        if !input.dtype.is_8bit() || !output.dtype.is_8bit() {
            return Ok(None);
        }
        let p = quantize::prepare_requantize(si, zi, so, zo);
        return requantize_table(&p, input.dtype, output.dtype).map(Some);
    }
    if input.dtype != DType::I8 || output.dtype != DType::I8 {
        return Ok(None);
    }
    let f: Box<dyn Fn(i8) -> i8> = match kind {
        OpKind::Logistic => {
            let p = unary::prepare_logistic(si, zi, zo)?;
            Box::new(move |x| unary::logistic(x, &p))
        }
        OpKind::Tanh => {
            let p = unary::prepare_tanh(si, zi)?;
            Box::new(move |x| unary::tanh(x, &p))
        }
        OpKind::Relu => {
            let p = unary::prepare_relu(si, zi, so, zo)?;
            Box::new(move |x| unary::relu(x, &p))
        }
        OpKind::ReluN1To1 => {
            let p = unary::prepare_relu_n1_to_1(si, zi, so, zo)?;
            Box::new(move |x| unary::relu(x, &p))
        }
        OpKind::Relu6 => {
            let p = unary::prepare_relu6(si, zi)?;
            Box::new(move |x| unary::relu6(x, &p))
        }
        OpKind::LeakyRelu { alpha } => {
            let p = unary::prepare_leaky_relu(si, zi, so, zo, *alpha)?;
            Box::new(move |x| unary::leaky_relu(x, &p))
        }
        OpKind::HardSwish => {
            let p = unary::prepare_hard_swish(si, zi, so, zo)?;
            Box::new(move |x| unary::hard_swish(x, &p))
        }
        OpKind::Rsqrt => {
            let p = int8_math::prepare_rsqrt((si, zi), (so, zo))?;
            Box::new(move |x| int8_math::rsqrt(x, &p))
        }
        OpKind::Lut(lut) => {
            return Ok(Some(lut.table.clone()));
        }
        _ => return Ok(None),
    };
    Ok(Some(unary::build_lut(f).iter().map(|&v| v as u8).collect()))
}

/// The 256-entry table of an 8-bit requantization, indexed by input byte.
fn requantize_table(
    p: &quantize::RequantizeParams,
    from: DType,
    to: DType,
) -> Result<Vec<u8>, KernelError> {
    let codes: Vec<u8> = (0..=255).collect();
    let signed: Vec<i8> = codes.iter().map(|&b| b as i8).collect();
    let mut out_i8 = vec![0i8; 256];
    let mut out_u8 = vec![0u8; 256];
    match (from, to) {
        (DType::U8, DType::I8) => quantize::requantize_u8_to_i8(p, &codes, &mut out_i8)?,
        (DType::I8, DType::U8) => quantize::requantize_i8_to_u8(p, &signed, &mut out_u8)?,
        (DType::I8, DType::I8) => quantize::requantize_i8_to_i8(p, &signed, &mut out_i8)?,
        _ => {
            return Err(KernelError::InvalidParams(
                "requantization between these types is not supported",
            ));
        }
    }
    Ok(if to == DType::U8 {
        out_u8
    } else {
        out_i8.iter().map(|&v| v as u8).collect()
    })
}

//! The calls of the int16 kernels of 16x8 models besides the conv-like
//! layers (`kernels::wide_ops`, `wide_act`, `wide_pool`, `wide_softmax`, `wide_sigmoid`, and `kernels::wide`
//! for TRANSPOSE_CONV):
//! each operand as an int16 view (a model input or output as `[i16]`, arena
//! bytes as pairs), the int8 side of a requantization as `[i8]`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use tinyq_ir::int16_kernel::{Int16Kernel, Requantize16};
use tinyq_kernels::wide_sigmoid::Sigmoid16;

use crate::{Elem, EmitError, View, Writer, int16_view, params_literal};

impl Writer<'_> {
    /// One int16 step's body.
    pub(crate) fn int16_step(
        &mut self,
        index: usize,
        kernel: &Int16Kernel,
        views: &[View],
        (out, out_elem): (&TokenStream, Elem),
        kerr: &TokenStream,
    ) -> Result<TokenStream, EmitError> {
        let unsupported = |why: &str| EmitError::Unsupported {
            step: index,
            kernel: kernel.name(),
            why: why.to_string(),
        };
        let x = |k: usize| -> Result<TokenStream, EmitError> {
            let v = views.get(k).ok_or_else(|| unsupported("missing input"))?;
            int16_view(&v.expr, v.elem, false).ok_or_else(|| unsupported("reads int16"))
        };
        let y = || int16_view(out, out_elem, true).ok_or_else(|| unsupported("writes int16"));
        let int8 = |v: Option<&View>, elem: Elem| match v {
            Some(v) if v.elem == Elem::I8 => Ok(v.expr.clone()),
            _ if elem == Elem::I8 => Ok(out.clone()),
            _ => Err(unsupported("the int8 side of a requantization is int8")),
        };
        Ok(match kernel {
            Int16Kernel::AddSub {
                params,
                subtract,
                broadcast,
            } => {
                let p = params_literal("elementwise", params)?;
                let shapes = match broadcast {
                    Some(b) => {
                        let b = params_literal("wide_ops", b)?;
                        quote!(Some(&#b))
                    }
                    None => quote!(None),
                };
                let (x0, x1, y) = (x(0)?, x(1)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_ops::add_sub_16(&p, #subtract, #shapes, #x0, #x1, #y) #kerr;
                }
            }
            Int16Kernel::BatchMatMul(p) => {
                let p = crate::batch_matmul_literal(p)?;
                let (x0, x1, y) = (x(0)?, x(1)?, y()?);
                quote! {
                    let p = #p;
                    kernels::batch_matmul::batch_matmul_i16(&p, #x0, #x1, #y) #kerr;
                }
            }
            Int16Kernel::Mul { params, broadcast } => {
                let p = params_literal("elementwise", params)?;
                let shapes = match broadcast {
                    Some(b) => {
                        let b = params_literal("wide_ops", b)?;
                        quote!(Some(&#b))
                    }
                    None => quote!(None),
                };
                let (x0, x1, y) = (x(0)?, x(1)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_ops::mul_16(&p, #shapes, #x0, #x1, #y) #kerr;
                }
            }
            Int16Kernel::LeakyRelu(params) => {
                let p = params_literal("unary", params)?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_ops::leaky_relu_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::Relu(params) => {
                let p = params_literal("unary", params)?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_act::relu_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::Clamp(params) => {
                let p = params_literal("wide_act", params)?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_act::clamp_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::MaxPool(params) | Int16Kernel::AveragePool(params) => {
                let p = params_literal("pooling", params)?;
                let func = if matches!(kernel, Int16Kernel::MaxPool(_)) {
                    quote!(max_pool_16)
                } else {
                    quote!(average_pool_16)
                };
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_pool::#func(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::Mean(params) => {
                let p = params_literal("reduce", params)?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_pool::mean_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::Softmax(params) => {
                let p = params_literal("wide_softmax", params.as_ref())?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_softmax::softmax_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::Sigmoid { function, params } => {
                let p = params_literal("wide_sigmoid", params)?;
                let f = match function {
                    Sigmoid16::Logistic => quote!(Logistic),
                    Sigmoid16::Tanh => quote!(Tanh),
                };
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_sigmoid::sigmoid_16(
                        kernels::wide_sigmoid::Sigmoid16::#f, &p, #x0, #y
                    ) #kerr;
                }
            }
            Int16Kernel::Concat { params, blocks } => {
                let p = params_literal("concat", params)?;
                let mut calls = Vec::new();
                let mut offset = 0usize;
                for (k, block) in blocks.iter().enumerate() {
                    let (xk, y) = (x(k)?, y()?);
                    calls.push(quote! {
                        kernels::wide_ops::concat_part_16(&p, #offset, #xk, #y) #kerr;
                    });
                    offset += block;
                }
                quote! {
                    let p = #p;
                    #(#calls)*
                }
            }
            Int16Kernel::Requantize { params, types } => {
                let p = params_literal("quantize", params)?;
                let call = match types {
                    Requantize16::I16ToI16 => {
                        let (x0, y) = (x(0)?, y()?);
                        quote!(kernels::wide_ops::requantize_i16_to_i16(&p, #x0, #y))
                    }
                    Requantize16::I16ToI8 => {
                        let x0 = x(0)?;
                        let y = int8(None, out_elem)?;
                        quote!(kernels::wide_ops::requantize_i16_to_i8(&p, #x0, #y))
                    }
                    Requantize16::I8ToI16 => {
                        let x0 = int8(views.first(), Elem::I16)?;
                        let y = y()?;
                        quote!(kernels::wide_ops::requantize_i8_to_i16(&p, #x0, #y))
                    }
                };
                quote! {
                    let p = #p;
                    #call #kerr;
                }
            }
            Int16Kernel::Pad { params, value } => {
                let p = params_literal("pad", params)?;
                let v = value.into_token_stream();
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_ops::pad_16(&p, #v, #x0, #y) #kerr;
                }
            }
            Int16Kernel::StridedSlice(params) => {
                let p = params_literal("slice", params)?;
                let (x0, y) = (x(0)?, y()?);
                quote! {
                    let p = #p;
                    kernels::wide_ops::strided_slice_16(&p, #x0, #y) #kerr;
                }
            }
            Int16Kernel::TransposeConv { params, weights } => {
                let p = params_literal("transpose_conv", params)?;
                self.wide_step(
                    index,
                    views,
                    (out, out_elem),
                    quote!(transpose_conv_16x8),
                    p,
                    weights,
                )?
            }
        })
    }
}

//! The calls of the plain integer kernels (`kernels::int32`): int32 ADD,
//! SUB, MUL, DIV, MAXIMUM, MINIMUM and CAST. Each operand is passed as it
//! is (arena bytes and constants as `[i8]`, model I/O typed); the kernels
//! read any of them through their `Numbers` views.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use tinyq_ir::int32_kernel::Int32Kernel;
use tinyq_kernels::int32::NumType;

use crate::{EmitError, View, Writer, params_literal};

/// An `i32` literal; the extremes by name.
fn lit_i32(v: i32) -> TokenStream {
    match v {
        i32::MIN => quote!(i32::MIN),
        i32::MAX => quote!(i32::MAX),
        v => {
            let l = proc_macro2::Literal::i32_unsuffixed(v);
            quote!(#l)
        }
    }
}

fn num_type(t: NumType) -> TokenStream {
    let v = format_ident!("{}", format!("{t:?}"));
    quote!(kernels::int32::NumType::#v)
}

impl Writer<'_> {
    /// One plain integer step's body.
    pub(crate) fn int32_step(
        &mut self,
        index: usize,
        kernel: &Int32Kernel,
        views: &[View],
        out: &TokenStream,
        kerr: &TokenStream,
    ) -> Result<TokenStream, EmitError> {
        let x = |k: usize| -> Result<TokenStream, EmitError> {
            views
                .get(k)
                .map(|v| v.expr.clone())
                .ok_or_else(|| EmitError::Unsupported {
                    step: index,
                    kernel: kernel.name(),
                    why: format!("missing input {k}"),
                })
        };
        Ok(match kernel {
            Int32Kernel::Binary {
                op,
                act_min,
                act_max,
                broadcast,
            } => {
                let op = format_ident!("{}", format!("{op:?}"));
                let shapes = match broadcast {
                    Some(b) => {
                        let b = params_literal("wide_ops", b)?;
                        quote!(Some(&#b))
                    }
                    None => quote!(None),
                };
                let (x0, x1) = (x(0)?, x(1)?);
                let (lo, hi) = (lit_i32(*act_min), lit_i32(*act_max));
                quote! {
                    kernels::int32::binary_i32(
                        kernels::int32::IntBinary::#op, #lo, #hi, #shapes, #x0, #x1, #out,
                    ) #kerr;
                }
            }
            Int32Kernel::Cast { from, to } => {
                let (from, to, x0) = (num_type(*from), num_type(*to), x(0)?);
                quote!(kernels::int32::cast(#from, #to, #x0, #out) #kerr;)
            }
        })
    }
}

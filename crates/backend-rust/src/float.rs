//! Float32 programs: the arena as `[f32; ARENA_SIZE / 4]` (safe Rust cannot
//! view bytes as floats), and the calls of the float kernels
//! (`crates/kernels/src/float_*.rs`, embedded like the int8 ones).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use tinyq_ir::float_kernel::{Filter, FloatWeights};
use tinyq_ir::{FloatKernel, Kernel, Program};

use crate::{Elem, EmitError, Writer, lit_usize, params_literal};

/// The arena's element type: `F32` when the program computes in float32
/// (every step a float kernel or a copy), `I8` otherwise. Programs mixing
/// float and integer steps in the arena are refused.
pub(crate) fn arena_elem(program: &Program) -> Result<Elem, EmitError> {
    let float = program
        .steps
        .iter()
        .any(|s| matches!(s.kernel, Kernel::Float(_)));
    if !float {
        return Ok(Elem::I8);
    }
    if let Some((index, step)) = program
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| !matches!(s.kernel, Kernel::Float(_) | Kernel::Copy))
    {
        return Err(EmitError::Unsupported {
            step: index,
            kernel: step.kernel.name(),
            why: "a program mixing float32 and integer steps".into(),
        });
    }
    if !program.arena_size.is_multiple_of(4) {
        return Err(EmitError::Internal(format!(
            "float32 arena of {} bytes, not a whole number of floats",
            program.arena_size
        )));
    }
    Ok(Elem::F32)
}

/// A float array as `[f32::from_bits(..), ..]` (exact, any value).
fn floats_tokens(values: &[f32]) -> TokenStream {
    let items = values.iter().map(|v| {
        let bits = Literal::u32_unsuffixed(v.to_bits());
        quote!(f32::from_bits(#bits))
    });
    quote!([#(#items),*])
}

/// A `#[derive(Debug)]` enum value as an expression qualified with
/// `kernels::MODULE::ENUM::`.
fn enum_literal(
    module: &str,
    ty: &str,
    value: &impl std::fmt::Debug,
) -> Result<TokenStream, EmitError> {
    let text = format!("kernels::{module}::{ty}::{value:?}");
    let expr: syn::Expr =
        syn::parse_str(&text).map_err(|e| EmitError::Internal(format!("params {text}: {e}")))?;
    Ok(quote!(#expr))
}

impl Writer<'_> {
    /// Bytes per arena element.
    pub(crate) fn unit_bytes(&self) -> usize {
        if self.arena == Elem::F32 { 4 } else { 1 }
    }

    /// A byte offset in the arena as an index into `plan`.
    pub(crate) fn unit(&self, bytes: usize) -> Literal {
        lit_usize(bytes / self.unit_bytes())
    }

    /// `static STEP_N_FILTER` (and `_SCALES` for an int8 filter, `_BIAS`);
    /// returns the kernel to call (`NAME` or `NAME_i8`), the filter and the
    /// bias argument expressions.
    fn float_weight_statics(
        &mut self,
        index: usize,
        name: &str,
        w: &FloatWeights,
    ) -> (TokenStream, TokenStream, TokenStream) {
        let f = format_ident!("STEP_{}_FILTER", index);
        let n = lit_usize(w.filter.len());
        let (func, filter) = match &w.filter {
            Filter::F32(v) => {
                let values = floats_tokens(v);
                self.statics.push(quote!(static #f: [f32; #n] = #values;));
                (format_ident!("{}", name), quote!(&#f))
            }
            Filter::Int8 { values, scales } => {
                let q = values.iter().map(|&v| Literal::i8_unsuffixed(v));
                self.statics.push(quote!(static #f: [i8; #n] = [#(#q),*];));
                let s = format_ident!("STEP_{}_SCALES", index);
                let c = lit_usize(scales.len());
                let sv = floats_tokens(scales);
                self.statics.push(quote!(static #s: [f32; #c] = #sv;));
                (
                    format_ident!("{}_i8", name),
                    quote!(kernels::float_conv::Int8Filter { values: &#f, scales: &#s }),
                )
            }
        };
        let bias = match &w.bias {
            Some(b) => {
                let id = format_ident!("STEP_{}_BIAS", index);
                let n = lit_usize(b.len());
                let values = floats_tokens(b);
                self.statics.push(quote!(static #id: [f32; #n] = #values;));
                quote!(Some(&#id))
            }
            None => quote!(None),
        };
        (quote!(#func), filter, bias)
    }

    /// The body of a float32 step: `xs` are the input slices, `out` the output.
    pub(crate) fn float_step(
        &mut self,
        index: usize,
        kernel: &FloatKernel,
        xs: &[TokenStream],
        out: &TokenStream,
        kerr: &TokenStream,
    ) -> Result<TokenStream, EmitError> {
        let x = |k: usize| {
            xs.get(k).cloned().ok_or_else(|| EmitError::Unsupported {
                step: index,
                kernel: kernel.name(),
                why: format!("missing input {k}"),
            })
        };
        Ok(match kernel {
            FloatKernel::Svdf { .. } | FloatKernel::Lstm { .. } => {
                return Err(EmitError::Internal(format!(
                    "step {index}: a stateful kernel goes through stateful_step"
                )));
            }
            FloatKernel::Conv2D { params, weights } => {
                let p = params_literal("float_conv", params)?;
                let (func, f, b) = self.float_weight_statics(index, "conv2d_f32", weights);
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_conv::#func(&p, #x0, #f, #b, #out) #kerr;
                }
            }
            FloatKernel::DepthwiseConv2D { params, weights } => {
                let p = params_literal("float_conv", params)?;
                let (func, f, b) =
                    self.float_weight_statics(index, "depthwise_conv2d_f32", weights);
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_conv::#func(&p, #x0, #f, #b, #out) #kerr;
                }
            }
            FloatKernel::FullyConnected { params, weights } => {
                let p = params_literal("float_conv", params)?;
                let (func, f, b) = self.float_weight_statics(index, "fully_connected_f32", weights);
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_conv::#func(&p, #x0, #f, #b, #out) #kerr;
                }
            }
            FloatKernel::AveragePool(p) | FloatKernel::MaxPool(p) => {
                let func = if matches!(kernel, FloatKernel::MaxPool(_)) {
                    quote!(max_pool_f32)
                } else {
                    quote!(average_pool_f32)
                };
                let p = params_literal("float_pool", p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_pool::#func(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::Binary { op, broadcast } => {
                let op = enum_literal("float_elementwise", "BinaryF32", op)?;
                let (a, b) = (x(0)?, x(1)?);
                match broadcast {
                    None => quote! {
                        kernels::float_elementwise::binary_f32(#op, #a, #b, #out) #kerr;
                    },
                    Some(s) => {
                        let dims = |sh: &[usize]| {
                            let d = sh.iter().map(|&v| lit_usize(v));
                            quote!([#(#d),*])
                        };
                        let (s1, s2, so) = (dims(&s.shape1), dims(&s.shape2), dims(&s.out_shape));
                        quote! {
                            kernels::float_elementwise::binary_f32_broadcast(#op, &#s1, #a, &#s2, #b, &#so, #out) #kerr;
                        }
                    }
                }
            }
            FloatKernel::Unary(op) => {
                let op = enum_literal("float_elementwise", "UnaryF32", op)?;
                let x0 = x(0)?;
                quote! {
                    kernels::float_elementwise::unary_f32(#op, #x0, #out) #kerr;
                }
            }
            FloatKernel::Softmax(p) => {
                let p = params_literal("float_elementwise", p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_elementwise::softmax_f32(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::Mean(p) => {
                let p = params_literal("float_pool", p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_pool::mean_f32(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::Pad { params, value } => {
                let p = params_literal("pad", params)?;
                let bits = Literal::u32_unsuffixed(value.to_bits());
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::pad::pad_with(&p, f32::from_bits(#bits), #x0, #out) #kerr;
                }
            }
            FloatKernel::Concat(p) => {
                let p = params_literal("concat", p)?;
                quote! {
                    let p = #p;
                    kernels::concat::concat(&p, &[#(#xs),*], #out) #kerr;
                }
            }
            FloatKernel::Transpose(p) => {
                let p = params_literal("transpose", p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::transpose::transpose(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::StridedSlice(p) => {
                let p = params_literal("slice", p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::slice::strided_slice(&p, #x0, #out) #kerr;
                }
            }
        })
    }
}

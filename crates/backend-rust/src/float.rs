//! Float32 programs: the arena as `[f32; ARENA_SIZE / 4]` (safe Rust cannot
//! view bytes as floats), and the calls of the float kernels
//! (`crates/kernels/src/float_*.rs`, embedded like the int8 ones).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use tinyq_ir::float_kernel::{Filter, FloatWeights};
use tinyq_ir::{FloatKernel, Kernel, Program};

use crate::{Elem, EmitError, View, Writer, lit_usize, params_literal};

/// The arena's element type: `F32` when the program computes in float32
/// (every step a float kernel or a copy), `I8` otherwise; a mixed program's
/// float32 buffers are then staged through float arrays
/// ([`stage_input`], [`stage_output`]).
pub(crate) fn arena_elem(program: &Program) -> Result<Elem, EmitError> {
    let all_float = program
        .steps
        .iter()
        .any(|s| matches!(s.kernel, Kernel::Float(_)))
        && program
            .steps
            .iter()
            .all(|s| matches!(s.kernel, Kernel::Float(_) | Kernel::Copy));
    if !all_float {
        return Ok(Elem::I8);
    }
    if !program.arena_size.is_multiple_of(4) {
        return Err(EmitError::Internal(format!(
            "float32 arena of {} bytes, not a whole number of floats",
            program.arena_size
        )));
    }
    Ok(Elem::F32)
}

/// Which operands of `kernel` are float32: a predicate on the input index,
/// and whether the output is.
pub(crate) fn float_operands(kernel: &Kernel) -> (fn(usize) -> bool, bool) {
    match kernel {
        Kernel::Float(_) => (|_| true, true),
        Kernel::Quantize { .. } | Kernel::QuantizeI16 { .. } => (|k| k == 0, false),
        Kernel::DequantizeLut { .. } | Kernel::DequantizeI16 { .. } => (|_| false, true),
        _ => (|_| false, false),
    }
}

/// `let xK_f: [f32; N]`: input `K` (`xK`, `bytes` arena bytes) decoded
/// as little-endian floats; the view the kernel reads instead.
pub(crate) fn stage_input(k: usize, bytes: usize) -> (TokenStream, View) {
    let staged = format_ident!("x{}_f", k);
    let var = format_ident!("x{}", k);
    let n = lit_usize(bytes / 4);
    let block = quote! {
        let mut #staged = [0f32; #n];
        for (d, c) in #staged.iter_mut().zip(#var.as_chunks::<4>().0) {
            *d = f32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
        }
    };
    let view = View {
        expr: quote!(&#staged),
        elem: Elem::F32,
    };
    (block, view)
}

/// `out_f`, a float array of `bytes / 4` values the kernel writes, and the
/// loop writing it back into `out` (the arena slice) afterwards.
pub(crate) fn stage_output(out: &TokenStream, bytes: usize) -> (TokenStream, TokenStream) {
    let n = lit_usize(bytes / 4);
    let decl = quote! {
        let mut out_buf = [0f32; #n];
        let out_f: &mut [f32] = &mut out_buf;
    };
    let write_back = quote! {
        for (o, v) in #out.as_chunks_mut::<4>().0.iter_mut().zip(&out_buf) {
            let [a, b, c, d] = v.to_le_bytes();
            *o = [a as i8, b as i8, c as i8, d as i8];
        }
    };
    (decl, write_back)
}

/// One float as a literal: the shortest decimal that reads back as the
/// same float (Rust's `Display`, parsed with correct rounding), so exact;
/// `-` for a set sign bit (also `-0.0`); `from_bits` for NaN and infinity.
/// Literals compile far faster than `from_bits` calls in large weight arrays.
pub(crate) fn float_literal(v: f32) -> TokenStream {
    if !v.is_finite() {
        let bits = Literal::u32_unsuffixed(v.to_bits());
        return quote!(f32::from_bits(#bits));
    }
    let lit = Literal::f32_unsuffixed(v.abs());
    if v.is_sign_negative() {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

/// A float array as literals (exact, see [`float_literal`]).
pub(crate) fn floats_tokens(values: &[f32]) -> TokenStream {
    let items = values.iter().map(|&v| float_literal(v));
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

/// A float RESIZE_BILINEAR parameter literal, its nested geometry named by
/// module path too.
fn float_resize_literal(value: &impl std::fmt::Debug) -> Result<TokenStream, EmitError> {
    let text =
        format!("{value:?}").replace("ResizeGeometry {", "kernels::resize::ResizeGeometry {");
    let mut expr: syn::ExprStruct =
        syn::parse_str(&text).map_err(|e| EmitError::Internal(format!("params {text}: {e}")))?;
    let ty = expr
        .path
        .get_ident()
        .cloned()
        .ok_or_else(|| EmitError::Internal(format!("params {text}: unexpected path")))?;
    expr.path = syn::parse_quote!(kernels::float_resize::#ty);
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
                self.statics.push(quote! {
                    #[allow(clippy::approx_constant)] // weights as the model has them
                    static #f: [f32; #n] = #values;
                });
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
                self.statics.push(quote! {
                    #[allow(clippy::approx_constant)] // weights as the model has them
                    static #id: [f32; #n] = #values;
                });
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
            FloatKernel::Gather { params, indices } => {
                self.gather_call(index, params, indices, &x(0)?, out, kerr)?
            }
            FloatKernel::BatchMatMul(s) => {
                let p = params_literal("batch_matmul", s)?;
                let (x0, x1) = (x(0)?, x(1)?);
                quote! {
                    let p = #p;
                    kernels::batch_matmul::batch_matmul_f32(&p, #x0, #x1, #out) #kerr;
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
            FloatKernel::ResizeBilinear(p) => {
                let p = float_resize_literal(p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_resize::resize_bilinear_f32(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::ResizeNearest(p) => {
                let p = crate::resize_literal(p)?;
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::resize::resize_nearest(&p, #x0, #out) #kerr;
                }
            }
            FloatKernel::TransposeConv { params, weights } => {
                let p = params_literal("float_transpose_conv", params)?;
                let (func, f, b) = self.float_weight_statics(index, "transpose_conv_f32", weights);
                let x0 = x(0)?;
                quote! {
                    let p = #p;
                    kernels::float_transpose_conv::#func(&p, #x0, #f, #b, #out) #kerr;
                }
            }
        })
    }
}

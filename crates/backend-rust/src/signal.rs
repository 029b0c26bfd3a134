//! The calls of the signal-library kernels (`kernels::signal`,
//! `kernels::signal_bank`, `kernels::signal_fft`): every operand as
//! little-endian bytes, which the kernels take as `u8` or `i8`
//! (`kernels::le::Byte`). Arena slices and constants are `i8` already; a
//! typed model input or output (`[i16]`, `[i32]`, `[u32]`, `[u64]`) is
//! staged through a byte array on the stack. SignalRfft's twiddle tables
//! are `static`s computed here (`tinyq_ir::signal::rfft_tables`, once per
//! FFT length), so the module needs no `cos`; its scratch is a stack array
//! of `fft_length` complex int16 values.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use tinyq_ir::signal::SignalOp;
use tinyq_ir::{BufferRef, IoSpec, Program};

use crate::{Elem, EmitError, View, Writer, lit_usize, params_literal};

impl Writer<'_> {
    /// One signal-library step's body.
    pub(crate) fn signal_step(
        &mut self,
        index: usize,
        op: &SignalOp,
        views: &[View],
        (out, out_elem): (&TokenStream, Elem),
        kerr: &TokenStream,
    ) -> Result<TokenStream, EmitError> {
        let unsupported = |why: String| EmitError::Unsupported {
            step: index,
            kernel: op.name(),
            why,
        };
        let step = &self.program.steps[index];
        let mut prelude = Vec::new();
        let mut xs = Vec::with_capacity(views.len());
        for (k, v) in views.iter().enumerate() {
            let bytes = step
                .inputs
                .get(k)
                .and_then(|&b| buffer_len(self.program, b))
                .ok_or_else(|| unsupported(format!("input {k}'s size")))?;
            xs.push(
                byte_input(k, v, bytes, &mut prelude)
                    .ok_or_else(|| unsupported(format!("input {k} is {:?}, not bytes", v.elem)))?,
            );
        }
        let out_bytes = buffer_len(self.program, step.output)
            .ok_or_else(|| unsupported("the output's size".into()))?;
        let (y, postlude) = byte_output(out, out_elem, out_bytes, &mut prelude)
            .ok_or_else(|| unsupported(format!("the output is {out_elem:?}, not bytes")))?;
        let x = |k: usize| {
            xs.get(k)
                .cloned()
                .ok_or_else(|| unsupported(format!("missing input {k}")))
        };
        let call = match op {
            SignalOp::Window(p) => {
                let p = params_literal("signal", p)?;
                let (x0, x1) = (x(0)?, x(1)?);
                quote!(kernels::signal::window(&#p, #x0, #x1, #y) #kerr;)
            }
            SignalOp::Energy(p) => {
                let p = params_literal("signal", p)?;
                let x0 = x(0)?;
                quote!(kernels::signal::energy(&#p, #x0, #y) #kerr;)
            }
            SignalOp::FilterBankLog(p) => {
                let p = params_literal("signal", p)?;
                let x0 = x(0)?;
                quote!(kernels::signal::filter_bank_log(&#p, #x0, #y) #kerr;)
            }
            SignalOp::FilterBankSquareRoot => {
                let (x0, x1) = (x(0)?, x(1)?);
                quote!(kernels::signal::filter_bank_square_root(#x0, #x1, #y) #kerr;)
            }
            SignalOp::FilterBank(p) => {
                let p = params_literal("signal_bank", p)?;
                let [x0, w, u, fs, ws, wd] = [x(0)?, x(1)?, x(2)?, x(3)?, x(4)?, x(5)?];
                quote! {
                    let tables = kernels::signal_bank::FilterBankTables {
                        weights: #w,
                        unweights: #u,
                        freq_starts: #fs,
                        weight_starts: #ws,
                        widths: #wd,
                    };
                    kernels::signal_bank::filter_bank(&#p, #x0, &tables, #y) #kerr;
                }
            }
            SignalOp::Pcan(p) => {
                let p = params_literal("signal_bank", p)?;
                let (x0, x1, x2) = (x(0)?, x(1)?, x(2)?);
                quote!(kernels::signal_bank::pcan(&#p, #x0, #x1, #x2, #y) #kerr;)
            }
            SignalOp::FftAutoScaleBits => {
                let x0 = x(0)?;
                quote!(kernels::signal_fft::fft_auto_scale_shift(#x0, #y) #kerr;)
            }
            SignalOp::FftAutoScaleApply => {
                let (x0, x1) = (x(0)?, x(1)?);
                quote!(kernels::signal_fft::fft_auto_scale_apply(#x0, #x1, #y) #kerr;)
            }
            SignalOp::Rfft(p) => {
                let (tw, super_tw) = self.rfft_tables(p.fft_length);
                let params = params_literal("signal_fft", p)?;
                let (x0, n) = (x(0)?, lit_usize(p.fft_length));
                quote! {
                    let tables = kernels::signal_fft::RfftTables {
                        twiddles: &#tw,
                        super_twiddles: &#super_tw,
                    };
                    let mut scratch = [[0i16; 2]; #n];
                    kernels::signal_fft::rfft_int16(&#params, &tables, #x0, #y, &mut scratch) #kerr;
                }
            }
            SignalOp::SpectralSubtractionOutput(p) => {
                let p = params_literal("signal_fft", p)?;
                let (x0, x1) = (x(0)?, x(1)?);
                quote!(kernels::signal_fft::spectral_subtraction_output(&#p, #x0, #x1, #y) #kerr;)
            }
            SignalOp::SpectralSubtraction(_) => {
                return Err(unsupported(
                    "a stateful step goes through stateful_step".into(),
                ));
            }
            SignalOp::FftAutoScale => {
                return Err(unsupported(
                    "a graph op that lowering splits into steps".into(),
                ));
            }
            // An op another branch adds without a Rust emitter: refused by name.
            #[allow(unreachable_patterns)]
            other => {
                return Err(unsupported(format!(
                    "{} has no Rust emitter (C and the interpreter run it)",
                    other.name()
                )));
            }
        };
        Ok(quote! {
            #(#prelude)*
            #call
            #postlude
        })
    }
}

impl Writer<'_> {
    /// The stateful step of SignalFilterBankSpectralSubtraction: the noise
    /// estimate (`state`, the arena's persistent region) updated in place
    /// and copied to the output. `x0` is the data input, `out` the output.
    pub(crate) fn signal_stateful_call(
        &mut self,
        index: usize,
        op: &SignalOp,
        x0: &View,
        (out, out_elem): (&TokenStream, Elem),
        kerr: &TokenStream,
    ) -> Result<TokenStream, EmitError> {
        let unsupported = |why: String| EmitError::Unsupported {
            step: index,
            kernel: op.name(),
            why,
        };
        let step = &self.program.steps[index];
        let SignalOp::SpectralSubtraction(p) = op else {
            return Err(unsupported("is not a stateful signal op".into()));
        };
        let mut prelude = Vec::new();
        let in_bytes = step
            .inputs
            .first()
            .and_then(|&b| buffer_len(self.program, b))
            .ok_or_else(|| unsupported("the input's size".into()))?;
        let x = byte_input(0, x0, in_bytes, &mut prelude)
            .ok_or_else(|| unsupported(format!("the input is {:?}, not bytes", x0.elem)))?;
        let out_bytes = buffer_len(self.program, step.output)
            .ok_or_else(|| unsupported("the output's size".into()))?;
        let (y, postlude) = byte_output(out, out_elem, out_bytes, &mut prelude)
            .ok_or_else(|| unsupported(format!("the output is {out_elem:?}, not bytes")))?;
        let p = params_literal("signal_fft", p)?;
        Ok(quote! {
            #(#prelude)*
            kernels::signal_fft::spectral_subtraction_noise(&#p, #x, state, #y) #kerr;
            #postlude
        })
    }

    /// kiss_fftr's twiddle and super-twiddle tables for `fft_length` as
    /// `static`s of `[i16; 2]` pairs, written once per length; their names.
    fn rfft_tables(&mut self, fft_length: usize) -> (syn::Ident, syn::Ident) {
        let names = (
            format_ident!("RFFT_{}_TWIDDLES", fft_length),
            format_ident!("RFFT_{}_SUPER_TWIDDLES", fft_length),
        );
        if self.rfft_lengths.insert(fft_length) {
            let (tw, super_tw) = tinyq_ir::signal::rfft_tables(fft_length);
            for (name, table) in [(&names.0, tw), (&names.1, super_tw)] {
                let n = lit_usize(table.len());
                let pairs = table.iter().map(|[re, im]| {
                    let (re, im) = (Literal::i16_unsuffixed(*re), Literal::i16_unsuffixed(*im));
                    quote!([#re, #im])
                });
                let doc = format!(
                    " kiss_fftr's {fft_length}-point table: (cos, sin) pairs times 32767, rounded."
                );
                self.statics.push(quote! {
                    #[doc = #doc]
                    static #name: [[i16; 2]; #n] = [#(#pairs),*];
                });
            }
        }
        names
    }
}

/// Size in bytes of a buffer of the (verified) Program.
pub(crate) fn buffer_len(program: &Program, b: BufferRef) -> Option<usize> {
    match b {
        BufferRef::Input(i) => program.inputs.get(i).map(IoSpec::byte_len),
        BufferRef::Output(i) => program.outputs.get(i).map(IoSpec::byte_len),
        BufferRef::Const(i) => program.constants.get(i).map(Vec::len),
        BufferRef::Arena { size, .. } => Some(size),
    }
}

/// Input `k` as a byte slice expression: an `i8`/`u8` view as it is, a
/// typed model input copied into stack bytes (`bytes` long).
pub(crate) fn byte_input(
    k: usize,
    v: &View,
    bytes: usize,
    prelude: &mut Vec<TokenStream>,
) -> Option<TokenStream> {
    let expr = &v.expr;
    match v.elem {
        Elem::I8 | Elem::U8 => Some(quote!(#expr)),
        Elem::I16 | Elem::I32 | Elem::U32 | Elem::U64 => {
            let id = format_ident!("b{}", k);
            let (n, size) = (lit_usize(bytes), lit_usize(v.elem.size()));
            prelude.push(quote! {
                let mut #id = [0u8; #n];
                for (d, s) in #id.chunks_exact_mut(#size).zip(#expr) {
                    d.copy_from_slice(&s.to_le_bytes());
                }
            });
            Some(quote!(&#id[..]))
        }
        Elem::F32 => None,
    }
}

/// The output as a mutable byte slice expression and what copies it out:
/// the arena or a byte output as it is, a typed model output through stack
/// bytes.
pub(crate) fn byte_output(
    out: &TokenStream,
    elem: Elem,
    bytes: usize,
    prelude: &mut Vec<TokenStream>,
) -> Option<(TokenStream, TokenStream)> {
    match elem {
        Elem::I8 | Elem::U8 => Some((quote!(#out), quote!())),
        Elem::I16 | Elem::I32 | Elem::U32 | Elem::U64 => {
            let (n, size, ty) = (lit_usize(bytes), lit_usize(elem.size()), elem.ty());
            prelude.push(quote!(let mut y = [0u8; #n];));
            let post = quote! {
                for (d, s) in #out.iter_mut().zip(y.chunks_exact(#size)) {
                    let mut b = [0u8; #size];
                    b.copy_from_slice(s);
                    *d = #ty::from_le_bytes(b);
                }
            };
            Some((quote!(&mut y[..]), post))
        }
        Elem::F32 => None,
    }
}

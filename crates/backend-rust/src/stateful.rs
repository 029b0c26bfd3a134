//! Stateful steps (SVDF, LSTM, SignalFilterBankSpectralSubtraction's noise
//! estimate, `signal.rs`): the state is a slice of the arena's persistent
//! region, which starts the arena, borrowed mutably beside the step's input
//! and output in the scratch after it; and the API's `STATE_SIZE`, the
//! state's reset bytes and `reset`.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use tinyq_ir::{BufferRef, FloatKernel, Kernel};

use crate::{Elem, EmitError, Writer, lit_i32s, lit_usize, params_literal};

/// A float array as `[f32::from_bits(..), ..]` (exact, any value).
fn floats(values: &[f32]) -> TokenStream {
    let items = values.iter().map(|v| Literal::u32_unsuffixed(v.to_bits()));
    quote!([#(f32::from_bits(#items)),*])
}

/// An integer LSTM's parameters as a literal (its requantizations are a
/// nested struct, named by path).
fn lstm_int8_literal(p: &tinyq_kernels::lstm_int8::LstmInt8Params) -> TokenStream {
    let requant = |r: &tinyq_kernels::lstm_int8::Requant| {
        let (m, s) = (
            Literal::i32_unsuffixed(r.multiplier),
            Literal::i32_unsuffixed(r.shift),
        );
        quote!(kernels::lstm_int8::Requant { multiplier: #m, shift: #s })
    };
    let gates = |rs: &[tinyq_kernels::lstm_int8::Requant; 4]| {
        let items = rs.iter().map(requant);
        quote!([#(#items),*])
    };
    let (batches, time_steps, input_size, units) = (
        lit_usize(p.batches),
        lit_usize(p.time_steps),
        lit_usize(p.input_size),
        lit_usize(p.units),
    );
    let time_major = p.time_major;
    let i32s = Literal::i32_unsuffixed;
    let (input_offset, recurrent_offset, hidden_zero_point) = (
        i32s(p.input_offset),
        i32s(p.recurrent_offset),
        i32s(p.hidden_zero_point),
    );
    let (input_requant, recurrent_requant) = (gates(&p.input_requant), gates(&p.recurrent_requant));
    let (forget_cell, input_cell, hidden) = (
        requant(&p.forget_cell),
        requant(&p.input_cell),
        requant(&p.hidden),
    );
    let (tanh_m, tanh_s) = (i32s(p.cell_tanh_multiplier), i32s(p.cell_tanh_shift));
    let clip_cell = p.clip_cell;
    let cell_clip = Literal::i16_unsuffixed(p.cell_clip);
    quote! {
        kernels::lstm_int8::LstmInt8Params {
            batches: #batches,
            time_steps: #time_steps,
            input_size: #input_size,
            units: #units,
            time_major: #time_major,
            input_offset: #input_offset,
            recurrent_offset: #recurrent_offset,
            input_requant: #input_requant,
            recurrent_requant: #recurrent_requant,
            forget_cell: #forget_cell,
            input_cell: #input_cell,
            hidden: #hidden,
            hidden_zero_point: #hidden_zero_point,
            cell_tanh_multiplier: #tanh_m,
            cell_tanh_shift: #tanh_s,
            clip_cell: #clip_cell,
            cell_clip: #cell_clip,
        }
    }
}

impl Writer<'_> {
    /// `STATE_SIZE`, the arena's initial contents and `reset`, for the API.
    pub(crate) fn state_api(&self) -> (TokenStream, TokenStream, TokenStream) {
        let p = self.program;
        let size = lit_usize(p.state_size);
        let units = p.state_size / self.unit_bytes();
        let n = lit_usize(units);
        let (ty, init) = if self.arena == Elem::F32 {
            let values: Vec<f32> = p
                .state_init
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (quote!(f32), floats(&values))
        } else {
            let values = p
                .state_init
                .iter()
                .map(|&b| Literal::i8_unsuffixed(b as i8));
            (quote!(i8), quote!([#(#values),*]))
        };
        let consts = quote! {
            /// Bytes at the start of the arena that persist between calls:
            /// the state of the model's stateful ops (0 if it has none).
            pub const STATE_SIZE: usize = #size;
            /// The persistent state after a reset.
            const STATE_INIT: [#ty; #n] = #init;
        };
        let fill = quote! {
            let mut i = 0;
            while i < STATE_INIT.len() {
                plan[i] = STATE_INIT[i];
                i += 1;
            }
        };
        let reset = quote! {
            /// Puts the persistent state back to its initial value (TFLM's
            /// `reset()`): the next call computes what the model computes
            /// on a fresh arena; calls in between carry the state over.
            pub fn reset(arena: &mut Arena) {
                let plan = &mut arena.plan;
                #fill
            }
        };
        (consts, fill, reset)
    }

    /// A stateful step: `{ split the state off, then the scratch around the
    /// output; call the kernel }`.
    pub(crate) fn stateful_step(&mut self, index: usize) -> Result<TokenStream, EmitError> {
        let program = self.program;
        let step = &program.steps[index];
        let kname = step.kernel.name();
        let internal = |why: &str| {
            EmitError::Internal(format!(
                "step {index} ({kname}) {why}, which the verifier refuses"
            ))
        };
        let idx = lit_usize(index);
        let plan_err = quote!(Error::Plan { step: #idx });
        let unit = self.unit_bytes();
        let state_units = program.state_size / unit;
        let Some(&BufferRef::Arena { offset, size }) = step.inputs.get(1) else {
            return Err(internal("keeps its state outside the arena"));
        };
        let (su, s0, s1) = (
            lit_usize(state_units),
            lit_usize(offset / unit),
            lit_usize((offset + size) / unit),
        );
        let mut prelude = vec![
            quote!(let (state_region, scratch) = plan.split_at_mut_checked(#su).ok_or(#plan_err)?;),
            quote!(let state = state_region.get_mut(#s0..#s1).ok_or(#plan_err)?;),
        ];
        let scratch_at = |bytes: usize| (bytes / unit).checked_sub(state_units);
        let out_arena = match step.output {
            BufferRef::Arena { offset, size } => Some((
                scratch_at(offset).ok_or_else(|| internal("writes the state"))?,
                size / unit,
            )),
            BufferRef::Output(_) => None,
            _ => return Err(internal("writes an input or a constant")),
        };
        let out = match step.output {
            BufferRef::Output(i) => {
                let id = Self::out_ident(i);
                quote!(#id)
            }
            _ => quote!(out),
        };
        let want = if self.arena == Elem::F32 {
            Elem::F32
        } else {
            Elem::I8
        };
        let (x0, elem, used) = match step.inputs.first() {
            Some(&BufferRef::Input(i)) => {
                let id = Self::in_ident(i);
                (quote!(#id), self.inputs.get(i).copied(), None)
            }
            Some(&BufferRef::Arena { offset, size }) => {
                let at = scratch_at(offset).ok_or_else(|| internal("reads the state as data"))?;
                let n = size / unit;
                match out_arena {
                    None => {
                        let (a, b) = (lit_usize(at), lit_usize(at + n));
                        (
                            quote!(scratch.get(#a..#b).ok_or(#plan_err)?),
                            Some(want),
                            None,
                        )
                    }
                    Some((o, _)) if at + n <= o => {
                        let (a, b) = (lit_usize(at), lit_usize(at + n));
                        (
                            quote!(head.get(#a..#b).ok_or(#plan_err)?),
                            Some(want),
                            Some(true),
                        )
                    }
                    Some((o, s)) if at >= o + s => {
                        let (a, b) = (lit_usize(at - o - s), lit_usize(at + n - o - s));
                        (
                            quote!(tail.get(#a..#b).ok_or(#plan_err)?),
                            Some(want),
                            Some(false),
                        )
                    }
                    Some(_) => return Err(internal("reads bytes it writes")),
                }
            }
            _ => {
                return Err(EmitError::Unsupported {
                    step: index,
                    kernel: kname,
                    why: "its data input must be a model input or an arena buffer".into(),
                });
            }
        };
        let out_elem = match step.output {
            BufferRef::Output(i) => self.outputs.get(i).copied(),
            _ => Some(want),
        };
        // The signal op stages typed I/O through bytes (`signal.rs`).
        let signal = matches!(step.kernel, Kernel::Signal(_));
        if !signal && (elem != Some(want) || out_elem != Some(want)) {
            return Err(EmitError::Unsupported {
                step: index,
                kernel: kname,
                why: format!("needs {} data in and out", crate::elem_name(want)),
            });
        }
        if let Some((o, s)) = out_arena {
            let (a, b) = (lit_usize(o), lit_usize(s));
            let h = if used == Some(true) {
                quote!(head)
            } else {
                quote!(_)
            };
            let t = if used == Some(false) {
                quote!(tail)
            } else {
                quote!(_)
            };
            prelude.push(quote!(let (#h, out, #t) = split_out(scratch, #a, #b).ok_or(#plan_err)?;));
        } else {
            let unused = if step
                .inputs
                .first()
                .is_some_and(|b| matches!(b, BufferRef::Arena { .. }))
            {
                quote!()
            } else {
                quote!(let _ = scratch;)
            };
            prelude.push(unused);
        }
        let kerr = quote!(.map_err(|error| Error::Kernel { step: #idx, error })?);
        let feature = format_ident!("STEP_{}_FEATURE", index);
        let time = format_ident!("STEP_{}_TIME", index);
        let bias_id = format_ident!("STEP_{}_BIAS", index);
        let call = match &step.kernel {
            Kernel::Svdf { params, weights } => {
                let p = params_literal("svdf", params)?;
                let (nf, nt) = (
                    lit_usize(weights.feature.len()),
                    lit_usize(weights.time.len()),
                );
                let fv = weights.feature.iter().map(|&v| Literal::i8_unsuffixed(v));
                let tv = weights.time.iter().map(|&v| Literal::i16_unsuffixed(v));
                self.statics.push(quote! {
                    static #feature: [i8; #nf] = [#(#fv),*];
                    static #time: [i16; #nt] = [#(#tv),*];
                });
                let bias = match &weights.bias {
                    Some(b) => {
                        let (nb, bv) = (lit_usize(b.len()), lit_i32s(b));
                        self.statics
                            .push(quote!(static #bias_id: [i32; #nb] = #bv;));
                        quote!(Some(&#bias_id))
                    }
                    None => quote!(None),
                };
                quote! {
                    let p = #p;
                    kernels::svdf::svdf_int8(&p, #x0, &#feature, &#time, #bias, state.as_chunks_mut::<2>().0, #out) #kerr;
                }
            }
            Kernel::Float(FloatKernel::Svdf {
                params,
                activation,
                weights,
            }) => {
                let p = params_literal("svdf", params)?;
                let act = format_ident!("{}", format!("{activation:?}"));
                let (nf, nt) = (
                    lit_usize(weights.feature.len()),
                    lit_usize(weights.time.len()),
                );
                let (fv, tv) = (floats(&weights.feature), floats(&weights.time));
                self.statics.push(quote! {
                    static #feature: [f32; #nf] = #fv;
                    static #time: [f32; #nt] = #tv;
                });
                let bias = match &weights.bias {
                    Some(b) => {
                        let (nb, bv) = (lit_usize(b.len()), floats(b));
                        self.statics
                            .push(quote!(static #bias_id: [f32; #nb] = #bv;));
                        quote!(Some(&#bias_id))
                    }
                    None => quote!(None),
                };
                quote! {
                    let p = #p;
                    kernels::svdf::svdf_f32(&p, kernels::fixedpoint::Activation::#act, #x0, &#feature, &#time, #bias, state, #out) #kerr;
                }
            }
            Kernel::Float(FloatKernel::Lstm { params, weights }) => {
                let p = params_literal("lstm", params)?;
                let w = format_ident!("STEP_{}_WEIGHTS", index);
                let (n, wv) = (lit_usize(weights.len()), floats(weights));
                self.statics.push(quote!(static #w: [f32; #n] = #wv;));
                quote! {
                    let p = #p;
                    kernels::lstm::lstm_f32(&p, #x0, &#w, state, #out) #kerr;
                }
            }
            Kernel::Lstm { params, weights } => {
                let p = lstm_int8_literal(params);
                let w = format_ident!("STEP_{}_WEIGHTS", index);
                let b = format_ident!("STEP_{}_BIASES", index);
                let (nw, nb) = (
                    lit_usize(weights.weights.len()),
                    lit_usize(weights.biases.len()),
                );
                let wv = weights.weights.iter().map(|&v| Literal::i8_unsuffixed(v));
                let bv = lit_i32s(&weights.biases);
                self.statics.push(quote! {
                    static #w: [i8; #nw] = [#(#wv),*];
                    static #b: [i32; #nb] = #bv;
                });
                let hidden = lit_usize(params.state_values().unwrap_or(0));
                quote! {
                    let p = #p;
                    let (hidden, cell) = state.split_at_mut_checked(#hidden).ok_or(#plan_err)?;
                    kernels::lstm_int8::lstm_int8(&p, #x0, &#w, &#b, hidden, cell.as_chunks_mut::<2>().0, #out) #kerr;
                }
            }
            Kernel::Signal(op) => {
                let (Some(elem), Some(out_elem)) = (elem, out_elem) else {
                    return Err(internal("reads or writes a missing buffer"));
                };
                let x0 = crate::View { expr: x0, elem };
                self.signal_stateful_call(index, op, &x0, (&out, out_elem), &kerr)?
            }
            _ => return Err(internal("is not a stateful kernel")),
        };
        Ok(quote! {
            {
                #(#prelude)*
                #call
            }
        })
    }
}

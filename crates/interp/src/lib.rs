//! Runs a [`Program`] with `tinyq_kernels`, honouring its memory plan: every
//! intermediate buffer lives at its planned offset in one arena, so a wrong
//! plan shows up as wrong outputs in the tests.

mod float;
mod int16;

pub use float::execute_float;
pub use int16::execute_int16;
use tinyq_ir::kernel::{BinaryOp, Weights, WideWeights};
use tinyq_ir::{BufferRef, Kernel, Program, Step};
use tinyq_kernels::wide::{self, WideBias};
use tinyq_kernels::{KernelError, concat, conv, depthwise, elementwise, fully_connected};
use tinyq_kernels::{int8_math, lstm_int8, resize, svdf, transpose_conv};
use tinyq_kernels::{pad, pooling, quantize, reduce, slice, softmax, transpose};

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InterpError {
    #[error("expected {expected} input buffers, got {actual}")]
    InputCount { expected: usize, actual: usize },
    #[error("expected {expected} output buffers, got {actual}")]
    OutputCount { expected: usize, actual: usize },
    #[error("input {index} ({name:?}) holds {actual} bytes, expected {expected}")]
    InputSize {
        index: usize,
        name: String,
        expected: usize,
        actual: usize,
    },
    #[error("output {index} ({name:?}) holds {actual} bytes, expected {expected}")]
    OutputSize {
        index: usize,
        name: String,
        expected: usize,
        actual: usize,
    },
    #[error("step {step} ({kernel}): {source}")]
    Kernel {
        step: usize,
        kernel: &'static str,
        source: KernelError,
    },
    #[error("step {step} ({kernel}) refers to a buffer outside the program")]
    BadBuffer { step: usize, kernel: &'static str },
}

/// A Program with its arena.
#[derive(Debug)]
pub struct Interpreter<'p> {
    program: &'p Program,
    arena: Vec<u8>,
    /// With [`Interpreter::poisoned`]: per step, the arena ranges still to
    /// be read after it; every other byte is overwritten with garbage.
    live_after: Option<Vec<Vec<(usize, usize)>>>,
}

impl<'p> Interpreter<'p> {
    /// Allocates the arena the program's plan asks for, its persistent
    /// state reset.
    pub fn new(program: &'p Program) -> Self {
        let mut me = Interpreter {
            program,
            arena: vec![0; program.arena_size],
            live_after: None,
        };
        me.reset();
        me
    }

    /// Puts the persistent state back to its initial bytes (TFLM's
    /// `reset()`); invokes in between carry it from one to the next.
    pub fn reset(&mut self) {
        let init = &self.program.state_init;
        if let Some(state) = self.arena.get_mut(..init.len()) {
            state.copy_from_slice(init);
        }
    }

    /// An interpreter that, before the first step and after every step,
    /// overwrites every arena byte no later step reads before rewriting it
    /// (the dead bytes) with garbage: a plan that lets a buffer be
    /// overwritten while it is still live gives wrong outputs.
    pub fn poisoned(program: &'p Program) -> Self {
        let mut me = Interpreter::new(program);
        me.live_after = Some(tinyq_ir::liveness::live_after(program));
        me
    }

    fn poison(&mut self, after: Option<usize>) {
        let Some(live) = &self.live_after else {
            return;
        };
        let state = [(0, self.program.state_size.min(self.arena.len()))];
        let ranges: &[(usize, usize)] = match after {
            // Before the first step only the persistent state is live.
            None => &state,
            Some(s) => live.get(s).map_or(&[], Vec::as_slice),
        };
        let mut at = 0;
        let salt = after.map_or(0x5a, |s| (s as u8).wrapping_mul(37) ^ 0xa5);
        let fill = |from: usize, to: usize, arena: &mut [u8]| {
            for (k, b) in arena[from..to].iter_mut().enumerate() {
                *b = salt ^ (k as u8).wrapping_mul(101);
            }
        };
        for &(start, end) in ranges {
            fill(at, start, &mut self.arena);
            at = end;
        }
        let n = self.arena.len();
        fill(at, n, &mut self.arena);
    }

    /// Runs every step. Buffers hold the model's I/O dtypes, little-endian,
    /// row-major.
    pub fn invoke(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), InterpError> {
        self.invoke_observed(inputs, outputs, &mut |_, _, _| {})
    }

    /// [`Interpreter::invoke`], calling `observe(index, step, output bytes)`
    /// after each step (`tinyq run --trace`).
    pub fn invoke_observed(
        &mut self,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        observe: &mut dyn FnMut(usize, &Step, &[u8]),
    ) -> Result<(), InterpError> {
        let program = self.program;
        if inputs.len() != program.inputs.len() {
            return Err(InterpError::InputCount {
                expected: program.inputs.len(),
                actual: inputs.len(),
            });
        }
        if outputs.len() != program.outputs.len() {
            return Err(InterpError::OutputCount {
                expected: program.outputs.len(),
                actual: outputs.len(),
            });
        }
        for (index, (spec, buf)) in program.inputs.iter().zip(inputs).enumerate() {
            if buf.len() != spec.byte_len() {
                return Err(InterpError::InputSize {
                    index,
                    name: spec.name.clone(),
                    expected: spec.byte_len(),
                    actual: buf.len(),
                });
            }
        }
        for (index, (spec, buf)) in program.outputs.iter().zip(outputs.iter()).enumerate() {
            if buf.len() != spec.byte_len() {
                return Err(InterpError::OutputSize {
                    index,
                    name: spec.name.clone(),
                    expected: spec.byte_len(),
                    actual: buf.len(),
                });
            }
        }
        self.poison(None);
        for (index, step) in program.steps.iter().enumerate() {
            self.run_step(index, step, inputs, outputs)?;
            let written: &[u8] = match step.output {
                BufferRef::Output(i) => outputs.get(i).map_or(&[], |b| &**b),
                BufferRef::Arena { offset, size } => {
                    self.arena.get(offset..offset + size).unwrap_or(&[])
                }
                BufferRef::Input(_) | BufferRef::Const(_) => &[],
            };
            observe(index, step, written);
            self.poison(Some(index));
        }
        Ok(())
    }

    fn run_step(
        &mut self,
        index: usize,
        step: &Step,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
    ) -> Result<(), InterpError> {
        let kernel = step.kernel.name();
        let bad = || InterpError::BadBuffer {
            step: index,
            kernel,
        };
        if let Some(done) = self.run_chunks(index, step)? {
            return done.map_err(|source| InterpError::Kernel {
                step: index,
                kernel,
                source,
            });
        }
        // Inputs are copied out first: this keeps the borrow of the arena
        // simple. An output over its input (in place) is computed from the
        // copy, which is what reading each element before writing it gives.
        let mut data: Vec<Vec<u8>> = Vec::with_capacity(step.inputs.len());
        for &buf in &step.inputs {
            let bytes: &[u8] = match buf {
                BufferRef::Input(i) => inputs.get(i).copied().ok_or_else(bad)?,
                BufferRef::Output(i) => outputs.get(i).map(|b| &**b).ok_or_else(bad)?,
                BufferRef::Const(i) => self.program.constants.get(i).ok_or_else(bad)?,
                BufferRef::Arena { offset, size } => self
                    .arena
                    .get(offset..offset.checked_add(size).ok_or_else(bad)?)
                    .ok_or_else(bad)?,
            };
            data.push(bytes.to_vec());
        }
        let out: &mut [u8] = match step.output {
            BufferRef::Output(i) => outputs.get_mut(i).map(|b| &mut **b).ok_or_else(bad)?,
            BufferRef::Arena { offset, size } => {
                let end = offset.checked_add(size).ok_or_else(bad)?;
                self.arena.get_mut(offset..end).ok_or_else(bad)?
            }
            BufferRef::Input(_) | BufferRef::Const(_) => return Err(bad()),
        };
        let failed = |source| InterpError::Kernel {
            step: index,
            kernel,
            source,
        };
        let Some(k) = step.kernel.state_input() else {
            let ins: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            return execute(&step.kernel, &ins, out).map_err(failed);
        };
        // A stateful step updates its state (a copy here) in place; the
        // verifier keeps the state apart from the step's other buffers.
        let mut state = std::mem::take(data.get_mut(k).ok_or_else(bad)?);
        let ins: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        execute_stateful(&step.kernel, &ins, &mut state, out).map_err(failed)?;
        let Some(&BufferRef::Arena { offset, size }) = step.inputs.get(k) else {
            return Err(bad());
        };
        self.arena
            .get_mut(offset..offset.checked_add(size).ok_or_else(bad)?)
            .ok_or_else(bad)?
            .copy_from_slice(&state);
        Ok(())
    }
}

impl Interpreter<'_> {
    /// A step whose output overlaps its input in the arena, other than in
    /// place, run as the Rust backend runs it: one call per
    /// [`tinyq_ir::overlap::Chunk`], each reading its input bytes from the
    /// arena as the earlier calls left them. `None` for any other step.
    #[allow(clippy::type_complexity)] // Option<Result<..>>: not this case / the kernel's answer
    fn run_chunks(
        &mut self,
        index: usize,
        step: &Step,
    ) -> Result<Option<Result<(), KernelError>>, InterpError> {
        use tinyq_ir::overlap::{ChunkParams, chunk_params};
        let (
            Some(&BufferRef::Arena {
                offset: input,
                size: in_len,
            }),
            BufferRef::Arena {
                offset: output,
                size: out_len,
            },
        ) = (step.inputs.first(), step.output)
        else {
            return Ok(None);
        };
        if input >= output + out_len || output >= input + in_len || input == output {
            return Ok(None);
        }
        let Some(chunks) = tinyq_ir::overlap::access(&step.kernel, 0)
            .and_then(|a| a.sized(in_len, out_len))
            .and_then(|a| a.chunks(input, output))
        else {
            return Ok(Some(Err(KernelError::InvalidParams(
                "output overlaps the input against the kernel's access order",
            ))));
        };
        let bad = || InterpError::BadBuffer {
            step: index,
            kernel: step.kernel.name(),
        };
        let weights = match &step.kernel {
            Kernel::Conv2D { weights, .. }
            | Kernel::DepthwiseConv2D { weights, .. }
            | Kernel::FullyConnected { weights, .. } => Some(weights),
            _ => None,
        };
        for chunk in chunks {
            let x = as_i8(
                self.arena
                    .get(input + chunk.in_start..input + chunk.in_start + chunk.in_len)
                    .ok_or_else(bad)?,
            );
            let out = self
                .arena
                .get_mut(output + chunk.out_start..output + chunk.out_start + chunk.out_len)
                .ok_or_else(bad)?;
            let Some(params) = chunk_params(&step.kernel, &chunk) else {
                return Ok(Some(Err(KernelError::InvalidParams(
                    "this kernel cannot run in parts",
                ))));
            };
            let w = |f: &dyn Fn(&Weights, &mut [i8]) -> Result<(), KernelError>,
                     y: &mut [i8]|
             -> Result<(), KernelError> {
                match weights {
                    Some(w) => f(w, y),
                    None => Err(KernelError::InvalidParams("missing weights")),
                }
            };
            let r = run_i8(&[], out, |_, y| match &params {
                ChunkParams::FullyConnected(p) => w(
                    &|wt, y| {
                        fully_connected::fully_connected(
                            p,
                            &x,
                            &wt.filter,
                            wt.bias.as_deref(),
                            &wt.multipliers,
                            &wt.shifts,
                            y,
                        )
                    },
                    y,
                ),
                ChunkParams::Conv2D(p) => w(
                    &|wt, y| {
                        conv::conv2d(
                            p,
                            &x,
                            &wt.filter,
                            wt.bias.as_deref(),
                            &wt.multipliers,
                            &wt.shifts,
                            y,
                        )
                    },
                    y,
                ),
                ChunkParams::Depthwise(p) => w(
                    &|wt, y| {
                        depthwise::depthwise_conv2d(
                            p,
                            &x,
                            &wt.filter,
                            wt.bias.as_deref(),
                            &wt.multipliers,
                            &wt.shifts,
                            y,
                        )
                    },
                    y,
                ),
                ChunkParams::Pool(p) => {
                    if matches!(step.kernel, Kernel::MaxPool(_)) {
                        pooling::max_pool(p, &x, y)
                    } else {
                        pooling::average_pool(p, &x, y)
                    }
                }
            });
            if r.is_err() {
                return Ok(Some(r));
            }
        }
        Ok(Some(Ok(())))
    }
}

fn as_i8(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}

fn first<'a>(ins: &[&'a [u8]]) -> Result<&'a [u8], KernelError> {
    ins.first()
        .copied()
        .ok_or(KernelError::InvalidParams("missing input buffer"))
}

fn second<'a>(ins: &[&'a [u8]]) -> Result<&'a [u8], KernelError> {
    ins.get(1)
        .copied()
        .ok_or(KernelError::InvalidParams("missing second input buffer"))
}

/// Runs an int8 → int8 kernel through i8 views of the byte buffers.
fn run_i8(
    input: &[u8],
    out: &mut [u8],
    f: impl FnOnce(&[i8], &mut [i8]) -> Result<(), KernelError>,
) -> Result<(), KernelError> {
    let input = as_i8(input);
    let mut result = vec![0i8; out.len()];
    f(&input, &mut result)?;
    for (o, r) in out.iter_mut().zip(result) {
        *o = r as u8;
    }
    Ok(())
}

fn conv_like(
    w: &Weights,
    input: &[u8],
    out: &mut [u8],
    f: impl FnOnce(&[i8], &[i8], Option<&[i32]>, &[i32], &[i32], &mut [i8]) -> Result<(), KernelError>,
) -> Result<(), KernelError> {
    run_i8(input, out, |x, y| {
        f(
            x,
            &w.filter,
            w.bias.as_deref(),
            &w.multipliers,
            &w.shifts,
            y,
        )
    })
}

fn as_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// The int16 values of a byte buffer, little-endian (the verifier saw an
/// even length for every int16 operand).
fn int16s(bytes: &[u8]) -> &[[u8; 2]] {
    bytes.as_chunks::<2>().0
}

fn int16s_mut(bytes: &mut [u8]) -> &mut [[u8; 2]] {
    bytes.as_chunks_mut::<2>().0
}

/// A 16x8 conv-like kernel on int16 byte views.
fn wide_like(
    w: &WideWeights,
    input: &[u8],
    out: &mut [u8],
    f: impl FnOnce(
        &[[u8; 2]],
        &[i8],
        WideBias<'_>,
        &[i32],
        &[i32],
        &mut [[u8; 2]],
    ) -> Result<(), KernelError>,
) -> Result<(), KernelError> {
    f(
        int16s(input),
        &w.filter,
        w.bias.as_wide(),
        &w.multipliers,
        &w.shifts,
        int16s_mut(out),
    )
}

/// QUANTIZE float32 → int8/uint8 into raw bytes.
pub fn quantize_floats(
    params: &quantize::QuantParams,
    unsigned: bool,
    floats: &[f32],
    out: &mut [u8],
) -> Result<(), KernelError> {
    if unsigned {
        quantize::quantize_f32_to_u8(params, floats, out)
    } else {
        let mut signed = vec![0i8; out.len()];
        quantize::quantize_f32_to_i8(params, floats, &mut signed)?;
        for (o, s) in out.iter_mut().zip(signed) {
            *o = s as u8;
        }
        Ok(())
    }
}

/// Executes one stateful kernel ([`Kernel::state_input`]) on byte buffers:
/// `ins` are its inputs with the state's place left empty, `state` its
/// state, updated in place.
pub fn execute_stateful(
    kernel: &Kernel,
    ins: &[&[u8]],
    state: &mut [u8],
    out: &mut [u8],
) -> Result<(), KernelError> {
    match kernel {
        Kernel::Svdf { params, weights } => {
            let input: Vec<i8> = first(ins)?.iter().map(|&b| b as i8).collect();
            let mut result = vec![0i8; out.len()];
            let (pairs, rest) = state.as_chunks_mut::<2>();
            if !rest.is_empty() {
                return Err(KernelError::InvalidParams(
                    "an int16 state of an odd byte count",
                ));
            }
            svdf::svdf_int8(
                params,
                &input,
                &weights.feature,
                &weights.time,
                weights.bias.as_deref(),
                pairs,
                &mut result,
            )?;
            for (o, v) in out.iter_mut().zip(result) {
                *o = v as u8;
            }
            Ok(())
        }
        Kernel::Lstm { params, weights } => {
            let input: Vec<i8> = first(ins)?.iter().map(|&b| b as i8).collect();
            let values = params.state_values().unwrap_or(0);
            let (hidden_bytes, cell) =
                state
                    .split_at_mut_checked(values)
                    .ok_or(KernelError::InvalidParams(
                        "an LSTM state smaller than its hidden state",
                    ))?;
            let mut hidden: Vec<i8> = hidden_bytes.iter().map(|&b| b as i8).collect();
            let (pairs, rest) = cell.as_chunks_mut::<2>();
            if !rest.is_empty() {
                return Err(KernelError::InvalidParams(
                    "an int16 cell state of an odd byte count",
                ));
            }
            let mut result = vec![0i8; out.len()];
            lstm_int8::lstm_int8(
                params,
                &input,
                &weights.weights,
                &weights.biases,
                &mut hidden,
                pairs,
                &mut result,
            )?;
            for (o, v) in hidden_bytes.iter_mut().zip(hidden) {
                *o = v as u8;
            }
            for (o, v) in out.iter_mut().zip(result) {
                *o = v as u8;
            }
            Ok(())
        }
        Kernel::Float(k) => float::execute_float_stateful(k, ins, state, out),
        Kernel::Signal(op) => op.run_stateful(ins, state, out),
        _ => Err(KernelError::InvalidParams("not a stateful kernel")),
    }
}

/// Executes one kernel on byte buffers.
pub fn execute(kernel: &Kernel, ins: &[&[u8]], out: &mut [u8]) -> Result<(), KernelError> {
    match kernel {
        Kernel::Conv2D { params, weights } => {
            conv_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                conv::conv2d(params, x, f, b, m, s, y)
            })
        }
        Kernel::DepthwiseConv2D { params, weights } => {
            conv_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                depthwise::depthwise_conv2d(params, x, f, b, m, s, y)
            })
        }
        Kernel::FullyConnected { params, weights } => {
            conv_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                fully_connected::fully_connected(params, x, f, b, m, s, y)
            })
        }
        Kernel::AveragePool(p) => run_i8(first(ins)?, out, |x, y| pooling::average_pool(p, x, y)),
        Kernel::MaxPool(p) => run_i8(first(ins)?, out, |x, y| pooling::max_pool(p, x, y)),
        Kernel::Binary { op, broadcast } => {
            let b = as_i8(second(ins)?);
            run_i8(first(ins)?, out, |a, y| match (op, broadcast) {
                (BinaryOp::Add(p), None) => elementwise::add(p, a, &b, y),
                (BinaryOp::Sub(p), None) => elementwise::sub(p, a, &b, y),
                (BinaryOp::Mul(p), None) => elementwise::mul(p, a, &b, y),
                (BinaryOp::Maximum, None) => elementwise::maximum(a, &b, y),
                (BinaryOp::Minimum, None) => elementwise::minimum(a, &b, y),
                (BinaryOp::Add(p), Some(s)) => {
                    elementwise::add_broadcast(p, &s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::Sub(p), Some(s)) => {
                    elementwise::sub_broadcast(p, &s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::Mul(p), Some(s)) => {
                    elementwise::mul_broadcast(p, &s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::Maximum, Some(s)) => {
                    elementwise::maximum_broadcast(&s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::Minimum, Some(s)) => {
                    elementwise::minimum_broadcast(&s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::Prelu(p), None) => elementwise::prelu(p, a, &b, y),
                (BinaryOp::Prelu(p), Some(s)) => {
                    elementwise::prelu_broadcast(p, &s.shape1, a, &s.shape2, &b, &s.out_shape, y)
                }
                (BinaryOp::SquaredDifference(p), None) => {
                    int8_math::squared_difference(p, a, &b, y)
                }
                (BinaryOp::SquaredDifference(p), Some(s)) => {
                    int8_math::squared_difference_broadcast(
                        p,
                        &s.shape1,
                        a,
                        &s.shape2,
                        &b,
                        &s.out_shape,
                        y,
                    )
                }
            })
        }
        Kernel::Softmax(p) => run_i8(first(ins)?, out, |x, y| softmax::softmax(p, x, y)),
        Kernel::Lut { table } => {
            let input = first(ins)?;
            if input.len() != out.len() || table.len() != 256 {
                return Err(KernelError::BufferLength {
                    what: "lut output",
                    expected: input.len(),
                    actual: out.len(),
                });
            }
            for (o, &x) in out.iter_mut().zip(input) {
                *o = table[usize::from(x)];
            }
            Ok(())
        }
        Kernel::DequantizeLut { table } => {
            let input = first(ins)?;
            if out.len() != input.len() * 4 || table.len() != 256 {
                return Err(KernelError::BufferLength {
                    what: "dequantize output",
                    expected: input.len() * 4,
                    actual: out.len(),
                });
            }
            for (o, &x) in out.chunks_exact_mut(4).zip(input) {
                o.copy_from_slice(&table[usize::from(x)].to_le_bytes());
            }
            Ok(())
        }
        Kernel::Quantize { params, unsigned } => {
            let floats = as_f32(first(ins)?);
            quantize_floats(params, *unsigned, &floats, out)
        }
        Kernel::Mean(p) => run_i8(first(ins)?, out, |x, y| reduce::mean(p, x, y)),
        Kernel::Pad(p) => run_i8(first(ins)?, out, |x, y| pad::pad(p, x, y)),
        Kernel::Concat(p) => {
            let parts: Vec<Vec<i8>> = ins.iter().map(|b| as_i8(b)).collect();
            let views: Vec<&[i8]> = parts.iter().map(Vec::as_slice).collect();
            run_i8(&[], out, |_, y| concat::concat(p, &views, y))
        }
        Kernel::Transpose(p) => run_i8(first(ins)?, out, |x, y| transpose::transpose(p, x, y)),
        Kernel::Gather { params, indices } => run_i8(first(ins)?, out, |x, y| {
            tinyq_kernels::gather::gather(params, indices, x, y)
        }),
        Kernel::StridedSlice(p) => run_i8(first(ins)?, out, |x, y| slice::strided_slice(p, x, y)),
        Kernel::BatchMatMul(p) => {
            let rhs = as_i8(second(ins)?);
            run_i8(first(ins)?, out, |lhs, y| {
                tinyq_kernels::batch_matmul::batch_matmul_i8(p, lhs, &rhs, y)
            })
        }
        Kernel::ResizeBilinear(p) => {
            run_i8(first(ins)?, out, |x, y| resize::resize_bilinear(p, x, y))
        }
        Kernel::ResizeNearest(p) => {
            run_i8(first(ins)?, out, |x, y| resize::resize_nearest(p, x, y))
        }
        Kernel::TransposeConv { params, weights } => {
            conv_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                transpose_conv::transpose_conv(params, x, f, b, m, s, y)
            })
        }
        Kernel::Conv2D16x8 { params, weights } => {
            wide_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                wide::conv2d_16x8(params, x, f, b, m, s, y)
            })
        }
        Kernel::DepthwiseConv2D16x8 { params, weights } => {
            wide_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                wide::depthwise_conv2d_16x8(params, x, f, b, m, s, y)
            })
        }
        Kernel::FullyConnected16x8 { params, weights } => {
            wide_like(weights, first(ins)?, out, |x, f, b, m, s, y| {
                wide::fully_connected_16x8(params, x, f, b, m, s, y)
            })
        }
        Kernel::QuantizeI16 { params } => {
            let floats = as_f32(first(ins)?);
            quantize::quantize_f32_to_i16(params, &floats, int16s_mut(out))
        }
        Kernel::DequantizeI16 { params } => {
            let mut floats = vec![0f32; out.len() / 4];
            quantize::dequantize_i16(params, int16s(first(ins)?), &mut floats)?;
            for (o, v) in out.chunks_exact_mut(4).zip(floats) {
                o.copy_from_slice(&v.to_le_bytes());
            }
            Ok(())
        }
        Kernel::Copy => {
            let input = first(ins)?;
            if input.len() != out.len() {
                return Err(KernelError::BufferLength {
                    what: "copy output",
                    expected: input.len(),
                    actual: out.len(),
                });
            }
            out.copy_from_slice(input);
            Ok(())
        }
        Kernel::Float(k) => execute_float(k, ins, out),
        Kernel::Int16(k) => execute_int16(k, ins, out),
        Kernel::Signal(op) => op.run(ins, out),
        Kernel::Int32(k) => k.run(ins, out),
        Kernel::Svdf { .. } | Kernel::Lstm { .. } => Err(KernelError::InvalidParams(
            "a stateful kernel runs through execute_stateful",
        )),
    }
}

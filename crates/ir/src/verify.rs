//! The Program verifier: everything a backend relies on, checked without
//! running a kernel.
//!
//! [`verify`] accepts a [`Program`] only if every step could run as
//! written: its buffers exist and lie inside the Program, it writes neither
//! a model input nor a constant, its output overlaps an input only where the
//! kernel's declared access order ([`crate::overlap`]) overwrites each input
//! byte after its last read, its kernel
//! accepts its parameters, weights and buffer sizes (through the same
//! `check` functions the `crates/kernels` kernels run first, so the verifier
//! accepts exactly what they accept), and every arena byte it reads was
//! written by one earlier step and not overwritten since. The backends call
//! it once and emit code that checks nothing at run time.

use tinyq_kernels::KernelError;
use tinyq_kernels::elementwise::{check_broadcast, check_same_shape};
use tinyq_kernels::wide;

use crate::kernel::{BinaryOp, Kernel, Weights};
use crate::program::{BufferRef, IoSpec, Program, Step};
use crate::tensor::DType;

/// Alignment of the arena itself, and of every buffer the planner places
/// (16 bytes). Buffers inside another one (the inputs of an in-place
/// concatenation) may start anywhere, so the verifier requires only what
/// each element type needs: 4 bytes for float32, none for 8-bit data.
pub const ARENA_ALIGN: usize = 16;

/// Alignment float32 data needs in the arena.
pub const F32_ALIGN: usize = 4;

/// Entries of a lookup table (one per 8-bit input value).
pub const TABLE_LEN: usize = 256;

/// Why a Program cannot run as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("step {step} ({kernel}): {problem}")]
    Step {
        step: usize,
        kernel: &'static str,
        problem: Problem,
    },
    #[error("the persistent state region is malformed: {0}")]
    State(&'static str),
    #[error("model output {index} ({name:?}) is never written by any step")]
    OutputNeverWritten { index: usize, name: String },
}

/// One of a step's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// Data input `k`, in the kernel's argument order.
    Input(usize),
    /// The buffer the step writes.
    Output,
}

impl std::fmt::Display for Operand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operand::Input(k) => write!(f, "input {k}"),
            Operand::Output => f.write_str("the output"),
        }
    }
}

/// What is wrong with one step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("has {actual} data inputs; the kernel takes {expected}")]
    InputCount { expected: usize, actual: usize },
    #[error("{operand} is model input {index}, but the program has {count}")]
    NoSuchInput {
        operand: Operand,
        index: usize,
        count: usize,
    },
    #[error("{operand} is model output {index}, but the program has {count}")]
    NoSuchOutput {
        operand: Operand,
        index: usize,
        count: usize,
    },
    #[error("{operand} is constant {index}, but the program has {count}")]
    NoSuchConstant {
        operand: Operand,
        index: usize,
        count: usize,
    },
    #[error("{operand} has a shape whose byte size overflows")]
    SizeOverflow { operand: Operand },
    #[error(
        "{operand} is arena bytes {offset}..{offset}+{size}, past the end of the {arena_size}-byte arena"
    )]
    OutsideArena {
        operand: Operand,
        offset: usize,
        size: usize,
        arena_size: usize,
    },
    #[error("{operand} starts at arena offset {offset}, which is not a multiple of {align}")]
    Misaligned {
        operand: Operand,
        offset: usize,
        align: usize,
    },
    #[error("writes {0:?}, which is read-only (a model input or a constant)")]
    WritesReadOnly(BufferRef),
    #[error(
        "{operand} touches the persistent state, which only a stateful kernel's state input may"
    )]
    TouchesState { operand: Operand },
    #[error("{operand} is the kernel's state but lies outside the persistent state region")]
    StateOutsideRegion { operand: Operand },
    #[error(
        "its output overlaps input {input} in a way the kernel's declared access order does not \
         allow (ir::overlap)"
    )]
    OutputOverlapsInput { input: usize },
    #[error("{operand} is a {actual} model tensor; the kernel needs {expected}")]
    WrongDtype {
        operand: Operand,
        expected: &'static str,
        actual: DType,
    },
    #[error("{operand} holds {actual} bytes; the kernel needs {expected}")]
    WrongSize {
        operand: Operand,
        expected: usize,
        actual: usize,
    },
    #[error("{operand} holds {actual} bytes, not a whole number of float32 values")]
    NotFloats { operand: Operand, actual: usize },
    #[error("{operand} holds {actual} bytes, not a whole number of int16 values")]
    NotInt16 { operand: Operand, actual: usize },
    #[error("its lookup table has {len} entries, not {TABLE_LEN}")]
    TableLength { len: usize },
    #[error("the kernel refuses its parameters or buffers: {0}")]
    Kernel(KernelError),
    #[error("{operand} reads arena bytes {start}..{end}, which no earlier step wrote")]
    ReadBeforeWrite {
        operand: Operand,
        start: usize,
        end: usize,
    },
    #[error(
        "{operand} reads arena bytes {start}..{end}, but no single earlier step wrote all of them \
         (step {writer} wrote part)"
    )]
    PartlyWritten {
        operand: Operand,
        start: usize,
        end: usize,
        writer: usize,
    },
    #[error(
        "{operand} reads arena bytes {start}..{end} written by step {writer}, but step {clobber} \
         overwrote some of them in between"
    )]
    Overwritten {
        operand: Operand,
        start: usize,
        end: usize,
        writer: usize,
        clobber: usize,
    },
    #[error("{operand} reads model output {index} before any step wrote it")]
    OutputReadBeforeWrite { operand: Operand, index: usize },
}

impl From<KernelError> for Problem {
    fn from(e: KernelError) -> Self {
        Problem::Kernel(e)
    }
}

/// Checks `program` without running it; see the module documentation.
pub fn verify(program: &Program) -> Result<(), VerifyError> {
    if program.state_size > program.arena_size {
        return Err(VerifyError::State("larger than the arena"));
    }
    if !program.state_size.is_multiple_of(ARENA_ALIGN) {
        return Err(VerifyError::State("its size is not a multiple of 16"));
    }
    if program.state_init.len() != program.state_size {
        return Err(VerifyError::State(
            "its initial bytes do not match its size",
        ));
    }
    let mut written = Written::new(program.outputs.len());
    for (index, step) in program.steps.iter().enumerate() {
        verify_step(program, step, &written).map_err(|problem| VerifyError::Step {
            step: index,
            kernel: step.kernel.name(),
            problem,
        })?;
        written.record(index, step.output);
    }
    for (index, io) in program.outputs.iter().enumerate() {
        if written.outputs[index].is_none() {
            return Err(VerifyError::OutputNeverWritten {
                index,
                name: io.name.clone(),
            });
        }
    }
    Ok(())
}

/// A buffer a step names, resolved against the Program.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    /// Size in bytes.
    len: usize,
    /// The element type of a model input or output (arena bytes and
    /// constants are untyped).
    dtype: Option<DType>,
    /// `start..end` in the arena.
    arena: Option<(usize, usize)>,
}

fn resolve(program: &Program, b: BufferRef, operand: Operand) -> Result<Resolved, Problem> {
    let io = |io: &IoSpec| -> Result<Resolved, Problem> {
        let len = io
            .shape
            .iter()
            .try_fold(io.dtype.size(), |n, &d| n.checked_mul(d))
            .ok_or(Problem::SizeOverflow { operand })?;
        Ok(Resolved {
            len,
            dtype: Some(io.dtype),
            arena: None,
        })
    };
    match b {
        BufferRef::Input(index) => program
            .inputs
            .get(index)
            .ok_or(Problem::NoSuchInput {
                operand,
                index,
                count: program.inputs.len(),
            })
            .and_then(io),
        BufferRef::Output(index) => program
            .outputs
            .get(index)
            .ok_or(Problem::NoSuchOutput {
                operand,
                index,
                count: program.outputs.len(),
            })
            .and_then(io),
        BufferRef::Const(index) => program
            .constants
            .get(index)
            .map(|c| Resolved {
                len: c.len(),
                dtype: None,
                arena: None,
            })
            .ok_or(Problem::NoSuchConstant {
                operand,
                index,
                count: program.constants.len(),
            }),
        BufferRef::Arena { offset, size } => {
            let end = offset
                .checked_add(size)
                .filter(|&end| end <= program.arena_size)
                .ok_or(Problem::OutsideArena {
                    operand,
                    offset,
                    size,
                    arena_size: program.arena_size,
                })?;
            Ok(Resolved {
                len: size,
                dtype: None,
                arena: Some((offset, end)),
            })
        }
    }
}

fn verify_step(program: &Program, step: &Step, written: &Written) -> Result<(), Problem> {
    let ins = step
        .inputs
        .iter()
        .enumerate()
        .map(|(k, &b)| resolve(program, b, Operand::Input(k)))
        .collect::<Result<Vec<_>, _>>()?;
    let out = resolve(program, step.output, Operand::Output)?;
    if matches!(step.output, BufferRef::Input(_) | BufferRef::Const(_)) {
        return Err(Problem::WritesReadOnly(step.output));
    }
    let state = step.kernel.state_input();
    let touches = |r: &Resolved| r.arena.is_some_and(|(s, e)| program.touches_state(s, e));
    if touches(&out) {
        return Err(Problem::TouchesState {
            operand: Operand::Output,
        });
    }
    for (k, r) in ins.iter().enumerate() {
        let operand = Operand::Input(k);
        if state == Some(k) {
            if r.arena.is_none_or(|(_, e)| e > program.state_size) {
                return Err(Problem::StateOutsideRegion { operand });
            }
        } else if touches(r) {
            return Err(Problem::TouchesState { operand });
        }
    }
    for (k, (&b, r)) in step.inputs.iter().zip(&ins).enumerate() {
        let overlaps = match (r.arena, out.arena) {
            (Some((s1, e1)), Some((s2, e2))) => s1 < e2 && s2 < e1,
            _ => b == step.output,
        };
        if overlaps {
            let allowed = match (r.arena, out.arena) {
                (Some((input, _)), Some((output, _))) => crate::overlap::access(&step.kernel, k)
                    .and_then(|a| a.sized(r.len, out.len))
                    .is_some_and(|a| a.allows(input, output)),
                _ => false,
            };
            if !allowed {
                return Err(Problem::OutputOverlapsInput { input: k });
            }
        }
    }
    verify_kernel(&step.kernel, &ins, &out)?;
    // The state is always written: by the reset, then by its own kernel.
    for (k, (&b, r)) in step.inputs.iter().zip(&ins).enumerate() {
        if state != Some(k) {
            written.check_read(Operand::Input(k), b, r)?;
        }
    }
    Ok(())
}

/// What a kernel needs of a model input or output it touches.
#[derive(Debug, Clone, Copy)]
enum Elem {
    /// int8 data.
    I8,
    /// Any 8-bit code (int8 or uint8), as tables read them.
    Byte,
    /// Anything: a copy moves bytes.
    Any,
    /// float32 data.
    F32,
    /// int16 data (16x8 kernels).
    I16,
}

fn check_dtype(operand: Operand, r: &Resolved, want: Elem) -> Result<(), Problem> {
    let align = match want {
        Elem::F32 => F32_ALIGN,
        Elem::I16 => 2,
        _ => 1,
    };
    if let Some((offset, _)) = r.arena
        && offset % align != 0
    {
        return Err(Problem::Misaligned {
            operand,
            offset,
            align,
        });
    }
    let Some(actual) = r.dtype else {
        return Ok(());
    };
    let (ok, expected) = match want {
        Elem::I8 => (actual == DType::I8, "int8"),
        Elem::Byte => (actual.is_8bit(), "int8 or uint8"),
        Elem::F32 => (actual == DType::F32, "float32"),
        Elem::I16 => (actual == DType::I16, "int16"),
        Elem::Any => (true, "any type"),
    };
    if ok {
        Ok(())
    } else {
        Err(Problem::WrongDtype {
            operand,
            expected,
            actual,
        })
    }
}

/// The per-kernel checks: operand count and element types, then the
/// kernel's own parameter and length checks on these buffer sizes.
fn verify_kernel(kernel: &Kernel, ins: &[Resolved], out: &Resolved) -> Result<(), Problem> {
    let arity = match kernel {
        Kernel::Float(k) => k.arity(),
        Kernel::Int16(k) => Some(k.arity()),
        Kernel::Signal(op) => Some(op.arity()),
        Kernel::Int32(k) => Some(k.arity()),
        Kernel::Binary { .. }
        | Kernel::BatchMatMul(_)
        | Kernel::Svdf { .. }
        | Kernel::Lstm { .. } => Some(2),
        Kernel::Concat(_) => None,
        _ => Some(1),
    };
    if let Some(expected) = arity
        && ins.len() != expected
    {
        return Err(Problem::InputCount {
            expected,
            actual: ins.len(),
        });
    }
    let (in_elem, out_elem) = match kernel {
        Kernel::Lut { .. } => (Elem::Byte, Elem::Byte),
        Kernel::Copy => (Elem::Any, Elem::Any),
        Kernel::DequantizeLut { .. } => (Elem::Byte, Elem::F32),
        Kernel::Quantize { .. } => (Elem::F32, Elem::Byte),
        Kernel::Float(_) => (Elem::F32, Elem::F32),
        Kernel::Conv2D16x8 { .. }
        | Kernel::DepthwiseConv2D16x8 { .. }
        | Kernel::FullyConnected16x8 { .. } => (Elem::I16, Elem::I16),
        Kernel::QuantizeI16 { .. } => (Elem::F32, Elem::I16),
        Kernel::DequantizeI16 { .. } => (Elem::I16, Elem::F32),
        Kernel::Int16(k) => {
            let elem = |d| if d == DType::I8 { Elem::I8 } else { Elem::I16 };
            let (i, o) = k.dtypes();
            (elem(i), elem(o))
        }
        // Each operand's own type, checked with the sizes below.
        Kernel::Signal(_) | Kernel::Int32(_) => (Elem::Any, Elem::Any),
        _ => (Elem::I8, Elem::I8),
    };
    for (k, r) in ins.iter().enumerate() {
        check_dtype(Operand::Input(k), r, in_elem)?;
    }
    check_dtype(Operand::Output, out, out_elem)?;
    // Every kernel has at least one input but concat (checked by arity).
    let n = |k: usize| ins.get(k).map_or(0, |r| r.len);
    let o = out.len;
    match kernel {
        Kernel::Conv2D { params, weights } => {
            let w = weight_lens(weights);
            params.check(n(0), w.0, w.1, w.2, &weights.shifts, o)?;
        }
        Kernel::DepthwiseConv2D { params, weights } => {
            let w = weight_lens(weights);
            params.check(n(0), w.0, w.1, w.2, &weights.shifts, o)?;
        }
        Kernel::FullyConnected { params, weights } => {
            let w = weight_lens(weights);
            params.check(n(0), w.0, w.1, w.2, &weights.shifts, o)?;
        }
        Kernel::AveragePool(p) => p.check_average(n(0), o)?,
        Kernel::MaxPool(p) => p.check(n(0), o)?,
        Kernel::Binary { op, broadcast } => {
            match op {
                BinaryOp::Add(p) | BinaryOp::Sub(p) => p.check()?,
                BinaryOp::Mul(p) => p.check()?,
                BinaryOp::Prelu(p) => p.check()?,
                BinaryOp::SquaredDifference(p) => p.check()?,
                BinaryOp::Maximum | BinaryOp::Minimum => {}
            }
            match broadcast {
                None => check_same_shape(n(0), n(1), o)?,
                Some(s) => check_broadcast(&s.shape1, n(0), &s.shape2, n(1), &s.out_shape, o)?,
            }
        }
        Kernel::Softmax(p) => p.check(n(0), o)?,
        Kernel::Lut { table } => {
            check_table(table.len())?;
            check_bytes(n(0), o)?;
        }
        Kernel::DequantizeLut { table } => {
            check_table(table.len())?;
            let expected = n(0).checked_mul(4).ok_or(Problem::SizeOverflow {
                operand: Operand::Input(0),
            })?;
            if o != expected {
                return Err(Problem::WrongSize {
                    operand: Operand::Output,
                    expected,
                    actual: o,
                });
            }
        }
        Kernel::Quantize { params, .. } => {
            if n(0) % 4 != 0 {
                return Err(Problem::NotFloats {
                    operand: Operand::Input(0),
                    actual: n(0),
                });
            }
            params.check_quantize(n(0) / 4, o)?;
        }
        Kernel::Mean(p) => p.check(n(0), o)?,
        Kernel::Pad(p) => p.check(n(0), o)?,
        Kernel::Concat(p) => p.check(ins.iter().map(|r| r.len), o)?,
        Kernel::Transpose(p) => p.check(n(0), o)?,
        Kernel::Gather { params, indices } => params.check(indices, n(0), o)?,
        Kernel::BatchMatMul(p) => p.check(n(0), n(1), o)?,
        Kernel::StridedSlice(p) => {
            p.check(n(0), o)?;
        }
        Kernel::Copy => check_bytes(n(0), o)?,
        Kernel::Float(k) => {
            let floats = |operand: Operand, bytes: usize| {
                if bytes.is_multiple_of(4) {
                    Ok(bytes / 4)
                } else {
                    Err(Problem::NotFloats {
                        operand,
                        actual: bytes,
                    })
                }
            };
            let ins = ins
                .iter()
                .enumerate()
                .map(|(k, r)| floats(Operand::Input(k), r.len))
                .collect::<Result<Vec<_>, _>>()?;
            k.check(&ins, floats(Operand::Output, o)?)?;
        }
        Kernel::ResizeBilinear(p) => p.check(n(0), o)?,
        Kernel::ResizeNearest(p) => p.check(n(0), o)?,
        Kernel::TransposeConv { params, weights } => {
            let w = weight_lens(weights);
            params.check(n(0), w.0, w.1, w.2, &weights.shifts, o)?;
        }
        Kernel::Signal(op) => {
            let (types, out_type) = op.dtypes();
            let operands = ins
                .iter()
                .enumerate()
                .map(|(k, r)| (Operand::Input(k), r, types.get(k).copied()))
                .chain([(Operand::Output, out, Some(out_type))]);
            for (operand, r, want) in operands {
                if let (Some(actual), Some(want)) = (r.dtype, want)
                    && actual != want
                {
                    return Err(Problem::WrongDtype {
                        operand,
                        expected: want.name(),
                        actual,
                    });
                }
            }
            let lens: Vec<usize> = ins.iter().map(|r| r.len).collect();
            op.check(&lens, o)?;
        }
        Kernel::Int32(k) => {
            let (in_type, out_type) = k.dtypes();
            let operands = ins
                .iter()
                .enumerate()
                .map(|(k, r)| (Operand::Input(k), r, in_type))
                .chain([(Operand::Output, out, out_type)]);
            for (operand, r, want) in operands {
                if let Some(actual) = r.dtype
                    && actual != want
                {
                    return Err(Problem::WrongDtype {
                        operand,
                        expected: want.name(),
                        actual,
                    });
                }
            }
            let lens: Vec<usize> = ins.iter().map(|r| r.len).collect();
            k.check(&lens, o)?;
        }
        Kernel::Int16(k) => {
            let (in_type, out_type) = k.dtypes();
            let elems = |operand: Operand, bytes: usize, dtype: DType| {
                if dtype == DType::I16 {
                    int16s(operand, bytes)
                } else {
                    Ok(bytes)
                }
            };
            let ins = ins
                .iter()
                .enumerate()
                .map(|(k, r)| elems(Operand::Input(k), r.len, in_type))
                .collect::<Result<Vec<_>, _>>()?;
            k.check(&ins, elems(Operand::Output, o, out_type)?)?;
        }
        Kernel::Conv2D16x8 { params, weights } => {
            let lens = [
                int16s(Operand::Input(0), n(0))?,
                weights.filter.len(),
                int16s(Operand::Output, o)?,
            ];
            wide::check_conv2d_16x8(
                params,
                lens,
                weights.bias.as_wide().entries(),
                &weights.multipliers,
                &weights.shifts,
            )?;
        }
        Kernel::DepthwiseConv2D16x8 { params, weights } => {
            let lens = [
                int16s(Operand::Input(0), n(0))?,
                weights.filter.len(),
                int16s(Operand::Output, o)?,
            ];
            wide::check_depthwise_16x8(
                params,
                lens,
                weights.bias.as_wide(),
                &weights.multipliers,
                &weights.shifts,
            )?;
        }
        Kernel::FullyConnected16x8 { params, weights } => {
            let lens = [
                int16s(Operand::Input(0), n(0))?,
                weights.filter.len(),
                int16s(Operand::Output, o)?,
            ];
            wide::check_fully_connected_16x8(
                params,
                lens,
                weights.bias.as_wide().entries(),
                &weights.multipliers,
                &weights.shifts,
            )?;
        }
        Kernel::Svdf { params, weights } => params.check(
            n(0),
            weights.feature.len(),
            weights.time.len(),
            weights.bias.as_ref().map(Vec::len),
            int16s(Operand::Input(1), n(1))?,
            o,
        )?,
        Kernel::Lstm { params, weights } => {
            // The state block: int8 hidden values then int16 cell values.
            let values = params.state_values().unwrap_or(0);
            let (hidden, cell) = if Some(n(1)) == params.state_bytes() {
                (values, values)
            } else {
                (n(1), 0)
            };
            params.check(
                n(0),
                weights.weights.len(),
                weights.biases.len(),
                hidden,
                cell,
                o,
            )?;
        }
        Kernel::QuantizeI16 { params } => {
            if n(0) % 4 != 0 {
                return Err(Problem::NotFloats {
                    operand: Operand::Input(0),
                    actual: n(0),
                });
            }
            params.check_quantize(n(0) / 4, int16s(Operand::Output, o)?)?;
        }
        Kernel::DequantizeI16 { params } => {
            let expected =
                int16s(Operand::Input(0), n(0))?
                    .checked_mul(4)
                    .ok_or(Problem::SizeOverflow {
                        operand: Operand::Input(0),
                    })?;
            params.check_dequantize()?;
            if o != expected {
                return Err(Problem::WrongSize {
                    operand: Operand::Output,
                    expected,
                    actual: o,
                });
            }
        }
    }
    Ok(())
}

/// The number of int16 values in `bytes`, which must be even.
fn int16s(operand: Operand, bytes: usize) -> Result<usize, Problem> {
    if bytes.is_multiple_of(2) {
        Ok(bytes / 2)
    } else {
        Err(Problem::NotInt16 {
            operand,
            actual: bytes,
        })
    }
}

/// Filter, bias (if any) and multiplier lengths, as the kernels take them.
fn weight_lens(w: &Weights) -> (usize, Option<usize>, usize) {
    (
        w.filter.len(),
        w.bias.as_ref().map(Vec::len),
        w.multipliers.len(),
    )
}

/// A byte-for-byte kernel's output holds as many bytes as its input.
fn check_bytes(input: usize, output: usize) -> Result<(), Problem> {
    if input == output {
        Ok(())
    } else {
        Err(Problem::WrongSize {
            operand: Operand::Output,
            expected: input,
            actual: output,
        })
    }
}

fn check_table(len: usize) -> Result<(), Problem> {
    if len == TABLE_LEN {
        Ok(())
    } else {
        Err(Problem::TableLength { len })
    }
}

/// What earlier steps wrote: arena ranges in step order, and the last
/// writer of each model output.
#[derive(Debug)]
struct Written {
    /// `(step, start, end)` of every non-empty arena write, in step order.
    arena: Vec<(usize, usize, usize)>,
    outputs: Vec<Option<usize>>,
}

impl Written {
    fn new(outputs: usize) -> Self {
        Written {
            arena: Vec::new(),
            outputs: vec![None; outputs],
        }
    }

    fn record(&mut self, step: usize, b: BufferRef) {
        match b {
            BufferRef::Arena { offset, size } if size > 0 => {
                self.arena.push((step, offset, offset + size));
            }
            BufferRef::Output(i) => {
                if let Some(slot) = self.outputs.get_mut(i) {
                    *slot = Some(step);
                }
            }
            _ => {}
        }
    }

    /// A read is sound when its bytes are the unclobbered output of one
    /// step, or of several steps that each wrote a part of it (the inputs of
    /// an in-place concatenation): walking the range, the last step to
    /// write each byte either wrote the whole range or wrote only inside it.
    /// A last write that straddles the range's edge is another buffer that
    /// overwrote part of it.
    fn check_read(&self, operand: Operand, b: BufferRef, r: &Resolved) -> Result<(), Problem> {
        if let BufferRef::Output(index) = b {
            return match self.outputs.get(index) {
                Some(Some(_)) => Ok(()),
                _ => Err(Problem::OutputReadBeforeWrite { operand, index }),
            };
        }
        let Some((start, end)) = r.arena else {
            return Ok(());
        };
        let touches = |&&(_, s, e): &&(usize, usize, usize)| s < end && start < e;
        let Some(&(any_writer, _, _)) = self.arena.iter().rev().find(touches) else {
            if start == end {
                return Ok(());
            }
            return Err(Problem::ReadBeforeWrite {
                operand,
                start,
                end,
            });
        };
        let covers = |&&(_, s, e): &&(usize, usize, usize)| s <= start && end <= e;
        let mut at = start;
        while at < end {
            let holds = |&&(_, s, e): &&(usize, usize, usize)| s <= at && at < e;
            let Some(&(last, s, e)) = self.arena.iter().rev().find(holds) else {
                return Err(Problem::PartlyWritten {
                    operand,
                    start,
                    end,
                    writer: any_writer,
                });
            };
            let whole = s <= start && end <= e;
            let inside = start <= s && e <= end;
            if whole {
                // One step's output: sound unless a later step touched it.
                if last == any_writer {
                    return Ok(());
                }
                return Err(Problem::Overwritten {
                    operand,
                    start,
                    end,
                    writer: last,
                    clobber: any_writer,
                });
            }
            if !inside {
                return Err(
                    match self.arena.iter().rev().filter(|w| w.0 < last).find(covers) {
                        Some(&(writer, _, _)) => Problem::Overwritten {
                            operand,
                            start,
                            end,
                            writer,
                            clobber: last,
                        },
                        None => Problem::PartlyWritten {
                            operand,
                            start,
                            end,
                            writer: last,
                        },
                    },
                );
            }
            at = e;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Broadcast;
    use crate::program::Provenance;
    use tinyq_kernels::conv::Conv2DParams;
    use tinyq_kernels::elementwise::MulParams;
    use tinyq_kernels::fully_connected::FullyConnectedParams;
    use tinyq_kernels::pooling::PoolParams;
    use tinyq_kernels::quantize::QuantParams;

    fn io(shape: &[usize], dtype: DType) -> IoSpec {
        IoSpec {
            name: "t".to_string(),
            shape: shape.to_vec(),
            dtype,
            quant: None,
        }
    }

    fn step(kernel: Kernel, inputs: Vec<BufferRef>, output: BufferRef) -> Step {
        Step {
            kernel,
            inputs,
            output,
            provenance: Provenance::default(),
        }
    }

    fn arena(offset: usize, size: usize) -> BufferRef {
        BufferRef::Arena { offset, size }
    }

    /// An int8 SVDF step (1 batch, 2 inputs, 2 filters of rank 1, memory
    /// 2) reading `input`, keeping its state at `state`.
    fn svdf_program(input: BufferRef, state: BufferRef, state_size: usize) -> Program {
        let params = tinyq_kernels::svdf::SvdfParams {
            batches: 1,
            input_size: 2,
            num_filters: 2,
            memory_size: 2,
            rank: 1,
            input_zero_point: 0,
            state_zero_point: 0,
            output_zero_point: 0,
            feature_multiplier: 1 << 30,
            feature_shift: 0,
            output_multiplier: 1 << 30,
            output_shift: 0,
        };
        let weights = crate::kernel::SvdfWeights {
            feature: vec![1; 4],
            time: vec![1; 4],
            bias: Some(vec![0; 2]),
        };
        Program {
            steps: vec![step(
                Kernel::Svdf { params, weights },
                vec![input, state],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[1, 2], DType::I8)],
            outputs: vec![io(&[1, 2], DType::I8)],
            constants: Vec::new(),
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 32,
            state_size,
            state_init: vec![0; state_size],
        }
    }

    #[test]
    fn the_state_region_belongs_to_its_kernel() {
        let state = arena(0, 8);
        assert_eq!(
            verify(&svdf_program(BufferRef::Input(0), state, 16)),
            Ok(())
        );
        // The state outside the region.
        assert_eq!(
            problem(&svdf_program(BufferRef::Input(0), arena(16, 8), 16)),
            (
                0,
                Problem::StateOutsideRegion {
                    operand: Operand::Input(1)
                }
            )
        );
        // Data read from the region.
        assert_eq!(
            problem(&svdf_program(arena(8, 2), state, 16)),
            (
                0,
                Problem::TouchesState {
                    operand: Operand::Input(0)
                }
            )
        );
        // A plain step writing into it.
        let mut p = svdf_program(BufferRef::Input(0), state, 16);
        p.steps.insert(
            0,
            step(Kernel::Copy, vec![BufferRef::Input(0)], arena(8, 2)),
        );
        assert_eq!(
            problem(&p),
            (
                0,
                Problem::TouchesState {
                    operand: Operand::Output
                }
            )
        );
        // A malformed region.
        let mut p = svdf_program(BufferRef::Input(0), state, 16);
        p.state_size = 8;
        assert!(matches!(verify(&p), Err(VerifyError::State(_))));
        p.state_size = 16;
        p.state_init.pop();
        assert!(matches!(verify(&p), Err(VerifyError::State(_))));
    }

    /// `in0 [8] -> copy -> a[0..8] -> copy -> a[16..24] -> copy -> out0 [8]`.
    fn chain() -> Program {
        Program {
            steps: vec![
                step(Kernel::Copy, vec![BufferRef::Input(0)], arena(0, 8)),
                step(Kernel::Copy, vec![arena(0, 8)], arena(16, 8)),
                step(Kernel::Copy, vec![arena(16, 8)], BufferRef::Output(0)),
            ],
            inputs: vec![io(&[8], DType::I8)],
            outputs: vec![io(&[8], DType::I8)],
            constants: vec![vec![0; 8]],
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 32,
            state_size: 0,
            state_init: Vec::new(),
        }
    }

    fn problem(p: &Program) -> (usize, Problem) {
        match verify(p) {
            Err(VerifyError::Step { step, problem, .. }) => (step, problem),
            other => panic!("expected a step error, got {other:?}"),
        }
    }

    /// A 1x3x3x2 -> 1x2x2x4 conv with a 2x2 filter.
    fn conv_params() -> Conv2DParams {
        Conv2DParams {
            batches: 1,
            input_height: 3,
            input_width: 3,
            input_channels: 2,
            filter_height: 2,
            filter_width: 2,
            filter_input_channels: 2,
            output_height: 2,
            output_width: 2,
            output_channels: 4,
            stride_height: 1,
            stride_width: 1,
            dilation_height: 1,
            dilation_width: 1,
            pad_top: 0,
            pad_left: 0,
            input_offset: 0,
            pad_value: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    fn conv_weights() -> Weights {
        Weights {
            filter: vec![1; 4 * 2 * 2 * 2],
            bias: Some(vec![0; 4]),
            multipliers: vec![1 << 30; 4],
            shifts: vec![0; 4],
        }
    }

    fn conv_program(weights: Weights) -> Program {
        Program {
            steps: vec![step(
                Kernel::Conv2D {
                    params: conv_params(),
                    weights,
                },
                vec![BufferRef::Input(0)],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[1, 3, 3, 2], DType::I8)],
            outputs: vec![io(&[1, 2, 2, 4], DType::I8)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        }
    }

    #[test]
    fn accepts_a_sound_program() {
        assert_eq!(verify(&chain()), Ok(()));
        assert_eq!(verify(&conv_program(conv_weights())), Ok(()));
    }

    #[test]
    fn error_names_step_and_kernel() {
        let mut p = chain();
        p.steps[1].inputs[0] = arena(0, 4);
        let e = verify(&p).expect_err("size mismatch");
        let text = e.to_string();
        assert!(text.starts_with("step 1 (copy): "), "{text}");
        assert_eq!(
            text,
            "step 1 (copy): the output holds 8 bytes; the kernel needs 4"
        );
    }

    #[test]
    fn rejects_missing_buffers() {
        let mut p = chain();
        p.steps[0].inputs[0] = BufferRef::Input(3);
        assert!(matches!(
            problem(&p),
            (
                0,
                Problem::NoSuchInput {
                    index: 3,
                    count: 1,
                    ..
                }
            )
        ));
        let mut p = chain();
        p.steps[2].output = BufferRef::Output(1);
        assert!(matches!(
            problem(&p),
            (2, Problem::NoSuchOutput { index: 1, .. })
        ));
        let mut p = chain();
        p.steps[0].inputs[0] = BufferRef::Const(5);
        assert!(matches!(
            problem(&p),
            (0, Problem::NoSuchConstant { index: 5, .. })
        ));
    }

    #[test]
    fn rejects_arena_ranges_outside_or_misaligned() {
        let mut p = chain();
        p.steps[1].output = arena(32, 8);
        assert!(matches!(
            problem(&p),
            (1, Problem::OutsideArena { offset: 32, .. })
        ));
        let mut p = chain();
        p.steps[1].output = arena(usize::MAX - 2, 8);
        assert!(matches!(problem(&p), (1, Problem::OutsideArena { .. })));
        // 8-bit data may start anywhere (an in-place concatenation's part)...
        let mut p = chain();
        p.steps[1].output = arena(19, 8);
        p.steps[2].inputs = vec![arena(19, 8)];
        assert_eq!(verify(&p), Ok(()));
    }

    #[test]
    fn rejects_misaligned_float_data() {
        // ...float32 data needs 4-byte alignment.
        let p = Program {
            steps: vec![
                step(
                    Kernel::DequantizeLut {
                        table: vec![0.0; TABLE_LEN],
                    },
                    vec![BufferRef::Input(0)],
                    arena(2, 16),
                ),
                step(Kernel::Copy, vec![arena(2, 16)], BufferRef::Output(0)),
            ],
            inputs: vec![io(&[4], DType::I8)],
            outputs: vec![io(&[4], DType::F32)],
            constants: Vec::new(),
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 32,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(
            problem(&p),
            (
                0,
                Problem::Misaligned {
                    operand: Operand::Output,
                    offset: 2,
                    align: F32_ALIGN
                }
            )
        );
    }

    #[test]
    fn rejects_size_overflow_in_io_shapes() {
        let mut p = chain();
        p.inputs[0].shape = vec![usize::MAX, 2];
        assert!(matches!(problem(&p), (0, Problem::SizeOverflow { .. })));
    }

    #[test]
    fn rejects_writing_inputs_and_constants() {
        let mut p = chain();
        p.steps[0].output = BufferRef::Input(0);
        p.steps[0].inputs[0] = BufferRef::Const(0);
        assert_eq!(
            problem(&p),
            (0, Problem::WritesReadOnly(BufferRef::Input(0)))
        );
        let mut p = chain();
        p.steps[0].output = BufferRef::Const(0);
        assert_eq!(
            problem(&p),
            (0, Problem::WritesReadOnly(BufferRef::Const(0)))
        );
    }

    #[test]
    fn rejects_output_overlapping_an_input() {
        let mut p = chain();
        // Reads a[0..8], writes a[0..8].
        p.steps[1].output = arena(0, 8);
        assert_eq!(problem(&p), (1, Problem::OutputOverlapsInput { input: 0 }));
        // Partial overlap.
        let mut p = chain();
        p.arena_size = 48;
        p.constants[0] = vec![0; 24];
        p.steps[0].inputs[0] = BufferRef::Const(0);
        p.steps[0].output = arena(0, 24);
        p.steps[1].inputs[0] = arena(0, 24);
        p.steps[1].output = arena(16, 24);
        p.steps[2].inputs[0] = arena(16, 24);
        assert_eq!(problem(&p), (1, Problem::OutputOverlapsInput { input: 0 }));
        // The same model output read and written.
        let mut p = chain();
        p.steps.push(step(
            Kernel::Copy,
            vec![BufferRef::Output(0)],
            BufferRef::Output(0),
        ));
        assert_eq!(problem(&p), (3, Problem::OutputOverlapsInput { input: 0 }));
    }

    /// `in0 [64] -> copy -> a[32..96] -> fc 8x8 -> a[out..out+64] -> copy -> out0`.
    fn overlapping_fc(out: usize) -> Program {
        let params = FullyConnectedParams {
            batches: 8,
            accum_depth: 8,
            output_depth: 8,
            input_offset: 0,
            filter_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        };
        let fc = Kernel::FullyConnected {
            params,
            weights: Weights {
                filter: vec![0; 64],
                bias: None,
                multipliers: vec![1 << 30],
                shifts: vec![0],
            },
        };
        Program {
            steps: vec![
                step(Kernel::Copy, vec![BufferRef::Input(0)], arena(32, 64)),
                step(fc, vec![arena(32, 64)], arena(out, 64)),
                step(Kernel::Copy, vec![arena(out, 64)], BufferRef::Output(0)),
            ],
            inputs: vec![io(&[64], DType::I8)],
            outputs: vec![io(&[64], DType::I8)],
            constants: Vec::new(),
            arena_size: 112,
            arena_lower_bound: 128,
            arena_overlap_bound: 96,
            state_size: 0,
            state_init: Vec::new(),
        }
    }

    #[test]
    fn accepts_an_overlap_the_access_order_allows() {
        // Blocks of 4 rows of 8 bytes: the output may start 32 bytes below.
        assert_eq!(
            crate::overlap::access(&overlapping_fc(0).steps[1].kernel, 0).map(|a| a.min_distance()),
            Some(32)
        );
        assert_eq!(verify(&overlapping_fc(0)), Ok(()));
        // Disjoint is fine too.
        let mut p = overlapping_fc(0);
        p.steps[0].output = arena(64, 64);
        p.steps[1].inputs[0] = arena(64, 64);
        p.arena_size = 128;
        assert_eq!(verify(&p), Ok(()));
        // A table op exactly in place.
        let mut p = chain();
        p.steps[1] = step(
            Kernel::Lut {
                table: vec![0; 256],
            },
            vec![arena(0, 8)],
            arena(0, 8),
        );
        p.steps[2].inputs[0] = arena(0, 8);
        assert_eq!(verify(&p), Ok(()));
    }

    #[test]
    fn rejects_an_overlap_too_close_or_against_the_access_order() {
        // 16 bytes too close: a row written over input still to be read.
        assert_eq!(
            problem(&overlapping_fc(16)),
            (1, Problem::OutputOverlapsInput { input: 0 })
        );
        // The output above the input: forward order overwrites later rows.
        let mut p = overlapping_fc(0);
        p.steps[0].output = arena(0, 64);
        p.steps[1].inputs[0] = arena(0, 64);
        p.steps[1].output = arena(32, 64);
        p.steps[2].inputs[0] = arena(32, 64);
        assert_eq!(problem(&p), (1, Problem::OutputOverlapsInput { input: 0 }));
        // A table op shifted by one byte.
        let mut p = chain();
        p.steps[1] = step(
            Kernel::Lut {
                table: vec![0; 256],
            },
            vec![arena(0, 8)],
            arena(1, 8),
        );
        p.steps[2].inputs[0] = arena(1, 8);
        assert_eq!(problem(&p), (1, Problem::OutputOverlapsInput { input: 0 }));
        // An allowed overlap, but a later step still reads the input.
        let mut p = overlapping_fc(0);
        p.steps.push(step(
            Kernel::Copy,
            vec![arena(32, 64)],
            BufferRef::Output(0),
        ));
        assert!(matches!(
            problem(&p),
            (
                3,
                Problem::Overwritten {
                    writer: 0,
                    clobber: 1,
                    ..
                }
            )
        ));
    }

    #[test]
    fn rejects_wrong_input_count() {
        let mut p = chain();
        p.steps[1].inputs.push(arena(0, 8));
        assert_eq!(
            problem(&p),
            (
                1,
                Problem::InputCount {
                    expected: 1,
                    actual: 2
                }
            )
        );
    }

    #[test]
    fn rejects_wrong_io_dtypes() {
        let mut p = chain();
        p.steps[1].kernel = Kernel::Lut {
            table: vec![0; 256],
        };
        p.steps[1].output = BufferRef::Output(0);
        p.outputs[0] = io(&[2], DType::F32);
        p.steps.truncate(2);
        assert!(matches!(
            problem(&p),
            (
                1,
                Problem::WrongDtype {
                    actual: DType::F32,
                    ..
                }
            )
        ));
        let mut p = conv_program(conv_weights());
        p.inputs[0].dtype = DType::U8;
        assert!(matches!(problem(&p), (0, Problem::WrongDtype { .. })));
    }

    #[test]
    fn rejects_wrong_conv_sizes() {
        // Input one element short.
        let mut p = conv_program(conv_weights());
        p.inputs[0].shape = vec![1, 3, 3, 1];
        assert!(matches!(
            problem(&p),
            (
                0,
                Problem::Kernel(KernelError::BufferLength {
                    what: "input",
                    expected: 18,
                    actual: 9
                })
            )
        ));
        // Output of the wrong size.
        let mut p = conv_program(conv_weights());
        p.outputs[0].shape = vec![1, 2, 2, 3];
        assert!(matches!(
            problem(&p),
            (
                0,
                Problem::Kernel(KernelError::BufferLength { what: "output", .. })
            )
        ));
        type Spoil = fn(&mut Weights);
        let cases: [(Spoil, &str); 4] = [
            (|w| w.filter.truncate(15), "filter"),
            (|w| w.bias = Some(vec![0; 3]), "bias"),
            (|w| w.multipliers.push(1), "out_multiplier"),
            (|w| w.shifts.truncate(1), "out_shift"),
        ];
        for (spoil, what) in cases {
            let mut w = conv_weights();
            spoil(&mut w);
            let (_, got) = problem(&conv_program(w));
            assert!(
                matches!(got, Problem::Kernel(KernelError::BufferLength { what: w, .. }) if w == what),
                "{what}: {got:?}"
            );
        }
        // Values the kernel refuses: a shift out of range, a bad stride.
        let mut w = conv_weights();
        w.shifts[2] = 40;
        assert!(matches!(
            problem(&conv_program(w)).1,
            Problem::Kernel(KernelError::InvalidParams(_))
        ));
        let mut p = conv_program(conv_weights());
        if let Kernel::Conv2D { params, .. } = &mut p.steps[0].kernel {
            params.stride_width = 0;
        }
        assert!(matches!(
            problem(&p).1,
            Problem::Kernel(KernelError::InvalidParams(_))
        ));
    }

    #[test]
    fn fully_connected_takes_one_or_per_channel_multipliers() {
        let params = FullyConnectedParams {
            batches: 1,
            accum_depth: 4,
            output_depth: 3,
            input_offset: 0,
            filter_offset: 0,
            output_offset: 0,
            act_min: -128,
            act_max: 127,
        };
        let program = |multipliers: usize, shifts: usize| Program {
            steps: vec![step(
                Kernel::FullyConnected {
                    params,
                    weights: Weights {
                        filter: vec![0; 12],
                        bias: None,
                        multipliers: vec![1 << 30; multipliers],
                        shifts: vec![0; shifts],
                    },
                },
                vec![BufferRef::Input(0)],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[1, 4], DType::I8)],
            outputs: vec![io(&[1, 3], DType::I8)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&program(1, 1)), Ok(()));
        assert_eq!(verify(&program(3, 3)), Ok(()));
        assert!(verify(&program(2, 2)).is_err());
        assert!(verify(&program(3, 1)).is_err());
    }

    #[test]
    fn rejects_an_average_pool_window_in_the_padding() {
        let p = PoolParams {
            batches: 1,
            input_height: 2,
            input_width: 2,
            channels: 1,
            filter_height: 1,
            filter_width: 1,
            output_height: 2,
            output_width: 2,
            stride_height: 2,
            stride_width: 2,
            pad_top: 1,
            pad_left: 0,
            act_min: -128,
            act_max: 127,
        };
        let program = |kernel| Program {
            steps: vec![step(
                kernel,
                vec![BufferRef::Input(0)],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[1, 2, 2, 1], DType::I8)],
            outputs: vec![io(&[1, 2, 2, 1], DType::I8)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        };
        // Max pool yields -128 there; average pool refuses, as TFLM does.
        assert_eq!(verify(&program(Kernel::MaxPool(p))), Ok(()));
        assert!(matches!(
            problem(&program(Kernel::AveragePool(p))).1,
            Problem::Kernel(KernelError::InvalidParams(_))
        ));
    }

    #[test]
    fn rejects_binary_shapes_that_do_not_broadcast() {
        let mul = BinaryOp::Mul(MulParams {
            input1_offset: 0,
            input2_offset: 0,
            output_offset: 0,
            output_multiplier: 1 << 30,
            output_shift: 0,
            act_min: -128,
            act_max: 127,
        });
        let program = |broadcast, n1: usize, n2: usize, no: usize| Program {
            steps: vec![step(
                Kernel::Binary { op: mul, broadcast },
                vec![BufferRef::Input(0), BufferRef::Input(1)],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[n1], DType::I8), io(&[n2], DType::I8)],
            outputs: vec![io(&[no], DType::I8)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&program(None, 6, 6, 6)), Ok(()));
        assert!(matches!(
            problem(&program(None, 6, 5, 6)).1,
            Problem::Kernel(KernelError::BufferLength { what: "input2", .. })
        ));
        let b = |s1: [usize; 2], s2: [usize; 2], so: [usize; 2]| {
            let pad = |s: [usize; 2]| [1, 1, 1, 1, s[0], s[1]];
            Some(Broadcast {
                shape1: pad(s1),
                shape2: pad(s2),
                out_shape: pad(so),
            })
        };
        assert_eq!(verify(&program(b([2, 3], [1, 3], [2, 3]), 6, 3, 6)), Ok(()));
        // The output shape is not the broadcast of the inputs.
        assert!(matches!(
            problem(&program(b([2, 3], [1, 3], [3, 2]), 6, 3, 6)).1,
            Problem::Kernel(KernelError::InvalidParams(_))
        ));
        // The second input is not the length of its shape.
        assert!(matches!(
            problem(&program(b([2, 3], [1, 3], [2, 3]), 6, 4, 6)).1,
            Problem::Kernel(KernelError::BufferLength { what: "input2", .. })
        ));
    }

    #[test]
    fn a_same_shape_binary_op_may_write_over_either_input() {
        let mul = BinaryOp::Mul(MulParams {
            input1_offset: 0,
            input2_offset: 0,
            output_offset: 0,
            output_multiplier: 1 << 30,
            output_shift: 0,
            act_min: -128,
            act_max: 127,
        });
        // a[0..8] and a[16..24] written, multiplied into `out`, then copied out.
        let program = |out: BufferRef, broadcast: Option<Broadcast>| Program {
            steps: vec![
                step(Kernel::Copy, vec![BufferRef::Input(0)], arena(0, 8)),
                step(Kernel::Copy, vec![BufferRef::Input(0)], arena(16, 8)),
                step(
                    Kernel::Binary { op: mul, broadcast },
                    vec![arena(0, 8), arena(16, 8)],
                    out,
                ),
                step(Kernel::Copy, vec![out], BufferRef::Output(0)),
            ],
            inputs: vec![io(&[8], DType::I8)],
            outputs: vec![io(&[8], DType::I8)],
            constants: Vec::new(),
            arena_size: 32,
            arena_lower_bound: 32,
            arena_overlap_bound: 16,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&program(arena(0, 8), None)), Ok(()));
        assert_eq!(verify(&program(arena(16, 8), None)), Ok(()));
        // Shifted by one byte: element i would overwrite input element i + 1.
        assert_eq!(
            problem(&program(arena(15, 8), None)),
            (2, Problem::OutputOverlapsInput { input: 1 })
        );
        // A broadcasting kernel walks its inputs in another order.
        let same = Some(Broadcast {
            shape1: [1, 1, 1, 1, 1, 8],
            shape2: [1, 1, 1, 1, 1, 8],
            out_shape: [1, 1, 1, 1, 1, 8],
        });
        assert_eq!(
            problem(&program(arena(0, 8), same)),
            (2, Problem::OutputOverlapsInput { input: 0 })
        );
    }

    #[test]
    fn rejects_bad_tables_and_float_sizes() {
        let mut p = chain();
        p.steps[1].kernel = Kernel::Lut {
            table: vec![0; 255],
        };
        assert_eq!(problem(&p), (1, Problem::TableLength { len: 255 }));

        // Dequantize: 8 bytes in, 32 bytes (8 floats) out.
        let dequant = |table: usize, out_len: usize| Program {
            steps: vec![step(
                Kernel::DequantizeLut {
                    table: vec![0.0; table],
                },
                vec![BufferRef::Input(0)],
                BufferRef::Output(0),
            )],
            inputs: vec![io(&[8], DType::I8)],
            outputs: vec![io(&[out_len], DType::F32)],
            constants: Vec::new(),
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&dequant(256, 8)), Ok(()));
        assert_eq!(problem(&dequant(16, 8)).1, Problem::TableLength { len: 16 });
        assert_eq!(
            problem(&dequant(256, 7)).1,
            Problem::WrongSize {
                operand: Operand::Output,
                expected: 32,
                actual: 28
            }
        );

        // Quantize: floats in (a constant here), one byte per float out.
        let direct = |in_bytes: usize, out_len: usize, scale: f32| Program {
            steps: vec![step(
                Kernel::Quantize {
                    params: QuantParams {
                        scale,
                        zero_point: 0,
                    },
                    unsigned: false,
                },
                vec![BufferRef::Const(0)],
                BufferRef::Output(0),
            )],
            inputs: Vec::new(),
            outputs: vec![io(&[out_len], DType::I8)],
            constants: vec![vec![0; in_bytes]],
            arena_size: 0,
            arena_lower_bound: 0,
            arena_overlap_bound: 0,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&direct(16, 4, 0.5)), Ok(()));
        assert_eq!(
            problem(&direct(15, 4, 0.5)).1,
            Problem::NotFloats {
                operand: Operand::Input(0),
                actual: 15
            }
        );
        assert!(matches!(
            problem(&direct(16, 3, 0.5)).1,
            Problem::Kernel(KernelError::BufferLength { .. })
        ));
        assert!(matches!(
            problem(&direct(16, 4, 0.0)).1,
            Problem::Kernel(KernelError::InvalidParams(_))
        ));
    }

    #[test]
    fn rejects_reads_of_unwritten_arena_bytes() {
        let mut p = chain();
        p.steps[0].output = arena(16, 8);
        p.steps[1].output = arena(0, 8);
        p.steps[1].inputs[0] = arena(16, 8);
        p.steps[2].inputs[0] = arena(0, 8);
        assert_eq!(verify(&p), Ok(()));
        // Step 1 reads bytes nothing wrote.
        let mut p = chain();
        p.steps[1].inputs[0] = arena(16, 8);
        p.steps[1].output = arena(0, 8);
        p.steps[0].output = BufferRef::Output(0);
        p.steps[2].inputs[0] = arena(0, 8);
        assert_eq!(
            problem(&p),
            (
                1,
                Problem::ReadBeforeWrite {
                    operand: Operand::Input(0),
                    start: 16,
                    end: 24
                }
            )
        );
    }

    #[test]
    fn rejects_reads_of_partly_written_bytes() {
        // Step 0 writes a[0..8]; step 1 reads a[0..16].
        let mut p = chain();
        p.inputs[0].shape = vec![16];
        p.outputs[0].shape = vec![16];
        p.arena_size = 48;
        p.steps[0].output = arena(0, 8);
        p.steps[0].inputs[0] = BufferRef::Const(0);
        p.steps[1].inputs[0] = arena(0, 16);
        p.steps[1].output = arena(16, 16);
        p.steps[2].inputs[0] = arena(16, 16);
        assert_eq!(
            problem(&p),
            (
                1,
                Problem::PartlyWritten {
                    operand: Operand::Input(0),
                    start: 0,
                    end: 16,
                    writer: 0
                }
            )
        );
    }

    #[test]
    fn rejects_reads_of_overwritten_bytes() {
        // Step 0 writes a[0..24]; step 2 writes a[16..32] over its tail
        // before step 3 reads a[0..24].
        let program = |clobber: BufferRef| Program {
            steps: vec![
                step(Kernel::Copy, vec![BufferRef::Const(0)], arena(0, 24)),
                step(Kernel::Copy, vec![BufferRef::Const(1)], arena(48, 16)),
                step(Kernel::Copy, vec![arena(48, 16)], clobber),
                step(Kernel::Copy, vec![arena(0, 24)], BufferRef::Output(0)),
            ],
            inputs: Vec::new(),
            outputs: vec![io(&[24], DType::I8)],
            constants: vec![vec![0; 24], vec![0; 16]],
            arena_size: 64,
            arena_lower_bound: 64,
            arena_overlap_bound: 64,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&program(arena(32, 16))), Ok(()));
        assert_eq!(
            problem(&program(arena(16, 16))),
            (
                3,
                Problem::Overwritten {
                    operand: Operand::Input(0),
                    start: 0,
                    end: 24,
                    writer: 0,
                    clobber: 2
                }
            )
        );
    }

    #[test]
    fn accepts_a_buffer_written_in_parts_and_only_then() {
        // Steps 0 and 1 write the two halves of a[0..8] (an in-place
        // concatenation); step 2 reads the whole.
        let program = |second: BufferRef| Program {
            steps: vec![
                step(Kernel::Copy, vec![BufferRef::Const(0)], arena(0, 4)),
                step(Kernel::Copy, vec![BufferRef::Const(0)], second),
                step(Kernel::Copy, vec![arena(0, 8)], BufferRef::Output(0)),
            ],
            inputs: Vec::new(),
            outputs: vec![io(&[8], DType::I8)],
            constants: vec![vec![0; 4]],
            arena_size: 16,
            arena_lower_bound: 16,
            arena_overlap_bound: 16,
            state_size: 0,
            state_init: Vec::new(),
        };
        assert_eq!(verify(&program(arena(4, 4))), Ok(()));
        // The second part missing, or a write straddling the end.
        assert!(matches!(
            problem(&program(arena(12, 4))),
            (2, Problem::PartlyWritten { .. })
        ));
        assert!(matches!(
            problem(&program(arena(6, 4))),
            (2, Problem::PartlyWritten { .. })
        ));
    }

    #[test]
    fn rejects_reading_an_output_before_it_is_written() {
        let mut p = chain();
        p.steps.insert(
            0,
            step(Kernel::Copy, vec![BufferRef::Output(0)], arena(16, 8)),
        );
        assert_eq!(
            problem(&p),
            (
                0,
                Problem::OutputReadBeforeWrite {
                    operand: Operand::Input(0),
                    index: 0
                }
            )
        );
        // Once written, a later step may read it.
        let mut p = chain();
        p.steps
            .push(step(Kernel::Copy, vec![BufferRef::Output(0)], arena(0, 8)));
        assert_eq!(verify(&p), Ok(()));
    }

    #[test]
    fn rejects_an_output_no_step_writes() {
        let mut p = chain();
        p.outputs.push(io(&[4], DType::I8));
        assert_eq!(
            verify(&p),
            Err(VerifyError::OutputNeverWritten {
                index: 1,
                name: "t".to_string()
            })
        );
    }
}

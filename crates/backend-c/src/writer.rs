//! The C Writer: walks a Program and fills the templates.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use tinyq_ir::kernel::{BinaryOp, Weights, WideBiasData, WideWeights};
use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Program, Step};
use tinyq_kernels::shape::{MAX_DIMS, Shape, broadcast_strides, strides};

use crate::namer::{self, Namer};
use crate::{EmitError, GeneratedC};

#[path = "writer_float.rs"]
mod float;
#[path = "writer_int16.rs"]
mod int16;
#[path = "writer_int32.rs"]
mod int32;
#[path = "writer_signal.rs"]
mod signal;
#[path = "writer_svdf.rs"]
mod svdf;

/// Largest buffer, arena or array the generated code indexes: its index
/// arithmetic is int32_t, and this keeps every intermediate product in range.
const LIMIT: usize = 1 << 30;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "model.h.tera",
        include_str!("../../../templates/c/model.h.tera"),
    ),
    (
        "model.c.tera",
        include_str!("../../../templates/c/model.c.tera"),
    ),
    (
        "kernels/int32.c.tera",
        include_str!("../../../templates/c/kernels/int32.c.tera"),
    ),
    (
        "kernels/helpers.c.tera",
        include_str!("../../../templates/c/kernels/helpers.c.tera"),
    ),
    (
        "kernels/conv2d.c.tera",
        include_str!("../../../templates/c/kernels/conv2d.c.tera"),
    ),
    (
        "kernels/depthwise_conv2d.c.tera",
        include_str!("../../../templates/c/kernels/depthwise_conv2d.c.tera"),
    ),
    (
        "kernels/fully_connected.c.tera",
        include_str!("../../../templates/c/kernels/fully_connected.c.tera"),
    ),
    (
        "kernels/pool_window.c.tera",
        include_str!("../../../templates/c/kernels/pool_window.c.tera"),
    ),
    (
        "kernels/average_pool.c.tera",
        include_str!("../../../templates/c/kernels/average_pool.c.tera"),
    ),
    (
        "kernels/max_pool.c.tera",
        include_str!("../../../templates/c/kernels/max_pool.c.tera"),
    ),
    (
        "kernels/binary_params.c.tera",
        include_str!("../../../templates/c/kernels/binary_params.c.tera"),
    ),
    (
        "kernels/binary.c.tera",
        include_str!("../../../templates/c/kernels/binary.c.tera"),
    ),
    (
        "kernels/softmax.c.tera",
        include_str!("../../../templates/c/kernels/softmax.c.tera"),
    ),
    (
        "kernels/lut.c.tera",
        include_str!("../../../templates/c/kernels/lut.c.tera"),
    ),
    (
        "kernels/dequantize.c.tera",
        include_str!("../../../templates/c/kernels/dequantize.c.tera"),
    ),
    (
        "kernels/quantize.c.tera",
        include_str!("../../../templates/c/kernels/quantize.c.tera"),
    ),
    (
        "kernels/mean.c.tera",
        include_str!("../../../templates/c/kernels/mean.c.tera"),
    ),
    (
        "kernels/pad.c.tera",
        include_str!("../../../templates/c/kernels/pad.c.tera"),
    ),
    (
        "kernels/concat.c.tera",
        include_str!("../../../templates/c/kernels/concat.c.tera"),
    ),
    (
        "kernels/transpose.c.tera",
        include_str!("../../../templates/c/kernels/transpose.c.tera"),
    ),
    (
        "kernels/gather.c.tera",
        include_str!("../../../templates/c/kernels/gather.c.tera"),
    ),
    (
        "kernels/batch_matmul.c.tera",
        include_str!("../../../templates/c/kernels/batch_matmul.c.tera"),
    ),
    (
        "kernels/strided_slice.c.tera",
        include_str!("../../../templates/c/kernels/strided_slice.c.tera"),
    ),
    (
        "kernels/copy.c.tera",
        include_str!("../../../templates/c/kernels/copy.c.tera"),
    ),
    (
        "kernels/float.c.tera",
        include_str!("../../../templates/c/kernels/float.c.tera"),
    ),
    (
        "kernels/resize.c.tera",
        include_str!("../../../templates/c/kernels/resize.c.tera"),
    ),
    (
        "kernels/transpose_conv.c.tera",
        include_str!("../../../templates/c/kernels/transpose_conv.c.tera"),
    ),
    (
        "kernels/wide.c.tera",
        include_str!("../../../templates/c/kernels/wide.c.tera"),
    ),
    (
        "kernels/int16_ops.c.tera",
        include_str!("../../../templates/c/kernels/int16_ops.c.tera"),
    ),
    (
        "kernels/signal.c.tera",
        include_str!("../../../templates/c/kernels/signal.c.tera"),
    ),
    (
        "kernels/signal_fft.c.tera",
        include_str!("../../../templates/c/kernels/signal_fft.c.tera"),
    ),
    (
        "kernels/svdf.c.tera",
        include_str!("../../../templates/c/kernels/svdf.c.tera"),
    ),
    (
        "kernels/lstm.c.tera",
        include_str!("../../../templates/c/kernels/lstm.c.tera"),
    ),
];

/// Every kernel flag the templates test, so none is ever undefined.
const KERNEL_FLAGS: &[&str] = &[
    "conv2d",
    "depthwise_conv2d",
    "fully_connected",
    "pool",
    "average_pool",
    "max_pool",
    "addsub",
    "add",
    "sub",
    "mul",
    "maximum",
    "minimum",
    "prelu",
    "squared_difference",
    "softmax",
    "lut",
    "dequantize",
    "quantize",
    "mean",
    "pad",
    "concat",
    "transpose",
    "gather",
    "strided_slice",
    "batch_matmul",
    "batch_matmul_f32",
    "batch_matmul_i16",
    "copy",
    // Float32 steps (`float`: any of them; `libm`: expf/tanhf).
    "float",
    "libm",
    "conv2d_f32",
    "depthwise_conv2d_f32",
    "fully_connected_f32",
    // A dynamic-range model's int8 filters, dequantized on the fly.
    "conv2d_f32_i8",
    "depthwise_conv2d_f32_i8",
    "fully_connected_f32_i8",
    "pool_f32",
    "binary_f32",
    "binary_f32_same",
    "binary_f32_bcast",
    "unary_f32",
    "softmax_f32",
    "mean_f32",
    "pad_f32",
    "resize_bilinear_f32",
    "transpose_conv_f32",
    "resize_bilinear",
    "resize_nearest",
    "transpose_conv",
    "conv2d_16x8",
    "depthwise_conv2d_16x8",
    "fully_connected_16x8",
    "quantize_i16",
    "dequantize_i16",
    "add_sub_i16",
    "mul_i16",
    "leaky_relu_i16",
    "requantize_i16",
    "pad_i16",
    "strided_slice_i16",
    "transpose_conv_16x8",
    "clamp_i16",
    "max_pool_i16",
    "average_pool_i16",
    "mean_i16",
    "softmax_i16",
    "sigmoid_i16",
    // Stateful steps.
    "svdf",
    "svdf_f32",
    "lstm_f32",
    // Signal-library ops (`signal`: any of them, its shared helpers).
    "signal",
    "signal_window",
    "signal_energy",
    "signal_log",
    "signal_sqrt",
    // Plain integers (`int32`: their shared helpers).
    "int32",
    "binary_i32",
    "cast",
    "signal_bank",
    "signal_pcan",
    "lstm_int8",
    // The FFT steps and spectral subtraction (`signal_fft`: their helpers).
    "signal_fft",
    "signal_fft_scale",
    "signal_rfft",
    "signal_spectral",
];

const HELPER_FLAGS: &[&str] = &[
    "wrap",
    "wsub",
    "clamp8",
    "fixedpoint",
    "mbqm",
    "requant",
    "dot",
    "dot2",
    "dot2s",
    "dot4s",
    "gemm",
    "gemm_mm",
    "im2col",
    "im2col_host",
    "load_f32",
    "store_f32",
    "round_half_away",
    "wide_layers",
    "load_i16",
    "mbqm64",
    "store_i16",
    // TFLM's int16 sigmoid table and one-value LOGISTIC/TANH (16x8 LOGISTIC
    // and TANH, the integer LSTM's gates).
    "sigmoid16",
];

/// How one binary op is used: same-shape and/or broadcasting.
#[derive(Debug, Default, Clone, Copy)]
struct BinaryUse {
    same: bool,
    bcast: bool,
}

#[derive(Serialize)]
struct BinaryCtx {
    name: &'static str,
    ptype: &'static str,
    pad: String,
    same: bool,
    bcast: bool,
}

#[derive(Serialize)]
struct IoCtx {
    label: String,
    dtype: &'static str,
    shape: String,
    size: usize,
    scale: Option<String>,
    zero_point: Option<String>,
}

/// Walks a [`Program`] and renders the C files.
#[derive(Debug)]
pub struct Writer<'p> {
    program: &'p Program,
    name: String,
    upper: String,
    kernels: BTreeMap<&'static str, bool>,
    helpers: BTreeMap<&'static str, bool>,
    binary: BTreeMap<&'static str, BinaryUse>,
    constants: String,
    const_bytes: usize,
    body: String,
    /// Interned lookup tables: identical tables are emitted once.
    tables: BTreeMap<Vec<u8>, String>,
    float_tables: BTreeMap<Vec<u32>, String>,
    used_inputs: Vec<bool>,
    used_outputs: Vec<bool>,
    used_consts: Vec<bool>,
    uses_arena: bool,
}

impl<'p> Writer<'p> {
    /// Checks the name, verifies the Program ([`tinyq_ir::verify()`]) and
    /// checks it against the C backend's limits; [`Writer::finish`] renders.
    /// The generated kernels check nothing at run time: they rely on the
    /// verifier, as this writer does.
    pub fn new(program: &'p Program, name: &str) -> Result<Self, EmitError> {
        if !namer::is_identifier(name) {
            return Err(EmitError::BadName {
                name: name.to_string(),
                suggestion: namer::sanitize(name),
                max: namer::MAX_LEN,
            });
        }
        tinyq_ir::verify(program)?;
        check_limit("the arena size", program.arena_size)?;
        for io in program.inputs.iter().chain(&program.outputs) {
            // UINT32/UINT64: the signal library's energies and sums.
            // int32: SignalFftAutoScale's shift.
            let signal = matches!(io.dtype, DType::U32 | DType::U64 | DType::I32);
            if !signal && !matches!(io.dtype, DType::I8 | DType::U8 | DType::I16 | DType::F32) {
                return Err(EmitError::Unsupported {
                    what: format!("model I/O tensor {:?}", io.name),
                    why: format!(
                        "dtype {} (supported: int8, uint8, int16, float32, uint32, uint64, int32)",
                        io.dtype.name()
                    ),
                });
            }
            check_limit("a model input/output size", io.byte_len())?;
        }
        for c in &program.constants {
            check_limit("a constant's size", c.len())?;
        }
        Ok(Writer {
            program,
            name: name.to_string(),
            upper: name.to_ascii_uppercase(),
            kernels: KERNEL_FLAGS.iter().map(|&k| (k, false)).collect(),
            helpers: HELPER_FLAGS.iter().map(|&k| (k, false)).collect(),
            binary: BTreeMap::new(),
            constants: String::new(),
            const_bytes: 0,
            body: String::new(),
            tables: BTreeMap::new(),
            float_tables: BTreeMap::new(),
            used_inputs: vec![false; program.inputs.len()],
            used_outputs: vec![false; program.outputs.len()],
            used_consts: vec![false; program.constants.len()],
            uses_arena: false,
        })
    }

    /// Emits every step and renders both files.
    pub fn finish(mut self) -> Result<GeneratedC, EmitError> {
        let program = self.program;
        for (index, step) in program.steps.iter().enumerate() {
            let start = self.body.len();
            self.step(index, step)?;
            self.hooks(index, step, start);
        }
        // Constant operands, in index order, after the per-step arrays.
        for (i, data) in program.constants.iter().enumerate() {
            if self.used_consts[i] {
                let values: Vec<i64> = data.iter().map(|&b| i64::from(b as i8)).collect();
                self.aligned_i8_array(&format!("tq_const{i}"), &values);
            }
        }
        let prologue = self.prologue();
        let reset = self.reset_body();
        let tera = templates()?;
        let mut ctx = tera::Context::new();
        ctx.insert("name", &self.name);
        ctx.insert("upper", &self.upper);
        ctx.insert("num_steps", &program.steps.len());
        ctx.insert("arena_size", &program.arena_size);
        ctx.insert("state_size", &program.state_size);
        let mut labels = Namer::new();
        let inputs: Vec<IoCtx> = program
            .inputs
            .iter()
            .map(|io| io_ctx(io, &mut labels))
            .collect();
        let outputs: Vec<IoCtx> = program
            .outputs
            .iter()
            .map(|io| io_ctx(io, &mut labels))
            .collect();
        ctx.insert("inputs", &inputs);
        ctx.insert("outputs", &outputs);
        let kernels = &mut self.kernels;
        let add = kernels.get("add").copied().unwrap_or(false);
        let sub = kernels.get("sub").copied().unwrap_or(false);
        kernels.insert("addsub", add || sub);
        let pool = [
            "average_pool",
            "max_pool",
            "average_pool_i16",
            "max_pool_i16",
        ]
        .iter()
        .any(|k| kernels.get(k).copied().unwrap_or(false));
        kernels.insert("pool", pool);
        ctx.insert("uses", &self.kernels);
        ctx.insert("helpers", &self.helpers);
        let binary: Vec<BinaryCtx> = self
            .binary
            .iter()
            .map(|(&name, u)| {
                let ptype = match name {
                    "add" | "sub" => "tq_addsub_params",
                    "mul" => "tq_mul_params",
                    "prelu" => "tq_prelu_params",
                    "squared_difference" => "tq_squared_difference_params",
                    _ => "void",
                };
                BinaryCtx {
                    name,
                    ptype,
                    // Aligns the wrapped parameter line under the first one.
                    pad: " ".repeat(20 + name.len() + 1),
                    same: u.same,
                    bcast: u.bcast,
                }
            })
            .collect();
        ctx.insert("binary_ops", &binary);
        // Every constant array carries the user's attribute (a linker
        // section, say); empty by default.
        let attr = format!("{}_WEIGHTS_ATTR static const ", self.upper);
        let constants = self
            .constants
            .lines()
            .map(|l| match l.strip_prefix("static const ") {
                Some(rest) => format!("{attr}{rest}"),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        ctx.insert("constants", constants.trim_end());
        ctx.insert("weights_size", &self.const_bytes);
        ctx.insert("prologue", prologue.trim_end());
        ctx.insert("reset", &reset);
        ctx.insert("body", self.body.trim_end());
        let render = |t: &str| {
            tera.render(t, &ctx)
                .map_err(|e| EmitError::Template(error_chain(&e)))
        };
        let header = tidy(&render("model.h.tera")?);
        let source = tidy(&render("model.c.tera")?);
        let kernels = self
            .kernels
            .iter()
            .filter(|&(&k, &used)| {
                used && !matches!(
                    k,
                    "pool" | "addsub" | "float" | "libm" | "binary_f32_same" | "binary_f32_bcast"
                )
            })
            .map(|(&k, _)| k)
            .collect();
        Ok(GeneratedC {
            header,
            source,
            const_bytes: self.const_bytes,
            kernels,
        })
    }

    /// Wraps the code of step `index` (emitted from `start` in the body) in
    /// the user's hooks: BEGIN after the step comment, END and OUTPUT after
    /// the kernel call. They default to nothing, so they cost nothing.
    fn hooks(&mut self, index: usize, step: &Step, start: usize) {
        let op = step.kernel.name();
        let upper = self.upper.clone();
        let begin = format!("    {upper}_STEP_BEGIN({index}, \"{op}\");\n");
        // The step comment is comment-safe text, so its first `*/` ends it.
        let at = self.body[start..]
            .find("*/\n")
            .map_or(self.body.len(), |i| start + i + 3);
        self.body.insert_str(at, &begin);
        let len = self.buffer_len(step.output).unwrap_or(0);
        // An empty output has no pointer in the code; report it as NULL.
        let ptr = match (len, step.output) {
            (0, _) => "(const void *)0".to_string(),
            (_, b) => format!("(const void *)({})", self.dst(b).unwrap_or_default()),
        };
        let _ = writeln!(self.body, "    {upper}_STEP_END({index}, \"{op}\");");
        let _ = writeln!(self.body, "    {upper}_STEP_OUTPUT({index}, {ptr}, {len});");
    }

    /// Declarations of the buffer pointers the body uses, with NULL checks.
    fn prologue(&self) -> String {
        let mut s = String::new();
        let any_in = self.used_inputs.iter().any(|&u| u);
        let any_out = self.used_outputs.iter().any(|&u| u);
        let mut checks = Vec::new();
        if any_in {
            checks.push("inputs == NULL".to_string());
        }
        if any_out {
            checks.push("outputs == NULL".to_string());
        }
        if self.uses_arena {
            checks.push("arena == NULL".to_string());
        }
        if !any_in {
            s.push_str("    (void)inputs;\n");
        }
        if !any_out {
            s.push_str("    (void)outputs;\n");
        }
        if !self.uses_arena {
            s.push_str("    (void)arena;\n");
        }
        if !checks.is_empty() {
            let _ = writeln!(
                s,
                "    if ({}) {{\n        return -1;\n    }}",
                checks.join(" || ")
            );
        }
        let mut pointers = Vec::new();
        for (i, _) in self.used_inputs.iter().enumerate().filter(|(_, u)| **u) {
            let _ = writeln!(
                s,
                "    const int8_t *const in{i} = (const int8_t *)inputs[{i}];"
            );
            pointers.push(format!("in{i} == NULL"));
        }
        for (i, _) in self.used_outputs.iter().enumerate().filter(|(_, u)| **u) {
            let _ = writeln!(s, "    int8_t *const out{i} = (int8_t *)outputs[{i}];");
            pointers.push(format!("out{i} == NULL"));
        }
        if self.uses_arena {
            s.push_str("    int8_t *const a = (int8_t *)arena;\n");
        }
        if !pointers.is_empty() {
            let _ = writeln!(
                s,
                "    if ({}) {{\n        return -1;\n    }}",
                pointers.join(" || ")
            );
        }
        s
    }

    fn use_kernel(&mut self, kernel: &'static str, helpers: &[&'static str]) {
        self.kernels.insert(kernel, true);
        for &h in helpers {
            self.helpers.insert(h, true);
        }
    }

    /// Size in bytes of a buffer (the verifier saw it inside the Program).
    fn buffer_len(&self, b: BufferRef) -> Option<usize> {
        let p = self.program;
        match b {
            BufferRef::Input(i) => p.inputs.get(i).map(IoSpec::byte_len),
            BufferRef::Output(i) => p.outputs.get(i).map(IoSpec::byte_len),
            BufferRef::Const(i) => p.constants.get(i).map(Vec::len),
            BufferRef::Arena { offset, size } => offset
                .checked_add(size)
                .filter(|&end| end <= p.arena_size)
                .map(|_| size),
        }
    }

    /// A C expression for a buffer a step reads (type `const int8_t *`).
    fn src(&mut self, b: BufferRef) -> String {
        match b {
            BufferRef::Input(i) => {
                self.used_inputs[i] = true;
                format!("in{i}")
            }
            BufferRef::Output(i) => {
                self.used_outputs[i] = true;
                format!("out{i}")
            }
            BufferRef::Const(i) => {
                self.used_consts[i] = true;
                format!("tq_const{i}.v")
            }
            BufferRef::Arena { offset, .. } => {
                self.uses_arena = true;
                format!("a + {offset}")
            }
        }
    }

    /// A C expression for the buffer a step writes (type `int8_t *`).
    fn dst(&mut self, b: BufferRef) -> Option<String> {
        match b {
            BufferRef::Output(i) => {
                self.used_outputs[i] = true;
                Some(format!("out{i}"))
            }
            BufferRef::Arena { offset, .. } => {
                self.uses_arena = true;
                Some(format!("a + {offset}"))
            }
            BufferRef::Input(_) | BufferRef::Const(_) => None,
        }
    }

    fn step(&mut self, index: usize, step: &Step) -> Result<(), EmitError> {
        let kernel_name = step.kernel.name();
        let invalid = |why: String| EmitError::InvalidStep {
            step: index,
            kernel: kernel_name,
            why,
        };
        let outside = || invalid("a buffer outside the program (unverified program)".to_string());
        let in_lens = step
            .inputs
            .iter()
            .map(|&b| self.buffer_len(b).ok_or_else(outside))
            .collect::<Result<Vec<_>, _>>()?;
        let out_len = self.buffer_len(step.output).ok_or_else(outside)?;
        let _ = writeln!(
            self.body,
            "\n    /* {} */",
            step.provenance.describe(index, kernel_name)
        );
        if out_len == 0 {
            self.body
                .push_str("    /* (empty output: nothing to do) */\n");
            return Ok(());
        }
        let input = |k: usize| {
            step.inputs
                .get(k)
                .copied()
                .ok_or_else(|| invalid(format!("missing input {k}")))
        };
        let dst = self
            .dst(step.output)
            .ok_or_else(|| invalid("bad output buffer".to_string()))?;
        let n = int(out_len, "an output size")?;
        match &step.kernel {
            Kernel::Conv2D { params: p, weights } => {
                self.use_kernel(
                    "conv2d",
                    &[
                        "wrap",
                        "clamp8",
                        "fixedpoint",
                        "mbqm",
                        "requant",
                        "dot",
                        "dot2",
                        "dot2s",
                        "gemm",
                        "gemm_mm",
                        "im2col",
                    ],
                );
                let src = self.src(input(0)?);
                let mut fields = self.weights(index, weights);
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("f_c", p.filter_input_channels),
                    ])?,
                    dims(&[
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                        ("out_c", p.output_channels),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    offsets_and_clamp(p.input_offset, None, p.output_offset, p.act_min, p.act_max),
                    vec![Field::int("pad_value", p.pad_value)],
                    right_only(weights, p.act_min, p.act_max),
                ]);
                let params = self.params_struct(index, "tq_conv2d_params", &fields);
                let _ = writeln!(self.body, "    tq_conv2d(&{params}, {src}, {dst});");
            }
            Kernel::DepthwiseConv2D { params: p, weights } => {
                self.use_kernel(
                    "depthwise_conv2d",
                    &[
                        "wrap",
                        "clamp8",
                        "fixedpoint",
                        "mbqm",
                        "requant",
                        "gemm",
                        "gemm_mm",
                        "im2col_host",
                    ],
                );
                let src = self.src(input(0)?);
                let mut fields = self.weights(index, weights);
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                        ("depth_mult", p.depth_multiplier),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    offsets_and_clamp(p.input_offset, None, p.output_offset, p.act_min, p.act_max),
                    vec![Field::int("pad_value", p.pad_value)],
                    right_only(weights, p.act_min, p.act_max),
                ]);
                let params = self.params_struct(index, "tq_depthwise_conv2d_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_depthwise_conv2d(&{params}, {src}, {dst});"
                );
            }
            Kernel::FullyConnected { params: p, weights } => {
                self.use_kernel(
                    "fully_connected",
                    &[
                        "wrap",
                        "clamp8",
                        "fixedpoint",
                        "mbqm",
                        "requant",
                        "dot",
                        "dot2s",
                        "dot4s",
                        "gemm",
                        "gemm_mm",
                    ],
                );
                let src = self.src(input(0)?);
                let mut fields = self.weights(index, weights);
                let mut shape = dims(&[
                    ("batches", p.batches),
                    ("depth", p.accum_depth),
                    ("out_depth", p.output_depth),
                ])?;
                shape.push(Field::int(
                    "per_channel",
                    i32::from(weights.multipliers.len() != 1),
                ));
                fields.extend([
                    shape,
                    offsets_and_clamp(
                        p.input_offset,
                        Some(p.filter_offset),
                        p.output_offset,
                        p.act_min,
                        p.act_max,
                    ),
                    right_only(weights, p.act_min, p.act_max),
                ]);
                let params = self.params_struct(index, "tq_fully_connected_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_fully_connected(&{params}, {src}, {dst});"
                );
            }
            Kernel::AveragePool(p) | Kernel::MaxPool(p) => {
                let (func, helpers): (&'static str, &[&'static str]) =
                    if matches!(step.kernel, Kernel::AveragePool(_)) {
                        ("average_pool", &["wrap", "wsub", "clamp8"])
                    } else {
                        ("max_pool", &["clamp8"])
                    };
                self.use_kernel(func, helpers);
                let src = self.src(input(0)?);
                let fields = [
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("channels", p.channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ];
                let params = self.params_struct(index, "tq_pool_params", &fields);
                let _ = writeln!(self.body, "    tq_{func}(&{params}, {src}, {dst});");
            }
            Kernel::Binary { op, broadcast } => {
                let (name, params): (&'static str, Option<String>) = match op {
                    BinaryOp::Add(p) | BinaryOp::Sub(p) => {
                        let name = if matches!(op, BinaryOp::Add(_)) {
                            "add"
                        } else {
                            "sub"
                        };
                        self.use_kernel(name, &["wrap", "clamp8", "fixedpoint"]);
                        if name == "sub" {
                            self.use_kernel(name, &["wsub"]);
                        }
                        let fields = [
                            vec![
                                Field::int("input1_offset", p.input1_offset),
                                Field::int("input2_offset", p.input2_offset),
                                Field::int("output_offset", p.output_offset),
                                Field::int("left_shift", p.left_shift),
                            ],
                            vec![
                                Field::int("input1_multiplier", p.input1_multiplier),
                                Field::int("input1_shift", p.input1_shift),
                            ],
                            vec![
                                Field::int("input2_multiplier", p.input2_multiplier),
                                Field::int("input2_shift", p.input2_shift),
                            ],
                            vec![
                                Field::int("output_multiplier", p.output_multiplier),
                                Field::int("output_shift", p.output_shift),
                            ],
                            vec![
                                Field::int("act_min", p.act_min),
                                Field::int("act_max", p.act_max),
                            ],
                        ];
                        (
                            name,
                            Some(self.params_struct(index, "tq_addsub_params", &fields)),
                        )
                    }
                    BinaryOp::Mul(p) => {
                        self.use_kernel("mul", &["wrap", "clamp8", "fixedpoint", "mbqm"]);
                        let fields = [
                            vec![
                                Field::int("input1_offset", p.input1_offset),
                                Field::int("input2_offset", p.input2_offset),
                                Field::int("output_offset", p.output_offset),
                            ],
                            vec![
                                Field::int("output_multiplier", p.output_multiplier),
                                Field::int("output_shift", p.output_shift),
                            ],
                            vec![
                                Field::int("act_min", p.act_min),
                                Field::int("act_max", p.act_max),
                            ],
                        ];
                        (
                            "mul",
                            Some(self.params_struct(index, "tq_mul_params", &fields)),
                        )
                    }
                    BinaryOp::Prelu(p) => {
                        self.use_kernel("prelu", &["wrap", "clamp8", "fixedpoint", "mbqm"]);
                        let fields = [
                            vec![
                                Field::int("input_offset", p.input_offset),
                                Field::int("alpha_offset", p.alpha_offset),
                                Field::int("output_offset", p.output_offset),
                            ],
                            vec![
                                Field::int("identity_multiplier", p.identity_multiplier),
                                Field::int("identity_shift", p.identity_shift),
                            ],
                            vec![
                                Field::int("alpha_multiplier", p.alpha_multiplier),
                                Field::int("alpha_shift", p.alpha_shift),
                            ],
                        ];
                        (
                            "prelu",
                            Some(self.params_struct(index, "tq_prelu_params", &fields)),
                        )
                    }
                    BinaryOp::SquaredDifference(p) => {
                        self.use_kernel(
                            "squared_difference",
                            &["wrap", "wsub", "clamp8", "fixedpoint", "mbqm"],
                        );
                        let fields = [
                            vec![
                                Field::int("input1_offset", p.input1_offset),
                                Field::int("input2_offset", p.input2_offset),
                                Field::int("output_offset", p.output_offset),
                            ],
                            vec![
                                Field::int("input1_multiplier", p.input1_multiplier),
                                Field::int("input1_shift", p.input1_shift),
                            ],
                            vec![
                                Field::int("input2_multiplier", p.input2_multiplier),
                                Field::int("input2_shift", p.input2_shift),
                            ],
                            vec![
                                Field::int("output_multiplier", p.output_multiplier),
                                Field::int("output_shift", p.output_shift),
                            ],
                        ];
                        (
                            "squared_difference",
                            Some(self.params_struct(
                                index,
                                "tq_squared_difference_params",
                                &fields,
                            )),
                        )
                    }
                    BinaryOp::Maximum => {
                        self.use_kernel("maximum", &[]);
                        ("maximum", None)
                    }
                    BinaryOp::Minimum => {
                        self.use_kernel("minimum", &[]);
                        ("minimum", None)
                    }
                };
                let a = self.src(input(0)?);
                let b = self.src(input(1)?);
                let p = params.map_or_else(|| "NULL".to_string(), |s| format!("&{s}"));
                let entry = self.binary.entry(name).or_default();
                match broadcast {
                    Some(s) if s.shape1 != s.shape2 => {
                        entry.bcast = true;
                        let s1 = broadcast_strides(&s.shape1, &s.out_shape)
                            .map_err(|e| invalid(e.to_string()))?;
                        let s2 = broadcast_strides(&s.shape2, &s.out_shape)
                            .map_err(|e| invalid(e.to_string()))?;
                        let mut dims = s.out_shape.to_vec();
                        dims.extend(s1);
                        dims.extend(s2);
                        let d = self.dims_array(index, &to_i64(&dims))?;
                        let _ =
                            writeln!(self.body, "    tq_{name}_bcast({p}, {a}, {b}, {dst}, {d});");
                    }
                    _ => {
                        entry.same = true;
                        let _ = writeln!(self.body, "    tq_{name}({p}, {a}, {b}, {dst}, {n});");
                    }
                }
            }
            Kernel::Softmax(p) => {
                self.use_kernel("softmax", &["wrap", "wsub", "clamp8", "fixedpoint"]);
                let src = self.src(input(0)?);
                let fields = [
                    dims(&[("outer", p.outer), ("depth", p.depth)])?,
                    vec![
                        Field::int("input_multiplier", p.input_multiplier),
                        Field::int("input_left_shift", p.input_left_shift),
                        Field::int("diff_min", p.diff_min),
                    ],
                ];
                let params = self.params_struct(index, "tq_softmax_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    if (tq_softmax(&{params}, {src}, {dst}) != 0) {{\n        return -2;\n    }}"
                );
            }
            Kernel::Lut { table } => {
                self.use_kernel("lut", &[]);
                let src = self.src(input(0)?);
                let t = self.byte_table(table);
                let _ = writeln!(self.body, "    tq_lut({src}, {dst}, {t}, {n});");
            }
            Kernel::DequantizeLut { table } => {
                self.use_kernel("dequantize", &["store_f32"]);
                let src = self.src(input(0)?);
                let t = self.float_table(table).map_err(invalid)?;
                let count = int(out_len / 4, "an element count")?;
                let _ = writeln!(self.body, "    tq_dequantize({src}, {dst}, {t}, {count});");
            }
            Kernel::Quantize { params, unsigned } => {
                self.use_kernel("quantize", &["load_f32", "round_half_away"]);
                let src = self.src(input(0)?);
                let scale = c_f32(params.scale).map_err(invalid)?;
                let (lo, hi) = if *unsigned { (0, 255) } else { (-128, 127) };
                let fields = [
                    vec![
                        Field::int("n", n),
                        Field::new("scale", scale, 4),
                        Field::int("zero_point", params.zero_point),
                    ],
                    vec![
                        Field::int("lo", lo),
                        Field::int("hi", hi),
                        Field::int("is_unsigned", i32::from(*unsigned)),
                    ],
                ];
                let params = self.params_struct(index, "tq_quantize_params", &fields);
                let _ = writeln!(self.body, "    tq_quantize(&{params}, {src}, {dst});");
            }
            Kernel::Mean(p) => {
                self.use_kernel("mean", &["wrap", "clamp8", "fixedpoint", "mbqm"]);
                let src = self.src(input(0)?);
                let mut outer: Shape = p.input_shape;
                let mut reduced: Shape = [1; MAX_DIMS];
                for d in 0..MAX_DIMS {
                    if p.reduce[d] {
                        outer[d] = 1;
                        reduced[d] = p.input_shape[d];
                    }
                }
                let divisor = if p.truncating_same_params {
                    i32::try_from(p.num_elements_in_axis)
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| {
                            invalid("mean over an unsupported element count".to_string())
                        })?
                } else {
                    0
                };
                if p.num_elements_in_axis <= 0 {
                    return Err(invalid("mean over no elements".to_string()));
                }
                let zero_point_sum =
                    i64::from(p.input_zero_point).wrapping_mul(p.num_elements_in_axis);
                let fields = [
                    vec![Field::array("outer", &outer)?],
                    vec![Field::array("reduced", &reduced)?],
                    vec![Field::array("stride", &strides(&p.input_shape))?],
                    vec![
                        Field::new("zero_point_sum", c_i64(zero_point_sum), 8),
                        Field::int("multiplier", p.multiplier),
                        Field::int("shift", p.shift),
                    ],
                    vec![
                        Field::int("output_zero_point", p.output_zero_point),
                        Field::int("divisor", divisor),
                    ],
                ];
                let params = self.params_struct(index, "tq_mean_params", &fields);
                let _ = writeln!(self.body, "    tq_mean(&{params}, {src}, {dst});");
            }
            Kernel::Pad(p) => {
                self.use_kernel("pad", &[]);
                let src = self.src(input(0)?);
                let mut dims = p.input_shape.to_vec();
                dims.extend(p.before);
                dims.extend(p.output_shape());
                dims.extend(strides(&p.input_shape));
                let d = self.dims_array(index, &to_i64(&dims))?;
                let _ = writeln!(self.body, "    tq_pad({src}, {dst}, {d}, {});", p.pad_value);
            }
            Kernel::Concat(p) => {
                self.use_kernel("concat", &[]);
                if p.outer == 0 {
                    return Err(invalid("concatenation with no outer blocks".to_string()));
                }
                let mut srcs = Vec::new();
                let mut sizes = Vec::new();
                for (k, &len) in in_lens.iter().enumerate() {
                    srcs.push(self.src(input(k)?));
                    sizes.push(int(len / p.outer, "a concatenation block")?);
                }
                let count = srcs.len();
                let sizes = self.int_array(
                    index,
                    "sizes",
                    &sizes.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(),
                );
                let _ = writeln!(
                    self.body,
                    "    {{\n        const int8_t *const srcs[{count}] = {{{}}};\n        tq_concat({dst}, {}, {count}, srcs, {sizes});\n    }}",
                    srcs.join(", "),
                    int(p.outer, "a concatenation outer size")?
                );
            }
            Kernel::Transpose(p) => {
                self.use_kernel("transpose", &[]);
                let src = self.src(input(0)?);
                let in_stride = strides(&p.input_shape);
                let mut dims = p.output_shape().to_vec();
                dims.extend((0..MAX_DIMS).map(|d| in_stride[p.perm[d]]));
                let d = self.dims_array(index, &to_i64(&dims))?;
                let _ = writeln!(self.body, "    tq_transpose({src}, {dst}, {d});");
            }
            Kernel::Gather { params, indices } => {
                let src = self.src(input(0)?);
                self.gather_call(index, &src, &dst, params, indices, 1)?;
            }
            Kernel::BatchMatMul(p) => {
                self.use_kernel("batch_matmul", &["wrap", "clamp8", "fixedpoint", "mbqm"]);
                let (lhs, rhs) = (self.src(input(0)?), self.src(input(1)?));
                let fields = batch_matmul_fields(p)?;
                let params = self.params_struct(index, "tq_batch_matmul_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_batch_matmul(&{params}, (const int8_t *)({lhs}), (const int8_t *)({rhs}), (int8_t *)({dst}));"
                );
            }
            Kernel::StridedSlice(p) => {
                self.use_kernel("strided_slice", &[]);
                let src = self.src(input(0)?);
                let in_stride = strides(&p.input_shape);
                let mut dims: Vec<i64> = p.counts().iter().map(|&c| c as i64).collect();
                dims.extend((0..MAX_DIMS).map(|d| i64::from(p.start[d]) * in_stride[d] as i64));
                dims.extend((0..MAX_DIMS).map(|d| i64::from(p.stride[d]) * in_stride[d] as i64));
                let d = self.dims_array(index, &dims)?;
                let _ = writeln!(self.body, "    tq_strided_slice({src}, {dst}, {d});");
            }
            Kernel::Conv2D16x8 { params: p, weights } => {
                self.use_wide_layer("conv2d_16x8");
                let src = self.src(input(0)?);
                let mut fields = vec![vec![self.wide_weights(index, weights)?]];
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("f_c", p.filter_input_channels),
                    ])?,
                    dims(&[
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                        ("out_c", p.output_channels),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ]);
                let params = self.params_struct(index, "tq_conv2d_16x8_params", &fields);
                let _ = writeln!(self.body, "    tq_conv2d_16x8(&{params}, {src}, {dst});");
            }
            Kernel::DepthwiseConv2D16x8 { params: p, weights } => {
                self.use_wide_layer("depthwise_conv2d_16x8");
                let src = self.src(input(0)?);
                let mut fields = vec![vec![self.wide_weights(index, weights)?]];
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                        ("depth_mult", p.depth_multiplier),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ]);
                let params = self.params_struct(index, "tq_depthwise_conv2d_16x8_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_depthwise_conv2d_16x8(&{params}, {src}, {dst});"
                );
            }
            Kernel::FullyConnected16x8 { params: p, weights } => {
                self.use_wide_layer("fully_connected_16x8");
                let src = self.src(input(0)?);
                let mut fields = vec![vec![self.wide_weights(index, weights)?]];
                let mut shape = dims(&[
                    ("batches", p.batches),
                    ("depth", p.accum_depth),
                    ("out_depth", p.output_depth),
                ])?;
                shape.push(Field::int(
                    "per_channel",
                    i32::from(weights.multipliers.len() != 1),
                ));
                fields.extend([
                    shape,
                    vec![
                        Field::int("filter_offset", p.filter_offset),
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ]);
                let params = self.params_struct(index, "tq_fully_connected_16x8_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_fully_connected_16x8(&{params}, {src}, {dst});"
                );
            }
            Kernel::QuantizeI16 { params } => {
                self.use_kernel(
                    "quantize_i16",
                    &["load_f32", "round_half_away", "store_i16"],
                );
                let src = self.src(input(0)?);
                let scale = c_f32(params.scale).map_err(invalid)?;
                let count = int(out_len / 2, "an element count")?;
                let zp = c_i32(params.zero_point);
                let _ = writeln!(
                    self.body,
                    "    tq_quantize_i16({src}, {dst}, {count}, {scale}, {zp});"
                );
            }
            Kernel::DequantizeI16 { params } => {
                self.use_kernel("dequantize_i16", &["load_i16", "store_f32"]);
                let src = self.src(input(0)?);
                let scale = c_f32(params.scale).map_err(invalid)?;
                let count = int(out_len / 4, "an element count")?;
                let zp = c_i32(params.zero_point);
                let _ = writeln!(
                    self.body,
                    "    tq_dequantize_i16({src}, {dst}, {count}, {scale}, {zp});"
                );
            }
            Kernel::Copy => {
                self.use_kernel("copy", &[]);
                let src = self.src(input(0)?);
                let _ = writeln!(self.body, "    tq_copy({dst}, {src}, {n});");
            }
            Kernel::Svdf { .. }
            | Kernel::Lstm { .. }
            | Kernel::Float(
                tinyq_ir::FloatKernel::Svdf { .. } | tinyq_ir::FloatKernel::Lstm { .. },
            ) => {
                self.stateful_step(index, step, &dst)?;
            }
            Kernel::Float(k) => self.float_step(index, k, step, &in_lens, &dst, out_len)?,
            Kernel::Int16(k) => self.int16_step(index, k, step, &dst, out_len)?,
            Kernel::Signal(op) => self.signal_step(op, step, &dst, out_len, &invalid)?,
            Kernel::Int32(k) => self.int32_step(index, k, step, &dst, out_len)?,
            Kernel::ResizeBilinear(p) => {
                self.use_kernel("resize_bilinear", &[]);
                let src = self.src(input(0)?);
                let g = &p.geometry;
                let fields = [
                    dims(&[
                        ("batches", g.batches),
                        ("in_h", g.input_height),
                        ("in_w", g.input_width),
                        ("channels", g.channels),
                        ("out_h", g.output_height),
                        ("out_w", g.output_width),
                    ])?,
                    vec![
                        Field::int("scale_h", p.height_scale_10),
                        Field::int("scale_w", p.width_scale_10),
                        Field::int("half_pixel_centers", i32::from(p.half_pixel_centers)),
                    ],
                ];
                let params = self.params_struct(index, "tq_resize_bilinear_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_resize_bilinear(&{params}, {src}, {dst});"
                );
            }
            Kernel::ResizeNearest(p) => {
                self.use_kernel("resize_nearest", &[]);
                let src = self.src(input(0)?);
                let g = &p.geometry;
                let fields = [
                    dims(&[
                        ("batches", g.batches),
                        ("in_h", g.input_height),
                        ("in_w", g.input_width),
                        ("channels", g.channels),
                        ("out_h", g.output_height),
                        ("out_w", g.output_width),
                    ])?,
                    vec![
                        Field::new("scale_h", c_f32(p.height_scale).map_err(invalid)?, 4),
                        Field::new("scale_w", c_f32(p.width_scale).map_err(invalid)?, 4),
                        Field::int("align_corners", i32::from(p.align_corners)),
                        Field::int("half_pixel_centers", i32::from(p.half_pixel_centers)),
                    ],
                ];
                let params = self.params_struct(index, "tq_resize_nearest_params", &fields);
                let _ = writeln!(self.body, "    tq_resize_nearest(&{params}, {src}, {dst});");
            }
            Kernel::TransposeConv { params: p, weights } => {
                self.use_kernel("transpose_conv", &["wrap", "clamp8", "fixedpoint", "mbqm"]);
                let src = self.src(input(0)?);
                let mut fields = self.weights(index, weights);
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                        ("out_c", p.output_channels),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    offsets_and_clamp(p.input_offset, None, p.output_offset, p.act_min, p.act_max),
                ]);
                let params = self.params_struct(index, "tq_transpose_conv_params", &fields);
                let _ = writeln!(self.body, "    tq_transpose_conv(&{params}, {src}, {dst});");
            }
        }
        Ok(())
    }

    /// Emits the arrays of a convolution-like kernel; returns the parameter
    /// struct's first lines: its filter, bias (or NULL), multipliers and
    /// shifts.
    fn weights(&mut self, step: usize, w: &Weights) -> Vec<Vec<Field>> {
        let filter: Vec<i64> = w.filter.iter().map(|&v| i64::from(v)).collect();
        let f = format!("tq_step{step}_filter");
        self.aligned_i8_array(&f, &filter);
        let b = match &w.bias {
            Some(bias) => {
                let values: Vec<i64> = bias.iter().map(|&v| i64::from(v)).collect();
                self.int_array(step, "bias", &values)
            }
            None => "NULL".to_string(),
        };
        let mults: Vec<i64> = w.multipliers.iter().map(|&v| i64::from(v)).collect();
        let m = self.int_array(step, "multiplier", &mults);
        // The verifier saw every shift in -31..=31, so int8 holds them.
        let shifts: Vec<i64> = w.shifts.iter().map(|&v| i64::from(v)).collect();
        let s = format!("tq_step{step}_shift");
        let _ = writeln!(
            self.constants,
            "static const int8_t {s}[{}] = {{{}}};",
            shifts.len(),
            list(&shifts, 16, 4)
        );
        self.const_bytes += shifts.len();
        vec![
            vec![
                Field::pointer("filter", format!("{f}.v")),
                Field::pointer("bias", b),
            ],
            vec![Field::pointer("multiplier", m), Field::pointer("shift", s)],
        ]
    }

    /// `static const union { int8_t v[N]; int32_t align; } NAME = {{...}};`
    fn aligned_i8_array(&mut self, name: &str, values: &[i64]) {
        let len = values.len().max(1);
        let body = if values.is_empty() {
            "0".to_string()
        } else {
            list(values, 16, 4)
        };
        let _ = writeln!(
            self.constants,
            "static const union {{\n    int8_t v[{len}];\n    int32_t align;\n}} {name} = {{{{{body}}}}};"
        );
        self.const_bytes += values.len();
    }

    /// A 16x8 layer: its kernel and what every 16x8 layer shares.
    fn use_wide_layer(&mut self, kernel: &'static str) {
        self.use_kernel(
            kernel,
            &["fixedpoint", "mbqm", "load_i16", "store_i16", "wide_layers"],
        );
    }

    /// The `tq_wide_weights` member of a 16x8 layer's parameters: filter,
    /// the int32 or int64 bias (the other NULL), multipliers and shifts.
    fn wide_weights(&mut self, step: usize, w: &WideWeights) -> Result<Field, EmitError> {
        let filter: Vec<i64> = w.filter.iter().map(|&v| i64::from(v)).collect();
        let f = format!("tq_step{step}_filter");
        self.aligned_i8_array(&f, &filter);
        let (b32, b64) = match &w.bias {
            WideBiasData::None => ("NULL".to_string(), "NULL".to_string()),
            WideBiasData::I32(b) => {
                let values: Vec<i64> = b.iter().map(|&v| i64::from(v)).collect();
                (self.int_array(step, "bias", &values), "NULL".to_string())
            }
            WideBiasData::I64(b) => ("NULL".to_string(), self.int64_array(step, "bias", b)),
        };
        let mults: Vec<i64> = w.multipliers.iter().map(|&v| i64::from(v)).collect();
        let m = self.int_array(step, "multiplier", &mults);
        // The verifier saw every shift in -31..=7, so int8 holds them.
        let shifts: Vec<i64> = w.shifts.iter().map(|&v| i64::from(v)).collect();
        let s = format!("tq_step{step}_shift");
        let _ = writeln!(
            self.constants,
            "static const int8_t {s}[{}] = {{{}}};",
            shifts.len().max(1),
            list(&shifts, 16, 4)
        );
        self.const_bytes += shifts.len();
        Ok(Field::new(
            "w",
            format!("{{{f}.v, {b32}, {b64}, {m}, {s}}}"),
            20,
        ))
    }

    /// `static const int64_t tq_stepSTEP_WHAT[N] = {...};` with each value
    /// written as `INT64_C(v)` (INT64_MIN as an expression), returns its name.
    fn int64_array(&mut self, step: usize, what: &str, values: &[i64]) -> String {
        let name = format!("tq_step{step}_{what}");
        let items: Vec<String> = values
            .iter()
            .map(|&v| {
                if v == i64::MIN {
                    "(-INT64_C(9223372036854775807) - 1)".to_string()
                } else {
                    format!("INT64_C({v})")
                }
            })
            .collect();
        let mut body = if items.is_empty() {
            "    0".to_string()
        } else {
            String::new()
        };
        for (i, chunk) in items.chunks(4).enumerate() {
            if i > 0 {
                body.push_str(",\n");
            }
            body.push_str("    ");
            body.push_str(&chunk.join(", "));
        }
        let _ = writeln!(
            self.constants,
            "static const int64_t {name}[{}] = {{\n{body}}};",
            values.len().max(1)
        );
        self.const_bytes += 8 * values.len();
        name
    }

    /// `static const int32_t tq_sSTEP_WHAT[N] = {...};`, returns its name.
    fn int_array(&mut self, step: usize, what: &str, values: &[i64]) -> String {
        let name = format!("tq_step{step}_{what}");
        let _ = writeln!(
            self.constants,
            "static const int32_t {name}[{}] = {{{}}};",
            values.len().max(1),
            if values.is_empty() {
                "0".to_string()
            } else {
                list(values, 8, 4)
            }
        );
        self.const_bytes += 4 * values.len();
        name
    }

    /// A GATHER step on `elem_bytes`-byte elements: the indices as a
    /// constant array, the geometry in bytes.
    pub(crate) fn gather_call(
        &mut self,
        step: usize,
        src: &str,
        dst: &str,
        p: &tinyq_kernels::gather::GatherParams,
        indices: &[i32],
        elem_bytes: usize,
    ) -> Result<(), EmitError> {
        self.use_kernel("gather", &[]);
        let inner = p.inner.saturating_mul(elem_bytes);
        // Every offset the kernel forms is below the input's size.
        int(
            p.input_len().saturating_mul(elem_bytes),
            "a gather input size",
        )?;
        let (count, outer, axis_size, inner) = (
            int(p.count, "a gather index count")?,
            int(p.outer, "a gather outer size")?,
            int(p.axis_size, "a gather axis size")?,
            int(inner, "a gather run length")?,
        );
        let values: Vec<i64> = indices.iter().map(|&i| i64::from(i)).collect();
        let indices = self.int_array(step, "indices", &values);
        let _ = writeln!(
            self.body,
            "    tq_gather((const int8_t *)({src}), (int8_t *)({dst}), {indices}, {count}, {outer}, {axis_size}, {inner});"
        );
        Ok(())
    }

    /// Shape/stride parameters of an N-D kernel; every entry must fit the
    /// generated code's int32_t index arithmetic.
    fn dims_array(&mut self, step: usize, values: &[i64]) -> Result<String, EmitError> {
        for &v in values {
            if v.unsigned_abs() > LIMIT as u64 {
                return Err(EmitError::TooLarge {
                    what: format!("a shape or stride of step {step}"),
                    value: v.unsigned_abs() as usize,
                    limit: LIMIT,
                });
            }
        }
        let name = format!("tq_step{step}_dims");
        let _ = writeln!(
            self.constants,
            "static const int32_t {name}[{}] = {{{}}};",
            values.len(),
            list(values, 6, 4)
        );
        self.const_bytes += 4 * values.len();
        Ok(name)
    }

    /// `static const TYPE tq_stepN_params = { .field = value, ... };`, one
    /// line per group of fields; returns its name.
    fn params_struct(&mut self, step: usize, ty: &str, groups: &[Vec<Field>]) -> String {
        let name = format!("tq_step{step}_params");
        let lines: Vec<String> = groups
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| {
                let parts: Vec<String> = g
                    .iter()
                    .map(|f| format!(".{} = {}", f.name, f.value))
                    .collect();
                format!("    {}", parts.join(", "))
            })
            .collect();
        let _ = writeln!(
            self.constants,
            "static const {ty} {name} = {{\n{}\n}};",
            lines.join(",\n")
        );
        self.const_bytes += groups.iter().flatten().map(|f| f.bytes).sum::<usize>();
        name
    }

    fn byte_table(&mut self, table: &[u8]) -> String {
        if let Some(name) = self.tables.get(table) {
            return name.clone();
        }
        let name = format!("tq_table{}", self.tables.len());
        let values: Vec<i64> = table.iter().map(|&v| i64::from(v)).collect();
        let _ = writeln!(
            self.constants,
            "static const uint8_t {name}[{}] = {{{}}};",
            table.len(),
            list(&values, 16, 4)
        );
        self.const_bytes += table.len();
        self.tables.insert(table.to_vec(), name.clone());
        name
    }

    fn float_table(&mut self, table: &[f32]) -> Result<String, String> {
        let key: Vec<u32> = table.iter().map(|v| v.to_bits()).collect();
        if let Some(name) = self.float_tables.get(&key) {
            return Ok(name.clone());
        }
        let name = format!("tq_ftable{}", self.float_tables.len());
        let values = table
            .iter()
            .map(|&v| c_f32(v))
            .collect::<Result<Vec<_>, _>>()?;
        let mut body = String::new();
        for (i, chunk) in values.chunks(4).enumerate() {
            if i > 0 {
                body.push_str(",\n");
            }
            body.push_str("    ");
            body.push_str(&chunk.join(", "));
        }
        let _ = writeln!(
            self.constants,
            "static const float {name}[{}] = {{\n{body}}};",
            table.len()
        );
        self.const_bytes += 4 * table.len();
        self.float_tables.insert(key, name.clone());
        Ok(name)
    }
}

/// One member of a kernel's parameter struct, as a designated initializer.
#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    /// The C initializer.
    value: String,
    /// Bytes it adds to the constant data (pointers as on 32-bit targets).
    bytes: usize,
}

impl Field {
    fn new(name: &'static str, value: String, bytes: usize) -> Self {
        Field { name, value, bytes }
    }

    fn int(name: &'static str, v: i32) -> Self {
        Field::new(name, c_i32(v), 4)
    }

    fn pointer(name: &'static str, expr: String) -> Self {
        Field::new(name, expr, 4)
    }

    /// An `int32_t NAME[6]` member (a shape or strides).
    fn array(name: &'static str, values: &[usize]) -> Result<Self, EmitError> {
        let parts = values
            .iter()
            .map(|&v| int(v, "a shape or stride").map(|v| v.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Field::new(
            name,
            format!("{{{}}}", parts.join(", ")),
            4 * values.len(),
        ))
    }
}

/// int32 struct members for sizes, checked against the C index limit.
fn dims(values: &[(&'static str, usize)]) -> Result<Vec<Field>, EmitError> {
    values
        .iter()
        .map(|&(name, v)| int(v, "a kernel dimension").map(|v| Field::int(name, v)))
        .collect()
}

/// BATCH_MATMUL's loop bounds and element strides (`tq_batch_matmul_params`
/// without the requantization): each batch dimension's stride 0 where the
/// operand broadcasts, and `adj_x`/`adj_y` as strides inside a matrix.
/// An integer BATCH_MATMUL's parameter rows (int8 and int16 share the
/// struct): the geometry, the zero points, the requantization.
fn batch_matmul_fields(
    p: &tinyq_kernels::batch_matmul::BatchMatMulParams,
) -> Result<Vec<Vec<Field>>, EmitError> {
    let mut fields = batch_matmul_geometry(&p.shape)?;
    fields.push(vec![
        Field::int("lhs_offset", p.lhs_offset),
        Field::int("rhs_offset", p.rhs_offset),
        Field::int("output_offset", p.output_offset),
    ]);
    fields.push(vec![
        Field::int("multiplier", p.multiplier),
        Field::int("shift", p.shift),
    ]);
    Ok(fields)
}

fn batch_matmul_geometry(
    s: &tinyq_kernels::batch_matmul::MatMulShape,
) -> Result<Vec<Vec<Field>>, EmitError> {
    let strides = |batch: &[usize; 3], mat: usize| -> Result<[usize; 3], EmitError> {
        let mut out = [0usize; 3];
        let mut inner = mat;
        for d in (0..3).rev() {
            out[d] = if batch[d] == 1 { 0 } else { inner };
            inner = inner.saturating_mul(batch[d]);
        }
        // Every offset the kernel forms is below the operand's size.
        int(inner, "a batch matmul operand size")?;
        Ok(out)
    };
    let ls = strides(&s.lhs_batch, s.rows.saturating_mul(s.depth))?;
    let rs = strides(&s.rhs_batch, s.depth.saturating_mul(s.cols))?;
    let ob = s.out_batch();
    let (lhs_si, lhs_sk) = if s.adj_x { (1, s.rows) } else { (s.depth, 1) };
    let (rhs_sk, rhs_sj) = if s.adj_y { (1, s.depth) } else { (s.cols, 1) };
    Ok(vec![
        dims(&[("b0", ob[0]), ("b1", ob[1]), ("b2", ob[2])])?,
        dims(&[
            ("lhs_s0", ls[0]),
            ("lhs_s1", ls[1]),
            ("lhs_s2", ls[2]),
            ("rhs_s0", rs[0]),
            ("rhs_s1", rs[1]),
            ("rhs_s2", rs[2]),
        ])?,
        dims(&[("rows", s.rows), ("depth", s.depth), ("cols", s.cols)])?,
        dims(&[
            ("lhs_si", lhs_si),
            ("lhs_sk", lhs_sk),
            ("rhs_sk", rhs_sk),
            ("rhs_sj", rhs_sj),
        ])?,
    ])
}

/// The zero-point offsets and the activation clamp of a conv-like kernel.
fn offsets_and_clamp(
    input_offset: i32,
    filter_offset: Option<i32>,
    output_offset: i32,
    act_min: i32,
    act_max: i32,
) -> Vec<Field> {
    let mut fields = vec![Field::int("input_offset", input_offset)];
    if let Some(f) = filter_offset {
        fields.push(Field::int("filter_offset", f));
    }
    fields.extend([
        Field::int("output_offset", output_offset),
        Field::int("act_min", act_min),
        Field::int("act_max", act_max),
    ]);
    fields
}

/// The `right_only` field: whether a layer's requantization can take the
/// cheaper form (`tq_requant_r`): every shift a right shift (or none), no
/// multiplier INT32_MIN (the one value for which the doubling high multiply
/// saturates), and an activation range inside int8 (so a saturation to int8
/// may come first).
fn right_only(w: &Weights, act_min: i32, act_max: i32) -> Vec<Field> {
    let yes = w.shifts.iter().all(|&s| s <= 0)
        && w.multipliers.iter().all(|&m| m != i32::MIN)
        && act_min >= -128
        && act_max <= 127;
    vec![Field::int("right_only", i32::from(yes))]
}

fn templates() -> Result<tera::Tera, EmitError> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| EmitError::Template(error_chain(&e)))?;
    Ok(tera)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Collapses runs of blank lines the conditional includes leave behind and
/// ends the file with exactly one newline.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn io_ctx(io: &IoSpec, labels: &mut Namer) -> IoCtx {
    let dtype = match io.dtype {
        DType::I8 => "int8",
        DType::U8 => "uint8",
        DType::I16 => "int16",
        DType::F32 => "float32",
        DType::U32 => "uint32",
        DType::U64 => "uint64",
        DType::I32 => "int32",
        _ => "unsupported",
    };
    let quantized = matches!(io.dtype, DType::I8 | DType::U8 | DType::I16);
    let (scale, zero_point) = match io.quant {
        Some((s, z)) if quantized => match c_f32(s) {
            Ok(lit) => (Some(lit), Some(format!("({})", c_i32(z)))),
            Err(_) => (None, None),
        },
        _ => (None, None),
    };
    IoCtx {
        label: labels.name(&io.name),
        dtype,
        shape: io
            .shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        size: io.byte_len(),
        scale,
        zero_point,
    }
}

fn check_limit(what: &str, value: usize) -> Result<(), EmitError> {
    if value > LIMIT {
        Err(EmitError::TooLarge {
            what: what.to_string(),
            value,
            limit: LIMIT,
        })
    } else {
        Ok(())
    }
}

fn int(value: usize, what: &str) -> Result<i32, EmitError> {
    check_limit(what, value)?;
    i32::try_from(value).map_err(|_| EmitError::TooLarge {
        what: what.to_string(),
        value,
        limit: LIMIT,
    })
}

fn to_i64(values: &[usize]) -> Vec<i64> {
    values.iter().map(|&v| v as i64).collect()
}

/// An int32 literal; `INT32_MIN` is written `(-2147483647 - 1)`.
fn c_i32(v: i32) -> String {
    if v == i32::MIN {
        "(-2147483647 - 1)".to_string()
    } else {
        v.to_string()
    }
}

fn c_i64(v: i64) -> String {
    if v == i64::MIN {
        "(-9223372036854775807 - 1)".to_string()
    } else if i32::try_from(v).is_ok() {
        c_i32(v as i32)
    } else {
        format!("{v}LL")
    }
}

/// A float literal that reads back as exactly `v` (shortest round-trip
/// digits, which every C compiler rounds correctly).
fn c_f32(v: f32) -> Result<String, String> {
    if !v.is_finite() {
        return Err(format!("non-finite float constant {v}"));
    }
    let text = format!("{v:e}");
    // `{:e}` never yields a bare integer mantissa without an exponent, so
    // appending `f` always gives a floating constant.
    Ok(format!("{text}f"))
}

/// Integer literals, `per_line` to a line, indented.
fn list(values: &[i64], per_line: usize, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut s = String::new();
    for (i, chunk) in values.chunks(per_line).enumerate() {
        s.push('\n');
        s.push_str(&pad);
        let parts: Vec<String> = chunk
            .iter()
            .map(|&v| match i32::try_from(v) {
                Ok(v) => c_i32(v),
                Err(_) => c_i64(v),
            })
            .collect();
        s.push_str(&parts.join(", "));
        if (i + 1) * per_line < values.len() {
            s.push(',');
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_literals_round_trip() {
        for v in [0.1f32, 1.0, -3.5e-8, f32::MIN_POSITIVE, 1.0e-45, 123_456.79] {
            let lit = c_f32(v).unwrap_or_default();
            let parsed: f32 = lit.trim_end_matches('f').parse().unwrap_or(f32::NAN);
            assert_eq!(parsed.to_bits(), v.to_bits(), "{lit}");
        }
        assert!(c_f32(f32::NAN).is_err());
    }

    #[test]
    fn int_literals() {
        assert_eq!(c_i32(i32::MIN), "(-2147483647 - 1)");
        assert_eq!(c_i32(-5), "-5");
    }
}

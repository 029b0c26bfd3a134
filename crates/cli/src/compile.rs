//! `tinyq compile MODEL [--calibration CAL.npy] [--io ...] --emit c|rust [--name NAME] [--out DIR]`.

use std::fmt::Write as _;
use std::path::Path;

use tinyq_ir::{BufferRef, FloatKernel, Kernel, Program};

use tinyq_compiler::{CompileError, Session};

use crate::CliError;
use crate::quantize::{QuantChoice, quantize_graph};

/// The driver's error, with the command-line flag that fixes it where one does.
pub fn compile_error(e: CompileError, model: &Path) -> CliError {
    match e {
        CompileError::NeedsCalibration { .. } => CliError(format!(
            "{}: this is a float model; pass --calibration CAL.npy (representative inputs) to quantize it",
            model.display()
        )),
        other => CliError::from(other),
    }
}

/// One `warning:` line per layer whose int32 accumulator can overflow, or
/// (with `--deny-overflow`) an error naming them all.
pub fn overflow_warnings(
    model: &Path,
    found: &[tinyq_compiler::AccumulatorOverflow],
    deny: bool,
) -> Result<(), CliError> {
    if deny && !found.is_empty() {
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        return Err(CliError(format!(
            "{}: {} (--deny-overflow)",
            model.display(),
            lines.join("; ")
        )));
    }
    for o in found {
        eprintln!("warning: {}: {o}", model.display());
    }
    Ok(())
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// C99: NAME.h and NAME.c.
    C,
    /// A no_std Rust module: NAME.rs.
    Rust,
}

/// What `tinyq compile` writes, and where.
#[derive(Debug, Clone, Copy)]
pub struct Outputs<'a> {
    pub emit: &'a [Emit],
    pub name: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub report: Option<&'a Path>,
}

/// Which quantization options the command line gave explicitly.
#[derive(Debug, Clone, Copy)]
pub struct Given {
    pub io: bool,
    pub activations: bool,
}

pub fn compile(
    model: &Path,
    quant: Option<QuantChoice<'_>>,
    given: Given,
    outputs: Outputs<'_>,
    deny_overflow: bool,
) -> Result<(), CliError> {
    let Outputs {
        emit,
        name,
        out,
        report,
    } = outputs;
    if let Some(path) = report {
        crate::report::check_path(path)?;
    }
    if let Some(n) = name {
        tinyq_compiler::rules::check_name(n).map_err(|e| CliError(format!("--name: {e}")))?;
    }
    let session = Session::new();
    let read = crate::read_model(&session, model)?;
    // The rules include_model! applies too, in the same words.
    tinyq_compiler::rules::check_options(read.kind(), quant.is_some(), given.io)
        .map_err(|e| CliError(format!("{}: {e}", model.display())))?;
    if given.activations && quant.is_none() {
        return Err(CliError(format!(
            "{}: --activations chooses how a float model is quantized; it needs --calibration \
             (an integer model keeps its own types, a float model without calibration data \
             compiles as float32)",
            model.display()
        )));
    }
    let quantized = match quant {
        Some(choice) => Some(quantize_graph(&session, &read, model, choice)?),
        None => None,
    };
    let (input, was_float) = match quantized {
        Some(graph) => (graph, true),
        None => session
            .prepare(&read, None)
            .map_err(|e| compile_error(e, model))?,
    };
    // Verified after every pass, and each pass's arena measured for the
    // summary lines.
    let compiled = session
        .verify_each(true)
        .measure_arena(true)
        .compile_graph(&read.name, input, was_float)
        .map_err(CliError::from)?;
    overflow_warnings(model, &compiled.overflow, deny_overflow)?;
    let lines = &compiled.passes;
    let program = &compiled.program;
    let name = match name {
        Some(n) => n.to_string(),
        None => {
            let stem = model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            tinyq_backend_c::namer::sanitize(&stem)
        }
    };
    let dir = out.unwrap_or(Path::new("."));
    let mut written = Vec::new();
    let mut const_bytes = None;
    let mut kernels = Vec::new();
    if emit.is_empty() {
        return Err(CliError("nothing to emit: pass --emit c".to_string()));
    }
    for e in emit {
        match e {
            Emit::C => {
                let generated = Session::new().emit_c(&read.name, program, &name)?;
                std::fs::create_dir_all(dir)
                    .map_err(|err| CliError(format!("{}: {err}", dir.display())))?;
                for (file, text) in [
                    (format!("{name}.h"), &generated.header),
                    (format!("{name}.c"), &generated.source),
                ] {
                    let path = dir.join(file);
                    std::fs::write(&path, text)
                        .map_err(|err| CliError(format!("{}: {err}", path.display())))?;
                    written.push(path);
                }
                const_bytes = Some(generated.const_bytes);
                kernels = generated.kernels.clone();
            }
            Emit::Rust => {
                std::fs::create_dir_all(dir)
                    .map_err(|err| CliError(format!("{}: {err}", dir.display())))?;
                let path = Session::new().emit_rust_to_dir(&read.name, program, &name, dir)?;
                written.push(path);
            }
        }
    }
    for line in lines.iter().filter(|l| l.report.outcome.is_changed()) {
        outln!("{}", line.line());
    }
    if let Some(line) = compiled.lowering.line() {
        outln!("{line}");
    }
    out!("{}", summary(program, &written, const_bytes));
    if quant.is_none() && read.kind() == tinyq_ir::GraphKind::Float {
        outln!("{}", float_hint(program));
    }
    if !kernels.is_empty() {
        outln!("kernels: {} (only these are emitted)", kernels.join(", "));
    }
    outln!(
        "edge tpu: {}",
        tinyq_edgetpu::check_graph(&compiled.input, &Default::default()).verdict()
    );
    if let Some(path) = report {
        // With calibration data, each layer's SQNR against the float model
        // on (up to 64 of) those samples.
        let sqnr = match quant {
            Some(choice) => {
                crate::eval::per_tensor_sqnr(&read.graph, &compiled.input, choice.calibration, 64)?
            }
            None => Default::default(),
        };
        let built = crate::report::build(
            &read.name,
            &name,
            program,
            &compiled.graph,
            &compiled.input,
            &sqnr,
        );
        crate::report::write(path, &built)?;
        outln!("wrote {}", path.display());
    }
    Ok(())
}

/// Filter and bias bytes of a float32 conv-like step: as stored (an int8
/// filter of a dynamic-range model with its scales), and as int8
/// quantization would store them (int8 filter, int32 bias).
fn float_weight_bytes(kernel: &Kernel) -> Option<(usize, usize, bool)> {
    let Kernel::Float(float) = kernel else {
        return None;
    };
    let weights = float.weights()?;
    let bias = weights.bias.as_ref().map_or(0, Vec::len);
    Some((
        weights.filter.bytes() + 4 * bias,
        weights.filter.len() + 4 * bias,
        weights.filter.is_int8(),
    ))
}

/// The hint after compiling a float model as float32: what int8 would save.
fn float_hint(program: &Program) -> String {
    let (stored, int8, dynamic) = program
        .steps
        .iter()
        .filter_map(|st| float_weight_bytes(&st.kernel))
        .fold((0, 0, 0), |(f, i, d), (a, b, q)| {
            (f + a, i + b, d + usize::from(q))
        });
    if dynamic > 0 {
        return format!(
            "dynamic range: float32 activations, {dynamic} layers with int8 weights dequantized on the fly; \
             filters and biases take {stored} bytes of flash; --calibration CAL.npy on the float model \
             quantizes the activations too and runs integer kernels"
        );
    }
    let ratio = if int8 > 0 {
        format!(" ({:.1}x smaller)", stored as f64 / int8 as f64)
    } else {
        String::new()
    };
    format!(
        "float:   compiled as float32 (no --calibration): filters and biases take {stored} bytes of flash; \
         --calibration CAL.npy quantizes them to int8, {int8} bytes{ratio}, and runs integer kernels"
    )
}

/// Multiply-accumulates of one step (as `inspect` counts them).
pub fn step_macs(kernel: &Kernel, out_len: usize) -> u64 {
    let m = |v: &[usize]| v.iter().map(|&x| x as u64).product::<u64>();
    match kernel {
        Kernel::Conv2D { params: p, .. } | Kernel::Conv2D16x8 { params: p, .. } => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.output_channels,
            p.filter_height,
            p.filter_width,
            p.filter_input_channels,
        ]),
        Kernel::DepthwiseConv2D { params: p, .. }
        | Kernel::DepthwiseConv2D16x8 { params: p, .. } => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.input_channels,
            p.depth_multiplier,
            p.filter_height,
            p.filter_width,
        ]),
        Kernel::FullyConnected { params: p, .. } | Kernel::FullyConnected16x8 { params: p, .. } => {
            m(&[p.batches, p.output_depth, p.accum_depth])
        }
        Kernel::Float(FloatKernel::Conv2D { params: p, .. }) => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.output_channels,
            p.filter_height,
            p.filter_width,
            p.filter_input_channels,
        ]),
        Kernel::Float(FloatKernel::DepthwiseConv2D { params: p, .. }) => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.input_channels,
            p.depth_multiplier,
            p.filter_height,
            p.filter_width,
        ]),
        Kernel::Float(FloatKernel::FullyConnected { params: p, .. }) => {
            m(&[p.batches, p.output_depth, p.accum_depth])
        }
        Kernel::Binary {
            op: tinyq_ir::kernel::BinaryOp::Mul(_),
            ..
        } => out_len as u64,
        // Two bytes an int16 value.
        Kernel::Int16(tinyq_ir::Int16Kernel::Mul { .. }) => out_len as u64 / 2,
        _ => 0,
    }
}

fn summary(
    program: &Program,
    written: &[std::path::PathBuf],
    const_bytes: Option<usize>,
) -> String {
    let mut s = String::new();
    for path in written {
        let _ = writeln!(s, "wrote {}", path.display());
    }
    let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut macs = 0u64;
    for step in &program.steps {
        *kinds.entry(step.kernel.name()).or_default() += 1;
        let out_len = match step.output {
            BufferRef::Arena { size, .. } => size,
            BufferRef::Output(i) => program.outputs.get(i).map_or(0, |o| o.byte_len()),
            _ => 0,
        };
        macs += step_macs(&step.kernel, out_len);
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
    let _ = writeln!(
        s,
        "ops:     {} steps ({})",
        program.steps.len(),
        kinds.join(", ")
    );
    let _ = writeln!(s, "MACs:    {macs}");
    let weight_bytes: usize = program
        .steps
        .iter()
        .map(|st| st.kernel.weight_bytes())
        .sum();
    match const_bytes {
        Some(c) => {
            let _ = writeln!(
                s,
                "weights: {weight_bytes} bytes of filters and biases; {c} bytes of constant data in all (with multipliers, shifts, tables)"
            );
        }
        None => {
            let _ = writeln!(s, "weights: {weight_bytes} bytes of filters and biases");
        }
    }
    let _ = writeln!(s, "arena:   {}", arena_line(program));
    let ins: usize = program.inputs.iter().map(|i| i.byte_len()).sum();
    let outs: usize = program.outputs.iter().map(|o| o.byte_len()).sum();
    let _ = writeln!(
        s,
        "I/O:     {ins} bytes in ({} inputs), {outs} bytes out ({} outputs), caller-owned",
        program.inputs.len(),
        program.outputs.len()
    );
    s
}

/// `131424 -> 107184 bytes ...`: the arena against the classic liveness
/// bound (disjoint buffers) and the bound with overlapping buffers.
pub fn arena_line(program: &Program) -> String {
    let (arena, disjoint, overlap) = (
        program.arena_size,
        program.arena_lower_bound,
        program.arena_overlap_bound,
    );
    let bound = if disjoint > overlap {
        "the overlap bound"
    } else {
        "the lower bound"
    };
    let verdict = if arena == overlap {
        format!("optimal: equals {bound}")
    } else {
        format!(
            "{} bytes above {bound}: buffers live at the same time cannot all be packed \
             without gaps (fragmentation between differently sized lifetimes)",
            arena - overlap.min(arena)
        )
    };
    if disjoint > overlap {
        format!(
            "{arena} bytes (lower bound {disjoint} with disjoint buffers, {overlap} with outputs over \
             the inputs they consume; {verdict})"
        )
    } else {
        format!("{arena} bytes (lower bound {disjoint}; {verdict})")
    }
}

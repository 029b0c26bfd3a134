//! `tinyq compile MODEL [--calibration CAL.npy] [--io ...] --emit c|rust [--name NAME] [--out DIR]`.

use std::fmt::Write as _;
use std::path::Path;

use tinyq_ir::{BufferRef, Kernel, Program};

use crate::CliError;
use crate::quantize::{QuantChoice, quantize_graph};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// C99: NAME.h and NAME.c.
    C,
    /// A no_std Rust module: NAME.rs.
    Rust,
}

pub fn compile(
    model: &Path,
    quant: Option<QuantChoice<'_>>,
    emit: &[Emit],
    name: Option<&str>,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let mut graph = crate::read_model(model)?;
    if crate::eval::is_float_model(&graph) {
        let Some(choice) = quant else {
            return Err(CliError(format!(
                "{}: this is a float model; pass --calibration CAL.npy (representative inputs) to quantize it",
                model.display()
            )));
        };
        graph = quantize_graph(&graph, model, choice)?;
    } else if let Some(choice) = quant {
        return Err(CliError(format!(
            "{}: the model is already quantized; drop --calibration {} (and --io)",
            model.display(),
            choice.calibration.display()
        )));
    }
    let program = tinyq_opt::lower(&graph)
        .map_err(|e| CliError(format!("{}: {}", model.display(), CliError::from(e).0)))?;
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
                let generated = tinyq_backend_c::emit(&program, &name).map_err(|err| {
                    CliError(format!("{}: {}", model.display(), CliError::from(err).0))
                })?;
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
                let path =
                    tinyq_backend_rust::emit_to_dir(&program, &name, dir).map_err(|err| {
                        CliError(format!("{}: {}", model.display(), CliError::from(err).0))
                    })?;
                written.push(path);
            }
        }
    }
    print!("{}", summary(&program, &written, const_bytes));
    if !kernels.is_empty() {
        println!("kernels: {} (only these are emitted)", kernels.join(", "));
    }
    println!(
        "edge tpu: {}",
        tinyq_edgetpu::check_graph(&graph, &Default::default()).verdict()
    );
    Ok(())
}

/// Multiply-accumulates of one step (as `inspect` counts them).
pub fn step_macs(kernel: &Kernel, out_len: usize) -> u64 {
    let m = |v: &[usize]| v.iter().map(|&x| x as u64).product::<u64>();
    match kernel {
        Kernel::Conv2D { params: p, .. } => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.output_channels,
            p.filter_height,
            p.filter_width,
            p.filter_input_channels,
        ]),
        Kernel::DepthwiseConv2D { params: p, .. } => m(&[
            p.batches,
            p.output_height,
            p.output_width,
            p.input_channels,
            p.depth_multiplier,
            p.filter_height,
            p.filter_width,
        ]),
        Kernel::FullyConnected { params: p, .. } => m(&[p.batches, p.output_depth, p.accum_depth]),
        Kernel::Binary {
            op: tinyq_ir::kernel::BinaryOp::Mul(_),
            ..
        } => out_len as u64,
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
        .map(|st| match &st.kernel {
            Kernel::Conv2D { weights, .. }
            | Kernel::DepthwiseConv2D { weights, .. }
            | Kernel::FullyConnected { weights, .. } => {
                weights.filter.len() + 4 * weights.bias.as_ref().map_or(0, Vec::len)
            }
            _ => 0,
        })
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
    let verdict = if program.arena_size == program.arena_lower_bound {
        "optimal: equals the lower bound".to_string()
    } else {
        format!(
            "{} bytes above the lower bound: buffers live at the same time cannot all be packed \
             without gaps (fragmentation between differently sized lifetimes)",
            program.arena_size - program.arena_lower_bound
        )
    };
    let _ = writeln!(
        s,
        "arena:   {} bytes (lower bound {}; {verdict})",
        program.arena_size, program.arena_lower_bound
    );
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

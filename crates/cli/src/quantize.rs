//! `tinyq quantize`: post-training full-integer quantization of a float
//! model from a representative dataset, written as a `.tflite` file. The same
//! in-memory step serves `tinyq compile` on float models.

use std::path::Path;

use tinyq_compiler::{Calibration, CompileError, GraphKind, Model, QuantOptions, Session};
use tinyq_ir::Graph;

use crate::CliError;
use crate::eval::{
    ActivationsArg, CalibrationMethod, Io, Progress, check_io, io_mode, read_float_inputs,
};

/// How to quantize, as given on the command line.
#[derive(Debug, Clone, Copy)]
pub struct QuantChoice<'a> {
    pub calibration: &'a Path,
    pub method: CalibrationMethod,
    pub percentile: f64,
    /// `None`: integer I/O of the activations' type.
    pub io: Option<Io>,
    pub activations: ActivationsArg,
    pub fallback: &'a FallbackArgs,
}

impl QuantChoice<'_> {
    /// The I/O mode: as given, or the activations' own integer type.
    fn io_mode(&self) -> tinyq_compiler::IoMode {
        io_mode(self.io, self.activations)
    }
}

/// What may stay float32 in a quantized model (`quantize` and `compile`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FallbackArgs {
    /// Ops without an int8 kernel stay float32, with DEQUANTIZE before and
    /// QUANTIZE after them (a mixed int8/float model); without it such an op is an error.
    #[arg(long, value_enum)]
    pub fallback: Option<FallbackMode>,
    /// Keep this op (its index, as `tinyq inspect` lists it) or the op producing
    /// this tensor in float32 (repeatable; only when quantizing).
    #[arg(long = "keep-float", value_name = "OP_INDEX|TENSOR_NAME")]
    pub keep_float: Vec<String>,
}

/// `--fallback`'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FallbackMode {
    /// Keep the op in float32.
    Float,
}

impl FallbackArgs {
    /// Whether any flag was given (they apply only when quantizing).
    pub fn given(&self) -> bool {
        self.fallback.is_some() || !self.keep_float.is_empty()
    }

    fn mode(&self) -> tinyq_compiler::Fallback {
        match self.fallback {
            Some(FallbackMode::Float) => tinyq_compiler::Fallback::Float,
            None => tinyq_compiler::Fallback::Error,
        }
    }

    fn keep(&self) -> Vec<tinyq_compiler::KeepFloat> {
        self.keep_float
            .iter()
            .map(|k| tinyq_compiler::KeepFloat::parse(k))
            .collect()
    }
}

/// Quantizes a float model in memory through the driver; `model` names the
/// file in errors.
pub fn quantize_graph(
    session: &Session,
    read: &Model,
    model: &Path,
    choice: QuantChoice<'_>,
) -> Result<Graph, CliError> {
    if read.kind() != GraphKind::Float {
        return Err(CliError(format!(
            "{}: the model is already quantized; use it as it is (no --calibration needed)",
            model.display()
        )));
    }
    let options = QuantOptions {
        method: choice.method.method(choice.percentile),
        io: choice.io_mode(),
        activations: choice.activations.into(),
        fallback: choice.fallback.mode(),
        ..QuantOptions::default()
    };
    // Before the calibration data is read: a bad combination fails fast.
    check_io(choice.io, options)?;
    let samples = read_float_inputs(&read.graph, choice.calibration, 1.0)?;
    for w in tinyq_quant::calibrate::calibration_warnings(&read.graph, &samples) {
        eprintln!("warning: {}: {w}", choice.calibration.display());
    }
    let mut progress = Progress::new("calibrating");
    let mut tick = |done, total| progress.tick(done, total);
    session
        .clone()
        .keep_float(choice.fallback.keep())
        .quantize(
            read,
            Calibration {
                samples: &samples,
                options,
                progress: Some(&mut tick),
            },
        )
        .map_err(|e| match e {
            CompileError::Quantize { source, .. } => CliError(format!(
                "{} with calibration {}: {}",
                model.display(),
                choice.calibration.display(),
                CliError::from(source).0
            )),
            other => CliError::from(other),
        })
}

/// Dynamic-range quantization of a float model in memory.
pub fn quantize_dynamic_graph(
    session: &Session,
    read: &Model,
    model: &Path,
) -> Result<Graph, CliError> {
    if read.kind() != GraphKind::Float {
        return Err(CliError(format!(
            "{}: the model is already quantized; --mode dynamic takes a float32 model",
            model.display()
        )));
    }
    session.quantize_dynamic(read).map_err(CliError::from)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so an
/// existing file is never left half-written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tinyq-tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            CliError(format!("cannot write {}: {e}", path.display()))
        })
}

/// What `tinyq quantize` makes of a float model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// int8 activations and weights, from calibration data.
    Full,
    /// int8 weights (per-channel scales), float activations; no calibration.
    Dynamic,
}

/// The types asked for on the command line, which `--mode dynamic` refuses.
#[derive(Debug, Clone, Copy)]
pub struct Types {
    pub io: Option<Io>,
    pub activations: ActivationsArg,
    /// `--fallback` or `--keep-float` given.
    pub fallback: bool,
}

/// `tinyq quantize FLOAT.tflite [--mode full|dynamic] ... -o OUT.tflite`:
/// checks the options that belong to one mode only, then quantizes.
pub fn quantize_mode<'a>(
    model: &Path,
    mode: Mode,
    calibration: Option<&'a Path>,
    choice: impl FnOnce(&'a Path) -> QuantChoice<'a>,
    Types {
        io,
        activations,
        fallback,
    }: Types,
    output: &Path,
    deny_overflow: bool,
) -> Result<(), CliError> {
    if mode == Mode::Dynamic && fallback {
        return Err(CliError(format!(
            "{}: --mode dynamic keeps every activation float, so --fallback and --keep-float \
             do not apply; drop them, or use --mode full --calibration CAL.npy",
            model.display()
        )));
    }
    if mode == Mode::Dynamic && activations == ActivationsArg::Int16 {
        return Err(CliError(format!(
            "{}: --mode dynamic keeps float activations, so --activations int16 does not apply; \
             drop it, or use --mode full --calibration CAL.npy --activations int16",
            model.display()
        )));
    }
    match (mode, calibration) {
        (Mode::Full, Some(calibration)) => {
            quantize(model, Some(choice(calibration)), output, deny_overflow)
        }
        (Mode::Full, None) => Err(CliError(format!(
            "{}: --mode full needs --calibration CAL.npy (representative inputs); \
             --mode dynamic quantizes the weights only, without calibration data",
            model.display()
        ))),
        (Mode::Dynamic, Some(_)) => Err(CliError(format!(
            "{}: --mode dynamic takes no --calibration: it quantizes the weights only and \
             keeps float activations; drop --calibration, or use --mode full to quantize the activations",
            model.display()
        ))),
        (Mode::Dynamic, None) => match io {
            Some(io @ (Io::Int8 | Io::Uint8)) => Err(CliError(format!(
                "{}: --mode dynamic keeps float inputs and outputs, so --io {} does not apply; \
                 drop --io, or use --mode full with --calibration for integer I/O",
                model.display(),
                if io == Io::Int8 { "int8" } else { "uint8" }
            ))),
            _ => quantize(model, None, output, deny_overflow),
        },
    }
}

/// `tinyq quantize FLOAT.tflite --calibration CAL.npy -o OUT.tflite`, or
/// without a choice, dynamic-range quantization.
pub fn quantize(
    model: &Path,
    choice: Option<QuantChoice<'_>>,
    output: &Path,
    deny_overflow: bool,
) -> Result<(), CliError> {
    let session = Session::new();
    let read = crate::read_model(&session, model)?;
    let quantized = match choice {
        Some(choice) => quantize_graph(&session, &read, model, choice)?,
        None => quantize_dynamic_graph(&session, &read, model)?,
    };
    if choice.is_some() {
        crate::compile::overflow_warnings(
            model,
            &session.accumulator_overflows(&quantized),
            deny_overflow,
        )?;
    }
    let bytes = tinyq_tflite::write(&quantized)
        .map_err(|e| CliError(format!("{}: {}", output.display(), CliError::from(e).0)))?;
    write_atomically(output, &bytes)?;
    let float_bytes = std::fs::metadata(model).map(|m| m.len()).unwrap_or(0);
    let size = bytes.len() as u64;
    // Tiny models can grow: per-channel scales and QUANTIZE ops outweigh
    // the 4x on weights. Say so rather than print "0.8x smaller".
    let comparison = if size < float_bytes {
        format!("{:.2}x smaller", float_bytes as f64 / size.max(1) as f64)
    } else {
        format!(
            "not smaller: {} bytes more, quantization parameters outweigh the int8 weights",
            size - float_bytes
        )
    };
    outln!(
        "wrote {}: {} ops, {} bytes (float model {} bytes, {comparison})",
        output.display(),
        quantized.ops.len(),
        bytes.len(),
        float_bytes,
    );
    if let Ok(report) = tinyq_edgetpu::assess(&bytes, &Default::default()) {
        outln!("edge tpu: {}", report.given.verdict());
    }
    Ok(())
}

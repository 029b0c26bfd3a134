//! The `tinyq` command-line tool.

/// `print!` that ends the process quietly when stdout is a closed pipe
/// (`tinyq inspect big.tflite --json | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e);
        }
    }};
}

/// `println!` with [`out!`]'s handling of a closed pipe.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(e);
        }
    }};
}

mod check;
mod compile;
mod eval;
mod inspect;
mod listing;
mod npy;
mod quantize;
mod report;
mod run;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tinyq: TFLite int8 models, exactly as TFLite-Micro computes them.
#[derive(Debug, Parser)]
#[command(name = "tinyq", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile the model to source code: `--emit c` writes NAME.h and NAME.c.
    Compile {
        /// The .tflite model: full-integer (int8, uint8 or float I/O), or float32
        /// with --calibration.
        model: PathBuf,
        /// Representative inputs for quantizing a float model (`.npy`, or `.npz` per input).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// How calibration ranges are chosen.
        #[arg(long, value_enum, default_value = "minmax")]
        calibration_method: eval::CalibrationMethod,
        /// Percentage of values kept by `--calibration-method percentile`.
        #[arg(long, default_value_t = 99.99)]
        percentile: f64,
        /// I/O type of a quantized float model (default: the activations' type; only with
        /// --calibration).
        #[arg(long, value_enum)]
        io: Option<eval::Io>,
        /// Activation type of a quantized float model: int8, or int16 with int8 weights
        /// (16x8; int16 or float I/O). Only with --calibration.
        #[arg(long, value_enum)]
        activations: Option<eval::ActivationsArg>,
        #[command(flatten)]
        fallback: quantize::FallbackArgs,
        /// What to generate (repeatable).
        #[arg(long, value_enum, required = true)]
        emit: Vec<compile::Emit>,
        /// Name of the generated files and C symbols (default: the model file's stem, made into an identifier).
        #[arg(long)]
        name: Option<String>,
        /// Directory to write into (default: the current directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fail instead of warning when a layer's int32 accumulator can overflow.
        #[arg(long)]
        deny_overflow: bool,
        /// Write a per-step report: self-contained HTML, or JSON (by extension).
        #[arg(long, value_name = "FILE.html|FILE.json")]
        report: Option<PathBuf>,
    },
    /// Print one row per op: type, shapes, dtypes, quantization, parameter bytes and MACs.
    Inspect {
        /// The .tflite model.
        model: PathBuf,
        /// Print the IR after the optimizer's passes instead of the table.
        #[arg(long, conflicts_with = "json")]
        ir: bool,
        /// With --ir: stop after this pass (e.g. fold-pad).
        #[arg(long, requires = "ir", conflicts_with = "passes", value_name = "PASS")]
        after: Option<String>,
        /// With --ir: print the IR as read and after every pass, with what each did.
        #[arg(long, requires = "ir")]
        passes: bool,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the model on samples with tinyq's reference interpreter.
    Run {
        /// The .tflite model.
        model: PathBuf,
        /// Samples: `.npy` holding `[N, ...input shape]` (a leading batch of 1
        /// may be present or not), or `.npz` with one array per input, named
        /// after the input tensors.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the outputs (`.npy`; `.npz` for several outputs).
        /// Without it, the outputs are printed.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Write a CRC-32 of every step's output for the first sample (JSON),
        /// to compare with a device's run (`tinyq trace-diff`).
        #[arg(long, value_name = "TRACE.json")]
        trace: Option<PathBuf>,
        /// Reset a stateful model's state before every sample (by default
        /// the state carries over from one sample to the next, as a stream).
        #[arg(long)]
        reset_each: bool,
    },
    /// Print a shell completion script: `tinyq completions bash > /etc/bash_completion.d/tinyq`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Name the first step where a device's run differs from `run --trace`.
    ///
    /// DEVICE.txt holds `index crc32` lines (other lines are ignored), as a
    /// firmware prints them from the N_STEP_OUTPUT hook. Exits 1 on a difference.
    TraceDiff {
        /// The trace written by `tinyq run --trace`.
        trace: PathBuf,
        /// The device's `index crc32` lines.
        device: PathBuf,
    },
    /// Top-1 accuracy of a model on labelled samples; for a float model, also of
    /// its int8 version (quantized with the calibration set).
    Eval {
        /// The .tflite model (float32 or quantized).
        model: PathBuf,
        /// Samples `[N, ...input shape]` (`.npy`, or `.npz` with one array per input).
        #[arg(long)]
        data: PathBuf,
        /// Class labels `[N]` (int64, int32 or uint8 `.npy`).
        #[arg(long)]
        labels: PathBuf,
        /// Representative inputs for quantizing a float model.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// How calibration ranges are chosen.
        #[arg(long, value_enum, default_value = "minmax")]
        calibration_method: eval::CalibrationMethod,
        /// Percentage of values kept by `--calibration-method percentile`.
        #[arg(long, default_value_t = 99.99)]
        percentile: f64,
        /// I/O type of the quantized model (default: the activations' type).
        #[arg(long, value_enum)]
        io: Option<eval::Io>,
        /// Activation type of the quantized model: int8, or int16 with int8 weights (16x8).
        #[arg(long, value_enum, default_value = "int8")]
        activations: eval::ActivationsArg,
        /// Also print each quantized tensor's SQNR against the float run.
        #[arg(long)]
        per_tensor: bool,
        /// Divide integer-typed data and calibration arrays by this (e.g. 255 for uint8 images).
        #[arg(long, default_value_t = 1.0)]
        divide_by: f32,
    },
    /// Quantize a float model to full 8-bit integers from a representative dataset
    /// (or, with --mode dynamic, its weights only) and write it as a .tflite file.
    Quantize {
        /// The float32 .tflite model.
        model: PathBuf,
        /// full: int8 activations and weights (needs --calibration); dynamic: int8
        /// weights with per-channel scales, float activations, no calibration.
        #[arg(long, value_enum, default_value = "full")]
        mode: quantize::Mode,
        /// Representative inputs `[N, ...input shape]` (`.npy`, or `.npz` per input).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// How calibration ranges are chosen.
        #[arg(long, value_enum, default_value = "minmax")]
        calibration_method: eval::CalibrationMethod,
        /// Percentage of values kept by `--calibration-method percentile`.
        #[arg(long, default_value_t = 99.99)]
        percentile: f64,
        /// I/O type: integer only (int8, or int16 with --activations int16; the default),
        /// uint8, or float (QUANTIZE/DEQUANTIZE at the edges). A dynamic-range model has
        /// float I/O.
        #[arg(long, value_enum)]
        io: Option<eval::Io>,
        /// Activation type: int8, or int16 with int8 weights and int64 biases (16x8, as the
        /// TF converter's EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8).
        #[arg(long, value_enum, default_value = "int8")]
        activations: eval::ActivationsArg,
        #[command(flatten)]
        fallback: quantize::FallbackArgs,
        /// The quantized .tflite to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Fail instead of warning when a layer's int32 accumulator can overflow.
        #[arg(long)]
        deny_overflow: bool,
    },
    /// Say which ops of the model an accelerator runs (the Edge TPU), why the others
    /// do not, and what to change.
    Check {
        /// The .tflite model.
        model: PathBuf,
        /// The accelerator.
        #[arg(long, value_enum)]
        target: check::Target,
        /// Print machine-readable JSON: one entry per op of the model as given.
        #[arg(long)]
        json: bool,
        /// Exit with code 3 when any op would run on the CPU (0 when all map).
        #[arg(long)]
        strict: bool,
        /// Allow several Edge TPU segments, as `edgetpu_compiler -a` does.
        #[arg(long)]
        multiple_subgraphs: bool,
    },
}

/// Shells `tinyq completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script, printed through [`out!`] (a closed pipe ends
/// quietly).
fn completions(shell: Shell) -> Result<(), CliError> {
    use clap::CommandFactory as _;
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "tinyq", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(())
}

/// A failure, already phrased for the user.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: std::error::Error> From<E> for CliError {
    fn from(err: E) -> Self {
        // Print the whole chain: the top error names the file, the sources say why.
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            let s_text = s.to_string();
            if !text.contains(&s_text) {
                text.push_str(": ");
                text.push_str(&s_text);
            }
            source = s.source();
        }
        CliError(text)
    }
}

/// Reads a model, naming the file in every error.
/// Standard output went away: a closed pipe is the reader's choice and ends
/// the command quietly; anything else is an error.
pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(1);
}

/// Reads a model through the driver; errors name the file.
pub fn read_model(
    session: &tinyq_compiler::Session,
    path: &std::path::Path,
) -> Result<tinyq_compiler::Model, CliError> {
    session.read_file(path).map_err(CliError::from)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile {
            model,
            calibration: None,
            fallback,
            ..
        } if fallback.given() => Err(CliError(format!(
            "{}: --fallback and --keep-float decide what stays float32 when a float model is \
             quantized; add --calibration CAL.npy (without it the whole model compiles as float32)",
            model.display()
        ))),
        Command::Compile {
            model,
            calibration,
            calibration_method,
            percentile,
            io,
            activations,
            fallback,
            emit,
            name,
            out,
            deny_overflow,
            report,
        } => compile::compile(
            &model,
            calibration
                .as_deref()
                .map(|calibration| quantize::QuantChoice {
                    calibration,
                    method: calibration_method,
                    percentile,
                    io,
                    activations: activations.unwrap_or_default(),
                    fallback: &fallback,
                }),
            compile::Given {
                io: io.is_some(),
                activations: activations.is_some(),
            },
            compile::Outputs {
                emit: &emit,
                name: name.as_deref(),
                out: out.as_deref(),
                report: report.as_deref(),
            },
            deny_overflow,
        ),
        Command::Inspect {
            model,
            ir,
            after,
            passes,
            json,
        } => {
            let view = match (ir, after.as_deref(), passes) {
                (false, _, _) => inspect::IrView::None,
                (true, Some(pass), _) => inspect::IrView::After(pass),
                (true, None, true) => inspect::IrView::EveryPass,
                (true, None, false) => inspect::IrView::Optimized,
            };
            inspect::inspect(&model, view, json)
        }
        Command::Check {
            model,
            target,
            json,
            strict,
            multiple_subgraphs,
        } => match check::check(&model, target, json, multiple_subgraphs) {
            // --strict: some op would run on the CPU.
            Ok(false) if strict => return ExitCode::from(3),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        Command::Run {
            model,
            input,
            output,
            trace,
            reset_each,
        } => run::run(
            &model,
            &input,
            output.as_deref(),
            trace.as_deref(),
            reset_each,
        ),
        Command::Completions { shell } => completions(shell),
        Command::TraceDiff { trace, device } => match trace::trace_diff(&trace, &device) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Command::Eval {
            model,
            data,
            labels,
            calibration,
            calibration_method,
            percentile,
            io,
            activations,
            per_tensor,
            divide_by,
        } => eval::eval(&eval::EvalArgs {
            model: &model,
            data: &data,
            labels: &labels,
            calibration: calibration.as_deref(),
            method: calibration_method,
            percentile,
            io,
            activations,
            per_tensor,
            divide_by,
        }),
        Command::Quantize {
            model,
            mode,
            calibration,
            calibration_method,
            percentile,
            io,
            activations,
            fallback,
            output,
            deny_overflow,
        } => quantize::quantize_mode(
            &model,
            mode,
            calibration.as_deref(),
            |calibration| quantize::QuantChoice {
                calibration,
                method: calibration_method,
                percentile,
                io,
                activations,
                fallback: &fallback,
            },
            quantize::Types {
                io,
                activations,
                fallback: fallback.given(),
            },
            &output,
            deny_overflow,
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

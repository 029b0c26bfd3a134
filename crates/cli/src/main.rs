//! The `tinyq` command-line tool.

mod inspect;
mod npy;
mod run;

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
    /// Print one row per op: type, shapes, dtypes, quantization, parameter bytes and MACs.
    Inspect {
        /// The .tflite model.
        model: PathBuf,
        /// Print the IR dump instead of the table.
        #[arg(long, conflicts_with = "json")]
        ir: bool,
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
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect { model, ir, json } => inspect::inspect(&model, ir, json),
        Command::Run {
            model,
            input,
            output,
        } => run::run(&model, &input, output.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `tinyq check MODEL --target edgetpu`: which ops an accelerator runs,
//! printed in the Edge TPU compiler's layout, or as JSON.

use std::io::Read as _;
use std::path::Path;

use tinyq_edgetpu::{CheckOptions, assess};

use crate::CliError;

/// The accelerators `tinyq check` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The Coral Edge TPU (the rules of `edgetpu_compiler`).
    Edgetpu,
}

/// Checks `model` for `target` and prints the verdict.
pub fn check(
    model: &Path,
    target: Target,
    json: bool,
    multiple_subgraphs: bool,
) -> Result<(), CliError> {
    let Target::Edgetpu = target;
    let bytes = read_model(model)?;
    let options = CheckOptions { multiple_subgraphs };
    let assessment = assess(&bytes, &options)
        .map_err(|e| CliError(format!("cannot check {}: {e}", model.display())))?;
    let report = &assessment.given;
    if json {
        outln!("{}", report.to_json());
        return Ok(());
    }
    outln!("Edge TPU compatibility (tinyq check, the rules of edgetpu_compiler)");
    outln!("Input model: {}", model.display());
    out!("{}", report.summary());
    outln!();
    out!("{}", report.table());
    let hints = report.hints();
    if !hints.is_empty() {
        outln!();
        outln!("Why, and what to do:");
        for line in hints {
            outln!("  {line}");
        }
    }
    if let Some(line) = assessment.folded_line() {
        outln!();
        outln!("{line}");
    }
    Ok(())
}

/// The model's bytes, refusing files larger than tinyq's reader takes.
fn read_model(path: &Path) -> Result<Vec<u8>, CliError> {
    let fail = |e: std::io::Error| CliError(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(tinyq_tflite::MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > tinyq_tflite::MAX_FILE_BYTES {
        return Err(CliError(format!(
            "cannot read {}: the file is larger than the {} bytes tinyq reads",
            path.display(),
            tinyq_tflite::MAX_FILE_BYTES
        )));
    }
    Ok(bytes)
}

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

/// Checks `model` for `target` and prints the verdict. Ok(true) when every
/// op maps (`--strict` turns false into exit code 3).
pub fn check(
    model: &Path,
    target: Target,
    json: bool,
    multiple_subgraphs: bool,
) -> Result<bool, CliError> {
    let Target::Edgetpu = target;
    let bytes = read_model(model)?;
    let options = CheckOptions { multiple_subgraphs };
    let assessment = assess(&bytes, &options)
        .map_err(|e| CliError(format!("cannot check {}: {e}", model.display())))?;
    let report = &assessment.given;
    let all_map = report.cpu == 0;
    if json {
        outln!("{}", json_report(report));
        return Ok(all_map);
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
    Ok(all_map)
}

/// One op in `check --json`: `status` says why an op does not map, `hint`
/// (present only then) what to do.
#[derive(serde::Serialize)]
struct JsonOp<'a> {
    index: usize,
    op: &'a str,
    name: &'a str,
    mapped: bool,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    target: &'static str,
    mapped: usize,
    cpu: usize,
    segments: usize,
    ops: Vec<JsonOp<'a>>,
}

/// The verdict as one line of JSON, fields in the documented order.
fn json_report(report: &tinyq_edgetpu::Report) -> String {
    let json = JsonReport {
        target: "edgetpu",
        mapped: report.mapped,
        cpu: report.cpu,
        segments: report.segments,
        ops: report
            .ops
            .iter()
            .map(|o| JsonOp {
                index: o.index,
                op: &o.op,
                name: &o.name,
                mapped: o.mapped,
                status: o.status.to_string(),
                hint: o.hint.as_deref(),
            })
            .collect(),
    };
    // Strings, integers and booleans only: serialization cannot fail.
    serde_json::to_string(&json).unwrap_or_default()
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

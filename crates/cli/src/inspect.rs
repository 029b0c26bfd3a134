//! `tinyq inspect`: a per-op table, the IR dump, or JSON.

use std::path::Path;

use serde::Serialize;
use tinyq_ir::stats::op_cost;
use tinyq_ir::tensor::shape_string;
use tinyq_ir::{Graph, Tensor, TensorId};

use tinyq_compiler::{CompileError, Session};

use crate::CliError;

#[derive(Debug, Serialize)]
struct TensorInfo {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    /// Structured for tools: `{"scales":[..],"zero_points":[..],"axis":n}`.
    quantization: Option<QuantInfo>,
    /// The same, as the table prints it.
    #[serde(skip)]
    quant_text: Option<String>,
    constant: bool,
}

#[derive(Debug, Serialize)]
struct QuantInfo {
    scales: Vec<f32>,
    zero_points: Vec<i64>,
    axis: usize,
}

#[derive(Debug, Serialize)]
struct OpRow {
    index: usize,
    op: String,
    options: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    param_bytes: u64,
    macs: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    model: String,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
    ops: Vec<OpRow>,
    total_param_bytes: u64,
    total_macs: u64,
}

/// What `--ir` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrView<'a> {
    /// The table (or JSON) of the model as given: no `--ir`.
    None,
    /// The graph after the whole pipeline.
    Optimized,
    /// The graph after the named pass.
    After(&'a str),
    /// The graph after every pass, each headed by what the pass did.
    EveryPass,
}

pub fn inspect(model: &Path, view: IrView<'_>, json: bool) -> Result<(), CliError> {
    let session = Session::new().verify_each(true);
    let read = match session.read_file(model) {
        Ok(read) => read,
        Err(error) => return list_unreadable(model, view, json, error),
    };
    let mut graph = read.graph;
    match view {
        IrView::None => {}
        IrView::Optimized => {
            session.optimize(&read.name, &mut graph, false)?;
            out!("{}", graph.dump());
            return Ok(());
        }
        IrView::After(pass) => {
            session
                .stop_after(pass)
                .optimize(&read.name, &mut graph, false)?;
            out!("{}", graph.dump());
            return Ok(());
        }
        IrView::EveryPass => {
            outln!("; as read");
            out!("{}", graph.dump());
            for name in session.pass_names(&read.name)? {
                let mut next = graph.clone();
                let report = Session::new()
                    .verify_each(true)
                    .stop_after(name)
                    .optimize(&read.name, &mut next, false)?;
                let summary = report
                    .last()
                    .map(|l| l.report.outcome.summary.clone())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "no change".to_string());
                outln!("\n; after {name}: {summary}");
                out!("{}", next.dump());
            }
            return Ok(());
        }
    }
    let report = build_report(model, &graph);
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot encode the report as JSON: {e}")))?;
        outln!("{text}");
    } else {
        print_table(&report);
    }
    Ok(())
}

/// A model the reader refused: without `--ir`, list it as the file gives it
/// (when the file is a TFLite model at all), naming what stops compilation.
fn list_unreadable(
    model: &Path,
    view: IrView<'_>,
    json: bool,
    error: CompileError,
) -> Result<(), CliError> {
    let CompileError::Read { source, .. } = &error else {
        return Err(error.into());
    };
    if view != IrView::None {
        return Err(error.into());
    }
    let Ok(bytes) = std::fs::read(model) else {
        return Err(error.into());
    };
    match tinyq_edgetpu::view_of_tflite(&bytes) {
        Ok(raw) => crate::listing::print(model, &raw, source, json),
        Err(_) => Err(error.into()),
    }
}

fn tensor_info(graph: &Graph, id: TensorId) -> TensorInfo {
    let t: &Tensor = graph.tensor(id);
    TensorInfo {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype.to_string(),
        quantization: t.quant.as_ref().map(|q| QuantInfo {
            scales: q.scales.clone(),
            zero_points: q.zero_points.clone(),
            axis: q.axis,
        }),
        quant_text: t.quant.as_ref().map(|q| q.to_string()),
        constant: t.is_const(),
    }
}

fn build_report(model: &Path, graph: &Graph) -> Report {
    let ops: Vec<OpRow> = graph
        .ops
        .iter()
        .map(|(id, op)| {
            let cost = op_cost(graph, id);
            let kind = op.kind.to_string();
            let options = kind
                .strip_prefix(op.kind.name())
                .unwrap_or("")
                .trim_matches(|c| c == '(' || c == ')')
                .to_string();
            OpRow {
                index: op.origin.unwrap_or(id.index()),
                op: op.kind.name().to_string(),
                options,
                inputs: op.inputs.iter().map(|&t| tensor_info(graph, t)).collect(),
                outputs: op.outputs.iter().map(|&t| tensor_info(graph, t)).collect(),
                param_bytes: cost.param_bytes,
                macs: cost.macs,
            }
        })
        .collect();
    Report {
        model: model.display().to_string(),
        inputs: graph
            .inputs
            .iter()
            .map(|&t| tensor_info(graph, t))
            .collect(),
        outputs: graph
            .outputs
            .iter()
            .map(|&t| tensor_info(graph, t))
            .collect(),
        total_param_bytes: ops.iter().map(|r| r.param_bytes).sum(),
        total_macs: ops.iter().map(|r| r.macs).sum(),
        ops,
    }
}

/// The quantization cell: the parameters, `float` for an unquantized float
/// tensor, `-` for a plain integer one (indices, signal-library UINT32).
fn quant_label(t: &TensorInfo) -> String {
    match &t.quant_text {
        Some(q) => q.clone(),
        None if t.dtype.starts_with('f') => "float".into(),
        None => "-".into(),
    }
}

/// `i8[1,28,28,1]`, the compact form used in table cells.
fn short(t: &TensorInfo) -> String {
    format!("{}{}", t.dtype, shape_string(&t.shape))
}

fn print_table(report: &Report) {
    outln!("model: {}", report.model);
    for (role, list) in [("input", &report.inputs), ("output", &report.outputs)] {
        for t in list {
            outln!("{role}: {:?} {} {}", t.name, short(t), quant_label(t));
        }
    }
    outln!();
    let data_inputs = |row: &OpRow| -> String {
        let shapes: Vec<String> = row
            .inputs
            .iter()
            .filter(|t| !t.constant)
            .map(short)
            .collect();
        shapes.join(" ")
    };
    let outputs = |row: &OpRow| -> (String, String) {
        let shapes: Vec<String> = row.outputs.iter().map(short).collect();
        let quants: Vec<String> = row.outputs.iter().map(quant_label).collect();
        (shapes.join(" "), quants.join(" | "))
    };
    // Columns as wide as their longest cell, so long op names stay in line.
    let width = |min: usize, cell: &dyn Fn(&OpRow) -> usize| {
        report.ops.iter().map(cell).fold(min, usize::max)
    };
    let op_w = width(18, &|r| r.op.len());
    let in_w = width(34, &|r| data_inputs(r).len());
    let out_w = width(20, &|r| outputs(r).0.len());
    let q_w = width(34, &|r| outputs(r).1.len());
    let header = format!(
        "{:>3}  {:<op_w$} {:<in_w$} {:<out_w$} {:<q_w$} {:>10} {:>12}",
        "#", "op", "inputs", "output", "output quantization", "params B", "MACs"
    );
    outln!("{header}");
    outln!("{}", "-".repeat(header.len()));
    for row in &report.ops {
        let (shapes, quants) = outputs(row);
        outln!(
            "{:>3}  {:<op_w$} {:<in_w$} {:<out_w$} {:<q_w$} {:>10} {:>12}",
            row.index,
            row.op,
            data_inputs(row),
            shapes,
            quants,
            row.param_bytes,
            row.macs
        );
        if !row.options.is_empty() {
            outln!("{:>3}  {:<op_w$} {}", "", "", row.options);
        }
    }
    outln!("{}", "-".repeat(header.len()));
    outln!(
        "{} ops, {} parameter bytes, {} MACs",
        report.ops.len(),
        report.total_param_bytes,
        report.total_macs
    );
}

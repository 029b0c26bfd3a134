//! `tinyq inspect` on a model tinyq cannot compile: every op and tensor as
//! the file gives them (the Edge TPU checker's raw view), each op that stops
//! compilation marked `unsupported: why`.

use std::path::Path;

use serde::Serialize;
use tinyq_edgetpu::{ElemType, ModelView, OpView, TensorView};
use tinyq_ir::tensor::shape_string;
use tinyq_tflite::{ReadError, supported_ops};

#[derive(Debug, Serialize)]
struct Tensor {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    constant: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    index: usize,
    op: String,
    inputs: Vec<Tensor>,
    outputs: Vec<Tensor>,
    /// Why this op stops compilation, if it does.
    unsupported: Option<String>,
}

#[derive(Debug, Serialize)]
struct Listing {
    model: String,
    /// Why tinyq cannot compile the model: the reader's error.
    error: String,
    ops: Vec<Row>,
}

/// Prints `view` (the model at `path`, which tinyq's reader refused with
/// `error`) as a table or JSON.
pub fn print(
    path: &Path,
    view: &ModelView,
    error: &ReadError,
    json: bool,
) -> Result<(), crate::CliError> {
    let listing = Listing {
        model: path.display().to_string(),
        error: error.to_string(),
        ops: view.ops.iter().map(|op| row(op, error)).collect(),
    };
    if json {
        let text = serde_json::to_string_pretty(&listing)
            .map_err(|e| crate::CliError(format!("cannot encode the listing as JSON: {e}")))?;
        outln!("{text}");
        return Ok(());
    }
    outln!("model: {}", listing.model);
    let why = match (
        error.op_index(),
        view.ops.iter().find(|o| Some(o.index) == error.op_index()),
    ) {
        (Some(index), Some(op)) => format!("op #{index} ({}): {}", op.op, error.reason()),
        _ => listing.error.clone(),
    };
    outln!("tinyq cannot compile this model: {why}");
    outln!("(the model as the file gives it; the ops marked \"unsupported\" stop compilation)");
    outln!();
    let header = format!("{:>3}  {:<28} {:<40} {:<28}", "#", "op", "inputs", "output");
    outln!("{header}");
    outln!("{}", "-".repeat(header.len()));
    for row in &listing.ops {
        let inputs: Vec<String> = row.inputs.iter().map(short).collect();
        let output = row.outputs.first().map(short).unwrap_or_default();
        outln!(
            "{:>3}  {:<28} {:<40} {:<28}",
            row.index,
            row.op,
            inputs.join(" "),
            output
        );
        if let Some(why) = &row.unsupported {
            outln!("{:>3}  {:<28} unsupported: {why}", "", "");
        }
    }
    outln!("{}", "-".repeat(header.len()));
    let refused = listing
        .ops
        .iter()
        .filter(|r| r.unsupported.is_some())
        .count();
    outln!("{} ops, {refused} unsupported", listing.ops.len());
    Ok(())
}

/// `FLOAT32[1,28,28,1]`, with `const ` before constants.
fn short(t: &Tensor) -> String {
    let constant = if t.constant { "const " } else { "" };
    format!("{constant}{}{}", t.dtype, shape_string(&t.shape))
}

fn tensor(t: &TensorView) -> Tensor {
    Tensor {
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype: t.dtype.name().to_string(),
        constant: t.constant,
    }
}

fn row(op: &OpView, error: &ReadError) -> Row {
    Row {
        index: op.index,
        op: match &op.custom_code {
            Some(code) => format!("CUSTOM {code:?}"),
            None => op.op.clone(),
        },
        inputs: op
            .inputs
            .iter()
            .filter_map(|i| i.tensor.as_ref())
            .map(tensor)
            .collect(),
        outputs: op.outputs.iter().map(tensor).collect(),
        unsupported: unsupported(op, error),
    }
}

/// Why `op` stops compilation: an op tinyq has no kernel for, the op the
/// reader refused, or a tensor type tinyq does not compute in.
fn unsupported(op: &OpView, error: &ReadError) -> Option<String> {
    let custom = op.custom_code.as_deref();
    if !supported_ops().any(|s| s.name == op.op || Some(s.name) == custom) {
        let name = match &op.custom_code {
            Some(code) => format!("the custom op {code:?}"),
            None => op.op.clone(),
        };
        return Some(format!("tinyq has no kernel for {name}"));
    }
    if error.op_index() == Some(op.index) {
        return Some(error.reason());
    }
    let tensors = op
        .inputs
        .iter()
        .filter_map(|i| i.tensor.as_ref())
        .chain(&op.outputs);
    tensors.into_iter().find_map(unsupported_type)
}

/// A tensor of a type tinyq does not compute in.
fn unsupported_type(t: &TensorView) -> Option<String> {
    let why = match &t.dtype {
        ElemType::F32
        | ElemType::I8
        | ElemType::U8
        | ElemType::I16
        | ElemType::I32
        | ElemType::I64
        | ElemType::Bool => {
            return None;
        }
        ElemType::F16 if t.constant => return None,
        ElemType::F16 => {
            "FLOAT16 activations are not supported (float16 constants are)".to_string()
        }
        other => format!("{other} tensors are not supported"),
    };
    Some(format!("tensor {:?}: {why}", t.name))
}

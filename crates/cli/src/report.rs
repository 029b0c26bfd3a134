//! `tinyq compile --report FILE.html|FILE.json`: one row per emitted step
//! (op, shapes, quantization, MACs, constant bytes, arena placement and
//! lifetime, Edge TPU verdict, SQNR when calibrated), a memory timeline and
//! a cost chart. The HTML is self-contained: inline CSS and SVG, no scripts,
//! no URLs, so it can be attached to a ticket or opened offline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use tinyq_ir::{BufferRef, Graph, Kernel, Program};

use crate::CliError;

/// Quantization as structured fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quant {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub axis: usize,
}

/// Where a step's output lives in the arena, and for which steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArenaUse {
    pub offset: usize,
    pub size: usize,
    /// The step that writes it.
    pub first_step: usize,
    /// The last step that reads it (the writer when nothing reads it).
    pub last_step: usize,
    /// Arena bytes `shared_offset..shared_offset + shared_size` it shares
    /// with the input the step consumes while writing it (`ir::overlap`:
    /// each written only after its last read); size 0 when disjoint.
    pub shared_offset: usize,
    pub shared_size: usize,
}

/// One emitted step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub index: usize,
    /// The kernel (`conv2d`), as the C and Rust code name it.
    pub kernel: String,
    /// The TFLite op it implements (`CONV_2D`).
    pub op: String,
    /// Index of the operator in the model; `None` for steps tinyq adds.
    pub model_operator: Option<usize>,
    /// The output tensor's name as the model spells it.
    pub output: String,
    pub input_shapes: Vec<Vec<usize>>,
    pub output_shape: Vec<usize>,
    pub dtype: Option<String>,
    pub quantization: Option<Quant>,
    pub macs: u64,
    /// Weights, biases, multipliers, shifts, tables and constant operands.
    pub constant_bytes: usize,
    /// `None` when the step writes a model output.
    pub arena: Option<ArenaUse>,
    /// `edge tpu`, `cpu: why`, or `None` when the op is not in the model.
    pub edgetpu: Option<String>,
    /// Float vs quantized, when calibration data was given.
    pub sqnr_db: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model: String,
    pub name: String,
    pub steps: Vec<StepRow>,
    pub macs: u64,
    pub constant_bytes: usize,
    pub arena_size: usize,
    /// The classic liveness bound: buffers live together are disjoint.
    pub arena_lower_bound: usize,
    /// The bound when outputs may overlap the inputs they consume.
    pub arena_overlap_bound: usize,
    pub edgetpu: String,
}

/// Bytes of constant data one step carries.
fn constant_bytes(program: &Program, kernel: &Kernel, inputs: &[BufferRef]) -> usize {
    let own = kernel.constant_bytes();
    let operands: usize = inputs
        .iter()
        .map(|b| match b {
            BufferRef::Const(i) => program.constants.get(*i).map_or(0, Vec::len),
            _ => 0,
        })
        .sum();
    own + operands
}

fn overlaps(a: (usize, usize), b: BufferRef) -> bool {
    match b {
        BufferRef::Arena { offset, size } => offset < a.0 + a.1 && a.0 < offset + size,
        _ => false,
    }
}

/// The last step reading the arena bytes step `index` writes, before
/// another step overwrites them.
fn last_use(program: &Program, index: usize, region: (usize, usize)) -> usize {
    let mut last = index;
    for (j, step) in program.steps.iter().enumerate().skip(index + 1) {
        if step.inputs.iter().any(|&b| overlaps(region, b)) {
            last = j;
        } else if overlaps(region, step.output) {
            break;
        }
    }
    last
}

/// Builds the report. `graph` is the optimized graph (for quantization),
/// `input` the graph the passes started from (for the Edge TPU verdict),
/// `sqnr` per-tensor SQNR by tensor name when calibration data was given.
pub fn build(
    model: &str,
    name: &str,
    program: &Program,
    graph: &Graph,
    input: &Graph,
    sqnr: &BTreeMap<String, f64>,
) -> Report {
    let tensors: BTreeMap<&str, &tinyq_ir::Tensor> = graph
        .tensors
        .iter()
        .map(|(_, t)| (t.name.as_str(), t))
        .collect();
    let tpu = tinyq_edgetpu::check_graph(input, &Default::default());
    let verdict = |index: Option<usize>, output: &str| {
        let op = tpu
            .ops
            .iter()
            .find(|o| o.name == output)
            .or_else(|| index.and_then(|i| tpu.ops.iter().find(|o| o.index == i)))?;
        Some(if op.mapped {
            "edge tpu".to_string()
        } else {
            format!(
                "cpu: {}",
                op.hint
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", op.status))
            )
        })
    };
    let mut steps = Vec::new();
    for (index, step) in program.steps.iter().enumerate() {
        let prov = &step.provenance;
        let out_len = match step.output {
            BufferRef::Arena { size, .. } => size,
            BufferRef::Output(i) => program.outputs.get(i).map_or(0, |o| o.byte_len()),
            _ => 0,
        };
        let tensor = tensors.get(prov.output.as_str());
        let arena = match step.output {
            BufferRef::Arena { offset, size } => Some(ArenaUse {
                offset,
                size,
                first_step: index,
                last_step: last_use(program, index, (offset, size)),
                shared_offset: shared(step).0,
                shared_size: shared(step).1,
            }),
            _ => None,
        };
        steps.push(StepRow {
            index,
            kernel: step.kernel.name().to_string(),
            op: prov.op.clone(),
            model_operator: prov.origin,
            output: prov.output.clone(),
            input_shapes: prov.input_shapes.clone(),
            output_shape: prov.output_shape.clone(),
            dtype: tensor.map(|t| t.dtype.name().to_string()),
            quantization: tensor.and_then(|t| t.quant.as_ref()).map(|q| Quant {
                scales: q.scales.clone(),
                zero_points: q.zero_points.clone(),
                axis: q.axis,
            }),
            macs: crate::compile::step_macs(&step.kernel, out_len),
            constant_bytes: constant_bytes(program, &step.kernel, &step.inputs),
            arena,
            edgetpu: verdict(prov.origin, &prov.output),
            sqnr_db: sqnr.get(&prov.output).copied().filter(|v| v.is_finite()),
        });
    }
    Report {
        model: model.to_string(),
        name: name.to_string(),
        macs: steps.iter().map(|s| s.macs).sum(),
        constant_bytes: steps.iter().map(|s| s.constant_bytes).sum(),
        steps,
        arena_size: program.arena_size,
        arena_lower_bound: program.arena_lower_bound,
        arena_overlap_bound: program.arena_overlap_bound,
        edgetpu: tpu.verdict(),
    }
}

/// Refuses a report path that is neither `.html` nor `.json`, before any
/// work is done.
pub fn check_path(path: &Path) -> Result<(), CliError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json" | "html" | "htm") => Ok(()),
        _ => Err(CliError(format!(
            "{}: --report takes a .html or .json file",
            path.display()
        ))),
    }
}

/// Writes the report as HTML or JSON, chosen by the file's extension.
pub fn write(path: &Path, report: &Report) -> Result<(), CliError> {
    let fail =
        |e: &dyn std::fmt::Display| CliError(format!("cannot write {}: {e}", path.display()));
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::to_string_pretty(report).map_err(|e| fail(&e))? + "\n",
        Some("html" | "htm") => html(report),
        _ => {
            return Err(CliError(format!(
                "{}: --report takes a .html or .json file",
                path.display()
            )));
        }
    };
    std::fs::write(path, text).map_err(|e| fail(&e))
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn shape(s: &[usize]) -> String {
    tinyq_ir::tensor::shape_string(s)
}

fn quant_text(q: &Quant) -> String {
    match (q.scales.as_slice(), q.zero_points.as_slice()) {
        ([s], [z]) => format!("scale {s:e}, zp {z}"),
        (s, _) => format!("{} channels (axis {})", s.len(), q.axis),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
th{background:#eee}tr:nth-child(even) td{background:#fafafa}\
.name{max-width:28em;overflow-wrap:anywhere}.cpu{color:#a40}\
svg{border:1px solid #ccc;margin:1em 0;background:#fff}";

/// The HTML page.
pub fn html(r: &Report) -> String {
    let mut s = String::new();
    let title = format!("tinyq report: {}", escape(&r.name));
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        s,
        "<p>Model <code>{}</code>: {} steps, {} MACs, {} bytes of constant data, arena {} bytes (lower bound {} with disjoint buffers, {} with outputs over the inputs they consume). {}.</p>",
        escape(&r.model),
        r.steps.len(),
        r.macs,
        r.constant_bytes,
        r.arena_size,
        r.arena_lower_bound,
        r.arena_overlap_bound,
        escape(&r.edgetpu)
    );
    s.push_str("<h2>Memory timeline</h2>\n");
    s.push_str(&timeline(r));
    s.push_str("<h2>Cost per step</h2>\n");
    s.push_str(&bars(r));
    s.push_str("<h2>Steps</h2>\n<table>\n<thead><tr><th>step</th><th>kernel</th><th>op</th><th>model op</th><th>output tensor</th><th>shapes</th><th>dtype</th><th>quantization</th><th>MACs</th><th>const bytes</th><th>arena offset</th><th>size</th><th>live steps</th><th>Edge TPU</th><th>SQNR dB</th></tr></thead>\n<tbody>\n");
    for st in &r.steps {
        let ins: Vec<String> = st.input_shapes.iter().map(|v| shape(v)).collect();
        let (offset, size, live) = match &st.arena {
            Some(a) => (
                a.offset.to_string(),
                a.size.to_string(),
                format!("{}&ndash;{}", a.first_step, a.last_step),
            ),
            None => ("output".to_string(), String::new(), String::new()),
        };
        let tpu = match &st.edgetpu {
            Some(v) if v == "edge tpu" => escape(v),
            Some(v) => format!("<span class=\"cpu\">{}</span>", escape(v)),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "<tr data-step=\"{}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"name\">{}</td><td>{} &rarr; {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            st.index,
            st.index,
            escape(&st.kernel),
            escape(&st.op),
            st.model_operator.map_or(String::new(), |o| o.to_string()),
            escape(&st.output),
            escape(&ins.join(", ")),
            escape(&shape(&st.output_shape)),
            st.dtype.as_deref().map_or(String::new(), escape),
            st.quantization
                .as_ref()
                .map_or(String::new(), |q| escape(&quant_text(q))),
            st.macs,
            st.constant_bytes,
            offset,
            size,
            live,
            tpu,
            st.sqnr_db.map_or(String::new(), |v| format!("{v:.2}")),
        );
    }
    s.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    s
}

const W: f64 = 800.0;
const H: f64 = 300.0;
const PAD: f64 = 40.0;

/// Arena buffers as rectangles: steps across, bytes up; the peak and the
/// lower bound as lines.
/// The arena bytes a step's output shares with its input 0, as `(offset,
/// size)`; size 0 when they are disjoint.
fn shared(step: &tinyq_ir::Step) -> (usize, usize) {
    match (step.inputs.first(), step.output) {
        (Some(&BufferRef::Arena { offset: i, size: n }), BufferRef::Arena { offset, size }) => {
            let start = offset.max(i);
            (start, (offset + size).min(i + n).saturating_sub(start))
        }
        _ => (0, 0),
    }
}

fn timeline(r: &Report) -> String {
    let mut s = String::new();
    let n = r.steps.len().max(1) as f64;
    // The disjoint bound may lie above an arena that overlaps buffers.
    let top = r.arena_size.max(r.arena_lower_bound).max(1) as f64;
    let x = |step: f64| PAD + step / n * (W - 2.0 * PAD);
    let y = |bytes: f64| H - PAD - bytes / top * (H - 2.0 * PAD);
    let _ = writeln!(
        s,
        "<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"arena buffers over steps\">"
    );
    for st in &r.steps {
        let Some(a) = &st.arena else { continue };
        let (x0, x1) = (x(a.first_step as f64), x(a.last_step as f64 + 1.0));
        let (y1, y0) = (y(a.offset as f64), y((a.offset + a.size) as f64));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#6a9fd8\" fill-opacity=\"0.6\" stroke=\"#245\"><title>step {}: {} bytes at {}, steps {}-{}</title></rect>",
            (x1 - x0).max(1.0),
            (y1 - y0).max(1.0),
            st.index,
            a.size,
            a.offset,
            a.first_step,
            a.last_step
        );
        if a.shared_size > 0 {
            // The bytes the step writes over the input it consumes, drawn
            // over its own column.
            let sx1 = x(a.first_step as f64 + 1.0);
            let (sy1, sy0) = (
                y(a.shared_offset as f64),
                y((a.shared_offset + a.shared_size) as f64),
            );
            let _ = writeln!(
                s,
                "<rect x=\"{x0:.1}\" y=\"{sy0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e08a1e\" fill-opacity=\"0.8\" stroke=\"#853\"><title>step {}: writes {} bytes over its input after their last read</title></rect>",
                (sx1 - x0).max(1.0),
                (sy1 - sy0).max(1.0),
                st.index,
                a.shared_size
            );
        }
    }
    let peak = y(r.arena_size as f64);
    let bound = y(r.arena_lower_bound as f64);
    let overlap_bound = y(r.arena_overlap_bound as f64);
    let _ = writeln!(
        s,
        "<line x1=\"{PAD}\" y1=\"{peak:.1}\" x2=\"{:.1}\" y2=\"{peak:.1}\" stroke=\"#c00\"/><text x=\"{PAD}\" y=\"{:.1}\" font-size=\"11\" fill=\"#c00\">peak {} B</text>",
        W - PAD,
        peak - 3.0,
        r.arena_size
    );
    let _ = writeln!(
        s,
        "<line x1=\"{PAD}\" y1=\"{bound:.1}\" x2=\"{:.1}\" y2=\"{bound:.1}\" stroke=\"#080\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#080\" text-anchor=\"end\">lower bound {} B (disjoint buffers)</text>",
        W - PAD,
        W - PAD,
        bound + 12.0,
        r.arena_lower_bound
    );
    if r.arena_overlap_bound < r.arena_lower_bound {
        let _ = writeln!(
            s,
            "<line x1=\"{PAD}\" y1=\"{overlap_bound:.1}\" x2=\"{:.1}\" y2=\"{overlap_bound:.1}\" stroke=\"#e08a1e\" stroke-dasharray=\"2 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#a60\" text-anchor=\"end\">overlap bound {} B</text>",
            W - PAD,
            W - PAD,
            overlap_bound + 12.0,
            r.arena_overlap_bound
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">step</text>\n</svg>",
        W / 2.0,
        H - 10.0
    );
    s
}

/// MACs and constant bytes per step, each scaled to its own maximum.
fn bars(r: &Report) -> String {
    let mut s = String::new();
    let n = r.steps.len().max(1) as f64;
    let slot = (W - 2.0 * PAD) / n;
    let max_macs = r.steps.iter().map(|st| st.macs).max().unwrap_or(0).max(1) as f64;
    let max_bytes = r
        .steps
        .iter()
        .map(|st| st.constant_bytes)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let _ = writeln!(
        s,
        "<svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"MACs and constant bytes per step\">"
    );
    let base = H - PAD;
    let span = H - 2.0 * PAD;
    for (i, st) in r.steps.iter().enumerate() {
        let x0 = PAD + i as f64 * slot;
        let hm = st.macs as f64 / max_macs * span;
        let hb = st.constant_bytes as f64 / max_bytes * span;
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hm:.1}\" fill=\"#d8894a\"><title>step {} {}: {} MACs</title></rect>",
            x0,
            base - hm,
            (slot * 0.45).max(0.5),
            st.index,
            escape(&st.kernel),
            st.macs
        );
        let _ = writeln!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hb:.1}\" fill=\"#5b8f5b\"><title>step {} {}: {} constant bytes</title></rect>",
            x0 + slot * 0.45,
            base - hb,
            (slot * 0.45).max(0.5),
            st.index,
            escape(&st.kernel),
            st.constant_bytes
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{PAD}\" y=\"20\" font-size=\"11\" fill=\"#d8894a\">MACs (max {})</text><text x=\"{:.1}\" y=\"20\" font-size=\"11\" fill=\"#5b8f5b\">constant bytes (max {})</text>\n</svg>",
        max_macs as u64,
        PAD + 200.0,
        max_bytes as u64
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralizes_markup() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}

//! Partitioning and the report: which ops run on the Edge TPU, in how many
//! segments, printed as the compiler prints them.
//!
//! The compiler makes one Edge TPU segment by default: it maps ops from the
//! first op it can map, and the first op it cannot map after that ends the
//! segment: that op and everything after it in dependency order run on the
//! CPU, and the ops that would map get "More than one subgraph is not
//! supported". In a chain of ops that is every later op. Ops that feed the
//! segment (the float→int8 QUANTIZE of a float-I/O model) do not end it, nor
//! do ops nothing else reads (the DEQUANTIZE of each float output, which the
//! converter places right after the output's producer).
//!
//! Precisely: a segment may not read, even indirectly, a CPU op that reads
//! the segment (Edge TPU → CPU → Edge TPU needs two segments). Ops are taken
//! in execution order; each op that can map joins the lowest segment that
//! rule allows, and with one segment only ([`CheckOptions::multiple_subgraphs`]
//! off, the compiler's default) an op that would need a second one stays on
//! the CPU. With it on (the compiler's `-a`), every op that can map does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::ModelView;
use crate::rules::{Status, judge};

/// How to partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Allow several Edge TPU segments, as `edgetpu_compiler -a`
    /// (`--enable_multiple_subgraphs`) does.
    pub multiple_subgraphs: bool,
}

/// The verdict on one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpVerdict {
    /// Position in the source model's operator list.
    pub index: usize,
    /// TFLite builtin name (`CONV_2D`).
    pub op: String,
    /// The op's first output tensor's name.
    pub name: String,
    /// True when the op runs on the Edge TPU.
    pub mapped: bool,
    pub status: Status,
    /// Why it does not map and what to do; `None` for mapped ops.
    pub hint: Option<String>,
}

/// The verdict on a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// One entry per op, in execution order.
    pub ops: Vec<OpVerdict>,
    /// Ops on the Edge TPU.
    pub mapped: usize,
    /// Ops on the CPU.
    pub cpu: usize,
    /// Edge TPU segments (the compiler's "Number of Edge TPU subgraphs").
    pub segments: usize,
}

/// What a tensor carries from the segments upstream of it.
#[derive(Debug, Clone, Default)]
struct Flow {
    /// Highest segment that produced this tensor directly (0: none).
    direct: usize,
    /// Highest segment upstream of this tensor behind a CPU op (0: none).
    crossed: usize,
    /// The CPU op that first read a segment's output on the way: (index, op).
    crossed_by: Option<(usize, String)>,
}

/// Judges every op of `model` and partitions them.
pub fn check(model: &ModelView, options: &CheckOptions) -> Report {
    let mut report = Report::default();
    let mut flows: BTreeMap<usize, Flow> = BTreeMap::new();
    for op in &model.ops {
        // Inputs without a producer (model inputs, constants) carry nothing.
        let mut direct = 0;
        let mut crossed = 0;
        let mut crossed_by = None;
        for t in op.inputs.iter().filter_map(|i| i.tensor.as_ref()) {
            if let Some(f) = flows.get(&t.id) {
                direct = direct.max(f.direct);
                if f.crossed > crossed {
                    crossed = f.crossed;
                    crossed_by.clone_from(&f.crossed_by);
                }
            }
        }
        let needed = direct.max(crossed + 1);
        let (segment, status, hint) = match judge(op) {
            Ok(()) if needed == 1 || options.multiple_subgraphs => {
                (Some(needed), Status::Mapped, None)
            }
            Ok(()) => {
                let (index, name) = crossed_by.clone().unwrap_or_default();
                let hint = format!(
                    "op #{index} ({name}) ended the Edge TPU segment, and the compiler makes only \
one: fix op #{index}, or allow several segments (`--multiple-subgraphs`, the compiler's `-a`)"
                );
                (None, Status::MoreThanOneSubgraph, Some(hint))
            }
            Err(f) => (None, f.status, Some(f.hint)),
        };
        let out = match segment {
            Some(s) => Flow {
                direct: s,
                crossed,
                crossed_by,
            },
            // A CPU op that reads a segment's output is where the path crosses.
            None if direct > 0 => Flow {
                direct: 0,
                crossed: direct.max(crossed),
                // An earlier crossing on the way stays the cause.
                crossed_by: if crossed >= direct && crossed_by.is_some() {
                    crossed_by
                } else {
                    Some((op.index, op.op.clone()))
                },
            },
            None => Flow {
                direct: 0,
                crossed,
                crossed_by,
            },
        };
        for t in &op.outputs {
            flows.insert(t.id, out.clone());
        }
        match segment {
            Some(s) => {
                report.mapped += 1;
                report.segments = report.segments.max(s);
            }
            None => report.cpu += 1,
        }
        report.ops.push(OpVerdict {
            index: op.index,
            op: op.op.clone(),
            name: op.name().to_owned(),
            mapped: segment.is_some(),
            status,
            hint,
        });
    }
    report
}

/// `tinyq check --json`: exactly these fields, in this order.
#[derive(Serialize)]
struct JsonReport<'a> {
    target: &'static str,
    mapped: usize,
    cpu: usize,
    segments: usize,
    ops: Vec<JsonOp<'a>>,
}

#[derive(Serialize)]
struct JsonOp<'a> {
    index: usize,
    op: &'a str,
    name: &'a str,
    mapped: bool,
    status: &'static str,
}

impl Report {
    /// Total number of ops.
    pub fn total(&self) -> usize {
        self.ops.len()
    }

    /// True when every op maps, in one segment.
    pub fn fully_mapped(&self) -> bool {
        self.cpu == 0 && self.segments <= 1
    }

    /// `{"target":"edgetpu","mapped":N,"cpu":M,"segments":K,"ops":[{"index":i,
    /// "op":"CONV_2D","name":"…","mapped":true,"status":"…"}]}` on one line.
    pub fn to_json(&self) -> String {
        let json = JsonReport {
            target: "edgetpu",
            mapped: self.mapped,
            cpu: self.cpu,
            segments: self.segments,
            ops: self
                .ops
                .iter()
                .map(|o| JsonOp {
                    index: o.index,
                    op: &o.op,
                    name: &o.name,
                    mapped: o.mapped,
                    status: o.status.as_str(),
                })
                .collect(),
        };
        // Strings, integers and booleans only: serialization cannot fail.
        serde_json::to_string(&json).unwrap_or_default()
    }

    /// The compiler's operation table: header, blank line, one row per
    /// (op type, status) pair in order of first appearance.
    pub fn table(&self) -> String {
        let mut rows: Vec<(&str, Status, usize)> = Vec::new();
        for o in &self.ops {
            match rows
                .iter_mut()
                .find(|(op, s, _)| *op == o.op && *s == o.status)
            {
                Some(row) => row.2 += 1,
                None => rows.push((&o.op, o.status, 1)),
            }
        }
        let mut out = format!("{:<31}{:<11}{}\n\n", "Operator", "Count", "Status");
        for (op, status, count) in rows {
            let _ = writeln!(out, "{op:<31}{count:<11}{status}");
        }
        out
    }

    /// The counts, as the compiler prints them above its table.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "Number of Edge TPU subgraphs: {}\nTotal number of operations: {}\n",
            self.segments,
            self.total()
        );
        if self.cpu > 0 {
            let _ = write!(
                out,
                "Number of operations that will run on Edge TPU: {}\n\
                 Number of operations that will run on CPU: {}\n",
                self.mapped, self.cpu
            );
        }
        out
    }

    /// One line per op that does not map, with its reason and fix; the ops
    /// that only follow the segment's end are summed up in one line.
    pub fn hints(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut after_end: Vec<usize> = Vec::new();
        for o in &self.ops {
            let Some(hint) = &o.hint else { continue };
            if o.status == Status::MoreThanOneSubgraph {
                after_end.push(o.index);
                continue;
            }
            lines.push(format!("#{} {} {:?}: {hint}", o.index, o.op, o.name));
        }
        if let Some(first) = self
            .ops
            .iter()
            .find(|o| o.status == Status::MoreThanOneSubgraph)
            .and_then(|o| o.hint.as_deref())
        {
            let which = match after_end.as_slice() {
                [one] => format!("#{one} maps on its own"),
                many => format!(
                    "{} ops (#{}) map on their own",
                    many.len(),
                    many.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(", #")
                ),
            };
            // Every such op has the same hint: it names the op that ended the segment.
            lines.push(format!("{which}, but {first}"));
        }
        lines
    }

    /// A one-line verdict for summaries (`tinyq compile`), e.g.
    /// `Edge TPU: all 12 ops map (1 segment)`.
    pub fn verdict(&self) -> String {
        let segments = count(self.segments, "segment");
        let total = self.total();
        let first_cpu = self
            .ops
            .iter()
            .find(|o| !o.mapped)
            .map(|o| format!("#{} {}: {}", o.index, o.op, o.status));
        match (self.mapped, first_cpu) {
            (_, None) if total == 0 => "Edge TPU: the model has no ops".to_owned(),
            (_, None) if total == 1 => format!("Edge TPU: its 1 op maps ({segments})"),
            (_, None) => format!("Edge TPU: all {total} ops map ({segments})"),
            (0, Some(first)) => format!(
                "Edge TPU: no op maps, all {} on the CPU (first: {first})",
                count(total, "op")
            ),
            (mapped, Some(first)) => format!(
                "Edge TPU: {mapped} of {total} ops map, {} on the CPU, {segments} (first on the CPU: {first})",
                self.cpu
            ),
        }
    }
}

/// `1 segment`, `2 segments`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

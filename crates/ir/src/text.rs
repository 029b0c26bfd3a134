//! The Graph as text: one line per tensor, one line per op, lossless
//! (`parse(&print(g)) == g` for every graph whose handles point into its
//! arenas). Filetests (`tests/passes/*.txt`) are written in it, and
//! [`Graph::dump`] prints it with large constants elided.
//!
//! ```text
//! inputs: %0
//! outputs: %4
//! tensors:
//!   %0 i8[1,4,4,2] "input" scale=0.5 zp=-1
//!   %1 i8[3,1,1,2] "w" scale=[0.25, 0.5, 0.125] zp=[0, 0, 0] axis=0 data=0x010203fe05fa
//!   %2 i32[3] "b" data=0x000000000100000002000000
//!   %3 i8[1,4,4,3] "conv" scale=0.25 zp=3
//!   %4 i8[1,4,4,3] "out" scale=0.25 zp=3
//! ops:
//!   %3 = CONV_2D(stride=1x1, dilation=1x1, pad=[0, 0, 0, 0], act=NONE) %0, %1, %2 @0
//!   %4 = LEAKY_RELU(alpha=0.2) %3 @1
//! ```
//!
//! * Tensors are `%N`, numbered from 0 in arena order; a tensor line is
//!   `%N dtype[dims] "name"`, then `scale=`/`zp=` (one value per tensor, a
//!   list per axis, with `axis=` when per-axis or non-zero), then
//!   `data=0x…` (little-endian bytes) for constants.
//! * An op line is `outputs = NAME(attrs) inputs @origin`: outputs `_` when
//!   there are none, attributes in parentheses only for kinds that have
//!   them, `@origin` only when the op has one. Ops run in line order.
//! * `pad=[top, bottom, left, right]`; `paddings=[(before, after), …]` per
//!   dimension; a LUT is `LUT(of=LOGISTIC+TANH, table=0x…)`.
//! * Floats are Rust's shortest round-tripping form (`{:?}`); names are
//!   quoted with `\"`, `\\`, `\n`, `\r`, `\t` and `\u{…}` escapes.
//! * `;` starts a comment (outside names); blank lines are ignored. The
//!   `tensors:` and `ops:` headers are for readers: lines are told apart by
//!   their form.

use std::fmt::Write as _;

use crate::arena::Handle;
use crate::graph::{Graph, TensorId};
use crate::op::{
    Activation, Conv2D, DepthwiseConv2D, FullyConnected, Hw, Lut, Op, OpKind, Padding2D, Pool2D,
    Resize, StridedSlice, TransposeConv, activation_name,
};
use crate::tensor::{DType, Quantization, Tensor};

/// Why a text is not a graph, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrintOptions {
    /// Constant data and LUT tables longer than this many bytes print as
    /// `<N bytes, fnv …>`, which [`parse`] refuses. `None` prints every byte.
    pub elide_bytes_over: Option<usize>,
}

impl PrintOptions {
    /// Every byte: the text [`parse`] reads back.
    pub fn full() -> Self {
        PrintOptions {
            elide_bytes_over: None,
        }
    }

    /// For [`Graph::dump`]: a model's weights elided, small constants kept.
    pub fn dump() -> Self {
        PrintOptions {
            elide_bytes_over: Some(64),
        }
    }
}

/// The graph as text, every byte included.
pub fn print(graph: &Graph) -> String {
    print_with(graph, PrintOptions::full())
}

/// The graph as text with `options`.
pub fn print_with(graph: &Graph, options: PrintOptions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "inputs: {}", refs(&graph.inputs));
    let _ = writeln!(out, "outputs: {}", refs(&graph.outputs));
    out.push_str("tensors:\n");
    for (id, t) in graph.tensors.iter() {
        let _ = write!(
            out,
            "  %{} {}{} {}",
            id.index(),
            t.dtype,
            dims(&t.shape),
            quote(&t.name)
        );
        if let Some(q) = &t.quant {
            print_quant(&mut out, q);
        }
        if let Some(data) = &t.data {
            let _ = write!(out, " data={}", bytes(data, options));
        }
        out.push('\n');
    }
    out.push_str("ops:\n");
    for (_, op) in graph.ops.iter() {
        out.push_str("  ");
        out.push_str(&op_line(op, options));
        out.push('\n');
    }
    out
}

/// One op as its text line (no indentation or newline).
pub fn op_line(op: &Op, options: PrintOptions) -> String {
    let mut s = if op.outputs.is_empty() {
        "_".to_string()
    } else {
        refs(&op.outputs)
    };
    s.push_str(" = ");
    s.push_str(op.kind.name());
    let attrs = attributes(&op.kind, options);
    if !attrs.is_empty() {
        let list: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(s, "({})", list.join(", "));
    }
    if !op.inputs.is_empty() {
        s.push(' ');
        s.push_str(&refs(&op.inputs));
    }
    if let Some(origin) = op.origin {
        let _ = write!(s, " @{origin}");
    }
    s
}

fn refs(ids: &[TensorId]) -> String {
    let list: Vec<String> = ids.iter().map(|t| format!("%{}", t.index())).collect();
    list.join(", ")
}

fn dims(shape: &[usize]) -> String {
    let list: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", list.join(","))
}

fn list<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    let list: Vec<String> = items.iter().map(f).collect();
    format!("[{}]", list.join(", "))
}

fn print_quant(out: &mut String, q: &Quantization) {
    if q.scales.len() == 1 {
        let _ = write!(out, " scale={:?}", q.scales[0]);
    } else {
        let _ = write!(out, " scale={}", list(&q.scales, |s| format!("{s:?}")));
    }
    if q.zero_points.len() == 1 {
        let _ = write!(out, " zp={}", q.zero_points[0]);
    } else {
        let _ = write!(out, " zp={}", list(&q.zero_points, ToString::to_string));
    }
    if q.axis != 0 || q.scales.len() != 1 {
        let _ = write!(out, " axis={}", q.axis);
    }
}

fn bytes(data: &[u8], options: PrintOptions) -> String {
    if let Some(limit) = options.elide_bytes_over
        && data.len() > limit
    {
        return format!("<{} bytes, fnv {:016x}>", data.len(), fnv1a(data));
    }
    let mut s = String::with_capacity(2 + 2 * data.len());
    s.push_str("0x");
    for b in data {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A short stable fingerprint, so an elided dump still shows when two differ.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A name as a quoted string with escapes, so any name fits on one line.
fn quote(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{{{:x}}}", u32::from(c));
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn pad4(p: &Padding2D) -> String {
    format!("[{}, {}, {}, {}]", p.top, p.bottom, p.left, p.right)
}

fn act(a: Activation) -> String {
    activation_name(a).to_string()
}

/// The attributes of a kind, as printed, in a fixed order.
fn attributes(kind: &OpKind, options: PrintOptions) -> Vec<(&'static str, String)> {
    match kind {
        OpKind::Conv2D(a) => vec![
            ("stride", a.stride.to_string()),
            ("dilation", a.dilation.to_string()),
            ("pad", pad4(&a.padding)),
            ("act", act(a.activation)),
        ],
        OpKind::DepthwiseConv2D(a) => vec![
            ("stride", a.stride.to_string()),
            ("dilation", a.dilation.to_string()),
            ("pad", pad4(&a.padding)),
            ("multiplier", a.depth_multiplier.to_string()),
            ("act", act(a.activation)),
        ],
        OpKind::FullyConnected(a) => vec![
            ("keep_num_dims", a.keep_num_dims.to_string()),
            ("act", act(a.activation)),
        ],
        OpKind::AveragePool2D(a) | OpKind::MaxPool2D(a) => vec![
            ("filter", a.filter.to_string()),
            ("stride", a.stride.to_string()),
            ("pad", pad4(&a.padding)),
            ("act", act(a.activation)),
        ],
        OpKind::Add { activation }
        | OpKind::Sub { activation }
        | OpKind::Mul { activation }
        | OpKind::Div { activation } => {
            vec![("act", act(*activation))]
        }
        OpKind::Softmax { beta } => vec![("beta", format!("{beta:?}"))],
        OpKind::LeakyRelu { alpha } => vec![("alpha", format!("{alpha:?}"))],
        OpKind::Concatenation { axis, activation } => {
            vec![("axis", axis.to_string()), ("act", act(*activation))]
        }
        OpKind::Mean { axes, keep_dims } => vec![
            ("axes", list(axes, ToString::to_string)),
            ("keep_dims", keep_dims.to_string()),
        ],
        OpKind::Pad { paddings } => {
            vec![("paddings", list(paddings, |(b, a)| format!("({b}, {a})")))]
        }
        OpKind::Transpose { perm } => vec![("perm", list(perm, ToString::to_string))],
        OpKind::SpaceToDepth { block } | OpKind::DepthToSpace { block } => {
            vec![("block", block.to_string())]
        }
        OpKind::BatchMatMul { adj_x, adj_y } => {
            vec![("adj_x", adj_x.to_string()), ("adj_y", adj_y.to_string())]
        }
        OpKind::Gather { axis, indices } => vec![
            ("axis", axis.to_string()),
            ("indices", list(indices, ToString::to_string)),
        ],
        OpKind::StridedSlice(s) => vec![
            ("begin", list(&s.begin, ToString::to_string)),
            ("end", list(&s.end, ToString::to_string)),
            ("strides", list(&s.strides, ToString::to_string)),
            ("begin_mask", s.begin_mask.to_string()),
            ("end_mask", s.end_mask.to_string()),
            ("ellipsis_mask", s.ellipsis_mask.to_string()),
            ("new_axis_mask", s.new_axis_mask.to_string()),
            ("shrink_axis_mask", s.shrink_axis_mask.to_string()),
            ("offset", s.offset.to_string()),
        ],
        OpKind::Lut(l) => vec![("of", l.ops.join("+")), ("table", bytes(&l.table, options))],
        OpKind::ResizeBilinear(r) | OpKind::ResizeNearestNeighbor(r) => vec![
            ("align_corners", r.align_corners.to_string()),
            ("half_pixel_centers", r.half_pixel_centers.to_string()),
        ],
        OpKind::TransposeConv(a) => vec![
            ("stride", a.stride.to_string()),
            ("pad", pad4(&a.padding)),
            ("act", act(a.activation)),
        ],
        OpKind::Svdf(a) => vec![("rank", a.rank.to_string()), ("act", act(a.activation))],
        OpKind::Lstm(a) => vec![
            ("cell_clip", format!("{:?}", a.cell_clip)),
            ("time_major", a.time_major.to_string()),
        ],
        OpKind::Maximum
        | OpKind::Minimum
        | OpKind::Prelu
        | OpKind::SquaredDifference
        | OpKind::Logistic
        | OpKind::Tanh
        | OpKind::Relu
        | OpKind::Relu6
        | OpKind::ReluN1To1
        | OpKind::HardSwish
        | OpKind::Exp
        | OpKind::Log
        | OpKind::Sqrt
        | OpKind::Rsqrt
        | OpKind::Abs
        | OpKind::Neg
        | OpKind::Square
        | OpKind::Reshape
        | OpKind::Squeeze
        | OpKind::ExpandDims
        | OpKind::Quantize
        | OpKind::Dequantize
        | OpKind::Cast => Vec::new(),
        OpKind::Signal(op) => op.attrs(),
    }
}

/// Every op name a kind can have: what a LUT's `of=` may list (its names are
/// `&'static str`).
pub const OP_NAMES: &[&str] = &[
    "SignalWindow",
    "SignalEnergy",
    "SignalFilterBankLog",
    "SignalFilterBankSquareRoot",
    "SignalFilterBank",
    "SignalPCAN",
    "SignalFftAutoScale",
    "SignalFftAutoScaleBits",
    "SignalFftAutoScaleApply",
    "SignalRfft",
    "SignalFilterBankSpectralSubtraction",
    "SignalFilterBankSpectralSubtractionOutput",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "ADD",
    "SUB",
    "MUL",
    "MAXIMUM",
    "MINIMUM",
    "SOFTMAX",
    "LOGISTIC",
    "TANH",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "LEAKY_RELU",
    "HARD_SWISH",
    "CONCATENATION",
    "MEAN",
    "PAD",
    "RESHAPE",
    "SQUEEZE",
    "EXPAND_DIMS",
    "TRANSPOSE",
    "STRIDED_SLICE",
    "SPACE_TO_DEPTH",
    "DEPTH_TO_SPACE",
    "GATHER",
    "BATCH_MATMUL",
    "QUANTIZE",
    "DEQUANTIZE",
    "LUT",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "TRANSPOSE_CONV",
    "DIV",
    "EXP",
    "LOG",
    "SQRT",
    "ABS",
    "NEG",
    "SQUARE",
    "RSQRT",
    "SQUARED_DIFFERENCE",
    "CAST",
];

const DTYPES: [DType; 9] = [
    DType::F32,
    DType::I8,
    DType::U8,
    DType::I16,
    DType::I32,
    DType::I64,
    DType::Bool,
    DType::U32,
    DType::U64,
];

// ---------------------------------------------------------------------------
// Parsing

/// Reads a graph printed by [`print`] (or written by hand in that form).
/// Tensor handles must be in range; the graph is not otherwise validated
/// (use [`crate::validate`]).
pub fn parse(text: &str) -> Result<Graph, ParseError> {
    let mut graph = Graph::new();
    let mut inputs: Option<Vec<TensorId>> = None;
    let mut outputs: Option<Vec<TensorId>> = None;
    // Every tensor reference with its line, checked once all are declared.
    let mut mentions: Vec<(usize, TensorId)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let mut c = Cursor::new(raw, index + 1);
        if c.at_end() {
            continue;
        }
        if c.keyword("inputs:") || c.keyword("outputs:") {
            let is_inputs = raw.trim_start().starts_with("inputs:");
            let ids = c.refs()?;
            c.end()?;
            mentions.extend(ids.iter().map(|&t| (c.line, t)));
            let slot = if is_inputs { &mut inputs } else { &mut outputs };
            if slot.replace(ids).is_some() {
                let which = if is_inputs { "inputs" } else { "outputs" };
                return Err(c.err(format!("a second `{which}:` line")));
            }
        } else if c.keyword("tensors:") || c.keyword("ops:") {
            c.end()?;
        } else if c.starts_op() {
            let op = c.op()?;
            c.end()?;
            mentions.extend(op.inputs.iter().chain(&op.outputs).map(|&t| (c.line, t)));
            graph.ops.push(op);
        } else if c.peek() == Some('%') {
            let (id, tensor) = c.tensor()?;
            c.end()?;
            if id != graph.tensors.len() {
                return Err(c.err(format!(
                    "tensor %{id} declared where %{} comes next (tensors are numbered in order from %0)",
                    graph.tensors.len()
                )));
            }
            graph.tensors.push(tensor);
        } else {
            return Err(c.err(format!(
                "expected `inputs:`, `outputs:`, a tensor (`%N i8[...] \"name\"`) or an op (`%N = KIND ...`), found {:?}",
                raw.trim()
            )));
        }
    }
    for (line, t) in mentions {
        if t.index() >= graph.tensors.len() {
            return Err(ParseError {
                line,
                message: format!("tensor %{} is never declared", t.index()),
            });
        }
    }
    graph.inputs = inputs.unwrap_or_default();
    graph.outputs = outputs.unwrap_or_default();
    Ok(graph)
}

/// An attribute or tensor-field value before it is given a type.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Atom(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Atom(a) => format!("{a:?}"),
            Value::List(_) => "a list".to_string(),
            Value::Tuple(_) => "a tuple".to_string(),
        }
    }
}

/// A position in one line.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

/// Characters that end an unquoted word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || ",()[]=\";@%<>".contains(c)
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, line: usize) -> Self {
        Cursor { text, pos: 0, line }
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// The next character after whitespace.
    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    /// True at the end of the line or at a comment.
    fn at_end(&mut self) -> bool {
        matches!(self.peek(), None | Some(';'))
    }

    fn end(&mut self) -> Result<(), ParseError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(format!(
                "unexpected {:?} at the end of the line",
                self.rest()
            )))
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, context: &str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = match self.peek() {
                None => "the end of the line".to_string(),
                Some(_) => format!("{:?}", self.rest()),
            };
            Err(self.err(format!("expected `{c}` {context}, found {found}")))
        }
    }

    /// Consumes `word` if the line continues with it.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// An unquoted word (possibly empty).
    fn word(&mut self) -> &'a str {
        self.skip_ws();
        let rest = self.rest();
        let len = rest.find(is_delimiter).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, ParseError> {
        let w = self.word();
        w.parse()
            .map_err(|_| self.err(format!("expected {what}, found {w:?}")))
    }

    /// `%N`.
    fn tensor_ref(&mut self) -> Result<TensorId, ParseError> {
        self.expect('%', "before a tensor number")?;
        let n: usize = self.number("a tensor number after `%`")?;
        Ok(Handle::from_index(n))
    }

    /// `%a, %b, ...`, possibly empty.
    fn refs(&mut self) -> Result<Vec<TensorId>, ParseError> {
        let mut ids = Vec::new();
        if self.peek() != Some('%') {
            return Ok(ids);
        }
        loop {
            ids.push(self.tensor_ref()?);
            if !self.eat(',') {
                return Ok(ids);
            }
        }
    }

    /// True when the line is an op: `_ =` or `%N =` / `%N, ...`.
    fn starts_op(&mut self) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if let Some(after) = rest.strip_prefix('_') {
            return after.trim_start().starts_with('=');
        }
        let Some(after) = rest.strip_prefix('%') else {
            return false;
        };
        let after = after.trim_start_matches(|c: char| c.is_ascii_digit());
        let after = after.trim_start();
        after.starts_with('=') || after.starts_with(',')
    }

    /// A quoted name with escapes.
    fn string(&mut self) -> Result<String, ParseError> {
        self.expect('"', "to open the tensor name")?;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        loop {
            let Some((i, c)) = chars.next() else {
                return Err(self.err("unterminated name (missing closing `\"`)"));
            };
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else {
                        return Err(self.err("unterminated escape in a name"));
                    };
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '\'' => out.push('\''),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'u' => {
                            let hex: String = chars
                                .by_ref()
                                .map(|(_, c)| c)
                                .take_while(|&c| c != '}')
                                .collect();
                            let code = hex
                                .strip_prefix('{')
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| {
                                    self.err(format!("bad escape \\u{hex}}} in a name"))
                                })?;
                            out.push(code);
                        }
                        other => {
                            return Err(self.err(format!("unknown escape \\{other} in a name")));
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// A word, `[list]` or `(tuple)`.
    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some('[') => {
                self.pos += 1;
                Ok(Value::List(self.items(']')?))
            }
            Some('(') => {
                self.pos += 1;
                Ok(Value::Tuple(self.items(')')?))
            }
            Some('<') => Err(self.err(
                "elided bytes (`<N bytes ...>`): this is a dump, not the full text; print the graph with text::print",
            )),
            _ => Ok(Value::Atom(self.word().to_string())),
        }
    }

    /// Comma-separated values up to `close` (already past the opener).
    fn items(&mut self, close: char) -> Result<Vec<Value>, ParseError> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(',', &format!("or `{close}` between items"))?;
        }
    }

    /// `key=value` (the separator is the caller's).
    fn field(&mut self) -> Result<(String, Value), ParseError> {
        let key = self.word().to_string();
        if key.is_empty() {
            return Err(self.err(format!("expected `key=value`, found {:?}", self.rest())));
        }
        self.expect('=', &format!("after {key:?}"))?;
        Ok((key, self.value()?))
    }

    /// `%N dtype[dims] "name" key=value...`.
    fn tensor(&mut self) -> Result<(usize, Tensor), ParseError> {
        let id = self.tensor_ref()?.index();
        let dtype_name = self.word();
        let dtype = DTYPES
            .iter()
            .copied()
            .find(|d| d.name() == dtype_name)
            .ok_or_else(|| {
                self.err(format!(
                    "unknown element type {dtype_name:?} (f32, i8, u8, i16, i32, i64, bool)"
                ))
            })?;
        self.expect('[', "to open the shape")?;
        let shape = self
            .items(']')?
            .iter()
            .map(|v| self.as_number::<usize>(v, "a dimension"))
            .collect::<Result<Vec<_>, _>>()?;
        let name = self.string()?;
        let mut fields = Fields::new(self.line);
        while !self.at_end() {
            let (key, value) = self.field()?;
            fields.insert(key, value)?;
        }
        let scales = fields.take("scale");
        let zero_points = fields.take("zp");
        let axis = fields.take("axis");
        let data = fields.take("data");
        fields.finish("a tensor")?;
        let quant = match (scales, zero_points) {
            (None, None) => {
                if axis.is_some() {
                    return Err(self.err("`axis=` without `scale=` and `zp=`"));
                }
                None
            }
            (Some(s), Some(z)) => Some(Quantization {
                scales: self.one_or_many(&s, "a scale")?,
                zero_points: self.one_or_many(&z, "a zero point")?,
                axis: match axis {
                    Some(a) => self.as_number(&a, "an axis")?,
                    None => 0,
                },
            }),
            _ => return Err(self.err("`scale=` and `zp=` come together")),
        };
        let data = match data {
            Some(d) => Some(self.as_bytes(&d)?),
            None => None,
        };
        Ok((
            id,
            Tensor {
                name,
                shape,
                dtype,
                quant,
                data,
            },
        ))
    }

    /// `outputs = NAME(attrs) inputs @origin`.
    fn op(&mut self) -> Result<Op, ParseError> {
        let outputs = if self.eat('_') {
            Vec::new()
        } else {
            self.refs()?
        };
        self.expect('=', "after the op's outputs")?;
        let name = self.word().to_string();
        let mut attrs = Fields::new(self.line);
        if self.eat('(') && !self.eat(')') {
            loop {
                let (key, value) = self.field()?;
                attrs.insert(key, value)?;
                if self.eat(')') {
                    break;
                }
                self.expect(',', "or `)` between attributes")?;
            }
        }
        let kind = self.kind(&name, &mut attrs)?;
        attrs.finish(&name)?;
        let inputs = self.refs()?;
        let origin = if self.eat('@') {
            Some(self.number("an origin (operator index) after `@`")?)
        } else {
            None
        };
        Ok(Op {
            kind,
            inputs,
            outputs,
            origin,
        })
    }

    fn kind(&self, name: &str, a: &mut Fields) -> Result<OpKind, ParseError> {
        Ok(match name {
            "CONV_2D" => OpKind::Conv2D(Conv2D {
                stride: self.hw(a.need("stride")?)?,
                dilation: self.hw(a.need("dilation")?)?,
                padding: self.padding(a.need("pad")?)?,
                activation: self.activation(a.need("act")?)?,
            }),
            "DEPTHWISE_CONV_2D" => OpKind::DepthwiseConv2D(DepthwiseConv2D {
                stride: self.hw(a.need("stride")?)?,
                dilation: self.hw(a.need("dilation")?)?,
                padding: self.padding(a.need("pad")?)?,
                depth_multiplier: self.as_number(&a.need("multiplier")?, "a multiplier")?,
                activation: self.activation(a.need("act")?)?,
            }),
            "FULLY_CONNECTED" => OpKind::FullyConnected(FullyConnected {
                keep_num_dims: self.as_number(&a.need("keep_num_dims")?, "true or false")?,
                activation: self.activation(a.need("act")?)?,
            }),
            "AVERAGE_POOL_2D" => OpKind::AveragePool2D(self.pool(a)?),
            "MAX_POOL_2D" => OpKind::MaxPool2D(self.pool(a)?),
            "ADD" => OpKind::Add {
                activation: self.activation(a.need("act")?)?,
            },
            "SUB" => OpKind::Sub {
                activation: self.activation(a.need("act")?)?,
            },
            "MUL" => OpKind::Mul {
                activation: self.activation(a.need("act")?)?,
            },
            "DIV" => OpKind::Div {
                activation: self.activation(a.need("act")?)?,
            },
            "EXP" => OpKind::Exp,
            "LOG" => OpKind::Log,
            "SQRT" => OpKind::Sqrt,
            "RSQRT" => OpKind::Rsqrt,
            "SQUARED_DIFFERENCE" => OpKind::SquaredDifference,
            "ABS" => OpKind::Abs,
            "NEG" => OpKind::Neg,
            "SQUARE" => OpKind::Square,
            "MAXIMUM" => OpKind::Maximum,
            "MINIMUM" => OpKind::Minimum,
            "PRELU" => OpKind::Prelu,
            "SOFTMAX" => OpKind::Softmax {
                beta: self.as_number(&a.need("beta")?, "a float")?,
            },
            "LOGISTIC" => OpKind::Logistic,
            "TANH" => OpKind::Tanh,
            "RELU" => OpKind::Relu,
            "RELU6" => OpKind::Relu6,
            "RELU_N1_TO_1" => OpKind::ReluN1To1,
            "LEAKY_RELU" => OpKind::LeakyRelu {
                alpha: self.as_number(&a.need("alpha")?, "a float")?,
            },
            "HARD_SWISH" => OpKind::HardSwish,
            "CONCATENATION" => OpKind::Concatenation {
                axis: self.as_number(&a.need("axis")?, "an axis")?,
                activation: self.activation(a.need("act")?)?,
            },
            "MEAN" => OpKind::Mean {
                axes: self.numbers(&a.need("axes")?, "an axis")?,
                keep_dims: self.as_number(&a.need("keep_dims")?, "true or false")?,
            },
            "PAD" => {
                let Value::List(items) = a.need("paddings")? else {
                    return Err(self.err("paddings must be a list `[(before, after), ...]`"));
                };
                let paddings = items
                    .iter()
                    .map(|item| match item {
                        Value::Tuple(pair) if pair.len() == 2 => Ok((
                            self.as_number(&pair[0], "a padding")?,
                            self.as_number(&pair[1], "a padding")?,
                        )),
                        other => Err(self.err(format!(
                            "expected a `(before, after)` pair in paddings, found {}",
                            other.describe()
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                OpKind::Pad { paddings }
            }
            "RESHAPE" => OpKind::Reshape,
            "SQUEEZE" => OpKind::Squeeze,
            "CAST" => OpKind::Cast,
            "EXPAND_DIMS" => OpKind::ExpandDims,
            "TRANSPOSE" => OpKind::Transpose {
                perm: self.numbers(&a.need("perm")?, "a dimension")?,
            },
            "STRIDED_SLICE" => OpKind::StridedSlice(StridedSlice {
                begin: self.numbers(&a.need("begin")?, "an index")?,
                end: self.numbers(&a.need("end")?, "an index")?,
                strides: self.numbers(&a.need("strides")?, "a stride")?,
                begin_mask: self.as_number(&a.need("begin_mask")?, "a mask")?,
                end_mask: self.as_number(&a.need("end_mask")?, "a mask")?,
                ellipsis_mask: self.as_number(&a.need("ellipsis_mask")?, "a mask")?,
                new_axis_mask: self.as_number(&a.need("new_axis_mask")?, "a mask")?,
                shrink_axis_mask: self.as_number(&a.need("shrink_axis_mask")?, "a mask")?,
                offset: self.as_number(&a.need("offset")?, "true or false")?,
            }),
            "SPACE_TO_DEPTH" => OpKind::SpaceToDepth {
                block: self.as_number(&a.need("block")?, "a block size")?,
            },
            "DEPTH_TO_SPACE" => OpKind::DepthToSpace {
                block: self.as_number(&a.need("block")?, "a block size")?,
            },
            "BATCH_MATMUL" => OpKind::BatchMatMul {
                adj_x: self.as_number(&a.need("adj_x")?, "true or false")?,
                adj_y: self.as_number(&a.need("adj_y")?, "true or false")?,
            },
            "GATHER" => OpKind::Gather {
                axis: self.as_number(&a.need("axis")?, "an axis")?,
                indices: self.numbers(&a.need("indices")?, "an index")?,
            },
            "QUANTIZE" => OpKind::Quantize,
            "DEQUANTIZE" => OpKind::Dequantize,
            "RESIZE_BILINEAR" => OpKind::ResizeBilinear(self.resize(a)?),
            "RESIZE_NEAREST_NEIGHBOR" => OpKind::ResizeNearestNeighbor(self.resize(a)?),
            "TRANSPOSE_CONV" => OpKind::TransposeConv(TransposeConv {
                stride: self.hw(a.need("stride")?)?,
                padding: self.padding(a.need("pad")?)?,
                activation: self.activation(a.need("act")?)?,
            }),
            "UNIDIRECTIONAL_SEQUENCE_LSTM" => OpKind::Lstm(crate::op::Lstm {
                cell_clip: self.as_number(&a.need("cell_clip")?, "a float")?,
                time_major: self.as_number(&a.need("time_major")?, "true or false")?,
            }),
            "SVDF" => OpKind::Svdf(crate::op::Svdf {
                rank: self.as_number(&a.need("rank")?, "a rank")?,
                activation: self.activation(a.need("act")?)?,
            }),
            "LUT" => {
                let of = a.need("of")?;
                let of = self.atom(&of, "op names joined by `+`")?;
                let ops = if of.is_empty() {
                    Vec::new()
                } else {
                    of.split('+')
                        .map(|n| {
                            OP_NAMES.iter().copied().find(|k| *k == n).ok_or_else(|| {
                                self.err(format!("unknown op {n:?} in a LUT's `of=`"))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?
                };
                let table = self.as_bytes(&a.need("table")?)?;
                OpKind::Lut(Lut { table, ops })
            }
            other => {
                let mut get = |key: &'static str| -> Result<u64, String> {
                    let v = a.need(key).map_err(|e| e.to_string())?;
                    self.as_number(&v, "an integer").map_err(|e| e.to_string())
                };
                match crate::signal::SignalOp::from_attrs(other, &mut get) {
                    Some(op) => OpKind::Signal(op.map_err(|e| self.err(e))?),
                    None => return Err(self.err(format!("unknown op kind {other:?}"))),
                }
            }
        })
    }

    fn resize(&self, a: &mut Fields) -> Result<Resize, ParseError> {
        Ok(Resize {
            align_corners: self.as_number(&a.need("align_corners")?, "true or false")?,
            half_pixel_centers: self.as_number(&a.need("half_pixel_centers")?, "true or false")?,
        })
    }

    fn pool(&self, a: &mut Fields) -> Result<Pool2D, ParseError> {
        Ok(Pool2D {
            filter: self.hw(a.need("filter")?)?,
            stride: self.hw(a.need("stride")?)?,
            padding: self.padding(a.need("pad")?)?,
            activation: self.activation(a.need("act")?)?,
        })
    }

    fn atom<'v>(&self, v: &'v Value, what: &str) -> Result<&'v str, ParseError> {
        match v {
            Value::Atom(a) => Ok(a),
            other => Err(self.err(format!("expected {what}, found {}", other.describe()))),
        }
    }

    fn as_number<T: std::str::FromStr>(&self, v: &Value, what: &str) -> Result<T, ParseError> {
        let a = self.atom(v, what)?;
        a.parse()
            .map_err(|_| self.err(format!("expected {what}, found {a:?}")))
    }

    fn numbers<T: std::str::FromStr>(&self, v: &Value, what: &str) -> Result<Vec<T>, ParseError> {
        match v {
            Value::List(items) => items.iter().map(|i| self.as_number(i, what)).collect(),
            other => Err(self.err(format!(
                "expected a list `[...]` of {what}s, found {}",
                other.describe()
            ))),
        }
    }

    /// A single value or a list of them (scales, zero points).
    fn one_or_many<T: std::str::FromStr>(
        &self,
        v: &Value,
        what: &str,
    ) -> Result<Vec<T>, ParseError> {
        match v {
            Value::List(_) => self.numbers(v, what),
            _ => Ok(vec![self.as_number(v, what)?]),
        }
    }

    fn hw(&self, v: Value) -> Result<Hw, ParseError> {
        let a = self.atom(&v, "HxW")?;
        let parsed = a.split_once('x').and_then(|(h, w)| {
            Some(Hw {
                h: h.parse().ok()?,
                w: w.parse().ok()?,
            })
        });
        parsed.ok_or_else(|| self.err(format!("expected HxW (like 2x2), found {a:?}")))
    }

    fn padding(&self, v: Value) -> Result<Padding2D, ParseError> {
        let p: Vec<usize> = self.numbers(&v, "a padding")?;
        match p[..] {
            [top, bottom, left, right] => Ok(Padding2D {
                top,
                bottom,
                left,
                right,
            }),
            _ => Err(self.err(format!(
                "pad takes [top, bottom, left, right], found {} numbers",
                p.len()
            ))),
        }
    }

    fn activation(&self, v: Value) -> Result<Activation, ParseError> {
        let a = self.atom(&v, "an activation")?;
        [
            Activation::None,
            Activation::Relu,
            Activation::Relu6,
            Activation::ReluN1To1,
        ]
        .into_iter()
        .find(|&x| activation_name(x) == a)
        .ok_or_else(|| {
            self.err(format!(
                "unknown activation {a:?} (NONE, RELU, RELU6, RELU_N1_TO_1)"
            ))
        })
    }

    /// `0x` followed by two hex digits per byte.
    fn as_bytes(&self, v: &Value) -> Result<Vec<u8>, ParseError> {
        let a = self.atom(v, "hex bytes `0x...`")?;
        let hex = a
            .strip_prefix("0x")
            .ok_or_else(|| self.err(format!("expected hex bytes `0x...`, found {a:?}")))?;
        if hex.len() % 2 != 0 {
            return Err(self.err("odd number of hex digits"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| self.err(format!("bad hex byte at digit {i} of {a:?}")))
            })
            .collect()
    }
}

/// `key=value` fields of one line, each used once.
struct Fields {
    line: usize,
    items: Vec<(String, Value)>,
}

impl Fields {
    fn new(line: usize) -> Self {
        Fields {
            line,
            items: Vec::new(),
        }
    }

    fn err(&self, message: String) -> ParseError {
        ParseError {
            line: self.line,
            message,
        }
    }

    fn insert(&mut self, key: String, value: Value) -> Result<(), ParseError> {
        if self.items.iter().any(|(k, _)| *k == key) {
            return Err(self.err(format!("{key:?} given twice")));
        }
        self.items.push((key, value));
        Ok(())
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.items.iter().position(|(k, _)| k == key)?;
        Some(self.items.remove(i).1)
    }

    fn need(&mut self, key: &str) -> Result<Value, ParseError> {
        self.take(key)
            .ok_or_else(|| self.err(format!("missing attribute `{key}=`")))
    }

    /// Errors if a field was not used.
    fn finish(self, what: &str) -> Result<(), ParseError> {
        match self.items.first() {
            Some((k, _)) => Err(ParseError {
                line: self.line,
                message: format!("unknown field `{k}=` for {what}"),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
inputs: %0
outputs: %4
tensors:
  %0 i8[1,4,4,2] \"input\" scale=0.5 zp=-1
  %1 i8[3,1,1,2] \"w\" scale=[0.25, 0.5, 0.125] zp=[0, 0, 0] axis=0 data=0x010203fe05fa
  %2 i32[3] \"b\" data=0x000000000100000002000000
  %3 i8[1,4,4,3] \"conv\" scale=0.25 zp=3
  %4 i8[1,4,4,3] \"out\" scale=0.25 zp=3
ops:
  %3 = CONV_2D(stride=1x1, dilation=1x1, pad=[0, 0, 0, 0], act=NONE) %0, %1, %2 @0
  %4 = LEAKY_RELU(alpha=0.2) %3 @1
";

    #[test]
    fn example_round_trips_and_validates() {
        let g = parse(EXAMPLE).expect("parses");
        assert_eq!(print(&g), EXAMPLE);
        crate::validate(&g).expect("valid");
        assert_eq!(g.tensor(g.outputs[0]).name, "out");
        assert_eq!(
            g.tensors[Handle::from_index(1)]
                .quant
                .as_ref()
                .map(|q| q.scales.len()),
            Some(3)
        );
    }

    #[test]
    fn comments_blank_lines_and_spacing_are_free() {
        let text = "; a comment\n\ninputs:%0 ; trailing\noutputs: %1\n  %0 i8[2] \"a;b\" scale=1.0 zp=0\n%1 i8[2] \"y\" scale=1.0 zp=0\n%1=RELU %0\n";
        let g = parse(text).expect("parses");
        assert_eq!(g.tensor(g.inputs[0]).name, "a;b");
        assert_eq!(g.ops.len(), 1);
    }

    #[test]
    fn names_with_quotes_and_controls_round_trip() {
        let mut g = Graph::new();
        g.tensors
            .push(Tensor::new("a \"q\" \\ \n\t\u{1}é", vec![], DType::F32));
        let text = print(&g);
        assert_eq!(parse(&text).expect("parses"), g, "{text}");
    }

    fn error_of(text: &str) -> ParseError {
        parse(text).expect_err("must not parse")
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            error_of("inputs: %0\n%0 i8[1] \"x\" scale=1.0 zp=0\n%1 = CONV_2D(stride=1x1) %0\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("dilation"), "{e}");
        let e = error_of("%1 i8[1] \"x\"\n");
        assert!(e.message.contains("%0 comes next"), "{e}");
        let e = error_of("%0 i8[1] \"x\"\n\n%1 = RELU %7\n");
        assert_eq!((e.line, e.message.contains("%7")), (3, true), "{e}");
        let e = error_of("%0 i8[4] \"x\" data=<4 bytes, fnv 0>\n");
        assert!(e.message.contains("dump"), "{e}");
        let e = error_of("%0 i8[1] \"x\" scale=1.0\n");
        assert!(e.message.contains("together"), "{e}");
        let e = error_of("%0 = FOO %0\n");
        assert!(e.message.contains("FOO"), "{e}");
        let e = error_of("%0 = RELU(alpha=1.0) %0\n");
        assert!(e.message.contains("alpha"), "{e}");
        assert_eq!(error_of("%0 i8[1] \"x\n").line, 1);
    }

    #[test]
    fn dump_elides_large_constants() {
        let mut g = Graph::new();
        let mut t = Tensor::new("w", vec![100], DType::I8);
        t.quant = Some(Quantization::per_tensor(1.0, 0));
        t.data = Some(vec![7; 100]);
        g.tensors.push(t);
        let dump = g.dump();
        assert!(dump.contains("data=<100 bytes, fnv"), "{dump}");
        assert!(parse(&dump).is_err());
        assert_eq!(parse(&print(&g)).expect("full text parses"), g);
    }
}

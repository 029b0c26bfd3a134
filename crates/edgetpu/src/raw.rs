//! The model as given: subgraph 0's operator list read straight from the
//! flatbuffer, with the planus schema `tinyq_tflite::fb` that tinyq's reader
//! uses. Unlike the reader, this keeps every op: the shape arithmetic the
//! reader folds away and the ops tinyq cannot run (LSTM, CUSTOM, ...)
//! are exactly what the Edge TPU verdict must speak of.
//!
//! The file is untrusted: every access is checked, nothing panics, and the
//! data copied out is bounded by a budget proportional to the file size.

use std::cell::Cell;
use std::collections::BTreeMap;

use planus::ReadAsRoot as _;
use tinyq_tflite::fb;

use crate::error::CheckError;
use crate::model::{Attrs, ElemType, Input, ModelView, OpView, Role, TensorView};
use crate::names::{CUSTOM, builtin_name};

/// More operators or tensors than this is a corrupt file, not a model.
const MAX_COUNT: usize = 1 << 20;
/// Highest rank read; TFLite's kernels stop at 6.
const MAX_RANK: usize = 16;
/// Largest parameter tensor (axes, paddings, strides) decoded, in elements.
const MAX_PARAM_ELEMENTS: usize = 1 << 10;

type Result<T, E = CheckError> = std::result::Result<T, E>;

/// Attaches what was being read to a planus error.
trait Ctx<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Ctx<T> for planus::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| CheckError::malformed(what(), &e))
    }
}

/// The tag of an enum value newer than the schema, if that is what `e` is.
fn unknown_tag(e: &planus::Error) -> Option<i128> {
    match e.error_kind {
        planus::errors::ErrorKind::UnknownEnumTag { source } => Some(source.tag),
        _ => None,
    }
}

/// What copying out of the file may still cost, in bytes.
struct Budget(Cell<usize>);

impl Budget {
    fn charge(&self, bytes: usize, what: impl FnOnce() -> String) -> Result<()> {
        let left = self.0.get();
        if bytes > left {
            return Err(CheckError::Limit(format!(
                "{} needs more memory than a file of this size justifies",
                what()
            )));
        }
        self.0.set(left - bytes);
        Ok(())
    }
}

/// Reads the op list of subgraph 0 of the TFLite model in `bytes`.
pub fn read_view(bytes: &[u8]) -> Result<ModelView> {
    if bytes.len() < 8 {
        return Err(CheckError::NotTflite(format!(
            "{} bytes is too short for a flatbuffer",
            bytes.len()
        )));
    }
    let model = fb::ModelRef::read_as_root(bytes)
        .map_err(|e| CheckError::NotTflite(format!("no flatbuffer root table ({e})")))?;
    let budget = Budget(Cell::new(
        bytes.len().saturating_mul(4).saturating_add(16 << 20),
    ));
    let codes = operator_codes(&model, &budget)?;
    let subgraph = model
        .subgraphs()
        .ctx(|| "Model.subgraphs".into())?
        .and_then(|s| s.get(0))
        .ok_or(CheckError::NoSubgraph)?
        .ctx(|| "subgraph 0".into())?;
    let Some(fb_ops) = subgraph.operators().ctx(|| "subgraph 0 operators".into())? else {
        return Ok(ModelView::default());
    };
    if fb_ops.len() > MAX_COUNT {
        return Err(CheckError::Limit(format!(
            "subgraph 0 has {} operators, more than {MAX_COUNT}",
            fb_ops.len()
        )));
    }
    let mut tensors = Tensors {
        file: bytes,
        tensors: subgraph.tensors().ctx(|| "subgraph 0 tensors".into())?,
        buffers: model.buffers().ctx(|| "Model.buffers".into())?,
        budget: &budget,
        cache: BTreeMap::new(),
    };
    let mut ops = Vec::with_capacity(fb_ops.len());
    for (index, op) in fb_ops.iter().enumerate() {
        let op = op.ctx(|| format!("op #{index}"))?;
        ops.push(read_op(index, &op, &codes, &mut tensors)?);
    }
    Ok(ModelView { ops })
}

/// `Model.operator_codes`: the builtin code (`max(builtin_code,
/// deprecated_builtin_code)`) and the custom code of each.
fn operator_codes(model: &fb::ModelRef<'_>, budget: &Budget) -> Result<Vec<(i32, Option<String>)>> {
    let Some(codes) = model
        .operator_codes()
        .ctx(|| "Model.operator_codes".into())?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(codes.len());
    for (i, oc) in codes.iter().enumerate() {
        let at = || format!("operator code {i}");
        let oc = oc.ctx(at)?;
        let deprecated = i32::from(oc.deprecated_builtin_code().ctx(at)?);
        let builtin = match oc.builtin_code() {
            Ok(b) => b as i32,
            Err(e) => match unknown_tag(&e) {
                Some(tag) => i32::try_from(tag).unwrap_or(i32::MAX),
                None => return Err(CheckError::malformed(at(), &e)),
            },
        };
        let custom = oc.custom_code().ctx(at)?;
        budget.charge(64 + custom.map_or(0, str::len), at)?;
        out.push((builtin.max(deprecated), custom.map(str::to_owned)));
    }
    Ok(out)
}

/// The roles of an op's inputs, by position, for the ops whose inputs are
/// not all data. Positions past the list are data.
fn roles(op: &str) -> &'static [Role] {
    use Role::{Bias, Data, Other, Param, Weights};
    match op {
        "CONV_2D" | "DEPTHWISE_CONV_2D" | "FULLY_CONNECTED" => &[Data, Weights, Bias],
        "TRANSPOSE_CONV" => &[Param, Weights, Data, Bias],
        "PRELU" => &[Data, Weights],
        "MEAN"
        | "SUM"
        | "REDUCE_MAX"
        | "REDUCE_MIN"
        | "REDUCE_PROD"
        | "PAD"
        | "MIRROR_PAD"
        | "RESHAPE"
        | "EXPAND_DIMS"
        | "TRANSPOSE"
        | "RESIZE_BILINEAR"
        | "RESIZE_NEAREST_NEIGHBOR"
        | "GATHER"
        | "TILE" => &[Data, Param],
        "PADV2" => &[Data, Param, Param],
        "STRIDED_SLICE" => &[Data, Param, Param, Param],
        "SLICE" => &[Data, Param, Param],
        "SPLIT" => &[Param, Data],
        "SPLIT_V" => &[Data, Param, Param],
        "LSTM" | "UNIDIRECTIONAL_SEQUENCE_LSTM" | "BIDIRECTIONAL_SEQUENCE_LSTM" => &[
            Data, Other, Other, Other, Other, Other, Other, Other, Other, Other, Other, Other,
            Other, Other, Other, Other, Other, Other, Other, Other, Other, Other, Other, Other,
        ],
        _ => &[],
    }
}

fn read_op(
    index: usize,
    op: &fb::OperatorRef<'_>,
    codes: &[(i32, Option<String>)],
    tensors: &mut Tensors<'_, '_>,
) -> Result<OpView> {
    let at = || format!("op #{index}");
    let opcode = op.opcode_index().ctx(at)?;
    let (code, custom) = usize::try_from(opcode)
        .ok()
        .and_then(|i| codes.get(i))
        .ok_or_else(|| CheckError::Index {
            at: at(),
            what: "operator code",
            index: i64::from(opcode),
            count: codes.len(),
        })?;
    let mut view = OpView::new(index, builtin_name(*code));
    if *code == CUSTOM {
        view.custom_code = custom.clone();
    }
    let roles = roles(&view.op);

    let fb_inputs = op.inputs().ctx(at)?;
    let fb_outputs = op.outputs().ctx(at)?;
    let n = fb_inputs.map_or(0, |v| v.len()) + fb_outputs.map_or(0, |v| v.len());
    tensors.budget.charge(n.saturating_mul(16), at)?;
    // Parameter values the rules read, by input position.
    let mut values: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    if let Some(v) = fb_inputs {
        for (i, t) in v.iter().enumerate() {
            let role = roles.get(i).copied().unwrap_or(Role::Data);
            // -1 marks an absent optional input (e.g. no bias).
            let tensor = if t == -1 {
                None
            } else {
                let idx = tensors.index(t, || format!("op #{index} input {i}"))?;
                let vals = if role == Role::Param {
                    tensors.int_values(idx)?
                } else {
                    None
                };
                if let Some(vals) = vals {
                    values.insert(i, vals);
                }
                let mut view_t = tensors.view(idx)?;
                if view.op == "CONCATENATION" && view_t.constant {
                    view_t.all_zero = tensors.all_zero(idx)?;
                }
                Some(view_t)
            };
            view.inputs.push(Input { role, tensor });
        }
    }
    if let Some(v) = fb_outputs {
        for (i, t) in v.iter().enumerate() {
            let idx = tensors.index(t, || format!("op #{index} output {i}"))?;
            view.outputs.push(tensors.view(idx)?);
        }
    }
    view.attrs = attrs(&view.op, op, &values);
    Ok(view)
}

/// A fused activation's TFLite name.
fn activation_name(a: planus::Result<fb::ActivationFunctionType>) -> String {
    match a {
        Ok(a) => builtin_style(&format!("{a:?}")),
        Err(e) => match unknown_tag(&e) {
            Some(tag) => format!("UNKNOWN_{tag}"),
            None => "UNREADABLE".to_owned(),
        },
    }
}

/// `ReluN1To1` → `RELU_N1_TO_1`, `Relu6` → `RELU6`.
fn builtin_style(rust: &str) -> String {
    match rust {
        "ReluN1To1" => "RELU_N1_TO_1".to_owned(),
        "Relu6" => "RELU6".to_owned(),
        _ => rust.to_ascii_uppercase(),
    }
}

/// The options and parameter values that the rules read. Options that
/// cannot be read leave their attribute unknown (`None`), which no rule
/// treats as a violation.
fn attrs(op: &str, fb_op: &fb::OperatorRef<'_>, values: &BTreeMap<usize, Vec<i64>>) -> Attrs {
    use fb::BuiltinOptionsRef as O;
    let mut a = Attrs::default();
    // Ops whose options carry a fused activation: NONE when the table is absent.
    if matches!(
        op,
        "CONV_2D"
            | "DEPTHWISE_CONV_2D"
            | "FULLY_CONNECTED"
            | "AVERAGE_POOL_2D"
            | "MAX_POOL_2D"
            | "L2_POOL_2D"
            | "ADD"
            | "SUB"
            | "MUL"
            | "DIV"
            | "CONCATENATION"
            | "L2_NORMALIZATION"
    ) {
        a.activation = Some("NONE".to_owned());
    }
    if matches!(op, "CONV_2D" | "DEPTHWISE_CONV_2D") {
        a.dilation = Some((1, 1));
    }
    match fb_op.builtin_options().ok().flatten() {
        Some(O::Conv2DOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
            if let (Ok(h), Ok(w)) = (o.dilation_h_factor(), o.dilation_w_factor()) {
                a.dilation = Some((i64::from(h), i64::from(w)));
            }
        }
        Some(O::DepthwiseConv2DOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
            if let (Ok(h), Ok(w)) = (o.dilation_h_factor(), o.dilation_w_factor()) {
                a.dilation = Some((i64::from(h), i64::from(w)));
            }
        }
        Some(O::FullyConnectedOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
            a.shuffled_weights = !matches!(
                o.weights_format(),
                Ok(fb::FullyConnectedOptionsWeightsFormat::Default)
            );
        }
        Some(O::Pool2DOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
        }
        Some(O::AddOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()))
        }
        Some(O::SubOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()))
        }
        Some(O::MulOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()))
        }
        Some(O::DivOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()))
        }
        Some(O::L2NormOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
        }
        Some(O::ConcatenationOptions(o)) => {
            a.activation = Some(activation_name(o.fused_activation_function()));
            a.axis = o.axis().ok().map(i64::from);
        }
        Some(O::StridedSliceOptions(o)) => {
            a.ellipsis_mask = o.ellipsis_mask().unwrap_or(0);
            a.new_axis_mask = o.new_axis_mask().unwrap_or(0);
        }
        Some(O::PackOptions(o)) => a.axis = o.axis().ok().map(i64::from),
        Some(O::UnpackOptions(o)) => a.axis = o.axis().ok().map(i64::from),
        _ => {}
    }
    match op {
        "MEAN" | "SUM" | "REDUCE_MAX" | "REDUCE_MIN" => a.axes = values.get(&1).cloned(),
        "PAD" | "PADV2" | "MIRROR_PAD" => {
            a.paddings = values
                .get(&1)
                .map(|v| v.chunks_exact(2).map(|p| (p[0], p[1])).collect());
        }
        "STRIDED_SLICE" => a.strides = values.get(&3).cloned(),
        "SPLIT" => a.axis = values.get(&0).and_then(|v| v.first().copied()),
        "SPLIT_V" => a.axis = values.get(&2).and_then(|v| v.first().copied()),
        _ => {}
    }
    a
}

/// Subgraph 0's tensors and the model's buffers, read on demand.
struct Tensors<'a, 'b> {
    file: &'a [u8],
    tensors: Option<planus::Vector<'a, planus::Result<fb::TensorRef<'a>>>>,
    buffers: Option<planus::Vector<'a, planus::Result<fb::BufferRef<'a>>>>,
    budget: &'b Budget,
    cache: BTreeMap<usize, TensorView>,
}

impl<'a> Tensors<'a, '_> {
    fn count(&self) -> usize {
        self.tensors.map_or(0, |t| t.len())
    }

    /// A tensor index from the file, checked.
    fn index(&self, raw: i32, at: impl FnOnce() -> String) -> Result<usize> {
        usize::try_from(raw)
            .ok()
            .filter(|&i| i < self.count())
            .ok_or_else(|| CheckError::Index {
                at: at(),
                what: "tensor",
                index: i64::from(raw),
                count: self.count(),
            })
    }

    fn fb_tensor(&self, idx: usize) -> Result<fb::TensorRef<'a>> {
        self.tensors
            .and_then(|t| t.get(idx))
            .ok_or_else(|| CheckError::Malformed {
                context: format!("tensor {idx}"),
                detail: "missing from the tensor vector".into(),
            })?
            .ctx(|| format!("tensor {idx}"))
    }

    /// The view of tensor `idx` (converted once, copied per use).
    fn view(&mut self, idx: usize) -> Result<TensorView> {
        if let Some(v) = self.cache.get(&idx) {
            let cost = 64 + v.name.len() + v.shape.len() * 8;
            self.budget.charge(cost, || format!("tensor {idx}"))?;
            return Ok(v.clone());
        }
        let v = self.convert(idx)?;
        self.cache.insert(idx, v.clone());
        Ok(v)
    }

    fn convert(&self, idx: usize) -> Result<TensorView> {
        let t = self.fb_tensor(idx)?;
        let at = || format!("tensor {idx}");
        let name = match t.name().ctx(at)? {
            Some(n) => n.to_owned(),
            None => format!("tensor #{idx}"),
        };
        self.budget.charge(64 + name.len(), at)?;
        let dtype = match t.type_() {
            Ok(ty) => elem_type(ty),
            Err(e) => match unknown_tag(&e) {
                Some(tag) => ElemType::Other(format!("TYPE_{tag}")),
                None => return Err(CheckError::malformed(at(), &e)),
            },
        };
        let dims: Vec<i32> = match t.shape().ctx(at)? {
            Some(d) if d.len() > MAX_RANK => {
                return Err(CheckError::Limit(format!(
                    "tensor {name:?} has rank {}, more than {MAX_RANK}",
                    d.len()
                )));
            }
            Some(d) => d.to_vec().ctx(at)?,
            None => Vec::new(),
        };
        let signature: Option<Vec<i32>> = match t.shape_signature().ctx(at)? {
            Some(s) if s.len() <= MAX_RANK => Some(s.to_vec().ctx(at)?),
            Some(s) => Some(vec![-1; s.len().min(MAX_RANK + 1)]),
            None => None,
        };
        let dynamic = dynamic(&dims, signature.as_deref());
        let quantized = match t.quantization().ctx(at)? {
            Some(q) => q.scale().ctx(at)?.is_some_and(|s| !s.is_empty()),
            None => false,
        };
        let constant = !self.data(&t, idx)?.is_empty();
        Ok(TensorView {
            id: idx,
            name,
            shape: dims
                .iter()
                .map(|&d| usize::try_from(d).unwrap_or(0))
                .collect(),
            dtype,
            quantized,
            constant,
            dynamic,
            all_zero: None,
        })
    }

    /// The constant bytes of tensor `t` (empty for a non-constant),
    /// honouring the `offset`/`size` form of models over 2 GB.
    fn data(&self, t: &fb::TensorRef<'a>, idx: usize) -> Result<&'a [u8]> {
        let at = || format!("the buffer of tensor {idx}");
        let index = t.buffer().ctx(at)?;
        if index == 0 {
            return Ok(&[]);
        }
        let count = self.buffers.map_or(0, |b| b.len());
        let buffer = usize::try_from(index)
            .ok()
            .and_then(|i| self.buffers.and_then(|b| b.get(i)))
            .ok_or_else(|| CheckError::Index {
                at: format!("tensor {idx}"),
                what: "buffer",
                index: i64::from(index),
                count,
            })?
            .ctx(at)?;
        if let Some(data) = buffer.data().ctx(at)?.filter(|d| !d.is_empty()) {
            return Ok(data);
        }
        let offset = buffer.offset().ctx(at)?;
        let size = buffer.size().ctx(at)?;
        if offset <= 1 || size == 0 {
            return Ok(&[]);
        }
        usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| self.file.get(o..o.checked_add(s)?))
            .ok_or_else(|| CheckError::Malformed {
                context: at(),
                detail: format!("bytes {offset}..+{size} lie outside the file"),
            })
    }

    /// The values of a small constant int32/int64 tensor.
    fn int_values(&self, idx: usize) -> Result<Option<Vec<i64>>> {
        let t = self.fb_tensor(idx)?;
        let data = self.data(&t, idx)?;
        let width = match t.type_() {
            Ok(fb::TensorType::Int32) => 4,
            Ok(fb::TensorType::Int64) => 8,
            _ => return Ok(None),
        };
        if data.is_empty() || data.len() / width > MAX_PARAM_ELEMENTS {
            return Ok(None);
        }
        self.budget
            .charge(data.len() * 2, || format!("the values of tensor {idx}"))?;
        Ok(Some(
            data.chunks_exact(width)
                .map(|c| match *c {
                    [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
                    [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
                    _ => 0,
                })
                .collect(),
        ))
    }

    /// Whether every element of a constant is a real zero: the zero point
    /// of an 8-bit tensor, 0.0 of a float one, 0 of an integer one.
    fn all_zero(&self, idx: usize) -> Result<Option<bool>> {
        let t = self.fb_tensor(idx)?;
        let at = || format!("tensor {idx}");
        let data = self.data(&t, idx)?;
        self.budget.charge(data.len(), at)?;
        let zp = match t.quantization().ctx(at)? {
            Some(q) => match q.zero_point().ctx(at)? {
                Some(z) => z.iter().next().unwrap_or(0),
                None => 0,
            },
            None => 0,
        };
        Ok(match t.type_() {
            Ok(fb::TensorType::Int8) => Some(data.iter().all(|&b| i64::from(b as i8) == zp)),
            Ok(fb::TensorType::Uint8) => Some(data.iter().all(|&b| i64::from(b) == zp)),
            Ok(fb::TensorType::Float32) => Some(
                data.chunks_exact(4)
                    .all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) == 0.0),
            ),
            Ok(_) => Some(data.iter().all(|&b| b == 0)),
            Err(_) => None,
        })
    }
}

/// TFLite's tensor type as an [`ElemType`].
fn elem_type(ty: fb::TensorType) -> ElemType {
    use fb::TensorType as T;
    match ty {
        T::Float32 => ElemType::F32,
        T::Float16 => ElemType::F16,
        T::Float64 => ElemType::F64,
        T::Int8 => ElemType::I8,
        T::Uint8 => ElemType::U8,
        T::Int16 => ElemType::I16,
        T::Int32 => ElemType::I32,
        T::Int64 => ElemType::I64,
        T::Bool => ElemType::Bool,
        other => ElemType::Other(format!("{other:?}").to_ascii_uppercase()),
    }
}

/// Why a shape is not static, the way tinyq's reader decides it: a negative
/// dimension, or an unknown dimension in `shape_signature` other than a
/// batch (dimension 0) of size 1.
fn dynamic(dims: &[i32], signature: Option<&[i32]>) -> Option<String> {
    if dims.iter().any(|&d| d < 0) {
        return Some(format!("shape {dims:?}"));
    }
    let sig = signature?;
    let batch_only = |i: usize| i == 0 && dims.first() == Some(&1);
    let bad = sig.len() != dims.len()
        || sig
            .iter()
            .zip(dims)
            .enumerate()
            .any(|(i, (&s, &d))| if s < 0 { !batch_only(i) } else { s != d });
    bad.then(|| format!("shape {dims:?}, shape_signature {sig:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_shapes_follow_the_reader() {
        assert_eq!(dynamic(&[1, 28, 28, 1], Some(&[-1, 28, 28, 1])), None);
        assert_eq!(dynamic(&[1, 28], None), None);
        assert!(dynamic(&[4, 28], Some(&[-1, 28])).is_some());
        assert!(dynamic(&[1, 28], Some(&[1, -1])).is_some());
        assert!(dynamic(&[-1, 28], None).is_some());
    }

    #[test]
    fn garbage_is_not_a_model() {
        assert!(matches!(read_view(b""), Err(CheckError::NotTflite(_))));
        assert!(read_view(&[0xff; 64]).is_err());
        assert!(read_view(&[0; 64]).is_err());
    }
}

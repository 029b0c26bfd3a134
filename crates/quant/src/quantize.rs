//! Post-training integer quantization of a float32 Graph: calibrate,
//! plan the parameters the way the TF converter does, then rebuild the
//! graph with int8 activations, per-channel int8 weights and int32 biases,
//! or (16x8) symmetric int16 activations, the same int8 weights and int64
//! biases. Ops that stay float32 ([`crate::fallback`]) are rebuilt as they
//! are, reading DEQUANTIZEd copies of quantized tensors and QUANTIZEd for
//! quantized readers.

use std::collections::HashMap;

use ndarray::ArrayD;
use tinyq_ir::{DType, Graph, Op, OpKind, Quantization, Tensor, TensorId, validate};

use crate::calibrate::{Ranges, calibrate, split_samples};
use crate::error::QuantError;
use crate::exec::{Accumulation, FloatModel, Kernels};
use crate::fallback::{Fallback, KeepFloat, float_ops};
use crate::lstm;
use crate::observer::Method;
use crate::params::{self, Activations};
use crate::propagate::{Params, Plan, is_weight_operand, plan_mixed};

/// Element type of the quantized model's inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoMode {
    /// int8 I/O with the calibrated parameters.
    #[default]
    Int8,
    /// int16 I/O with the calibrated parameters (int16 activations only).
    Int16,
    /// uint8 I/O (zero point + 128) with a QUANTIZE at each edge.
    Uint8,
    /// float32 I/O with QUANTIZE after each input and DEQUANTIZE before each output.
    Float,
}

/// Options of [`quantize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantOptions {
    pub method: Method,
    pub io: IoMode,
    /// int8 activations, or int16 ones with int8 weights (16x8).
    pub activations: Activations,
    /// Per-channel FULLY_CONNECTED weights (the converter's default since
    /// 2024); `false` gives per-tensor weights as with
    /// `_experimental_disable_per_channel_quantization_for_dense_layers`.
    pub per_channel_dense: bool,
    /// Dot-product accumulation of the float run used for calibration.
    pub accumulation: Accumulation,
    /// Element-wise float kernels of the calibration run.
    pub kernels: Kernels,
    /// Ops without an int8 kernel: an error, or kept in float32.
    pub fallback: Fallback,
}

impl Default for QuantOptions {
    fn default() -> Self {
        QuantOptions {
            method: Method::MinMax,
            io: IoMode::Int8,
            activations: Activations::Int8,
            per_channel_dense: true,
            accumulation: Accumulation::Reference,
            kernels: Kernels::Calibrator,
            fallback: Fallback::Error,
        }
    }
}

/// Quantizes a float32 graph. `calibration` holds one array per graph
/// input, `[N, ...input shape]` (the representative dataset).
pub fn quantize(
    graph: &Graph,
    calibration: &[ArrayD<f32>],
    options: QuantOptions,
) -> Result<Graph, QuantError> {
    quantize_with_progress(graph, calibration, options, &mut |_, _| {})
}

/// [`quantize`] reporting calibration progress as `(done, total)` samples.
pub fn quantize_with_progress(
    graph: &Graph,
    calibration: &[ArrayD<f32>],
    options: QuantOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Graph, QuantError> {
    quantize_keeping(graph, calibration, options, &[], progress)
}

/// [`quantize_with_progress`] keeping the ops `keep` names in float32
/// (with any op that has no int8 kernel, under [`Fallback::Float`]).
pub fn quantize_keeping(
    graph: &Graph,
    calibration: &[ArrayD<f32>],
    options: QuantOptions,
    keep: &[KeepFloat],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Graph, QuantError> {
    if let Method::Percentile(p) = options.method
        && !(p > 0.0 && p <= 100.0)
    {
        return Err(QuantError::Calibration(format!(
            "percentile {p} is outside (0, 100]; give the percentage of values to keep, e.g. 99.99"
        )));
    }
    check_options(options)?;
    check_quantizable(graph)?;
    check_activations(graph, options.activations)?;
    // Refuse a bad --keep-float or an op without an int8 kernel before calibrating.
    let float = float_ops(graph, options.fallback, keep)?;
    lstm::check(graph, options.activations, &float)?;
    let model = FloatModel::new(graph)
        .map_err(|e| QuantError::Exec {
            sample: 0,
            source: e,
        })?
        .with_accumulation(options.accumulation)
        .with_kernels(options.kernels);
    let samples = split_samples(graph, calibration)?;
    let ranges = calibrate(&model, &samples, options.method, progress)?;
    quantize_with_ranges_keeping(graph, &ranges, options, keep)
}

/// Refuses an I/O type that does not fit the activations: int16 activations
/// take int16 or float I/O, int8 ones int8, uint8 or float.
pub fn check_options(options: QuantOptions) -> Result<(), QuantError> {
    let fits = match options.activations {
        Activations::Int8 => options.io != IoMode::Int16,
        Activations::Int16 => matches!(options.io, IoMode::Int16 | IoMode::Float),
    };
    if fits {
        return Ok(());
    }
    let io = match options.io {
        IoMode::Int8 => "int8",
        IoMode::Int16 => "int16",
        IoMode::Uint8 => "uint8",
        IoMode::Float => "float",
    };
    Err(QuantError::Options(match options.activations {
        Activations::Int16 => format!(
            "{io} I/O does not fit int16 activations: a 16x8 model takes int16 I/O (the \
             default) or float I/O (QUANTIZE/DEQUANTIZE at the edges)"
        ),
        Activations::Int8 => format!(
            "{io} I/O needs int16 activations; with int8 activations use int8, uint8 or float I/O"
        ),
    }))
}

/// Ops the TF converter cannot quantize to 16x8 (its error: "Quantization
/// to 16x8-bit not yet supported for op"); TFLite has no int16 kernel for
/// them.
fn has_no_16x8_form(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::Prelu
            | OpKind::HardSwish
            | OpKind::SpaceToDepth { .. }
            | OpKind::DepthToSpace { .. }
            | OpKind::Gather { .. }
    )
}

/// Refuses ops that have no form with `activations`.
pub fn check_activations(graph: &Graph, activations: Activations) -> Result<(), QuantError> {
    if activations != Activations::Int16 {
        return Ok(());
    }
    for (i, (_, op)) in graph.ops.iter().enumerate() {
        if has_no_16x8_form(&op.kind) {
            return Err(QuantError::Unsupported {
                index: op.origin.unwrap_or(i),
                op: op.kind.name(),
                why: "the op has no 16x8 (int16 activation) form in TFLite; quantize the \
                      model with int8 activations"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Refuses graphs that are not float32 or hold ops tinyq cannot quantize
/// (ops without an int8 kernel are [`float_ops`]' decision).
pub fn check_quantizable(graph: &Graph) -> Result<(), QuantError> {
    validate(graph)?;
    for (_, t) in graph.tensors.iter() {
        if !t.is_const() && t.dtype != DType::F32 {
            return Err(QuantError::NotFloatModel {
                name: t.name.clone(),
                dtype: t.dtype.name(),
            });
        }
    }
    for (i, (_, op)) in graph.ops.iter().enumerate() {
        let unsupported = |why: &str| QuantError::Unsupported {
            index: op.origin.unwrap_or(i),
            op: op.kind.name(),
            why: why.into(),
        };
        match &op.kind {
            OpKind::Quantize | OpKind::Dequantize => {
                return Err(unsupported("the model is already (partly) quantized"));
            }
            OpKind::Conv2D(_)
            | OpKind::DepthwiseConv2D(_)
            | OpKind::FullyConnected(_)
            | OpKind::TransposeConv(_) => {
                for k in 1..op.inputs.len().min(3) {
                    let t = graph.tensor(op.inputs[k]);
                    if k == 1 && t.dtype == DType::I8 {
                        return Err(unsupported(&format!(
                            "weights {:?} are int8 (a dynamic-range model); quantize the float model instead",
                            t.name
                        )));
                    }
                    if !t.is_const() || t.dtype != DType::F32 {
                        return Err(unsupported(&format!(
                            "{} {:?} must be a float32 constant",
                            if k == 1 { "weights" } else { "bias" },
                            t.name
                        )));
                    }
                }
                if op.inputs.len() < 2 {
                    return Err(unsupported("missing weights"));
                }
            }
            _ => {}
        }
        for &t in op.inputs.iter().chain(&op.outputs) {
            if graph.tensor(t).dtype != DType::F32 {
                return Err(unsupported(&format!(
                    "tensor {:?} is {}, expected float32",
                    graph.tensor(t).name,
                    graph.tensor(t).dtype
                )));
            }
        }
    }
    Ok(())
}

/// Quantizes with already observed ranges (one per tensor index).
pub fn quantize_with_ranges(
    graph: &Graph,
    ranges: &Ranges,
    options: QuantOptions,
) -> Result<Graph, QuantError> {
    quantize_with_ranges_keeping(graph, ranges, options, &[])
}

/// [`quantize_with_ranges`] keeping the ops `keep` names in float32.
pub fn quantize_with_ranges_keeping(
    graph: &Graph,
    ranges: &Ranges,
    options: QuantOptions,
    keep: &[KeepFloat],
) -> Result<Graph, QuantError> {
    check_options(options)?;
    check_quantizable(graph)?;
    check_activations(graph, options.activations)?;
    let float = float_ops(graph, options.fallback, keep)?;
    lstm::check(graph, options.activations, &float)?;
    let ranges = lstm::joined_ranges(graph, ranges, &float);
    let mut plan = plan_mixed(graph, &ranges, &float, options.activations)?;
    lstm::set_state_params(graph, &ranges, &float, &mut plan)?;
    let int16_states = lstm::cell_states(graph, &float);
    let mut readers = vec![Vec::new(); graph.tensors.len()];
    for (i, (_, op)) in graph.ops.iter().enumerate() {
        for &t in &op.inputs {
            readers[t.index()].push(i);
        }
    }
    let mut b = Builder {
        src: graph,
        plan: &plan,
        options,
        out: Graph::new(),
        map: HashMap::new(),
        float,
        readers,
        float_of: HashMap::new(),
        int16_states,
    };
    b.build()?;
    validate(&b.out)?;
    Ok(b.out)
}

struct Builder<'a> {
    src: &'a Graph,
    plan: &'a Plan,
    options: QuantOptions,
    out: Graph,
    /// Source tensor → tensor of the quantized graph (activations and
    /// asymmetric constants; weights and biases are made per op).
    map: HashMap<usize, TensorId>,
    /// Per source op: whether it stays float32.
    float: Vec<bool>,
    /// Per source tensor: the ops reading it.
    readers: Vec<Vec<usize>>,
    /// Source tensor → its float32 tensor in the quantized graph (made by a
    /// float op, a DEQUANTIZE, a float input, or a float constant).
    float_of: HashMap<usize, TensorId>,
    /// Source tensors quantized to int16 whatever the activations: the
    /// LSTMs' cell states.
    int16_states: Vec<TensorId>,
}

fn quant(p: Params) -> Option<Quantization> {
    Some(Quantization::per_tensor(p.0, p.1))
}

impl Builder<'_> {
    fn params(&self, t: TensorId) -> Result<Params, QuantError> {
        self.plan
            .params
            .get(t.index())
            .copied()
            .flatten()
            .ok_or_else(|| QuantError::Tensor {
                name: self.src.tensor(t).name.clone(),
                why: "no quantization parameters were derived".into(),
            })
    }

    /// The quantized (int8 or int16) tensor standing for source tensor `t`.
    fn tensor(&mut self, t: TensorId) -> Result<TensorId, QuantError> {
        if let Some(&id) = self.map.get(&t.index()) {
            return Ok(id);
        }
        let src = self.src.tensor(t);
        let p = self.params(t)?;
        let acts = self.options.activations;
        let data = match src.const_f32() {
            Some(values) if src.is_const() => Some(
                params::quantize_constant(&values, p.0, p.1, acts.code_range())
                    .into_iter()
                    .flat_map(|v| match acts {
                        Activations::Int8 => vec![v as i8 as u8],
                        Activations::Int16 => (v as i16).to_le_bytes().to_vec(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let dtype = if self.int16_states.contains(&t) {
            DType::I16
        } else {
            acts.dtype()
        };
        let id = self.out.tensors.push(Tensor {
            name: src.name.clone(),
            shape: src.shape.clone(),
            dtype,
            quant: quant(p),
            data,
        });
        self.map.insert(t.index(), id);
        Ok(id)
    }

    fn push_op(
        &mut self,
        kind: OpKind,
        inputs: Vec<TensorId>,
        outputs: Vec<TensorId>,
        origin: Option<usize>,
    ) {
        self.out.ops.push(Op {
            kind,
            inputs,
            outputs,
            origin,
        });
    }

    /// A new tensor like `like` with params `p`, named `name`.
    fn derived(
        &mut self,
        like: TensorId,
        name: String,
        dtype: DType,
        p: Option<Quantization>,
    ) -> TensorId {
        let shape = self.out.tensors[like].shape.clone();
        self.out.tensors.push(Tensor {
            name,
            shape,
            dtype,
            quant: p,
            data: None,
        })
    }

    fn build(&mut self) -> Result<(), QuantError> {
        let src = self.src;
        // Requantized copies: per (source tensor) list of (params, readers, new tensor).
        let mut on_input: HashMap<(usize, usize), TensorId> = HashMap::new();
        let mut replaced: HashMap<usize, TensorId> = HashMap::new();
        let mut dequantized: HashMap<usize, TensorId> = HashMap::new();

        // Inputs.
        let suffix = format!("_{}", self.options.activations.name());
        // The converter's op order around float I/O: int8 quantizes the
        // inputs in order and dequantizes each output right after its
        // producer; 16x8 quantizes them last input first and dequantizes
        // all outputs at the end.
        let wide = self.options.activations == Activations::Int16;
        let mut inputs = src.inputs.clone();
        if wide {
            inputs.reverse();
        }
        for &i in &inputs {
            let name = src.tensor(i).name.clone();
            if self.options.io == IoMode::Float && !self.needs_int8(i) {
                // Read by float ops only: the float input itself.
                let f = self.float_tensor(i, name);
                self.out.inputs.push(f);
                self.float_of.insert(i.index(), f);
                continue;
            }
            let q = self.tensor(i)?;
            match self.options.io {
                IoMode::Int8 | IoMode::Int16 => self.out.inputs.push(q),
                IoMode::Uint8 => {
                    let p = self.params(i)?;
                    let u = self.derived(q, name, DType::U8, quant((p.0, p.1 + 128)));
                    self.out.tensors[q].name.push_str(&suffix);
                    self.out.inputs.push(u);
                    self.push_op(OpKind::Quantize, vec![u], vec![q], None);
                }
                IoMode::Float => {
                    let f = self.derived(q, name, DType::F32, None);
                    self.out.tensors[q].name.push_str(&suffix);
                    self.out.inputs.push(f);
                    self.push_op(OpKind::Quantize, vec![f], vec![q], None);
                    self.float_of.insert(i.index(), f);
                }
            }
            self.emit_requants(i, None, &mut on_input)?;
        }
        // One input pushed per iteration: back to the model's order.
        if wide {
            self.out.inputs.reverse();
        }

        for (index, (_, op)) in src.ops.iter().enumerate() {
            if self.float[index] {
                self.float_op(op, &replaced, &mut on_input, &mut dequantized)?;
                continue;
            }
            let before = self.requants_before(index, op, &replaced)?;
            let mut inputs = Vec::with_capacity(op.inputs.len());
            for (k, &t) in op.inputs.iter().enumerate() {
                let requant = self
                    .plan
                    .on_input
                    .iter()
                    .position(|(rt, _, readers)| *rt == t && readers.contains(&(index, k)));
                let id = if is_weight_operand(&op.kind, k) {
                    self.weight_or_bias(index, op, k)?
                } else if let Some(&r) = before.get(&k) {
                    r
                } else if let Some(pos) = requant {
                    // Idempotent; makes the copies of constants on first use.
                    self.emit_requants(t, replaced.get(&t.index()).copied(), &mut on_input)?;
                    on_input
                        .get(&(t.index(), pos))
                        .copied()
                        .ok_or_else(|| QuantError::Tensor {
                            name: src.tensor(t).name.clone(),
                            why: "requantized copy missing".into(),
                        })?
                } else if let Some(&r) = replaced.get(&t.index()) {
                    r
                } else {
                    self.tensor(t)?
                };
                inputs.push(id);
            }
            let mut outputs = Vec::with_capacity(op.outputs.len());
            for &t in &op.outputs {
                outputs.push(self.tensor(t)?);
            }
            if let Some(bias) = self.wide_zero_bias(op, &inputs, &outputs) {
                inputs.push(bias);
            }
            self.push_op(op.kind.clone(), inputs, outputs, op.origin);
            for &t in &op.outputs {
                if let Some(&(_, p)) = self.plan.on_output.iter().find(|(rt, _)| *rt == t) {
                    // As the converter's driver: the op produces `p` (what
                    // its own constraint asked for), and a QUANTIZE gives its
                    // readers the parameters the tensor settled on first.
                    let q = self.tensor(t)?;
                    let settled = self.out.tensors[q].quant.take();
                    self.out.tensors[q].quant = quant(p);
                    let name = format!("{}_requantized", src.tensor(t).name);
                    let r = self.derived(q, name, self.options.activations.dtype(), settled);
                    self.push_op(OpKind::Quantize, vec![q], vec![r], None);
                    replaced.insert(t.index(), r);
                }
                self.emit_requants(t, replaced.get(&t.index()).copied(), &mut on_input)?;
                // Float I/O: the converter dequantizes right after the producer.
                if self.options.io == IoMode::Float && !wide && src.outputs.contains(&t) {
                    let q = replaced
                        .get(&t.index())
                        .copied()
                        .map_or_else(|| self.tensor(t), Ok)?;
                    let f = self.dequantize_output(q);
                    dequantized.insert(t.index(), f);
                    self.float_of.insert(t.index(), f);
                }
            }
        }

        // Outputs.
        for &o in &src.outputs {
            if let Some(&f) = dequantized.get(&o.index()) {
                self.out.outputs.push(f);
                continue;
            }
            let q = match replaced.get(&o.index()) {
                Some(&r) => r,
                None => self.tensor(o)?,
            };
            let p = self.out.tensors[q].scale_zp().unwrap_or((1.0, 0));
            let name = self.out.tensors[q].name.clone();
            match self.options.io {
                IoMode::Int8 | IoMode::Int16 => self.out.outputs.push(q),
                IoMode::Uint8 => {
                    let u = self.derived(q, name, DType::U8, quant((p.0, p.1 + 128)));
                    self.out.tensors[q].name.push_str(&suffix);
                    self.push_op(OpKind::Quantize, vec![q], vec![u], None);
                    self.out.outputs.push(u);
                }
                IoMode::Float => {
                    let f = self.dequantize_output(q);
                    self.out.outputs.push(f);
                }
            }
        }
        Ok(())
    }

    /// The int64 zero bias of a 16x8 CONV_2D or FULLY_CONNECTED without one:
    /// TFLM's accumulator type for it is the bias type the file's options
    /// name, and the reader makes that explicit as this same tensor, so the
    /// graph tinyq quantizes is the graph it reads back from the file it
    /// writes.
    fn wide_zero_bias(
        &mut self,
        op: &Op,
        inputs: &[TensorId],
        outputs: &[TensorId],
    ) -> Option<TensorId> {
        let conv_or_fc = matches!(op.kind, OpKind::Conv2D(_) | OpKind::FullyConnected(_));
        if self.options.activations != Activations::Int16 || !conv_or_fc || inputs.len() != 2 {
            return None;
        }
        let channels = self.out.tensors[inputs[1]].shape.first().copied()?;
        let output = outputs.first()?;
        Some(self.out.tensors.push(Tensor {
            data: Some(vec![0; 8 * channels]),
            ..Tensor::new(
                format!("{}/zero_bias", self.out.tensors[*output].name),
                vec![channels],
                DType::I64,
            )
        }))
    }

    /// Whether source tensor `t` is needed in int8: read by a quantized op,
    /// or an output of an integer-I/O model.
    fn needs_int8(&self, t: TensorId) -> bool {
        self.readers[t.index()].iter().any(|&r| !self.float[r])
            || (self.src.outputs.contains(&t) && self.options.io != IoMode::Float)
    }

    /// Whether source tensor `t` is an output of a float-I/O model.
    fn is_float_output(&self, t: TensorId) -> bool {
        self.options.io == IoMode::Float && self.src.outputs.contains(&t)
    }

    /// A new float32 tensor shaped like source tensor `t`.
    fn float_tensor(&mut self, t: TensorId, name: String) -> TensorId {
        let shape = self.src.tensor(t).shape.clone();
        self.out.tensors.push(Tensor {
            name,
            shape,
            dtype: DType::F32,
            quant: None,
            data: None,
        })
    }

    /// The float32 tensor standing for source tensor `t`: a constant as it
    /// is, or an int8 tensor through a DEQUANTIZE (made once).
    fn float_view(
        &mut self,
        t: TensorId,
        replaced: &HashMap<usize, TensorId>,
    ) -> Result<TensorId, QuantError> {
        if let Some(&f) = self.float_of.get(&t.index()) {
            return Ok(f);
        }
        let src = self.src.tensor(t);
        let f = if src.is_const() {
            self.out.tensors.push(src.clone())
        } else {
            let q = match replaced.get(&t.index()) {
                Some(&r) => r,
                None => self.tensor(t)?,
            };
            let f = self.derived(q, format!("{}_dequantized", src.name), DType::F32, None);
            self.push_op(OpKind::Dequantize, vec![q], vec![f], None);
            f
        };
        self.float_of.insert(t.index(), f);
        Ok(f)
    }

    /// An op kept in float32: its inputs as float tensors, its outputs
    /// float, each QUANTIZEd right after it when an int8 op (or an integer
    /// output) reads it.
    fn float_op(
        &mut self,
        op: &Op,
        replaced: &HashMap<usize, TensorId>,
        on_input: &mut HashMap<(usize, usize), TensorId>,
        dequantized: &mut HashMap<usize, TensorId>,
    ) -> Result<(), QuantError> {
        let mut inputs = Vec::with_capacity(op.inputs.len());
        for &t in &op.inputs {
            inputs.push(self.float_view(t, replaced)?);
        }
        let mut outputs = Vec::with_capacity(op.outputs.len());
        for &t in &op.outputs {
            let name = self.src.tensor(t).name.clone();
            // The model's name goes to what the caller sees.
            let name = if self.needs_int8(t) && !self.is_float_output(t) {
                format!("{name}_float")
            } else {
                name
            };
            let f = self.float_tensor(t, name);
            self.float_of.insert(t.index(), f);
            outputs.push(f);
        }
        self.push_op(op.kind.clone(), inputs, outputs.clone(), op.origin);
        for (&t, &f) in op.outputs.iter().zip(&outputs) {
            if self.needs_int8(t) {
                let q = self.tensor(t)?;
                if self.is_float_output(t) {
                    let suffix = format!("_{}", self.options.activations.name());
                    self.out.tensors[q].name.push_str(&suffix);
                }
                self.push_op(OpKind::Quantize, vec![f], vec![q], None);
                self.emit_requants(t, None, on_input)?;
            }
            if self.is_float_output(t) {
                dequantized.insert(t.index(), f);
            }
        }
        Ok(())
    }

    /// DEQUANTIZE of quantized output `q` into a new float tensor taking its name.
    fn dequantize_output(&mut self, q: TensorId) -> TensorId {
        let name = self.out.tensors[q].name.clone();
        let f = self.derived(q, name, DType::F32, None);
        let suffix = format!("_{}", self.options.activations.name());
        self.out.tensors[q].name.push_str(&suffix);
        self.push_op(OpKind::Dequantize, vec![q], vec![f], None);
        f
    }

    /// Emits the QUANTIZE ops requantizing source tensor `t` (held in `from`
    /// when its output was requantized) for particular readers.
    fn emit_requants(
        &mut self,
        t: TensorId,
        from: Option<TensorId>,
        made: &mut HashMap<(usize, usize), TensorId>,
    ) -> Result<(), QuantError> {
        let todo: Vec<(usize, Params)> = self
            .plan
            .on_input
            .iter()
            .enumerate()
            .filter(|(_, (rt, _, _))| *rt == t)
            .map(|(pos, (_, p, _))| (pos, *p))
            .collect();
        for (pos, p) in todo {
            if made.contains_key(&(t.index(), pos)) {
                continue;
            }
            // From what the readers see: the requantized output, if any.
            let q = match from {
                Some(r) => r,
                None => self.tensor(t)?,
            };
            let name = format!("{}_requantized{}", self.src.tensor(t).name, pos);
            let r = self.derived(q, name, self.options.activations.dtype(), quant(p));
            self.push_op(OpKind::Quantize, vec![q], vec![r], None);
            made.insert((t.index(), pos), r);
        }
        Ok(())
    }

    /// The QUANTIZE ops the plan puts just before op `index` (16x8
    /// CONCATENATION), last operand first as the converter inserts them:
    /// operand index → requantized tensor.
    fn requants_before(
        &mut self,
        index: usize,
        op: &Op,
        replaced: &HashMap<usize, TensorId>,
    ) -> Result<HashMap<usize, TensorId>, QuantError> {
        let mut made = HashMap::new();
        for (k, &t) in op.inputs.iter().enumerate().rev() {
            let Some(&(_, p, _)) = self
                .plan
                .before_reader
                .iter()
                .find(|(rt, _, readers)| *rt == t && readers.contains(&(index, k)))
            else {
                continue;
            };
            let q = match replaced.get(&t.index()) {
                Some(&r) => r,
                None => self.tensor(t)?,
            };
            let name = format!("{}_requantized_for_{index}_{k}", self.src.tensor(t).name);
            let r = self.derived(q, name, self.options.activations.dtype(), quant(p));
            self.push_op(OpKind::Quantize, vec![q], vec![r], None);
            made.insert(k, r);
        }
        Ok(made)
    }

    /// Quantized weights (operand 1) or bias (operand 2) of a conv-like op,
    /// or an LSTM's gate weights and biases.
    fn weight_or_bias(&mut self, index: usize, op: &Op, k: usize) -> Result<TensorId, QuantError> {
        if matches!(op.kind, OpKind::Lstm(_)) {
            return self.lstm_constant(op, k);
        }
        let src = self.src;
        let filter = src.tensor(op.inputs[1]);
        let values = filter.const_f32().ok_or_else(|| QuantError::Tensor {
            name: filter.name.clone(),
            why: "weights are not a float32 constant".into(),
        })?;
        let (axis, per_channel) = match op.kind {
            OpKind::Conv2D(_) | OpKind::TransposeConv(_) => (0, true),
            OpKind::DepthwiseConv2D(_) => (3, true),
            OpKind::Prelu => (0, false),
            _ => (0, self.options.per_channel_dense),
        };
        let (q, scales) = if per_channel {
            params::quantize_weights_per_channel(&values, &filter.shape, axis)
        } else {
            let (q, s) = params::quantize_weights_per_tensor(&values);
            (q, vec![s])
        };
        if k == 1 {
            return Ok(self.out.tensors.push(Tensor {
                name: filter.name.clone(),
                shape: filter.shape.clone(),
                dtype: DType::I8,
                quant: Some(Quantization {
                    zero_points: vec![0; scales.len()],
                    scales,
                    axis: if per_channel { axis } else { 0 },
                }),
                data: Some(q.into_iter().map(|v| v as u8).collect()),
            }));
        }
        let bias = src.tensor(op.inputs[2]);
        let b = bias.const_f32().ok_or_else(|| QuantError::Tensor {
            name: bias.name.clone(),
            why: "bias is not a float32 constant".into(),
        })?;
        let in_scale = self.params(op.inputs[0])?.0;
        let channels = b.len();
        if per_channel && scales.len() != channels {
            return Err(QuantError::Unsupported {
                index: op.origin.unwrap_or(index),
                op: op.kind.name(),
                why: format!(
                    "bias has {channels} values for {} output channels",
                    scales.len()
                ),
            });
        }
        let bias_scales: Vec<f32> = scales
            .iter()
            .map(|&s| params::bias_scale(in_scale, s))
            .collect();
        let scale_of = |c: usize| bias_scales[if per_channel { c } else { 0 }];
        // 16x8 layers take int64 biases (TFLM accumulates them in int64).
        let (dtype, data): (DType, Vec<u8>) = match self.options.activations {
            Activations::Int8 => (
                DType::I32,
                b.iter()
                    .enumerate()
                    .flat_map(|(c, &v)| params::quantize_bias(v, scale_of(c)).to_le_bytes())
                    .collect(),
            ),
            Activations::Int16 => (
                DType::I64,
                b.iter()
                    .enumerate()
                    .flat_map(|(c, &v)| params::quantize_bias_int64(v, scale_of(c)).to_le_bytes())
                    .collect(),
            ),
        };
        Ok(self.out.tensors.push(Tensor {
            name: bias.name.clone(),
            shape: bias.shape.clone(),
            dtype,
            quant: Some(Quantization {
                zero_points: vec![0; bias_scales.len()],
                scales: bias_scales,
                axis: 0,
            }),
            data: Some(data),
        }))
    }

    /// An LSTM's gate weights (operands 1..=8) or gate bias (9..=12, scaled
    /// by the input and that gate's input weights), as [`lstm`] decides.
    fn lstm_constant(&mut self, op: &Op, k: usize) -> Result<TensorId, QuantError> {
        let src = self.src;
        let values = |t: TensorId| {
            let tensor = src.tensor(t);
            tensor.const_f32().ok_or_else(|| QuantError::Tensor {
                name: tensor.name.clone(),
                why: "LSTM weights and biases must be float32 constants".into(),
            })
        };
        let t = op.inputs[k];
        let tensor = src.tensor(t);
        let (dtype, data, scale) = if k <= 8 {
            let (q, scale) = lstm::gate_weights(&values(t)?);
            (DType::I8, q.into_iter().map(|v| v as u8).collect(), scale)
        } else {
            let weights = op.inputs[k - 8];
            let (_, w_scale) = lstm::gate_weights(&values(weights)?);
            let in_scale = self.params(op.inputs[0])?.0;
            let (bytes, scale) = lstm::gate_bias(&values(t)?, in_scale, w_scale);
            (DType::I32, bytes, scale)
        };
        Ok(self.out.tensors.push(Tensor {
            name: tensor.name.clone(),
            shape: tensor.shape.clone(),
            dtype,
            quant: Some(Quantization::per_tensor(scale, 0)),
            data: Some(data),
        }))
    }
}

//! Float reference execution of a float32 [`Graph`] on `ndarray`.
//!
//! The kernels follow TFLite-Micro's float reference kernels (same
//! accumulation order where it matters), so results agree with TFLM to a
//! few ulps. Every intermediate tensor can be kept, for calibration and
//! per-tensor error reports.

mod conv;
mod elementwise;
mod layout;
mod lstm;
mod pool;
mod resize;

use ndarray::{ArrayD, IxDyn};
use tinyq_ir::{Activation, DType, Graph, Op, OpKind, TensorId};

use crate::error::ExecError;

/// Values of a run, indexed by tensor index (`None`: not computed or dropped).
pub type Values = Vec<Option<ArrayD<f32>>>;

/// The variable tensors of a stateful model (an LSTM's hidden and cell
/// state) between samples, indexed by tensor index. A stream of samples
/// passes one `State` from run to run, as an interpreter keeps its
/// variable tensors between invokes.
#[derive(Debug, Clone, Default)]
pub struct State {
    values: Vec<Option<ArrayD<f32>>>,
}

/// A float32 graph with its constants decoded, ready to run many samples.
#[derive(Debug, Clone)]
pub struct FloatModel<'g> {
    graph: &'g Graph,
    constants: Vec<Option<ArrayD<f32>>>,
    /// For each tensor, the index of the last op reading it (to free early).
    last_use: Vec<usize>,
    accumulation: Accumulation,
    kernels: Kernels,
}

/// Context of one op for error messages.
pub(crate) struct OpCx<'a> {
    pub index: usize,
    pub op: &'a Op,
    pub acc: Accumulation,
    pub kernels: Kernels,
}

/// Which float kernels element-wise ops follow where implementations differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// TFLM's reference kernels (bit-exact with TFLM's float outputs on
    /// every fixture).
    #[default]
    Reference,
    /// TFLite's optimized kernels, as the TF converter's calibrator runs
    /// them: HARD_SWISH multiplies by `1/6` instead of dividing by 6.
    Calibrator,
}

/// How CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED accumulate dot
/// products. Float sums depend on the order and on fused multiply-adds. TFLM
/// uses plain reference loops ([`Accumulation::Reference`], bit-exact with
/// TFLM on every fixture); the TF converter calibrates with TFLite's
/// optimized kernels, whose order depends on the op's shape. None of the
/// other variants reproduces the calibrator's ranges on more fixtures than
/// `Reference` does (op outputs matched: 66, 61, 64, 64 of 87 in the order
/// listed; BiasFirst for convolutions with FmaBiasFirst for
/// FULLY_CONNECTED: 172 vs 173 of 199 tensors), so `Reference` is the
/// default everywhere; the others remain for experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accumulation {
    /// TFLM reference kernels: multiply, add in tap order, bias last.
    #[default]
    Reference,
    /// Fused multiply-adds in tap order, starting from the bias.
    FmaBiasFirst,
    /// Fused multiply-adds in tap order, bias last.
    FmaBiasLast,
    /// Multiply and add in tap order, starting from the bias.
    BiasFirst,
}

impl Accumulation {
    /// The accumulator's initial value.
    #[inline]
    pub fn init(self, bias: f32) -> f32 {
        match self {
            Accumulation::FmaBiasFirst | Accumulation::BiasFirst => bias,
            _ => 0.0,
        }
    }

    /// One multiply-accumulate step.
    #[inline]
    pub fn step(self, total: f32, x: f32, w: f32) -> f32 {
        match self {
            Accumulation::FmaBiasFirst | Accumulation::FmaBiasLast => x.mul_add(w, total),
            _ => total + x * w,
        }
    }

    /// The final value.
    #[inline]
    pub fn finish(self, total: f32, bias: f32) -> f32 {
        match self {
            Accumulation::FmaBiasFirst | Accumulation::BiasFirst => total,
            _ => total + bias,
        }
    }
}

impl OpCx<'_> {
    pub fn err(&self, why: impl Into<String>) -> ExecError {
        ExecError::Op {
            index: self.index,
            op: self.op.kind.name(),
            why: why.into(),
        }
    }
}

impl<'g> FloatModel<'g> {
    /// Checks that every tensor is float32 (or an integer constant, which
    /// float models do not read as data, except a dynamic-range model's
    /// int8 weights, dequantized here) and decodes the constants.
    pub fn new(graph: &'g Graph) -> Result<Self, ExecError> {
        tinyq_ir::validate(graph)?;
        let mut constants = Vec::with_capacity(graph.tensors.len());
        for (_, t) in graph.tensors.iter() {
            let value = match (&t.data, t.dtype) {
                (Some(_), DType::F32) => {
                    let values = t.const_f32().ok_or_else(|| ExecError::BadConstant {
                        name: t.name.clone(),
                    })?;
                    Some(
                        ArrayD::from_shape_vec(IxDyn(&t.shape), values).map_err(|_| {
                            ExecError::BadConstant {
                                name: t.name.clone(),
                            }
                        })?,
                    )
                }
                // A dynamic-range model's int8 weights, dequantized as
                // DEQUANTIZE does (`scale * q` per channel, in float32).
                (Some(data), DType::I8) => match &t.quant {
                    Some(q) => {
                        let inner: usize = t.shape.iter().skip(q.axis + 1).product();
                        let channels = t.shape.get(q.axis).copied().unwrap_or(1).max(1);
                        let values = data
                            .iter()
                            .enumerate()
                            .map(|(i, &b)| {
                                let c = (i / inner.max(1)) % channels;
                                let scale = q.scales.get(c).or(q.scales.first()).copied();
                                scale.unwrap_or(0.0) * f32::from(b as i8)
                            })
                            .collect();
                        Some(
                            ArrayD::from_shape_vec(IxDyn(&t.shape), values).map_err(|_| {
                                ExecError::BadConstant {
                                    name: t.name.clone(),
                                }
                            })?,
                        )
                    }
                    None => None,
                },
                (None, DType::F32) | (Some(_), _) => None,
                (None, dtype) => {
                    return Err(ExecError::NotFloat {
                        name: t.name.clone(),
                        dtype: dtype.name(),
                    });
                }
            };
            constants.push(value);
        }
        let mut last_use = vec![usize::MAX; graph.tensors.len()];
        for (i, (_, op)) in graph.ops.iter().enumerate() {
            for &t in &op.inputs {
                last_use[t.index()] = i;
            }
        }
        for &o in &graph.outputs {
            last_use[o.index()] = usize::MAX;
        }
        Ok(FloatModel {
            graph,
            constants,
            last_use,
            accumulation: Accumulation::Reference,
            kernels: Kernels::Reference,
        })
    }

    /// Uses `accumulation` for dot products (default: TFLM's reference order).
    pub fn with_accumulation(mut self, accumulation: Accumulation) -> Self {
        self.accumulation = accumulation;
        self
    }

    /// Uses `kernels` for element-wise ops (default: TFLM's reference).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The graph this model runs.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// The state before the first sample: every state tensor zero.
    pub fn initial_state(&self) -> State {
        let graph = self.graph;
        let mut values = vec![None; graph.tensors.len()];
        for (_, op) in graph.ops.iter() {
            for k in op.kind.state_inputs(op.inputs.len()) {
                let t = op.inputs[k];
                values[t.index()] = Some(ArrayD::zeros(IxDyn(&graph.tensor(t).shape)));
            }
        }
        State { values }
    }

    /// Runs one sample from the initial state. `inputs[i]` must have the
    /// shape of graph input `i` (a leading batch of 1 may be missing). With
    /// `keep_all`, every computed tensor is returned; otherwise only the
    /// graph outputs (and inputs) are kept.
    pub fn run(&self, inputs: &[ArrayD<f32>], keep_all: bool) -> Result<Values, ExecError> {
        self.run_streaming(inputs, keep_all, &mut self.initial_state())
    }

    /// [`FloatModel::run`] from `state`, which the run updates. A state
    /// tensor's value in the result is the state after the sample.
    pub fn run_streaming(
        &self,
        inputs: &[ArrayD<f32>],
        keep_all: bool,
        state: &mut State,
    ) -> Result<Values, ExecError> {
        let graph = self.graph;
        if state.values.len() != graph.tensors.len() {
            *state = self.initial_state();
        }
        if inputs.len() != graph.inputs.len() {
            return Err(ExecError::InputCount {
                expected: graph.inputs.len(),
                actual: inputs.len(),
            });
        }
        let mut values: Values = vec![None; graph.tensors.len()];
        for (index, (&id, array)) in graph.inputs.iter().zip(inputs).enumerate() {
            values[id.index()] = Some(fit_input(graph, index, id, array)?);
        }
        for (i, (_, op)) in graph.ops.iter().enumerate() {
            let cx = OpCx {
                index: i,
                op,
                acc: self.accumulation,
                kernels: self.kernels,
            };
            // An SVDF's state is never computed: refuse the op itself, by
            // name, before its state would be reported as a missing tensor.
            if matches!(op.kind, OpKind::Svdf(_)) {
                return Err(cx.err(
                    "stateful ops are not quantized yet: compile a float SVDF model as float (no --calibration), or give an int8 one",
                ));
            }
            let ins = op
                .inputs
                .iter()
                .map(|&t| {
                    values[t.index()]
                        .as_ref()
                        .or(self.constants[t.index()].as_ref())
                        .or(state.values[t.index()].as_ref())
                        .ok_or_else(|| ExecError::Missing {
                            name: graph.tensor(t).name.clone(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let &out_id = op.outputs.first().ok_or_else(|| cx.err("no output"))?;
            let out_shape = &graph.tensor(out_id).shape;
            let out = if let OpKind::Lstm(a) = &op.kind {
                let (out, hidden, cell) = lstm::lstm(&cx, a, &ins, out_shape)?;
                // The state after the sample: kept for the next one, and
                // seen by calibration as the state tensors' values.
                for (k, v) in [(13, hidden), (14, cell)] {
                    let t = op.inputs[k].index();
                    values[t] = Some(v.clone());
                    state.values[t] = Some(v);
                }
                out
            } else {
                eval_op(&cx, &ins, out_shape)?
            };
            if out.shape() != out_shape.as_slice() {
                return Err(cx.err(format!(
                    "computed shape {:?} but the model declares {:?}",
                    out.shape(),
                    out_shape
                )));
            }
            values[out_id.index()] = Some(out);
            if !keep_all {
                for &t in &op.inputs {
                    if self.last_use[t.index()] == i && !graph.inputs.contains(&t) {
                        values[t.index()] = None;
                    }
                }
            }
        }
        Ok(values)
    }

    /// Runs one sample and returns the graph outputs in order.
    pub fn run_outputs(&self, inputs: &[ArrayD<f32>]) -> Result<Vec<ArrayD<f32>>, ExecError> {
        let mut values = self.run(inputs, false)?;
        self.graph
            .outputs
            .iter()
            .map(|&o| {
                values[o.index()]
                    .take()
                    .or_else(|| self.constants[o.index()].clone())
                    .ok_or_else(|| ExecError::Missing {
                        name: self.graph.tensor(o).name.clone(),
                    })
            })
            .collect()
    }
}

/// Reshapes a sample to the input tensor's shape when only a leading batch
/// of 1 differs.
fn fit_input(
    graph: &Graph,
    index: usize,
    id: TensorId,
    array: &ArrayD<f32>,
) -> Result<ArrayD<f32>, ExecError> {
    let t = graph.tensor(id);
    let shape = array.shape();
    let ok = crate::calibrate::same_up_to_unit_dims(shape, &t.shape);
    if !ok {
        return Err(ExecError::InputShape {
            index,
            name: t.name.clone(),
            expected: t.shape.clone(),
            actual: shape.to_vec(),
        });
    }
    let flat: Vec<f32> = array.iter().copied().collect();
    ArrayD::from_shape_vec(IxDyn(&t.shape), flat).map_err(|_| ExecError::InputShape {
        index,
        name: t.name.clone(),
        expected: t.shape.clone(),
        actual: shape.to_vec(),
    })
}

/// Applies a fused activation in place.
pub(crate) fn apply_activation(values: &mut [f32], activation: Activation) {
    let (lo, hi) = match activation {
        Activation::None => return,
        Activation::Relu => (0.0, f32::MAX),
        Activation::Relu6 => (0.0, 6.0),
        Activation::ReluN1To1 => (-1.0, 1.0),
    };
    for v in values {
        // TFLM's ActivationFunctionWithMinMax: min(max(x, lo), hi); NaN stays NaN.
        *v = v.clamp(lo, hi);
    }
}

/// Row-major contiguous copy of an array's elements.
pub(crate) fn flat(a: &ArrayD<f32>) -> std::borrow::Cow<'_, [f32]> {
    match a.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(a.iter().copied().collect()),
    }
}

/// Builds an array of `shape` from row-major values.
pub(crate) fn array(
    cx: &OpCx<'_>,
    shape: &[usize],
    values: Vec<f32>,
) -> Result<ArrayD<f32>, ExecError> {
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| cx.err(format!("result does not fit shape {shape:?}: {e}")))
}

fn eval_op(
    cx: &OpCx<'_>,
    ins: &[&ArrayD<f32>],
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let input = |i: usize| {
        ins.get(i)
            .copied()
            .ok_or_else(|| cx.err(format!("missing input {i}")))
    };
    match &cx.op.kind {
        OpKind::Svdf(_) => Err(cx.err(
            "stateful ops are not quantized yet: compile a float SVDF model as float (no --calibration), or give an int8 one",
        )),
        OpKind::Lstm(_) => Err(cx.err("an LSTM runs with its state (`run_streaming`)")),
        OpKind::Signal(_) | OpKind::Cast => Err(cx.err(
            "signal-library ops and CAST are integer already: compile the model as it is (no --calibration)",
        )),
        OpKind::Conv2D(a) => {
            conv::conv2d(cx, input(0)?, input(1)?, ins.get(2).copied(), a, out_shape)
        }
        OpKind::DepthwiseConv2D(a) => {
            conv::depthwise(cx, input(0)?, input(1)?, ins.get(2).copied(), a, out_shape)
        }
        OpKind::FullyConnected(a) => {
            conv::fully_connected(cx, input(0)?, input(1)?, ins.get(2).copied(), a, out_shape)
        }
        OpKind::AveragePool2D(a) => pool::pool(cx, input(0)?, a, out_shape, false),
        OpKind::MaxPool2D(a) => pool::pool(cx, input(0)?, a, out_shape, true),
        OpKind::Add { activation } => {
            elementwise::binary(cx, input(0)?, input(1)?, out_shape, *activation, |a, b| {
                a + b
            })
        }
        OpKind::Sub { activation } => {
            elementwise::binary(cx, input(0)?, input(1)?, out_shape, *activation, |a, b| {
                a - b
            })
        }
        OpKind::Mul { activation } => {
            elementwise::binary(cx, input(0)?, input(1)?, out_shape, *activation, |a, b| {
                a * b
            })
        }
        OpKind::Div { activation } => {
            elementwise::binary(cx, input(0)?, input(1)?, out_shape, *activation, |a, b| {
                a / b
            })
        }
        // TFLM's (a - b) * (a - b), the difference rounded first.
        OpKind::SquaredDifference => elementwise::binary(
            cx,
            input(0)?,
            input(1)?,
            out_shape,
            Activation::None,
            |a, b| {
                let d = a - b;
                d * d
            },
        ),
        OpKind::BatchMatMul { adj_x, adj_y } => {
            batch_matmul(cx, input(0)?, input(1)?, *adj_x, *adj_y, out_shape)
        }
        // TFLM's std::exp, std::log, std::sqrt, 1.f / std::sqrt, std::abs,
        // -x, x * x.
        OpKind::Exp => Ok(input(0)?.mapv(f32::exp)),
        OpKind::Log => Ok(input(0)?.mapv(f32::ln)),
        OpKind::Sqrt => Ok(input(0)?.mapv(f32::sqrt)),
        OpKind::Rsqrt => Ok(input(0)?.mapv(|x| 1.0 / x.sqrt())),
        OpKind::Abs => Ok(input(0)?.mapv(f32::abs)),
        OpKind::Neg => Ok(input(0)?.mapv(|x| -x)),
        OpKind::Square => Ok(input(0)?.mapv(|x| x * x)),
        OpKind::Maximum => elementwise::binary(
            cx,
            input(0)?,
            input(1)?,
            out_shape,
            Activation::None,
            f32::max,
        ),
        OpKind::Minimum => elementwise::binary(
            cx,
            input(0)?,
            input(1)?,
            out_shape,
            Activation::None,
            f32::min,
        ),
        // TFLM's float PRELU: `x >= 0 ? x : x * alpha`.
        OpKind::Prelu => elementwise::binary(
            cx,
            input(0)?,
            input(1)?,
            out_shape,
            Activation::None,
            |x, alpha| if x >= 0.0 { x } else { x * alpha },
        ),
        OpKind::Softmax { beta } => elementwise::softmax(cx, input(0)?, *beta),
        OpKind::Logistic => Ok(input(0)?.mapv(elementwise::logistic)),
        OpKind::Tanh => Ok(input(0)?.mapv(f32::tanh)),
        OpKind::Relu => Ok(input(0)?.mapv(|x| x.max(0.0))),
        OpKind::Relu6 => Ok(input(0)?.mapv(|x| x.clamp(0.0, 6.0))),
        OpKind::ReluN1To1 => Ok(input(0)?.mapv(|x| x.clamp(-1.0, 1.0))),
        OpKind::LeakyRelu { alpha } => {
            let alpha = *alpha;
            Ok(input(0)?.mapv(|x| if x > 0.0 { x } else { x * alpha }))
        }
        OpKind::HardSwish => Ok(match cx.kernels {
            Kernels::Reference => input(0)?.mapv(|x| x * (x + 3.0).clamp(0.0, 6.0) / 6.0),
            Kernels::Calibrator => {
                input(0)?.mapv(|x| x * (x + 3.0).clamp(0.0, 6.0) * (1.0f32 / 6.0))
            }
        }),
        OpKind::Concatenation { axis, activation } => {
            layout::concat(cx, ins, *axis, *activation, out_shape)
        }
        OpKind::Lut(_) => Err(cx.err("a LUT has no float meaning (an optimized int8 graph)")),
        OpKind::Mean { axes, .. } => layout::mean(cx, input(0)?, axes, out_shape),
        OpKind::Pad { paddings } => {
            let value = match ins.get(1) {
                Some(v) => v.iter().next().copied().unwrap_or(0.0),
                None => 0.0,
            };
            layout::pad(cx, input(0)?, paddings, value, out_shape)
        }
        OpKind::Reshape | OpKind::Squeeze | OpKind::ExpandDims => {
            let x = input(0)?;
            array(cx, out_shape, flat(x).into_owned())
        }
        OpKind::Transpose { perm } => layout::transpose(cx, input(0)?, perm),
        OpKind::SpaceToDepth { block } => {
            layout::space_depth(cx, input(0)?, *block, true, out_shape)
        }
        OpKind::DepthToSpace { block } => {
            layout::space_depth(cx, input(0)?, *block, false, out_shape)
        }
        OpKind::Gather { axis, indices } => {
            layout::gather(cx, input(0)?, *axis, indices, out_shape)
        }
        OpKind::StridedSlice(s) => layout::strided_slice(cx, input(0)?, s, out_shape),
        OpKind::ResizeBilinear(r) => resize::bilinear(cx, input(0)?, r, out_shape),
        OpKind::ResizeNearestNeighbor(r) => resize::nearest_neighbor(cx, input(0)?, r, out_shape),
        OpKind::TransposeConv(a) => {
            conv::transpose_conv(cx, input(0)?, input(1)?, ins.get(2).copied(), a, out_shape)
        }
        OpKind::Quantize | OpKind::Dequantize => Err(
            cx.err("QUANTIZE/DEQUANTIZE in a float model are not supported by the float executor")
        ),
    }
}

/// BATCH_MATMUL in float, TFLM's order (the kernels' own float kernel).
fn batch_matmul(
    cx: &OpCx<'_>,
    lhs: &ArrayD<f32>,
    rhs: &ArrayD<f32>,
    adj_x: bool,
    adj_y: bool,
    out_shape: &[usize],
) -> Result<ArrayD<f32>, ExecError> {
    let (shape, out) = tinyq_ir::shapes::batch_matmul(lhs.shape(), rhs.shape(), adj_x, adj_y)
        .map_err(|why| cx.err(why))?;
    if out != out_shape {
        return Err(cx.err(format!("output {out_shape:?} but the inputs give {out:?}")));
    }
    let (l, r): (Vec<f32>, Vec<f32>) =
        (lhs.iter().copied().collect(), rhs.iter().copied().collect());
    let mut y = vec![0f32; shape.output_len()];
    tinyq_kernels::batch_matmul::batch_matmul_f32(&shape, &l, &r, &mut y)
        .map_err(|e| cx.err(e.to_string()))?;
    ArrayD::from_shape_vec(IxDyn(out_shape), y).map_err(|e| cx.err(e.to_string()))
}

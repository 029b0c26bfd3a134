//! Differential property test of the optimizer: random small valid int8
//! graphs, lowered as built and after `Pipeline::default()`, must produce
//! the same bytes on the same inputs (extremes -128 / 127 and random ones).
//!
//! A graph is built from a recipe (a list of steps); proptest shrinks the
//! recipe, and a failure prints the minimal graph in the `tinyq_ir::text`
//! form, ready to become a filetest in `tests/passes`. The run also counts
//! how often each pass changed something and demands that every pass fired.
//! `PROPTEST_CASES` and `PROPTEST_RNG_SEED` steer it.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use tinyq_ir::op::{Conv2D, DepthwiseConv2D, FullyConnected, Hw, Pool2D, StridedSlice};
use tinyq_ir::{
    Activation, DType, Graph, Op, OpKind, Padding2D, Quantization, Tensor, TensorId, text,
};
use tinyq_opt::Pipeline;
use tinyq_tests::differential::{Rng, Verdict, compare};

/// What a step adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Relu,
    Conv,
    Depthwise,
    FullyConnected,
    Binary,
    Pool,
    Pad,
    Unary,
    Reshape,
    Concat,
    Requantize,
    ConstOperand,
    Identity,
}

const KINDS: [Kind; 13] = [
    Kind::Relu,
    Kind::Conv,
    Kind::Depthwise,
    Kind::FullyConnected,
    Kind::Binary,
    Kind::Pool,
    Kind::Pad,
    Kind::Unary,
    Kind::Reshape,
    Kind::Concat,
    Kind::Requantize,
    Kind::ConstOperand,
    Kind::Identity,
];

/// One step of a recipe. The small numbers mean different things per kind;
/// all shrink towards 0, the simplest choice.
#[derive(Debug, Clone)]
struct Step {
    kind: Kind,
    /// Which live tensor to read, counted from the most recent.
    pick: usize,
    a: u8,
    b: u8,
    c: u8,
    /// Output quantization, unless `same_q`.
    q: (f32, i64),
    /// Keep the input's quantization (what merge-clamp, fold-pad and
    /// remove-identity need).
    same_q: bool,
    /// Weights, biases, constant data.
    seed: u64,
}

#[derive(Debug, Clone)]
struct Recipe {
    /// `[1, h, w, c]` per graph input, with its quantization.
    inputs: Vec<([usize; 3], (f32, i64))>,
    steps: Vec<Step>,
    /// A second graph output, picked like a step's input.
    extra_output: Option<usize>,
}

fn quant() -> impl Strategy<Value = (f32, i64)> {
    let scale = prop_oneof![
        (-8.0f64..-1.0).prop_map(|e| 2f64.powf(e) as f32),
        Just(1.0f32 / 255.0),
        Just(0.1f32),
    ];
    let zp = prop_oneof![Just(0i64), Just(-128), Just(127), -128i64..=127];
    (scale, zp)
}

/// Every kind, the ones that set up a rewrite (a PAD before a convolution,
/// a RELU after a producer, unary chains) more often.
fn kind() -> impl Strategy<Value = Kind> {
    let weighted: Vec<(u32, Just<Kind>)> = KINDS
        .iter()
        .map(|&k| {
            let weight = match k {
                Kind::Relu | Kind::Pad => 3,
                Kind::Conv | Kind::Unary => 2,
                _ => 1,
            };
            (weight, Just(k))
        })
        .collect();
    prop::strategy::Union::new_weighted(weighted)
}

fn step() -> impl Strategy<Value = Step> {
    (
        kind(),
        prop_oneof![3 => Just(0usize), 1 => 0usize..6],
        (any::<u8>(), any::<u8>(), any::<u8>()),
        quant(),
        prop::bool::weighted(0.6),
        any::<u64>(),
    )
        .prop_map(|(kind, pick, (a, b, c), q, same_q, seed)| Step {
            kind,
            pick,
            a,
            b,
            c,
            q,
            same_q,
            seed,
        })
}

fn recipe() -> impl Strategy<Value = Recipe> {
    let input =
        ((1usize..7, 1usize..7, 1usize..9), quant()).prop_map(|((h, w, c), q)| ([h, w, c], q));
    (
        prop::collection::vec(input, 1..3),
        prop::collection::vec(step(), 1..12),
        prop::option::of(0usize..8),
    )
        .prop_map(|(inputs, steps, extra_output)| Recipe {
            inputs,
            steps,
            extra_output,
        })
}

/// Output size and padding of a window along one axis, TFLite's SAME or
/// VALID; `None` when VALID does not fit.
fn window(
    size: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    same: bool,
) -> Option<(usize, usize, usize)> {
    let eff = (k - 1) * dilation + 1;
    if same {
        let out = size.div_ceil(stride);
        let total = ((out - 1) * stride + eff).saturating_sub(size);
        Some((out, total / 2, total - total / 2))
    } else if size >= eff {
        Some(((size - eff) / stride + 1, 0, 0))
    } else {
        None
    }
}

fn activation(bits: u8) -> Activation {
    // Mostly none, so a following RELU can merge.
    match bits % 8 {
        0 => Activation::Relu,
        1 => Activation::Relu6,
        2 => Activation::ReluN1To1,
        _ => Activation::None,
    }
}

/// Builds a valid graph from a recipe.
struct Builder {
    g: Graph,
    /// Activation tensors (graph inputs and op results), oldest first.
    live: Vec<TensorId>,
    /// uint8 results, graph outputs only.
    unsigned_outputs: Vec<TensorId>,
}

impl Builder {
    fn tensor(&mut self, shape: Vec<usize>, q: (f32, i64)) -> TensorId {
        let name = format!("t{}", self.g.tensors.len());
        let mut t = Tensor::new(name, shape, DType::I8);
        t.quant = Some(Quantization::per_tensor(q.0, q.1));
        self.g.tensors.push(t)
    }

    fn constant(
        &mut self,
        shape: Vec<usize>,
        dtype: DType,
        quant: Option<Quantization>,
        data: Vec<u8>,
    ) -> TensorId {
        let name = format!("c{}", self.g.tensors.len());
        let mut t = Tensor::new(name, shape, dtype);
        t.quant = quant;
        t.data = Some(data);
        self.g.tensors.push(t)
    }

    /// Adds an op whose result later steps may read.
    fn op(&mut self, kind: OpKind, inputs: Vec<TensorId>, output: TensorId) {
        self.hidden_op(kind, inputs, output);
        self.live.push(output);
    }

    /// Adds an op whose result only the next op reads.
    fn hidden_op(&mut self, kind: OpKind, inputs: Vec<TensorId>, output: TensorId) {
        let origin = Some(self.g.ops.len());
        self.g.ops.push(Op {
            kind,
            inputs,
            outputs: vec![output],
            origin,
        });
    }

    fn shape(&self, t: TensorId) -> Vec<usize> {
        self.g.tensor(t).shape.clone()
    }

    fn q(&self, t: TensorId) -> (f32, i64) {
        self.g.tensor(t).scale_zp().unwrap_or((1.0, 0))
    }

    /// The `pick`-th most recent live tensor satisfying `ok`.
    fn pick(&self, pick: usize, ok: impl Fn(&Tensor) -> bool) -> Option<TensorId> {
        let matching: Vec<TensorId> = self
            .live
            .iter()
            .rev()
            .copied()
            .filter(|&t| ok(self.g.tensor(t)))
            .collect();
        (!matching.is_empty()).then(|| matching[pick % matching.len()])
    }

    fn pick4(&self, pick: usize) -> Option<TensorId> {
        self.pick(pick, |t| t.shape.len() == 4)
    }

    fn out_q(&self, step: &Step, x: TensorId) -> (f32, i64) {
        if step.same_q { self.q(x) } else { step.q }
    }
}

/// Random int8 weights with the extremes well represented.
fn weights(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| match rng.byte() % 8 {
            0 => 0x80,
            1 => 0x7f,
            _ => rng.byte(),
        })
        .collect()
}

fn biases(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|_| ((rng.next_u64() % 20_001) as i32 - 10_000).to_le_bytes())
        .collect()
}

/// Per-channel filter scales in [0.001, 0.06].
fn filter_scales(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| 0.001 + (rng.next_u64() % 1000) as f32 * 0.000_06)
        .collect()
}

/// A convolution-like consumer of `x`: conv, depthwise, max or average pool.
fn conv_like(b: &mut Builder, x: TensorId, which: u8, step: &Step, rng: &mut Rng) {
    let [n, h, w, c] = <[usize; 4]>::try_from(b.shape(x).as_slice()).unwrap_or([0; 4]);
    let kh = 1 + usize::from(step.a % 3);
    let kw = 1 + usize::from((step.a / 3) % 3);
    let stride = 1 + usize::from(step.b % 2);
    let dilation = if which < 2 && step.c & 0x80 != 0 {
        2
    } else {
        1
    };
    let same = step.b & 2 != 0;
    let (Some((oh, pt, pb)), Some((ow, pl, pr))) = (
        window(h, kh, stride, dilation, same),
        window(w, kw, stride, dilation, same),
    ) else {
        return;
    };
    let padding = Padding2D {
        top: pt,
        bottom: pb,
        left: pl,
        right: pr,
    };
    let act = activation(step.c >> 2);
    match which {
        0 => {
            let oc = 1 + (rng.next_u64() % 8) as usize;
            let scales = filter_scales(rng, oc);
            let filter = b.constant(
                vec![oc, kh, kw, c],
                DType::I8,
                Some(Quantization {
                    zero_points: vec![0; oc],
                    scales,
                    axis: 0,
                }),
                weights(rng, oc * kh * kw * c),
            );
            let mut inputs = vec![x, filter];
            if step.c & 1 == 0 {
                inputs.push(b.constant(vec![oc], DType::I32, None, biases(rng, oc)));
            }
            let y = b.tensor(vec![n, oh, ow, oc], step.q);
            let kind = OpKind::Conv2D(Conv2D {
                stride: Hw {
                    h: stride,
                    w: stride,
                },
                dilation: Hw {
                    h: dilation,
                    w: dilation,
                },
                padding,
                activation: act,
            });
            b.op(kind, inputs, y);
        }
        1 => {
            let mult = 1 + usize::from(step.c & 2 != 0);
            let oc = c * mult;
            let scales = filter_scales(rng, oc);
            let filter = b.constant(
                vec![1, kh, kw, oc],
                DType::I8,
                Some(Quantization {
                    zero_points: vec![0; oc],
                    scales,
                    axis: 3,
                }),
                weights(rng, kh * kw * oc),
            );
            let bias = b.constant(vec![oc], DType::I32, None, biases(rng, oc));
            let y = b.tensor(vec![n, oh, ow, oc], step.q);
            let kind = OpKind::DepthwiseConv2D(DepthwiseConv2D {
                stride: Hw {
                    h: stride,
                    w: stride,
                },
                dilation: Hw {
                    h: dilation,
                    w: dilation,
                },
                padding,
                depth_multiplier: mult,
                activation: act,
            });
            b.op(kind, vec![x, filter, bias], y);
        }
        _ => {
            // Pools keep the input's quantization (TFLM requires it).
            let y = b.tensor(vec![n, oh, ow, c], b.q(x));
            let pool = Pool2D {
                filter: Hw { h: kh, w: kw },
                stride: Hw {
                    h: stride,
                    w: stride,
                },
                padding,
                activation: act,
            };
            let kind = if which == 2 {
                OpKind::MaxPool2D(pool)
            } else {
                OpKind::AveragePool2D(pool)
            };
            b.op(kind, vec![x], y);
        }
    }
}

fn elements(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Applies one step; steps that do not fit the graph so far add nothing.
fn apply(b: &mut Builder, step: &Step) {
    let mut rng = Rng::new(step.seed);
    match step.kind {
        Kind::Conv | Kind::Depthwise | Kind::Pool => {
            let Some(x) = b.pick4(step.pick) else { return };
            let which = match step.kind {
                Kind::Conv => 0,
                Kind::Depthwise => 1,
                _ => 2 + step.c % 2,
            };
            conv_like(b, x, which, step, &mut rng);
        }
        Kind::FullyConnected => {
            let Some(x) = b.pick(step.pick, |t| elements(&t.shape) <= 512) else {
                return;
            };
            let depth = elements(&b.shape(x));
            let out = 1 + usize::from(step.a % 8);
            let per_channel = step.b & 1 == 0;
            let scales = if per_channel {
                filter_scales(&mut rng, out)
            } else {
                filter_scales(&mut rng, 1)
            };
            let zero_points = vec![0; scales.len()];
            let filter = b.constant(
                vec![out, depth],
                DType::I8,
                Some(Quantization {
                    scales,
                    zero_points,
                    axis: 0,
                }),
                weights(&mut rng, out * depth),
            );
            let mut inputs = vec![x, filter];
            if step.b & 2 == 0 {
                inputs.push(b.constant(vec![out], DType::I32, None, biases(&mut rng, out)));
            }
            let y = b.tensor(vec![1, out], step.q);
            let kind = OpKind::FullyConnected(FullyConnected {
                keep_num_dims: false,
                activation: activation(step.c),
            });
            b.op(kind, inputs, y);
        }
        Kind::Binary => {
            let Some(x) = b.pick(step.pick, |_| true) else {
                return;
            };
            let shape = b.shape(x);
            let other = if step.b & 1 == 0 {
                b.pick(usize::from(step.b / 2), |t| t.shape == shape)
                    .unwrap_or(x)
            } else {
                let q = Quantization::per_tensor(step.q.0 * 1.5, (step.q.1 + 7).clamp(-128, 127));
                let data = weights(&mut rng, elements(&shape));
                b.constant(shape.clone(), DType::I8, Some(q), data)
            };
            let y = b.tensor(shape, step.q);
            let activation = activation(step.c);
            let kind = match step.a % 3 {
                0 => OpKind::Add { activation },
                1 => OpKind::Mul { activation },
                _ => OpKind::Sub { activation },
            };
            b.op(kind, vec![x, other], y);
        }
        Kind::Pad => {
            let Some(x) = b.pick4(step.pick) else { return };
            let shape = b.shape(x);
            let q = b.q(x);
            let (top, bottom) = (usize::from(step.a % 3), usize::from(step.a / 3 % 3));
            let (left, right) = (usize::from(step.b % 3), usize::from(step.b / 3 % 3));
            // Now and then the channels too: fold-pad must leave those.
            let channels = usize::from((step.b / 9).is_multiple_of(8));
            let paddings = vec![(0, 0), (top, bottom), (left, right), (0, channels)];
            let padded_shape: Vec<usize> = shape
                .iter()
                .zip(&paddings)
                .map(|(d, (p, r))| d + p + r)
                .collect();
            let mut inputs = vec![x];
            // PAD (fills with the zero point) or PADV2 with the zero point,
            // -128, or another value.
            let value = match step.c % 4 {
                0 => None,
                1 => Some(q.1),
                2 => Some(-128),
                _ => Some(i64::from(rng.byte() as i8)),
            };
            if let Some(v) = value {
                let t = b.constant(
                    vec![1],
                    DType::I8,
                    Some(Quantization::per_tensor(q.0, q.1)),
                    vec![v as i8 as u8],
                );
                inputs.push(t);
            }
            let y = b.tensor(padded_shape, q);
            b.op(OpKind::Pad { paddings }, inputs, y);
            // Usually a convolution-like reader right after, for fold-pad.
            let reader = (step.c / 4) % 5;
            if reader < 4 {
                let inner = Step {
                    a: step.a / 9,
                    b: step.b / 2,
                    // Keep the top bit: dilation.
                    c: (step.c / 16) | (step.c & 0x80),
                    ..step.clone()
                };
                conv_like(b, y, reader, &inner, &mut rng);
            }
        }
        Kind::Relu => {
            // Half the time as the only reader of an op that could take it
            // as its fused activation (merge-clamp's chance), else after
            // anything.
            let fusable = |t: &Tensor| {
                let is = |o: &TensorId| b.g.tensor(*o) == t;
                let unread = b.g.ops.iter().all(|(_, op)| !op.inputs.iter().any(is));
                unread
                    && b.g.ops.iter().any(|(_, op)| {
                        op.outputs.first().is_some_and(is)
                            && op.kind.activation() == Some(Activation::None)
                            && !matches!(op.kind, OpKind::Concatenation { .. })
                    })
            };
            let x = if step.a & 4 == 0 {
                b.pick(step.pick, fusable)
            } else {
                None
            };
            let Some(x) = x.or_else(|| b.pick(step.pick, |_| true)) else {
                return;
            };
            let y = b.tensor(b.shape(x), b.out_q(step, x));
            let kind = match step.a % 3 {
                0 => OpKind::Relu,
                1 => OpKind::Relu6,
                _ => OpKind::ReluN1To1,
            };
            b.op(kind, vec![x], y);
        }
        Kind::Unary => {
            let Some(mut x) = b.pick(step.pick, |_| true) else {
                return;
            };
            let shape = b.shape(x);
            let len = 1 + usize::from(step.a % 3);
            let mut first = None;
            for i in 0..len {
                let (kind, q) = match (step.b >> (2 * i)) % 4 {
                    0 => (OpKind::Logistic, (1.0 / 256.0, -128)),
                    1 => (OpKind::Tanh, (1.0 / 128.0, 0)),
                    2 => (
                        OpKind::LeakyRelu {
                            alpha: f32::from(step.c % 16) / 8.0 - 1.0,
                        },
                        b.out_q(step, x),
                    ),
                    _ => (OpKind::HardSwish, step.q),
                };
                let y = b.tensor(shape.clone(), q);
                b.op(kind, vec![x], y);
                first.get_or_insert(y);
                x = y;
            }
            // A fork: a second reader of the chain's first result.
            if step.c & 0x80 != 0
                && let Some(f) = first
            {
                let y = b.tensor(shape, (1.0 / 128.0, 0));
                b.op(OpKind::Tanh, vec![f], y);
            }
        }
        Kind::Reshape => {
            let Some(x) = b.pick(step.pick, |_| true) else {
                return;
            };
            let shape = b.shape(x);
            let n = elements(&shape);
            let targets = [shape.clone(), vec![1, n], vec![1, 1, 1, n], vec![n]];
            let kinds = [OpKind::Reshape, OpKind::Squeeze, OpKind::ExpandDims];
            // A chain of one or two reshapes, most often keeping the numbers.
            let hops = 1 + usize::from(step.b & 1);
            let mut x = x;
            for i in 0..hops {
                let target = targets[usize::from(step.a >> (2 * i)) % 4].clone();
                let q = if step.c & 3 == 3 { step.q } else { b.q(x) };
                let y = b.tensor(target, q);
                let kind = kinds[usize::from(step.c >> (2 + 2 * i)) % 3].clone();
                // SQUEEZE and EXPAND_DIMS only where they mean that shape
                // change (the validator holds them to it); RESHAPE elsewhere.
                let (from, to) = (b.shape(x), b.shape(y));
                let kind = match kind {
                    OpKind::Squeeze if is_squeeze(&from, &to) => OpKind::Squeeze,
                    OpKind::ExpandDims if is_squeeze(&to, &from) && to.len() == from.len() + 1 => {
                        OpKind::ExpandDims
                    }
                    _ => OpKind::Reshape,
                };
                b.op(kind, vec![x], y);
                x = y;
            }
        }
        Kind::Concat => {
            let Some(x) = b.pick(step.pick, |t| elements(&t.shape) <= 512) else {
                return;
            };
            let (shape, q) = (b.shape(x), b.q(x));
            let other = b
                .pick(usize::from(step.b), |t| {
                    t.shape == shape && t.scale_zp() == Some(q)
                })
                .unwrap_or(x);
            let axis = usize::from(step.a) % shape.len();
            let mut out = shape.clone();
            out[axis] *= 2;
            let y = b.tensor(out, q);
            let kind = OpKind::Concatenation {
                axis,
                activation: Activation::None,
            };
            b.op(kind, vec![x, other], y);
        }
        Kind::Requantize => {
            let Some(x) = b.pick(step.pick, |_| true) else {
                return;
            };
            if step.c % 4 == 3 {
                // To uint8 (zero point shifted by 128), only as a graph
                // output: the int8 steps cannot read it.
                let (scale, zp) = step.q;
                let mut t = Tensor::new(format!("u{}", b.g.tensors.len()), b.shape(x), DType::U8);
                t.quant = Some(Quantization::per_tensor(scale, zp + 128));
                let y = b.g.tensors.push(t);
                b.hidden_op(OpKind::Quantize, vec![x], y);
                b.unsigned_outputs.push(y);
            } else {
                let y = b.tensor(b.shape(x), b.out_q(step, x));
                b.op(OpKind::Quantize, vec![x], y);
            }
        }
        Kind::ConstOperand => {
            // ADD(x, f(constant)): const-fold computes f at compile time.
            let Some(x) = b.pick(step.pick, |_| true) else {
                return;
            };
            let shape = b.shape(x);
            let n = elements(&shape);
            let cq = (step.q.0 * 2.0, (step.q.1 - 3).clamp(-128, 127));
            let data = weights(&mut rng, n);
            let c = b.constant(
                vec![n],
                DType::I8,
                Some(Quantization::per_tensor(cq.0, cq.1)),
                data,
            );
            let operand = match step.a % 3 {
                0 => {
                    let t = b.tensor(shape.clone(), cq);
                    b.hidden_op(OpKind::Reshape, vec![c], t);
                    t
                }
                k => {
                    // Element-wise on the flat constant, then a reshape.
                    let (kind, q) = if k == 1 {
                        (OpKind::Quantize, b.q(x))
                    } else {
                        (OpKind::Logistic, (1.0 / 256.0, -128))
                    };
                    let flat = b.tensor(vec![n], q);
                    b.hidden_op(kind, vec![c], flat);
                    let t = b.tensor(shape.clone(), q);
                    b.hidden_op(OpKind::Reshape, vec![flat], t);
                    t
                }
            };
            let y = b.tensor(shape, step.q);
            let kind = OpKind::Add {
                activation: Activation::None,
            };
            b.op(kind, vec![x, operand], y);
        }
        Kind::Identity => {
            let Some(x) = b.pick(step.pick, |_| true) else {
                return;
            };
            let shape = b.shape(x);
            let rank = shape.len();
            let y = b.tensor(shape.clone(), b.q(x));
            let kind = if step.a & 1 == 0 {
                OpKind::Transpose {
                    perm: (0..rank).collect(),
                }
            } else {
                OpKind::StridedSlice(StridedSlice {
                    begin: vec![0; rank],
                    end: shape.iter().map(|&d| d as i32).collect(),
                    strides: vec![1; rank],
                    begin_mask: 0,
                    end_mask: 0,
                    ellipsis_mask: 0,
                    new_axis_mask: 0,
                    shrink_axis_mask: 0,
                    offset: false,
                })
            };
            b.op(kind, vec![x], y);
        }
    }
}

fn build(recipe: &Recipe) -> Graph {
    let mut b = Builder {
        g: Graph::new(),
        live: Vec::new(),
        unsigned_outputs: Vec::new(),
    };
    for &([h, w, c], q) in &recipe.inputs {
        let t = b.tensor(vec![1, h, w, c], q);
        b.g.inputs.push(t);
        b.live.push(t);
    }
    for step in &recipe.steps {
        apply(&mut b, step);
    }
    if b.live.len() == b.g.inputs.len() {
        // Nothing computed that int8 steps could read: give it one result.
        let x = b.live[0];
        let y = b.tensor(b.shape(x), (1.0 / 256.0, -128));
        b.op(OpKind::Logistic, vec![x], y);
    }
    // Outputs: the last result, and maybe another op result. Everything
    // else nobody reads is dead code.
    let computed: Vec<TensorId> = b
        .live
        .iter()
        .copied()
        .filter(|t| !b.g.inputs.contains(t))
        .collect();
    let last = *computed.last().unwrap_or(&b.live[0]);
    b.g.outputs.push(last);
    if let Some(k) = recipe.extra_output {
        let extra = computed[computed.len() - 1 - k % computed.len()];
        if extra != last {
            b.g.outputs.push(extra);
        }
    }
    let unsigned = std::mem::take(&mut b.unsigned_outputs);
    b.g.outputs.extend(unsigned);
    b.g
}

#[test]
fn optimized_graphs_compute_the_same_bytes() {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 2000;
    }
    config.source_file = Some(file!());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::WithSource(
        "proptest-regressions",
    )));
    let names = Pipeline::default().names();
    let fired = RefCell::new(vec![0usize; names.len()]);
    // Cases, ops before and after, runs compared.
    let stats = RefCell::new((0usize, 0usize, 0usize, 0usize));
    let mut runner = TestRunner::new(config);
    let result = runner.run(&recipe(), |recipe| {
        let graph = build(&recipe);
        tinyq_ir::validate(&graph).map_err(|e| {
            TestCaseError::fail(format!(
                "the generator built an invalid graph: {e}\n{}",
                text::print(&graph)
            ))
        })?;
        let mut optimized = graph.clone();
        let reports = Pipeline::default()
            .verify_each(true)
            .run(&mut optimized)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{}", text::print(&graph))))?;
        let verdict = compare(&graph, &optimized, recipe.steps.len() as u64, 6).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n--- input graph\n{}--- after the pipeline\n{}",
                text::print(&graph),
                text::print(&optimized)
            ))
        })?;
        let runs = match verdict {
            Verdict::Equal(runs) => runs,
            Verdict::ReferenceFails(why) => {
                return Err(TestCaseError::fail(format!(
                    "the generator built a graph that does not run: {why}\n{}",
                    text::print(&graph)
                )));
            }
        };
        for (count, r) in fired.borrow_mut().iter_mut().zip(&reports) {
            *count += usize::from(r.outcome.is_changed());
        }
        let mut s = stats.borrow_mut();
        s.0 += 1;
        s.1 += graph.ops.len();
        s.2 += optimized.ops.len();
        s.3 += runs;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let fired = fired.into_inner();
    let (cases, before, after, runs) = stats.into_inner();
    println!(
        "{cases} random graphs, {before} ops before the pipeline, {after} after; \
         every output byte equal over {runs} runs of each"
    );
    for (name, n) in names.iter().zip(&fired) {
        println!("  {name}: changed the graph in {n} cases");
    }
    for (name, n) in names.iter().zip(&fired) {
        assert!(*n > 0, "pass {name} never fired over {cases} random graphs");
    }
}

/// True when `to` is `from` with some size-1 dimensions dropped (at least one).
fn is_squeeze(from: &[usize], to: &[usize]) -> bool {
    if to.len() >= from.len() {
        return false;
    }
    let mut rest = to.iter().peekable();
    for &d in from {
        if rest.peek() == Some(&&d) {
            rest.next();
        } else if d != 1 {
            return false;
        }
    }
    rest.next().is_none()
}

/// Lowering's reordering of branching graphs (`tinyq_opt::order`) never
/// makes an arena larger than the graph's own order, on random graphs
/// (their outputs are compared with the unoptimized lowering above).
#[test]
fn reordering_never_grows_the_arena() {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 500;
    }
    config.failure_persistence = None;
    let lowered = RefCell::new((0usize, 0usize, 0u64, 0u64));
    let mut runner = TestRunner::new(config);
    let result = runner.run(&recipe(), |recipe| {
        let mut graph = build(&recipe);
        if Pipeline::default().run(&mut graph).is_err() {
            return Ok(());
        }
        let as_given = tinyq_opt::LowerOptions {
            reorder_ops: false,
            ..tinyq_opt::LowerOptions::default()
        };
        let (Ok((before, _)), Ok((after, _))) = (
            tinyq_opt::lower_with(&graph, as_given),
            tinyq_opt::lower(&graph).map(|p| (p, ())),
        ) else {
            return Ok(());
        };
        prop_assert!(
            after.arena_size <= before.arena_size,
            "{} B reordered > {} B\n{}",
            after.arena_size,
            before.arena_size,
            text::print(&graph)
        );
        tinyq_ir::verify(&after).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut s = lowered.borrow_mut();
        s.0 += 1;
        s.1 += usize::from(after.arena_size < before.arena_size);
        s.2 += before.arena_size as u64;
        s.3 += after.arena_size as u64;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (cases, smaller, before, after) = lowered.into_inner();
    println!(
        "{cases} random graphs lowered: reordering lowered the arena in {smaller} ({before} B -> {after} B in total)"
    );
}

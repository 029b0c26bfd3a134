//! IR ops to TFLite operators: options tables, padding back to SAME/VALID,
//! parameters back to constant int32 tensors.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use tinyq_ir::op::{Hw, Padding2D};
use tinyq_ir::tensor::shape_string;

use tinyq_ir::{Activation, DType, Op, OpKind, Quantization, Tensor};

use super::version::version;
use super::{WriteError, Writer};
use crate::padding::{self, Axis};
use crate::schema::fb;

type Result<T, E = WriteError> = std::result::Result<T, E>;

/// What an op becomes, before its operator code is looked up.
struct Written {
    code: fb::BuiltinOperator,
    /// Tensor indices, `-1` for an absent optional input.
    inputs: Vec<i32>,
    options: Option<fb::BuiltinOptions>,
}

/// The op being written and what it refers to.
struct Cx<'a> {
    index: usize,
    op: &'a Op,
    kind: &'static str,
    graph: &'a tinyq_ir::Graph,
}

impl<'a> Cx<'a> {
    fn err(&self, why: impl Into<String>) -> WriteError {
        WriteError::InvalidOp {
            index: self.index,
            kind: self.kind,
            why: why.into(),
        }
    }

    /// Checks the number of data inputs and that there is one output.
    fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.op.inputs.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(self.err(format!("{n} inputs, expected {want}")));
        }
        if self.op.outputs.len() != 1 {
            return Err(self.err(format!("{} outputs, expected 1", self.op.outputs.len())));
        }
        Ok(())
    }

    /// Input `i` (the Graph is validated: handles exist).
    fn input(&self, i: usize) -> Result<&'a Tensor> {
        let id = self
            .op
            .inputs
            .get(i)
            .ok_or_else(|| self.err(format!("input {i} is missing")))?;
        self.graph
            .tensors
            .get(*id)
            .ok_or_else(|| self.err(format!("input {i} does not exist")))
    }

    fn output(&self) -> Result<&'a Tensor> {
        let id = self
            .op
            .outputs
            .first()
            .ok_or_else(|| self.err("has no output"))?;
        self.graph
            .tensors
            .get(*id)
            .ok_or_else(|| self.err("its output does not exist"))
    }

    fn rank(&self, t: &Tensor, rank: usize, what: &str) -> Result<()> {
        if t.shape.len() == rank {
            Ok(())
        } else {
            Err(self.err(format!(
                "{what} {:?} has shape {}, expected rank {rank}",
                t.name,
                shape_string(&t.shape)
            )))
        }
    }

    fn int(&self, v: usize, what: &str) -> Result<i32> {
        i32::try_from(v).map_err(|_| self.err(format!("{what} {v} does not fit in int32")))
    }

    fn ints(&self, vs: impl IntoIterator<Item = usize>, what: &str) -> Result<Vec<i32>> {
        vs.into_iter().map(|v| self.int(v, what)).collect()
    }

    /// SAME or VALID, whichever gives `explicit` for a window op from NHWC
    /// `x` to NHWC `out` (VALID when both do).
    fn padding(
        &self,
        x: &Tensor,
        out: &Tensor,
        kernel: Hw,
        stride: Hw,
        dilation: Hw,
        explicit: Padding2D,
    ) -> Result<fb::Padding> {
        let resolve = |p: fb::Padding| -> Result<Padding2D, String> {
            let (top, bottom) = padding::resolve(
                p,
                Axis {
                    input: x.shape[1],
                    kernel: kernel.h,
                    stride: stride.h,
                    dilation: dilation.h,
                    output: out.shape[1],
                },
            )
            .map_err(|e| format!("height: {e}"))?;
            let (left, right) = padding::resolve(
                p,
                Axis {
                    input: x.shape[2],
                    kernel: kernel.w,
                    stride: stride.w,
                    dilation: dilation.w,
                    output: out.shape[2],
                },
            )
            .map_err(|e| format!("width: {e}"))?;
            Ok(Padding2D {
                top,
                bottom,
                left,
                right,
            })
        };
        let valid = resolve(fb::Padding::Valid);
        if valid.as_ref().is_ok_and(|&p| p == explicit) {
            return Ok(fb::Padding::Valid);
        }
        let same = resolve(fb::Padding::Same);
        if same.as_ref().is_ok_and(|&p| p == explicit) {
            return Ok(fb::Padding::Same);
        }
        let show = |r: &Result<Padding2D, String>| match r {
            Ok(p) => format!("{},{},{},{}", p.top, p.bottom, p.left, p.right),
            Err(e) => format!("impossible: {e}"),
        };
        Err(self.err(format!(
            "explicit padding (top,bottom,left,right) {},{},{},{} from input {} to output {} is neither SAME ({}) nor VALID ({}); TFLite cannot express it",
            explicit.top,
            explicit.bottom,
            explicit.left,
            explicit.right,
            shape_string(&x.shape),
            shape_string(&out.shape),
            show(&same),
            show(&valid)
        )))
    }

    /// Strides/dilations as the options want them.
    fn hw(&self, v: Hw, what: &str) -> Result<(i32, i32)> {
        Ok((self.int(v.h, what)?, self.int(v.w, what)?))
    }
}

fn act(a: Activation) -> fb::ActivationFunctionType {
    match a {
        Activation::None => fb::ActivationFunctionType::None,
        Activation::Relu => fb::ActivationFunctionType::Relu,
        Activation::ReluN1To1 => fb::ActivationFunctionType::ReluN1To1,
        Activation::Relu6 => fb::ActivationFunctionType::Relu6,
    }
}

impl Writer<'_> {
    /// Writes op `index` of the Graph.
    pub(super) fn op(&mut self, index: usize, op: &Op) -> Result<()> {
        let cx = Cx {
            index,
            op,
            kind: op.kind.name(),
            graph: self.graph,
        };
        self.charge(
            op.inputs
                .len()
                .saturating_add(op.outputs.len())
                .saturating_mul(4)
                .saturating_add(128),
        )?;
        if let OpKind::Signal(s) = &op.kind {
            // A custom op: its code by name, its options a flexbuffer map.
            let opcode_index = self.opcode(fb::BuiltinOperator::Custom, Some(s.name()), 1);
            // Without the state the reader adds (SpectralSubtraction's).
            let inputs = op
                .inputs
                .iter()
                .take(s.file_arity())
                .map(|&t| self.index(t))
                .collect::<Result<_>>()?;
            let outputs = op
                .outputs
                .iter()
                .map(|&t| self.index(t))
                .collect::<Result<_>>()?;
            self.operators.push(fb::Operator {
                opcode_index,
                inputs: Some(inputs),
                outputs: Some(outputs),
                custom_options: crate::signal::options(s),
                custom_options_format: fb::CustomOptionsFormat::Flexbuffers,
                ..Default::default()
            });
            return Ok(());
        }
        if let OpKind::Lstm(a) = &op.kind {
            return self.lstm(&cx, a);
        }
        let w = self.map(&cx)?;
        let v = version(self.graph, op, w.inputs.len());
        let opcode_index = self.opcode(w.code, None, v);
        let outputs = op
            .outputs
            .iter()
            .map(|&t| self.index(t))
            .collect::<Result<_>>()?;
        self.operators.push(fb::Operator {
            opcode_index,
            inputs: Some(w.inputs),
            outputs: Some(outputs),
            builtin_options: w.options,
            ..Default::default()
        });
        Ok(())
    }

    /// UNIDIRECTIONAL_SEQUENCE_LSTM as the converter writes it: 24 inputs
    /// (`-1` for the absent peepholes, projection and layer norms), the
    /// hidden and cell states as variable tensors, and for the integer LSTM
    /// the converter's five intermediates (four unused float ones, and
    /// `effective_hidden_scale_intermediate` with the output's parameters,
    /// which its calibration gives the Keras LSTM); TFLM reads none of them.
    fn lstm(&mut self, cx: &Cx<'_>, a: &tinyq_ir::op::Lstm) -> Result<()> {
        cx.arity(tinyq_ir::op::LSTM_INPUTS, tinyq_ir::op::LSTM_INPUTS)?;
        let given = self.data_inputs(cx.op)?;
        let mut inputs = vec![-1; 24];
        for (slot, &t) in (0..9).chain(12..16).chain(18..20).zip(&given) {
            inputs[slot] = t;
        }
        for &state in &given[13..] {
            if let Some(t) = usize::try_from(state)
                .ok()
                .and_then(|i| self.tensors.get_mut(i))
            {
                t.is_variable = true;
            }
        }
        let out = cx.output()?;
        let intermediates = if cx.input(0)?.dtype == DType::F32 {
            None
        } else {
            let names = [
                "input_to_input_intermediate",
                "input_to_forget_intermediate",
                "input_to_cell_intermediate",
                "input_to_output_intermediate",
                "effective_hidden_scale_intermediate",
            ];
            let mut ids = Vec::with_capacity(names.len());
            for (k, name) in names.into_iter().enumerate() {
                let (dtype, quant) = if k == 4 {
                    (out.dtype, out.quant.clone())
                } else {
                    (DType::F32, None)
                };
                let t = Tensor {
                    name: name.to_owned(),
                    shape: vec![0],
                    dtype,
                    quant,
                    data: None,
                };
                self.tensors.push(super::fb_tensor(&t, 0)?);
                ids.push(
                    i32::try_from(self.tensors.len() - 1)
                        .map_err(|_| WriteError::TooLarge("more than 2^31 tensors".to_owned()))?,
                );
            }
            Some(ids)
        };
        let v = version(self.graph, cx.op, inputs.len());
        let opcode_index = self.opcode(fb::BuiltinOperator::UnidirectionalSequenceLstm, None, v);
        let outputs = cx
            .op
            .outputs
            .iter()
            .map(|&t| self.index(t))
            .collect::<Result<_>>()?;
        let options = fb::UnidirectionalSequenceLstmOptions {
            fused_activation_function: fb::ActivationFunctionType::Tanh,
            cell_clip: a.cell_clip,
            proj_clip: 0.0,
            time_major: a.time_major,
            asymmetric_quantize_inputs: false,
            diagonal_recurrent_tensors: false,
        };
        self.operators.push(fb::Operator {
            opcode_index,
            inputs: Some(inputs),
            outputs: Some(outputs),
            builtin_options: Some(fb::BuiltinOptions::UnidirectionalSequenceLstmOptions(
                Box::new(options),
            )),
            intermediates,
            ..Default::default()
        });
        Ok(())
    }

    /// The data inputs' file indices.
    fn data_inputs(&self, op: &Op) -> Result<Vec<i32>> {
        op.inputs.iter().map(|&t| self.index(t)).collect()
    }

    fn map(&mut self, cx: &Cx<'_>) -> Result<Written> {
        use fb::BuiltinOperator as B;
        use fb::BuiltinOptions as O;
        let op = cx.op;
        let simple = |code, options| -> Result<Written> {
            Ok(Written {
                code,
                inputs: self.data_inputs(op)?,
                options,
            })
        };
        let unary = |code| -> Result<Written> {
            cx.arity(1, 1)?;
            simple(code, None)
        };
        match &op.kind {
            // Its state would need writing as a variable tensor; tinyq
            // quantize does not quantize SVDF.
            OpKind::Svdf(_) => Err(cx.err(
                "writing an SVDF back to .tflite is not supported (tinyq quantize does not quantize SVDF yet)",
            )),
            // Written by `lstm`.
            OpKind::Lstm(_) => Err(cx.err("an LSTM is written with its state and intermediates")),
            // Written by `op` as a custom op.
            OpKind::Signal(_) => Err(cx.err("a custom op has no builtin options")),
            OpKind::Conv2D(a) => {
                cx.arity(2, 3)?;
                let (x, f, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
                cx.rank(x, 4, "input")?;
                cx.rank(f, 4, "filter")?;
                cx.rank(out, 4, "output")?;
                let kernel = Hw {
                    h: f.shape[1],
                    w: f.shape[2],
                };
                let padding = cx.padding(x, out, kernel, a.stride, a.dilation, a.padding)?;
                let (stride_h, stride_w) = cx.hw(a.stride, "stride")?;
                let (dilation_h_factor, dilation_w_factor) = cx.hw(a.dilation, "dilation")?;
                let mut inputs = self.data_inputs(op)?;
                if inputs.len() == 2 {
                    inputs.push(self.zero_bias(cx, x, f, f.shape[0])?);
                }
                Ok(Written {
                    code: B::Conv2d,
                    inputs,
                    options: Some(O::Conv2DOptions(Box::new(fb::Conv2DOptions {
                        padding,
                        stride_w,
                        stride_h,
                        fused_activation_function: act(a.activation),
                        dilation_w_factor,
                        dilation_h_factor,
                        ..Default::default()
                    }))),
                })
            }
            OpKind::DepthwiseConv2D(a) => {
                cx.arity(2, 3)?;
                let (x, f, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
                cx.rank(x, 4, "input")?;
                cx.rank(f, 4, "filter")?;
                cx.rank(out, 4, "output")?;
                let (c_in, c_out) = (x.shape[3], f.shape[3]);
                if c_in == 0 || c_out != c_in.saturating_mul(a.depth_multiplier) {
                    return Err(cx.err(format!(
                        "depth_multiplier {} does not match input {} and filter {}",
                        a.depth_multiplier,
                        shape_string(&x.shape),
                        shape_string(&f.shape)
                    )));
                }
                let kernel = Hw {
                    h: f.shape[1],
                    w: f.shape[2],
                };
                let padding = cx.padding(x, out, kernel, a.stride, a.dilation, a.padding)?;
                let (stride_h, stride_w) = cx.hw(a.stride, "stride")?;
                let (dilation_h_factor, dilation_w_factor) = cx.hw(a.dilation, "dilation")?;
                let mut inputs = self.data_inputs(op)?;
                if inputs.len() == 2 {
                    inputs.push(self.zero_bias(cx, x, f, c_out)?);
                }
                Ok(Written {
                    code: B::DepthwiseConv2d,
                    inputs,
                    options: Some(O::DepthwiseConv2DOptions(Box::new(
                        fb::DepthwiseConv2DOptions {
                            padding,
                            stride_w,
                            stride_h,
                            depth_multiplier: cx.int(a.depth_multiplier, "depth_multiplier")?,
                            fused_activation_function: act(a.activation),
                            dilation_w_factor,
                            dilation_h_factor,
                        },
                    ))),
                })
            }
            OpKind::FullyConnected(a) => {
                cx.arity(2, 3)?;
                // A dynamic-range layer (float input, int8 weights): the
                // converter asks LiteRT to quantize the input asymmetrically.
                let hybrid = cx.input(0)?.dtype == DType::F32 && cx.input(1)?.dtype == DType::I8;
                let mut inputs = self.data_inputs(op)?;
                // The converter writes an absent bias as -1 (version 4/5,
                // not the 2-input version 6).
                inputs.resize(3, -1);
                Ok(Written {
                    code: B::FullyConnected,
                    inputs,
                    options: Some(O::FullyConnectedOptions(Box::new(
                        fb::FullyConnectedOptions {
                            fused_activation_function: act(a.activation),
                            keep_num_dims: a.keep_num_dims,
                            asymmetric_quantize_inputs: hybrid,
                            ..Default::default()
                        },
                    ))),
                })
            }
            OpKind::AveragePool2D(p) | OpKind::MaxPool2D(p) => {
                cx.arity(1, 1)?;
                let (x, out) = (cx.input(0)?, cx.output()?);
                cx.rank(x, 4, "input")?;
                cx.rank(out, 4, "output")?;
                let one = Hw { h: 1, w: 1 };
                let padding = cx.padding(x, out, p.filter, p.stride, one, p.padding)?;
                let (stride_h, stride_w) = cx.hw(p.stride, "stride")?;
                let (filter_height, filter_width) = cx.hw(p.filter, "filter size")?;
                let code = if matches!(op.kind, OpKind::MaxPool2D(_)) {
                    B::MaxPool2d
                } else {
                    B::AveragePool2d
                };
                simple(
                    code,
                    Some(O::Pool2DOptions(Box::new(fb::Pool2DOptions {
                        padding,
                        stride_w,
                        stride_h,
                        filter_width,
                        filter_height,
                        fused_activation_function: act(p.activation),
                    }))),
                )
            }
            OpKind::Add { activation } => {
                cx.arity(2, 2)?;
                simple(
                    B::Add,
                    Some(O::AddOptions(Box::new(fb::AddOptions {
                        fused_activation_function: act(*activation),
                        ..Default::default()
                    }))),
                )
            }
            OpKind::Sub { activation } => {
                cx.arity(2, 2)?;
                simple(
                    B::Sub,
                    Some(O::SubOptions(Box::new(fb::SubOptions {
                        fused_activation_function: act(*activation),
                        ..Default::default()
                    }))),
                )
            }
            OpKind::Mul { activation } => {
                cx.arity(2, 2)?;
                simple(
                    B::Mul,
                    Some(O::MulOptions(Box::new(fb::MulOptions {
                        fused_activation_function: act(*activation),
                    }))),
                )
            }
            OpKind::Div { activation } => {
                cx.arity(2, 2)?;
                simple(
                    B::Div,
                    Some(O::DivOptions(Box::new(fb::DivOptions {
                        fused_activation_function: act(*activation),
                    }))),
                )
            }
            OpKind::Exp => unary(B::Exp),
            OpKind::Log => unary(B::Log),
            OpKind::Sqrt => unary(B::Sqrt),
            OpKind::Rsqrt => unary(B::Rsqrt),
            OpKind::Cast => unary(B::Cast),
            OpKind::Abs => unary(B::Abs),
            OpKind::Neg => unary(B::Neg),
            OpKind::Square => unary(B::Square),
            OpKind::Prelu => {
                cx.arity(2, 2)?;
                simple(B::Prelu, None)
            }
            OpKind::SquaredDifference => {
                cx.arity(2, 2)?;
                simple(B::SquaredDifference, None)
            }
            OpKind::BatchMatMul { adj_x, adj_y } => {
                cx.arity(2, 2)?;
                simple(
                    B::BatchMatmul,
                    Some(O::BatchMatMulOptions(Box::new(fb::BatchMatMulOptions {
                        adj_x: *adj_x,
                        adj_y: *adj_y,
                        asymmetric_quantize_inputs: false,
                    }))),
                )
            }
            OpKind::Maximum | OpKind::Minimum => {
                cx.arity(2, 2)?;
                let code = if op.kind == OpKind::Maximum {
                    B::Maximum
                } else {
                    B::Minimum
                };
                simple(code, None)
            }
            OpKind::Softmax { beta } => {
                cx.arity(1, 1)?;
                simple(
                    B::Softmax,
                    Some(O::SoftmaxOptions(Box::new(fb::SoftmaxOptions {
                        beta: *beta,
                    }))),
                )
            }
            OpKind::Logistic => unary(B::Logistic),
            OpKind::Tanh => unary(B::Tanh),
            OpKind::Relu => unary(B::Relu),
            OpKind::Relu6 => unary(B::Relu6),
            OpKind::ReluN1To1 => unary(B::ReluN1To1),
            OpKind::HardSwish => unary(B::HardSwish),
            OpKind::Lut(_) => Err(cx.err(
                "a LUT is tinyq's own op, made by the optimizer; write the graph before optimizing it",
            )),
            OpKind::Quantize => unary(B::Quantize),
            OpKind::Dequantize => unary(B::Dequantize),
            OpKind::LeakyRelu { alpha } => {
                cx.arity(1, 1)?;
                simple(
                    B::LeakyRelu,
                    Some(O::LeakyReluOptions(Box::new(fb::LeakyReluOptions {
                        alpha: *alpha,
                    }))),
                )
            }
            OpKind::Concatenation { axis, activation } => {
                cx.arity(1, usize::MAX)?;
                simple(
                    B::Concatenation,
                    Some(O::ConcatenationOptions(Box::new(
                        fb::ConcatenationOptions {
                            axis: cx.int(*axis, "axis")?,
                            fused_activation_function: act(*activation),
                        },
                    ))),
                )
            }
            OpKind::Mean { axes, keep_dims } => {
                cx.arity(1, 1)?;
                let values = cx.ints(axes.iter().copied(), "axis")?;
                let name = self.param_name(cx, "reduction_indices")?;
                let p = self.param_i32(name, vec![values.len()], &values)?;
                let mut inputs = self.data_inputs(op)?;
                inputs.push(p);
                Ok(Written {
                    code: B::Mean,
                    inputs,
                    options: Some(O::ReducerOptions(Box::new(fb::ReducerOptions {
                        keep_dims: *keep_dims,
                    }))),
                })
            }
            OpKind::Pad { paddings } => {
                cx.arity(1, 2)?;
                let x = cx.input(0)?;
                if paddings.len() != x.shape.len() {
                    return Err(cx.err(format!(
                        "{} (before, after) pairs for an input of rank {}",
                        paddings.len(),
                        x.shape.len()
                    )));
                }
                let values = cx.ints(paddings.iter().flat_map(|&(a, b)| [a, b]), "padding")?;
                let name = self.param_name(cx, "paddings")?;
                let p = self.param_i32(name, vec![paddings.len(), 2], &values)?;
                let mut inputs = self.data_inputs(op)?;
                inputs.insert(1, p);
                let (code, options) = if op.inputs.len() == 2 {
                    (B::Padv2, O::PadV2Options(Box::new(fb::PadV2Options {})))
                } else {
                    (B::Pad, O::PadOptions(Box::new(fb::PadOptions {})))
                };
                Ok(Written {
                    code,
                    inputs,
                    options: Some(options),
                })
            }
            OpKind::Reshape => {
                cx.arity(1, 1)?;
                let out = cx.output()?;
                let shape = cx.ints(out.shape.iter().copied(), "dimension")?;
                let mut inputs = self.data_inputs(op)?;
                // A scalar result has no shape tensor (TFLM then reads the options).
                if !shape.is_empty() {
                    let name = self.param_name(cx, "shape")?;
                    inputs.push(self.param_i32(name, vec![shape.len()], &shape)?);
                }
                Ok(Written {
                    code: B::Reshape,
                    inputs,
                    options: Some(O::ReshapeOptions(Box::new(fb::ReshapeOptions {
                        new_shape: Some(shape),
                    }))),
                })
            }
            OpKind::Squeeze => {
                cx.arity(1, 1)?;
                let (x, out) = (cx.input(0)?, cx.output()?);
                let dims = squeezed(&x.shape, &out.shape).ok_or_else(|| {
                    cx.err(format!(
                        "output {} is not input {} without some size-1 dimensions",
                        shape_string(&out.shape),
                        shape_string(&x.shape)
                    ))
                })?;
                // An empty squeeze_dims means "every size-1 dimension".
                if dims.is_empty() && x.shape.contains(&1) {
                    return Err(cx.err(format!(
                        "removes no dimension of {}, which TFLite cannot say (an empty squeeze_dims removes every 1)",
                        shape_string(&x.shape)
                    )));
                }
                let squeeze_dims = cx.ints(dims, "axis")?;
                simple(
                    B::Squeeze,
                    Some(O::SqueezeOptions(Box::new(fb::SqueezeOptions {
                        squeeze_dims: Some(squeeze_dims),
                    }))),
                )
            }
            OpKind::ExpandDims => {
                cx.arity(1, 1)?;
                let (x, out) = (cx.input(0)?, cx.output()?);
                let axis = (0..out.shape.len())
                    .find(|&a| {
                        out.shape[a] == 1
                            && out.shape.len() == x.shape.len() + 1
                            && out.shape[..a] == x.shape[..a]
                            && out.shape[a + 1..] == x.shape[a..]
                    })
                    .ok_or_else(|| {
                        cx.err(format!(
                            "output {} is not input {} with one more size-1 dimension",
                            shape_string(&out.shape),
                            shape_string(&x.shape)
                        ))
                    })?;
                let axis = cx.int(axis, "axis")?;
                let name = self.param_name(cx, "axis")?;
                let p = self.param_i32(name, vec![], &[axis])?;
                let mut inputs = self.data_inputs(op)?;
                inputs.push(p);
                Ok(Written {
                    code: B::ExpandDims,
                    inputs,
                    options: Some(O::ExpandDimsOptions(Box::new(fb::ExpandDimsOptions {}))),
                })
            }
            OpKind::ResizeBilinear(r) | OpKind::ResizeNearestNeighbor(r) => {
                cx.arity(1, 1)?;
                let out = cx.output()?;
                cx.rank(out, 4, "output")?;
                let size = cx.ints([out.shape[1], out.shape[2]], "size")?;
                let name = self.param_name(cx, "size")?;
                let p = self.param_i32(name, vec![2], &size)?;
                let mut inputs = self.data_inputs(op)?;
                inputs.push(p);
                let (code, options) = if matches!(op.kind, OpKind::ResizeBilinear(_)) {
                    (
                        B::ResizeBilinear,
                        O::ResizeBilinearOptions(Box::new(fb::ResizeBilinearOptions {
                            align_corners: r.align_corners,
                            half_pixel_centers: r.half_pixel_centers,
                        })),
                    )
                } else {
                    (
                        B::ResizeNearestNeighbor,
                        O::ResizeNearestNeighborOptions(Box::new(
                            fb::ResizeNearestNeighborOptions {
                                align_corners: r.align_corners,
                                half_pixel_centers: r.half_pixel_centers,
                            },
                        )),
                    )
                };
                Ok(Written {
                    code,
                    inputs,
                    options: Some(options),
                })
            }
            OpKind::TransposeConv(a) => {
                cx.arity(2, 3)?;
                let (x, f, out) = (cx.input(0)?, cx.input(1)?, cx.output()?);
                cx.rank(x, 4, "input")?;
                cx.rank(f, 4, "filter")?;
                cx.rank(out, 4, "output")?;
                // SAME or VALID, whichever crops what the IR says (VALID when both do).
                let crops = |p: fb::Padding| {
                    let (top, bottom) =
                        padding::transposed(p, x.shape[1], f.shape[1], a.stride.h, out.shape[1]);
                    let (left, right) =
                        padding::transposed(p, x.shape[2], f.shape[2], a.stride.w, out.shape[2]);
                    Padding2D {
                        top,
                        bottom,
                        left,
                        right,
                    }
                };
                let padding = [fb::Padding::Valid, fb::Padding::Same]
                    .into_iter()
                    .find(|&p| crops(p) == a.padding)
                    .ok_or_else(|| {
                        cx.err(format!(
                            "cropping {:?} is neither what SAME nor VALID gives",
                            a.padding
                        ))
                    })?;
                let (stride_h, stride_w) = cx.hw(a.stride, "stride")?;
                let shape = cx.ints(out.shape.iter().copied(), "dimension")?;
                let name = self.param_name(cx, "output_shape")?;
                let shape = self.param_i32(name, vec![4], &shape)?;
                let data = self.data_inputs(op)?;
                let mut inputs = vec![shape, data[1], data[0]];
                inputs.extend(data.get(2));
                Ok(Written {
                    code: B::TransposeConv,
                    inputs,
                    options: Some(O::TransposeConvOptions(Box::new(
                        fb::TransposeConvOptions {
                            padding,
                            stride_w,
                            stride_h,
                            fused_activation_function: act(a.activation),
                            ..Default::default()
                        },
                    ))),
                })
            }
            OpKind::Transpose { perm } => {
                cx.arity(1, 1)?;
                let values = cx.ints(perm.iter().copied(), "permutation entry")?;
                let name = self.param_name(cx, "perm")?;
                let p = self.param_i32(name, vec![values.len()], &values)?;
                let mut inputs = self.data_inputs(op)?;
                inputs.push(p);
                Ok(Written {
                    code: B::Transpose,
                    inputs,
                    options: None,
                })
            }
            OpKind::SpaceToDepth { block } | OpKind::DepthToSpace { block } => {
                cx.arity(1, 1)?;
                let block_size = cx.int(*block, "block size")?;
                let (code, options) = if matches!(op.kind, OpKind::SpaceToDepth { .. }) {
                    let o = fb::SpaceToDepthOptions { block_size };
                    (B::SpaceToDepth, O::SpaceToDepthOptions(Box::new(o)))
                } else {
                    let o = fb::DepthToSpaceOptions { block_size };
                    (B::DepthToSpace, O::DepthToSpaceOptions(Box::new(o)))
                };
                simple(code, Some(options))
            }
            OpKind::Gather { axis, indices } => {
                cx.arity(1, 1)?;
                let (x, y) = (cx.input(0)?, cx.output()?);
                let shape = tinyq_ir::shapes::gather_indices_shape(&x.shape, &y.shape, *axis)
                    .ok_or_else(|| cx.err("the output does not fit the indices"))?;
                let values = cx.ints(indices.iter().copied(), "index")?;
                let name = self.param_name(cx, "indices")?;
                let p = self.param_i32(name, shape, &values)?;
                let mut inputs = self.data_inputs(op)?;
                inputs.push(p);
                Ok(Written {
                    code: B::Gather,
                    inputs,
                    options: Some(O::GatherOptions(Box::new(fb::GatherOptions {
                        axis: cx.int(*axis, "axis")?,
                        batch_dims: 0,
                    }))),
                })
            }
            OpKind::StridedSlice(s) => {
                cx.arity(1, 1)?;
                let n = s.begin.len();
                if s.end.len() != n || s.strides.len() != n {
                    return Err(cx.err(format!(
                        "begin/end/strides have lengths {}/{}/{}",
                        n,
                        s.end.len(),
                        s.strides.len()
                    )));
                }
                let mut inputs = self.data_inputs(op)?;
                for (what, values) in [
                    ("begin", &s.begin),
                    ("end", &s.end),
                    ("strides", &s.strides),
                ] {
                    let name = self.param_name(cx, what)?;
                    inputs.push(self.param_i32(name, vec![n], values)?);
                }
                Ok(Written {
                    code: B::StridedSlice,
                    inputs,
                    options: Some(O::StridedSliceOptions(Box::new(fb::StridedSliceOptions {
                        begin_mask: s.begin_mask,
                        end_mask: s.end_mask,
                        ellipsis_mask: s.ellipsis_mask,
                        new_axis_mask: s.new_axis_mask,
                        shrink_axis_mask: s.shrink_axis_mask,
                        offset: s.offset,
                    }))),
                })
            }
        }
    }

    /// A zero bias for a convolution that has none, as the converter always
    /// writes one: LiteRT refuses quantized CONV_2D/DEPTHWISE_CONV_2D
    /// without a bias ("Tensor at index 2 was optional but was expected")
    /// and TFLM's int8 DEPTHWISE_CONV_2D crashes. int32 with scales
    /// `input_scale * filter_scale` (int64 for int16 inputs), or float.
    fn zero_bias(
        &mut self,
        cx: &Cx<'_>,
        x: &Tensor,
        filter: &Tensor,
        channels: usize,
    ) -> Result<i32> {
        let name = self.param_name(cx, "zero_bias")?;
        let (dtype, quant) = match (x.dtype, &x.quant, &filter.quant) {
            (DType::F32, _, _) => (DType::F32, None),
            (_, Some(xq), Some(fq)) => {
                let scales: Vec<f32> = fq
                    .scales
                    .iter()
                    .map(|&s| (f64::from(xq.scale()) * f64::from(s)) as f32)
                    .collect();
                let n = scales.len();
                let dtype = if x.dtype == DType::I16 {
                    DType::I64
                } else {
                    DType::I32
                };
                (
                    dtype,
                    Some(Quantization {
                        scales,
                        zero_points: vec![0; n],
                        axis: 0,
                    }),
                )
            }
            _ => {
                return Err(cx.err(format!(
                    "has no bias and input {:?} ({}) or filter {:?} is not quantized, so no zero bias can be made for it",
                    x.name, x.dtype, filter.name
                )));
            }
        };
        let bytes = channels
            .checked_mul(dtype.size())
            .ok_or_else(|| cx.err(format!("{channels} output channels overflow")))?;
        let t = Tensor {
            name,
            shape: vec![channels],
            dtype,
            quant,
            data: None,
        };
        let buffer = self.buffer(Cow::Owned(vec![0; bytes]))?;
        let fb_t = super::fb_tensor(&t, buffer)?;
        self.tensors.push(fb_t);
        i32::try_from(self.tensors.len() - 1)
            .map_err(|_| WriteError::TooLarge("more than 2^31 tensors".to_owned()))
    }

    /// The name of a parameter tensor of the op in `cx`: its output's name
    /// and `what`.
    fn param_name(&self, cx: &Cx<'_>, what: &str) -> Result<String> {
        Ok(format!("{}/{what}", cx.output()?.name))
    }
}

/// The dimensions SQUEEZE removes from `input` to get `output` (only size-1
/// dimensions may go), `None` if it cannot.
fn squeezed(input: &[usize], output: &[usize]) -> Option<Vec<usize>> {
    let mut dims = Vec::new();
    let mut j = 0;
    for (i, &d) in input.iter().enumerate() {
        if output.get(j) == Some(&d) {
            j += 1;
        } else if d == 1 {
            dims.push(i);
        } else {
            return None;
        }
    }
    (j == output.len()).then_some(dims)
}

#[cfg(test)]
mod tests {
    use super::squeezed;

    #[test]
    fn squeeze_dims() {
        assert_eq!(squeezed(&[1, 4, 1, 6], &[1, 4, 6]), Some(vec![2]));
        assert_eq!(squeezed(&[1, 1, 5], &[1, 5]), Some(vec![1]));
        assert_eq!(squeezed(&[2, 1, 1], &[2, 1]), Some(vec![2]));
        assert_eq!(squeezed(&[1, 2], &[2]), Some(vec![0]));
        assert_eq!(squeezed(&[2, 3], &[2, 3]), Some(vec![]));
        assert_eq!(squeezed(&[2, 3], &[3, 2]), None);
        assert_eq!(squeezed(&[2, 3], &[2, 3, 1]), None);
    }
}

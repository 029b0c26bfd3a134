//! `validate`'s per-op checks on small hand-built graphs: what each op
//! kind accepts, and one graph per rejection, with the message it gives.

use tinyq_ir::op::{
    Conv2D, DepthwiseConv2D, FullyConnected, Hw, Lut, Padding2D, Pool2D, StridedSlice,
};
use tinyq_ir::{
    Activation, DType, Graph, Op, OpKind, Quantization, Tensor, TensorId, ValidationError, validate,
};

fn hw(h: usize, w: usize) -> Hw {
    Hw { h, w }
}

fn padding(top: usize, bottom: usize, left: usize, right: usize) -> Padding2D {
    Padding2D {
        top,
        bottom,
        left,
        right,
    }
}

fn conv(stride: usize, pad: Padding2D) -> OpKind {
    OpKind::Conv2D(Conv2D {
        stride: hw(stride, stride),
        dilation: hw(1, 1),
        padding: pad,
        activation: Activation::None,
    })
}

fn depthwise(multiplier: usize) -> OpKind {
    OpKind::DepthwiseConv2D(DepthwiseConv2D {
        stride: hw(1, 1),
        dilation: hw(1, 1),
        padding: padding(0, 0, 0, 0),
        depth_multiplier: multiplier,
        activation: Activation::None,
    })
}

fn fc(keep_num_dims: bool) -> OpKind {
    OpKind::FullyConnected(FullyConnected {
        keep_num_dims,
        activation: Activation::None,
    })
}

fn pool(filter: Hw, stride: Hw) -> OpKind {
    OpKind::MaxPool2D(Pool2D {
        filter,
        stride,
        padding: padding(0, 0, 0, 0),
        activation: Activation::None,
    })
}

fn add() -> OpKind {
    OpKind::Add {
        activation: Activation::None,
    }
}

fn slice(begin: &[i32], end: &[i32], strides: &[i32]) -> StridedSlice {
    StridedSlice {
        begin: begin.to_vec(),
        end: end.to_vec(),
        strides: strides.to_vec(),
        begin_mask: 0,
        end_mask: 0,
        ellipsis_mask: 0,
        new_axis_mask: 0,
        shrink_axis_mask: 0,
        offset: false,
    }
}

/// A graph under construction: tensors, then one op.
struct G(Graph);

impl G {
    fn new() -> Self {
        G(Graph::new())
    }

    fn push(&mut self, t: Tensor) -> TensorId {
        self.0.tensors.push(t)
    }

    /// A computed tensor; integer types get per-tensor parameters.
    fn t(&mut self, name: &str, shape: &[usize], dtype: DType) -> TensorId {
        let mut t = Tensor::new(name, shape.to_vec(), dtype);
        if matches!(dtype, DType::I8 | DType::U8 | DType::I16) {
            t.quant = Some(Quantization::per_tensor(0.1, 0));
        }
        self.push(t)
    }

    fn i8(&mut self, name: &str, shape: &[usize]) -> TensorId {
        self.t(name, shape, DType::I8)
    }

    fn f32(&mut self, name: &str, shape: &[usize]) -> TensorId {
        self.t(name, shape, DType::F32)
    }

    /// A zero-filled constant.
    fn c(&mut self, name: &str, shape: &[usize], dtype: DType) -> TensorId {
        let mut t = Tensor::new(name, shape.to_vec(), dtype);
        let bytes = t.byte_len().expect("small");
        t.data = Some(vec![0; bytes]);
        if matches!(dtype, DType::I8 | DType::U8 | DType::I16) {
            t.quant = Some(Quantization::per_tensor(0.05, 0));
        }
        self.push(t)
    }

    /// Int8 filter quantized per channel along `axis`.
    fn filter(&mut self, shape: &[usize], axis: usize) -> TensorId {
        let id = self.c("w", shape, DType::I8);
        let n = shape[axis];
        self.0.tensors[id].quant = Some(Quantization {
            scales: vec![0.05; n],
            zero_points: vec![0; n],
            axis,
        });
        id
    }

    /// The graph with one op (no origin): its non-constant inputs are the
    /// graph's inputs, its output the graph's output.
    fn op(self, kind: OpKind, inputs: &[TensorId], output: TensorId) -> Graph {
        self.ops(kind, inputs, &[output], None)
    }

    fn ops(
        mut self,
        kind: OpKind,
        inputs: &[TensorId],
        outputs: &[TensorId],
        origin: Option<usize>,
    ) -> Graph {
        let mut g = self.0;
        for &i in inputs {
            if !g.tensor(i).is_const() && !g.inputs.contains(&i) {
                g.inputs.push(i);
            }
        }
        g.outputs = outputs.to_vec();
        g.ops.push(Op {
            kind,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            origin,
        });
        self.0 = g;
        self.0
    }
}

fn accepts(g: &Graph) {
    if let Err(e) = validate(g) {
        panic!("rejected: {e}\n{}", g.dump());
    }
}

/// The error, which must be of the expected variant, on one line, naming
/// the op, and containing each of `needles`.
fn rejects(g: &Graph, variant: fn(&ValidationError) -> bool, needles: &[&str]) -> String {
    let e = match validate(g) {
        Ok(()) => panic!("accepted:\n{}", g.dump()),
        Err(e) => e,
    };
    let msg = e.to_string();
    assert!(variant(&e), "wrong variant: {e:?}");
    assert!(!msg.contains('\n'), "{msg}");
    let kind = g
        .ops
        .iter()
        .next()
        .map(|(_, op)| op.kind.name())
        .unwrap_or("");
    assert!(msg.starts_with("op #0 (") && msg.contains(kind), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
    msg
}

fn arity(e: &ValidationError) -> bool {
    matches!(e, ValidationError::Arity { .. })
}
fn dtype(e: &ValidationError) -> bool {
    matches!(e, ValidationError::Type { .. })
}
fn shape(e: &ValidationError) -> bool {
    matches!(e, ValidationError::Shape { .. })
}
fn attribute(e: &ValidationError) -> bool {
    matches!(e, ValidationError::Attribute { .. })
}
fn zero(e: &ValidationError) -> bool {
    matches!(e, ValidationError::ZeroSized { .. })
}
fn quant(e: &ValidationError) -> bool {
    matches!(e, ValidationError::OperandQuantization { .. })
}

/// An int8 CONV_2D from `[1,10,10,3]` with a `[16,3,3,3]` filter.
fn conv_graph(kind: OpKind, out: &[usize]) -> Graph {
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let b = g.c("b", &[16], DType::I32);
    let y = g.i8("y", out);
    g.op(kind, &[x, w, b], y)
}

// ---- what is accepted ------------------------------------------------------

#[test]
fn accepts_well_formed_ops() {
    // Convolutions: VALID, SAME, strided, grouped, float, int16x8.
    accepts(&conv_graph(conv(1, padding(0, 0, 0, 0)), &[1, 8, 8, 16]));
    accepts(&conv_graph(conv(1, padding(1, 1, 1, 1)), &[1, 10, 10, 16]));
    accepts(&conv_graph(conv(2, padding(0, 1, 0, 1)), &[1, 5, 5, 16]));
    let mut g = G::new();
    let x = g.i8("x", &[1, 5, 5, 4]);
    let w = g.filter(&[6, 1, 1, 2], 0);
    let y = g.i8("y", &[1, 5, 5, 6]);
    accepts(&g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y));
    let mut g = G::new();
    let x = g.f32("x", &[1, 10, 10, 3]);
    let w = g.c("w", &[16, 3, 3, 3], DType::F32);
    let b = g.c("b", &[16], DType::F32);
    let y = g.f32("y", &[1, 8, 8, 16]);
    accepts(&g.op(conv(1, padding(0, 0, 0, 0)), &[x, w, b], y));
    let mut g = G::new();
    let x = g.t("x", &[1, 10, 10, 3], DType::I16);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let b = g.c("b", &[16], DType::I64);
    let y = g.t("y", &[1, 8, 8, 16], DType::I16);
    accepts(&g.op(conv(1, padding(0, 0, 0, 0)), &[x, w, b], y));
    // Dilation 2: the 3x3 kernel spans 5.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let y = g.i8("y", &[1, 6, 6, 16]);
    let dilated = OpKind::Conv2D(Conv2D {
        stride: hw(1, 1),
        dilation: hw(2, 2),
        padding: padding(0, 0, 0, 0),
        activation: Activation::None,
    });
    accepts(&g.op(dilated, &[x, w], y));

    // Depthwise with multiplier 2.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 4]);
    let w = g.filter(&[1, 3, 3, 8], 3);
    let b = g.c("b", &[8], DType::I32);
    let y = g.i8("y", &[1, 4, 4, 8]);
    accepts(&g.op(depthwise(2), &[x, w, b], y));

    // Fully connected: flattening, keep_num_dims, per-tensor weights.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 2]);
    let w = g.filter(&[10, 32], 0);
    let y = g.i8("y", &[1, 10]);
    accepts(&g.op(fc(false), &[x, w], y));
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 12]);
    let w = g.c("w", &[8, 12], DType::I8);
    let b = g.c("b", &[8], DType::I32);
    let y = g.i8("y", &[1, 6, 8]);
    accepts(&g.op(fc(true), &[x, w, b], y));

    // Pooling, floor division of the last window.
    let mut g = G::new();
    let x = g.i8("x", &[1, 7, 7, 3]);
    let y = g.i8("y", &[1, 3, 3, 3]);
    accepts(&g.op(pool(hw(2, 2), hw(2, 2)), &[x], y));

    // Broadcasting ADD, float MUL with a constant, int32 SUB.
    let mut g = G::new();
    let a = g.i8("a", &[2, 1, 4]);
    let b = g.c("b", &[3, 1], DType::I8);
    let y = g.i8("y", &[2, 3, 4]);
    accepts(&g.op(add(), &[a, b], y));
    let mut g = G::new();
    let a = g.f32("a", &[1, 4]);
    let b = g.c("b", &[], DType::F32);
    let y = g.f32("y", &[1, 4]);
    let mul = OpKind::Mul {
        activation: Activation::Relu,
    };
    accepts(&g.op(mul, &[a, b], y));
    let mut g = G::new();
    let a = g.t("a", &[3], DType::I32);
    let b = g.t("b", &[3], DType::I32);
    let y = g.t("y", &[3], DType::I32);
    let sub = OpKind::Sub {
        activation: Activation::None,
    };
    accepts(&g.op(sub, &[a, b], y));

    // Softmax int8 -> int16, unary int16.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10]);
    let y = g.t("y", &[1, 10], DType::I16);
    accepts(&g.op(OpKind::Softmax { beta: 1.0 }, &[x], y));
    let mut g = G::new();
    let x = g.t("x", &[2, 3], DType::I16);
    let y = g.t("y", &[2, 3], DType::I16);
    accepts(&g.op(OpKind::Tanh, &[x], y));

    // Concatenation, mean, pad, PADV2.
    let mut g = G::new();
    let a = g.i8("a", &[1, 2, 3]);
    let b = g.i8("b", &[1, 5, 3]);
    let y = g.i8("y", &[1, 7, 3]);
    let cat = OpKind::Concatenation {
        axis: 1,
        activation: Activation::None,
    };
    accepts(&g.op(cat, &[a, b], y));
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 8]);
    let y = g.i8("y", &[1, 1, 1, 8]);
    let mean = OpKind::Mean {
        axes: vec![1, 2],
        keep_dims: true,
    };
    accepts(&g.op(mean, &[x], y));
    let mut g = G::new();
    let x = g.f32("x", &[1, 4]);
    let v = g.c("v", &[], DType::F32);
    let y = g.f32("y", &[3, 7]);
    let pad = OpKind::Pad {
        paddings: vec![(1, 1), (2, 1)],
    };
    accepts(&g.op(pad, &[x, v], y));

    // Reshapes, transpose, slice.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 1, 6]);
    let y = g.i8("y", &[4, 6]);
    accepts(&g.op(OpKind::Squeeze, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[4, 6]);
    let y = g.i8("y", &[4, 1, 6]);
    accepts(&g.op(OpKind::ExpandDims, &[x], y));
    let mut g = G::new();
    let x = g.t("x", &[2, 12], DType::Bool);
    let y = g.t("y", &[4, 6], DType::Bool);
    accepts(&g.op(OpKind::Reshape, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[4, 2, 3]);
    let perm = OpKind::Transpose {
        perm: vec![2, 0, 1],
    };
    accepts(&g.op(perm, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[1, 8, 6]);
    let y = g.i8("y", &[1, 4, 3]);
    let s = OpKind::StridedSlice(slice(&[0, 0, 0], &[1, 8, 6], &[1, 2, 2]));
    accepts(&g.op(s, &[x], y));

    // Quantization at the edges, requantization, a table.
    let mut g = G::new();
    let x = g.f32("x", &[3]);
    let y = g.t("y", &[3], DType::U8);
    accepts(&g.op(OpKind::Quantize, &[x], y));
    let mut g = G::new();
    let x = g.t("x", &[3], DType::U8);
    let y = g.i8("y", &[3]);
    accepts(&g.op(OpKind::Quantize, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[3]);
    let y = g.f32("y", &[3]);
    accepts(&g.op(OpKind::Dequantize, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[3]);
    let y = g.t("y", &[3], DType::U8);
    let lut = OpKind::Lut(Lut {
        table: vec![0; 256],
        ops: vec!["LOGISTIC"],
    });
    accepts(&g.op(lut, &[x], y));

    // Zero-sized data where the op can take it: an empty batch.
    let mut g = G::new();
    let x = g.i8("x", &[0, 4]);
    let y = g.i8("y", &[0, 4]);
    accepts(&g.op(OpKind::Relu, &[x], y));
}

// ---- messages --------------------------------------------------------------

#[test]
fn conv_output_that_disagrees_names_every_shape() {
    let g = conv_graph(conv(1, padding(0, 0, 0, 0)), &[1, 9, 9, 16]);
    let msg = rejects(&g, shape, &[]);
    assert_eq!(
        msg,
        "op #0 (CONV_2D): output [1,9,9,16] but input [1,10,10,3], filter [16,3,3,3], \
         stride 1x1, padding 0,0,0,0 give [1,8,8,16]"
    );
    // Stride and padding enter the formula.
    let g = conv_graph(conv(2, padding(1, 1, 1, 1)), &[1, 4, 4, 16]);
    rejects(
        &g,
        shape,
        &["stride 2x2", "padding 1,1,1,1", "give [1,5,5,16]"],
    );
    // Wrong output channel count.
    let g = conv_graph(conv(1, padding(0, 0, 0, 0)), &[1, 8, 8, 15]);
    rejects(&g, shape, &["give [1,8,8,16]"]);
}

#[test]
fn errors_name_the_model_operator_when_known() {
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let y = g.i8("y", &[5]);
    let g = g.ops(OpKind::Relu, &[x], &[y], Some(7));
    let msg = validate(&g).expect_err("shape").to_string();
    assert_eq!(
        msg,
        "model operator 7, op #0 (RELU): output [5] but input [4]: the shapes must be equal"
    );
}

#[test]
fn structural_errors_come_first() {
    // A dangling input is reported as such, not as an arity or type
    // problem of the RELU.
    let mut g = G::new();
    let x = g.t("x", &[4], DType::U8);
    let y = g.i8("y", &[4]);
    let mut g = g.op(OpKind::Relu, &[x], y);
    if let Some(op) = g.ops.get_mut(tinyq_ir::OpId::from_index(0)) {
        op.inputs.push(TensorId::from_index(9));
    }
    assert!(matches!(
        validate(&g),
        Err(ValidationError::DanglingTensor { .. })
    ));
}

// ---- arity -------------------------------------------------------------------

#[test]
fn rejects_wrong_arity() {
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x], y),
        arity,
        &["1 inputs, expected 2 or 3"],
    );
    let mut g = G::new();
    let a = g.i8("a", &[3]);
    let y = g.i8("y", &[3]);
    rejects(
        &g.op(add(), &[a, a, a], y),
        arity,
        &["3 inputs, expected 2"],
    );
    let mut g = G::new();
    let a = g.i8("a", &[3]);
    let y = g.i8("y", &[3]);
    let z = g.i8("z", &[3]);
    rejects(
        &g.ops(OpKind::Relu, &[a], &[y, z], None),
        arity,
        &["2 outputs, expected 1"],
    );
    let mut g = G::new();
    let y = g.i8("y", &[3]);
    let cat = OpKind::Concatenation {
        axis: 0,
        activation: Activation::None,
    };
    rejects(&g.op(cat, &[], y), arity, &["expected at least 1"]);
}

// ---- element types -------------------------------------------------------------

#[test]
fn rejects_wrong_element_types() {
    // uint8 RELU: TFLM has no such kernel.
    let mut g = G::new();
    let x = g.t("x", &[4], DType::U8);
    let y = g.t("y", &[4], DType::U8);
    rejects(
        &g.op(OpKind::Relu, &[x], y),
        dtype,
        &["\"x\" is u8", "f32, i8 or i16"],
    );
    // Mixed binary operands.
    let mut g = G::new();
    let a = g.i8("a", &[4]);
    let b = g.f32("b", &[4]);
    let y = g.i8("y", &[4]);
    rejects(&g.op(add(), &[a, b], y), dtype, &["input 1 \"b\" is f32"]);
    // Output type differs from the input.
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let y = g.t("y", &[4], DType::I16);
    rejects(
        &g.op(OpKind::Logistic, &[x], y),
        dtype,
        &["output \"y\" is i16"],
    );
    // A hybrid conv (float input, constant symmetric int8 weights) is a
    // dynamic-range op, so it is valid.
    let mut g = G::new();
    let x = g.f32("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let y = g.f32("y", &[1, 8, 8, 16]);
    accepts(&g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y));
    // An int8 conv with a float bias.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let b = g.c("b", &[16], DType::F32);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w, b], y),
        dtype,
        &["bias \"b\" is f32", "i32 bias"],
    );
    // Computed int8 weights.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4]);
    let w = g.i8("w", &[2, 4]);
    let y = g.i8("y", &[1, 2]);
    rejects(
        &g.op(fc(false), &[x, w], y),
        dtype,
        &["filter \"w\" must be constant"],
    );
    // QUANTIZE to float, DEQUANTIZE to int8, a float LUT, SOFTMAX to uint8.
    let mut g = G::new();
    let x = g.f32("x", &[4]);
    let y = g.f32("y", &[4]);
    rejects(
        &g.op(OpKind::Quantize, &[x], y),
        dtype,
        &["output \"y\" is f32"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let y = g.i8("y", &[4]);
    rejects(&g.op(OpKind::Dequantize, &[x], y), dtype, &["expected f32"]);
    let mut g = G::new();
    let x = g.f32("x", &[4]);
    let y = g.f32("y", &[4]);
    let lut = OpKind::Lut(Lut {
        table: vec![0; 256],
        ops: vec!["TANH"],
    });
    rejects(&g.op(lut, &[x], y), dtype, &["f32 to f32", "8-bit"]);
    let mut g = G::new();
    let x = g.i8("x", &[1, 4]);
    let y = g.t("y", &[1, 4], DType::U8);
    rejects(
        &g.op(OpKind::Softmax { beta: 1.0 }, &[x], y),
        dtype,
        &["i8 to u8"],
    );
    // int16 HARD_SWISH (TFLM has int8 and float only).
    let mut g = G::new();
    let x = g.t("x", &[4], DType::I16);
    let y = g.t("y", &[4], DType::I16);
    rejects(
        &g.op(OpKind::HardSwish, &[x], y),
        dtype,
        &["expected f32 or i8"],
    );
    // Concatenation of int8 and float, PADV2 with a value of another type.
    let mut g = G::new();
    let a = g.i8("a", &[1, 2]);
    let b = g.f32("b", &[1, 2]);
    let y = g.i8("y", &[1, 4]);
    let cat = OpKind::Concatenation {
        axis: 1,
        activation: Activation::None,
    };
    rejects(&g.op(cat, &[a, b], y), dtype, &["input 1 \"b\" is f32"]);
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let v = g.c("v", &[], DType::F32);
    let y = g.i8("y", &[6]);
    let pad = OpKind::Pad {
        paddings: vec![(1, 1)],
    };
    rejects(&g.op(pad, &[x, v], y), dtype, &["pad value \"v\" is f32"]);
}

// ---- shapes ------------------------------------------------------------------------

#[test]
fn rejects_impossible_broadcast() {
    let mut g = G::new();
    let a = g.i8("a", &[2, 3]);
    let b = g.i8("b", &[3, 3]);
    let y = g.i8("y", &[3, 3]);
    rejects(
        &g.op(add(), &[a, b], y),
        shape,
        &["[2,3] and [3,3] do not broadcast"],
    );
    // Compatible inputs, but the output is not their broadcast.
    let mut g = G::new();
    let a = g.i8("a", &[2, 1]);
    let b = g.i8("b", &[1, 3]);
    let y = g.i8("y", &[2, 1]);
    rejects(
        &g.op(OpKind::Maximum, &[a, b], y),
        shape,
        &["output [2,1] but inputs [2,1] and [1,3] broadcast to [2,3]"],
    );
    // Leading 1s are part of the shape.
    let mut g = G::new();
    let a = g.i8("a", &[3]);
    let b = g.i8("b", &[3]);
    let y = g.i8("y", &[1, 3]);
    rejects(&g.op(add(), &[a, b], y), shape, &["broadcast to [3]"]);
    // Beyond the kernels' rank.
    let mut g = G::new();
    let a = g.i8("a", &[1; 7]);
    let b = g.i8("b", &[1]);
    let y = g.i8("y", &[1; 7]);
    rejects(&g.op(add(), &[a, b], y), shape, &["rank 7", "at most 6"]);
}

#[test]
fn rejects_conv_shapes_that_do_not_fit() {
    // Filter larger than the padded input.
    let mut g = G::new();
    let x = g.i8("x", &[1, 2, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let y = g.i8("y", &[1, 1, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        shape,
        &["is 2 high", "window's 3"],
    );
    // Channels that do not group.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 5]);
    let w = g.filter(&[6, 1, 1, 2], 0);
    let y = g.i8("y", &[1, 4, 4, 6]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        shape,
        &["5 channels", "2 per group"],
    );
    // 6 output channels in 4 groups.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 8]);
    let w = g.filter(&[6, 1, 1, 2], 0);
    let y = g.i8("y", &[1, 4, 4, 6]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        shape,
        &["multiple of the groups"],
    );
    // Rank 3 input.
    let mut g = G::new();
    let x = g.i8("x", &[10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        shape,
        &["input \"x\" has shape [10,10,3], expected 4 dimensions"],
    );
    // Bias of the wrong length.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 0);
    let b = g.c("b", &[8], DType::I32);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w, b], y),
        shape,
        &["bias \"b\" has shape [8], expected 16 values"],
    );
    // Depthwise filter not [1,KH,KW,C*M], channels not a multiple.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 4]);
    let w = g.filter(&[2, 3, 3, 4], 3);
    let y = g.i8("y", &[1, 4, 4, 4]);
    rejects(&g.op(depthwise(1), &[x, w], y), shape, &["[1,KH,KW,C*M]"]);
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 4]);
    let w = g.filter(&[1, 3, 3, 6], 3);
    let y = g.i8("y", &[1, 4, 4, 6]);
    rejects(
        &g.op(depthwise(1), &[x, w], y),
        shape,
        &["not a multiple of the input's 4"],
    );
    // Depthwise output that disagrees.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 4]);
    let w = g.filter(&[1, 3, 3, 4], 3);
    let y = g.i8("y", &[1, 6, 6, 4]);
    rejects(&g.op(depthwise(1), &[x, w], y), shape, &["give [1,4,4,4]"]);
}

#[test]
fn rejects_fully_connected_shapes_that_do_not_fit() {
    let mut g = G::new();
    let x = g.i8("x", &[1, 10]);
    let w = g.filter(&[4, 3], 0);
    let y = g.i8("y", &[3, 4]);
    rejects(
        &g.op(fc(false), &[x, w], y),
        shape,
        &["10 elements, not a multiple of the depth 3"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[2, 6]);
    let w = g.filter(&[4, 12], 0);
    let y = g.i8("y", &[1, 4]);
    rejects(
        &g.op(fc(true), &[x, w], y),
        shape,
        &["keep_num_dims needs the last dimension"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[2, 6]);
    let w = g.filter(&[4, 6], 0);
    let y = g.i8("y", &[1, 8]);
    rejects(
        &g.op(fc(false), &[x, w], y),
        shape,
        &["output [1,8]", "give [2,4]"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[2, 6]);
    let w = g.filter(&[4, 6, 1], 0);
    let y = g.i8("y", &[2, 4]);
    rejects(
        &g.op(fc(false), &[x, w], y),
        shape,
        &["expected [units, depth]"],
    );
}

#[test]
fn rejects_other_output_shapes_that_disagree() {
    // Pooling.
    let mut g = G::new();
    let x = g.i8("x", &[1, 7, 7, 3]);
    let y = g.i8("y", &[1, 4, 4, 3]);
    rejects(
        &g.op(pool(hw(2, 2), hw(2, 2)), &[x], y),
        shape,
        &["window 2x2, stride 2x2", "give [1,3,3,3]"],
    );
    // Concatenation: off-axis sizes, then the sum along the axis.
    let cat = OpKind::Concatenation {
        axis: 1,
        activation: Activation::None,
    };
    let mut g = G::new();
    let a = g.i8("a", &[1, 2, 3]);
    let b = g.i8("b", &[1, 5, 4]);
    let y = g.i8("y", &[1, 7, 3]);
    rejects(
        &g.op(cat.clone(), &[a, b], y),
        shape,
        &["input 1 [1,5,4] does not fit"],
    );
    let mut g = G::new();
    let a = g.i8("a", &[1, 2, 3]);
    let b = g.i8("b", &[1, 5, 3]);
    let y = g.i8("y", &[1, 8, 3]);
    rejects(&g.op(cat, &[a, b], y), shape, &["add up to 7 along axis 1"]);
    // MEAN without keep_dims drops the axes.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 8]);
    let y = g.i8("y", &[1, 1, 1, 8]);
    let mean = OpKind::Mean {
        axes: vec![1, 2],
        keep_dims: false,
    };
    rejects(&g.op(mean, &[x], y), shape, &["gives [1,8]"]);
    // PAD.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4]);
    let y = g.i8("y", &[1, 5]);
    let pad = OpKind::Pad {
        paddings: vec![(0, 0), (1, 1)],
    };
    rejects(&g.op(pad, &[x], y), shape, &["gives [1,6]"]);
    // PADV2's value must be one element.
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let v = g.c("v", &[2], DType::I8);
    let y = g.i8("y", &[6]);
    let pad = OpKind::Pad {
        paddings: vec![(1, 1)],
    };
    rejects(&g.op(pad, &[x, v], y), shape, &["expected a single value"]);
    // RESHAPE changes the element count; SQUEEZE drops a non-1;
    // EXPAND_DIMS inserts two.
    let mut g = G::new();
    let x = g.i8("x", &[2, 12]);
    let y = g.i8("y", &[5, 5]);
    rejects(
        &g.op(OpKind::Reshape, &[x], y),
        shape,
        &["element counts differ"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 6]);
    let y = g.i8("y", &[1, 24]);
    rejects(
        &g.op(OpKind::Squeeze, &[x], y),
        shape,
        &["size-1 dimensions removed"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[4, 6]);
    let y = g.i8("y", &[1, 4, 1, 6]);
    rejects(
        &g.op(OpKind::ExpandDims, &[x], y),
        shape,
        &["one size-1 dimension inserted"],
    );
    // TRANSPOSE.
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[2, 4, 3]);
    let perm = OpKind::Transpose {
        perm: vec![2, 0, 1],
    };
    rejects(&g.op(perm, &[x], y), shape, &["gives [4,2,3]"]);
    // STRIDED_SLICE: same element count, other shape.
    let mut g = G::new();
    let x = g.i8("x", &[1, 8, 6]);
    let y = g.i8("y", &[1, 3, 4]);
    let s = OpKind::StridedSlice(slice(&[0, 0, 0], &[1, 8, 6], &[1, 2, 2]));
    rejects(
        &g.op(s, &[x], y),
        shape,
        &["output [1,3,4] but slicing input [1,8,6] gives [1,4,3]"],
    );
    // Element-wise ops keep the shape; SOFTMAX needs a rank.
    let mut g = G::new();
    let x = g.i8("x", &[]);
    let y = g.i8("y", &[]);
    rejects(
        &g.op(OpKind::Softmax { beta: 1.0 }, &[x], y),
        shape,
        &["scalar"],
    );
    let mut g = G::new();
    let x = g.f32("x", &[4]);
    let y = g.t("y", &[2, 2], DType::I8);
    rejects(
        &g.op(OpKind::Quantize, &[x], y),
        shape,
        &["output [2,2] but input [4]"],
    );
}

// ---- attributes --------------------------------------------------------------------

#[test]
fn rejects_bad_attributes() {
    let g = conv_graph(conv(0, padding(0, 0, 0, 0)), &[1, 8, 8, 16]);
    rejects(&g, attribute, &["stride 0x0"]);
    let dilated = OpKind::Conv2D(Conv2D {
        stride: hw(1, 1),
        dilation: hw(1, 0),
        padding: padding(0, 0, 0, 0),
        activation: Activation::None,
    });
    rejects(
        &conv_graph(dilated, &[1, 8, 8, 16]),
        attribute,
        &["dilation 1x0"],
    );
    // depth_multiplier contradicting the filter.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 4]);
    let w = g.filter(&[1, 3, 3, 8], 3);
    let y = g.i8("y", &[1, 4, 4, 8]);
    rejects(
        &g.op(depthwise(3), &[x, w], y),
        attribute,
        &["depth_multiplier 3 but filter [1,3,3,8] over 4 input channels gives 2"],
    );
    // Concatenation axis beyond the rank.
    let mut g = G::new();
    let a = g.i8("a", &[1, 2]);
    let y = g.i8("y", &[1, 2]);
    let cat = OpKind::Concatenation {
        axis: 2,
        activation: Activation::None,
    };
    rejects(&g.op(cat, &[a], y), attribute, &["axis 2 is out of range"]);
    // MEAN axes out of range, unsorted.
    for axes in [vec![4], vec![2, 1]] {
        let mut g = G::new();
        let x = g.i8("x", &[1, 4, 4, 8]);
        let y = g.i8("y", &[1, 8]);
        let mean = OpKind::Mean {
            axes,
            keep_dims: false,
        };
        rejects(
            &g.op(mean, &[x], y),
            attribute,
            &["sorted, distinct and below"],
        );
    }
    // PAD pairs for another rank.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4]);
    let y = g.i8("y", &[1, 6]);
    let pad = OpKind::Pad {
        paddings: vec![(1, 1)],
    };
    rejects(
        &g.op(pad, &[x], y),
        attribute,
        &["1 (before, after) pairs", "rank 2"],
    );
    // A permutation that is not one.
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[2, 2, 3]);
    let perm = OpKind::Transpose {
        perm: vec![0, 0, 1],
    };
    rejects(
        &g.op(perm, &[x], y),
        attribute,
        &["[0, 0, 1] is not a permutation"],
    );
    // STRIDED_SLICE stride 0, and bounds of another rank.
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let y = g.i8("y", &[4]);
    let s = OpKind::StridedSlice(slice(&[0], &[4], &[0]));
    rejects(
        &g.op(s, &[x], y),
        attribute,
        &["stride is 0", "STRIDED_SLICE(begin=[0]"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[4, 4]);
    let y = g.i8("y", &[4]);
    let s = OpKind::StridedSlice(slice(&[0], &[4], &[1]));
    rejects(&g.op(s, &[x], y), attribute, &["one entry per dimension"]);
    // A table that is not 256 entries.
    let mut g = G::new();
    let x = g.i8("x", &[4]);
    let y = g.i8("y", &[4]);
    let lut = OpKind::Lut(Lut {
        table: vec![0; 255],
        ops: vec!["RELU"],
    });
    rejects(
        &g.op(lut, &[x], y),
        attribute,
        &["255 entries, expected 256"],
    );
}

// ---- zero-sized dimensions -------------------------------------------------------

#[test]
fn rejects_zero_sized_kernels_and_channels() {
    // A 0x3 kernel.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.c("w", &[16, 0, 3, 3], DType::I8);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        zero,
        &["filter [16,0,3,3]", "at least 1"],
    );
    // Input with no channels.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 0]);
    let w = g.c("w", &[16, 3, 3, 0], DType::I8);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        zero,
        &["[1,10,10,0]"],
    );
    // No output channels.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.c("w", &[0, 3, 3, 3], DType::I8);
    let y = g.i8("y", &[1, 8, 8, 0]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        zero,
        &["[0,3,3,3]"],
    );
    // Depthwise over no channels.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 0]);
    let w = g.c("w", &[1, 3, 3, 0], DType::I8);
    let y = g.i8("y", &[1, 4, 4, 0]);
    rejects(&g.op(depthwise(1), &[x, w], y), zero, &["at least 1"]);
    // Fully connected with depth 0 (the batch count would divide by it).
    let mut g = G::new();
    let x = g.i8("x", &[1, 0]);
    let w = g.c("w", &[4, 0], DType::I8);
    let y = g.i8("y", &[1, 4]);
    rejects(&g.op(fc(false), &[x, w], y), zero, &["filter [4,0]"]);
    // A 0x2 pooling window.
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 4, 3]);
    let y = g.i8("y", &[1, 4, 3, 3]);
    rejects(
        &g.op(pool(hw(0, 2), hw(1, 1)), &[x], y),
        zero,
        &["window 0x2"],
    );
}

// ---- operand quantization ---------------------------------------------------------

#[test]
fn rejects_quantization_an_operand_cannot_have() {
    // Per-axis parameters on an activation.
    let mut g = G::new();
    let x = g.i8("x", &[2, 4]);
    g.0.tensors[x].quant = Some(Quantization {
        scales: vec![0.1, 0.2],
        zero_points: vec![0, 0],
        axis: 0,
    });
    let y = g.i8("y", &[2, 4]);
    rejects(
        &g.op(OpKind::Relu, &[x], y),
        quant,
        &["input \"x\" has per-axis quantization (2 scales)"],
    );
    // A conv filter quantized along its input channels.
    let mut g = G::new();
    let x = g.i8("x", &[1, 10, 10, 3]);
    let w = g.filter(&[16, 3, 3, 3], 3);
    let y = g.i8("y", &[1, 8, 8, 16]);
    rejects(
        &g.op(conv(1, padding(0, 0, 0, 0)), &[x, w], y),
        quant,
        &["along axis 3", "needs axis 0"],
    );
    // A depthwise filter quantized along its height.
    let mut g = G::new();
    let x = g.i8("x", &[1, 6, 6, 2]);
    let w = g.filter(&[1, 3, 3, 2], 1);
    let y = g.i8("y", &[1, 4, 4, 2]);
    rejects(&g.op(depthwise(1), &[x, w], y), quant, &["needs axis 3"]);
    // int16 without parameters out of QUANTIZE, into DEQUANTIZE.
    let mut g = G::new();
    let x = g.f32("x", &[4]);
    let y = g.push(Tensor::new("y", vec![4], DType::I16));
    rejects(
        &g.op(OpKind::Quantize, &[x], y),
        quant,
        &["output \"y\" is i16 without quantization parameters"],
    );
    let mut g = G::new();
    let x = g.push(Tensor::new("x", vec![4], DType::I16));
    let y = g.f32("y", &[4]);
    rejects(
        &g.op(OpKind::Dequantize, &[x], y),
        quant,
        &["input \"x\" is i16 without"],
    );
}

#[test]
fn space_depth_and_gather_shapes() {
    let mut g = G::new();
    let x = g.i8("x", &[1, 4, 6, 3]);
    let y = g.i8("y", &[1, 2, 3, 12]);
    accepts(&g.op(OpKind::SpaceToDepth { block: 2 }, &[x], y));
    let mut g = G::new();
    let x = g.f32("x", &[1, 2, 3, 12]);
    let y = g.f32("y", &[1, 4, 6, 3]);
    accepts(&g.op(OpKind::DepthToSpace { block: 2 }, &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[1, 5, 6, 3]);
    let y = g.i8("y", &[1, 2, 3, 12]);
    rejects(
        &g.op(OpKind::SpaceToDepth { block: 2 }, &[x], y),
        attribute,
        &["block 2 does not fit"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[1, 2, 3, 12]);
    let y = g.i8("y", &[1, 6, 9, 1]);
    rejects(
        &g.op(OpKind::DepthToSpace { block: 2 }, &[x], y),
        shape,
        &["gives [1,4,6,3]"],
    );
    // GATHER: indices replace the axis; a scalar index drops it.
    let gather = |axis, indices: &[usize]| OpKind::Gather {
        axis,
        indices: indices.to_vec(),
    };
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[2, 2, 2, 4]);
    accepts(&g.op(gather(1, &[0, 2, 2, 1]), &[x], y));
    let mut g = G::new();
    let x = g.f32("x", &[2, 3, 4]);
    let y = g.f32("y", &[2, 3]);
    accepts(&g.op(gather(2, &[3]), &[x], y));
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[2, 1, 4]);
    rejects(
        &g.op(gather(1, &[3]), &[x], y),
        attribute,
        &["index 3 is outside axis 1"],
    );
    let mut g = G::new();
    let x = g.i8("x", &[2, 3, 4]);
    let y = g.i8("y", &[2, 3, 4]);
    rejects(
        &g.op(gather(1, &[0, 1]), &[x], y),
        shape,
        &["replaced by 2 indices"],
    );
}

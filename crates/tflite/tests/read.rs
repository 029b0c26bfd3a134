//! Behaviour on models built with the planus builder: op mapping, schema
//! defaults, converter traps, folding.

mod common;

use common::{B, Net, T, conv_options, i32s, q, q_axis, small_cnn, unary};
use tinyq_ir::op::{Hw, Padding2D};
use tinyq_ir::{Activation, DType, Graph, OpKind};
use tinyq_tflite::{ReadError, fb, read};

fn ok(n: &Net) -> Graph {
    match read(&n.bytes()) {
        Ok(g) => g,
        Err(e) => panic!("read failed: {e}"),
    }
}

fn err(n: &Net) -> ReadError {
    match read(&n.bytes()) {
        Ok(g) => panic!("read succeeded:\n{}", g.dump()),
        Err(e) => e,
    }
}

fn kinds(g: &Graph) -> Vec<&'static str> {
    g.ops.iter().map(|(_, op)| op.kind.name()).collect()
}

fn names(g: &Graph) -> Vec<&str> {
    g.tensors.iter().map(|(_, t)| t.name.as_str()).collect()
}

#[test]
fn small_cnn_reads_and_folds_flatten() {
    let g = ok(&small_cnn());
    assert_eq!(
        kinds(&g),
        [
            "CONV_2D",
            "MAX_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX"
        ]
    );
    // The SHAPE -> STRIDED_SLICE -> PACK chain and its constants are gone.
    for gone in [
        "flatten/Shape",
        "flatten/begin",
        "flatten/one",
        "flatten/Reshape/shape",
    ] {
        assert!(
            !names(&g).contains(&gone),
            "{gone} survived: {:?}",
            names(&g)
        );
    }
    let (_, reshape) = g.ops.iter().nth(2).expect("3 ops");
    assert_eq!(reshape.inputs.len(), 1);
    assert_eq!(reshape.origin, Some(5));
    let OpKind::Conv2D(conv) = &g.ops.iter().next().expect("op").1.kind else {
        panic!("not a conv")
    };
    assert_eq!(conv.stride, Hw { h: 1, w: 1 });
    assert_eq!(conv.dilation, Hw { h: 1, w: 1 });
    assert_eq!(
        conv.padding,
        Padding2D {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1
        }
    );
    assert_eq!(conv.activation, Activation::Relu);
    let (_, fc) = g.ops.iter().nth(3).expect("fc");
    let w = g.tensor(fc.inputs[1]);
    assert_eq!(w.quant.as_ref().expect("quantized").scales.len(), 10);
    let OpKind::Softmax { beta } = g.ops.iter().nth(4).expect("softmax").1.kind else {
        panic!()
    };
    assert_eq!(beta, 1.0);
    assert_eq!(g.tensor(g.inputs[0]).shape, [1, 8, 8, 3]);
}

#[test]
fn absent_options_are_schema_defaults() {
    // Softmax without options: beta is the schema default 0.0.
    let g = ok(&unary(B::Softmax, &[1, 4], None));
    assert_eq!(
        g.ops.iter().next().expect("op").1.kind,
        OpKind::Softmax { beta: 0.0 }
    );

    // Conv options with everything but the strides left out: SAME padding,
    // dilation 1, activation NONE.
    let mut n = Net::new();
    let x = n.act("x", &[1, 5, 5, 2], T::Float32, None);
    let w = n.constant(
        "w",
        &[3, 3, 3, 2],
        T::Float32,
        None,
        vec![0; 3 * 3 * 3 * 2 * 4],
    );
    let y = n.act("y", &[1, 3, 3, 3], T::Float32, None);
    n.op(
        B::Conv2d,
        &[x, w],
        &[y],
        Some(fb::BuiltinOptions::Conv2DOptions(Box::new(
            fb::Conv2DOptions {
                stride_w: 2,
                stride_h: 2,
                ..Default::default()
            },
        ))),
    );
    n.inputs = vec![x];
    n.outputs = vec![y];
    let g = ok(&n);
    let OpKind::Conv2D(c) = &g.ops.iter().next().expect("op").1.kind else {
        panic!()
    };
    assert_eq!(c.dilation, Hw { h: 1, w: 1 });
    assert_eq!(c.activation, Activation::None);
    // SAME, 5 -> 3 with k 3 s 2: total 2, 1 before and 1 after.
    assert_eq!(
        c.padding,
        Padding2D {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1
        }
    );

    // No options at all: strides default to 0, which is an error naming the op.
    n.ops[0].builtin_options = None;
    let e = err(&n).to_string();
    assert!(e.contains("op #0 (CONV_2D)") && e.contains("stride"), "{e}");
}

#[test]
fn builtin_code_is_max_of_both_fields() {
    // A schema-3 file: only deprecated_builtin_code, builtin_code absent (0 = ADD).
    let mut n = unary(B::Relu, &[2, 3], None);
    n.codes[0] = fb::OperatorCode {
        deprecated_builtin_code: B::Relu as i8,
        builtin_code: B::Add,
        ..Default::default()
    };
    assert_eq!(kinds(&ok(&n)), ["RELU"]);
    // A new file: builtin_code set, deprecated absent (0 = ADD).
    n.codes[0] = fb::OperatorCode {
        deprecated_builtin_code: 0,
        builtin_code: B::Relu,
        ..Default::default()
    };
    assert_eq!(kinds(&ok(&n)), ["RELU"]);
    // A code above 127: deprecated is the placeholder.
    n.codes[0] = fb::OperatorCode {
        deprecated_builtin_code: 127,
        builtin_code: B::Gelu,
        ..Default::default()
    };
    let e = err(&n);
    assert!(
        matches!(&e, ReadError::UnsupportedOp { index: 0, name, .. } if name == "GELU"),
        "{e}"
    );
}

#[test]
fn all_default_operator_code_is_add() {
    let mut n = Net::new();
    let a = n.act("a", &[4], T::Float32, None);
    let b = n.act("b", &[4], T::Float32, None);
    let c = n.act("c", &[4], T::Float32, None);
    n.op(B::Add, &[a, b], &[c], None);
    n.codes[0] = fb::OperatorCode::default();
    n.inputs = vec![a, b];
    n.outputs = vec![c];
    let g = ok(&n);
    assert_eq!(
        g.ops.iter().next().expect("op").1.kind,
        OpKind::Add {
            activation: Activation::None
        }
    );
}

/// `in [1,4,4,2] i8 -> CONV_2D 1x1 -> out [1,4,4,3]` with a bias.
fn conv_1x1(bias_quant: Option<Box<fb::QuantizationParameters>>) -> Net {
    let mut n = Net::new();
    let x = n.act("x", &[1, 4, 4, 2], T::Int8, q(0.1, 0));
    let w = n.constant(
        "w",
        &[3, 1, 1, 2],
        T::Int8,
        q_axis(vec![0.1, 0.2, 0.3], 0),
        vec![1; 6],
    );
    let b = n.constant("b", &[3], T::Int32, bias_quant, i32s(&[1, 2, 3]));
    let y = n.act("y", &[1, 4, 4, 3], T::Int8, q(0.2, 3));
    n.op(
        B::Conv2d,
        &[x, w, b],
        &[y],
        conv_options(fb::Padding::Valid, 1, fb::ActivationFunctionType::None),
    );
    n.inputs = vec![x];
    n.outputs = vec![y];
    n
}

#[test]
fn quantization_is_normalized() {
    // Bias with quantized_dimension 3 (as some converters write): axis 0.
    let g = ok(&conv_1x1(q_axis(vec![0.01, 0.02, 0.03], 3)));
    let b = g
        .tensors
        .iter()
        .find(|(_, t)| t.name == "b")
        .expect("bias")
        .1;
    assert_eq!(b.quant.as_ref().expect("q").axis, 0);

    // No zero_point vector: zeros.
    let g = ok(&conv_1x1(Some(Box::new(fb::QuantizationParameters {
        scale: Some(vec![0.01, 0.02, 0.03]),
        ..Default::default()
    }))));
    let b = g
        .tensors
        .iter()
        .find(|(_, t)| t.name == "b")
        .expect("bias")
        .1;
    assert_eq!(b.quant.as_ref().expect("q").zero_points, [0, 0, 0]);

    // One zero point for three scales: repeated.
    let mut n = conv_1x1(None);
    n.tensors[1].quantization = Some(Box::new(fb::QuantizationParameters {
        scale: Some(vec![0.1, 0.2, 0.3]),
        zero_point: Some(vec![0]),
        ..Default::default()
    }));
    let g = ok(&n);
    let w = g.tensors.iter().find(|(_, t)| t.name == "w").expect("w").1;
    assert_eq!(w.quant.as_ref().expect("q").zero_points, [0, 0, 0]);

    // Only min/max (no scale): not quantized.
    let g = ok(&conv_1x1(Some(Box::new(fb::QuantizationParameters {
        min: Some(vec![-1.0]),
        max: Some(vec![1.0]),
        ..Default::default()
    }))));
    let b = g
        .tensors
        .iter()
        .find(|(_, t)| t.name == "b")
        .expect("bias")
        .1;
    assert_eq!(b.quant, None);

    // Two zero points for three scales: an error naming the tensor.
    n.tensors[1].quantization = Some(Box::new(fb::QuantizationParameters {
        scale: Some(vec![0.1, 0.2, 0.3]),
        zero_point: Some(vec![0, 0]),
        ..Default::default()
    }));
    let e = err(&n).to_string();
    assert!(e.contains("\"w\"") && e.contains("zero points"), "{e}");
}

#[test]
fn optional_bias_minus_one() {
    let mut n = conv_1x1(None);
    n.ops[0].inputs = Some(vec![0, 1, -1]);
    let g = ok(&n);
    let (_, op) = g.ops.iter().next().expect("op");
    assert_eq!(op.inputs.len(), 2);
    // The bias constant is no longer used, so it is dropped.
    assert!(!names(&g).contains(&"b"));
}

#[test]
fn depthwise_multiplier_comes_from_shapes() {
    let mut n = Net::new();
    let x = n.act("x", &[1, 6, 6, 2], T::Float32, None);
    let w = n.constant("w", &[1, 3, 3, 4], T::Float32, None, vec![0; 36 * 4]);
    let y = n.act("y", &[1, 6, 6, 4], T::Float32, None);
    n.op(
        B::DepthwiseConv2d,
        &[x, w],
        &[y],
        Some(fb::BuiltinOptions::DepthwiseConv2DOptions(Box::new(
            fb::DepthwiseConv2DOptions {
                stride_w: 1,
                stride_h: 1,
                depth_multiplier: 7, // wrong, and redundant per the schema
                dilation_h_factor: 2,
                ..Default::default()
            },
        ))),
    );
    n.inputs = vec![x];
    n.outputs = vec![y];
    let g = ok(&n);
    let OpKind::DepthwiseConv2D(d) = &g.ops.iter().next().expect("op").1.kind else {
        panic!()
    };
    assert_eq!(d.depth_multiplier, 2);
    assert_eq!(d.dilation, Hw { h: 2, w: 1 });
    // Height: eff_k 5, total 4 -> 2/2; width: eff_k 3 -> 1/1.
    assert_eq!(
        d.padding,
        Padding2D {
            top: 2,
            bottom: 2,
            left: 1,
            right: 1
        }
    );
}

#[test]
fn padding_checks_the_declared_output() {
    let mut n = conv_1x1(None);
    n.tensors[3].shape = Some(vec![1, 3, 4, 3]);
    let e = err(&n).to_string();
    assert!(e.contains("op #0 (CONV_2D)") && e.contains("height"), "{e}");
}

#[test]
fn fully_connected_options() {
    let mut n = Net::new();
    let x = n.act("x", &[1, 6, 12], T::Float32, None);
    let w = n.constant("w", &[8, 12], T::Float32, None, vec![0; 8 * 12 * 4]);
    let y = n.act("y", &[1, 6, 8], T::Float32, None);
    n.op(
        B::FullyConnected,
        &[x, w, -1],
        &[y],
        Some(fb::BuiltinOptions::FullyConnectedOptions(Box::new(
            fb::FullyConnectedOptions {
                keep_num_dims: true,
                fused_activation_function: fb::ActivationFunctionType::Relu6,
                ..Default::default()
            },
        ))),
    );
    n.inputs = vec![x];
    n.outputs = vec![y];
    let g = ok(&n);
    let (_, op) = g.ops.iter().next().expect("op");
    assert_eq!(op.inputs.len(), 2);
    let OpKind::FullyConnected(fc) = op.kind else {
        panic!()
    };
    assert!(fc.keep_num_dims);
    assert_eq!(fc.activation, Activation::Relu6);

    let Some(fb::BuiltinOptions::FullyConnectedOptions(o)) = &mut n.ops[0].builtin_options else {
        panic!()
    };
    o.weights_format = fb::FullyConnectedOptionsWeightsFormat::Shuffled4x16Int8;
    let e = err(&n).to_string();
    assert!(
        e.contains("FULLY_CONNECTED") && e.contains("weights_format"),
        "{e}"
    );
}

#[test]
fn fused_tanh_is_refused() {
    let mut n = conv_1x1(None);
    n.ops[0].builtin_options =
        conv_options(fb::Padding::Valid, 1, fb::ActivationFunctionType::Tanh);
    let e = err(&n);
    assert!(
        matches!(&e, ReadError::UnsupportedActivation { index: 0, kind: "CONV_2D", activation } if activation == "TANH"),
        "{e}"
    );
    assert!(e.to_string().contains("TANH"));
    n.ops[0].builtin_options =
        conv_options(fb::Padding::Valid, 1, fb::ActivationFunctionType::SignBit);
    assert!(err(&n).to_string().contains("SIGN_BIT"));
}

#[test]
fn unsupported_ops_are_named() {
    let e = err(&unary(B::Floor, &[4], None));
    let msg = e.to_string();
    assert!(
        matches!(&e, ReadError::UnsupportedOp { index: 0, name, .. } if name == "FLOOR"),
        "{msg}"
    );
    assert!(msg.contains("CONV_2D"), "lists what is supported: {msg}");

    let mut n = unary(B::Custom, &[4], None);
    n.codes[0].custom_code = Some("TFLite_Detection_PostProcess".into());
    let msg = err(&n).to_string();
    assert!(
        msg.contains("CUSTOM \"TFLite_Detection_PostProcess\""),
        "{msg}"
    );

    // A code newer than the schema.
    let mut n = unary(B::Relu, &[4], None);
    let mut bytes = n.bytes();
    n.codes[0].builtin_code = B::StablehloCase; // 209, the last known
    let known = n.bytes();
    // Patch 209 -> 250 in the serialized operator code.
    let pos = known
        .windows(4)
        .position(|w| w == 209i32.to_le_bytes())
        .expect("code in file");
    bytes.clone_from(&known);
    bytes[pos..pos + 4].copy_from_slice(&250i32.to_le_bytes());
    let msg = read(&bytes).expect_err("unknown op").to_string();
    assert!(msg.contains("unknown builtin operator 250"), "{msg}");
}

#[test]
fn shape_ops_on_data_are_unsupported() {
    // PACK of two float activations is data movement, not shape arithmetic.
    let mut n = Net::new();
    let a = n.act("a", &[3], T::Float32, None);
    let b = n.act("b", &[3], T::Float32, None);
    let c = n.act("c", &[2, 3], T::Float32, None);
    n.op(B::Pack, &[a, b], &[c], None);
    n.inputs = vec![a, b];
    n.outputs = vec![c];
    let e = err(&n);
    assert!(
        matches!(&e, ReadError::UnsupportedOp { name, .. } if name == "PACK"),
        "{e}"
    );

    // GATHER on an int32 graph input is data movement: mapped, not folded.
    let mut n = Net::new();
    let a = n.act("a", &[4], T::Int32, None);
    let i = n.const_i32("i", &[1], &[2]);
    let c = n.act("c", &[1], T::Int32, None);
    n.op(B::Gather, &[a, i], &[c], None);
    n.inputs = vec![a];
    n.outputs = vec![c];
    let g = ok(&n);
    assert_eq!(
        g.ops
            .iter()
            .map(|(_, op)| op.kind.clone())
            .collect::<Vec<_>>(),
        vec![OpKind::Gather {
            axis: 0,
            indices: vec![2]
        }]
    );

    // ... but GATHER/CONCATENATION of constant shapes fold: a graph output
    // computed entirely from shapes becomes a constant.
    let mut n = Net::new();
    let x = n.act("x", &[1, 4, 6], T::Float32, None);
    let s = n.act("s", &[3], T::Int32, None);
    n.op(B::Shape, &[x], &[s], None);
    let idx = n.const_i32("idx", &[1], &[2]);
    let g = n.act("g", &[1], T::Int32, None);
    n.op(B::Gather, &[s, idx], &[g], None);
    let minus1 = n.const_i32("m1", &[1], &[-1]);
    let cat = n.act("cat", &[2], T::Int32, None);
    n.op(
        B::Concatenation,
        &[minus1, g],
        &[cat],
        Some(fb::BuiltinOptions::ConcatenationOptions(Box::default())),
    );
    let y = n.act("y", &[4, 6], T::Float32, None);
    n.op(B::Reshape, &[x, cat], &[y], None);
    n.inputs = vec![x];
    n.outputs = vec![y, cat];
    let graph = ok(&n);
    assert_eq!(kinds(&graph), ["RESHAPE"]);
    let cat = graph.tensor(graph.outputs[1]);
    assert_eq!(cat.const_i32(), Some(vec![-1, 6]));
}

#[test]
fn parameters_become_attributes() {
    let mut n = Net::new();
    let x = n.act("x", &[1, 4, 5, 3], T::Float32, None);
    // MEAN over [-2, 1, 2, 1] = axes {1, 2}.
    let axes = n.const_i32("axes", &[4], &[-2, 1, 2, 1]);
    let m = n.act("m", &[1, 1, 1, 3], T::Float32, None);
    n.op(
        B::Mean,
        &[x, axes],
        &[m],
        Some(fb::BuiltinOptions::ReducerOptions(Box::new(
            fb::ReducerOptions { keep_dims: true },
        ))),
    );
    // PADV2 keeps its value input.
    let pads = n.const_i32("pads", &[4, 2], &[0, 0, 1, 2, 0, 1, 0, 0]);
    let v = n.constant("v", &[], T::Float32, None, 0.5f32.to_le_bytes().to_vec());
    let p = n.act("p", &[1, 7, 6, 3], T::Float32, None);
    n.op(B::Padv2, &[x, pads, v], &[p], None);
    // TRANSPOSE.
    let perm = n.const_i32("perm", &[4], &[0, 3, 1, 2]);
    let t = n.act("t", &[1, 3, 4, 5], T::Float32, None);
    n.op(B::Transpose, &[x, perm], &[t], None);
    // CONCATENATION with a negative axis.
    let c = n.act("c", &[1, 4, 5, 6], T::Float32, None);
    n.op(
        B::Concatenation,
        &[x, x],
        &[c],
        Some(fb::BuiltinOptions::ConcatenationOptions(Box::new(
            fb::ConcatenationOptions {
                axis: -1,
                fused_activation_function: fb::ActivationFunctionType::Relu,
            },
        ))),
    );
    // STRIDED_SLICE.
    let begin = n.const_i32("begin", &[4], &[0, 1, 0, 0]);
    let end = n.const_i32("end", &[4], &[0, 3, 0, 0]);
    let strides = n.const_i32("strides", &[4], &[1, 1, 1, 1]);
    let s = n.act("s", &[1, 2, 5, 3], T::Float32, None);
    n.op(
        B::StridedSlice,
        &[x, begin, end, strides],
        &[s],
        Some(fb::BuiltinOptions::StridedSliceOptions(Box::new(
            fb::StridedSliceOptions {
                begin_mask: 13,
                end_mask: 13,
                ..Default::default()
            },
        ))),
    );
    // EXPAND_DIMS and SQUEEZE.
    let axis = n.const_i32("axis", &[], &[0]);
    let e = n.act("e", &[1, 1, 4, 5, 3], T::Float32, None);
    n.op(B::ExpandDims, &[x, axis], &[e], None);
    let sq = n.act("sq", &[4, 5, 3], T::Float32, None);
    n.op(B::Squeeze, &[x], &[sq], None);
    // LEAKY_RELU, HARD_SWISH.
    let l = n.act("l", &[1, 4, 5, 3], T::Float32, None);
    n.op(
        B::LeakyRelu,
        &[x],
        &[l],
        Some(fb::BuiltinOptions::LeakyReluOptions(Box::new(
            fb::LeakyReluOptions { alpha: 0.25 },
        ))),
    );
    let h = n.act("h", &[1, 4, 5, 3], T::Float32, None);
    n.op(B::HardSwish, &[l], &[h], None);
    n.inputs = vec![x];
    n.outputs = vec![m, p, t, c, s, e, sq, h];
    let g = ok(&n);
    let ops: Vec<_> = g.ops.iter().map(|(_, op)| op).collect();
    assert_eq!(
        ops[0].kind,
        OpKind::Mean {
            axes: vec![1, 2],
            keep_dims: true
        }
    );
    assert_eq!(ops[0].inputs.len(), 1);
    assert_eq!(
        ops[1].kind,
        OpKind::Pad {
            paddings: vec![(0, 0), (1, 2), (0, 1), (0, 0)]
        }
    );
    assert_eq!(ops[1].inputs.len(), 2);
    assert_eq!(g.tensor(ops[1].inputs[1]).const_f32(), Some(vec![0.5]));
    assert_eq!(
        ops[2].kind,
        OpKind::Transpose {
            perm: vec![0, 3, 1, 2]
        }
    );
    assert_eq!(
        ops[3].kind,
        OpKind::Concatenation {
            axis: 3,
            activation: Activation::Relu
        }
    );
    let OpKind::StridedSlice(ss) = &ops[4].kind else {
        panic!()
    };
    assert_eq!(
        (ss.begin.clone(), ss.end.clone()),
        (vec![0, 1, 0, 0], vec![0, 3, 0, 0])
    );
    assert_eq!((ss.begin_mask, ss.end_mask), (13, 13));
    assert_eq!(ops[4].inputs.len(), 1);
    assert_eq!(ops[5].kind, OpKind::ExpandDims);
    assert_eq!(ops[5].inputs.len(), 1);
    assert_eq!(ops[6].kind, OpKind::Squeeze);
    assert_eq!(ops[7].kind, OpKind::LeakyRelu { alpha: 0.25 });
    assert_eq!(ops[8].kind, OpKind::HardSwish);
    // Every parameter constant is gone; only the pad value remains.
    for gone in ["axes", "pads", "perm", "begin", "end", "strides", "axis"] {
        assert!(!names(&g).contains(&gone), "{gone} survived");
    }
}

#[test]
fn parameter_must_be_constant() {
    let mut n = Net::new();
    let x = n.act("x", &[2, 3], T::Float32, None);
    let perm = n.act("perm", &[2], T::Int32, None);
    let y = n.act("y", &[3, 2], T::Float32, None);
    n.op(B::Transpose, &[x, perm], &[y], None);
    n.inputs = vec![x, perm];
    n.outputs = vec![y];
    let e = err(&n).to_string();
    assert!(
        e.contains("op #0 (TRANSPOSE)") && e.contains("\"perm\""),
        "{e}"
    );
}

#[test]
fn only_subgraph_zero_is_read() {
    let mut n = unary(B::Relu, &[4], None);
    let other = unary(B::Floor, &[4], None);
    n.extra_subgraphs
        .push(other.model().subgraphs.expect("sg")[0].clone());
    assert_eq!(kinds(&ok(&n)), ["RELU"]);
}

#[test]
fn identifier_and_version() {
    let n = unary(B::Relu, &[4], None);
    // No identifier, otherwise fine: accepted.
    let bytes = common::serialize(&n.model(), false);
    assert_eq!(kinds(&read(&bytes).expect("reads")), ["RELU"]);
    // Another version that otherwise reads: accepted.
    let mut v2 = n.clone();
    v2.version = 2;
    assert_eq!(kinds(&ok(&v2)), ["RELU"]);
    // Unknown version and broken: says so.
    v2.ops[0].opcode_index = 9;
    let e = err(&v2);
    assert!(
        matches!(e, ReadError::UnknownFormat { version: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("schema version 2"), "{e}");
}

#[test]
fn buffers_after_the_flatbuffer() {
    let data = i32s(&[1, 2, 3]);
    let build = |offset: u64| {
        let mut n = Net::new();
        let x = n.act("x", &[3], T::Int32, None);
        let c = n.act("c", &[3], T::Int32, None);
        n.buffers.push(fb::Buffer {
            data: None,
            offset,
            size: 12,
        });
        n.tensors[c as usize].buffer = 1;
        let y = n.act("y", &[3], T::Int32, None);
        n.op(B::Add, &[x, c], &[y], None);
        n.inputs = vec![x];
        n.outputs = vec![y];
        n.bytes()
    };
    let len = build(2).len();
    let mut bytes = build(len as u64);
    assert_eq!(bytes.len(), len);
    bytes.extend_from_slice(&data);
    let g = read(&bytes).expect("reads");
    let c = g.tensors.iter().find(|(_, t)| t.name == "c").expect("c").1;
    assert_eq!(c.const_i32(), Some(vec![1, 2, 3]));
    // The same, without the data appended: out of bounds.
    let e = read(&build(len as u64))
        .expect_err("out of bounds")
        .to_string();
    assert!(e.contains("\"c\"") && e.contains("outside"), "{e}");
}

#[test]
fn buffer_zero_means_no_data() {
    let mut n = unary(B::Relu, &[1], None);
    n.buffers[0].data = Some(vec![1, 2, 3, 4]);
    let g = ok(&n);
    assert!(g.tensors.iter().all(|(_, t)| !t.is_const()));
    // No buffers at all is fine when nothing needs one.
    let mut model = n.model();
    model.buffers = None;
    let g = read(&common::serialize(&model, true)).expect("reads");
    assert_eq!(kinds(&g), ["RELU"]);
}

#[test]
fn dtypes() {
    for (ty, dtype) in [
        (T::Float32, DType::F32),
        (T::Int16, DType::I16),
        (T::Int32, DType::I32),
        (T::Int64, DType::I64),
        (T::Bool, DType::Bool),
    ] {
        let mut n = unary(B::Reshape, &[2, 2], None);
        n.tensors[0].type_ = ty;
        n.tensors[1].type_ = ty;
        let g = ok(&n);
        assert_eq!(g.tensor(g.inputs[0]).dtype, dtype);
    }
    let mut n = unary(B::Relu, &[2], None);
    n.tensors[0].type_ = T::Float16;
    // A float16 activation (float16 constants are widened to float32).
    let e = err(&n);
    assert!(e.to_string().starts_with("op #0 (RELU): "), "{e}");
    assert!(
        matches!(e.cause(), ReadError::UnsupportedType { name, dtype } if name == "x" && dtype.starts_with("FLOAT16 (as an activation")),
        "{e}"
    );
}

#[test]
fn static_and_dynamic_shapes() {
    // Unknown batch whose shape entry is 1: fine.
    let mut n = unary(B::Relu, &[1, 4], None);
    n.tensors[0].shape_signature = Some(vec![-1, 4]);
    ok(&n);
    // Unknown non-batch dimension.
    n.tensors[1].shape_signature = Some(vec![-1, -1]);
    let e = err(&n);
    assert!(
        matches!(e.cause(), ReadError::DynamicShape { name, .. } if name == "y"),
        "{e}"
    );
    // Unknown batch whose shape entry is not 1.
    let mut n = unary(B::Relu, &[2, 4], None);
    n.tensors[0].shape_signature = Some(vec![-1, 4]);
    assert!(matches!(err(&n).cause(), ReadError::DynamicShape { name, .. } if name == "x"));
    // A negative dimension.
    let n = unary(B::Relu, &[3, -1], None);
    assert!(matches!(err(&n).cause(), ReadError::DynamicShape { name, .. } if name == "x"));
    // Scalars (no shape at all) are rank 0.
    let mut n = unary(B::Relu, &[], None);
    n.tensors[0].shape = None;
    let g = ok(&n);
    assert_eq!(g.tensor(g.inputs[0]).shape, Vec::<usize>::new());
}

/// GATHER's indices become the op's attribute; what TFLM would refuse, or
/// what tinyq cannot fold, is refused naming the op.
#[test]
fn gather_takes_constant_in_range_int32_indices() {
    let build = |indices: Option<&[i32]>, batch_dims: i32, axis: i32| {
        let mut n = Net::new();
        let x = n.act("x", &[2, 3, 4], T::Float32, None);
        let count = indices.map_or(2, |v| v.len() as i32);
        let i = match indices {
            Some(v) => n.const_i32("i", &[count], v),
            None => n.act("i", &[count], T::Int32, None),
        };
        let y = n.act("y", &[2, count, 4], T::Float32, None);
        let options = fb::GatherOptions { axis, batch_dims };
        n.op(
            B::Gather,
            &[x, i],
            &[y],
            Some(fb::BuiltinOptions::GatherOptions(Box::new(options))),
        );
        n.inputs = if indices.is_some() {
            vec![x]
        } else {
            vec![x, i]
        };
        n.outputs = vec![y];
        n
    };
    let g = ok(&build(Some(&[2, 0, 2]), 0, -2));
    let kinds: Vec<OpKind> = g.ops.iter().map(|(_, op)| op.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![OpKind::Gather {
            axis: 1,
            indices: vec![2, 0, 2]
        }]
    );
    for (n, why) in [
        (build(Some(&[3]), 0, 1), "outside 0..3"),
        (build(Some(&[-1]), 0, 1), "outside 0..3"),
        (build(Some(&[0]), 1, 1), "batch_dims 1"),
        (build(None, 0, 1), "must be a constant"),
    ] {
        let e = err(&n);
        assert!(
            matches!(&e, ReadError::InvalidOp { kind, .. } if *kind == "GATHER")
                && e.to_string().contains(why),
            "{e}"
        );
    }
}

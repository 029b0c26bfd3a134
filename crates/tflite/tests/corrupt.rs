//! Hand-corrupted models: every one is an `Err` naming the problem.

mod common;

use common::{B, Net, T, i32s, q, serialize, small_cnn, unary};
use planus::ReadAsRoot as _;
use tinyq_tflite::{ReadError, fb, read};

fn err(n: &Net) -> ReadError {
    match read(&n.bytes()) {
        Ok(g) => panic!("read succeeded:\n{}", g.dump()),
        Err(e) => e,
    }
}

/// The message, checked to be one line.
fn msg(e: &ReadError) -> String {
    let m = e.to_string();
    assert!(!m.contains('\n'), "multi-line message: {m}");
    m
}

#[test]
fn empty_and_tiny_files() {
    for len in 0..8 {
        let e = read(&vec![0u8; len]).expect_err("too short");
        assert!(matches!(e, ReadError::NotTflite(_)), "{e}");
    }
    let e = read(b"this is not a model at all, just text").expect_err("text");
    assert!(msg(&e).contains("not a TFLite"), "{e}");
}

#[test]
fn tensor_index_out_of_range() {
    let mut n = small_cnn();
    n.ops[0].inputs = Some(vec![0, 1, 99]);
    let e = err(&n);
    assert!(matches!(e, ReadError::TensorIndex { index: 99, .. }), "{e}");
    assert!(msg(&e).contains("op #0 (CONV_2D) input 2"), "{e}");

    let mut n = small_cnn();
    n.ops[1].outputs = Some(vec![-1]);
    assert!(msg(&err(&n)).contains("op #1 (MAX_POOL_2D) output 0"));

    let mut n = small_cnn();
    n.outputs = vec![1000];
    assert!(msg(&err(&n)).contains("subgraph output 0 refers to tensor 1000"));

    // -2 is not the "absent" marker.
    let mut n = small_cnn();
    n.ops[0].inputs = Some(vec![0, 1, -2]);
    assert!(matches!(err(&n), ReadError::TensorIndex { index: -2, .. }));
}

#[test]
fn buffer_index_out_of_range() {
    let mut n = small_cnn();
    n.tensors[1].buffer = 77;
    let e = err(&n);
    assert!(
        matches!(&e, ReadError::BufferIndex { tensor, index: 77, .. } if tensor == "conv/weights"),
        "{e}"
    );
    msg(&e);
}

#[test]
fn opcode_index_out_of_range() {
    let mut n = small_cnn();
    n.ops[2].opcode_index = 42;
    let e = err(&n);
    assert!(
        matches!(
            e,
            ReadError::OpcodeIndex {
                op: 2,
                index: 42,
                ..
            }
        ),
        "{e}"
    );
    msg(&e);
}

#[test]
fn two_op_cycle() {
    // a = RELU(b); b = RELU(a)
    let mut n = Net::new();
    let x = n.act("x", &[4], T::Float32, None);
    let a = n.act("a", &[4], T::Float32, None);
    let b = n.act("b", &[4], T::Float32, None);
    n.op(B::Relu, &[b], &[a], None);
    n.op(B::Relu, &[a], &[b], None);
    n.inputs = vec![x];
    n.outputs = vec![b];
    let e = err(&n);
    assert!(matches!(e, ReadError::Graph(_)), "{e}");
    assert!(msg(&e).contains("before anything produces it"), "{e}");

    // Misordered ops (consumer first) are the same error.
    let mut n = unary(B::Relu, &[4], None);
    let z = n.act("z", &[4], T::Float32, None);
    n.op(B::Relu, &[1], &[z], None);
    n.ops.swap(0, 1);
    n.outputs = vec![z];
    assert!(matches!(err(&n), ReadError::Graph(_)));
}

#[test]
fn huge_tensors() {
    // 2^40 elements (dimensions are int32 in the schema, so no single
    // dimension can be 2^40; the product can).
    let n = unary(B::Relu, &[1 << 20, 1 << 20], None);
    let e = err(&n);
    assert!(msg(&e).starts_with("op #0 (RELU): "), "{e}");
    assert!(
        matches!(e.cause(), ReadError::InvalidTensor { name, .. } if name == "x"),
        "{e}"
    );
    assert!(msg(&e).contains("bytes"), "{e}");

    // A product overflowing usize.
    let n = unary(B::Relu, &[i32::MAX; 8], None);
    assert!(msg(&err(&n)).contains("overflows"));

    // A 16 GiB activation.
    let n = unary(B::Relu, &[65536, 65536], None);
    assert!(msg(&err(&n)).contains("more than"));

    // A constant claiming 2^40 bytes with 4 bytes of data.
    let mut n = Net::new();
    let x = n.act("x", &[1], T::Int8, q(1.0, 0));
    let c = n.constant(
        "big",
        &[1 << 20, 1 << 20],
        T::Int8,
        q(1.0, 0),
        vec![1, 2, 3, 4],
    );
    let y = n.act("y", &[1], T::Int8, q(1.0, 0));
    n.op(B::Add, &[x, c], &[y], None);
    n.inputs = vec![x];
    n.outputs = vec![y];
    let e = err(&n);
    assert!(
        matches!(e.cause(), ReadError::InvalidTensor { name, .. } if name == "big"),
        "{e}"
    );
    assert!(msg(&e).contains("holds 4 bytes"), "{e}");

    // Rank 9.
    let n = unary(B::Relu, &[1; 9], None);
    assert!(msg(&err(&n)).contains("rank 9"));
}

#[test]
fn negative_and_dynamic_dims() {
    let n = unary(B::Relu, &[1, -3], None);
    let e = err(&n);
    assert!(msg(&e).starts_with("op #0 (RELU): "), "{e}");
    assert!(
        matches!(e.cause(), ReadError::DynamicShape { name, .. } if name == "x"),
        "{e}"
    );
    msg(&e);
    let mut n = unary(B::Relu, &[1, 4], None);
    n.tensors[1].shape_signature = Some(vec![1, -1]);
    let e = err(&n);
    assert!(
        matches!(e.cause(), ReadError::DynamicShape { name, .. } if name == "y"),
        "{e}"
    );
    assert!(msg(&e).contains("shape_signature"), "{e}");
    // Signature of another rank.
    n.tensors[1].shape_signature = Some(vec![1, 4, 1]);
    assert!(matches!(err(&n).cause(), ReadError::DynamicShape { .. }));
}

#[test]
fn unsupported_op_and_activation() {
    let e = err(&unary(B::Floor, &[4], None));
    assert!(msg(&e).contains("op #0 is FLOOR"), "{e}");
    let mut n = small_cnn();
    n.ops[0].builtin_options =
        common::conv_options(fb::Padding::Same, 1, fb::ActivationFunctionType::Tanh);
    let e = err(&n);
    assert!(
        msg(&e).contains("op #0 (CONV_2D) has fused activation TANH"),
        "{e}"
    );
}

#[test]
fn wrong_arity_and_options() {
    let mut n = small_cnn();
    n.ops[7].inputs = Some(vec![]);
    let e = err(&n);
    assert!(
        msg(&e).contains("op #7 (SOFTMAX): 0 inputs, expected 1"),
        "{e}"
    );
    let mut n = small_cnn();
    n.ops[1].outputs = Some(vec![]);
    assert!(msg(&err(&n)).contains("MAX_POOL_2D"));
    let mut n = small_cnn();
    n.ops[1].builtin_options = Some(fb::BuiltinOptions::SoftmaxOptions(Box::default()));
    assert!(msg(&err(&n)).contains("wrong type"));
}

#[test]
fn mismatched_constant_shape_arithmetic() {
    // PACK result declared with the wrong length.
    let mut n = small_cnn();
    let t = n
        .tensors
        .iter()
        .position(|t| t.name.as_deref() == Some("flatten/Reshape/shape"))
        .expect("tensor");
    n.tensors[t].shape = Some(vec![3]);
    let e = err(&n);
    assert!(msg(&e).contains("op #4 (PACK)"), "{e}");
}

#[test]
fn shared_buffer_memory_bomb() {
    // One 1 MiB buffer shared by 64 tensors: copying it 64 times would cost
    // far more than the file justifies.
    let mut n = Net::new();
    let x = n.act("x", &[262_144], T::Float32, None);
    let c = n.constant("c0", &[262_144], T::Float32, None, vec![0; 1 << 20]);
    let mut inputs = vec![x];
    for i in 1..64 {
        let t = n.act(&format!("c{i}"), &[262_144], T::Float32, None);
        n.tensors[t as usize].buffer = n.tensors[c as usize].buffer;
        inputs.push(t);
    }
    inputs.push(c);
    let y = n.act("y", &[262_144 * 65], T::Float32, None);
    n.op(
        B::Concatenation,
        &inputs,
        &[y],
        Some(fb::BuiltinOptions::ConcatenationOptions(Box::default())),
    );
    n.inputs = vec![x];
    n.outputs = vec![y];
    let e = err(&n);
    assert!(matches!(e, ReadError::Limit(_)), "{e}");
    msg(&e);
}

#[test]
fn constant_written_by_an_op() {
    let mut n = unary(B::Relu, &[1], None);
    n.buffers.push(fb::Buffer {
        data: Some(i32s(&[0])),
        ..Default::default()
    });
    n.tensors[1].buffer = 1;
    let e = err(&n);
    assert!(matches!(e, ReadError::Graph(_)), "{e}");
}

/// The LSTM variants tinyq has no kernel for (float or integer: peepholes,
/// a projection, layer normalization, a coupled input and forget gate) are
/// refused naming the op and the feature, so `tinyq quantize` and `compile`
/// stop there: the converter's float Keras LSTM with one such input added.
#[test]
fn lstm_variants_are_refused_naming_the_op() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lstm_int8/float.tflite");
    let bytes = std::fs::read(&path).expect("the lstm_int8 fixture");
    let model: fb::Model = fb::ModelRef::read_as_root(&bytes)
        .and_then(TryInto::try_into)
        .expect("a model");
    let with = |slot: usize, from: Option<usize>| {
        let mut m = model.clone();
        let op = &mut m.subgraphs.as_mut().expect("subgraphs")[0]
            .operators
            .as_mut()
            .expect("ops")[0];
        let inputs = op.inputs.as_mut().expect("inputs");
        // A gate bias (`[units]`) stands in for the variant's tensor.
        inputs[slot] = from.map_or(-1, |k| inputs[k]);
        msg(&err_bytes(&serialize(&m, true)))
    };
    for (slot, what) in [
        (9, "peephole weights"),
        (16, "a projection"),
        (20, "layer normalization"),
    ] {
        let m = with(slot, Some(12));
        assert!(
            m.contains(&format!(
                "op #0 (UNIDIRECTIONAL_SEQUENCE_LSTM): {what} is not supported"
            )),
            "{m}"
        );
    }
    let m = with(1, None);
    assert!(
        m.contains("op #0 (UNIDIRECTIONAL_SEQUENCE_LSTM): a coupled input and forget gate"),
        "{m}"
    );
}

fn err_bytes(bytes: &[u8]) -> ReadError {
    match read(bytes) {
        Ok(g) => panic!("read succeeded:\n{}", g.dump()),
        Err(e) => e,
    }
}

//! Bad calibration data and unquantizable models give clear errors, never panics.

mod common;

use ndarray::{ArrayD, IxDyn};
use tinyq_quant::{Fallback, KeepFloat, QuantError, QuantOptions, quantize, quantize_keeping};

fn fixture(name: &str, file: &str) -> std::path::PathBuf {
    tinyq_tests::fixtures_dir().join(name).join(file)
}

fn float_graph(name: &str) -> tinyq_ir::Graph {
    tinyq_tflite::read_file(&fixture(name, "float.tflite")).expect("float model")
}

fn message(r: Result<tinyq_ir::Graph, QuantError>) -> String {
    r.expect_err("must fail").to_string()
}

#[test]
fn wrong_shape_is_named() {
    let g = float_graph("conv_basic");
    let bad = ArrayD::<f32>::zeros(IxDyn(&[4, 8, 8, 5]));
    let m = message(quantize(&g, &[bad], QuantOptions::default()));
    assert!(
        m.contains("shape") && m.contains("serving_default_in0:0"),
        "{m}"
    );
}

#[test]
fn nan_is_refused() {
    let g = float_graph("conv_basic");
    let mut cal = common::read_f32(&fixture("conv_basic", "calib.in0.npy"));
    if let Some(v) = cal.iter_mut().nth(7) {
        *v = f32::NAN;
    }
    let m = message(quantize(&g, &[cal], QuantOptions::default()));
    assert!(m.contains("NaN"), "{m}");
}

#[test]
fn empty_calibration_is_refused() {
    let g = float_graph("conv_basic");
    let empty = ArrayD::<f32>::zeros(IxDyn(&[0, 1, 8, 8, 3]));
    let m = message(quantize(&g, &[empty], QuantOptions::default()));
    assert!(m.contains("no samples"), "{m}");
    let m = message(quantize(&g, &[], QuantOptions::default()));
    assert!(m.contains("1 inputs but 0"), "{m}");
}

#[test]
fn two_input_model_given_one_array() {
    let g = float_graph("two_inputs_two_outputs");
    let cal = common::read_f32(&fixture("two_inputs_two_outputs", "calib.in0.npy"));
    let m = message(quantize(&g, &[cal], QuantOptions::default()));
    assert!(m.contains("2 inputs but 1"), "{m}");
}

#[test]
fn different_sample_counts_are_refused() {
    let g = float_graph("two_inputs_two_outputs");
    let a = common::read_f32(&fixture("two_inputs_two_outputs", "calib.in0.npy"));
    let b = common::read_f32(&fixture("two_inputs_two_outputs", "calib.in1.npy"));
    let b = b
        .slice_axis(ndarray::Axis(0), ndarray::Slice::from(0..1))
        .to_owned();
    let m = message(quantize(&g, &[a, b], QuantOptions::default()));
    assert!(m.contains("different numbers of samples"), "{m}");
}

#[test]
fn quantized_model_is_refused() {
    let g = tinyq_tflite::read_file(&fixture("conv_basic", "int8.tflite")).expect("int8 model");
    let cal = common::read_f32(&fixture("conv_basic", "calib.in0.npy"));
    let m = message(quantize(&g, &[cal], QuantOptions::default()));
    assert!(m.contains("not a float32 model"), "{m}");
}

#[test]
fn concat_with_fused_activation_is_named() {
    let mut g = float_graph("concat");
    let handles: Vec<_> = g.ops.handles().collect();
    for h in handles {
        if let tinyq_ir::OpKind::Concatenation { activation, .. } = &mut g.ops[h].kind {
            *activation = tinyq_ir::Activation::Relu;
        }
    }
    let cal = common::read_f32(&fixture("concat", "calib.in0.npy"));
    let m = message(quantize(
        &g,
        std::slice::from_ref(&cal),
        QuantOptions::default(),
    ));
    assert!(
        m.contains("CONCATENATION") && m.contains("--fallback float"),
        "{m}"
    );

    // With the float fallback the op stays float32 between a DEQUANTIZE per
    // input and a QUANTIZE; tinyq has no float kernel for the fused
    // activation either, so lowering refuses it naming the op.
    let options = QuantOptions {
        fallback: Fallback::Float,
        ..QuantOptions::default()
    };
    let q = quantize(&g, &[cal], options).expect("quantized with the fallback");
    let kinds: Vec<&str> = q.ops.iter().map(|(_, op)| op.kind.name()).collect();
    let concat = q
        .ops
        .iter()
        .find(|(_, op)| matches!(op.kind, tinyq_ir::OpKind::Concatenation { .. }))
        .map(|(_, op)| op)
        .expect("concatenation");
    for &t in concat.inputs.iter().chain(&concat.outputs) {
        assert_eq!(q.tensor(t).dtype, tinyq_ir::DType::F32, "{kinds:?}");
    }
    assert!(
        kinds.contains(&"DEQUANTIZE") && kinds.contains(&"QUANTIZE"),
        "{kinds:?}"
    );
    let err = tinyq_opt::lower(&q).expect_err("no float kernel for the activation");
    assert!(err.to_string().contains("CONCATENATION"), "{err}");
}

#[test]
fn keep_float_names_what_it_cannot_find() {
    let g = float_graph("mnist");
    let cal = common::read_f32(&fixture("mnist", "calib.in0.npy"));
    let keep = |k: KeepFloat| {
        quantize_keeping(
            &g,
            std::slice::from_ref(&cal),
            QuantOptions::default(),
            &[k],
            &mut |_, _| {},
        )
    };
    let m = message(keep(KeepFloat::Op(99)));
    assert!(
        m.contains("--keep-float op 99") && m.contains("7 ops"),
        "{m}"
    );
    let m = message(keep(KeepFloat::parse("no_such_tensor")));
    assert!(
        m.contains("\"no_such_tensor\"") && m.contains("inspect"),
        "{m}"
    );
    // A tensor name keeps its producer: the SOFTMAX, read by nothing else.
    let out = g.tensor(g.outputs[0]).name.clone();
    let q = keep(KeepFloat::parse(&out)).expect("kept by tensor name");
    let softmax = q
        .ops
        .iter()
        .find(|(_, op)| matches!(op.kind, tinyq_ir::OpKind::Softmax { .. }))
        .map(|(_, op)| op)
        .expect("softmax");
    assert_eq!(q.tensor(softmax.outputs[0]).dtype, tinyq_ir::DType::F32);
    // int8 I/O: the output is the QUANTIZE of the float result, under the model's name.
    assert_eq!(q.tensor(q.outputs[0]).dtype, tinyq_ir::DType::I8);
    assert_eq!(q.tensor(q.outputs[0]).name, out);
}

/// I/O types that do not fit the activations, and ops without a 16x8 form.
#[test]
fn int16_options_and_ops_are_checked() {
    use tinyq_quant::{Activations, IoMode};
    let g = float_graph("conv_basic");
    let cal = common::read_f32(&fixture("conv_basic", "calib.in0.npy"));
    let with = |activations, io| QuantOptions {
        activations,
        io,
        ..QuantOptions::default()
    };
    for io in [IoMode::Int8, IoMode::Uint8] {
        let m = message(quantize(
            &g,
            std::slice::from_ref(&cal),
            with(Activations::Int16, io),
        ));
        assert!(m.contains("does not fit int16 activations"), "{m}");
    }
    let m = message(quantize(
        &g,
        std::slice::from_ref(&cal),
        with(Activations::Int8, IoMode::Int16),
    ));
    assert!(m.contains("int16 I/O needs int16 activations"), "{m}");
    for io in [IoMode::Int16, IoMode::Float] {
        let q = quantize(&g, std::slice::from_ref(&cal), with(Activations::Int16, io))
            .expect("16x8 quantizes");
        let conv = q
            .ops
            .iter()
            .map(|(_, op)| op)
            .find(|op| op.kind.name() == "CONV_2D");
        let conv = conv.expect("a CONV_2D");
        assert_eq!(q.tensor(conv.inputs[0]).dtype, tinyq_ir::DType::I16);
        assert_eq!(q.tensor(conv.inputs[0]).scale_zp().map(|p| p.1), Some(0));
        assert_eq!(q.tensor(conv.inputs[1]).dtype, tinyq_ir::DType::I8);
        assert_eq!(q.tensor(conv.inputs[2]).dtype, tinyq_ir::DType::I64);
    }

    let prelu = float_graph("prelu");
    let cal = common::read_f32(&fixture("prelu", "calib.in0.npy"));
    let m = message(quantize(
        &prelu,
        &[cal],
        with(Activations::Int16, IoMode::Int16),
    ));
    assert!(m.contains("PRELU") && m.contains("no 16x8"), "{m}");
}

/// The integer LSTM is int8 with an int16 cell (TFLM's 8x8->16 kernel): a
/// 16x8 quantization or an LSTM kept float32 is refused naming the op.
#[test]
fn lstm_without_an_integer_form_is_refused_naming_the_op() {
    let g = float_graph("lstm_int8");
    let cal = common::read_f32(&fixture("lstm_int8", "calib.in0.npy"));
    let wide = QuantOptions {
        activations: tinyq_quant::Activations::Int16,
        io: tinyq_quant::IoMode::Int16,
        ..QuantOptions::default()
    };
    let m = message(quantize(&g, std::slice::from_ref(&cal), wide));
    assert!(
        m.contains("op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM) cannot be quantized")
            && m.contains("--activations int8"),
        "{m}"
    );
    let m = message(quantize_keeping(
        &g,
        &[cal],
        QuantOptions::default(),
        &[KeepFloat::Op(0)],
        &mut |_, _| {},
    ));
    assert!(
        m.contains("op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM) cannot be quantized")
            && m.contains("cannot stay float32"),
        "{m}"
    );
}

//! Models tinyq reads but did not always: float16 weights behind DEQUANTIZE
//! are widened exactly as the runtime does, and models with ops tinyq
//! cannot compile are refused naming the op (`tests/coverage`,
//! from `xtask/fixtures/coverage_models.py`).

use std::fs::File;

use ndarray::{ArrayD, Dimension as _};
use ndarray_npy::NpzReader;
use tinyq_compiler::{Calibration, Session};
use tinyq_ir::DType;
use tinyq_quant::QuantOptions;

fn coverage(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("coverage")
        .join(name)
}

/// Every constant a DEQUANTIZE of float16 weights produced equals, bit for
/// bit, what LiteRT's DEQUANTIZE computed from the same file.
#[test]
fn float16_weights_are_widened_as_litert_does() {
    let graph = tinyq_tflite::read_file(&coverage("fp16_weights.tflite")).expect("readable");
    let mut npz =
        NpzReader::new(File::open(coverage("fp16_weights.dequantized.npz")).expect("npz"))
            .expect("an npz file");
    let names = npz.names().expect("names");
    assert!(
        names.len() >= 4,
        "expected the weights and biases of 3 layers: {names:?}"
    );
    for name in names {
        let expected: ArrayD<f32> = npz.by_name(&name).expect("float32 array");
        let tensor_name = name.strip_suffix(".npy").unwrap_or(&name);
        let (_, t) = graph
            .tensors
            .iter()
            .find(|(_, t)| t.name == tensor_name)
            .unwrap_or_else(|| panic!("no tensor {tensor_name:?} in the graph"));
        assert_eq!(t.dtype, DType::F32);
        assert_eq!(t.shape, expected.shape(), "{tensor_name}");
        let data = t.data.as_ref().expect("a widened constant");
        let expected_bytes: Vec<u8> = expected.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(data, &expected_bytes, "{tensor_name}");
    }
    // No DEQUANTIZE is left: the model is a plain float32 model.
    assert!(
        graph
            .ops
            .iter()
            .all(|(_, op)| op.kind.name() != "DEQUANTIZE")
    );
}

/// A float16-weight model quantizes and compiles like any float model.
#[test]
fn float16_weights_model_compiles_with_calibration() {
    let session = Session::new();
    let model = session
        .read_file(&coverage("fp16_weights.tflite"))
        .expect("readable");
    let input = model.graph.tensor(model.graph.inputs[0]);
    let mut shape = input.shape.clone();
    shape[0] = 8;
    let samples = ArrayD::from_shape_fn(shape, |idx| {
        let v: usize = idx
            .as_array_view()
            .iter()
            .enumerate()
            .map(|(i, &x)| (i + 3) * x)
            .sum();
        (v % 17) as f32 / 8.0 - 1.0
    });
    let calibration = Calibration {
        samples: std::slice::from_ref(&samples),
        options: QuantOptions::default(),
        progress: None,
    };
    let compiled = session
        .compile(&model, Some(calibration))
        .expect("compiles");
    assert!(compiled.quantized);
    assert!(!compiled.program.steps.is_empty());
}

/// The converter's int8 LSTM (lstm_seq's, 6 units) compiles to the integer
/// LSTM kernel, its int8 hidden and int16 cell state (18 B) one block of
/// the persistent region.
#[test]
fn the_converters_int8_lstm_compiles() {
    let session = Session::new();
    let model = session
        .read_file(&coverage("lstm_int8.tflite"))
        .expect("readable");
    let program = session.compile(&model, None).expect("compiles").program;
    let kernels: Vec<&str> = program.steps.iter().map(|s| s.kernel.name()).collect();
    assert_eq!(kernels, ["lstm_int8"]);
    assert_eq!(program.state_size, 32);
}

/// Refusals name the operator (index and TFLite name), never only a tensor.
#[test]
fn refusals_name_the_operator() {
    let cases = [("lstm.tflite", "op #1 is WHILE")];
    for (file, expected) in cases {
        let session = Session::new();
        let error = session
            .read_file(&coverage(file))
            .and_then(|model| session.compile(&model, None))
            .map(|_| ())
            .expect_err(file)
            .to_string();
        assert!(error.contains(expected), "{file}: {error}");
    }
}

/// The converter's 16x8 residual, gating, pooling and sigmoid blocks (CONV_2D
/// then an int16 ADD, MUL, MAX_POOL_2D or LOGISTIC) compile since the int16
/// kernels; their numbers are checked against TFLM on the fixtures
/// (`seanet_16x8`, `add_sub_mul`, `pooling`, `logistic_16x8`).
#[test]
fn int16x8_add_and_mul_compile() {
    for (file, kernel) in [
        ("int16x8_add.tflite", "add_i16"),
        ("int16x8_mul.tflite", "mul_i16"),
        ("int16x8_pool.tflite", "max_pool_i16"),
        ("int16x8_logistic.tflite", "logistic_i16"),
    ] {
        let session = Session::new();
        let model = session.read_file(&coverage(file)).expect("readable");
        let compiled = session.compile(&model, None).expect(file);
        let kernels: Vec<&str> = compiled
            .program
            .steps
            .iter()
            .map(|s| s.kernel.name())
            .collect();
        assert!(kernels.contains(&kernel), "{file}: {kernels:?}");
    }
}

/// The 16x8 LOGISTIC coverage model (once refused) equals TFLM byte for
/// byte through the interpreter, on int16 codes from both ends
/// (`int16x8_logistic.{in0,out0}.npy`, `xtask/fixtures/coverage_tflm_outputs.py`).
#[test]
fn int16x8_logistic_equals_tflm() {
    let session = Session::new();
    let model = session
        .read_file(&coverage("int16x8_logistic.tflite"))
        .expect("readable");
    let program = session.compile(&model, None).expect("compiles").program;
    let input = tinyq_tests::read_npy(&coverage("int16x8_logistic.in0.npy")).expect("in0");
    let expected = tinyq_tests::read_npy(&coverage("int16x8_logistic.out0.npy")).expect("out0");
    let mut interp = tinyq_interp::Interpreter::new(&program);
    for sample in 0..input.samples() {
        let mut out = vec![0u8; program.outputs[0].byte_len()];
        interp
            .invoke(&[input.sample(sample)], &mut [out.as_mut_slice()])
            .expect("runs");
        assert!(
            out == expected.sample(sample),
            "sample {sample} differs from TFLM"
        );
    }
}

/// MediaPipe's float16 face detector (`tests/thirdparty`), quantized by tinyq
/// from its committed calibration images: tinyq's outputs equal what TFLM
/// computed on the model `tinyq quantize` wrote, byte for byte.
#[test]
fn mediapipe_face_detector_quantized_by_tinyq_equals_tflm() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("thirdparty/mediapipe_face_detection_short_range");
    let session = Session::new();
    let model = session
        .read_file(&dir.join("model.tflite"))
        .expect("readable");
    let file = File::open(dir.join("calib.npy")).expect("calib.npy");
    let calib = <ArrayD<f32> as ndarray_npy::ReadNpyExt>::read_npy(file).expect("float32 images");
    let calibration = Calibration {
        samples: std::slice::from_ref(&calib),
        options: QuantOptions::default(),
        progress: None,
    };
    let program = session
        .compile(&model, Some(calibration))
        .expect("compiles")
        .program;
    let inputs = tinyq_tests::read_npy(&dir.join("in.npy")).expect("in.npy");
    let expected: Vec<_> = (0..program.outputs.len())
        .map(|k| tinyq_tests::read_npy(&dir.join(format!("out{k}.npy"))).expect("outK.npy"))
        .collect();
    let mut interp = tinyq_interp::Interpreter::new(&program);
    assert_eq!(inputs.samples(), 3);
    for sample in 0..inputs.samples() {
        let mut outs: Vec<Vec<u8>> = program
            .outputs
            .iter()
            .map(|o| vec![0; o.byte_len()])
            .collect();
        let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        interp
            .invoke(&[inputs.sample(sample)], &mut refs)
            .expect("runs");
        for (k, (got, want)) in outs.iter().zip(&expected).enumerate() {
            assert!(
                got.as_slice() == want.sample(sample),
                "sample {sample} output {k} differs from TFLM"
            );
        }
    }
}

/// Quantizing a float LSTM (`tinyq quantize`, `compile --calibration`)
/// gives the integer LSTM (int8 data and hidden state, int16 cell state);
/// with int16 activations it is refused naming the op and why (tinyq's
/// integer LSTM is TFLM's 8x8->16 one).
#[test]
fn quantizing_a_float_lstm_gives_the_integer_lstm() {
    let session = Session::new();
    let path = tinyq_tests::fixtures_dir().join("lstm_seq/float.tflite");
    let model = session.read_file(&path).expect("readable");
    let samples = ArrayD::from_shape_fn(vec![4, 1, 5, 3], |d| {
        (d.as_array_view().iter().sum::<usize>() % 7) as f32 * 0.3 - 0.9
    });
    let compile = |options| {
        let calibration = Calibration {
            samples: std::slice::from_ref(&samples),
            options,
            progress: None,
        };
        session.compile(&model, Some(calibration)).map(|_| ())
    };
    compile(QuantOptions::default()).expect("the float LSTM quantizes and compiles");
    let error = compile(QuantOptions {
        activations: tinyq_quant::Activations::Int16,
        io: tinyq_quant::IoMode::Int16,
        ..QuantOptions::default()
    })
    .expect_err("no 16x8 LSTM")
    .to_string();
    assert!(
        error.contains(
            "op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM) cannot be quantized: tinyq's integer LSTM takes int8 activations"
        ),
        "{error}"
    );
}

//! `include_model!` expands to working code: an int8 fixture equals TFLM
//! byte for byte, a float model without calibration data compiles as
//! float32 and equals TFLM's float outputs bit for bit, and a float model
//! quantized at build time with its calibration data equals the
//! interpreter on the same quantized program.

use tinyq_tests::read_npy;

mod conv_int8 {
    tinyq::include_model!("../../tests/fixtures/conv_basic/int8.tflite");
}

mod conv_float {
    tinyq::include_model!(
        "../../tests/fixtures/conv_basic/float.tflite",
        calibration = "../../tests/fixtures/conv_basic/calib.in0.npy",
        io = float,
        name = "conv",
    );
}

mod conv_f32 {
    tinyq::include_model!("../../tests/fixtures/conv_basic/float.tflite");
}

mod mnist_f32 {
    tinyq::include_model!("../../tests/fixtures/mnist/float.tflite");
}

fn fixture(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

#[test]
fn int8_model_equals_tflm() {
    let input = read_npy(&fixture("conv_basic/int8.in0.npy")).expect("input");
    let want = read_npy(&fixture("conv_basic/int8.out0.npy")).expect("output");
    let mut arena = conv_int8::Arena::new();
    for s in 0..input.samples() {
        // Typed API.
        let x: [i8; conv_int8::INPUT_0_LEN] = std::array::from_fn(|i| input.sample(s)[i] as i8);
        let mut y = [0i8; conv_int8::OUTPUT_0_LEN];
        conv_int8::invoke(&x, &mut y, &mut arena).expect("invoke");
        let got: Vec<u8> = y.iter().map(|&v| v as u8).collect();
        assert_eq!(got, want.sample(s), "sample {s}");
        // Byte API.
        let mut out = vec![0u8; conv_int8::OUTPUT_SIZES[0]];
        conv_int8::invoke_bytes(&[input.sample(s)], &mut [&mut out], &mut arena)
            .expect("invoke_bytes");
        assert_eq!(out, want.sample(s), "sample {s}");
    }
    // Wrong buffers are errors, not panics.
    let mut out = vec![0u8; 3];
    let err = conv_int8::invoke_bytes(&[input.sample(0)], &mut [&mut out], &mut arena);
    assert!(
        matches!(err, Err(conv_int8::Error::OutputSize { index: 0, .. })),
        "{err:?}"
    );
    let err = conv_int8::invoke_bytes(&[], &mut [], &mut arena);
    assert!(
        matches!(err, Err(conv_int8::Error::InputCount { .. })),
        "{err:?}"
    );
    // The planned arena: conv_basic's one step reads the input and writes
    // the output, both the caller's buffers.
    assert_eq!(conv_int8::ARENA_SIZE, 0);
    assert_eq!(std::mem::align_of::<conv_int8::Arena>(), 16);
}

/// The float32 outputs of `invoke_bytes` on every sample of a fixture.
fn float_outputs(
    invoke: &mut dyn FnMut(&[u8], &mut [u8]),
    input: &tinyq_tests::RawArray,
    out_size: usize,
) -> Vec<u8> {
    let mut all = Vec::new();
    for s in 0..input.samples() {
        let mut out = vec![0u8; out_size];
        invoke(input.sample(s), &mut out);
        all.extend_from_slice(&out);
    }
    all
}

#[test]
fn float_models_without_calibration_equal_tflm() {
    let input = read_npy(&fixture("conv_basic/float.in0.npy")).expect("input");
    let want = read_npy(&fixture("conv_basic/float.out0.npy")).expect("output");
    let mut arena = conv_f32::Arena::new();
    let got = float_outputs(
        &mut |x, y| {
            conv_f32::invoke_bytes(&[x], &mut [y], &mut arena).expect("invoke_bytes");
        },
        &input,
        conv_f32::OUTPUT_SIZES[0],
    );
    assert_eq!(got, want.bytes);
    // Typed API: f32 arrays in and out.
    let x: [f32; conv_f32::INPUT_0_LEN] = std::array::from_fn(|i| {
        let b = &input.sample(0)[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    });
    let mut y = [0f32; conv_f32::OUTPUT_0_LEN];
    conv_f32::invoke(&x, &mut y, &mut arena).expect("invoke");
    let typed: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(typed, want.sample(0));

    // MNIST ends in SOFTMAX: the `core`-only `exp` equals glibc's here too.
    let input = read_npy(&fixture("mnist/float.in0.npy")).expect("input");
    let want = read_npy(&fixture("mnist/float.out0.npy")).expect("output");
    let mut arena = mnist_f32::Arena::new();
    let got = float_outputs(
        &mut |x, y| {
            mnist_f32::invoke_bytes(&[x], &mut [y], &mut arena).expect("invoke_bytes");
        },
        &input,
        mnist_f32::OUTPUT_SIZES[0],
    );
    assert_eq!(got, want.bytes);
}

#[test]
fn float_model_with_calibration_equals_interpreter() {
    use ndarray_npy::ReadNpyExt as _;
    let session = tinyq_compiler::Session::new();
    let model = session
        .read_file(&fixture("conv_basic/float.tflite"))
        .expect("model");
    let calib = std::fs::File::open(fixture("conv_basic/calib.in0.npy")).expect("calib");
    let calib = ndarray::ArrayD::<f32>::read_npy(calib).expect("npy");
    let options = tinyq_compiler::QuantOptions {
        io: tinyq_compiler::IoMode::Float,
        ..Default::default()
    };
    let calibration = tinyq_compiler::Calibration {
        samples: &[calib],
        options,
        progress: None,
    };
    let program = session
        .compile(&model, Some(calibration))
        .expect("compile")
        .program;
    let mut interp = tinyq_interp::Interpreter::new(&program);
    let input = read_npy(&fixture("conv_basic/floatio.in0.npy")).expect("input");
    let mut arena = conv_float::Arena::new();
    assert_eq!(conv_float::INPUT_SIZES[0], program.inputs[0].byte_len());
    for s in 0..input.samples() {
        let mut want = vec![0u8; program.outputs[0].byte_len()];
        interp
            .invoke(&[input.sample(s)], &mut [&mut want])
            .expect("interp");
        let mut got = vec![0u8; conv_float::OUTPUT_SIZES[0]];
        conv_float::invoke_bytes(&[input.sample(s)], &mut [&mut got], &mut arena)
            .expect("invoke_bytes");
        assert_eq!(got, want, "sample {s}");
        // Typed API on f32 arrays: the same numbers.
        let x: [f32; conv_float::INPUT_0_LEN] = std::array::from_fn(|i| {
            let b = &input.sample(s)[4 * i..4 * i + 4];
            f32::from_le_bytes([b[0], b[1], b[2], b[3]])
        });
        let mut y = [0f32; conv_float::OUTPUT_0_LEN];
        conv_float::invoke(&x, &mut y, &mut arena).expect("invoke");
        let typed: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(typed, want, "sample {s}");
    }
}

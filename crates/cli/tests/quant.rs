//! `tinyq run` on float models and `tinyq eval`.

mod common;

use std::path::PathBuf;
use std::process::Output;

use tinyq_tests::{fixtures_dir, read_npy};

use common::{path_str as s, tinyq};

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyq-cli-quant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_executes_float_models_like_tflm() {
    let dir = fixture("conv_basic");
    let out_path = scratch("conv_basic_float.npy");
    let out = tinyq(&[
        "run",
        s(&dir.join("float.tflite")),
        "--input",
        s(&dir.join("float.in0.npy")),
        "--output",
        s(&out_path),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = read_npy(&out_path).expect("output written");
    let want = read_npy(&dir.join("float.out0.npy")).expect("reference");
    assert_eq!(got.shape, want.shape);
    let f = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (g, w) = (f(&got.bytes), f(&want.bytes));
    let worst = g
        .iter()
        .zip(&w)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 1e-5, "max abs error {worst}");
}

#[test]
fn eval_reports_float_and_int8_accuracy_on_mnist() {
    let dir = fixture("mnist");
    let out = tinyq(&[
        "eval",
        s(&dir.join("float.tflite")),
        "--data",
        s(&dir.join("float.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
        "--per-tensor",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("float accuracy:"), "{text}");
    assert!(text.contains("int8 accuracy:"), "{text}");
    assert!(text.contains("SQNR"), "{text}");
    assert_eq!(text.matches("CONV_2D").count(), 2, "{text}");
    // Progress is drawn on a terminal's stderr only: never on stdout, and
    // not into logs or pipes (as here).
    assert!(!text.contains("evaluating"), "{text}");
    assert!(!stderr(&out).contains("evaluating"), "{}", stderr(&out));
}

#[test]
fn eval_of_an_int8_model_reports_its_accuracy() {
    let dir = fixture("mnist");
    let out = tinyq(&[
        "eval",
        s(&dir.join("int8.tflite")),
        "--data",
        s(&dir.join("float.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("accuracy:"));
}

#[test]
fn eval_of_a_float_model_needs_calibration() {
    let dir = fixture("mnist");
    let out = tinyq(&[
        "eval",
        s(&dir.join("float.tflite")),
        "--data",
        s(&dir.join("float.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--calibration"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn eval_rejects_mismatched_labels_and_bad_calibration() {
    let dir = fixture("mnist");
    // Labels of another length.
    let out = tinyq(&[
        "eval",
        s(&dir.join("float.tflite")),
        "--data",
        s(&dir.join("calib.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("labels"), "{}", stderr(&out));
    // Calibration data of the wrong shape.
    let out = tinyq(&[
        "eval",
        s(&dir.join("float.tflite")),
        "--data",
        s(&dir.join("float.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
        "--calibration",
        s(&fixture("conv_basic").join("calib.in0.npy")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("calib.in0.npy") && err.contains("shape"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `--activations int16`: the 16x8 model tinyq writes is the fixture whose
/// TFLM outputs the bit-exact tests compare with (`tinyq_int16x8*.tflite`),
/// byte for byte, with int16 and with float I/O.
#[test]
fn quantize_int16_writes_the_16x8_fixtures() {
    let dir = fixture("conv_basic");
    let (model, calib) = (dir.join("float.tflite"), dir.join("calib.in0.npy"));
    for (io, variant) in [
        (None, "tinyq_int16x8"),
        (Some("float"), "tinyq_int16x8_floatio"),
    ] {
        let path = scratch(&format!("{variant}.tflite"));
        let mut args = vec![
            "quantize",
            s(&model),
            "--calibration",
            s(&calib),
            "--activations",
            "int16",
            "-o",
            s(&path),
        ];
        if let Some(io) = io {
            args.extend(["--io", io]);
        }
        let out = tinyq(&args);
        assert!(out.status.success(), "{variant}: {}", stderr(&out));
        let written = std::fs::read(&path).expect("written");
        let fixture = std::fs::read(dir.join(format!("{variant}.tflite"))).expect("fixture");
        assert!(written == fixture, "{variant}: differs from the fixture");
    }
}

/// `compile --activations int16 --emit c` quantizes and compiles in one go;
/// the Edge TPU check says why a 16x8 model does not map.
#[test]
fn compile_int16_emits_16x8_code() {
    let dir = fixture("dense");
    let out_dir = scratch("dense_16x8");
    std::fs::create_dir_all(&out_dir).expect("out dir");
    let out = tinyq(&[
        "compile",
        s(&dir.join("float.tflite")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
        "--activations",
        "int16",
        "--emit",
        "c",
        "--name",
        "dense16",
        "--out",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("fully_connected_16x8"),
        "{}",
        stdout(&out)
    );
    let header = std::fs::read_to_string(out_dir.join("dense16.h")).expect("header");
    assert!(header.contains("int16"), "{header}");

    let model = scratch("dense_16x8.tflite");
    let out = tinyq(&[
        "quantize",
        s(&dir.join("float.tflite")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
        "--activations",
        "int16",
        "-o",
        s(&model),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tinyq(&["check", s(&model), "--target", "edgetpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("int16 activations (16x8 quantization) are not supported by the Edge TPU"),
        "{text}"
    );
}

/// The I/O types that do not fit int16 activations, `--activations` where
/// nothing is quantized, and an op without a 16x8 form: one clear error each.
#[test]
fn int16_activation_errors_are_clear() {
    let dir = fixture("conv_basic");
    let (model, calib) = (dir.join("float.tflite"), dir.join("calib.in0.npy"));
    let out_path = scratch("bad_16x8.tflite");
    for (io, want) in [
        (
            "uint8",
            "--io uint8 with --activations int16: uint8 I/O does not fit int16 activations",
        ),
        (
            "int8",
            "--io int8 with --activations int16: int8 I/O does not fit int16 activations",
        ),
    ] {
        let out = tinyq(&[
            "quantize",
            s(&model),
            "--calibration",
            s(&calib),
            "--activations",
            "int16",
            "--io",
            io,
            "-o",
            s(&out_path),
        ]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains(want), "{err}");
        assert!(
            err.contains("int16 I/O (the default) or float I/O"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Without --calibration nothing is quantized.
    let out = tinyq(&[
        "compile",
        s(&model),
        "--activations",
        "int16",
        "--emit",
        "c",
        "--out",
        s(&scratch("unused")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--activations") && err.contains("needs --calibration"),
        "{err}"
    );

    // PRELU has no 16x8 form (the TF converter refuses it too).
    let prelu = fixture("prelu");
    let out = tinyq(&[
        "quantize",
        s(&prelu.join("float.tflite")),
        "--calibration",
        s(&prelu.join("calib.in0.npy")),
        "--activations",
        "int16",
        "-o",
        s(&out_path),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("PRELU") && err.contains("no 16x8"), "{err}");
}

/// An op TFLM runs in 16x8 but tinyq's backends do not compile yet: the
/// model is still written (TFLM can run it), and `compile` refuses it
/// naming the op.
#[test]
fn int16_ops_without_a_16x8_kernel_quantize_but_do_not_compile() {
    let dir = fixture("transpose");
    let (model, calib) = (dir.join("float.tflite"), dir.join("calib.in0.npy"));
    let out = tinyq(&[
        "quantize",
        s(&model),
        "--calibration",
        s(&calib),
        "--activations",
        "int16",
        "-o",
        s(&scratch("transpose_16x8.tflite")),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = tinyq(&[
        "compile",
        s(&model),
        "--calibration",
        s(&calib),
        "--activations",
        "int16",
        "--emit",
        "c",
        "--out",
        s(&scratch("transpose_16x8")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("op 0 (TRANSPOSE)") && err.contains("computes in i16"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn keep_float_writes_the_mixed_fixture_model() {
    let dir = fixture("mnist");
    let out_path = scratch("mnist_mixed.tflite");
    let (model, calib) = (dir.join("float.tflite"), dir.join("calib.in0.npy"));
    let mut args = vec![
        "quantize",
        s(&model),
        "--calibration",
        s(&calib),
        "--fallback",
        "float",
    ];
    for op in ["1", "5", "6"] {
        args.extend(["--keep-float", op]);
    }
    args.extend(["-o", s(&out_path)]);
    let out = tinyq(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    // The fixture TFLM ran (`cargo xtask fixtures` writes it the same way).
    let want = std::fs::read(dir.join("tinyq_mixed_int8.tflite")).expect("fixture");
    assert!(std::fs::read(&out_path).expect("written") == want);
}

#[test]
fn keep_float_and_fallback_errors_say_what_to_do() {
    let dir = fixture("mnist");
    let out = tinyq(&[
        "quantize",
        s(&dir.join("float.tflite")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
        "--keep-float",
        "42",
        "-o",
        s(&scratch("never.tflite")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--keep-float op 42") && err.contains("7 ops"),
        "{err}"
    );
    let out = tinyq(&[
        "compile",
        s(&dir.join("float.tflite")),
        "--fallback",
        "float",
        "--emit",
        "c",
        "--out",
        s(&scratch("never")),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--calibration") && err.contains("float.tflite"),
        "{err}"
    );
}

#[test]
fn eval_with_int16_activations_scores_the_16x8_model_it_would_write() {
    let dir = fixture("mnist");
    let (float, samples, labels, calibration) = (
        dir.join("float.tflite"),
        dir.join("float.in0.npy"),
        dir.join("test_labels.npy"),
        dir.join("calib.in0.npy"),
    );
    let data = ["--data", s(&samples), "--labels", s(&labels)];
    let mut args = vec!["eval", s(&float)];
    args.extend(data);
    args.extend(["--calibration", s(&calibration)]);
    args.extend(["--activations", "int16"]);
    let out = tinyq(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("int16x8 model:") && text.contains("io int16"),
        "{text}"
    );
    let in_memory = text
        .lines()
        .find_map(|l| l.strip_prefix("int16x8 accuracy:"))
        .unwrap_or_else(|| panic!("no int16x8 accuracy line in {text}"))
        .trim()
        .to_string();

    // The same model written by `quantize` and evaluated as a file (int16
    // inputs fed, int16 outputs read) scores the same samples the same way.
    let model = scratch("mnist_16x8.tflite");
    let out = tinyq(&[
        "quantize",
        s(&float),
        "--calibration",
        s(&calibration),
        "--activations",
        "int16",
        "-o",
        s(&model),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut args = vec!["eval", s(&model)];
    args.extend(data);
    let out = tinyq(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let from_file = text
        .lines()
        .find_map(|l| l.strip_prefix("accuracy:"))
        .unwrap_or_else(|| panic!("no accuracy line in {text}"))
        .trim();
    assert_eq!(from_file, in_memory);
}

#[test]
fn eval_refuses_uint8_io_with_int16_activations_before_calibrating() {
    let dir = fixture("mnist");
    let out = tinyq(&[
        "eval",
        s(&dir.join("float.tflite")),
        "--data",
        s(&dir.join("float.in0.npy")),
        "--labels",
        s(&dir.join("test_labels.npy")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
        "--activations",
        "int16",
        "--io",
        "uint8",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--io uint8 with --activations int16"), "{err}");
    assert!(stdout(&out).is_empty() || !stdout(&out).contains("accuracy"));
}

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

#[test]
fn keep_float_writes_the_mixed_fixture_model() {
    let dir = fixture("mnist");
    let out_path = scratch("mnist_mixed.tflite");
    let mut args = vec![
        "quantize",
        s(&dir.join("float.tflite")),
        "--calibration",
        s(&dir.join("calib.in0.npy")),
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

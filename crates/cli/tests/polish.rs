//! The option rules shared with `include_model!`, `--version`,
//! `completions`, and `inspect --json`'s structured quantization.

mod common;

use tinyq_tests::fixtures_dir;

use common::{path_str, tinyq};

fn stderr_of(args: &[&str]) -> String {
    let out = tinyq(args);
    assert!(!out.status.success(), "tinyq {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn option_rules_use_the_shared_words() {
    let int8 = fixtures_dir().join("conv_basic/int8.tflite");
    let calib = fixtures_dir().join("conv_basic/calib.in0.npy");
    let dir = std::env::temp_dir().join(format!("tinyq-polish-{}", std::process::id()));
    let base = [
        "compile",
        path_str(&int8),
        "--emit",
        "c",
        "--out",
        path_str(&dir),
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        stderr_of(&args)
    };
    let io = tinyq_compiler::OptionError::IoOnInteger.to_string();
    let cal = tinyq_compiler::OptionError::CalibrationOnInteger.to_string();
    assert!(with(&["--io", "uint8"]).contains(&io));
    assert!(with(&["--calibration", path_str(&calib)]).contains(&cal));
    let err = with(&["--name", "2-layer"]);
    assert!(err.contains("`2-layer` is not a valid name"), "{err}");
    assert!(err.contains("`m_2_layer`"), "{err}");
}

#[test]
fn version_and_completions() {
    let out = tinyq(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tinyq {}", env!("CARGO_PKG_VERSION"))
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = tinyq(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("tinyq") && text.contains("trace-diff"),
            "{shell}"
        );
    }
    assert!(!tinyq(&["completions", "tcsh"]).status.success());
}

#[test]
fn inspect_json_has_structured_quantization() {
    let model = fixtures_dir().join("conv_basic/int8.tflite");
    let out = tinyq(&["inspect", path_str(&model), "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let q = &json["inputs"][0]["quantization"];
    assert!(q["scales"].as_array().is_some_and(|s| s.len() == 1), "{q}");
    assert!(
        q["zero_points"].as_array().is_some_and(|z| z.len() == 1),
        "{q}"
    );
    assert!(q["axis"].is_u64(), "{q}");
    // Per-channel weights: one scale per output channel.
    let op = &json["ops"][0];
    let filter = &op["inputs"][1]["quantization"];
    assert!(
        filter["scales"].as_array().is_some_and(|s| s.len() > 1),
        "{op}"
    );
}

#[test]
fn eval_on_a_non_classifier_reports_error_not_accuracy() {
    let f = |p: &str| fixtures_dir().join(p);
    let model = f("conv_basic/floatio.tflite");
    let data = f("conv_basic/floatio.in0.npy");
    let labels = f("conv_basic/floatio.out0.npy");
    let out = tinyq(&[
        "eval",
        path_str(&model),
        "--data",
        path_str(&data),
        "--labels",
        path_str(&labels),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error vs labels: SQNR "), "{text}");
    assert!(text.contains("max abs error"), "{text}");
    assert!(!text.contains("accuracy"), "{text}");
}

#[test]
fn compile_report_with_calibration_has_sqnr() {
    let f = |p: &str| fixtures_dir().join(p);
    let dir = std::env::temp_dir().join(format!("tinyq-polish-sqnr-{}", std::process::id()));
    let report = dir.join("r.json");
    let out = tinyq(&[
        "compile",
        path_str(&f("conv_basic/float.tflite")),
        "--calibration",
        path_str(&f("conv_basic/calib.in0.npy")),
        "--emit",
        "c",
        "--out",
        path_str(&dir),
        "--report",
        path_str(&report),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    let steps = json["steps"].as_array().expect("steps");
    assert!(
        steps
            .iter()
            .any(|s| s["sqnr_db"].as_f64().is_some_and(|v| v > 20.0)),
        "{json}"
    );
}

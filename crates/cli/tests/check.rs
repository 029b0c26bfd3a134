//! `tinyq check MODEL --target edgetpu [--json] [--multiple-subgraphs]`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use tinyq_tests::fixtures_dir;

use common::tinyq;

fn fixture(name: &str) -> String {
    let p = fixtures_dir().join(name);
    p.to_str().expect("utf-8 path").to_owned()
}

/// Runs `tinyq check` and returns stdout, asserting success.
fn check(args: &[&str]) -> String {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let out = tinyq(&all);
    assert!(
        out.status.success(),
        "tinyq {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let model = fixture("flatten_dense/int8.tflite");
    let text = check(&[&model, "--target", "edgetpu", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let obj = v.as_object().expect("an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    // serde_json's map is sorted; the text keeps the documented order.
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        text.starts_with(r#"{"target":"edgetpu","mapped":1,"cpu":4,"segments":1,"ops":[{"index":0,"op":"SHAPE","name":"#),
        "{text}"
    );
    let ops = obj["ops"].as_array().expect("ops array");
    // One entry per op of the model as given: the shape arithmetic too.
    let listed: Vec<&str> = ops.iter().map(|o| o["op"].as_str().unwrap_or("")).collect();
    assert_eq!(
        listed,
        [
            "SHAPE",
            "STRIDED_SLICE",
            "PACK",
            "RESHAPE",
            "FULLY_CONNECTED"
        ]
    );
    for (i, o) in ops.iter().enumerate() {
        let o = o.as_object().expect("op object");
        let keys: Vec<&String> = o.keys().collect();
        // An op that does not map also says what to do.
        let mapped = o["mapped"].as_bool() == Some(true);
        assert_eq!(keys.len(), if mapped { 5 } else { 6 }, "{keys:?}");
        assert_eq!(o.contains_key("hint"), !mapped, "{keys:?}");
        assert_eq!(o["index"].as_u64(), Some(i as u64));
        assert!(o["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(o["mapped"].is_boolean());
        assert!(o["status"].is_string());
    }
    assert_eq!(ops[4]["mapped"], serde_json::Value::Bool(true));
    assert_eq!(ops[4]["status"], "Mapped to Edge TPU");
    assert_eq!(ops[0]["status"], "Operation not supported");
    assert_eq!(
        ops[3]["status"],
        "Filter, bias, or other param is not constant at compile-time"
    );
    // Field order within each op, as documented.
    assert!(
        text.contains(r#"{"index":4,"op":"FULLY_CONNECTED","name":"#),
        "{text}"
    );
    assert!(
        text.contains(r#","mapped":true,"status":"Mapped to Edge TPU"}]}"#),
        "{text}"
    );
}

#[test]
fn the_table_follows_the_compiler_layout() {
    let model = fixture("act_leaky_relu/uint8.tflite");
    let text = check(&[&model, "--target", "edgetpu"]);
    let expected_table = "\
Operator                       Count      Status

QUANTIZE                       1          Mapped to Edge TPU
LEAKY_RELU                     1          Operation not supported
QUANTIZE                       1          More than one subgraph is not supported
";
    assert!(text.contains(expected_table), "{text}");
    assert!(text.contains("Number of Edge TPU subgraphs: 1\n"), "{text}");
    assert!(text.contains("Total number of operations: 3\n"), "{text}");
    assert!(
        text.contains("Number of operations that will run on Edge TPU: 1\n"),
        "{text}"
    );
    assert!(
        text.contains("Number of operations that will run on CPU: 2\n"),
        "{text}"
    );
    assert!(
        text.contains("LEAKY_RELU is not in the Edge TPU op set; PRELU with a 1-D alpha is"),
        "{text}"
    );
    assert!(text.contains("--multiple-subgraphs"), "{text}");
}

#[test]
fn a_fully_mapped_model_has_no_cpu_lines() {
    let text = check(&[&fixture("mnist/int8.tflite"), "--target", "edgetpu"]);
    assert!(text.contains("Total number of operations: 7\n"), "{text}");
    assert!(!text.contains("run on CPU"), "{text}");
    assert!(!text.contains("Why"), "{text}");
    assert!(
        text.contains("CONV_2D                        2          Mapped to Edge TPU\n"),
        "{text}"
    );
}

#[test]
fn multiple_subgraphs_lifts_the_one_segment_rule() {
    let model = fixture("act_hard_swish/uint8.tflite");
    let one = check(&[&model, "--target", "edgetpu", "--json"]);
    assert!(
        one.starts_with(r#"{"target":"edgetpu","mapped":1,"cpu":2,"segments":1,"#),
        "{one}"
    );
    assert!(
        one.contains("More than one subgraph is not supported"),
        "{one}"
    );
    let many = check(&[
        &model,
        "--target",
        "edgetpu",
        "--json",
        "--multiple-subgraphs",
    ]);
    assert!(
        many.starts_with(r#"{"target":"edgetpu","mapped":2,"cpu":1,"segments":2,"#),
        "{many}"
    );
    assert!(!many.contains("More than one subgraph"), "{many}");
}

#[test]
fn a_float_model_maps_nothing_and_says_what_quantizing_would_do() {
    let model = fixture("conv_basic/float.tflite");
    let json = check(&[&model, "--target", "edgetpu", "--json"]);
    assert!(
        json.starts_with(r#"{"target":"edgetpu","mapped":0,"cpu":1,"segments":0,"#),
        "{json}"
    );
    assert!(
        json.contains("Operation is working on an unsupported data type"),
        "{json}"
    );
    let text = check(&[&model, "--target", "edgetpu"]);
    assert!(
        text.contains(
            "a float model: `tinyq quantize` writes an int8 model, and as int8 its 1 op maps, 1 segment"
        ),
        "{text}"
    );
}

#[test]
fn the_verdict_after_folding_is_printed_when_it_differs() {
    let text = check(&[&fixture("flatten_dense/int8.tflite"), "--target", "edgetpu"]);
    assert!(
        text.contains(
            "after tinyq's folding (what `tinyq quantize -o` writes): all 2 ops map, 1 segment"
        ),
        "{text}"
    );
    let text = check(&[&fixture("conv_basic/int8.tflite"), "--target", "edgetpu"]);
    assert!(!text.contains("after tinyq's folding"), "{text}");
}

#[test]
fn failures_are_one_clear_message() {
    let out = tinyq(&["check", "/nonexistent/m.tflite", "--target", "edgetpu"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/m.tflite"), "{err}");

    let npy = fixture("conv_basic/int8.in0.npy");
    let out = tinyq(&["check", &npy, "--target", "edgetpu"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot check") && err.contains("int8.in0.npy"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // The target is required and checked.
    let model = fixture("conv_basic/int8.tflite");
    assert!(!tinyq(&["check", &model]).status.success());
    assert!(
        !tinyq(&["check", &model, "--target", "gpu"])
            .status
            .success()
    );
    assert!(Path::new(&model).is_file());
}

#[test]
fn corrupt_models_fail_fast_with_one_line_naming_the_file() {
    let good = std::fs::read(fixtures_dir().join("mnist/int8.tflite")).expect("fixture");
    let mut flipped = good.clone();
    for i in (0..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let dir = std::env::temp_dir().join(format!("tinyq-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.tflite", Vec::new()),
        ("truncated.tflite", good[..good.len() / 3].to_vec()),
        ("flipped.tflite", flipped),
        ("text.tflite", b"this is not a model".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let start = Instant::now();
        let out = tinyq(&[
            "check",
            path.to_str().expect("utf-8"),
            "--target",
            "edgetpu",
        ]);
        assert!(start.elapsed() < Duration::from_secs(2), "{name}: too slow");
        assert!(!out.status.success(), "{name}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(name), "{name}: {err}");
    }
}

#[test]
fn strict_exits_3_when_an_op_runs_on_the_cpu() {
    let code = |model: &str, extra: &[&str]| {
        let mut args = vec!["check", model, "--target", "edgetpu", "--strict"];
        args.extend_from_slice(extra);
        tinyq(&args).status.code()
    };
    // Some ops stay on the CPU.
    let partial = fixture("act_leaky_relu/uint8.tflite");
    assert_eq!(code(&partial, &[]), Some(3));
    assert_eq!(code(&partial, &["--json"]), Some(3));
    // Without --strict the same model is analyzed: exit 0.
    assert_eq!(
        tinyq(&["check", &partial, "--target", "edgetpu"])
            .status
            .code(),
        Some(0)
    );
    // Every op maps.
    let full = fixture("mnist/int8.tflite");
    assert_eq!(code(&full, &[]), Some(0));
    // Unreadable: a failure, but not the "runs on the CPU" code.
    let missing = fixture("no_such_model.tflite");
    let c = code(&missing, &[]);
    assert!(c.is_some_and(|c| c != 0 && c != 3), "{c:?}");
}

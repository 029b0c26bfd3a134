//! The `tinyq` binary as users call it.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tinyq_tests::{fixtures_dir, read_npy};

use common::{path_str, tinyq};

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyq-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// `tinyq inspect MODEL`'s table; the command must succeed.
fn inspect_table(model: &Path) -> String {
    let out = tinyq(&["inspect", path_str(model)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn inspect_prints_one_row_per_op_with_totals() {
    let model = fixture("mnist/int8.tflite");
    let text = inspect_table(&model);
    assert_eq!(text.matches("CONV_2D").count(), 2, "{text}");
    assert!(text.contains("FULLY_CONNECTED"), "{text}");
    assert!(text.contains("SOFTMAX"), "{text}");
    assert!(text.contains("scale="), "{text}");
    let totals = text.lines().last().expect("a totals line");
    assert!(
        totals.contains("ops,") && totals.contains("MACs"),
        "{totals}"
    );
}

/// Integer tensors without quantization (the signal library's int16 and
/// UINT32) are not called float, and a long op name keeps the columns in
/// line: every op row's MACs column ends where the header's does.
#[test]
fn inspect_labels_plain_integers_and_keeps_columns_in_line() {
    let model = fixture("signal_chain/signal.tflite");
    let text = inspect_table(&model);
    assert!(!text.contains("float"), "{text}");
    let header = text
        .lines()
        .find(|l| l.contains("MACs") && l.contains("op"))
        .expect("a header");
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("Signal")).collect();
    assert_eq!(rows.len(), 3, "{text}");
    for row in rows {
        assert_eq!(row.len(), header.len(), "{text}");
    }
}

#[test]
fn inspect_json_is_machine_readable_and_consistent() {
    let model = fixture("conv_basic/int8.tflite");
    let out = tinyq(&["inspect", path_str(&model), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let ops = report["ops"].as_array().expect("ops array");
    let conv = ops
        .iter()
        .find(|op| op["op"] == "CONV_2D")
        .expect("a CONV_2D row");
    // MACs of a conv = output elements x kernel volume (KH*KW*Cin).
    let out_shape: Vec<u64> = conv["outputs"][0]["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim"))
        .collect();
    let filter_shape: Vec<u64> = conv["inputs"][1]["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim"))
        .collect();
    let expected = out_shape.iter().product::<u64>() * filter_shape[1..].iter().product::<u64>();
    assert_eq!(conv["macs"].as_u64(), Some(expected));
    let total: u64 = ops
        .iter()
        .map(|op| op["macs"].as_u64().expect("macs"))
        .sum();
    assert_eq!(report["total_macs"].as_u64(), Some(total));
}

#[test]
fn inspect_works_on_float_models_and_ir_dump() {
    let model = fixture("mnist/float.tflite");
    let out = tinyq(&["inspect", path_str(&model)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("float"));
    let out = tinyq(&["inspect", path_str(&model), "--ir"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tensors:") && text.contains("ops:"), "{text}");
}

#[test]
fn run_writes_what_tflm_computes() {
    let dir = fixture("mnist");
    let y = scratch("mnist_out.npy");
    let out = tinyq(&[
        "run",
        path_str(&dir.join("int8.tflite")),
        "--input",
        path_str(&dir.join("int8.in0.npy")),
        "--output",
        path_str(&y),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_npy(&y).expect("output written");
    let want = read_npy(&dir.join("int8.out0.npy")).expect("fixture");
    assert_eq!(got, want);
}

#[test]
fn run_quantizes_float_samples_for_an_int8_input() {
    // The int8 and floatio variants share calibration, so the int8 model fed
    // with floatio's float samples (quantized by tinyq as TFLM's QUANTIZE
    // would) must produce the codes whose dequantization is exactly TFLM's
    // floatio output.
    let dir = fixture("conv_basic");
    let y = scratch("conv_basic_from_float.npy");
    let out = tinyq(&[
        "run",
        path_str(&dir.join("int8.tflite")),
        "--input",
        path_str(&dir.join("floatio.in0.npy")),
        "--output",
        path_str(&y),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let codes = read_npy(&y).expect("output written");
    assert_eq!(codes.elem_size, 1, "int8 output");
    let graph = tinyq_tflite::read_file(&dir.join("int8.tflite")).expect("model");
    let (scale, zp) = graph
        .tensor(graph.outputs[0])
        .scale_zp()
        .expect("quantized output");
    let dequantized: Vec<u8> = codes
        .bytes
        .iter()
        .flat_map(|&q| (scale * (i32::from(q as i8) - zp as i32) as f32).to_le_bytes())
        .collect();
    let want = read_npy(&dir.join("floatio.out0.npy")).expect("fixture");
    assert_eq!(dequantized, want.bytes);
}

#[test]
fn run_rejects_samples_of_the_wrong_shape() {
    let out = tinyq(&[
        "run",
        path_str(&fixture("mnist/int8.tflite")),
        "--input",
        path_str(&fixture("conv_basic/int8.in0.npy")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not hold samples"), "{err}");
}

#[test]
fn corrupt_models_fail_fast_with_one_clear_line() {
    let good = std::fs::read(fixture("mnist/int8.tflite")).expect("fixture");
    let mut flipped = good.clone();
    for i in (0..flipped.len()).step_by(97) {
        flipped[i] ^= 0x5a;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.tflite", Vec::new()),
        ("truncated.tflite", good[..good.len() / 3].to_vec()),
        ("flipped.tflite", flipped),
        ("text.tflite", b"this is not a model".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = scratch(name);
        std::fs::write(&path, bytes).expect("write");
        for command in ["inspect", "run"] {
            let start = Instant::now();
            let out = if command == "inspect" {
                tinyq(&["inspect", path_str(&path)])
            } else {
                tinyq(&[
                    "run",
                    path_str(&path),
                    "--input",
                    path_str(&fixture("mnist/int8.in0.npy")),
                ])
            };
            assert!(start.elapsed() < Duration::from_secs(1), "{name}: too slow");
            assert!(!out.status.success(), "{name}: accepted");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
            assert!(
                err.contains(name),
                "{name}: message must name the file: {err}"
            );
        }
    }
}

#[test]
fn run_takes_an_npz_per_input_and_writes_an_npz_per_output() {
    use ndarray::{ArrayD, IxDyn};
    use ndarray_npy::{NpzReader, NpzWriter};

    let dir = fixture("two_inputs_two_outputs");
    let model = dir.join("int8.tflite");
    let graph = tinyq_tflite::read_file(&model).expect("model");
    let x = scratch("two_inputs.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&x).expect("create"));
    for (k, &input) in graph.inputs.iter().enumerate() {
        let samples = read_npy(&dir.join(format!("int8.in{k}.npy"))).expect("fixture");
        let array = ArrayD::from_shape_vec(
            IxDyn(&samples.shape),
            samples.bytes.iter().map(|&b| b as i8).collect(),
        )
        .expect("shape");
        npz.add_array(graph.tensor(input).name.as_str(), &array)
            .expect("add");
    }
    npz.finish().expect("finish");

    let y = scratch("two_outputs.npz");
    let out = tinyq(&[
        "run",
        path_str(&model),
        "--input",
        path_str(&x),
        "--output",
        path_str(&y),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut outputs = NpzReader::new(std::fs::File::open(&y).expect("open")).expect("npz");
    for (k, &output) in graph.outputs.iter().enumerate() {
        let name = graph.tensor(output).name.clone();
        let got: ArrayD<i8> = outputs.by_name(&name).expect("output array by tensor name");
        let want = read_npy(&dir.join(format!("int8.out{k}.npy"))).expect("fixture");
        assert_eq!(got.shape(), &want.shape[..]);
        let got: Vec<u8> = got.iter().map(|&v| v as u8).collect();
        assert_eq!(got, want.bytes, "output {k}");
    }

    // One array for a two-input model is refused with the input names.
    let out = tinyq(&[
        "run",
        path_str(&model),
        "--input",
        path_str(&dir.join("int8.in0.npy")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 inputs") && err.contains(".npz"), "{err}");
}

#[test]
fn quantize_writes_a_model_that_computes_what_the_converter_model_computes() {
    for name in [
        "mnist",
        "conv_basic",
        "depthwise_mult2",
        "act_hard_swish",
        "flatten_dense",
    ] {
        let dir = fixture(name);
        let q = scratch(&format!("{name}_tinyq_int8.tflite"));
        let out = tinyq(&[
            "quantize",
            path_str(&dir.join("float.tflite")),
            "--calibration",
            path_str(&dir.join("calib.in0.npy")),
            "-o",
            path_str(&q),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("smaller"), "{text}");
        // Same calibration data as the TF converter: the written model, run
        // on the converter model's int8 inputs, gives TFLM's outputs of the
        // converter model.
        let y = scratch(&format!("{name}_tinyq_out.npy"));
        let out = tinyq(&[
            "run",
            path_str(&q),
            "--input",
            path_str(&dir.join("int8.in0.npy")),
            "--output",
            path_str(&y),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = read_npy(&y).expect("output");
        let want = read_npy(&dir.join("int8.out0.npy")).expect("fixture");
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn quantize_refuses_bad_calibration_data_clearly() {
    let dir = fixture("mnist");
    let q = scratch("never_written.tflite");
    let cases = [
        (
            dir.join("calib.in0.npy"),
            "two_inputs_two_outputs",
            "2 inputs",
        ),
        (fixture("conv_basic/calib.in0.npy"), "mnist", "shape"),
    ];
    for (cal, model, expect) in cases {
        let out = tinyq(&[
            "quantize",
            path_str(&fixture(model).join("float.tflite")),
            "--calibration",
            path_str(&cal),
            "-o",
            path_str(&q),
        ]);
        assert!(!out.status.success(), "{model}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{model}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert!(!q.exists(), "no output file on failure");
}

#[test]
fn compile_quantizes_a_float_model_and_emits_c_and_rust() {
    let dir = fixture("mnist");
    let out_dir = scratch("compile_float");
    let out = tinyq(&[
        "compile",
        path_str(&dir.join("float.tflite")),
        "--calibration",
        path_str(&dir.join("calib.in0.npy")),
        "--emit",
        "c",
        "--emit",
        "rust",
        "--name",
        "digits",
        "--out",
        path_str(&out_dir),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in ["digits.h", "digits.c", "digits.rs"] {
        let text = std::fs::read_to_string(out_dir.join(file)).expect(file);
        assert!(text.contains("generated by tinyq"), "{file}");
    }
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("edge tpu:"), "{summary}");

    // Without calibration data a float model compiles as float32, and the
    // summary says what --calibration would save.
    let float_dir = scratch("compile_float_as_float32");
    let out = tinyq(&[
        "compile",
        path_str(&dir.join("float.tflite")),
        "--emit",
        "c",
        "--out",
        path_str(&float_dir),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("compiled as float32") && summary.contains("--calibration"),
        "{summary}"
    );
}

/// Output to a pipe the reader closed (`tinyq ... | head`) ends quietly, for
/// every command that prints.
#[test]
fn closed_pipe_ends_quietly() {
    use std::process::{Command, Stdio};
    let big = fixture("mobilenet_v2/int8.tflite");
    let mnist = fixture("mnist");
    let s = |p: PathBuf| p.to_str().expect("utf-8").to_string();
    let trace = scratch("pipe-trace.json");
    let made = tinyq(&[
        "run",
        &s(mnist.join("int8.tflite")),
        "--input",
        &s(mnist.join("int8.in0.npy")),
        "--trace",
        &s(trace.clone()),
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let device = scratch("pipe-device.txt");
    std::fs::write(&device, "0 00000000\n").expect("device log");
    let commands: Vec<Vec<String>> = vec![
        vec!["inspect".into(), s(big.clone()), "--json".into()],
        vec![
            "inspect".into(),
            s(big.clone()),
            "--ir".into(),
            "--passes".into(),
        ],
        vec!["inspect".into(), s(big.clone())],
        vec![
            "check".into(),
            s(big.clone()),
            "--target".into(),
            "edgetpu".into(),
        ],
        vec![
            "check".into(),
            s(big.clone()),
            "--target".into(),
            "edgetpu".into(),
            "--json".into(),
        ],
        vec![
            "run".into(),
            s(mnist.join("int8.tflite")),
            "--input".into(),
            s(mnist.join("float.in0.npy")),
        ],
        vec![
            "eval".into(),
            s(mnist.join("int8.tflite")),
            "--data".into(),
            s(mnist.join("float.in0.npy")),
            "--labels".into(),
            s(mnist.join("test_labels.npy")),
        ],
        vec![
            "compile".into(),
            s(big.clone()),
            "--emit".into(),
            "c".into(),
            "--out".into(),
            s(scratch("pipe-out")),
        ],
        vec![
            "quantize".into(),
            s(mnist.join("float.tflite")),
            "--calibration".into(),
            s(mnist.join("calib.in0.npy")),
            "-o".into(),
            s(scratch("pipe-q.tflite")),
        ],
        vec!["trace-diff".into(), s(trace), s(device)],
        vec!["completions".into(), "bash".into()],
        vec!["--help".into()],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tinyq"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tinyq binary runs");
        // Close the read end before the command has written anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // trace-diff reports a difference with exit 1; the rest succeed.
        if args[0] != "trace-diff" {
            assert!(out.status.success(), "{args:?}: {err}");
        }
    }
}

/// `inspect --ir --after PASS` stops there; an unknown pass is one clear error.
#[test]
fn inspect_ir_after_a_pass() {
    let model = fixture("opt_pad_conv/int8.tflite");
    let before = tinyq(&["inspect", path_str(&model), "--ir", "--after", "const-fold"]);
    let after = tinyq(&["inspect", path_str(&model), "--ir", "--after", "fold-pad"]);
    assert!(before.status.success() && after.status.success());
    let count =
        |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).matches(" PAD").count();
    assert_eq!(count(&before), 5);
    assert_eq!(
        count(&after),
        1,
        "only the PAD before the average pool stays"
    );
    let bad = tinyq(&["inspect", path_str(&model), "--ir", "--after", "nope"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        err.contains("unknown pass \"nope\"") && err.contains("fold-pad"),
        "{err}"
    );
}

/// `tests/coverage`: models of kinds tinyq does not compile (yet).
fn coverage(name: &str) -> PathBuf {
    fixtures_dir().join("../coverage").join(name)
}

/// `inspect` lists a model tinyq cannot compile, op by op as the file gives
/// it, and marks the op that stops compilation.
#[test]
fn inspect_lists_models_it_cannot_compile() {
    let cases = [("lstm.tflite", "WHILE")];
    for (file, op) in cases {
        let model = coverage(file);
        let out = tinyq(&["inspect", path_str(&model)]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("unsupported: tinyq has no kernel for {op}")),
            "{file}: {text}"
        );
        assert!(
            text.contains("tinyq cannot compile this model: op #"),
            "{file}: {text}"
        );

        let out = tinyq(&["inspect", path_str(&model), "--json"]);
        assert!(out.status.success(), "{file}");
        let listing: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        let ops = listing["ops"].as_array().expect("ops");
        let marked: Vec<&str> = ops
            .iter()
            .filter(|o| !o["unsupported"].is_null())
            .filter_map(|o| o["op"].as_str())
            .collect();
        assert!(marked.contains(&op), "{file}: {marked:?}");
        // Every op has its tensors listed with a type.
        for o in ops {
            for t in o["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .chain(o["outputs"].as_array().expect("outputs"))
            {
                assert!(
                    t["dtype"].as_str().is_some_and(|d| !d.is_empty()),
                    "{file}: {t}"
                );
            }
        }
    }
}

/// 16x8 models are listed in full by `inspect` and, in `check`, get the
/// int16 verdict rather than being taken for float models.
#[test]
fn int16_models_are_inspected_and_named_in_the_edgetpu_check() {
    let model = coverage("int16x8_conv.tflite");
    let out = tinyq(&["inspect", path_str(&model)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("i16[1,8,8,2]"));

    let out = tinyq(&["check", "--target", "edgetpu", path_str(&model)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("int16 activations (16x8 quantization) are not supported by the Edge TPU"),
        "{text}"
    );
    assert!(!text.contains("a float model"), "{text}");
}

//! Untrusted data files and option values: every refusal is one clear line
//! naming the file or option, never a panic.

mod common;

use std::path::PathBuf;
use std::process::Output;

use tinyq_tests::fixtures_dir;

use common::{path_str as s, tinyq};

fn dense(name: &str) -> String {
    fixtures_dir()
        .join("dense")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyq-cli-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// A `.npy` image: `descr`, `shape` and the raw little-endian body.
fn npy(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}").into_bytes();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(header.len()).expect("short").to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn write(name: &str, bytes: &[u8]) -> String {
    let p = scratch(name);
    std::fs::write(&p, bytes).expect("scratch file");
    p.display().to_string()
}

/// The command failed with exactly one `error:` line containing `want`.
fn fails_with(out: &Output, want: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(want), "wanted {want:?} in {err}");
    err
}

#[test]
fn nan_inputs_are_refused_for_a_quantized_model() {
    let mut values = vec![0.5f32; 2 * 32];
    values[37] = f32::NAN;
    let input = write("nan.npy", &npy("<f4", &[2, 32], &f32s(&values)));
    let out = tinyq(&["run", &dense("int8.tflite"), "--input", &input]);
    fails_with(&out, "flat index 37");
    // The same for calibration data.
    let model = dense("float.tflite");
    let out_path = scratch("q.tflite");
    let out = tinyq(&[
        "quantize",
        &model,
        "--calibration",
        &input,
        "-o",
        s(&out_path),
    ]);
    fails_with(&out, "NaN at flat index 37");
    let inf = write(
        "inf.npy",
        &npy("<f4", &[1, 32], &f32s(&[f32::INFINITY; 32])),
    );
    let out = tinyq(&[
        "compile",
        &model,
        "--calibration",
        &inf,
        "--emit",
        "c",
        "--out",
        s(&scratch("c")),
    ]);
    fails_with(&out, "inf at flat index 0");
}

#[test]
fn malformed_sample_files_are_one_line_errors() {
    let huge = write(
        "huge.npy",
        &npy("<f4", &[2_147_483_647, 2_147_483_647], &[0; 8]),
    );
    let out = tinyq(&["run", &dense("int8.tflite"), "--input", &huge]);
    fails_with(&out, "huge.npy: header declares shape");
    let empty_npz = write(
        "empty.npz",
        b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    );
    let out = tinyq(&["run", &dense("int8.tflite"), "--input", &empty_npz]);
    fails_with(&out, "holds no arrays");
    let truncated = write("trunc.npy", b"\x93NUMPY\x01\x00\x40\x00{'descr'");
    let out = tinyq(&["run", &dense("int8.tflite"), "--input", &truncated]);
    fails_with(&out, "trunc.npy: truncated");
}

#[test]
fn option_values_are_checked() {
    let model = dense("float.tflite");
    let out_path = scratch("p.tflite");
    for p in ["0", "-5", "100.5", "NaN"] {
        let out = tinyq(&[
            "quantize",
            &model,
            "--calibration",
            &dense("calib.in0.npy"),
            "--calibration-method",
            "percentile",
            &format!("--percentile={p}"),
            "-o",
            s(&out_path),
        ]);
        fails_with(&out, "outside (0, 100]");
    }
    let labels = write("labels.npy", &npy("<i8", &[8], &[0; 64]));
    for d in ["0", "-1", "inf"] {
        let out = tinyq(&[
            "eval",
            &dense("int8.tflite"),
            "--data",
            &dense("float.in0.npy"),
            "--labels",
            &labels,
            &format!("--divide-by={d}"),
        ]);
        fails_with(&out, "--divide-by");
    }
}

#[test]
fn labels_must_name_an_output_class() {
    let mut body = vec![0u8; 64];
    body[8..16].copy_from_slice(&8i64.to_le_bytes());
    let labels = write("bad_labels.npy", &npy("<i8", &[8], &body));
    let data = dense("float.in0.npy");
    let out = tinyq(&[
        "eval",
        &dense("int8.tflite"),
        "--data",
        &data,
        "--labels",
        &labels,
    ]);
    fails_with(&out, "label 8 at index 1");
    body[8..16].copy_from_slice(&(-1i64).to_le_bytes());
    let labels = write("neg_labels.npy", &npy("<i8", &[8], &body));
    let out = tinyq(&[
        "eval",
        &dense("int8.tflite"),
        "--data",
        &data,
        "--labels",
        &labels,
    ]);
    fails_with(&out, "label -1 at index 1");
    let floats = write("float_labels.npy", &npy("<f4", &[8], &[0; 32]));
    let out = tinyq(&[
        "eval",
        &dense("int8.tflite"),
        "--data",
        &data,
        "--labels",
        &floats,
    ]);
    fails_with(&out, "float32");
}

#[test]
fn constant_calibration_data_warns_naming_the_input() {
    let zeros = write("zeros.npy", &npy("<f4", &[4, 32], &[0; 4 * 32 * 4]));
    let out_path = scratch("z.tflite");
    let out = tinyq(&[
        "quantize",
        &dense("float.tflite"),
        "--calibration",
        &zeros,
        "-o",
        s(&out_path),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning:") && err.contains("all zeros") && err.contains("input"),
        "{err}"
    );
}

#[test]
fn ordinary_models_have_no_overflow_warning() {
    let dir = scratch("ok");
    let out = tinyq(&[
        "compile",
        &dense("int8.tflite"),
        "--emit",
        "c",
        "--out",
        s(&dir),
        "--deny-overflow",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("accumulator"), "{err}");
}

/// An int8 FULLY_CONNECTED layer with `k` inputs (zero point -128) and
/// weights of 127: its accumulator reaches `k · 127 · 255`, above int32
/// from k = 66,312 on.
fn wide_fc(k: usize) -> Vec<u8> {
    use tinyq_ir::op::FullyConnected;
    use tinyq_ir::{Activation, DType, Graph, Op, OpKind, Quantization, Tensor};
    let mut g = Graph::new();
    let mut input = Tensor::new("in", vec![1, k], DType::I8);
    input.quant = Some(Quantization::per_tensor(0.1, -128));
    let input = g.tensors.push(input);
    let mut w = Tensor::new("w", vec![1, k], DType::I8);
    w.quant = Some(Quantization::per_tensor(0.01, 0));
    w.data = Some(vec![127u8; k]);
    let w = g.tensors.push(w);
    let mut b = Tensor::new("b", vec![1], DType::I32);
    b.quant = Some(Quantization::per_tensor(0.001, 0));
    b.data = Some(vec![0; 4]);
    let b = g.tensors.push(b);
    let mut out = Tensor::new("logits", vec![1, 1], DType::I8);
    out.quant = Some(Quantization::per_tensor(1.0, 0));
    let out = g.tensors.push(out);
    g.ops.push(Op {
        kind: OpKind::FullyConnected(FullyConnected {
            keep_num_dims: false,
            activation: Activation::None,
        }),
        inputs: vec![input, w, b],
        outputs: vec![out],
        origin: Some(0),
    });
    g.inputs = vec![input];
    g.outputs = vec![out];
    tinyq_tflite::write(&g).expect("writable")
}

#[test]
fn overflowing_layers_warn_or_fail_with_deny_overflow() {
    let safe = write("safe_fc.tflite", &wide_fc(66_311));
    let out = tinyq(&[
        "compile",
        &safe,
        "--emit",
        "c",
        "--out",
        s(&scratch("safe")),
        "--deny-overflow",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("accumulator"),
        "{err}"
    );

    let wide = write("wide_fc.tflite", &wide_fc(66_312));
    let out = tinyq(&[
        "compile",
        &wide,
        "--emit",
        "c",
        "--out",
        s(&scratch("wide")),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(
        warning.contains("operator 0 (FULLY_CONNECTED -> \"logits\")")
            && warning.contains("2147514120"),
        "{warning}"
    );
    let out = tinyq(&[
        "compile",
        &wide,
        "--emit",
        "c",
        "--out",
        s(&scratch("wide")),
        "--deny-overflow",
    ]);
    fails_with(&out, "--deny-overflow");
}

//! `tinyq quantize --mode dynamic` and dynamic-range models on the command
//! line.

mod common;

use std::path::PathBuf;

use tinyq_tests::{fixtures_dir, read_npy};

use common::{path_str, tinyq};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyq-cli-dynamic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// The written file is the committed `tinyq_dynamic.tflite`, whose int8
/// weights and scales equal the TF converter's (`dynamic_models.py`).
#[test]
fn quantize_dynamic_writes_the_fixture_model() {
    for name in ["cnn_small", "kws_ds_cnn", "micro_speech"] {
        let dir = fixtures_dir().join(name);
        let q = scratch(&format!("{name}_dynamic.tflite"));
        let out = tinyq(&[
            "quantize",
            path_str(&dir.join("float.tflite")),
            "--mode",
            "dynamic",
            "-o",
            path_str(&q),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read(&q).expect("written");
        let fixture = std::fs::read(dir.join("tinyq_dynamic.tflite")).expect("fixture");
        assert!(
            written == fixture,
            "{name}: differs from tinyq_dynamic.tflite"
        );
    }
}

#[test]
fn options_of_the_other_mode_are_refused_clearly() {
    let model = fixtures_dir().join("cnn_small/float.tflite");
    let calib = fixtures_dir().join("cnn_small/calib.in0.npy");
    let int8 = fixtures_dir().join("cnn_small/int8.tflite");
    let q = scratch("never_written.tflite");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--mode", "dynamic", "--calibration", path_str(&calib)],
            "--mode dynamic takes no --calibration",
        ),
        (
            &["--mode", "dynamic", "--io", "int8"],
            "--io int8 does not apply",
        ),
        (
            &["--mode", "dynamic", "--io", "uint8"],
            "--io uint8 does not apply",
        ),
        (&["--mode", "full"], "--mode full needs --calibration"),
        (&[], "--mode full needs --calibration"),
    ];
    for (flags, expect) in cases {
        let mut args = vec!["quantize", path_str(&model)];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["-o", path_str(&q)]);
        let out = tinyq(&args);
        assert!(!out.status.success(), "{flags:?}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{flags:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    let out = tinyq(&[
        "quantize",
        path_str(&int8),
        "--mode",
        "dynamic",
        "-o",
        path_str(&q),
    ]);
    assert!(!out.status.success(), "an int8 model: accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already quantized"), "{err}");
    assert!(!q.exists(), "no output file on failure");
}

/// `compile` keeps the int8 weights and says so; `run` computes what the
/// compiled code computes (TFLM's float kernels on the dequantized weights).
#[test]
fn a_dynamic_range_model_compiles_and_runs() {
    let dir = fixtures_dir().join("cnn_small");
    let model = dir.join("dynamic.tflite");
    let out_dir = scratch("c");
    let out = tinyq(&[
        "compile",
        path_str(&model),
        "--emit",
        "c",
        "--out",
        path_str(&out_dir),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("dynamic range:"), "{text}");
    assert!(text.contains("conv2d_f32_i8"), "{text}");
    let y = scratch("cnn_small_dynamic_out.npy");
    let out = tinyq(&[
        "run",
        path_str(&model),
        "--input",
        path_str(&dir.join("dynamic.in0.npy")),
        "--output",
        path_str(&y),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = read_npy(&y).expect("output");
    let want = read_npy(&dir.join("dynamic.out0.npy")).expect("fixture");
    assert_eq!(got.shape, want.shape);
    let floats = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    // The float reference executor sums in TFLM's order too.
    assert_eq!(floats(&got.bytes), floats(&want.bytes));
}

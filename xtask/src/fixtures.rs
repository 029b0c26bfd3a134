//! `cargo xtask fixtures`: regenerate the TFLM reference fixtures.
//!
//! Tests never run Python; this task is how the committed fixtures are
//! rebuilt. It makes (or reuses) a virtualenv at `.venv` with the pinned
//! packages of `xtask/fixtures/requirements.txt`, then runs
//! `xtask/fixtures/make_fixtures.py` and the scripts beside it (SVDF, LSTM,
//! coverage, third-party, tinyq's own models, dynamic range, arenas).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::project_root;

/// Fixtures that get dynamic-range variants (`tests/tests/dynamic_range.rs`
/// lists the cases it expects).
const DYNAMIC_FIXTURES: &[&str] = &[
    "ad_autoencoder",
    "cnn_small",
    "kws_ds_cnn",
    "micro_speech",
    "mnist",
    "vww_mobilenet_v1",
];

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let root = project_root();
    let mut python: Option<PathBuf> = None;
    let mut mnist = root.join("../shared/data/mnist");
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--python" => python = Some(it.next().context("--python needs a path")?.into()),
            "--mnist" => mnist = it.next().context("--mnist needs a directory")?.into(),
            other => bail!("unknown fixtures option {other:?}"),
        }
    }
    if !mnist.join("mnist-10k-images-idx3-ubyte.gz").is_file() {
        bail!(
            "MNIST digits not found in {}; pass --mnist DIR (the folder holding mnist-10k-*-ubyte.gz)",
            mnist.display()
        );
    }
    let python = match python {
        Some(p) => p,
        None => ensure_venv(&root)?,
    };
    let make = root.join("xtask/fixtures/make_fixtures.py");
    let fixtures = root.join("tests/fixtures");
    let mut converter_fixtures = vec![make.clone().into_os_string(), "--out".into()];
    converter_fixtures.extend([
        fixtures.clone().into(),
        "--mnist".into(),
        mnist.clone().into(),
    ]);
    run_python(&python, &converter_fixtures, &root, None)?;
    // SVDF (written with the flatbuffer schema) and LSTM (Keras 2 LSTMs
    // through the converter) fixtures merge their manifest entries, then
    // the fixtures README is rewritten from the whole manifest.
    let out = ["--out".into(), fixtures.clone().into_os_string()];
    let svdf = root.join("xtask/fixtures/svdf_models.py").into_os_string();
    run_python(
        &python,
        &[svdf, out[0].clone(), out[1].clone()],
        &root,
        None,
    )?;
    // The streaming keyword model of examples/kws-streaming (SVDFs, FCs).
    let kws = root.join("xtask/fixtures/kws_models.py").into_os_string();
    run_python(&python, &[kws, out[0].clone(), out[1].clone()], &root, None)?;
    let keras2 = ensure_keras2(&root, &python)?;
    let lstm = root.join("xtask/fixtures/lstm_models.py").into_os_string();
    run_python(
        &python,
        &[lstm, out[0].clone(), out[1].clone()],
        &root,
        Some(&keras2),
    )?;
    // The signal library's custom ops (flatbuffer schema, flexbuffer options).
    let signal = root
        .join("xtask/fixtures/signal_models.py")
        .into_os_string();
    run_python(
        &python,
        &[signal, out[0].clone(), out[1].clone()],
        &root,
        None,
    )?;
    let mut readme = converter_fixtures.clone();
    readme.push("--readme-only".into());
    run_python(&python, &readme, &root, None)?;
    // Models of the kinds tinyq does not compile yet (inspect/refusal tests).
    let status = Command::new(&python)
        .arg(root.join("xtask/fixtures/coverage_models.py"))
        .arg(root.join("tests/coverage"))
        .current_dir(&root)
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("coverage_models.py failed ({status})");
    }
    // MediaPipe's face detector, quantized by tinyq, run by TFLM.
    let status = Command::new("cargo")
        .args(["build", "--quiet", "-p", "tinyq-cli"])
        .current_dir(&root)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build -p tinyq-cli failed ({status})");
    }
    let status = Command::new(&python)
        .arg(root.join("xtask/fixtures/thirdparty_models.py"))
        .arg(root.join("tests/thirdparty"))
        .arg(root.join("target/debug/tinyq"))
        .current_dir(&root)
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("thirdparty_models.py failed ({status})");
    }
    // tinyq's own quantized models, then TFLM's outputs on them.
    let written = quantize_fixtures(&fixtures)? + quantize_mixed_fixtures(&fixtures)?;
    eprintln!("tinyq quantized {written} fixture models");
    let status = Command::new(&python)
        .arg(root.join("xtask/fixtures/run_tinyq_models.py"))
        .arg(&fixtures)
        .current_dir(&root)
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("run_tinyq_models.py failed ({status})");
    }
    // Dynamic-range variants: the converter's and tinyq's, with TFLM's
    // float outputs on the dequantized weights and LiteRT's hybrid outputs.
    let status = Command::new(&python)
        .arg(root.join("xtask/fixtures/dynamic_models.py"))
        .arg(&fixtures)
        .arg(root.join("target/debug/tinyq"))
        .arg("--mnist")
        .arg(&mnist)
        .args(DYNAMIC_FIXTURES)
        .current_dir(root.join("xtask/fixtures"))
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("dynamic_models.py failed ({status})");
    }
    // TFLM's planned tensor memory per model, for the memory-plan test.
    let status = Command::new(&python)
        .arg(root.join("xtask/fixtures/tflm_arena.py"))
        .arg(&fixtures)
        .current_dir(&root)
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("tflm_arena.py failed ({status})");
    }
    Ok(())
}

/// Mixed int8/float32 models tinyq writes with `--keep-float`:
/// `(fixture, variant, I/O, ops kept float)`, written as
/// `NAME/tinyq_mixed_V.tflite` (`run_tinyq_models.py` feeds them the
/// converter variant `V`'s inputs).
const MIXED: &[(&str, &str, tinyq_compiler::IoMode, &[usize])] = &[
    // MAX_POOL_2D, FULLY_CONNECTED (float weights) and the final SOFTMAX.
    ("mnist", "int8", tinyq_compiler::IoMode::Int8, &[1, 5, 6]),
    (
        "mnist",
        "floatio",
        tinyq_compiler::IoMode::Float,
        &[1, 5, 6],
    ),
    // The first op float (reading the float input), then int8 after it.
    ("cnn_small", "floatio", tinyq_compiler::IoMode::Float, &[0]),
    // The SOFTMAX float, as the converter's own `mixed` variant keeps it;
    // and the CONCATENATION with the dense layer (float weights) too.
    (
        "fallback_mixed",
        "floatio",
        tinyq_compiler::IoMode::Float,
        &[7],
    ),
    (
        "fallback_mixed",
        "int8",
        tinyq_compiler::IoMode::Int8,
        &[4, 6],
    ),
];

/// Writes `NAME/tinyq_mixed_V.tflite` for every [`MIXED`] entry.
fn quantize_mixed_fixtures(fixtures: &Path) -> anyhow::Result<usize> {
    use ndarray::ArrayD;
    use ndarray_npy::ReadNpyExt;
    use tinyq_compiler::{Fallback, KeepFloat, QuantOptions};

    for &(name, variant, io, keep) in MIXED {
        let dir = fixtures.join(name);
        let keep: Vec<KeepFloat> = keep.iter().map(|&i| KeepFloat::Op(i)).collect();
        let session = tinyq_compiler::Session::new().keep_float(keep);
        let model = session.read_file(&dir.join("float.tflite"))?;
        let calib_path = dir.join("calib.in0.npy");
        let calib = ArrayD::<f32>::read_npy(std::fs::File::open(&calib_path)?)
            .with_context(|| calib_path.display().to_string())?;
        let options = QuantOptions {
            io,
            fallback: Fallback::Float,
            ..QuantOptions::default()
        };
        let calibration = tinyq_compiler::Calibration {
            samples: std::slice::from_ref(&calib),
            options,
            progress: None,
        };
        let q = session.quantize(&model, calibration)?;
        std::fs::write(
            dir.join(format!("tinyq_mixed_{variant}.tflite")),
            session.write_tflite(&model.name, &q)?,
        )?;
    }
    Ok(MIXED.len())
}

/// Writes `NAME/tinyq_{int8,uint8,floatio}.tflite`: each single-input
/// fixture's float model quantized by tinyq with the converter's calibration
/// set, in the three I/O modes; and `tinyq_int16x8{,_floatio}.tflite` (16x8)
/// where the converter made a 16x8 variant.
fn quantize_fixtures(fixtures: &Path) -> anyhow::Result<usize> {
    use ndarray::ArrayD;
    use ndarray_npy::ReadNpyExt;
    use tinyq_compiler::{Activations, IoMode, QuantOptions};

    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("float.tflite").is_file() && p.join("calib.in0.npy").is_file())
        .filter(|p| !p.join("calib.in1.npy").exists())
        .collect();
    dirs.sort();
    let mut written = 0;
    for dir in dirs {
        let session = tinyq_compiler::Session::new();
        let model = session.read_file(&dir.join("float.tflite"))?;
        let calib_path = dir.join("calib.in0.npy");
        let calib = ArrayD::<f32>::read_npy(std::fs::File::open(&calib_path)?)
            .with_context(|| calib_path.display().to_string())?;
        // 16x8 versions where the converter made one to compare with.
        let wide = dir.join("int16x8.tflite").is_file();
        let variants = [
            (IoMode::Int8, Activations::Int8, "int8"),
            (IoMode::Uint8, Activations::Int8, "uint8"),
            (IoMode::Float, Activations::Int8, "floatio"),
            (IoMode::Int16, Activations::Int16, "int16x8"),
            (IoMode::Float, Activations::Int16, "int16x8_floatio"),
        ];
        for (io, activations, variant) in variants {
            if activations == Activations::Int16 && !wide {
                continue;
            }
            let options = QuantOptions {
                io,
                activations,
                ..QuantOptions::default()
            };
            let calibration = tinyq_compiler::Calibration {
                samples: std::slice::from_ref(&calib),
                options,
                progress: None,
            };
            let q = session.quantize(&model, calibration)?;
            std::fs::write(
                dir.join(format!("tinyq_{variant}.tflite")),
                session.write_tflite(&model.name, &q)?,
            )?;
            written += 1;
        }
    }
    Ok(written)
}

/// Creates `.venv` with the pinned requirements unless it already exists.
/// Runs `python ARGS` in `cwd` (with `pythonpath` on `PYTHONPATH`); an
/// error names the script.
fn run_python(
    python: &Path,
    args: &[std::ffi::OsString],
    cwd: &Path,
    pythonpath: Option<&Path>,
) -> anyhow::Result<()> {
    let script = args
        .first()
        .map(|a| Path::new(a).display().to_string())
        .unwrap_or_default();
    let mut command = Command::new(python);
    command.args(args).current_dir(cwd);
    if let Some(dir) = pythonpath {
        command.env("PYTHONPATH", dir);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot start {}", python.display()))?;
    if !status.success() {
        bail!("{script} failed ({status})");
    }
    Ok(())
}

/// Keras 2 (`tf-keras`), which the LSTM fixtures need (Keras 3 turns an
/// LSTM into a WHILE loop instead of UNIDIRECTIONAL_SEQUENCE_LSTM),
/// installed without its dependencies beside the build, so the venv's
/// TensorFlow stays the pinned one.
fn ensure_keras2(root: &Path, python: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("target/tf-keras");
    if dir.join("tf_keras").is_dir() {
        return Ok(dir);
    }
    let ok = Command::new(python)
        .args(["-m", "pip", "install", "-q", "--no-deps", "--target"])
        .arg(&dir)
        .arg("tf-keras==2.21.0")
        .status()
        .context("cannot run pip")?
        .success();
    if !ok {
        bail!(
            "pip install --no-deps --target {} tf-keras==2.21.0 failed",
            dir.display()
        );
    }
    Ok(dir)
}

fn ensure_venv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if python.is_file() {
        return Ok(python);
    }
    eprintln!(
        "creating {} (TensorFlow, tflite-micro, numpy; a few minutes)",
        venv.display()
    );
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("cannot run python3 -m venv")?
        .success();
    if !ok {
        bail!("python3 -m venv {} failed", venv.display());
    }
    let ok = Command::new(&python)
        .args(["-m", "pip", "install", "-q", "-r"])
        .arg(root.join("xtask/fixtures/requirements.txt"))
        .status()
        .context("cannot run pip")?
        .success();
    if !ok {
        bail!("pip install -r xtask/fixtures/requirements.txt failed");
    }
    Ok(python)
}

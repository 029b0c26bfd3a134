//! `cargo xtask codegen`: the seed's story, told by tinyq, on the bundled
//! MNIST example.
//!
//! 1. Quantizes `examples/mnist/mnist_float.tflite` to full int8 with tinyq,
//!    from the 200 calibration digits in `examples/mnist/data/`.
//! 2. Writes tinyq's int8 `.tflite`, the C (`mnist.h`, `mnist.c`) and the
//!    Rust (`mnist.rs`) into `examples/mnist/generated/`.
//! 3. Evaluates the 2,000 held-out digits: the float model, the int8 model
//!    on tinyq's interpreter, and the generated C compiled with the host's
//!    `cc`, and prints the size and accuracy tables.
//!
//! 4. Writes the README's table of supported operators from the reader's list.
//!
//! `--check` regenerates in memory and fails if a checked-in file differs,
//! so the generated example never goes stale (the tests run it).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use ndarray::{Array1, Array3, ArrayD, Axis, IxDyn};
use ndarray_npy::ReadNpyExt;
use tinyq_compiler::{Calibration, QuantOptions, Session};
use tinyq_interp::{Interpreter, quantize_floats};
use tinyq_ir::{DType, Program};
use tinyq_kernels::quantize::QuantParams;
use tinyq_quant::FloatModel;

use crate::project_root;

/// The generated files, by name, as the generator produced them.
struct Generated {
    files: Vec<(&'static str, Vec<u8>)>,
    program: Program,
    c_const_bytes: usize,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask codegen [--check]"),
    };
    crate::ops_table::update(&project_root().join("README.md"), check)?;
    let dir = project_root().join("examples/mnist");
    let out_dir = dir.join("generated");
    let generated = generate(&dir)?;
    if check {
        return check_files(&out_dir, &generated);
    }
    std::fs::create_dir_all(&out_dir)?;
    for (name, bytes) in &generated.files {
        std::fs::write(out_dir.join(name), bytes)
            .with_context(|| format!("cannot write {}", out_dir.join(name).display()))?;
    }
    report(&dir, &generated)
}

fn load<T: ndarray_npy::ReadableElement, D: ndarray::Dimension>(
    path: &Path,
) -> anyhow::Result<ndarray::Array<T, D>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ndarray::Array::<T, D>::read_npy(file)
        .with_context(|| format!("cannot read {}", path.display()))
}

fn generate(dir: &Path) -> anyhow::Result<Generated> {
    let session = Session::new();
    let float = session.read_file(&dir.join("mnist_float.tflite"))?;
    let calibration: ArrayD<f32> = load(&dir.join("data/calibration.npy"))?;
    let int8 = session.quantize(
        &float,
        Calibration {
            samples: std::slice::from_ref(&calibration),
            options: QuantOptions::default(),
            progress: None,
        },
    )?;
    let tflite = session.write_tflite(&float.name, &int8)?;
    let compiled = session.compile_graph(&float.name, int8, true)?;
    let program = compiled.program;
    let c = session.emit_c(&float.name, &program, "mnist")?;
    let rust = session.emit_rust(&float.name, &program, "mnist")?;
    Ok(Generated {
        files: vec![
            ("mnist_int8.tflite", tflite),
            ("mnist.h", c.header.into_bytes()),
            ("mnist.c", c.source.into_bytes()),
            ("mnist.rs", rust.into_bytes()),
        ],
        program,
        c_const_bytes: c.const_bytes,
    })
}

fn check_files(out_dir: &Path, generated: &Generated) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for (name, bytes) in &generated.files {
        let path = out_dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale: {}\nrun `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
    println!("examples/mnist/generated is up to date");
    Ok(())
}

/// The held-out digits as float32 `[N, 28, 28, 1]` in [0, 1], and labels.
fn test_set(dir: &Path) -> anyhow::Result<(ArrayD<f32>, Array1<u8>)> {
    let images: Array3<u8> = load(&dir.join("data/test-images.npy"))?;
    let labels: Array1<u8> = load(&dir.join("data/test-labels.npy"))?;
    let n = images.len_of(Axis(0));
    let x = images
        .mapv(|p| f32::from(p) / 255.0)
        .into_shape_with_order(IxDyn(&[n, 28, 28, 1]))?;
    Ok((x, labels))
}

fn argmax<T: PartialOrd + Copy>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Accuracies on the held-out digits: what the tables print and the tests check.
#[derive(Debug, Clone, Copy)]
struct Accuracy {
    samples: usize,
    float: usize,
    int8_interpreter: usize,
    /// `None` when no C compiler could build the generated C.
    int8_c: Option<usize>,
    /// The generated C predicted every digit as the interpreter did.
    c_agrees_with_interpreter: Option<bool>,
}

fn report(dir: &Path, generated: &Generated) -> anyhow::Result<()> {
    let a = evaluate(dir, generated)?;
    let n = a.samples;
    let size = |name: &str| {
        generated
            .files
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, b)| b.len())
    };
    let float_bytes = std::fs::metadata(dir.join("mnist_float.tflite"))?.len() as usize;
    let int8_bytes = size("mnist_int8.tflite");
    println!("Model size:");
    println!("  {:<36} {:>9} bytes", "float .tflite", float_bytes);
    println!(
        "  {:<36} {:>9} bytes  ({:.2}x smaller)",
        "int8 .tflite (tinyq quantize)",
        int8_bytes,
        float_bytes as f64 / int8_bytes.max(1) as f64
    );
    println!(
        "  {:<36} {:>9} bytes",
        "weights in the generated C", generated.c_const_bytes
    );
    println!(
        "  {:<36} {:>9} bytes",
        "arena of the generated C", generated.program.arena_size
    );
    println!("Model accuracy ({n} held-out digits):");
    let acc = |c: usize| c as f64 / n as f64;
    println!("  {:<36} {:>9.4}", "float", acc(a.float));
    println!(
        "  {:<36} {:>9.4}",
        "int8, tinyq interpreter",
        acc(a.int8_interpreter)
    );
    match a.int8_c {
        Some(c) => println!(
            "  {:<36} {:>9.4}  ({})",
            "int8, generated C",
            acc(c),
            if a.c_agrees_with_interpreter == Some(true) {
                "same prediction as the interpreter on every digit"
            } else {
                "DIFFERS from the interpreter"
            }
        ),
        None => println!("  {:<36} {:>9}", "int8, generated C", "n/a"),
    }
    Ok(())
}

fn evaluate(dir: &Path, generated: &Generated) -> anyhow::Result<Accuracy> {
    let (x, labels) = test_set(dir)?;
    let n = labels.len();
    let samples: Vec<ArrayD<f32>> = x.outer_iter().map(|s| s.to_owned()).collect();

    let float = Session::new().read_file(&dir.join("mnist_float.tflite"))?;
    let float_model = FloatModel::new(&float.graph)?;
    let mut float_correct = 0;
    for (s, &label) in samples.iter().zip(&labels) {
        let out = float_model.run_outputs(std::slice::from_ref(s))?;
        let scores: Vec<f32> = out[0].iter().copied().collect();
        float_correct += usize::from(argmax(&scores) == usize::from(label));
    }

    let program = &generated.program;
    let input = &program.inputs[0];
    let (scale, zero_point) = input
        .quant
        .context("the int8 model input must be quantized")?;
    let params = QuantParams { scale, zero_point };
    let mut interp = Interpreter::new(program);
    let mut codes = Vec::with_capacity(n * input.byte_len());
    let mut int8_predictions = Vec::with_capacity(n);
    let mut xq = vec![0u8; input.byte_len()];
    let mut y = vec![0u8; program.outputs[0].byte_len()];
    for s in &samples {
        let floats: Vec<f32> = s.iter().copied().collect();
        quantize_floats(&params, input.dtype == DType::U8, &floats, &mut xq)?;
        interp.invoke(&[&xq], &mut [&mut y])?;
        let scores: Vec<i8> = y.iter().map(|&b| b as i8).collect();
        int8_predictions.push(argmax(&scores));
        codes.extend_from_slice(&xq);
    }
    let int8_correct = int8_predictions
        .iter()
        .zip(&labels)
        .filter(|(p, l)| **p == usize::from(**l))
        .count();
    let c_predictions = run_generated_c(dir, &codes, n)
        .map_err(|e| eprintln!("note: generated C not evaluated: {e:#}"))
        .ok();
    let c_correct = c_predictions.as_ref().map(|p| {
        p.iter()
            .zip(&labels)
            .filter(|(p, l)| **p == usize::from(**l))
            .count()
    });
    Ok(Accuracy {
        samples: n,
        float: float_correct,
        int8_interpreter: int8_correct,
        int8_c: c_correct,
        c_agrees_with_interpreter: c_predictions.map(|p| p == int8_predictions),
    })
}

/// Compiles `generated/mnist.c` with a small harness and the host's `cc`,
/// feeds it the quantized digits and reads back one prediction per digit.
fn run_generated_c(dir: &Path, codes: &[u8], n: usize) -> anyhow::Result<Vec<usize>> {
    let generated = dir.join("generated");
    let work = std::env::temp_dir().join(format!("tinyq-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let exe: PathBuf = work.join("mnist_eval");
    let status = Command::new("cc")
        .args(["-std=c99", "-O2", "-o"])
        .arg(&exe)
        .arg(dir.join("eval_main.c"))
        .arg(generated.join("mnist.c"))
        .arg("-I")
        .arg(&generated)
        .status()
        .context("cannot run cc")?;
    if !status.success() {
        bail!("cc failed ({status})");
    }
    let input = work.join("digits.bin");
    std::fs::write(&input, codes)?;
    let output = Command::new(&exe).arg(&input).output()?;
    let _ = std::fs::remove_dir_all(&work);
    if !output.status.success() {
        bail!(
            "the generated C failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let predictions: Vec<usize> = output.stdout.iter().map(|&b| usize::from(b)).collect();
    if predictions.len() != n {
        bail!(
            "the generated C classified {} digits of {n}",
            predictions.len()
        );
    }
    Ok(predictions)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo xtask codegen --check`: the checked-in generated example is
    /// exactly what the generator writes today.
    #[test]
    fn generated_example_is_up_to_date() {
        let dir = project_root().join("examples/mnist");
        let generated = generate(&dir).expect("generate");
        if let Err(e) = check_files(&dir.join("generated"), &generated) {
            panic!("{e:#}");
        }
    }

    /// The accuracy table: int8 within 0.3 points of float, and the
    /// generated C classifies every digit as the interpreter does.
    #[test]
    fn example_accuracy_tells_the_seed_story() {
        let dir = project_root().join("examples/mnist");
        let generated = generate(&dir).expect("generate");
        let a = evaluate(&dir, &generated).expect("evaluate");
        assert_eq!(a.samples, 2000);
        let drop = (a.float as f64 - a.int8_interpreter as f64) / a.samples as f64;
        assert!(
            drop <= 0.003,
            "int8 loses {:.4} points: {a:?}",
            drop * 100.0
        );
        assert!(a.float as f64 / a.samples as f64 > 0.96, "{a:?}");
        assert_eq!(
            a.int8_c,
            Some(a.int8_interpreter),
            "generated C vs interpreter"
        );
    }
}

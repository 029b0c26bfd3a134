//! `cargo xtask codegen`: the seed's story, told by tinyq, on the bundled
//! MNIST example.
//!
//! 1. Makes the seed's five models of `examples/mnist/mnist_float.tflite`
//!    with tinyq: float32 as given; dynamic range (`quantize --mode
//!    dynamic`: int8 weights, float activations); integer with float
//!    fallback (float I/O, `--fallback float`); integer only with int8 I/O; integer only with
//!    uint8 I/O (the three integer ones calibrated on the 200 digits in
//!    `examples/mnist/data/`).
//! 2. Writes the int8 and dynamic-range `.tflite` files, their C
//!    (`mnist.{h,c}`, `mnist_dynamic.{h,c}`) and the int8 Rust (`mnist.rs`)
//!    into `examples/mnist/generated/`.
//! 3. Evaluates the 2,000 held-out digits on each model: tinyq's
//!    interpreter and the generated C compiled with the host's `cc`; measures
//!    each generated C's flash (`arm-none-eabi-gcc -O2` for a Cortex-M4 with
//!    FPU: code and constant data of the object) and arena; writes the table
//!    into the README beside the seed's published figures. LiteRT's
//!    predictions for the dynamic-range model are recorded at development
//!    time (`examples/mnist/litert_predictions.py`) and counted here.
//! 4. Writes the README's table of supported operators from the reader's list.
//!
//! `--check` regenerates in memory and fails if a checked-in file or a
//! README table differs, so the generated example never goes stale (the
//! tests run it).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use ndarray::{Array1, Array3, ArrayD, Axis, IxDyn};
use ndarray_npy::ReadNpyExt;
use tinyq_compiler::{Calibration, Fallback, IoMode, QuantOptions, Session};
use tinyq_interp::{Interpreter, quantize_floats};
use tinyq_ir::{DType, Graph, IoSpec, Program};
use tinyq_kernels::quantize::QuantParams;

use crate::project_root;

const TABLE_BEGIN: &str = "<!-- mnist-table:begin (cargo xtask codegen writes this table) -->\n";
const TABLE_END: &str = "<!-- mnist-table:end -->\n";

/// LiteRT's predicted class for each held-out digit on
/// `generated/mnist_dynamic.tflite` (`litert_predictions.py`).
const LITERT_PREDICTIONS: &str = "litert_dynamic_predictions.npy";

/// One of the seed's five models, made and compiled by tinyq.
struct Variant {
    /// What the seed calls it.
    label: &'static str,
    /// The seed's published `.tflite` size and accuracy (60,000 training
    /// digits, 10,000 test digits).
    seed: (&'static str, &'static str),
    tflite_bytes: usize,
    program: Program,
    /// The C identifier of its generated code.
    c_name: &'static str,
    c: tinyq_backend_c::GeneratedC,
}

/// The generated files, by name, as the generator produced them.
struct Generated {
    files: Vec<(&'static str, Vec<u8>)>,
    variants: Vec<Variant>,
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
        check_files(&out_dir, &generated)?;
    } else {
        std::fs::create_dir_all(&out_dir)?;
        for (name, bytes) in &generated.files {
            std::fs::write(out_dir.join(name), bytes)
                .with_context(|| format!("cannot write {}", out_dir.join(name).display()))?;
        }
    }
    let rows = evaluate(&dir, &generated)?;
    let table = table(&rows);
    println!("{table}");
    update_readme(&project_root().join("README.md"), &table, check)
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
    let float_path = dir.join("mnist_float.tflite");
    let float = session.read_file(&float_path)?;
    let calibration: ArrayD<f32> = load(&dir.join("data/calibration.npy"))?;
    // Float I/O is the seed's "integer with float fallback": ops without an
    // int8 kernel would stay float32 (MNIST has none, so it is all int8).
    let quantize = |io: IoMode| {
        let fallback = if io == IoMode::Float {
            Fallback::Float
        } else {
            Fallback::Error
        };
        session.quantize(
            &float,
            Calibration {
                samples: std::slice::from_ref(&calibration),
                options: QuantOptions {
                    io,
                    fallback,
                    ..QuantOptions::default()
                },
                progress: None,
            },
        )
    };
    let int8 = quantize(IoMode::Int8)?;
    let dynamic = session.quantize_dynamic(&float)?;
    let int8_tflite = session.write_tflite(&float.name, &int8)?;
    let dynamic_tflite = session.write_tflite(&float.name, &dynamic)?;
    let variant = |label, seed, graph: Graph, tflite_bytes, quantized, c_name| {
        let compiled = session.compile_graph(&float.name, graph, quantized)?;
        let c = session.emit_c(&float.name, &compiled.program, c_name)?;
        anyhow::Ok(Variant {
            label,
            seed,
            tflite_bytes,
            program: compiled.program,
            c_name,
            c,
        })
    };
    let floatio = quantize(IoMode::Float)?;
    let uint8 = quantize(IoMode::Uint8)?;
    let floatio_bytes = session.write_tflite(&float.name, &floatio)?.len();
    let uint8_bytes = session.write_tflite(&float.name, &uint8)?.len();
    let variants = vec![
        variant(
            "float32",
            ("11,084,920 B", "0.9815"),
            float.graph.clone(),
            std::fs::metadata(&float_path)?.len() as usize,
            false,
            "mnist_float",
        )?,
        variant(
            "dynamic range (int8 weights, float activations)",
            ("2,774,512 B", "0.9815"),
            dynamic,
            dynamic_tflite.len(),
            false,
            "mnist_dynamic",
        )?,
        variant(
            "integer with float fallback (float I/O)",
            ("2,775,032 B", "0.9812"),
            floatio,
            floatio_bytes,
            true,
            "mnist_floatio",
        )?,
        variant(
            "integer only, int8 I/O",
            ("2,775,056 B", "0.9814"),
            int8,
            int8_tflite.len(),
            true,
            "mnist",
        )?,
        variant(
            "integer only, uint8 I/O",
            ("-", "-"),
            uint8,
            uint8_bytes,
            true,
            "mnist_uint8",
        )?,
    ];
    let of = |name: &str| {
        variants
            .iter()
            .find(|v| v.c_name == name)
            .map(|v| (v.c.header.clone(), v.c.source.clone()))
            .unwrap_or_default()
    };
    let (int8_h, int8_c) = of("mnist");
    let (dynamic_h, dynamic_c) = of("mnist_dynamic");
    let int8_program = &variants[3].program;
    let rust = session.emit_rust(&float.name, int8_program, "mnist")?;
    Ok(Generated {
        files: vec![
            ("mnist_int8.tflite", int8_tflite),
            ("mnist.h", int8_h.into_bytes()),
            ("mnist.c", int8_c.into_bytes()),
            ("mnist.rs", rust.into_bytes()),
            ("mnist_dynamic.tflite", dynamic_tflite),
            ("mnist_dynamic.h", dynamic_h.into_bytes()),
            ("mnist_dynamic.c", dynamic_c.into_bytes()),
        ],
        variants,
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

/// The class a model's output bytes (int8, uint8 or float32 scores) pick.
fn predicted(spec: &IoSpec, bytes: &[u8]) -> usize {
    match spec.dtype {
        DType::F32 => {
            let v: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            argmax(&v)
        }
        DType::I8 => argmax(&bytes.iter().map(|&b| b as i8).collect::<Vec<_>>()),
        _ => argmax(bytes),
    }
}

/// One digit as the model's input bytes: float32, or quantized exactly as
/// TFLM's QUANTIZE would.
fn input_bytes(spec: &IoSpec, digit: &[f32]) -> anyhow::Result<Vec<u8>> {
    if spec.dtype == DType::F32 {
        return Ok(digit.iter().flat_map(|v| v.to_le_bytes()).collect());
    }
    let (scale, zero_point) = spec.quant.context("a quantized model input")?;
    let mut out = vec![0u8; spec.byte_len()];
    quantize_floats(
        &QuantParams { scale, zero_point },
        spec.dtype == DType::U8,
        digit,
        &mut out,
    )?;
    Ok(out)
}

/// What the table says of one model.
#[derive(Debug, Clone)]
struct Row {
    label: &'static str,
    seed: (&'static str, &'static str),
    tflite_bytes: usize,
    samples: usize,
    interpreter: usize,
    /// `None` when no C compiler could build the generated C.
    c: Option<usize>,
    /// The generated C predicted every digit as the interpreter did.
    c_agrees: Option<bool>,
    weights: usize,
    /// Code and constant data of the Cortex-M4 object, when
    /// `arm-none-eabi-gcc` is there.
    flash: Option<usize>,
    arena: usize,
    /// LiteRT's correct predictions (dynamic range only).
    litert: Option<usize>,
}

fn evaluate(dir: &Path, generated: &Generated) -> anyhow::Result<Vec<Row>> {
    let (x, labels) = test_set(dir)?;
    let n = labels.len();
    let digits: Vec<Vec<f32>> = x
        .outer_iter()
        .map(|s| s.iter().copied().collect())
        .collect();
    let correct = |p: &[usize]| {
        p.iter()
            .zip(&labels)
            .filter(|(p, l)| **p == usize::from(**l))
            .count()
    };
    let work = std::env::temp_dir().join(format!("tinyq-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut rows = Vec::new();
    for v in &generated.variants {
        let program = &v.program;
        let (input, output) = (&program.inputs[0], &program.outputs[0]);
        let mut interp = Interpreter::new(program);
        let mut encoded = Vec::with_capacity(n * input.byte_len());
        let mut predictions = Vec::with_capacity(n);
        let mut y = vec![0u8; output.byte_len()];
        for digit in &digits {
            let xb = input_bytes(input, digit)?;
            interp.invoke(&[&xb], &mut [&mut y])?;
            predictions.push(predicted(output, &y));
            encoded.extend_from_slice(&xb);
        }
        let c_predictions = run_generated_c(dir, &work, v, &encoded, n)
            .map_err(|e| eprintln!("note: generated C of {} not evaluated: {e:#}", v.c_name))
            .ok();
        let litert = if v.c_name == "mnist_dynamic" {
            let path = dir.join(LITERT_PREDICTIONS);
            let p: Option<Array1<u8>> = load(&path).ok();
            p.map(|p| correct(&p.iter().map(|&c| usize::from(c)).collect::<Vec<_>>()))
        } else {
            None
        };
        rows.push(Row {
            label: v.label,
            seed: v.seed,
            tflite_bytes: v.tflite_bytes,
            samples: n,
            interpreter: correct(&predictions),
            c: c_predictions.as_deref().map(correct),
            c_agrees: c_predictions.map(|p| p == predictions),
            weights: v.c.const_bytes,
            flash: m4_flash(&work, v).ok(),
            arena: program.arena_size,
            litert,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(rows)
}

/// Compiles one variant's C with `eval_main.c` and the host's `cc`, feeds
/// it the encoded digits and reads back one prediction per digit.
fn run_generated_c(
    dir: &Path,
    work: &Path,
    v: &Variant,
    inputs: &[u8],
    n: usize,
) -> anyhow::Result<Vec<usize>> {
    let name = v.c_name;
    std::fs::write(work.join(format!("{name}.h")), &v.c.header)?;
    std::fs::write(work.join(format!("{name}.c")), &v.c.source)?;
    let exe: PathBuf = work.join(format!("{name}_eval"));
    let status = Command::new("cc")
        .args(["-std=c99", "-O2", "-ffp-contract=off"])
        .arg(format!("-DMODEL_HEADER=\"{name}.h\""))
        .arg(format!("-DMODEL_INVOKE={name}_invoke"))
        .arg(format!("-DMODEL_UPPER={}", name.to_uppercase()))
        .arg("-o")
        .arg(&exe)
        .arg(dir.join("eval_main.c"))
        .arg(work.join(format!("{name}.c")))
        .arg("-I")
        .arg(work)
        .arg("-lm")
        .status()
        .context("cannot run cc")?;
    if !status.success() {
        bail!("cc failed ({status})");
    }
    let input = work.join(format!("{name}.digits"));
    std::fs::write(&input, inputs)?;
    let output = Command::new(&exe).arg(&input).output()?;
    if !output.status.success() {
        bail!(
            "the generated C failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let spec = &v.program.outputs[0];
    let predictions: Vec<usize> = output
        .stdout
        .chunks_exact(spec.byte_len())
        .map(|y| predicted(spec, y))
        .collect();
    if predictions.len() != n {
        bail!(
            "the generated C classified {} digits of {n}",
            predictions.len()
        );
    }
    Ok(predictions)
}

/// Flash of one variant's generated C on a Cortex-M4 with FPU: `.text` and
/// `.data` of `arm-none-eabi-gcc -O2` (code and constant data; `expf` of
/// the float softmax is a library call, not counted).
fn m4_flash(work: &Path, v: &Variant) -> anyhow::Result<usize> {
    let name = v.c_name;
    let object = work.join(format!("{name}.o"));
    let status = Command::new("arm-none-eabi-gcc")
        .args([
            "-std=c99",
            "-O2",
            "-mcpu=cortex-m4",
            "-mthumb",
            "-mfloat-abi=hard",
            "-mfpu=fpv4-sp-d16",
            "-ffp-contract=off",
            "-c",
            "-o",
        ])
        .arg(&object)
        .arg(work.join(format!("{name}.c")))
        .status()
        .context("cannot run arm-none-eabi-gcc")?;
    if !status.success() {
        bail!("arm-none-eabi-gcc failed ({status})");
    }
    let out = Command::new("arm-none-eabi-size").arg(&object).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<usize> = text
        .lines()
        .nth(1)
        .context("arm-none-eabi-size printed no sizes")?
        .split_whitespace()
        .take(2)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    Ok(fields.iter().sum())
}

/// `1234567` as `1,234,567`.
fn thousands(v: usize) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The README's table (markdown).
fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| model | `.tflite` | accuracy, tinyq interpreter | accuracy, generated C | \
         C weights | C flash (Cortex-M4) | C arena | seed `.tflite` | seed accuracy |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let acc = |c: usize| format!("{:.4}", c as f64 / r.samples as f64);
        let c = match (r.c, r.c_agrees) {
            (Some(c), Some(true)) => format!("{} (= interpreter)", acc(c)),
            (Some(c), _) => format!("{} (differs from the interpreter)", acc(c)),
            (None, _) => "n/a".to_string(),
        };
        let interp = match r.litert {
            Some(l) => format!("{} (LiteRT: {})", acc(r.interpreter), acc(l)),
            None => acc(r.interpreter),
        };
        s.push_str(&format!(
            "| {} | {} B | {} | {} | {} B | {} | {} B | {} | {} |\n",
            r.label,
            thousands(r.tflite_bytes),
            interp,
            c,
            thousands(r.weights),
            r.flash
                .map_or("n/a".to_string(), |f| format!("{} B", thousands(f))),
            thousands(r.arena),
            r.seed.0,
            r.seed.1,
        ));
    }
    s
}

/// Writes `table` between the README's markers, or with `check` fails if
/// the README's table differs.
fn update_readme(readme: &Path, table: &str, check: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let (Some(begin), Some(end)) = (text.find(TABLE_BEGIN), text.find(TABLE_END)) else {
        bail!("README.md lacks the mnist-table markers");
    };
    if end < begin {
        bail!("README.md's mnist-table markers are out of order");
    }
    let start = begin + TABLE_BEGIN.len();
    let fresh = format!("{}{table}{}", &text[..start], &text[end..]);
    if fresh == text {
        return Ok(());
    }
    if check {
        bail!(
            "{}: the MNIST table is stale; run `cargo xtask codegen` and commit the result",
            readme.display()
        );
    }
    std::fs::write(readme, fresh).with_context(|| format!("cannot write {}", readme.display()))
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

    /// The table: every quantized model within 0.3 points of float, the
    /// dynamic-range model at least 0.966 in the interpreter, the C and
    /// LiteRT, every generated C classifying each digit as the interpreter
    /// does, and the README's table current.
    #[test]
    fn example_accuracy_tells_the_seed_story() {
        let dir = project_root().join("examples/mnist");
        let generated = generate(&dir).expect("generate");
        let rows = evaluate(&dir, &generated).expect("evaluate");
        let float = &rows[0];
        assert_eq!(float.samples, 2000);
        assert!(float.interpreter as f64 / 2000.0 > 0.96, "{float:?}");
        for r in &rows {
            let drop = (float.interpreter as f64 - r.interpreter as f64) / 2000.0;
            assert!(
                drop <= 0.003,
                "{} loses {:.4} points: {r:?}",
                r.label,
                drop * 100.0
            );
            assert_eq!(
                r.c,
                Some(r.interpreter),
                "generated C vs interpreter: {r:?}"
            );
            assert_eq!(r.c_agrees, Some(true), "{r:?}");
        }
        let dynamic = &rows[1];
        for (what, correct) in [
            ("interpreter", Some(dynamic.interpreter)),
            ("generated C", dynamic.c),
            ("LiteRT", dynamic.litert),
        ] {
            let correct = correct.unwrap_or_else(|| panic!("no {what} figure: {dynamic:?}"));
            assert!(correct as f64 / 2000.0 >= 0.966, "{what}: {dynamic:?}");
        }
        // About 4x less weight flash than float.
        assert!(
            dynamic.weights * 3 < float.weights,
            "{dynamic:?} vs {float:?}"
        );
        update_readme(&project_root().join("README.md"), &table(&rows), true)
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
}

//! `cargo xtask bench`: inference time of the generated C against TFLM's
//! reference kernels and tinyq's interpreter, measured in the same run on
//! the MNIST example (the machines are shared and noisy: read the ratios).
//!
//! TFLM runs through the `tflite-micro` Python package (the only TFLM build
//! available here), so this is a development-time benchmark: pass
//! `--python P` or have `.venv` from `cargo xtask fixtures`. Without it the
//! TFLM column is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use ndarray::Array3;
use ndarray_npy::ReadNpyExt;
use tinyq_interp::{Interpreter, quantize_floats};
use tinyq_kernels::quantize::QuantParams;

use crate::project_root;

const DIGITS: usize = 256;
const ROUNDS: usize = 7;

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let root = project_root();
    let mut python: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--python" => python = Some(it.next().context("--python needs a path")?.into()),
            other => bail!("unknown bench option {other:?}"),
        }
    }
    let python = python.or_else(|| {
        let venv = root.join(".venv/bin/python");
        venv.is_file().then_some(venv)
    });
    let dir = root.join("examples/mnist");
    let generated = dir.join("generated");
    let model = generated.join("mnist_int8.tflite");
    let session = tinyq_compiler::Session::new();
    let read = session
        .read_file(&model)
        .context("run `cargo xtask codegen` first")?;
    let program = session.compile(&read, None)?.program;
    let input = &program.inputs[0];
    let (scale, zero_point) = input.quant.context("quantized input expected")?;
    let params = QuantParams { scale, zero_point };

    // The first DIGITS held-out digits as int8 codes, one file for all three.
    let images: Array3<u8> =
        Array3::read_npy(std::fs::File::open(dir.join("data/test-images.npy"))?)?;
    let mut codes = Vec::with_capacity(DIGITS * input.byte_len());
    let mut x = vec![0u8; input.byte_len()];
    for image in images.outer_iter().take(DIGITS) {
        let floats: Vec<f32> = image.iter().map(|&p| f32::from(p) / 255.0).collect();
        quantize_floats(&params, false, &floats, &mut x)?;
        codes.extend_from_slice(&x);
    }
    let work = std::env::temp_dir().join(format!("tinyq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let digits = work.join("digits.bin");
    std::fs::write(&digits, &codes)?;

    let c_ns = time_generated_c(&root, &generated, &work, &digits)?;
    let interp_ns = time_interpreter(&program, &codes)?;
    let tflm_ns = match &python {
        Some(py) => Some(time_tflm(py, &root, &model, &digits)?),
        None => None,
    };
    let rust = crate::bench_rust::rust_vs_c(&root, &generated, &work, &digits)?;
    let _ = std::fs::remove_dir_all(&work);

    println!(
        "MNIST example ({} MACs per inference), median of {ROUNDS} rounds over {DIGITS} digits:",
        macs(&read.graph)
    );
    let us = |ns: f64| ns / 1000.0;
    match tflm_ns {
        Some(t) => {
            println!(
                "  {:<34} {:>9.1} µs  speed 1.00x (baseline)",
                "TFLM reference kernels",
                us(t)
            );
            println!(
                "  {:<34} {:>9.1} µs  speed {:.2}x TFLM",
                "tinyq generated C (cc -O2)",
                us(c_ns),
                t / c_ns
            );
            println!(
                "  {:<34} {:>9.1} µs  speed {:.2}x TFLM",
                "tinyq interpreter",
                us(interp_ns),
                t / interp_ns
            );
        }
        None => {
            println!(
                "  {:<34} {:>9}",
                "TFLM reference kernels", "not measured (pass --python P with tflite-micro)"
            );
            println!(
                "  {:<34} {:>9.1} µs",
                "tinyq generated C (cc -O2)",
                us(c_ns)
            );
            println!(
                "  {:<34} {:>9.1} µs  ({:.2}x the C)",
                "tinyq interpreter",
                us(interp_ns),
                interp_ns / c_ns
            );
        }
    }
    for p in &rust {
        println!(
            "  generated Rust / C, {:<41} {:.2}x the time ({:.1} µs vs {:.1} µs)",
            p.label,
            p.rust_ns / p.c_ns,
            us(p.rust_ns),
            us(p.c_ns)
        );
    }
    Ok(())
}

fn macs(graph: &tinyq_ir::Graph) -> u64 {
    graph
        .ops
        .handles()
        .map(|op| tinyq_ir::stats::op_cost(graph, op).macs)
        .sum()
}

fn time_generated_c(
    root: &Path,
    generated: &Path,
    work: &Path,
    digits: &Path,
) -> anyhow::Result<f64> {
    let exe = work.join("bench");
    let status = Command::new("cc")
        .args(["-std=c99", "-O2", "-o"])
        .arg(&exe)
        .arg(root.join("xtask/bench/bench_main.c"))
        .arg(generated.join("mnist.c"))
        .arg("-I")
        .arg(generated)
        .status()
        .context("cannot run cc")?;
    if !status.success() {
        bail!("cc failed ({status})");
    }
    let out = Command::new(&exe).arg(digits).output()?;
    if !out.status.success() {
        bail!("the benchmark harness failed");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .context("unexpected harness output")
}

fn time_interpreter(program: &tinyq_ir::Program, codes: &[u8]) -> anyhow::Result<f64> {
    let mut interp = Interpreter::new(program);
    let per = program.inputs[0].byte_len();
    let mut y = vec![0u8; program.outputs[0].byte_len()];
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for x in codes.chunks_exact(per) {
            interp.invoke(&[x], &mut [&mut y])?;
        }
        rounds.push(start.elapsed().as_nanos() as f64 / (codes.len() / per) as f64);
    }
    rounds.sort_by(f64::total_cmp);
    Ok(rounds[ROUNDS / 2])
}

fn time_tflm(python: &Path, root: &Path, model: &Path, digits: &Path) -> anyhow::Result<f64> {
    let out = Command::new(python)
        .arg(root.join("xtask/bench/tflm_bench.py"))
        .arg(model)
        .arg(digits)
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "tflm_bench.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("unexpected tflm_bench.py output")
}

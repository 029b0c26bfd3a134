//! `cargo xtask codegen`: the main job on the bundled MNIST example.
//!
//! Reads `examples/mnist/mnist_int8.tflite` (a TF-converter int8 model),
//! lowers it with tinyq, runs tinyq's interpreter on the 2,000 held-out
//! digits in `examples/mnist/data/` and prints the size and accuracy tables.

use std::path::Path;

use anyhow::{Context, bail};
use ndarray::{Array1, Array3};
use ndarray_npy::ReadNpyExt;
use tinyq_interp::{Interpreter, quantize_floats};
use tinyq_ir::DType;
use tinyq_kernels::quantize::QuantParams;

use crate::project_root;

/// What the run measured, for the tables and for `--check`.
#[derive(Debug)]
struct Measured {
    model_bytes: u64,
    weight_bytes: usize,
    arena_bytes: usize,
    samples: usize,
    correct: usize,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(other) = args.first() {
        bail!("unknown codegen option {other:?}");
    }
    let root = project_root();
    let m = measure(&root.join("examples/mnist"))?;
    println!("Model size:");
    println!(
        "  {:<32} {:>10} bytes",
        "int8 .tflite (TF converter)", m.model_bytes
    );
    println!(
        "  {:<32} {:>10} bytes",
        "int8 weights, biases, tables", m.weight_bytes
    );
    println!(
        "  {:<32} {:>10} bytes",
        "activation arena (planned)", m.arena_bytes
    );
    println!("Model accuracy ({} held-out digits):", m.samples);
    println!(
        "  {:<32} {:>10.4}",
        "int8, tinyq interpreter",
        m.correct as f64 / m.samples as f64
    );
    Ok(())
}

fn load<T: ndarray_npy::ReadableElement, D: ndarray::Dimension>(
    path: &Path,
) -> anyhow::Result<ndarray::Array<T, D>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    ndarray::Array::<T, D>::read_npy(file)
        .with_context(|| format!("cannot read {}", path.display()))
}

fn measure(dir: &Path) -> anyhow::Result<Measured> {
    let model_path = dir.join("mnist_int8.tflite");
    let graph = tinyq_tflite::read_file(&model_path)?;
    let program = tinyq_opt::lower(&graph).with_context(|| model_path.display().to_string())?;
    let images: Array3<u8> = load(&dir.join("data/test-images.npy"))?;
    let labels: Array1<u8> = load(&dir.join("data/test-labels.npy"))?;
    let [input] = &program.inputs[..] else {
        bail!("the MNIST model must have one input");
    };
    let (scale, zero_point) = input
        .quant
        .context("the MNIST model input must be quantized")?;
    let params = QuantParams { scale, zero_point };
    let output = &program.outputs[0];
    let mut interp = Interpreter::new(&program);
    let mut correct = 0;
    let mut x = vec![0u8; input.byte_len()];
    let mut y = vec![0u8; output.byte_len()];
    for (image, &label) in images.outer_iter().zip(&labels) {
        let floats: Vec<f32> = image.iter().map(|&p| f32::from(p) / 255.0).collect();
        quantize_floats(&params, input.dtype == DType::U8, &floats, &mut x)?;
        interp.invoke(&[&x], &mut [&mut y])?;
        let scores: Vec<i32> = y
            .iter()
            .map(|&b| {
                if output.dtype == DType::U8 {
                    i32::from(b)
                } else {
                    i32::from(b as i8)
                }
            })
            .collect();
        let best = (0..scores.len())
            .max_by_key(|&i| (scores[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        correct += usize::from(best == usize::from(label));
    }
    let weight_bytes = program
        .steps
        .iter()
        .map(|s| kernel_bytes(&s.kernel))
        .sum::<usize>()
        + program.constants.iter().map(Vec::len).sum::<usize>();
    Ok(Measured {
        model_bytes: std::fs::metadata(&model_path)?.len(),
        weight_bytes,
        arena_bytes: program.arena_size,
        samples: labels.len(),
        correct,
    })
}

/// Bytes of constant data a kernel carries.
fn kernel_bytes(kernel: &tinyq_ir::Kernel) -> usize {
    use tinyq_ir::Kernel;
    let weights = |w: &tinyq_ir::kernel::Weights| {
        w.filter.len()
            + 4 * (w.bias.as_ref().map_or(0, Vec::len) + w.multipliers.len() + w.shifts.len())
    };
    match kernel {
        Kernel::Conv2D { weights: w, .. }
        | Kernel::DepthwiseConv2D { weights: w, .. }
        | Kernel::FullyConnected { weights: w, .. } => weights(w),
        Kernel::Lut { table } => table.len(),
        Kernel::DequantizeLut { table } => 4 * table.len(),
        _ => 0,
    }
}

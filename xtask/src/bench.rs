//! `cargo xtask bench`: inference time of the generated C against TFLM's
//! reference kernels, measured in the same run, on every int8 model of the
//! fixture set (one variant each, `tests/fixtures/*/int8.tflite`) and the
//! MNIST example, or on the models given with `--model` (the machines are
//! shared and noisy: read the ratios). For each model: TFLM reference
//! kernels, the generated C at `cc -O2` and at `cc -O3 -march=native`, their
//! speed over TFLM, and GMAC/s. Convolutional models (CONV_2D or
//! DEPTHWISE_CONV_2D) are starred: the target is 8x TFLM at `-O3 -march=native`.
//!
//! TFLM runs through the `tflite-micro` Python package (the only TFLM build
//! available here), so this is a development-time benchmark: pass
//! `--python P` or have `.venv` from `cargo xtask fixtures`. Without it the
//! TFLM column is skipped. After the table, the generated Rust of the MNIST
//! example is timed against its C (`bench_rust`) unless `--no-rust`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use tinyq_ir::{Kernel, Program};

use crate::project_root;

/// This many rounds, each about `ROUND_MS` long (short rounds: on a loaded
/// machine a long round is rarely spared a preemption).
const ROUNDS: usize = 21;
const ROUND_MS: f64 = 5.0;
/// The speed goal over TFLM at `-O3 -march=native` on convolutional models.
const GOAL: f64 = 8.0;

struct Options {
    python: Option<PathBuf>,
    models: Vec<PathBuf>,
    filter: Option<String>,
    rust: bool,
    rounds: usize,
}

fn parse(args: &[String], root: &Path) -> anyhow::Result<Options> {
    let mut o = Options {
        python: None,
        models: Vec::new(),
        filter: None,
        rust: true,
        rounds: ROUNDS,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--python" => o.python = Some(it.next().context("--python needs a path")?.into()),
            "--model" => o
                .models
                .push(it.next().context("--model needs a path")?.into()),
            "--filter" => o.filter = Some(it.next().context("--filter needs a string")?.clone()),
            "--rounds" => {
                o.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=256).contains(n))
                    .context("--rounds needs a number from 1 to 256")?;
            }
            "--no-rust" => o.rust = false,
            other => bail!("unknown bench option {other:?}"),
        }
    }
    o.python = o.python.or_else(|| {
        let venv = root.join(".venv/bin/python");
        venv.is_file().then_some(venv)
    });
    Ok(o)
}

/// The default model set: the MNIST example, then each fixture's int8 model.
fn default_models(root: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut models = vec![(
        "mnist example".to_string(),
        root.join("examples/mnist/generated/mnist_int8.tflite"),
    )];
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for file in ["int8.tflite", "model.tflite"] {
            if dir.join(file).is_file() {
                models.push((name, dir.join(file)));
                break;
            }
        }
    }
    Ok(models)
}

/// One measurement: the median and the least ns per inference over the rounds.
#[derive(Clone, Copy)]
struct Time {
    median: f64,
    best: f64,
}

/// One model's figures.
struct Row {
    label: String,
    macs: u64,
    conv: bool,
    tflm: Option<Time>,
    o2: Time,
    o3: Time,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let root = project_root();
    let opts = parse(args, &root)?;
    let models = if opts.models.is_empty() {
        default_models(&root)?
    } else {
        opts.models
            .iter()
            .map(|p| (p.display().to_string(), p.clone()))
            .collect()
    };
    let work = std::env::temp_dir().join(format!("tinyq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut rows = Vec::new();
    header();
    for (label, path) in &models {
        if opts
            .filter
            .as_ref()
            .is_some_and(|f| !label.contains(f.as_str()))
        {
            continue;
        }
        match bench_model(&root, &opts, &work, label, path)? {
            Some(row) => {
                print_row(&row);
                rows.push(row);
            }
            None => eprintln!("  {label}: not an integer model, skipped"),
        }
    }
    summary(&rows, opts.rounds);
    if opts.rust && opts.filter.is_none() && opts.models.is_empty() {
        rust_column(&root, &work)?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

fn bench_model(
    root: &Path,
    opts: &Options,
    work: &Path,
    label: &str,
    path: &Path,
) -> anyhow::Result<Option<Row>> {
    let session = tinyq_compiler::Session::new();
    let read = session
        .read_file(path)
        .with_context(|| format!("{label}: cannot read {}", path.display()))?;
    let compiled = session.compile(&read, None)?;
    let program = &compiled.program;
    if program
        .steps
        .iter()
        .any(|s| matches!(s.kernel, Kernel::Float(_)))
    {
        return Ok(None);
    }
    let dir = work.join(format!("m{}", label.replace(['/', ' '], "_")));
    std::fs::create_dir_all(&dir)?;
    let c = session.emit_c(&read.name, program, "m")?;
    std::fs::write(dir.join("m.h"), &c.header)?;
    std::fs::write(dir.join("m.c"), &c.source)?;
    let inputs = write_inputs(program, &dir)?;
    let o2 = time_c(root, &dir, program, &inputs, &["-O2"], opts.rounds)?;
    let o3 = time_c(
        root,
        &dir,
        program,
        &inputs,
        &["-O3", "-march=native"],
        opts.rounds,
    )?;
    if o2.1 != o3.1 {
        bail!(
            "{label}: the -O2 and -O3 builds disagree (checksums {} and {})",
            o2.1,
            o3.1
        );
    }
    let tflm = match &opts.python {
        Some(py) => Some(time_tflm(py, root, path, &inputs, opts.rounds)?),
        None => None,
    };
    let conv = read.graph.ops.handles().any(|op| {
        matches!(
            read.graph.ops[op].kind.name(),
            "CONV_2D" | "DEPTHWISE_CONV_2D"
        )
    });
    Ok(Some(Row {
        label: label.to_string(),
        macs: macs(&read.graph),
        conv,
        tflm,
        o2: o2.0,
        o3: o3.0,
    }))
}

fn macs(graph: &tinyq_ir::Graph) -> u64 {
    graph
        .ops
        .handles()
        .map(|op| tinyq_ir::stats::op_cost(graph, op).macs)
        .sum()
}

/// Deterministic pseudo-random bytes for each input, one file each (timing
/// barely depends on the values; both engines read the same bytes).
fn write_inputs(program: &Program, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut state: u32 = 0x1234_5678;
    let mut files = Vec::new();
    for (i, io) in program.inputs.iter().enumerate() {
        let mut bytes = Vec::with_capacity(io.byte_len());
        for _ in 0..io.byte_len() {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bytes.push((state >> 24) as u8);
        }
        if io.dtype == tinyq_ir::DType::F32 {
            // Small finite floats rather than arbitrary bit patterns.
            for chunk in bytes.chunks_exact_mut(4) {
                let v = f32::from(chunk[0]) / 255.0;
                chunk.copy_from_slice(&v.to_le_bytes());
            }
        }
        let path = dir.join(format!("in{i}.bin"));
        std::fs::write(&path, &bytes)?;
        files.push(path);
    }
    Ok(files)
}

fn sizes(ios: &[tinyq_ir::IoSpec]) -> String {
    let list: Vec<String> = ios.iter().map(|io| io.byte_len().to_string()).collect();
    format!("{{{}}}", list.join(","))
}

/// Builds the harness with `flags` and returns its times and output checksum.
fn time_c(
    root: &Path,
    dir: &Path,
    program: &Program,
    inputs: &[PathBuf],
    flags: &[&str],
    rounds: usize,
) -> anyhow::Result<(Time, String)> {
    let exe = dir.join(format!("bench{}", flags.join("").replace(['-', '='], "_")));
    let status = Command::new("cc")
        .arg("-std=c99")
        .args(flags)
        .arg(format!("-DTQ_IN_SIZES={}", sizes(&program.inputs)))
        .arg(format!("-DTQ_OUT_SIZES={}", sizes(&program.outputs)))
        .arg("-o")
        .arg(&exe)
        .arg(root.join("xtask/bench/bench_model.c"))
        .arg(dir.join("m.c"))
        .arg("-I")
        .arg(dir)
        .status()
        .context("cannot run cc")?;
    if !status.success() {
        bail!("cc failed ({status})");
    }
    let out = Command::new(&exe)
        .arg(rounds.to_string())
        .arg(ROUND_MS.to_string())
        .args(inputs)
        .output()?;
    if !out.status.success() {
        bail!("the benchmark harness {} failed", exe.display());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut words = text.split_whitespace();
    let time = parse_time(&mut words).context("unexpected harness output")?;
    Ok((time, words.next().unwrap_or_default().to_string()))
}

fn time_tflm(
    python: &Path,
    root: &Path,
    model: &Path,
    inputs: &[PathBuf],
    rounds: usize,
) -> anyhow::Result<Time> {
    let out = Command::new(python)
        .arg(root.join("xtask/bench/tflm_bench.py"))
        .arg(model)
        .arg(rounds.to_string())
        .arg(ROUND_MS.to_string())
        .args(inputs)
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "tflm_bench.py failed on {}: {}",
            model.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    parse_time(&mut text.split_whitespace()).context("unexpected tflm_bench.py output")
}

fn parse_time<'a>(words: &mut impl Iterator<Item = &'a str>) -> Option<Time> {
    let median = words.next()?.parse().ok()?;
    let best = words.next()?.parse().ok()?;
    Some(Time { median, best })
}

/// The speed goal is judged on the median ratio; the ratio of the best
/// rounds (in brackets) is the one least disturbed by other processes.
fn print_row(r: &Row) {
    let us = |ns: f64| ns / 1000.0;
    let name = format!("{}{}", r.label, if r.conv { " *" } else { "" });
    let gmacs = r.macs as f64 / r.o3.median;
    match r.tflm {
        Some(t) => println!(
            "{name:<24} {:>10} {:>10.1} {:>9.1} {:>6.2}x ({:>6.2}x) {:>9.1} {:>6.2}x ({:>6.2}x) {:>6.2}{}",
            r.macs,
            us(t.median),
            us(r.o2.median),
            t.median / r.o2.median,
            t.best / r.o2.best,
            us(r.o3.median),
            t.median / r.o3.median,
            t.best / r.o3.best,
            gmacs,
            if r.conv && t.median / r.o3.median < GOAL {
                "  below 8x"
            } else {
                ""
            }
        ),
        None => println!(
            "{name:<24} {:>10} {:>10} {:>9.1} {:>17} {:>9.1} {:>17} {:>6.2}",
            r.macs,
            "-",
            us(r.o2.median),
            "",
            us(r.o3.median),
            "",
            gmacs
        ),
    }
}

fn header() {
    println!(
        "{:<24} {:>10} {:>10} {:>9} {:>17} {:>9} {:>17} {:>6}",
        "model (* conv)",
        "MACs",
        "TFLM µs",
        "-O2 µs",
        "vs TFLM (best)",
        "-O3n µs",
        "vs TFLM (best)",
        "GMAC/s"
    );
}

fn summary(rows: &[Row], rounds: usize) {
    let conv: Vec<f64> = rows
        .iter()
        .filter(|r| r.conv)
        .filter_map(|r| r.tflm.map(|t| t.median / r.o3.median))
        .collect();
    println!(
        "times: CPU time of the running thread, median of {rounds} rounds of about {ROUND_MS} ms; ratios: TFLM's time over tinyq's, \
         of the medians (of the best rounds); -O3n = cc -O3 -march=native; GMAC/s at -O3n"
    );
    if let Some(min) = conv.iter().copied().reduce(f64::min) {
        println!(
            "convolutional models: {}, the slowest at -O3 -march=native {min:.2}x TFLM (goal {GOAL}x), {} below the goal",
            conv.len(),
            conv.iter().filter(|&&x| x < GOAL).count()
        );
    }
}

/// The generated Rust of the MNIST example against its C.
fn rust_column(root: &Path, work: &Path) -> anyhow::Result<()> {
    let generated = root.join("examples/mnist/generated");
    // 64 zero-point-ish digits are enough for a ratio between two builds.
    let digits = work.join("digits.bin");
    let mut state: u32 = 7;
    let codes: Vec<u8> = (0..64 * 784)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(&digits, codes)?;
    for p in crate::bench_rust::rust_vs_c(root, &generated, work, &digits)? {
        println!(
            "generated Rust / C (MNIST example), {:<41} {:.2}x the time ({:.1} µs vs {:.1} µs)",
            p.label,
            p.rust_ns / p.c_ns,
            p.rust_ns / 1000.0,
            p.c_ns / 1000.0
        );
    }
    Ok(())
}

//! The Rust column of `cargo xtask bench`: the generated Rust module of the
//! MNIST example against the generated C of the same model, built and run
//! in the same run, as ratios (the machines are shared and noisy), for a
//! plain release build against `cc -O2` and for `-C target-cpu=native`
//! against `cc -O3 -march=native`. Both harnesses print the same checksum
//! of the outputs, which must agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Runs alternate C and Rust this many times; the median of each is kept.
const RUNS: usize = 3;

/// One pairing of build flags: its label, C and Rust ns per inference.
pub struct Pair {
    pub label: &'static str,
    pub c_ns: f64,
    pub rust_ns: f64,
}

fn run(exe: &Path, digits: &Path) -> anyhow::Result<(f64, String)> {
    let out = Command::new(exe).arg(digits).output()?;
    if !out.status.success() {
        bail!("the benchmark harness {} failed", exe.display());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut words = text.split_whitespace();
    let ns = words
        .next()
        .and_then(|t| t.parse().ok())
        .context("unexpected harness output")?;
    Ok((ns, words.next().unwrap_or_default().to_string()))
}

fn build_c(root: &Path, generated: &Path, exe: &Path, flags: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("cc")
        .arg("-std=c99")
        .args(flags)
        .arg("-o")
        .arg(exe)
        .arg(root.join("xtask/bench/bench_main.c"))
        .arg(generated.join("mnist.c"))
        .arg("-I")
        .arg(generated)
        .status()
        .context("cannot run cc")?;
    if !status.success() {
        bail!("cc failed ({status})");
    }
    Ok(())
}

fn build_rust(src: &Path, exe: &Path, flags: &[&str]) -> anyhow::Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let status = Command::new(rustc)
        .args(["--edition", "2024", "-C", "opt-level=3"])
        .args(flags)
        .arg("-o")
        .arg(exe)
        .arg(src)
        .status()
        .context("cannot run rustc")?;
    if !status.success() {
        bail!("rustc failed ({status})");
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Builds and times both pairings in `work`.
pub fn rust_vs_c(
    root: &Path,
    generated: &Path,
    work: &Path,
    digits: &Path,
) -> anyhow::Result<Vec<Pair>> {
    let src = work.join("rust");
    std::fs::create_dir_all(&src)?;
    std::fs::copy(generated.join("mnist.rs"), src.join("mnist.rs"))?;
    std::fs::copy(root.join("xtask/bench/bench_main.rs"), src.join("main.rs"))?;
    let pairings: [(&'static str, &[&str], &[&str]); 2] = [
        ("release vs cc -O2", &["-O2"], &[]),
        (
            "target-cpu=native vs cc -O3 -march=native",
            &["-O3", "-march=native"],
            &["-C", "target-cpu=native"],
        ),
    ];
    let mut pairs = Vec::new();
    for (k, (label, c_flags, rust_flags)) in pairings.into_iter().enumerate() {
        let c_exe: PathBuf = work.join(format!("bench-c-{k}"));
        let rust_exe: PathBuf = work.join(format!("bench-rust-{k}"));
        build_c(root, generated, &c_exe, c_flags)?;
        build_rust(&src.join("main.rs"), &rust_exe, rust_flags)?;
        let (mut c, mut r) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (c_ns, c_sum) = run(&c_exe, digits)?;
            let (r_ns, r_sum) = run(&rust_exe, digits)?;
            if c_sum != r_sum {
                bail!("the generated C and Rust disagree (checksums {c_sum} and {r_sum})");
            }
            c.push(c_ns);
            r.push(r_ns);
        }
        pairs.push(Pair {
            label,
            c_ns: median(c),
            rust_ns: median(r),
        });
    }
    Ok(pairs)
}

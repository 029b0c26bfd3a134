//! `cargo xtask bench --m4`: instructions per inference on a Cortex-M4
//! (QEMU, `-icount`), tinyq's generated C against TFLM with CMSIS-NN and TFLM
//! with its reference kernels, through the shared m4bench tool
//! (`../shared/tools/m4bench`, or `$M4BENCH`). Instructions are exact and
//! repeatable (see the tool's README); they are not cycles.
//!
//! First, each model's arena: tinyq's planned arena beside the tensor
//! memory TFLM plans and TFLM's whole arena (`tests/fixtures/tflm_arena.json`).
//!
//! Options: `--tinyq BIN` (default `target/release/tinyq`; build it with
//! `cargo build --release -p tinyq-cli`), `--ns N` samples (default 3: one
//! warm-up, N-1 timed), `--profile` (also instructions per op type, tinyq
//! against TFLM + CMSIS-NN, and tinyq's per step: `m4_profile`), and fixture
//! names (default: the int8 fixtures below).
//! The TFLM columns show `-` when the tool's TFLM libraries or the ARM C++
//! toolchain are missing, or when a model has more than one input/output.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{m4_profile, project_root};

/// The int8 fixtures measured by default (1 input, 1 output each, except
/// where the tool says otherwise).
const DEFAULT_MODELS: &[&str] = &[
    "kws_ds_cnn",
    "vww_mobilenet_v1",
    "resnet8",
    "ad_autoencoder",
    "micro_speech",
    "cnn_small",
    "cnn_strided",
    "mnist",
];

const ENGINES: [&str; 3] = ["tinyq", "tflm-cmsis", "tflm-ref"];

/// Where the m4bench tool lives.
pub fn tool_dir(root: &Path) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("M4BENCH").map(PathBuf::from),
        Some(root.join("../shared/tools/m4bench")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("run.sh").is_file())
}

/// One engine's run: instructions per inference and the output bytes.
struct Run {
    instr: u64,
    outputs: Vec<u8>,
}

fn run_engine(
    tool: &Path,
    engine: &str,
    tinyq: &Path,
    ns: usize,
    profile: bool,
    model: &Path,
    work: &Path,
) -> Result<Run, String> {
    let log = work.join(format!("{engine}.log"));
    let mut cmd = Command::new(tool.join("run.sh"));
    if profile && engine != "tflm-ref" {
        cmd.arg("--profile");
    }
    let out = cmd
        .arg("--engine")
        .arg(engine)
        .arg("--tinyq")
        .arg(tinyq)
        .arg("--ns")
        .arg(ns.to_string())
        .arg("--work")
        .arg(work)
        .arg(model)
        .output()
        .map_err(|e| format!("cannot run run.sh: {e}"))?;
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    let _ = std::fs::write(&log, &text);
    if !out.status.success() {
        let text = String::from_utf8_lossy(&text);
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(last.trim().to_string());
    }
    let result = std::fs::read_to_string(work.join(engine).join("result.json"))
        .map_err(|e| format!("no result.json: {e}"))?;
    let instr = json_u64(&result, "instr_per_inference").ok_or("no instr_per_inference")?;
    let outputs = std::fs::read(work.join(engine).join("outputs.bin")).unwrap_or_default();
    Ok(Run { instr, outputs })
}

/// A top-level unsigned integer field of the tool's flat JSON.
fn json_u64(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = &json[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn macs(model: &Path) -> anyhow::Result<u64> {
    let session = tinyq_compiler::Session::new();
    let read = session.read_file(model)?;
    let graph = &read.graph;
    Ok(graph
        .ops
        .handles()
        .map(|op| tinyq_ir::stats::op_cost(graph, op).macs)
        .sum())
}

/// tinyq's arena for `model` (the driver's plan: the RAM the generated C
/// asks of the caller beside I/O), and TFLM's for the same fixture case as
/// `cargo xtask fixtures` recorded it: the tensor memory it plans and its
/// whole arena (`tests/fixtures/tflm_arena.json`).
fn arenas(root: &Path, name: &str, model: &Path) -> [Option<u64>; 3] {
    let session = tinyq_compiler::Session::new();
    let tinyq = session
        .read_file(model)
        .ok()
        .and_then(|read| session.compile(&read, None).ok())
        .map(|c| c.program.arena_size as u64);
    let json =
        std::fs::read_to_string(root.join("tests/fixtures/tflm_arena.json")).unwrap_or_default();
    let case = json
        .find(&format!("\"{name}/int8\""))
        .map(|at| &json[at..])
        .and_then(|rest| rest.find('}').map(|end| &rest[..end]));
    let field = |key: &str| case.and_then(|c| json_u64(c, key));
    [tinyq, field("head"), field("total")]
}

/// The arena table: RAM for activations, tinyq against TFLM.
fn print_arenas(root: &Path, names: &[String]) {
    println!("Arena in bytes (model inputs and outputs excluded)");
    println!(
        "  {:<18} {:>9} {:>14} {:>14}",
        "model", "tinyq", "TFLM tensors", "TFLM arena"
    );
    for name in names {
        let model = root.join("tests/fixtures").join(name).join("int8.tflite");
        let cells = arenas(root, name, &model).map(|v| v.map_or("-".into(), |v| v.to_string()));
        let [t, h, a] = &cells;
        println!("  {name:<18} {t:>9} {h:>14} {a:>14}");
    }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let root = project_root();
    let mut tinyq = root.join("target/release/tinyq");
    let mut ns = 3usize;
    let mut profile = false;
    let mut names: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--m4" => {}
            "--profile" => profile = true,
            "--tinyq" => tinyq = it.next().context("--tinyq needs a path")?.into(),
            "--ns" => {
                ns = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n >= 2)
                    .context("--ns needs a number >= 2")?;
            }
            other if other.starts_with('-') => bail!("unknown bench --m4 option {other:?}"),
            name => names.push(name.to_string()),
        }
    }
    if names.is_empty() {
        names = DEFAULT_MODELS.iter().map(|s| s.to_string()).collect();
    }
    print_arenas(&root, &names);
    let Some(tool) = tool_dir(&root) else {
        println!("bench --m4: the m4bench tool was not found (set M4BENCH=DIR); nothing measured");
        return Ok(());
    };
    if !tinyq.is_file() {
        bail!(
            "{} not found: `cargo build --release -p tinyq-cli` first, or pass --tinyq BIN",
            tinyq.display()
        );
    }
    let tinyq = tinyq.canonicalize()?;
    let work_root = std::env::temp_dir().join(format!("tinyq-m4bench-{}", std::process::id()));
    println!(
        "Cortex-M4 under QEMU (-icount): instructions per inference (mean of {} timed samples), \
         and per MAC",
        ns - 1
    );
    println!(
        "{:<18} {:>11} | {:>13} {:>7} | {:>13} {:>7} | {:>13} {:>7} | {:>6} {:>6} | tinyq==TFLM (cmsis/ref)",
        "model",
        "MACs",
        "tinyq",
        "/MAC",
        "TFLM+CMSIS-NN",
        "/MAC",
        "TFLM ref",
        "/MAC",
        "vs CM",
        "vs ref"
    );
    let mut notes = Vec::new();
    for name in &names {
        let model = root.join("tests/fixtures").join(name).join("int8.tflite");
        if !model.is_file() {
            notes.push(format!("{name}: no tests/fixtures/{name}/int8.tflite"));
            continue;
        }
        let macs = macs(&model).unwrap_or(0);
        let work = work_root.join(name);
        std::fs::create_dir_all(&work)?;
        let runs: Vec<Result<Run, String>> = ENGINES
            .iter()
            .map(|e| run_engine(&tool, e, &tinyq, ns, profile, &model, &work))
            .collect();
        let cell = |r: &Result<Run, String>| match r {
            Ok(run) => (
                format!("{}", run.instr),
                if macs > 0 {
                    format!("{:.2}", run.instr as f64 / macs as f64)
                } else {
                    "-".into()
                },
            ),
            Err(_) => ("-".into(), "-".into()),
        };
        let ratio = |a: &Result<Run, String>, b: &Result<Run, String>| match (a, b) {
            (Ok(a), Ok(b)) if b.instr > 0 => format!("{:.2}", a.instr as f64 / b.instr as f64),
            _ => "-".into(),
        };
        let same = match (&runs[0], &runs[1], &runs[2]) {
            (Ok(t), c, r) => {
                let eq = |o: &Result<Run, String>| match o {
                    Ok(o) => (if o.outputs == t.outputs { "yes" } else { "NO" }).to_string(),
                    Err(_) => "-".to_string(),
                };
                format!("{}/{}", eq(c), eq(r))
            }
            _ => "-".into(),
        };
        let (t, tm) = cell(&runs[0]);
        let (c, cm) = cell(&runs[1]);
        let (r, rm) = cell(&runs[2]);
        println!(
            "{name:<18} {macs:>11} | {t:>13} {tm:>7} | {c:>13} {cm:>7} | {r:>13} {rm:>7} | {:>6} {:>6} | {same}",
            ratio(&runs[0], &runs[1]),
            ratio(&runs[0], &runs[2]),
        );
        if profile && runs[0].is_ok() {
            print_profile(&tool, &work);
        }
        for (engine, run) in ENGINES.iter().zip(&runs) {
            if let Err(e) = run {
                notes.push(format!("{name} / {engine}: {e}"));
            }
        }
    }
    for note in notes {
        println!("  note: {note}");
    }
    println!("  (logs and builds under {})", work_root.display());
    Ok(())
}

/// The per-op-type table (tinyq against TFLM + CMSIS-NN) and tinyq's steps.
fn print_profile(tool: &Path, work: &Path) {
    let tinyq = m4_profile::op_type_profile(&work.join("tinyq/result.json"));
    let cmsis = m4_profile::op_type_profile(&work.join("tflm-cmsis/result.json"));
    if let Some(t) = &tinyq {
        m4_profile::print_op_types(t, cmsis.as_ref());
    }
    match m4_profile::per_step(tool, &work.join("tinyq")) {
        Ok(steps) => {
            for (header, instr) in steps {
                println!("    {instr:>10}  step {header}");
            }
        }
        Err(e) => println!("  (per step: {e})"),
    }
}

//! `tinyq run --trace`, the generated C's step hooks and `tinyq trace-diff`
//! agree: the CRC of every step's output is the same on the host
//! interpreter, in host C and on a Cortex-M4 under QEMU.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tinyq_tests::{fixtures_dir, read_npy};

use common::{path_str, tinyq};

/// Single-input fixtures: convolutions, in-place concatenation.
const FIXTURES: &[&str] = &[
    "mnist",
    "conv_basic",
    "depthwise",
    "pooling",
    "opt_concat_flat",
];

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("tinyq-trace-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/trace-m4")
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// `tinyq run --trace` of the fixture's first sample: `index crc32` lines.
fn run_trace(fixture: &str, dir: &Path) -> (PathBuf, Vec<String>) {
    let model = fixtures_dir().join(fixture).join("int8.tflite");
    let input = fixtures_dir().join(fixture).join("int8.in0.npy");
    let trace = dir.join("trace.json");
    let out = tinyq(&[
        "run",
        path_str(&model),
        "--input",
        path_str(&input),
        "--output",
        path_str(&dir.join("out.npz")),
        "--trace",
        path_str(&trace),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).expect("trace")).expect("json");
    let lines = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let crc = s["crc32"].as_str().expect("crc32");
            assert!(
                crc.len() == 8
                    && crc
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{crc}"
            );
            format!("{} {crc}", s["index"])
        })
        .collect();
    (trace, lines)
}

/// The fixture's first sample as a C initializer.
fn sample_header(fixture: &str, upper: &str) -> String {
    let input = read_npy(&fixtures_dir().join(fixture).join("int8.in0.npy")).expect("npy");
    let values: Vec<String> = input
        .sample(0)
        .iter()
        .map(|&b| (b as i8).to_string())
        .collect();
    format!(
        "#define NUM_SAMPLES 1\nstatic const int8_t samples[1][{upper}_INPUT_0_SIZE] = {{{{{}}}}};\n",
        values.join(",")
    )
}

/// Host C with all three hooks defined: they come in order BEGIN, END,
/// OUTPUT for steps 0, 1, ..., and the outputs' CRCs equal `run --trace`.
#[test]
fn c_hooks_run_in_order_and_match_run_trace() {
    if !have("gcc") {
        eprintln!("SKIPPED: gcc is not installed");
        return;
    }
    for fixture in FIXTURES {
        let dir = scratch(fixture);
        let (_, expected) = run_trace(fixture, &dir);
        let model = fixtures_dir().join(fixture).join("int8.tflite");
        let out = tinyq(&[
            "compile",
            path_str(&model),
            "--emit",
            "c",
            "--name",
            "m",
            "--out",
            path_str(&dir),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.join("sample.h"), sample_header(fixture, "M")).expect("write");
        let harness = r#"
#include <stdio.h>
#include <string.h>
#include "trace_crc.h"
static int expect = 0, phase = 0, fails = 0, begins = 0, ends = 0, outs = 0;
static void on_begin(int i, const char *op) { if (phase != 0 || i != expect || strlen(op) == 0) fails++; phase = 1; begins++; }
static void on_end(int i, const char *op) { if (phase != 1 || i != expect || strlen(op) == 0) fails++; phase = 2; ends++; }
static void on_output(int i, const void *p, size_t n) { if (phase != 2 || i != expect) fails++; phase = 0; expect++; outs++; trace_step_output(i, p, n); }
#define M_STEP_BEGIN(i, op) on_begin((i), (op))
#define M_STEP_END(i, op) on_end((i), (op))
#define M_STEP_OUTPUT(i, p, n) on_output((i), (p), (size_t)(n))
#define M_WEIGHTS_ATTR __attribute__((aligned(4)))
#include "m.c"
#include "trace_crc.c"
#include "sample.h"
void trace_puts(const char *line) { fputs(line, stdout); }
static unsigned char arena[M_ARENA_SIZE + 1];
/* Room for every output of the small fixtures. */
static unsigned char output[M_NUM_OUTPUTS][1 << 16];
int main(void) {
    const void *ins[1];
    void *outv[M_NUM_OUTPUTS];
    int o;
    ins[0] = samples[0];
    for (o = 0; o < M_NUM_OUTPUTS; ++o) outv[o] = output[o];
    if (m_invoke(ins, outv, arena) != 0) return 2;
    printf("count %d %d %d fails %d weights %d\n", begins, ends, outs, fails, M_WEIGHTS_SIZE > 0);
    return 0;
}
"#;
        std::fs::write(dir.join("harness.c"), harness).expect("write");
        let bin = dir.join("harness");
        let cc = Command::new("gcc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
            .arg(&dir)
            .arg("-I")
            .arg(example_dir())
            .arg(dir.join("harness.c"))
            .arg("-o")
            .arg(&bin)
            .output()
            .expect("gcc");
        assert!(
            cc.status.success(),
            "{fixture}: {}",
            String::from_utf8_lossy(&cc.stderr)
        );
        let run = Command::new(&bin).output().expect("harness");
        assert!(run.status.success(), "{fixture}: harness failed");
        let text = String::from_utf8_lossy(&run.stdout);
        let n = expected.len();
        assert!(
            text.contains(&format!("count {n} {n} {n} fails 0 weights 1")),
            "{fixture}: hook calls out of order or missing:\n{text}"
        );
        let got: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("count"))
            .map(str::to_string)
            .collect();
        assert_eq!(
            got, expected,
            "{fixture}: C step CRCs differ from run --trace"
        );
    }
}

/// `trace-diff` exits 0 on an equal device log, and on a changed one names
/// the first differing step with its op and tensor and exits 1.
#[test]
fn trace_diff_names_the_first_differing_step() {
    let dir = scratch("diff");
    let (trace, lines) = run_trace("mnist", &dir);
    let device = dir.join("device.txt");
    std::fs::write(&device, format!("booting\n{}\ndone\n", lines.join("\n"))).expect("write");
    let out = tinyq(&["trace-diff", path_str(&trace), path_str(&device)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut changed = lines.clone();
    changed[2] = "2 00000000".to_string();
    changed[4] = "4 00000000".to_string();
    std::fs::write(&device, changed.join("\n")).expect("write");
    let out = tinyq(&["trace-diff", path_str(&trace), path_str(&device)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("step 2 (conv2d"), "{text}");
    assert!(text.contains("conv2d_21"), "{text}");
}

/// examples/trace-m4 on a Cortex-M4 under QEMU: its log passes `trace-diff`
/// against `run --trace` of the same digit.
#[test]
fn trace_on_cortex_m4_equals_run_trace() {
    for tool in ["arm-none-eabi-gcc", "qemu-system-arm", "make"] {
        if !have(tool) {
            eprintln!("SKIPPED: {tool} is not installed; the trace-m4 example was not run");
            return;
        }
    }
    let dir = scratch("m4");
    let (trace, expected) = run_trace("mnist", &dir);
    let model = fixtures_dir().join("mnist/int8.tflite");
    let out = tinyq(&[
        "compile",
        path_str(&model),
        "--emit",
        "c",
        "--name",
        "mnist",
        "--out",
        path_str(&dir),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("samples.h"), sample_header("mnist", "MNIST")).expect("write");
    let make = Command::new("make")
        .arg("-C")
        .arg(example_dir())
        .arg(format!("BUILD={}", dir.display()))
        .arg(format!("GEN={}", dir.display()))
        .arg("MODEL=")
        .arg(format!(
            "EXTRA_CFLAGS=-DSAMPLES_HEADER=\\\"samples.h\\\" -I{}",
            dir.display()
        ))
        .output()
        .expect("make");
    assert!(
        make.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&make.stdout),
        String::from_utf8_lossy(&make.stderr)
    );
    let qemu = Command::new("timeout")
        .args([
            "120",
            "qemu-system-arm",
            "-M",
            "mps2-an386",
            "-nographic",
            "-monitor",
            "none",
        ])
        .args([
            "-serial",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
            "-kernel",
        ])
        .arg(dir.join("mnist_traced.elf"))
        .stdin(Stdio::null())
        .output()
        .expect("qemu");
    // Semihosting output lands on stdout or stderr depending on the version.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&qemu.stdout),
        String::from_utf8_lossy(&qemu.stderr)
    );
    assert!(qemu.status.success() && text.contains("done"), "{text}");
    let device = dir.join("device.txt");
    std::fs::write(&device, &text).expect("write");
    let got: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.contains(' '))
        .collect();
    assert_eq!(got, expected, "Cortex-M4 step CRCs differ from the host's");
    let out = tinyq(&["trace-diff", path_str(&trace), path_str(&device)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The generated Rust's `invoke_observed` sees the same step outputs as
/// `run --trace`; the module builds warning-free with the observer in use.
#[test]
fn rust_observer_matches_run_trace() {
    for fixture in FIXTURES {
        let dir = scratch(&format!("rust-{fixture}"));
        let (_, expected) = run_trace(fixture, &dir);
        let model = fixtures_dir().join(fixture).join("int8.tflite");
        let out = tinyq(&[
            "compile",
            path_str(&model),
            "--emit",
            "rust",
            "--name",
            "m",
            "--out",
            path_str(&dir),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let input = read_npy(&fixtures_dir().join(fixture).join("int8.in0.npy")).expect("npy");
        std::fs::write(dir.join("sample.bin"), input.sample(0)).expect("write");
        let main = r#"
#![allow(dead_code)] // the typed API is not exercised here
mod m;

/// CRC-32/IEEE over the bytes of each step's output.
struct Crc {
    lines: Vec<String>,
}

impl m::StepObserver for Crc {
    fn step(&mut self, index: usize, op: &'static str, output: m::StepOutput<'_>) {
        assert!(!op.is_empty());
        let mut crc = !0u32;
        output.for_each_byte(|b| {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        });
        self.lines.push(format!("{index} {:08x}", !crc));
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("sample path");
    let sample = std::fs::read(path).expect("sample");
    let mut outs: Vec<Vec<u8>> = m::OUTPUT_SIZES.iter().map(|&n| vec![0; n]).collect();
    let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    let mut arena = Box::new(m::Arena::new());
    let mut crc = Crc { lines: Vec::new() };
    m::invoke_observed(&[&sample], &mut refs, &mut arena, &mut crc).expect("invoke");
    let mut plain: Vec<Vec<u8>> = m::OUTPUT_SIZES.iter().map(|&n| vec![0; n]).collect();
    let mut plain_refs: Vec<&mut [u8]> = plain.iter_mut().map(Vec::as_mut_slice).collect();
    m::invoke_bytes(&[&sample], &mut plain_refs, &mut arena).expect("invoke");
    assert_eq!(outs, plain);
    for line in crc.lines {
        println!("{line}");
    }
}
"#;
        std::fs::write(dir.join("main.rs"), main).expect("write");
        let bin = dir.join("observer");
        let rustc = Command::new("rustc")
            .args([
                "--edition",
                "2024",
                "-D",
                "warnings",
                "-C",
                "opt-level=1",
                "-o",
            ])
            .arg(&bin)
            .arg(dir.join("main.rs"))
            .output()
            .expect("rustc");
        assert!(
            rustc.status.success(),
            "{fixture}: {}",
            String::from_utf8_lossy(&rustc.stderr)
        );
        let run = Command::new(&bin)
            .arg(dir.join("sample.bin"))
            .output()
            .expect("run");
        assert!(
            run.status.success(),
            "{fixture}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let got: Vec<String> = String::from_utf8_lossy(&run.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(
            got, expected,
            "{fixture}: Rust observer CRCs differ from run --trace"
        );
    }
}

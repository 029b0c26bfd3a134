//! Project automation: `cargo xtask <task>`.
//!
//! * `fixtures`: rebuilds the TFLM reference fixtures under `tests/fixtures`
//!   (development time only; needs Python with TensorFlow and tflite-micro).
//! * `codegen`: the main job on the bundled MNIST example.
//! * `bench`: generated C vs TFLM's reference kernels, as ratios; `bench
//!   --m4`: instructions per inference on a Cortex-M4 under QEMU vs TFLM.

mod bench;
mod bench_rust;
mod codegen;
mod fixtures;
mod m4;
mod m4_profile;
mod ops_table;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: cargo xtask <task>\n\
     \n\
     tasks:\n\
     \x20 codegen [--check]     run the main job on the bundled MNIST example\n\
     \x20 bench [--python P] [--model PATH].. [--filter S] [--rounds N] [--no-rust]\n\
     \x20                       time the generated C (-O2, -O3 -march=native) against TFLM reference on\n\
     \x20                       every int8 fixture and the MNIST example, and the generated Rust against the C\n\
     \x20 bench --m4 [--profile] [--tinyq BIN] [--ns N] [FIXTURE..]\n\
     \x20                       instructions per inference on a Cortex-M4 (QEMU) vs TFLM;\n\
     \x20                       --profile: also per op type and per step\n\
     \x20 fixtures [--python P] [--mnist DIR]\n\
     \x20                       rebuild tests/fixtures with TensorFlow + TFLM (development time)\n"
}

/// The workspace root (the parent of this crate).
fn project_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("fixtures") => fixtures::run(&args[1..]),
        Some("codegen") => codegen::run(&args[1..]),
        Some("bench") if args.iter().any(|a| a == "--m4") => m4::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown task {other:?}\n\n{}", usage())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

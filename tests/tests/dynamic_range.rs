//! Dynamic-range models (`NAME/dynamic.tflite` from the TF converter,
//! `NAME/tinyq_dynamic.tflite` from `tinyq quantize --mode dynamic`): float
//! activations, int8 weights with per-channel scales.
//!
//! tinyq computes such a layer in float, each int8 weight dequantized
//! (`scale * q`, rounded to float32) just before its product, in TFLM's
//! float-kernel order. So its outputs equal, bit for bit, TFLM's float
//! kernels on the model with dequantized weights (`dynamic.out*.npy`):
//! `tflm_bit_exact` and `c_backend` check that on every fixture, and this
//! test again for the interpreter, the C and the Rust.
//!
//! LiteRT runs the same file with its hybrid kernels, which quantize each
//! activation row to int8 on the fly (`dynamic.litert_out*.npy`, recorded
//! by `xtask/fixtures/dynamic_models.py`). tinyq's outputs must stay within
//! [`TOLERANCE`] of LiteRT's output range (per output, over the fixture's
//! samples); measured on these fixtures: at most 0.0057 (MNIST).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use tinyq_compiler::Session;
use tinyq_ir::Program;
use tinyq_tests::{Case, Compiled, RawArray, cases, compile_case, read_npy};

/// Largest |tinyq − LiteRT| allowed, as a fraction of the range of
/// LiteRT's output values over the fixture's samples.
const TOLERANCE: f32 = 0.02;

/// Fixtures that must have a dynamic-range case (both variants where the
/// converter's model could be rebuilt).
const EXPECTED: &[&str] = &[
    "ad_autoencoder/dynamic",
    "ad_autoencoder/tinyq_dynamic",
    "cnn_small/dynamic",
    "cnn_small/tinyq_dynamic",
    "kws_ds_cnn/dynamic",
    "kws_ds_cnn/tinyq_dynamic",
    "micro_speech/dynamic",
    "micro_speech/tinyq_dynamic",
    "mnist/tinyq_dynamic",
    "vww_mobilenet_v1/dynamic",
    "vww_mobilenet_v1/tinyq_dynamic",
];

struct Dynamic {
    case: Case,
    /// A C and Rust identifier.
    ident: String,
    program: Program,
    inputs: Vec<RawArray>,
    /// TFLM's float kernels on the dequantized weights.
    exact: Vec<RawArray>,
    litert: Vec<RawArray>,
}

fn load(paths: &[PathBuf]) -> Vec<RawArray> {
    paths
        .iter()
        .map(|p| read_npy(p).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn dynamic_cases() -> Vec<Dynamic> {
    let session = Session::new();
    let found: Vec<Dynamic> = cases()
        .into_iter()
        .filter(|c| c.name.ends_with("/dynamic") || c.name.ends_with("/tinyq_dynamic"))
        .map(|case| {
            let program = match compile_case(&case, &session) {
                Ok(Compiled::Float(p)) => *p,
                other => panic!("{}: expected a float program, got {other:?}", case.name),
            };
            let dir = case.model.parent().expect("fixture dir");
            let stem = case
                .model
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("stem");
            let litert: Vec<PathBuf> = (0..case.outputs.len())
                .map(|j| dir.join(format!("{stem}.litert_out{j}.npy")))
                .collect();
            Dynamic {
                ident: case.name.replace('/', "_"),
                inputs: load(&case.inputs),
                exact: load(&case.outputs),
                litert: load(&litert),
                program,
                case,
            }
        })
        .collect();
    let names: Vec<&str> = found.iter().map(|d| d.case.name.as_str()).collect();
    assert_eq!(names, EXPECTED, "the dynamic-range fixture cases");
    found
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Checks one engine's outputs (`got[j]`: all samples of output j) against
/// the exact reference and LiteRT; returns the worst relative distance
/// from LiteRT.
fn check(engine: &str, d: &Dynamic, got: &[Vec<u8>]) -> f32 {
    let mut worst = 0.0f32;
    for (j, out) in got.iter().enumerate() {
        assert!(
            out == &d.exact[j].bytes,
            "{engine} {}: output {j} differs from TFLM's float kernels on the dequantized weights",
            d.case.name
        );
        let (ours, lite) = (floats(out), floats(&d.litert[j].bytes));
        let lo = lite.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = lite.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let range = (hi - lo).max(f32::MIN_POSITIVE);
        let far = ours
            .iter()
            .zip(&lite)
            .map(|(a, b)| (a - b).abs() / range)
            .fold(0.0f32, f32::max);
        assert!(
            far <= TOLERANCE,
            "{engine} {}: output {j} is {far} of LiteRT's range from LiteRT (tolerance {TOLERANCE})",
            d.case.name
        );
        worst = worst.max(far);
    }
    worst
}

/// Every sample's inputs concatenated, as the harnesses read them.
fn input_file(d: &Dynamic, dir: &Path) -> PathBuf {
    assert_eq!(d.inputs.len(), 1, "{}: one input", d.case.name);
    let path = dir.join(format!("{}.in", d.ident));
    std::fs::write(&path, &d.inputs[0].bytes).expect("write inputs");
    path
}

/// Splits a harness's output (per sample, each output in turn) into all
/// samples of each output.
fn split_outputs(d: &Dynamic, bytes: &[u8]) -> Vec<Vec<u8>> {
    let sizes: Vec<usize> = d.program.outputs.iter().map(|o| o.byte_len()).collect();
    let per: usize = sizes.iter().sum();
    assert_eq!(bytes.len(), per * d.inputs[0].samples(), "{}", d.case.name);
    let mut outs = vec![Vec::new(); sizes.len()];
    for sample in bytes.chunks_exact(per) {
        let mut at = 0;
        for (j, &n) in sizes.iter().enumerate() {
            outs[j].extend_from_slice(&sample[at..at + n]);
            at += n;
        }
    }
    outs
}

fn work_dir(what: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dynamic_range")
        .join(what);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

#[test]
fn dynamic_range_programs_keep_int8_weights() {
    for d in dynamic_cases() {
        let int8 = d
            .program
            .steps
            .iter()
            .filter(|s| s.kernel.name().ends_with("_f32_i8"))
            .count();
        assert!(int8 > 0, "{}: no layer kept int8 weights", d.case.name);
    }
}

#[test]
fn interpreter_is_within_tolerance_of_litert() {
    let mut worst = 0.0f32;
    for d in dynamic_cases() {
        let mut got = vec![Vec::new(); d.program.outputs.len()];
        for s in 0..d.inputs[0].samples() {
            let x = vec![d.inputs[0].sample(s).to_vec()];
            let outs = tinyq_tests::differential::run(&d.program, &x)
                .unwrap_or_else(|e| panic!("{}: {e}", d.case.name));
            for (j, o) in outs.into_iter().enumerate() {
                got[j].extend(o);
            }
        }
        worst = worst.max(check("interpreter", &d, &got));
    }
    println!("interpreter: worst |tinyq - LiteRT| = {worst} of LiteRT's output range");
}

#[test]
fn generated_c_is_within_tolerance_of_litert() {
    let dir = work_dir("c");
    let cases = dynamic_cases();
    let mut main = String::from("#include <stdio.h>\n#include <string.h>\n");
    let mut sources = Vec::new();
    for d in &cases {
        let g = tinyq_backend_c::emit(&d.program, &d.ident).expect("emit C");
        std::fs::write(dir.join(format!("{}.h", d.ident)), &g.header).expect("write");
        std::fs::write(dir.join(format!("{}.c", d.ident)), &g.source).expect("write");
        sources.push(dir.join(format!("{}.c", d.ident)));
        let n = d.ident.to_uppercase();
        let _ = write!(
            main,
            "#include \"{id}.h\"\n\
             static unsigned char {id}_arena[{n}_ARENA_SIZE + 1] __attribute__((aligned(16)));\n\
             static int run_{id}(FILE *in, FILE *out) {{\n\
             \x20   static unsigned char x[{n}_INPUT_0_SIZE];\n\
             \x20   static unsigned char y[{n}_NUM_OUTPUTS][1 << 16];\n\
             \x20   static const size_t sizes[] = {{{sizes}}};\n\
             \x20   const void *ins[1] = {{x}};\n\
             \x20   void *outs[{n}_NUM_OUTPUTS];\n\
             \x20   int j;\n\
             \x20   for (j = 0; j < {n}_NUM_OUTPUTS; ++j) outs[j] = y[j];\n\
             \x20   while (fread(x, 1, sizeof x, in) == sizeof x) {{\n\
             \x20       if ({id}_invoke(ins, outs, {id}_arena) != 0) return 1;\n\
             \x20       for (j = 0; j < {n}_NUM_OUTPUTS; ++j) fwrite(y[j], 1, sizes[j], out);\n\
             \x20   }}\n\
             \x20   return 0;\n\
             }}\n",
            id = d.ident,
            sizes = d
                .program
                .outputs
                .iter()
                .map(|o| o.byte_len().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
        assert!(d.program.outputs.iter().all(|o| o.byte_len() <= 1 << 16));
    }
    main.push_str("int main(int argc, char **argv) {\n    FILE *in, *out; int rc = 2;\n    if (argc != 4) return 2;\n    in = fopen(argv[2], \"rb\"); out = fopen(argv[3], \"wb\");\n    if (!in || !out) return 2;\n");
    for d in &cases {
        let _ = writeln!(
            main,
            "    if (strcmp(argv[1], \"{id}\") == 0) rc = run_{id}(in, out);",
            id = d.ident
        );
    }
    main.push_str("    fclose(in); fclose(out);\n    return rc;\n}\n");
    std::fs::write(dir.join("main.c"), main).expect("write main.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let binary = dir.join("harness");
    let built = Command::new(cc)
        .args([
            "-std=c99",
            "-O2",
            "-ffp-contract=off",
            "-Wall",
            "-Werror",
            "-o",
        ])
        .arg(&binary)
        .arg(dir.join("main.c"))
        .args(&sources)
        .arg("-lm")
        .output()
        .expect("run cc");
    assert!(
        built.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut worst = 0.0f32;
    for d in &cases {
        let input = input_file(d, &dir);
        let output = dir.join(format!("{}.out", d.ident));
        let run = Command::new(&binary)
            .arg(&d.ident)
            .arg(&input)
            .arg(&output)
            .status()
            .expect("run harness");
        assert!(run.success(), "{}: the C harness failed", d.case.name);
        let bytes = std::fs::read(&output).expect("read outputs");
        worst = worst.max(check("C", d, &split_outputs(d, &bytes)));
    }
    println!("C: worst |tinyq - LiteRT| = {worst} of LiteRT's output range");
}

#[test]
fn generated_rust_is_within_tolerance_of_litert() {
    let dir = work_dir("rust");
    let cases = dynamic_cases();
    let mut main = String::from("#![allow(dead_code)]\n");
    let mut arms = String::new();
    for d in &cases {
        let source = tinyq_backend_rust::emit(&d.program, &d.ident).expect("emit Rust");
        std::fs::write(dir.join(format!("{}.rs", d.ident)), source).expect("write");
        let _ = writeln!(main, "mod {};", d.ident);
        let _ = writeln!(arms, "        \"{id}\" => run!({id}, input),", id = d.ident);
    }
    let _ = write!(
        main,
        "macro_rules! run {{\n\
         \x20   ($m:ident, $input:ident) => {{{{\n\
         \x20       let mut arena = Box::new($m::Arena::new());\n\
         \x20       let mut out = Vec::new();\n\
         \x20       for x in $input.chunks_exact($m::INPUT_SIZES[0]) {{\n\
         \x20           let mut ys: Vec<Vec<u8>> = $m::OUTPUT_SIZES.iter().map(|&n| vec![0u8; n]).collect();\n\
         \x20           let mut refs: Vec<&mut [u8]> = ys.iter_mut().map(Vec::as_mut_slice).collect();\n\
         \x20           $m::invoke_bytes(&[x], &mut refs, &mut arena).expect(\"invoke\");\n\
         \x20           for y in ys {{ out.extend(y); }}\n\
         \x20       }}\n\
         \x20       out\n\
         \x20   }}}};\n\
         }}\n\
         fn main() {{\n\
         \x20   let args: Vec<String> = std::env::args().collect();\n\
         \x20   let input = std::fs::read(&args[2]).expect(\"read inputs\");\n\
         \x20   let out = match args[1].as_str() {{\n{arms}\
         \x20       other => panic!(\"unknown model {{other}}\"),\n\
         \x20   }};\n\
         \x20   std::fs::write(&args[3], out).expect(\"write outputs\");\n\
         }}\n"
    );
    std::fs::write(dir.join("main.rs"), main).expect("write main.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let binary = dir.join("harness");
    let built = Command::new(rustc)
        .args(["--edition", "2024", "-C", "opt-level=1", "-o"])
        .arg(&binary)
        .arg(dir.join("main.rs"))
        .output()
        .expect("run rustc");
    assert!(
        built.status.success(),
        "rustc failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut worst = 0.0f32;
    for d in &cases {
        let input = input_file(d, &dir);
        let output = dir.join(format!("{}.out", d.ident));
        let run = Command::new(&binary)
            .arg(&d.ident)
            .arg(&input)
            .arg(&output)
            .status()
            .expect("run harness");
        assert!(run.success(), "{}: the Rust harness failed", d.case.name);
        let bytes = std::fs::read(&output).expect("read outputs");
        worst = worst.max(check("Rust", d, &split_outputs(d, &bytes)));
    }
    println!("Rust: worst |tinyq - LiteRT| = {worst} of LiteRT's output range");
}

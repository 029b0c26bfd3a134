//! The Rust backend end to end: every fixture case, optimized by the
//! driver, emitted as a Rust module, compiled with `rustc` into a harness
//! binary and run on the fixture inputs; every output byte equals TFLM's.
//! Float models compile as float32; with TANH their outputs are within
//! [`tinyq_tests::float_ulp_bound`] ulp of TFLM's (the `core`-only `tanh`;
//! TFLM's came from glibc's `tanhf`), every other float model is bit-exact.
//!
//! The representative goldens (`tests/golden/rust`, [`GOLDEN_CASES`]) are
//! checked here too and compiled under clippy by `tests/rust-check`;
//! `TINYQ_BLESS=1` rewrites them. The harness covers all the other cases, so
//! a template change rewrites a handful of golden files, not hundreds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use tinyq_compiler::Session;
use tinyq_tests::{Case, Compiled, GOLDEN_CASES, cases, compile_case, is_golden_case, read_npy};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn golden_dir() -> PathBuf {
    root().join("golden/rust")
}

fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust_backend")
}

/// `mnist/int8` → `mnist_int8`.
fn module_name(case: &str) -> String {
    case.replace('/', "_")
}

/// One generated module: the case, the module name, the source, and how
/// many ulp its float outputs may be from TFLM's (0: every byte equal).
struct Generated {
    case: Case,
    module: String,
    source: String,
    float_ulps: u32,
}

/// Every case the compiler takes whose program `wanted` picks (`true`:
/// compiled as float32).
fn generate(wanted: impl Fn(&tinyq_ir::Program, bool) -> bool) -> Vec<Generated> {
    let session = Session::new();
    let mut out = Vec::new();
    for case in cases() {
        let (program, float) = match compile_case(&case, &session) {
            Ok(Compiled::Program(p)) => (p, false),
            Ok(Compiled::Float(p)) => (p, true),
            Err(e) => panic!("{}: {e}", case.name),
        };
        if !wanted(&program, float) {
            continue;
        }
        let float_ulps = tinyq_tests::float_ulp_bound(&program);
        let module = module_name(&case.name);
        let source = session
            .emit_rust(&case.name, &program, &module)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        // `ARENA_SIZE` is the planned arena, what `tinyq compile` prints.
        let arena = format!("pub const ARENA_SIZE: usize = {};", program.arena_size);
        assert!(source.contains(&arena), "{}: not {arena}", case.name);
        out.push(Generated {
            case,
            module,
            source,
            float_ulps,
        });
    }
    out
}

/// The harness: `harness WORK MODULE [reset]` reads `WORK/MODULE.in{k}`
/// (all samples of input k, back to back), runs every sample on one arena
/// (a stateful model's state streams from one to the next; with `reset`,
/// it is reset before each) and writes `WORK/MODULE.out{k}`.
fn harness(modules: &[(String, bool)]) -> String {
    let mut s = String::from("// test harness for the generated modules (not generated code)\n");
    s.push_str("#![allow(dead_code)] // the typed API is not exercised here\n\n");
    for (m, _) in modules {
        let _ = writeln!(s, "mod {m};");
    }
    s.push_str(
        r#"
fn run(
    work: &std::path::Path,
    name: &str,
    in_sizes: &[usize],
    out_sizes: &[usize],
    invoke: &mut dyn FnMut(&[&[u8]], &mut [&mut [u8]]) -> bool,
) -> Result<(), String> {
    let read = |k: usize| std::fs::read(work.join(format!("{name}.in{k}"))).map_err(|e| e.to_string());
    let inputs: Vec<Vec<u8>> = (0..in_sizes.len()).map(read).collect::<Result<_, _>>()?;
    let samples = inputs[0].len() / in_sizes[0].max(1);
    let mut results: Vec<Vec<u8>> = out_sizes.iter().map(|_| Vec::new()).collect();
    for s in 0..samples {
        let ins: Vec<&[u8]> = inputs
            .iter()
            .zip(in_sizes)
            .map(|(b, &n)| &b[s * n..(s + 1) * n])
            .collect();
        let mut outs: Vec<Vec<u8>> = out_sizes.iter().map(|&n| vec![0xA5; n]).collect();
        let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        if !invoke(&ins, &mut refs) {
            return Err(format!("sample {s}: invoke_bytes failed"));
        }
        for (acc, o) in results.iter_mut().zip(outs) {
            acc.extend_from_slice(&o);
        }
    }
    for (k, r) in results.iter().enumerate() {
        std::fs::write(work.join(format!("{name}.out{k}")), r).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let work = std::path::Path::new(&args[1]);
    let name = args[2].as_str();
    let reset_each = args.get(3).is_some_and(|a| a == "reset");
    let result = match name {
"#,
    );
    for (m, stateful) in modules {
        let reset = if *stateful {
            format!("if reset_each {{ {m}::reset(&mut arena); }}\n                ")
        } else {
            "let _ = reset_each;\n                ".to_string()
        };
        let _ = writeln!(
            s,
            "        \"{m}\" => {{\n            let mut arena = Box::new({m}::Arena::new());\n            \
             run(work, name, &{m}::INPUT_SIZES, &{m}::OUTPUT_SIZES, &mut |i, o| {{\n                \
             {reset}{m}::invoke_bytes(i, o, &mut arena).is_ok()\n            }})\n        }}"
        );
    }
    s.push_str(
        r#"        _ => Err(format!("unknown module {name}")),
    };
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
"#,
    );
    s
}

/// Integer programs, and stateful float ones (SVDF: no transcendental
/// functions), in one harness: every output byte equals TFLM's.
#[test]
fn generated_rust_equals_tflm_on_every_fixture() {
    // Signal-library programs have their own harness (`generated_rust_equals_tflm_on_signal_fixtures`).
    let generated =
        generate(|program, float| (!float || program.state_size > 0) && !has_signal_step(program));
    assert!(generated.len() > 50, "only {} cases", generated.len());
    let (failures, samples) = build_and_run("integer", &generated);
    println!(
        "{} cases, {samples} samples bit-exact through the generated Rust",
        generated.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Signal-library programs (TFLM's audio front end ops; int32, UINT32
/// and UINT64 I/O) in a harness of their own: every output byte equals
/// TFLM's. Every `signal_*` fixture is among them.
#[test]
fn generated_rust_equals_tflm_on_signal_fixtures() {
    let generated = generate(|program, _| has_signal_step(program));
    let signal_cases = cases()
        .iter()
        .filter(|c| c.name.starts_with("signal_"))
        .count();
    let covered = generated
        .iter()
        .filter(|g| g.case.name.starts_with("signal_"))
        .count();
    assert_eq!(covered, signal_cases, "a signal fixture is left out");
    assert!(
        generated.len() >= 14,
        "only {} signal cases",
        generated.len()
    );
    let (failures, samples) = build_and_run("signal", &generated);
    println!(
        "{} signal cases, {samples} samples bit-exact through the generated Rust",
        generated.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether a program has a signal-library step.
fn has_signal_step(program: &tinyq_ir::Program) -> bool {
    program
        .steps
        .iter()
        .any(|s| matches!(s.kernel, tinyq_ir::Kernel::Signal(_)))
}

/// Every signal fixture is emitted: the Rust backend has an emitter for
/// every signal-library step.
#[test]
fn every_signal_fixture_emits() {
    let session = Session::new();
    let signal: Vec<_> = cases()
        .into_iter()
        .filter(|c| c.name.starts_with("signal_"))
        .collect();
    assert!(signal.len() >= 9, "only {} signal cases", signal.len());
    for case in signal {
        let Ok(Compiled::Program(program)) = compile_case(&case, &session) else {
            panic!("{}: does not compile", case.name);
        };
        if let Err(e) = session.emit_rust(&case.name, &program, "m") {
            panic!("{}: {e}", case.name);
        }
    }
}

/// A program over int32 model I/O, built by hand (no fixture has int32
/// I/O outside the signal ops): int32 inputs copied into the arena and
/// back out, read by int32 MUL and ADD steps (the arena operand as bytes,
/// the typed ones staged), and CAST to a UINT32 output.
fn int32_io_program() -> tinyq_ir::Program {
    use tinyq_ir::int32_kernel::Int32Kernel;
    use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Program, Step};
    use tinyq_kernels::int32::{IntBinary, NumType};
    let io = |name: &str, dtype| IoSpec {
        name: name.to_string(),
        shape: vec![2, 8],
        dtype,
        quant: None,
    };
    let step = |kernel, inputs, output| Step {
        kernel,
        inputs,
        output,
        provenance: tinyq_ir::Provenance::default(),
    };
    let binary = |op, act_min, act_max| {
        Kernel::Int32(Int32Kernel::Binary {
            op,
            act_min,
            act_max,
            broadcast: None,
        })
    };
    let (a0, a1) = (
        BufferRef::Arena {
            offset: 0,
            size: 64,
        },
        BufferRef::Arena {
            offset: 64,
            size: 64,
        },
    );
    let (x, y) = (BufferRef::Input(0), BufferRef::Input(1));
    Program {
        steps: vec![
            step(Kernel::Copy, vec![x], a0),
            step(binary(IntBinary::Mul, i32::MIN, i32::MAX), vec![a0, y], a1),
            step(Kernel::Copy, vec![a1], BufferRef::Output(0)),
            step(
                binary(IntBinary::Add, -1_000_000, 1_000_000),
                vec![x, y],
                BufferRef::Output(1),
            ),
            step(
                Kernel::Int32(Int32Kernel::Cast {
                    from: NumType::I32,
                    to: NumType::U32,
                }),
                vec![y],
                BufferRef::Output(2),
            ),
        ],
        inputs: vec![io("x", DType::I32), io("y", DType::I32)],
        outputs: vec![
            io("product", DType::I32),
            io("sum", DType::I32),
            io("y_u32", DType::U32),
        ],
        constants: Vec::new(),
        arena_size: 128,
        arena_lower_bound: 128,
        arena_overlap_bound: 128,
        state_size: 0,
        state_init: Vec::new(),
    }
}

/// Generated Rust with int32 model I/O (typed and through
/// `invoke_bytes`) computes what the interpreter computes, on random and
/// extreme int32 values.
#[test]
fn generated_rust_runs_int32_io_as_the_interpreter() {
    let program = int32_io_program();
    let module = "int32_io";
    let source = tinyq_backend_rust::emit(&program, module).expect("emits int32 I/O");
    assert!(
        source.contains("x: &[i32; INPUT_0_LEN]") && source.contains("StepOutput::I32("),
        "the typed API takes int32 arrays"
    );
    let work = work_dir().join("int32_io");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("src")).expect("work dir");
    std::fs::write(work.join(format!("src/{module}.rs")), &source).expect("write module");
    let main = work.join("src/main.rs");
    std::fs::write(&main, harness(&[(module.to_string(), false)])).expect("write harness");
    let binary = work.join("harness");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let built = Command::new(rustc)
        .args(["--edition", "2024", "-D", "warnings", "-o"])
        .arg(&binary)
        .arg(&main)
        .output()
        .expect("run rustc");
    assert!(
        built.status.success(),
        "the generated Rust does not compile:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    // Samples of 16 values per input: extremes, then pseudo-random.
    let extremes = [i32::MIN, i32::MAX, -1, 0, 1, 46341, -46341, 1 << 30];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as i32
    };
    let samples = 12;
    let mut inputs = [Vec::new(), Vec::new()];
    for s in 0..samples {
        for (k, input) in inputs.iter_mut().enumerate() {
            for i in 0..16 {
                let v = if s < 2 {
                    extremes[(i + 3 * k + s) % extremes.len()]
                } else if s < 6 {
                    next() >> 16
                } else {
                    next()
                };
                input.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    for (k, input) in inputs.iter().enumerate() {
        std::fs::write(work.join(format!("{module}.in{k}")), input).expect("write input");
    }
    let run = Command::new(&binary)
        .arg(&work)
        .arg(module)
        .output()
        .expect("run harness");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut interp = tinyq_interp::Interpreter::new(&program);
    let mut want: Vec<Vec<u8>> = vec![Vec::new(); 3];
    for s in 0..samples {
        let ins: Vec<&[u8]> = inputs.iter().map(|b| &b[64 * s..64 * (s + 1)]).collect();
        let mut outs = vec![vec![0u8; 64]; 3];
        let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        interp.invoke(&ins, &mut refs).expect("interpreter");
        for (w, o) in want.iter_mut().zip(outs) {
            w.extend(o);
        }
    }
    for (k, w) in want.iter().enumerate() {
        let got = std::fs::read(work.join(format!("{module}.out{k}"))).expect("output");
        assert!(got == *w, "output {k} differs from the interpreter");
    }
}

/// Stateless float32 programs in a harness of their own (large float
/// weight tables make it the slower build): bit-exact with TFLM's float
/// outputs, or within [`tinyq_tests::float_ulp_bound`] ulp where the
/// `core`-only `tanh` replaces glibc's `tanhf`.
#[test]
fn generated_float_rust_matches_tflm() {
    let generated = generate(|program, float| float && program.state_size == 0);
    assert!(
        generated.len() > 10,
        "only {} float32 cases",
        generated.len()
    );
    let (failures, samples) = build_and_run("float", &generated);
    println!(
        "{} float32 cases, {samples} samples equal to TFLM through the generated Rust",
        generated.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writes `generated` into one harness crate under `work_dir()/tag`, builds
/// it and runs every case (streaming, then reset before each sample when
/// the fixture has those outputs); returns the failures and the samples run.
fn build_and_run(tag: &str, generated: &[Generated]) -> (Vec<String>, usize) {
    let work = work_dir().join(tag);
    let src = work.join("src");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&src).expect("work dir");
    let modules: Vec<(String, bool)> = generated
        .iter()
        .map(|g| (g.module.clone(), !g.case.reset_outputs.is_empty()))
        .collect();
    for Generated { module, source, .. } in generated {
        std::fs::write(src.join(format!("{module}.rs")), source).expect("write module");
    }
    std::fs::write(src.join("main.rs"), harness(&modules)).expect("write harness");
    let binary = work.join("harness");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let built = Command::new(rustc)
        .args(["--edition", "2024", "-C", "opt-level=1", "-o"])
        .arg(&binary)
        .arg(src.join("main.rs"))
        .output()
        .expect("run rustc");
    assert!(
        built.status.success(),
        "the generated Rust does not compile:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let mut failures = Vec::new();
    let mut samples = 0;
    for Generated {
        case,
        module,
        float_ulps,
        ..
    } in generated
    {
        let load = |paths: &[PathBuf]| -> Vec<tinyq_tests::RawArray> {
            paths
                .iter()
                .map(|p| read_npy(p).unwrap_or_else(|e| panic!("{e}")))
                .collect()
        };
        let inputs = load(&case.inputs);
        for (k, a) in inputs.iter().enumerate() {
            std::fs::write(work.join(format!("{module}.in{k}")), &a.bytes).expect("write input");
        }
        // Streaming, then (stateful models) reset before every sample.
        for (outputs, mode) in [(&case.outputs, None), (&case.reset_outputs, Some("reset"))] {
            if outputs.is_empty() {
                continue;
            }
            let expected = load(outputs);
            let run = Command::new(&binary)
                .arg(&work)
                .arg(module)
                .args(mode)
                .output()
                .expect("run harness");
            if !run.status.success() {
                failures.push(format!(
                    "{}: {}",
                    case.name,
                    String::from_utf8_lossy(&run.stderr).trim()
                ));
                continue;
            }
            let when = if mode.is_some() {
                " (reset before each sample)"
            } else {
                ""
            };
            for (k, want) in expected.iter().enumerate() {
                let got = std::fs::read(work.join(format!("{module}.out{k}"))).unwrap_or_default();
                let float_out = want.elem_size == 4;
                if let Some(why) =
                    tinyq_tests::output_mismatch(&got, &want.bytes, float_out, *float_ulps)
                {
                    failures.push(format!("{} output {k}{when}: {why}", case.name));
                }
            }
        }
        samples += inputs[0].samples();
    }
    (failures, samples)
}

/// The `tests/rust-check` crate: the representative goldens under clippy.
fn check_lib(goldens: &[(String, String)]) -> String {
    let mut s = String::new();
    s.push_str(tinyq_backend_rust::HEADER);
    s.push_str(
        "\n// Written by `TINYQ_BLESS=1 cargo test -p tinyq-tests --test rust_backend`.\n\
         //! Compiles the representative golden generated Rust files\n\
         //! (`tests/golden/rust`) in a `no_std` library under the workspace\n\
         //! lints and clippy; `tests/tflm.rs` runs them against TFLM's outputs.\n\
         #![no_std]\n\n",
    );
    for (module, _) in goldens {
        let _ = writeln!(
            s,
            "#[rustfmt::skip] // prettyplease's layout is the golden\n#[path = \"../../golden/rust/{module}.rs\"]\npub mod {module};"
        );
    }
    s.push_str(
        "\n/// Runs one case on byte buffers with an arena on the stack.\n\
         pub type Runner = fn(&[&[u8]], &mut [&mut [u8]]) -> bool;\n\n\
         /// `(fixture case, runner)` for every golden.\n\
         pub const CASES: &[(&str, Runner)] = &[\n",
    );
    for (module, name) in goldens {
        let _ = writeln!(
            s,
            "    (\"{name}\", |i, o| {{\n        let mut arena = {module}::Arena::new();\n        {module}::invoke_bytes(i, o, &mut arena).is_ok()\n    }}),"
        );
    }
    s.push_str("];\n");
    s
}

#[test]
fn golden_rust_files_are_current() {
    let session = Session::new();
    let bless = std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1");
    let all = cases();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut goldens = Vec::new();
    for name in GOLDEN_CASES {
        let case = all
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| panic!("golden case {name} has no fixture"));
        let Ok(Compiled::Program(program)) = compile_case(case, &session) else {
            panic!("golden case {name} does not compile to integer code");
        };
        let module = module_name(name);
        let source = session
            .emit_rust(name, &program, &module)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        files.push((golden_dir().join(format!("{module}.rs")), source));
        goldens.push((module, name.to_string()));
    }
    files.push((root().join("rust-check/src/lib.rs"), check_lib(&goldens)));
    let mut stale = Vec::new();
    for (path, text) in &files {
        if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
            if bless {
                std::fs::write(path, text).expect("write golden");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    // Goldens of cases no longer in the representative set.
    for entry in std::fs::read_dir(golden_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") && !files.iter().any(|(p, _)| *p == path) {
            if bless {
                std::fs::remove_file(&path).expect("remove old golden");
            } else {
                stale.push(format!("{} (not a golden case)", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden files (rerun with TINYQ_BLESS=1 to rewrite them):\n  {}",
        stale.join("\n  ")
    );
    assert!(all.iter().any(|c| is_golden_case(&c.name)));
}

/// Every golden as `mod m;` in a binary crate that uses none of it, under
/// `-D warnings` (rustc), and under clippy's default and pedantic groups
/// (clippy-driver, when installed): the module is warning-free wherever it
/// is declared, not only in the library of `tests/rust-check`.
#[test]
fn goldens_are_warning_free_as_unused_modules_of_a_binary() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust_backend_bin");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    let mut main = String::from("// A binary declaring every golden module and using none.\n");
    for name in GOLDEN_CASES {
        let module = module_name(name);
        let _ = writeln!(
            main,
            "#[path = \"{}\"]\nmod {module};",
            golden_dir().join(format!("{module}.rs")).display()
        );
    }
    main.push_str("\nfn main() {}\n");
    std::fs::write(work.join("main.rs"), main).expect("write main.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let built = Command::new(rustc)
        .args(["--edition", "2024", "-D", "warnings", "-o"])
        .arg(work.join("bin"))
        .arg(work.join("main.rs"))
        .output()
        .expect("run rustc");
    assert!(
        built.status.success(),
        "a binary with the goldens as unused modules warns under -D warnings:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let clippy = Command::new("clippy-driver")
        .args([
            "--edition",
            "2024",
            "-D",
            "warnings",
            "-W",
            "clippy::pedantic",
            "-o",
        ])
        .arg(work.join("bin-clippy"))
        .arg(work.join("main.rs"))
        .output();
    match clippy {
        Ok(out) => assert!(
            out.status.success(),
            "clippy (pedantic) finds problems in the goldens as modules of a binary:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => println!("SKIPPED the clippy half: clippy-driver is not installed"),
    }
}

#[test]
fn output_is_deterministic_and_headed() {
    let a = generate(|_, _| true);
    let b = generate(|_, _| true);
    let sources = |g: &[Generated]| -> Vec<String> { g.iter().map(|g| g.source.clone()).collect() };
    assert_eq!(sources(&a), sources(&b));
    let checkout = root()
        .parent()
        .and_then(|p| p.to_str())
        .unwrap_or("/")
        .to_string();
    for Generated {
        case, source: src, ..
    } in &a
    {
        assert!(src.starts_with(tinyq_backend_rust::HEADER), "{}", case.name);
        assert!(!src.contains("unsafe"), "{}", case.name);
        assert!(!src.contains(&checkout), "{}: absolute path", case.name);
    }
}

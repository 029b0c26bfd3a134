//! The C backend end to end: golden files, strict compiles with gcc and
//! clang, outputs equal to TFLM's byte for byte through the contract ABI,
//! a clean ASan/UBSan run on a poisoned arena, hostile tensor names, determinism, and the
//! Cortex-M4 example under QEMU.
//!
//! Every integer fixture case is compiled by the driver (optimized), emitted,
//! built and run; the representative cases (`tinyq_tests::GOLDEN_CASES`)
//! also keep `tests/golden/c/<model>_<variant>.{h,c}`. `TINYQ_BLESS=1`
//! rewrites the goldens. The builds compile every model into one test
//! harness per compiler configuration, so a full run is a handful of
//! compiler invocations.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tinyq_backend_c::{GeneratedC, emit, namer};
use tinyq_compiler::Session;
use tinyq_ir::Program;
use tinyq_tests::{Case, Compiled, RawArray, cases, compile_case, is_golden_case, read_npy};

/// The flags of the "C hygiene" rule.
const STRICT: &[&str] = &[
    "-std=c99",
    "-pedantic",
    "-Wall",
    "-Wextra",
    "-Wconversion",
    "-Wshadow",
    "-Werror",
    "-ffp-contract=off",
];

const SANITIZE: &[&str] = &[
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
];

const SANITIZE_ENV: &[(&str, &str)] = &[
    ("ASAN_OPTIONS", "detect_leaks=1"),
    ("UBSAN_OPTIONS", "print_stacktrace=1"),
];

/// Hostile tensor names: quotes, comment terminators, newlines, keywords,
/// non-ASCII, preprocessor text and a 10 kB name.
fn hostile_names() -> Vec<String> {
    vec![
        "in\"put\\\" */ int evil; /*".to_string(),
        "line\nbreak\r\n#define X 1\n??/".to_string(),
        "int".to_string(),
        "ünïcödé 名前 🙂".to_string(),
        "*/".to_string(),
        "x".repeat(10_000) + "*/\"",
        "__reserved".to_string(),
        String::new(),
    ]
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join("c")
}

fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_backend")
}

/// One generated model with its fixture data.
struct Model {
    /// C name and file stem, e.g. `mnist_int8`.
    name: String,
    case: Option<Case>,
    program: Program,
    generated: GeneratedC,
    /// Samples: per input, the raw array; and TFLM's outputs.
    inputs: Vec<RawArray>,
    expected: Vec<RawArray>,
    /// A stateful model's outputs with a reset before every sample.
    reset_expected: Vec<RawArray>,
}

struct Prepared {
    models: Vec<Model>,
    /// Golden files that differ from (or are missing beside) fresh output.
    stale: Vec<String>,
    /// Directory holding the C files to compile (fresh copies).
    src_dir: PathBuf,
    /// Problems emitting (a fixture that lowers but does not emit).
    errors: Vec<String>,
    /// Whose outputs `expected` holds.
    reference: &'static str,
}

fn case_name(case: &Case) -> String {
    namer::sanitize(&case.name.replace('/', "_"))
}

/// Emits every case once per test process, compares with the goldens
/// (rewriting them under `TINYQ_BLESS=1`) and writes the sources to compile.
fn prepared() -> &'static Prepared {
    static PREPARED: OnceLock<Prepared> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let bless = std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1");
        let src_dir = work_dir().join("src");
        let _ = std::fs::remove_dir_all(&src_dir);
        std::fs::create_dir_all(&src_dir).expect("create work dir");
        if bless {
            std::fs::create_dir_all(golden_dir()).expect("create golden dir");
        }
        let mut models = Vec::new();
        let mut stale = Vec::new();
        let mut errors = Vec::new();
        let session = Session::new();
        for case in cases() {
            let name = case_name(&case);
            let program = match compile_case(&case, &session) {
                // Float models compile as float32 and, with <math.h>'s expf
                // and tanhf (glibc's, as TFLM's), equal TFLM bit for bit.
                Ok(Compiled::Program(p) | Compiled::Float(p)) => *p,
                Err(e) => {
                    errors.push(format!("{}: {e}", case.name));
                    continue;
                }
            };
            let generated = match emit(&program, &name) {
                Ok(g) => g,
                Err(e) => {
                    errors.push(format!("{}: emit failed: {e}", case.name));
                    continue;
                }
            };
            let golden_case = is_golden_case(&case.name);
            for (ext, text) in [("h", &generated.header), ("c", &generated.source)] {
                let file = format!("{name}.{ext}");
                let golden = golden_dir().join(&file);
                if !golden_case {
                    // Compiled and run below like every case; no golden file.
                } else if bless {
                    std::fs::write(&golden, text).expect("write golden");
                } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
                    stale.push(file.clone());
                }
                std::fs::write(src_dir.join(&file), text).expect("write source");
            }
            let load = |paths: &[PathBuf]| -> Vec<RawArray> {
                paths
                    .iter()
                    .map(|p| read_npy(p).unwrap_or_else(|e| panic!("{e}")))
                    .collect()
            };
            let inputs = load(&case.inputs);
            let expected = load(&case.outputs);
            let reset_expected = load(&case.reset_outputs);
            models.push(Model {
                name,
                case: Some(case),
                program,
                generated,
                inputs,
                expected,
                reset_expected,
            });
        }
        // The adversarial model: MNIST with every I/O tensor renamed to
        // hostile text. Names are the only untrusted text a Program holds.
        if let Some(base) = models.iter().find(|m| m.name == "mnist_int8") {
            let mut program = base.program.clone();
            let names = hostile_names();
            for (k, io) in program
                .inputs
                .iter_mut()
                .chain(program.outputs.iter_mut())
                .enumerate()
            {
                io.name = names[k % names.len()].clone();
            }
            let name = "hostile_names".to_string();
            let generated = emit(&program, &name).expect("hostile names emit");
            for (ext, text) in [("h", &generated.header), ("c", &generated.source)] {
                std::fs::write(src_dir.join(format!("{name}.{ext}")), text).expect("write source");
            }
            models.push(Model {
                name,
                case: None,
                program,
                generated,
                inputs: base.inputs.clone(),
                expected: base.expected.clone(),
                reset_expected: Vec::new(),
            });
        }
        write_harness(&src_dir, &models);
        let (poison_h, poison_c) =
            tinyq_tests::poison::c_hooks(models.iter().map(|m| (m.name.as_str(), &m.program)));
        std::fs::write(src_dir.join("poison.h"), poison_h).expect("write poison.h");
        std::fs::write(src_dir.join("poison.c"), poison_c).expect("write poison.c");
        Prepared {
            models,
            stale,
            src_dir,
            errors,
            reference: "TFLM",
        }
    })
}

/// `registry.c`: a `main` that runs one model, named on the command line,
/// over samples read from stdin (each sample: every input's bytes in
/// order), writing every output's bytes to stdout. The arena's scratch is
/// filled with garbage before each call, so nothing may rely on its
/// contents; a stateful model's state is reset once (with a second
/// argument `reset`, before every sample) and otherwise carries over.
fn write_harness(dir: &Path, models: &[Model]) {
    let max_io = models
        .iter()
        .map(|m| m.program.inputs.len().max(m.program.outputs.len()))
        .max()
        .unwrap_or(1);
    let mut s = String::from(
        "/* test harness for the generated models (not generated code) */\n\
         #include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n",
    );
    for m in models {
        s.push_str(&format!("#include \"{}.h\"\n", m.name));
    }
    s.push_str(
        "\ntypedef int (*invoke_fn)(const void *const inputs[], void *const outputs[], void *arena);\n\
         typedef int (*reset_fn)(void *arena);\n\
         struct model {\n    const char *name;\n    invoke_fn invoke;\n    reset_fn reset;\n    size_t state;\n    size_t arena;\n    size_t n_in;\n    size_t n_out;\n    size_t in_size[MAX_IO];\n    size_t out_size[MAX_IO];\n};\n\n\
         static const struct model models[] = {\n",
    );
    s = s.replace("MAX_IO", &max_io.to_string());
    for m in models {
        let up = m.name.to_ascii_uppercase();
        let sizes = |kind: &str, n: usize| -> String {
            let mut v: Vec<String> = (0..n).map(|i| format!("{up}_{kind}_{i}_SIZE")).collect();
            v.resize(max_io, "0".to_string());
            v.join(", ")
        };
        let reset = if m.program.state_size > 0 {
            format!("{}_reset", m.name)
        } else {
            "NULL".to_string()
        };
        s.push_str(&format!(
            "    {{\"{name}\", {name}_invoke, {reset}, {up}_STATE_SIZE, {up}_ARENA_SIZE, {up}_NUM_INPUTS, {up}_NUM_OUTPUTS,\n     {{{}}},\n     {{{}}}}},\n",
            sizes("INPUT", m.program.inputs.len()),
            sizes("OUTPUT", m.program.outputs.len()),
            name = m.name
        ));
    }
    s.push_str(
        r#"};

int main(int argc, char **argv)
{
    const struct model *m = NULL;
    void *ins[MAX_IO];
    void *outs[MAX_IO];
    unsigned char *arena;
    size_t i;
    int reset_each;
    if (argc != 2 && argc != 3) {
        return 2;
    }
    reset_each = argc == 3 && strcmp(argv[2], "reset") == 0;
    for (i = 0; i < sizeof models / sizeof models[0]; ++i) {
        if (strcmp(models[i].name, argv[1]) == 0) {
            m = &models[i];
        }
    }
    if (m == NULL) {
        fprintf(stderr, "unknown model %s\n", argv[1]);
        return 2;
    }
    /* Exact sizes, so AddressSanitizer sees any overrun. */
    arena = (unsigned char *)malloc(m->arena > 0 ? m->arena : 1);
    for (i = 0; i < m->n_in; ++i) {
        ins[i] = malloc(m->in_size[i]);
    }
    for (i = 0; i < m->n_out; ++i) {
        outs[i] = malloc(m->out_size[i]);
    }
    memset(arena, 0xA5, m->arena);
    if (m->reset != NULL && m->reset(arena) != 0) {
        fprintf(stderr, "reset failed\n");
        return 3;
    }
    for (;;) {
        int rc;
        for (i = 0; i < m->n_in; ++i) {
            size_t got = fread(ins[i], 1, m->in_size[i], stdin);
            if (got != m->in_size[i]) {
                if (i == 0 && got == 0 && feof(stdin)) {
                    goto done;
                }
                fprintf(stderr, "short input\n");
                return 2;
            }
        }
        memset(arena + m->state, 0xA5, m->arena - m->state);
        if (reset_each && m->reset != NULL) {
            memset(arena, 0xA5, m->state);
            m->reset(arena);
        }
        for (i = 0; i < m->n_out; ++i) {
            memset(outs[i], 0x5A, m->out_size[i]);
        }
        rc = m->invoke((const void *const *)ins, outs, arena);
        if (rc != 0) {
            fprintf(stderr, "invoke returned %d\n", rc);
            return 3;
        }
        for (i = 0; i < m->n_out; ++i) {
            if (fwrite(outs[i], 1, m->out_size[i], stdout) != m->out_size[i]) {
                return 4;
            }
        }
    }
done:
    for (i = 0; i < m->n_in; ++i) {
        free(ins[i]);
    }
    for (i = 0; i < m->n_out; ++i) {
        free(outs[i]);
    }
    free(arena);
    return 0;
}
"#,
    );
    let s = s.replace("MAX_IO", &max_io.to_string());
    std::fs::write(dir.join("registry.c"), s).expect("write harness");
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Compiles every model and the harness with `cc` and `flags`; returns the
/// binary or the compiler's complaint.
fn build(p: &Prepared, label: &str, cc: &str, flags: &[&str]) -> Result<PathBuf, String> {
    let out = p
        .src_dir
        .join(format!("harness-{}", label.replace(' ', "-")));
    let mut cmd = Command::new(cc);
    cmd.args(flags).arg("-I").arg(&p.src_dir);
    for m in &p.models {
        cmd.arg(p.src_dir.join(format!("{}.c", m.name)));
    }
    // libm for the float models' expf/tanhf.
    cmd.arg(p.src_dir.join("registry.c"))
        .arg("-lm")
        .arg("-o")
        .arg(&out);
    let output = cmd.output().map_err(|e| format!("{cc}: {e}"))?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let shown: String = err.lines().take(60).collect::<Vec<_>>().join("\n");
        return Err(format!("{cc} {} failed:\n{shown}", flags.join(" ")));
    }
    Ok(out)
}

/// Runs every model through `binary`; returns (cases bit-exact, samples, failures).
fn run_all(p: &Prepared, binary: &Path, env: &[(&str, &str)]) -> (usize, usize, Vec<String>) {
    let mut exact = 0;
    let mut samples = 0;
    let mut failures = Vec::new();
    // Each model streaming over its samples, then each stateful one reset
    // before every sample.
    let runs = p.models.iter().map(|m| (m, &m.expected, false)).chain(
        p.models
            .iter()
            .filter(|m| !m.reset_expected.is_empty())
            .map(|m| (m, &m.reset_expected, true)),
    );
    for (m, expected, reset_each) in runs {
        let n = m.inputs[0].samples();
        let mut stdin = Vec::new();
        for s in 0..n {
            for a in &m.inputs {
                stdin.extend_from_slice(a.sample(s));
            }
        }
        let mut want = Vec::new();
        for s in 0..n {
            for a in expected {
                want.extend_from_slice(a.sample(s));
            }
        }
        let mode: &[&str] = if reset_each { &["reset"] } else { &[] };
        let mut child = Command::new(binary)
            .arg(&m.name)
            .args(mode)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn harness");
        let mut pipe = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
        });
        let output = child.wait_with_output().expect("harness output");
        let _ = writer.join();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let how = if reset_each {
            " (reset before each sample)"
        } else {
            ""
        };
        let label = format!("{}{how}", m.name);
        if !output.status.success() || !stderr.trim().is_empty() {
            failures.push(format!(
                "{}: exit {:?}\n{}",
                label,
                output.status.code(),
                stderr.lines().take(30).collect::<Vec<_>>().join("\n")
            ));
            continue;
        }
        if output.stdout != want {
            let first = output
                .stdout
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(output.stdout.len().min(want.len()));
            failures.push(format!(
                "{}: outputs differ from {} ({} vs {} bytes, first difference at byte {first})",
                label,
                p.reference,
                output.stdout.len(),
                want.len()
            ));
            continue;
        }
        exact += 1;
        samples += n;
    }
    (exact, samples, failures)
}

fn check_compiler(p: &Prepared, label: &str, cc: &str, extra: &[&str], env: &[(&str, &str)]) {
    if !have(cc) {
        eprintln!(
            "SKIPPED: {cc} is not installed (CI installs it via .ci/run); the {label} build was not tested"
        );
        return;
    }
    let mut flags: Vec<&str> = STRICT.to_vec();
    flags.extend_from_slice(extra);
    let binary = build(p, label, cc, &flags).unwrap_or_else(|e| panic!("{e}"));
    let (exact, samples, failures) = run_all(p, &binary, env);
    let total = p.models.len();
    println!(
        "{label}: {exact}/{total} models bit-exact with {} over {samples} samples ({cc} {})",
        p.reference,
        flags.join(" ")
    );
    assert!(
        failures.is_empty(),
        "{label}: {} of {total} models failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_emits() {
    let p = prepared();
    assert!(p.errors.is_empty(), "{}", p.errors.join("\n"));
    assert!(p.models.len() > 1, "no fixtures found");
}

#[test]
fn goldens_are_up_to_date() {
    let p = prepared();
    assert!(
        p.stale.is_empty(),
        "{} golden files under tests/golden/c differ from the generated code: {}\n\
         If the change is intended, rerun with TINYQ_BLESS=1 to rewrite them:\n  \
         TINYQ_BLESS=1 cargo test -p tinyq-tests --test c_backend",
        p.stale.len(),
        if p.stale.len() > 8 {
            format!("{}, ...", p.stale[..8].join(", "))
        } else {
            p.stale.join(", ")
        }
    );
    // No stray goldens: only the representative cases keep files.
    let known: Vec<String> = p
        .models
        .iter()
        .filter(|m| m.case.as_ref().is_some_and(|c| is_golden_case(&c.name)))
        .flat_map(|m| [format!("{}.h", m.name), format!("{}.c", m.name)])
        .collect();
    let bless = std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1");
    let mut stray = Vec::new();
    for entry in std::fs::read_dir(golden_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if (file.ends_with(".c") || file.ends_with(".h")) && !known.contains(&file) {
            if bless {
                std::fs::remove_file(entry.path()).expect("remove stray golden");
            } else {
                stray.push(file);
            }
        }
    }
    assert!(
        stray.is_empty(),
        "stray golden files (not in GOLDEN_CASES; TINYQ_BLESS=1 removes them): {}",
        stray.join(", ")
    );
    assert_eq!(known.len(), 2 * tinyq_tests::GOLDEN_CASES.len());
}

#[test]
fn gcc_strict_build_equals_tflm() {
    check_compiler(prepared(), "gcc -O2", "gcc", &["-O2"], &[]);
}

#[test]
fn clang_strict_build_equals_tflm() {
    check_compiler(prepared(), "clang -O2", "clang", &["-O2"], &[]);
}

/// The vectorized builds (the host gemm path, auto-vectorized for this
/// machine), both compilers.
#[test]
fn native_o3_builds_equal_tflm() {
    check_compiler(
        prepared(),
        "gcc -O3 -march=native",
        "gcc",
        &["-O3", "-march=native"],
        &[],
    );
    check_compiler(
        prepared(),
        "clang -O3 -march=native",
        "clang",
        &["-O3", "-march=native"],
        &[],
    );
}

/// ASan and UBSan, with every arena byte no later step reads overwritten
/// with garbage before and after each step (`tinyq_tests::poison`): an
/// output placed over a value still to be read gives wrong outputs.
#[test]
fn sanitizers_are_clean_on_a_poisoned_arena() {
    let p = prepared();
    let (header, source) = (p.src_dir.join("poison.h"), p.src_dir.join("poison.c"));
    let mut flags = SANITIZE.to_vec();
    let (header, source) = (header.to_string_lossy(), source.to_string_lossy());
    flags.extend(["-include", &header, &source]);
    check_compiler(p, "gcc ASan+UBSan poisoned", "gcc", &flags, SANITIZE_ENV);
}

#[test]
fn hostile_names_never_reach_the_source() {
    let p = prepared();
    let m = p
        .models
        .iter()
        .find(|m| m.name == "hostile_names")
        .expect("the hostile-names model is built from mnist_int8");
    let text = format!("{}{}", m.generated.header, m.generated.source);
    for name in hostile_names() {
        if name.len() > 3 {
            assert!(
                !text.contains(&name),
                "raw tensor name {name:?} leaked into the C source"
            );
        }
    }
    assert!(text.is_ascii(), "non-ASCII text in the generated C");
    // Only the comment markers tinyq writes itself: every "/*" is closed
    // on its own terms, and no line holds a stray "*/".
    let opens = text.matches("/*").count();
    let closes = text.matches("*/").count();
    assert_eq!(opens, closes, "unbalanced comments");
    // It compiles and runs bit-exact as part of the gcc/clang builds above.

    // A model name that is not an identifier is refused with a suggestion.
    for bad in ["int", "a b", "9lives", "x*/", "", "über"] {
        let err = emit(&m.program, bad).expect_err("bad name accepted");
        assert!(err.to_string().contains("try"), "{err}");
    }
}

#[test]
fn output_is_deterministic() {
    let p = prepared();
    for m in p.models.iter().take(12) {
        let again = emit(&m.program, &m.name).expect("emit");
        assert_eq!(again, m.generated, "{} differs between two runs", m.name);
    }
    // Across processes: the goldens test compares with checked-in files.
}

#[test]
fn only_used_kernels_are_emitted() {
    let p = prepared();
    let m = p
        .models
        .iter()
        .find(|m| m.name == "mnist_int8")
        .expect("mnist");
    let src = &m.generated.source;
    for absent in [
        "tq_depthwise_conv2d",
        "tq_average_pool",
        "tq_add",
        "tq_quantize",
        "tq_lut",
    ] {
        assert!(!src.contains(absent), "{absent} emitted for mnist");
    }
    for present in [
        "tq_conv2d",
        "tq_max_pool",
        "tq_fully_connected",
        "tq_softmax",
    ] {
        assert!(src.contains(present), "{present} missing");
    }
    let mut by_kernel: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &p.models {
        for k in &m.generated.kernels {
            *by_kernel.entry(k).or_default() += 1;
        }
    }
    println!("kernels across fixtures: {by_kernel:?}");
}

/// `examples/cortex-m4` built with `arm-none-eabi-gcc -mcpu=cortex-m4` for
/// the MNIST fixture, run under `qemu-system-arm -M mps2-an386` with
/// semihosting: every output byte equals the host's (the reference
/// interpreter) and TFLM's.
#[test]
fn cortex_m4_under_qemu_equals_host() {
    for tool in ["arm-none-eabi-gcc", "qemu-system-arm", "make"] {
        if !have(tool) {
            eprintln!(
                "SKIPPED: {tool} is not installed (CI installs it via .ci/run); the Cortex-M4 example was not run"
            );
            return;
        }
    }
    let p = prepared();
    let m = p
        .models
        .iter()
        .find(|m| m.name == "mnist_int8")
        .expect("mnist fixture");
    let dir = work_dir().join("cortex-m4");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create build dir");
    let generated = emit(&m.program, "mnist").expect("emit mnist");
    std::fs::write(dir.join("mnist.h"), &generated.header).expect("write");
    std::fs::write(dir.join("mnist.c"), &generated.source).expect("write");

    // The fixture's samples, and the host's outputs for them.
    let inputs = &m.inputs[0];
    let n = inputs.samples();
    let mut header = format!(
        "/* MNIST fixture samples for the Cortex-M4 test */\n#define NUM_SAMPLES {n}\n\
         static const int8_t samples[NUM_SAMPLES][MNIST_INPUT_0_SIZE] = {{\n"
    );
    let mut interp = tinyq_interp::Interpreter::new(&m.program);
    let mut host_lines = Vec::new();
    for s in 0..n {
        let sample = inputs.sample(s);
        let values: Vec<String> = sample.iter().map(|&b| (b as i8).to_string()).collect();
        header.push_str(&format!("    {{{}}},\n", values.join(",")));
        let mut out = vec![0u8; m.program.outputs[0].byte_len()];
        interp
            .invoke(&[sample], &mut [out.as_mut_slice()])
            .expect("interpreter");
        assert_eq!(
            out,
            m.expected[0].sample(s),
            "host interpreter differs from TFLM"
        );
        host_lines.push(out.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
    header.push_str("};\n");
    std::fs::write(dir.join("samples.h"), header).expect("write samples");

    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join("cortex-m4");
    let make = Command::new("make")
        .arg("-C")
        .arg(&example)
        .arg(format!("BUILD={}", dir.display()))
        .arg(format!("GEN={}", dir.display()))
        .arg("MODEL=")
        .arg(format!(
            "EXTRA_CFLAGS=-DSAMPLES_HEADER=\\\"samples.h\\\" -I{}",
            dir.display()
        ))
        .output()
        .expect("run make");
    assert!(
        make.status.success(),
        "building examples/cortex-m4 failed:\n{}\n{}",
        String::from_utf8_lossy(&make.stdout),
        String::from_utf8_lossy(&make.stderr)
    );
    let size = Command::new("arm-none-eabi-size")
        .arg(dir.join("mnist.o"))
        .arg(dir.join("mnist.elf"))
        .output();
    if let Ok(size) = size {
        println!("{}", String::from_utf8_lossy(&size.stdout));
    }

    let text = tinyq_tests::qemu_m4::run_mps2_an386(
        &dir.join("mnist.elf"),
        &[],
        std::time::Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.len() == 2 * m.program.outputs[0].byte_len()
                && l.chars().all(|c| c.is_ascii_hexdigit())
        })
        .collect();
    assert!(text.contains("done"), "firmware did not finish:\n{text}");
    assert_eq!(
        lines, host_lines,
        "Cortex-M4 outputs differ from the host's"
    );
    println!("cortex-m4 (QEMU mps2-an386): {n} MNIST samples equal the host's and TFLM's");
}

/// Every generated model cross-compiles warning-free for the Cortex-M4
/// (where `int32_t` is `long`, which -Wconversion notices).
#[test]
fn every_model_cross_compiles_for_cortex_m4() {
    if !have("arm-none-eabi-gcc") {
        eprintln!("SKIPPED: arm-none-eabi-gcc is not installed (CI installs it via .ci/run)");
        return;
    }
    let p = prepared();
    let obj_dir = work_dir().join("arm-objects");
    let _ = std::fs::remove_dir_all(&obj_dir);
    std::fs::create_dir_all(&obj_dir).expect("create object dir");
    let mut cmd = Command::new("arm-none-eabi-gcc");
    cmd.current_dir(&obj_dir)
        .args(["-mcpu=cortex-m4", "-mthumb", "-O1", "-c"])
        .args(STRICT);
    for m in &p.models {
        cmd.arg(p.src_dir.join(format!("{}.c", m.name)));
    }
    let out = cmd.output().expect("run arm-none-eabi-gcc");
    assert!(
        out.status.success(),
        "arm-none-eabi-gcc {} failed:\n{}",
        STRICT.join(" "),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!(
        "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb {}: {} models compile clean",
        STRICT.join(" "),
        p.models.len()
    );
}

// ---------------------------------------------------------------------------
// Random single-step programs: every C kernel against the Rust kernels on
// parameters the fixtures do not reach (groups, dilation, broadcasting,
// negative slice strides, truncating mean, NaN/inf quantization, ...).

mod random {
    use tinyq_ir::kernel::{BinaryOp, Broadcast, Weights};
    use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Program, Step};
    use tinyq_kernels::concat::prepare_concat;
    use tinyq_kernels::conv::Conv2DParams;
    use tinyq_kernels::depthwise::DepthwiseParams;
    use tinyq_kernels::elementwise::{prepare_add, prepare_mul, prepare_sub};
    use tinyq_kernels::fixedpoint::Activation;
    use tinyq_kernels::fully_connected::FullyConnectedParams;
    use tinyq_kernels::pad::prepare_pad;
    use tinyq_kernels::pooling::PoolParams;
    use tinyq_kernels::quantize::QuantParams;
    use tinyq_kernels::reduce::{prepare_mean, prepare_mean_with_same_params_shortcut};
    use tinyq_kernels::shape::pad_shape;
    use tinyq_kernels::slice::prepare_strided_slice;
    use tinyq_kernels::softmax::prepare_softmax;
    use tinyq_kernels::transpose::prepare_transpose;

    pub struct Rng(pub u64);

    impl Rng {
        pub fn next(&mut self) -> u64 {
            // xorshift64*
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in lo..=hi.
        pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % ((hi - lo + 1) as u64)) as i64
        }
        pub fn size(&mut self, lo: usize, hi: usize) -> usize {
            self.range(lo as i64, hi as i64) as usize
        }
        pub fn coin(&mut self) -> bool {
            self.next() & 1 == 1
        }
        pub fn f32(&mut self, lo: f32, hi: f32) -> f32 {
            lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
        }
        pub fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn io(len: usize, dtype: DType) -> IoSpec {
        IoSpec {
            name: "t".to_string(),
            shape: vec![len / dtype.size().max(1)],
            dtype,
            quant: None,
        }
    }

    /// A kernel with the byte sizes of its inputs and output, and the
    /// dtypes of its I/O.
    pub struct Spec {
        pub kernel: Kernel,
        pub inputs: Vec<(usize, DType)>,
        pub output: (usize, DType),
    }

    impl Spec {
        pub fn program(self) -> Program {
            let inputs: Vec<IoSpec> = self.inputs.iter().map(|&(n, d)| io(n, d)).collect();
            Program {
                steps: vec![Step {
                    kernel: self.kernel,
                    inputs: (0..inputs.len()).map(BufferRef::Input).collect(),
                    output: BufferRef::Output(0),
                    provenance: tinyq_ir::Provenance::default(),
                }],
                inputs,
                outputs: vec![io(self.output.0, self.output.1)],
                constants: Vec::new(),
                arena_size: 0,
                arena_lower_bound: 0,
                arena_overlap_bound: 0,
                state_size: 0,
                state_init: Vec::new(),
            }
        }
    }

    fn act(r: &mut Rng) -> (i32, i32) {
        let a = r.range(-128, 127) as i32;
        let b = r.range(-128, 127) as i32;
        if r.range(0, 2) == 0 {
            (-128, 127)
        } else {
            (a.min(b), a.max(b))
        }
    }

    fn weights(r: &mut Rng, filter: usize, channels: usize, bias: bool) -> Weights {
        Weights {
            filter: r.bytes(filter).into_iter().map(|b| b as i8).collect(),
            bias: bias.then(|| {
                (0..channels)
                    .map(|_| r.range(-70_000, 70_000) as i32)
                    .collect()
            }),
            multipliers: (0..channels)
                .map(|_| r.range(1 << 30, i64::from(i32::MAX)) as i32)
                .collect(),
            shifts: (0..channels).map(|_| r.range(-12, 3) as i32).collect(),
        }
    }

    fn scale(r: &mut Rng) -> (f32, i32) {
        (r.f32(0.005, 0.5), r.range(-128, 127) as i32)
    }

    fn shape(r: &mut Rng, rank: usize) -> Vec<usize> {
        (0..rank).map(|_| r.size(1, 4)).collect()
    }

    fn activation(r: &mut Rng) -> Activation {
        [
            Activation::None,
            Activation::Relu,
            Activation::Relu6,
            Activation::ReluN1To1,
        ][r.size(0, 3)]
    }

    /// A random kernel of kind `k` (0..RANDOM_KINDS), or None if the draw is invalid.
    pub fn spec(r: &mut Rng, k: usize) -> Option<Spec> {
        let i8 = DType::I8;
        let spec = match k {
            0 => {
                let (groups, fic) = (r.size(1, 3), r.size(1, 5));
                let (ic, oc) = (groups * fic, groups * r.size(1, 3));
                let (kh, kw) = (r.size(1, 3), r.size(1, 3));
                let (a_min, a_max) = act(r);
                let p = Conv2DParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 7),
                    input_width: r.size(1, 7),
                    input_channels: ic,
                    filter_height: kh,
                    filter_width: kw,
                    filter_input_channels: fic,
                    output_height: r.size(1, 5),
                    output_width: r.size(1, 5),
                    output_channels: oc,
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: r.range(-127, 128) as i32,
                    pad_value: r.range(-128, 127) as i32,
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let bias = r.coin();
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::Conv2D {
                        weights: weights(r, oc * kh * kw * fic, oc, bias),
                        params: p,
                    },
                }
            }
            1 => {
                let (ic, dm) = (r.size(1, 5), r.size(1, 3));
                let (kh, kw) = (r.size(1, 3), r.size(1, 3));
                let (a_min, a_max) = act(r);
                let p = DepthwiseParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 7),
                    input_width: r.size(1, 7),
                    input_channels: ic,
                    depth_multiplier: dm,
                    filter_height: kh,
                    filter_width: kw,
                    output_height: r.size(1, 5),
                    output_width: r.size(1, 5),
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: r.range(-127, 128) as i32,
                    pad_value: r.range(-128, 127) as i32,
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let oc = ic * dm;
                let bias = r.coin();
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::DepthwiseConv2D {
                        weights: weights(r, kh * kw * oc, oc, bias),
                        params: p,
                    },
                }
            }
            2 => {
                let (a_min, a_max) = act(r);
                let p = FullyConnectedParams {
                    batches: r.size(1, 3),
                    accum_depth: r.size(1, 40),
                    output_depth: r.size(1, 8),
                    input_offset: r.range(-127, 128) as i32,
                    filter_offset: if r.coin() { 0 } else { r.range(-3, 3) as i32 },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let per_channel = r.coin();
                let channels = if per_channel { p.output_depth } else { 1 };
                let mut w = weights(r, p.output_depth * p.accum_depth, channels, false);
                if r.coin() {
                    w.bias = Some(
                        (0..p.output_depth)
                            .map(|_| r.range(-70_000, 70_000) as i32)
                            .collect(),
                    );
                }
                Spec {
                    inputs: vec![(p.batches * p.accum_depth, i8)],
                    output: (p.batches * p.output_depth, i8),
                    kernel: Kernel::FullyConnected {
                        params: p,
                        weights: w,
                    },
                }
            }
            3 | 4 => {
                let (kh, kw) = (r.size(1, 3), r.size(1, 3));
                let (a_min, a_max) = act(r);
                let p = PoolParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 7),
                    input_width: r.size(1, 7),
                    channels: r.size(1, 4),
                    filter_height: kh,
                    filter_width: kw,
                    output_height: r.size(1, 4),
                    output_width: r.size(1, 4),
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    act_min: a_min,
                    act_max: a_max,
                };
                let c = p.channels;
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * c, i8)],
                    output: (p.batches * p.output_height * p.output_width * c, i8),
                    kernel: if k == 3 {
                        Kernel::AveragePool(p)
                    } else {
                        Kernel::MaxPool(p)
                    },
                }
            }
            5..=9 => {
                let rank = r.size(1, 4);
                let out = shape(r, rank);
                let pick = |r: &mut Rng| -> Vec<usize> {
                    let lead = r.size(0, rank - 1);
                    out[lead..]
                        .iter()
                        .map(|&d| if r.range(0, 2) == 0 { 1 } else { d })
                        .collect()
                };
                let (mut s1, mut s2) = (pick(r), pick(r));
                if r.range(0, 3) == 0 {
                    s1 = out.clone();
                    s2 = out.clone();
                }
                let (a, b, o) = (scale(r), scale(r), scale(r));
                let op = match k {
                    5 => BinaryOp::Add(prepare_add(a, b, o, activation(r)).ok()?),
                    6 => BinaryOp::Sub(prepare_sub(a, b, o, activation(r)).ok()?),
                    7 => BinaryOp::Mul(prepare_mul(a, b, o, activation(r))),
                    8 => BinaryOp::Maximum,
                    _ => BinaryOp::Minimum,
                };
                let (p1, p2) = (pad_shape(&s1).ok()?, pad_shape(&s2).ok()?);
                let po = tinyq_kernels::shape::broadcast_shape(&p1, &p2).ok()?;
                let n = |s: &[usize]| s.iter().product::<usize>();
                let broadcast = (s1 != s2).then_some(Broadcast {
                    shape1: p1,
                    shape2: p2,
                    out_shape: po,
                });
                Spec {
                    inputs: vec![(n(&s1), i8), (n(&s2), i8)],
                    output: (n(&po), i8),
                    kernel: Kernel::Binary { op, broadcast },
                }
            }
            10 => {
                let (outer, depth) = (r.size(1, 3), r.size(1, 40));
                let p =
                    prepare_softmax(r.f32(0.01, 0.6), 1.0, 1.0 / 256.0, -128, outer, depth).ok()?;
                Spec {
                    inputs: vec![(outer * depth, i8)],
                    output: (outer * depth, i8),
                    kernel: Kernel::Softmax(p),
                }
            }
            11 => {
                let rank = r.size(1, 4);
                let s = shape(r, rank);
                let mut axes: Vec<i32> = Vec::new();
                for a in 0..rank as i32 {
                    if r.coin() {
                        axes.push(if r.coin() { a - rank as i32 } else { a });
                    }
                }
                let axes = if axes.is_empty() { vec![0] } else { axes };
                let (i, o) = (scale(r), scale(r));
                let p = if r.coin() {
                    prepare_mean_with_same_params_shortcut(&s, &axes, i.0, i.1, i.0, i.1).ok()?
                } else {
                    prepare_mean(&s, &axes, i.0, i.1, o.0, o.1).ok()?
                };
                Spec {
                    inputs: vec![(s.iter().product(), i8)],
                    output: (p.output_len(), i8),
                    kernel: Kernel::Mean(p),
                }
            }
            12 => {
                let rank = r.size(1, 4);
                let s = shape(r, rank);
                let pads: Vec<[i32; 2]> = (0..rank)
                    .map(|_| [r.range(0, 2) as i32, r.range(0, 2) as i32])
                    .collect();
                let value = r.coin().then(|| r.range(-128, 127) as i8);
                let p = prepare_pad(&s, &pads, value, r.range(-128, 127) as i32).ok()?;
                Spec {
                    inputs: vec![(s.iter().product(), i8)],
                    output: (p.output_shape().iter().product(), i8),
                    kernel: Kernel::Pad(p),
                }
            }
            13 => {
                let rank = r.size(1, 5);
                let s = shape(r, rank);
                let mut perm: Vec<i32> = (0..rank as i32).collect();
                for i in (1..rank).rev() {
                    perm.swap(i, r.size(0, i));
                }
                let p = prepare_transpose(&s, &perm).ok()?;
                let n: usize = s.iter().product();
                Spec {
                    inputs: vec![(n, i8)],
                    output: (n, i8),
                    kernel: Kernel::Transpose(p),
                }
            }
            14 => {
                let rank = r.size(1, 4);
                let s: Vec<usize> = (0..rank).map(|_| r.size(1, 6)).collect();
                let v = |r: &mut Rng| -> Vec<i32> {
                    (0..rank).map(|_| r.range(-7, 7) as i32).collect()
                };
                let (begin, end) = (v(r), v(r));
                let strides: Vec<i32> = (0..rank)
                    .map(|_| [1, 1, 2, -1, -2, 3][r.size(0, 5)])
                    .collect();
                let mask = |r: &mut Rng| (r.next() & ((1 << rank) - 1)) as i32;
                let (bm, em, sm) = (mask(r), mask(r), mask(r) & mask(r));
                let (p, out) =
                    prepare_strided_slice(&s, &begin, &end, &strides, bm, em, 0, 0, sm, false)
                        .ok()?;
                Spec {
                    inputs: vec![(s.iter().product(), i8)],
                    output: (out.as_slice().iter().product(), i8),
                    kernel: Kernel::StridedSlice(p),
                }
            }
            15 => {
                let rank = r.size(1, 4);
                let base = shape(r, rank);
                let axis = r.size(0, rank - 1);
                let count = r.size(1, 3);
                let shapes: Vec<Vec<usize>> = (0..count)
                    .map(|_| {
                        let mut s = base.clone();
                        s[axis] = r.size(1, 3);
                        s
                    })
                    .collect();
                let views: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
                let signed = if r.coin() {
                    axis as i32
                } else {
                    axis as i32 - rank as i32
                };
                let p = prepare_concat(&views, signed).ok()?;
                let sizes: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
                let total = sizes.iter().sum();
                Spec {
                    inputs: sizes.into_iter().map(|n| (n, i8)).collect(),
                    output: (total, i8),
                    kernel: Kernel::Concat(p),
                }
            }
            16 => {
                let n = r.size(1, 40);
                let unsigned = r.coin();
                let (s, z) = scale(r);
                let zero_point = if unsigned { z + 128 } else { z };
                Spec {
                    inputs: vec![(4 * n, DType::F32)],
                    output: (n, if unsigned { DType::U8 } else { i8 }),
                    kernel: Kernel::Quantize {
                        params: QuantParams {
                            scale: s,
                            zero_point,
                        },
                        unsigned,
                    },
                }
            }
            17 => {
                let n = r.size(1, 40);
                let (s, z) = scale(r);
                let table: Vec<f32> = (0..256).map(|q| s * (q - 128 - z) as f32).collect();
                Spec {
                    inputs: vec![(n, i8)],
                    output: (4 * n, DType::F32),
                    kernel: Kernel::DequantizeLut { table },
                }
            }
            18 => {
                let n = r.size(1, 40);
                Spec {
                    inputs: vec![(n, DType::U8)],
                    output: (n, DType::U8),
                    kernel: Kernel::Lut {
                        table: r.bytes(256),
                    },
                }
            }
            // Folded input offset (as lowering leaves every conv-like
            // kernel): the generated C's fast paths, their borders and tails.
            20 | 23 => {
                let extreme = k == 23;
                let groups = if !extreme && r.range(0, 3) == 0 { 2 } else { 1 };
                let fic = if extreme {
                    r.size(200, 700)
                } else {
                    r.size(1, 9)
                };
                let (ic, oc) = (groups * fic, groups * r.size(1, 7));
                let (kh, kw) = if extreme {
                    (r.size(1, 3), r.size(1, 3))
                } else {
                    (r.size(1, 4), r.size(1, 4))
                };
                let (a_min, a_max) = act(r);
                let p = Conv2DParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, if extreme { 3 } else { 8 }),
                    input_width: r.size(1, if extreme { 3 } else { 9 }),
                    input_channels: ic,
                    filter_height: kh,
                    filter_width: kw,
                    filter_input_channels: fic,
                    output_height: r.size(1, if extreme { 3 } else { 7 }),
                    output_width: r.size(1, if extreme { 3 } else { 8 }),
                    output_channels: oc,
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: r.size(1, 2),
                    dilation_width: if r.range(0, 3) == 0 { 2 } else { 1 },
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: 0,
                    pad_value: if extreme {
                        -128
                    } else {
                        r.range(-128, 127) as i32
                    },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let with_bias = r.coin() || extreme;
                let mut w = weights(r, oc * kh * kw * fic, oc, with_bias);
                if extreme {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                    if let Some(b) = w.bias.as_mut() {
                        b.iter_mut()
                            .for_each(|v| *v = i32::MAX - r.range(0, 1000) as i32);
                    }
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::Conv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            21 => {
                // Multiplier 1 (4 input channels per block), 4 and 8 (blocks of one
                // input channel's multiplier channels), others (left-over channels);
                // now and then a large kernel (micro_speech's 10x8) and all-extreme
                // weights.
                let ic = r.size(1, 11);
                let dm = match r.range(0, 4) {
                    0 => 1,
                    1 => r.size(1, 3),
                    2 => 4 * r.size(1, 2),
                    _ => r.size(5, 9),
                };
                let (kh, kw) = if r.range(0, 5) == 0 {
                    (r.size(5, 10), r.size(5, 8))
                } else {
                    (r.size(1, 4), r.size(1, 4))
                };
                let extreme = r.range(0, 6) == 0;
                let (a_min, a_max) = act(r);
                let p = DepthwiseParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 8),
                    input_width: r.size(1, 8),
                    input_channels: ic,
                    depth_multiplier: dm,
                    filter_height: kh,
                    filter_width: kw,
                    output_height: r.size(1, 7),
                    output_width: r.size(1, 7),
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: 0,
                    pad_value: if extreme {
                        -128
                    } else {
                        r.range(-128, 127) as i32
                    },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let oc = ic * dm;
                let bias = r.coin();
                let mut w = weights(r, kh * kw * oc, oc, bias);
                if extreme {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::DepthwiseConv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            22 => {
                let (a_min, a_max) = act(r);
                let p = FullyConnectedParams {
                    batches: r.size(1, 5),
                    accum_depth: if r.coin() {
                        r.size(1, 9)
                    } else {
                        r.size(10, 300)
                    },
                    output_depth: r.size(1, 9),
                    input_offset: 0,
                    filter_offset: 0,
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let per_channel = r.coin();
                let channels = if per_channel { p.output_depth } else { 1 };
                let mut w = weights(r, p.output_depth * p.accum_depth, channels, false);
                if r.coin() {
                    w.bias = Some(
                        (0..p.output_depth)
                            .map(|_| r.range(-70_000, 70_000) as i32)
                            .collect(),
                    );
                }
                Spec {
                    inputs: vec![(p.batches * p.accum_depth, i8)],
                    output: (p.batches * p.output_depth, i8),
                    kernel: Kernel::FullyConnected {
                        params: p,
                        weights: w,
                    },
                }
            }
            // Depthwise 3x3, multiplier 1, no dilation (the unrolled path:
            // windows inside the image read in place, border windows through
            // a gathered patch), odd channel counts for the left-over
            // channels, every padding; now and then -128 everywhere, and
            // right-shift-only requantization half of the time.
            24 => {
                let ic = r.size(1, 13);
                let extreme = r.range(0, 5) == 0;
                let (a_min, a_max) = act(r);
                let p = DepthwiseParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 8),
                    input_width: r.size(1, 8),
                    input_channels: ic,
                    depth_multiplier: 1,
                    filter_height: 3,
                    filter_width: 3,
                    output_height: r.size(1, 8),
                    output_width: r.size(1, 8),
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: 1,
                    dilation_width: 1,
                    pad_top: r.size(0, 2),
                    pad_left: r.size(0, 2),
                    input_offset: 0,
                    pad_value: if extreme {
                        -128
                    } else {
                        r.range(-128, 127) as i32
                    },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let with_bias = r.coin();
                let mut w = weights(r, 9 * ic, ic, with_bias);
                if extreme {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                }
                if r.coin() {
                    w.shifts.iter_mut().for_each(|s| *s = -s.abs());
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * ic, i8),
                    kernel: Kernel::DepthwiseConv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            // Conv with few input channels (the im2col path: windows
            // gathered two pixels at a time), any kernel size up to 10x4
            // (kws's first layer), dilation and padding; right-shift-only
            // requantization half of the time.
            25 => {
                let ic = r.size(1, 7);
                let oc = r.size(1, 9);
                let (kh, kw) = if r.coin() {
                    (r.size(1, 10), r.size(1, 4))
                } else {
                    (r.size(1, 3), r.size(1, 3))
                };
                let (a_min, a_max) = act(r);
                let p = Conv2DParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 12),
                    input_width: r.size(1, 8),
                    input_channels: ic,
                    filter_height: kh,
                    filter_width: kw,
                    filter_input_channels: ic,
                    output_height: r.size(1, 7),
                    output_width: r.size(1, 7),
                    output_channels: oc,
                    stride_height: r.size(1, 2),
                    stride_width: r.size(1, 2),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: 0,
                    pad_value: r.range(-128, 127) as i32,
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let with_bias = r.coin();
                let mut w = weights(r, oc * kh * kw * ic, oc, with_bias);
                if r.coin() {
                    w.shifts.iter_mut().for_each(|s| *s = -s.abs());
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::Conv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            // The host gemm path (x86/AArch64 C: filter re-packed in
            // blocks of 16 output channels, 4 pixels or rows at a time):
            // channel counts across the block size, pixel and row counts
            // not multiples of 4, short and long windows, every padding and
            // dilation; kind 28 all -128 at large K (past the largest
            // window the path gathers, too).
            26 | 28 => {
                let extreme = k == super::GEMM_EXTREME_KIND;
                let ic = if extreme {
                    r.size(100, 700)
                } else if r.coin() {
                    r.size(1, 5)
                } else {
                    r.size(6, 40)
                };
                // Output channels across the 64-channel requantization block too.
                let oc = if r.coin() {
                    r.size(1, 40)
                } else {
                    r.size(60, 140)
                };
                let (kh, kw) = if extreme {
                    (3, 3)
                } else {
                    (r.size(1, 5), r.size(1, 5))
                };
                let (a_min, a_max) = act(r);
                let p = Conv2DParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, if extreme { 4 } else { 9 }),
                    input_width: r.size(1, if extreme { 4 } else { 9 }),
                    input_channels: ic,
                    filter_height: kh,
                    filter_width: kw,
                    filter_input_channels: ic,
                    output_height: r.size(1, if extreme { 3 } else { 7 }),
                    output_width: r.size(1, if extreme { 3 } else { 7 }),
                    output_channels: oc,
                    stride_height: r.size(1, 3),
                    stride_width: r.size(1, 3),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: 0,
                    pad_value: if extreme {
                        -128
                    } else {
                        r.range(-128, 127) as i32
                    },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let with_bias = r.coin() || extreme;
                let mut w = weights(r, oc * kh * kw * ic, oc, with_bias);
                if extreme {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                    if let Some(b) = w.bias.as_mut() {
                        b.iter_mut()
                            .for_each(|v| *v = i32::MAX - r.range(0, 1000) as i32);
                    }
                } else if r.coin() {
                    w.shifts.iter_mut().for_each(|s| *s = -s.abs());
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::Conv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            27 => {
                let (a_min, a_max) = act(r);
                let p = FullyConnectedParams {
                    batches: r.size(1, 11),
                    accum_depth: if r.coin() {
                        r.size(1, 20)
                    } else {
                        r.size(100, 700)
                    },
                    output_depth: if r.coin() {
                        r.size(1, 40)
                    } else {
                        r.size(60, 140)
                    },
                    input_offset: 0,
                    filter_offset: 0,
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let per_channel = r.coin();
                let channels = if per_channel { p.output_depth } else { 1 };
                let mut w = weights(r, p.output_depth * p.accum_depth, channels, false);
                if r.coin() {
                    w.bias = Some(
                        (0..p.output_depth)
                            .map(|_| r.range(-70_000, 70_000) as i32)
                            .collect(),
                    );
                }
                if r.range(0, 3) == 0 {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                }
                Spec {
                    inputs: vec![(p.batches * p.accum_depth, i8)],
                    output: (p.batches * p.output_depth, i8),
                    kernel: Kernel::FullyConnected {
                        params: p,
                        weights: w,
                    },
                }
            }
            // The host depthwise paths: multiplier 1 across channels (blocks
            // of 64 crossed), multipliers 2-4 through the filter copied per
            // multiplier channel, one input channel with a large multiplier
            // and kernel (a convolution over the transposed filter), 5 or
            // more (the portable path); every padding, dilation, extremes.
            29 => {
                let one = r.range(0, 4) == 0;
                let ic = if one {
                    1
                } else if r.coin() {
                    r.size(1, 20)
                } else {
                    r.size(60, 140)
                };
                let dm = if one {
                    r.size(1, 10)
                } else {
                    match r.range(0, 4) {
                        0 | 1 => 1,
                        2 => r.size(2, 4),
                        _ => r.size(5, 6),
                    }
                };
                let (kh, kw) = if one && r.coin() {
                    (r.size(5, 10), r.size(5, 8))
                } else {
                    (r.size(1, 4), r.size(1, 4))
                };
                let extreme = r.range(0, 5) == 0;
                let (a_min, a_max) = act(r);
                let p = DepthwiseParams {
                    batches: r.size(1, 2),
                    input_height: r.size(1, 8),
                    input_width: r.size(1, 8),
                    input_channels: ic,
                    depth_multiplier: dm,
                    filter_height: kh,
                    filter_width: kw,
                    output_height: r.size(1, 7),
                    output_width: r.size(1, 7),
                    stride_height: r.size(1, 3),
                    stride_width: r.size(1, 3),
                    dilation_height: r.size(1, 2),
                    dilation_width: r.size(1, 2),
                    pad_top: r.size(0, kh - 1),
                    pad_left: r.size(0, kw - 1),
                    input_offset: 0,
                    pad_value: if extreme {
                        -128
                    } else {
                        r.range(-128, 127) as i32
                    },
                    output_offset: r.range(-128, 127) as i32,
                    act_min: a_min,
                    act_max: a_max,
                };
                let oc = ic * dm;
                let with_bias = r.coin() || extreme;
                let mut w = weights(r, kh * kw * oc, oc, with_bias);
                if extreme {
                    w.filter.iter_mut().for_each(|v| *v = -128);
                } else if r.coin() {
                    w.shifts.iter_mut().for_each(|s| *s = -s.abs());
                }
                Spec {
                    inputs: vec![(p.batches * p.input_height * p.input_width * ic, i8)],
                    output: (p.batches * p.output_height * p.output_width * oc, i8),
                    kernel: Kernel::DepthwiseConv2D {
                        weights: w,
                        params: p,
                    },
                }
            }
            _ => {
                let n = r.size(1, 40);
                Spec {
                    inputs: vec![(n, i8)],
                    output: (n, i8),
                    kernel: Kernel::Copy,
                }
            }
        };
        Some(spec)
    }

    /// Random input bytes for a buffer of `dtype`; float inputs mix ordinary
    /// values with ties, huge values, infinities and NaN.
    pub fn input(r: &mut Rng, len: usize, dtype: DType) -> Vec<u8> {
        if dtype != DType::F32 {
            return r.bytes(len);
        }
        (0..len / 4)
            .flat_map(|_| {
                let v = match r.range(0, 9) {
                    0 => f32::NAN,
                    1 => f32::INFINITY,
                    2 => f32::NEG_INFINITY,
                    3 => r.range(-300, 300) as f32 * 0.5,
                    4 => r.f32(-1e12, 1e12),
                    _ => r.f32(-40.0, 40.0),
                };
                v.to_le_bytes()
            })
            .collect()
    }
}

const RANDOM_KINDS: usize = 30;
/// The kind whose inputs are all -128 (against -128 weights, large K).
const EXTREME_KIND: usize = 23;
/// The same for the host gemm path's convolution.
const GEMM_EXTREME_KIND: usize = 28;
const RANDOM_PER_KIND: usize = 8;

/// Random programs with their inputs and the Rust kernels' outputs.
fn random_suite() -> &'static Prepared {
    static SUITE: OnceLock<Prepared> = OnceLock::new();
    SUITE.get_or_init(|| {
        let src_dir = work_dir().join("random");
        let _ = std::fs::remove_dir_all(&src_dir);
        std::fs::create_dir_all(&src_dir).expect("create random dir");
        let mut r = random::Rng(0x7199_5eed_c0de_0001);
        let mut models = Vec::new();
        let mut errors = Vec::new();
        for kind in 0..RANDOM_KINDS {
            let mut made = 0;
            let mut attempts = 0;
            while made < RANDOM_PER_KIND && attempts < 50 * RANDOM_PER_KIND {
                attempts += 1;
                let Some(spec) = random::spec(&mut r, kind) else {
                    continue;
                };
                let program = spec.program();
                let name = format!("rand_{kind}_{made}");
                // Parameters the reference kernel refuses are refused by
                // emit too; such draws are skipped.
                let Ok(generated) = emit(&program, &name) else {
                    continue;
                };
                let samples = 3;
                let mut inputs: Vec<RawArray> = program
                    .inputs
                    .iter()
                    .map(|io| RawArray {
                        shape: vec![samples, io.byte_len()],
                        elem_size: 1,
                        bytes: Vec::new(),
                    })
                    .collect();
                let mut expected = vec![
                    RawArray {
                        shape: vec![samples, program.outputs[0].byte_len()],
                        elem_size: 1,
                        bytes: Vec::new(),
                    };
                    1
                ];
                let mut interp = tinyq_interp::Interpreter::new(&program);
                let mut ok = true;
                for _ in 0..samples {
                    let ins: Vec<Vec<u8>> = program
                        .inputs
                        .iter()
                        .map(|io| {
                            if kind == EXTREME_KIND || kind == GEMM_EXTREME_KIND {
                                vec![0x80; io.byte_len()]
                            } else {
                                random::input(&mut r, io.byte_len(), io.dtype)
                            }
                        })
                        .collect();
                    let refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
                    let mut out = vec![0u8; program.outputs[0].byte_len()];
                    if interp.invoke(&refs, &mut [out.as_mut_slice()]).is_err() {
                        ok = false;
                        break;
                    }
                    for (a, b) in inputs.iter_mut().zip(&ins) {
                        a.bytes.extend_from_slice(b);
                    }
                    expected[0].bytes.extend_from_slice(&out);
                }
                if !ok {
                    continue;
                }
                for (ext, text) in [("h", &generated.header), ("c", &generated.source)] {
                    std::fs::write(src_dir.join(format!("{name}.{ext}")), text)
                        .expect("write source");
                }
                models.push(Model {
                    name,
                    case: None,
                    program,
                    generated,
                    inputs,
                    expected,
                    reset_expected: Vec::new(),
                });
                made += 1;
            }
            if made < RANDOM_PER_KIND {
                errors.push(format!("kind {kind}: only {made} valid draws"));
            }
        }
        write_harness(&src_dir, &models);
        Prepared {
            models,
            stale: Vec::new(),
            src_dir,
            errors,
            reference: "the Rust kernels",
        }
    })
}

/// Every C kernel equals its Rust kernel on random parameters and data,
/// under ASan and UBSan.
#[test]
fn random_programs_equal_the_rust_kernels() {
    let suite = random_suite();
    assert!(suite.errors.is_empty(), "{}", suite.errors.join("\n"));
    check_compiler(suite, "random ASan+UBSan", "gcc", SANITIZE, SANITIZE_ENV);
}

/// The same programs at -O3 (the vectorized loops of the fast conv,
/// depthwise and fully-connected paths), gcc and clang, strict flags.
#[test]
fn random_programs_at_o3_equal_the_rust_kernels() {
    let suite = random_suite();
    assert!(suite.errors.is_empty(), "{}", suite.errors.join("\n"));
    check_compiler(suite, "random gcc -O3", "gcc", &["-O3"], &[]);
    check_compiler(suite, "random clang -O3", "clang", &["-O3"], &[]);
    check_compiler(
        suite,
        "random gcc -O3 -march=native",
        "gcc",
        &["-O3", "-march=native"],
        &[],
    );
    check_compiler(
        suite,
        "random clang -O3 -march=native",
        "clang",
        &["-O3", "-march=native"],
        &[],
    );
    // The portable path (no host gemm) on the host too.
    check_compiler(
        suite,
        "random gcc -O3 portable",
        "gcc",
        &["-O3", "-DTQ_NO_HOST_GEMM"],
        &[],
    );
}

/// `examples/c/main.c` builds with the strict flags against freshly
/// generated MNIST code and classifies its synthetic "1".
#[test]
fn host_example_builds_and_runs() {
    let p = prepared();
    let m = p
        .models
        .iter()
        .find(|m| m.name == "mnist_int8")
        .expect("mnist fixture");
    let dir = work_dir().join("example-c");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create dir");
    let generated = emit(&m.program, "mnist").expect("emit mnist");
    std::fs::write(dir.join("mnist.h"), &generated.header).expect("write");
    std::fs::write(dir.join("mnist.c"), &generated.source).expect("write");
    let main = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/c/main.c");
    let exe = dir.join("mnist_demo");
    let out = Command::new("gcc")
        .args(STRICT)
        .arg("-O2")
        .arg("-I")
        .arg(&dir)
        .arg(&main)
        .arg(dir.join("mnist.c"))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run gcc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("run demo");
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && text.contains("prediction: 1"),
        "{text}"
    );
}

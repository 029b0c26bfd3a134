//! Speed cannot regress silently: tinyq's generated C for a few small
//! fixtures, built for a Cortex-M4 and run under QEMU with `-icount` through
//! the shared m4bench tool (`../shared/tools/m4bench`, or `$M4BENCH`), must
//! stay under pinned instruction counts per inference. The counts are exact
//! and repeatable (QEMU counts instructions; same binary, same inputs), so
//! the bounds are the measured figures plus a small margin for compiler
//! noise. Lower them when the kernels get faster.
//!
//! The runs feed the fixtures' own inputs and compare the outputs with
//! TFLM's (`int8.out0.npy`), byte for byte: `-mcpu=cortex-m4` defines
//! `__ARM_FEATURE_DSP`, so this is also the bit-exactness test of the
//! generated C's DSP path (SXTB16/SMLAD/SSAT) on conv, depthwise and dense
//! layers. Each fixture also runs once with `__ARM_FEATURE_DSP` undefined:
//! the portable C99 path on the same core, outputs checked, speed not.
//!
//! Skipped, with a note, when the tool, `arm-none-eabi-gcc`, `qemu-system-arm`
//! or `python3` is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use tinyq_backend_c::emit;
use tinyq_compiler::Session;
use tinyq_tests::read_npy;

/// (fixture, upper bound on instructions per inference). Measured when
/// pinned (gcc 12.2 -O2, the fixtures' own inputs): mnist 863,360,
/// conv_basic 36,800, depthwise 33,506, dense 2,226, kws_ds_cnn 7,020,440,
/// micro_speech 1,388,186, ad_autoencoder 403,306, cnn_strided 3,689,493,
/// vww_mobilenet_v1 16,573,920, resnet8 28,550,853, cnn_small 2,178,386
/// (the round before: mnist 999,920, conv_basic 49,946, depthwise 38,653,
/// dense 2,640, kws_ds_cnn 9,182,840, micro_speech 1,442,786,
/// ad_autoencoder 437,693, cnn_strided 5,885,680; before the first fast
/// kernels: mnist 2,360,430); the bounds leave about 5 % (conv_basic and
/// dense 8 %). The portable C path's counts are printed, not bounded.
const BOUNDS: &[(&str, u64)] = &[
    ("mnist", BOUND_MNIST),
    ("conv_basic", BOUND_CONV_BASIC),
    ("depthwise", BOUND_DEPTHWISE),
    ("dense", BOUND_DENSE),
    ("kws_ds_cnn", BOUND_KWS_DS_CNN),
    ("micro_speech", BOUND_MICRO_SPEECH),
    ("ad_autoencoder", BOUND_AD_AUTOENCODER),
    ("cnn_strided", BOUND_CNN_STRIDED),
    ("vww_mobilenet_v1", BOUND_VWW_MOBILENET_V1),
    ("resnet8", BOUND_RESNET8),
    ("cnn_small", BOUND_CNN_SMALL),
];

const BOUND_MNIST: u64 = 906_000;
const BOUND_CONV_BASIC: u64 = 40_000;
const BOUND_DEPTHWISE: u64 = 35_200;
const BOUND_DENSE: u64 = 2_400;
const BOUND_KWS_DS_CNN: u64 = 7_300_000;
const BOUND_MICRO_SPEECH: u64 = 1_458_000;
const BOUND_AD_AUTOENCODER: u64 = 424_000;
const BOUND_CNN_STRIDED: u64 = 3_850_000;
const BOUND_VWW_MOBILENET_V1: u64 = 17_300_000;
const BOUND_RESNET8: u64 = 29_980_000;
const BOUND_CNN_SMALL: u64 = 2_288_000;

fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn tool_dir() -> Option<PathBuf> {
    [
        std::env::var_os("M4BENCH").map(PathBuf::from),
        Some(root().join("../shared/tools/m4bench")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("run.sh").is_file())
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A stand-in for the `tinyq` binary the tool calls (`tinyq compile MODEL
/// --emit c --name m --out DIR`): copies C this test generated in process,
/// so the test measures the code of this build.
fn shim(dir: &Path, generated: &Path) -> PathBuf {
    let path = dir.join("tinyq-shim.sh");
    let script = format!(
        "#!/bin/sh\nout=''\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --out ]; then out=\"$2\"; fi\n  shift\ndone\n\
         mkdir -p \"$out\" && cp '{0}/m.c' '{0}/m.h' \"$out/\"\n",
        generated.display()
    );
    std::fs::write(&path, script).expect("write shim");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod shim");
    }
    path
}

/// Which path of the generated C a run builds: the DSP one (`-mcpu=cortex-m4`
/// defines `__ARM_FEATURE_DSP`), or the portable C99 one on the same core
/// (the source starts with `#undef __ARM_FEATURE_DSP`).
#[derive(Clone, Copy, PartialEq)]
enum CPath {
    Dsp,
    Portable,
}

fn instructions(tool: &Path, name: &str, work: &Path, path: CPath) -> Result<u64, String> {
    let model = root().join("tests/fixtures").join(name).join("int8.tflite");
    let session = Session::new();
    let read = session.read_file(&model).map_err(|e| e.to_string())?;
    let program = session
        .compile(&read, None)
        .map_err(|e| e.to_string())?
        .program;
    let generated = emit(&program, "m").map_err(|e| e.to_string())?;
    let dir = work.join(match path {
        CPath::Dsp => name.to_string(),
        CPath::Portable => format!("{name}-portable"),
    });
    let gen_dir = dir.join("gen-src");
    std::fs::create_dir_all(&gen_dir).map_err(|e| e.to_string())?;
    let source = match path {
        CPath::Dsp => generated.source.clone(),
        CPath::Portable => format!("#undef __ARM_FEATURE_DSP\n{}", generated.source),
    };
    std::fs::write(gen_dir.join("m.c"), source).map_err(|e| e.to_string())?;
    std::fs::write(gen_dir.join("m.h"), &generated.header).map_err(|e| e.to_string())?;
    let shim = shim(&dir, &gen_dir);
    // The fixture's samples (at least 2: one warm-up, one timed).
    let fixture = root().join("tests/fixtures").join(name);
    let ins = read_npy(&fixture.join("int8.in0.npy"))?;
    let outs = read_npy(&fixture.join("int8.out0.npy"))?;
    let n = ins.samples().min(outs.samples()).min(4);
    if n == 0 {
        return Err("the fixture has no samples".into());
    }
    let order: Vec<usize> = (0..n.max(2)).map(|i| i % n).collect();
    let inputs: Vec<u8> = order.iter().flat_map(|&i| ins.sample(i).to_vec()).collect();
    let expected: Vec<u8> = order
        .iter()
        .flat_map(|&i| outs.sample(i).to_vec())
        .collect();
    let inputs_bin = dir.join("inputs.bin");
    std::fs::write(&inputs_bin, &inputs).map_err(|e| e.to_string())?;
    let out = Command::new(tool.join("run.sh"))
        .args([
            "--engine",
            "tinyq",
            "--ns",
            &order.len().to_string(),
            "--tinyq",
        ])
        .arg(&shim)
        .arg("--work")
        .arg(&dir)
        .arg(&model)
        .arg(&inputs_bin)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "run.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let got = std::fs::read(dir.join("tinyq/outputs.bin")).map_err(|e| e.to_string())?;
    if got != expected {
        return Err("the Cortex-M4 outputs differ from TFLM's (int8.out0.npy)".into());
    }
    let json = std::fs::read_to_string(dir.join("tinyq/result.json")).map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    v["instr_per_inference"]
        .as_u64()
        .ok_or_else(|| "no instr_per_inference".to_string())
}

#[test]
fn cortex_m4_instruction_counts_stay_under_their_bounds() {
    let Some(tool) = tool_dir() else {
        println!("SKIPPED: the m4bench tool was not found (set M4BENCH=DIR)");
        return;
    };
    for t in ["arm-none-eabi-gcc", "qemu-system-arm", "python3"] {
        if !have(t) {
            println!("SKIPPED: {t} is not installed; instruction counts not checked");
            return;
        }
    }
    let work = std::env::temp_dir().join(format!("tinyq-m4-speed-{}", std::process::id()));
    let mut failures = Vec::new();
    for &(name, bound) in BOUNDS {
        match instructions(&tool, name, &work, CPath::Dsp) {
            Ok(n) => {
                println!(
                    "{name}: {n} instructions per inference (bound {bound}), outputs equal TFLM's"
                );
                if n > bound {
                    failures.push(format!(
                        "{name}: {n} instructions per inference > bound {bound}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
        match instructions(&tool, name, &work, CPath::Portable) {
            Ok(n) => println!(
                "{name}: portable C path {n} instructions per inference, outputs equal TFLM's"
            ),
            Err(e) => failures.push(format!("{name} (portable C path): {e}")),
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

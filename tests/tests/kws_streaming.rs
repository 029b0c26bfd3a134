//! `examples/kws-streaming` built with `arm-none-eabi-gcc -mcpu=cortex-m4`
//! and run under `qemu-system-arm -M mps2-an386`: the keyword model gets one
//! feature frame per invoke, its SVDF states carried in the arena from one
//! invoke to the next, and `kws_reset()` between utterances. Every score
//! byte the firmware prints equals TFLM's, recorded streaming over the same
//! frames in order (`kws_svdf_stream/int8.out0.npy`), and the second
//! utterance (the same frames after the reset) repeats them.
//!
//! The example's `features.h` is the fixture's frames; `TINYQ_BLESS=1`
//! rewrites it. Skipped, with a note, when `arm-none-eabi-gcc`,
//! `qemu-system-arm` or `make` is missing (CI installs them via .ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tinyq_backend_c::emit;
use tinyq_compiler::Session;
use tinyq_tests::qemu_m4::{missing, run_mps2_an386};
use tinyq_tests::{RawArray, fixtures_dir, read_npy};

const FIXTURE: &str = "kws_svdf_stream";
/// `main.c` feeds the frames this many times, `kws_reset()` before each.
const UTTERANCES: usize = 2;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kws-streaming")
}

fn fixture(file: &str) -> RawArray {
    read_npy(&fixtures_dir().join(FIXTURE).join(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// The text of `examples/kws-streaming/features.h` for the fixture's frames.
fn features_header(frames: &RawArray) -> String {
    let n = frames.samples();
    let mut text = format!(
        "/* {n} frames of 40 int8 features: tests/fixtures/{FIXTURE}/int8.in0.npy, synthetic\n   \
         (a noise floor, a rising sweep, a steady two-band sound; xtask/fixtures/kws_models.py).\n   \
         Written by the test kws_streaming (TINYQ_BLESS=1 rewrites it). Include after kws.h. */\n\
         #ifndef FEATURES_H\n#define FEATURES_H\n\n#define FEATURE_FRAMES {n}\n\n\
         static const int8_t features[FEATURE_FRAMES][KWS_INPUT_0_SIZE] = {{\n"
    );
    for s in 0..n {
        let values: Vec<String> = frames
            .sample(s)
            .iter()
            .map(|&b| (b as i8).to_string())
            .collect();
        text.push_str(&format!("    {{{}}},\n", values.join(", ")));
    }
    text.push_str("};\n\n#endif\n");
    text
}

#[test]
fn example_features_are_the_fixture_frames() {
    let want = features_header(&fixture("int8.in0.npy"));
    let path = example_dir().join("features.h");
    if std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("write features.h");
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "{} is not the fixture's frames; rerun with TINYQ_BLESS=1 to rewrite it",
        path.display()
    );
}

fn make(dir: &Path, extra_cflags: &str) {
    let out = Command::new("make")
        .arg("-C")
        .arg(example_dir())
        .arg(format!("BUILD={}", dir.display()))
        .arg(format!("GEN={}", dir.display()))
        .arg("KWS_MODEL=")
        .arg(format!("EXTRA_CFLAGS={extra_cflags}"))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "building examples/kws-streaming failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One printed frame: `utt U frame F scores HEX [instructions N]`.
struct Frame {
    utt: usize,
    frame: usize,
    scores: String,
    instructions: Option<u64>,
}

fn parse(text: &str) -> Vec<Frame> {
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            match t.as_slice() {
                ["utt", u, "frame", f, "scores", s, rest @ ..] => Some(Frame {
                    utt: u.parse().ok()?,
                    frame: f.parse().ok()?,
                    scores: (*s).to_string(),
                    instructions: match rest {
                        ["instructions", n] => n.parse().ok(),
                        _ => None,
                    },
                }),
                _ => None,
            }
        })
        .collect()
}

/// Every printed line against TFLM's streaming scores, each utterance from
/// a reset state.
fn check(text: &str, expected: &RawArray) -> Vec<Frame> {
    assert!(text.contains("done"), "firmware did not finish:\n{text}");
    let frames = parse(text);
    let n = expected.samples();
    assert_eq!(
        frames.len(),
        UTTERANCES * n,
        "expected {UTTERANCES} x {n} frames:\n{text}"
    );
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.utt, f.frame), (i / n, i % n), "frame order:\n{text}");
        let want: String = expected
            .sample(f.frame)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            f.scores, want,
            "utterance {} frame {}: Cortex-M4 scores differ from TFLM's streaming scores",
            f.utt, f.frame
        );
    }
    frames
}

#[test]
fn kws_streaming_under_qemu_equals_tflm() {
    if let Some(tool) = missing(&["arm-none-eabi-gcc", "qemu-system-arm", "make"]) {
        eprintln!(
            "SKIPPED: {tool} is not installed (CI installs it via .ci/run); examples/kws-streaming was not run"
        );
        return;
    }
    let expected = fixture("int8.out0.npy");
    let reset_each = fixture("int8.reset_out0.npy");
    assert_ne!(
        expected.bytes, reset_each.bytes,
        "the fixture's state changes nothing"
    );

    // This build's C for the fixture model, where the Makefile looks for it.
    let model = fixtures_dir().join(FIXTURE).join("int8.tflite");
    let session = Session::new();
    let read = session.read_file(&model).unwrap_or_else(|e| panic!("{e}"));
    let program = session
        .compile(&read, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .program;
    assert!(program.state_size > 0, "no persistent state");
    let generated = emit(&program, "kws").unwrap_or_else(|e| panic!("{e}"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kws_streaming");
    let _ = std::fs::remove_dir_all(&work);
    let (plain, counted) = (work.join("plain"), work.join("count"));
    for dir in [&plain, &counted] {
        std::fs::create_dir_all(dir).expect("create build dir");
        std::fs::write(dir.join("kws.h"), &generated.header).expect("write kws.h");
        std::fs::write(dir.join("kws.c"), &generated.source).expect("write kws.c");
    }

    make(&plain, "");
    if let Ok(size) = Command::new("arm-none-eabi-size")
        .arg(plain.join("kws.o"))
        .arg(plain.join("kws_streaming.elf"))
        .output()
    {
        println!("{}", String::from_utf8_lossy(&size.stdout));
    }
    let text = run_mps2_an386(
        &plain.join("kws_streaming.elf"),
        &[],
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check(&text, &expected);

    // Again with the instruction counter, under -icount: the same scores.
    make(&counted, "-DKWS_COUNT_INSTRUCTIONS");
    let text = run_mps2_an386(
        &counted.join("kws_streaming.elf"),
        &["-icount", "shift=0"],
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let counts: Vec<u64> = check(&text, &expected)
        .iter()
        .filter_map(|f| f.instructions)
        .collect();
    assert_eq!(counts.len(), UTTERANCES * expected.samples(), "counts");
    println!(
        "kws-streaming (QEMU mps2-an386): {} frames x {UTTERANCES} utterances equal TFLM's streaming scores; \
         kws_invoke {}..{} instructions per frame (-icount, resolution 40)",
        expected.samples(),
        counts.iter().min().unwrap_or(&0),
        counts.iter().max().unwrap_or(&0)
    );
}

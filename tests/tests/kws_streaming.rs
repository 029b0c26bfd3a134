//! `examples/kws-streaming` built with `arm-none-eabi-gcc -mcpu=cortex-m4`
//! and run under `qemu-system-arm -M mps2-an386`: audio in, keyword scores
//! out, one 20 ms step at a time. Each step runs the audio preprocessor
//! (TFLM micro_speech's, `audio_preprocessor/signal.tflite`) on the newest
//! 30 ms of audio and the streaming keyword model (`kws_svdf_stream`) on its
//! features; both keep state in their arenas from one invoke to the next,
//! and both are reset before each utterance. Every feature and score byte
//! the firmware prints equals TFLM's, recorded running the same chain at
//! fixture time (`kws_svdf_stream/chain.{audio,features,scores}.npy`,
//! `xtask/fixtures/kws_chain.py`).
//!
//! The example's `audio.h` is the fixture's audio; `TINYQ_BLESS=1` rewrites
//! it. Skipped, with a note, when `arm-none-eabi-gcc`, `qemu-system-arm` or
//! `make` is missing (CI installs them via .ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tinyq_backend_c::emit;
use tinyq_compiler::Session;
use tinyq_tests::qemu_m4::{missing, run_mps2_an386};
use tinyq_tests::{RawArray, fixtures_dir, read_npy};

/// The keyword model's fixture, which also holds the chain's recordings.
const FIXTURE: &str = "kws_svdf_stream";
/// The audio preprocessor.
const PREPROCESSOR: &str = "audio_preprocessor/signal.tflite";
/// New samples per step (20 ms at 16 kHz), as `main.c`.
const STRIDE: usize = 320;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kws-streaming")
}

fn fixture(file: &str) -> RawArray {
    read_npy(&fixtures_dir().join(FIXTURE).join(file)).unwrap_or_else(|e| panic!("{e}"))
}

/// The text of `examples/kws-streaming/audio.h` for the fixture's audio.
fn audio_header(audio: &RawArray) -> String {
    let (utterances, samples) = (audio.shape[0], audio.shape[1]);
    let mut text = format!(
        "/* {utterances} utterances of {samples} int16 samples at 16 kHz: \
         tests/fixtures/{FIXTURE}/chain.audio.npy,\n   \
         synthetic (a chirp, then two tones, over noise; xtask/fixtures/kws_chain.py).\n   \
         Written by the test kws_streaming (TINYQ_BLESS=1 rewrites it). */\n\
         #ifndef AUDIO_H\n#define AUDIO_H\n\n#include <stdint.h>\n\n\
         #define AUDIO_UTTERANCES {utterances}\n#define AUDIO_SAMPLES {samples}\n\n\
         static const int16_t audio[AUDIO_UTTERANCES][AUDIO_SAMPLES] = {{\n"
    );
    for u in 0..utterances {
        text.push_str("    {\n");
        let values: Vec<String> = audio
            .sample(u)
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]).to_string())
            .collect();
        for row in values.chunks(16) {
            text.push_str(&format!("        {},\n", row.join(", ")));
        }
        text.push_str("    },\n");
    }
    text.push_str("};\n\n#endif\n");
    text
}

#[test]
fn example_audio_is_the_fixture_audio() {
    let want = audio_header(&fixture("chain.audio.npy"));
    let path = example_dir().join("audio.h");
    if std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("write audio.h");
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "{} is not the fixture's audio; rerun with TINYQ_BLESS=1 to rewrite it",
        path.display()
    );
}

fn make(dir: &Path, extra_cflags: &str) {
    let out = Command::new("make")
        .arg("-C")
        .arg(example_dir())
        .arg(format!("BUILD={}", dir.display()))
        .arg(format!("GEN={}", dir.display()))
        .arg("PRE_MODEL=")
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

/// One printed step: `utt U frame F features HEX scores HEX
/// [instructions PRE KWS]`.
struct Step {
    utt: usize,
    frame: usize,
    features: String,
    scores: String,
    instructions: Option<(u64, u64)>,
}

fn parse(text: &str) -> Vec<Step> {
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            match t.as_slice() {
                ["utt", u, "frame", f, "features", x, "scores", s, rest @ ..] => Some(Step {
                    utt: u.parse().ok()?,
                    frame: f.parse().ok()?,
                    features: (*x).to_string(),
                    scores: (*s).to_string(),
                    instructions: match rest {
                        ["instructions", pre, kws] => Some((pre.parse().ok()?, kws.parse().ok()?)),
                        _ => None,
                    },
                }),
                _ => None,
            }
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// TFLM's recordings of the chain: `[utterances, frames, values]`.
struct Chain {
    features: RawArray,
    scores: RawArray,
}

impl Chain {
    fn frames(&self) -> usize {
        self.features.shape[1]
    }

    /// Utterance `u`, frame `f` of `a`.
    fn at<'a>(&self, a: &'a RawArray, u: usize, f: usize) -> &'a [u8] {
        let per = a.shape[2] * a.elem_size;
        &a.sample(u)[f * per..(f + 1) * per]
    }
}

/// Every printed step against TFLM's chain, each utterance from reset
/// states.
fn check(text: &str, chain: &Chain) -> Vec<Step> {
    assert!(text.contains("done"), "firmware did not finish:\n{text}");
    let steps = parse(text);
    let (utterances, n) = (chain.features.samples(), chain.frames());
    assert_eq!(
        steps.len(),
        utterances * n,
        "expected {utterances} x {n} steps:\n{text}"
    );
    for (i, s) in steps.iter().enumerate() {
        assert_eq!((s.utt, s.frame), (i / n, i % n), "step order:\n{text}");
        assert_eq!(
            s.features,
            hex(chain.at(&chain.features, s.utt, s.frame)),
            "utterance {} frame {}: Cortex-M4 features differ from TFLM's preprocessor",
            s.utt,
            s.frame
        );
        assert_eq!(
            s.scores,
            hex(chain.at(&chain.scores, s.utt, s.frame)),
            "utterance {} frame {}: Cortex-M4 scores differ from TFLM's keyword model",
            s.utt,
            s.frame
        );
    }
    steps
}

/// This build's C for one model.
fn generate(session: &Session, model: &Path, name: &str) -> tinyq_backend_c::GeneratedC {
    let read = session.read_file(model).unwrap_or_else(|e| panic!("{e}"));
    let program = session
        .compile(&read, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .program;
    assert!(
        program.state_size > 0,
        "{}: no persistent state",
        model.display()
    );
    emit(&program, name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn kws_streaming_under_qemu_equals_tflm() {
    if let Some(tool) = missing(&["arm-none-eabi-gcc", "qemu-system-arm", "make"]) {
        eprintln!(
            "SKIPPED: {tool} is not installed (CI installs it via .ci/run); examples/kws-streaming was not run"
        );
        return;
    }
    let audio = fixture("chain.audio.npy");
    let chain = Chain {
        features: fixture("chain.features.npy"),
        scores: fixture("chain.scores.npy"),
    };
    assert_eq!(
        audio.shape[1],
        480 + STRIDE * (chain.frames() - 1),
        "the audio is not the recorded frames' windows"
    );
    // A reset must matter: the two utterances differ, and the state does.
    assert_ne!(chain.features.sample(0), chain.features.sample(1));

    // This build's C for both models, where the Makefile looks for it.
    let session = Session::new();
    let models = [
        (fixtures_dir().join(PREPROCESSOR), "pre"),
        (fixtures_dir().join(FIXTURE).join("int8.tflite"), "kws"),
    ];
    let generated: Vec<_> = models
        .iter()
        .map(|(model, name)| (generate(&session, model, name), *name))
        .collect();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kws_streaming");
    let _ = std::fs::remove_dir_all(&work);
    let (plain, counted) = (work.join("plain"), work.join("count"));
    for dir in [&plain, &counted] {
        std::fs::create_dir_all(dir).expect("create build dir");
        for (code, name) in &generated {
            std::fs::write(dir.join(format!("{name}.h")), &code.header).expect("write header");
            std::fs::write(dir.join(format!("{name}.c")), &code.source).expect("write source");
        }
    }

    make(&plain, "");
    if let Ok(size) = Command::new("arm-none-eabi-size")
        .arg(plain.join("pre.o"))
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
    check(&text, &chain);

    // Again with the instruction counter, under -icount: the same bytes.
    make(&counted, "-DKWS_COUNT_INSTRUCTIONS");
    let text = run_mps2_an386(
        &counted.join("kws_streaming.elf"),
        &["-icount", "shift=0"],
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let counts: Vec<(u64, u64)> = check(&text, &chain)
        .iter()
        .filter_map(|s| s.instructions)
        .collect();
    assert_eq!(
        counts.len(),
        chain.features.samples() * chain.frames(),
        "counts"
    );
    let range = |f: fn(&(u64, u64)) -> u64| {
        let v: Vec<u64> = counts.iter().map(f).collect();
        format!(
            "{}..{}",
            v.iter().min().unwrap_or(&0),
            v.iter().max().unwrap_or(&0)
        )
    };
    println!(
        "kws-streaming (QEMU mps2-an386): {} utterances x {} steps equal TFLM's features and scores; \
         instructions per step (-icount, resolution 40): pre_invoke {}, kws_invoke {}",
        chain.features.samples(),
        chain.frames(),
        range(|c| c.0),
        range(|c| c.1)
    );
}

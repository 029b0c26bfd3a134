//! Untrusted input: truncations, bit flips and random mutations of real
//! model bytes never panic and always return promptly.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tinyq_tflite::read;

/// Far more than any single read of these small models should take.
const SLOW: Duration = Duration::from_secs(2);

fn timed_read(bytes: &[u8]) {
    let start = Instant::now();
    let _ = read(bytes);
    let took = start.elapsed();
    assert!(took < SLOW, "read of {} bytes took {took:?}", bytes.len());
}

fn small_model() -> Vec<u8> {
    common::small_cnn().bytes()
}

/// A small converter-written model from the fixtures, if there is one.
fn small_fixture() -> Option<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut found: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tflite") {
                found.push(p);
            }
        }
    }
    // The smallest int8 one, deterministically.
    found.sort();
    found
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "int8.tflite"))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.len() < 16 << 10)
        .min_by_key(Vec::len)
}

fn models() -> Vec<Vec<u8>> {
    let mut v = vec![small_model()];
    v.extend(small_fixture());
    v
}

#[test]
fn the_models_read() {
    for m in models() {
        read(&m).expect("unmodified model reads");
    }
}

#[test]
fn every_truncation() {
    for m in models() {
        for len in 0..m.len() {
            timed_read(&m[..len]);
        }
    }
}

#[test]
fn every_bit_flip() {
    for m in models() {
        let mut bytes = m.clone();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                bytes[i] ^= 1 << bit;
                timed_read(&bytes);
                bytes[i] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn interesting_words_everywhere() {
    // Offsets, lengths and indices are 32-bit words: try extreme ones at
    // every aligned position.
    let words: [u32; 6] = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x0001_0000];
    for m in models() {
        let mut bytes = m.clone();
        for pos in (0..bytes.len().saturating_sub(4)).step_by(4) {
            let saved: [u8; 4] = bytes[pos..pos + 4].try_into().expect("4 bytes");
            for w in words {
                bytes[pos..pos + 4].copy_from_slice(&w.to_le_bytes());
                timed_read(&bytes);
            }
            bytes[pos..pos + 4].copy_from_slice(&saved);
        }
    }
}

/// One way to damage a model.
#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrite byte `at` (taken modulo the length) with `value`.
    Write { at: usize, value: u8 },
    /// Overwrite the 32-bit word at `at` with `value`.
    Word { at: usize, value: u32 },
    /// Keep only the first `len` bytes (modulo the length + 1).
    Truncate { len: usize },
    /// Copy `len` bytes from `from` to `to`.
    Splice { from: usize, to: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Write { at, value }),
        2 => (any::<usize>(), any::<u32>()).prop_map(|(at, value)| Mutation::Word { at, value }),
        1 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        1 => (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(from, to, len)| Mutation::Splice { from, to, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    if n == 0 {
        return;
    }
    match *m {
        Mutation::Write { at, value } => bytes[at % n] = value,
        Mutation::Word { at, value } => {
            let at = (at % n) & !3;
            let end = (at + 4).min(n);
            bytes[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
        }
        Mutation::Truncate { len } => bytes.truncate(len % (n + 1)),
        Mutation::Splice { from, to, len } => {
            let (from, to) = (from % n, to % n);
            let len = len.min(n - from).min(n - to);
            bytes.copy_within(from..from + len, to);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_mutations_never_panic(
        which in 0usize..2,
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let models = models();
        let mut bytes = models[which % models.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        timed_read(&bytes);
    }
}

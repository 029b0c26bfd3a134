//! Replays every file of `fuzz/regressions/TARGET/` (and the seed corpus
//! `fuzz/corpus/TARGET/`) through the fuzz target's own entry point on
//! stable: no panic, and each input done within a time bound.

use std::path::Path;
use std::time::{Duration, Instant};

use tinyq_tests::fuzz::TARGETS;

/// Generous for debug builds on a loaded CI machine; a hang or an
/// unbounded allocation takes far longer.
const BOUND: Duration = Duration::from_secs(10);

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir);
    let mut count = 0;
    for &(target, run) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).expect("readable regression file");
            let start = Instant::now();
            run(&data);
            let took = start.elapsed();
            assert!(took < BOUND, "{target} on {} took {took:?}", file.display());
            count += 1;
        }
    }
    count
}

#[test]
fn regressions_replay_without_panic_in_bounded_time() {
    assert!(replay("regressions") > 0, "fuzz/regressions/ is empty");
}

#[test]
fn seed_corpus_replays_without_panic() {
    assert!(replay("corpus") > 0, "fuzz/corpus/ is empty");
}

//! The memory plan against TFLM: tinyq's arena is never larger than the
//! tensor memory TFLM plans for the same model (`tflm_arena.json`, recorded
//! by `cargo xtask fixtures`), and equals the lower bound where possible.

use tinyq_compiler::Session;
use tinyq_tests::fixtures_dir;

/// Plans above the lower bound, pinned: `quant_head_concat`'s uint8 and
/// float-I/O variants write the concatenation in place, and the planner
/// reserves the whole concatenated buffer from the first part's write, while
/// the 2nd part's region could still hold the input quantization's output
/// (448 B would do). `ad_autoencoder/int8`: 16 B of fragmentation between
/// differently sized lifetimes (bound 256 B). Lower a figure when the planner
/// improves.
const ABOVE_BOUND: &[(&str, usize)] = &[
    ("ad_autoencoder/int8", 272),
    ("quant_head_concat/uint8", 544),
    ("quant_head_concat/floatio", 544),
    ("quant_head_concat/tinyq_uint8", 544),
    ("quant_head_concat/tinyq_floatio", 544),
];

#[test]
fn arena_is_never_larger_than_tflm_planned_tensor_memory() {
    let text = std::fs::read_to_string(fixtures_dir().join("tflm_arena.json"))
        .expect("tests/fixtures/tflm_arena.json");
    let figures: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let figures = figures.as_object().expect("an object");
    assert!(
        figures.len() >= 190,
        "only {} models recorded",
        figures.len()
    );
    let (mut at_bound, mut tinyq_total, mut tflm_total) = (0, 0u64, 0u64);
    let mut larger = Vec::new();
    let mut above = Vec::new();
    for (name, f) in figures {
        let head = f["head"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name}: no TFLM head"));
        let session = Session::new();
        let model = session
            .read_file(&fixtures_dir().join(format!("{name}.tflite")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let program = session
            .compile(&model, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .program;
        let arena = program.arena_size as u64;
        match ABOVE_BOUND.iter().find(|(n, _)| n == name) {
            Some(&(_, pinned)) => assert!(
                program.arena_size <= pinned,
                "{name}: arena {} B above its pinned {pinned} B",
                program.arena_size
            ),
            None if program.arena_size == program.arena_lower_bound => at_bound += 1,
            None => above.push(format!(
                "{name}: arena {} B, lower bound {} B",
                program.arena_size, program.arena_lower_bound
            )),
        }
        tinyq_total += arena;
        tflm_total += head;
        if arena > head {
            larger.push(format!("{name}: tinyq {arena} B > TFLM {head} B"));
        }
    }
    println!(
        "{} models: arena == lower bound on {at_bound}; tinyq {tinyq_total} B vs TFLM {tflm_total} B in total ({:.2}x)",
        figures.len(),
        tinyq_total as f64 / tflm_total as f64
    );
    assert!(larger.is_empty(), "{}", larger.join("\n"));
    assert!(
        above.is_empty(),
        "plans above the lower bound:\n{}",
        above.join("\n")
    );
    assert_eq!(at_bound + ABOVE_BOUND.len(), figures.len());
}

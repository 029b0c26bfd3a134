//! Every golden generated Rust module (the representative set; all cases run
//! in `tests/tests/rust_backend.rs`), run on its fixture's inputs, equals
//! TFLM's outputs byte for byte.

use tinyq_rust_check::CASES;
use tinyq_tests::{cases, read_npy};

#[test]
fn generated_rust_equals_tflm_on_every_fixture() {
    let fixtures = cases();
    let mut failures = Vec::new();
    let mut samples = 0usize;
    for (name, runner) in CASES {
        let case = fixtures
            .iter()
            .find(|c| c.name == *name)
            .unwrap_or_else(|| panic!("no fixture for golden {name}"));
        let inputs: Vec<_> = case
            .inputs
            .iter()
            .map(|p| read_npy(p).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let expected: Vec<_> = case
            .outputs
            .iter()
            .map(|p| read_npy(p).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        for sample in 0..inputs[0].samples() {
            let ins: Vec<&[u8]> = inputs.iter().map(|a| a.sample(sample)).collect();
            let mut outs: Vec<Vec<u8>> = expected
                .iter()
                .map(|e| vec![0xA5; e.sample(sample).len()])
                .collect();
            let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            if !runner(&ins, &mut refs) {
                failures.push(format!("{name} sample {sample}: invoke_bytes failed"));
                continue;
            }
            for (k, (got, want)) in outs.iter().zip(&expected).enumerate() {
                let want = want.sample(sample);
                if got.as_slice() != want {
                    let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                    failures.push(format!(
                        "{name} sample {sample} output {k}: differs from byte {first}"
                    ));
                }
            }
            samples += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(CASES.len(), tinyq_tests::GOLDEN_CASES.len());
    println!(
        "{} cases, {samples} samples bit-exact through generated Rust",
        CASES.len()
    );
}

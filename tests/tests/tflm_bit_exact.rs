//! The product's promise: on every fixture, tinyq's interpreter output equals
//! TFLM's byte for byte, also with a poisoned arena (every byte no later
//! step reads overwritten with garbage before the first step and after each
//! step), so a plan that overwrites a live byte, between steps or inside an
//! overlapping step, gives a wrong output.

use tinyq_compiler::Session;
use tinyq_interp::Interpreter;
use tinyq_tests::{Case, Compiled, cases, compile_case, read_npy};

/// What happened to one case.
enum Outcome {
    /// Every output byte of this many samples equals TFLM's.
    BitExact(usize),
    /// A float model (integer code only; float code generation comes later).
    Float,
}

/// Runs one case through `session`; returns a description of every mismatch.
fn run_case(case: &Case, session: &Session, poisoned: bool) -> Result<Outcome, String> {
    let program = match compile_case(case, session)? {
        Compiled::Float => return Ok(Outcome::Float),
        Compiled::Program(p) => p,
    };
    let inputs: Vec<_> = case
        .inputs
        .iter()
        .map(|p| read_npy(p))
        .collect::<Result<_, _>>()?;
    let expected: Vec<_> = case
        .outputs
        .iter()
        .map(|p| read_npy(p))
        .collect::<Result<_, _>>()?;
    let n = inputs[0].samples();
    let mut interp = if poisoned {
        Interpreter::poisoned(&program)
    } else {
        Interpreter::new(&program)
    };
    let mut mismatches = Vec::new();
    for sample in 0..n {
        let ins: Vec<&[u8]> = inputs.iter().map(|a| a.sample(sample)).collect();
        let mut outs: Vec<Vec<u8>> = program
            .outputs
            .iter()
            .map(|o| vec![0; o.byte_len()])
            .collect();
        let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        interp.invoke(&ins, &mut refs).map_err(|e| e.to_string())?;
        for (k, (got, want)) in outs.iter().zip(&expected).enumerate() {
            let want = want.sample(sample);
            if got.as_slice() != want {
                let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
                mismatches.push(format!(
                    "sample {sample} output {k}: {differing} bytes differ, first at byte {first} (tinyq {} vs TFLM {})",
                    got.get(first).copied().unwrap_or(0),
                    want.get(first).copied().unwrap_or(0)
                ));
            }
        }
    }
    if mismatches.is_empty() {
        Ok(Outcome::BitExact(n))
    } else {
        Err(mismatches.join("\n    "))
    }
}

/// Every fixture through `session`: all must equal TFLM.
fn check_all(session: &Session, label: &str, poisoned: bool) {
    let cases = cases();
    assert!(!cases.is_empty(), "no fixtures found under tests/fixtures");
    let mut failures = Vec::new();
    let (mut exact, mut samples, mut float) = (0, 0, 0);
    for case in &cases {
        match run_case(case, session, poisoned) {
            Ok(Outcome::BitExact(n)) => {
                exact += 1;
                samples += n;
            }
            Ok(Outcome::Float) => float += 1,
            Err(why) => failures.push(format!("{}:\n    {why}", case.name)),
        }
    }
    println!(
        "{label}: {exact} quantized cases bit-exact over {samples} samples; {float} float models skipped"
    );
    assert!(
        failures.is_empty(),
        "{label}: {} of {} fixture cases differ from TFLM:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The optimized pipeline (every pass, the Graph verifier after each).
#[test]
fn interpreter_equals_tflm_on_every_fixture() {
    check_all(&Session::new().verify_each(true), "optimized", false);
}

/// The optimized pipeline with everything not live poisoned between steps.
#[test]
fn interpreter_equals_tflm_with_a_poisoned_arena() {
    check_all(&Session::new(), "poisoned", true);
}

/// The model as read, lowered with no pass: the reference the passes are
/// measured against, also equal to TFLM.
#[test]
fn unoptimized_interpreter_equals_tflm_on_every_fixture() {
    check_all(&Session::new().unoptimized(), "unoptimized", true);
}

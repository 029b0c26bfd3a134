//! The product's promise: on every fixture, tinyq's interpreter output equals
//! TFLM's byte for byte, also with a poisoned arena (every byte no later
//! step reads overwritten with garbage before the first step and after each
//! step), so a plan that overwrites a live byte, between steps or inside an
//! overlapping step, gives a wrong output.

use tinyq_compiler::Session;
use tinyq_interp::Interpreter;
use tinyq_tests::{Case, Compiled, cases, compile_case, float_ulp_bound, max_ulps};
use tinyq_tests::{output_mismatch, read_npy};

/// What happened to one case.
enum Outcome {
    /// Every output byte of this many samples equals TFLM's.
    BitExact(usize),
    /// A float32 model whose outputs are within this many ulp of TFLM's
    /// (it calls `tanh`), over this many samples.
    Close(usize, u32),
}

/// Runs one case through `session`; returns a description of every mismatch.
fn run_case(case: &Case, session: &Session, poisoned: bool) -> Result<Outcome, String> {
    let (program, float) = match compile_case(case, session)? {
        Compiled::Float(p) => (p, true),
        Compiled::Program(p) => (p, false),
    };
    let bound = if float { float_ulp_bound(&program) } else { 0 };
    let mut worst = 0;
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
    let resets: Vec<_> = case
        .reset_outputs
        .iter()
        .map(|p| read_npy(p))
        .collect::<Result<_, _>>()?;
    let n = inputs[0].samples();
    let mut mismatches = Vec::new();
    // The samples as one stream (the state carries over), then, for a
    // stateful model, each from a reset state.
    for (expected, reset_each) in [(&expected, false), (&resets, true)] {
        if expected.is_empty() {
            continue;
        }
        let mut interp = if poisoned {
            Interpreter::poisoned(&program)
        } else {
            Interpreter::new(&program)
        };
        for sample in 0..n {
            if reset_each {
                interp.reset();
            }
            let ins: Vec<&[u8]> = inputs.iter().map(|a| a.sample(sample)).collect();
            let mut outs: Vec<Vec<u8>> = program
                .outputs
                .iter()
                .map(|o| vec![0; o.byte_len()])
                .collect();
            let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            interp.invoke(&ins, &mut refs).map_err(|e| e.to_string())?;
            for (k, (got, want)) in outs.iter().zip(expected.iter()).enumerate() {
                let want = want.sample(sample);
                let is_float = program.outputs[k].dtype == tinyq_ir::DType::F32;
                if is_float && got.len() == want.len() {
                    worst = worst.max(max_ulps(got, want));
                }
                if let Some(why) = output_mismatch(got, want, is_float, bound) {
                    let how = if reset_each { "reset" } else { "streaming" };
                    mismatches.push(format!("{how} sample {sample} output {k}: {why}"));
                }
            }
        }
    }
    if mismatches.is_empty() && worst > 0 {
        Ok(Outcome::Close(n, worst))
    } else if mismatches.is_empty() {
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
    let (mut exact, mut samples, mut close) = (0, 0, Vec::new());
    for case in &cases {
        match run_case(case, session, poisoned) {
            Ok(Outcome::BitExact(n)) => {
                exact += 1;
                samples += n;
            }
            Ok(Outcome::Close(n, ulps)) => {
                samples += n;
                close.push(format!("{} ({ulps} ulp)", case.name));
            }
            Err(why) => failures.push(format!("{}:\n    {why}", case.name)),
        }
    }
    println!(
        "{label}: {exact} cases bit-exact over {samples} samples; within the tanh bound: {}",
        close.join(", ")
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

/// Reset semantics of every stateful fixture: a few samples, a reset, then
/// every sample in order gives the bytes of a fresh interpreter, and the
/// state does change some sample's output.
#[test]
fn reset_restores_a_fresh_arena() {
    let session = Session::new();
    let mut checked = 0;
    for case in cases().iter().filter(|c| !c.reset_outputs.is_empty()) {
        let program = match compile_case(case, &session).unwrap_or_else(|e| panic!("{e}")) {
            Compiled::Float(p) | Compiled::Program(p) => p,
        };
        assert!(program.state_size > 0, "{}: no persistent state", case.name);
        let input = read_npy(&case.inputs[0]).unwrap_or_else(|e| panic!("{e}"));
        // Every output (a spectral subtraction's noise estimate too).
        let run = |interp: &mut Interpreter<'_>, sample: usize| {
            let mut outs: Vec<Vec<u8>> = program
                .outputs
                .iter()
                .map(|o| vec![0u8; o.byte_len()])
                .collect();
            let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            interp
                .invoke(&[input.sample(sample)], &mut refs)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            outs
        };
        // Every sample in order: an audio front end's first frames are
        // quiet, and only later ones show its state.
        let samples = input.samples();
        let mut fresh = Interpreter::new(&program);
        let want: Vec<_> = (0..samples).map(|s| run(&mut fresh, s)).collect();
        let mut used = Interpreter::poisoned(&program);
        for s in 0..3.min(samples) {
            run(&mut used, s);
        }
        used.reset();
        let got: Vec<_> = (0..samples).map(|s| run(&mut used, s)).collect();
        assert_eq!(got, want, "{}: reset differs from a fresh arena", case.name);
        assert!(
            (1..samples).any(|s| run(&mut Interpreter::new(&program), s) != want[s]),
            "{}: the state changes nothing",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} stateful fixture cases");
    println!("reset semantics hold on {checked} stateful fixture cases");
}

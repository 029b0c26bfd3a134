//! Every Program `tinyq_opt::lower` makes from a fixture passes the
//! Program verifier the backends rely on.

use tinyq_tests::cases;

#[test]
fn every_fixture_program_verifies() {
    let cases = cases();
    assert!(!cases.is_empty(), "no fixtures found under tests/fixtures");
    let mut failures = Vec::new();
    let (mut verified, mut float) = (0, 0);
    for case in &cases {
        let graph = match tinyq_tflite::read_file(&case.model) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        let program = match tinyq_opt::lower(&graph) {
            Ok(p) => p,
            // Float models are refused before there is a Program.
            Err(tinyq_opt::LowerError::FloatModel { .. }) => {
                float += 1;
                continue;
            }
            Err(e) => {
                failures.push(format!("{}: lowering failed: {e}", case.name));
                continue;
            }
        };
        match tinyq_ir::verify(&program) {
            Ok(()) => verified += 1,
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    println!("{verified} fixture programs verified; {float} float models skipped");
    assert!(
        failures.is_empty(),
        "{} of {} fixture cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The verifier bites on real Programs: a few corruptions of MNIST's, each
/// named by step and kernel.
#[test]
fn corrupted_fixture_programs_are_refused() {
    use tinyq_ir::{Kernel, VerifyError};
    let case = cases()
        .into_iter()
        .find(|c| c.name == "mnist/int8")
        .expect("mnist/int8 fixture");
    let graph = tinyq_tflite::read_file(&case.model).expect("read mnist");
    let program = tinyq_opt::lower(&graph).expect("lower mnist");
    assert_eq!(tinyq_ir::verify(&program), Ok(()));
    let conv = program
        .steps
        .iter()
        .position(|s| matches!(s.kernel, Kernel::Conv2D { .. }))
        .expect("a conv step");

    // A filter one weight short.
    let mut p = program.clone();
    if let Kernel::Conv2D { weights, .. } = &mut p.steps[conv].kernel {
        weights.filter.pop();
    }
    let e = tinyq_ir::verify(&p).expect_err("short filter");
    assert!(
        e.to_string()
            .starts_with(&format!("step {conv} (conv2d): ")),
        "{e}"
    );
    assert!(e.to_string().contains("filter"), "{e}");

    // Run the second step first: it reads the arena before anything wrote it.
    let mut p = program.clone();
    p.steps.swap(0, 1);
    let e = tinyq_ir::verify(&p).expect_err("swapped steps");
    assert!(
        matches!(
            &e,
            VerifyError::Step {
                step: 0,
                problem: tinyq_ir::verify::Problem::ReadBeforeWrite { .. },
                ..
            }
        ),
        "{e}"
    );

    // A step writing where it reads.
    let mut p = program.clone();
    p.steps[1].output = p.steps[1].inputs[0];
    let e = tinyq_ir::verify(&p).expect_err("in-place step");
    assert!(e.to_string().contains("overlaps input 0"), "{e}");
}

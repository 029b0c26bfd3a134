//! Programs the backend refuses, and untrusted names that must not reach
//! the generated source.

use tinyq_backend_rust::{EmitError, emit};
use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Program, Step};

fn copy_program(in_name: &str, out_name: &str, dtype: DType) -> Program {
    let io = |name: &str| IoSpec {
        name: name.to_string(),
        shape: vec![1, 4],
        dtype,
        quant: Some((0.5, 3)),
    };
    Program {
        steps: vec![Step {
            kernel: Kernel::Copy,
            inputs: vec![BufferRef::Input(0)],
            output: BufferRef::Output(0),
            provenance: tinyq_ir::Provenance::default(),
        }],
        inputs: vec![io(in_name)],
        outputs: vec![io(out_name)],
        constants: Vec::new(),
        arena_size: 0,
        arena_lower_bound: 0,
        arena_overlap_bound: 0,
        state_size: 0,
        state_init: Vec::new(),
    }
}

#[test]
fn hostile_tensor_names_become_identifiers() {
    let evil = "x\"); } fn pwn() { loop {} } /*";
    let src = emit(&copy_program(evil, "type", DType::I8), "my model!").expect("emit");
    assert!(!src.contains("pwn() {"), "{src}");
    assert!(!src.contains("/*"), "{src}");
    assert!(src.contains("x_fn_pwn_loop: &[i8; INPUT_0_LEN]"), "{src}");
    assert!(src.contains("type_: &mut [i8; OUTPUT_0_LEN]"), "{src}");
    assert!(src.contains("`my_model`"), "{src}");
}

#[test]
fn int64_io_is_refused_with_the_tensor_named() {
    let e = emit(&copy_program("in", "out", DType::I64), "m").expect_err("i64 I/O");
    assert!(
        matches!(
            e,
            EmitError::IoType {
                which: "input",
                index: 0,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("\"in\""), "{e}");
}

#[test]
fn programs_the_verifier_refuses_are_refused_with_the_step_named() {
    let mut p = copy_program("in", "out", DType::I8);
    p.arena_size = 32;
    p.steps = vec![
        Step {
            kernel: Kernel::Copy,
            inputs: vec![BufferRef::Input(0)],
            output: BufferRef::Arena { offset: 0, size: 4 },
            provenance: tinyq_ir::Provenance::default(),
        },
        Step {
            kernel: Kernel::Copy,
            inputs: vec![BufferRef::Arena { offset: 0, size: 4 }],
            output: BufferRef::Output(0),
            provenance: tinyq_ir::Provenance::default(),
        },
    ];
    emit(&p, "m").expect("a sound program");
    // Step 1 writes the bytes it reads.
    let mut q = p.clone();
    q.steps[1].output = BufferRef::Arena { offset: 0, size: 4 };
    let e = emit(&q, "m").expect_err("overlap");
    assert!(matches!(e, EmitError::Invalid(_)), "{e:?}");
    assert!(e.to_string().starts_with("step 1 (copy): "), "{e}");
    assert!(e.to_string().contains("overlaps input 0"), "{e}");
    // Step 0 writes past the arena.
    let mut q = p.clone();
    q.steps[0].output = BufferRef::Arena {
        offset: 32,
        size: 4,
    };
    let e = emit(&q, "m").expect_err("outside");
    assert!(e.to_string().starts_with("step 0 (copy): "), "{e}");
    assert!(
        e.to_string().contains("past the end of the 32-byte arena"),
        "{e}"
    );
}

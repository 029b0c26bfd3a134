//! A model with ~300 kB of weights: its generated Rust compiles in seconds
//! (weights are byte strings), runs on a thread with a 32 KiB stack, and
//! equals the interpreter byte for byte.
//!
//! The Program is built here (conv 3x3 32x32x3→16, max-pool 2x2, dense
//! 4096→72, dense 72→10, softmax), so no large model file is checked in.
//! The generated module is compiled with the toolchain's `rustc` into a
//! small `#![forbid(unsafe_code)]` binary under `CARGO_TARGET_TMPDIR`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use tinyq_ir::kernel::Weights;
use tinyq_ir::{BufferRef, DType, IoSpec, Kernel, Program, Step};
use tinyq_kernels::conv::Conv2DParams;
use tinyq_kernels::fully_connected::FullyConnectedParams;
use tinyq_kernels::pooling::PoolParams;
use tinyq_kernels::softmax::prepare_softmax;

/// Deterministic bytes (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n)
            .map(|_| (self.next() % 255) as i32 - 127)
            .map(|v| v as i8)
            .collect()
    }
    fn i32s(&mut self, n: usize, span: i32) -> Vec<i32> {
        (0..n)
            .map(|_| (self.next() % (2 * span as u64 + 1)) as i32 - span)
            .collect()
    }
}

fn weights(rng: &mut Rng, filter: usize, channels: usize, shift: i32) -> Weights {
    Weights {
        filter: rng.i8s(filter),
        bias: Some(rng.i32s(channels, 2000)),
        multipliers: (0..channels)
            .map(|c| 1_200_000_000 + c as i32 * 1000)
            .collect(),
        shifts: vec![shift; channels],
    }
}

fn big_program() -> Program {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let conv = Conv2DParams {
        batches: 1,
        input_height: 32,
        input_width: 32,
        input_channels: 3,
        filter_height: 3,
        filter_width: 3,
        filter_input_channels: 3,
        output_height: 32,
        output_width: 32,
        output_channels: 16,
        stride_height: 1,
        stride_width: 1,
        dilation_height: 1,
        dilation_width: 1,
        pad_top: 1,
        pad_left: 1,
        input_offset: 128,
        pad_value: -128,
        output_offset: -128,
        act_min: -128,
        act_max: 127,
    };
    let pool = PoolParams {
        batches: 1,
        input_height: 32,
        input_width: 32,
        channels: 16,
        filter_height: 2,
        filter_width: 2,
        output_height: 16,
        output_width: 16,
        stride_height: 2,
        stride_width: 2,
        pad_top: 0,
        pad_left: 0,
        act_min: -128,
        act_max: 127,
    };
    let fc = |accum_depth, output_depth| FullyConnectedParams {
        batches: 1,
        accum_depth,
        output_depth,
        input_offset: 128,
        filter_offset: 0,
        output_offset: -3,
        act_min: -128,
        act_max: 127,
    };
    let softmax = prepare_softmax(0.1, 1.0, 1.0 / 256.0, -128, 1, 10).expect("softmax");
    let io = |name: &str, shape: Vec<usize>| IoSpec {
        name: name.to_string(),
        shape,
        dtype: DType::I8,
        quant: Some((1.0 / 255.0, -128)),
    };
    let steps = vec![
        Step {
            kernel: Kernel::Conv2D {
                params: conv,
                weights: weights(&mut rng, 16 * 3 * 3 * 3, 16, -10),
            },
            inputs: vec![BufferRef::Input(0)],
            output: BufferRef::Arena {
                offset: 0,
                size: 16384,
            },
            provenance: tinyq_ir::Provenance {
                origin: Some(0),
                ..Default::default()
            },
        },
        Step {
            kernel: Kernel::MaxPool(pool),
            inputs: vec![BufferRef::Arena {
                offset: 0,
                size: 16384,
            }],
            output: BufferRef::Arena {
                offset: 16384,
                size: 4096,
            },
            provenance: tinyq_ir::Provenance {
                origin: Some(1),
                ..Default::default()
            },
        },
        Step {
            kernel: Kernel::FullyConnected {
                params: fc(4096, 72),
                weights: weights(&mut rng, 4096 * 72, 72, -13),
            },
            inputs: vec![BufferRef::Arena {
                offset: 16384,
                size: 4096,
            }],
            output: BufferRef::Arena {
                offset: 0,
                size: 72,
            },
            provenance: tinyq_ir::Provenance {
                origin: Some(2),
                ..Default::default()
            },
        },
        Step {
            kernel: Kernel::FullyConnected {
                params: fc(72, 10),
                weights: weights(&mut rng, 72 * 10, 10, -9),
            },
            inputs: vec![BufferRef::Arena {
                offset: 0,
                size: 72,
            }],
            output: BufferRef::Arena {
                offset: 16384,
                size: 10,
            },
            provenance: tinyq_ir::Provenance {
                origin: Some(3),
                ..Default::default()
            },
        },
        Step {
            kernel: Kernel::Softmax(softmax),
            inputs: vec![BufferRef::Arena {
                offset: 16384,
                size: 10,
            }],
            output: BufferRef::Output(0),
            provenance: tinyq_ir::Provenance {
                origin: Some(4),
                ..Default::default()
            },
        },
    ];
    Program {
        steps,
        inputs: vec![io("image", vec![1, 32, 32, 3])],
        outputs: vec![io("probabilities", vec![1, 10])],
        constants: Vec::new(),
        arena_size: 16384 + 4096,
        arena_lower_bound: 16384 + 4096,
        arena_overlap_bound: 16384 + 4096,
        state_size: 0,
        state_init: Vec::new(),
    }
}

const MAIN: &str = r#"#![forbid(unsafe_code)]
#[path = "big.rs"]
mod big;

fn main() {
    let input: &'static [u8] = include_bytes!("input.bin");
    // The arena lives on the heap; the model runs on a 32 KiB stack.
    let mut arena = Box::new(big::Arena::new());
    let out = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(move || {
            let mut out = [0u8; big::OUTPUT_SIZES[0]];
            big::invoke_bytes(&[input], &mut [&mut out], &mut arena).map(|()| out)
        })
        .expect("spawn")
        .join()
        .expect("the model overflowed a 32 KiB stack")
        .expect("invoke");
    let hex: Vec<String> = out.iter().map(|b| format!("{b:02x}")).collect();
    println!("{}", hex.join(""));
}
"#;

#[test]
fn big_model_compiles_fast_and_runs_on_a_small_stack() {
    let program = big_program();
    let weight_bytes: usize = program
        .steps
        .iter()
        .map(|s| match &s.kernel {
            Kernel::Conv2D { weights, .. } | Kernel::FullyConnected { weights, .. } => {
                weights.filter.len()
            }
            _ => 0,
        })
        .sum();
    assert!(weight_bytes > 290_000, "{weight_bytes}");
    let started = Instant::now();
    let source = tinyq_backend_rust::emit(&program, "big").expect("emit");
    let emit_time = started.elapsed();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("big_model");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("big.rs"), &source).expect("write");
    std::fs::write(dir.join("main.rs"), MAIN).expect("write");
    let mut rng = Rng(7);
    let input: Vec<u8> = rng.i8s(32 * 32 * 3).iter().map(|&v| v as u8).collect();
    std::fs::write(dir.join("input.bin"), &input).expect("write");

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let mut outputs = Vec::new();
    // Release and debug builds: both compile in seconds and fit the stack.
    for opt in ["2", "0"] {
        let bin = dir.join(format!("big-O{opt}"));
        let started = Instant::now();
        let status = Command::new(&rustc)
            .args(["--edition", "2024", "-A", "dead_code", "-C"])
            .arg(format!("opt-level={opt}"))
            .arg("-o")
            .arg(&bin)
            .arg(dir.join("main.rs"))
            .status()
            .expect("run rustc");
        let compile_time = started.elapsed();
        assert!(
            status.success(),
            "generated code for the big model does not compile"
        );
        println!(
            "big model: {weight_bytes} bytes of weights, {} bytes of Rust, emitted in {:.2?}, \
             compiled (rustc -C opt-level={opt}) in {:.1?}",
            source.len(),
            emit_time,
            compile_time
        );
        assert!(
            compile_time.as_secs() < 90,
            "compiling took {compile_time:?}: weights must stay byte strings"
        );
        let output = Command::new(&bin).output().expect("run");
        assert!(
            output.status.success(),
            "opt-level={opt}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push(String::from_utf8_lossy(&output.stdout).trim().to_string());
    }

    let mut interp = tinyq_interp::Interpreter::new(&program);
    let mut want = [0u8; 10];
    interp.invoke(&[&input], &mut [&mut want]).expect("interp");
    let want: Vec<String> = want.iter().map(|b| format!("{b:02x}")).collect();
    for got in outputs {
        assert_eq!(got, want.join(""));
    }
}

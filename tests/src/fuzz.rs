//! The fuzz targets' entry points (`fuzz/fuzz_targets/*.rs` call these), and
//! the replay of `fuzz/regressions/` by `tests/tests/fuzz_regressions.rs` on
//! stable: one function per target, each must return (never panic) and
//! finish quickly on any input.

use ndarray::{ArrayD, IxDyn};
use tinyq_compiler::{Calibration, GraphKind, QuantOptions, Session};
use tinyq_interp::Interpreter;
use tinyq_ir::Graph;

/// Most elements any tensor of a fuzzed model may have before the
/// pipeline targets stop short of running it (reading and validating
/// still happen).
pub const RUN_ELEMENTS: usize = 1 << 20;

/// A fuzz target: its name (its `fuzz/regressions/` directory) and entry point.
pub type Target = (&'static str, fn(&[u8]));

/// The fuzz targets.
pub const TARGETS: &[Target] = &[
    ("read_model", read_model),
    ("read_npy", read_npy),
    ("pipeline", pipeline),
    ("quantize_roundtrip", quantize_roundtrip),
];

/// `.tflite` bytes → Graph (reader, fold, `ir::validate`).
pub fn read_model(data: &[u8]) {
    let _ = Session::new().read_bytes(data, "fuzz.tflite");
}

/// `.npy` and `.npz` bytes through the shared reader.
pub fn read_npy(data: &[u8]) {
    let _ = tinyq_quant::npy::read_bytes(data, "fuzz.npy", false);
    let _ = tinyq_quant::npy::read_bytes(data, "fuzz.npz", true);
}

/// True when every tensor is small enough to run.
fn small(graph: &Graph) -> bool {
    graph
        .tensors
        .iter()
        .all(|(_, t)| t.num_elements().is_some_and(|n| n <= RUN_ELEMENTS))
}

/// Integer model bytes → read → optimize → lower → verify → run once on
/// zero inputs.
pub fn pipeline(data: &[u8]) {
    let session = Session::new().verify_each(true);
    let Ok(model) = session.read_bytes(data, "fuzz.tflite") else {
        return;
    };
    if model.kind() == GraphKind::Float || !small(&model.graph) {
        return;
    }
    let Ok(compiled) = session.compile(&model, None) else {
        return;
    };
    let program = &compiled.program;
    let ins: Vec<Vec<u8>> = program
        .inputs
        .iter()
        .map(|i| vec![0; i.byte_len()])
        .collect();
    let in_refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
    let mut outs: Vec<Vec<u8>> = program
        .outputs
        .iter()
        .map(|o| vec![0; o.byte_len()])
        .collect();
    let mut out_refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    let _ = Interpreter::new(program).invoke(&in_refs, &mut out_refs);
}

/// Float model bytes → quantize (two ramp samples) → write → re-read.
pub fn quantize_roundtrip(data: &[u8]) {
    let session = Session::new();
    let Ok(model) = session.read_bytes(data, "fuzz.tflite") else {
        return;
    };
    if model.kind() != GraphKind::Float || !small(&model.graph) {
        return;
    }
    let samples: Vec<ArrayD<f32>> = model
        .graph
        .inputs
        .iter()
        .map(|&i| {
            let t = model.graph.tensor(i);
            let mut shape = vec![2];
            shape.extend_from_slice(&t.shape);
            let n: usize = shape.iter().product();
            ArrayD::from_shape_vec(
                IxDyn(&shape),
                (0..n).map(|k| (k % 17) as f32 / 8.0 - 1.0).collect(),
            )
            .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0])))
        })
        .collect();
    let calibration = Calibration {
        samples: &samples,
        options: QuantOptions::default(),
        progress: None,
    };
    let Ok(quantized) = session.quantize(&model, calibration) else {
        return;
    };
    let _ = session.accumulator_overflows(&quantized);
    let Ok(bytes) = session.write_tflite("fuzz.tflite", &quantized) else {
        return;
    };
    let _ = session.read_bytes(&bytes, "fuzz-quantized.tflite");
}

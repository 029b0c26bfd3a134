//! The float executor against TFLM's float outputs on every fixture.

mod common;

use ndarray::Axis;
use tinyq_quant::FloatModel;

/// Float kernels are not bit-exact across implementations; this bounds the
/// max abs error relative to the largest reference magnitude.
const REL_TOL: f32 = 1e-4;

#[test]
fn float_executor_matches_tflm_on_every_fixture() {
    let mut cases: Vec<(String, std::path::PathBuf, &str)> = common::float_fixtures()
        .into_iter()
        .map(|d| (common::name(&d), d, "float"))
        .collect();
    let sine = tinyq_tests::fixtures_dir().join("tflm_hello_world_sine");
    if sine.join("model.tflite").is_file() {
        cases.push(("tflm_hello_world_sine".into(), sine, "model"));
    }
    assert!(cases.len() >= 20, "fixtures missing");
    let mut worst = (0f32, String::new());
    let (mut identical, mut total) = (0usize, 0usize);
    let mut report = String::new();
    for (name, dir, variant) in &cases {
        let graph = tinyq_tflite::read_file(&dir.join(format!("{variant}.tflite")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The float reference executor serves calibration, and quantize
        // refuses stateful models (SVDF): they have no single-shot output.
        if graph.is_stateful() {
            continue;
        }
        let model = FloatModel::new(&graph).unwrap_or_else(|e| panic!("{name}: {e}"));
        let inputs: Vec<_> = common::indexed(dir, variant, "in")
            .iter()
            .map(|p| common::read_f32(p))
            .collect();
        let outputs: Vec<_> = common::indexed(dir, variant, "out")
            .iter()
            .map(|p| common::read_f32(p))
            .collect();
        assert_eq!(inputs.len(), graph.inputs.len(), "{name}");
        assert_eq!(outputs.len(), graph.outputs.len(), "{name}");
        let n = inputs[0].shape()[0];
        let mut case_worst = 0f32;
        for s in 0..n {
            let sample: Vec<_> = inputs
                .iter()
                .map(|a| a.index_axis(Axis(0), s).to_owned())
                .collect();
            let got = model
                .run_outputs(&sample)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            for (j, (g, r)) in got.iter().zip(&outputs).enumerate() {
                let r = r.index_axis(Axis(0), s);
                assert_eq!(g.len(), r.len(), "{name} output {j}");
                let scale = r.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                let err = g
                    .iter()
                    .zip(r.iter())
                    .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
                let rel = err / scale;
                total += g.len();
                identical += g
                    .iter()
                    .zip(r.iter())
                    .filter(|(a, b)| a.to_bits() == b.to_bits())
                    .count();
                case_worst = case_worst.max(rel);
                assert!(
                    rel <= REL_TOL,
                    "{name} sample {s} output {j}: max abs error {err} = {rel:e} of max|ref| {scale}"
                );
            }
        }
        report.push_str(&format!("{name}: worst relative error {case_worst:e}\n"));
        if case_worst >= worst.0 {
            worst = (case_worst, name.clone());
        }
    }
    println!(
        "{report}worst overall: {:e} ({}); {identical}/{total} output values bit-identical to TFLM",
        worst.0, worst.1
    );
}

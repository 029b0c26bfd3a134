//! Every calibration method and I/O mode gives a graph that lowers, on
//! every fixture; percentile and MSE ranges never exceed min/max ranges.

mod common;

use tinyq_ir::DType;
use tinyq_quant::{IoMode, Method, QuantOptions, quantize};

#[test]
fn every_method_and_io_mode_lowers_on_every_fixture() {
    let methods = [Method::MinMax, Method::Percentile(99.9), Method::Mse];
    let ios = [IoMode::Int8, IoMode::Uint8, IoMode::Float];
    let mut count = 0;
    for dir in common::float_fixtures() {
        let name = common::name(&dir);
        let calib: Vec<_> = common::indexed(&dir, "calib", "in")
            .iter()
            .map(|p| common::read_f32(p))
            .collect();
        if calib.is_empty() {
            continue;
        }
        let float = tinyq_tflite::read_file(&dir.join("float.tflite")).expect("float model");
        for method in methods {
            for io in ios {
                // Ops without an int8 kernel (the float-only fixtures' DIV,
                // EXP, ...) stay float32.
                let options = QuantOptions {
                    method,
                    io,
                    fallback: tinyq_quant::Fallback::Float,
                    ..QuantOptions::default()
                };
                let q = quantize(&float, &calib, options)
                    .unwrap_or_else(|e| panic!("{name} {method:?} {io:?}: {e}"));
                let want = match io {
                    IoMode::Int8 => DType::I8,
                    IoMode::Uint8 => DType::U8,
                    IoMode::Float => DType::F32,
                    IoMode::Int16 => DType::I16,
                };
                for &t in q.inputs.iter().chain(&q.outputs) {
                    assert_eq!(q.tensor(t).dtype, want, "{name} {io:?}");
                }
                tinyq_opt::lower(&q).unwrap_or_else(|e| panic!("{name} {method:?} {io:?}: {e}"));
                count += 1;
            }
        }
    }
    assert!(count >= 9 * 30, "only {count} combinations ran");
}

#[test]
fn clipping_observers_narrow_the_range() {
    let dir = tinyq_tests::fixtures_dir().join("mnist");
    let float = tinyq_tflite::read_file(&dir.join("float.tflite")).expect("float model");
    let calib = vec![common::read_f32(&dir.join("calib.in0.npy"))];
    let scales = |method| {
        let q = quantize(
            &float,
            &calib,
            QuantOptions {
                method,
                ..QuantOptions::default()
            },
        )
        .expect("quantizes");
        q.ops
            .iter()
            .map(|(_, op)| q.tensor(op.outputs[0]).scale_zp().map_or(0.0, |p| p.0))
            .collect::<Vec<f32>>()
    };
    let minmax = scales(Method::MinMax);
    for method in [Method::Percentile(99.0), Method::Mse] {
        let other = scales(method);
        assert!(
            minmax.iter().zip(&other).all(|(a, b)| b <= a),
            "{method:?}: {other:?} vs min/max {minmax:?}"
        );
        assert_ne!(minmax, other, "{method:?} changed nothing");
    }
}

#[test]
fn tflm_sine_model_quantizes_and_stays_close_to_float() {
    let dir = tinyq_tests::fixtures_dir().join("tflm_hello_world_sine");
    let float = tinyq_tflite::read_file(&dir.join("model.tflite")).expect("sine model");
    let inputs = common::read_f32(&dir.join("model.in0.npy"));
    let q = quantize(
        &float,
        std::slice::from_ref(&inputs),
        QuantOptions {
            io: IoMode::Float,
            ..QuantOptions::default()
        },
    )
    .expect("quantizes");
    let program = tinyq_opt::lower(&q).expect("lowers");
    let model = tinyq_quant::FloatModel::new(&float).expect("float model");
    let mut interp = tinyq_interp::Interpreter::new(&program);
    let mut worst = 0f32;
    for x in inputs.iter() {
        let want = model
            .run_outputs(&[ndarray::arr1(&[*x]).into_dyn()])
            .expect("runs")[0][[0, 0]];
        let mut out = [0u8; 4];
        interp
            .invoke(&[&x.to_le_bytes()], &mut [&mut out])
            .expect("invokes");
        worst = worst.max((f32::from_le_bytes(out) - want).abs());
    }
    // The output range is about [-1, 1]: a few int8 steps of error at most.
    assert!(worst < 0.05, "worst error {worst}");
}

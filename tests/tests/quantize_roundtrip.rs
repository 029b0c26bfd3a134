//! A model tinyq quantizes, written as `.tflite` and read back, lowers to
//! the same Program as the in-memory quantized graph: what `tinyq quantize`
//! writes is what `tinyq compile` compiles.

use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;
use tinyq_compiler::{Activations, Calibration, IoMode, QuantOptions, Session};
use tinyq_tests::fixtures_dir;

#[test]
fn written_quantized_models_read_back_to_the_same_program() {
    let mut checked = 0;
    // int8 in every I/O mode; 16x8 (int16 and float I/O) on the models the
    // 16x8 kernels cover, with and without biases.
    let int8 = [
        (IoMode::Int8, Activations::Int8),
        (IoMode::Uint8, Activations::Int8),
        (IoMode::Float, Activations::Int8),
    ];
    let wide = [
        (IoMode::Int16, Activations::Int16),
        (IoMode::Float, Activations::Int16),
    ];
    for (name, modes) in [
        ("mnist", &int8[..]),
        ("conv_basic", &int8[..]),
        ("depthwise_mult2", &int8[..]),
        ("pooling", &int8[..]),
        ("concat", &int8[..]),
        ("act_softmax", &int8[..]),
        ("mean", &int8[..]),
        ("space_depth", &int8[..]),
        ("gather", &int8[..]),
        ("lstm_int8", &int8[..]),
        ("lstm_stack_int8", &int8[..]),
        ("conv_basic", &wide[..]),
        ("conv_nobias", &wide[..]),
        ("depthwise_mult2", &wide[..]),
        ("dense_nobias", &wide[..]),
        ("ad_autoencoder", &wide[..]),
    ] {
        let dir = fixtures_dir().join(name);
        let session = Session::new();
        let model = session
            .read_file(&dir.join("float.tflite"))
            .expect("float model");
        let calib = ArrayD::<f32>::read_npy(
            std::fs::File::open(dir.join("calib.in0.npy")).expect("calibration"),
        )
        .expect("npy");
        for &(io, activations) in modes {
            let options = QuantOptions {
                io,
                activations,
                ..QuantOptions::default()
            };
            let calibration = Calibration {
                samples: std::slice::from_ref(&calib),
                options,
                progress: None,
            };
            let q = session
                .quantize(&model, calibration)
                .unwrap_or_else(|e| panic!("{name} {io:?} {activations:?}: {e}"));
            // `origin` names the op in the model each was read from: the float
            // model for the in-memory graph, the written file after reading.
            let without_origin = |mut p: tinyq_ir::Program| {
                p.steps.iter_mut().for_each(|s| s.provenance.origin = None);
                p
            };
            let compile = |graph| {
                let compiled = session.compile_graph(name, graph, false).expect("compile");
                without_origin(compiled.program)
            };
            let in_memory = compile(q.clone());
            let bytes = session.write_tflite(name, &q).expect("write");
            let read_back = session.read_bytes(&bytes, name).expect("read back");
            let again = compile(read_back.graph);
            if again != in_memory {
                // Name the first differing part instead of dumping two Programs.
                for (i, (a, b)) in again.steps.iter().zip(&in_memory.steps).enumerate() {
                    assert_eq!(
                        a.kernel, b.kernel,
                        "{name} {io:?} {activations:?}: step {i} kernel"
                    );
                    assert_eq!(
                        (&a.inputs, a.output),
                        (&b.inputs, b.output),
                        "{name} {io:?} {activations:?}: step {i} buffers"
                    );
                }
                assert_eq!(
                    again.inputs, in_memory.inputs,
                    "{name} {io:?} {activations:?}: inputs"
                );
                assert_eq!(
                    again.outputs, in_memory.outputs,
                    "{name} {io:?} {activations:?}: outputs"
                );
                panic!("{name} {io:?} {activations:?}: programs differ");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 43);
}

//! Whole models: the converter-written fixtures under `tests/fixtures/`, and
//! small TFLite files built here with the planus builder for the rules the
//! fixtures do not exercise (they stay in memory: `tests/fixtures/` holds
//! only models tinyq's reader accepts, and some of these it refuses).

#[path = "../../tflite/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::{B, Net, T, q};
use tinyq_edgetpu::{Assessment, CheckOptions, Folded, Report, Status, assess};
use tinyq_tflite::fb;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn assess_bytes(bytes: &[u8], multiple_subgraphs: bool) -> Assessment {
    assess(bytes, &CheckOptions { multiple_subgraphs }).expect("a TFLite model")
}

fn assess_fixture(name: &str) -> Assessment {
    let path = fixtures_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assess_bytes(&bytes, false)
}

fn counts(r: &Report) -> (usize, usize, usize) {
    (r.mapped, r.cpu, r.segments)
}

fn ops(r: &Report) -> Vec<(&str, Status)> {
    r.ops.iter().map(|o| (o.op.as_str(), o.status)).collect()
}

/// Every `NAME/VARIANT.tflite` fixture, sorted.
fn all_fixtures() -> Vec<(String, String, PathBuf)> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = dir.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "tflite") {
                let variant = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                found.push((name.clone(), variant, p));
            }
        }
    }
    found.sort();
    found
}

// ---------------------------------------------------------------------------
// The converter's fixtures.

#[test]
fn conv_basic_int8_maps_entirely() {
    let a = assess_fixture("conv_basic/int8.tflite");
    assert_eq!(counts(&a.given), (1, 0, 1));
    assert_eq!(ops(&a.given), vec![("CONV_2D", Status::Mapped)]);
    assert_eq!(a.given.ops[0].name, "StatefulPartitionedCall:0");
    assert_eq!(a.folded_line(), None);
    assert_eq!(a.given.verdict(), "Edge TPU: its 1 op maps (1 segment)");
}

#[test]
fn every_float_model_maps_nothing_but_would_once_quantized() {
    let mut seen = 0;
    for (name, variant, path) in all_fixtures() {
        let bytes = std::fs::read(&path).expect("readable");
        let a = assess_bytes(&bytes, false);
        let all_float = variant == "float" || name == "tflm_hello_world_sine";
        if !all_float {
            continue;
        }
        seen += 1;
        assert_eq!(a.given.mapped, 0, "{name}/{variant}");
        assert_eq!(a.given.segments, 0, "{name}/{variant}");
        assert!(
            a.given
                .ops
                .iter()
                .all(|o| matches!(o.status, Status::UnsupportedDataType | Status::NotSupported)),
            "{name}/{variant}: {:?}",
            ops(&a.given)
        );
        let Folded::FromFloat(_) = a.folded else {
            panic!("{name}/{variant}: not judged as quantized: {:?}", a.folded);
        };
        let line = a.folded_line().expect("a float model gets a line");
        assert!(
            line.starts_with("a float model: `tinyq quantize`"),
            "{line}"
        );
    }
    assert!(seen >= 30, "{seen} float models");
}

#[test]
fn every_fixture_gets_one_verdict_per_op_as_given() {
    for (name, variant, path) in all_fixtures() {
        let bytes = std::fs::read(&path).expect("readable");
        let a = assess_bytes(&bytes, false);
        let graph = tinyq_tflite::read(&bytes).expect("the fixtures are readable");
        let r = &a.given;
        let what = format!("{name}/{variant}");
        assert!(r.total() >= graph.ops.len(), "{what}");
        assert_eq!(r.mapped + r.cpu, r.total(), "{what}");
        let indices: Vec<usize> = r.ops.iter().map(|o| o.index).collect();
        assert_eq!(indices, (0..r.total()).collect::<Vec<_>>(), "{what}");
        assert!(r.segments <= 1, "{what}: one segment without -a");
        for o in &r.ops {
            assert_eq!(o.mapped, o.status == Status::Mapped, "{what}");
            assert_eq!(o.hint.is_some(), !o.mapped, "{what}: #{}", o.index);
        }
        // Lifting the one-segment rule only maps more.
        let multi = assess_bytes(&bytes, true).given;
        assert!(multi.mapped >= r.mapped, "{what}");
        let lifted = multi
            .ops
            .iter()
            .zip(&r.ops)
            .filter(|(m, o)| m.status != o.status);
        for (m, o) in lifted {
            assert_eq!(
                (o.status, m.status),
                (Status::MoreThanOneSubgraph, Status::Mapped)
            );
        }
    }
}

#[test]
fn int8_models_of_supported_ops_map_entirely() {
    for name in [
        "act_logistic",
        "act_relu",
        "act_relu6",
        "act_tanh",
        "add_sub_mul",
        "concat",
        "conv_1x1",
        "conv_basic",
        "conv_nobias",
        "conv_rect",
        "conv_strided_valid",
        "dense",
        "dense_nobias",
        "dense_per_tensor",
        "depthwise",
        "depthwise_dilated",
        "depthwise_mult2",
        "max_min",
        "mnist",
        "pooling",
        "reshape_squeeze_expand",
        "transpose",
        "two_inputs_two_outputs",
    ] {
        for variant in ["int8", "uint8"] {
            let a = assess_fixture(&format!("{name}/{variant}.tflite"));
            assert_eq!(
                (a.given.cpu, a.given.segments),
                (0, 1),
                "{name}/{variant}: {:?}",
                ops(&a.given)
            );
        }
        // Float I/O: only the QUANTIZE of each float input and the
        // DEQUANTIZE of each float output stay on the CPU.
        let a = assess_fixture(&format!("{name}/floatio.tflite"));
        let mut float_inputs = 0;
        for o in &a.given.ops {
            let what = format!("{name}/floatio #{} {}", o.index, o.op);
            match o.op.as_str() {
                "QUANTIZE" if o.status == Status::OtherLimitation => float_inputs += 1,
                "DEQUANTIZE" => assert_eq!(o.status, Status::UnsupportedDataType, "{what}"),
                _ => assert_eq!(o.status, Status::Mapped, "{what}"),
            }
        }
        assert!(float_inputs >= 1, "{name}/floatio");
        assert_eq!(a.given.segments, 1, "{name}/floatio");
    }
}

#[test]
fn leaky_relu_and_hard_swish_are_not_in_the_op_set() {
    let a = assess_fixture("act_leaky_relu/int8.tflite");
    assert_eq!(ops(&a.given), vec![("LEAKY_RELU", Status::NotSupported)]);
    assert_eq!(
        a.given.ops[0].hint.as_deref(),
        Some(
            "LEAKY_RELU is not in the Edge TPU op set; PRELU with a 1-D alpha is \
(Keras: PReLU(shared_axes=[1, 2]) with alpha set to the slope), and so is RELU"
        )
    );
    let a = assess_fixture("act_hard_swish/int8.tflite");
    assert_eq!(ops(&a.given), vec![("HARD_SWISH", Status::NotSupported)]);
    // uint8 I/O: the output QUANTIZE comes after the CPU op.
    let a = assess_fixture("act_hard_swish/uint8.tflite");
    assert_eq!(
        ops(&a.given),
        vec![
            ("QUANTIZE", Status::Mapped),
            ("HARD_SWISH", Status::NotSupported),
            ("QUANTIZE", Status::MoreThanOneSubgraph),
        ]
    );
    let a = assess_bytes(
        &std::fs::read(fixtures_dir().join("act_hard_swish/uint8.tflite")).expect("fixture"),
        true,
    );
    assert_eq!(counts(&a.given), (2, 1, 2));
}

#[test]
fn flatten_dense_has_shape_arithmetic_as_given_and_maps_after_folding() {
    let a = assess_fixture("flatten_dense/int8.tflite");
    assert_eq!(
        ops(&a.given),
        vec![
            ("SHAPE", Status::NotSupported),
            ("STRIDED_SLICE", Status::UnsupportedDataType),
            ("PACK", Status::UnsupportedDataType),
            ("RESHAPE", Status::NonConstantParam),
            ("FULLY_CONNECTED", Status::Mapped),
        ]
    );
    for o in &a.given.ops[..4] {
        let hint = o.hint.as_deref().unwrap_or("");
        assert!(hint.contains("tinyq folds"), "#{}: {hint}", o.index);
    }
    let Folded::Int8(folded) = &a.folded else {
        panic!("{:?}", a.folded)
    };
    assert_eq!(counts(folded), (2, 0, 1));
    assert_eq!(
        a.folded_line().as_deref(),
        Some("after tinyq's folding (what `tinyq quantize -o` writes): all 2 ops map, 1 segment")
    );
}

#[test]
fn the_documented_limitations_show_on_the_fixtures() {
    let cases: [(&str, usize, &str, &str); 6] = [
        ("conv_dilated/int8.tflite", 1, "CONV_2D", "dilation 1x2"),
        ("mean/int8.tflite", 0, "MEAN", "multiple of 4"),
        (
            "strided_slice/int8.tflite",
            0,
            "STRIDED_SLICE",
            "[1, 2, -1, 1]",
        ),
        ("act_softmax/int8.tflite", 0, "SOFTMAX", "[1,4,10]"),
        (
            "dense_keep_dims/int8.tflite",
            0,
            "FULLY_CONNECTED",
            "[1,6,8]",
        ),
        ("squeeze_edited/int8.tflite", 1, "SQUEEZE", "not leading"),
    ];
    for (model, index, op, needle) in cases {
        let a = assess_fixture(model);
        let o = &a.given.ops[index];
        assert_eq!(
            (o.op.as_str(), o.status),
            (op, Status::OtherLimitation),
            "{model}"
        );
        let hint = o.hint.as_deref().unwrap_or("");
        assert!(hint.contains(needle), "{model}: {hint}");
    }
    let a = assess_fixture("pad/int8.tflite");
    assert_eq!(
        ops(&a.given),
        vec![("PAD", Status::Mapped), ("PADV2", Status::NotSupported)]
    );
}

// ---------------------------------------------------------------------------
// Models built here.

/// An int8 activation with the scale and zero point the tests share.
fn act(n: &mut Net, name: &str, shape: &[i32]) -> i32 {
    n.act(name, shape, T::Int8, q(0.05, -128))
}

fn pool(act: fb::ActivationFunctionType) -> Option<fb::BuiltinOptions> {
    Some(fb::BuiltinOptions::Pool2DOptions(Box::new(
        fb::Pool2DOptions {
            padding: fb::Padding::Same,
            stride_w: 1,
            stride_h: 1,
            filter_width: 2,
            filter_height: 2,
            fused_activation_function: act,
        },
    )))
}

/// `in -> ops[0] -> ops[1] -> ... -> out`, int8 `[1,4,4,8]` throughout.
fn chain(ops: &[(fb::BuiltinOperator, Option<fb::BuiltinOptions>)], shape: &[i32]) -> Net {
    let mut n = Net::new();
    let mut x = act(&mut n, "in", shape);
    n.inputs = vec![x];
    for (i, (code, options)) in ops.iter().enumerate() {
        let y = if *code == B::Logistic {
            n.act(&format!("t{i}"), shape, T::Int8, q(1.0 / 256.0, -128))
        } else {
            act(&mut n, &format!("t{i}"), shape)
        };
        n.op(*code, &[x], &[y], options.clone());
        x = y;
    }
    n.outputs = vec![x];
    n
}

#[test]
fn an_unsupported_op_in_the_middle_of_a_model_ends_the_segment() {
    let none = fb::ActivationFunctionType::None;
    let net = chain(
        &[
            (B::Relu, None),
            (B::HardSwish, None),
            (B::MaxPool2d, pool(none)),
            (B::Relu6, None),
            (B::Logistic, None),
        ],
        &[1, 4, 4, 8],
    );
    let a = assess_bytes(&net.bytes(), false);
    assert_eq!(
        ops(&a.given),
        vec![
            ("RELU", Status::Mapped),
            ("HARD_SWISH", Status::NotSupported),
            ("MAX_POOL_2D", Status::MoreThanOneSubgraph),
            ("RELU6", Status::MoreThanOneSubgraph),
            ("LOGISTIC", Status::MoreThanOneSubgraph),
        ]
    );
    assert_eq!(counts(&a.given), (1, 4, 1));
    let names: Vec<&str> = a.given.ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4"]);
    // tinyq reads it too, to the same verdict: nothing to add.
    assert!(matches!(a.folded, Folded::Int8(_)));
    assert_eq!(a.folded_line(), None);

    let a = assess_bytes(&net.bytes(), true);
    assert_eq!(counts(&a.given), (4, 1, 2));
    assert_eq!(a.given.ops[2].status, Status::Mapped);
}

#[test]
fn fused_activation_on_pooling() {
    let net = chain(
        &[
            (B::Relu, None),
            (B::MaxPool2d, pool(fb::ActivationFunctionType::Relu)),
            (B::AveragePool2d, pool(fb::ActivationFunctionType::Relu6)),
        ],
        &[1, 4, 4, 8],
    );
    let a = assess_bytes(&net.bytes(), false);
    assert_eq!(
        ops(&a.given),
        vec![
            ("RELU", Status::Mapped),
            ("MAX_POOL_2D", Status::OtherLimitation),
            ("AVERAGE_POOL_2D", Status::OtherLimitation),
        ]
    );
    let hint = a.given.ops[1].hint.as_deref().unwrap_or("");
    assert!(hint.contains("fused RELU"), "{hint}");
}

#[test]
fn a_4d_tensor_with_batch_4() {
    let none = fb::ActivationFunctionType::None;
    let net = chain(
        &[(B::Relu, None), (B::MaxPool2d, pool(none))],
        &[4, 4, 4, 8],
    );
    let a = assess_bytes(&net.bytes(), false);
    assert_eq!(
        ops(&a.given),
        vec![
            ("RELU", Status::UnsupportedRank),
            ("MAX_POOL_2D", Status::UnsupportedRank),
        ]
    );
    assert_eq!(
        a.given.ops[0].status.as_str(),
        "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
    );
}

#[test]
fn softmax_over_16000_elements() {
    let net = chain(
        &[(
            B::Softmax,
            Some(fb::BuiltinOptions::SoftmaxOptions(Box::new(
                fb::SoftmaxOptions { beta: 1.0 },
            ))),
        )],
        &[1, 16_001],
    );
    let a = assess_bytes(&net.bytes(), false);
    assert_eq!(ops(&a.given), vec![("SOFTMAX", Status::OtherLimitation)]);
}

#[test]
fn an_op_tinyq_cannot_run_is_still_listed() {
    // in [1,8] -> RELU -> FLOOR -> RELU -> out [1,8]
    let mut n = Net::new();
    let x = act(&mut n, "in", &[1, 8]);
    let a = act(&mut n, "relu", &[1, 8]);
    n.op(B::Relu, &[x], &[a], None);
    let g = act(&mut n, "floor", &[1, 8]);
    n.op(B::Floor, &[a], &[g], None);
    let y = act(&mut n, "out", &[1, 8]);
    n.op(B::Relu, &[g], &[y], None);
    n.inputs = vec![x];
    n.outputs = vec![y];
    let a = assess_bytes(&n.bytes(), false);
    assert_eq!(
        ops(&a.given),
        vec![
            ("RELU", Status::Mapped),
            ("FLOOR", Status::NotSupported),
            ("RELU", Status::MoreThanOneSubgraph),
        ]
    );
    assert!(matches!(a.folded, Folded::Unreadable(_)), "{:?}", a.folded);
    let line = a.folded_line().expect("a line");
    assert!(line.starts_with("tinyq cannot read this model"), "{line}");
    assert!(line.contains("FLOOR"), "{line}");
}

#[test]
fn a_filter_computed_at_run_time() {
    // FULLY_CONNECTED whose weights are a second model input.
    let mut n = Net::new();
    let x = act(&mut n, "in", &[1, 16]);
    let w = n.act("weights", &[8, 16], T::Int8, q(0.01, 0));
    let y = act(&mut n, "out", &[1, 8]);
    n.op(
        B::FullyConnected,
        &[x, w, -1],
        &[y],
        Some(fb::BuiltinOptions::FullyConnectedOptions(Box::default())),
    );
    n.inputs = vec![x, w];
    n.outputs = vec![y];
    let a = assess_bytes(&n.bytes(), false);
    assert_eq!(
        ops(&a.given),
        vec![("FULLY_CONNECTED", Status::NonConstantParam)]
    );
    assert_eq!(
        a.given.ops[0].status.as_str(),
        "Filter, bias, or other param is not constant at compile-time"
    );
}

#[test]
fn keras_flatten_maps_only_after_folding() {
    let bytes = common::small_cnn().bytes();
    let a = assess_bytes(&bytes, false);
    assert_eq!(
        ops(&a.given),
        vec![
            ("CONV_2D", Status::Mapped),
            ("MAX_POOL_2D", Status::Mapped),
            ("SHAPE", Status::NotSupported),
            ("STRIDED_SLICE", Status::UnsupportedDataType),
            ("PACK", Status::UnsupportedDataType),
            ("RESHAPE", Status::NonConstantParam),
            ("FULLY_CONNECTED", Status::MoreThanOneSubgraph),
            ("SOFTMAX", Status::MoreThanOneSubgraph),
        ]
    );
    let hint = a.given.ops[6].hint.as_deref().unwrap_or("");
    assert!(
        hint.starts_with("op #2 (SHAPE) ended the Edge TPU segment"),
        "{hint}"
    );
    assert_eq!(
        a.folded_line().as_deref(),
        Some("after tinyq's folding (what `tinyq quantize -o` writes): all 5 ops map, 1 segment")
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bytes in [&b""[..], &b"TFL3"[..], &[0xAB; 100][..]] {
        assert!(assess(bytes, &CheckOptions::default()).is_err());
    }
    // Every truncation of a real model fails cleanly or succeeds.
    let bytes = common::small_cnn().bytes();
    for len in (0..bytes.len()).step_by(7) {
        let _ = assess(&bytes[..len], &CheckOptions::default());
    }
    // Corrupted bytes anywhere in converter-written models: the raw listing
    // and the rules never panic.
    for name in ["flatten_dense/int8.tflite", "concat/floatio.tflite"] {
        let good = std::fs::read(fixtures_dir().join(name)).expect("fixture");
        for (step, pattern) in [(13, 0xff), (29, 0x80), (31, 0x01)] {
            for start in 0..step {
                let mut bad = good.clone();
                for i in (start..bad.len()).step_by(step * 7) {
                    bad[i] ^= pattern;
                }
                if let Ok(view) = tinyq_edgetpu::view_of_tflite(&bad) {
                    let _ = tinyq_edgetpu::check(&view, &CheckOptions::default());
                }
            }
        }
    }
}

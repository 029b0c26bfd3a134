//! Every converter-written model under `tests/fixtures` reads and validates,
//! with concrete facts checked per op type.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tinyq_ir::op::{Hw, Padding2D};
use tinyq_ir::{Activation, DType, Graph, Op, OpKind};
use tinyq_tflite::read_file;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn all_models() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![fixtures_dir()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "tflite") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// Reads `tests/fixtures/NAME` (e.g. `conv_basic/int8.tflite`).
fn fixture(name: &str) -> Graph {
    let path = fixtures_dir().join(name);
    read_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ops(g: &Graph) -> Vec<&Op> {
    g.ops.iter().map(|(_, op)| op).collect()
}

fn kinds(g: &Graph) -> Vec<&'static str> {
    g.ops.iter().map(|(_, op)| op.kind.name()).collect()
}

fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Padding2D {
    Padding2D {
        top,
        bottom,
        left,
        right,
    }
}

fn hw(h: usize, w: usize) -> Hw {
    Hw { h, w }
}

#[test]
fn every_fixture_reads_and_validates() {
    let models = all_models();
    if models.is_empty() {
        eprintln!("no fixtures under {}", fixtures_dir().display());
        return;
    }
    let mut failures = Vec::new();
    for path in &models {
        match read_file(path) {
            Ok(g) => {
                tinyq_ir::validate(&g).expect("read returns validated graphs");
                assert!(!g.inputs.is_empty() && !g.outputs.is_empty());
                check_variant(path, &g);
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "failed:\n{}", failures.join("\n"));
    eprintln!("{} fixtures read", models.len());
}

/// I/O conventions of the four converter variants.
fn check_variant(path: &Path, g: &Graph) {
    let variant = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let first = ops(g).first().map(|op| op.kind.clone());
    let input = g.tensor(g.inputs[0]);
    let output = g.tensor(g.outputs[0]);
    let what = path.display();
    match variant {
        "int8" => {
            assert_eq!(input.dtype, DType::I8, "{what}");
            assert_eq!(output.dtype, DType::I8, "{what}");
        }
        "uint8" => {
            assert_eq!(input.dtype, DType::U8, "{what}");
            assert_eq!(output.dtype, DType::U8, "{what}");
            assert_eq!(first, Some(OpKind::Quantize), "{what}");
        }
        "floatio" => {
            assert_eq!(input.dtype, DType::F32, "{what}");
            assert_eq!(output.dtype, DType::F32, "{what}");
            assert_eq!(first, Some(OpKind::Quantize), "{what}");
            assert!(kinds(g).contains(&"DEQUANTIZE"), "{what}");
        }
        "float" => {
            assert!(
                g.tensors.iter().all(|(_, t)| t.quant.is_none()),
                "{what}: a float model with quantized tensors"
            );
        }
        _ => {}
    }
}

/// The ops of each int8 model agree with the fixture manifest, except the
/// shape arithmetic tinyq folds away.
#[test]
fn ops_match_the_manifest() {
    let path = fixtures_dir().join("manifest.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("no {}", path.display());
        return;
    };
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let folded: BTreeSet<&str> = ["SHAPE", "PACK", "GATHER", "STRIDED_SLICE", "CONCATENATION"]
        .into_iter()
        .collect();
    for entry in manifest.as_array().expect("a list") {
        let name = entry["name"].as_str().expect("name");
        let variants: Vec<&str> = entry["variants"]
            .as_array()
            .expect("variants")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let Some(variant) = ["int8", "model", "float"]
            .into_iter()
            .find(|v| variants.contains(v))
        else {
            continue;
        };
        let listed: BTreeSet<&str> = entry["ops"]
            .as_array()
            .expect("ops")
            .iter()
            .filter_map(|v| v.as_str())
            // PADV2 is a PAD with a value input in the IR.
            .map(|op| if op == "PADV2" { "PAD" } else { op })
            .collect();
        let g = fixture(&format!("{name}/{variant}.tflite"));
        let ours: BTreeSet<&str> = kinds(&g).into_iter().collect();
        assert!(ours.is_subset(&listed), "{name}: {ours:?} vs {listed:?}");
        let kept: BTreeSet<&str> = listed.difference(&folded).copied().collect();
        assert!(kept.is_subset(&ours), "{name}: {ours:?} vs {listed:?}");
    }
}

#[test]
fn conv_facts() {
    let g = fixture("conv_basic/int8.tflite");
    let [op] = ops(&g)[..] else { panic!() };
    let OpKind::Conv2D(c) = &op.kind else {
        panic!()
    };
    assert_eq!((c.stride, c.dilation), (hw(1, 1), hw(1, 1)));
    assert_eq!(c.padding, pad(1, 1, 1, 1));
    assert_eq!(c.activation, Activation::Relu);
    let w = g.tensor(op.inputs[1]);
    let q = w.quant.as_ref().expect("quantized filter");
    assert_eq!((q.scales.len(), q.axis), (w.shape[0], 0));
    assert!(q.zero_points.iter().all(|&z| z == 0));
    let b = g.tensor(op.inputs[2]);
    assert_eq!(b.dtype, DType::I32);
    assert_eq!(b.quant.as_ref().expect("quantized bias").axis, 0);

    let g = fixture("conv_strided_valid/int8.tflite");
    let OpKind::Conv2D(c) = &ops(&g)[0].kind else {
        panic!()
    };
    assert_eq!((c.stride, c.padding), (hw(2, 2), pad(0, 0, 0, 0)));
    assert_eq!(c.activation, Activation::Relu6);

    let g = fixture("conv_dilated/int8.tflite");
    let OpKind::Conv2D(c) = &ops(&g)[0].kind else {
        panic!()
    };
    assert_eq!((c.dilation, c.padding), (hw(2, 2), pad(2, 2, 2, 2)));

    // SAME with an odd total: the extra row/column goes after.
    let g = fixture("conv_rect/int8.tflite");
    let OpKind::Conv2D(c) = &ops(&g)[0].kind else {
        panic!()
    };
    assert_eq!((c.stride, c.padding), (hw(2, 1), pad(1, 1, 0, 1)));
}

#[test]
fn depthwise_facts() {
    let g = fixture("depthwise_mult2/int8.tflite");
    let o = ops(&g);
    let OpKind::DepthwiseConv2D(d) = &o[0].kind else {
        panic!()
    };
    assert_eq!(d.depth_multiplier, 2);
    let OpKind::DepthwiseConv2D(d) = &o[1].kind else {
        panic!()
    };
    assert_eq!(d.depth_multiplier, 1);
    // Depthwise filters are quantized along their last axis.
    let g = fixture("depthwise/int8.tflite");
    let op = ops(&g)[0];
    let q = g.tensor(op.inputs[1]).quant.clone().expect("quantized");
    assert_eq!(
        (q.axis, q.scales.len()),
        (3, g.tensor(op.inputs[1]).shape[3])
    );
    let g = fixture("depthwise_dilated/int8.tflite");
    let OpKind::DepthwiseConv2D(d) = &ops(&g)[0].kind else {
        panic!()
    };
    assert_eq!((d.dilation, d.padding), (hw(2, 2), pad(2, 2, 2, 2)));
}

#[test]
fn fully_connected_facts() {
    let g = fixture("dense/int8.tflite");
    for op in ops(&g) {
        let w = g.tensor(op.inputs[1]);
        let q = w.quant.as_ref().expect("quantized");
        assert_eq!(q.scales.len(), w.shape[0], "per-channel FC weights");
    }
    let g = fixture("dense_per_tensor/int8.tflite");
    let w = g.tensor(ops(&g)[0].inputs[1]);
    assert_eq!(w.quant.as_ref().expect("quantized").scales.len(), 1);
    let g = fixture("dense_nobias/int8.tflite");
    assert_eq!(ops(&g)[0].inputs.len(), 2, "the -1 bias is dropped");
    let g = fixture("dense_keep_dims/int8.tflite");
    let OpKind::FullyConnected(fc) = ops(&g)[0].kind else {
        panic!()
    };
    assert!(fc.keep_num_dims);
    let g = fixture("tflm_hello_world_sine/model.tflite");
    assert_eq!(kinds(&g), ["FULLY_CONNECTED"; 3]);
}

#[test]
fn keras_flatten_is_folded() {
    let g = fixture("flatten_dense/int8.tflite");
    assert_eq!(kinds(&g), ["RESHAPE", "FULLY_CONNECTED"]);
    let reshape = ops(&g)[0];
    assert_eq!(reshape.inputs.len(), 1);
    assert_eq!(g.tensor(reshape.outputs[0]).shape, [1, 100]);
    assert!(
        g.tensors
            .iter()
            .all(|(_, t)| t.dtype != DType::I32 || t.shape.len() == 1 && t.is_const()),
        "only the bias may be int32:\n{}",
        g.dump()
    );
}

#[test]
fn pool_facts() {
    let g = fixture("pooling/int8.tflite");
    let o = ops(&g);
    let OpKind::AveragePool2D(p) = &o[0].kind else {
        panic!()
    };
    assert_eq!(
        (p.filter, p.stride, p.padding),
        (hw(3, 3), hw(2, 2), pad(1, 1, 1, 1))
    );
    let OpKind::AveragePool2D(p) = &o[1].kind else {
        panic!()
    };
    assert_eq!((p.filter, p.padding), (hw(3, 2), pad(1, 1, 0, 1)));
    let OpKind::MaxPool2D(p) = &o[4].kind else {
        panic!()
    };
    assert_eq!(
        (p.filter, p.stride, p.padding),
        (hw(2, 2), hw(2, 2), pad(0, 0, 0, 0))
    );
}

#[test]
fn elementwise_and_activation_facts() {
    let g = fixture("add_sub_mul/int8.tflite");
    assert_eq!(kinds(&g), ["ADD", "SUB", "MUL", "MUL", "ADD"]);
    assert_eq!(
        ops(&g)[0].kind,
        OpKind::Add {
            activation: Activation::Relu
        }
    );
    let g = fixture("max_min/int8.tflite");
    assert!(kinds(&g).contains(&"MAXIMUM") && kinds(&g).contains(&"MINIMUM"));
    let g = fixture("act_softmax/int8.tflite");
    assert!(
        ops(&g)
            .iter()
            .any(|op| op.kind == OpKind::Softmax { beta: 1.0 })
    );
    let g = fixture("act_leaky_relu/int8.tflite");
    let OpKind::LeakyRelu { alpha } = ops(&g)[0].kind else {
        panic!()
    };
    assert!((alpha - 0.2).abs() < 1e-6);
    for (name, kind) in [
        ("act_logistic", OpKind::Logistic),
        ("act_tanh", OpKind::Tanh),
        ("act_relu", OpKind::Relu),
        ("act_relu6", OpKind::Relu6),
        ("act_hard_swish", OpKind::HardSwish),
    ] {
        let g = fixture(&format!("{name}/int8.tflite"));
        assert!(ops(&g).iter().any(|op| op.kind == kind), "{name}");
    }
}

#[test]
fn parameter_ops_facts() {
    let g = fixture("mean/int8.tflite");
    assert!(ops(&g).iter().any(|op| op.kind
        == OpKind::Mean {
            axes: vec![1, 2],
            keep_dims: false
        }
        && op.inputs.len() == 1));
    let g = fixture("pad/int8.tflite");
    let o = ops(&g);
    assert_eq!(
        o[0].kind,
        OpKind::Pad {
            paddings: vec![(0, 0), (1, 2), (2, 1), (0, 0)]
        }
    );
    assert_eq!(o[0].inputs.len(), 1);
    assert_eq!(o[1].inputs.len(), 2, "PADV2 keeps its value");
    let g = fixture("transpose/int8.tflite");
    assert_eq!(
        ops(&g)[0].kind,
        OpKind::Transpose {
            perm: vec![0, 2, 1, 3]
        }
    );
    let g = fixture("strided_slice/int8.tflite");
    assert!(ops(&g).iter().all(|op| op.inputs.len() == 1));
    assert!(ops(&g).iter().any(|op| matches!(&op.kind,
        OpKind::StridedSlice(s) if s.shrink_axis_mask == 8 && s.begin == [0, -3, 0, 1])));
    let g = fixture("concat/int8.tflite");
    assert!(
        ops(&g)
            .iter()
            .any(|op| matches!(op.kind, OpKind::Concatenation { axis: 3, .. })),
        "axis -1 normalized"
    );
    let g = fixture("reshape_squeeze_expand/int8.tflite");
    assert!(ops(&g).iter().all(|op| op.inputs.len() == 1));
    assert!(kinds(&g).contains(&"EXPAND_DIMS"));
    let g = fixture("squeeze_edited/int8.tflite");
    assert!(kinds(&g).contains(&"SQUEEZE"));
}

#[test]
fn whole_models() {
    let g = fixture("mnist/int8.tflite");
    assert_eq!(
        kinds(&g),
        [
            "CONV_2D",
            "MAX_POOL_2D",
            "CONV_2D",
            "MAX_POOL_2D",
            "RESHAPE",
            "FULLY_CONNECTED",
            "SOFTMAX"
        ]
    );
    let g = fixture("two_inputs_two_outputs/int8.tflite");
    assert_eq!((g.inputs.len(), g.outputs.len()), (2, 2));
}

//! One small model per rule and per status, built as a `ModelView`: the
//! rules and the partitioning, without a file in between.

use tinyq_edgetpu::{
    CheckOptions, ElemType, Input, ModelView, OpView, Report, Role, Status, TensorView, check,
};

/// Builds a model op by op; tensors are named `t<id>`.
#[derive(Default)]
struct Model {
    ops: Vec<OpView>,
}

/// An 8-bit quantized activation.
fn int8(id: usize, shape: &[usize]) -> TensorView {
    let mut t = TensorView::new(id, format!("t{id}"), shape.to_vec(), ElemType::I8);
    t.quantized = true;
    t
}

fn float(id: usize, shape: &[usize]) -> TensorView {
    TensorView::new(id, format!("t{id}"), shape.to_vec(), ElemType::F32)
}

/// A constant.
fn konst(mut t: TensorView) -> TensorView {
    t.constant = true;
    t
}

fn bias(id: usize, n: usize) -> TensorView {
    let mut t = TensorView::new(id, format!("t{id}"), vec![n], ElemType::I32);
    t.quantized = true;
    konst(t)
}

impl Model {
    /// Appends `name` reading `inputs` (role, tensor) and writing `outputs`.
    fn op(
        &mut self,
        name: &str,
        inputs: Vec<(Role, TensorView)>,
        outputs: Vec<TensorView>,
    ) -> &mut OpView {
        let mut op = OpView::new(self.ops.len(), name);
        op.inputs = inputs
            .into_iter()
            .map(|(role, t)| Input {
                role,
                tensor: Some(t),
            })
            .collect();
        op.outputs = outputs;
        self.ops.push(op);
        self.ops.last_mut().expect("just pushed")
    }

    /// A one-input, one-output data op.
    fn unary(&mut self, name: &str, input: TensorView, output: TensorView) -> &mut OpView {
        self.op(name, vec![(Role::Data, input)], vec![output])
    }

    fn check(&self) -> Report {
        check(
            &ModelView {
                ops: self.ops.clone(),
            },
            &CheckOptions::default(),
        )
    }

    fn check_multiple(&self) -> Report {
        check(
            &ModelView {
                ops: self.ops.clone(),
            },
            &CheckOptions {
                multiple_subgraphs: true,
            },
        )
    }
}

fn statuses(r: &Report) -> Vec<Status> {
    r.ops.iter().map(|o| o.status).collect()
}

fn hint(r: &Report, i: usize) -> &str {
    r.ops[i].hint.as_deref().unwrap_or("")
}

/// A one-op model with `op` between int8 tensors of `shape`: its status.
fn single(name: &str, shape: &[usize], f: impl FnOnce(&mut OpView)) -> (Status, String) {
    let mut m = Model::default();
    f(m.unary(name, int8(0, shape), int8(1, shape)));
    let r = m.check();
    (r.ops[0].status, hint(&r, 0).to_owned())
}

fn conv<'m>(m: &'m mut Model, name: &str, x: TensorView, y: TensorView) -> &'m mut OpView {
    let c = *x.shape.last().unwrap_or(&1);
    let o = *y.shape.last().unwrap_or(&1);
    let id = 100 + m.ops.len() * 2;
    let w = konst(int8(id, &[o, 3, 3, c]));
    let op = m.op(
        name,
        vec![
            (Role::Data, x),
            (Role::Weights, w),
            (Role::Bias, bias(id + 1, o)),
        ],
        vec![y],
    );
    op.attrs.activation = Some("RELU".into());
    op.attrs.dilation = Some((1, 1));
    op
}

#[test]
fn a_supported_int8_chain_maps_entirely() {
    let mut m = Model::default();
    conv(
        &mut m,
        "CONV_2D",
        int8(0, &[1, 8, 8, 3]),
        int8(1, &[1, 8, 8, 8]),
    );
    m.unary(
        "MAX_POOL_2D",
        int8(1, &[1, 8, 8, 8]),
        int8(2, &[1, 4, 4, 8]),
    )
    .attrs
    .activation = Some("NONE".into());
    m.unary("RESHAPE", int8(2, &[1, 4, 4, 8]), int8(3, &[1, 128]));
    m.unary("SOFTMAX", int8(3, &[1, 128]), int8(4, &[1, 128]));
    let r = m.check();
    assert_eq!((r.mapped, r.cpu, r.segments), (4, 0, 1));
    assert!(r.ops.iter().all(|o| o.mapped && o.hint.is_none()));
    assert!(r.fully_mapped());
    assert_eq!(r.verdict(), "Edge TPU: all 4 ops map (1 segment)");
}

#[test]
fn a_float_model_maps_nothing() {
    let mut m = Model::default();
    let mut w = konst(float(10, &[8, 3, 3, 3]));
    w.quantized = false;
    m.op(
        "CONV_2D",
        vec![
            (Role::Data, float(0, &[1, 8, 8, 3])),
            (Role::Weights, w),
            (Role::Bias, konst(float(11, &[8]))),
        ],
        vec![float(1, &[1, 8, 8, 8])],
    );
    m.unary("RELU", float(1, &[1, 8, 8, 8]), float(2, &[1, 8, 8, 8]));
    let r = m.check();
    assert_eq!((r.mapped, r.cpu, r.segments), (0, 2, 0));
    assert_eq!(statuses(&r), vec![Status::UnsupportedDataType; 2]);
    assert!(hint(&r, 0).contains("FLOAT32"), "{}", hint(&r, 0));
    assert!(hint(&r, 0).contains("tinyq quantize"), "{}", hint(&r, 0));
    assert!(
        r.verdict().starts_with("Edge TPU: no op maps"),
        "{}",
        r.verdict()
    );
}

#[test]
fn an_unsupported_op_in_the_middle_ends_the_segment_there() {
    let mut m = Model::default();
    let s = [1, 4, 4, 8];
    m.unary("RELU", int8(0, &s), int8(1, &s));
    m.unary("LOGISTIC", int8(1, &s), int8(2, &s));
    m.unary("LEAKY_RELU", int8(2, &s), int8(3, &s));
    m.unary("RELU6", int8(3, &s), int8(4, &s));
    m.unary("TANH", int8(4, &s), int8(5, &s));
    let r = m.check();
    assert_eq!(
        statuses(&r),
        vec![
            Status::Mapped,
            Status::Mapped,
            Status::NotSupported,
            Status::MoreThanOneSubgraph,
            Status::MoreThanOneSubgraph,
        ]
    );
    assert_eq!((r.mapped, r.cpu, r.segments), (2, 3, 1));
    assert_eq!(
        hint(&r, 2),
        "LEAKY_RELU is not in the Edge TPU op set; PRELU with a 1-D alpha is \
(Keras: PReLU(shared_axes=[1, 2]) with alpha set to the slope), and so is RELU"
    );
    assert!(hint(&r, 3).starts_with("op #2 (LEAKY_RELU) ended the Edge TPU segment"));
    assert!(hint(&r, 4).contains("--multiple-subgraphs"));
    assert_eq!(
        r.verdict(),
        "Edge TPU: 2 of 5 ops map, 3 on the CPU, 1 segment (first on the CPU: #2 LEAKY_RELU: Operation not supported)"
    );

    // `--multiple-subgraphs`: the ops after it map, in a second segment.
    let r = m.check_multiple();
    assert_eq!((r.mapped, r.cpu, r.segments), (4, 1, 2));
    assert_eq!(r.ops[3].status, Status::Mapped);
}

#[test]
fn ops_before_the_segment_do_not_end_it() {
    let mut m = Model::default();
    let s = [1, 4, 4, 8];
    m.unary("HARD_SWISH", int8(0, &s), int8(1, &s));
    m.unary("RELU", int8(1, &s), int8(2, &s));
    m.unary("RELU6", int8(2, &s), int8(3, &s));
    let r = m.check();
    assert_eq!(
        statuses(&r),
        vec![Status::NotSupported, Status::Mapped, Status::Mapped]
    );
    assert_eq!(r.segments, 1);
}

#[test]
fn float_io_quantize_stays_on_the_cpu_and_dequantize_too() {
    let mut m = Model::default();
    let s = [1, 4, 4, 8];
    m.unary("QUANTIZE", float(0, &s), int8(1, &s));
    m.unary("RELU", int8(1, &s), int8(2, &s));
    // The converter places each output's DEQUANTIZE right after its producer.
    m.unary("DEQUANTIZE", int8(2, &s), float(3, &s));
    m.unary("RELU6", int8(2, &s), int8(4, &s));
    m.unary("DEQUANTIZE", int8(4, &s), float(5, &s));
    let r = m.check();
    assert_eq!(
        statuses(&r),
        vec![
            Status::OtherLimitation,
            Status::Mapped,
            Status::UnsupportedDataType,
            Status::Mapped,
            Status::UnsupportedDataType,
        ]
    );
    assert_eq!((r.mapped, r.cpu, r.segments), (2, 3, 1));
    assert!(hint(&r, 0).contains("stays on the CPU"), "{}", hint(&r, 0));
    assert!(hint(&r, 2).contains("8-bit outputs"), "{}", hint(&r, 2));
    // An 8-bit QUANTIZE (requantize, uint8 <-> int8) maps.
    let mut m = Model::default();
    let mut u = int8(0, &s);
    u.dtype = ElemType::U8;
    m.unary("QUANTIZE", u, int8(1, &s));
    assert_eq!(m.check().ops[0].status, Status::Mapped);
}

#[test]
fn a_cpu_op_in_one_branch_ends_only_what_depends_on_it() {
    // x -> RELU -> a ; a -> HARD_SWISH -> b ; a -> RELU6 -> c ; (b, c) -> ADD -> d
    let mut m = Model::default();
    let s = [1, 4, 4, 8];
    m.unary("RELU", int8(0, &s), int8(1, &s));
    m.unary("HARD_SWISH", int8(1, &s), int8(2, &s));
    m.unary("RELU6", int8(1, &s), int8(3, &s));
    m.op(
        "ADD",
        vec![(Role::Data, int8(2, &s)), (Role::Data, int8(3, &s))],
        vec![int8(4, &s)],
    );
    let r = m.check();
    assert_eq!(
        statuses(&r),
        vec![
            Status::Mapped,
            Status::NotSupported,
            Status::Mapped,
            Status::MoreThanOneSubgraph,
        ]
    );
    assert!(
        hint(&r, 3).starts_with("op #1 (HARD_SWISH)"),
        "{}",
        hint(&r, 3)
    );
    let r = m.check_multiple();
    assert_eq!((r.mapped, r.segments), (3, 2));
}

#[test]
fn a_4d_tensor_with_batch_above_1_does_not_map() {
    let (status, hint) = single("RELU", &[4, 8, 8, 3], |_| {});
    assert_eq!(status, Status::UnsupportedRank);
    assert!(hint.contains("[4,8,8,3]"), "{hint}");
    // Rank 5 with only the 3 innermost larger than 1 is fine; rank 3 always.
    assert_eq!(single("RELU", &[1, 1, 8, 8, 3], |_| {}).0, Status::Mapped);
    assert_eq!(single("RELU", &[9, 8, 3], |_| {}).0, Status::Mapped);
    assert_eq!(
        single("RELU", &[1, 2, 8, 8, 3], |_| {}).0,
        Status::UnsupportedRank
    );
}

#[test]
fn pooling_and_concatenation_take_no_fused_activation() {
    for op in ["MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION"] {
        let (status, hint) = single(op, &[1, 4, 4, 8], |o| {
            o.attrs.activation = Some("RELU6".into());
        });
        assert_eq!(status, Status::OtherLimitation, "{op}");
        assert!(hint.contains("fused RELU6"), "{hint}");
        let (status, _) = single(op, &[1, 4, 4, 8], |o| {
            o.attrs.activation = Some("NONE".into());
        });
        assert_eq!(status, Status::Mapped, "{op}");
    }
    // ADD may have one.
    let (status, _) = single("ADD", &[1, 4, 4, 8], |o| {
        o.attrs.activation = Some("RELU".into());
    });
    assert_eq!(status, Status::Mapped);
}

#[test]
fn convolutions_need_equal_dilation() {
    for op in ["CONV_2D", "DEPTHWISE_CONV_2D"] {
        let mut m = Model::default();
        conv(&mut m, op, int8(0, &[1, 8, 8, 3]), int8(1, &[1, 8, 8, 8]))
            .attrs
            .dilation = Some((1, 2));
        conv(&mut m, op, int8(1, &[1, 8, 8, 8]), int8(2, &[1, 8, 8, 8]))
            .attrs
            .dilation = Some((2, 2));
        let r = m.check_multiple();
        assert_eq!(
            statuses(&r),
            vec![Status::OtherLimitation, Status::Mapped],
            "{op}"
        );
        assert!(hint(&r, 0).contains("dilation 1x2"), "{}", hint(&r, 0));
    }
}

#[test]
fn filters_and_parameters_must_be_constant() {
    let mut m = Model::default();
    m.op(
        "FULLY_CONNECTED",
        vec![
            (Role::Data, int8(0, &[1, 16])),
            (Role::Weights, int8(1, &[8, 16])),
            (Role::Bias, bias(2, 8)),
        ],
        vec![int8(3, &[1, 8])],
    );
    let r = m.check();
    assert_eq!(r.ops[0].status, Status::NonConstantParam);
    assert!(hint(&r, 0).contains("filter \"t1\""), "{}", hint(&r, 0));
    // A RESHAPE whose shape is computed at run time (Keras' flatten).
    let mut m = Model::default();
    let mut shape = TensorView::new(5, "shape", vec![2], ElemType::I32);
    shape.constant = false;
    m.op(
        "RESHAPE",
        vec![(Role::Data, int8(0, &[1, 4, 4, 8])), (Role::Param, shape)],
        vec![int8(1, &[1, 128])],
    );
    let r = m.check();
    assert_eq!(r.ops[0].status, Status::NonConstantParam);
    assert!(hint(&r, 0).contains("tinyq folds it"), "{}", hint(&r, 0));
    // An absent optional bias is fine.
    let mut m = Model::default();
    m.op(
        "FULLY_CONNECTED",
        vec![
            (Role::Data, int8(0, &[1, 16])),
            (Role::Weights, konst(int8(1, &[8, 16]))),
        ],
        vec![int8(3, &[1, 8])],
    );
    m.ops[0].inputs.push(Input {
        role: Role::Bias,
        tensor: None,
    });
    assert_eq!(m.check().ops[0].status, Status::Mapped);
}

#[test]
fn fully_connected_needs_default_weights_and_a_1d_output() {
    let fc = |out: &[usize], shuffled: bool| {
        let mut m = Model::default();
        let op = m.op(
            "FULLY_CONNECTED",
            vec![
                (Role::Data, int8(0, &[out[0], 16])),
                (Role::Weights, konst(int8(1, &[8, 16]))),
                (Role::Bias, bias(2, 8)),
            ],
            vec![int8(3, out)],
        );
        op.attrs.shuffled_weights = shuffled;
        op.attrs.activation = Some("NONE".into());
        m.check().ops[0].status
    };
    assert_eq!(fc(&[1, 8], false), Status::Mapped);
    assert_eq!(fc(&[1, 8], true), Status::OtherLimitation);
    assert_eq!(fc(&[4, 8], false), Status::OtherLimitation);
    assert_eq!(fc(&[1, 6, 8], false), Status::OtherLimitation);
}

#[test]
fn softmax_takes_one_dimension_of_at_most_16000() {
    assert_eq!(single("SOFTMAX", &[1, 16_000], |_| {}).0, Status::Mapped);
    assert_eq!(single("SOFTMAX", &[16_000], |_| {}).0, Status::Mapped);
    let (status, hint) = single("SOFTMAX", &[1, 16_001], |_| {});
    assert_eq!(status, Status::OtherLimitation);
    assert!(hint.contains("16,000"), "{hint}");
    assert_eq!(
        single("SOFTMAX", &[1, 4, 10], |_| {}).0,
        Status::OtherLimitation
    );
    // Sizes that overflow are too large, not a panic.
    assert_eq!(
        single("SOFTMAX", &[4, usize::MAX], |_| {}).0,
        Status::OtherLimitation
    );
}

#[test]
fn strided_slice_needs_unit_strides_and_no_ellipsis_or_new_axis() {
    let ss = |strides: Vec<i64>, ellipsis: i32| {
        single("STRIDED_SLICE", &[1, 4, 4, 8], |o| {
            o.attrs.strides = Some(strides);
            o.attrs.ellipsis_mask = ellipsis;
        })
    };
    assert_eq!(ss(vec![1, 1, 1, 1], 0).0, Status::Mapped);
    let (status, hint) = ss(vec![1, 2, 1, 1], 0);
    assert_eq!(status, Status::OtherLimitation);
    assert!(hint.contains("[1, 2, 1, 1]"), "{hint}");
    assert_eq!(ss(vec![1, 1, -1, 1], 0).0, Status::OtherLimitation);
    assert_eq!(ss(vec![1, 1, 1, 1], 2).0, Status::OtherLimitation);
}

#[test]
fn mean_reduces_x_y_and_channels_only_in_fours() {
    let mean = |shape: &[usize], axes: Vec<i64>| {
        let mut m = Model::default();
        let mut out = shape.to_vec();
        for &a in &axes {
            let a = if a < 0 { a + shape.len() as i64 } else { a };
            out[a as usize] = 1;
        }
        m.unary("MEAN", int8(0, shape), int8(1, &out)).attrs.axes = Some(axes);
        let r = m.check();
        (r.ops[0].status, hint(&r, 0).to_owned())
    };
    assert_eq!(mean(&[1, 8, 8, 6], vec![1, 2]).0, Status::Mapped);
    let (status, hint) = mean(&[1, 8, 8, 6], vec![-1]);
    assert_eq!(status, Status::OtherLimitation);
    assert!(hint.contains("multiple of 4"), "{hint}");
    assert_eq!(mean(&[1, 8, 8, 8], vec![3]).0, Status::Mapped);
    assert_eq!(mean(&[1, 8, 8, 8], vec![0]).0, Status::OtherLimitation);
    // Out-of-range axes from a corrupt file are no reason to panic.
    let (status, _) = single("MEAN", &[1, 8, 8, 8], |o| {
        o.attrs.axes = Some(vec![i64::MIN, i64::MAX, -5, 4]);
    });
    assert_eq!(status, Status::Mapped);
}

#[test]
fn pad_pack_and_reductions_leave_the_batch_alone() {
    let pad = |p: Vec<(i64, i64)>| single("PAD", &[1, 4, 4, 8], |o| o.attrs.paddings = Some(p)).0;
    assert_eq!(pad(vec![(0, 0), (1, 1), (1, 1), (0, 0)]), Status::Mapped);
    assert_eq!(pad(vec![(0, 0), (0, 0), (0, 0), (0, 8)]), Status::Mapped);
    assert_eq!(
        pad(vec![(1, 0), (0, 0), (0, 0), (0, 0)]),
        Status::OtherLimitation
    );
    let reduce = single("REDUCE_MAX", &[1, 4, 4, 8], |o| {
        o.attrs.axes = Some(vec![0])
    })
    .0;
    assert_eq!(reduce, Status::OtherLimitation);
    let pack = |axis: i64| {
        let mut m = Model::default();
        m.op(
            "PACK",
            vec![
                (Role::Data, int8(0, &[4, 4, 8])),
                (Role::Data, int8(1, &[4, 4, 8])),
            ],
            vec![int8(2, &[2, 4, 4, 8])],
        )
        .attrs
        .axis = Some(axis);
        m.check().ops[0].status
    };
    // Packing along the batch makes a batch of 2, which is a rank problem first.
    assert_eq!(pack(0), Status::UnsupportedRank);
}

#[test]
fn prelu_needs_a_1d_alpha() {
    let prelu = |alpha: &[usize]| {
        let mut m = Model::default();
        m.op(
            "PRELU",
            vec![
                (Role::Data, int8(0, &[1, 4, 4, 8])),
                (Role::Weights, konst(int8(1, alpha))),
            ],
            vec![int8(2, &[1, 4, 4, 8])],
        );
        m.check().ops[0].status
    };
    assert_eq!(prelu(&[1, 1, 8]), Status::Mapped);
    assert_eq!(prelu(&[4, 4, 8]), Status::OtherLimitation);
}

#[test]
fn concatenation_with_a_constant_is_zero_padding_only() {
    let concat = |zero: bool, inputs: usize| {
        let mut m = Model::default();
        let mut c = konst(int8(9, &[1, 4, 4, 2]));
        c.all_zero = Some(zero);
        let mut ins = vec![(Role::Data, int8(0, &[1, 4, 4, 8])), (Role::Data, c)];
        if inputs == 3 {
            ins.push((Role::Data, int8(1, &[1, 4, 4, 8])));
        }
        m.op("CONCATENATION", ins, vec![int8(2, &[1, 4, 4, 10])])
            .attrs
            .activation = Some("NONE".into());
        m.check().ops[0].status
    };
    assert_eq!(concat(true, 2), Status::Mapped);
    assert_eq!(concat(false, 2), Status::OtherLimitation);
    assert_eq!(concat(true, 3), Status::OtherLimitation);
}

#[test]
fn squeeze_removes_leading_ones_only() {
    let squeeze = |from: &[usize], to: &[usize]| {
        let mut m = Model::default();
        m.unary("SQUEEZE", int8(0, from), int8(1, to));
        m.check().ops[0].status
    };
    assert_eq!(squeeze(&[1, 5, 10], &[5, 10]), Status::Mapped);
    assert_eq!(squeeze(&[1, 1, 10], &[10]), Status::Mapped);
    assert_eq!(squeeze(&[5, 1, 10], &[5, 10]), Status::OtherLimitation);
    assert_eq!(squeeze(&[1, 4, 1, 6], &[1, 4, 6]), Status::OtherLimitation);
}

#[test]
fn dynamic_shapes_and_unquantized_tensors_do_not_map() {
    let mut m = Model::default();
    let mut x = int8(0, &[1, 8]);
    x.dynamic = Some("shape [1, 8], shape_signature [1, -1]".into());
    m.unary("RELU", x, int8(1, &[1, 8]));
    assert_eq!(m.check().ops[0].status, Status::OtherLimitation);

    let mut m = Model::default();
    let mut x = int8(0, &[1, 8]);
    x.quantized = false;
    m.unary("RELU", x, int8(1, &[1, 8]));
    assert_eq!(m.check().ops[0].status, Status::UnsupportedDataType);
}

#[test]
fn ops_outside_the_op_set_are_not_supported_with_a_hint() {
    for (op, needle) in [
        ("HARD_SWISH", "RELU6(x + 3)"),
        ("GATHER", "SLICE"),
        ("SHAPE", "tinyq folds"),
        ("PADV2", "PAD"),
        ("DIV", "reciprocal"),
        ("EXP", "not in the Edge TPU op set"),
    ] {
        let (status, hint) = single(op, &[1, 8], |_| {});
        assert_eq!(status, Status::NotSupported, "{op}");
        assert!(hint.contains(needle), "{op}: {hint}");
    }
    let (status, hint) = single("CUSTOM", &[1, 8], |o| o.custom_code = Some("MyOp".into()));
    assert_eq!(status, Status::NotSupported);
    assert!(hint.contains("\"MyOp\""), "{hint}");
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let mut m = Model::default();
    let s = [1, 8];
    m.unary("RELU", int8(0, &s), int8(1, &s));
    m.unary("LEAKY_RELU", int8(1, &s), int8(2, &s));
    let json = m.check().to_json();
    assert_eq!(
        json,
        r#"{"target":"edgetpu","mapped":1,"cpu":1,"segments":1,"ops":[{"index":0,"op":"RELU","name":"t1","mapped":true,"status":"Mapped to Edge TPU"},{"index":1,"op":"LEAKY_RELU","name":"t2","mapped":false,"status":"Operation not supported"}]}"#
    );
}

#[test]
fn the_table_has_the_compiler_layout() {
    let mut m = Model::default();
    let s = [1, 8];
    m.unary("RELU", int8(0, &s), int8(1, &s));
    m.unary("RELU", int8(1, &s), int8(2, &s));
    m.unary("LEAKY_RELU", int8(2, &s), int8(3, &s));
    m.unary("RELU", int8(3, &s), int8(4, &s));
    let r = m.check();
    assert_eq!(
        r.table(),
        "Operator                       Count      Status\n\
         \n\
         RELU                           2          Mapped to Edge TPU\n\
         LEAKY_RELU                     1          Operation not supported\n\
         RELU                           1          More than one subgraph is not supported\n"
    );
    assert_eq!(
        r.summary(),
        "Number of Edge TPU subgraphs: 1\n\
         Total number of operations: 4\n\
         Number of operations that will run on Edge TPU: 2\n\
         Number of operations that will run on CPU: 2\n"
    );
    let hints = r.hints();
    assert_eq!(hints.len(), 2, "{hints:?}");
    assert!(
        hints[0].starts_with("#2 LEAKY_RELU \"t3\": "),
        "{}",
        hints[0]
    );
    assert!(
        hints[1].starts_with("#3 maps on its own, but op #2 (LEAKY_RELU) ended"),
        "{}",
        hints[1]
    );
}

#[test]
fn an_empty_model_has_nothing_to_map() {
    let r = Model::default().check();
    assert_eq!((r.mapped, r.cpu, r.segments), (0, 0, 0));
    assert_eq!(r.verdict(), "Edge TPU: the model has no ops");
    assert_eq!(
        r.to_json(),
        r#"{"target":"edgetpu","mapped":0,"cpu":0,"segments":0,"ops":[]}"#
    );
}

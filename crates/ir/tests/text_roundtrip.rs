//! `text::parse(text::print(g)) == g` for random graphs: every op kind and
//! attribute, per-axis quantization, odd floats, constant bytes, awkward
//! names. Graphs need not be valid, only their handles in range.

use proptest::prelude::*;
use proptest::strategy::Union;
use tinyq_ir::op::{
    Conv2D, DepthwiseConv2D, FullyConnected, Hw, Lut, Pool2D, Resize, StridedSlice, TransposeConv,
};
use tinyq_ir::text::{OP_NAMES, parse, print};
use tinyq_ir::{Activation, DType, Graph, Op, OpKind, Padding2D, Quantization, Tensor, TensorId};

fn float() -> impl Strategy<Value = f32> {
    // Every f32 but NaN (NaN != NaN); includes infinities and subnormals.
    prop_oneof![
        any::<f32>().prop_filter("not NaN", |f| !f.is_nan()),
        Just(0.1f32),
        Just(1.0 / 255.0),
        Just(f32::MIN_POSITIVE),
        Just(-0.0f32),
    ]
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::None),
        Just(Activation::Relu),
        Just(Activation::Relu6),
        Just(Activation::ReluN1To1),
    ]
}

fn hw() -> impl Strategy<Value = Hw> {
    (0usize..5, 0usize..5).prop_map(|(h, w)| Hw { h, w })
}

fn padding() -> impl Strategy<Value = Padding2D> {
    (0usize..4, 0usize..4, 0usize..4, 0usize..4).prop_map(|(top, bottom, left, right)| Padding2D {
        top,
        bottom,
        left,
        right,
    })
}

fn pool() -> impl Strategy<Value = Pool2D> {
    (hw(), hw(), padding(), activation()).prop_map(|(filter, stride, padding, activation)| Pool2D {
        filter,
        stride,
        padding,
        activation,
    })
}

fn kind() -> impl Strategy<Value = OpKind> {
    let simple = [
        OpKind::Maximum,
        OpKind::Minimum,
        OpKind::Logistic,
        OpKind::Tanh,
        OpKind::Relu,
        OpKind::Relu6,
        OpKind::ReluN1To1,
        OpKind::HardSwish,
        OpKind::Reshape,
        OpKind::Squeeze,
        OpKind::ExpandDims,
        OpKind::Quantize,
        OpKind::Dequantize,
        OpKind::Exp,
        OpKind::Log,
        OpKind::Sqrt,
        OpKind::Abs,
        OpKind::Neg,
        OpKind::Square,
        OpKind::Rsqrt,
        OpKind::SquaredDifference,
        OpKind::BatchMatMul {
            adj_x: true,
            adj_y: false,
        },
    ];
    let i32s = || prop::collection::vec(any::<i32>(), 0..5);
    Union::new(vec![
        prop::sample::select(simple.to_vec()).boxed(),
        (hw(), hw(), padding(), activation())
            .prop_map(|(stride, dilation, padding, activation)| {
                OpKind::Conv2D(Conv2D {
                    stride,
                    dilation,
                    padding,
                    activation,
                })
            })
            .boxed(),
        (hw(), hw(), padding(), 0usize..9, activation())
            .prop_map(
                |(stride, dilation, padding, depth_multiplier, activation)| {
                    OpKind::DepthwiseConv2D(DepthwiseConv2D {
                        stride,
                        dilation,
                        padding,
                        depth_multiplier,
                        activation,
                    })
                },
            )
            .boxed(),
        (any::<bool>(), activation())
            .prop_map(|(keep_num_dims, activation)| {
                OpKind::FullyConnected(FullyConnected {
                    keep_num_dims,
                    activation,
                })
            })
            .boxed(),
        pool().prop_map(OpKind::AveragePool2D).boxed(),
        pool().prop_map(OpKind::MaxPool2D).boxed(),
        activation()
            .prop_map(|activation| OpKind::Add { activation })
            .boxed(),
        activation()
            .prop_map(|activation| OpKind::Sub { activation })
            .boxed(),
        activation()
            .prop_map(|activation| OpKind::Mul { activation })
            .boxed(),
        activation()
            .prop_map(|activation| OpKind::Div { activation })
            .boxed(),
        float().prop_map(|beta| OpKind::Softmax { beta }).boxed(),
        float()
            .prop_map(|alpha| OpKind::LeakyRelu { alpha })
            .boxed(),
        (any::<usize>(), activation())
            .prop_map(|(axis, activation)| OpKind::Concatenation { axis, activation })
            .boxed(),
        (prop::collection::vec(0usize..6, 0..4), any::<bool>())
            .prop_map(|(axes, keep_dims)| OpKind::Mean { axes, keep_dims })
            .boxed(),
        prop::collection::vec((0usize..5, any::<usize>()), 0..5)
            .prop_map(|paddings| OpKind::Pad { paddings })
            .boxed(),
        prop::collection::vec(0usize..6, 0..5)
            .prop_map(|perm| OpKind::Transpose { perm })
            .boxed(),
        any::<usize>()
            .prop_map(|block| OpKind::SpaceToDepth { block })
            .boxed(),
        any::<usize>()
            .prop_map(|block| OpKind::DepthToSpace { block })
            .boxed(),
        (any::<usize>(), prop::collection::vec(0usize..9, 0..5))
            .prop_map(|(axis, indices)| OpKind::Gather { axis, indices })
            .boxed(),
        (
            (i32s(), i32s(), i32s()),
            (
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
                any::<i32>(),
            ),
            any::<bool>(),
        )
            .prop_map(|((begin, end, strides), masks, offset)| {
                OpKind::StridedSlice(StridedSlice {
                    begin,
                    end,
                    strides,
                    begin_mask: masks.0,
                    end_mask: masks.1,
                    ellipsis_mask: masks.2,
                    new_axis_mask: masks.3,
                    shrink_axis_mask: masks.4,
                    offset,
                })
            })
            .boxed(),
        (
            prop::collection::vec(prop::sample::select(OP_NAMES), 0..4),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(ops, table)| OpKind::Lut(Lut { table, ops }))
            .boxed(),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(bilinear, align_corners, half_pixel_centers)| {
                let r = Resize {
                    align_corners,
                    half_pixel_centers,
                };
                if bilinear {
                    OpKind::ResizeBilinear(r)
                } else {
                    OpKind::ResizeNearestNeighbor(r)
                }
            })
            .boxed(),
        (hw(), padding(), activation())
            .prop_map(|(stride, padding, activation)| {
                OpKind::TransposeConv(TransposeConv {
                    stride,
                    padding,
                    activation,
                })
            })
            .boxed(),
    ])
}

fn dtype() -> impl Strategy<Value = DType> {
    prop::sample::select(vec![
        DType::F32,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::Bool,
    ])
}

fn quantization() -> impl Strategy<Value = Quantization> {
    (
        prop::collection::vec(float(), 0..6),
        prop::collection::vec(any::<i64>(), 0..6),
        0usize..5,
    )
        .prop_map(|(scales, zero_points, axis)| Quantization {
            scales,
            zero_points,
            axis,
        })
}

fn tensor() -> impl Strategy<Value = Tensor> {
    (
        any::<String>(),
        prop::collection::vec(0usize..70_000, 0..5),
        dtype(),
        prop::option::of(quantization()),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
    )
        .prop_map(|(name, shape, dtype, quant, data)| Tensor {
            name,
            shape,
            dtype,
            quant,
            data,
        })
}

fn graph() -> impl Strategy<Value = Graph> {
    prop::collection::vec(tensor(), 1..8).prop_flat_map(|tensors| {
        let n = tensors.len();
        let id = move || (0..n).prop_map(TensorId::from_index);
        let ids = move || prop::collection::vec(id(), 0..4);
        let op = (kind(), ids(), ids(), prop::option::of(any::<usize>())).prop_map(
            |(kind, inputs, outputs, origin)| Op {
                kind,
                inputs,
                outputs,
                origin,
            },
        );
        (Just(tensors), prop::collection::vec(op, 0..8), ids(), ids()).prop_map(
            |(tensors, ops, inputs, outputs)| {
                let mut g = Graph::new();
                for t in tensors {
                    g.tensors.push(t);
                }
                for op in ops {
                    g.ops.push(op);
                }
                g.inputs = inputs;
                g.outputs = outputs;
                g
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_the_identity(g in graph()) {
        for (_, op) in g.ops.iter() {
            prop_assert!(OP_NAMES.contains(&op.kind.name()), "{} missing from OP_NAMES", op.kind.name());
        }
        let text = print(&g);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &g, "{}", text);
        // Printing is deterministic, so the text round-trips too.
        prop_assert_eq!(print(&back), text);
    }
}

#[test]
fn empty_graph_round_trips() {
    let g = Graph::new();
    assert_eq!(parse(&print(&g)).expect("parses"), g);
}

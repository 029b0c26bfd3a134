//! Operator versions as the TF converter writes them:
//! `GetBuiltinOperatorVersion` in `tensorflow/lite/tools/versioning/op_version.cc`
//! (with the op signature of `op_signature.cc`), restricted to the ops and
//! types tinyq has. The fixture models (TF 2.21) carry exactly these
//! versions; `tests/write.rs` checks it.

#![forbid(unsafe_code)]

use tinyq_ir::{DType, Graph, Op, OpKind, Tensor};

/// The version of `op`, written with `n_inputs` inputs (absent optional
/// inputs and parameter tensors included).
pub(super) fn version(graph: &Graph, op: &Op, n_inputs: usize) -> i32 {
    let t = |i: usize| op.inputs.get(i).and_then(|&h| graph.tensors.get(h));
    // The converter's 16x8 quantizer writes these ops at their int8
    // version (CONV_2D 3, FULLY_CONNECTED 4, ADD 2, DEQUANTIZE 2,
    // QUANTIZE 1, pooling, RELU, SOFTMAX, CONCATENATION and MEAN 2, ...), so
    // their quantized int16 tensors count as int8 here; LEAKY_RELU and
    // TRANSPOSE_CONV keep their int16 versions (BATCH_MATMUL: 2 for int8 and
    // int16 alike).
    let int8_version = matches!(
        op.kind,
        OpKind::Conv2D(_)
            | OpKind::DepthwiseConv2D(_)
            | OpKind::FullyConnected(_)
            | OpKind::Add { .. }
            | OpKind::Sub { .. }
            | OpKind::Mul { .. }
            | OpKind::Pad { .. }
            | OpKind::StridedSlice(_)
            | OpKind::Quantize
            | OpKind::Dequantize
            | OpKind::Relu
            | OpKind::Relu6
            | OpKind::Softmax { .. }
            | OpKind::Concatenation { .. }
            | OpKind::Mean { .. }
            | OpKind::AveragePool2D(_)
            | OpKind::MaxPool2D(_)
            | OpKind::BatchMatMul { .. }
    );
    let dtype = |t: &Tensor| match t.dtype {
        DType::I16 if int8_version && t.quant.is_some() => DType::I8,
        d => d,
    };
    let ty = |i: usize| t(i).map(dtype);
    let out = op.outputs.first().and_then(|&h| graph.tensors.get(h));
    let out_ty = out.map(dtype);
    let rank0 = t(0).map_or(0, |t| t.shape.len());
    let (i8_, i16_) = (Some(DType::I8), Some(DType::I16));
    let quantized_int8 = ty(0) == i8_;
    // `NeedBroadcastForBinaryInputs && GetInputMaxDims > 4`.
    let broadcast_5d = || {
        let (Some(a), Some(b)) = (t(0), t(1)) else {
            return false;
        };
        a.shape != b.shape && a.shape.len().max(b.shape.len()) > 4
    };
    let by_int8 = |v: i32| if quantized_int8 { v } else { 1 };
    match &op.kind {
        OpKind::Svdf(_) => by_int8(3),
        // Float only: the converter's version 1 of each.
        OpKind::Div { .. }
        | OpKind::Exp
        | OpKind::Log
        | OpKind::Sqrt
        | OpKind::Abs
        | OpKind::Neg
        | OpKind::Square => 1,
        // int8 is version 2 of both.
        OpKind::Rsqrt | OpKind::SquaredDifference | OpKind::BatchMatMul { .. } => by_int8(2),
        OpKind::Lstm(_) | OpKind::Signal(_) => 1,
        // The converter's CAST versions: int8 on either side 3, UINT32 2
        // (raw types: CAST's int8 is not quantized).
        OpKind::Cast => {
            let raw = [t(0).map(|t| t.dtype), out.map(|t| t.dtype)];
            if raw.contains(&Some(DType::I8)) {
                3
            } else if raw.contains(&Some(DType::U32)) {
                2
            } else {
                1
            }
        }
        OpKind::Conv2D(_) => {
            let grouped = match (t(0), t(1)) {
                (Some(x), Some(f)) => x.shape.get(3) != f.shape.get(3),
                _ => false,
            };
            if grouped {
                6
            } else if ty(0) == i16_ && ty(1) == i16_ && out_ty == i16_ {
                4
            } else if ty(0) == i8_ && ty(1) == i8_ && out_ty == i8_ {
                3
            } else if ty(0) == Some(DType::F32) && ty(1) == i8_ && out_ty == Some(DType::F32) {
                if t(1).is_some_and(|f| per_channel(f, 0)) {
                    5
                } else {
                    2
                }
            } else {
                1
            }
        }
        OpKind::DepthwiseConv2D(a) => {
            if ty(0) == i16_ && ty(1) == i16_ && out_ty == i16_ {
                5
            } else if ty(0) == Some(DType::F32) && ty(1) == i8_ && out_ty == Some(DType::F32) {
                if t(1).is_some_and(|f| per_channel(f, 3)) {
                    6
                } else {
                    4
                }
            } else if ty(0) == i8_ && ty(1) == i8_ && out_ty == i8_ {
                3
            } else if a.dilation.h != 1 || a.dilation.w != 1 {
                2
            } else {
                1
            }
        }
        OpKind::FullyConnected(a) => {
            let hybrid = ty(0) == Some(DType::F32) && ty(1) == i8_ && out_ty == Some(DType::F32);
            if hybrid && t(1).is_some_and(|f| per_channel(f, 0)) {
                12
            } else if ty(0) == i16_ && ty(1) == i16_ && out_ty == i16_ {
                7
            } else if n_inputs == 2 {
                6
            } else if a.keep_num_dims {
                5
            } else if ty(0) == i8_ && ty(1) == i8_ && out_ty == i8_ {
                4
            } else if hybrid {
                3
            } else {
                1
            }
        }
        OpKind::AveragePool2D(_) | OpKind::MaxPool2D(_) => {
            if ty(0) == i16_ && out_ty == i16_ {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::Add { .. } => {
            let quantized = t(0).is_some_and(|t| t.quant.is_some());
            if ty(0) == i16_ && !quantized {
                5
            } else if ty(0) == Some(DType::I64) {
                4
            } else {
                // (Version 3 is int16 with pot_scale_int16 false; tinyq
                // writes the default, true.)
                by_int8(2)
            }
        }
        OpKind::Sub { .. } => {
            if ty(0) == Some(DType::I64) {
                4
            } else if broadcast_5d() {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::Mul { .. } => {
            let quantized =
                t(0).is_some_and(|t| t.quant.is_some()) || t(1).is_some_and(|t| t.quant.is_some());
            let scale = |t: Option<&Tensor>| -> f32 {
                t.and_then(|t| t.quant.as_ref())
                    .and_then(|q| q.scales.first().copied())
                    .unwrap_or(0.0)
            };
            let (s1, s2, so) = (scale(t(0)), scale(t(1)), scale(out));
            if ty(0) == i16_ && !quantized {
                7
            } else if ty(0) == Some(DType::I64) {
                5
            } else if ty(0) == i16_ {
                4
            } else if s1 != 0.0 && s2 != 0.0 && so != 0.0 && f64::from(s1 * s2 / so) >= 1.0 {
                3
            } else {
                by_int8(2)
            }
        }
        // The converter writes PRELU as version 1, int8 included.
        OpKind::Prelu => 1,
        OpKind::Maximum | OpKind::Minimum => {
            if ty(0) == i16_ && out_ty == i16_ {
                4
            } else if broadcast_5d() {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::Softmax { .. } | OpKind::Mean { .. } | OpKind::Relu6 => {
            if ty(0) == i16_ {
                3
            } else {
                by_int8(2)
            }
        }
        // int16 too is version 2 (the converter's 16x8 LOGISTIC and TANH:
        // `logistic_16x8`, `tanh_16x8`).
        OpKind::Logistic | OpKind::Tanh => {
            if ty(0) == i16_ && out_ty == i16_ {
                2
            } else {
                by_int8(2)
            }
        }
        OpKind::Relu => {
            if ty(0) == i16_ {
                3
            } else if ty(0) == i8_ || ty(0) == Some(DType::U8) {
                2
            } else {
                1
            }
        }
        OpKind::LeakyRelu { .. } => {
            if ty(0) == i16_ {
                2
            } else {
                1
            }
        }
        OpKind::Concatenation { .. } => {
            if ty(0) == i16_ {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::Pad { .. } => {
            if rank0 > 4 {
                4
            } else if ty(0) == i16_ {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::ResizeBilinear(r) => {
            if ty(0) == i16_ {
                4
            } else if r.half_pixel_centers {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::ResizeNearestNeighbor(r) => {
            if ty(0) == i16_ {
                4
            } else if r.half_pixel_centers || r.align_corners {
                3
            } else {
                by_int8(2)
            }
        }
        // IR inputs: data, filter, bias; the file's: shape, filter, data, bias.
        OpKind::TransposeConv(a) => {
            if a.activation != tinyq_ir::Activation::None {
                4
            } else if op.inputs.len() == 3 {
                3
            } else if ty(1) == i8_ {
                2
            } else {
                1
            }
        }
        OpKind::Transpose { .. } => {
            if rank0 > 5 {
                6
            } else if ty(0) == i16_ {
                5
            } else if rank0 > 4 {
                4
            } else if ty(0) == Some(DType::Bool) {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::SpaceToDepth { .. } | OpKind::DepthToSpace { .. } | OpKind::Gather { .. } => {
            by_int8(2)
        }
        OpKind::StridedSlice(s) => {
            if s.offset {
                8
            } else if s.ellipsis_mask != 0 || s.new_axis_mask != 0 {
                6
            } else if rank0 > 4 {
                4
            } else if ty(0) == Some(DType::Bool) {
                3
            } else {
                by_int8(2)
            }
        }
        OpKind::Dequantize => {
            if ty(0) == i16_ {
                3
            } else if quantized_int8 {
                let axis = t(0).and_then(|t| t.quant.as_ref()).map_or(0, |q| q.axis);
                if t(0).is_some_and(|t| per_channel(t, axis)) {
                    5
                } else {
                    2
                }
            } else {
                1
            }
        }
        OpKind::Quantize => {
            let axis = out.and_then(|t| t.quant.as_ref()).map_or(0, |q| q.axis);
            // An int16 requantization (int16 in and out) is version 2, as
            // the converter writes it; QUANTIZE from float to int16 is 1.
            let requant_16 = [t(0), out]
                .iter()
                .all(|t| t.is_some_and(|t| t.dtype == DType::I16));
            if out.is_some_and(|t| per_channel(t, axis)) {
                3
            } else if out_ty == i16_ || requant_16 {
                2
            } else {
                1
            }
        }
        // Version 1 whatever the type (SQUEEZE 2 is for strings).
        OpKind::Reshape
        | OpKind::Squeeze
        | OpKind::ExpandDims
        | OpKind::HardSwish
        | OpKind::ReluN1To1
        | OpKind::Lut(_) => 1,
    }
}

/// More than one scale, one per slice along `axis` (op_signature.cc's test).
fn per_channel(t: &Tensor, axis: usize) -> bool {
    t.quant
        .as_ref()
        .is_some_and(|q| q.scales.len() > 1 && t.shape.get(axis).copied() == Some(q.scales.len()))
}

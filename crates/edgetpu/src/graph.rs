//! The model after tinyq's folding: a view of a [`Graph`], the op list that
//! `tinyq quantize -o` writes. Parameters the Graph keeps as attributes
//! (axes, paddings, strides) become [`Attrs`]; they are constant by
//! construction.

use tinyq_ir::op::activation_name;
use tinyq_ir::{DType, Graph, OpKind, Tensor, TensorId};

use crate::model::{Attrs, ElemType, Input, ModelView, OpView, Role, TensorView};

/// The view of `graph`. With `as_int8`, float tensors are seen as the int8
/// tensors `tinyq quantize` would make of them (weights and activations
/// int8, biases int32), to judge a float model's op kinds as if quantized.
pub fn view_of_graph(graph: &Graph, as_int8: bool) -> ModelView {
    let ops = graph
        .ops
        .iter()
        .enumerate()
        .map(|(position, (_, op))| {
            let name = match (&op.kind, op.inputs.len()) {
                // PAD with a pad-value input is PADV2 in TFLite.
                (OpKind::Pad { .. }, 2) => "PADV2",
                (kind, _) => kind.name(),
            };
            let mut view = OpView::new(op.origin.unwrap_or(position), name);
            let weighted = matches!(
                op.kind,
                OpKind::Conv2D(_)
                    | OpKind::DepthwiseConv2D(_)
                    | OpKind::FullyConnected(_)
                    | OpKind::TransposeConv(_)
            );
            view.inputs = op
                .inputs
                .iter()
                .enumerate()
                .map(|(i, &id)| {
                    let role = match (weighted, i) {
                        (true, 1) => Role::Weights,
                        (true, 2) => Role::Bias,
                        (false, 1) if name == "PADV2" => Role::Param,
                        (false, 1) if name == "PRELU" => Role::Weights,
                        _ => Role::Data,
                    };
                    let tensor = tensor_view(graph, id, as_int8, role);
                    Input {
                        role,
                        tensor: Some(tensor),
                    }
                })
                .collect();
            view.outputs = op
                .outputs
                .iter()
                .map(|&id| tensor_view(graph, id, as_int8, Role::Data))
                .collect();
            view.attrs = attrs(&op.kind);
            if let OpKind::Concatenation { .. } = op.kind {
                for (input, &id) in view.inputs.iter_mut().zip(&op.inputs) {
                    if let Some(t) = input.tensor.as_mut().filter(|t| t.constant) {
                        t.all_zero = Some(all_zero(graph.tensor(id)));
                    }
                }
            }
            view
        })
        .collect();
    ModelView { ops }
}

fn tensor_view(graph: &Graph, id: TensorId, as_int8: bool, role: Role) -> TensorView {
    let t = graph.tensor(id);
    let mut dtype = elem_type(t.dtype);
    let mut quantized = t.quant.is_some();
    if as_int8 && t.dtype == DType::F32 {
        dtype = if role == Role::Bias {
            ElemType::I32
        } else {
            ElemType::I8
        };
        quantized = true;
    }
    TensorView {
        id: id.index(),
        name: t.name.clone(),
        shape: t.shape.clone(),
        dtype,
        quantized,
        constant: t.is_const(),
        dynamic: None,
        all_zero: None,
    }
}

fn elem_type(d: DType) -> ElemType {
    match d {
        DType::F32 => ElemType::F32,
        DType::I8 => ElemType::I8,
        DType::U8 => ElemType::U8,
        DType::I16 => ElemType::I16,
        DType::I32 => ElemType::I32,
        DType::I64 => ElemType::I64,
        DType::Bool => ElemType::Bool,
        DType::U32 => ElemType::Other("UINT32".into()),
        DType::U64 => ElemType::Other("UINT64".into()),
    }
}

/// Whether every element of a constant is a real zero.
fn all_zero(t: &Tensor) -> bool {
    let zp = t.scale_zp().map_or(0, |(_, zp)| zp);
    let Some(data) = &t.data else { return false };
    match t.dtype {
        DType::I8 => data.iter().all(|&b| i64::from(b as i8) == zp),
        DType::U8 => data.iter().all(|&b| i64::from(b) == zp),
        DType::F32 => t.const_f32().is_some_and(|v| v.iter().all(|&x| x == 0.0)),
        _ => data.iter().all(|&b| b == 0),
    }
}

fn attrs(kind: &OpKind) -> Attrs {
    let to_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<_>>();
    let mut a = Attrs {
        activation: kind.activation().map(|x| activation_name(x).to_owned()),
        ..Attrs::default()
    };
    match kind {
        OpKind::Conv2D(c) => a.dilation = Some((c.dilation.h as i64, c.dilation.w as i64)),
        OpKind::DepthwiseConv2D(c) => {
            a.dilation = Some((c.dilation.h as i64, c.dilation.w as i64));
        }
        OpKind::Mean { axes, .. } => a.axes = Some(to_i64(axes)),
        OpKind::Pad { paddings } => {
            a.paddings = Some(
                paddings
                    .iter()
                    .map(|&(b, e)| (b as i64, e as i64))
                    .collect(),
            );
        }
        OpKind::StridedSlice(s) => {
            a.strides = Some(s.strides.iter().map(|&x| i64::from(x)).collect());
            a.ellipsis_mask = s.ellipsis_mask;
            a.new_axis_mask = s.new_axis_mask;
        }
        OpKind::Concatenation { axis, .. } => a.axis = Some(*axis as i64),
        _ => {}
    }
    a
}

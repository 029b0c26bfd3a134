//! Per-op cost figures shared by `inspect` and the compile summary.

use crate::graph::{Graph, OpId};
use crate::op::OpKind;

/// Cost of one op: multiply-accumulates and bytes of constant parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpCost {
    pub macs: u64,
    pub param_bytes: u64,
}

/// MACs and parameter bytes of `op`. MACs count the multiply-accumulates of
/// the convolution and matrix kernels (BATCH_MATMUL's too) and the products of MUL; data movement
/// and element-wise ops count zero.
pub fn op_cost(graph: &Graph, op: OpId) -> OpCost {
    let op = &graph.ops[op];
    let param_bytes = op
        .inputs
        .iter()
        .map(|&t| graph.tensor(t))
        .filter(|t| t.is_const())
        .map(|t| t.data.as_ref().map_or(0, |d| d.len() as u64))
        .sum();
    let out_elems = op
        .outputs
        .first()
        .and_then(|&t| graph.tensor(t).num_elements())
        .unwrap_or(0) as u64;
    let filter_shape = op.inputs.get(1).map(|&t| graph.tensor(t).shape.as_slice());
    let macs = match (&op.kind, filter_shape) {
        // OHWI: every output element reads KH*KW*I filter taps.
        (OpKind::Conv2D(_), Some([_, kh, kw, ci])) => out_elems * (kh * kw * ci) as u64,
        // [1,KH,KW,C*M]: one tap per output element per window cell.
        (OpKind::DepthwiseConv2D(_), Some([_, kh, kw, _])) => out_elems * (kh * kw) as u64,
        // [O,I]: every output element is a dot product of length I.
        (OpKind::FullyConnected(_), Some([_, depth])) => out_elems * *depth as u64,
        (OpKind::Mul { .. }, _) => out_elems,
        // Every output element is a dot product over the depth: the lhs's
        // last dimension, or its second-to-last with adj_x.
        (OpKind::BatchMatMul { adj_x, .. }, _) => {
            let lhs = op.inputs.first().map(|&t| graph.tensor(t).shape.as_slice());
            let depth = match lhs {
                Some([.., d, _]) if *adj_x => *d,
                Some([.., d]) => *d,
                _ => 0,
            };
            out_elems * depth as u64
        }
        // OHWI: every input element meets every tap of every output channel
        // (TFLite's count, taps falling outside the output included).
        (OpKind::TransposeConv(_), Some([oc, kh, kw, _])) => {
            let in_elems = op
                .inputs
                .first()
                .and_then(|&t| graph.tensor(t).num_elements())
                .unwrap_or(0) as u64;
            in_elems * (oc * kh * kw) as u64
        }
        _ => 0,
    };
    OpCost { macs, param_bytes }
}

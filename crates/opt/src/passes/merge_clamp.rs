//! A standalone RELU / RELU6 / RELU_N1_TO_1 merged into the fused activation
//! of the op producing its input.
//!
//! The producer clamps its int32 result to the int8 range anyway; a fused
//! activation clamps to `[lo, hi]` inside that range instead. So the merge
//! is exact exactly when the standalone op, on every int8 value, equals
//! `clamp(x, lo, hi)` with the `lo, hi` the producer would derive for that
//! activation. The pass checks that on all 256 inputs rather than trusting
//! equal scales to imply it (TFLM's RELU rescales through a multiplier).

use tinyq_ir::{Activation, DType, Graph, OpId, OpKind};
use tinyq_kernels::fixedpoint::activation_range;

use super::count;
use crate::error::LowerError;
use crate::pass::{Pass, PassOutcome};
use crate::tables::table_of;

/// The `merge-clamp` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeClamp;

impl Pass for MergeClamp {
    fn name(&self) -> &'static str {
        "merge-clamp"
    }

    fn description(&self) -> &'static str {
        "merges standalone RELU/RELU6/RELU_N1_TO_1 into the producer's fused activation where exact"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let mut merged: Vec<OpId> = Vec::new();
        let ids: Vec<OpId> = graph.ops.handles().collect();
        for relu_id in ids {
            let du = graph.def_use();
            let relu = &graph.ops[relu_id];
            let activation = match relu.kind {
                OpKind::Relu => Activation::Relu,
                OpKind::Relu6 => Activation::Relu6,
                OpKind::ReluN1To1 => Activation::ReluN1To1,
                _ => continue,
            };
            let (Some(&input), Some(&output)) = (relu.inputs.first(), relu.outputs.first()) else {
                continue;
            };
            let Some(producer_id) = du.producer(input) else {
                continue;
            };
            if du.sole_consumer(input) != Some(relu_id) {
                continue;
            }
            let (x, y) = (graph.tensor(input), graph.tensor(output));
            if x.dtype != DType::I8 || y.dtype != DType::I8 || x.quant != y.quant {
                continue;
            }
            let producer = &graph.ops[producer_id];
            if producer.kind.activation() != Some(Activation::None)
                || matches!(producer.kind, OpKind::Concatenation { .. })
                || producer.outputs.len() != 1
            {
                continue;
            }
            let Some((scale, zero_point)) = y.scale_zp() else {
                continue;
            };
            let (lo, hi) = activation_range(activation, scale, zero_point as i32, -128, 127);
            let Ok(Some(table)) = table_of(&relu.kind, x, y) else {
                continue;
            };
            let is_clamp = (-128i32..=127).all(|v| {
                let byte = usize::from(v as i8 as u8);
                i32::from(table[byte] as i8) == v.clamp(lo, hi)
            });
            if !is_clamp {
                continue;
            }
            let producer = &mut graph.ops[producer_id];
            set_activation(&mut producer.kind, activation);
            producer.outputs[0] = output;
            merged.push(relu_id);
        }
        graph.remove_ops(&merged);
        graph.compact();
        Ok(PassOutcome::changed(
            merged.len(),
            format!(
                "{} merged into the producer's clamp",
                count(merged.len(), "activation op")
            ),
        ))
    }
}

fn set_activation(kind: &mut OpKind, activation: Activation) {
    match kind {
        OpKind::Conv2D(a) => a.activation = activation,
        OpKind::DepthwiseConv2D(a) => a.activation = activation,
        OpKind::FullyConnected(a) => a.activation = activation,
        OpKind::TransposeConv(a) => a.activation = activation,
        OpKind::AveragePool2D(a) | OpKind::MaxPool2D(a) => a.activation = activation,
        OpKind::Add { activation: a }
        | OpKind::Sub { activation: a }
        | OpKind::Mul { activation: a } => *a = activation,
        _ => {}
    }
}

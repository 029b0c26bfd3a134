//! PAD folded into the padding of the convolution or max pool that reads it.
//!
//! TFLM's convolutions skip taps outside the input, which is exactly what a
//! tap on a padded cell holding the input zero point contributes
//! (`w * (zp - zp) = 0`), so a PAD of H/W only, with the zero point as its
//! value, folds into CONV_2D / DEPTHWISE_CONV_2D. MAX_POOL_2D also skips
//! cells outside the input; a padded cell changes nothing only when it holds
//! the type's minimum, so that is the only pad value folded into it.
//! AVERAGE_POOL_2D divides by the number of cells inside the input, so a
//! PAD never folds into it.

use tinyq_ir::op::Padding2D;
use tinyq_ir::{DType, Graph, OpId, OpKind, Tensor};

use super::count;
use crate::error::LowerError;
use crate::pass::{Pass, PassOutcome};

/// The `fold-pad` pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoldPad;

impl Pass for FoldPad {
    fn name(&self) -> &'static str {
        "fold-pad"
    }

    fn description(&self) -> &'static str {
        "folds PAD into the next convolution's (or max pool's) padding where exact"
    }

    fn run(&self, graph: &mut Graph) -> Result<PassOutcome, LowerError> {
        let du = graph.def_use();
        let mut folded: Vec<OpId> = Vec::new();
        let ids: Vec<OpId> = graph.ops.handles().collect();
        for pad_id in ids {
            let pad = &graph.ops[pad_id];
            let OpKind::Pad { paddings } = &pad.kind else {
                continue;
            };
            let (Some(&input), Some(&padded)) = (pad.inputs.first(), pad.outputs.first()) else {
                continue;
            };
            let Some(user) = du.sole_consumer(padded) else {
                continue;
            };
            let Some(hw) = spatial_padding(paddings) else {
                continue;
            };
            let Some(value) = pad_value(graph, pad_id) else {
                continue;
            };
            let (x, y) = (graph.tensor(input), graph.tensor(padded));
            if x.dtype != y.dtype || x.quant != y.quant || x.dtype != DType::I8 {
                continue;
            }
            let consumer = &graph.ops[user];
            // The padded tensor must be the data input, and only that.
            if consumer.inputs.first() != Some(&padded) || consumer.inputs[1..].contains(&padded) {
                continue;
            }
            let Some(zero_point) = x.scale_zp().map(|(_, z)| z) else {
                continue;
            };
            let exact = match &consumer.kind {
                OpKind::Conv2D(_) | OpKind::DepthwiseConv2D(_) => value == zero_point,
                OpKind::MaxPool2D(_) => value == i64::from(i8::MIN),
                _ => false,
            };
            if !exact {
                continue;
            }
            let consumer = &mut graph.ops[user];
            match &mut consumer.kind {
                OpKind::Conv2D(a) => add(&mut a.padding, hw),
                OpKind::DepthwiseConv2D(a) => add(&mut a.padding, hw),
                OpKind::MaxPool2D(a) => add(&mut a.padding, hw),
                _ => continue,
            }
            consumer.inputs[0] = input;
            folded.push(pad_id);
        }
        graph.remove_ops(&folded);
        graph.compact();
        Ok(PassOutcome::changed(
            folded.len(),
            format!(
                "{} folded into the next op's padding",
                count(folded.len(), "PAD op")
            ),
        ))
    }
}

/// The H/W padding of an NHWC PAD that leaves batch and channels alone.
fn spatial_padding(paddings: &[(usize, usize)]) -> Option<Padding2D> {
    match paddings {
        [(0, 0), (top, bottom), (left, right), (0, 0)] => Some(Padding2D {
            top: *top,
            bottom: *bottom,
            left: *left,
            right: *right,
        }),
        _ => None,
    }
}

/// The code PAD fills with: PADV2's constant, else the output zero point
/// (TFLM's PAD on quantized tensors).
fn pad_value(graph: &Graph, pad: OpId) -> Option<i64> {
    let op = &graph.ops[pad];
    match op.inputs.get(1) {
        Some(&v) => {
            let t: &Tensor = graph.tensor(v);
            match (t.dtype, t.data.as_deref()) {
                (DType::I8, Some([b])) => Some(i64::from(*b as i8)),
                _ => None,
            }
        }
        None => graph
            .tensor(*op.outputs.first()?)
            .scale_zp()
            .map(|(_, z)| z),
    }
}

fn add(p: &mut Padding2D, more: Padding2D) {
    p.top += more.top;
    p.bottom += more.bottom;
    p.left += more.left;
    p.right += more.right;
}

//! Accumulator overflow analysis: can a CONV_2D, DEPTHWISE_CONV_2D or
//! FULLY_CONNECTED layer's int32 accumulator exceed int32 on some input?
//!
//! TFLM accumulates `Σ (x − zp_x)·(w − zp_w)` and adds the bias in int32
//! arithmetic; when the sum leaves the int32 range the result wraps (C) or
//! differs from what the float model meant. For each output channel the
//! worst case over every input is
//!
//! ```text
//! Σ |w − zp_w| · max|x − zp_x| + |bias|
//! ```
//!
//! where `max|x − zp_x|` is taken over the input dtype's whole range (an
//! 8-bit input can hold any byte). Every partial sum is bounded by the same
//! number, so a layer whose bound fits int32 can never overflow. The bound
//! is computed in `i128` from the actual constant weights and bias.

use core::fmt;

use tinyq_ir::{DType, Graph, OpKind, Tensor};

/// Largest value an int32 accumulator holds.
pub const I32_MAX: i128 = i32::MAX as i128;

/// One layer whose accumulator can exceed int32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccumulatorOverflow {
    /// Index of the operator in the model as given (when known).
    pub operator: Option<usize>,
    /// `CONV_2D`, `DEPTHWISE_CONV_2D` or `FULLY_CONNECTED`.
    pub op: &'static str,
    /// Name of the layer's output tensor.
    pub output: String,
    /// The output channel with the largest bound.
    pub channel: usize,
    /// The worst-case accumulator magnitude of that channel.
    pub bound: i128,
    /// How many output channels can exceed int32.
    pub channels_over: usize,
    /// Output channels in all.
    pub channels: usize,
}

impl fmt::Display for AccumulatorOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Some(i) => write!(f, "operator {i} ")?,
            None => write!(f, "operator ")?,
        }
        write!(
            f,
            "({} -> {:?}): the int32 accumulator can reach {} on output channel {} \
             ({} of {} channels exceed {}); TFLM's int32 sum would wrap on such inputs \
             (smaller weights, fewer inputs per output or a narrower input range avoid it)",
            self.op,
            self.output,
            self.bound,
            self.channel,
            self.channels_over,
            self.channels,
            I32_MAX
        )
    }
}

/// `max |x − zp|` over every value an input of `tensor`'s dtype can hold.
fn input_magnitude(tensor: &Tensor) -> Option<i128> {
    let zp = i128::from(tensor.quant.as_ref().map_or(0, |q| q.zero_point()));
    let (lo, hi) = match tensor.dtype {
        DType::I8 => (-128i128, 127i128),
        DType::U8 => (0, 255),
        DType::I16 => (-32768, 32767),
        _ => return None,
    };
    Some((hi - zp).abs().max((zp - lo).abs()))
}

/// The constant filter's values as integers.
fn filter_values(filter: &Tensor) -> Option<Vec<i128>> {
    let data = filter.data.as_ref()?;
    match filter.dtype {
        DType::I8 => Some(data.iter().map(|&b| i128::from(b as i8)).collect()),
        DType::U8 => Some(data.iter().map(|&b| i128::from(b)).collect()),
        _ => None,
    }
}

fn weight_zero_point(filter: &Tensor, channel: usize) -> i128 {
    match &filter.quant {
        Some(q) if q.zero_points.len() > 1 => {
            i128::from(q.zero_points.get(channel).copied().unwrap_or(0))
        }
        Some(q) => i128::from(q.zero_point()),
        None => 0,
    }
}

/// The per-output-channel bounds of one layer, or `None` when it is not an
/// 8-bit layer with constant weights (nothing to analyse).
pub fn layer_bounds(graph: &Graph, op: &tinyq_ir::Op) -> Option<Vec<i128>> {
    let input = graph.tensor(*op.inputs.first()?);
    let filter = graph.tensor(*op.inputs.get(1)?);
    let magnitude = input_magnitude(input)?;
    let values = filter_values(filter)?;
    let shape = &filter.shape;
    // (output channels, channel of flat element i).
    let (channels, per_channel): (usize, Box<dyn Fn(usize) -> usize>) = match &op.kind {
        OpKind::Conv2D(_) | OpKind::FullyConnected(_) => {
            let o = *shape.first()?;
            let inner = values.len().checked_div(o)?;
            (o, Box::new(move |i| i / inner.max(1)))
        }
        OpKind::DepthwiseConv2D(_) => {
            let c = *shape.last()?;
            if c == 0 {
                return None;
            }
            (c, Box::new(move |i| i % c))
        }
        _ => return None,
    };
    let mut sums = vec![0i128; channels];
    for (i, &w) in values.iter().enumerate() {
        let c = per_channel(i);
        let slot = sums.get_mut(c)?;
        *slot += (w - weight_zero_point(filter, c)).abs();
    }
    let bias: Vec<i128> = match op.inputs.get(2).map(|&b| graph.tensor(b)) {
        Some(b) if b.dtype == DType::I32 => b
            .data
            .as_ref()?
            .chunks_exact(4)
            .map(|c| i128::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        Some(b) if b.dtype == DType::I64 => b
            .data
            .as_ref()?
            .chunks_exact(8)
            .map(|c| {
                i128::from(i64::from_le_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(
        sums.iter()
            .enumerate()
            .map(|(c, &s)| {
                let b = bias.get(c).copied().unwrap_or(0).abs();
                s * magnitude + b
            })
            .collect(),
    )
}

/// Every 8-bit CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layer of
/// `graph` whose int32 accumulator can exceed `i32::MAX`, in op order.
pub fn accumulator_overflows(graph: &Graph) -> Vec<AccumulatorOverflow> {
    let mut found = Vec::new();
    for (_, op) in graph.ops.iter() {
        if !matches!(
            op.kind,
            OpKind::Conv2D(_) | OpKind::DepthwiseConv2D(_) | OpKind::FullyConnected(_)
        ) {
            continue;
        }
        // 16-bit activations accumulate in int64 in TFLM.
        if op
            .inputs
            .first()
            .is_some_and(|&i| graph.tensor(i).dtype == DType::I16)
        {
            continue;
        }
        let Some(bounds) = layer_bounds(graph, op) else {
            continue;
        };
        let over = bounds.iter().filter(|&&b| b > I32_MAX).count();
        if over == 0 {
            continue;
        }
        let (channel, &bound) = bounds
            .iter()
            .enumerate()
            .max_by_key(|&(_, b)| *b)
            .unwrap_or((0, &0));
        found.push(AccumulatorOverflow {
            operator: op.origin,
            op: op.kind.name(),
            output: op
                .outputs
                .first()
                .map(|&o| graph.tensor(o).name.clone())
                .unwrap_or_default(),
            channel,
            bound,
            channels_over: over,
            channels: bounds.len(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyq_ir::op::FullyConnected;
    use tinyq_ir::{Activation, Op, Quantization};

    /// input `[1, k]` int8 (zp −128) → FULLY_CONNECTED with `k` weights of
    /// 127 and the given bias → `[1, 1]`.
    fn fc(k: usize, bias: i32) -> Graph {
        let mut g = Graph::new();
        let mut input = Tensor::new("in", vec![1, k], DType::I8);
        input.quant = Some(Quantization::per_tensor(0.1, -128));
        let input = g.tensors.push(input);
        let mut w = Tensor::new("w", vec![1, k], DType::I8);
        w.quant = Some(Quantization::per_tensor(0.01, 0));
        w.data = Some(vec![127u8; k]);
        let w = g.tensors.push(w);
        let mut b = Tensor::new("b", vec![1], DType::I32);
        b.quant = Some(Quantization::per_tensor(0.001, 0));
        b.data = Some(bias.to_le_bytes().to_vec());
        let b = g.tensors.push(b);
        let mut out = Tensor::new("logits", vec![1, 1], DType::I8);
        out.quant = Some(Quantization::per_tensor(1.0, 0));
        let out = g.tensors.push(out);
        g.ops.push(Op {
            kind: OpKind::FullyConnected(FullyConnected {
                keep_num_dims: false,
                activation: Activation::None,
            }),
            inputs: vec![input, w, b],
            outputs: vec![out],
            origin: Some(7),
        });
        g.inputs = vec![input];
        g.outputs = vec![out];
        g
    }

    // 127 · 255 = 32385 per input; 66311 · 32385 = 2,147,481,735.
    const K: usize = 66_311;
    const SLACK: i32 = 2_147_483_647 - 2_147_481_735;

    #[test]
    fn exactly_int32_max_is_silent() {
        let g = fc(K, SLACK);
        assert_eq!(
            layer_bounds(&g, g.ops.iter().next().expect("op").1),
            Some(vec![I32_MAX])
        );
        assert!(accumulator_overflows(&g).is_empty());
        assert!(accumulator_overflows(&fc(K, -SLACK)).is_empty());
    }

    #[test]
    fn one_above_int32_max_warns_naming_the_layer() {
        let found = accumulator_overflows(&fc(K, SLACK + 1));
        assert_eq!(found.len(), 1);
        let o = &found[0];
        assert_eq!(
            (o.operator, o.op, o.output.as_str()),
            (Some(7), "FULLY_CONNECTED", "logits")
        );
        assert_eq!(o.bound, I32_MAX + 1);
        let line = o.to_string();
        assert!(
            line.contains("operator 7") && line.contains("\"logits\""),
            "{line}"
        );
        // Negative bias counts by magnitude.
        assert_eq!(accumulator_overflows(&fc(K, -SLACK - 1)).len(), 1);
    }

    #[test]
    fn one_more_input_crosses_the_boundary() {
        assert!(accumulator_overflows(&fc(K, 0)).is_empty());
        assert_eq!(accumulator_overflows(&fc(K + 1, 0)).len(), 1);
    }

    #[test]
    fn depthwise_channels_are_the_last_axis() {
        use tinyq_ir::Padding2D;
        use tinyq_ir::op::{DepthwiseConv2D, Hw};
        let mut g = Graph::new();
        let mut input = Tensor::new("in", vec![1, 1, 1, 2], DType::I8);
        input.quant = Some(Quantization::per_tensor(0.1, 0));
        let input = g.tensors.push(input);
        // Channel 0 all -128 (|w| = 128), channel 1 all 1.
        let mut w = Tensor::new("w", vec![1, 1, 1, 2], DType::I8);
        w.data = Some(vec![0x80, 1]);
        let w = g.tensors.push(w);
        let out = g
            .tensors
            .push(Tensor::new("dw", vec![1, 1, 1, 2], DType::I8));
        g.ops.push(Op {
            kind: OpKind::DepthwiseConv2D(DepthwiseConv2D {
                stride: Hw { h: 1, w: 1 },
                dilation: Hw { h: 1, w: 1 },
                padding: Padding2D::default(),
                depth_multiplier: 1,
                activation: Activation::None,
            }),
            inputs: vec![input, w],
            outputs: vec![out],
            origin: Some(0),
        });
        let op = g.ops.iter().next().expect("op").1.clone();
        // zp 0: max |x| = 128.
        assert_eq!(layer_bounds(&g, &op), Some(vec![128 * 128, 128]));
    }
}

//! Dynamic-range quantization, as the TF converter's
//! `optimizations = [Optimize.DEFAULT]` without a representative dataset
//! writes it: the constant weights of CONV_2D, DEPTHWISE_CONV_2D and
//! FULLY_CONNECTED become int8 with one symmetric scale per output channel
//! (the same numerics as full-integer quantization's weights), consumed
//! directly by the float op (a "hybrid" op); activations, biases and every
//! other op stay float32. No calibration data is needed.

use tinyq_ir::{DType, Graph, GraphKind, OpKind, Quantization, TensorId, validate};

use crate::error::QuantError;
use crate::params;

/// Filters with fewer values stay float, as the converter leaves them
/// (`minimum_elements_for_weights`, 1024): int8 saves little there.
pub const MIN_ELEMENTS: usize = 1024;

/// The filter operand's output-channel axis, for the ops whose weights
/// dynamic-range quantization stores as int8.
fn channel_axis(kind: &OpKind) -> Option<usize> {
    match kind {
        OpKind::Conv2D(_) | OpKind::FullyConnected(_) => Some(0),
        OpKind::DepthwiseConv2D(_) => Some(3),
        _ => None,
    }
}

/// Quantizes the weights of a float32 graph for dynamic range; see the
/// module documentation.
pub fn quantize_dynamic(graph: &Graph) -> Result<Graph, QuantError> {
    validate(graph)?;
    if graph.kind() != GraphKind::Float {
        let t = graph
            .tensors
            .iter()
            .map(|(_, t)| t)
            .find(|t| !t.is_const() && t.dtype != DType::F32);
        return Err(match t {
            Some(t) => QuantError::NotFloatModel {
                name: t.name.clone(),
                dtype: t.dtype.name(),
            },
            None => QuantError::Calibration("the model is not a float32 model".into()),
        });
    }
    let mut out = graph.clone();
    for (i, (_, op)) in graph.ops.iter().enumerate() {
        let Some(axis) = channel_axis(&op.kind) else {
            continue;
        };
        let Some(&filter) = op.inputs.get(1) else {
            continue;
        };
        let t = graph.tensor(filter);
        if t.dtype == DType::I8 {
            return Err(QuantError::Unsupported {
                index: op.origin.unwrap_or(i),
                op: op.kind.name(),
                why: format!(
                    "weights {:?} are already int8 (a dynamic-range model); quantize the float model instead",
                    t.name
                ),
            });
        }
        let Some(values) = t.const_f32() else {
            continue; // computed weights stay float
        };
        if values.len() < MIN_ELEMENTS || !only_filter_uses(graph, filter) {
            continue;
        }
        let (q, scales) = params::quantize_weights_per_channel(&values, &t.shape, axis);
        let w = &mut out.tensors[filter];
        if w.dtype == DType::I8 {
            continue; // shared by an earlier op, already done
        }
        w.dtype = DType::I8;
        w.data = Some(q.into_iter().map(|v| v as u8).collect());
        w.quant = Some(Quantization {
            zero_points: vec![0; scales.len()],
            scales,
            axis,
        });
    }
    validate(&out)?;
    Ok(out)
}

/// True when every op reading `t` reads it as the filter of an op whose
/// weights become int8 along the same axis, so no float op sees int8.
fn only_filter_uses(graph: &Graph, t: TensorId) -> bool {
    let axis = graph
        .ops
        .iter()
        .find(|(_, op)| op.inputs.get(1) == Some(&t))
        .and_then(|(_, op)| channel_axis(&op.kind));
    !graph.outputs.contains(&t)
        && graph.ops.iter().all(|(_, op)| {
            op.inputs.iter().enumerate().all(|(k, &x)| {
                x != t
                    || (k == 1
                        && channel_axis(&op.kind).is_some()
                        && channel_axis(&op.kind) == axis)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinyq_ir::op::FullyConnected;
    use tinyq_ir::{Activation, Op, Tensor};

    fn dense(units: usize, depth: usize) -> Graph {
        let mut g = Graph::new();
        let x = g.tensors.push(Tensor::new("x", vec![1, depth], DType::F32));
        let values: Vec<u8> = (0..units * depth)
            .flat_map(|i| ((i % 7) as f32 - 3.0).to_le_bytes())
            .collect();
        let w = g.tensors.push(Tensor {
            name: "w".into(),
            shape: vec![units, depth],
            dtype: DType::F32,
            quant: None,
            data: Some(values),
        });
        let y = g.tensors.push(Tensor::new("y", vec![1, units], DType::F32));
        g.ops.push(Op {
            kind: OpKind::FullyConnected(FullyConnected {
                keep_num_dims: false,
                activation: Activation::None,
            }),
            inputs: vec![x, w],
            outputs: vec![y],
            origin: None,
        });
        g.inputs = vec![x];
        g.outputs = vec![y];
        g
    }

    #[test]
    fn large_filters_become_int8_per_channel() {
        let q = quantize_dynamic(&dense(8, 128)).expect("quantizes");
        let w = q
            .tensors
            .iter()
            .map(|(_, t)| t)
            .find(|t| t.name == "w")
            .expect("w");
        assert_eq!(w.dtype, DType::I8);
        let quant = w.quant.as_ref().expect("quantized");
        assert_eq!((quant.scales.len(), quant.axis), (8, 0));
        assert!(quant.zero_points.iter().all(|&z| z == 0));
        // |w| <= 3: the largest magnitude maps to 127.
        assert_eq!(quant.scales[0], 6.0f32 / 254.0);
        assert_eq!(q.kind(), GraphKind::Float);
    }

    #[test]
    fn small_filters_stay_float() {
        let g = dense(8, 127);
        assert_eq!(quantize_dynamic(&g).expect("quantizes"), g);
    }

    #[test]
    fn a_dynamic_range_model_is_refused() {
        let q = quantize_dynamic(&dense(8, 128)).expect("quantizes");
        let e = quantize_dynamic(&q).expect_err("already int8");
        assert!(e.to_string().contains("already int8"), "{e}");
    }
}

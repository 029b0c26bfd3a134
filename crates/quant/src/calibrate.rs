//! Calibration: checking the representative dataset and running it through
//! the float model to observe every activation tensor's range.

use ndarray::{ArrayD, Axis};
use tinyq_ir::Graph;

use crate::error::QuantError;
use crate::exec::FloatModel;
use crate::observer::{Histogram, Method, MinMax};

/// Splits calibration arrays (one per graph input, `[N, ...input shape]`,
/// the input's leading batch of 1 optional) into samples, checking counts,
/// shapes and values. Returns `samples[i][k]` = sample `i` of input `k`.
pub fn split_samples(
    graph: &Graph,
    arrays: &[ArrayD<f32>],
) -> Result<Vec<Vec<ArrayD<f32>>>, QuantError> {
    let err = |why: String| QuantError::Calibration(why);
    if arrays.len() != graph.inputs.len() {
        return Err(err(format!(
            "the model has {} inputs but {} calibration arrays were given (give one array per input)",
            graph.inputs.len(),
            arrays.len()
        )));
    }
    let mut n_samples = None;
    let mut per_input = Vec::with_capacity(arrays.len());
    for (k, (array, &id)) in arrays.iter().zip(&graph.inputs).enumerate() {
        let t = graph.tensor(id);
        let shape = array.shape();
        let fits = shape
            .split_first()
            .is_some_and(|(_, rest)| same_up_to_unit_dims(rest, &t.shape));
        if !fits {
            return Err(err(format!(
                "array {k} has shape {shape:?}, which does not hold samples of input {:?} (shape {:?}); expected [N, {}] (size-1 dimensions may be left out)",
                t.name,
                t.shape,
                t.shape
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let n = shape[0];
        if n == 0 {
            return Err(err(format!("array {k} holds no samples")));
        }
        if let Some((bad, v)) = crate::npy::first_non_finite(array.iter()) {
            return Err(err(format!(
                "array {k} (input {:?}) holds {v} at flat index {bad}; calibration and quantized inputs must be finite",
                t.name
            )));
        }
        match n_samples {
            Some(m) if m != n => {
                return Err(err(format!(
                    "the arrays hold different numbers of samples ({m} and {n})"
                )));
            }
            _ => n_samples = Some(n),
        }
        per_input.push(
            array
                .axis_iter(Axis(0))
                .map(|s| s.to_owned())
                .collect::<Vec<_>>(),
        );
    }
    let n = n_samples.unwrap_or(0);
    Ok((0..n)
        .map(|i| per_input.iter().map(|samples| samples[i].clone()).collect())
        .collect())
}

/// One warning per calibration array that cannot calibrate its input: all
/// zeros, or one constant value (the observed range is then a single
/// point). Names the input.
pub fn calibration_warnings(graph: &Graph, arrays: &[ArrayD<f32>]) -> Vec<String> {
    arrays
        .iter()
        .zip(&graph.inputs)
        .filter_map(|(array, &id)| {
            let name = &graph.tensor(id).name;
            let first = *array.iter().next()?;
            if !array.iter().all(|&v| v == first) {
                return None;
            }
            Some(if first == 0.0 {
                format!("calibration data for input {name:?} is all zeros; its quantization range will be degenerate (give representative inputs)")
            } else {
                format!("calibration data for input {name:?} is constant ({first}); its quantization range will be degenerate (give representative inputs)")
            })
        })
        .collect()
}

/// True when `a` and `b` are equal after dropping their size-1 dimensions
/// (a sample `[28, 28]` fits an input `[1, 28, 28, 1]`).
pub fn same_up_to_unit_dims(a: &[usize], b: &[usize]) -> bool {
    a.iter()
        .filter(|&&d| d != 1)
        .eq(b.iter().filter(|&&d| d != 1))
}

/// Observed range of every tensor (indexed by tensor index; `None` for
/// constants and tensors never computed).
pub type Ranges = Vec<Option<(f32, f32)>>;

/// Runs every sample and returns each tensor's calibration range under
/// `method`. `progress(done, total)` is called after each sample of each pass.
/// The samples stream through a stateful model's state (an LSTM's), as
/// through the TF converter's calibrator, which never resets it.
pub fn calibrate(
    model: &FloatModel<'_>,
    samples: &[Vec<ArrayD<f32>>],
    method: Method,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Ranges, QuantError> {
    let n = model.graph().tensors.len();
    let passes = if method.needs_histogram() { 2 } else { 1 };
    let total = samples.len() * passes;
    let mut minmax = vec![MinMax::default(); n];
    let mut state = model.initial_state();
    for (i, sample) in samples.iter().enumerate() {
        let values = model
            .run_streaming(sample, true, &mut state)
            .map_err(|source| QuantError::Exec { sample: i, source })?;
        for (t, v) in values.iter().enumerate() {
            if let Some(v) = v {
                minmax[t].update(v.iter());
            }
        }
        progress(i + 1, total);
    }
    let ranges: Ranges = minmax
        .iter()
        .map(|m| m.is_set().then_some((m.min, m.max)))
        .collect();
    if !method.needs_histogram() {
        return Ok(ranges);
    }
    let mut hists: Vec<Option<Histogram>> = ranges
        .iter()
        .map(|r| r.map(|(lo, hi)| Histogram::new(lo, hi)))
        .collect();
    let mut state = model.initial_state();
    for (i, sample) in samples.iter().enumerate() {
        let values = model
            .run_streaming(sample, true, &mut state)
            .map_err(|source| QuantError::Exec { sample: i, source })?;
        for (t, v) in values.iter().enumerate() {
            if let (Some(v), Some(h)) = (v, hists[t].as_mut()) {
                h.update(v.iter());
            }
        }
        progress(samples.len() + i + 1, total);
    }
    Ok(hists
        .iter()
        .map(|h| {
            h.as_ref().map(|h| match method {
                Method::Percentile(p) => h.percentile_range(p),
                Method::Mse => h.mse_range(),
                Method::MinMax => (h.lo, h.hi),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;
    use tinyq_ir::{DType, Tensor};

    #[test]
    fn constant_and_all_zero_calibration_data_are_named() {
        let mut g = Graph::new();
        let a = g.tensors.push(Tensor::new("image", vec![1, 2], DType::F32));
        let b = g.tensors.push(Tensor::new("aux", vec![1, 2], DType::F32));
        g.inputs = vec![a, b];
        let zeros = ArrayD::zeros(IxDyn(&[3, 2]));
        let sevens = ArrayD::from_elem(IxDyn(&[3, 2]), 7.0f32);
        let w = calibration_warnings(&g, &[zeros, sevens]);
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("\"image\" is all zeros"), "{}", w[0]);
        assert!(w[1].contains("\"aux\" is constant (7)"), "{}", w[1]);
        let ramp =
            ArrayD::from_shape_vec(IxDyn(&[3, 2]), vec![0., 1., 2., 3., 4., 5.]).expect("shape");
        assert!(calibration_warnings(&g, &[ramp.clone(), ramp]).is_empty());
    }
}

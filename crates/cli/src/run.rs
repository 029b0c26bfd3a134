//! `tinyq run`: the reference interpreter on a file of samples.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use tinyq_interp::Interpreter;
use tinyq_ir::{DType, IoSpec, Program};

use tinyq_compiler::{GraphKind, Session};

use crate::CliError;
use crate::npy::{Samples, read_arrays, write_arrays};
use crate::trace::{Trace, TraceStep};

pub fn run(
    model: &Path,
    input: &Path,
    output: Option<&Path>,
    trace: Option<&Path>,
    reset_each: bool,
) -> Result<(), CliError> {
    let session = Session::new();
    let read = crate::read_model(&session, model)?;
    // A stateful float model runs as its float32 program (the float
    // reference executor keeps no state).
    let stateful = read.graph.is_stateful();
    if read.kind() == GraphKind::Float && !stateful {
        if trace.is_some() {
            return Err(CliError(format!(
                "{}: --trace follows the integer program; quantize the float model first (tinyq quantize)",
                model.display()
            )));
        }
        // Float32 models run on the float reference executor.
        return crate::eval::run_float(&read.graph, input, output);
    }
    let program = session
        .compile(&read, None)
        .map_err(|e| crate::compile::compile_error(e, model))?
        .program;
    let arrays = read_arrays(input)?;
    let batches = bind_inputs(&program, input, arrays)?;
    let n = batches.first().map_or(0, |b| b.len());

    let mut interp = Interpreter::new(&program);
    let mut results: Vec<Vec<u8>> = program.outputs.iter().map(|_| Vec::new()).collect();
    for sample in 0..n {
        // Samples stream through a stateful model: its state carries over.
        if reset_each {
            interp.reset();
        }
        let ins: Vec<&[u8]> = batches.iter().map(|b| b[sample].as_slice()).collect();
        let mut outs: Vec<Vec<u8>> = program
            .outputs
            .iter()
            .map(|o| vec![0; o.byte_len()])
            .collect();
        let mut out_refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        let failed = |e| CliError(format!("sample {sample}: {e}"));
        match trace {
            // The first sample, step by step.
            Some(path) if sample == 0 => {
                let mut steps = Vec::new();
                interp
                    .invoke_observed(&ins, &mut out_refs, &mut |index, step, bytes| {
                        steps.push(TraceStep {
                            index,
                            op: step.kernel.name().to_string(),
                            output: step.provenance.output.clone(),
                            bytes: bytes.len(),
                            crc32: format!("{:08x}", crate::trace::crc32(bytes)),
                        });
                    })
                    .map_err(failed)?;
                crate::trace::write_trace(path, &Trace { steps })?;
            }
            _ => interp.invoke(&ins, &mut out_refs).map_err(failed)?,
        }
        for (acc, o) in results.iter_mut().zip(outs) {
            acc.extend_from_slice(&o);
        }
    }
    let arrays: Vec<(String, Samples)> = program
        .outputs
        .iter()
        .zip(results)
        .map(|(spec, bytes)| Ok((spec.name.clone(), to_samples(spec, n, bytes)?)))
        .collect::<Result<_, CliError>>()?;
    match output {
        Some(path) => write_arrays(path, &arrays)?,
        None => print_outputs(&arrays),
    }
    Ok(())
}

/// Splits each input array into per-sample byte buffers in the model's dtype.
fn bind_inputs(
    program: &Program,
    path: &Path,
    mut arrays: Vec<(String, Samples)>,
) -> Result<Vec<Vec<Vec<u8>>>, CliError> {
    let specs = &program.inputs;
    if specs.len() > 1
        && (arrays.len() != specs.len() || arrays.iter().any(|(name, _)| name.is_empty()))
    {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        return Err(CliError(format!(
            "{}: the model has {} inputs ({names:?}); give an .npz with one array per input, named after the input tensors",
            path.display(),
            specs.len()
        )));
    }
    let mut batches = Vec::with_capacity(specs.len());
    for (index, spec) in specs.iter().enumerate() {
        let array = if specs.len() == 1 {
            arrays.swap_remove(0).1
        } else {
            let pos = arrays
                .iter()
                .position(|(name, _)| *name == spec.name)
                .ok_or_else(|| {
                    CliError(format!(
                        "{}: no array named {:?} for input {index}",
                        path.display(),
                        spec.name
                    ))
                })?;
            arrays.swap_remove(pos).1
        };
        batches.push(split_samples(spec, &array, path)?);
    }
    let n = batches.first().map_or(0, Vec::len);
    if batches.iter().any(|b| b.len() != n) {
        return Err(CliError(format!(
            "{}: the inputs hold different numbers of samples",
            path.display()
        )));
    }
    if n == 0 {
        return Err(CliError(format!("{}: no samples", path.display())));
    }
    Ok(batches)
}

/// Number of samples in `shape` for an input of shape `model`: `[N, ...model]`
/// or, when the model's batch is 1, `[N, ...model[1..]]`.
fn sample_count(shape: &[usize], model: &[usize]) -> Option<usize> {
    let (&n, rest) = shape.split_first()?;
    if rest == model || (model.first() == Some(&1) && rest == &model[1..]) {
        Some(n)
    } else {
        None
    }
}

fn split_samples(spec: &IoSpec, array: &Samples, path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let n = sample_count(array.shape(), &spec.shape).ok_or_else(|| {
        CliError(format!(
            "{}: array of shape {:?} does not hold samples of input {:?} (shape {:?}); expected [N, {}]",
            path.display(),
            array.shape(),
            spec.name,
            spec.shape,
            spec.shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    // A quantized model cannot represent NaN or infinity: refuse them here,
    // as calibration and eval do.
    if let Samples::F32(values) = array
        && let Some((i, v)) = tinyq_quant::npy::first_non_finite(values.iter())
    {
        return Err(CliError(format!(
            "{}: input {:?} holds {v} at flat index {i}; a quantized model takes finite values only",
            path.display(),
            spec.name
        )));
    }
    let bytes = match (array.dtype(), spec.dtype) {
        (a, m) if a == m => array.to_bytes(),
        (DType::F32, DType::I8 | DType::U8) => {
            let Samples::F32(values) = array else {
                unreachable!("dtype says F32")
            };
            let (scale, zero_point) = spec.quant.unwrap_or((1.0, 0));
            let floats: Vec<f32> = values.iter().copied().collect();
            let mut out = vec![0u8; floats.len()];
            tinyq_interp::quantize_floats(
                &tinyq_kernels::quantize::QuantParams { scale, zero_point },
                spec.dtype == DType::U8,
                &floats,
                &mut out,
            )
            .map_err(|e| {
                CliError(format!(
                    "{}: cannot quantize the samples: {e}",
                    path.display()
                ))
            })?;
            out
        }
        (DType::F32, DType::I16) => {
            let Samples::F32(values) = array else {
                unreachable!("dtype says F32")
            };
            let (scale, zero_point) = spec.quant.unwrap_or((1.0, 0));
            let floats: Vec<f32> = values.iter().copied().collect();
            let mut codes = vec![0i16; floats.len()];
            tinyq_kernels::quantize::quantize_f32_to_i16(
                &tinyq_kernels::quantize::QuantParams { scale, zero_point },
                &floats,
                &mut codes[..],
            )
            .map_err(|e| {
                CliError(format!(
                    "{}: cannot quantize the samples: {e}",
                    path.display()
                ))
            })?;
            codes.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        (a, m) => {
            return Err(CliError(format!(
                "{}: samples are {a} but input {:?} takes {m}{}",
                path.display(),
                spec.name,
                if m.is_8bit() || m == DType::I16 {
                    " (or float32, which tinyq quantizes)"
                } else {
                    ""
                }
            )));
        }
    };
    let per_sample = spec.byte_len();
    Ok((0..n)
        .map(|i| bytes[i * per_sample..(i + 1) * per_sample].to_vec())
        .collect())
}

/// `[N, ...shape]`, dropping the model's leading batch of 1.
fn to_samples(spec: &IoSpec, n: usize, bytes: Vec<u8>) -> Result<Samples, CliError> {
    let mut shape = vec![n];
    let dims = match spec.shape.split_first() {
        Some((1, rest)) => rest,
        _ => &spec.shape[..],
    };
    shape.extend_from_slice(dims);
    let bad = |e: ndarray::ShapeError| CliError(format!("output {:?}: {e}", spec.name));
    Ok(match spec.dtype {
        DType::F32 => Samples::F32(
            ArrayD::from_shape_vec(
                IxDyn(&shape),
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
            .map_err(bad)?,
        ),
        DType::U8 => Samples::U8(ArrayD::from_shape_vec(IxDyn(&shape), bytes).map_err(bad)?),
        DType::I16 => Samples::I16(
            ArrayD::from_shape_vec(
                IxDyn(&shape),
                bytes
                    .chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            )
            .map_err(bad)?,
        ),
        _ => Samples::I8(
            ArrayD::from_shape_vec(IxDyn(&shape), bytes.into_iter().map(|b| b as i8).collect())
                .map_err(bad)?,
        ),
    })
}

fn print_outputs(arrays: &[(String, Samples)]) {
    for (name, array) in arrays {
        outln!("output {name:?} {:?}", array.shape());
        match array {
            Samples::F32(a) => outln!("{a}"),
            Samples::I8(a) => outln!("{a}"),
            Samples::U8(a) => outln!("{a}"),
            Samples::I16(a) => outln!("{a}"),
        }
    }
}

//! `tinyq eval` (top-1 accuracy of a model, and of its int8 version for a
//! float model, with optional per-tensor SQNR) and the float path of
//! `tinyq run` (float32 models run on the float reference executor).

use std::path::Path;

use ndarray::{ArrayD, Axis, IxDyn};
use tinyq_compiler::{Calibration, CompileError, GraphKind, Model, Session};
use tinyq_interp::Interpreter;
use tinyq_ir::{DType, Graph, IoSpec, Program};
use tinyq_quant::report::{SqnrAccumulator, argmax};
use tinyq_quant::{FloatModel, IoMode, Method, QuantError, QuantOptions};

use crate::CliError;
use crate::npy::{Samples, read_arrays, write_arrays};

/// Calibration observer as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CalibrationMethod {
    Minmax,
    Percentile,
    Mse,
}

impl CalibrationMethod {
    /// The quantizer's method (`percentile`: the percentage kept).
    pub fn method(self, percentile: f64) -> Method {
        match self {
            CalibrationMethod::Minmax => Method::MinMax,
            CalibrationMethod::Percentile => Method::Percentile(percentile),
            CalibrationMethod::Mse => Method::Mse,
        }
    }
}

/// A bad `--io`/`--activations` combination, refused before any data is read.
pub(crate) fn check_io(io: Option<Io>, options: QuantOptions) -> Result<(), CliError> {
    tinyq_quant::quantize::check_options(options).map_err(|e| {
        CliError(format!(
            "--io {} with --activations {}: {e}",
            io.map_or("(default)", Io::name),
            options.activations.name()
        ))
    })
}

/// As reports spell an I/O mode.
fn io_name(io: IoMode) -> &'static str {
    match io {
        IoMode::Int8 => "int8",
        IoMode::Int16 => "int16",
        IoMode::Uint8 => "uint8",
        IoMode::Float => "float",
    }
}

/// Model I/O type of the quantized model, as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Io {
    Int8,
    Uint8,
    Float,
}

/// Activation type of the quantized model, as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ActivationsArg {
    /// int8 activations and weights.
    #[default]
    Int8,
    /// int16 activations, int8 weights, int64 biases (16x8).
    Int16,
}

impl From<ActivationsArg> for tinyq_quant::Activations {
    fn from(a: ActivationsArg) -> Self {
        match a {
            ActivationsArg::Int8 => tinyq_quant::Activations::Int8,
            ActivationsArg::Int16 => tinyq_quant::Activations::Int16,
        }
    }
}

/// The I/O mode of a quantized float model: as given, or the activations'
/// own integer type.
pub fn io_mode(io: Option<Io>, activations: ActivationsArg) -> IoMode {
    match (io, activations) {
        (Some(io), _) => io.into(),
        (None, ActivationsArg::Int8) => IoMode::Int8,
        (None, ActivationsArg::Int16) => IoMode::Int16,
    }
}

impl ActivationsArg {
    /// How reports name a model quantized with these activations.
    pub fn label(self) -> &'static str {
        match self {
            ActivationsArg::Int8 => "int8",
            ActivationsArg::Int16 => "int16x8",
        }
    }
}

impl Io {
    /// As spelled on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Io::Int8 => "int8",
            Io::Uint8 => "uint8",
            Io::Float => "float",
        }
    }
}

impl From<Io> for IoMode {
    fn from(io: Io) -> Self {
        match io {
            Io::Int8 => IoMode::Int8,
            Io::Uint8 => IoMode::Uint8,
            Io::Float => IoMode::Float,
        }
    }
}

/// Options of `tinyq eval`.
#[derive(Debug, Clone)]
pub struct EvalArgs<'a> {
    pub model: &'a Path,
    pub data: &'a Path,
    pub labels: &'a Path,
    pub calibration: Option<&'a Path>,
    pub method: CalibrationMethod,
    pub percentile: f64,
    /// `None`: integer I/O of the activations' type.
    pub io: Option<Io>,
    pub activations: ActivationsArg,
    pub per_tensor: bool,
    /// Divide data and calibration values by this (e.g. 255 for uint8 images).
    pub divide_by: f32,
}

/// True for a float model (the driver's one definition).
fn is_float_model(graph: &Graph) -> bool {
    graph.kind() == GraphKind::Float
}

fn cli_err(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError(format!("{}: {e}", path.display()))
}

/// A progress bar on stderr (`indicatif`), drawn only on a terminal: logs
/// and pipes see errors alone.
pub(crate) struct Progress {
    label: &'static str,
    bar: Option<indicatif::ProgressBar>,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(label: &'static str) -> Self {
        use std::io::IsTerminal as _;
        Progress {
            label,
            bar: None,
            shown: std::io::stderr().is_terminal(),
        }
    }

    pub(crate) fn tick(&mut self, done: usize, total: usize) {
        if !self.shown {
            return;
        }
        let label = self.label;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg:>11} [{bar:40}] {pos}/{len} ({eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done >= total {
            bar.finish();
        }
    }
}

/// Reads one `.npy` (or the arrays of an `.npz`) as float32 values, bound
/// to the graph's inputs; integer arrays are divided by `divide_by`.
pub(crate) fn read_float_inputs(
    graph: &Graph,
    path: &Path,
    divide_by: f32,
) -> Result<Vec<ArrayD<f32>>, CliError> {
    let arrays = read_arrays(path)?;
    let to_f32 = |s: Samples| -> ArrayD<f32> {
        // Integer arrays (e.g. uint8 images) are scaled; float arrays are taken as they are.
        match s {
            Samples::F32(a) => a,
            Samples::I8(a) => a.mapv(|v| f32::from(v) / divide_by),
            Samples::U8(a) => a.mapv(|v| f32::from(v) / divide_by),
            Samples::I16(a) => a.mapv(|v| f32::from(v) / divide_by),
        }
    };
    if graph.inputs.len() == 1 {
        let [(_, array)] = <[(String, Samples); 1]>::try_from(arrays).map_err(|a| {
            cli_err(
                path,
                format!(
                    "expected one array for the model's single input, found {}",
                    a.len()
                ),
            )
        })?;
        return Ok(vec![to_f32(array)]);
    }
    let mut arrays = arrays;
    graph
        .inputs
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let name = &graph.tensor(id).name;
            let pos = arrays.iter().position(|(n, _)| n == name).ok_or_else(|| {
                cli_err(
                    path,
                    format!(
                        "the model has {} inputs; give an .npz with one array per input, named after the input tensors (no array named {name:?} for input {k})",
                        graph.inputs.len()
                    ),
                )
            })?;
            Ok(to_f32(arrays.swap_remove(pos).1))
        })
        .collect()
}

/// Reads integer class labels (any integer `.npy`) through the shared reader.
fn read_labels(path: &Path) -> Result<Vec<i64>, CliError> {
    let arrays = tinyq_quant::npy::read_file(path).map_err(|e| CliError(e.to_string()))?;
    let [(_, data)] = &arrays[..] else {
        return Err(cli_err(
            path,
            format!(
                "holds {} arrays; labels are one integer array [N]",
                arrays.len()
            ),
        ));
    };
    data.to_i64().ok_or_else(|| {
        cli_err(
            path,
            format!(
                "labels are {}; they must be integers (int64, int32, uint8, ...)",
                data.dtype_name()
            ),
        )
    })
}

/// Every label must name one of the model's `classes` output classes.
fn check_labels(labels: &[i64], classes: usize, path: &Path) -> Result<(), CliError> {
    let bad = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l < 0 || usize::try_from(l).map_or(true, |l| l >= classes));
    match bad {
        Some((i, l)) => Err(cli_err(
            path,
            format!(
                "label {l} at index {i} is not one of the model's {classes} output classes (0..{classes})"
            ),
        )),
        None => Ok(()),
    }
}

/// `--divide-by` must be a finite number above zero.
fn check_divide_by(divide_by: f32) -> Result<(), CliError> {
    if divide_by.is_finite() && divide_by > 0.0 {
        Ok(())
    } else {
        Err(CliError(format!(
            "--divide-by {divide_by}: give a finite number above 0 (e.g. 255 for uint8 images)"
        )))
    }
}

/// Splits input arrays into samples with the quantizer's checks.
fn samples(
    graph: &Graph,
    arrays: &[ArrayD<f32>],
    path: &Path,
) -> Result<Vec<Vec<ArrayD<f32>>>, CliError> {
    tinyq_quant::calibrate::split_samples(graph, arrays).map_err(|e| match e {
        QuantError::Calibration(why) => cli_err(path, why),
        other => cli_err(path, other),
    })
}

/// `tinyq run` on a float32 model: the float reference executor.
pub fn run_float(graph: &Graph, input: &Path, output: Option<&Path>) -> Result<(), CliError> {
    let model = FloatModel::new(graph).map_err(|e| CliError(e.to_string()))?;
    let arrays = read_float_inputs(graph, input, 1.0)?;
    let samples = samples(graph, &arrays, input)?;
    let n = samples.len();
    let mut results: Vec<Vec<f32>> = vec![Vec::new(); graph.outputs.len()];
    for (i, sample) in samples.iter().enumerate() {
        let outs = model
            .run_outputs(sample)
            .map_err(|e| CliError(format!("sample {i}: {e}")))?;
        for (acc, o) in results.iter_mut().zip(outs) {
            acc.extend(o.iter().copied());
        }
    }
    let arrays: Vec<(String, Samples)> = graph
        .outputs
        .iter()
        .zip(results)
        .map(|(&o, values)| {
            let t = graph.tensor(o);
            let mut shape = vec![n];
            shape.extend_from_slice(match t.shape.split_first() {
                Some((1, rest)) => rest,
                _ => &t.shape[..],
            });
            let a = ArrayD::from_shape_vec(IxDyn(&shape), values)
                .map_err(|e| CliError(format!("output {:?}: {e}", t.name)))?;
            Ok((t.name.clone(), Samples::F32(a)))
        })
        .collect::<Result<_, CliError>>()?;
    match output {
        Some(path) => write_arrays(path, &arrays)?,
        None => {
            for (name, array) in &arrays {
                outln!("output {name:?} {:?}", array.shape());
                if let Samples::F32(a) = array {
                    outln!("{a}");
                }
            }
        }
    }
    Ok(())
}

/// A lowered int8 model with its interpreter-facing I/O.
struct Quantized {
    program: Program,
}

impl Quantized {
    fn new(graph: &Graph, what: &Path) -> Result<Self, CliError> {
        let name = what.display().to_string();
        let program = Session::new()
            .compile_graph(&name, graph.clone(), false)
            .map_err(CliError::from)?
            .program;
        Ok(Quantized { program })
    }

    /// Runs one sample of real-valued inputs; returns each output as real values.
    fn run(
        &self,
        interp: &mut Interpreter<'_>,
        sample: &[ArrayD<f32>],
    ) -> Result<Vec<Vec<f32>>, CliError> {
        let ins: Vec<Vec<u8>> = self
            .program
            .inputs
            .iter()
            .zip(sample)
            .map(|(spec, a)| encode(spec, a))
            .collect::<Result<_, _>>()?;
        let in_refs: Vec<&[u8]> = ins.iter().map(Vec::as_slice).collect();
        let mut outs: Vec<Vec<u8>> = self
            .program
            .outputs
            .iter()
            .map(|o| vec![0; o.byte_len()])
            .collect();
        let mut out_refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
        interp
            .invoke(&in_refs, &mut out_refs)
            .map_err(|e| CliError(e.to_string()))?;
        Ok(self
            .program
            .outputs
            .iter()
            .zip(&outs)
            .map(|(spec, bytes)| decode(spec, bytes))
            .collect())
    }
}

/// Real values → the input's dtype.
fn encode(spec: &IoSpec, a: &ArrayD<f32>) -> Result<Vec<u8>, CliError> {
    let floats: Vec<f32> = a.iter().copied().collect();
    match spec.dtype {
        DType::F32 => Ok(floats.iter().flat_map(|v| v.to_le_bytes()).collect()),
        DType::I8 | DType::U8 => {
            let (scale, zero_point) = spec.quant.unwrap_or((1.0, 0));
            let mut out = vec![0u8; floats.len()];
            tinyq_interp::quantize_floats(
                &tinyq_kernels::quantize::QuantParams { scale, zero_point },
                spec.dtype == DType::U8,
                &floats,
                &mut out,
            )
            .map_err(|e| CliError(format!("cannot quantize input {:?}: {e}", spec.name)))?;
            Ok(out)
        }
        DType::I16 => {
            let (scale, zero_point) = spec.quant.unwrap_or((1.0, 0));
            let mut values = vec![0i16; floats.len()];
            tinyq_kernels::quantize::quantize_f32_to_i16(
                &tinyq_kernels::quantize::QuantParams { scale, zero_point },
                &floats,
                values.as_mut_slice(),
            )
            .map_err(|e| CliError(format!("cannot quantize input {:?}: {e}", spec.name)))?;
            Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
        other => Err(CliError(format!(
            "input {:?} is {other}, which eval does not feed",
            spec.name
        ))),
    }
}

/// Output bytes → real values.
fn decode(spec: &IoSpec, bytes: &[u8]) -> Vec<f32> {
    let (scale, zp) = spec.quant.unwrap_or((1.0, 0));
    match spec.dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::U8 => bytes
            .iter()
            .map(|&b| (i32::from(b) - zp) as f32 * scale)
            .collect(),
        DType::I16 => bytes
            .chunks_exact(2)
            .map(|c| (i32::from(i16::from_le_bytes([c[0], c[1]])) - zp) as f32 * scale)
            .collect(),
        _ => bytes
            .iter()
            .map(|&b| (i32::from(b as i8) - zp) as f32 * scale)
            .collect(),
    }
}

/// What the labels hold: class indices for a classifier, or the expected
/// output values for anything else (a regressor, a detector's boxes).
#[derive(Debug)]
enum Targets {
    Classes(Vec<i64>),
    /// Every sample's expected first output, flattened.
    Values {
        values: Vec<f32>,
        per_sample: usize,
    },
}

/// Integer labels, one per sample, of a model whose output is a vector of
/// class scores are classes; anything else (float labels, or one value
/// per sample) is compared value by value.
fn read_targets(path: &Path, samples: usize, out_len: usize) -> Result<Targets, CliError> {
    // One integer label per sample for a multi-value output: a classifier,
    // whose labels must name output classes.
    if out_len > 1
        && let Ok(classes) = read_labels(path)
        && classes.len() == samples
    {
        check_labels(&classes, out_len, path)?;
        return Ok(Targets::Classes(classes));
    }
    // Otherwise expected output values, through the one checked reader.
    let arrays = tinyq_quant::npy::read_file(path).map_err(|e| CliError(e.to_string()))?;
    let [(_, data)] = &arrays[..] else {
        return Err(cli_err(
            path,
            format!("holds {} arrays; expected one", arrays.len()),
        ));
    };
    let values: Vec<f32> = data
        .to_f32()
        .map(|a| a.iter().copied().collect())
        .or_else(|| {
            data.to_i64()
                .map(|v| v.into_iter().map(|x| x as f32).collect())
        })
        .ok_or_else(|| cli_err(path, format!("holds {}, not numbers", data.dtype_name())))?;
    if values.len() != samples * out_len {
        return Err(CliError(format!(
            "{} holds {} {} values, but {samples} samples need either {samples} integer class \
             labels (for a classifier) or {} expected output values ({out_len} per sample)",
            path.display(),
            values.len(),
            data.dtype_name(),
            samples * out_len
        )));
    }
    Ok(Targets::Values {
        values,
        per_sample: out_len,
    })
}

/// Top-1 accuracy against classes, or SQNR and largest error against values.
#[derive(Debug)]
struct Score<'t> {
    targets: &'t Targets,
    accuracy: Accuracy,
    sqnr: SqnrAccumulator,
    max_abs: f32,
}

impl<'t> Score<'t> {
    fn new(targets: &'t Targets) -> Self {
        Score {
            targets,
            accuracy: Accuracy::default(),
            sqnr: SqnrAccumulator::default(),
            max_abs: 0.0,
        }
    }

    fn add(&mut self, sample: usize, output: &[f32]) {
        match self.targets {
            Targets::Classes(c) => self
                .accuracy
                .add(output, c.get(sample).copied().unwrap_or(-1)),
            Targets::Values { values, per_sample } => {
                let start = sample * per_sample;
                let want = values.get(start..start + per_sample).unwrap_or(&[]);
                self.sqnr.add(want, output);
                for (w, o) in want.iter().zip(output) {
                    self.max_abs = self.max_abs.max((w - o).abs());
                }
            }
        }
    }

    fn what(&self) -> &'static str {
        match self.targets {
            Targets::Classes(_) => "accuracy",
            Targets::Values { .. } => "error vs labels",
        }
    }

    fn line(&self) -> String {
        match self.targets {
            Targets::Classes(_) => self.accuracy.line(),
            Targets::Values { .. } => format!(
                "SQNR {:.2} dB, max abs error {:.6}",
                self.sqnr.db(),
                self.max_abs
            ),
        }
    }
}

/// Top-1 accuracy counter.
#[derive(Debug, Default, Clone, Copy)]
struct Accuracy {
    correct: usize,
    total: usize,
}

impl Accuracy {
    fn add(&mut self, output: &[f32], label: i64) {
        self.total += 1;
        if argmax(output).and_then(|i| i64::try_from(i).ok()) == Some(label) {
            self.correct += 1;
        }
    }

    fn line(&self) -> String {
        format!(
            "{:.4} ({}/{})",
            self.correct as f64 / self.total.max(1) as f64,
            self.correct,
            self.total
        )
    }
}

/// `tinyq eval`.
pub fn eval(args: &EvalArgs<'_>) -> Result<(), CliError> {
    check_divide_by(args.divide_by)?;
    let session = Session::new();
    let graph = crate::read_model(&session, args.model)?.graph;
    let data = read_float_inputs(&graph, args.data, args.divide_by)?;
    let samples = samples(&graph, &data, args.data)?;
    let out_len = graph
        .outputs
        .first()
        .and_then(|&o| graph.tensor(o).num_elements())
        .unwrap_or(0);
    let labels = read_targets(args.labels, samples.len(), out_len)?;
    let float_model = is_float_model(&graph);
    if float_model && args.calibration.is_none() {
        return Err(CliError(format!(
            "{} is a float model: give --calibration CAL.npy (representative inputs) to evaluate its int8 version",
            args.model.display()
        )));
    }
    outln!("model: {}", args.model.display());
    outln!("samples: {}", samples.len());
    if !float_model {
        if args.calibration.is_some() {
            eprintln!("note: the model is already quantized; --calibration is ignored");
        }
        if args.per_tensor {
            return Err(CliError(format!(
                "{}: --per-tensor needs a float model to compare against (this model is already quantized)",
                args.model.display()
            )));
        }
        let q = Quantized::new(&graph, args.model)?;
        let mut interp = Interpreter::new(&q.program);
        let mut acc = Score::new(&labels);
        let mut progress = Progress::new("evaluating");
        for (i, sample) in samples.iter().enumerate() {
            let outs = q
                .run(&mut interp, sample)
                .map_err(|e| CliError(format!("sample {i}: {}", e.0)))?;
            acc.add(i, outs.first().map_or(&[][..], Vec::as_slice));
            progress.tick(i + 1, samples.len());
        }
        outln!("{}: {}", acc.what(), acc.line());
        return Ok(());
    }

    let Some(cal_path) = args.calibration else {
        return Err(CliError("a float model needs --calibration".into()));
    };
    let method = args.method.method(args.percentile);
    let options = QuantOptions {
        method,
        io: io_mode(args.io, args.activations),
        activations: args.activations.into(),
        ..QuantOptions::default()
    };
    check_io(args.io, options)?;
    let cal = read_float_inputs(&graph, cal_path, args.divide_by)?;
    for w in tinyq_quant::calibrate::calibration_warnings(&graph, &cal) {
        eprintln!("warning: {}: {w}", cal_path.display());
    }
    let mut progress = Progress::new("calibrating");
    let mut tick = |d, t| progress.tick(d, t);
    let model = Model {
        name: args.model.display().to_string(),
        graph: graph.clone(),
    };
    let calibration = Calibration {
        samples: &cal,
        options,
        progress: Some(&mut tick),
    };
    let qgraph = session.quantize(&model, calibration).map_err(|e| match e {
        CompileError::Quantize { source, .. } => cli_err(cal_path, source),
        other => CliError::from(other),
    })?;
    let float = FloatModel::new(&graph).map_err(|e| cli_err(args.model, e))?;

    // With --per-tensor, every int8 activation also becomes an output.
    let probes = if args.per_tensor {
        probes(&graph, &qgraph)
    } else {
        Vec::new()
    };
    let mut probed = qgraph.clone();
    for p in &probes {
        if !probed.outputs.contains(&p.qtensor) {
            probed.outputs.push(p.qtensor);
        }
    }
    let q = Quantized::new(&probed, args.model)?;
    let mut interp = Interpreter::new(&q.program);
    let (mut facc, mut qacc, mut agree) = (Score::new(&labels), Score::new(&labels), 0usize);
    let mut sqnr = vec![SqnrAccumulator::default(); probes.len()];
    let mut progress = Progress::new("evaluating");
    for (i, sample) in samples.iter().enumerate() {
        let values = float
            .run(sample, args.per_tensor)
            .map_err(|e| CliError(format!("sample {i}: {e}")))?;
        let fout: Vec<f32> = graph
            .outputs
            .first()
            .and_then(|o| values[o.index()].as_ref())
            .map(|a| a.iter().copied().collect())
            .unwrap_or_default();
        facc.add(i, &fout);
        let outs = q
            .run(&mut interp, sample)
            .map_err(|e| CliError(format!("sample {i}: {}", e.0)))?;
        let qout = outs.first().map_or(&[][..], Vec::as_slice);
        qacc.add(i, qout);
        agree += usize::from(argmax(&fout) == argmax(qout));
        for (k, p) in probes.iter().enumerate() {
            let pos = probed.outputs.iter().position(|&o| o == p.qtensor);
            let (Some(qv), Some(f)) = (
                pos.and_then(|pos| outs.get(pos)),
                values[p.ftensor].as_ref(),
            ) else {
                continue;
            };
            {
                let fv: Vec<f32> = f.iter().copied().collect();
                sqnr[k].add(&fv, qv);
            }
        }
        progress.tick(i + 1, samples.len());
    }
    let quantized = args.activations.label();
    outln!(
        "{quantized} model: calibration {} ({} samples, {}), io {}",
        cal_path.display(),
        cal.first().map_or(0, |a| a.len_of(Axis(0))),
        match method {
            Method::MinMax => "minmax".to_string(),
            Method::Percentile(p) => format!("percentile {p}"),
            Method::Mse => "mse".to_string(),
        },
        io_name(io_mode(args.io, args.activations))
    );
    outln!("float {}: {}", facc.what(), facc.line());
    outln!("{quantized} {}:  {}", qacc.what(), qacc.line());
    if matches!(labels, Targets::Classes(_)) {
        outln!(
            "top-1 agreement float vs {quantized}: {:.4} ({agree}/{})",
            agree as f64 / samples.len().max(1) as f64,
            samples.len()
        );
    }
    if args.per_tensor {
        print_table(&qgraph, &probes, &sqnr);
    }
    Ok(())
}

/// SQNR (dB) of every int8 activation of `qgraph` against the float model,
/// keyed by the quantized tensor's name, over at most `limit` samples of
/// `data` (for `compile --report`).
pub(crate) fn per_tensor_sqnr(
    float_graph: &Graph,
    qgraph: &Graph,
    data: &Path,
    limit: usize,
) -> Result<std::collections::BTreeMap<String, f64>, CliError> {
    let arrays = read_float_inputs(float_graph, data, 1.0)?;
    let samples = samples(float_graph, &arrays, data)?;
    let float = FloatModel::new(float_graph).map_err(|e| cli_err(data, e))?;
    let probes = probes(float_graph, qgraph);
    let mut probed = qgraph.clone();
    for p in &probes {
        if !probed.outputs.contains(&p.qtensor) {
            probed.outputs.push(p.qtensor);
        }
    }
    let q = Quantized::new(&probed, data)?;
    let mut interp = Interpreter::new(&q.program);
    let mut sqnr = vec![SqnrAccumulator::default(); probes.len()];
    for (i, sample) in samples.iter().take(limit).enumerate() {
        let values = float
            .run(sample, true)
            .map_err(|e| CliError(format!("sample {i}: {e}")))?;
        let outs = q
            .run(&mut interp, sample)
            .map_err(|e| CliError(format!("sample {i}: {}", e.0)))?;
        for (k, p) in probes.iter().enumerate() {
            let pos = probed.outputs.iter().position(|&o| o == p.qtensor);
            if let (Some(qv), Some(f)) = (
                pos.and_then(|pos| outs.get(pos)),
                values[p.ftensor].as_ref(),
            ) {
                let fv: Vec<f32> = f.iter().copied().collect();
                sqnr[k].add(&fv, qv);
            }
        }
    }
    Ok(probes
        .iter()
        .zip(&sqnr)
        .map(|(p, s)| (qgraph.tensor(p.qtensor).name.clone(), s.db()))
        .collect())
}

/// An int8 tensor of the quantized graph and the float tensor it stands for.
#[derive(Debug, Clone)]
struct Probe {
    qtensor: tinyq_ir::TensorId,
    ftensor: usize,
    op: &'static str,
}

/// Pairs each int8 activation of `q` with the float tensor of the same name.
fn probes(float: &Graph, q: &Graph) -> Vec<Probe> {
    let mut out = Vec::new();
    for (_, op) in q.ops.iter() {
        for &t in &op.outputs {
            let tensor = q.tensor(t);
            if tensor.dtype != DType::I8 {
                continue;
            }
            let name = tensor.name.strip_suffix("_int8").unwrap_or(&tensor.name);
            if let Some((fid, _)) = float
                .tensors
                .iter()
                .find(|(_, ft)| !ft.is_const() && ft.name == name)
            {
                out.push(Probe {
                    qtensor: t,
                    ftensor: fid.index(),
                    op: op.kind.name(),
                });
            }
        }
    }
    out
}

fn print_table(q: &Graph, probes: &[Probe], sqnr: &[SqnrAccumulator]) {
    outln!();
    outln!(
        "{:<40} {:<18} {:<16} {:>12} {:>5} {:>9}",
        "tensor",
        "op",
        "shape",
        "scale",
        "zp",
        "SQNR dB"
    );
    for (p, s) in probes.iter().zip(sqnr) {
        let t = q.tensor(p.qtensor);
        let (scale, zp) = t.scale_zp().unwrap_or((0.0, 0));
        let mut name: String = t.name.chars().take(40).collect();
        if t.name.chars().count() > 40 {
            name = format!("{}…", name.chars().take(39).collect::<String>());
        }
        outln!(
            "{:<40} {:<18} {:<16} {:>12.6e} {:>5} {:>9.2}",
            name,
            p.op,
            tinyq_ir::tensor::shape_string(&t.shape),
            scale,
            zp,
            s.db()
        );
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    #[test]
    fn labels_must_name_an_output_class() {
        let p = Path::new("labels.npy");
        assert!(check_labels(&[0, 9, 3], 10, p).is_ok());
        let e = check_labels(&[0, 10], 10, p).expect_err("too big").0;
        assert!(
            e.contains("label 10 at index 1") && e.starts_with("labels.npy: "),
            "{e}"
        );
        let e = check_labels(&[-1], 10, p).expect_err("negative").0;
        assert!(e.contains("label -1 at index 0"), "{e}");
        assert!(check_labels(&[0], 0, p).is_err());
    }

    #[test]
    fn divide_by_must_be_finite_and_positive() {
        assert!(check_divide_by(255.0).is_ok());
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(check_divide_by(bad).is_err(), "{bad}");
        }
    }
}

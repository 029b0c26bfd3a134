//! [`Session`]: the stages in order, with the choices a caller can make.

use std::path::Path;

use ndarray::ArrayD;
use tinyq_ir::{Graph, GraphKind, Program};
use tinyq_opt::{AccumulatorOverflow, LowerOptions, LowerReport, PassReport, Pipeline};
use tinyq_quant::{KeepFloat, QuantOptions};

use crate::CompileError;

/// A model as read: its graph and the name errors use for it.
#[derive(Debug, Clone)]
pub struct Model {
    /// The path as given, or the name the caller gave its bytes.
    pub name: String,
    pub graph: Graph,
}

impl Model {
    /// Float, integer or mixed.
    pub fn kind(&self) -> GraphKind {
        self.graph.kind()
    }
}

/// Representative inputs for post-training quantization: one float32
/// array `[N, ...input shape]` per model input.
pub struct Calibration<'a> {
    pub samples: &'a [ArrayD<f32>],
    pub options: QuantOptions,
    /// Called with (done, total) while calibrating.
    pub progress: Option<&'a mut dyn FnMut(usize, usize)>,
}

impl std::fmt::Debug for Calibration<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calibration")
            .field("arrays", &self.samples.len())
            .field("options", &self.options)
            .finish()
    }
}

/// One pass of the pipeline as the compile report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassLine {
    pub report: PassReport,
    /// The planned arena before and after the pass, when the graph lowers
    /// at both points.
    pub arena: Option<(usize, usize)>,
}

impl PassLine {
    /// `fold-pad: 18 PAD ops folded into the next op's padding, arena 2,451,840 B -> 1,843,200 B`.
    pub fn line(&self) -> String {
        let mut s = format!("{}: {}", self.report.pass, self.report.outcome.summary);
        if let Some((before, after)) = self.arena
            && before != after
        {
            s.push_str(&format!(
                ", arena {} B -> {} B",
                thousands(before),
                thousands(after)
            ));
        }
        s
    }
}

/// What [`Session::compile`] produces.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The graph the passes started from (quantized if it was float).
    pub input: Graph,
    /// The graph after the passes.
    pub graph: Graph,
    /// The lowered, verified Program.
    pub program: Program,
    /// Every pass that ran, in order.
    pub passes: Vec<PassLine>,
    /// What lowering decided (zero points folded, 1×1 convs as matrix
    /// multiplies, concatenations in place, reshape aliases).
    pub lowering: LowerReport,
    /// True when the model was float and quantized on the way.
    pub quantized: bool,
    /// Layers whose int32 accumulator can exceed int32 on some input
    /// (see [`Session::accumulator_overflows`]); empty when none can.
    pub overflow: Vec<AccumulatorOverflow>,
}

impl Compiled {
    /// The passes that changed something.
    pub fn changes(&self) -> impl Iterator<Item = &PassLine> {
        self.passes.iter().filter(|p| p.report.outcome.is_changed())
    }
}

/// The driver. Cheap to make; holds only the caller's choices.
#[derive(Debug, Clone)]
pub struct Session {
    optimize: bool,
    stop_after: Option<String>,
    verify_each: bool,
    measure_arena: bool,
    /// Ops quantization keeps in float32 (`--keep-float`).
    keep_float: Vec<KeepFloat>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// The standard pipeline, verifying the graph after every pass in debug
    /// builds.
    pub fn new() -> Self {
        Session {
            optimize: true,
            stop_after: None,
            verify_each: cfg!(debug_assertions),
            measure_arena: false,
            keep_float: Vec::new(),
        }
    }

    /// Lowers graphs as read, with no pass (the reference the optimized
    /// pipeline is tested against).
    pub fn unoptimized(mut self) -> Self {
        self.optimize = false;
        self
    }

    /// Runs the passes only up to and including `pass`.
    pub fn stop_after(mut self, pass: &str) -> Self {
        self.stop_after = Some(pass.to_string());
        self
    }

    /// Lowers the graph around every pass that changes it, so each
    /// [`PassLine`] of [`Session::compile`] carries the arena before and
    /// after (what `tinyq compile` prints).
    pub fn measure_arena(mut self, on: bool) -> Self {
        self.measure_arena = on;
        self
    }

    /// Verifies the graph after every pass even in release builds.
    pub fn verify_each(mut self, on: bool) -> Self {
        self.verify_each = on;
        self
    }

    /// Quantization keeps these ops in float32 (`--keep-float`), with
    /// QUANTIZE/DEQUANTIZE around them; with `QuantOptions::fallback` set to
    /// `Fallback::Float`, so are the ops without an int8 kernel.
    pub fn keep_float(mut self, keep: Vec<KeepFloat>) -> Self {
        self.keep_float = keep;
        self
    }

    /// Names of the passes this session runs, in order.
    pub fn pass_names(&self, model: &str) -> Result<Vec<&'static str>, CompileError> {
        Ok(self.pipeline(model)?.names())
    }

    /// Reads a `.tflite` file.
    pub fn read_file(&self, path: &Path) -> Result<Model, CompileError> {
        let name = path.display().to_string();
        let graph = tinyq_tflite::read_file(path).map_err(|source| CompileError::Read {
            model: name.clone(),
            source,
        })?;
        Ok(Model { name, graph })
    }

    /// Reads a `.tflite` model from memory; `name` labels it in errors.
    pub fn read_bytes(&self, bytes: &[u8], name: &str) -> Result<Model, CompileError> {
        let graph = tinyq_tflite::read(bytes).map_err(|source| CompileError::Read {
            model: name.to_string(),
            source,
        })?;
        Ok(Model {
            name: name.to_string(),
            graph,
        })
    }

    /// Dynamic-range quantization of a float model: int8 weights with
    /// per-channel scales, float activations, no calibration data
    /// ([`tinyq_quant::quantize_dynamic`]).
    pub fn quantize_dynamic(&self, model: &Model) -> Result<Graph, CompileError> {
        if model.kind() != GraphKind::Float {
            return Err(CompileError::AlreadyQuantized {
                model: model.name.clone(),
            });
        }
        tinyq_quant::quantize_dynamic(&model.graph).map_err(|source| CompileError::Quantize {
            model: model.name.clone(),
            source,
        })
    }

    /// Post-training quantization of a float model.
    pub fn quantize(
        &self,
        model: &Model,
        calibration: Calibration<'_>,
    ) -> Result<Graph, CompileError> {
        if model.kind() != GraphKind::Float {
            return Err(CompileError::AlreadyQuantized {
                model: model.name.clone(),
            });
        }
        let result = tinyq_quant::quantize_keeping(
            &model.graph,
            calibration.samples,
            calibration.options,
            &self.keep_float,
            calibration.progress.unwrap_or(&mut |_, _| {}),
        );
        result.map_err(|source| CompileError::Quantize {
            model: model.name.clone(),
            source,
        })
    }

    /// A quantized graph as a `.tflite` file (before optimization: the
    /// optimizer's own ops have no TFLite form).
    pub fn write_tflite(&self, model: &str, graph: &Graph) -> Result<Vec<u8>, CompileError> {
        tinyq_tflite::write(graph).map_err(|source| CompileError::Write {
            model: model.to_string(),
            source,
        })
    }

    /// The graph the passes start from: a float model is quantized when
    /// calibration data is given and compiled as float32 otherwise; an
    /// integer model is used as it is.
    pub fn prepare(
        &self,
        model: &Model,
        calibration: Option<Calibration<'_>>,
    ) -> Result<(Graph, bool), CompileError> {
        match (model.kind(), calibration) {
            (GraphKind::Float, Some(c)) => Ok((self.quantize(model, c)?, true)),
            // Without calibration data a float model compiles as float32.
            (GraphKind::Float, None) => Ok((model.graph.clone(), false)),
            (_, Some(_)) => Err(CompileError::AlreadyQuantized {
                model: model.name.clone(),
            }),
            (_, None) => Ok((model.graph.clone(), false)),
        }
    }

    fn pipeline(&self, model: &str) -> Result<Pipeline, CompileError> {
        let pipeline = if self.optimize {
            Pipeline::default()
        } else {
            Pipeline::empty()
        };
        let pipeline = match &self.stop_after {
            Some(pass) if self.optimize => {
                pipeline
                    .until(pass)
                    .map_err(|source| CompileError::Optimize {
                        model: model.to_string(),
                        source,
                    })?
            }
            _ => pipeline,
        };
        Ok(pipeline.verify_each(self.verify_each))
    }

    /// Runs the passes on `graph`. With `measure`, each pass that changes
    /// the graph also reports the planned arena before and after it.
    pub fn optimize(
        &self,
        model: &str,
        graph: &mut Graph,
        measure: bool,
    ) -> Result<Vec<PassLine>, CompileError> {
        let pipeline = self.pipeline(model)?;
        let arena = |g: &Graph| tinyq_opt::lower(g).ok().map(|p| p.arena_size);
        let mut before = if measure { arena(graph) } else { None };
        let mut lines = Vec::new();
        for pass in pipeline.passes() {
            let report =
                pipeline
                    .run_pass(pass, graph)
                    .map_err(|source| CompileError::Optimize {
                        model: model.to_string(),
                        source,
                    })?;
            let mut measured = None;
            if measure && report.outcome.is_changed() {
                let after = arena(graph);
                if let (Some(b), Some(a)) = (before, after) {
                    measured = Some((b, a));
                }
                before = after;
            }
            lines.push(PassLine {
                report,
                arena: measured,
            });
        }
        Ok(lines)
    }

    /// Every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layer of an
    /// integer graph whose int32 accumulator can exceed int32 for some
    /// input, from its actual weights and bias (`Σ|w − zp_w|·max|x − zp_x|
    /// + |bias|` per output channel). Callers warn, or refuse.
    pub fn accumulator_overflows(&self, graph: &Graph) -> Vec<AccumulatorOverflow> {
        tinyq_opt::accumulator_overflows(graph)
    }

    /// Lowers an optimized graph to a Program, with lowering's exact
    /// rewrites when this session optimizes.
    pub fn lower(
        &self,
        model: &str,
        graph: &Graph,
    ) -> Result<(Program, LowerReport), CompileError> {
        let options = if self.optimize {
            LowerOptions::default()
        } else {
            LowerOptions::none()
        };
        tinyq_opt::lower_with(graph, options).map_err(|source| CompileError::Lower {
            model: model.to_string(),
            source,
        })
    }

    /// The whole pipeline: prepare (quantize when asked), optimize, lower.
    pub fn compile(
        &self,
        model: &Model,
        calibration: Option<Calibration<'_>>,
    ) -> Result<Compiled, CompileError> {
        let (input, quantized) = self.prepare(model, calibration)?;
        self.compile_graph(&model.name, input, quantized)
    }

    /// Optimizes and lowers a graph the caller already prepared.
    pub fn compile_graph(
        &self,
        model: &str,
        input: Graph,
        quantized: bool,
    ) -> Result<Compiled, CompileError> {
        let overflow = self.accumulator_overflows(&input);
        let mut graph = input.clone();
        let passes = self.optimize(model, &mut graph, self.measure_arena)?;
        let (program, lowering) = self.lower(model, &graph)?;
        Ok(Compiled {
            input,
            graph,
            program,
            passes,
            lowering,
            quantized,
            overflow,
        })
    }

    /// `NAME.h` and `NAME.c` for a Program.
    #[cfg(feature = "c")]
    pub fn emit_c(
        &self,
        model: &str,
        program: &Program,
        name: &str,
    ) -> Result<tinyq_backend_c::GeneratedC, CompileError> {
        tinyq_backend_c::emit(program, name).map_err(|source| CompileError::EmitC {
            model: model.to_string(),
            source,
        })
    }

    /// The `NAME.rs` module for a Program.
    #[cfg(feature = "rust")]
    pub fn emit_rust(
        &self,
        model: &str,
        program: &Program,
        name: &str,
    ) -> Result<String, CompileError> {
        tinyq_backend_rust::emit(program, name).map_err(|source| CompileError::EmitRust {
            model: model.to_string(),
            source,
        })
    }

    /// Writes `DIR/NAME.rs` (the module name made from `name`) and returns
    /// its path.
    #[cfg(feature = "rust")]
    pub fn emit_rust_to_dir(
        &self,
        model: &str,
        program: &Program,
        name: &str,
        dir: &Path,
    ) -> Result<std::path::PathBuf, CompileError> {
        tinyq_backend_rust::emit_to_dir(program, name, dir).map_err(|source| {
            CompileError::EmitRust {
                model: model.to_string(),
                source,
            }
        })
    }

    /// The module's items as tokens, for `include_model!`.
    #[cfg(feature = "rust")]
    pub fn emit_rust_tokens(
        &self,
        model: &str,
        program: &Program,
        name: &str,
    ) -> Result<proc_macro2::TokenStream, CompileError> {
        tinyq_backend_rust::emit_tokens(program, name).map_err(|source| CompileError::EmitRust {
            model: model.to_string(),
            source,
        })
    }
}

/// `2451840` → `2,451,840`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2_451_840), "2,451,840");
    }
}

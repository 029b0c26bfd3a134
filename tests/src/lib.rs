//! Support for the end-to-end tests: locating fixtures and reading the
//! `.npy` files `cargo xtask fixtures` writes.

pub mod differential;
pub mod fuzz;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;

/// `tests/fixtures` in the source tree.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// An `.npy` array as raw little-endian bytes with its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RawArray {
    pub shape: Vec<usize>,
    /// Bytes per element.
    pub elem_size: usize,
    pub bytes: Vec<u8>,
}

impl RawArray {
    /// Number of samples (the leading axis).
    pub fn samples(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// The bytes of sample `i`.
    pub fn sample(&self, i: usize) -> &[u8] {
        let per = self.bytes.len() / self.samples().max(1);
        &self.bytes[i * per..(i + 1) * per]
    }
}

/// Reads an int8, uint8, int16 or float32 `.npy` file.
pub fn read_npy(path: &Path) -> Result<RawArray, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(a) = ArrayD::<i8>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 1,
            bytes: a.iter().map(|&v| v as u8).collect(),
        });
    }
    if let Ok(a) = ArrayD::<u8>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 1,
            bytes: a.iter().copied().collect(),
        });
    }
    if let Ok(a) = ArrayD::<i16>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 2,
            bytes: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }
    match ArrayD::<f32>::read_npy(Cursor::new(&bytes)) {
        Ok(a) => Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 4,
            bytes: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// One model variant of a fixture: `NAME/VARIANT.tflite` with its inputs and
/// TFLM's outputs.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub model: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
}

/// Every fixture case with recorded TFLM outputs, sorted by path.
pub fn cases() -> Vec<Case> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|dir| {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    models.sort();
    models
        .into_iter()
        .filter_map(|model| {
            let stem = model.file_stem()?.to_str()?.to_string();
            let dir = model.parent()?.to_path_buf();
            let list = |kind: &str| -> Vec<PathBuf> {
                (0..)
                    .map(|i| dir.join(format!("{stem}.{kind}{i}.npy")))
                    .take_while(|p| p.is_file())
                    .collect()
            };
            let (inputs, outputs) = (list("in"), list("out"));
            if inputs.is_empty() || outputs.is_empty() {
                return None;
            }
            let name = format!("{}/{stem}", dir.file_name()?.to_str()?);
            Some(Case {
                name,
                model,
                inputs,
                outputs,
            })
        })
        .collect()
}

/// The fixture cases whose generated code is kept as golden files: one or
/// two per kernel family and I/O mode, so a template change rewrites a
/// readable handful of files. Every case is still compiled, run and
/// compared with TFLM byte for byte.
pub const GOLDEN_CASES: &[&str] = &[
    "act_logistic/floatio",
    "act_softmax/int8",
    "add_sub_mul/int8",
    "concat/int8",
    "conv_basic/int8",
    "conv_dilated/int8",
    "dense/int8",
    "dense_per_tensor/int8",
    "depthwise_mult2/int8",
    "max_min/uint8",
    "mean/int8",
    "mnist/floatio",
    "mnist/int8",
    "mnist/tinyq_uint8",
    "opt_concat_flat/int8",
    "opt_pad_conv/int8",
    "opt_relu_after/int8",
    "opt_unary_chain/int8",
    "pad/int8",
    "pooling/int8",
    "strided_slice/int8",
    "transpose/int8",
    "two_inputs_two_outputs/int8",
];

/// True when `case` (`NAME/VARIANT`) keeps golden generated code.
pub fn is_golden_case(case: &str) -> bool {
    GOLDEN_CASES.contains(&case)
}

/// What compiling a fixture model gave.
#[derive(Debug)]
pub enum Compiled {
    /// A float model: tinyq compiles integer models (float code is not
    /// generated yet), so these are skipped by the integer tests.
    Float,
    /// The optimized, lowered program.
    Program(Box<tinyq_ir::Program>),
}

/// Reads and compiles one fixture model through the driver, as the CLI does.
pub fn compile_case(case: &Case, session: &tinyq_compiler::Session) -> Result<Compiled, String> {
    let model = session.read_file(&case.model).map_err(|e| e.to_string())?;
    if model.kind() == tinyq_compiler::GraphKind::Float {
        return Ok(Compiled::Float);
    }
    let compiled = session.compile(&model, None).map_err(|e| e.to_string())?;
    Ok(Compiled::Program(Box::new(compiled.program)))
}

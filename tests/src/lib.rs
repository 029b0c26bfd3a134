//! Support for the end-to-end tests: locating fixtures and reading the
//! `.npy` files `cargo xtask fixtures` writes.

pub mod differential;
pub mod fuzz;
pub mod poison;
pub mod qemu_m4;

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

/// Reads an int8, uint8, int16, float32, int32, uint32 or uint64 `.npy` file.
pub fn read_npy(path: &Path) -> Result<RawArray, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The signal library's UINT32 energies and UINT64 filter bank sums.
    if let Ok(a) = ArrayD::<u32>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 4,
            bytes: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }
    // SignalFftAutoScale's int32 shift.
    if let Ok(a) = ArrayD::<i32>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 4,
            bytes: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }
    if let Ok(a) = ArrayD::<u64>::read_npy(Cursor::new(&bytes)) {
        return Ok(RawArray {
            shape: a.shape().to_vec(),
            elem_size: 8,
            bytes: a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
    }
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
    /// TFLM's outputs on the samples in order, one interpreter for them
    /// all: a stateful model's state streams from one sample to the next.
    pub outputs: Vec<PathBuf>,
    /// A stateful model's outputs with TFLM's `reset()` before every
    /// sample (`V.reset_outK.npy`); empty for stateless models.
    pub reset_outputs: Vec<PathBuf>,
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
            let reset_outputs = list("reset_out");
            if inputs.is_empty() || outputs.is_empty() {
                return None;
            }
            let name = format!("{}/{stem}", dir.file_name()?.to_str()?);
            Some(Case {
                name,
                model,
                inputs,
                outputs,
                reset_outputs,
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
    "conv_basic/int16x8",
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
    /// A float model, compiled as float32 (no calibration data).
    Float(Box<tinyq_ir::Program>),
    /// The optimized, lowered program.
    Program(Box<tinyq_ir::Program>),
}

/// Reads and compiles one fixture model through the driver, as the CLI does.
pub fn compile_case(case: &Case, session: &tinyq_compiler::Session) -> Result<Compiled, String> {
    let model = session.read_file(&case.model).map_err(|e| e.to_string())?;
    let float = model.kind() == tinyq_compiler::GraphKind::Float;
    let compiled = session.compile(&model, None).map_err(|e| e.to_string())?;
    let program = Box::new(compiled.program);
    Ok(if float {
        Compiled::Float(program)
    } else {
        Compiled::Program(program)
    })
}

/// How far a float32 Program's outputs may be from TFLM's, in units in the
/// last place, when computed with tinyq's `core`-only `exp`/`log`/`tanh`
/// (the interpreter, the generated Rust): 0. `exp` and `log` follow glibc's
/// `expf`/`logf` algorithms and equal them on every float sampled (11.5
/// million for `exp`, 35 million for `log`) and every fixture output, and
/// `tanh` is glibc's `tanhf` algorithm (`tinyq_kernels::float_math`), so
/// LOGISTIC, TANH, SOFTMAX, EXP, LOG and the LSTM are exact; the bound stays
/// as the one place a float tolerance would go.
pub fn float_ulp_bound(_program: &tinyq_ir::Program) -> u32 {
    0
}

/// Distance in units in the last place between two floats (0 for equal
/// bits; NaNs and opposite signs count as far apart).
pub fn ulps(a: f32, b: f32) -> u32 {
    let key = |v: f32| {
        let b = v.to_bits() as i32;
        i64::from(if b < 0 { i32::MIN.wrapping_sub(b) } else { b })
    };
    if a.is_nan() || b.is_nan() {
        return if a.to_bits() == b.to_bits() {
            0
        } else {
            u32::MAX
        };
    }
    u32::try_from((key(a) - key(b)).unsigned_abs()).unwrap_or(u32::MAX)
}

/// Compares one output with TFLM's: `None` when every byte is equal, or
/// (for a float32 output, `bound > 0`) every value within `bound` ulp;
/// otherwise a description of the difference.
pub fn output_mismatch(got: &[u8], want: &[u8], float: bool, bound: u32) -> Option<String> {
    if got == want {
        return None;
    }
    if got.len() != want.len() {
        return Some(format!("{} bytes vs TFLM's {}", got.len(), want.len()));
    }
    if !float {
        let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
        let differing = got.iter().zip(want).filter(|(a, b)| a != b).count();
        return Some(format!(
            "{differing} bytes differ, first at byte {first} (tinyq {} vs TFLM {})",
            got[first], want[first]
        ));
    }
    let values = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let (g, w) = (values(got), values(want));
    let dist: Vec<u32> = g.iter().zip(&w).map(|(&a, &b)| ulps(a, b)).collect();
    let worst = dist.iter().copied().max().unwrap_or(0);
    if worst <= bound {
        return None;
    }
    let at = dist.iter().position(|&d| d == worst).unwrap_or(0);
    Some(format!(
        "{} of {} floats differ, worst {worst} ulp at {at} (tinyq {:e} vs TFLM {:e}; bound {bound})",
        dist.iter().filter(|&&d| d > 0).count(),
        dist.len(),
        g[at],
        w[at]
    ))
}

/// The largest ulp distance between two float32 outputs.
pub fn max_ulps(got: &[u8], want: &[u8]) -> u32 {
    got.chunks_exact(4)
        .zip(want.chunks_exact(4))
        .map(|(a, b)| {
            ulps(
                f32::from_le_bytes([a[0], a[1], a[2], a[3]]),
                f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            )
        })
        .max()
        .unwrap_or(0)
}

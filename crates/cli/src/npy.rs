//! Reading and writing sample arrays (`.npy`, `.npz`) of any supported dtype.

use std::fs::File;
use std::io::{BufWriter, Cursor};
use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{NpzReader, NpzWriter, ReadNpyExt, WriteNpyExt};
use tinyq_ir::DType;

use crate::CliError;

/// An array read from disk, with its element type.
#[derive(Debug, Clone)]
pub enum Samples {
    F32(ArrayD<f32>),
    I8(ArrayD<i8>),
    U8(ArrayD<u8>),
}

impl Samples {
    pub fn shape(&self) -> &[usize] {
        match self {
            Samples::F32(a) => a.shape(),
            Samples::I8(a) => a.shape(),
            Samples::U8(a) => a.shape(),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Samples::F32(_) => DType::F32,
            Samples::I8(_) => DType::I8,
            Samples::U8(_) => DType::U8,
        }
    }

    /// Little-endian bytes of all elements in row-major order.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Samples::F32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Samples::I8(a) => a.iter().map(|&v| v as u8).collect(),
            Samples::U8(a) => a.iter().copied().collect(),
        }
    }
}

/// Decodes one `.npy` image of dtype float32, int8 or uint8 (float64 is
/// narrowed to float32, as TFLite inputs are float32).
fn decode(bytes: &[u8], what: &str) -> Result<Samples, CliError> {
    if let Ok(a) = ArrayD::<f32>::read_npy(Cursor::new(bytes)) {
        return Ok(Samples::F32(a));
    }
    if let Ok(a) = ArrayD::<i8>::read_npy(Cursor::new(bytes)) {
        return Ok(Samples::I8(a));
    }
    if let Ok(a) = ArrayD::<u8>::read_npy(Cursor::new(bytes)) {
        return Ok(Samples::U8(a));
    }
    if let Ok(a) = ArrayD::<f64>::read_npy(Cursor::new(bytes)) {
        return Ok(Samples::F32(a.mapv(|v| v as f32)));
    }
    match ArrayD::<f32>::read_npy(Cursor::new(bytes)) {
        Err(e) => Err(CliError(format!(
            "{what}: not a float32, float64, int8 or uint8 .npy array ({e})"
        ))),
        Ok(_) => unreachable!("decoded above"),
    }
}

/// Reads the arrays of a `.npy` (one unnamed array) or `.npz` file.
pub fn read_arrays(path: &Path) -> Result<Vec<(String, Samples)>, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?;
    if bytes.is_empty() {
        return Err(CliError(format!("{} is empty", path.display())));
    }
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if !is_npz {
        return Ok(vec![(
            String::new(),
            decode(&bytes, &path.display().to_string())?,
        )]);
    }
    let mut npz = NpzReader::new(Cursor::new(&bytes)).map_err(|e| {
        CliError(format!(
            "{} is not a valid .npz archive: {e}",
            path.display()
        ))
    })?;
    let names = npz
        .names()
        .map_err(|e| CliError(format!("cannot list {}: {e}", path.display())))?;
    let mut arrays = Vec::new();
    for name in names {
        let array: Result<ArrayD<f32>, _> = npz.by_name(&name);
        let samples = match array {
            Ok(a) => Samples::F32(a),
            Err(_) => match npz.by_name::<ndarray::OwnedRepr<i8>, ndarray::IxDyn>(&name) {
                Ok(a) => Samples::I8(a),
                Err(_) => match npz.by_name::<ndarray::OwnedRepr<u8>, ndarray::IxDyn>(&name) {
                    Ok(a) => Samples::U8(a),
                    Err(e) => {
                        return Err(CliError(format!(
                            "{}: array {name:?} is not float32, int8 or uint8 ({e})",
                            path.display()
                        )));
                    }
                },
            },
        };
        arrays.push((name.trim_end_matches(".npy").to_string(), samples));
    }
    Ok(arrays)
}

/// Writes arrays: one to a `.npy`, several (named) to a `.npz`.
pub fn write_arrays(path: &Path, arrays: &[(String, Samples)]) -> Result<(), CliError> {
    let create = || {
        File::create(path)
            .map(BufWriter::new)
            .map_err(|e| CliError(format!("cannot create {}: {e}", path.display())))
    };
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let write_err =
        |e: &dyn std::fmt::Display| CliError(format!("cannot write {}: {e}", path.display()));
    if !is_npz {
        let [(_, array)] = arrays else {
            return Err(CliError(format!(
                "the model has {} outputs; name an .npz file to hold them all instead of {}",
                arrays.len(),
                path.display()
            )));
        };
        let file = create()?;
        return match array {
            Samples::F32(a) => a.write_npy(file),
            Samples::I8(a) => a.write_npy(file),
            Samples::U8(a) => a.write_npy(file),
        }
        .map_err(|e| write_err(&e));
    }
    let mut npz = NpzWriter::new(create()?);
    for (name, array) in arrays {
        match array {
            Samples::F32(a) => npz.add_array(name.as_str(), a),
            Samples::I8(a) => npz.add_array(name.as_str(), a),
            Samples::U8(a) => npz.add_array(name.as_str(), a),
        }
        .map_err(|e| write_err(&e))?;
    }
    npz.finish().map_err(|e| write_err(&e))?;
    Ok(())
}

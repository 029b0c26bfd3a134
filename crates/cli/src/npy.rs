//! Reading and writing sample arrays (`.npy`, `.npz`) of any supported dtype.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use ndarray::ArrayD;
use ndarray_npy::{NpzWriter, WriteNpyExt};
use tinyq_ir::DType;

use crate::CliError;

/// An array read from disk, with its element type.
#[derive(Debug, Clone)]
pub enum Samples {
    F32(ArrayD<f32>),
    I8(ArrayD<i8>),
    U8(ArrayD<u8>),
    I16(ArrayD<i16>),
}

impl Samples {
    pub fn shape(&self) -> &[usize] {
        match self {
            Samples::F32(a) => a.shape(),
            Samples::I8(a) => a.shape(),
            Samples::U8(a) => a.shape(),
            Samples::I16(a) => a.shape(),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Samples::F32(_) => DType::F32,
            Samples::I8(_) => DType::I8,
            Samples::U8(_) => DType::U8,
            Samples::I16(_) => DType::I16,
        }
    }

    /// Little-endian bytes of all elements in row-major order.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Samples::F32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Samples::I8(a) => a.iter().map(|&v| v as u8).collect(),
            Samples::U8(a) => a.iter().copied().collect(),
            Samples::I16(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// Reads the arrays of a `.npy` (one unnamed array) or `.npz` file through
/// the shared reader (`tinyq_quant::npy`: sizes checked before allocating);
/// float32, float64 (narrowed), int8, uint8 and int16 arrays are accepted.
pub fn read_arrays(path: &Path) -> Result<Vec<(String, Samples)>, CliError> {
    use tinyq_quant::npy::Data;
    let arrays = tinyq_quant::npy::read_file(path).map_err(|e| CliError(e.to_string()))?;
    arrays
        .into_iter()
        .map(|(name, data)| {
            let samples = match data {
                Data::F32(a) => Samples::F32(a),
                Data::F64(a) => Samples::F32(a.mapv(|v| v as f32)),
                Data::I8(a) => Samples::I8(a),
                Data::U8(a) => Samples::U8(a),
                Data::I16(a) => Samples::I16(a),
                other => {
                    let which = if name.is_empty() {
                        String::new()
                    } else {
                        format!(": array {name:?}")
                    };
                    return Err(CliError(format!(
                        "{}{which}: is {}; sample arrays must be float32, float64, int8, uint8 or int16",
                        path.display(),
                        other.dtype_name()
                    )));
                }
            };
            Ok((name, samples))
        })
        .collect()
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
            Samples::I16(a) => a.write_npy(file),
        }
        .map_err(|e| write_err(&e));
    }
    let mut npz = NpzWriter::new(create()?);
    for (name, array) in arrays {
        match array {
            Samples::F32(a) => npz.add_array(name.as_str(), a),
            Samples::I8(a) => npz.add_array(name.as_str(), a),
            Samples::U8(a) => npz.add_array(name.as_str(), a),
            Samples::I16(a) => npz.add_array(name.as_str(), a),
        }
        .map_err(|e| write_err(&e))?;
    }
    npz.finish().map_err(|e| write_err(&e))?;
    Ok(())
}

//! Shared helpers of the quant tests: fixture discovery and `.npy` reading.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use ndarray::ArrayD;
use ndarray_npy::ReadNpyExt;

/// Fixture directories holding `float.tflite`, sorted by name.
pub fn float_fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(tinyq_tests::fixtures_dir())
        .expect("fixtures dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("float.tflite").is_file())
        .collect();
    dirs.sort();
    dirs
}

pub fn name(dir: &Path) -> String {
    dir.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a float32 `.npy`.
pub fn read_f32(path: &Path) -> ArrayD<f32> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ArrayD::<f32>::read_npy(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `PREFIX.in0.npy`, `PREFIX.in1.npy`, ... as long as they exist.
pub fn indexed(dir: &Path, prefix: &str, kind: &str) -> Vec<PathBuf> {
    (0..)
        .map(|k| dir.join(format!("{prefix}.{kind}{k}.npy")))
        .take_while(|p| p.is_file())
        .collect()
}

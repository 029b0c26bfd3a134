//! Helpers shared by the CLI test binaries.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `tinyq` binary built for these tests.
pub fn tinyq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tinyq"))
        .args(args)
        .output()
        .expect("the tinyq binary runs")
}

/// A path as a command-line argument.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

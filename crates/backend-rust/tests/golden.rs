//! Golden files: every fixture case (but the float models) emitted as Rust
//! into `tests/golden/rust/NAME_VARIANT.rs`, plus the index the no_std check
//! crate (`tests/rust-check`) compiles and runs against TFLM's outputs.
//! `TINYQ_BLESS=1 cargo test -p tinyq-backend-rust --test golden` rewrites
//! them.

use std::path::{Path, PathBuf};

use tinyq_backend_rust::{HEADER, emit};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden_dir() -> PathBuf {
    root().join("tests/golden/rust")
}

fn check_lib() -> PathBuf {
    root().join("tests/rust-check/src/lib.rs")
}

/// `(module name, case name, generated source)` for every integer case.
fn generate() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for case in tinyq_tests::cases() {
        let (fixture, variant) = case.name.split_once('/').expect("NAME/VARIANT");
        if variant == "float" {
            continue;
        }
        let graph =
            tinyq_tflite::read_file(&case.model).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let program = match tinyq_opt::lower(&graph) {
            Ok(p) => p,
            // Float models compile through quantization, not here.
            Err(tinyq_opt::LowerError::FloatModel { .. }) => continue,
            Err(e) => panic!("{}: {e}", case.name),
        };
        let module = format!("{fixture}_{variant}");
        let source = emit(&program, &module).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        out.push((module, case.name.clone(), source));
    }
    out
}

fn index(cases: &[(String, String, String)]) -> String {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str(
        "\n// Written by `TINYQ_BLESS=1 cargo test -p tinyq-backend-rust --test golden`.\n\
         //! Compiles every golden generated Rust file (`tests/golden/rust`) in a\n\
         //! `no_std` crate under the workspace lints; `tests/tflm.rs` runs them\n\
         //! against TFLM's outputs.\n#![no_std]\n\n",
    );
    for (module, _, _) in cases {
        s.push_str(&format!(
            "#[rustfmt::skip] // prettyplease's layout is the golden\n#[path = \"../../golden/rust/{module}.rs\"]\npub mod {module};\n"
        ));
    }
    s.push_str(
        "\n/// Runs one case on byte buffers with an arena on the stack.\n\
         pub type Runner = fn(&[&[u8]], &mut [&mut [u8]]) -> bool;\n\n\
         /// `(fixture case, runner)` for every golden.\n\
         pub const CASES: &[(&str, Runner)] = &[\n",
    );
    for (module, name, _) in cases {
        s.push_str(&format!(
            "    (\"{name}\", |i, o| {{\n        let mut arena = {module}::Arena::new();\n        {module}::invoke_bytes(i, o, &mut arena).is_ok()\n    }}),\n"
        ));
    }
    s.push_str("];\n");
    s
}

#[test]
fn golden_rust_files_are_current() {
    let cases = generate();
    assert!(cases.len() > 50, "only {} fixture cases", cases.len());
    let bless = std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1");
    let mut files: Vec<(PathBuf, String)> = cases
        .iter()
        .map(|(m, _, src)| (golden_dir().join(format!("{m}.rs")), src.clone()))
        .collect();
    files.push((check_lib(), index(&cases)));
    let mut stale = Vec::new();
    for (path, text) in &files {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != *text {
            if bless {
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, text).expect("write golden");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    // Goldens of cases that no longer exist.
    for entry in std::fs::read_dir(golden_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") && !files.iter().any(|(p, _)| *p == path) {
            if bless {
                std::fs::remove_file(&path).expect("remove stale golden");
            } else {
                stale.push(format!("{} (no such case)", path.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale golden files (rerun with TINYQ_BLESS=1 to rewrite them):\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn output_is_deterministic_and_headed() {
    let a = generate();
    let b = generate();
    assert_eq!(a, b);
    // (Two full runs: the whole suite is a few seconds.)
    // No path of this checkout may leak into generated files.
    let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .and_then(|p| p.to_str())
        .unwrap_or("/")
        .to_string();
    for (m, _, src) in &a {
        assert!(src.starts_with(HEADER), "{m}");
        assert!(!src.contains("unsafe"), "{m}");
        assert!(!src.contains(&checkout), "{m}: absolute path");
    }
}

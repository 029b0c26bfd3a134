//! Every golden generated Rust file passes `cargo clippy -D warnings` (under
//! the workspace lints, in this `no_std` crate). Runs clippy on this crate's
//! library only, in its own target directory so it never waits on the
//! build lock of the `cargo test` running it.

use std::path::Path;
use std::process::Command;

#[test]
fn goldens_are_clippy_clean() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let has_clippy = Command::new(&cargo)
        .args(["clippy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_clippy {
        println!("SKIPPED: cargo clippy is not installed (rustup component add clippy)");
        return;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-check-clippy");
    let output = Command::new(&cargo)
        .args([
            "clippy",
            "--offline",
            "--lib",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .args(["--", "-D", "warnings", "-W", "clippy::pedantic"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo clippy");
    assert!(
        output.status.success(),
        "clippy found problems in the generated Rust:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

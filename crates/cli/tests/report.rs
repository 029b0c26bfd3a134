//! `tinyq compile --report`: golden HTML and JSON for two fixtures
//! (`TINYQ_BLESS=1` rewrites them), one row per step, no URLs.

use std::path::{Path, PathBuf};
use std::process::Command;

use tinyq_tests::fixtures_dir;

/// Fixtures with a golden report: a small CNN and a single convolution.
const CASES: &[&str] = &["mnist", "conv_basic"];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/report")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tinyq-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Compiles `fixture` with `--report` from the fixtures directory, so the
/// model path in the report is relative and the golden portable.
/// Each call has its own directory (`tag`): the tests run in parallel.
fn report(fixture: &str, ext: &str, tag: &str) -> String {
    let dir = scratch().join(format!("{fixture}-{ext}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join(format!("report.{ext}"));
    let out = Command::new(env!("CARGO_BIN_EXE_tinyq"))
        .current_dir(fixtures_dir())
        .args([
            "compile",
            &format!("{fixture}/int8.tflite"),
            "--emit",
            "c",
            "--name",
            fixture,
        ])
        .arg("--out")
        .arg(&dir)
        .arg("--report")
        .arg(&file)
        .output()
        .expect("tinyq runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&file).expect("report written")
}

fn steps_in_source(fixture: &str, ext: &str, tag: &str) -> usize {
    let dir = scratch().join(format!("{fixture}-{ext}-{tag}"));
    let c = std::fs::read_to_string(dir.join(format!("{fixture}.c"))).expect("c");
    c.lines()
        .filter(|l| l.trim_start().starts_with("/* step "))
        .count()
}

#[test]
fn reports_equal_the_goldens() {
    let bless = std::env::var_os("TINYQ_BLESS").is_some();
    let mut stale = Vec::new();
    for fixture in CASES {
        for ext in ["html", "json"] {
            let text = report(fixture, ext, "golden");
            let golden = golden_dir().join(format!("{fixture}.{ext}"));
            if bless {
                std::fs::create_dir_all(golden_dir()).expect("golden dir");
                std::fs::write(&golden, &text).expect("bless");
            } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
                stale.push(golden.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "reports differ from the goldens (rerun with TINYQ_BLESS=1 to rewrite them if the change is intended):\n{}",
        stale.join("\n")
    );
}

#[test]
fn html_has_one_row_per_step_and_no_urls() {
    for fixture in CASES {
        let html = report(fixture, "html", "rows");
        let steps = steps_in_source(fixture, "html", "rows");
        assert!(steps > 0);
        assert_eq!(html.matches("<tr data-step=\"").count(), steps, "{fixture}");
        assert!(
            !html.contains("http"),
            "{fixture}: the report must not link anywhere"
        );
        assert!(!html.contains("//"), "{fixture}: no URLs of any scheme");
        assert!(!html.contains("<script"), "{fixture}: no scripts");
        assert!(
            html.contains("<svg") && html.contains("lower bound"),
            "{fixture}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&report(fixture, "json", "rows")).expect("json");
        assert_eq!(json["steps"].as_array().map(Vec::len), Some(steps));
    }
}

#[test]
fn report_extension_is_checked() {
    let dir = scratch().join("ext");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_tinyq"))
        .current_dir(fixtures_dir())
        .args(["compile", "mnist/int8.tflite", "--emit", "c", "--out"])
        .arg(&dir)
        .arg("--report")
        .arg(dir.join("report.txt"))
        .output()
        .expect("tinyq runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".html or .json"));
}

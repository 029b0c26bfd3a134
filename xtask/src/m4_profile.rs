//! `cargo xtask bench --m4 --profile`: where tinyq's instructions go on the
//! Cortex-M4, per op type (side by side with TFLM + CMSIS-NN, from the
//! m4bench tool's own `--profile` builds) and per step.
//!
//! Per step: the tool's profiled tinyq build attributes instructions to op
//! codes through `bench_prof_mark(code)` calls inserted before each step of
//! `m_invoke`; here the same driver is linked against a copy of the
//! generated `m.c` whose marks carry the step number instead (steps past
//! 126 share the last slot). The counts are QEMU's deterministic `-icount`
//! instructions, at the timer's resolution of 40; each mark costs a few
//! instructions, attributed to the step it opens.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The last counter slot the driver has (it keeps 128, codes 0..=127).
const LAST_SLOT: usize = 126;

/// The tool's `result.json` profile: instructions and MACs per op type.
#[derive(Default)]
pub struct OpTypeProfile {
    pub instr: BTreeMap<String, u64>,
    pub macs: BTreeMap<String, u64>,
}

pub fn op_type_profile(result_json: &Path) -> Option<OpTypeProfile> {
    let text = std::fs::read_to_string(result_json).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let p = v.get("profile")?;
    let map = |key: &str| -> BTreeMap<String, u64> {
        p.get(key)
            .and_then(|m| m.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(OpTypeProfile {
        instr: map("instr_per_op_type"),
        macs: map("macs_per_op_type"),
    })
}

/// Prints tinyq's and TFLM + CMSIS-NN's instructions per op type.
pub fn print_op_types(tinyq: &OpTypeProfile, cmsis: Option<&OpTypeProfile>) {
    println!(
        "  {:<18} {:>11} | {:>11} {:>6} | {:>11} {:>6} | {:>6}",
        "op type", "MACs", "tinyq", "/MAC", "CMSIS-NN", "/MAC", "ratio"
    );
    let mut ops: Vec<&String> = tinyq.instr.keys().collect();
    if let Some(c) = cmsis {
        ops.extend(c.instr.keys().filter(|k| !tinyq.instr.contains_key(*k)));
    }
    let per_mac = |instr: Option<u64>, macs: Option<u64>| match (instr, macs) {
        (Some(i), Some(m)) if m > 0 => format!("{:.2}", i as f64 / m as f64),
        _ => "-".into(),
    };
    for op in ops {
        let macs = tinyq.macs.get(op).copied();
        let t = tinyq.instr.get(op).copied();
        let c = cmsis.and_then(|c| c.instr.get(op).copied());
        let show = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
        let ratio = match (t, c) {
            (Some(t), Some(c)) if c > 0 => format!("{:.2}", t as f64 / c as f64),
            _ => "-".into(),
        };
        println!(
            "  {:<18} {:>11} | {:>11} {:>6} | {:>11} {:>6} | {:>6}",
            op,
            show(macs),
            show(t),
            per_mac(t, macs),
            show(c),
            per_mac(c, macs),
            ratio
        );
    }
}

/// `m.c` with `bench_prof_mark(step)` before each step of `m_invoke` and
/// `bench_prof_mark(-1)` before its final return, plus the steps' headers.
fn mark_steps(source: &str) -> (String, Vec<String>) {
    let mut out = Vec::new();
    let mut headers = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("/* step ") {
            let slot = headers.len().min(LAST_SLOT);
            let indent = &line[..line.len() - trimmed.len()];
            out.push(format!("{indent}bench_prof_mark({slot});"));
            headers.push(rest.trim_end_matches("*/").trim().to_string());
        }
        out.push(line.to_string());
        if line.starts_with("#include \"m.h\"") {
            out.push("void bench_prof_mark(int op);".into());
        }
    }
    if let Some(i) = out.iter().rposition(|l| l.trim() == "return 0;") {
        out.insert(i, "    bench_prof_mark(-1);".into());
    }
    (out.join("\n") + "\n", headers)
}

fn run(cmd: &mut Command) -> Result<Vec<u8>, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // QEMU prints the semihosted console on stdout or stderr, by version.
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    Ok(text)
}

/// Instructions per inference for each step of the tinyq build in `engine_dir`
/// (the tool's `--work DIR/tinyq` after a `--profile` run): (header, instr).
pub fn per_step(tool: &Path, engine_dir: &Path) -> Result<Vec<(String, u64)>, String> {
    let source = std::fs::read_to_string(engine_dir.join("gen/m.c")).map_err(|e| e.to_string())?;
    let (marked, headers) = mark_steps(&source);
    let dir = engine_dir.join("steps");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("m.c"), marked).map_err(|e| e.to_string())?;
    std::fs::copy(engine_dir.join("gen/m.h"), dir.join("m.h")).map_err(|e| e.to_string())?;
    let arch = [
        "-mcpu=cortex-m4",
        "-mthumb",
        "-mfpu=fpv4-sp-d16",
        "-mfloat-abi=hard",
    ];
    run(Command::new("arm-none-eabi-gcc")
        .args(arch)
        .args(["-O2", "-ffunction-sections", "-fdata-sections", "-std=c99"])
        .arg("-I")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("m.c"))
        .arg("-o")
        .arg(dir.join("m.o")))?;
    let bench = tool.join("bench");
    run(Command::new("arm-none-eabi-gcc")
        .args(arch)
        .arg("-T")
        .arg(bench.join("bench.ld"))
        .args([
            "-nostartfiles",
            "--specs=nano.specs",
            "--specs=nosys.specs",
            "-Wl,--gc-sections",
        ])
        .arg(engine_dir.join("data/startup.o"))
        .arg(engine_dir.join("prof/main.o"))
        .arg(dir.join("m.o"))
        .arg(engine_dir.join("data/samples.o"))
        .arg("-o")
        .arg(dir.join("t.elf")))?;
    let log = run(Command::new("timeout")
        .arg("900")
        .arg("qemu-system-arm")
        .args(["-M", "mps2-an386", "-nographic", "-monitor", "none"])
        .args(["-serial", "none", "-semihosting-config"])
        .arg("enable=on,target=native")
        .args(["-icount", "shift=0", "-kernel"])
        .arg(dir.join("t.elf")))?;
    let log = String::from_utf8_lossy(&log);
    let mut counts = vec![0u64; headers.len()];
    for line in log.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let (Some(slot), Ok(value)) = (key.strip_prefix("prof_op"), value.parse::<u64>()) else {
            continue;
        };
        if let Ok(slot) = slot.parse::<usize>()
            && slot < counts.len()
        {
            counts[slot] = value;
        }
    }
    Ok(headers.into_iter().zip(counts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_every_step_and_the_end() {
        let src = "#include \"m.h\"\nint m_invoke(void)\n{\n    /* step 0: conv2d, a */\n    f();\n    /* step 1: softmax, b */\n    g();\n    return 0;\n}\n";
        let (out, headers) = mark_steps(src);
        assert_eq!(headers, ["0: conv2d, a", "1: softmax, b"]);
        assert!(out.contains("    bench_prof_mark(0);\n    /* step 0"));
        assert!(out.contains("    bench_prof_mark(1);\n    /* step 1"));
        assert!(out.contains("bench_prof_mark(-1);\n    return 0;"));
        assert!(out.contains("#include \"m.h\"\nvoid bench_prof_mark(int op);"));
    }
}

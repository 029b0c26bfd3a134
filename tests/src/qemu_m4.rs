//! Bare-metal Cortex-M4 firmware under QEMU (`qemu-system-arm -M
//! mps2-an386`, console over semihosting), for the tests that build the
//! examples in `examples/cortex-m4` and `examples/kws-streaming`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// True when `tool --version` runs and succeeds.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first of `tools` that is not installed.
pub fn missing<'a>(tools: &[&'a str]) -> Option<&'a str> {
    tools.iter().copied().find(|t| !have(t))
}

/// Runs `elf` on the MPS2 AN386 board; returns what it printed, or an error
/// with that text when it exits non-zero or runs longer than `timeout`.
/// `extra` goes before `-kernel` (e.g. `-icount shift=0`).
pub fn run_mps2_an386(elf: &Path, extra: &[&str], timeout: Duration) -> Result<String, String> {
    let mut child = Command::new("qemu-system-arm")
        .args(["-M", "mps2-an386", "-nographic", "-monitor", "none"])
        .args([
            "-serial",
            "none",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        .args(extra)
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    // Drained while QEMU runs, so a chatty firmware cannot fill the pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{}: QEMU did not finish within {timeout:?}",
                elf.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Semihosting console output lands on QEMU's stdout or stderr
    // depending on the version; read both.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout.join().unwrap_or_default()),
        String::from_utf8_lossy(&stderr.join().unwrap_or_default())
    );
    if status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{}: firmware failed ({status}):\n{text}",
            elf.display()
        ))
    }
}

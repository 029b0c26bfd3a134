//! `tinyq run --trace` and `tinyq trace-diff`: a CRC of every step's output,
//! so a device's run can be compared with the reference step by step.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::CliError;

/// One step of a trace: what `--trace` writes per step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    pub index: usize,
    pub op: String,
    pub output: String,
    pub bytes: usize,
    /// CRC-32/IEEE of the output, 8 lowercase hex digits.
    pub crc32: String,
}

/// The file `--trace` writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    pub steps: Vec<TraceStep>,
}

/// CRC-32/IEEE (reflected, polynomial 0xEDB88320), as zlib computes it;
/// table-driven, the table built at compile time.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Writes `trace` as JSON to `path`.
pub fn write_trace(path: &Path, trace: &Trace) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(trace)
        .map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text + "\n").map_err(|e| CliError(format!("{}: {e}", path.display())))
}

/// `tinyq trace-diff TRACE.json DEVICE.txt`: Ok(true) when every step the
/// device printed matches, Ok(false) (after naming the first differing
/// step) when one does not.
pub fn trace_diff(trace: &Path, device: &Path) -> Result<bool, CliError> {
    let text = std::fs::read_to_string(trace)
        .map_err(|e| CliError(format!("cannot read {}: {e}", trace.display())))?;
    let reference: Trace = serde_json::from_str(&text).map_err(|e| {
        CliError(format!(
            "{}: not a trace written by `tinyq run --trace`: {e}",
            trace.display()
        ))
    })?;
    let text = std::fs::read_to_string(device)
        .map_err(|e| CliError(format!("cannot read {}: {e}", device.display())))?;
    let mut seen = 0usize;
    for (line_no, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let (Some(index), Some(crc), None) = (words.next(), words.next(), words.next()) else {
            // Devices print other things too; only `index crc32` lines count.
            continue;
        };
        let (Ok(index), Ok(crc)) = (index.parse::<usize>(), u32::from_str_radix(crc, 16)) else {
            continue;
        };
        let Some(step) = reference.steps.iter().find(|s| s.index == index) else {
            return Err(CliError(format!(
                "{}:{}: step {index} is not in {} ({} steps)",
                device.display(),
                line_no + 1,
                trace.display(),
                reference.steps.len()
            )));
        };
        seen += 1;
        let expected = u32::from_str_radix(&step.crc32, 16).map_err(|e| {
            CliError(format!(
                "{}: step {index}: bad crc32 {:?}: {e}",
                trace.display(),
                step.crc32
            ))
        })?;
        if crc != expected {
            outln!(
                "first difference: step {index} ({}, output {:?}, {} bytes): device crc32 {crc:08x}, reference {}",
                step.op,
                step.output,
                step.bytes,
                step.crc32
            );
            return Ok(false);
        }
    }
    if seen == 0 {
        return Err(CliError(format!(
            "{}: no `index crc32` lines",
            device.display()
        )));
    }
    outln!(
        "{seen} of {} steps compared: all equal",
        reference.steps.len()
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}

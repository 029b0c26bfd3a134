//! TFLM's signal-library custom ops (the audio front end): one type for the
//! graph op and the Program kernel, since each op's attributes are exactly
//! its kernel's numbers (nothing is folded at lowering).

use tinyq_kernels::KernelError;
use tinyq_kernels::signal::{EnergyParams, FilterBankLogParams, WindowParams};
use tinyq_kernels::signal_bank::{FilterBankParams, FilterBankTables, PcanParams};

use crate::DType;

/// One signal-library op, with its custom options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalOp {
    /// `SignalWindow`: inputs samples (int16), weights (int16); int16 out.
    Window(WindowParams),
    /// `SignalEnergy`: complex int16 bins in, UINT32 energies out.
    Energy(EnergyParams),
    /// `SignalFilterBankLog`: UINT32 in, int16 out.
    FilterBankLog(FilterBankLogParams),
    /// `SignalFilterBankSquareRoot`: UINT64 sums and an int32 scalar shift
    /// in, UINT32 out.
    FilterBankSquareRoot,
    /// `SignalFilterBank`: UINT32 energies and five int16 tables (weights,
    /// unweights, channel_frequency_starts, channel_weight_starts,
    /// channel_widths) in, UINT64 channel sums out.
    FilterBank(FilterBankParams),
    /// `SignalPCAN`: UINT32 channels, UINT32 noise estimate and an int16
    /// gain table in, UINT32 out.
    Pcan(PcanParams),
}

impl SignalOp {
    /// The custom code TFLM registers the op under.
    pub fn name(&self) -> &'static str {
        match self {
            SignalOp::Window(_) => "SignalWindow",
            SignalOp::Energy(_) => "SignalEnergy",
            SignalOp::FilterBankLog(_) => "SignalFilterBankLog",
            SignalOp::FilterBankSquareRoot => "SignalFilterBankSquareRoot",
            SignalOp::FilterBank(_) => "SignalFilterBank",
            SignalOp::Pcan(_) => "SignalPCAN",
        }
    }

    /// The element types TFLM's kernel requires: inputs, output.
    pub fn dtypes(&self) -> (&'static [DType], DType) {
        match self {
            SignalOp::Window(_) => (&[DType::I16, DType::I16], DType::I16),
            SignalOp::Energy(_) => (&[DType::I16], DType::U32),
            SignalOp::FilterBankLog(_) => (&[DType::U32], DType::I16),
            SignalOp::FilterBankSquareRoot => (&[DType::U64, DType::I32], DType::U32),
            SignalOp::FilterBank(_) => (
                &[
                    DType::U32,
                    DType::I16,
                    DType::I16,
                    DType::I16,
                    DType::I16,
                    DType::I16,
                ],
                DType::U64,
            ),
            SignalOp::Pcan(_) => (&[DType::U32, DType::U32, DType::I16], DType::U32),
        }
    }

    /// Number of inputs.
    pub fn arity(&self) -> usize {
        self.dtypes().0.len()
    }

    /// The inputs and output as TFLM's `Prepare` requires their ranks:
    /// `Some(rank)` for each, `None` for "at least 1".
    pub fn ranks(&self) -> (&'static [Option<usize>], Option<usize>) {
        match self {
            SignalOp::Window(_) => (&[None, Some(1)], None),
            SignalOp::Energy(_) | SignalOp::FilterBankLog(_) => (&[Some(1)], Some(1)),
            SignalOp::FilterBankSquareRoot => (&[Some(1), Some(0)], Some(1)),
            SignalOp::FilterBank(_) => (&[Some(1); 6], Some(1)),
            SignalOp::Pcan(_) => (&[Some(1); 3], Some(1)),
        }
    }

    /// The kernel's own checks on buffer sizes in bytes.
    pub fn check(&self, ins: &[usize], out: usize) -> Result<(), KernelError> {
        let n = |k: usize| ins.get(k).copied().unwrap_or(0);
        match self {
            SignalOp::Window(p) => p.check(n(0), n(1), out),
            SignalOp::Energy(p) => p.check(n(0), out),
            SignalOp::FilterBankLog(p) => p.check(n(0), out),
            SignalOp::FilterBankSquareRoot => {
                tinyq_kernels::error::check_len("filter bank square root scale_bits", 4, n(1))?;
                tinyq_kernels::error::check_len("filter bank square root output", n(0) / 2, out)
            }
            SignalOp::FilterBank(p) => p.check(n(0), [n(1), n(2), n(3), n(4), n(5)], out),
            SignalOp::Pcan(p) => p.check(n(0), n(1), n(2), out),
        }
    }

    /// Runs the kernel on byte buffers.
    pub fn run(&self, ins: &[&[u8]], out: &mut [u8]) -> Result<(), KernelError> {
        use tinyq_kernels::signal as k;
        let input = |i: usize| {
            ins.get(i)
                .copied()
                .ok_or(KernelError::InvalidParams("signal op input missing"))
        };
        match self {
            SignalOp::Window(p) => k::window(p, input(0)?, input(1)?, out),
            SignalOp::Energy(p) => k::energy(p, input(0)?, out),
            SignalOp::FilterBankLog(p) => k::filter_bank_log(p, input(0)?, out),
            SignalOp::FilterBankSquareRoot => k::filter_bank_square_root(input(0)?, input(1)?, out),
            SignalOp::FilterBank(p) => {
                let tables = FilterBankTables {
                    weights: input(1)?,
                    unweights: input(2)?,
                    freq_starts: input(3)?,
                    weight_starts: input(4)?,
                    widths: input(5)?,
                };
                tinyq_kernels::signal_bank::filter_bank(p, input(0)?, &tables, out)
            }
            SignalOp::Pcan(p) => {
                tinyq_kernels::signal_bank::pcan(p, input(0)?, input(1)?, input(2)?, out)
            }
        }
    }

    /// The options as `key=value` pairs (dumps, `inspect`), TFLM's keys.
    pub fn attrs(&self) -> Vec<(&'static str, String)> {
        match self {
            SignalOp::Window(p) => vec![("shift", p.shift.to_string())],
            SignalOp::Energy(p) => vec![
                ("start_index", p.start.to_string()),
                ("end_index", p.end.to_string()),
            ],
            SignalOp::FilterBankLog(p) => vec![
                ("input_correction_bits", p.input_correction_bits.to_string()),
                ("output_scale", p.output_scale.to_string()),
            ],
            SignalOp::FilterBankSquareRoot => Vec::new(),
            SignalOp::FilterBank(p) => vec![("num_channels", p.num_channels.to_string())],
            SignalOp::Pcan(p) => vec![("snr_shift", p.snr_shift.to_string())],
        }
    }

    /// The op named `name` from its attributes (`get(key)` gives a value),
    /// the inverse of [`SignalOp::name`] and [`SignalOp::attrs`]; `None` for
    /// another name.
    pub fn from_attrs(
        name: &str,
        mut get: impl FnMut(&'static str) -> Result<u64, String>,
    ) -> Option<Result<SignalOp, String>> {
        let narrow = |v: u64, key: &str| {
            u32::try_from(v).map_err(|_| format!("{key} {v} does not fit 32 bits"))
        };
        let mut op = || -> Result<SignalOp, String> {
            Ok(match name {
                "SignalWindow" => SignalOp::Window(WindowParams {
                    shift: narrow(get("shift")?, "shift")?,
                }),
                "SignalEnergy" => SignalOp::Energy(EnergyParams {
                    start: get("start_index")? as usize,
                    end: get("end_index")? as usize,
                }),
                "SignalFilterBankLog" => SignalOp::FilterBankLog(FilterBankLogParams {
                    input_correction_bits: narrow(
                        get("input_correction_bits")?,
                        "input_correction_bits",
                    )?,
                    output_scale: narrow(get("output_scale")?, "output_scale")?,
                }),
                "SignalFilterBank" => SignalOp::FilterBank(FilterBankParams {
                    num_channels: get("num_channels")? as usize,
                }),
                "SignalPCAN" => SignalOp::Pcan(PcanParams {
                    snr_shift: narrow(get("snr_shift")?, "snr_shift")?,
                }),
                _ => SignalOp::FilterBankSquareRoot,
            })
        };
        match name {
            "SignalWindow"
            | "SignalEnergy"
            | "SignalFilterBankLog"
            | "SignalFilterBankSquareRoot"
            | "SignalFilterBank"
            | "SignalPCAN" => Some(op()),
            _ => None,
        }
    }

    /// The custom codes tinyq reads, for messages and `inspect`.
    pub const NAMES: [&'static str; 6] = [
        "SignalWindow",
        "SignalEnergy",
        "SignalFilterBankLog",
        "SignalFilterBankSquareRoot",
        "SignalFilterBank",
        "SignalPCAN",
    ];
}

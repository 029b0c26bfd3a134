//! Signal-library steps (TFLM's audio front end), from
//! `templates/c/kernels/signal.c.tera`: one call per step, its numbers as
//! literals.

use std::fmt::Write as _;

use tinyq_ir::signal::SignalOp;
use tinyq_ir::{BufferRef, Step};
use tinyq_kernels::signal_bank::{FilterBankParams, FilterBankTables};

use super::{Writer, int, list};
use crate::EmitError;

impl Writer<'_> {
    /// Writes one signal-library step into the body.
    pub(super) fn signal_step(
        &mut self,
        op: &SignalOp,
        step: &Step,
        dst: &str,
        out_len: usize,
        invalid: &dyn Fn(String) -> EmitError,
    ) -> Result<(), EmitError> {
        let mut src = |k: usize| -> Result<String, EmitError> {
            let b = step
                .inputs
                .get(k)
                .copied()
                .ok_or_else(|| invalid(format!("missing input {k}")))?;
            Ok(self.src(b))
        };
        let (x, y) = (src(0)?, src(1).ok());
        let call = match op {
            SignalOp::Window(p) => {
                let weights = y.ok_or_else(|| invalid("missing the weights".into()))?;
                let w = step
                    .inputs
                    .get(1)
                    .and_then(|&b| self.buffer_len(b))
                    .ok_or_else(|| invalid("the weights' size".into()))?;
                self.use_signal("signal_window");
                format!(
                    "tq_signal_window({x}, {weights}, {dst}, {}, {}, {}u)",
                    int(out_len / 2, "a sample count")?,
                    int(w / 2, "a weight count")?,
                    p.shift
                )
            }
            SignalOp::Energy(p) => {
                self.use_signal("signal_energy");
                format!(
                    "tq_signal_energy({x}, {dst}, {}, {}, {})",
                    int(out_len / 4, "a bin count")?,
                    int(p.start, "a bin index")?,
                    int(p.end, "a bin index")?
                )
            }
            SignalOp::FilterBankLog(p) => {
                self.use_signal("signal_log");
                format!(
                    "tq_signal_filter_bank_log({x}, {dst}, {}, {}u, {}u)",
                    int(out_len / 2, "a channel count")?,
                    p.input_correction_bits,
                    p.output_scale
                )
            }
            SignalOp::FilterBankSquareRoot => {
                let shift = y.ok_or_else(|| invalid("missing the shift".into()))?;
                self.use_signal("signal_sqrt");
                format!(
                    "tq_signal_filter_bank_sqrt({x}, {shift}, {dst}, {})",
                    int(out_len / 4, "a channel count")?
                )
            }
            SignalOp::FilterBank(p) => self.filter_bank_call(p, step, dst, invalid)?,
            SignalOp::Pcan(p) => {
                let lut = src(2)?;
                let noise = y.ok_or_else(|| invalid("missing the noise estimate".into()))?;
                self.use_signal("signal_pcan");
                format!(
                    "tq_signal_pcan({x}, {noise}, {lut}, {dst}, {}, {}u)",
                    int(out_len / 4, "a channel count")?,
                    p.snr_shift
                )
            }
            other => return self.signal_fft_step(other, step, dst, out_len, invalid),
        };
        let _ = writeln!(self.body, "    {call};");
        Ok(())
    }

    /// Marks a signal kernel and the int16 load/store helpers it calls
    /// (the template includes the signal helpers each kernel needs).
    fn use_signal(&mut self, kernel: &'static str) {
        let helpers: &[&'static str] = match kernel {
            "signal_window" => &["load_i16", "store_i16"],
            "signal_energy" => &["load_i16"],
            "signal_log" => &["store_i16"],
            "signal_bank" | "signal_pcan" => &["load_i16"],
            _ => &[],
        };
        self.use_kernel("signal", helpers);
        self.use_kernel(kernel, &[]);
    }
}

impl Writer<'_> {
    /// The SignalFilterBank call. Its five tables must be constants, checked
    /// here (every band inside the energies and the weights) so the C
    /// kernel indexes without checks.
    fn filter_bank_call(
        &mut self,
        p: &FilterBankParams,
        step: &Step,
        dst: &str,
        invalid: &dyn Fn(String) -> EmitError,
    ) -> Result<String, EmitError> {
        let program = self.program;
        let table = |k: usize| -> Result<&[u8], EmitError> {
            match step.inputs.get(k) {
                Some(&BufferRef::Const(i)) => program
                    .constants
                    .get(i)
                    .map(Vec::as_slice)
                    .ok_or_else(|| invalid(format!("input {k} is a missing constant"))),
                _ => Err(invalid(format!(
                    "input {k} (a filter bank table) is computed at run time; \
                     tinyq compiles SignalFilterBank with constant tables only"
                ))),
            }
        };
        let tables = FilterBankTables {
            weights: table(1)?,
            unweights: table(2)?,
            freq_starts: table(3)?,
            weight_starts: table(4)?,
            widths: table(5)?,
        };
        let input = step
            .inputs
            .first()
            .and_then(|&b| self.buffer_len(b))
            .ok_or_else(|| invalid("the energies' size".into()))?;
        p.check_tables(input, &tables)
            .map_err(|e| invalid(format!("filter bank tables: {e}")))?;
        let args = (0..6)
            .map(|k| self.src(step.inputs[k]))
            .collect::<Vec<_>>()
            .join(", ");
        self.use_signal("signal_bank");
        Ok(format!(
            "tq_signal_filter_bank({args}, {dst}, {})",
            int(p.num_channels, "a channel count")?
        ))
    }

    /// The FFT steps and spectral subtraction (`kernels/signal_fft.c.tera`).
    fn signal_fft_step(
        &mut self,
        op: &SignalOp,
        step: &Step,
        dst: &str,
        out_len: usize,
        invalid: &dyn Fn(String) -> EmitError,
    ) -> Result<(), EmitError> {
        let input = |k: usize| {
            step.inputs
                .get(k)
                .copied()
                .ok_or_else(|| invalid(format!("missing input {k}")))
        };
        let x = self.src(input(0)?);
        let call = match op {
            SignalOp::FftAutoScaleBits => {
                let n = self
                    .buffer_len(input(0)?)
                    .ok_or_else(|| invalid("the input's size".into()))?;
                self.use_signal_fft("signal_fft_scale");
                format!(
                    "tq_signal_fft_scale_bits({x}, {dst}, {})",
                    int(n / 2, "a sample count")?
                )
            }
            SignalOp::FftAutoScaleApply => {
                let shift = self.src(input(1)?);
                self.use_signal_fft("signal_fft_scale");
                format!(
                    "tq_signal_fft_scale_apply({x}, {shift}, {dst}, {})",
                    int(out_len / 2, "a sample count")?
                )
            }
            SignalOp::Rfft(p) => {
                let in_len = self
                    .buffer_len(input(0)?)
                    .ok_or_else(|| invalid("the input's size".into()))?;
                let (rows, len) = p
                    .check(in_len, out_len)
                    .map_err(|e| invalid(e.to_string()))?;
                let (tw, super_tw) = self.rfft_tables(p.fft_length);
                self.use_signal_fft("signal_rfft");
                format!(
                    "tq_signal_rfft({x}, {dst}, {}, {}, {}, {tw}, {super_tw})",
                    int(rows, "a row count")?,
                    int(len, "a row length")?,
                    int(p.complex_length(), "an fft length")?
                )
            }
            SignalOp::SpectralSubtraction(p) => {
                let state = self.src(input(1)?);
                self.use_signal_fft("signal_spectral");
                format!(
                    "tq_signal_spectral_noise({x}, {state}, {dst}, {}, {}u, {}u, {}u, {}u, {}u, {}u, {})",
                    int(p.num_channels, "a channel count")?,
                    p.smoothing,
                    p.one_minus_smoothing,
                    p.alternate_smoothing,
                    p.alternate_one_minus_smoothing,
                    p.smoothing_bits,
                    p.spectral_subtraction_bits,
                    i32::from(p.clamping)
                )
            }
            SignalOp::SpectralSubtractionOutput(p) => {
                let noise = self.src(input(1)?);
                self.use_signal_fft("signal_spectral");
                format!(
                    "tq_signal_spectral_output({x}, {noise}, {dst}, {}, {}u, {}u, {}u)",
                    int(p.num_channels, "a channel count")?,
                    p.min_signal_remaining,
                    p.smoothing_bits,
                    p.spectral_subtraction_bits
                )
            }
            other => {
                return Err(invalid(format!(
                    "{} is a graph op that lowering splits into steps",
                    other.name()
                )));
            }
        };
        let _ = writeln!(self.body, "    {call};");
        Ok(())
    }

    /// kiss_fftr's twiddle and super-twiddle tables for `fft_length`
    /// (`tinyq_ir::signal::rfft_tables`) as int16 constants, written once
    /// per length; returns their names.
    fn rfft_tables(&mut self, fft_length: usize) -> (String, String) {
        let names = (
            format!("tq_rfft{fft_length}_twiddles"),
            format!("tq_rfft{fft_length}_super_twiddles"),
        );
        if self.constants.contains(&format!("{}[", names.0)) {
            return names;
        }
        let (tw, super_tw) = tinyq_ir::signal::rfft_tables(fft_length);
        for (name, table) in [(&names.0, tw), (&names.1, super_tw)] {
            let values: Vec<i64> = table.iter().flatten().map(|&v| i64::from(v)).collect();
            let _ = writeln!(
                self.constants,
                "/* kiss_fftr's {fft_length}-point table: (cos, sin) pairs times 32767, rounded. */\nstatic const int16_t {name}[{}] = {{\n{}}};",
                values.len().max(1),
                if values.is_empty() {
                    "    0".to_string()
                } else {
                    list(&values, 8, 4)
                }
            );
            self.const_bytes += 2 * values.len();
        }
        names
    }

    /// Marks an FFT-step kernel and the int16 helpers it calls.
    fn use_signal_fft(&mut self, kernel: &'static str) {
        let helpers: &[&'static str] = match kernel {
            "signal_fft_scale" | "signal_rfft" => &["load_i16", "store_i16"],
            _ => &[],
        };
        self.use_kernel("signal_fft", helpers);
        self.use_kernel(kernel, &[]);
    }
}

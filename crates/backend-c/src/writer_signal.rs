//! Signal-library steps (TFLM's audio front end), from
//! `templates/c/kernels/signal.c.tera`: one call per step, its numbers as
//! literals.

use std::fmt::Write as _;

use tinyq_ir::Step;
use tinyq_ir::signal::SignalOp;

use super::{Writer, int};
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
            _ => &[],
        };
        self.use_kernel("signal", helpers);
        self.use_kernel(kernel, &[]);
    }
}

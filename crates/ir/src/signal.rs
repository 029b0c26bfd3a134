//! TFLM's signal-library custom ops (the audio front end): one type for the
//! graph op and the Program kernel, since each op's attributes are exactly
//! its kernel's numbers (nothing is folded at lowering).

use tinyq_kernels::KernelError;
use tinyq_kernels::signal::{EnergyParams, FilterBankLogParams, WindowParams};
use tinyq_kernels::signal_bank::{FilterBankParams, FilterBankTables, PcanParams};
use tinyq_kernels::signal_fft::{Cpx, RfftParams, SpectralSubtractionParams};

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
    /// `SignalFftAutoScale`: int16 in; outputs the int16 samples shifted
    /// left and the int32 scalar shift. A graph op only: lowering
    /// (`opt::lower::lower_two_outputs`) makes it the two steps below.
    FftAutoScale,
    /// Step 1 of `SignalFftAutoScale`: int16 in, the int32 shift out.
    FftAutoScaleBits,
    /// Step 2 of `SignalFftAutoScale`: int16 and the int32 shift in, the
    /// shifted int16 out.
    FftAutoScaleApply,
    /// `SignalRfft` (int16): rows of samples in, rows of `fft_length / 2 +
    /// 1` complex int16 bins out.
    Rfft(RfftParams),
    /// `SignalFilterBankSpectralSubtraction`: UINT32 in; outputs the UINT32
    /// result and the noise estimate. In the graph its second input is the
    /// noise estimate's state, a variable tensor the reader adds
    /// (`OpKind::state_inputs`). As a step (the first of two): the state
    /// updated in place, a copy of it out (the noise estimate output).
    SpectralSubtraction(SpectralSubtractionParams),
    /// Step 2 of `SignalFilterBankSpectralSubtraction`: the input and the
    /// updated noise estimate in, the result out.
    SpectralSubtractionOutput(SpectralSubtractionParams),
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
            SignalOp::FftAutoScale => "SignalFftAutoScale",
            SignalOp::FftAutoScaleBits => "SignalFftAutoScaleBits",
            SignalOp::FftAutoScaleApply => "SignalFftAutoScaleApply",
            SignalOp::Rfft(_) => "SignalRfft",
            SignalOp::SpectralSubtraction(_) => "SignalFilterBankSpectralSubtraction",
            SignalOp::SpectralSubtractionOutput(_) => "SignalFilterBankSpectralSubtractionOutput",
        }
    }

    /// A lowering step of a two-output op, never an op of a graph.
    pub fn is_step_only(&self) -> bool {
        matches!(
            self,
            SignalOp::FftAutoScaleBits
                | SignalOp::FftAutoScaleApply
                | SignalOp::SpectralSubtractionOutput(_)
        )
    }

    /// The second output's element type and rank, for the ops TFLM gives
    /// two outputs.
    pub fn second_output(&self) -> Option<(DType, usize)> {
        match self {
            SignalOp::FftAutoScale => Some((DType::I32, 0)),
            SignalOp::SpectralSubtraction(_) => Some((DType::U32, 1)),
            _ => None,
        }
    }

    /// Number of inputs in the .tflite file (the graph's, less the state
    /// the reader adds).
    pub fn file_arity(&self) -> usize {
        match self {
            SignalOp::SpectralSubtraction(_) => 1,
            _ => self.arity(),
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
            SignalOp::FftAutoScale | SignalOp::Rfft(_) => (&[DType::I16], DType::I16),
            SignalOp::FftAutoScaleBits => (&[DType::I16], DType::I32),
            SignalOp::FftAutoScaleApply => (&[DType::I16, DType::I32], DType::I16),
            SignalOp::SpectralSubtraction(_) | SignalOp::SpectralSubtractionOutput(_) => {
                (&[DType::U32, DType::U32], DType::U32)
            }
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
            SignalOp::FftAutoScale => (&[Some(1)], Some(1)),
            SignalOp::FftAutoScaleBits => (&[Some(1)], Some(0)),
            SignalOp::FftAutoScaleApply => (&[Some(1), Some(0)], Some(1)),
            // Same rank in and out: checked with the shapes.
            SignalOp::Rfft(_) => (&[None], None),
            SignalOp::SpectralSubtraction(_) | SignalOp::SpectralSubtractionOutput(_) => {
                (&[Some(1), Some(1)], Some(1))
            }
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
            SignalOp::FftAutoScale | SignalOp::FftAutoScaleApply => {
                if !n(0).is_multiple_of(2) {
                    return Err(KernelError::InvalidParams(
                        "fft auto scale input of odd bytes",
                    ));
                }
                if *self == SignalOp::FftAutoScaleApply {
                    tinyq_kernels::error::check_len("fft auto scale shift", 4, n(1))?;
                }
                tinyq_kernels::error::check_len("fft auto scale output", n(0), out)
            }
            SignalOp::FftAutoScaleBits => {
                tinyq_kernels::error::check_len("fft auto scale shift", 4, out)
            }
            SignalOp::Rfft(p) => p.check(n(0), out).map(|_| ()),
            SignalOp::SpectralSubtraction(p) | SignalOp::SpectralSubtractionOutput(p) => {
                p.check(n(0), n(1), out)
            }
        }
    }

    /// The input a step of this op updates in place, for stateful ones.
    pub fn state_input(&self) -> Option<usize> {
        matches!(self, SignalOp::SpectralSubtraction(_)).then_some(1)
    }

    /// Runs a stateful step (`state`: its state input's bytes, updated in
    /// place; `ins`: every input, the state's place ignored).
    pub fn run_stateful(
        &self,
        ins: &[&[u8]],
        state: &mut [u8],
        out: &mut [u8],
    ) -> Result<(), KernelError> {
        match self {
            SignalOp::SpectralSubtraction(p) => {
                let input = ins
                    .first()
                    .ok_or(KernelError::InvalidParams("signal op input missing"))?;
                tinyq_kernels::signal_fft::spectral_subtraction_noise(p, input, state, out)
            }
            _ => Err(KernelError::InvalidParams("not a stateful signal op")),
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
            SignalOp::FftAutoScaleBits => {
                tinyq_kernels::signal_fft::fft_auto_scale_shift(input(0)?, out)
            }
            SignalOp::FftAutoScaleApply => {
                tinyq_kernels::signal_fft::fft_auto_scale_apply(input(0)?, input(1)?, out)
            }
            SignalOp::Rfft(p) => {
                p.check_length()?;
                let (twiddles, super_twiddles) = rfft_tables(p.fft_length);
                let tables = tinyq_kernels::signal_fft::RfftTables {
                    twiddles: &twiddles,
                    super_twiddles: &super_twiddles,
                };
                let mut scratch = vec![[0i16; 2]; p.fft_length];
                tinyq_kernels::signal_fft::rfft_int16(p, &tables, input(0)?, out, &mut scratch)
            }
            SignalOp::SpectralSubtractionOutput(p) => {
                tinyq_kernels::signal_fft::spectral_subtraction_output(p, input(0)?, input(1)?, out)
            }
            SignalOp::FftAutoScale => Err(KernelError::InvalidParams(
                "SignalFftAutoScale runs as its two lowered steps",
            )),
            SignalOp::SpectralSubtraction(_) => Err(KernelError::InvalidParams(
                "a stateful signal op runs through run_stateful",
            )),
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
            SignalOp::FilterBank(p) => vec![("num_channels", p.num_channels.to_string())],
            SignalOp::Pcan(p) => vec![("snr_shift", p.snr_shift.to_string())],
            SignalOp::FilterBankSquareRoot
            | SignalOp::FftAutoScale
            | SignalOp::FftAutoScaleBits
            | SignalOp::FftAutoScaleApply => Vec::new(),
            SignalOp::Rfft(p) => vec![("fft_length", p.fft_length.to_string())],
            SignalOp::SpectralSubtraction(p) | SignalOp::SpectralSubtractionOutput(p) => {
                spectral_values(p)
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect()
            }
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
        let op = || -> Result<SignalOp, String> {
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
                "SignalFftAutoScale" => SignalOp::FftAutoScale,
                "SignalRfft" => SignalOp::Rfft(RfftParams {
                    fft_length: get("fft_length")? as usize,
                }),
                "SignalFilterBankSpectralSubtraction" => {
                    let mut get32 = |key: &'static str| narrow(get(key)?, key);
                    SignalOp::SpectralSubtraction(SpectralSubtractionParams {
                        alternate_one_minus_smoothing: get32("alternate_one_minus_smoothing")?,
                        alternate_smoothing: get32("alternate_smoothing")?,
                        clamping: get32("clamping")? != 0,
                        min_signal_remaining: get32("min_signal_remaining")?,
                        num_channels: get32("num_channels")? as usize,
                        one_minus_smoothing: get32("one_minus_smoothing")?,
                        smoothing: get32("smoothing")?,
                        smoothing_bits: get32("smoothing_bits")?,
                        spectral_subtraction_bits: get32("spectral_subtraction_bits")?,
                    })
                }
                _ => SignalOp::FilterBankSquareRoot,
            })
        };
        Self::NAMES.contains(&name).then(op)
    }

    /// The custom codes tinyq reads, for messages and `inspect`.
    pub const NAMES: [&'static str; 9] = [
        "SignalWindow",
        "SignalEnergy",
        "SignalFilterBankLog",
        "SignalFilterBankSquareRoot",
        "SignalFilterBank",
        "SignalPCAN",
        "SignalFftAutoScale",
        "SignalRfft",
        "SignalFilterBankSpectralSubtraction",
    ];
}

/// SignalFilterBankSpectralSubtraction's options by TFLM's keys, sorted
/// (the order its kernel reads them in); `clamping` as 0 or 1.
pub fn spectral_values(p: &SpectralSubtractionParams) -> Vec<(&'static str, u64)> {
    vec![
        (
            "alternate_one_minus_smoothing",
            p.alternate_one_minus_smoothing.into(),
        ),
        ("alternate_smoothing", p.alternate_smoothing.into()),
        ("clamping", u64::from(p.clamping)),
        ("min_signal_remaining", p.min_signal_remaining.into()),
        ("num_channels", p.num_channels as u64),
        ("one_minus_smoothing", p.one_minus_smoothing.into()),
        ("smoothing", p.smoothing.into()),
        ("smoothing_bits", p.smoothing_bits.into()),
        (
            "spectral_subtraction_bits",
            p.spectral_subtraction_bits.into(),
        ),
    ]
}

/// kiss_fftr's tables for a real FFT of `fft_length` points, as
/// `kiss_fftr_alloc` computes them in 16-bit fixed point: each part
/// `floor(0.5 + 32767 * cos|sin(phase))` in double precision; the complex
/// FFT's twiddles at `-2 pi i / (n/2)` for `i < n/2`, the super twiddles at
/// `-pi ((i + 1) / (n/2) + 1/2)` for `i < n/4`. The one place tinyq takes a
/// cosine for the signal ops: the interpreter calls it per run, the C and
/// Rust backends write its values as constants.
pub fn rfft_tables(fft_length: usize) -> (Vec<Cpx>, Vec<Cpx>) {
    let n = fft_length / 2;
    let pi = std::f64::consts::PI;
    let q = |v: f64| (0.5 + 32767.0 * v).floor() as i16;
    let cexp = |phase: f64| [q(phase.cos()), q(phase.sin())];
    let twiddles = (0..n)
        .map(|i| cexp(-2.0 * pi * i as f64 / n as f64))
        .collect();
    let super_twiddles = (0..n / 2)
        .map(|i| cexp(-pi * ((i + 1) as f64 / n as f64 + 0.5)))
        .collect();
    (twiddles, super_twiddles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Graph, Op, OpKind, Tensor};

    /// One signal op from `inputs` to `outputs` (name, shape, dtype).
    fn graph(
        op: SignalOp,
        inputs: &[(&str, Vec<usize>, DType)],
        outputs: &[(&str, Vec<usize>, DType)],
    ) -> Graph {
        let mut g = Graph::default();
        let mut ids = |list: &[(&str, Vec<usize>, DType)]| {
            list.iter()
                .map(|(n, s, d)| g.tensors.push(Tensor::new(*n, s.clone(), *d)))
                .collect::<Vec<_>>()
        };
        let ins = ids(inputs);
        let outs = ids(outputs);
        g.inputs = vec![ins[0]];
        g.outputs = outs.clone();
        g.ops.push(Op {
            kind: OpKind::Signal(op),
            inputs: ins,
            outputs: outs,
            origin: Some(0),
        });
        g
    }

    fn error(g: &Graph) -> String {
        crate::validate(g).expect_err("refused").to_string()
    }

    #[test]
    fn bad_signal_ops_are_refused_naming_the_op() {
        let rfft = |n| SignalOp::Rfft(RfftParams { fft_length: n });
        let ok = graph(
            rfft(64),
            &[("x", vec![50], DType::I16)],
            &[("y", vec![66], DType::I16)],
        );
        crate::validate(&ok).expect("valid");
        let e = error(&graph(
            rfft(63),
            &[("x", vec![50], DType::I16)],
            &[("y", vec![65], DType::I16)],
        ));
        assert!(
            e.contains("SignalRfft") && e.contains("power of two"),
            "{e}"
        );
        let e = error(&graph(
            rfft(64),
            &[("x", vec![50], DType::I32)],
            &[("y", vec![66], DType::I16)],
        ));
        assert!(
            e.contains("SignalRfft") && e.contains("expected i16"),
            "{e}"
        );
        let e = error(&graph(
            rfft(64),
            &[("x", vec![80], DType::I16)],
            &[("y", vec![66], DType::I16)],
        ));
        assert!(e.contains("SignalRfft") && e.contains("fft_length"), "{e}");
        let e = error(&graph(
            SignalOp::FftAutoScale,
            &[("x", vec![8], DType::I16)],
            &[("y", vec![8], DType::I16)],
        ));
        assert!(
            e.contains("SignalFftAutoScale") && e.contains("expected 1 and 2"),
            "{e}"
        );
        let e = error(&graph(
            SignalOp::FftAutoScale,
            &[("x", vec![8], DType::I16)],
            &[("y", vec![8], DType::I16), ("s", vec![1], DType::I32)],
        ));
        assert!(
            e.contains("SignalFftAutoScale") && e.contains("rank 0"),
            "{e}"
        );
        let e = error(&graph(
            SignalOp::FftAutoScaleBits,
            &[("x", vec![8], DType::I16)],
            &[("s", vec![], DType::I32)],
        ));
        assert!(e.contains("lowering step"), "{e}");
    }

    #[test]
    fn tables_are_kiss_fft_rounded_cosines() {
        let (tw, sup) = rfft_tables(8);
        assert_eq!(tw, vec![[32767, 0], [0, -32767], [-32767, 0], [0, 32767]]);
        // -pi (1/4 + 1/2) and -pi (2/4 + 1/2).
        assert_eq!(sup, vec![[-23170, -23170], [-32767, 0]]);
    }
}

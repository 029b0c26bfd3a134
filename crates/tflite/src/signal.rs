//! The signal library's custom ops (TFLM's audio front end): the custom
//! codes tinyq reads and their flexbuffer options.
//!
//! TFLM's kernels read each option by its position in the options map,
//! whose keys flexbuffers keeps sorted; the reader reads by key and checks
//! that the map holds exactly the keys TFLM expects, so both read the same
//! numbers or the model is refused.

#![forbid(unsafe_code)]

use tinyq_ir::signal::SignalOp;

/// The option keys of each custom code, sorted (TFLM's indices); `None`
/// for an op whose kernel reads no options.
fn expected_keys(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "SignalWindow" => Some(&["shift"]),
        "SignalEnergy" => Some(&["end_index", "start_index"]),
        "SignalFilterBankLog" => Some(&["input_correction_bits", "output_scale"]),
        "SignalFilterBank" => Some(&["num_channels"]),
        "SignalPCAN" => Some(&["snr_shift"]),
        "SignalRfft" => Some(&["T", "fft_length"]),
        "SignalFilterBankSpectralSubtraction" => Some(&[
            "alternate_one_minus_smoothing",
            "alternate_smoothing",
            "clamping",
            "min_signal_remaining",
            "num_channels",
            "one_minus_smoothing",
            "smoothing",
            "smoothing_bits",
            "spectral_subtraction_bits",
        ]),
        _ => None,
    }
}

/// True for a custom code tinyq reads.
pub(crate) fn is_signal(code: &str) -> bool {
    SignalOp::NAMES.contains(&code)
}

/// The op of custom code `code` from its options; the error says what is
/// wrong with them.
pub(crate) fn map(code: &str, options: Option<&[u8]>) -> Result<SignalOp, String> {
    let keys = expected_keys(code);
    let map = match (keys, options) {
        (None, _) => None,
        (Some(_), None | Some([])) => return Err("has no custom options".into()),
        (Some(_), Some(bytes)) => {
            let root = flexbuffers::Reader::get_root(bytes)
                .map_err(|e| format!("custom options are not a flexbuffer: {e}"))?;
            Some(
                root.get_map()
                    .map_err(|e| format!("custom options are not a flexbuffer map: {e}"))?,
            )
        }
    };
    if let (Some(keys), Some(map)) = (keys, &map) {
        let found: Vec<&str> = map.iter_keys().collect();
        if found != keys {
            return Err(format!(
                "custom options have keys {found:?}, expected exactly {keys:?}"
            ));
        }
    }
    let get = |key: &'static str| -> Result<u64, String> {
        let map = map.as_ref().ok_or("has no custom options")?;
        let v = map.index(key).map_err(|e| format!("option {key:?}: {e}"))?;
        let t = v.flexbuffer_type();
        // TFLM reads each as an int32 (`clamping` as a bool).
        use flexbuffers::FlexBufferType as F;
        let n = if matches!(t, F::Int | F::UInt | F::IndirectInt | F::IndirectUInt) {
            v.as_i64()
        } else if t == F::Bool {
            i64::from(v.as_bool())
        } else {
            return Err(format!("option {key:?} is {t:?}, expected an integer"));
        };
        if !(0..=i64::from(i32::MAX)).contains(&n) {
            return Err(format!("option {key:?} is {n}, expected 0 to {}", i32::MAX));
        }
        Ok(n as u64)
    };
    if code == "SignalRfft" {
        // TFLM's kernel picks its arithmetic by "T", a TensorType.
        let t = get("T")?;
        if t != INT16 {
            return Err(format!(
                "option \"T\" is tensor type {t}; tinyq computes SignalRfft in int16 only (type {INT16})"
            ));
        }
    }
    SignalOp::from_attrs(code, get).unwrap_or_else(|| Err(format!("unknown custom code {code:?}")))
}

/// TensorType INT16, SignalRfft's "T" for int16 samples.
const INT16: u64 = 7;

/// The options of `op` as the flexbuffer map TFLM's kernel reads (keys
/// sorted); `None` for an op without options.
pub(crate) fn options(op: &SignalOp) -> Option<Vec<u8>> {
    let values: Vec<(&str, u64)> = match op {
        SignalOp::Window(p) => vec![("shift", u64::from(p.shift))],
        SignalOp::Energy(p) => vec![("end_index", p.end as u64), ("start_index", p.start as u64)],
        SignalOp::FilterBankLog(p) => vec![
            ("input_correction_bits", u64::from(p.input_correction_bits)),
            ("output_scale", u64::from(p.output_scale)),
        ],
        SignalOp::FilterBank(p) => vec![("num_channels", p.num_channels as u64)],
        SignalOp::Pcan(p) => vec![("snr_shift", u64::from(p.snr_shift))],
        SignalOp::Rfft(p) => vec![("T", INT16), ("fft_length", p.fft_length as u64)],
        SignalOp::SpectralSubtraction(p) => tinyq_ir::signal::spectral_values(p),
        SignalOp::FilterBankSquareRoot
        | SignalOp::FftAutoScale
        | SignalOp::FftAutoScaleBits
        | SignalOp::FftAutoScaleApply
        | SignalOp::SpectralSubtractionOutput(_) => return None,
    };
    let mut b = flexbuffers::Builder::default();
    let mut m = b.start_map();
    for (k, v) in values {
        // As the converter writes attributes: signed integers, `clamping`
        // a bool.
        if k == "clamping" {
            m.push(k, v != 0);
        } else {
            m.push(k, v as i64);
        }
    }
    m.end_map();
    Some(b.view().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, i64)]) -> Vec<u8> {
        let mut b = flexbuffers::Builder::default();
        let mut m = b.start_map();
        for (k, v) in pairs {
            m.push(k, *v);
        }
        m.end_map();
        b.view().to_vec()
    }

    #[test]
    fn reads_tflm_keys() {
        let op = map("SignalWindow", Some(&options(&[("shift", 12)]))).expect("read");
        assert_eq!(op.attrs(), vec![("shift", "12".to_string())]);
        let op = map(
            "SignalEnergy",
            Some(&options(&[("start_index", 4), ("end_index", 200)])),
        )
        .expect("read");
        assert_eq!(op.attrs()[1], ("end_index", "200".to_string()));
        assert!(map("SignalFilterBankSquareRoot", None).is_ok());
    }

    #[test]
    fn written_options_read_back() {
        for code in SignalOp::NAMES {
            let keys = expected_keys(code).unwrap_or(&[]);
            // 7 is also "T"'s int16; an fft_length of 8 and shifts below 32.
            let pairs: Vec<(&str, i64)> = keys
                .iter()
                .map(|k| (*k, if *k == "fft_length" { 8 } else { 7 }))
                .collect();
            let op = map(code, Some(&options(&pairs))).expect("read");
            let again = map(code, super::options(&op).as_deref()).expect("read back");
            assert_eq!(op, again, "{code}");
        }
    }

    #[test]
    fn reads_the_fft_and_spectral_subtraction_options() {
        let op = map(
            "SignalRfft",
            Some(&options(&[("T", 7), ("fft_length", 512)])),
        )
        .expect("read");
        assert_eq!(op.attrs(), vec![("fft_length", "512".to_string())]);
        let e = map(
            "SignalRfft",
            Some(&options(&[("T", 2), ("fft_length", 512)])),
        )
        .expect_err("int32 refused");
        assert!(e.contains("int16 only"), "{e}");
        let e = map("SignalRfft", Some(&options(&[("T", 7)]))).expect_err("refused");
        assert!(e.contains("fft_length"), "{e}");
        assert!(map("SignalFftAutoScale", None).is_ok());
        // clamping is a flexbuffer bool, as the converter writes it.
        let mut b = flexbuffers::Builder::default();
        let mut m = b.start_map();
        for key in expected_keys("SignalFilterBankSpectralSubtraction").unwrap_or(&[]) {
            if *key == "clamping" {
                m.push(key, true);
            } else {
                m.push(key, 9i64);
            }
        }
        m.end_map();
        let op = map("SignalFilterBankSpectralSubtraction", Some(b.view())).expect("read");
        assert!(
            op.attrs().contains(&("clamping", "1".to_string())),
            "{op:?}"
        );
        let again = map(
            "SignalFilterBankSpectralSubtraction",
            super::options(&op).as_deref(),
        )
        .expect("read back");
        assert_eq!(op, again);
        let e = map("SignalFilterBankSpectralSubtraction", None).expect_err("refused");
        assert!(e.contains("no custom options"), "{e}");
    }

    #[test]
    fn refuses_bad_options() {
        let e = map("SignalWindow", None).expect_err("refused");
        assert!(e.contains("no custom options"), "{e}");
        let e = map("SignalWindow", Some(&[1, 2, 3])).expect_err("refused");
        assert!(e.contains("flexbuffer"), "{e}");
        let e = map("SignalWindow", Some(&options(&[("shift", -1)]))).expect_err("refused");
        assert!(e.contains("expected 0 to"), "{e}");
        let e =
            map("SignalWindow", Some(&options(&[("shift", 1), ("t", 2)]))).expect_err("refused");
        assert!(e.contains("expected exactly"), "{e}");
        let e = map(
            "SignalFilterBankLog",
            Some(&options(&[("input_correction_bits", 3)])),
        )
        .expect_err("refused");
        assert!(e.contains("keys"), "{e}");
    }
}

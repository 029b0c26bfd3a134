//! Accuracy and signal-to-quantization-noise helpers for evaluation reports.

/// SQNR in dB of `quantized` against `reference`: `10 log10(Σ r² / Σ (r - q)²)`.
/// Infinite when they are equal, `NaN` when both are empty.
pub fn sqnr_db(reference: &[f32], quantized: &[f32]) -> f64 {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (&r, &q) in reference.iter().zip(quantized) {
        signal += f64::from(r) * f64::from(r);
        let d = f64::from(r) - f64::from(q);
        noise += d * d;
    }
    if reference.is_empty() {
        return f64::NAN;
    }
    if noise == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (signal / noise).log10()
}

/// Index of the largest value (first on ties); `None` when empty or all NaN.
pub fn argmax(values: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Accumulates SQNR over many samples as total signal and noise energy.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SqnrAccumulator {
    pub signal: f64,
    pub noise: f64,
}

impl SqnrAccumulator {
    /// Adds one sample's reference and quantized (dequantized) values.
    pub fn add(&mut self, reference: &[f32], quantized: &[f32]) {
        for (&r, &q) in reference.iter().zip(quantized) {
            self.signal += f64::from(r) * f64::from(r);
            let d = f64::from(r) - f64::from(q);
            self.noise += d * d;
        }
    }

    /// The accumulated SQNR in dB.
    pub fn db(&self) -> f64 {
        if self.noise == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (self.signal / self.noise).log10()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqnr_of_equal_is_infinite() {
        assert_eq!(sqnr_db(&[1.0, 2.0], &[1.0, 2.0]), f64::INFINITY);
        assert!((sqnr_db(&[1.0], &[0.9]) - 20.0).abs() < 1e-4);
    }

    #[test]
    fn argmax_first_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), Some(1));
        assert_eq!(argmax(&[]), None);
    }
}

//! Calibration observers: how a tensor's observed values become the range
//! `[min, max]` its quantization parameters are computed from.
//!
//! * [`Method::MinMax`] (default): global min and max over all samples, NaN
//!   ignored: exactly the TF converter's calibrator.
//! * [`Method::Percentile`]: clip both tails at the given percentile of the
//!   histogram of all values.
//! * [`Method::Mse`]: the clip range minimizing the int8 quantization MSE of
//!   the histogram.

use crate::params::activation_params;

/// Histogram resolution of the percentile and MSE observers.
pub const HISTOGRAM_BINS: usize = 2048;

/// How calibration ranges are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Method {
    #[default]
    MinMax,
    /// Keep this percentage of values inside the range (e.g. `99.99`).
    Percentile(f64),
    Mse,
}

impl Method {
    /// True when the method needs a histogram (a second calibration pass).
    pub fn needs_histogram(self) -> bool {
        !matches!(self, Method::MinMax)
    }
}

/// Running min/max of one tensor, NaN ignored (`calibration_logger.cc`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinMax {
    pub min: f32,
    pub max: f32,
}

impl Default for MinMax {
    fn default() -> Self {
        MinMax {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    }
}

impl MinMax {
    /// Folds values in.
    pub fn update<'a>(&mut self, values: impl IntoIterator<Item = &'a f32>) {
        for &v in values {
            if v.is_nan() {
                continue;
            }
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    /// True once at least one value was seen.
    pub fn is_set(&self) -> bool {
        self.min <= self.max
    }
}

/// A fixed-range histogram of one tensor's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<u64>,
}

impl Histogram {
    /// An empty histogram over `[lo, hi]`.
    pub fn new(lo: f32, hi: f32) -> Self {
        Histogram {
            lo,
            hi,
            counts: vec![0; HISTOGRAM_BINS],
        }
    }

    fn width(&self) -> f64 {
        (f64::from(self.hi) - f64::from(self.lo)) / HISTOGRAM_BINS as f64
    }

    /// Folds values in (NaN ignored, out-of-range values clamped to the ends).
    pub fn update<'a>(&mut self, values: impl IntoIterator<Item = &'a f32>) {
        let w = self.width();
        for &v in values {
            if v.is_nan() {
                continue;
            }
            let bin = if w > 0.0 {
                ((f64::from(v) - f64::from(self.lo)) / w).floor()
            } else {
                0.0
            };
            let bin = bin.clamp(0.0, (HISTOGRAM_BINS - 1) as f64) as usize;
            self.counts[bin] += 1;
        }
    }

    fn center(&self, bin: usize) -> f64 {
        f64::from(self.lo) + (bin as f64 + 0.5) * self.width()
    }

    /// `[lo, hi]` holding `percent` % of the values, tails split evenly.
    pub fn percentile_range(&self, percent: f64) -> (f32, f32) {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return (self.lo, self.hi);
        }
        let tail = (100.0 - percent.clamp(0.0, 100.0)) / 200.0 * total as f64;
        let w = self.width();
        let mut acc = 0.0;
        let mut lo = self.lo;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c as f64;
            if acc > tail {
                lo = (f64::from(self.lo) + i as f64 * w) as f32;
                break;
            }
        }
        acc = 0.0;
        let mut hi = self.hi;
        for (i, &c) in self.counts.iter().enumerate().rev() {
            acc += c as f64;
            if acc > tail {
                hi = (f64::from(self.lo) + (i + 1) as f64 * w) as f32;
                break;
            }
        }
        (lo.max(self.lo), hi.min(self.hi))
    }

    /// Int8 quantization MSE of the histogram with the params of `[lo, hi]`.
    pub fn quant_mse(&self, lo: f32, hi: f32) -> f64 {
        let (scale, zp) = activation_params(lo, hi);
        let scale = f64::from(scale);
        let mut err = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let v = self.center(i);
            let q = ((v / scale).round() + zp as f64).clamp(-128.0, 127.0);
            let d = (q - zp as f64) * scale - v;
            err += d * d * c as f64;
        }
        err
    }

    /// The clip range minimizing [`Histogram::quant_mse`], searched over
    /// shrunk versions of both ends of the observed range.
    pub fn mse_range(&self) -> (f32, f32) {
        let (lo0, hi0) = (self.lo.min(0.0), self.hi.max(0.0));
        let mut best = (self.quant_mse(lo0, hi0), lo0, hi0);
        const STEPS: usize = 40;
        for a in 0..STEPS {
            for b in 0..STEPS {
                let fa = 1.0 - a as f32 / STEPS as f32 * 0.9;
                let fb = 1.0 - b as f32 / STEPS as f32 * 0.9;
                let (lo, hi) = (lo0 * fa, hi0 * fb);
                let e = self.quant_mse(lo, hi);
                if e < best.0 {
                    best = (e, lo, hi);
                }
            }
        }
        (best.1, best.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_ignores_nan() {
        let mut m = MinMax::default();
        m.update(&[1.0, f32::NAN, -2.0]);
        assert_eq!((m.min, m.max), (-2.0, 1.0));
    }

    #[test]
    fn percentile_clips_outliers() {
        let mut values: Vec<f32> = (0..10000).map(|i| i as f32 / 10000.0).collect();
        values.push(100.0);
        let mut h = Histogram::new(0.0, 100.0);
        h.update(&values);
        let (_, hi) = h.percentile_range(99.9);
        assert!(hi < 2.0, "hi = {hi}");
    }

    #[test]
    fn mse_prefers_a_tighter_range_with_outliers() {
        // A million values in [-0.5, 0.5] and one at 3: clipping the outlier
        // costs less than the coarser steps of the full range.
        let n = 1_000_000;
        let mut values: Vec<f32> = (0..n).map(|i| (i as f32 / n as f32) - 0.5).collect();
        values.push(3.0);
        let mut h = Histogram::new(-0.5, 3.0);
        h.update(&values);
        let (_, hi) = h.mse_range();
        assert!(hi < 3.0, "hi = {hi}");
    }
}

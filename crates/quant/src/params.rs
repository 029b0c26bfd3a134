//! The TF converter's numerics for quantization parameters and values
//! (`legacy_float_scale = true`; spec §3.2–3.4). Every cast between `f32`
//! and `f64` here is deliberate: it is where the converter casts.

use tinyq_ir::DType;
use tinyq_kernels::fixedpoint::round_half_away_f32;

/// Element type of a quantized model's activations: int8 (the converter's
/// `TFLITE_BUILTINS_INT8`) or int16 with int8 weights (16x8,
/// `EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activations {
    #[default]
    Int8,
    Int16,
}

impl Activations {
    /// The activations' tensor type.
    pub fn dtype(self) -> DType {
        match self {
            Activations::Int8 => DType::I8,
            Activations::Int16 => DType::I16,
        }
    }

    /// `int8` or `int16`, for messages and tensor-name suffixes.
    pub fn name(self) -> &'static str {
        match self {
            Activations::Int8 => "int8",
            Activations::Int16 => "int16",
        }
    }

    /// Parameters of a tensor observed in `[min, max]`.
    pub fn params(self, min: f32, max: f32) -> (f32, i64) {
        match self {
            Activations::Int8 => activation_params(min, max),
            Activations::Int16 => activation_params_int16(min, max),
        }
    }

    /// The codes a non-weight constant is clamped to.
    pub fn code_range(self) -> (i64, i64) {
        match self {
            Activations::Int8 => (-128, 127),
            Activations::Int16 => (-32768, 32767),
        }
    }
}

/// Asymmetric int8 parameters of an activation (or non-weight constant)
/// whose observed range is `[min, max]` (spec §3.2).
pub fn activation_params(min: f32, max: f32) -> (f32, i64) {
    let mut rmin = f64::from(min).min(0.0);
    let mut rmax = f64::from(max).max(0.0);
    if (rmax - rmin).abs() < 1e-6 {
        rmin -= 1e-6;
        rmax += 1e-6;
    }
    let scale = ((rmax as f32) - (rmin as f32)) / 255.0f32;
    let zpf = (-128.0 - rmin / f64::from(scale)) as f32;
    let zp = if zpf < -128.0 {
        -128
    } else if zpf > 127.0 {
        127
    } else {
        round_half_away_f32(zpf) as i64
    };
    (scale, zp)
}

/// Symmetric int16 parameters of an activation (or non-weight constant) of
/// a 16x8 model whose observed range is `[min, max]`: the converter widens
/// the range to `[-m, m]`, `m` the larger magnitude, and quantizes it to the
/// narrow range `[-32767, 32767]`, so the zero point is 0 and the scale
/// `2m / 65534` (computed in float, as the 8-bit one).
pub fn activation_params_int16(min: f32, max: f32) -> (f32, i64) {
    let m = f64::from(max).max(0.0).max(-f64::from(min).min(0.0));
    let (mut rmin, mut rmax) = (-m, m);
    if (rmax - rmin).abs() < 1e-6 {
        rmin -= 1e-6;
        rmax += 1e-6;
    }
    let scale = ((rmax as f32) - (rmin as f32)) / 65534.0f32;
    (scale, 0)
}

/// Quantizes a non-weight constant with asymmetric int8 parameters.
pub fn quantize_asymmetric(values: &[f32], scale: f32, zero_point: i64) -> Vec<i8> {
    quantize_constant(values, scale, zero_point, (-128, 127))
        .into_iter()
        .map(|q| q as i8)
        .collect()
}

/// Quantizes a non-weight constant into `[lo, hi]` (int8: -128..127,
/// int16: -32768..32767).
pub fn quantize_constant(
    values: &[f32],
    scale: f32,
    zero_point: i64,
    (lo, hi): (i64, i64),
) -> Vec<i64> {
    let inv = (1.0 / f64::from(scale)) as f32;
    values
        .iter()
        .map(|&v| (round_half_away_f32(v * inv) as i64 + zero_point).clamp(lo, hi))
        .collect()
}

/// Symmetric narrow-range scale of a weight slice whose largest magnitude
/// (including 0) is `m` (spec §3.3).
pub fn weight_scale(m: f32) -> f32 {
    let m = if 2.0 * f64::from(m) <= 1e-6 {
        m.max(5e-7)
    } else {
        m
    };
    (m - (-m)) / 254.0f32
}

/// Per-channel symmetric weights along `axis`: (int8 values, scales).
pub fn quantize_weights_per_channel(
    values: &[f32],
    shape: &[usize],
    axis: usize,
) -> (Vec<i8>, Vec<f32>) {
    let channels = shape.get(axis).copied().unwrap_or(1).max(1);
    let inner: usize = shape.iter().skip(axis + 1).product();
    let channel_of = |i: usize| (i / inner.max(1)) % channels;
    let mut maxabs = vec![0f32; channels];
    for (i, &v) in values.iter().enumerate() {
        let c = channel_of(i);
        maxabs[c] = maxabs[c].max(v.abs());
    }
    let scales: Vec<f32> = maxabs.iter().map(|&m| weight_scale(m)).collect();
    let invs: Vec<f32> = scales
        .iter()
        .map(|&s| (1.0 / f64::from(s)) as f32)
        .collect();
    let q = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let q = round_half_away_f32(v * invs[channel_of(i)]) as i64;
            q.clamp(-127, 127) as i8
        })
        .collect();
    (q, scales)
}

/// Per-tensor symmetric weights (`PortableSymmetricQuantizeFloats`): the
/// stored scale uses [`weight_scale`], the values `127 / range`.
pub fn quantize_weights_per_tensor(values: &[f32]) -> (Vec<i8>, f32) {
    let range = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = weight_scale(range);
    if range == 0.0 {
        return (vec![0; values.len()], scale);
    }
    let inv = 127.0f32 / range;
    let q = values
        .iter()
        .map(|&v| (round_half_away_f32(v * inv) as i64).clamp(-127, 127) as i8)
        .collect();
    (q, scale)
}

/// Bias scale of one channel: the float product `in_scale * w_scale`.
pub fn bias_scale(in_scale: f32, w_scale: f32) -> f32 {
    (f64::from(in_scale) * f64::from(w_scale)) as f32
}

/// Quantizes one bias value with its scale (spec §3.4).
pub fn quantize_bias(value: f32, scale: f32) -> i32 {
    let inv = (1.0 / f64::from(scale)) as f32;
    let q = round_half_away_f32(value * inv) as f64;
    q.clamp(-2147483647.0, 2147483647.0) as i32
}

/// Quantizes one int64 bias value of a 16x8 layer: the same float product
/// as [`quantize_bias`], without the int32 clamp.
pub fn quantize_bias_int64(value: f32, scale: f32) -> i64 {
    let inv = (1.0 / f64::from(scale)) as f32;
    round_half_away_f32(value * inv) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_range_has_zero_point_minus_128() {
        let (scale, zp) = activation_params(0.0, 6.0);
        assert_eq!(scale, 6.0f32 / 255.0);
        assert_eq!(zp, -128);
    }

    #[test]
    fn tiny_range_is_expanded() {
        let (scale, zp) = activation_params(0.0, 0.0);
        assert!(scale > 0.0);
        assert_eq!(zp, 0);
    }

    #[test]
    fn scalar_constant_matches_converter() {
        // act_softmax's `mul/y` = 0.5: the converter stores 1.9607844e-3, -128.
        assert_eq!(activation_params(0.5, 0.5), (0.5f32 / 255.0, -128));
    }

    #[test]
    fn int16_activations_are_symmetric() {
        // [-1, 3] widens to [-3, 3]: scale 6 / 65534 = 3 / 32767, zero point 0.
        assert_eq!(activation_params_int16(-1.0, 3.0), (3.0f32 / 32767.0, 0));
        assert_eq!(activation_params_int16(-4.0, 0.5), (4.0f32 / 32767.0, 0));
        let (scale, zp) = activation_params_int16(0.0, 0.0);
        assert!(scale > 0.0 && zp == 0);
    }

    #[test]
    fn weights_are_narrow_range() {
        let (q, s) = quantize_weights_per_channel(&[1.0, -2.0, 0.5, 0.25], &[2, 2], 0);
        assert_eq!(q, vec![64, -127, 127, 64]);
        assert_eq!(s, vec![4.0 / 254.0, 1.0 / 254.0]);
    }
}

//! Tensors: name, static shape, element type, quantization, constant data.

use core::fmt;

/// Element types tinyq understands. Others are refused at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    I8,
    U8,
    I16,
    I32,
    I64,
    Bool,
    /// UINT32 (the signal library's energies and filter bank outputs).
    U32,
    /// UINT64 (the signal library's filter bank sums).
    U64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I16 => 2,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::I64 | DType::U64 => 8,
        }
    }

    /// Lower-case name as used in dumps and `inspect` (`i8`, `f32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
            DType::U32 => "u32",
            DType::U64 => "u64",
        }
    }

    /// True for the 8-bit integer types activations may use.
    pub fn is_8bit(self) -> bool {
        matches!(self, DType::I8 | DType::U8)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Affine quantization `real = (q - zero_point) * scale`, per tensor (one
/// scale) or per axis (one scale per slice along `axis`).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantization {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub axis: usize,
}

impl Quantization {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Quantization {
            scales: vec![scale],
            zero_points: vec![zero_point],
            axis: 0,
        }
    }

    /// True when there is more than one scale.
    pub fn is_per_axis(&self) -> bool {
        self.scales.len() > 1
    }

    /// The single scale of a per-tensor quantization.
    pub fn scale(&self) -> f32 {
        self.scales.first().copied().unwrap_or(0.0)
    }

    /// The single zero point of a per-tensor quantization.
    pub fn zero_point(&self) -> i64 {
        self.zero_points.first().copied().unwrap_or(0)
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_per_axis() {
            write!(
                f,
                "per-axis(axis={}, {} scales, {:e}..{:e})",
                self.axis,
                self.scales.len(),
                self.scales.iter().copied().fold(f32::INFINITY, f32::min),
                self.scales
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max),
            )
        } else {
            write!(f, "scale={:e} zp={}", self.scale(), self.zero_point())
        }
    }
}

/// A tensor of the graph. Shapes are static; constant tensors carry their
/// little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub quant: Option<Quantization>,
    pub data: Option<Vec<u8>>,
}

impl Tensor {
    /// A non-constant tensor.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, dtype: DType) -> Self {
        Tensor {
            name: name.into(),
            shape,
            dtype,
            quant: None,
            data: None,
        }
    }

    /// Number of elements, `None` if the product overflows `usize`.
    pub fn num_elements(&self) -> Option<usize> {
        checked_product(&self.shape)
    }

    /// Size in bytes, `None` on overflow.
    pub fn byte_len(&self) -> Option<usize> {
        self.num_elements()?.checked_mul(self.dtype.size())
    }

    /// True when the tensor holds constant data.
    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }

    /// Per-tensor scale and zero point, if quantized.
    pub fn scale_zp(&self) -> Option<(f32, i64)> {
        self.quant.as_ref().map(|q| (q.scale(), q.zero_point()))
    }

    /// Constant data decoded as little-endian i32 values.
    pub fn const_i32(&self) -> Option<Vec<i32>> {
        let data = self.data.as_ref()?;
        match self.dtype {
            DType::I32 => Some(
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::I64 => Some(
                data.chunks_exact(8)
                    .map(|c| {
                        let v =
                            i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                        i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Constant int64 data (a 16x8 layer's bias) as little-endian i64 values.
    pub fn const_i64(&self) -> Option<Vec<i64>> {
        let data = self.data.as_ref()?;
        (self.dtype == DType::I64).then(|| {
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect()
        })
    }

    /// Constant data decoded as f32 values.
    pub fn const_f32(&self) -> Option<Vec<f32>> {
        let data = self.data.as_ref()?;
        (self.dtype == DType::F32).then(|| {
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }
}

/// Product of dimensions with overflow detection.
pub fn checked_product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Formats a shape as `[1,28,28,1]`.
pub fn shape_string(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(","))
}

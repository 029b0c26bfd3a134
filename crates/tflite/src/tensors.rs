//! TFLite tensors to IR tensors: type, static shape, quantization, constant data.

#![forbid(unsafe_code)]

use tinyq_ir::tensor::{checked_product, shape_string};
use tinyq_ir::{DType, Quantization, Tensor};

use crate::error::{ReadError, tensor_err};
use crate::limits::{Budget, MAX_ACTIVATION_BYTES, MAX_RANK};
use crate::schema::{Ctx, fb, malformed, unknown_enum_tag};

/// Where constant data lives: the whole file (for buffers stored after the
/// flatbuffer) and `Model.buffers`; and what copying may still cost.
pub(crate) struct Buffers<'a> {
    pub file: &'a [u8],
    pub buffers: Option<planus::Vector<'a, planus::Result<fb::BufferRef<'a>>>>,
    pub budget: &'a Budget,
}

impl<'a> Buffers<'a> {
    /// Number of entries in `Model.buffers`.
    fn count(&self) -> usize {
        self.buffers.map_or(0, |b| b.len())
    }

    /// The bytes of buffer `index` (empty when it holds nothing), honouring
    /// the `offset`/`size` form used by models over 2 GB.
    fn data(&self, tensor: &str, index: u32) -> Result<&'a [u8], ReadError> {
        // Buffer 0 is the empty sentinel: "no data", whatever it holds.
        if index == 0 {
            return Ok(&[]);
        }
        let out_of_range = || ReadError::BufferIndex {
            tensor: tensor.to_owned(),
            index,
            count: self.count(),
        };
        let buffers = self.buffers.ok_or_else(out_of_range)?;
        let at = || format!("buffer {index} (of tensor {tensor:?})");
        let buffer = buffers
            .get(usize::try_from(index).map_err(|_| out_of_range())?)
            .ok_or_else(out_of_range)?
            .ctx(at)?;
        if let Some(data) = buffer.data().ctx(at)?
            && !data.is_empty()
        {
            return Ok(data);
        }
        // The offset is relative to the start of the file and "only valid if > 1".
        let offset = buffer.offset().ctx(at)?;
        let size = buffer.size().ctx(at)?;
        if offset <= 1 || size == 0 {
            return Ok(&[]);
        }
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| Some(o..o.checked_add(s)?));
        range.and_then(|r| self.file.get(r)).ok_or_else(|| {
            tensor_err(
                tensor,
                format!(
                    "buffer {index} points at bytes {offset}..+{size}, outside the {}-byte file",
                    self.file.len()
                ),
            )
        })
    }
}

/// Converts tensor `index` of subgraph 0. `state` says whether it is read
/// as a stateful op's state, the one place a variable tensor may be: such a
/// tensor is not constant (TFLM ignores a variable tensor's buffer and
/// resets it to zeros, or an int8 tensor's zero point).
pub(crate) fn convert(
    buffers: &Buffers<'_>,
    t: &fb::TensorRef<'_>,
    index: usize,
    state: bool,
) -> Result<Tensor, ReadError> {
    let at = || format!("tensor {index}");
    buffers
        .budget
        .charge(size_of::<Tensor>() + MAX_RANK * size_of::<usize>(), at)?;
    let name = match t.name().ctx(at)? {
        Some(n) => {
            buffers
                .budget
                .charge(n.len(), || format!("the name of tensor {index}"))?;
            n.to_owned()
        }
        None => format!("tensor #{index}"),
    };
    let at = || format!("tensor {name:?}");

    let (dtype, stored) = dtype(t, &name)?;
    let shape = shape(t, &name)?;
    let variable = t.is_variable().ctx(at)?;
    if variable != state {
        return Err(tensor_err(
            &name,
            if variable {
                "a variable (stateful) tensor is supported only as the state of an SVDF or an LSTM"
            } else {
                "a stateful op's state (SVDF, LSTM) must be a variable tensor"
            },
        ));
    }
    if t.sparsity().ctx(at)?.is_some() {
        return Err(tensor_err(&name, "sparse tensors are not supported"));
    }
    if t.external_buffer().ctx(at)? != 0 {
        return Err(tensor_err(
            &name,
            "data in an external file is not supported",
        ));
    }

    let bytes = checked_product(&shape)
        .and_then(|n| n.checked_mul(stored.element_size(dtype)))
        .ok_or_else(|| tensor_err(&name, format!("shape {} overflows", shape_string(&shape))))?;
    let data = if variable {
        &[][..]
    } else {
        buffers.data(&name, t.buffer().ctx(at)?)?
    };
    // Kernels loop over every dimension: a zero-sized dimension next to a
    // 2^31-1 one holds no bytes but still costs the outer loops their
    // iterations. Bound the loop extent (zero dimensions counted as 1), not
    // only the bytes.
    let extent = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d.max(1)))
        .unwrap_or(usize::MAX);
    let data = if data.is_empty() {
        if stored == Stored::Float16 {
            return Err(ReadError::UnsupportedType {
                name,
                dtype: "FLOAT16 (as an activation; tinyq reads float16 only as constant \
weights, which it widens to float32 as TFLite's DEQUANTIZE does)"
                    .into(),
            });
        }
        if bytes > MAX_ACTIVATION_BYTES || extent > MAX_ACTIVATION_BYTES {
            return Err(tensor_err(
                &name,
                format!(
                    "shape {} of {dtype} spans {} bytes (zero-sized dimensions counted as 1), more than the {} tinyq allows for an activation",
                    shape_string(&shape),
                    bytes.max(extent),
                    MAX_ACTIVATION_BYTES
                ),
            ));
        }
        None
    } else {
        if data.len() != bytes {
            return Err(tensor_err(
                &name,
                format!(
                    "constant holds {} bytes but shape {} of {dtype} needs {bytes}",
                    data.len(),
                    shape_string(&shape)
                ),
            ));
        }
        let widened = stored.widen(data);
        buffers
            .budget
            .charge(widened.len(), || format!("the data of tensor {name:?}"))?;
        Some(widened)
    };

    let quant = match t.quantization().ctx(at)? {
        Some(q) => quantization(&q, &name, dtype, shape.len(), buffers.budget)?,
        None => None,
    };
    Ok(Tensor {
        name,
        shape,
        dtype,
        quant,
        data,
    })
}

/// How a tensor's elements are stored in the file, when that differs from
/// the IR type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// As the IR type.
    Same,
    /// IEEE half precision, read as float32.
    Float16,
}

impl Stored {
    fn element_size(self, dtype: DType) -> usize {
        match self {
            Stored::Same => dtype.size(),
            Stored::Float16 => 2,
        }
    }

    /// The data in the IR type: float16 widened to float32, which is exact
    /// (every half is a float), as the runtime's DEQUANTIZE does it.
    fn widen(self, data: &[u8]) -> Vec<u8> {
        match self {
            Stored::Same => data.to_vec(),
            Stored::Float16 => data
                .chunks_exact(2)
                .flat_map(|h| {
                    let half = half::f16::from_le_bytes([h[0], h[1]]);
                    half.to_f32().to_le_bytes()
                })
                .collect(),
        }
    }
}

/// The IR type of a tensor, and how the file stores it.
fn dtype(t: &fb::TensorRef<'_>, name: &str) -> Result<(DType, Stored), ReadError> {
    use fb::TensorType as T;
    let unsupported = |dtype: String| ReadError::UnsupportedType {
        name: name.to_owned(),
        dtype,
    };
    let ty = match t.type_() {
        Ok(ty) => ty,
        Err(e) => {
            return Err(match unknown_enum_tag(&e) {
                Some(tag) => unsupported(format!("unknown type code {tag}")),
                None => malformed(format!("tensor {name:?}"), e),
            });
        }
    };
    if ty == T::Float16 {
        return Ok((DType::F32, Stored::Float16));
    }
    Ok((
        match ty {
            T::Float32 => DType::F32,
            T::Int8 => DType::I8,
            T::Uint8 => DType::U8,
            T::Int16 => DType::I16,
            T::Int32 => DType::I32,
            T::Int64 => DType::I64,
            T::Bool => DType::Bool,
            T::Uint32 => DType::U32,
            T::Uint64 => DType::U64,
            other => return Err(unsupported(format!("{other:?}").to_uppercase())),
        },
        Stored::Same,
    ))
}

/// The static shape. Negative dimensions and unknown dimensions in
/// `shape_signature` are dynamic, except an unknown batch (dimension 0)
/// whose `shape` entry is 1: that is how Keras models say "batch of any
/// size", and TFLM runs them with batch 1.
fn shape(t: &fb::TensorRef<'_>, name: &str) -> Result<Vec<usize>, ReadError> {
    let at = || format!("tensor {name:?} shape");
    let dims = t.shape().ctx(at)?;
    let rank = dims.map_or(0, |d| d.len());
    if rank > MAX_RANK {
        return Err(tensor_err(
            name,
            format!("rank {rank} exceeds the maximum of {MAX_RANK}"),
        ));
    }
    let dims: Vec<i32> = match dims {
        Some(d) => d.to_vec().ctx(at)?,
        None => Vec::new(),
    };
    let dynamic = |detail: String| ReadError::DynamicShape {
        name: name.to_owned(),
        detail,
    };
    if dims.iter().any(|&d| d < 0) {
        return Err(dynamic(format!("shape {dims:?}")));
    }
    if let Some(sig) = t.shape_signature().ctx(at)? {
        if sig.len() > MAX_RANK {
            return Err(dynamic(format!("shape_signature of rank {}", sig.len())));
        }
        let sig: Vec<i32> = sig.to_vec().ctx(at)?;
        let batch_only = |i: usize| i == 0 && dims.first() == Some(&1);
        let bad = sig.len() != dims.len()
            || sig
                .iter()
                .zip(&dims)
                .enumerate()
                .any(|(i, (&s, &d))| if s < 0 { !batch_only(i) } else { s != d });
        if bad {
            return Err(dynamic(format!("shape {dims:?}, shape_signature {sig:?}")));
        }
    }
    Ok(dims.into_iter().map(|d| d as usize).collect())
}

/// Quantization parameters, normalized: only min/max (no scale) means none;
/// a missing zero-point vector means zeros; one zero point with several
/// scales is repeated; a single scale or a rank <= 1 tensor is axis 0 (the
/// converter writes `quantized_dimension` on 1-D biases too).
fn quantization(
    q: &fb::QuantizationParametersRef<'_>,
    name: &str,
    dtype: DType,
    rank: usize,
    budget: &Budget,
) -> Result<Option<Quantization>, ReadError> {
    let at = || format!("tensor {name:?} quantization");
    if q.details().ctx(at)?.is_some() {
        return Err(tensor_err(
            name,
            "custom/blockwise quantization details are not supported",
        ));
    }
    let scales: Vec<f32> = match q.scale().ctx(at)? {
        Some(s) if !s.is_empty() => {
            // f32 scale + i64 zero point each.
            budget.charge(s.len().saturating_mul(12), at)?;
            s.to_vec().ctx(at)?
        }
        _ => return Ok(None),
    };
    // Float tensors are never read quantized (TFLM ignores these parameters);
    // the converter sometimes leaves them on float I/O.
    if dtype == DType::F32 {
        return Ok(None);
    }
    let zero_points: Vec<i64> = match q.zero_point().ctx(at)? {
        None => vec![0; scales.len()],
        Some(z) if z.is_empty() => vec![0; scales.len()],
        Some(z) if z.len() == scales.len() => z.to_vec().ctx(at)?,
        Some(z) if z.len() == 1 => {
            let zp = z.to_vec().ctx(at)?[0];
            vec![zp; scales.len()]
        }
        Some(z) => {
            return Err(tensor_err(
                name,
                format!("{} scales but {} zero points", scales.len(), z.len()),
            ));
        }
    };
    let axis = if scales.len() == 1 || rank <= 1 {
        0
    } else {
        let dim = q.quantized_dimension().ctx(at)?;
        match usize::try_from(dim) {
            Ok(d) if d < rank => d,
            _ => {
                return Err(tensor_err(
                    name,
                    format!("quantized_dimension {dim} is outside rank {rank}"),
                ));
            }
        }
    };
    Ok(Some(Quantization {
        scales,
        zero_points,
        axis,
    }))
}

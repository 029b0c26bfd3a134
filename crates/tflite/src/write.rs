//! Writes a [`Graph`] as a TFLite flatbuffer, the way the TF converter does
//! for int8 and float models, so that TFLM, LiteRT and the Edge TPU compiler
//! take it.
//!
//! What the file looks like:
//! * file identifier `TFL3` at bytes 4..8, `Model.version` 3, one subgraph;
//! * `buffers[0]` is the empty sentinel, every constant has its own buffer
//!   whose data starts 16-byte aligned (the schema's `force_align: 16`,
//!   which planus does not implement: see [`assemble`]);
//! * tensors in the Graph's order (tensor `i` of the file is `%i`), then the
//!   parameter tensors the reader folded into attributes (MEAN axes, PAD
//!   paddings, TRANSPOSE perm, STRIDED_SLICE bounds, RESHAPE shape,
//!   EXPAND_DIMS axis), re-materialised as constant int32 tensors, and a
//!   zero bias for a CONV_2D/DEPTHWISE_CONV_2D without one (LiteRT refuses
//!   quantized convolutions without a bias, TFLM's depthwise crashes; the
//!   converter always writes one); FULLY_CONNECTED keeps `-1`;
//! * operators in execution order, with the builtin options tables and op
//!   versions the converter writes (`version.rs`);
//! * SAME/VALID padding reconstructed from the explicit numbers and shapes.
//!
//! The output is a pure function of the Graph: same Graph, same bytes.

#![forbid(unsafe_code)]

mod ops;
mod version;

use std::borrow::Cow;
use std::collections::BTreeMap;

use planus::{Offset, ReadAsRoot as _};
use tinyq_ir::{DType, Graph, Tensor, TensorId, ValidationError};

use crate::schema::fb;
use crate::{FILE_IDENTIFIER, SCHEMA_VERSION};

/// Why a Graph could not be written. Messages name the op (index in the
/// Graph and TFLite name) or the tensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The Graph fails [`tinyq_ir::validate()`].
    #[error("cannot write an invalid graph: {0}")]
    Invalid(#[from] ValidationError),

    /// An op TFLite cannot express as given: explicit padding that is
    /// neither SAME nor VALID, wrong number of inputs, inconsistent shapes.
    #[error("op #{index} ({kind}): {why}")]
    InvalidOp {
        index: usize,
        kind: &'static str,
        why: String,
    },

    /// A tensor TFLite cannot express (a dimension beyond int32, ...).
    #[error("tensor {name:?}: {why}")]
    InvalidTensor { name: String, why: String },

    /// The model does not fit a flatbuffer (2 GiB, int32 indices).
    #[error("the model is too large for a TFLite flatbuffer: {0}")]
    TooLarge(String),

    /// A bug in the writer: the flatbuffer it built is not what it meant.
    #[error("internal error while writing the flatbuffer: {0}")]
    Internal(String),
}

/// Largest flatbuffer TFLite readers accept (offsets are signed 32-bit),
/// minus a margin for the operators and tables not counted.
const MAX_DATA_BYTES: usize = (1 << 31) - (1 << 26);

/// Alignment of constant data (`Buffer.data` has `force_align: 16`).
pub const BUFFER_ALIGNMENT: usize = 16;

/// Writes `graph` as a TFLite flatbuffer.
///
/// ```no_run
/// let graph = tinyq_tflite::read_file(std::path::Path::new("model.tflite"))?;
/// let bytes = tinyq_tflite::write(&graph)?;
/// std::fs::write("copy.tflite", bytes)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write(graph: &Graph) -> Result<Vec<u8>, WriteError> {
    tinyq_ir::validate(graph)?;
    let mut w = Writer::new(graph)?;
    for (id, op) in graph.ops.iter() {
        w.op(id.index(), op)?;
    }
    let inputs = graph
        .inputs
        .iter()
        .map(|&t| w.index(t))
        .collect::<Result<_, _>>()?;
    let outputs = graph
        .outputs
        .iter()
        .map(|&t| w.index(t))
        .collect::<Result<_, _>>()?;
    let codes = w
        .codes
        .iter()
        .map(|&(code, custom, version)| fb::OperatorCode {
            deprecated_builtin_code: (code as i32).min(127) as i8,
            custom_code: custom.map(str::to_owned),
            version,
            builtin_code: code,
        })
        .collect();
    let subgraph = fb::SubGraph {
        tensors: Some(w.tensors),
        inputs: Some(inputs),
        outputs: Some(outputs),
        operators: Some(w.operators),
        name: Some("main".to_owned()),
        ..Default::default()
    };
    assemble(codes, subgraph, &w.buffers)
}

/// The model under construction.
struct Writer<'g> {
    graph: &'g Graph,
    tensors: Vec<fb::Tensor>,
    /// Data of buffers 1.. (buffer 0 is the empty sentinel).
    buffers: Vec<Cow<'g, [u8]>>,
    data_bytes: usize,
    /// Operator codes in order of first use: (code, custom code, version).
    codes: Vec<(fb::BuiltinOperator, Option<&'static str>, i32)>,
    operators: Vec<fb::Operator>,
}

impl<'g> Writer<'g> {
    /// Converts every tensor of the Graph, in arena order.
    fn new(graph: &'g Graph) -> Result<Self, WriteError> {
        if graph.tensors.len() > i32::MAX as usize / 2 || graph.ops.len() > i32::MAX as usize / 2 {
            return Err(WriteError::TooLarge(format!(
                "{} tensors and {} ops",
                graph.tensors.len(),
                graph.ops.len()
            )));
        }
        let mut w = Writer {
            graph,
            tensors: Vec::with_capacity(graph.tensors.len()),
            buffers: Vec::new(),
            data_bytes: 0,
            codes: Vec::new(),
            operators: Vec::with_capacity(graph.ops.len()),
        };
        for (_, t) in graph.tensors.iter() {
            // Names, shapes and quantization count towards the size too.
            let q = t.quant.as_ref().map_or(0, |q| q.scales.len());
            w.charge(
                t.name
                    .len()
                    .saturating_add(t.shape.len().saturating_mul(4))
                    .saturating_add(q.saturating_mul(12))
                    .saturating_add(64),
            )?;
            let buffer = match &t.data {
                Some(data) => w.buffer(Cow::Borrowed(data.as_slice()))?,
                None => 0,
            };
            let fb_tensor = fb_tensor(t, buffer)?;
            w.tensors.push(fb_tensor);
        }
        Ok(w)
    }

    /// Adds a buffer, returning its index.
    fn buffer(&mut self, data: Cow<'g, [u8]>) -> Result<u32, WriteError> {
        // Every buffer also costs a table, a vector header and padding.
        self.charge(data.len().saturating_add(64))?;
        self.buffers.push(data);
        u32::try_from(self.buffers.len())
            .map_err(|_| WriteError::TooLarge("more than 2^32 buffers".to_owned()))
    }

    /// Counts `bytes` towards the size of the flatbuffer, refusing models
    /// that would not fit (planus's offsets are 32-bit, TFLite's signed).
    fn charge(&mut self, bytes: usize) -> Result<(), WriteError> {
        self.data_bytes = self.data_bytes.saturating_add(bytes);
        if self.data_bytes > MAX_DATA_BYTES {
            return Err(WriteError::TooLarge(format!(
                "more than {MAX_DATA_BYTES} bytes of constants, names and shapes"
            )));
        }
        Ok(())
    }

    /// The file index of Graph tensor `t` (the same number).
    fn index(&self, t: TensorId) -> Result<i32, WriteError> {
        i32::try_from(t.index())
            .ok()
            .filter(|&i| (i as usize) < self.graph.tensors.len())
            .ok_or_else(|| WriteError::Internal(format!("tensor %{} out of range", t.index())))
    }

    /// Appends a constant int32 tensor (an op parameter), returning its index.
    fn param_i32(
        &mut self,
        name: String,
        shape: Vec<usize>,
        values: &[i32],
    ) -> Result<i32, WriteError> {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = Tensor {
            name,
            shape,
            dtype: DType::I32,
            quant: None,
            data: None,
        };
        let buffer = self.buffer(Cow::Owned(data))?;
        let fb_t = fb_tensor(&t, buffer)?;
        self.tensors.push(fb_t);
        i32::try_from(self.tensors.len() - 1)
            .map_err(|_| WriteError::TooLarge("more than 2^31 tensors".to_owned()))
    }

    /// The index of operator code `code`, added if new. One code per
    /// operator kind, at the highest version its ops need, as the
    /// converter's `UpdateOpVersion` leaves it (a RESIZE_BILINEAR with
    /// half-pixel centers makes every RESIZE_BILINEAR version 3).
    fn opcode(
        &mut self,
        code: fb::BuiltinOperator,
        custom: Option<&'static str>,
        version: i32,
    ) -> u32 {
        let i = match self
            .codes
            .iter()
            .position(|&(c, k, _)| c == code && k == custom)
        {
            Some(i) => {
                self.codes[i].2 = self.codes[i].2.max(version);
                i
            }
            None => {
                self.codes.push((code, custom, version));
                self.codes.len() - 1
            }
        };
        // At most one code per op, and ops are fewer than 2^30.
        u32::try_from(i).unwrap_or(u32::MAX)
    }
}

/// The flatbuffer tensor for `t`, with data in `buffer` (0: none).
fn fb_tensor(t: &Tensor, buffer: u32) -> Result<fb::Tensor, WriteError> {
    let bad = |why: String| WriteError::InvalidTensor {
        name: t.name.clone(),
        why,
    };
    let shape = t
        .shape
        .iter()
        .map(|&d| i32::try_from(d).map_err(|_| bad(format!("dimension {d} does not fit in int32"))))
        .collect::<Result<Vec<_>, _>>()?;
    let type_ = match t.dtype {
        DType::F32 => fb::TensorType::Float32,
        DType::I8 => fb::TensorType::Int8,
        DType::U8 => fb::TensorType::Uint8,
        DType::I16 => fb::TensorType::Int16,
        DType::I32 => fb::TensorType::Int32,
        DType::I64 => fb::TensorType::Int64,
        DType::Bool => fb::TensorType::Bool,
        DType::U32 => fb::TensorType::Uint32,
        DType::U64 => fb::TensorType::Uint64,
    };
    let quantization = match &t.quant {
        None => None,
        Some(q) => {
            let quantized_dimension = if q.is_per_axis() {
                i32::try_from(q.axis)
                    .map_err(|_| bad(format!("quantization axis {} out of range", q.axis)))?
            } else {
                0
            };
            Some(Box::new(fb::QuantizationParameters {
                scale: Some(q.scales.clone()),
                zero_point: Some(q.zero_points.clone()),
                quantized_dimension,
                ..Default::default()
            }))
        }
    };
    Ok(fb::Tensor {
        shape: Some(shape),
        type_,
        buffer,
        name: Some(t.name.clone()),
        quantization,
        ..Default::default()
    })
}

/// `x` rounded up to a multiple of 4.
fn align4(x: usize) -> usize {
    x.saturating_add(3) & !3
}

/// Serializes the model.
///
/// planus writes back to front and aligns `[ubyte]` vectors to 4 only,
/// ignoring `force_align: 16`. Its alignment is relative to the end of the
/// buffer, whose length it pads to the largest alignment used. So:
/// 1. the first thing written is an empty `[long]` vector: the end of the
///    buffer is 8-aligned, and from then on an offset from the end that is
///    a multiple of 4 or 8 is as aligned from the start;
/// 2. before each data vector, empty `[int]` vectors (4 zero bytes each, never
///    referenced) move it so that its data starts a multiple of 16 bytes
///    from the end;
/// 3. the finished buffer's length is then 0 or 8 modulo 16: in the second
///    case 8 zero bytes go between the 8-byte header and the rest, and the
///    root offset (the only absolute offset in a flatbuffer) grows by 8.
///
/// The result is checked by reading every buffer back.
fn assemble(
    codes: Vec<fb::OperatorCode>,
    subgraph: fb::SubGraph,
    data: &[Cow<'_, [u8]>],
) -> Result<Vec<u8>, WriteError> {
    let mut b = planus::Builder::new();
    let _anchor: Offset<[i64]> = b.create_vector(&[] as &[i64]);
    let mut written: BTreeMap<&[u8], Offset<[u8]>> = BTreeMap::new();
    let mut buffers: Vec<Offset<fb::Buffer>> = Vec::with_capacity(data.len() + 1);
    buffers.push(fb::Buffer::create(&mut b, (), 0u64, 0u64));
    for d in data {
        let d: &[u8] = d;
        if d.is_empty() {
            buffers.push(fb::Buffer::create(&mut b, (), 0u64, 0u64));
            continue;
        }
        let offset = match written.get(d) {
            Some(&o) => o,
            None => {
                // The vector's header starts at align4(len + n + 4) from the
                // end; its data 4 bytes later. Pad until that is 4 mod 16.
                for _ in 0..4 {
                    if align4(b.len().saturating_add(d.len()).saturating_add(4)) % 16 == 4 {
                        break;
                    }
                    let _filler: Offset<[i32]> = b.create_vector(&[] as &[i32]);
                }
                let o = b.create_vector(d);
                written.insert(d, o);
                o
            }
        };
        buffers.push(fb::Buffer::create(&mut b, offset, 0u64, 0u64));
    }
    let buffers = b.create_vector(&buffers[..]);
    let subgraphs = [subgraph];
    let model = fb::Model::create(
        &mut b,
        SCHEMA_VERSION,
        &codes[..],
        &subgraphs[..],
        "tinyq",
        buffers,
        (),
        (),
        (),
        (),
        (),
    );
    let mut bytes = b.finish(model, Some(FILE_IDENTIFIER)).to_vec();
    fix_identifier(&mut bytes)?;
    if bytes.len() > i32::MAX as usize {
        return Err(WriteError::TooLarge(format!(
            "{} bytes, more than the 2 GiB a flatbuffer can address",
            bytes.len()
        )));
    }
    match data_alignment(&bytes)? {
        None | Some(0) => {}
        Some(8) => {
            bytes.splice(8..8, [0u8; 8]);
            let root = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) + 8;
            bytes[0..4].copy_from_slice(&root.to_le_bytes());
            if data_alignment(&bytes)?.is_some_and(|r| r != 0) {
                return Err(WriteError::Internal(
                    "buffer data is still misaligned after the shift".to_owned(),
                ));
            }
        }
        Some(r) => {
            return Err(WriteError::Internal(format!(
                "buffer data starts {r} bytes past a multiple of {BUFFER_ALIGNMENT}"
            )));
        }
    }
    Ok(bytes)
}

/// planus 1.3.0 writes the file identifier at bytes 0..4 and the root offset
/// (relative to byte 4) at 4..8, the reverse of the FlatBuffers layout
/// (planus-org/planus#377). Puts them where FlatBuffers wants them; a fixed
/// planus is left alone.
fn fix_identifier(bytes: &mut [u8]) -> Result<(), WriteError> {
    let Some(header) = bytes.get(0..8) else {
        return Err(WriteError::Internal("the flatbuffer has no header".into()));
    };
    if header[4..8] == FILE_IDENTIFIER {
        return Ok(());
    }
    if header[0..4] != FILE_IDENTIFIER {
        return Err(WriteError::Internal(
            "planus did not write the file identifier".into(),
        ));
    }
    let root = u32::from_le_bytes([header[4], header[5], header[6], header[7]])
        .checked_add(4)
        .ok_or_else(|| WriteError::Internal("root offset overflows".into()))?;
    bytes[0..4].copy_from_slice(&root.to_le_bytes());
    bytes[4..8].copy_from_slice(&FILE_IDENTIFIER);
    Ok(())
}

/// Where the non-empty buffers' data start, modulo 16: `None` when there is
/// none, `Some(r)` when all agree, an error otherwise.
fn data_alignment(bytes: &[u8]) -> Result<Option<usize>, WriteError> {
    let internal = |e: planus::Error| WriteError::Internal(format!("cannot read back: {e}"));
    let model = fb::ModelRef::read_as_root(bytes).map_err(internal)?;
    let Some(buffers) = model.buffers().map_err(internal)? else {
        return Ok(None);
    };
    let mut residue = None;
    for buffer in buffers.iter() {
        let Some(data) = buffer.map_err(internal)?.data().map_err(internal)? else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        let at = (data.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        let r = at % BUFFER_ALIGNMENT;
        match residue {
            None => residue = Some(r),
            Some(prev) if prev == r => {}
            Some(prev) => {
                return Err(WriteError::Internal(format!(
                    "buffer data start at {prev} and {r} modulo {BUFFER_ALIGNMENT}"
                )));
            }
        }
    }
    Ok(residue)
}

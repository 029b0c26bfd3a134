//! The checker's light view of a model: its ops in execution order, with
//! what the Edge TPU rules look at (types, shapes, const-ness, the options
//! that matter). Built from the raw flatbuffer ([`crate::raw`], the model as
//! given) or from tinyq's Graph ([`crate::graph`], after folding).

use core::fmt;

/// A tensor element type, as TFLite names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElemType {
    F32,
    F16,
    F64,
    I8,
    U8,
    I16,
    I32,
    I64,
    Bool,
    /// Any other TFLite type, by its schema name (`STRING`, `INT4`, ...).
    Other(String),
}

impl ElemType {
    /// The TFLite name (`FLOAT32`, `INT8`, ...).
    pub fn name(&self) -> &str {
        match self {
            ElemType::F32 => "FLOAT32",
            ElemType::F16 => "FLOAT16",
            ElemType::F64 => "FLOAT64",
            ElemType::I8 => "INT8",
            ElemType::U8 => "UINT8",
            ElemType::I16 => "INT16",
            ElemType::I32 => "INT32",
            ElemType::I64 => "INT64",
            ElemType::Bool => "BOOL",
            ElemType::Other(name) => name,
        }
    }

    /// True for INT8 and UINT8, the types the Edge TPU computes in.
    pub fn is_8bit(&self) -> bool {
        matches!(self, ElemType::I8 | ElemType::U8)
    }

    /// True for the floating-point types.
    pub fn is_float(&self) -> bool {
        matches!(self, ElemType::F32 | ElemType::F16 | ElemType::F64)
    }

    /// True for INT32 and INT64, the types of shape arithmetic and biases.
    pub fn is_wide_int(&self) -> bool {
        matches!(self, ElemType::I32 | ElemType::I64)
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor an op reads or writes.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorView {
    /// The tensor's identity within the model (its index in the file or
    /// the Graph): partitioning follows tensors from producer to consumer.
    pub id: usize,
    pub name: String,
    /// The static shape (`shape` in the flatbuffer).
    pub shape: Vec<usize>,
    pub dtype: ElemType,
    /// True when the tensor carries quantization parameters (a scale).
    pub quantized: bool,
    /// True when the model holds the tensor's data (a compile-time constant).
    pub constant: bool,
    /// Why the shape is not static (a negative dimension, or an unknown
    /// one in `shape_signature` other than a batch of 1), if it is not.
    pub dynamic: Option<String>,
    /// For constants that were asked about (CONCATENATION inputs): whether
    /// every element is a real zero (the zero point, or 0.0).
    pub all_zero: Option<bool>,
}

impl TensorView {
    /// A non-constant, unquantized tensor.
    pub fn new(id: usize, name: impl Into<String>, shape: Vec<usize>, dtype: ElemType) -> Self {
        TensorView {
            id,
            name: name.into(),
            shape,
            dtype,
            quantized: false,
            constant: false,
            dynamic: None,
            all_zero: None,
        }
    }

    /// The shape as `[1,28,28,1]`.
    pub fn shape_string(&self) -> String {
        tinyq_ir::tensor::shape_string(&self.shape)
    }
}

/// What an input is to its op: the rules check each role differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Data the op computes on: must be 8-bit, at most 3 significant dimensions.
    Data,
    /// A filter or alpha: must be 8-bit and constant.
    Weights,
    /// A bias: must be a constant int32.
    Bias,
    /// A parameter (axes, shape, paddings, slice bounds): must be constant.
    Param,
    /// Anything else (an LSTM's gate weights and state): not checked.
    Other,
}

/// One input of an op; `tensor` is `None` for an absent optional input.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub role: Role,
    pub tensor: Option<TensorView>,
}

/// The options and parameter values the rules look at. `None` means the
/// op has no such option or its value is unknown (a non-constant parameter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs {
    /// The fused activation (`NONE`, `RELU`, ...), for ops that have one.
    pub activation: Option<String>,
    /// Dilation `(h, w)` of CONV_2D and DEPTHWISE_CONV_2D.
    pub dilation: Option<(i64, i64)>,
    /// Reduction axes of MEAN, SUM, REDUCE_MAX and REDUCE_MIN (may be negative).
    pub axes: Option<Vec<i64>>,
    /// `(before, after)` per dimension of PAD and PADV2.
    pub paddings: Option<Vec<(i64, i64)>>,
    /// STRIDED_SLICE strides.
    pub strides: Option<Vec<i64>>,
    /// STRIDED_SLICE `ellipsis_mask` and `new_axis_mask`.
    pub ellipsis_mask: i32,
    pub new_axis_mask: i32,
    /// FULLY_CONNECTED weights format, when it is not `DEFAULT`.
    pub shuffled_weights: bool,
    /// PACK, UNPACK and SPLIT axis (may be negative).
    pub axis: Option<i64>,
}

/// One op of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct OpView {
    /// Position in the source model's operator list.
    pub index: usize,
    /// TFLite builtin name (`CONV_2D`), `CUSTOM` for custom ops.
    pub op: String,
    /// For CUSTOM ops, the custom code.
    pub custom_code: Option<String>,
    pub inputs: Vec<Input>,
    pub outputs: Vec<TensorView>,
    pub attrs: Attrs,
}

impl OpView {
    /// An op with no inputs, outputs or attributes yet.
    pub fn new(index: usize, op: impl Into<String>) -> Self {
        OpView {
            index,
            op: op.into(),
            custom_code: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            attrs: Attrs::default(),
        }
    }

    /// The op's name in reports: its first output tensor's name.
    pub fn name(&self) -> &str {
        self.outputs.first().map_or("", |t| t.name.as_str())
    }

    /// The present inputs with role `role`.
    pub fn inputs_with(&self, role: Role) -> impl Iterator<Item = &TensorView> {
        self.inputs
            .iter()
            .filter(move |i| i.role == role)
            .filter_map(|i| i.tensor.as_ref())
    }

    /// The first present data input.
    pub fn data_input(&self) -> Option<&TensorView> {
        self.inputs_with(Role::Data).next()
    }
}

/// A model as the checker sees it: its ops in execution order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelView {
    pub ops: Vec<OpView>,
}

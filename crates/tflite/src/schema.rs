//! Access to the planus-generated flatbuffer types: planus errors mapped to
//! ours with context, operator codes and their TFLite names.

#![forbid(unsafe_code)]

use crate::error::ReadError;
pub(crate) use crate::generated::tflite as fb;
use crate::limits::Budget;

/// Attaches a description of what was being read to a planus error. planus
/// verifies lazily, so every field access can fail on a corrupt file.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ReadError>;
}

impl<T> Ctx<T> for planus::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, ReadError> {
        self.map_err(|e| malformed(context(), e))
    }
}

/// A planus error as our [`ReadError::Malformed`].
pub(crate) fn malformed(context: String, e: planus::Error) -> ReadError {
    let at = e.source_location.byte_offset;
    let detail = if at == usize::MAX {
        e.error_kind.to_string()
    } else {
        format!("{} (at byte {at:#x})", e.error_kind)
    };
    ReadError::Malformed { context, detail }
}

/// The tag of an enum value planus did not recognise (a newer schema), if
/// that is what `e` is.
pub(crate) fn unknown_enum_tag(e: &planus::Error) -> Option<i128> {
    match e.error_kind {
        planus::errors::ErrorKind::UnknownEnumTag { source } => Some(source.tag),
        _ => None,
    }
}

/// `BuiltinOperator.CUSTOM`.
pub(crate) const CUSTOM: i32 = fb::BuiltinOperator::Custom as i32;

/// One entry of `Model.operator_codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperatorCode {
    /// The builtin code, `max(builtin_code, deprecated_builtin_code)`.
    pub code: i32,
    /// `custom_code`, for CUSTOM ops.
    pub custom: Option<String>,
    /// `version` (schema default 1).
    pub version: i32,
}

impl OperatorCode {
    /// The op as TFLite names it: `CONV_2D`, `CUSTOM "Foo"`, or
    /// `unknown builtin operator 250` for codes newer than our schema.
    pub(crate) fn name(&self) -> String {
        if self.code == CUSTOM {
            return match &self.custom {
                Some(c) => format!("CUSTOM {c:?}"),
                None => "CUSTOM (no custom code)".to_owned(),
            };
        }
        match builtin_name(self.code) {
            Some(n) => n.to_owned(),
            None => format!("unknown builtin operator {}", self.code),
        }
    }

    /// The builtin name, or `"CUSTOM"`/`"UNKNOWN"`: for messages that need a
    /// `&'static str`.
    pub(crate) fn static_name(&self) -> &'static str {
        builtin_name(self.code).unwrap_or("UNKNOWN")
    }
}

/// Reads `Model.operator_codes`.
pub(crate) fn operator_codes(
    model: &fb::ModelRef<'_>,
    budget: &Budget,
) -> Result<Vec<OperatorCode>, ReadError> {
    let Some(codes) = model
        .operator_codes()
        .ctx(|| "Model.operator_codes".into())?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(codes.len());
    for (i, oc) in codes.iter().enumerate() {
        let at = || format!("operator code {i}");
        let oc = oc.ctx(at)?;
        // Old (schema 3) files only have the byte-sized deprecated field;
        // codes >= 127 only live in `builtin_code` (schema_utils.cc GetBuiltinCode).
        let deprecated = i32::from(oc.deprecated_builtin_code().ctx(at)?);
        let builtin = match oc.builtin_code() {
            Ok(b) => b as i32,
            Err(e) => match unknown_enum_tag(&e) {
                Some(tag) => i32::try_from(tag).unwrap_or(i32::MAX),
                None => return Err(malformed(at(), e)),
            },
        };
        let custom = oc.custom_code().ctx(at)?;
        budget.charge(size_of::<OperatorCode>() + custom.map_or(0, str::len), at)?;
        let custom = custom.map(str::to_owned);
        out.push(OperatorCode {
            code: builtin.max(deprecated),
            custom,
            version: oc.version().ctx(at)?,
        });
    }
    Ok(out)
}

/// TFLite's name for builtin operator `code` (`BuiltinOperator` in the schema).
pub(crate) fn builtin_name(code: i32) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| BUILTIN_NAMES.get(i))
        .copied()
}

/// `BuiltinOperator` names by value, from `schema/schema.fbs` (a test checks
/// they agree).
const BUILTIN_NAMES: [&str; 210] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_schema() {
        let schema = include_str!("../schema/schema.fbs");
        let start = schema
            .find("enum BuiltinOperator : int32 {")
            .expect("enum present");
        let body = &schema[start..];
        let body = &body[body.find('{').expect("brace") + 1..body.find('}').expect("brace")];
        let mut count = 0;
        for line in body.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let value: i32 = value
                .trim()
                .trim_end_matches(',')
                .split_whitespace()
                .next()
                .and_then(|v| v.trim_end_matches(',').parse().ok())
                .expect("a number");
            assert_eq!(builtin_name(value), Some(name.trim()), "code {value}");
            count += 1;
        }
        assert_eq!(count, BUILTIN_NAMES.len());
        assert_eq!(fb::BuiltinOperator::ENUM_VALUES.len(), BUILTIN_NAMES.len());
        assert_eq!(builtin_name(3), Some("CONV_2D"));
        assert_eq!(builtin_name(-1), None);
        assert_eq!(builtin_name(210), None);
    }

    #[test]
    fn custom_names() {
        let oc = OperatorCode {
            code: CUSTOM,
            custom: Some("TFLite_Detection_PostProcess".into()),
            version: 1,
        };
        assert_eq!(oc.name(), "CUSTOM \"TFLite_Detection_PostProcess\"");
        let oc = OperatorCode {
            code: 999,
            custom: None,
            version: 1,
        };
        assert_eq!(oc.name(), "unknown builtin operator 999");
    }
}

//! TFLite's names for builtin operators (`CONV_2D`, `LEAKY_RELU`, ...).
//!
//! The planus-generated `BuiltinOperator` spells its variants in Rust case
//! (`Conv2d`, `LeakyRelu`); TFLite's name is the variant split at capitals
//! and upper-cased, except for the few names with digits, listed here. A
//! test checks every value against `crates/tflite/schema/schema.fbs`.

use tinyq_tflite::fb;

/// `BuiltinOperator.CUSTOM`.
pub(crate) const CUSTOM: i32 = fb::BuiltinOperator::Custom as i32;

/// Names whose digits the capital-splitting rule gets wrong.
const WITH_DIGITS: [(&str, &str); 19] = [
    ("AveragePool2d", "AVERAGE_POOL_2D"),
    ("Conv2d", "CONV_2D"),
    ("DepthwiseConv2d", "DEPTHWISE_CONV_2D"),
    ("L2Normalization", "L2_NORMALIZATION"),
    ("L2Pool2d", "L2_POOL_2D"),
    ("MaxPool2d", "MAX_POOL_2D"),
    ("ReluN1To1", "RELU_N1_TO_1"),
    ("Relu6", "RELU6"),
    ("TopkV2", "TOPK_V2"),
    ("Padv2", "PADV2"),
    ("ReverseV2", "REVERSE_V2"),
    ("NonMaxSuppressionV4", "NON_MAX_SUPPRESSION_V4"),
    ("NonMaxSuppressionV5", "NON_MAX_SUPPRESSION_V5"),
    ("SelectV2", "SELECT_V2"),
    ("Rfft2d", "RFFT2D"),
    ("Conv3d", "CONV_3D"),
    ("Conv3dTranspose", "CONV_3D_TRANSPOSE"),
    ("Relu0To1", "RELU_0_TO_1"),
    ("Atan2", "ATAN2"),
];

/// TFLite's name for builtin operator `code`, or `UNKNOWN_BUILTIN_<code>`
/// for codes newer than tinyq's schema.
pub(crate) fn builtin_name(code: i32) -> String {
    let Ok(op) = fb::BuiltinOperator::try_from(code) else {
        return format!("UNKNOWN_BUILTIN_{code}");
    };
    let rust = format!("{op:?}");
    if let Some((_, name)) = WITH_DIGITS.iter().find(|(r, _)| *r == rust) {
        return (*name).to_owned();
    }
    let mut out = String::with_capacity(rust.len() + 8);
    for (i, c) in rust.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_matches_the_schema() {
        let schema = include_str!("../../tflite/schema/schema.fbs");
        let start = schema
            .find("enum BuiltinOperator : int32 {")
            .expect("the enum is in the schema");
        let body = &schema[start..];
        let body = &body[body.find('{').expect("{") + 1..body.find('}').expect("}")];
        let mut count = 0;
        for line in body.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let value: i32 = value
                .trim()
                .trim_end_matches(',')
                .trim()
                .parse()
                .expect("a number");
            assert_eq!(builtin_name(value), name.trim(), "code {value}");
            count += 1;
        }
        assert!(count > 200, "{count} operators read from the schema");
        assert_eq!(builtin_name(-5), "UNKNOWN_BUILTIN_-5");
    }
}

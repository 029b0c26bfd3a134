//! The option rules `tinyq compile` and `include_model!` share, with one
//! text each, so a user sees the same message from either.

use tinyq_ir::GraphKind;

/// An option that does not apply to the model, or a bad name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error(
        "`io` applies only when a float model is quantized with calibration data; \
         this model is already integer and keeps its own I/O types (drop `io`)"
    )]
    IoOnInteger,
    #[error("the model is already quantized; use it as it is (drop the calibration data)")]
    CalibrationOnInteger,
    #[error(
        "`{name}` is not a valid name: use ASCII letters, digits and `_`, not starting \
         with a digit, at most {max} characters (e.g. `{suggestion}`)"
    )]
    BadName {
        name: String,
        suggestion: String,
        max: usize,
    },
}

/// Longest name the backends take (C99 guarantees 63 significant characters).
pub const MAX_NAME_LEN: usize = 48;

/// Whether calibration data and an explicit I/O type fit a model of `kind`.
pub fn check_options(kind: GraphKind, calibration: bool, io: bool) -> Result<(), OptionError> {
    match kind {
        GraphKind::Float => Ok(()),
        _ if calibration => Err(OptionError::CalibrationOnInteger),
        _ if io => Err(OptionError::IoOnInteger),
        _ => Ok(()),
    }
}

/// Whether `name` can name the generated files, C symbols and Rust module.
pub fn check_name(name: &str) -> Result<(), OptionError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if valid {
        return Ok(());
    }
    let mut suggestion: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(MAX_NAME_LEN - 2)
        .collect();
    if suggestion.is_empty() || suggestion.as_bytes()[0].is_ascii_digit() {
        suggestion.insert_str(0, "m_");
    }
    Err(OptionError::BadName {
        name: name.to_string(),
        suggestion,
        max: MAX_NAME_LEN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(check_options(GraphKind::Float, true, true).is_ok());
        assert_eq!(
            check_options(GraphKind::Integer, true, false),
            Err(OptionError::CalibrationOnInteger)
        );
        assert_eq!(
            check_options(GraphKind::Integer, false, true),
            Err(OptionError::IoOnInteger)
        );
        assert!(check_name("mnist_v2").is_ok());
        let Err(OptionError::BadName { suggestion, .. }) = check_name("2-layer") else {
            panic!("a leading digit is refused");
        };
        assert_eq!(suggestion, "m_2_layer");
        assert!(check_name(&"a".repeat(49)).is_err());
    }
}

//! The one namer: turns untrusted model text (tensor names, file stems) into
//! Rust identifiers. Nothing else from a model reaches generated source.

/// Rust's strict and reserved keywords (2024 edition), plus the names the
/// generated code uses itself, which a model's name must not shadow.
const RESERVED: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "union", "_",
    // The generated code's own names in the scope of the typed API.
    "arena", "plan", "kernels", "core", "std", "alloc",
];

/// Hands out unique snake_case identifiers.
#[derive(Debug, Default)]
pub struct Namer {
    taken: Vec<String>,
}

/// `text` as a snake_case identifier: ASCII alphanumerics kept (lowercased),
/// every other run of characters one `_`, a leading digit prefixed with `t_`,
/// an empty result `tensor`, a keyword suffixed with `_`. Never longer than
/// 48 characters.
pub fn sanitize(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let mut s = s.trim_matches('_').to_string();
    s.truncate(48);
    let mut s = s.trim_end_matches('_').to_string();
    if s.is_empty() {
        s = "tensor".to_string();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "t_");
    }
    if RESERVED.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

impl Namer {
    /// A fresh identifier for `text`, distinct from every earlier one.
    pub fn name(&mut self, text: &str) -> String {
        let base = sanitize(text);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.taken.push(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_untrusted_names() {
        assert_eq!(
            sanitize("serving_default_input:0"),
            "serving_default_input_0"
        );
        assert_eq!(sanitize("conv2d/BiasAdd;x"), "conv2d_biasadd_x");
        assert_eq!(sanitize("0abc"), "t_0abc");
        assert_eq!(sanitize("type"), "type_");
        assert_eq!(sanitize("*/ } fn evil() { /*"), "fn_evil");
        assert_eq!(sanitize(""), "tensor");
        assert_eq!(sanitize("ä\u{202e}"), "tensor");
        assert_eq!(sanitize("arena"), "arena_");
        assert!(sanitize(&"x".repeat(500)).len() <= 48);
    }

    #[test]
    fn names_are_unique() {
        let mut n = Namer::default();
        assert_eq!(n.name("a"), "a");
        assert_eq!(n.name("A"), "a_2");
        assert_eq!(n.name("a"), "a_3");
    }
}

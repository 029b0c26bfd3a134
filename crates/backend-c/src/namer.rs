//! The one place untrusted text (tensor names, model file names) becomes
//! C source: sanitized identifiers only.
//!
//! An identifier from [`Namer`] or [`sanitize`] matches
//! `[A-Za-z][A-Za-z0-9_]*`, never contains `__`, never ends in `_` unless it
//! is a keyword escape, is at most [`MAX_LEN`] bytes, and is not a C keyword
//! or a name the C standard library reserves. So it can stand anywhere in C:
//! as an identifier, in a `#define`, in a comment (it has no `*` or `/`), or
//! in a file name.

use std::collections::BTreeSet;

/// Longest identifier produced (C99 guarantees 63 significant characters).
pub const MAX_LEN: usize = 48;

/// C89/C99/C11/C23 keywords, and identifiers the generated code or the
/// standard headers it includes already use, so a sanitized name can never
/// collide with them.
pub const C_RESERVED: &[&str] = &[
    // C89 / C99
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Imaginary",
    // C11 / C23
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Generic",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "alignas",
    "alignof",
    "bool",
    "constexpr",
    "false",
    "nullptr",
    "static_assert",
    "thread_local",
    "true",
    "typeof",
    "typeof_unqual",
    "_BitInt",
    "_Decimal32",
    "_Decimal64",
    "_Decimal128",
    // C++ keywords (the header is usable from C++)
    "asm",
    "catch",
    "class",
    "delete",
    "explicit",
    "export",
    "friend",
    "mutable",
    "namespace",
    "new",
    "operator",
    "private",
    "protected",
    "public",
    "template",
    "this",
    "throw",
    "try",
    "typeid",
    "typename",
    "using",
    "virtual",
    "and",
    "or",
    "not",
    "xor",
    // <stddef.h> / <stdint.h> and common macros
    "NULL",
    "offsetof",
    "size_t",
    "ptrdiff_t",
    "wchar_t",
    "max_align_t",
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "intptr_t",
    "uintptr_t",
    "intmax_t",
    "uintmax_t",
    "main",
    "errno",
    "assert",
    "defined",
];

/// True if `s` is a usable identifier as produced by this module.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    first.is_ascii_alphabetic()
        && s.len() <= MAX_LEN
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.contains("__")
        && !is_reserved(s)
}

fn is_reserved(s: &str) -> bool {
    C_RESERVED.contains(&s)
        // <stdint.h> reserves INT..._MAX/_MIN/_C-like macro names; avoid any
        // all-caps name of that shape, and tinyq's own TQ_/tq_ prefixes.
        || (s.starts_with("INT") || s.starts_with("UINT") || s.starts_with("SIZE_"))
            && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        || s.starts_with("tq_")
        || s.starts_with("TQ_")
        || s == "tq"
        || s == "TQ"
}

/// A C identifier made from arbitrary text: every run of characters outside
/// `[A-Za-z0-9]` becomes one `_`, leading and trailing `_` are dropped, a
/// leading digit or an empty result gets a `t_` prefix, long names are cut
/// to at most [`MAX_LEN`] with a short hash of the full text, and keywords get a
/// trailing `_`. Deterministic.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::new();
    let mut pending_underscore = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_underscore && !out.is_empty() {
                out.push('_');
            }
            pending_underscore = false;
            out.push(c);
        } else {
            pending_underscore = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "t_");
    }
    // Room for the two characters a keyword escape may add.
    let body_max = MAX_LEN - 2;
    if out.len() > body_max {
        // Keep it readable and unique: a prefix plus a hash of the whole text.
        let hash = format!("{:08x}", fnv1a(raw.as_bytes()) as u32);
        out.truncate(body_max - hash.len() - 1);
        while out.ends_with('_') {
            out.pop();
        }
        out.push('_');
        out.push_str(&hash);
    }
    if is_reserved(&out) {
        // `int` -> `int_`; `tq_x` -> `m_tq_x`, `INT8_MAX` -> `m_INT8_MAX`.
        if out.starts_with("tq")
            || out.starts_with("TQ")
            || out.starts_with("INT")
            || out.starts_with("UINT")
            || out.starts_with("SIZE_")
        {
            out.insert_str(0, "m_");
        } else {
            out.push('_');
        }
    }
    out
}

/// 64-bit FNV-1a: a stable hash (no per-run randomness).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Hands out unique sanitized identifiers, in request order.
#[derive(Debug, Default)]
pub struct Namer {
    used: BTreeSet<String>,
}

impl Namer {
    pub fn new() -> Self {
        Namer::default()
    }

    /// A fresh identifier for `raw`: [`sanitize`]d, with `_2`, `_3`, ...
    /// appended when an earlier name already took it.
    pub fn name(&mut self, raw: &str) -> String {
        let base = sanitize(raw);
        let mut candidate = base.clone();
        let mut n = 2u64;
        while self.used.contains(&candidate) {
            let suffix = format!("_{n}");
            let mut stem = base.clone();
            stem.truncate(MAX_LEN - suffix.len());
            while stem.ends_with('_') {
                stem.pop();
            }
            candidate = format!("{stem}{suffix}");
            n += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_hostile_text() {
        for raw in [
            "",
            "*/",
            "a\"b",
            "line\nbreak */ int x;",
            "int",
            "_Bool",
            "123abc",
            "ünïcödé",
            "__reserved",
            "_Capital",
            "tq_conv2d",
            "INT32_MAX",
            "a/*b*/c",
            "#define X",
            "\\",
            "??/",
        ] {
            let s = sanitize(raw);
            assert!(is_identifier(&s), "{raw:?} -> {s:?}");
        }
        let long = "x".repeat(10_000);
        let s = sanitize(&long);
        assert!(is_identifier(&s) && s.len() <= MAX_LEN, "{s}");
        assert_ne!(sanitize(&"y".repeat(10_000)), s);
        assert_eq!(
            sanitize("serving_default_input:0"),
            "serving_default_input_0"
        );
        assert_eq!(sanitize("int"), "int_");
        assert_eq!(sanitize("INT32_MAX"), "m_INT32_MAX");
        let long_caps = format!("INT{}", "X".repeat(200));
        assert!(
            is_identifier(&sanitize(&long_caps)),
            "{}",
            sanitize(&long_caps)
        );
    }

    #[test]
    fn namer_makes_names_unique() {
        let mut n = Namer::new();
        assert_eq!(n.name("a b"), "a_b");
        assert_eq!(n.name("a.b"), "a_b_2");
        assert_eq!(n.name("a-b"), "a_b_3");
        let long = "z".repeat(100);
        let first = n.name(&long);
        let second = n.name(&long);
        assert_ne!(first, second);
        assert!(is_identifier(&second));
    }
}

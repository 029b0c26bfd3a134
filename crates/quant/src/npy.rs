//! `.npy` / `.npz` reading that trusts nothing: the one reader the CLI and
//! `include_model!` share.
//!
//! The header is parsed by hand (magic, version, a Python dict literal of at
//! most [`MAX_HEADER`] bytes); the declared shape × dtype is checked against
//! the bytes actually present *before* anything is allocated, so a 100-byte
//! file cannot ask for gigabytes. `.npz` archives are read entry by entry,
//! each entry bounded by the archive's own size. Every error is one line
//! naming the file (and array) and what is wrong.

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

/// Longest `.npy` header accepted (numpy writes ~128 bytes; its own reader
/// stops at 10,000 by default).
pub const MAX_HEADER: usize = 1 << 16;

/// Highest rank accepted.
pub const MAX_RANK: usize = 32;

/// Most arrays one `.npz` may hold.
pub const MAX_ARRAYS: usize = 4096;

/// Why a sample file was refused. Displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {why}", array.as_ref().map(|a| format!(": array {a:?}")).unwrap_or_default())]
pub struct NpyError {
    /// The file as the caller named it.
    pub file: String,
    /// The array inside an `.npz`, when the error concerns one.
    pub array: Option<String>,
    pub why: String,
}

/// Element values of an array, in the file's element order made row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I8(ArrayD<i8>),
    U8(ArrayD<u8>),
    I16(ArrayD<i16>),
    U16(ArrayD<u16>),
    I32(ArrayD<i32>),
    U32(ArrayD<u32>),
    I64(ArrayD<i64>),
    U64(ArrayD<u64>),
    Bool(ArrayD<bool>),
}

impl Data {
    /// numpy's name for the element type.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Data::F32(_) => "float32",
            Data::F64(_) => "float64",
            Data::I8(_) => "int8",
            Data::U8(_) => "uint8",
            Data::I16(_) => "int16",
            Data::U16(_) => "uint16",
            Data::I32(_) => "int32",
            Data::U32(_) => "uint32",
            Data::I64(_) => "int64",
            Data::U64(_) => "uint64",
            Data::Bool(_) => "bool",
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Data::F32(a) => a.shape(),
            Data::F64(a) => a.shape(),
            Data::I8(a) => a.shape(),
            Data::U8(a) => a.shape(),
            Data::I16(a) => a.shape(),
            Data::U16(a) => a.shape(),
            Data::I32(a) => a.shape(),
            Data::U32(a) => a.shape(),
            Data::I64(a) => a.shape(),
            Data::U64(a) => a.shape(),
            Data::Bool(a) => a.shape(),
        }
    }

    /// Float values (float32 as is, float64 narrowed), `None` for other
    /// dtypes.
    pub fn to_f32(&self) -> Option<ArrayD<f32>> {
        match self {
            Data::F32(a) => Some(a.clone()),
            Data::F64(a) => Some(a.mapv(|v| v as f32)),
            _ => None,
        }
    }

    /// Integer values widened to i64, `None` for float, bool and uint64
    /// values above `i64::MAX`.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        Some(match self {
            Data::I8(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::U8(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::I16(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::U16(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::I32(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::U32(a) => a.iter().map(|&v| i64::from(v)).collect(),
            Data::I64(a) => a.iter().copied().collect(),
            Data::U64(a) => a
                .iter()
                .map(|&v| i64::try_from(v).ok())
                .collect::<Option<_>>()?,
            _ => return None,
        })
    }
}

/// The parsed header dict.
struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// A minimal parser for the Python literal numpy writes:
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
struct Lit<'a> {
    s: &'a [u8],
    at: usize,
}

impl Lit<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Option<String> {
        self.skip_ws();
        let quote = *self.s.get(self.at)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let start = self.at + 1;
        let len = self.s.get(start..)?.iter().position(|&c| c == quote)?;
        self.at = start + len + 1;
        String::from_utf8(self.s.get(start..start + len)?.to_vec()).ok()
    }
    fn word(&mut self) -> &[u8] {
        self.skip_ws();
        let start = self.at;
        while self.s.get(self.at).is_some_and(u8::is_ascii_alphanumeric) {
            self.at += 1;
        }
        &self.s[start..self.at]
    }
}

fn parse_header(text: &[u8]) -> Result<Header, String> {
    let bad = |what: &str| format!("malformed .npy header ({what})");
    let mut p = Lit { s: text, at: 0 };
    if !p.eat(b'{') {
        return Err(bad("expected a '{' dict"));
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.eat(b'}') {
            break;
        }
        let key = p.string().ok_or_else(|| bad("expected a quoted key"))?;
        if !p.eat(b':') {
            return Err(bad("expected ':' after a key"));
        }
        match key.as_str() {
            "descr" if descr.is_none() => {
                descr = Some(p.string().ok_or_else(|| bad("descr is not a string"))?);
            }
            "fortran_order" if fortran.is_none() => {
                fortran = Some(match p.word() {
                    b"True" => true,
                    b"False" => false,
                    _ => return Err(bad("fortran_order is not True or False")),
                });
            }
            "shape" if shape.is_none() => {
                if !p.eat(b'(') {
                    return Err(bad("shape is not a tuple"));
                }
                let mut dims = Vec::new();
                while !p.eat(b')') {
                    let w = p.word();
                    let text = std::str::from_utf8(w).map_err(|_| bad("shape"))?;
                    let d: usize = text
                        .parse()
                        .map_err(|_| bad("a shape dimension is not a non-negative integer"))?;
                    dims.push(d);
                    if dims.len() > MAX_RANK {
                        return Err(format!("rank above {MAX_RANK}"));
                    }
                    if !p.eat(b',') {
                        if !p.eat(b')') {
                            return Err(bad("shape is not a tuple of integers"));
                        }
                        break;
                    }
                }
                shape = Some(dims);
            }
            _ => return Err(bad(&format!("unexpected or repeated key {key:?}"))),
        }
        if !p.eat(b',') {
            if p.eat(b'}') {
                break;
            }
            return Err(bad("expected ',' or '}'"));
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(|| bad("no descr"))?,
        fortran: fortran.ok_or_else(|| bad("no fortran_order"))?,
        shape: shape.ok_or_else(|| bad("no shape"))?,
    })
}

/// Decodes one `.npy` image. Errors are the reason only; callers add the
/// file and array name.
fn decode(bytes: &[u8]) -> Result<Data, String> {
    let magic = b"\x93NUMPY";
    if bytes.len() < 10 || !bytes.starts_with(magic) {
        return Err("not a .npy file (no \\x93NUMPY magic)".to_string());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| "truncated .npy header".to_string())?;
            let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    if header_len > MAX_HEADER {
        return Err(format!(
            ".npy header of {header_len} bytes is longer than {MAX_HEADER}"
        ));
    }
    let end = start + header_len;
    let text = bytes
        .get(start..end)
        .ok_or_else(|| format!("truncated .npy header: declares {header_len} bytes"))?;
    let h = parse_header(text)?;
    let body = &bytes[end..];
    let (kind, size) = match h.descr.as_str() {
        "<f4" => ("f32", 4),
        "<f8" => ("f64", 8),
        "|i1" | "<i1" | "i1" => ("i8", 1),
        "|u1" | "<u1" | "u1" => ("u8", 1),
        "|b1" | "<b1" | "b1" => ("bool", 1),
        "<i2" => ("i16", 2),
        "<u2" => ("u16", 2),
        "<i4" => ("i32", 4),
        "<u4" => ("u32", 4),
        "<i8" => ("i64", 8),
        "<u8" => ("u64", 8),
        d if d.starts_with('>') => {
            return Err(format!(
                "big-endian dtype {d:?}; save the array as little-endian (arr.astype('<{}'))",
                &d[1..]
            ));
        }
        d => {
            return Err(format!(
                "unsupported dtype {d:?} (float32, float64, bool and 8-64 bit integers are read)"
            ));
        }
    };
    let elements = h
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {:?} overflows", h.shape))?;
    let need = elements
        .checked_mul(size)
        .ok_or_else(|| format!("shape {:?} overflows", h.shape))?;
    if need != body.len() {
        return Err(format!(
            "header declares shape {:?} of {} ({need} data bytes) but the file holds {} data bytes",
            h.shape,
            h.descr,
            body.len()
        ));
    }
    let dim: ndarray::Shape<IxDyn> = if h.fortran {
        IxDyn(&h.shape).f()
    } else {
        IxDyn(&h.shape).into()
    };
    macro_rules! arr {
        ($t:ty, $n:literal, $variant:ident) => {{
            let v: Vec<$t> = body
                .chunks_exact($n)
                .map(|c| {
                    let mut b = [0u8; $n];
                    b.copy_from_slice(c);
                    <$t>::from_le_bytes(b)
                })
                .collect();
            Data::$variant(
                ArrayD::from_shape_vec(dim.clone(), v)
                    .map_err(|e| e.to_string())?
                    .as_standard_layout()
                    .into_owned(),
            )
        }};
    }
    Ok(match kind {
        "f32" => arr!(f32, 4, F32),
        "f64" => arr!(f64, 8, F64),
        "i8" => arr!(i8, 1, I8),
        "u8" => arr!(u8, 1, U8),
        "i16" => arr!(i16, 2, I16),
        "u16" => arr!(u16, 2, U16),
        "i32" => arr!(i32, 4, I32),
        "u32" => arr!(u32, 4, U32),
        "i64" => arr!(i64, 8, I64),
        "u64" => arr!(u64, 8, U64),
        _ => {
            if let Some(b) = body.iter().find(|&&b| b > 1) {
                return Err(format!("bool array holds the byte {b}"));
            }
            let v: Vec<bool> = body.iter().map(|&b| b == 1).collect();
            Data::Bool(
                ArrayD::from_shape_vec(dim.clone(), v)
                    .map_err(|e| e.to_string())?
                    .as_standard_layout()
                    .into_owned(),
            )
        }
    })
}

/// One `.npy` image; `file` names it in errors.
pub fn read_npy(bytes: &[u8], file: &str) -> Result<Data, NpyError> {
    decode(bytes).map_err(|why| NpyError {
        file: file.to_string(),
        array: None,
        why,
    })
}

/// The arrays of an `.npz` archive in archive order, names without `.npy`.
pub fn read_npz(bytes: &[u8], file: &str) -> Result<Vec<(String, Data)>, NpyError> {
    let err = |array: Option<&str>, why: String| NpyError {
        file: file.to_string(),
        array: array.map(str::to_string),
        why,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| err(None, format!("not a valid .npz (zip) archive: {e}")))?;
    if zip.is_empty() {
        return Err(err(None, "empty .npz: it holds no arrays".to_string()));
    }
    if zip.len() > MAX_ARRAYS {
        return Err(err(
            None,
            format!("{} arrays; at most {MAX_ARRAYS} are read", zip.len()),
        ));
    }
    let mut arrays: Vec<(String, Data)> = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| err(None, format!("entry {i}: {e}")))?;
        let raw = entry.name().to_string();
        let name = raw.strip_suffix(".npy").unwrap_or(&raw).to_string();
        if arrays.iter().any(|(n, _)| *n == name) {
            return Err(err(Some(&name), "appears twice in the archive".to_string()));
        }
        // Entries are stored uncompressed (numpy's savez): none can be
        // larger than the archive itself.
        let limit = bytes.len() as u64;
        if entry.size() > limit {
            return Err(err(
                Some(&name),
                format!(
                    "declares {} bytes, more than the whole archive",
                    entry.size()
                ),
            ));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut data)
            .map_err(|e| err(Some(&name), format!("cannot be read: {e}")))?;
        let array = decode(&data).map_err(|why| err(Some(&name), why))?;
        arrays.push((name, array));
    }
    Ok(arrays)
}

/// Reads a `.npy` (one array, named `""`) or, by extension, an `.npz`.
pub fn read_file(path: &Path) -> Result<Vec<(String, Data)>, NpyError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| NpyError {
        file: file.clone(),
        array: None,
        why: format!("cannot read: {e}"),
    })?;
    read_bytes(&bytes, &file, is_npz(path))
}

/// `.npz` by extension (case-insensitive).
pub fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// Reads the bytes of a `.npy` or (`npz`) an `.npz` file.
pub fn read_bytes(bytes: &[u8], file: &str, npz: bool) -> Result<Vec<(String, Data)>, NpyError> {
    if bytes.is_empty() {
        return Err(NpyError {
            file: file.to_string(),
            array: None,
            why: "the file is empty".to_string(),
        });
    }
    if npz {
        read_npz(bytes, file)
    } else {
        Ok(vec![(String::new(), read_npy(bytes, file)?)])
    }
}

/// Float32 arrays bound to a graph's inputs: a single array for a
/// single-input model, or one array named after each input. `names` are
/// the input tensors' names in order.
pub fn bind_float_inputs(
    arrays: Vec<(String, Data)>,
    names: &[&str],
    file: &str,
) -> Result<Vec<ArrayD<f32>>, NpyError> {
    let err = |array: Option<&str>, why: String| NpyError {
        file: file.to_string(),
        array: array.map(str::to_string),
        why,
    };
    let float = |name: &str, d: &Data| {
        d.to_f32().ok_or_else(|| {
            err(
                (!name.is_empty()).then_some(name),
                format!("is {}; calibration data must be float32", d.dtype_name()),
            )
        })
    };
    if names.len() == 1 && arrays.len() == 1 {
        let (name, d) = &arrays[0];
        return Ok(vec![float(name, d)?]);
    }
    if arrays.len() != names.len() {
        return Err(err(
            None,
            format!(
                "holds {} arrays but the model has {} inputs ({names:?}); give one array per input, named after the input tensors",
                arrays.len(),
                names.len()
            ),
        ));
    }
    names
        .iter()
        .map(|want| {
            let (name, d) = arrays.iter().find(|(n, _)| n == want).ok_or_else(|| {
                let have: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
                err(
                    None,
                    format!("no array named {want:?} (model input); the file holds {have:?}"),
                )
            })?;
            float(name, d)
        })
        .collect()
}

/// The first non-finite value (NaN or infinity), as `(flat index, value)`.
pub fn first_non_finite<'a>(values: impl IntoIterator<Item = &'a f32>) -> Option<(usize, f32)> {
    values
        .into_iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite())
        .map(|(i, &v)| (i, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.npy` image with the given header dict and body.
    fn npy(dict: &str, body: &[u8]) -> Vec<u8> {
        let mut header = dict.as_bytes().to_vec();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(body);
        out
    }

    fn why(bytes: &[u8]) -> String {
        match read_npy(bytes, "x.npy") {
            Err(e) => {
                let line = e.to_string();
                assert!(!line.contains('\n'), "one line: {line}");
                assert!(line.starts_with("x.npy: "), "{line}");
                line
            }
            Ok(d) => panic!("accepted: {d:?}"),
        }
    }

    #[test]
    fn reads_numpy_style_arrays() {
        let body: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let d = read_npy(
            &npy(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                &body,
            ),
            "x",
        )
        .expect("valid");
        assert_eq!(d.shape(), &[2, 3]);
        // Fortran order becomes row-major.
        let f = read_npy(
            &npy(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                &body,
            ),
            "x",
        )
        .expect("valid")
        .to_f32()
        .expect("float");
        assert_eq!(
            f.iter().copied().collect::<Vec<_>>(),
            [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]
        );
        // Scalars and 1-tuples.
        let s = read_npy(
            &npy(
                "{'descr': '|u1', 'fortran_order': False, 'shape': (), }",
                &[7],
            ),
            "x",
        )
        .expect("scalar");
        assert_eq!(s.to_i64(), Some(vec![7]));
        let v = read_npy(
            &npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                &9i64.to_le_bytes(),
            ),
            "x",
        )
        .expect("1-tuple");
        assert_eq!(v.to_i64(), Some(vec![9]));
    }

    #[test]
    fn size_mismatch_is_refused_before_allocating() {
        // 2^31-1 × 2^31-1 float32 from a few bytes.
        let line = why(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647, 2147483647), }",
            &[0; 8],
        ));
        assert!(line.contains("data bytes"), "{line}");
        let line = why(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 2), }",
            &[],
        ));
        assert!(line.contains("overflows"), "{line}");
        let line = why(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            &[0; 8],
        ));
        assert!(
            line.contains("12 data bytes") && line.contains("holds 8"),
            "{line}"
        );
    }

    #[test]
    fn malformed_headers_are_one_line_each() {
        for (dict, want) in [
            ("{'descr': '<f4', 'shape': (1,), }", "no fortran_order"),
            ("{'descr': '<f4', 'fortran_order': False}", "no shape"),
            (
                "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                "unsupported dtype",
            ),
            (
                "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                "big-endian",
            ),
            (
                "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }",
                "fortran_order",
            ),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
                "non-negative",
            ),
            ("{'descr': '<f4', 'descr': '<f4', }", "repeated"),
            ("[1, 2]", "dict"),
            ("{'descr': '<f4' 'x'}", "expected ','"),
        ] {
            let line = why(&npy(dict, &[0; 4]));
            assert!(line.contains(want), "{dict}: {line}");
        }
        assert!(why(b"").contains("magic"));
        assert!(why(b"\x93NUMPY\x09\x00\x10\x00").contains("version"));
        assert!(why(b"\x93NUMPY\x01\x00\xff\x00{").contains("truncated"));
        assert!(why(b"\x93NUMPY\x02\x00\xff\xff\xff\xff").contains("longer than"));
    }

    #[test]
    fn npz_errors_are_clean() {
        let empty = read_bytes(&[], "e.npz", true).expect_err("empty file");
        assert!(empty.to_string().contains("empty"), "{empty}");
        let garbage = read_npz(b"PK\x03\x04garbage", "g.npz").expect_err("garbage");
        assert!(garbage.to_string().starts_with("g.npz: "), "{garbage}");
        // An empty but valid zip archive.
        let mut buf = Vec::new();
        zip::ZipWriter::new(Cursor::new(&mut buf))
            .finish()
            .expect("zip");
        let e = read_npz(&buf, "z.npz").expect_err("no arrays");
        assert!(e.to_string().contains("holds no arrays"), "{e}");
    }

    #[test]
    fn binding_checks_counts_names_and_dtypes() {
        let f = Data::F32(ArrayD::zeros(IxDyn(&[1, 2])));
        let i = Data::I32(ArrayD::zeros(IxDyn(&[1, 2])));
        let two = vec![("a".to_string(), f.clone()), ("b".to_string(), f.clone())];
        assert_eq!(
            bind_float_inputs(two.clone(), &["a", "b"], "c.npz").map(|v| v.len()),
            Ok(2)
        );
        let e = bind_float_inputs(two.clone(), &["a", "c"], "c.npz").expect_err("name");
        assert!(e.to_string().contains("no array named \"c\""), "{e}");
        let e = bind_float_inputs(two, &["a"], "c.npz").expect_err("count");
        assert!(e.to_string().contains("holds 2 arrays"), "{e}");
        let e = bind_float_inputs(vec![(String::new(), i)], &["a"], "c.npy").expect_err("dtype");
        assert!(e.to_string().contains("int32"), "{e}");
    }

    #[test]
    fn non_finite_values_are_found() {
        assert_eq!(first_non_finite(&[1.0, 2.0]), None);
        assert_eq!(
            first_non_finite(&[1.0, f32::INFINITY]),
            Some((1, f32::INFINITY))
        );
        assert!(first_non_finite(&[f32::NAN]).is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Tiny random files, and random bytes after a valid header prefix,
        /// are accepted or refused quickly; never a panic.
        #[test]
        fn random_files_are_bounded(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
            prefix in 0usize..3,
        ) {
            let mut bytes = match prefix {
                0 => Vec::new(),
                1 => b"\x93NUMPY\x01\x00".to_vec(),
                _ => b"PK\x03\x04".to_vec(),
            };
            bytes.extend_from_slice(&tail);
            let start = std::time::Instant::now();
            let _ = read_bytes(&bytes, "r.npy", false);
            let _ = read_bytes(&bytes, "r.npz", true);
            proptest::prop_assert!(start.elapsed() < std::time::Duration::from_millis(200));
        }
    }
}

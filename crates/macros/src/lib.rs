//! `include_model!`: compiles a `.tflite` model into `no_std` Rust items at
//! build time, through the Rust backend (no C templates, no `tera`).
//!
//! Use it through `tinyq::include_model!`; see that crate for the syntax.

use std::path::{Path, PathBuf};
use tinyq_compiler::{Calibration, CompileError, GraphKind, Session};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

/// `"model.tflite" [, calibration = "x.npy"] [, io = int8|uint8|float] [, name = "n"]`.
struct Args {
    model: LitStr,
    calibration: Option<LitStr>,
    io: Option<(Ident, tinyq_quant::IoMode)>,
    name: Option<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let model: LitStr = input.parse()?;
        let mut args = Args {
            model,
            calibration: None,
            io: None,
            name: None,
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "calibration" if args.calibration.is_none() => {
                    args.calibration = Some(input.parse()?);
                }
                "name" if args.name.is_none() => args.name = Some(input.parse()?),
                "io" if args.io.is_none() => {
                    let value: Ident = input.parse()?;
                    let mode = match value.to_string().as_str() {
                        "int8" => tinyq_quant::IoMode::Int8,
                        "uint8" => tinyq_quant::IoMode::Uint8,
                        "float" => tinyq_quant::IoMode::Float,
                        other => {
                            return Err(syn::Error::new(
                                value.span(),
                                format!("unknown io `{other}`: expected int8, uint8 or float"),
                            ));
                        }
                    };
                    args.io = Some((value, mode));
                }
                "calibration" | "name" | "io" => {
                    return Err(syn::Error::new(key.span(), format!("`{key}` given twice")));
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{other}`: expected calibration, io or name"),
                    ));
                }
            }
        }
        Ok(args)
    }
}

/// Compiles a TFLite model into the items of the module it is invoked in:
/// `ARENA_SIZE`, `Arena`, `Error`, `invoke`, `invoke_bytes`, ... exactly what
/// `tinyq compile MODEL --emit rust` writes into `NAME.rs`.
///
/// ```text
/// mod mnist {
///     tinyq::include_model!("models/mnist.tflite", calibration = "data/calib.npy");
/// }
/// ```
///
/// Paths resolve against `CARGO_MANIFEST_DIR`; the model and calibration
/// files are `include_bytes!`-ed, so editing them rebuilds the crate.
#[proc_macro]
pub fn include_model(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let args = syn::parse_macro_input!(input as Args);
    match expand(&args) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn resolve(lit: &LitStr) -> syn::Result<(PathBuf, Vec<u8>)> {
    let path = manifest_dir().join(lit.value());
    match std::fs::read(&path) {
        Ok(bytes) => Ok((path, bytes)),
        Err(e) => Err(syn::Error::new(
            lit.span(),
            format!(
                "cannot read `{}`: {e} (paths are relative to the crate's CARGO_MANIFEST_DIR)",
                lit.value()
            ),
        )),
    }
}

/// `const _: &[u8] = include_bytes!("/abs/path");`: rebuild on edit.
fn track(path: &Path) -> TokenStream {
    let text = path.to_string_lossy();
    let lit = LitStr::new(&text, Span::call_site());
    quote!(
        const _: &[u8] = include_bytes!(#lit);
    )
}

/// One float32 array per graph input: a `.npy` for a single input, or a
/// `.npz` holding one array named after each input tensor. Read by the
/// shared reader (`tinyq_quant::npy`), as the CLI reads it.
fn read_calibration(
    lit: &LitStr,
    bytes: &[u8],
    graph: &tinyq_ir::Graph,
) -> syn::Result<Vec<ndarray::ArrayD<f32>>> {
    use tinyq_quant::npy;
    let file = format!("`{}`", lit.value());
    let err = |e: npy::NpyError| syn::Error::new(lit.span(), e.to_string());
    let arrays =
        npy::read_bytes(bytes, &file, npy::is_npz(Path::new(&lit.value()))).map_err(err)?;
    let names: Vec<&str> = graph
        .inputs
        .iter()
        .map(|&i| graph.tensor(i).name.as_str())
        .collect();
    npy::bind_float_inputs(arrays, &names, &file).map_err(err)
}

fn expand(args: &Args) -> syn::Result<TokenStream> {
    let model = &args.model;
    let (model_path, bytes) = resolve(model)?;
    let at_model =
        |msg: String| syn::Error::new(model.span(), format!("`{}`: {msg}", model.value()));
    let session = Session::new();
    let read = session
        .read_bytes(&bytes, &format!("`{}`", model.value()))
        .map_err(|e| syn::Error::new(model.span(), e.to_string()))?;
    let mut tracked = vec![track(&model_path)];
    // The rules `tinyq compile` applies, in its words.
    if let Some(name) = &args.name {
        tinyq_compiler::rules::check_name(&name.value())
            .map_err(|e| syn::Error::new(name.span(), e.to_string()))?;
    }
    tinyq_compiler::rules::check_options(
        read.kind(),
        args.calibration.is_some(),
        args.io.is_some(),
    )
    .map_err(|e| match (&e, &args.calibration, &args.io) {
        (tinyq_compiler::OptionError::CalibrationOnInteger, Some(cal), _) => {
            syn::Error::new(cal.span(), format!("`{}`: {e}", model.value()))
        }
        (_, _, Some((io, _))) => syn::Error::new(io.span(), format!("`{}`: {e}", model.value())),
        _ => at_model(e.to_string()),
    })?;
    let compiled = match (read.kind(), &args.calibration) {
        // Without calibration data a float model compiles as float32, as
        // `tinyq compile` does; `io` only says how a quantized model's I/O is typed.
        (GraphKind::Float, None) => {
            if let Some((io, _)) = &args.io {
                return Err(syn::Error::new(
                    io.span(),
                    format!(
                        "`{}`: `io` applies only when the float model is quantized \
                         (add `calibration = \"samples.npy\"`); without calibration data it \
                         compiles as float32 with float32 I/O",
                        model.value()
                    ),
                ));
            }
            session
                .compile(&read, None)
                .map_err(|e| syn::Error::new(model.span(), e.to_string()))?
        }
        (GraphKind::Float, Some(cal)) => {
            let (cal_path, cal_bytes) = resolve(cal)?;
            tracked.push(track(&cal_path));
            let arrays = read_calibration(cal, &cal_bytes, &read.graph)?;
            let options = tinyq_quant::QuantOptions {
                io: args.io.as_ref().map(|(_, m)| *m).unwrap_or_default(),
                ..Default::default()
            };
            let calibration = Calibration {
                samples: &arrays,
                options,
                progress: None,
            };
            session
                .compile(&read, Some(calibration))
                .map_err(|e| match e {
                    CompileError::Quantize { source, .. } => syn::Error::new(
                        cal.span(),
                        format!("quantizing `{}`: {source}", model.value()),
                    ),
                    other => syn::Error::new(model.span(), other.to_string()),
                })?
        }
        // check_options refused calibration and io on an integer model.
        (_, _) => session
            .compile(&read, None)
            .map_err(|e| syn::Error::new(model.span(), e.to_string()))?,
    };
    let program = compiled.program;
    let name = match &args.name {
        Some(n) => n.value(),
        None => Path::new(&model.value())
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string()),
    };
    let items = session
        .emit_rust_tokens(&read.name, &program, &name)
        .map_err(|e| syn::Error::new(model.span(), e.to_string()))?;
    Ok(quote! {
        #(#tracked)*
        #items
    })
}

//! The `crates/kernels` source text, embedded in generated code.
//!
//! The generated module holds a private `mod kernels { pub mod conv { .. } .. }`
//! whose modules are the kernels crate's own files, parsed with `syn` and
//! changed in three mechanical ways only:
//!
//! 1. items under `#[cfg(test)]` are dropped;
//! 2. `crate::x` paths become `super::x` (the modules are siblings under
//!    `kernels`, as they are under the kernels crate's root);
//! 3. the convolution-like kernels (`conv2d`, `depthwise_conv2d`,
//!    `fully_connected`, `transpose_conv`) take their `filter` as `&[u8]` instead of `&[i8]`,
//!    and their `i32::from(v)` sign extensions become
//!    `super::bytes::widen(v)`, which is `i32::from(v)` for an `i8` and
//!    `i32::from(v as i8)` for a byte. That lets the weights live in flash as
//!    byte strings (`static W: [u8; N] = *b"..."`) with no `unsafe` cast and
//!    no copy. Every `i32::from` in those three functions widens an int8
//!    value (input or filter), so the arithmetic is unchanged.
//!
//! Only the items a program reaches (from the kernel functions and parameter
//! types it names, following identifiers) are embedded.

use std::collections::BTreeSet;

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::quote;
use syn::visit_mut::VisitMut;

use crate::EmitError;

/// Every kernel module, in the order they are emitted, with its source.
const SOURCES: &[(&str, &str)] = &[
    ("error", include_str!("../../kernels/src/error.rs")),
    (
        "fixedpoint",
        include_str!("../../kernels/src/fixedpoint.rs"),
    ),
    ("gemmlowp", include_str!("../../kernels/src/gemmlowp.rs")),
    ("shape", include_str!("../../kernels/src/shape.rs")),
    ("conv", include_str!("../../kernels/src/conv.rs")),
    ("depthwise", include_str!("../../kernels/src/depthwise.rs")),
    (
        "fully_connected",
        include_str!("../../kernels/src/fully_connected.rs"),
    ),
    ("pooling", include_str!("../../kernels/src/pooling.rs")),
    (
        "elementwise",
        include_str!("../../kernels/src/elementwise.rs"),
    ),
    ("softmax", include_str!("../../kernels/src/softmax.rs")),
    ("quantize", include_str!("../../kernels/src/quantize.rs")),
    ("reduce", include_str!("../../kernels/src/reduce.rs")),
    ("pad", include_str!("../../kernels/src/pad.rs")),
    ("concat", include_str!("../../kernels/src/concat.rs")),
    ("transpose", include_str!("../../kernels/src/transpose.rs")),
    ("gather", include_str!("../../kernels/src/gather.rs")),
    (
        "batch_matmul",
        include_str!("../../kernels/src/batch_matmul.rs"),
    ),
    ("slice", include_str!("../../kernels/src/slice.rs")),
    ("unary", include_str!("../../kernels/src/unary.rs")),
    (
        "float_math",
        include_str!("../../kernels/src/float_math.rs"),
    ),
    (
        "float_conv",
        include_str!("../../kernels/src/float_conv.rs"),
    ),
    (
        "float_elementwise",
        include_str!("../../kernels/src/float_elementwise.rs"),
    ),
    (
        "float_pool",
        include_str!("../../kernels/src/float_pool.rs"),
    ),
    ("resize", include_str!("../../kernels/src/resize.rs")),
    (
        "float_resize",
        include_str!("../../kernels/src/float_resize.rs"),
    ),
    (
        "float_transpose_conv",
        include_str!("../../kernels/src/float_transpose_conv.rs"),
    ),
    (
        "transpose_conv",
        include_str!("../../kernels/src/transpose_conv.rs"),
    ),
    ("int16", include_str!("../../kernels/src/int16.rs")),
    ("int32", include_str!("../../kernels/src/int32.rs")),
    ("int8_math", include_str!("../../kernels/src/int8_math.rs")),
    ("wide", include_str!("../../kernels/src/wide.rs")),
    ("wide_ops", include_str!("../../kernels/src/wide_ops.rs")),
    ("wide_act", include_str!("../../kernels/src/wide_act.rs")),
    ("wide_pool", include_str!("../../kernels/src/wide_pool.rs")),
    (
        "wide_softmax",
        include_str!("../../kernels/src/wide_softmax.rs"),
    ),
    (
        "wide_sigmoid",
        include_str!("../../kernels/src/wide_sigmoid.rs"),
    ),
    ("svdf", include_str!("../../kernels/src/svdf.rs")),
    ("le", include_str!("../../kernels/src/le.rs")),
    ("signal", include_str!("../../kernels/src/signal.rs")),
    (
        "signal_bank",
        include_str!("../../kernels/src/signal_bank.rs"),
    ),
    (
        "signal_fft",
        include_str!("../../kernels/src/signal_fft.rs"),
    ),
    ("lstm", include_str!("../../kernels/src/lstm.rs")),
    ("lstm_int8", include_str!("../../kernels/src/lstm_int8.rs")),
];

/// Kernels whose `filter` parameter becomes a byte slice.
const BYTE_FILTER_FNS: &[&str] = &[
    "conv2d",
    "depthwise_conv2d",
    "fully_connected",
    "transpose_conv",
];

/// The helper module the rewritten conv-like kernels call.
fn bytes_module() -> TokenStream {
    quote! {
        /// Sign extension of int8 values that may be stored as bytes: the
        /// weights are byte strings, so the convolution-like kernels read
        /// their filter as `u8` and widen each value here.
        pub mod bytes {
            /// An 8-bit value holding a two's-complement int8.
            pub trait Int8: Copy {
                /// The int8 value as an `i32`.
                fn widen(self) -> i32;
            }

            impl Int8 for i8 {
                #[inline(always)]
                fn widen(self) -> i32 {
                    i32::from(self)
                }
            }

            impl Int8 for u8 {
                #[inline(always)]
                fn widen(self) -> i32 {
                    i32::from(i8::from_ne_bytes([self]))
                }
            }

            /// `i32::from(v)` for an int8 `v`, whichever way it is stored.
            #[inline(always)]
            pub fn widen<T: Int8>(v: T) -> i32 {
                v.widen()
            }
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| matches!(&m, syn::Meta::Path(p) if p.is_ident("test")))
    })
}

/// `crate::` → `super::`, everywhere in a token stream.
fn rebase_crate_paths(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(id) if id == "crate" => {
                let followed_by_path = matches!(
                    trees.get(i + 1),
                    Some(TokenTree::Punct(p)) if p.as_char() == ':'
                );
                if followed_by_path {
                    out.push(TokenTree::Ident(proc_macro2::Ident::new(
                        "super",
                        id.span(),
                    )));
                } else {
                    out.push(tree.clone());
                }
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), rebase_crate_paths(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// Rewrites one conv-like kernel to read its filter as bytes.
struct ByteFilter {
    params_changed: usize,
    widened: usize,
}

impl VisitMut for ByteFilter {
    fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
        syn::visit_mut::visit_expr_mut(self, expr);
        if let syn::Expr::Call(call) = expr
            && let syn::Expr::Path(p) = &*call.func
            && p.qself.is_none()
            && p.path.segments.len() == 2
            && p.path.segments[0].ident == "i32"
            && p.path.segments[1].ident == "from"
            && call.args.len() == 1
        {
            let arg = &call.args[0];
            *expr = syn::parse_quote!(super::bytes::widen(#arg));
            self.widened += 1;
        }
    }

    fn visit_fn_arg_mut(&mut self, arg: &mut syn::FnArg) {
        if let syn::FnArg::Typed(pt) = arg
            && let syn::Pat::Ident(id) = &*pt.pat
            && id.ident == "filter"
        {
            let ty = &pt.ty;
            if quote!(#ty).to_string() == quote!(&[i8]).to_string() {
                *pt.ty = syn::parse_quote!(&[u8]);
                self.params_changed += 1;
            }
        }
    }
}

/// Prepares one module's items.
fn module_items(
    name: &str,
    source: &str,
) -> Result<(Vec<syn::Attribute>, Vec<syn::Item>), EmitError> {
    let internal = |why: String| EmitError::Internal(format!("kernels/{name}.rs: {why}"));
    let file: syn::File = syn::parse_str(source).map_err(|e| internal(e.to_string()))?;
    let rebased = rebase_crate_paths(quote!(#file));
    let mut file: syn::File = syn::parse2(rebased).map_err(|e| internal(e.to_string()))?;
    file.items.retain(|item| match item {
        syn::Item::Fn(f) => !is_cfg_test(&f.attrs),
        syn::Item::Mod(m) => !is_cfg_test(&m.attrs),
        syn::Item::Use(u) => !is_cfg_test(&u.attrs),
        syn::Item::Impl(i) => !is_cfg_test(&i.attrs),
        syn::Item::Struct(s) => !is_cfg_test(&s.attrs),
        syn::Item::Const(c) => !is_cfg_test(&c.attrs),
        _ => true,
    });
    for item in &mut file.items {
        if let syn::Item::Fn(f) = item
            && BYTE_FILTER_FNS.contains(&f.sig.ident.to_string().as_str())
        {
            let mut v = ByteFilter {
                params_changed: 0,
                widened: 0,
            };
            v.visit_item_fn_mut(f);
            if v.params_changed != 1 || v.widened == 0 {
                return Err(internal(format!(
                    "{} no longer has the `filter: &[i8]` parameter and `i32::from` \
                     widening the byte-filter rewrite expects",
                    f.sig.ident
                )));
            }
        }
    }
    Ok((file.attrs, file.items))
}

/// Kernel modules `module` uses (`super::x` after rebasing).
fn uses(source: &str) -> Vec<&'static str> {
    SOURCES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| source.contains(&format!("crate::{n}")))
        .collect()
}

/// The name a top-level item defines (impls and uses define none).
fn item_name(item: &syn::Item) -> Option<String> {
    Some(match item {
        syn::Item::Fn(i) => i.sig.ident.to_string(),
        syn::Item::Struct(i) => i.ident.to_string(),
        syn::Item::Enum(i) => i.ident.to_string(),
        syn::Item::Const(i) => i.ident.to_string(),
        syn::Item::Static(i) => i.ident.to_string(),
        syn::Item::Type(i) => i.ident.to_string(),
        syn::Item::Trait(i) => i.ident.to_string(),
        _ => return None,
    })
}

/// The type an `impl` block is for (last path segment); for a trait impl
/// on a type without a name (a slice) or on a primitive (`u8`), the trait,
/// so that keeping the trait keeps its impls.
fn impl_self(item: &syn::Item) -> Option<String> {
    let syn::Item::Impl(i) = item else {
        return None;
    };
    const PRIMITIVES: &[&str] = &[
        "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "usize", "bool",
    ];
    let named = match &*i.self_ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .filter(|n| i.trait_.is_none() || !PRIMITIVES.contains(&n.as_str())),
        _ => None,
    };
    match named {
        Some(n) => Some(n),
        None => i
            .trait_
            .as_ref()
            .and_then(|(_, path, _)| path.segments.last())
            .map(|s| s.ident.to_string()),
    }
}

fn collect_idents(tokens: TokenStream, out: &mut BTreeSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(id) => {
                out.insert(id.to_string());
            }
            TokenTree::Group(g) => collect_idents(g.stream(), out),
            _ => {}
        }
    }
}

fn idents_of(item: &syn::Item) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    collect_idents(quote!(#item), &mut set);
    set
}

/// Keeps the leaves of a `use` tree whose names `used` holds.
fn filter_use(tree: &syn::UseTree, used: &BTreeSet<String>) -> Option<syn::UseTree> {
    match tree {
        syn::UseTree::Path(p) => filter_use(&p.tree, used).map(|t| {
            syn::UseTree::Path(syn::UsePath {
                ident: p.ident.clone(),
                colon2_token: p.colon2_token,
                tree: Box::new(t),
            })
        }),
        syn::UseTree::Name(n) => used.contains(&n.ident.to_string()).then(|| tree.clone()),
        syn::UseTree::Rename(r) => used.contains(&r.rename.to_string()).then(|| tree.clone()),
        syn::UseTree::Glob(_) => Some(tree.clone()),
        syn::UseTree::Group(g) => {
            let items: syn::punctuated::Punctuated<syn::UseTree, syn::Token![,]> =
                g.items.iter().filter_map(|t| filter_use(t, used)).collect();
            match items.len() {
                0 => None,
                1 => items.into_iter().next(),
                _ => Some(syn::UseTree::Group(syn::UseGroup {
                    brace_token: g.brace_token,
                    items,
                })),
            }
        }
    }
}

struct Module {
    name: &'static str,
    attrs: Vec<syn::Attribute>,
    items: Vec<syn::Item>,
    /// Per item: the name it defines (or its impl's type) and its idents.
    keys: Vec<Option<String>>,
    idents: Vec<BTreeSet<String>>,
    /// Kernel modules this one refers to.
    deps: Vec<usize>,
}

/// The kernel sources, parsed and rewritten. (Not cached: inside a proc
/// macro, tokens must not outlive the expansion that made them.)
fn parsed(wanted: &[&str]) -> Result<Vec<Module>, EmitError> {
    // The modules `wanted` and everything they use.
    let mut want: Vec<&str> = wanted.to_vec();
    let mut i = 0;
    while i < want.len() {
        if let Some((_, source)) = SOURCES.iter().find(|(n, _)| *n == want[i]) {
            for dep in uses(source) {
                if !want.contains(&dep) {
                    want.push(dep);
                }
            }
        }
        i += 1;
    }
    let mut modules = Vec::new();
    for (name, source) in SOURCES {
        let (attrs, items) = if want.contains(name) {
            module_items(name, source)?
        } else {
            (Vec::new(), Vec::new())
        };
        let keys = items
            .iter()
            .map(|i| item_name(i).or_else(|| impl_self(i)))
            .collect();
        let idents = items.iter().map(idents_of).collect();
        let deps = uses(source)
            .iter()
            .filter_map(|d| SOURCES.iter().position(|(n, _)| n == d))
            .collect();
        modules.push(Module {
            name,
            attrs,
            items,
            keys,
            idents,
            deps,
        });
    }
    Ok(modules)
}

/// The `kernels` module: the items `roots` (`(module, item)` pairs the
/// generated code names) need, found by following identifiers through the
/// modules' items and imports, with each module's `use`s trimmed to what
/// its kept items name. Every item is kept verbatim (with its impls).
pub(crate) fn kernels_module(roots: &[(String, String)]) -> Result<TokenStream, EmitError> {
    let mut wanted = vec!["error"];
    wanted.extend(roots.iter().map(|(m, _)| m.as_str()));
    let modules = parsed(&wanted)?;
    let index = |m: &str| modules.iter().position(|x| x.name == m);
    let defines = |m: usize, name: &str| {
        modules[m]
            .items
            .iter()
            .zip(&modules[m].keys)
            .any(|(it, k)| k.as_deref() == Some(name) && !matches!(it, syn::Item::Impl(_)))
    };
    let mut kept: BTreeSet<(usize, String)> = BTreeSet::new();
    let mut work: Vec<(usize, String)> = Vec::new();
    let error = index("error").ok_or_else(|| EmitError::Internal("no error module".into()))?;
    work.push((error, "KernelError".to_string()));
    for (m, item) in roots {
        let i = index(m).ok_or_else(|| EmitError::Internal(format!("no kernel module {m}")))?;
        work.push((i, item.clone()));
    }
    while let Some((m, name)) = work.pop() {
        if !kept.insert((m, name.clone())) {
            continue;
        }
        let module = &modules[m];
        let mut found = false;
        for (k, key) in module.keys.iter().enumerate() {
            if key.as_deref() != Some(name.as_str()) {
                continue;
            }
            found = true;
            for id in &module.idents[k] {
                for &target in std::iter::once(&m).chain(&module.deps) {
                    if defines(target, id) && !kept.contains(&(target, id.clone())) {
                        work.push((target, id.clone()));
                    }
                }
            }
        }
        if !found {
            return Err(EmitError::Internal(format!(
                "kernels::{}::{name} does not exist",
                module.name
            )));
        }
    }
    let byte_filters = kept.iter().any(|(m, n)| {
        matches!(
            modules[*m].name,
            "conv" | "depthwise" | "fully_connected" | "transpose_conv"
        ) && BYTE_FILTER_FNS.contains(&n.as_str())
    });
    let mut out = Vec::new();
    for (m, module) in modules.iter().enumerate() {
        let mut items = Vec::new();
        let mut used = BTreeSet::new();
        for (k, item) in module.items.iter().enumerate() {
            if let Some(key) = &module.keys[k]
                && kept.contains(&(m, key.clone()))
            {
                items.push(item);
                used.extend(module.idents[k].iter().cloned());
            }
        }
        if items.is_empty() {
            continue;
        }
        let uses: Vec<syn::ItemUse> = module
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Use(u) => {
                    filter_use(&u.tree, &used).map(|tree| syn::ItemUse { tree, ..u.clone() })
                }
                _ => None,
            })
            .collect();
        let ident = syn::Ident::new(module.name, proc_macro2::Span::call_site());
        let inner: Vec<_> = module
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .collect();
        out.push(quote! {
            pub mod #ident {
                #(#inner)*
                #(#uses)*
                #(#items)*
            }
        });
    }
    let bytes = if byte_filters {
        bytes_module()
    } else {
        TokenStream::new()
    };
    Ok(quote! {
        /// The tinyq kernels (`crates/kernels`), embedded as source: the code
        /// that runs here is the code tested bit-exact against TFLite-Micro.
        /// Only the items this model reaches are kept, each verbatim.
        // A kept item can still be partly unused (a struct's helper method,
        // an error variant), which would warn as dead code.
        #[allow(dead_code)]
        mod kernels {
            #bytes
            #(#out)*
        }
    })
}

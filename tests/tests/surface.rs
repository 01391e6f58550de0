//! Snapshots of the client's surface, generated and hand-written. A change that alters what
//! users call or receive fails here until the snapshot is reviewed
//! (`cargo insta review`).
//!
//! Both snapshots are derived from the generated code itself: the operations are
//! read from `runway-api/src/generated.rs` with `syn`, and the schemas come from the
//! generated types' `JsonSchema` derives (the list of types is made by `build.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use quote::ToTokens;

include!(concat!(env!("OUT_DIR"), "/type_schemas.rs"));

fn generated_file() -> syn::File {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runway-api/src/generated.rs");
    let source = std::fs::read_to_string(path).expect("read generated.rs");
    syn::parse_file(&source).expect("generated.rs parses")
}

/// Renders a type the way it is written, without the token spacing of `quote`.
fn render(ty: &impl ToTokens) -> String {
    let text = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    for token in text.split(' ') {
        let glue = out.ends_with("::")
            || out.ends_with('<')
            || out.ends_with('&')
            || token.starts_with("::")
            || token.starts_with('<')
            || token.starts_with('>')
            || token.starts_with(',')
            || out.is_empty();
        if !glue {
            out.push(' ');
        }
        out.push_str(token);
    }
    out.replace("::std::option::Option", "Option")
        .replace("std::option::Option", "Option")
        .replace("::std::string::String", "String")
        .replace(",>", ">")
}

fn doc_of(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One generated operation, as a user meets it.
struct Operation {
    name: String,
    method_and_path: String,
    parameters: Vec<(String, String)>,
    returns: String,
}

fn operations(file: &syn::File) -> Vec<Operation> {
    let builder_items = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, i)| i),
            _ => None,
        })
        .expect("generated.rs has a `builder` module");

    let mut structs = BTreeMap::new();
    let mut sends = BTreeMap::new();
    for item in builder_items {
        match item {
            syn::Item::Struct(s) => {
                structs.insert(s.ident.to_string(), s.clone());
            }
            syn::Item::Impl(imp) => {
                let self_ty = render(&imp.self_ty);
                let name = self_ty.split('<').next().unwrap_or_default().to_string();
                for impl_item in &imp.items {
                    if let syn::ImplItem::Fn(f) = impl_item
                        && f.sig.ident == "send"
                    {
                        sends.insert(name.clone(), f.clone());
                    }
                }
            }
            _ => {}
        }
    }

    let client_methods = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(imp) if imp.trait_.is_none() && render(&imp.self_ty) == "Client" => {
                Some(imp)
            }
            _ => None,
        })
        .flat_map(|imp| imp.items.iter())
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f) => Some(f),
            _ => None,
        });

    let mut out = Vec::new();
    for method in client_methods {
        let syn::ReturnType::Type(_, ret) = &method.sig.output else {
            continue;
        };
        let ret = render(ret);
        let Some(builder) = ret
            .strip_prefix("builder::")
            .and_then(|r| r.split('<').next())
        else {
            continue;
        };
        let send = sends.get(builder).expect("every builder has send");
        let doc = doc_of(&send.attrs);
        let method_and_path = doc
            .trim()
            .strip_prefix("Sends a ")
            .unwrap_or(&doc)
            .replace(" request to ", " ")
            .replace('`', "");
        let strukt = structs.get(builder).expect("every builder has a struct");
        let parameters = strukt
            .fields
            .iter()
            .filter_map(|field| {
                let name = field.ident.as_ref()?.to_string();
                if name == "client" {
                    return None;
                }
                let ty = render(&field.ty);
                let ty = ty
                    .strip_prefix("Result<")
                    .and_then(|t| t.strip_suffix(", String>"))
                    .unwrap_or(&ty)
                    .to_string();
                Some((name, ty))
            })
            .collect();
        let syn::ReturnType::Type(_, send_ret) = &send.sig.output else {
            panic!("send returns a value");
        };
        out.push(Operation {
            name: method.sig.ident.to_string(),
            method_and_path,
            parameters,
            returns: render(send_ret),
        });
    }
    out
}

#[test]
fn operations_surface() {
    let ops = operations(&generated_file());
    let mut text = String::new();
    for op in &ops {
        writeln!(text, "{}: {}", op.name, op.method_and_path).expect("write");
        for (name, ty) in &op.parameters {
            writeln!(text, "    .{name}({ty})").expect("write");
        }
        writeln!(text, "    -> {}", op.returns).expect("write");
    }
    insta::assert_snapshot!("operations", text);
}

#[test]
fn every_operation_of_the_overview_is_generated() {
    let ops = operations(&generated_file());
    let routes: Vec<&str> = ops.iter().map(|op| op.method_and_path.as_str()).collect();
    for route in [
        "POST /v1/generate-image",
        "POST /v1/edit-image",
        "POST /v1/generate-video",
        "POST /v1/edit-video",
        "POST /v1/video-filter",
        "GET /v1/image-metadata",
        "GET /v1/video-metadata",
        "POST /v1/image-to-video",
        "POST /v1/add-text-to-image",
        "POST /v1/style-transfer",
        "POST /v1/resize-video",
        "POST /v1/generate-thumbnail",
        "POST /v1/extract-audio",
        "POST /v1/speed-adjust",
        "DELETE /v1/delete-media",
    ] {
        assert!(
            routes.contains(&route),
            "{route} is missing from {routes:?}"
        );
    }
}

#[test]
fn json_schemas_of_every_type() {
    let schemas: BTreeMap<&str, serde_json::Value> = all_type_schemas()
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).expect("schema to JSON")))
        .collect();
    assert!(schemas.contains_key("GenerateImageRequest"));
    assert!(schemas.contains_key("ErrorResponse"));
    insta::assert_json_snapshot!("type_schemas", schemas);
}

/// A function's signature as it is written (`fn name(x: T) -> U`).
fn signature(sig: &syn::Signature) -> String {
    render(sig)
        .replace(" (", "(")
        .replace(" : ", ": ")
        .replace(",)", ")")
        .replace("? Sized", "?Sized")
        .replace(" ,", ",")
}

/// An enum variant's fields without their attributes: ` { a: A }`, `(A)` or
/// nothing.
fn fields_of(fields: &syn::Fields) -> String {
    let each = |f: &syn::Field| match &f.ident {
        Some(name) => format!("{name}: {}", render(&f.ty)),
        None => render(&f.ty),
    };
    match fields {
        syn::Fields::Named(named) => {
            let list: Vec<String> = named.named.iter().map(each).collect();
            format!(" {{ {} }}", list.join(", "))
        }
        syn::Fields::Unnamed(unnamed) => {
            let list: Vec<String> = unnamed.unnamed.iter().map(each).collect();
            format!("({})", list.join(", "))
        }
        syn::Fields::Unit => String::new(),
    }
}

/// Whether an item is `pub` (not `pub(crate)` or narrower).
fn is_public(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

/// The public items of one hand-written file, one line each (signatures, not
/// bodies); `#[non_exhaustive]` is kept, as it changes what users may write.
fn public_items(items: &[syn::Item], out: &mut Vec<String>) {
    let marked = |attrs: &[syn::Attribute]| {
        if attrs.iter().any(|a| a.path().is_ident("non_exhaustive")) {
            "#[non_exhaustive] "
        } else {
            ""
        }
    };
    for item in items {
        match item {
            syn::Item::Fn(f) if is_public(&f.vis) => out.push(signature(&f.sig)),
            syn::Item::Struct(s) if is_public(&s.vis) => {
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .filter(|f| is_public(&f.vis))
                    .map(|f| match &f.ident {
                        Some(name) => format!("{name}: {}", render(&f.ty)),
                        None => render(&f.ty),
                    })
                    .collect();
                out.push(format!(
                    "{}struct {}{} {{ {} }}",
                    marked(&s.attrs),
                    s.ident,
                    render(&s.generics),
                    fields.join(", ")
                ));
            }
            syn::Item::Enum(e) if is_public(&e.vis) => {
                let variants: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| format!("{}{}", v.ident, fields_of(&v.fields)))
                    .collect();
                out.push(format!(
                    "{}enum {}{} {{ {} }}",
                    marked(&e.attrs),
                    e.ident,
                    render(&e.generics),
                    variants.join(", ")
                ));
            }
            syn::Item::Trait(t) if is_public(&t.vis) => {
                out.push(format!("trait {}{}", t.ident, render(&t.generics)));
                for inner in &t.items {
                    if let syn::TraitItem::Fn(f) = inner {
                        out.push(format!("    {}", signature(&f.sig)));
                    }
                }
            }
            syn::Item::Type(t) if is_public(&t.vis) => {
                out.push(format!(
                    "type {}{} = {}",
                    t.ident,
                    render(&t.generics),
                    render(&t.ty)
                ));
            }
            syn::Item::Const(c) if is_public(&c.vis) => {
                out.push(format!("const {}: {}", c.ident, render(&c.ty)));
            }
            syn::Item::Use(u) if is_public(&u.vis) => {
                out.push(format!("use {}", render(&u.tree)));
            }
            syn::Item::Mod(m) if is_public(&m.vis) => {
                out.push(format!("mod {}", m.ident));
                if let Some((_, inner)) = &m.content {
                    let mut nested = Vec::new();
                    public_items(inner, &mut nested);
                    out.extend(nested.into_iter().map(|line| format!("    {line}")));
                }
            }
            syn::Item::Impl(i) => {
                let head = match &i.trait_ {
                    Some((path, _)) => format!(
                        "impl{} {} for {}",
                        render(&i.generics),
                        render(path),
                        render(&i.self_ty)
                    ),
                    None => format!("impl{} {}", render(&i.generics), render(&i.self_ty)),
                };
                let methods: Vec<String> = i
                    .items
                    .iter()
                    .filter_map(|inner| match inner {
                        syn::ImplItem::Fn(f) if i.trait_.is_none() && is_public(&f.vis) => {
                            Some(format!("    {}", signature(&f.sig)))
                        }
                        _ => None,
                    })
                    .collect();
                if i.trait_.is_some() || !methods.is_empty() {
                    out.push(head);
                    out.extend(methods);
                }
            }
            _ => {}
        }
    }
}

/// The hand-written half of the SDK (errors, values, edits, tasks, listings,
/// downloads, the client builder, the prelude), every `pub` item of every file
/// but the generated one: a change to what users call fails here until the
/// snapshot is reviewed, as the generated surface does.
#[test]
fn hand_written_surface() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runway-api/src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("runway-api/src")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "generated.rs")
        })
        .collect();
    files.sort();
    let mut text = String::new();
    for path in files {
        let source = std::fs::read_to_string(&path).expect("read");
        let file = syn::parse_file(&source).expect("parses");
        let mut lines = Vec::new();
        public_items(&file.items, &mut lines);
        if lines.is_empty() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        writeln!(text, "// {name}").expect("write");
        for line in lines {
            writeln!(text, "{line}").expect("write");
        }
    }
    assert!(text.contains("trait SendErrorExt"), "{text}");
    insta::assert_snapshot!("hand_written", text);
}

//! Rewrites of the generated syntax tree, for what progenitor has no setting for.

use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;

/// The Cargo feature of `runway-api` that derives `schemars::JsonSchema`.
pub const SCHEMARS_FEATURE: &str = "schemars";

/// Moves every `schemars::JsonSchema` out of its `#[derive(...)]` into a
/// `#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]` of its own:
/// the JSON Schemas are there for the programs that want them (the server, the
/// CLI, the snapshot tests), and a program that does not compiles no schemars.
pub(crate) fn gate_schemars_derives(file: &mut syn::File) {
    struct Gate;
    impl Gate {
        fn gate(attrs: &mut Vec<syn::Attribute>) {
            let mut gated = false;
            for attr in attrs.iter_mut() {
                if !attr.path().is_ident("derive") {
                    continue;
                }
                let Ok(paths) =
                    attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
                else {
                    continue;
                };
                let is_schemars = |path: &syn::Path| {
                    let names: Vec<String> =
                        path.segments.iter().map(|s| s.ident.to_string()).collect();
                    names == ["schemars", "JsonSchema"]
                };
                if !paths.iter().any(is_schemars) {
                    continue;
                }
                let kept: Vec<&syn::Path> = paths.iter().filter(|p| !is_schemars(p)).collect();
                *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
                gated = true;
            }
            if gated {
                let feature = SCHEMARS_FEATURE;
                attrs.push(syn::parse_quote!(
                    #[cfg_attr(feature = #feature, derive(schemars::JsonSchema))]
                ));
            }
        }
    }
    impl VisitMut for Gate {
        fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
            Self::gate(&mut item.attrs);
            syn::visit_mut::visit_item_struct_mut(self, item);
        }
        fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
            Self::gate(&mut item.attrs);
            syn::visit_mut::visit_item_enum_mut(self, item);
        }
    }
    Gate.visit_file_mut(file);
}

/// Makes the builder setter of an optional field whose type is one of
/// `runway-api`'s hand-written types take the value itself: typify's setter takes
/// `TryInto<Option<Int<6, 512>>>`, which no number converts into (a foreign
/// `Option` cannot get a `TryFrom<i32>`), so `.font_size(28)` did not compile. The
/// setter becomes `TryInto<Int<6, 512>>` and stores `Some`; a field left unset is
/// still `None`.
pub(crate) fn optional_setters_take_values(file: &mut syn::File) {
    struct Setters;
    impl VisitMut for Setters {
        fn visit_impl_item_fn_mut(&mut self, method: &mut syn::ImplItemFn) {
            let Some(where_clause) = method.sig.generics.where_clause.as_mut() else {
                return;
            };
            let mut rewritten = false;
            for predicate in where_clause.predicates.iter_mut() {
                let syn::WherePredicate::Type(predicate) = predicate else {
                    continue;
                };
                for bound in predicate.bounds.iter_mut() {
                    if let Some(inner) = hand_written_option_target(bound) {
                        *bound = syn::parse_quote!(::std::convert::TryInto<#inner>);
                        rewritten = true;
                    }
                }
            }
            if rewritten {
                WrapSome.visit_block_mut(&mut method.block);
            }
        }
    }

    /// Turns `value.try_into()` into `value.try_into().map(Some)`.
    struct WrapSome;
    impl VisitMut for WrapSome {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            syn::visit_mut::visit_expr_mut(self, expr);
            if let syn::Expr::MethodCall(call) = expr
                && call.method == "try_into"
                && matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident("value"))
            {
                let inner = call.clone();
                *expr = syn::parse_quote!(#inner.map(Some));
            }
        }
    }

    Setters.visit_file_mut(file);
}

/// `X` when `bound` is `TryInto<Option<X>>` and `X` is a path under `::runway_api`.
fn hand_written_option_target(bound: &syn::TypeParamBound) -> Option<syn::Type> {
    let syn::TypeParamBound::Trait(bound) = bound else {
        return None;
    };
    let last = bound.path.segments.last()?;
    if last.ident != "TryInto" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let Some(syn::GenericArgument::Type(syn::Type::Path(option))) = args.args.first() else {
        return None;
    };
    let option_segment = option.path.segments.last()?;
    if option_segment.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(inner) = &option_segment.arguments else {
        return None;
    };
    let Some(syn::GenericArgument::Type(syn::Type::Path(inner))) = inner.args.first() else {
        return None;
    };
    let crate_name = inner.path.segments.first()?;
    (inner.path.leading_colon.is_some() && crate_name.ident == "runway_api")
        .then(|| syn::Type::Path(inner.clone()))
}

/// Makes the setters of operation builders keep the reason a value was refused:
/// progenitor's setter of a parameter, or of a body with no builder (a union),
/// says only "conversion to `EditImageRequest` for body failed", so a width of 0
/// in an edit builder lost its field and its bounds. The setter now requires the
/// conversion's error to be `Display` (every type of the client's is) and says
/// "conversion to `EditImageRequest` for body failed: error converting supplied
/// value for resize_width: must be from 1 to 8192, got 0".
pub(crate) fn setters_keep_conversion_errors(file: &mut syn::File) {
    struct Setters;
    impl VisitMut for Setters {
        fn visit_impl_item_fn_mut(&mut self, method: &mut syn::ImplItemFn) {
            let mut keep = KeepReason { rewritten: false };
            keep.visit_block_mut(&mut method.block);
            if !keep.rewritten {
                return;
            }
            let generics = &mut method.sig.generics;
            let Some(param) = generics.type_params().next().map(|p| p.ident.clone()) else {
                return;
            };
            generics
                .make_where_clause()
                .predicates
                .push(syn::parse_quote!(#param::Error: std::fmt::Display));
        }
    }

    /// `.map_err(|_| "conversion ... failed".to_string())` becomes
    /// `.map_err(|e| format!("conversion ... failed: {e}"))`.
    struct KeepReason {
        rewritten: bool,
    }
    impl VisitMut for KeepReason {
        fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
            syn::visit_mut::visit_expr_method_call_mut(self, call);
            if call.method != "map_err" || call.args.len() != 1 {
                return;
            }
            let Some(syn::Expr::Closure(closure)) = call.args.first() else {
                return;
            };
            let ignores_error = matches!(closure.inputs.first(), Some(syn::Pat::Wild(_)));
            let Some(text) = conversion_message(&closure.body) else {
                return;
            };
            if ignores_error {
                let format = format!("{text}: {{e}}");
                call.args[0] = syn::parse_quote!(|e| format!(#format));
                self.rewritten = true;
            }
        }
    }

    Setters.visit_file_mut(file);
}

/// The text of `"conversion to ... failed".to_string()` (or of a block holding it).
fn conversion_message(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Block(block) => match block.block.stmts.as_slice() {
            [syn::Stmt::Expr(inner, None)] => conversion_message(inner),
            _ => None,
        },
        syn::Expr::MethodCall(call) if call.method == "to_string" => match &*call.receiver {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => {
                let text = text.value();
                (text.starts_with("conversion to `") && text.ends_with(" failed")).then_some(text)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Names the builders of `types::builder` apart from the types they build:
/// typify calls both `GenerateVideoRequest`, so rustdoc listed two types of one
/// name and an error message could not tell them apart. Each builder becomes
/// `GenerateVideoRequestBuilder`, wherever it is named: bare inside
/// `types::builder`, as `builder::X` inside `types`, as `types::builder::X`
/// anywhere.
pub(crate) fn builders_named_apart(file: &mut syn::File) {
    let names = builder_names(file);
    if names.is_empty() {
        return;
    }
    struct Rename<'a> {
        names: &'a std::collections::BTreeSet<String>,
        modules: Vec<String>,
    }
    impl Rename<'_> {
        fn renamed(&self, ident: &syn::Ident) -> Option<syn::Ident> {
            self.names
                .contains(&ident.to_string())
                .then(|| quote::format_ident!("{}Builder", ident))
        }
        fn at(&self, path: &[&str]) -> bool {
            self.modules
                .iter()
                .map(String::as_str)
                .eq(path.iter().copied())
        }
    }
    impl VisitMut for Rename<'_> {
        fn visit_item_mod_mut(&mut self, module: &mut syn::ItemMod) {
            self.modules.push(module.ident.to_string());
            syn::visit_mut::visit_item_mod_mut(self, module);
            self.modules.pop();
        }
        fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
            if self.at(&["types", "builder"])
                && let Some(new) = self.renamed(&item.ident)
            {
                item.ident = new;
            }
            syn::visit_mut::visit_item_struct_mut(self, item);
        }
        fn visit_path_mut(&mut self, path: &mut syn::Path) {
            syn::visit_mut::visit_path_mut(self, path);
            let idents: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
            let target = if self.at(&["types", "builder"]) {
                (idents.len() == 1 && path.leading_colon.is_none()).then_some(0)
            } else {
                let after_builder = idents.windows(2).position(|pair| pair[0] == "builder");
                match after_builder {
                    Some(at) if at > 0 && idents[at - 1] == "types" => Some(at + 1),
                    Some(0) if self.at(&["types"]) => Some(1),
                    _ => None,
                }
            };
            if let Some(at) = target
                && let Some(segment) = path.segments.iter_mut().nth(at)
                && let Some(new) = self.renamed(&segment.ident)
            {
                segment.ident = new;
            }
        }
    }
    Rename {
        names: &names,
        modules: Vec::new(),
    }
    .visit_file_mut(file);
}

/// The structs of `mod types { mod builder { ... } }`.
fn builder_names(file: &syn::File) -> std::collections::BTreeSet<String> {
    let module = |items: &[syn::Item], name: &str| -> Option<Vec<syn::Item>> {
        items.iter().find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == name => {
                m.content.as_ref().map(|(_, items)| items.clone())
            }
            _ => None,
        })
    };
    let Some(types) = module(&file.items, "types") else {
        return Default::default();
    };
    let Some(builder) = module(&types, "builder") else {
        return Default::default();
    };
    builder
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            _ => None,
        })
        .collect()
}

//! Lists every type of the generated client's `types` module, so that the schema
//! snapshot covers each of them without a hand-written list.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let generated = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runway-api/src/generated.rs");
    println!("cargo:rerun-if-changed={}", generated.display());
    let source = std::fs::read_to_string(&generated).expect("read runway-api/src/generated.rs");
    let file = syn::parse_file(&source).expect("generated.rs parses");
    let types = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_ref().map(|(_, items)| items),
            _ => None,
        })
        .expect("generated.rs has a `types` module");

    let mut names: Vec<String> = types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if is_public(&s.vis) => Some(s.ident.to_string()),
            syn::Item::Enum(e) if is_public(&e.vis) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect();
    names.sort();

    let mut out = String::from(
        "/// The JSON Schema of every type in `runway_api::types`, by name.\n\
         pub fn all_type_schemas() -> Vec<(&'static str, schemars::schema::RootSchema)> {\n    vec![\n",
    );
    for name in &names {
        writeln!(
            out,
            "        ({name:?}, schemars::schema_for!(runway_api::types::{name})),"
        )
        .expect("write to string");
    }
    out.push_str("    ]\n}\n");
    let out_dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("type_schemas.rs"), out).expect("write");
}

fn is_public(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

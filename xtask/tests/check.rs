//! `cargo xtask check` catches every kind of drift between contract and code.

use std::path::{Path, PathBuf};

use xtask::{
    GENERATED_CLI_PATH, GENERATED_MOCKS_PATH, GENERATED_PATH, Outcome, SPEC_PATH, check, regen,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// A temporary copy of the contract and the checked-in generated files.
fn copy_of_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for relative in [
        SPEC_PATH,
        GENERATED_PATH,
        GENERATED_MOCKS_PATH,
        GENERATED_CLI_PATH,
    ] {
        let to = dir.path().join(relative);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(workspace_root().join(relative), &to).expect("copy");
    }
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn the_checked_in_code_is_up_to_date() {
    assert_eq!(
        check(&workspace_root()).expect("check runs"),
        Outcome::UpToDate
    );
}

#[test]
fn a_hand_edit_of_the_generated_code_is_caught() {
    let dir = copy_of_workspace();
    edit(
        &dir.path().join(GENERATED_PATH),
        "pub fn generate_image(&self)",
        "pub fn generate_picture(&self)",
    );
    let Outcome::Stale(report) = check(dir.path()).expect("check runs") else {
        panic!("a hand edit must be caught");
    };
    assert!(
        report.contains("-    pub fn generate_picture(&self)"),
        "{report}"
    );
    assert!(
        report.contains("+    pub fn generate_image(&self)"),
        "{report}"
    );
    assert!(report.contains("cargo xtask regen"), "{report}");
}

#[test]
fn an_unregenerated_spec_change_is_caught_and_regen_fixes_it() {
    let dir = copy_of_workspace();
    edit(
        &dir.path().join(SPEC_PATH),
        "operationId: generate_image",
        "operationId: create_image",
    );
    let Outcome::Stale(report) = check(dir.path()).expect("check runs") else {
        panic!("a spec change must be caught");
    };
    assert!(report.contains("create_image"), "{report}");
    // The mocks follow the contract too.
    assert!(report.contains(GENERATED_MOCKS_PATH), "{report}");

    assert!(matches!(
        regen(dir.path()).expect("regen runs"),
        Outcome::Written(_)
    ));
    assert_eq!(check(dir.path()).expect("check runs"), Outcome::UpToDate);
}

#[test]
fn an_invalid_spec_fails_with_its_location() {
    let dir = copy_of_workspace();
    edit(
        &dir.path().join(SPEC_PATH),
        "  /v1/edit-image:\n    post:\n      operationId: edit_image\n",
        "  /v1/edit-image:\n    post:\n      operationId: [edit_image]\n",
    );
    let err = check(dir.path()).expect_err("an invalid spec fails");
    let text = err.to_string();
    assert!(text.contains("runway.yaml"), "{text}");
    assert!(text.contains("paths./v1/edit-image.post"), "{text}");
}

#[test]
fn the_server_is_in_layers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace");
    let found = xtask::layers::check_tree(&root.join(xtask::layers::SERVER_SRC)).expect("reads");
    let report: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(report.is_empty(), "{report:#?}");
}

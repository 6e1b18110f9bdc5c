//! Rust lint against real cargo fmt and clippy on a tiny crate written by the test.

use std::path::{Path, PathBuf};

use buildchain_lint::{rust, LintError};

fn cargo() -> PathBuf {
    PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn write_crate(dir: &Path, lib: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
}

#[test]
fn formatting_and_clippy_findings_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Its own target dir, inside the temp dir: nothing shared, removed with it.
    std::env::set_var("CARGO_TARGET_DIR", dir.path().join("target"));
    let clean = "/// Adds.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n";
    write_crate(dir.path(), clean);
    assert!(
        rust::lint_workspace(dir.path(), &cargo(), rust::RustOptions::default())
            .unwrap()
            .is_empty()
    );

    let badly_formatted = "pub fn add(a: u32,b: u32) -> u32 { a+b }\n";
    write_crate(dir.path(), badly_formatted);
    let findings = rust::check_format(dir.path(), &cargo()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        (findings[0].path.as_path(), findings[0].line),
        (Path::new("src/lib.rs"), 1)
    );

    let clippy_warning =
        "/// Checks.\npub fn check(x: bool) -> bool {\n    if x == true {\n        return true;\n    }\n    false\n}\n";
    write_crate(dir.path(), clippy_warning);
    let findings = rust::clippy(dir.path(), &cargo(), rust::RustOptions::default()).unwrap();
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|f| f.path == Path::new("src/lib.rs") && f.rule == "clippy"),
        "{findings:#?}"
    );
    assert!(findings.iter().any(|f| f.line == 3), "{findings:#?}");
}

#[test]
fn missing_cargo_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = rust::lint_workspace(
        dir.path(),
        Path::new("/nonexistent/cargo"),
        rust::RustOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(error, LintError::ToolMissing { .. }), "{error}");
    // Not a cargo project: cargo fails without findings, which is an error, not a pass.
    let error = rust::check_format(dir.path(), &cargo()).unwrap_err();
    assert!(matches!(error, LintError::ToolFailed { .. }), "{error}");
}

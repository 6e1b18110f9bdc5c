//! YAML lint on files: each rule fails with the file and line named, clean files pass.

use std::path::{Path, PathBuf};

use buildchain_lint::yaml::{self, DocumentStart, YamlConfig};
use buildchain_lint::{Finding, LintError};

fn lint(text: &str, config: &YamlConfig) -> (PathBuf, Vec<Finding>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.yaml");
    std::fs::write(&path, text).unwrap();
    let findings = yaml::lint_file(&path, config).unwrap();
    (path, findings, dir)
}

fn rules_at(findings: &[Finding]) -> Vec<(usize, &str)> {
    findings.iter().map(|f| (f.line, f.rule.as_str())).collect()
}

#[test]
fn clean_multi_document_file_passes() {
    let text = "---\na:\n  b: [1, 2]\n  c:\n    - x\n    - y: 1\n      z: 2\n---\nd: \"e\"\n";
    let (_, findings, _dir) = lint(text, &YamlConfig::default());
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn duplicate_key_names_file_and_line() {
    let (path, findings, _dir) = lint("a: 1\nb:\n  c: 1\n  c: 2\n", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(4, "key-duplicates")]);
    let shown = findings[0].to_string();
    assert!(
        shown.starts_with(&format!("{}:4:3: duplication of key \"c\"", path.display())),
        "{shown}"
    );
    assert!(shown.ends_with("[key-duplicates]"), "{shown}");
}

#[test]
fn duplicate_key_in_a_later_document_is_found() {
    let (_, findings, _dir) = lint("a: 1\n---\nb: 1\nb: 2\n", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(4, "key-duplicates")]);
}

#[test]
fn trailing_space_and_tab() {
    let (_, findings, _dir) = lint("a: 1 \nb:\n  c: 2\n", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(1, "trailing-spaces")]);
    let (_, findings, _dir) = lint("a:\n\tb: 1\n", &YamlConfig::default());
    let rules = rules_at(&findings);
    assert!(rules.contains(&(2, "no-tabs")), "{findings:?}");
}

#[test]
fn bad_indentation() {
    let (_, findings, _dir) = lint("a:\n  b: 1\nc:\n    d: 2\n", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(4, "indentation")]);
    assert!(findings[0].message.contains("expected 2 but found 4"));
}

#[test]
fn syntax_error_names_the_line() {
    let (_, findings, _dir) = lint("a: 1\nb: [1, 2\nc: 3\n", &YamlConfig::default());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, "syntax");
    assert!(findings[0].line >= 2, "{findings:?}");
}

#[test]
fn control_characters_are_syntax_errors() {
    let (_, findings, _dir) = lint("a: 1\nb: x\u{0}y\n", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(2, "syntax")]);
    assert_eq!(findings[0].column, Some(5));
}

#[test]
fn configurable_rules() {
    let config = YamlConfig {
        max_line_length: Some(20),
        document_start: DocumentStart::Required,
        ..YamlConfig::default()
    };
    let (_, findings, _dir) = lint("a: this line is rather long\n", &config);
    assert_eq!(
        rules_at(&findings),
        vec![(1, "document-start"), (1, "line-length")]
    );
    let (_, findings, _dir) = lint("a: 1", &YamlConfig::default());
    assert_eq!(rules_at(&findings), vec![(1, "new-line-at-end-of-file")]);
}

#[test]
fn hostile_inputs_are_findings_or_errors_not_panics() {
    for text in [
        "\u{0}\u{1}",
        "a: &x [*x]\n",
        "- [[[[[[[[[[[[[[[[\n",
        "? ? ? ?\n",
        "a: *undefined\n",
        "\"unterminated\n",
        "---\n...\n---\n",
        "",
    ] {
        let _ = lint(text, &YamlConfig::default());
    }
    let deep = format!("{}{}\n", "[".repeat(5000), "]".repeat(5000));
    let _ = lint(&deep, &YamlConfig::default());
}

#[test]
fn unreadable_and_non_utf8_files_are_errors() {
    let missing = yaml::lint_file(Path::new("/nonexistent/x.yaml"), &YamlConfig::default());
    assert!(matches!(missing, Err(LintError::Read { .. })));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.yaml");
    std::fs::write(&path, [0xff, 0xfe, b'a']).unwrap();
    let error = yaml::lint_file(&path, &YamlConfig::default()).unwrap_err();
    assert!(error.to_string().contains("bin.yaml"), "{error}");
}

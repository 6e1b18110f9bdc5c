//! Shell lint against the real shellcheck (`SHELLCHECK_BIN` or `shellcheck` on PATH).

use std::path::{Path, PathBuf};

use buildchain_lint::{shell, LintError};

fn shellcheck() -> PathBuf {
    let bin =
        PathBuf::from(std::env::var("SHELLCHECK_BIN").unwrap_or_else(|_| "shellcheck".into()));
    let runs = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        runs,
        "these tests need shellcheck ({}): apt-get install shellcheck",
        bin.display()
    );
    bin
}

#[test]
fn syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sh");
    std::fs::write(&good, "#!/bin/bash\nset -eu\necho \"$1\"\n").unwrap();
    let bad = dir.path().join("bad.sh");
    std::fs::write(&bad, "#!/bin/bash\necho ok\nif true; then\n  echo x\n").unwrap();
    let findings = shell::lint_files(&[&good, &bad], &shellcheck()).unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f.path == bad), "{findings:#?}");
    assert!(
        findings
            .iter()
            .any(|f| f.rule.starts_with("SC") && f.line >= 3),
        "{findings:#?}"
    );
    let shown = findings[0].to_string();
    assert!(shown.starts_with(&format!("{}:", bad.display())), "{shown}");
}

#[test]
fn clean_scripts_pass_and_warnings_are_findings() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sh");
    std::fs::write(&good, "#!/bin/sh\nprintf '%s\\n' \"$HOME\"\n").unwrap();
    assert!(shell::lint_files(&[&good], &shellcheck())
        .unwrap()
        .is_empty());
    std::fs::write(&good, "#!/bin/sh\nrm -rf $1/x\n").unwrap();
    let findings = shell::lint_files(&[&good], &shellcheck()).unwrap();
    assert_eq!(findings[0].rule, "SC2086", "{findings:#?}");
    assert_eq!((findings[0].line, findings[0].column), (2, Some(8)));
}

#[test]
fn rendered_template_is_reported_under_its_source() {
    let source = Path::new("iso/bootstrap.sh.in");
    let rendered = "#!/bin/bash\nVERSION=0.1.0\necho \"$VERSION\"\nfi\n";
    let findings = shell::lint_rendered(source, rendered, &shellcheck()).unwrap();
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f.path == source && f.line == 4),
        "{findings:#?}"
    );
    let fine = "#!/bin/bash\necho \"0.1.0\"\n";
    assert!(shell::lint_rendered(source, fine, &shellcheck())
        .unwrap()
        .is_empty());
}

#[test]
fn missing_shellcheck_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("a.sh");
    std::fs::write(&script, "#!/bin/sh\ntrue\n").unwrap();
    let missing = Path::new("/nonexistent/shellcheck");
    let error = shell::lint_files(&[&script], missing).unwrap_err();
    assert!(matches!(error, LintError::ToolMissing { .. }), "{error}");
    assert!(error.to_string().contains("SHELLCHECK_BIN"), "{error}");
    let none: [&Path; 0] = [];
    assert!(shell::lint_files(&none, missing).is_err());
    assert!(shell::lint_rendered(&script, "true\n", missing).is_err());
}

#[test]
fn missing_script_and_failing_tool_are_errors() {
    let error = shell::lint_files(&[Path::new("/nonexistent/x.sh")], &shellcheck()).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/x.sh"), "{error}");
    // A "shellcheck" that fails without reporting anything is not a pass.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("a.sh");
    std::fs::write(&script, "#!/bin/sh\ntrue\n").unwrap();
    let error = shell::lint_files(&[&script], Path::new("/bin/false")).unwrap_err();
    assert!(matches!(error, LintError::ToolFailed { .. }), "{error}");
}

#[test]
fn rendered_templates_of_one_directory_follow_each_other() {
    let common = (
        PathBuf::from("iso/common.sh.in"),
        "#!/bin/bash\n# shellcheck disable=SC2034\nVERSION=0.1.0\n".to_string(),
    );
    let script = (
        PathBuf::from("iso/bootstrap.sh.in"),
        "#!/bin/bash\n# shellcheck source=common.sh\n. \"$(dirname \"$0\")/common.sh\"\necho \"$VERSION\"\n"
            .to_string(),
    );
    let findings = shell::lint_rendered_set(&[common, script.clone()], &shellcheck()).unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    // Alone, the sourced file cannot be followed: shellcheck says so (SC1091).
    let findings = shell::lint_rendered_set(&[script], &shellcheck()).unwrap();
    assert!(findings.iter().any(|f| f.rule == "SC1091"), "{findings:#?}");
}

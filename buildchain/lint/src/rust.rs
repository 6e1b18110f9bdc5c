//! Rust lint: `cargo fmt --all -- --check` and `cargo clippy --workspace --all-targets --
//! -D warnings`, with their complaints as findings.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{Finding, LintError};

const TOOL: &str = "cargo";
const ENV_VAR: &str = "CARGO";

/// How clippy checks the workspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RustOptions {
    /// Check with the release profile (`--release`): reuses what a release build and
    /// `cargo test --release` already compiled.
    pub release: bool,
}

/// Both checks on the workspace at `repo_root` (formatting first).
pub fn lint_workspace(
    repo_root: &Path,
    cargo_bin: &Path,
    options: RustOptions,
) -> Result<Vec<Finding>, LintError> {
    let mut findings = check_format(repo_root, cargo_bin)?;
    findings.extend(clippy(repo_root, cargo_bin, options)?);
    Ok(findings)
}

/// `cargo fmt --all -- --check`: one finding per badly formatted hunk.
pub fn check_format(repo_root: &Path, cargo_bin: &Path) -> Result<Vec<Finding>, LintError> {
    let output = run(repo_root, cargo_bin, &["fmt", "--all", "--", "--check"])?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let findings: Vec<Finding> = stdout
        .lines()
        .filter_map(|line| parse_diff_header(line, repo_root))
        .collect();
    status_with(output, findings, "cargo fmt")
}

/// `cargo clippy --workspace --all-targets [--release] --message-format=short -- -D
/// warnings`: one finding per warning or error (compile errors included).
pub fn clippy(
    repo_root: &Path,
    cargo_bin: &Path,
    options: RustOptions,
) -> Result<Vec<Finding>, LintError> {
    let mut args = vec![
        "clippy",
        "--workspace",
        "--all-targets",
        "--message-format=short",
    ];
    if options.release {
        args.push("--release");
    }
    args.extend(["--", "-D", "warnings"]);
    let output = run(repo_root, cargo_bin, &args)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut findings: Vec<Finding> = stderr
        .lines()
        .filter_map(|line| parse_short_message(line, repo_root))
        .collect();
    findings.sort();
    findings.dedup();
    status_with(output, findings, "cargo clippy")
}

fn run(repo_root: &Path, cargo_bin: &Path, args: &[&str]) -> Result<Output, LintError> {
    Command::new(cargo_bin)
        .args(args)
        .current_dir(repo_root)
        .output()
        .map_err(|source| LintError::ToolMissing {
            tool: TOOL,
            env_var: ENV_VAR,
            bin: cargo_bin.to_path_buf(),
            source,
        })
}

/// Success, or findings explaining the failure; a failure without any is a tool error.
fn status_with(
    output: Output,
    findings: Vec<Finding>,
    what: &str,
) -> Result<Vec<Finding>, LintError> {
    if output.status.success() || !findings.is_empty() {
        return Ok(findings);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
    Err(LintError::ToolFailed {
        tool: TOOL,
        status: format!("{what}: {}", output.status),
        output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// rustfmt's `Diff in /abs/file.rs:12:` (or the older `Diff in /abs/file.rs at line 12:`).
fn parse_diff_header(line: &str, repo_root: &Path) -> Option<Finding> {
    let rest = line.strip_prefix("Diff in ")?.strip_suffix(':')?;
    let (file, number) = match rest.rsplit_once(" at line ") {
        Some(parts) => parts,
        None => rest.rsplit_once(':')?,
    };
    let line_number = number.trim().parse().ok()?;
    Some(Finding::new(
        relative(file, repo_root),
        line_number,
        None,
        "rustfmt",
        "not formatted as rustfmt would (run cargo fmt)",
    ))
}

/// `src/lib.rs:3:5: error: message` (cargo's short format).
fn parse_short_message(line: &str, repo_root: &Path) -> Option<Finding> {
    let (location, message) = line
        .split_once(": error: ")
        .or_else(|| line.split_once(": warning: "))?;
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line_number = parts.next()?.parse().ok()?;
    let file = parts.next()?;
    Some(Finding::new(
        relative(file, repo_root),
        line_number,
        Some(column),
        "clippy",
        message.trim(),
    ))
}

fn relative(file: &str, repo_root: &Path) -> PathBuf {
    let path = Path::new(file);
    path.strip_prefix(repo_root).unwrap_or(path).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_are_parsed() {
        let root = Path::new("/w");
        let f = parse_diff_header("Diff in /w/src/lib.rs:12:", root).unwrap();
        assert_eq!((f.path.as_path(), f.line), (Path::new("src/lib.rs"), 12));
        let f = parse_diff_header("Diff in /w/src/main.rs at line 3:", root).unwrap();
        assert_eq!(f.line, 3);
        let f = parse_short_message(
            "src/lib.rs:2:5: error: this `if` has identical blocks",
            root,
        )
        .unwrap();
        assert_eq!((f.line, f.column), (2, Some(5)));
        assert!(parse_short_message("error: could not compile `x`", root).is_none());
    }
}

//! Shell lint: `shellcheck` (the real one; `SHELLCHECK_BIN` is the caller's business) on
//! scripts, and on the renderings of `*.sh.in` templates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{Finding, LintError};

const TOOL: &str = "shellcheck";
const ENV_VAR: &str = "SHELLCHECK_BIN";

/// Runs shellcheck once over `paths`; its findings (every severity, shellcheck's defaults
/// and `SHELLCHECK_OPTS` apply). With no path, only checks that shellcheck runs: a missing
/// shellcheck is an error, never a pass.
pub fn lint_files<P: AsRef<Path>>(
    paths: &[P],
    shellcheck_bin: &Path,
) -> Result<Vec<Finding>, LintError> {
    if paths.is_empty() {
        run(shellcheck_bin, &["--version".as_ref()], None)?;
        return Ok(Vec::new());
    }
    for path in paths {
        let path = path.as_ref();
        if let Err(source) = std::fs::metadata(path) {
            return Err(LintError::Read {
                path: path.to_path_buf(),
                cause: source,
            });
        }
    }
    let mut args: Vec<&std::ffi::OsStr> = vec!["--format=gcc".as_ref(), "--".as_ref()];
    args.extend(paths.iter().map(|p| p.as_ref().as_os_str()));
    let output = run(shellcheck_bin, &args, None)?;
    let names: Vec<(String, PathBuf)> = paths
        .iter()
        .map(|p| (p.as_ref().display().to_string(), p.as_ref().to_path_buf()))
        .collect();
    findings(&output, &names)
}

/// Runs shellcheck on `rendered` (a template's rendering), reporting against `source_path`.
/// Line numbers are the rendering's (handlebars substitutions keep lines as they are unless
/// a value spans lines).
pub fn lint_rendered(
    source_path: &Path,
    rendered: &str,
    shellcheck_bin: &Path,
) -> Result<Vec<Finding>, LintError> {
    lint_rendered_set(
        &[(source_path.to_path_buf(), rendered.to_string())],
        shellcheck_bin,
    )
}

/// Runs shellcheck on the renderings of a set of templates, `(source path, rendered text)`,
/// reporting against the source paths. The renderings of the templates of one directory
/// are written side by side under their rendered names (`x.sh.in` → `x.sh`) into a
/// temporary directory and checked together from there with `--external-sources`, so
/// that `# shellcheck source=common.sh` directives between them are followed.
pub fn lint_rendered_set(
    templates: &[(PathBuf, String)],
    shellcheck_bin: &Path,
) -> Result<Vec<Finding>, LintError> {
    let mut groups: BTreeMap<PathBuf, Vec<&(PathBuf, String)>> = BTreeMap::new();
    for template in templates {
        let parent = template
            .0
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        groups.entry(parent).or_default().push(template);
    }
    let mut found = Vec::new();
    for group in groups.values() {
        found.extend(lint_group(group, shellcheck_bin)?);
    }
    Ok(found)
}

fn lint_group(group: &[&(PathBuf, String)], bin: &Path) -> Result<Vec<Finding>, LintError> {
    let temp_error = |cause| LintError::TempFile { tool: TOOL, cause };
    let dir = tempfile::Builder::new()
        .prefix("buildchain-lint-shell-")
        .tempdir()
        .map_err(temp_error)?;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for (source, rendered) in group {
        let file_name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "script.sh.in".into());
        let name = file_name
            .strip_suffix(".in")
            .unwrap_or(&file_name)
            .to_string();
        std::fs::write(dir.path().join(&name), rendered).map_err(temp_error)?;
        names.push((name, source.clone()));
    }
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--format=gcc".as_ref(),
        "--external-sources".as_ref(),
        "--".as_ref(),
    ];
    args.extend(names.iter().map(|(name, _)| std::ffi::OsStr::new(name)));
    let output = run(bin, &args, Some(dir.path()))?;
    findings(&output, &names)
}

fn run(
    bin: &Path,
    args: &[&std::ffi::OsStr],
    current_dir: Option<&Path>,
) -> Result<Output, LintError> {
    let mut command = Command::new(bin);
    if let Some(dir) = current_dir {
        command.current_dir(dir);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LintError::ToolMissing {
            tool: TOOL,
            env_var: ENV_VAR,
            bin: bin.to_path_buf(),
            source,
        })
}

/// Maps `file:line:col: severity: message [SCnnnn]` lines; `names` maps the file names
/// shellcheck prints to the paths to report.
fn findings(output: &Output, names: &[(String, PathBuf)]) -> Result<Vec<Finding>, LintError> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut found = Vec::new();
    for line in stdout.lines() {
        let Some((name, path)) = names
            .iter()
            .filter(|(name, _)| line.starts_with(&format!("{name}:")))
            .max_by_key(|(name, _)| name.len())
        else {
            continue;
        };
        if let Some(finding) = parse_gcc_line(&line[name.len() + 1..], path) {
            found.push(finding);
        }
    }
    match output.status.code() {
        Some(0) => Ok(found),
        Some(1) if !found.is_empty() => Ok(found),
        _ => Err(LintError::ToolFailed {
            tool: TOOL,
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                stdout.trim()
            ),
        }),
    }
}

/// `line:col: severity: message [SCnnnn]` after the file name.
fn parse_gcc_line(rest: &str, path: &Path) -> Option<Finding> {
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.trim().parse().ok()?;
    let column = parts.next()?.trim().parse().ok();
    let text = parts.next()?.trim();
    let (message, rule) = match text.rsplit_once(" [") {
        Some((message, code)) if code.ends_with(']') => {
            (message, code.trim_end_matches(']').to_string())
        }
        _ => (text, "shellcheck".to_string()),
    };
    Some(Finding::new(path, line, column, rule, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcc_lines_are_parsed() {
        let finding = parse_gcc_line(
            "3:6: warning: Quote this to prevent word splitting. [SC2086]",
            Path::new("a:b.sh"),
        )
        .unwrap();
        assert_eq!(finding.line, 3);
        assert_eq!(finding.column, Some(6));
        assert_eq!(finding.rule, "SC2086");
        assert_eq!(
            finding.to_string(),
            "a:b.sh:3:6: warning: Quote this to prevent word splitting. [SC2086]"
        );
    }
}

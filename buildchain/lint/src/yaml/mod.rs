//! YAML lint, native: every document parses, no key is duplicated, and the yamllint rules
//! MetalK8s relies on (indentation, trailing spaces, tabs, line length, document start, new
//! line at end of file).

mod duplicates;
mod indent;
mod lines;
pub(crate) mod tree;

use std::path::Path;

pub use indent::{IndentConfig, IndentSequences, Spaces};
pub use lines::DocumentStart;

use crate::finding::read_text;
use crate::{Finding, LintError};

/// Which rules run, and their settings. `Default` is what `buildchain lint:yaml` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlConfig {
    /// `indentation`; `None` disables it.
    pub indentation: Option<IndentConfig>,
    /// `trailing-spaces`.
    pub trailing_spaces: bool,
    /// `no-tabs`: no tab character in indentation.
    pub tabs: bool,
    /// `line-length`: the maximum, or `None` (the default) for no limit.
    pub max_line_length: Option<usize>,
    /// `document-start`.
    pub document_start: DocumentStart,
    /// `new-line-at-end-of-file`.
    pub new_line_at_end_of_file: bool,
    /// `key-duplicates`.
    pub key_duplicates: bool,
}

impl Default for YamlConfig {
    fn default() -> Self {
        YamlConfig {
            indentation: Some(IndentConfig::default()),
            trailing_spaces: true,
            tabs: true,
            max_line_length: None,
            document_start: DocumentStart::Ignore,
            new_line_at_end_of_file: true,
            key_duplicates: true,
        }
    }
}

/// Lints one YAML file (all its documents).
pub fn lint_file(path: &Path, config: &YamlConfig) -> Result<Vec<Finding>, LintError> {
    let text = read_text(path)?;
    Ok(lint_str(path, &text, config))
}

/// Lints each file in turn; the findings of all files, in order.
pub fn lint_files<P: AsRef<Path>>(
    paths: &[P],
    config: &YamlConfig,
) -> Result<Vec<Finding>, LintError> {
    let mut findings = Vec::new();
    for path in paths {
        findings.extend(lint_file(path.as_ref(), config)?);
    }
    Ok(findings)
}

/// Lints YAML `text`, reporting findings against `path` (the text may be rendered from a
/// template; `path` is only used in the findings).
pub fn lint_str(path: &Path, text: &str, config: &YamlConfig) -> Vec<Finding> {
    let mut problems = Vec::new();
    if config.trailing_spaces {
        lines::trailing_spaces(text, &mut problems);
    }
    if config.tabs {
        lines::tabs(text, &mut problems);
    }
    if let Some(max) = config.max_line_length {
        lines::line_length(text, max, &mut problems);
    }
    if config.new_line_at_end_of_file {
        lines::new_line_at_end_of_file(text, &mut problems);
    }
    lines::document_start(text, config.document_start, &mut problems);
    let mut findings: Vec<Finding> = problems
        .into_iter()
        .map(|(line, column, rule, message)| Finding::new(path, line, column, rule, message))
        .collect();
    match tree::parse_documents(text) {
        Err(error) => findings.push(syntax_finding(path, &error, "")),
        Ok(documents) => {
            if config.key_duplicates {
                findings.extend(duplicate_findings(path, &documents, ""));
            }
            if let Some(indentation) = config.indentation {
                findings.extend(indent::check(text, indentation).into_iter().map(
                    |(line, column, message)| {
                        Finding::new(path, line, Some(column), "indentation", message)
                    },
                ));
            }
        }
    }
    findings.sort();
    findings
}

/// A syntax error as a finding; `context` prefixes the message (e.g. "rendered output").
pub(crate) fn syntax_finding(path: &Path, error: &tree::SyntaxError, context: &str) -> Finding {
    Finding::new(
        path,
        error.line,
        Some(error.column),
        "syntax",
        format!("{context}syntax error: {}", error.message),
    )
}

/// Duplicate keys as findings; `context` prefixes the messages.
pub(crate) fn duplicate_findings(
    path: &Path,
    documents: &[tree::Node],
    context: &str,
) -> Vec<Finding> {
    duplicates::find(documents)
        .into_iter()
        .map(|(line, column, message)| {
            Finding::new(
                path,
                line,
                Some(column),
                "key-duplicates",
                format!("{context}{message}"),
            )
        })
        .collect()
}

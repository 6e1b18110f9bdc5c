//! What every linter returns: findings (problems in the linted files) and errors (the lint
//! itself could not run).

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a linted file.
///
/// Displays as `file:line: message [rule]` (or `file:line:column: …` when the column is known),
/// the format editors and CI logs understand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The file, as given by the caller (not canonicalized).
    pub path: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column when known.
    pub column: Option<usize>,
    /// Short rule name, e.g. `key-duplicates`, `trailing-spaces`, `jinja`, `SC2086`, `clippy`.
    pub rule: String,
    /// Human-readable description.
    pub message: String,
}

impl Finding {
    /// A finding at `line` (1-based) of `path`.
    pub fn new(
        path: impl Into<PathBuf>,
        line: usize,
        column: Option<usize>,
        rule: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            path: path.into(),
            line,
            column,
            rule: rule.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        write!(f, ": {} [{}]", self.message, self.rule)
    }
}

/// The lint could not run (as opposed to: it ran and found problems).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A linted file is not UTF-8 text.
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    /// An external tool (shellcheck, cargo) is missing or could not be started.
    #[error("cannot run {tool} ({}): {source}; install it or point {env_var} at it", bin.display())]
    ToolMissing {
        tool: &'static str,
        env_var: &'static str,
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An external tool ran but failed in a way that is not a list of findings.
    #[error("{tool} failed ({status}): {output}")]
    ToolFailed {
        tool: &'static str,
        status: String,
        output: String,
    },
    /// A temporary file needed to run a tool could not be written.
    #[error("cannot write a temporary file for {tool}: {cause}")]
    TempFile {
        tool: &'static str,
        cause: std::io::Error,
    },
}

/// Reads `path` as UTF-8 text with a typed error naming the file.
pub(crate) fn read_text(path: &Path) -> Result<String, LintError> {
    let bytes = std::fs::read(path).map_err(|source| LintError::Read {
        path: path.to_path_buf(),
        cause: source,
    })?;
    String::from_utf8(bytes).map_err(|_| LintError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

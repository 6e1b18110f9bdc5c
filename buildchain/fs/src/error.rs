use std::io;
use std::path::{Path, PathBuf};

/// A file-system operation that failed, with the path it concerns. Its `Display` says what
/// was attempted on which path; the OS error is its `source` (said once by chain printers).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot {action}", path.display())]
pub struct FsError {
    pub path: PathBuf,
    /// What was attempted, as a verb phrase (`create`, `rename into place`…).
    pub action: &'static str,
    #[source]
    pub source: io::Error,
}

impl FsError {
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        FsError {
            path: path.into(),
            action,
            source,
        }
    }

    /// The kind of the underlying OS error.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// `result.at("create", path)`: attaches the action and the path to an I/O error.
pub trait IoResultExt<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, FsError>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::new(action, path, e))
    }
}

impl From<FsError> for io::Error {
    /// Keeps the kind; the message names the path and the action.
    fn from(e: FsError) -> io::Error {
        io::Error::new(e.source.kind(), format!("{e}: {}", e.source))
    }
}

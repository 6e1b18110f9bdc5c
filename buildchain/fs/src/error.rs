use std::io;
use std::path::{Path, PathBuf};

/// A file-system operation that failed: the path, what was attempted, the OS error, said
/// once in its `Display` (not repeated as a `source`).
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot {action}: {cause}", path.display())]
pub struct FsError {
    pub path: PathBuf,
    /// What was attempted, as a verb phrase (`create`, `rename into place`…).
    pub action: &'static str,
    pub cause: io::Error,
}

impl FsError {
    pub fn new(action: &'static str, path: impl Into<PathBuf>, cause: io::Error) -> Self {
        FsError {
            path: path.into(),
            action,
            cause,
        }
    }

    /// The kind of the underlying OS error.
    pub fn kind(&self) -> io::ErrorKind {
        self.cause.kind()
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
    /// Keeps the kind; the message names the path, the action and the cause.
    fn from(e: FsError) -> io::Error {
        io::Error::new(e.cause.kind(), e.to_string())
    }
}

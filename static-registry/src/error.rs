//! The errors of the generator: each names the file or value at fault and the rule broken.

use std::path::PathBuf;

/// Everything that stops the generator. Nothing is emitted when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory or file of the image tree could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The root given is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory { path: PathBuf },

    /// A file name in the tree, or the root path itself, is not UTF-8.
    #[error("{path}: name is not valid UTF-8")]
    NonUtf8Name { path: PathBuf },

    /// An image directory's name is not a valid repository name.
    #[error("{path}: invalid repository name: {reason}")]
    InvalidRepositoryName { path: PathBuf, reason: String },

    /// A tag directory's name is not a valid tag.
    #[error("{path}: invalid tag: {reason}")]
    InvalidTag { path: PathBuf, reason: String },

    /// A manifest file is not JSON.
    #[error("{path}: not a JSON manifest: {source}")]
    InvalidManifestJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A manifest file, or a descriptor in an index, breaks the manifest format.
    #[error("{path}: {reason}")]
    InvalidManifest { path: PathBuf, reason: String },

    /// A manifest file is larger than registries accept.
    #[error("{path}: manifest is {size} bytes, more than the {limit} bytes a manifest may hold")]
    ManifestTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// A child manifest's content does not hash to the digest its index gives it.
    #[error("{path}: content has digest {actual}, but the index lists it as {expected}")]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// `--name-prefix` could not be written into nginx locations safely.
    #[error("invalid name prefix {value:?}: {reason}")]
    InvalidNamePrefix { value: String, reason: String },

    /// `--server-root` could not be written into nginx `alias` directives safely.
    #[error("invalid server root {value:?}: {reason}")]
    InvalidServerRoot { value: String, reason: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

//! The one error type of the crate: every variant names the image (or file) and what failed.

use std::path::PathBuf;

/// Everything that can go wrong while pulling, building or deduplicating images.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(transparent)]
    InvalidReference(#[from] buildchain_oci_types::ReferenceError),

    #[error(transparent)]
    InvalidPlatform(#[from] buildchain_oci_types::PlatformError),

    #[error("{image}: registry {registry} unreachable: {detail}")]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
    },

    #[error("{image}: authentication refused by {registry}: {detail}")]
    AuthRefused {
        image: String,
        registry: String,
        detail: String,
    },

    /// The transfer failed other than by a missing connection: a refused redirect, a body
    /// larger or slower than allowed, a time limit.
    #[error("{image}: {what}: {detail}")]
    Transfer {
        image: String,
        what: String,
        detail: String,
    },

    #[error("{image}: {what}: HTTP {status} from {url}{detail}")]
    Http {
        image: String,
        what: String,
        status: u16,
        url: String,
        detail: String,
    },

    #[error(
        "{image}: manifest does not match the pinned digest: expected {expected}, got {actual}"
    )]
    ManifestDigestMismatch {
        image: String,
        expected: String,
        actual: String,
    },

    #[error("{image}: blob {digest} failed verification: {detail}")]
    BlobVerification {
        image: String,
        digest: String,
        detail: String,
    },

    #[error("{image}: unsupported manifest media type {media_type:?} (supported: Docker v2 schema 2, OCI image manifest, manifest list, OCI index)")]
    UnsupportedMediaType { image: String, media_type: String },

    #[error("{image}: the index has no manifest for platform {platform} (available: {available})")]
    PlatformNotFound {
        image: String,
        platform: String,
        available: String,
    },

    #[error("{image}: malformed manifest: {detail}")]
    MalformedManifest { image: String, detail: String },

    #[error("{image}: image definition {path}: {detail}")]
    Definition {
        image: String,
        path: PathBuf,
        detail: String,
    },

    #[error("{image}: {detail}")]
    Build { image: String, detail: String },

    #[error("{}: not replaced: it holds {found:?}, which is not part of an image (skopeo dir: layout)", path.display())]
    NotAnImageDirectory { path: PathBuf, found: String },

    #[error("auth file {path}: {detail}")]
    AuthFile { path: PathBuf, detail: String },

    #[error(transparent)]
    Fs(#[from] buildchain_fs::FsError),

    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl OciError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        OciError::Io {
            path: path.into(),
            cause: source,
        }
    }
}

/// Adds the path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, OciError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, OciError> {
        self.map_err(|e| OciError::io(path, e))
    }
}

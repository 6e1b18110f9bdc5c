//! Typed errors: each names the archive or file and the rule it broke.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{path}: cannot {action}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Fs(#[from] buildchain_fs::FsError),
    #[error(transparent)]
    Iso(#[from] buildchain_iso9660::IsoError),
    #[error("{path}: neither an ISO image nor a directory")]
    NotAnArchive { path: PathBuf },
    #[error("{archive}: {}: {reason}", entry.escape_debug())]
    BadEntry {
        archive: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("{archive}: {reason}")]
    BadArchive { archive: PathBuf, reason: String },
}

impl ReleaseError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        cause: std::io::Error,
    ) -> Self {
        ReleaseError::Io {
            action,
            path: path.into(),
            cause,
        }
    }
}

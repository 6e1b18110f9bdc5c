//! The one error type of the crate: every variant names the file, package or URL at fault
//! and the rule that was broken.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while building, indexing or fetching packages.
#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    /// A file could not be read or written.
    #[error("{action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
    /// A package definition (`package.toml`) breaks a rule.
    #[error("package definition {path}: {rule}")]
    Definition { path: PathBuf, rule: String },
    /// Building a package failed.
    #[error("package {package}: {rule}")]
    Build { package: String, rule: String },
    /// An RPM file could not be read (not an RPM, truncated, inconsistent header).
    #[error("RPM file {path}: {rule}")]
    ReadPackage { path: PathBuf, rule: String },
    /// Repository metadata (repomd.xml, primary.xml) is malformed or lies.
    #[error("repository {repository}: {file}: {rule}")]
    Metadata {
        repository: String,
        file: String,
        rule: String,
    },
    /// A network or server error while talking to a repository.
    #[error("repository {repository}: GET {url}: {rule}")]
    Http {
        repository: String,
        url: String,
        rule: String,
    },
    /// A downloaded package does not match the checksum or size its repository announced.
    #[error("package {package}: downloaded from {url}: {rule}")]
    Corrupted {
        package: String,
        url: String,
        rule: String,
    },
    /// A requested package is not in any repository (or not in the pinned version).
    #[error("package {package}: not found: {rule}")]
    NotFound { package: String, rule: String },
    /// A requirement that nothing in the repositories provides.
    #[error("package {package}: requirement '{requirement}' is not provided by any package of the repositories (searched: {searched})")]
    Unresolvable {
        package: String,
        requirement: String,
        searched: String,
    },
    /// A file listed with its checksum elsewhere than in repodata (a lock's line, named in
    /// `origin`) could not be downloaded or verified.
    #[error("{origin}: {cause}")]
    Listed {
        origin: String,
        cause: Box<RpmError>,
    },
    /// A download manifest is unreadable.
    #[error("download manifest {path}: {rule}")]
    Manifest { path: PathBuf, rule: String },
    /// A file-system operation failed (the path and action are in the message).
    #[error(transparent)]
    Fs(#[from] buildchain_fs::FsError),
    /// Options given to the library are invalid.
    #[error("invalid option: {0}")]
    Options(String),
    /// A fetch failed after it had started changing `dest`, and `dest` could not be put
    /// back as it was: unlike every other error, `dest` is not as before.
    #[error("{failure}; and {dest} could not be restored as it was: {rollback}")]
    NotRestored {
        dest: PathBuf,
        failure: String,
        rollback: String,
    },
}

impl RpmError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        RpmError::Io {
            action,
            path: path.into(),
            cause: source,
        }
    }
}

//! The abstract archive the validator reads: an unpacked directory or an ISO image.
//!
//! Paths are `/`-separated and relative to the archive root (`""` is the root). A source
//! never lets a path leave the archive.

use std::io::Read;

/// What an entry is (after following links that stay inside the archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Other,
}

/// Metadata of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    pub kind: EntryKind,
    pub size: u64,
    /// Identity of the file's data (inode, extent): two paths with the same id share their
    /// content, so it is hashed once.
    pub file_id: Option<(u64, u64)>,
}

/// Facts only an ISO image has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoFacts {
    pub volume_id: String,
    pub rock_ridge: bool,
    pub joliet: bool,
}

/// Why an entry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: unsafe name: {reason}")]
    UnsafePath { path: String, reason: String },
    #[error("{path}: link leads outside the archive")]
    Escapes { path: String },
    #[error("{path}: {message}")]
    Corrupt { path: String, message: String },
}

impl SourceError {
    pub fn path(&self) -> &str {
        match self {
            SourceError::Io { path, .. }
            | SourceError::UnsafePath { path, .. }
            | SourceError::Escapes { path }
            | SourceError::Corrupt { path, .. } => path,
        }
    }

    /// The error without its path (the finding carries the path).
    pub fn reason(&self) -> String {
        match self {
            SourceError::Io { cause: source, .. } => source.to_string(),
            SourceError::UnsafePath { reason, .. } => format!("unsafe name ({reason})"),
            SourceError::Escapes { .. } => "a link leading outside the archive".to_string(),
            SourceError::Corrupt { message, .. } => message.clone(),
        }
    }

    /// True for path-safety problems (as opposed to read errors).
    pub fn is_path_problem(&self) -> bool {
        matches!(
            self,
            SourceError::UnsafePath { .. } | SourceError::Escapes { .. }
        )
    }
}

/// A readable Solution archive.
pub trait ArchiveSource: Sync {
    /// `directory` or `iso`.
    fn kind(&self) -> &'static str;

    /// Metadata of `path`, `Ok(None)` when it does not exist.
    fn metadata(&self, path: &str) -> Result<Option<Metadata>, SourceError>;

    /// Names of the entries of directory `path` (sorted, raw: callers check them).
    fn list_dir(&self, path: &str) -> Result<Vec<String>, SourceError>;

    /// Opens file `path` for a streaming read.
    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, SourceError>;

    /// The target of `path` when `path` itself is a symbolic link (its directories are
    /// resolved, its last component is not followed); `Ok(None)` for anything else.
    fn link_target(&self, path: &str) -> Result<Option<String>, SourceError>;

    /// Volume facts, for ISO images.
    fn iso_facts(&self) -> Option<IsoFacts> {
        None
    }

    /// Checks the implanted isomd5sum checksum: `Ok(None)` when there is none (or the
    /// source is not an ISO), `Ok(Some((found, expected)))` otherwise.
    fn check_md5(&self) -> Result<Option<Md5Check>, SourceError> {
        Ok(None)
    }
}

/// Outcome of an implanted-MD5 check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5Check {
    pub ok: bool,
    pub found: String,
    pub expected: String,
}

/// Joins an archive path and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Why a name read from an archive cannot be used as a path component, if it cannot.
pub fn unsafe_component(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty name")
    } else if name == "." || name == ".." {
        Some("`.` or `..`")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.len() > 255 {
        Some("longer than 255 bytes")
    } else {
        None
    }
}

/// Checks every component of an archive path.
pub fn check_path(path: &str) -> Result<(), SourceError> {
    if path.is_empty() {
        return Ok(());
    }
    for component in path.split('/') {
        if let Some(reason) = unsafe_component(component) {
            return Err(SourceError::UnsafePath {
                path: path.to_string(),
                reason: reason.to_string(),
            });
        }
    }
    Ok(())
}

/// A checked archive path split into its parent and its last component; `None` for the
/// root (the empty path).
pub fn checked_parent_and_name(path: &str) -> Result<Option<(&str, &str)>, SourceError> {
    check_path(path)?;
    Ok(match path.rsplit_once('/') {
        Some(split) => Some(split),
        None if path.is_empty() => None,
        None => Some(("", path)),
    })
}

/// Error of [`read_limited`].
#[derive(Debug, thiserror::Error)]
pub enum ReadLimitedError {
    #[error("missing")]
    Missing,
    #[error("not a regular file")]
    NotAFile,
    #[error("{size} bytes, more than the {limit} allowed")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Reads a whole (small) file, refusing files larger than `limit` bytes whatever their
/// metadata claims.
pub fn read_limited(
    source: &dyn ArchiveSource,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, ReadLimitedError> {
    let meta = source.metadata(path)?.ok_or(ReadLimitedError::Missing)?;
    if meta.kind != EntryKind::File {
        return Err(ReadLimitedError::NotAFile);
    }
    if meta.size > limit {
        return Err(ReadLimitedError::TooLarge {
            size: meta.size,
            limit,
        });
    }
    let reader = source.open(path)?;
    let mut data = Vec::with_capacity(meta.size as usize);
    reader
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|source| SourceError::Io {
            path: path.to_string(),
            cause: source,
        })?;
    if data.len() as u64 > limit {
        return Err(ReadLimitedError::TooLarge {
            size: data.len() as u64,
            limit,
        });
    }
    Ok(data)
}

//! An unpacked Solution tree on disk.

use crate::source::{
    check_path, checked_parent_and_name, ArchiveSource, EntryKind, Metadata, SourceError,
};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A directory holding an unpacked Solution archive. Symbolic links are followed only when
/// they stay inside the directory; loops are reported as read errors.
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Opens `root` (which must be a directory).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a directory",
            ));
        }
        Ok(DirSource { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The on-disk path of an archive path, after checking it stays inside the root.
    /// `Ok(None)` when it does not exist.
    fn resolve(&self, path: &str) -> Result<Option<PathBuf>, SourceError> {
        check_path(path)?;
        let joined = if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        };
        match fs::symlink_metadata(&joined) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SourceError::Io {
                    path: path.to_string(),
                    cause: source,
                })
            }
            Ok(_) => {}
        }
        let real = match fs::canonicalize(&joined) {
            Ok(real) => real,
            // A dangling link: the entry exists but leads nowhere.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SourceError::Io {
                    path: path.to_string(),
                    cause: source,
                })
            }
        };
        if !real.starts_with(&self.root) {
            return Err(SourceError::Escapes {
                path: path.to_string(),
            });
        }
        Ok(Some(real))
    }
}

impl ArchiveSource for DirSource {
    fn link_target(&self, path: &str) -> Result<Option<String>, SourceError> {
        let Some((parent, name)) = checked_parent_and_name(path)? else {
            return Ok(None);
        };
        let Some(dir) = self.resolve(parent)? else {
            return Ok(None);
        };
        let entry = dir.join(name);
        let io_err = |source| SourceError::Io {
            path: path.to_string(),
            cause: source,
        };
        match fs::symlink_metadata(&entry) {
            Ok(meta) if meta.file_type().is_symlink() => fs::read_link(&entry)
                .map(|t| Some(t.to_string_lossy().into_owned()))
                .map_err(io_err),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    fn kind(&self) -> &'static str {
        "directory"
    }

    fn metadata(&self, path: &str) -> Result<Option<Metadata>, SourceError> {
        let Some(real) = self.resolve(path)? else {
            return Ok(None);
        };
        let meta = fs::metadata(&real).map_err(|source| SourceError::Io {
            path: path.to_string(),
            cause: source,
        })?;
        let kind = if meta.is_file() {
            EntryKind::File
        } else if meta.is_dir() {
            EntryKind::Dir
        } else {
            EntryKind::Other
        };
        Ok(Some(Metadata {
            kind,
            size: meta.len(),
            file_id: Some((meta.dev(), meta.ino())),
        }))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_string(),
            cause: source,
        };
        let real = self.resolve(path)?.ok_or_else(|| {
            io_err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such directory",
            ))
        })?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&real).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let real = self.resolve(path)?.ok_or_else(|| SourceError::Io {
            path: path.to_string(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })?;
        let file = fs::File::open(real).map_err(|source| SourceError::Io {
            path: path.to_string(),
            cause: source,
        })?;
        Ok(Box::new(file))
    }
}

//! Temporary paths next to their targets, removed unless kept: what an interrupted or
//! failed run leaves never looks complete.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::RpmError;

/// A temporary name next to `target`, in the convention of buildchain-fs (so a killed
/// run's leftovers are recognised and removed by the next).
pub(crate) fn temp_sibling(target: &Path) -> Result<PathBuf, RpmError> {
    Ok(buildchain_fs::temp_path_for(target)?)
}

/// A path removed (file or directory tree) when dropped, unless [`TempPath::keep`] was called.
pub(crate) struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    pub(crate) fn new(path: PathBuf) -> Self {
        TempPath { path: Some(path) }
    }
    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }
    /// Stops the removal on drop.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.path.take().unwrap_or_default()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            if path.is_dir() {
                let _ = fs::remove_dir_all(&path);
            } else {
                let _ = fs::remove_file(&path);
            }
        }
    }
}

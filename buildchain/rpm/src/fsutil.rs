//! Writing files and directories so that an interrupted or failed run leaves nothing that
//! looks complete: write to a temporary name next to the target, rename when done.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::RpmError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary name next to `target`: `.<file name>.tmp-<pid>-<n>`.
pub(crate) fn temp_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.tmp-{}-{n}", process::id()))
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

/// Creates `target` through `fill`, atomically: nothing at `target` unless `fill` succeeded.
pub(crate) fn write_atomically(
    target: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), RpmError>,
) -> Result<(), RpmError> {
    let temp = TempPath::new(temp_sibling(target));
    let file = File::create(temp.path())
        .map_err(|e| RpmError::io("creating", temp.path().to_path_buf(), e))?;
    let mut writer = BufWriter::new(file);
    fill(&mut writer)?;
    writer
        .flush()
        .map_err(|e| RpmError::io("writing", temp.path().to_path_buf(), e))?;
    drop(writer);
    fs::rename(temp.path(), target).map_err(|e| RpmError::io("renaming into", target, e))?;
    temp.keep();
    Ok(())
}

//! Walking trees (walkdir), never following symbolic links, with errors naming the path.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::FsError;

/// Maps a walkdir error to an [`FsError`] naming the entry (or `root`).
pub(crate) fn walk_error(root: &Path) -> impl Fn(walkdir::Error) -> FsError + '_ {
    move |e| {
        let path = e.path().unwrap_or(root).to_path_buf();
        let source = e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("file system loop"));
        FsError::new("walk", path, source)
    }
}

/// Every entry under `dir` (the directory itself first) with its metadata, not following
/// symbolic links, sorted by path bytes. A missing `dir` is empty.
pub fn walk_tree(dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>, FsError> {
    if fs::symlink_metadata(dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.map_err(walk_error(dir))?;
        let meta = entry.metadata().map_err(walk_error(dir))?;
        out.push((entry.into_path(), meta));
    }
    use std::os::unix::ffi::OsStrExt;
    out[1..].sort_unstable_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    Ok(out)
}

/// Every file (anything but a directory: links and special files included) under `dir`,
/// sorted by path bytes. A missing `dir` is an empty list.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    Ok(walk_tree(dir)?
        .into_iter()
        .filter(|(_, meta)| !meta.is_dir())
        .map(|(path, _)| path)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("b/c")).unwrap();
        fs::write(d.join("b/c/f"), "x").unwrap();
        fs::write(d.join("a"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("link")).unwrap();
        let names: Vec<String> = walk_tree(d)
            .unwrap()
            .iter()
            .map(|(p, _)| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["", "a", "b", "b/c", "b/c/f", "link"]);
        let files: Vec<PathBuf> = files_under(d).unwrap();
        assert_eq!(files, [d.join("a"), d.join("b/c/f"), d.join("link")]);
        assert!(walk_tree(&d.join("missing")).unwrap().is_empty());
    }
}

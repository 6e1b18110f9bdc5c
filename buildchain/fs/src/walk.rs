//! Walking trees, never following symbolic links, with errors naming the path.

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
/// symbolic links, sorted by path bytes. A missing `dir` is empty. Sub-directories are
/// read in parallel (rayon): a no-op build stats tens of thousands of entries, and the
/// stats are what it waits for.
pub fn walk_tree(dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>, FsError> {
    walk_tree_reusing(dir, &|_| None)
}

/// A walk already made of a directory: its entries as [`walk_tree`] returns them.
pub type Walked = std::sync::Arc<Vec<(PathBuf, fs::Metadata)>>;

/// [`walk_tree`], taking the entries of a sub-directory from `known` when it has a walk of
/// it (the caller vouches that nothing changed since), instead of reading it again.
pub fn walk_tree_reusing(
    dir: &Path,
    known: &(dyn Fn(&Path) -> Option<Walked> + Sync),
) -> Result<Vec<(PathBuf, fs::Metadata)>, FsError> {
    if let Some(walked) = known(dir) {
        return Ok(walked.as_ref().clone());
    }
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::new("walk", dir, e)),
    };
    let is_dir = meta.is_dir();
    let mut out = vec![(dir.to_path_buf(), meta)];
    if is_dir {
        out.extend(entries_below(dir, known)?);
    }
    use std::os::unix::ffi::OsStrExt;
    out[1..].sort_unstable_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    Ok(out)
}

/// The entries below `dir` (not sorted), its sub-directories walked in parallel.
fn entries_below(
    dir: &Path,
    known: &(dyn Fn(&Path) -> Option<Walked> + Sync),
) -> Result<Vec<(PathBuf, fs::Metadata)>, FsError> {
    use rayon::prelude::*;
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| FsError::new("walk", dir, e))? {
        let entry = entry.map_err(|e| FsError::new("walk", dir, e))?;
        // `DirEntry::metadata` does not follow links (fstatat on the directory's fd).
        let meta = entry
            .metadata()
            .map_err(|e| FsError::new("walk", entry.path(), e))?;
        entries.push((entry.path(), meta));
    }
    let below: Vec<Vec<(PathBuf, fs::Metadata)>> = entries
        .par_iter()
        .filter(|(_, meta)| meta.is_dir())
        .map(|(path, _)| match known(path) {
            // The directory itself is already listed: what is below it.
            Some(walked) => Ok(walked.iter().skip(1).cloned().collect()),
            None => entries_below(path, known),
        })
        .collect::<Result<_, _>>()?;
    entries.extend(below.into_iter().flatten());
    Ok(entries)
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

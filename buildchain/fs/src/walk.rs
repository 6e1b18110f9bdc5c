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

/// What a walk keeps of an entry's metadata: a third of `fs::Metadata`'s size, which a walk
/// of a big tree moves around and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
}

/// The kind of a walked entry (symbolic links are never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

impl From<&fs::Metadata> for Stat {
    fn from(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let file_type = meta.file_type();
        let kind = if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        };
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Stat {
            kind,
            mode: meta.mode() & 0o7777,
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

impl Stat {
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    pub fn is_file(&self) -> bool {
        self.kind == Kind::File
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == Kind::Symlink
    }
}

/// Every entry under `dir` with its [`Stat`], not following symbolic links, in depth-first
/// order: the directory itself first, then each entry in byte order of its name, each
/// directory followed by what is below it. A missing `dir` is empty. Sub-directories are
/// read in parallel (rayon): a no-op build stats tens of thousands of entries, and the
/// stats are what it waits for. Each entry is copied once into the result (a walk that
/// concatenated per-directory lists level by level moved a big tree many times over).
pub fn walk_tree(dir: &Path) -> Result<Vec<(PathBuf, Stat)>, FsError> {
    walk_tree_reusing(dir, &|_| None)
}

/// A walk already made of a directory: its entries as [`walk_tree`] returns them.
pub type Walked = std::sync::Arc<Vec<(PathBuf, Stat)>>;

/// [`walk_tree`], taking the entries of a sub-directory from `known` when it has a walk of
/// it (the caller vouches that nothing changed since), instead of reading it again.
pub fn walk_tree_reusing(
    dir: &Path,
    known: &(dyn Fn(&Path) -> Option<Walked> + Sync),
) -> Result<Vec<(PathBuf, Stat)>, FsError> {
    if let Some(walked) = known(dir) {
        return Ok(walked.as_ref().clone());
    }
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::new("walk", dir, e)),
    };
    let stat = Stat::from(&meta);
    if !stat.is_dir() {
        return Ok(vec![(dir.to_path_buf(), stat)]);
    }
    let listing = list(dir, known)?;
    let mut out = Vec::with_capacity(1 + listing.count());
    out.push((dir.to_path_buf(), stat));
    listing.flatten_into(&mut out);
    Ok(out)
}

/// One directory's entries (sorted by name) and, for each sub-directory among them, what
/// is below it.
enum Listing {
    Read {
        entries: Vec<(PathBuf, Stat)>,
        /// Per entry: what is below it (`None` for what is not a directory).
        below: Vec<Option<Listing>>,
    },
    /// Below a directory a walk of this run already read (its entries but the first).
    Known(Walked),
}

impl Listing {
    fn count(&self) -> usize {
        match self {
            Listing::Read { entries, below } => {
                entries.len() + below.iter().flatten().map(Listing::count).sum::<usize>()
            }
            Listing::Known(walked) => walked.len().saturating_sub(1),
        }
    }

    fn flatten_into(self, out: &mut Vec<(PathBuf, Stat)>) {
        match self {
            Listing::Read { entries, below } => {
                for (entry, below) in entries.into_iter().zip(below) {
                    out.push(entry);
                    if let Some(below) = below {
                        below.flatten_into(out);
                    }
                }
            }
            Listing::Known(walked) => out.extend(walked.iter().skip(1).cloned()),
        }
    }
}

/// Reads `dir` and, in parallel, its sub-directories.
fn list(dir: &Path, known: &(dyn Fn(&Path) -> Option<Walked> + Sync)) -> Result<Listing, FsError> {
    use rayon::prelude::*;
    if let Some(walked) = known(dir) {
        return Ok(Listing::Known(walked));
    }
    let mut entries = Vec::new();
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    // What vanishes while it is walked (a writer's staging directory) was not there.
    let read = match fs::read_dir(dir) {
        Err(e) if gone(&e) => {
            return Ok(Listing::Read {
                entries,
                below: Vec::new(),
            })
        }
        read => read.map_err(|e| FsError::new("walk", dir, e))?,
    };
    for entry in read {
        let entry = entry.map_err(|e| FsError::new("walk", dir, e))?;
        // `DirEntry::metadata` does not follow links (fstatat on the directory's fd).
        let meta = match entry.metadata() {
            Err(e) if gone(&e) => continue,
            meta => meta.map_err(|e| FsError::new("walk", entry.path(), e))?,
        };
        entries.push((entry.path(), Stat::from(&meta)));
    }
    {
        use std::os::unix::ffi::OsStrExt;
        entries.sort_unstable_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    }
    let below = entries
        .par_iter()
        .map(|(path, stat)| stat.is_dir().then(|| list(path, known)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listing::Read { entries, below })
}

/// Every file (anything but a directory: links and special files included) under `dir`,
/// sorted by path bytes. A missing `dir` is an empty list.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, FsError> {
    use std::os::unix::ffi::OsStrExt;
    let mut files: Vec<PathBuf> = walk_tree(dir)?
        .into_iter()
        .filter(|(_, stat)| !stat.is_dir())
        .map(|(path, _)| path)
        .collect();
    files.sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    Ok(files)
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
        // Depth first: what is below a directory follows it, before its next sibling.
        fs::create_dir(d.join("b-side")).unwrap();
        let names: Vec<String> = walk_tree(d)
            .unwrap()
            .iter()
            .map(|(p, _)| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["", "a", "b", "b/c", "b/c/f", "b-side", "link"]);
        fs::remove_dir(d.join("b-side")).unwrap();
        let files: Vec<PathBuf> = files_under(d).unwrap();
        assert_eq!(files, [d.join("a"), d.join("b/c/f"), d.join("link")]);
        assert!(walk_tree(&d.join("missing")).unwrap().is_empty());
    }
}

//! Hardlink identical regular files of a tree, like util-linux `hardlink -c`.
//!
//! Files are grouped by (file system, size); only groups with more than one inode are
//! hashed (SHA-256, in parallel with rayon); files whose size and hash are equal are
//! linked to one inode: the oldest (earliest mtime; ties: most links, then first path),
//! whose metadata is kept, as `hardlink -c` does with content-only comparison. Paths that
//! already share an inode are left alone. Each replacement is atomic: a link under a
//! temporary name in the same directory, renamed over the duplicate.

use crate::digest::digest_file;
use crate::error::IoContext;
use crate::OciError;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a dedup run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DedupReport {
    /// Regular files examined.
    pub files_scanned: u64,
    /// Paths replaced by a hardlink.
    pub files_linked: u64,
    /// Bytes freed: sizes of the inodes whose last link in the tree was replaced.
    pub bytes_saved: u64,
}

/// One inode met in the tree, with every path of it found.
struct Inode {
    paths: Vec<PathBuf>,
    size: u64,
    mtime: (i64, i64),
    nlink: u64,
}

/// Hardlinks identical regular files under `dir`. Empty files are left alone (as
/// `hardlink` does by default). Symlinks are not followed.
pub fn dedup_tree(dir: &Path) -> Result<DedupReport, OciError> {
    let mut inodes: BTreeMap<(u64, u64), Inode> = BTreeMap::new();
    let mut report = DedupReport::default();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            OciError::io(
                path,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop")),
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(|e| {
            OciError::io(
                entry.path(),
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("metadata")),
            )
        })?;
        report.files_scanned += 1;
        if meta.len() == 0 {
            continue;
        }
        inodes
            .entry((meta.dev(), meta.ino()))
            .or_insert_with(|| Inode {
                paths: Vec::new(),
                size: meta.len(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                nlink: meta.nlink(),
            })
            .paths
            .push(entry.into_path());
    }

    let mut by_size: HashMap<(u64, u64), Vec<Inode>> = HashMap::new();
    for ((dev, _), inode) in inodes {
        by_size.entry((dev, inode.size)).or_default().push(inode);
    }
    let candidates: Vec<Inode> = by_size
        .into_values()
        .filter(|g| g.len() > 1)
        .flatten()
        .collect();

    let hashed: Vec<(Inode, String)> = candidates
        .into_par_iter()
        .map(|inode| {
            let path = &inode.paths[0];
            let (digest, size) = digest_file(path).at(path)?;
            if size != inode.size {
                return Err(OciError::io(
                    path,
                    std::io::Error::other("file changed size while deduplicating"),
                ));
            }
            Ok((inode, digest.hex().to_string()))
        })
        .collect::<Result<_, OciError>>()?;

    let mut groups: HashMap<(u64, String), Vec<Inode>> = HashMap::new();
    for (inode, hash) in hashed {
        groups.entry((inode.size, hash)).or_default().push(inode);
    }
    let mut groups: Vec<Vec<Inode>> = groups.into_values().filter(|g| g.len() > 1).collect();
    groups.sort_by(|a, b| a[0].paths[0].cmp(&b[0].paths[0]));
    for mut group in groups {
        group.sort_by(|a, b| {
            a.mtime
                .cmp(&b.mtime)
                .then(b.nlink.cmp(&a.nlink))
                .then(a.paths[0].cmp(&b.paths[0]))
        });
        let keep = &group[0].paths[0];
        for dup in &group[1..] {
            for path in &dup.paths {
                replace_with_link(keep, path)?;
                report.files_linked += 1;
            }
            if dup.nlink as usize == dup.paths.len() {
                report.bytes_saved += dup.size;
            }
        }
    }
    Ok(report)
}

/// Makes `path` a hardlink of `keep`: link under a temporary name, then rename over.
fn replace_with_link(keep: &Path, path: &Path) -> Result<(), OciError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for attempt in 0..100u32 {
        let tmp = parent.join(format!(".{name}.dedup-{}-{attempt}", std::process::id()));
        match std::fs::hard_link(keep, &tmp) {
            Ok(()) => {
                return std::fs::rename(&tmp, path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    OciError::io(path, e)
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(OciError::io(path, e)),
        }
    }
    Err(OciError::io(
        path,
        std::io::Error::other("no free temporary name"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn ino(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().ino()
    }

    fn set_mtime(p: &Path, secs: i64) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    #[test]
    fn links_identical_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir_all(root.join("c")).unwrap();
        let same = vec![7u8; 5000];
        let mut other = same.clone();
        other[4999] = 8; // same size, different content
        std::fs::write(root.join("a/one"), &same).unwrap();
        std::fs::write(root.join("a/b/two"), &same).unwrap();
        std::fs::write(root.join("c/three"), &same).unwrap();
        std::fs::write(root.join("c/different"), &other).unwrap();
        std::fs::write(root.join("c/empty1"), b"").unwrap();
        std::fs::write(root.join("c/empty2"), b"").unwrap();
        // The oldest copy keeps its metadata.
        set_mtime(&root.join("a/one"), 2_000_000_000);
        set_mtime(&root.join("a/b/two"), 1_000_000_000);
        set_mtime(&root.join("c/three"), 1_500_000_000);
        std::fs::set_permissions(root.join("a/b/two"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::os::unix::fs::symlink("one", root.join("a/link")).unwrap();

        let report = dedup_tree(root).unwrap();
        assert_eq!(report.files_scanned, 6);
        assert_eq!(report.files_linked, 2);
        assert_eq!(report.bytes_saved, 10000);
        let kept = ino(&root.join("a/b/two"));
        assert_eq!(ino(&root.join("a/one")), kept);
        assert_eq!(ino(&root.join("c/three")), kept);
        assert_ne!(ino(&root.join("c/different")), kept);
        assert_ne!(ino(&root.join("c/empty1")), ino(&root.join("c/empty2")));
        let meta = std::fs::metadata(root.join("a/one")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.mtime(), 1_000_000_000);
        assert_eq!(std::fs::read(root.join("c/different")).unwrap(), other);
        assert!(std::fs::symlink_metadata(root.join("a/link"))
            .unwrap()
            .file_type()
            .is_symlink());
        // No temporary names left behind.
        let leftovers: Vec<_> = walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".dedup-"))
            .collect();
        assert!(leftovers.is_empty());

        // A second run finds nothing to do.
        let again = dedup_tree(root).unwrap();
        assert_eq!((again.files_linked, again.bytes_saved), (0, 0));
    }

    #[test]
    fn relinks_every_path_of_a_duplicate_inode() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("x"), b"content").unwrap();
        std::fs::write(root.join("y"), b"content").unwrap();
        std::fs::hard_link(root.join("y"), root.join("y2")).unwrap();
        set_mtime(&root.join("x"), 1_000_000_000);
        set_mtime(&root.join("y"), 1_100_000_000);
        let report = dedup_tree(root).unwrap();
        assert_eq!(report.files_linked, 2);
        assert_eq!(report.bytes_saved, 7);
        let x = ino(&root.join("x"));
        assert_eq!(ino(&root.join("y")), x);
        assert_eq!(ino(&root.join("y2")), x);
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let err = dedup_tree(Path::new("/nonexistent/dedup-dir"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dedup-dir"), "{err}");
    }
}

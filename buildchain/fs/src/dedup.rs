//! Hardlink identical regular files of a tree, like util-linux `hardlink -c`.
//!
//! Files are grouped by (file system, size); only groups with more than one inode are
//! read. Candidates of a group are mapped (mmap, no copy) and compared side by side,
//! chunk by chunk, byte for byte: a group splits as soon as contents differ (usually in the first 64 KiB), and
//! each split part goes on in parallel (rayon). Every byte is read once and nothing is
//! linked on a hash alone. (Groups larger than [`MAX_OPEN`] are compared by SHA-256 first,
//! then confirmed byte for byte against their representative.) Identical files are linked
//! to one inode: the oldest (earliest mtime; ties: most links, then first path),
//! whose metadata is kept, as `hardlink -c` does with content-only comparison. Paths that
//! already share an inode are left alone. Each replacement is atomic: a link under a
//! temporary name in the same directory, renamed over the duplicate.

use crate::digest::sha256_file;
use crate::error::{FsError, IoResultExt};
use crate::temp::temp_path_for;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
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
///
/// Contract: no other process truncates files of the tree while this runs (files are
/// memory-mapped for comparison; a file truncated under the map would kill the process
/// with SIGBUS). Build trees meet it; do not point this at a live, shared directory.
pub fn dedup_tree(dir: &Path) -> Result<DedupReport, FsError> {
    let mut inodes: BTreeMap<(u64, u64), Inode> = BTreeMap::new();
    let mut report = DedupReport::default();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(crate::walk::walk_error(dir))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry.metadata().map_err(crate::walk::walk_error(dir))?;
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
    let candidates: Vec<Vec<Inode>> = by_size.into_values().filter(|g| g.len() > 1).collect();
    let classes: Vec<Vec<Vec<Inode>>> = candidates
        .into_par_iter()
        .map(identical_classes)
        .collect::<Result<_, FsError>>()?;
    let mut groups: Vec<Vec<Inode>> = classes
        .into_iter()
        .flatten()
        .filter(|g| g.len() > 1)
        .collect();
    for group in &mut groups {
        group.sort_by(|a, b| {
            a.mtime
                .cmp(&b.mtime)
                .then(b.nlink.cmp(&a.nlink))
                .then(a.paths[0].cmp(&b.paths[0]))
        });
    }
    groups.sort_by(|a, b| a[0].paths[0].cmp(&b[0].paths[0]));
    // Replacing a duplicate frees its blocks inside rename(2), the slow part on ext4:
    // groups are relinked in parallel.
    let jobs: Vec<(&Path, &Inode)> = groups
        .iter()
        .flat_map(|g| g[1..].iter().map(move |dup| (g[0].paths[0].as_path(), dup)))
        .collect();
    let done: Vec<(u64, u64)> = jobs
        .into_par_iter()
        .map(|(keep, dup)| {
            for path in &dup.paths {
                replace_with_link(keep, path)?;
            }
            let saved = if dup.nlink as usize == dup.paths.len() {
                dup.size
            } else {
                0
            };
            Ok((dup.paths.len() as u64, saved))
        })
        .collect::<Result<_, FsError>>()?;
    for (linked, saved) in done {
        report.files_linked += linked;
        report.bytes_saved += saved;
    }
    Ok(report)
}

/// Most files of one size group compared side by side (each is mapped meanwhile).
pub const MAX_OPEN: usize = 256;
const FIRST_CHUNK: usize = 64 << 10;
const CHUNK: usize = 4 << 20;

struct Member {
    inode: Inode,
    map: memmap2::Mmap,
}

/// Splits a group of same-size inodes into classes of identical content.
fn identical_classes(group: Vec<Inode>) -> Result<Vec<Vec<Inode>>, FsError> {
    if group.len() > MAX_OPEN {
        return hashed_classes(group);
    }
    let size = group[0].size;
    let members = group
        .into_iter()
        .map(|inode| {
            let path = &inode.paths[0];
            let file = File::open(path).at("open", path)?;
            let len = file.metadata().at("inspect", path)?.len();
            if len != size {
                return Err(FsError::new(
                    "compare (it changed size while deduplicating)",
                    path,
                    std::io::Error::from(std::io::ErrorKind::InvalidData),
                ));
            }
            // SAFETY: the map is read-only and private to this function; the tree being
            // deduplicated must not be truncated by another process meanwhile (a truncated
            // file would raise SIGBUS), which is the contract of `dedup_tree`.
            let map = unsafe { memmap2::MmapOptions::new().map(&file) }.at("map", path)?;
            let _ = map.advise(memmap2::Advice::Sequential);
            Ok(Member { inode, map })
        })
        .collect::<Result<Vec<_>, FsError>>()?;
    Ok(compare_from(members, 0, size as usize))
}

/// Compares the class chunk by chunk from `offset`; splits it when contents differ and
/// goes on with each part in parallel.
fn compare_from(mut members: Vec<Member>, mut offset: usize, size: usize) -> Vec<Vec<Inode>> {
    loop {
        if members.len() < 2 || offset >= size {
            return vec![members.into_iter().map(|m| m.inode).collect()];
        }
        if offset == FIRST_CHUNK {
            // Still alike after the first chunk: these will very likely be read to the
            // end, so fault their pages in with one call each rather than page by page.
            for m in &members {
                let _ = m
                    .map
                    .advise_range(memmap2::Advice::PopulateRead, offset, size - offset);
            }
        }
        let chunk = if offset == 0 { FIRST_CHUNK } else { CHUNK };
        let end = size.min(offset + chunk);
        let mut parts: Vec<Vec<Member>> = Vec::new();
        for m in members {
            match parts
                .iter_mut()
                .find(|p| p[0].map[offset..end] == m.map[offset..end])
            {
                Some(part) => part.push(m),
                None => parts.push(vec![m]),
            }
        }
        offset = end;
        parts.retain(|p| p.len() > 1);
        if parts.len() <= 1 {
            match parts.pop() {
                Some(p) => members = p,
                None => return Vec::new(),
            }
            continue;
        }
        return parts
            .into_par_iter()
            .map(|p| compare_from(p, offset, size))
            .flatten()
            .collect();
    }
}

/// For huge groups: SHA-256 classes, each confirmed byte for byte against its first file.
fn hashed_classes(group: Vec<Inode>) -> Result<Vec<Vec<Inode>>, FsError> {
    let hashed: Vec<(Inode, String)> = group
        .into_par_iter()
        .map(|inode| {
            let hash = sha256_file(&inode.paths[0])?;
            Ok((inode, hash))
        })
        .collect::<Result<_, FsError>>()?;
    let mut by_hash: HashMap<String, Vec<Inode>> = HashMap::new();
    for (inode, hash) in hashed {
        by_hash.entry(hash).or_default().push(inode);
    }
    let mut out = Vec::new();
    for class in by_hash.into_values().filter(|c| c.len() > 1) {
        let mut rest = class.into_iter();
        let Some(first) = rest.next() else { continue };
        let mut same = Vec::new();
        for inode in rest {
            if same_bytes(&first.paths[0], &inode.paths[0])? {
                same.push(inode);
            }
        }
        same.insert(0, first);
        out.push(same);
    }
    Ok(out)
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool, FsError> {
    let mut fa = File::open(a).at("open", a)?;
    let mut fb = File::open(b).at("open", b)?;
    let (mut ba, mut bb) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    loop {
        let na = read_full(&mut fa, &mut ba).at("read", a)?;
        let nb = read_full(&mut fb, &mut bb).at("read", b)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Makes `path` a hardlink of `keep`: link under a temporary name (the shared convention:
/// a killed run's leftover is recognised and removed), then rename over.
fn replace_with_link(keep: &Path, path: &Path) -> Result<(), FsError> {
    let tmp = temp_path_for(path)?;
    std::fs::hard_link(keep, &tmp).at("link", &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        FsError::new("replace with a link", path, e)
    })
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
    fn hashed_fallback_confirms_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut group = Vec::new();
        for (i, content) in [&b"aaaa"[..], b"bbbb", b"aaaa", b"aaaa"].iter().enumerate() {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, content).unwrap();
            group.push(Inode {
                paths: vec![p],
                size: 4,
                mtime: (0, 0),
                nlink: 1,
            });
        }
        let classes = hashed_classes(group).unwrap();
        assert_eq!(classes.len(), 1);
        assert_eq!(classes[0].len(), 3);
        assert!(!same_bytes(&dir.path().join("f0"), &dir.path().join("f1")).unwrap());
    }

    #[test]
    fn large_files_differing_late_are_not_linked() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![1u8; 3 * CHUNK + 17];
        let mut late = big.clone();
        *late.last_mut().unwrap() = 2;
        std::fs::write(dir.path().join("a"), &big).unwrap();
        std::fs::write(dir.path().join("b"), &late).unwrap();
        std::fs::write(dir.path().join("c"), &big).unwrap();
        let report = dedup_tree(dir.path()).unwrap();
        assert_eq!(report.files_linked, 1);
        assert_eq!(ino(&dir.path().join("a")), ino(&dir.path().join("c")));
        assert_ne!(ino(&dir.path().join("a")), ino(&dir.path().join("b")));
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let err = dedup_tree(Path::new("/nonexistent/dedup-dir"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/dedup-dir"), "{err}");
    }
}

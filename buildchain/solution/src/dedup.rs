//! Hardlinks identical files (like util-linux `hardlink -c`), so that alias tags and layers
//! shared between images are stored once. A small in-crate helper: the oci crate's dedup is
//! written in parallel and can replace it.

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Device and inode of a file.
type FileId = (u64, u64);
/// A file found under the root: path, identity.
type Found = (PathBuf, FileId);

/// What [`dedup_tree`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupStats {
    pub files: usize,
    pub linked: usize,
    pub bytes_saved: u64,
}

/// Replaces every regular file under `root` whose content equals an earlier one (same
/// size, same SHA-256) by a hardlink to it. Replacement is atomic (link to a temporary
/// name, then rename). Symbolic links are not followed.
pub fn dedup_tree(root: &Path) -> std::io::Result<DedupStats> {
    let mut files = Vec::new();
    collect(root, &mut files, 0)?;
    let mut stats = DedupStats {
        files: files.len(),
        ..DedupStats::default()
    };
    // Files named by a digest (blobs) can only equal files of the same name: grouping by
    // (size, digest name) spares hashing distinct layers of one size.
    let mut by_key: BTreeMap<(u64, String), Vec<Found>> = BTreeMap::new();
    for (path, size, id) in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| crate::names::sha256_hex(&format!("sha256:{n}")).is_some())
            .unwrap_or_default();
        by_key.entry((size, name)).or_default().push((path, id));
    }
    let candidates: Vec<(u64, Vec<Found>)> = by_key
        .into_iter()
        .filter(|((size, _), group)| *size > 0 && group.iter().any(|(_, id)| *id != group[0].1))
        .map(|((size, _), group)| (size, group))
        .collect();
    type Hashed = (PathBuf, FileId, String);
    let hashed: Vec<(u64, Vec<Hashed>)> = candidates
        .into_par_iter()
        .map(|(size, group)| {
            let hashed = group
                .into_iter()
                .map(|(path, id)| hash(&path).map(|h| (path, id, h)))
                .collect::<std::io::Result<Vec<_>>>()?;
            Ok((size, hashed))
        })
        .collect::<std::io::Result<_>>()?;
    for (size, group) in hashed {
        let mut first: BTreeMap<String, Found> = BTreeMap::new();
        for (path, id, digest) in group {
            match first.get(&digest) {
                None => {
                    first.insert(digest, (path, id));
                }
                Some((_, kept_id)) if *kept_id == id => {}
                Some((kept, _)) => {
                    relink(kept, &path)?;
                    stats.linked += 1;
                    stats.bytes_saved += size;
                }
            }
        }
    }
    Ok(stats)
}

fn collect(
    dir: &Path,
    out: &mut Vec<(PathBuf, u64, (u64, u64))>,
    depth: usize,
) -> std::io::Result<()> {
    if depth > 64 {
        return Err(std::io::Error::other(format!(
            "{}: directories nested too deeply",
            dir.display()
        )));
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            collect(&entry.path(), out, depth + 1)?;
        } else if meta.is_file() {
            out.push((entry.path(), meta.len(), (meta.dev(), meta.ino())));
        }
    }
    Ok(())
}

fn hash(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn relink(kept: &Path, replaced: &Path) -> std::io::Result<()> {
    let parent = replaced.parent().unwrap_or(Path::new("."));
    let name = replaced
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(".{name}.dedup-{}", std::process::id()));
    let _ = fs::remove_file(&temp);
    fs::hard_link(kept, &temp)?;
    if let Err(e) = fs::rename(&temp, replaced) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_files_become_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/1")).unwrap();
        fs::create_dir_all(dir.path().join("b/2")).unwrap();
        fs::write(dir.path().join("a/1/x"), b"same content").unwrap();
        fs::write(dir.path().join("b/2/y"), b"same content").unwrap();
        fs::write(dir.path().join("b/2/z"), b"other content").unwrap();
        let stats = dedup_tree(dir.path()).unwrap();
        assert_eq!(stats.linked, 1);
        assert_eq!(stats.bytes_saved, 12);
        let x = fs::metadata(dir.path().join("a/1/x")).unwrap();
        let y = fs::metadata(dir.path().join("b/2/y")).unwrap();
        assert_eq!(x.ino(), y.ino());
        assert_eq!(fs::read(dir.path().join("b/2/y")).unwrap(), b"same content");
        assert_eq!(dedup_tree(dir.path()).unwrap().linked, 0);
    }
}

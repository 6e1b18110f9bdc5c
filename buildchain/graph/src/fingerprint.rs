//! Content fingerprints of files, with a metadata fast path, keyed by portable names.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use buildchain_fs::{Kind, Stat};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Maps absolute paths to portable keys (`alias:relative/path`) so that fingerprints and
/// the state log do not depend on where the tree lives. The longest matching root wins;
/// paths under no root are kept as they are.
#[derive(Debug, Clone, Default)]
pub struct PathKeys {
    roots: Vec<(String, PathBuf)>,
}

impl PathKeys {
    pub fn new() -> Self {
        PathKeys::default()
    }

    /// Adds a root: paths under `path` get the key `alias:<relative path>`.
    pub fn with_root(mut self, alias: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.roots.push((alias.into(), path.into()));
        self.roots
            .sort_by_key(|(_, p)| std::cmp::Reverse(p.as_os_str().len()));
        self
    }

    /// The portable key of `path`.
    pub fn key(&self, path: &Path) -> String {
        use std::os::unix::ffi::OsStrExt;
        // Byte-wise prefix test: much cheaper than component-wise `strip_prefix` on the
        // tens of thousands of paths of a big tree (roots are kept without a trailing `/`).
        let bytes = path.as_os_str().as_bytes();
        for (alias, root) in &self.roots {
            let root = root.as_os_str().as_bytes();
            let root = root.strip_suffix(b"/").unwrap_or(root);
            if let Some(rest) = bytes.strip_prefix(root) {
                if rest.is_empty() {
                    return format!("{alias}:");
                }
                if let Some(rel) = rest.strip_prefix(b"/") {
                    let mut key = String::with_capacity(alias.len() + 1 + rel.len());
                    key.push_str(alias);
                    key.push(':');
                    key.push_str(&String::from_utf8_lossy(rel));
                    return key;
                }
            }
        }
        path.display().to_string()
    }

    /// Whether `key` is the key of `path` ([`PathKeys::key`] without building it: a check
    /// compares each entry with the recorded one at the same position).
    pub fn is_key_of(&self, path: &Path, key: &str) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        for (alias, root) in &self.roots {
            let root = root.as_os_str().as_bytes();
            let root = root.strip_suffix(b"/").unwrap_or(root);
            if let Some(rest) = bytes.strip_prefix(root) {
                let rel = if rest.is_empty() {
                    rest
                } else if let Some(rel) = rest.strip_prefix(b"/") {
                    rel
                } else {
                    continue;
                };
                if std::str::from_utf8(rel).is_err() {
                    // Keys hold such names lossily: compare with what `key` makes.
                    return self.key(path) == key;
                }
                let key = key.as_bytes();
                return key.len() == alias.len() + 1 + rel.len()
                    && key.starts_with(alias.as_bytes())
                    && key[alias.len()] == b':'
                    && &key[alias.len() + 1..] == rel;
            }
        }
        self.key(path) == key
    }

    /// The path of a key made by [`PathKeys::key`].
    pub fn path(&self, key: &str) -> PathBuf {
        if let Some((alias, rel)) = key.split_once(':') {
            if let Some((_, root)) = self.roots.iter().find(|(a, _)| a == alias) {
                return if rel.is_empty() {
                    root.clone()
                } else {
                    root.join(rel)
                };
            }
        }
        PathBuf::from(key)
    }
}

/// The recorded state of one file, directory or (inside tree deps) symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stamp {
    File {
        sha256: [u8; 32],
        size: u64,
        mtime_ns: i64,
        /// Any write to the file changes it, even one that puts the mtime back.
        ctime_ns: i64,
        ino: u64,
        /// Permission bits: part of the content (copies keep them).
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Link {
        target: String,
    },
    /// A FIFO, socket or device found in an output: never read.
    Special {
        mode: u32,
    },
}

impl Stamp {
    /// Whether two stamps have the same [`Stamp::content`], without building it.
    pub fn same_content(&self, other: &Stamp) -> bool {
        match (self, other) {
            (
                Stamp::File {
                    sha256: a,
                    mode: ma,
                    ..
                },
                Stamp::File {
                    sha256: b,
                    mode: mb,
                    ..
                },
            ) => a == b && ma == mb,
            (Stamp::Dir { mode: a }, Stamp::Dir { mode: b }) => a == b,
            (Stamp::Link { target: a }, Stamp::Link { target: b }) => a == b,
            (Stamp::Special { mode: a }, Stamp::Special { mode: b }) => a == b,
            _ => false,
        }
    }

    /// Writes [`Stamp::content`] into `out` (cleared first).
    pub fn write_content(&self, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        // Writing to a String cannot fail.
        let _ = match self {
            Stamp::File { sha256, mode, .. } => write!(out, "{} {mode:o}", hex::encode(sha256)),
            Stamp::Dir { mode } => write!(out, "dir {mode:o}"),
            Stamp::Link { target } => write!(out, "link {target}"),
            Stamp::Special { mode } => write!(out, "special {mode:o}"),
        };
    }

    /// The content part of the stamp (what fingerprints are made of): no times, no inodes.
    #[cfg(test)]
    pub fn content(&self) -> String {
        let mut out = String::new();
        self.write_content(&mut out);
        out
    }
}

/// (device, inode, size, mtime ns, ctime ns): any write to the inode changes its ctime.
type InodeKey = (u64, u64, u64, i64, i64);

/// Content hashes of the inodes met in a run: a file hardlinked under many paths (a pulled
/// blob in every image that uses it) is read once, not once per path.
#[derive(Default)]
pub(crate) struct InodeHashes(Mutex<HashMap<InodeKey, [u8; 32]>>);

impl InodeHashes {
    fn key(stat: &Stat) -> InodeKey {
        (stat.dev, stat.ino, stat.size, stat.mtime_ns, stat.ctime_ns)
    }

    /// Records the hash of a file as `stat` describes it (told by the task that wrote it).
    pub(crate) fn remember(&self, stat: &Stat, hash: [u8; 32]) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(Self::key(stat), hash);
        }
    }

    fn sha256(&self, path: &Path, stat: &Stat) -> io::Result<[u8; 32]> {
        let key = Self::key(stat);
        if let Some(known) = self.0.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(known);
        }
        let hex_hash = buildchain_fs::sha256_file(path)?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&hex_hash, &mut hash).map_err(io::Error::other)?;
        if let Ok(mut known) = self.0.lock() {
            known.insert(key, hash);
        }
        Ok(hash)
    }
}

/// Stamps `path` (following symlinks). `None` when it does not exist. When size, mtime,
/// ctime and inode equal those of `previous`, its hash is reused (the fast path); otherwise
/// the content is hashed (once per inode and run, see [`InodeHashes`]).
pub(crate) fn stamp(
    path: &Path,
    previous: Option<&Stamp>,
    inodes: &InodeHashes,
) -> io::Result<Option<Stamp>> {
    match fs::metadata(path) {
        Ok(meta) => stamp_with(path, &Stat::from(&meta), previous, inodes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stamps `path` whose metadata is already known (symlinks are stamped as links).
pub(crate) fn stamp_with(
    path: &Path,
    stat: &Stat,
    previous: Option<&Stamp>,
    inodes: &InodeHashes,
) -> io::Result<Stamp> {
    let mode = stat.mode;
    match stat.kind {
        Kind::Dir => return Ok(Stamp::Dir { mode }),
        Kind::Symlink => {
            let target = fs::read_link(path)?;
            return Ok(Stamp::Link {
                target: target.to_string_lossy().into_owned(),
            });
        }
        // Reading a FIFO would block, a device would never end.
        Kind::Other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file, directory or symlink",
            ))
        }
        Kind::File => {}
    }
    let (size, mtime, ctime, ino) = (stat.size, stat.mtime_ns, stat.ctime_ns, stat.ino);
    if let Some(Stamp::File {
        sha256,
        size: s,
        mtime_ns: m,
        ctime_ns: c,
        ino: i,
        ..
    }) = previous
    {
        if *s == size && *m == mtime && *c == ctime && *i == ino {
            return Ok(Stamp::File {
                sha256: *sha256,
                size,
                mtime_ns: mtime,
                ctime_ns: ctime,
                ino,
                mode,
            });
        }
    }
    Ok(Stamp::File {
        sha256: inodes.sha256(path, stat)?,
        size,
        mtime_ns: mtime,
        ctime_ns: ctime,
        ino,
        mode,
    })
}

/// sha256 over a list of strings, each length-prefixed (unambiguous).
pub(crate) fn hash_fields<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = FieldHasher::default();
    for field in fields {
        hasher.field(field);
    }
    hasher.finish()
}

/// [`hash_fields`] fed one field at a time (no list of fields built first).
#[derive(Default)]
pub(crate) struct FieldHasher(Sha256);

impl FieldHasher {
    pub fn field(&mut self, field: &str) {
        self.0.update((field.len() as u64).to_le_bytes());
        self.0.update(field.as_bytes());
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_portable() {
        let keys = PathKeys::new()
            .with_root("repo", "/a/repo")
            .with_root("build", "/a/repo/_build");
        assert_eq!(keys.key(Path::new("/a/repo/salt/x.sls")), "repo:salt/x.sls");
        assert_eq!(keys.key(Path::new("/a/repo/_build/root")), "build:root");
        assert_eq!(keys.key(Path::new("/a/repo/_build")), "build:");
        assert_eq!(keys.key(Path::new("/elsewhere")), "/elsewhere");
        assert_eq!(keys.key(Path::new("/a/repo2/x")), "/a/repo2/x");
        let slash = PathKeys::new().with_root("r", "/a/repo/");
        assert_eq!(slash.key(Path::new("/a/repo/x")), "r:x");
        assert_eq!(
            keys.path("build:root"),
            PathBuf::from("/a/repo/_build/root")
        );
        assert_eq!(keys.path("build:"), PathBuf::from("/a/repo/_build"));
        for path in [
            "/a/repo/salt/x.sls",
            "/a/repo/_build/root",
            "/a/repo/_build",
            "/elsewhere",
            "/a/repo2/x",
        ] {
            let path = Path::new(path);
            assert!(keys.is_key_of(path, &keys.key(path)), "{}", path.display());
            assert!(!keys.is_key_of(path, "repo:salt/y.sls"));
        }
        assert!(!keys.is_key_of(Path::new("/a/repo/x"), "rep:x"));
        assert!(!keys.is_key_of(Path::new("/a/repo/x"), "repo:xy"));
        assert_eq!(keys.path("/elsewhere"), PathBuf::from("/elsewhere"));
    }

    #[test]
    fn a_hash_told_by_the_writer_is_used_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"hello").unwrap();
        let inodes = InodeHashes::default();
        let stat = Stat::from(&fs::metadata(&f).unwrap());
        inodes.remember(&stat, [7; 32]);
        let told = stamp(&f, None, &inodes).unwrap().unwrap();
        assert!(told.content().starts_with(&"07".repeat(32)), "{told:?}");
        // Any write changes the ctime: the told hash no longer applies.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&f, b"hello").unwrap();
        let read = stamp(&f, None, &inodes).unwrap().unwrap();
        assert!(read.content().starts_with("2cf24dba"), "{read:?}");
    }

    #[test]
    fn fast_path_reuses_hash_only_when_metadata_matches() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"hello").unwrap();
        let s1 = stamp(&f, None, &InodeHashes::default()).unwrap().unwrap();
        assert_eq!(
            s1.content(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 644"
        );
        // A lying previous hash with matching metadata is trusted (that is the fast path)…
        let lie = match &s1 {
            Stamp::File {
                size,
                mtime_ns,
                ctime_ns,
                ino,
                ..
            } => Stamp::File {
                sha256: [0x11; 32],
                size: *size,
                mtime_ns: *mtime_ns,
                ctime_ns: *ctime_ns,
                ino: *ino,
                mode: 0o644,
            },
            _ => unreachable!(),
        };
        assert_eq!(
            stamp(&f, Some(&lie), &InodeHashes::default())
                .unwrap()
                .unwrap()
                .content(),
            format!("{} 644", "11".repeat(32))
        );
        // A same-size rewrite whose mtime is put back is still seen: its ctime moved.
        let before = fs::metadata(&f).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&f, b"HELLO").unwrap();
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(before)
            .unwrap();
        let again = stamp(&f, Some(&s1), &InodeHashes::default())
            .unwrap()
            .unwrap();
        assert!(!again.same_content(&s1), "{again:?}");
        fs::write(&f, b"hello").unwrap();
        // …but any metadata change makes it hash again.
        fs::write(&f, b"hellO").unwrap();
        let s2 = stamp(&f, Some(&lie), &InodeHashes::default())
            .unwrap()
            .unwrap();
        assert_ne!(s2.content(), format!("{} 644", "11".repeat(32)));
        assert_ne!(s2.content(), s1.content());
        assert_eq!(
            stamp(&dir.path().join("missing"), None, &InodeHashes::default()).unwrap(),
            None
        );
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let err = stamp(&fifo, None, &InodeHashes::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(matches!(
            stamp(dir.path(), None, &InodeHashes::default()).unwrap(),
            Some(Stamp::Dir { .. })
        ));
    }
}

//! An archive as this crate reads it: an ISO image (read with our own reader, never
//! mounted) or an unpacked tree. Both give the same entries: `/`-separated paths relative
//! to the root, kinds, sizes, permission bits, and which files are one file stored under
//! several names (hardlinks).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use buildchain_iso9660::{EntryKind as IsoKind, IsoImage};

use crate::error::ReleaseError;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and its target, as written (never followed).
    Symlink(String),
}

/// One entry of an archive (the root itself is not one).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Relative to the archive root, `/`-separated, no leading `/`.
    pub path: String,
    pub kind: EntryKind,
    /// Bytes (0 for directories and links).
    pub size: u64,
    /// Permission bits (`mode & 0o7777`).
    pub mode: u32,
    /// Files with the same `link` are one file under several names (a hardlink group);
    /// `None` for a file stored once, a directory or a link.
    pub link: Option<u64>,
}

/// An opened archive.
pub struct Archive {
    path: PathBuf,
    image: Option<IsoImage>,
}

impl Archive {
    /// Opens `path`: a directory is an unpacked tree, a file an ISO image.
    pub fn open(path: &Path) -> Result<Archive, ReleaseError> {
        let meta = fs::metadata(path).map_err(|e| ReleaseError::io("read", path, e))?;
        let image = if meta.is_dir() {
            None
        } else if meta.is_file() {
            Some(IsoImage::open(path)?)
        } else {
            return Err(ReleaseError::NotAnArchive {
                path: path.to_path_buf(),
            });
        };
        Ok(Archive {
            path: path.to_path_buf(),
            image,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ISO image's volume id (`None` for a tree).
    pub fn volume_id(&self) -> Option<&str> {
        self.image.as_ref().map(IsoImage::volume_id)
    }

    /// True for an ISO image, false for a tree.
    pub fn is_image(&self) -> bool {
        self.image.is_some()
    }

    /// Every entry, parents before children, sorted by path within a directory.
    pub fn entries(&self) -> Result<Vec<Entry>, ReleaseError> {
        match &self.image {
            Some(image) => Ok(image_entries(image)),
            None => self.tree_entries(),
        }
    }

    /// Opens the file at `path` (an entry of kind [`EntryKind::File`]).
    pub fn reader(&self, path: &str) -> Result<Box<dyn Read + '_>, ReleaseError> {
        match &self.image {
            Some(image) => Ok(Box::new(image.open_file(path)?)),
            None => {
                let full = self.path.join(path);
                let file: File =
                    buildchain_fs::open_no_follow(OpenOptions::new().read(true), &full)
                        .map_err(|e| ReleaseError::io("open", &full, e))?;
                Ok(Box::new(file))
            }
        }
    }

    /// The content of the small file at `path` (at most `limit` bytes), `None` when the
    /// archive has no such file.
    pub fn read_small(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, ReleaseError> {
        let exists = match &self.image {
            Some(image) => image.entry(path).is_some(),
            None => fs::symlink_metadata(self.path.join(path)).is_ok_and(|m| m.is_file()),
        };
        if !exists {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        self.reader(path)?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ReleaseError::io("read", self.path.join(path), e))?;
        if bytes.len() as u64 > limit {
            return Err(self.bad_entry(path, format!("larger than {limit} bytes")));
        }
        Ok(Some(bytes))
    }

    pub(crate) fn bad_entry(&self, entry: &str, reason: impl Into<String>) -> ReleaseError {
        ReleaseError::BadEntry {
            archive: self.path.clone(),
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    fn tree_entries(&self) -> Result<Vec<Entry>, ReleaseError> {
        use buildchain_fs::Kind;
        let walked = buildchain_fs::walk_tree(&self.path)?;
        let mut links: HashMap<(u64, u64), u64> = HashMap::new();
        let mut entries = Vec::with_capacity(walked.len());
        for (full, stat) in walked {
            let Ok(relative) = full.strip_prefix(&self.path) else {
                continue;
            };
            if relative.as_os_str().is_empty() {
                continue;
            }
            let Some(path) = relative.to_str() else {
                return Err(self.bad_entry(
                    &relative.to_string_lossy(),
                    "its name is not UTF-8 (an ISO 9660 name cannot hold it)",
                ));
            };
            let (kind, size, link) = match stat.kind {
                Kind::Dir => (EntryKind::Dir, 0, None),
                Kind::File => {
                    let next = links.len() as u64;
                    let group = *links.entry((stat.dev, stat.ino)).or_insert(next);
                    (EntryKind::File, stat.size, Some(group))
                }
                Kind::Symlink => {
                    let target =
                        fs::read_link(&full).map_err(|e| ReleaseError::io("read", &full, e))?;
                    let Some(target) = target.to_str() else {
                        return Err(self.bad_entry(path, "the link's target is not UTF-8"));
                    };
                    (EntryKind::Symlink(target.to_string()), 0, None)
                }
                Kind::Other => {
                    return Err(self.bad_entry(
                        path,
                        "a FIFO, socket or device: archives hold files, directories and links",
                    ))
                }
            };
            entries.push(Entry {
                path: path.to_string(),
                kind,
                size,
                mode: stat.mode,
                link,
            });
        }
        // A group of one is a file stored once.
        let mut members: HashMap<u64, usize> = HashMap::new();
        for entry in &entries {
            if let Some(group) = entry.link {
                *members.entry(group).or_default() += 1;
            }
        }
        for entry in &mut entries {
            if entry.link.is_some_and(|g| members[&g] < 2) {
                entry.link = None;
            }
        }
        Ok(entries)
    }
}

fn image_entries(image: &IsoImage) -> Vec<Entry> {
    let mut starts: HashMap<u64, usize> = HashMap::new();
    for entry in image.entries() {
        if let Some(start) = entry.data_start() {
            *starts.entry(start).or_default() += 1;
        }
    }
    image
        .entries()
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| {
            let (kind, default_mode) = match &e.kind {
                IsoKind::File => (EntryKind::File, 0o444),
                IsoKind::Dir => (EntryKind::Dir, 0o555),
                IsoKind::Symlink { target } => (EntryKind::Symlink(target.clone()), 0o777),
            };
            Entry {
                path: e.path.clone(),
                size: if kind == EntryKind::File { e.size } else { 0 },
                kind,
                mode: e.mode.map_or(default_mode, |m| m & 0o7777),
                link: e.data_start().filter(|s| starts[s] > 1),
            }
        })
        .collect()
}

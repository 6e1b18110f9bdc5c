//! A delta: what NEW has that OLD lacks, and a manifest of NEW's whole tree, so that a
//! node holding OLD rebuilds NEW with bash and coreutils (`apply-delta.sh`, carried in the
//! delta from NEW) and checks every file before using it.
//!
//! Layout of a delta tree (written into an ISO by the caller):
//!
//! ```text
//! delta.txt       FORMAT, NAME, FROM_VERSION, FROM_VOLUME_ID, FROM_SHA256, TO_VERSION,
//!                 TO_VOLUME_ID, counts, MANIFEST_SHA256 (KEY=value lines)
//! manifest.tsv    one line per entry of NEW, parents first:
//!                 kind mode size sha256 group source path (tab-separated; `-` when empty)
//!                 kind: d, f, l; source: `old:<path in OLD>` or `delta` for a file,
//!                 the target for a link; group: the line number (1-based, among the
//!                 entry lines) of the first file of a hardlink group
//! objects/<sha256>  each content NEW has and OLD lacks, once
//! apply-delta.sh, common.sh   NEW's scripts
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::archive::{Archive, EntryKind};
use crate::error::ReleaseError;
use crate::inventory::Inventory;

pub const FORMAT: u32 = 1;
pub const DESCRIPTION: &str = "delta.txt";
pub const MANIFEST: &str = "manifest.tsv";
pub const OBJECTS: &str = "objects";
/// What the node runs, taken from NEW: the delta applies with the scripts of the version
/// it builds.
pub const SCRIPTS: &[&str] = &["apply-delta.sh", "common.sh"];

/// What a delta applies to, or builds.
#[derive(Debug, Clone)]
pub struct Identity {
    pub version: String,
    pub volume_id: Option<String>,
    /// SHA-256 of the ISO file (`None` for a tree).
    pub sha256: Option<String>,
}

/// What [`write_tree`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeltaSummary {
    pub from_version: String,
    pub to_version: String,
    /// Entries of NEW (files, directories, links).
    pub entries: usize,
    /// Files rebuilt from OLD.
    pub from_old: usize,
    /// Distinct contents stored in the delta, and their bytes.
    pub objects: usize,
    pub object_bytes: u64,
    /// Bytes of every file of NEW.
    pub tree_bytes: u64,
}

/// Why a path cannot be written in the manifest (one line per entry, tab-separated,
/// checked by `sha256sum -c` on the node), or `None`.
pub fn manifest_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() || path.starts_with('/') {
        return Some("an empty or absolute path");
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some("an empty, `.` or `..` path component");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return Some("a tab, a newline, another control character or a backslash (the delta manifest is one tab-separated line per entry)");
    }
    None
}

/// Why the link at `path` to `target` cannot be rebuilt on the node (`apply-delta.sh`
/// refuses the same), or `None`: see [`buildchain_fs::link_target_problem`].
pub fn link_problem(path: &str, target: &str, links: &HashSet<&str>) -> Option<&'static str> {
    buildchain_fs::link_target_problem(path, target, links)
}

/// Writes the delta from OLD to NEW into the empty directory `dir`.
pub fn write_tree(
    old: &Inventory,
    from: &Identity,
    new_archive: &Archive,
    new: &Inventory,
    to: &Identity,
    name: &str,
    dir: &Path,
) -> Result<DeltaSummary, ReleaseError> {
    // Content OLD holds, under a path the manifest can name.
    let mut in_old: HashMap<&str, &str> = HashMap::new();
    for item in &old.items {
        if let Some(sha) = &item.sha256 {
            if manifest_path_problem(&item.entry.path).is_none() {
                in_old
                    .entry(sha.as_str())
                    .or_insert(item.entry.path.as_str());
            }
        }
    }
    let mut manifest = String::new();
    let mut objects: Vec<(&str, &str, u64)> = Vec::new();
    let mut stored: HashMap<&str, ()> = HashMap::new();
    let mut leaders: HashMap<u64, usize> = HashMap::new();
    let links: HashSet<&str> = new
        .items
        .iter()
        .filter(|i| matches!(i.entry.kind, EntryKind::Symlink(_)))
        .map(|i| i.entry.path.as_str())
        .collect();
    let (mut from_old, mut tree_bytes) = (0, 0);
    for (line, item) in new.items.iter().enumerate() {
        let entry = &item.entry;
        if let Some(problem) = manifest_path_problem(&entry.path) {
            return Err(new_archive.bad_entry(
                &entry.path,
                format!("cannot be shipped in a delta: {problem}"),
            ));
        }
        let is_link = matches!(entry.kind, EntryKind::Symlink(_));
        if entry.mode & 0o7000 != 0 || (!is_link && entry.mode & 0o002 != 0) {
            return Err(new_archive.bad_entry(
                &entry.path,
                format!(
                    "cannot be shipped in a delta: mode {:04o} (set-id, sticky and world-writable entries are refused on the node)",
                    entry.mode
                ),
            ));
        }
        let (kind, size, sha, group, source) = match &entry.kind {
            EntryKind::Dir => ('d', 0, "-".to_string(), "-".to_string(), "-".to_string()),
            EntryKind::Symlink(target) => {
                if let Some(problem) = link_problem(&entry.path, target, &links) {
                    return Err(new_archive.bad_entry(
                        &entry.path,
                        format!("cannot be shipped in a delta: its target {target:?} {problem}"),
                    ));
                }
                ('l', 0, "-".to_string(), "-".to_string(), target.clone())
            }
            EntryKind::File => {
                let Some(sha) = item.sha256.as_deref() else {
                    return Err(new_archive.bad_entry(&entry.path, "a file without a content sum"));
                };
                tree_bytes += entry.size;
                let group = match entry.link {
                    Some(link) => (*leaders.entry(link).or_insert(line + 1)).to_string(),
                    None => "-".to_string(),
                };
                let source = match in_old.get(sha) {
                    Some(old_path) => {
                        from_old += 1;
                        format!("old:{old_path}")
                    }
                    None => {
                        if stored.insert(sha, ()).is_none() {
                            objects.push((sha, entry.path.as_str(), entry.size));
                        }
                        "delta".to_string()
                    }
                };
                ('f', entry.size, sha.to_string(), group, source)
            }
        };
        let _ = writeln!(
            manifest,
            "{kind}\t{:04o}\t{size}\t{sha}\t{group}\t{source}\t{}",
            entry.mode, entry.path
        );
    }

    let objects_dir = dir.join(OBJECTS);
    fs::create_dir_all(&objects_dir).map_err(|e| ReleaseError::io("create", &objects_dir, e))?;
    let mut object_bytes = 0;
    for (sha, path, size) in &objects {
        copy_checked(new_archive, path, sha, &objects_dir.join(sha), 0o444)?;
        object_bytes += size;
    }
    for script in SCRIPTS {
        let Some(item) = new.get(script).filter(|i| i.sha256.is_some()) else {
            return Err(ReleaseError::BadArchive {
                archive: new_archive.path().to_path_buf(),
                reason: format!("has no {script} at its root: the node could not apply a delta to it (was it built by this buildchain?)"),
            });
        };
        copy_checked(
            new_archive,
            script,
            item.sha256.as_deref().unwrap_or_default(),
            &dir.join(script),
            0o755,
        )?;
    }
    write_file(&dir.join(MANIFEST), manifest.as_bytes())?;

    let summary = DeltaSummary {
        from_version: from.version.clone(),
        to_version: to.version.clone(),
        entries: new.items.len(),
        from_old,
        objects: objects.len(),
        object_bytes,
        tree_bytes,
    };
    let mut description = String::new();
    let fields = [
        ("FORMAT", FORMAT.to_string()),
        ("NAME", name.to_string()),
        ("FROM_VERSION", from.version.clone()),
        ("FROM_VOLUME_ID", from.volume_id.clone().unwrap_or_default()),
        ("FROM_SHA256", from.sha256.clone().unwrap_or_default()),
        ("TO_VERSION", to.version.clone()),
        ("TO_VOLUME_ID", to.volume_id.clone().unwrap_or_default()),
        ("ENTRIES", summary.entries.to_string()),
        ("FROM_OLD", summary.from_old.to_string()),
        ("OBJECTS", summary.objects.to_string()),
        ("OBJECT_BYTES", summary.object_bytes.to_string()),
        ("TREE_BYTES", summary.tree_bytes.to_string()),
        (
            "MANIFEST_SHA256",
            hex::encode(Sha256::digest(manifest.as_bytes())),
        ),
    ];
    for (key, value) in fields {
        if value.contains(['\n', '\r']) {
            return Err(ReleaseError::BadArchive {
                archive: new_archive.path().to_path_buf(),
                reason: format!("{key} would hold a line break: {value:?}"),
            });
        }
        let _ = writeln!(description, "{key}={value}");
    }
    write_file(&dir.join(DESCRIPTION), description.as_bytes())?;
    Ok(summary)
}

/// Copies `path` of `archive` to `dest`, checking on the way that it still is `sha256`.
fn copy_checked(
    archive: &Archive,
    path: &str,
    sha256: &str,
    dest: &Path,
    mode: u32,
) -> Result<(), ReleaseError> {
    let mut reader = archive.reader(path)?;
    let mut out = fs::File::create(dest).map_err(|e| ReleaseError::io("create", dest, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| ReleaseError::io("read", archive.path().join(path), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| ReleaseError::io("write", dest, e))?;
    }
    if hex::encode(hasher.finalize()) != sha256 {
        return Err(archive.bad_entry(path, "changed while the delta was written"));
    }
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .map_err(|e| ReleaseError::io("set the permissions of", dest, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReleaseError> {
    fs::write(path, bytes).map_err(|e| ReleaseError::io("write", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
        .map_err(|e| ReleaseError::io("set the permissions of", path, e))
}

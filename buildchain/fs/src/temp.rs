//! Temporary names: every file or directory the build chain writes is first written under
//! a temporary name next to its final place, `.<name>.tmp-<pid>-<n>`, then renamed. A
//! killed process leaves such names behind; [`remove_stale_temps`] removes the ones whose
//! process is gone, so nothing reading the directory later mistakes them for content.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{FsError, IoResultExt};

/// The marker between the final name and the owner's process id.
const TEMP_MARK: &[u8] = b".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory holding `target` (`.` for a bare file name).
pub(crate) fn parent_of(target: &Path) -> &Path {
    target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn file_name_of(target: &Path) -> Result<&OsStr, FsError> {
    target.file_name().ok_or_else(|| {
        FsError::new(
            "write (not a file name)",
            target,
            io::Error::from(io::ErrorKind::InvalidInput),
        )
    })
}

/// A fresh temporary path next to `target`, owned by this process:
/// `.<name>.tmp-<pid>-<n>`.
pub fn temp_path_for(target: &Path) -> Result<PathBuf, FsError> {
    let name = file_name_of(target)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp-{}-{n}", std::process::id()));
    Ok(parent_of(target).join(temp))
}

/// The process id in a temporary name made by [`temp_path_for`], `None` for other names.
pub fn temp_owner(name: &OsStr) -> Option<u32> {
    let bytes = name.as_bytes();
    if !bytes.starts_with(b".") {
        return None;
    }
    let at = bytes
        .windows(TEMP_MARK.len())
        .rposition(|w| w == TEMP_MARK)?;
    let rest = &bytes[at + TEMP_MARK.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || (digits < rest.len() && rest[digits] != b'-') {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Whether `name` is a temporary name made by [`temp_path_for`].
pub fn is_temp_name(name: &OsStr) -> bool {
    temp_owner(name).is_some()
}

/// Whether process `pid` still runs. Without `/proc` nothing can be told: every process
/// counts as running, so no temporary is ever taken as stale.
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Removes a file or a whole directory tree (not following symbolic links).
pub fn remove_path(path: &Path) -> Result<(), FsError> {
    let meta = fs::symlink_metadata(path).at("inspect", path)?;
    if meta.is_dir() {
        fs::remove_dir_all(path).at("remove", path)
    } else {
        fs::remove_file(path).at("remove", path)
    }
}

/// Removes the temporaries in `dir` (not below it) whose owning process is gone, or only
/// those of `target`'s name when given. Returns what was removed. A missing `dir` holds
/// nothing.
pub fn remove_stale_temps(dir: &Path, target: Option<&OsStr>) -> Result<Vec<PathBuf>, FsError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FsError::new("list", dir, e)),
    };
    let prefix = target.map(|t| {
        let mut p = b".".to_vec();
        p.extend_from_slice(t.as_bytes());
        p.extend_from_slice(TEMP_MARK);
        p
    });
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.at("list", dir)?;
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name) else {
            continue;
        };
        if prefix
            .as_ref()
            .is_some_and(|p| !name.as_bytes().starts_with(p))
        {
            continue;
        }
        if process_alive(pid) {
            continue;
        }
        let path = entry.path();
        match remove_path(&path) {
            Ok(()) => removed.push(path),
            // Removed meanwhile by another sweeper.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let t = temp_path_for(Path::new("/a/b/out.iso")).unwrap();
        assert_eq!(t.parent(), Some(Path::new("/a/b")));
        let name = t.file_name().unwrap();
        assert!(name.to_string_lossy().starts_with(".out.iso.tmp-"));
        assert_eq!(temp_owner(name), Some(std::process::id()));
        for (name, owner) in [
            (".x.tmp-12-3", Some(12)),
            (".x.tmp-12", Some(12)),
            (".a.tmp-b.tmp-7-0", Some(7)),
            ("x.tmp-12-3", None),
            (".x.tmp-", None),
            (".x.tmp-12x", None),
            (".x.partial-abc", None),
            ("manifest.json", None),
        ] {
            assert_eq!(temp_owner(OsStr::new(name)), owner, "{name}");
        }
        assert!(temp_path_for(Path::new("/")).is_err());
    }

    #[test]
    fn only_temps_of_dead_processes_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = u32::MAX - 1; // never a live pid
        let mine = std::process::id();
        for name in [
            format!(".a.tmp-{dead}-0"),
            format!(".a.tmp-{mine}-0"),
            format!(".b.tmp-{dead}-1"),
            "keep.txt".to_string(),
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::create_dir(dir.path().join(format!(".tree.tmp-{dead}-2"))).unwrap();
        fs::write(dir.path().join(format!(".tree.tmp-{dead}-2/f")), b"x").unwrap();
        let only_a = remove_stale_temps(dir.path(), Some(OsStr::new("a"))).unwrap();
        assert_eq!(only_a, vec![dir.path().join(format!(".a.tmp-{dead}-0"))]);
        let mut rest = remove_stale_temps(dir.path(), None).unwrap();
        rest.sort();
        assert_eq!(rest.len(), 2, "{rest:?}");
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![format!(".a.tmp-{mine}-0"), "keep.txt".to_string()]
        );
        assert!(remove_stale_temps(&dir.path().join("missing"), None)
            .unwrap()
            .is_empty());
    }
}

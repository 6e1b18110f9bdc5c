//! Writing targets atomically: write under a temporary name next to the target, rename
//! when complete. A killed build leaves at most a `.NAME.tmp-*` file, which the next write
//! of the same target removes; never a truncated target.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_prefix(target: &Path) -> io::Result<(PathBuf, String)> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    let name = target
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file name", target.display()),
            )
        })?
        .to_string_lossy()
        .into_owned();
    Ok((parent, format!(".{name}.tmp-")))
}

/// Removes the temporary files and directories an interrupted write of `target` left.
fn remove_stale_temps(parent: &Path, prefix: &str) -> io::Result<()> {
    let entries = match fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

fn temp_path(parent: &Path, prefix: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent.join(format!("{prefix}{}-{n}", std::process::id()))
}

/// A file being written under a temporary name; [`AtomicFile::commit`] renames it to the
/// target, dropping it uncommitted removes it.
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file next to `target` (the parent directory must exist).
    pub fn create(target: &Path) -> io::Result<Self> {
        let (parent, prefix) = temp_prefix(target)?;
        remove_stale_temps(&parent, &prefix)?;
        let temp = temp_path(&parent, &prefix);
        let file = File::create(&temp)?;
        Ok(AtomicFile {
            file: Some(file),
            temp,
            target: target.to_path_buf(),
        })
    }

    /// The temporary path (for tools that write by path).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("AtomicFile used after commit")
    }

    /// Flushes and renames the temporary file to the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.flush()?;
        }
        fs::rename(&self.temp, &self.target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `contents` to `target` atomically; `mode` (Unix permission bits) is applied
/// before the rename when given.
pub fn write_atomic(target: &Path, contents: &[u8], mode: Option<u32>) -> io::Result<()> {
    let mut file = AtomicFile::create(target)?;
    file.write_all(contents)?;
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(file.temp_path(), fs::Permissions::from_mode(mode))?;
    }
    file.commit()
}

/// Replaces the directory `target` by one filled by `fill` (called with an empty
/// temporary directory next to it). On error the temporary directory is removed and the
/// old `target` is left as it was.
pub fn replace_dir<E>(target: &Path, fill: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E>
where
    E: From<io::Error>,
{
    let (parent, prefix) = temp_prefix(target)?;
    fs::create_dir_all(&parent)?;
    remove_stale_temps(&parent, &prefix)?;
    let temp = temp_path(&parent, &prefix);
    fs::create_dir(&temp)?;
    if let Err(e) = fill(&temp) {
        let _ = fs::remove_dir_all(&temp);
        return Err(e);
    }
    // Move the old tree aside first so that `target` is never half-removed.
    let old = temp_path(&parent, &prefix);
    let had_old = match fs::rename(target, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            let _ = fs::remove_dir_all(&temp);
            return Err(e.into());
        }
    };
    fs::rename(&temp, target)?;
    if had_old {
        fs::remove_dir_all(&old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"done", Some(0o640)).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"done");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn stale_temps_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        fs::write(dir.path().join(".out.txt.tmp-999-0"), b"killed").unwrap();
        fs::create_dir(dir.path().join(".tree.tmp-999-0")).unwrap();
        write_atomic(&target, b"x", None).unwrap();
        replace_dir::<io::Error>(&dir.path().join("tree"), |t| fs::write(t.join("a"), b"a"))
            .unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["out.txt", "tree"]);
    }

    #[test]
    fn replace_dir_keeps_old_tree_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir(&tree).unwrap();
        fs::write(tree.join("old"), b"old").unwrap();
        let err = replace_dir(&tree, |t| {
            fs::write(t.join("new"), b"new")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert!(tree.join("old").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        replace_dir::<io::Error>(&tree, |t| fs::write(t.join("new"), b"new")).unwrap();
        assert!(!tree.join("old").exists());
        assert!(tree.join("new").exists());
    }
}

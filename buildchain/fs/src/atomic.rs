//! Replacing files and directories atomically: the new content is written under a
//! temporary name next to the target ([`crate::temp_path_for`]), flushed to disk, then
//! renamed over the target. Readers see the old content or the new, never a part; a killed
//! writer leaves only a temporary name, removed by the next write of the same target.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{FsError, IoResultExt};
use crate::temp::{parent_of, remove_path, remove_stale_temps, temp_path_for};

fn sweep_for(target: &Path) -> Result<(), FsError> {
    remove_stale_temps(parent_of(target), target.file_name()).map(drop)
}

/// A file being written under a temporary name next to its target:
/// [`AtomicFile::commit`] makes it the target, dropping it uncommitted removes it.
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    mode: Option<u32>,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `target` (whose directory must exist), after
    /// removing what a killed writer of the same target left.
    pub fn create(target: &Path) -> Result<Self, FsError> {
        sweep_for(target)?;
        let temp = temp_path_for(target)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
            .at("create", &temp)?;
        Ok(AtomicFile {
            file,
            temp,
            target: target.to_path_buf(),
            mode: None,
            committed: false,
        })
    }

    /// Permission bits given to the file before it is renamed into place.
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The temporary path (for tools that write by path).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The open temporary file, for writers that need positioned writes or several
    /// threads (`&File` implements `Write`).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Flushes the content to disk and renames the temporary file to the target.
    pub fn commit(mut self) -> Result<(), FsError> {
        let temp = self.temp.clone();
        self.file.flush().at("write", &temp)?;
        if let Some(mode) = self.mode {
            use std::os::unix::fs::PermissionsExt;
            self.file
                .set_permissions(fs::Permissions::from_mode(mode))
                .at("set the permissions of", &temp)?;
        }
        self.file.sync_all().at("flush to disk", &temp)?;
        fs::rename(&temp, &self.target)
            .map_err(|e| FsError::new("rename into place", &self.target, e))?;
        self.committed = true;
        // The rename itself reaches the disk with its directory.
        let dir = parent_of(&self.target);
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .at("flush to disk", dir)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `contents` to `target` atomically; `mode` (Unix permission bits) is applied
/// before the rename when given.
pub fn write_atomic(target: &Path, contents: &[u8], mode: Option<u32>) -> Result<(), FsError> {
    let mut file = AtomicFile::create(target)?;
    if let Some(mode) = mode {
        file = file.with_mode(mode);
    }
    let temp = file.temp_path().to_path_buf();
    file.write_all(contents).at("write", &temp)?;
    file.commit()
}

/// Writes `contents` to `target` under a temporary name renamed over it, without the
/// sweep of stale temporaries and without the flush to disk of [`write_atomic`]: for a
/// cache written often (the engine's state), whose loss after a crash only costs work, in
/// a directory whose stale temporaries the caller removes once per run.
pub fn write_cache(target: &Path, contents: &[u8]) -> Result<(), FsError> {
    let temp = temp_path_for(target)?;
    if let Err(e) = fs::write(&temp, contents) {
        // A full disk must not leave a temporary a later sweep takes for a killed run's.
        let _ = fs::remove_file(&temp);
        return Err(FsError::new("write", &temp, e));
    }
    if let Err(e) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(FsError::new("rename into place", target, e));
    }
    Ok(())
}

/// Writes a new file (inside a directory being built) with exactly the permission bits
/// `mode`, whatever the umask.
pub fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), FsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, contents).at("write", path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).at("set the permissions of", path)
}

/// A directory built under a temporary name next to its target, then swapped in whole by
/// [`StagingDir::publish`]; removed when dropped unpublished. What [`replace_dir`] does,
/// for writers that fill the directory in several steps.
#[derive(Debug)]
pub struct StagingDir {
    temp: PathBuf,
    target: PathBuf,
    published: bool,
}

impl StagingDir {
    /// Creates the empty temporary directory next to `target` (and `target`'s parent),
    /// after removing what a killed writer of the same target left.
    pub fn create(target: &Path) -> Result<Self, FsError> {
        let parent = parent_of(target);
        fs::create_dir_all(parent).at("create", parent)?;
        sweep_for(target)?;
        let temp = temp_path_for(target)?;
        fs::create_dir(&temp).at("create", &temp)?;
        // Published trees are read by others (nginx, the ISO): whatever the umask.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&temp, fs::Permissions::from_mode(0o755))
            .at("set the permissions of", &temp)?;
        Ok(StagingDir {
            temp,
            target: target.to_path_buf(),
            published: false,
        })
    }

    /// The temporary directory to fill.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Makes the filled directory the target. The old target (a directory, a file or a
    /// link: never followed) is moved aside first, so `target` is never half-removed, and
    /// put back if the swap fails.
    pub fn publish(mut self) -> Result<(), FsError> {
        self.published = true;
        let old = temp_path_for(&self.target)?;
        let had_old = match fs::rename(&self.target, &old) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                let _ = fs::remove_dir_all(&self.temp);
                return Err(FsError::new("move aside", &self.target, e));
            }
        };
        if let Err(e) = fs::rename(&self.temp, &self.target) {
            if had_old {
                let _ = fs::rename(&old, &self.target);
            }
            let _ = fs::remove_dir_all(&self.temp);
            return Err(FsError::new("rename into place", &self.target, e));
        }
        if had_old {
            remove_path(&old)?;
        }
        Ok(())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.temp);
        }
    }
}

/// Replaces the directory `target` by one filled by `fill` (called with an empty
/// temporary directory next to it). On error the temporary directory is removed and the
/// old `target` is left as it was (see [`StagingDir`]).
pub fn replace_dir<E>(target: &Path, fill: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E>
where
    E: From<FsError>,
{
    let staging = StagingDir::create(target)?;
    fill(staging.path())?;
    staging.publish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(names(dir.path()).is_empty());
        write_atomic(&target, b"done", Some(0o640)).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"done");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn stale_temps_of_the_target_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.txt");
        let dead = u32::MAX - 1;
        fs::write(dir.path().join(format!(".out.txt.tmp-{dead}-0")), b"killed").unwrap();
        fs::create_dir(dir.path().join(format!(".tree.tmp-{dead}-0"))).unwrap();
        write_atomic(&target, b"x", None).unwrap();
        replace_dir::<FsError>(&dir.path().join("tree"), |t| {
            fs::write(t.join("a"), b"a").at("write", t)
        })
        .unwrap();
        assert_eq!(names(dir.path()), vec!["out.txt", "tree"]);
    }

    #[test]
    fn replace_dir_keeps_old_tree_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir(&tree).unwrap();
        fs::write(tree.join("old"), b"old").unwrap();
        let err = replace_dir(&tree, |t| -> Result<(), FsError> {
            fs::write(t.join("new"), b"new").at("write", t)?;
            Err(FsError::new("fill", t, io::Error::other("boom")))
        });
        assert!(err.is_err());
        assert!(tree.join("old").exists());
        assert_eq!(names(dir.path()), vec!["tree"]);
        replace_dir::<FsError>(&tree, |t| fs::write(t.join("new"), b"new").at("write", t)).unwrap();
        assert_eq!(names(&tree), vec!["new"]);
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir/out.txt");
        let err = write_atomic(&target, b"x", None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("missing-dir"), "{text}");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}

//! The build root is the tool's own: it carries a marker, one run at a time holds its
//! lock, and it is never a place whose removal or copy would hurt (the repository, one of
//! its parents, `/`, `$HOME`, a directory the build copies into the ISO).

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// The directory marking a build root: it holds the engine's state, the lock and a note.
pub const MARKER_DIR: &str = ".buildchain-state";
/// The note inside the marker directory.
const NOTE: &str = "BUILD-ROOT";
const NOTE_TEXT: &str = "This directory is a buildchain build root. `buildchain clean` removes \
what buildchain's tasks produced in it, and nothing else.\n";
/// The lock file inside the marker directory (holds the PID of its owner).
const LOCK: &str = "lock";

/// `path` made absolute with `..` and symbolic links of its existing part resolved (the
/// rest, which does not exist yet, normalized lexically).
pub fn normalize(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path)
        .with_context(|| format!("{}: cannot make absolute", path.display()))?;
    let mut existing = abs.as_path();
    let mut rest: Vec<Component> = Vec::new();
    let resolved = loop {
        match fs::canonicalize(existing) {
            Ok(p) => break p,
            Err(_) => match (existing.parent(), existing.components().next_back()) {
                (Some(parent), Some(last)) => {
                    rest.push(last);
                    existing = parent;
                }
                _ => break PathBuf::from("/"),
            },
        }
    };
    let mut out = resolved;
    for component in rest.into_iter().rev() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Refuses a build root that `clean` must never empty or that the build would copy into
/// itself. `copied`: (task, directory) pairs of the directories tasks copy or read whole.
pub fn check_location(
    build_root: &Path,
    repo_root: &Path,
    copied: &[(String, PathBuf)],
) -> Result<()> {
    let root = normalize(build_root)?;
    let repo = normalize(repo_root)?;
    let refuse = |why: String| -> Result<()> {
        bail!(
            "build root {}: {why}; choose another one (--build-root or BUILD_ROOT)",
            root.display()
        )
    };
    if root == Path::new("/") {
        return refuse("it is the file-system root".into());
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        if normalize(Path::new(&home)).is_ok_and(|h| h == root) {
            return refuse("it is the home directory ($HOME)".into());
        }
    }
    if root == repo {
        return refuse("it is the repository itself".into());
    }
    if repo.starts_with(&root) {
        return refuse(format!("it holds the repository {}", repo.display()));
    }
    for (task, dir) in copied {
        let dir = normalize(dir)?;
        if root.starts_with(&dir) {
            return refuse(format!(
                "it is inside {}, which {task} copies into the ISO: the build would copy itself",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Whether `dir` carries the marker (a real directory: never a link to elsewhere).
fn is_marked(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(MARKER_DIR)).is_ok_and(|m| m.is_dir())
}

/// Whether `dir` is empty (a missing directory is).
fn is_empty_dir(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("{}: cannot list", dir.display())),
    }
}

/// The held lock of a build root; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    _dir: File,
    holder: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Whoever meets this file unlocked must not read us as its holder.
        let _ = self.holder.set_len(0);
    }
}

/// How `open` treats a build root that is missing or not marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A run: creates the build root (and its marker) when missing or empty.
    Build,
    /// `clean`: the build root must exist and be marked.
    Clean,
}

/// Opens the build root for a run or a clean and takes its lock: waits for another run
/// holding it (saying which) unless `no_wait`, in which case that is an error. `Ok(None)`
/// for a clean of a build root that does not exist (nothing to do).
pub fn open(build_root: &Path, mode: Mode, no_wait: bool) -> Result<Option<Lock>> {
    let marker = build_root.join(MARKER_DIR);
    if fs::symlink_metadata(&marker).is_ok_and(|m| !m.is_dir()) {
        bail!(
            "{}: not a directory (a link or a file): a build root's marker must be a directory",
            marker.display()
        );
    }
    // Emptiness first, then the marker: a concurrent run that just made its marker makes
    // the directory non-empty and marked at once, so this run never sees it non-empty
    // and unmarked (the other order raced: a run refused the build root another had
    // just marked).
    let empty = is_empty_dir(build_root)?;
    let marked = is_marked(build_root);
    if !marked {
        match mode {
            Mode::Clean if !build_root.exists() => return Ok(None),
            Mode::Clean => bail!(
                "{}: not a build root (no {MARKER_DIR} marker): nothing removed",
                build_root.display()
            ),
            Mode::Build if !empty => bail!(
                "{}: exists, is not empty and is not a build root (no {MARKER_DIR} marker): choose another build root (--build-root or BUILD_ROOT) or empty it",
                build_root.display()
            ),
            Mode::Build => {}
        }
    }
    fs::create_dir_all(&marker).with_context(|| format!("{}: cannot create", marker.display()))?;
    let note = marker.join(NOTE);
    if !note.exists() {
        buildchain_fs::write_atomic(&note, NOTE_TEXT.as_bytes(), Some(0o644))?;
    }
    lock(build_root, &marker.join(LOCK), no_wait).map(Some)
}

/// Locks the build root directory itself (flock on its descriptor: a file in it could be
/// unlinked while held, letting a second run in), then says who holds it in `holder_file`.
fn lock(build_root: &Path, holder_file: &Path, no_wait: bool) -> Result<Lock> {
    let dir = File::open(build_root)
        .with_context(|| format!("{}: cannot open the build root", build_root.display()))?;
    let mut holder = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(holder_file)
        .with_context(|| format!("{}: cannot open", holder_file.display()))?;
    match dir.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = read_holder(&mut holder);
            if no_wait {
                bail!(
                    "build root {} is in use by {holder}: not waiting (--no-wait)",
                    build_root.display()
                );
            }
            let _ = writeln!(
                io::stderr(),
                "buildchain: waiting for {holder}, which is using the build root {}",
                build_root.display()
            );
            dir.lock()
                .with_context(|| format!("{}: cannot lock", build_root.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("{}: cannot lock", build_root.display()))
        }
    }
    let me = format!(
        "{}\n{}\n",
        std::process::id(),
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    holder
        .set_len(0)
        .and_then(|()| holder.rewind())
        .and_then(|()| holder.write_all(me.as_bytes()))
        .with_context(|| format!("{}: cannot write", holder_file.display()))?;
    Ok(Lock { _dir: dir, holder })
}

/// "PID 1234 (buildchain iso)" from the lock file, or a generic description when the
/// holder has not written itself yet or is not a buildchain.
fn read_holder(file: &mut File) -> String {
    for attempt in 0..2 {
        let mut text = String::new();
        let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
        let mut lines = text.lines();
        let pid = lines.next().and_then(|l| l.trim().parse::<u32>().ok());
        if let Some(pid) = pid.filter(|p| buildchain_fs::process_alive(*p)) {
            return match lines.next() {
                Some(cmd) => format!("PID {pid} ({})", cmd.escape_debug()),
                None => format!("PID {pid}"),
            };
        }
        if attempt == 0 {
            // The holder writes its PID right after taking the lock.
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    "another process".to_string()
}

/// Removes what killed runs left at the top of the build root and in its marker
/// directory (temporary files of dead processes). Returns what was removed.
pub fn sweep_temporaries(build_root: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = buildchain_fs::remove_stale_temps(build_root, None)?;
    removed.extend(buildchain_fs::remove_stale_temps(
        &build_root.join(MARKER_DIR),
        None,
    )?);
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_resolves_dots_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir(real.join("a")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("l")).unwrap();
        assert_eq!(normalize(&real.join("l/x/../y")).unwrap(), real.join("a/y"));
        assert_eq!(
            normalize(&real.join("a/./b/c")).unwrap(),
            real.join("a/b/c")
        );
        assert_eq!(normalize(&real.join("a/..")).unwrap(), real);
    }

    #[test]
    fn dangerous_locations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repo = fs::canonicalize(dir.path()).unwrap().join("repo");
        fs::create_dir_all(repo.join("salt")).unwrap();
        let copied = vec![("_salt_tree:salt".to_string(), repo.join("salt"))];
        let check = |p: &Path| check_location(p, &repo, &copied).map_err(|e| e.to_string());
        assert!(check(&repo.join("_build")).is_ok());
        assert!(check(&repo.parent().unwrap().join("elsewhere")).is_ok());
        for (root, want) in [
            (repo.clone(), "the repository itself"),
            (repo.join("salt/.."), "the repository itself"),
            (repo.parent().unwrap().to_path_buf(), "holds the repository"),
            (PathBuf::from("/"), "file-system root"),
            (repo.join("salt/relb"), "which _salt_tree:salt copies"),
        ] {
            let err = check(&root).unwrap_err();
            assert!(err.contains(want), "{}: {err}", root.display());
        }
    }

    #[test]
    fn unmarked_directories_are_not_taken_and_the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("b");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("user-file"), "x").unwrap();
        let err = open(&root, Mode::Build, true).unwrap_err().to_string();
        assert!(err.contains("not a build root"), "{err}");
        let err = open(&root, Mode::Clean, true).unwrap_err().to_string();
        assert!(err.contains("nothing removed"), "{err}");
        assert!(open(&dir.path().join("missing"), Mode::Clean, true)
            .unwrap()
            .is_none());
        let fresh = dir.path().join("fresh");
        let held = open(&fresh, Mode::Build, true).unwrap();
        assert!(fresh.join(MARKER_DIR).join(NOTE).is_file());
        // flock locks belong to open file descriptions: a second open conflicts.
        let err = open(&fresh, Mode::Build, true).unwrap_err().to_string();
        assert!(
            err.contains("in use by PID") && err.contains("--no-wait"),
            "{err}"
        );
        drop(held);
        // Released: free again (retried: a child another test forks holds a copy of the
        // descriptor until it execs, CLOEXEC then closes it).
        let free = (0..100).any(|_| {
            let taken = open(&fresh, Mode::Clean, true).is_ok_and(|l| l.is_some());
            if !taken {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            taken
        });
        assert!(free);
    }
}

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a clean action is given: whether this is a dry run, and a way to remove paths
/// and describe what it did (or would do).
pub struct CleanContext {
    pub(crate) task: String,
    pub(crate) dry_run: bool,
    pub(crate) output_root: Option<PathBuf>,
    pub(crate) lines: Mutex<Vec<String>>,
}

/// `path` with its directories resolved (symbolic links, made absolute) but not its last
/// component: the entry a removal would remove. `None` for `..` anywhere, or when it cannot
/// be told.
fn entry_of(path: &Path) -> Option<PathBuf> {
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return None;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => match fs::canonicalize(parent) {
            Ok(parent) => Some(parent.join(name)),
            Err(_) => std::path::absolute(path).ok(),
        },
        _ => fs::canonicalize(path).ok(),
    }
}

/// Whether removing `path` removes something strictly inside `root` (never `root` itself,
/// nor anything reached through a link leading out of it).
pub(crate) fn is_strictly_inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = fs::canonicalize(root).or_else(|_| std::path::absolute(root)) else {
        return false;
    };
    entry_of(path).is_some_and(|entry| entry != root && entry.starts_with(&root))
}

impl CleanContext {
    pub(crate) fn new(task: &str, dry_run: bool, output_root: Option<&Path>) -> Self {
        CleanContext {
            task: task.to_string(),
            dry_run,
            output_root: output_root.map(Path::to_path_buf),
            lines: Mutex::new(Vec::new()),
        }
    }

    pub fn task_name(&self) -> &str {
        &self.task
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Records a line of the clean report (`clean` prints them).
    pub fn note(&self, line: impl Into<String>) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line.into());
        }
    }

    /// Removes a file or a directory tree (only reports it on a dry run). A missing path
    /// is not an error; a path outside the engine's output root is refused (the root
    /// itself included: it holds the engine's state).
    pub fn remove(&self, path: &Path) -> io::Result<()> {
        if let Some(root) = &self.output_root {
            if !is_strictly_inside(path, root) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{}: not removed: outside the output root {}",
                        path.display(),
                        root.display()
                    ),
                ));
            }
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        };
        if self.dry_run {
            self.note(format!("would remove {}", path.display()));
            return Ok(());
        }
        let removed = if meta.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: cannot remove: {e}", path.display()),
                ))
            }
        }
        self.note(format!("removed {}", path.display()));
        Ok(())
    }

    pub(crate) fn into_lines(self) -> Vec<String> {
        self.lines.into_inner().unwrap_or_default()
    }
}

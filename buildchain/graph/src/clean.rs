use std::fs;
use std::io;
use std::path::Path;
use std::sync::Mutex;

/// What a clean action is given: whether this is a dry run, and a way to remove paths
/// and describe what it did (or would do).
pub struct CleanContext {
    pub(crate) task: String,
    pub(crate) dry_run: bool,
    pub(crate) lines: Mutex<Vec<String>>,
}

impl CleanContext {
    pub(crate) fn new(task: &str, dry_run: bool) -> Self {
        CleanContext {
            task: task.to_string(),
            dry_run,
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
    /// is not an error.
    pub fn remove(&self, path: &Path) -> io::Result<()> {
        let meta = match fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if self.dry_run {
            self.note(format!("would remove {}", path.display()));
            return Ok(());
        }
        if meta.is_dir() {
            fs::remove_dir_all(path)?;
        } else {
            fs::remove_file(path)?;
        }
        self.note(format!("removed {}", path.display()));
        Ok(())
    }

    pub(crate) fn into_lines(self) -> Vec<String> {
        self.lines.into_inner().unwrap_or_default()
    }
}

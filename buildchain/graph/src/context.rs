use std::path::{Path, PathBuf};

use crate::fingerprint::InodeHashes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// What happens to a task during a run, as reporters see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `count` more tasks are part of the run (sent at the start, and when tasks are
    /// created at run time).
    Planned {
        count: usize,
    },
    Started {
        task: String,
        title: String,
    },
    Success {
        task: String,
        title: String,
        duration: Duration,
    },
    Skipped {
        task: String,
        title: String,
    },
    /// Its outputs were restored from the shared cache instead of running it.
    Restored {
        task: String,
        title: String,
        duration: Duration,
    },
    Failed {
        task: String,
        title: String,
        duration: Duration,
        error: String,
    },
    /// A message from a running task (or the engine about a task).
    Log {
        task: String,
        message: String,
    },
    /// Progress of a task's long work (`done` of `total` units).
    Progress {
        task: String,
        done: u64,
        total: u64,
    },
}

/// Receives events from the engine, on any worker thread.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);

    /// True once the reporter can no longer deliver events (its output is a closed pipe
    /// or a full disk): the run then stops as after a failure, starting nothing new.
    fn is_closed(&self) -> bool {
        false
    }
}

/// A reporter that ignores everything.
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn event(&self, _event: &Event) {}
}

/// What a task's action is given: its name, its file deps (static + calculated), logging,
/// progress, and whether the run is stopping.
pub struct Context<'a> {
    pub(crate) task: &'a str,
    pub(crate) file_deps: &'a [PathBuf],
    pub(crate) reporter: &'a dyn Reporter,
    pub(crate) stopping: &'a AtomicBool,
    pub(crate) inodes: &'a InodeHashes,
}

impl Context<'_> {
    pub fn task_name(&self) -> &str {
        self.task
    }

    /// Every file dependency of this run of the task (static and calculated).
    pub fn file_deps(&self) -> &[PathBuf] {
        self.file_deps
    }

    /// Tells the engine the SHA-256 (64 hex digits) of a file this action wrote, computed
    /// while writing it (or verified, for a pulled blob): stamping the target then reads
    /// nothing. It holds for the file as it is when this is called (device, inode, size,
    /// mtime, ctime): any later write makes the engine hash it again. Ignored when `path`
    /// cannot be stat'ed or the digest is malformed (the engine then hashes the file).
    pub fn known_sha256(&self, path: &Path, sha256_hex: &str) {
        let mut hash = [0u8; 32];
        if hex::decode_to_slice(sha256_hex, &mut hash).is_err() {
            return;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            let stat = buildchain_fs::Stat::from(&meta);
            if stat.is_file() {
                self.inodes.remember(&stat, hash);
            }
        }
    }

    /// Logs a message attributed to this task.
    pub fn log(&self, message: impl Into<String>) {
        self.reporter.event(&Event::Log {
            task: self.task.to_string(),
            message: message.into(),
        });
    }

    /// True once another task failed or the output closed: long actions may return early (they are reported
    /// as failed if they do).
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed) || self.reporter.is_closed()
    }

    /// Starts reporting progress over `total` units.
    pub fn progress(&self, total: u64) -> Progress<'_> {
        let progress = Progress {
            ctx: self,
            total,
            done: AtomicU64::new(0),
        };
        progress.emit(0);
        progress
    }
}

/// Progress handle of a task (thread-safe).
pub struct Progress<'a> {
    ctx: &'a Context<'a>,
    total: u64,
    done: AtomicU64,
}

impl Progress<'_> {
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        self.emit(done);
    }

    fn emit(&self, done: u64) {
        self.ctx.reporter.event(&Event::Progress {
            task: self.ctx.task.to_string(),
            done,
            total: self.total,
        });
    }
}

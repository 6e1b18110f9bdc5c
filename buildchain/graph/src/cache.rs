//! A shared cache of task outputs: the engine's side. Before running a cacheable task
//! ([`crate::Task::cacheable`]) the engine asks the cache for the outputs of its
//! fingerprint; a hit restores them and the task is reported as restored
//! ([`crate::Event::Restored`]); after a successful run the cache may keep them. Where and
//! how outputs are kept is the cache's business (an OCI registry: `buildchain-cache`).
//! A cache never fails a build: its errors are said as warnings and the task runs.

use std::path::PathBuf;

use crate::fingerprint::hash_fields;

/// What a cache is told of a task.
#[derive(Debug, Clone)]
pub struct CachedTask<'a> {
    pub name: &'a str,
    /// The key: the task's fingerprint (definition and inputs' content, with portable
    /// paths), the tool's version and the platform, hashed: the same on every machine
    /// and at every path for the same inputs.
    pub key: String,
    /// The declared outputs, files or directories (absolute).
    pub targets: &'a [PathBuf],
    /// The same, as portable keys (`build:root/…`), in the same order.
    pub target_keys: Vec<String>,
}

/// A store of task outputs.
pub trait TaskCache: Send + Sync {
    /// Puts the outputs kept for `task.key` in place of the task's targets, each verified
    /// before it is in place. `Ok(false)`: nothing is kept for it. An error (unreachable
    /// store, a corrupt entry) is said as a warning and the task runs.
    fn restore(&self, task: &CachedTask<'_>) -> Result<bool, String>;

    /// Keeps the outputs of `task`, just written by its successful run (a read-only cache
    /// keeps nothing). An error is said as a warning.
    fn save(&self, task: &CachedTask<'_>) -> Result<(), String>;

    /// Keeps the outputs of an up-to-date `task` when the cache does not have them yet (a
    /// run killed or refused while saving, a build root filled without the cache). An
    /// error is said as a warning.
    fn keep_if_missing(&self, task: &CachedTask<'_>) -> Result<(), String> {
        let _ = task;
        Ok(())
    }
}

/// The cache key of a task of `fingerprint`.
pub(crate) fn cache_key(name: &str, fingerprint: &str, tool_version: &str) -> String {
    hash_fields([
        "buildchain-task-cache-v1",
        name,
        fingerprint,
        tool_version,
        std::env::consts::OS,
        std::env::consts::ARCH,
    ])
}

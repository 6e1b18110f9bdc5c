//! The state: per task, the fingerprints of its last successful run, one small JSON file
//! per task in a state directory (a task's start or success rewrites its own file only).

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::GraphError;
use crate::fingerprint::{hash_fields, Stamp};
use buildchain_fs::{remove_stale_temps, write_cache};

const FORMAT: u32 = 4;

/// What the last successful run of a task saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Hash of the task's definition (version string, targets, task deps).
    pub definition: String,
    /// Content fingerprint: definition + file deps' contents (portable).
    pub fingerprint: String,
    pub file_deps: BTreeMap<String, Stamp>,
    /// Keys of the outputs the task declared (targets and created directories).
    pub declared: Vec<String>,
    /// Stamps of the declared outputs and of every entry below its directory targets.
    pub targets: BTreeMap<String, Stamp>,
    /// Created at run time by another task's `create_after` (not in the static graph).
    pub dynamic: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct RecordFile {
    format: u32,
    task: String,
    record: Record,
}

#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

#[derive(Serialize)]
struct RecordFileRef<'a> {
    format: u32,
    task: &'a str,
    record: &'a Record,
}

/// The records of every task, loaded from a directory of per-task files.
#[derive(Debug)]
pub(crate) struct State {
    dir: PathBuf,
    tasks: BTreeMap<String, Arc<Record>>,
    /// Files that were ignored because unreadable (reported, never trusted).
    pub warnings: Vec<String>,
}

/// `<sanitized name>-<hash>.json`: readable, unique, a valid file name whatever the task name.
fn file_name(task: &str) -> String {
    let readable: String = task
        .chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = hash_fields([task]);
    format!("{readable}-{}.json", &hash[..16])
}

impl State {
    /// Loads the state; a missing directory is an empty state. A corrupt or foreign file
    /// is ignored with a warning (its task re-runs). What killed runs left half-written is
    /// removed first (records are then written without a sweep each, see [`State::set`]).
    pub fn load(dir: &Path) -> Result<State, GraphError> {
        let mut state = State {
            dir: dir.to_path_buf(),
            tasks: BTreeMap::new(),
            warnings: Vec::new(),
        };
        let err = |source| GraphError::State {
            path: dir.to_path_buf(),
            cause: source,
        };
        remove_stale_temps(dir, None).map_err(|e| err(e.into()))?;
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(state),
            Err(e) => return Err(err(e)),
        };
        for entry in entries {
            let entry = entry.map_err(err)?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            // A FIFO would block the read for ever; a directory or link is no record.
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                state.warnings.push(format!(
                    "state file {}: not a regular file: ignored",
                    path.display()
                ));
                continue;
            }
            let bytes = fs::read(&path).map_err(|source| GraphError::State {
                path: path.clone(),
                cause: source,
            })?;
            match serde_json::from_slice::<RecordFile>(&bytes) {
                Ok(file)
                    if file.format == FORMAT
                        && path.file_name().and_then(|n| n.to_str())
                            == Some(&file_name(&file.task)) =>
                {
                    state.tasks.insert(file.task, Arc::new(file.record));
                }
                // Written by another version: its task simply re-runs.
                Ok(file) if file.format != FORMAT => {}
                Ok(_) => state.warnings.push(format!(
                    "state file {}: foreign format or name: ignored, its task re-runs",
                    path.display()
                )),
                // Another version's record need not parse as this one's.
                Err(_)
                    if serde_json::from_slice::<FormatOnly>(&bytes)
                        .is_ok_and(|f| f.format != FORMAT) => {}
                Err(e) => state.warnings.push(format!(
                    "state file {}: {e}: ignored, its task re-runs",
                    path.display()
                )),
            }
        }
        Ok(state)
    }

    pub fn get(&self, task: &str) -> Option<&Record> {
        self.tasks.get(task).map(|r| &**r)
    }

    /// The record of `task`, shared (a big tree's record is not copied to be checked).
    pub fn get_shared(&self, task: &str) -> Option<Arc<Record>> {
        self.tasks.get(task).cloned()
    }

    fn path_of(&self, task: &str) -> PathBuf {
        self.dir.join(file_name(task))
    }

    /// Records a success (written atomically; nothing written when unchanged).
    pub fn set(&mut self, task: &str, record: Record) -> Result<(), GraphError> {
        if self.tasks.get(task).is_some_and(|r| **r == record) {
            return Ok(());
        }
        let path = self.path_of(task);
        let err = |source| GraphError::State {
            path: path.clone(),
            cause: source,
        };
        fs::create_dir_all(&self.dir).map_err(err)?;
        let file = RecordFileRef {
            format: FORMAT,
            task,
            record: &record,
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| err(io::Error::other(e)))?;
        write_cache(&path, &bytes).map_err(|e| err(e.into()))?;
        self.tasks.insert(task.to_string(), Arc::new(record));
        Ok(())
    }

    /// Forgets a task's last success.
    pub fn remove(&mut self, task: &str) -> Result<(), GraphError> {
        if self.tasks.remove(task).is_none() {
            return Ok(());
        }
        let path = self.path_of(task);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(GraphError::State { path, cause: e })
            }
            _ => Ok(()),
        }
    }

    pub fn task_names(&self) -> impl Iterator<Item = &String> {
        self.tasks.keys()
    }
}

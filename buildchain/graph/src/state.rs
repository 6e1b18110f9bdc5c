//! The state file: per task, the fingerprints of its last successful run.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::GraphError;
use crate::fingerprint::Stamp;

const FORMAT: u32 = 1;

/// What the last successful run of a task saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Hash of the task's definition (version string, targets, task deps).
    pub definition: String,
    /// Content fingerprint: definition + file deps' contents (portable).
    pub fingerprint: String,
    pub file_deps: BTreeMap<String, Stamp>,
    pub targets: BTreeMap<String, Stamp>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    format: u32,
    tasks: BTreeMap<String, Record>,
}

/// The records of every task, loaded from and saved to one JSON file (atomically).
#[derive(Debug)]
pub(crate) struct State {
    path: PathBuf,
    tasks: BTreeMap<String, Record>,
    /// Why the file was ignored when it was unreadable (reported once).
    pub warning: Option<String>,
}

impl State {
    /// Loads the state; a missing file is an empty state. A corrupt or foreign one is
    /// ignored with a warning (everything re-runs), never trusted.
    pub fn load(path: &Path) -> Result<State, GraphError> {
        let mut state = State {
            path: path.to_path_buf(),
            tasks: BTreeMap::new(),
            warning: None,
        };
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(state),
            Err(source) => {
                return Err(GraphError::State {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        match serde_json::from_slice::<StateFile>(&bytes) {
            Ok(file) if file.format == FORMAT => state.tasks = file.tasks,
            Ok(file) => {
                state.warning = Some(format!(
                    "state file {}: format {} is not {FORMAT}: ignored, every task re-runs",
                    path.display(),
                    file.format
                ))
            }
            Err(e) => {
                state.warning = Some(format!(
                    "state file {}: {e}: ignored, every task re-runs",
                    path.display()
                ))
            }
        }
        Ok(state)
    }

    pub fn get(&self, task: &str) -> Option<&Record> {
        self.tasks.get(task)
    }

    pub fn set(&mut self, task: &str, record: Record) -> bool {
        if self.tasks.get(task) == Some(&record) {
            return false;
        }
        self.tasks.insert(task.to_string(), record);
        true
    }

    pub fn remove(&mut self, task: &str) -> bool {
        self.tasks.remove(task).is_some()
    }

    pub fn task_names(&self) -> impl Iterator<Item = &String> {
        self.tasks.keys()
    }

    /// Writes the state file atomically (creating its directory).
    pub fn save(&self) -> Result<(), GraphError> {
        let err = |source| GraphError::State {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(err)?;
        }
        let file = StateFileRef {
            format: FORMAT,
            tasks: &self.tasks,
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| err(io::Error::other(e)))?;
        write_atomic(&self.path, &bytes, None).map_err(err)
    }
}

#[derive(Serialize)]
struct StateFileRef<'a> {
    format: u32,
    tasks: &'a BTreeMap<String, Record>,
}

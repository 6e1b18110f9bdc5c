//! The reporter both engine test files assert on.
#![allow(dead_code)]

use std::sync::Mutex;

use buildchain_graph::{Event, Reporter};

/// Records task status lines (`STARTED a`, `SUCCESS a`, `SKIPPED a`, `FAILED a: why`) and
/// the run's own log lines (`LOG …`) for assertions.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn event(&self, event: &Event) {
        let line = match event {
            Event::Started { task, .. } => format!("STARTED {task}"),
            Event::Success { task, .. } => format!("SUCCESS {task}"),
            Event::Skipped { task, .. } => format!("SKIPPED {task}"),
            Event::Failed { task, error, .. } => format!("FAILED {task}: {error}"),
            Event::Log { task, message } if task.is_empty() => format!("LOG {message}"),
            _ => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

impl Recorder {
    /// The lines recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The tasks of the lines starting with `prefix` (`"STARTED"`…), sorted.
    pub fn statuses(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .take()
            .into_iter()
            .filter_map(|l| l.strip_prefix(prefix).map(|s| s.trim().to_string()))
            .collect();
        v.sort();
        v
    }
}

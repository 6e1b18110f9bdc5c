//! `buildchain-graph`: a generic, domain-free task engine (see README.md).
//!
//! A [`Task`] has a name (`group:sub`, private names start with `_`), a doc, file
//! dependencies, task dependencies, targets, an action, a clean action, and optionally
//! dependencies discovered at run time (file deps computed once its task deps ran, like
//! doit's `calc_dep`; sub-tasks created once it ran, like doit's `create_after`).
//! An [`Engine`] runs a selection of tasks on N workers, skipping the tasks whose file
//! dependencies' content, definition and targets match the last successful run (kept in a
//! state directory, in one append-only log).

mod cache;
mod clean;
mod context;
mod engine;
mod entries;
mod error;
mod fingerprint;
mod glob;
mod graph;
mod schedule;
mod state;
mod task;
mod uptodate;
mod walks;

pub use cache::{CachedTask, TaskCache};
pub use clean::CleanContext;
pub use context::{Context, Event, Progress, Reporter, SilentReporter};
pub use engine::{Engine, RunSummary};
pub use error::{BoxError, GraphError};
pub use fingerprint::PathKeys;
pub use glob::{glob_match, is_pattern};
pub use graph::Graph;
pub use task::Task;
pub use uptodate::Status;

use std::path::PathBuf;

/// The error type task closures return (anything convertible, e.g. `anyhow::Error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the engine itself (a failing task is reported in the
/// [`RunSummary`](crate::RunSummary), not as an error).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("task '{0}' is defined twice")]
    DuplicateTask(String),
    #[error("invalid task name '{name}': {rule}")]
    InvalidName { name: String, rule: &'static str },
    #[error("unknown task '{0}'")]
    UnknownTask(String),
    #[error("task '{task}' depends on unknown task '{dep}'")]
    UnknownDependency { task: String, dep: String },
    #[error("no task matches '{0}'")]
    NoMatch(String),
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("state {}: {cause}", path.display())]
    State {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("task '{task}': {message}")]
    Task { task: String, message: String },
    #[error("cannot prune {}: {message}", path.display())]
    Prune { path: PathBuf, message: String },
}

/// Renders an error and its chain of sources as `outer: inner: …` (without repeating a
/// message that already ends the previous one).
pub(crate) fn render_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

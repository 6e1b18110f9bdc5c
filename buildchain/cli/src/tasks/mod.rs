//! The distribution's tasks, one module per family. Each module has a `tasks(&cfg)`
//! function returning its tasks; `define` gathers them into the graph.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use buildchain_graph::{Graph, Task};

use crate::config::Config;

pub mod delta;
pub mod images;
pub mod iso;
pub mod lint;
pub mod packaging;
pub mod salt;
pub mod sbom;
pub mod vagrant;

/// Shared, read-only configuration captured by the task closures.
pub type Cfg = Arc<Config>;

/// Every task of the distribution; the lint family only `with_lint` (finding the files to
/// lint walks the whole repository).
pub fn define(cfg: &Cfg, with_lint: bool) -> Result<Graph> {
    let mut graph = Graph::new();
    graph.add_all(iso::tasks(cfg)?)?;
    graph.add_all(salt::tasks(cfg)?)?;
    graph.add_all(images::tasks(cfg)?)?;
    graph.add_all(packaging::tasks(cfg)?)?;
    if with_lint {
        graph.add_all(lint::tasks(cfg)?)?;
    }
    graph.add_all(vagrant::tasks(cfg)?)?;
    graph.add_all(delta::tasks(cfg)?)?;
    Ok(graph)
}

/// A task creating the directory `dir`, which other tasks fill, after `deps`.
pub fn mkdir_task(name: &str, doc: &str, dir: PathBuf, deps: &[&str]) -> Task {
    let d = dir.clone();
    Task::new(name)
        .doc(doc)
        .task_deps(deps.iter().copied())
        .creates_dir(dir)
        .version("mkdir v2 0755")
        .action(move |_| -> Result<()> {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(&d)
                .with_context(|| format!("{}: cannot create", d.display()))?;
            // The mode the ISO records, whatever the umask or a hand changed.
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("{}: cannot set permissions", d.display()))
        })
}

/// Every file under `dir` (sorted; a missing `dir` is empty).
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(buildchain_fs::files_under(dir)?)
}

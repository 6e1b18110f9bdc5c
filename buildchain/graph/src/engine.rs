use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use crate::clean::CleanContext;
use crate::context::{Event, Reporter};
use crate::error::{render_chain, GraphError};
use crate::fingerprint::PathKeys;
use crate::graph::Graph;
pub use crate::schedule::RunSummary;
use crate::schedule::{self, Runner};
use crate::state::State;
use crate::task::CleanKind;
use crate::uptodate::{check, Status};
use crate::walks::Walks;

/// A graph of tasks bound to a state directory.
pub struct Engine {
    graph: Graph,
    state_dir: PathBuf,
    keys: PathKeys,
    output_root: Option<PathBuf>,
    prune_dirs: Vec<PathBuf>,
    keep_going: bool,
    /// Name prefixes of task families left out of this graph (see
    /// [`Engine::with_unloaded_family`]).
    unloaded: Vec<String>,
    cache: Option<(std::sync::Arc<dyn crate::TaskCache>, String)>,
}

impl Engine {
    /// `state_dir` keeps the fingerprints of successful runs, in one log (usually under the
    /// build root).
    pub fn new(graph: Graph, state_dir: impl Into<PathBuf>) -> Self {
        Engine {
            graph,
            state_dir: state_dir.into(),
            keys: PathKeys::new(),
            output_root: None,
            prune_dirs: Vec::new(),
            keep_going: false,
            unloaded: Vec::new(),
            cache: None,
        }
    }

    /// A shared cache of the outputs of cacheable tasks ([`crate::Task::cacheable`]);
    /// `tool_version` is part of every key (outputs of another version are not reused).
    pub fn with_cache(
        mut self,
        cache: std::sync::Arc<dyn crate::TaskCache>,
        tool_version: impl Into<String>,
    ) -> Self {
        self.cache = Some((cache, tool_version.into()));
        self
    }

    /// After a failure, go on running every task whose dependencies succeeded (make `-k`,
    /// ninja `-k 0`, doit `--continue`); by default nothing new starts after the first
    /// failure. Either way every failure is in the summary.
    pub fn with_keep_going(mut self, keep_going: bool) -> Self {
        self.keep_going = keep_going;
        self
    }

    /// The directory outputs live in (a build root). Set, it bounds every removal the
    /// engine makes: `clean`, outputs a task no longer declares, outputs of tasks no longer
    /// defined; a path outside it (or through a link leading out of it) is never removed.
    /// Unset, outputs of tasks no longer defined are left in place.
    pub fn with_output_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.output_root = Some(root.into());
        self
    }

    /// A directory (inside the output root) only tasks write in: at the start of each
    /// run, whatever in it no task declares (a target or created directory, something
    /// inside one, or a directory on the way to one) is removed: outputs of tasks no longer
    /// defined, what a killed run left, files put there by hand.
    pub fn with_pruned_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.prune_dirs.push(dir.into());
        self
    }

    /// Tells the engine that the tasks whose names start with one of `prefixes` were left
    /// out of this graph (a family this run cannot touch): their records are kept, where the
    /// records of tasks no longer defined are forgotten and their outputs removed.
    pub fn with_unloaded_family(mut self, prefixes: &[&str]) -> Self {
        self.unloaded.extend(prefixes.iter().map(|p| p.to_string()));
        self
    }

    /// Whether `name` belongs to a family left out of this graph.
    fn is_unloaded(&self, name: &str) -> bool {
        self.unloaded.iter().any(|p| name.starts_with(p.as_str()))
    }

    /// How paths are named in the state log and fingerprints (see [`PathKeys`]).
    pub fn with_keys(mut self, keys: PathKeys) -> Self {
        self.keys = keys;
        self
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The state for a run (see [`State::load_for_run`]), its warnings reported.
    fn load_state(&self, reporter: &dyn Reporter) -> Result<State, GraphError> {
        let state = State::load_for_run(&self.state_dir)?;
        for warning in &state.warnings {
            reporter.event(&Event::Log {
                task: String::new(),
                message: warning.clone(),
            });
        }
        Ok(state)
    }

    /// Runs the selected tasks (exact names; see [`Graph::select`] for patterns) and what
    /// they depend on, on `jobs` workers. Task failures are in the summary; an `Err` is a
    /// problem of the graph or the state log.
    pub fn run(
        &self,
        selection: &[String],
        jobs: usize,
        reporter: &dyn Reporter,
    ) -> Result<RunSummary, GraphError> {
        let mut state = self.load_state(reporter)?;
        self.forget_undefined(&mut state, reporter)?;
        let declared = self.declared_outputs(&state);
        self.unlink_links_on_the_way(&declared, reporter)?;
        self.prune(&declared, reporter)?;
        let state = Mutex::new(state);
        let stopping = AtomicBool::new(false);
        let runner = Runner {
            keys: &self.keys,
            output_root: self.output_root.as_deref(),
            state: &state,
            reporter,
            stopping: &stopping,
            keep_going: self.keep_going,
            walks: Walks::default(),
            cache: self.cache.as_ref().map(|(c, v)| (&**c, v.as_str())),
        };
        let summary = schedule::run(&self.graph, selection, jobs, &runner);
        // Freeing the walks and records of a big tree takes milliseconds nobody waits for.
        let walks = runner.walks;
        let freed = std::thread::Builder::new().spawn(move || drop((walks, state)));
        // Without a thread, they are freed here (the closure, given back, is dropped).
        drop(freed);
        summary
    }

    /// Removes the outputs of tasks that completed in an earlier run but are no longer
    /// defined (tasks created at run time excepted: their creator decides), and forgets them.
    fn forget_undefined(
        &self,
        state: &mut State,
        reporter: &dyn Reporter,
    ) -> Result<(), GraphError> {
        let undefined: Vec<String> = state
            .task_names()
            .filter(|n| self.graph.get(n).is_none())
            .filter(|n| !state.is_dynamic(n))
            .filter(|n| !self.is_unloaded(n))
            .cloned()
            .collect();
        for name in undefined {
            if let (Some(root), Some(record)) = (&self.output_root, state.get(&name)) {
                let ctx = CleanContext::new(&name, false, Some(root));
                for key in &record.declared {
                    ctx.remove(&self.keys.path(key))
                        .map_err(|e| GraphError::Task {
                            task: name.clone(),
                            message: format!(
                                "cannot remove the outputs of a task no longer defined: {e}"
                            ),
                        })?;
                }
                for line in ctx.into_lines() {
                    reporter.event(&Event::Log {
                        task: String::new(),
                        message: format!("{line} (made by {name}, a task no longer defined)"),
                    });
                }
            }
            state.remove(&name)?;
        }
        Ok(())
    }

    /// Every path declared as an output: by the graph's tasks, and by the tasks created at
    /// run time or of a family left out of this graph, whose records are kept.
    fn declared_outputs(&self, state: &State) -> HashSet<PathBuf> {
        let mut out: HashSet<PathBuf> = self
            .graph
            .tasks()
            .iter()
            .flat_map(|t| t.declared_outputs().cloned())
            .collect();
        for name in state.task_names() {
            let kept = state.is_dynamic(name) || self.is_unloaded(name);
            if let Some(record) = kept.then(|| state.get(name)).flatten() {
                out.extend(record.declared.iter().map(|k| self.keys.path(k)));
            }
        }
        out
    }

    /// Inside the output root, removes every symbolic link standing where a created
    /// directory, or a directory on the way to an output, belongs: tasks write into those
    /// directories, and must never write (or prune) through a link to elsewhere.
    fn unlink_links_on_the_way(
        &self,
        declared: &HashSet<PathBuf>,
        reporter: &dyn Reporter,
    ) -> Result<(), GraphError> {
        let Some(root) = &self.output_root else {
            return Ok(());
        };
        let created: HashSet<&PathBuf> = self
            .graph
            .tasks()
            .iter()
            .flat_map(|t| t.created_dirs.iter())
            .collect();
        let ctx = CleanContext::new("", false, Some(root));
        let mut checked: HashSet<PathBuf> = HashSet::new();
        for output in declared {
            let Ok(rest) = output.strip_prefix(root) else {
                continue;
            };
            let mut dir = root.clone();
            let components: Vec<_> = rest.components().collect();
            for (i, component) in components.iter().enumerate() {
                dir.push(component);
                let is_output = i + 1 == components.len();
                if (is_output && !created.contains(output)) || !checked.insert(dir.clone()) {
                    continue;
                }
                match std::fs::symlink_metadata(&dir) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        ctx.remove(&dir).map_err(|e| GraphError::Prune {
                            path: dir.clone(),
                            message: e.to_string(),
                        })?;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        for line in ctx.into_lines() {
            reporter.event(&Event::Log {
                task: String::new(),
                message: format!(
                    "{line}: a symbolic link where an output directory belongs (outputs are never written through links)"
                ),
            });
        }
        Ok(())
    }

    /// Removes from the pruned directories what no task declares.
    fn prune(
        &self,
        declared: &HashSet<PathBuf>,
        reporter: &dyn Reporter,
    ) -> Result<(), GraphError> {
        if self.prune_dirs.is_empty() {
            return Ok(());
        }
        let Some(root) = &self.output_root else {
            return Ok(());
        };
        let mut on_the_way: HashSet<PathBuf> = HashSet::new();
        for path in declared {
            let mut p = path.parent();
            while let Some(dir) = p {
                if !on_the_way.insert(dir.to_path_buf()) {
                    break;
                }
                p = dir.parent();
            }
        }
        let ctx = CleanContext::new("", false, Some(root));
        for dir in &self.prune_dirs {
            let is_dir = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
            let pruned = if is_dir {
                prune_dir(dir, declared, &on_the_way, &ctx)
            } else {
                // Not a directory (a link, a file): nothing no task declares may stay.
                ctx.remove(dir)
            };
            pruned.map_err(|e| GraphError::Prune {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        }
        for line in ctx.into_lines() {
            reporter.event(&Event::Log {
                task: String::new(),
                message: format!("{line} (no task produces it)"),
            });
        }
        Ok(())
    }

    /// Would `name` run, and why. A group is up to date when all its dependencies are.
    pub fn status(&self, name: &str) -> Result<Status, GraphError> {
        Ok(self.status_and_warnings(name)?.0)
    }

    /// [`Engine::status`], and what was ignored when reading the state (a damaged log…).
    pub fn status_and_warnings(&self, name: &str) -> Result<(Status, Vec<String>), GraphError> {
        let state = State::load(&self.state_dir)?;
        let mut memo = HashMap::new();
        let status = self.status_in(name, &state, &mut memo)?;
        Ok((status, state.warnings))
    }

    fn status_in(
        &self,
        name: &str,
        state: &State,
        memo: &mut HashMap<String, Status>,
    ) -> Result<Status, GraphError> {
        if let Some(s) = memo.get(name) {
            return Ok(s.clone());
        }
        let task = self
            .graph
            .get(name)
            .ok_or_else(|| GraphError::UnknownTask(name.to_string()))?;
        let status = if task.has_action() {
            match check(
                task,
                &self.keys,
                state.get_shared(name).as_ref(),
                &Walks::default(),
                false,
            ) {
                Ok(c) => c.status,
                Err(message) => Status::Outdated(message),
            }
        } else {
            let mut status = Status::UpToDate;
            for dep in &task.task_deps {
                if let Status::Outdated(_) = self.status_in(dep, state, memo)? {
                    status = Status::Outdated(format!("its dependency {dep} is not up to date"));
                    break;
                }
            }
            status
        };
        memo.insert(name.to_string(), status.clone());
        Ok(status)
    }

    /// The content fingerprint of the last successful run of `name` (portable: made of
    /// its definition and its file deps' contents), if any.
    pub fn last_fingerprint(&self, name: &str) -> Result<Option<String>, GraphError> {
        let state = State::load(&self.state_dir)?;
        Ok(state.get(name).map(|r| r.fingerprint.clone()))
    }

    /// Every file dep of `name` as it would be now: static, calculated, and the files of
    /// its tree deps (for `info`).
    pub fn current_file_deps(&self, name: &str) -> Result<Vec<PathBuf>, GraphError> {
        let task = self
            .graph
            .get(name)
            .ok_or_else(|| GraphError::UnknownTask(name.to_string()))?;
        crate::uptodate::all_file_deps(task).map_err(|message| GraphError::Task {
            task: name.to_string(),
            message,
        })
    }

    /// Cleans the selected tasks and their sub-tasks (dependents first): runs their clean
    /// action (default: remove the targets) and forgets their last success. With no
    /// selection, cleans every task. Returns the report lines (what was, or on a dry run
    /// would be, removed).
    pub fn clean(&self, selection: &[String], dry_run: bool) -> Result<Vec<String>, GraphError> {
        let names: Vec<String> = if selection.is_empty() {
            self.graph.tasks().iter().map(|t| t.name.clone()).collect()
        } else {
            selection.to_vec()
        };
        let order = self.graph.clean_set(&names)?;
        let mut lines = Vec::new();
        let mut cleaned = Vec::new();
        let root = self.output_root.as_deref();
        for i in order {
            let task = self.graph.task(i);
            if task.clean_only_when_named && !selection.contains(&task.name) {
                lines.push(format!(
                    "kept what {} made (cleaned only when named: clean {})",
                    task.name, task.name
                ));
                continue;
            }
            let ctx = CleanContext::new(&task.name, dry_run, root);
            let result = match &task.clean {
                CleanKind::Targets => task
                    .declared_outputs()
                    .try_for_each(|t| ctx.remove(t))
                    .map_err(|e| e.to_string()),
                CleanKind::Custom(f) => f(&ctx).map_err(|e| render_chain(e.as_ref())),
            };
            lines.extend(ctx.into_lines());
            if let Err(message) = result {
                return Err(GraphError::Task {
                    task: task.name.clone(),
                    message: format!("clean failed: {message}"),
                });
            }
            cleaned.push(task.name.clone());
        }
        if selection.is_empty() {
            // Tasks created at run time that the graph no longer knows: remove what
            // their last success produced.
            let state = State::load(&self.state_dir)?;
            let ctx = CleanContext::new("", dry_run, root);
            let unknown = state
                .task_names()
                .filter(|n| self.graph.get(n).is_none() && !self.is_unloaded(n));
            for name in unknown {
                if let Some(record) = state.get(name) {
                    for key in &record.declared {
                        ctx.remove(&self.keys.path(key))
                            .map_err(|e| GraphError::Task {
                                task: name.clone(),
                                message: format!("clean failed: {e}"),
                            })?;
                    }
                }
                cleaned.push(name.clone());
            }
            lines.extend(ctx.into_lines());
        }
        if !dry_run {
            let mut state = State::load_for_run(&self.state_dir)?;
            for name in &cleaned {
                state.remove(name)?;
            }
        }
        Ok(lines)
    }
}

/// Removes the entries of `dir` that are neither declared nor on the way to a declared
/// path, descending into the latter (never into declared directories: their task owns them).
fn prune_dir(
    dir: &Path,
    declared: &HashSet<PathBuf>,
    on_the_way: &HashSet<PathBuf>,
    ctx: &CleanContext,
) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        if declared.contains(&path) {
            continue;
        }
        if on_the_way.contains(&path) {
            let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir {
                prune_dir(&path, declared, on_the_way, ctx)?;
                continue;
            }
        }
        ctx.remove(&path)?;
    }
    Ok(())
}

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::clean::CleanContext;
use crate::context::Context;
use crate::error::BoxError;

pub(crate) type ActionFn = Arc<dyn Fn(&Context) -> Result<(), BoxError> + Send + Sync>;
pub(crate) type CleanFn = Arc<dyn Fn(&CleanContext) -> Result<(), BoxError> + Send + Sync>;
pub(crate) type DepsFn = Arc<dyn Fn() -> Result<Vec<PathBuf>, BoxError> + Send + Sync>;
pub(crate) type TasksFn = Arc<dyn Fn() -> Result<Vec<Task>, BoxError> + Send + Sync>;
pub(crate) type CheckFn = Arc<dyn Fn() -> Result<bool, BoxError> + Send + Sync>;

#[derive(Clone)]
pub(crate) enum CleanKind {
    /// Remove the targets (directories recursively: a directory target is owned by its task).
    Targets,
    Custom(CleanFn),
}

/// One unit of work. Built with chained setters:
///
/// ```
/// use buildchain_graph::Task;
/// let task = Task::new("_iso_digest")
///     .doc("Compute the SHA256 digest of the ISO.")
///     .file_dep("/build/metalk8s.iso")
///     .target("/build/SHA256SUM")
///     .version("sha256sum v1")
///     .action(|_ctx| -> Result<(), std::io::Error> { Ok(()) });
/// assert_eq!(task.name(), "_iso_digest");
/// ```
#[derive(Clone)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) doc: String,
    pub(crate) title: Option<String>,
    pub(crate) file_deps: Vec<PathBuf>,
    pub(crate) tree_deps: Vec<PathBuf>,
    pub(crate) task_deps: Vec<String>,
    pub(crate) subtasks: Vec<String>,
    pub(crate) targets: Vec<PathBuf>,
    pub(crate) created_dirs: Vec<PathBuf>,
    pub(crate) version: String,
    pub(crate) action: Option<ActionFn>,
    pub(crate) clean: CleanKind,
    pub(crate) calc_file_deps: Option<DepsFn>,
    pub(crate) create_after: Option<TasksFn>,
    pub(crate) uptodate: Option<CheckFn>,
    pub(crate) always_run: bool,
    pub(crate) reruns_after_its_deps: bool,
    pub(crate) clean_only_when_named: bool,
    pub(crate) cacheable: bool,
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("file_deps", &self.file_deps)
            .field("task_deps", &self.task_deps)
            .field("targets", &self.targets)
            .field("created_dirs", &self.created_dirs)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// A task named `name` (`group`, `group:sub`; a leading `_` makes it private).
    pub fn new(name: impl Into<String>) -> Self {
        Task {
            name: name.into(),
            doc: String::new(),
            title: None,
            file_deps: Vec::new(),
            tree_deps: Vec::new(),
            task_deps: Vec::new(),
            subtasks: Vec::new(),
            targets: Vec::new(),
            created_dirs: Vec::new(),
            version: String::new(),
            action: None,
            clean: CleanKind::Targets,
            calc_file_deps: None,
            create_after: None,
            uptodate: None,
            always_run: false,
            reruns_after_its_deps: false,
            clean_only_when_named: false,
            cacheable: false,
        }
    }

    /// Its outputs may come from, and go to, the engine's shared cache
    /// ([`crate::Engine::with_cache`]): its targets are all it writes, and they are
    /// decided by its fingerprint alone (no `uptodate` check of its own).
    pub fn cacheable(mut self) -> Self {
        self.cacheable = true;
        self
    }

    pub fn is_cacheable(&self) -> bool {
        self.cacheable
            && self.action.is_some()
            && !self.targets.is_empty()
            && !self.always_run
            && self.uptodate.is_none()
            && !self.reruns_after_its_deps
            && self.created_dirs.is_empty()
    }

    /// The documentation shown by `list` and `info` (first line = summary).
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = doc.into();
        self
    }

    /// What the reporters print after the status (default: the name).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// A file whose content the task reads: a change re-runs the task; a missing one is an
    /// error of the task.
    pub fn file_dep(mut self, path: impl Into<PathBuf>) -> Self {
        self.file_deps.push(path.into());
        self
    }

    pub fn file_deps<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.file_deps.extend(paths.into_iter().map(Into::into));
        self
    }

    /// A directory whose whole tree the task reads: every file's content, every
    /// directory, symlink target and permission bits. Walked when the task is checked
    /// (so after its task deps ran); a missing directory is an empty tree.
    pub fn tree_dep(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tree_deps.push(dir.into());
        self
    }

    /// A task that must have completed (run or skipped) before this one starts.
    pub fn task_dep(mut self, name: impl Into<String>) -> Self {
        self.task_deps.push(name.into());
        self
    }

    pub fn task_deps<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.task_deps.extend(names.into_iter().map(Into::into));
        self
    }

    /// A task dependency that is part of this task: cleaning this task cleans it too.
    pub fn subtask(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.subtasks.push(name.clone());
        self.task_deps.push(name);
        self
    }

    pub fn subtasks<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        for name in names {
            self = self.subtask(name);
        }
        self
    }

    /// A file or directory the task produces, wholly: files are fingerprinted by content,
    /// directories by every entry of their tree (paths, contents, permission bits, symlink
    /// targets), so that damage or an edit under a directory target makes the task re-run.
    pub fn target(mut self, path: impl Into<PathBuf>) -> Self {
        self.targets.push(path.into());
        self
    }

    pub fn targets<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.targets.extend(paths.into_iter().map(Into::into));
        self
    }

    /// A directory this task creates for other tasks to fill: only its existence is
    /// tracked (what other tasks put in it does not make this task re-run). Cleaning the
    /// task removes the directory with what it holds.
    pub fn creates_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.created_dirs.push(path.into());
        self
    }

    /// A stable description of the task's parameters (options, versions, the values it
    /// renders…): when it changes, the task re-runs. Never put absolute paths or times here.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The work. Called on a worker thread once every task dependency completed.
    pub fn action<F, E>(mut self, f: F) -> Self
    where
        F: Fn(&Context) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.action = Some(Arc::new(move |ctx: &Context| f(ctx).map_err(Into::into)));
        self
    }

    /// Replaces the default clean (remove the targets).
    pub fn clean<F, E>(mut self, f: F) -> Self
    where
        F: Fn(&CleanContext) -> Result<(), E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.clean = CleanKind::Custom(Arc::new(move |ctx: &CleanContext| {
            f(ctx).map_err(Into::into)
        }));
        self
    }

    /// File dependencies known only once the task dependencies ran (doit's `calc_dep`):
    /// called after them, before the up-to-date check; added to the static file deps.
    pub fn calc_file_deps<F, E>(mut self, f: F) -> Self
    where
        F: Fn() -> Result<Vec<PathBuf>, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.calc_file_deps = Some(Arc::new(move || f().map_err(Into::into)));
        self
    }

    /// Sub-tasks known only once this task completed (doit's `create_after`): called after
    /// it ran or was skipped; the tasks returned are added to the run and every task
    /// depending on this one waits for them too. `list`/`info`/`clean` call it as well
    /// (with whatever is on disk) through [`Graph::expand`](crate::Graph::expand).
    pub fn create_after<F, E>(mut self, f: F) -> Self
    where
        F: Fn() -> Result<Vec<Task>, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.create_after = Some(Arc::new(move || f().map_err(Into::into)));
        self
    }

    /// An extra up-to-date check (doit's `uptodate` callables): when it returns true (and
    /// nothing else says otherwise) the task is skipped.
    pub fn uptodate<F, E>(mut self, f: F) -> Self
    where
        F: Fn() -> Result<bool, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        self.uptodate = Some(Arc::new(move || f().map_err(Into::into)));
        self
    }

    /// Its clean action runs only when the task is named (`clean TASK`), never in a clean
    /// of everything: for cleans with effects outside the outputs (destroying machines).
    pub fn clean_only_when_named(mut self) -> Self {
        self.clean_only_when_named = true;
        self
    }

    /// Run whenever one of its task deps ran in this run, even if its file deps' content is
    /// unchanged: for a task that reworks what its dependencies wrote (hardlinking their
    /// identical files: a dependency that wrote the same content again has undone the
    /// links, which content stamps do not see).
    pub fn reruns_after_its_deps(mut self) -> Self {
        self.reruns_after_its_deps = true;
        self
    }

    /// Never skip this task (it has side effects outside its targets).
    pub fn always_run(mut self) -> Self {
        self.always_run = true;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn get_doc(&self) -> &str {
        &self.doc
    }
    /// First line of the doc.
    pub fn summary(&self) -> &str {
        self.doc.lines().next().unwrap_or("")
    }
    pub fn get_title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
    pub fn get_file_deps(&self) -> &[PathBuf] {
        &self.file_deps
    }
    pub fn get_tree_deps(&self) -> &[PathBuf] {
        &self.tree_deps
    }
    pub fn get_task_deps(&self) -> &[String] {
        &self.task_deps
    }
    pub fn get_subtasks(&self) -> &[String] {
        &self.subtasks
    }
    /// The files and directories the task produces (see [`Task::target`]).
    pub fn get_targets(&self) -> &[PathBuf] {
        &self.targets
    }
    /// The directories the task creates for others (see [`Task::creates_dir`]).
    pub fn get_created_dirs(&self) -> &[PathBuf] {
        &self.created_dirs
    }
    /// Every path the task declares: its targets, then the directories it creates.
    pub fn declared_outputs(&self) -> impl Iterator<Item = &PathBuf> {
        self.targets.iter().chain(&self.created_dirs)
    }
    pub fn get_version(&self) -> &str {
        &self.version
    }
    pub fn has_action(&self) -> bool {
        self.action.is_some()
    }
    pub fn has_calc_file_deps(&self) -> bool {
        self.calc_file_deps.is_some()
    }
    /// Private tasks start with `_`.
    pub fn is_private(&self) -> bool {
        self.name.starts_with('_')
    }
    /// Sub-tasks are named `group:sub`.
    pub fn is_subtask(&self) -> bool {
        self.name.contains(':')
    }
}

//! Running a selection on N worker threads: a task starts once all its task dependencies
//! completed; after the first failure nothing new starts (unless keep-going: then every
//! task whose dependencies succeeded still runs), running tasks finish, and every failure
//! is reported.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use crate::clean::CleanContext;
use crate::context::{Context, Event, Reporter};
use crate::error::{render_chain, GraphError};
use crate::fingerprint::{PathKeys, Stamp};
use crate::graph::Graph;
use crate::state::{Kept, Record, State};
use crate::task::Task;
use crate::uptodate::{check, stamp_targets, Status};
use crate::walks::Walks;

/// What happened to the tasks of a run.
#[derive(Debug, Default, Clone)]
pub struct RunSummary {
    /// Tasks whose action ran and succeeded, in completion order.
    pub executed: Vec<String>,
    /// Tasks found up to date (and groups none of whose dependencies ran).
    pub skipped: Vec<String>,
    /// Failed tasks with their error.
    pub failed: Vec<(String, String)>,
    /// Tasks not started because of a failure (of a dependency, or anywhere when not
    /// keeping going).
    pub not_run: Vec<String>,
}

impl RunSummary {
    pub fn success(&self) -> bool {
        self.failed.is_empty() && self.not_run.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NodeState {
    Waiting,
    Running,
    AwaitingChildren,
    Done,
    Failed,
}

struct Node {
    task: Task,
    deps_left: usize,
    dependents: Vec<usize>,
    /// For tasks created at run time: the task that created them.
    parent: Option<usize>,
    children_left: usize,
    any_dep_ran: bool,
    ran: bool,
    state: NodeState,
}

enum Outcome {
    Done { ran: bool, children: Vec<Task> },
    Failed(String),
}

struct Run<'g> {
    graph: &'g Graph,
    nodes: Vec<Node>,
    by_name: HashMap<String, usize>,
    ready: VecDeque<usize>,
}

impl Run<'_> {
    fn insert(&mut self, task: Task, parent: Option<usize>) -> usize {
        let i = self.nodes.len();
        self.by_name.insert(task.name.clone(), i);
        self.nodes.push(Node {
            task,
            deps_left: 0,
            dependents: Vec::new(),
            parent,
            children_left: 0,
            any_dep_ran: false,
            ran: false,
            state: NodeState::Waiting,
        });
        i
    }

    /// Adds graph tasks (and what they depend on) that are not yet part of the run.
    fn add_from_graph(&mut self, names: &[String]) -> Result<Vec<usize>, GraphError> {
        let order = self.graph.closure(names)?;
        let mut added = Vec::new();
        for gi in order {
            let task = self.graph.task(gi);
            if !self.by_name.contains_key(&task.name) {
                added.push(self.insert(task.clone(), None));
            }
        }
        for &i in &added {
            self.wire(i)?;
        }
        Ok(added)
    }

    /// Connects node `i` to its dependencies (which must be in the run or the graph).
    fn wire(&mut self, i: usize) -> Result<(), GraphError> {
        let deps = self.nodes[i].task.task_deps.clone();
        for dep in deps {
            let d = match self.by_name.get(&dep) {
                Some(&d) => d,
                None => {
                    if self.graph.get(&dep).is_none() {
                        return Err(GraphError::UnknownDependency {
                            task: self.nodes[i].task.name.clone(),
                            dep,
                        });
                    }
                    self.add_from_graph(std::slice::from_ref(&dep))?;
                    self.by_name[&dep]
                }
            };
            if self.nodes[d].state == NodeState::Done {
                self.nodes[i].any_dep_ran |= self.nodes[d].ran;
            } else {
                self.nodes[i].deps_left += 1;
                self.nodes[d].dependents.push(i);
            }
        }
        if self.nodes[i].deps_left == 0 {
            self.ready.push_back(i);
        }
        Ok(())
    }

    /// Marks `i` complete and releases what waited for it.
    fn complete(&mut self, i: usize) {
        self.nodes[i].state = NodeState::Done;
        let ran = self.nodes[i].ran;
        for d in std::mem::take(&mut self.nodes[i].dependents) {
            let node = &mut self.nodes[d];
            node.any_dep_ran |= ran;
            node.deps_left -= 1;
            if node.deps_left == 0 {
                self.ready.push_back(d);
            }
        }
        if let Some(p) = self.nodes[i].parent {
            self.nodes[p].any_dep_ran |= ran;
            self.nodes[p].children_left -= 1;
            if self.nodes[p].children_left == 0 {
                self.complete(p);
            }
        }
    }
}

pub(crate) struct Runner<'a> {
    pub keys: &'a PathKeys,
    /// Where outputs may be removed (see `Engine::with_output_root`).
    pub output_root: Option<&'a std::path::Path>,
    pub state: &'a Mutex<State>,
    pub reporter: &'a dyn Reporter,
    pub stopping: &'a AtomicBool,
    /// Keep starting tasks after a failure (those whose dependencies succeeded).
    pub keep_going: bool,
    /// Tree walks shared by the checks of this run.
    pub walks: Walks,
    /// The shared cache and the tool version its keys include.
    pub cache: Option<(&'a dyn crate::TaskCache, &'a str)>,
}

pub(crate) fn run(
    graph: &Graph,
    selection: &[String],
    jobs: usize,
    runner: &Runner<'_>,
) -> Result<RunSummary, GraphError> {
    let mut run = Run {
        graph,
        nodes: Vec::new(),
        by_name: HashMap::new(),
        ready: VecDeque::new(),
    };
    for name in selection {
        if graph.get(name).is_none() {
            return Err(GraphError::UnknownTask(name.clone()));
        }
    }
    run.add_from_graph(selection)?;
    runner.reporter.event(&Event::Planned {
        count: run.nodes.len(),
    });
    let jobs = jobs.max(1);
    let mut summary = RunSummary::default();
    let mut running = 0usize;
    let mut engine_error: Option<GraphError> = None;
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    std::thread::scope(|scope| loop {
        if runner.reporter.is_closed() {
            runner.stopping.store(true, Ordering::Relaxed);
        }
        while running < jobs && !runner.stopping.load(Ordering::Relaxed) {
            let Some(i) = run.ready.pop_front() else {
                break;
            };
            run.nodes[i].state = NodeState::Running;
            running += 1;
            let task = run.nodes[i].task.clone();
            let any_dep_ran = run.nodes[i].any_dep_ran;
            let dynamic = run.nodes[i].parent.is_some();
            let reply = Reply {
                tx: tx.clone(),
                node: i,
                sent: false,
            };
            scope.spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    execute(&task, any_dep_ran, dynamic, runner)
                }))
                .unwrap_or_else(|panic| {
                    let message = format!("panicked: {}", panic_message(panic.as_ref()));
                    // The reporter may be what panicked: the outcome is sent whatever it does.
                    let _ = catch_unwind(AssertUnwindSafe(|| {
                        runner.reporter.event(&Event::Failed {
                            task: task.name.clone(),
                            title: task.get_title().to_string(),
                            duration: Default::default(),
                            error: message.clone(),
                        })
                    }));
                    Outcome::Failed(message)
                });
                reply.send(outcome);
            });
        }
        if running == 0 {
            break;
        }
        let Ok((i, outcome)) = rx.recv() else { break };
        running -= 1;
        match outcome {
            Outcome::Failed(message) => {
                run.nodes[i].state = NodeState::Failed;
                summary
                    .failed
                    .push((run.nodes[i].task.name.clone(), message));
                // Keeping going, what depends on the failure never becomes ready and
                // ends in `not_run`; the rest goes on.
                if !runner.keep_going {
                    runner.stopping.store(true, Ordering::Relaxed);
                }
            }
            Outcome::Done { ran, children } => {
                run.nodes[i].ran = ran;
                let name = run.nodes[i].task.name.clone();
                if ran {
                    summary.executed.push(name);
                } else {
                    summary.skipped.push(name);
                }
                if children.is_empty() {
                    run.complete(i);
                    continue;
                }
                run.nodes[i].state = NodeState::AwaitingChildren;
                let mut added = Vec::new();
                for child in children {
                    if run.by_name.contains_key(&child.name) || graph.get(&child.name).is_some() {
                        engine_error = Some(GraphError::DuplicateTask(child.name));
                        break;
                    }
                    added.push(run.insert(child, Some(i)));
                }
                if engine_error.is_some() {
                    runner.stopping.store(true, Ordering::Relaxed);
                    continue;
                }
                run.nodes[i].children_left = added.len();
                runner
                    .reporter
                    .event(&Event::Planned { count: added.len() });
                for c in added {
                    if let Err(e) = run.wire(c) {
                        engine_error = Some(e);
                        runner.stopping.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
    });
    if let Some(e) = engine_error {
        return Err(e);
    }
    let stuck: Vec<String> = run
        .nodes
        .iter()
        .filter(|n| n.state != NodeState::Done && n.state != NodeState::Failed)
        .map(|n| n.task.name.clone())
        .collect();
    let stopped = runner.stopping.load(Ordering::Relaxed) || !summary.failed.is_empty();
    if !stopped && !stuck.is_empty() {
        return Err(GraphError::Cycle(stuck));
    }
    summary.not_run = stuck;
    Ok(summary)
}

/// The text of a panic payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// A worker's way to report its outcome: sent exactly once, even when the worker dies
/// before it could send (then as a failure), so the scheduler never waits forever.
struct Reply {
    tx: mpsc::Sender<(usize, Outcome)>,
    node: usize,
    sent: bool,
}

impl Reply {
    fn send(mut self, outcome: Outcome) {
        self.sent = true;
        let _ = self.tx.send((self.node, outcome));
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.tx.send((
                self.node,
                Outcome::Failed("its worker thread stopped unexpectedly".into()),
            ));
        }
    }
}

fn fail(task: &Task, runner: &Runner<'_>, started: Instant, error: String) -> Outcome {
    runner.reporter.event(&Event::Failed {
        task: task.name.clone(),
        title: task.get_title().to_string(),
        duration: started.elapsed(),
        error: error.clone(),
    });
    Outcome::Failed(error)
}

fn save(
    runner: &Runner<'_>,
    change: impl FnOnce(&mut State) -> Result<(), GraphError>,
) -> Result<(), String> {
    let mut state = runner
        .state
        .lock()
        .map_err(|_| "state lock poisoned".to_string())?;
    change(&mut state).map_err(|e| e.to_string())
}

fn children_of(task: &Task) -> Result<Vec<Task>, String> {
    match &task.create_after {
        None => Ok(Vec::new()),
        Some(f) => {
            f().map_err(|e| format!("cannot create its sub-tasks: {}", render_chain(e.as_ref())))
        }
    }
}

/// Removes, before `task` runs, the outputs its last run (`previous`) declared and this one
/// does not (`declared`), and a directory standing where the last run wrote a file (an
/// atomic rename cannot replace a directory).
fn remove_stale_outputs(
    task: &Task,
    previous: &Record,
    declared: &[String],
    runner: &Runner<'_>,
) -> Result<(), String> {
    let cleaner = CleanContext::new(&task.name, false, runner.output_root);
    let was_file = |key: &String| {
        previous
            .targets
            .iter()
            .any(|(k, stamp)| k == key.as_str() && !matches!(stamp, Stamp::Dir { .. }))
    };
    let file_now_dir = task
        .targets
        .iter()
        .map(|t| runner.keys.key(t))
        .filter(|key| was_file(key))
        .filter(|key| std::fs::symlink_metadata(runner.keys.path(key)).is_ok_and(|m| m.is_dir()));
    let stale: Vec<String> = previous
        .declared
        .iter()
        .filter(|k| !declared.contains(k))
        .cloned()
        .chain(file_now_dir)
        .collect();
    for key in stale {
        cleaner
            .remove(&runner.keys.path(&key))
            .map_err(|e| format!("cannot remove old target {key}: {e}"))?;
    }
    Ok(())
}

/// Walks the tree deps and directory targets of `task` into `walks`, for its check to
/// reuse (errors are left for the check to report).
fn prewalk(task: &Task, walks: &Walks) {
    let dirs = task.tree_deps.iter().chain(
        task.targets
            .iter()
            .filter(|t| std::fs::symlink_metadata(t).is_ok_and(|m| m.is_dir())),
    );
    for dir in dirs {
        let _ = walks.walk(dir);
    }
}

/// Records the outputs `task` just wrote (by its action, or restored from the cache): every
/// target must exist. Returns the sub-tasks it creates.
fn finish(
    task: &Task,
    record: Arc<Record>,
    dynamic: bool,
    runner: &Runner<'_>,
) -> Result<Vec<Task>, String> {
    let targets = stamp_targets(task, runner.keys, None, &runner.walks)?;
    if let Some(key) = targets.missing.first() {
        return Err(format!(
            "it did not create its target {}",
            runner.keys.path(key).display()
        ));
    }
    let mut record = Arc::unwrap_or_clone(record);
    record.targets = targets.stamps.unwrap_or_default();
    record.dynamic = dynamic;
    // File deps modified while the action ran are re-hashed next time (their metadata no
    // longer matches), so recording the stamps taken before the run is safe.
    save(runner, |s| s.set(&task.name, record))?;
    children_of(task)
}

/// Checks and (when needed) runs one task; `dynamic`: created at run time.
fn execute(task: &Task, any_dep_ran: bool, dynamic: bool, runner: &Runner<'_>) -> Outcome {
    let started = Instant::now();
    let title = task.get_title().to_string();
    let Some(action) = &task.action else {
        // A group: it "ran" when one of its dependencies did.
        let children = match children_of(task) {
            Ok(c) => c,
            Err(e) => return fail(task, runner, started, e),
        };
        runner.reporter.event(&if any_dep_ran {
            Event::Success {
                task: task.name.clone(),
                title,
                duration: started.elapsed(),
            }
        } else {
            Event::Skipped {
                task: task.name.clone(),
                title,
            }
        });
        return Outcome::Done {
            ran: any_dep_ran,
            children,
        };
    };
    let kept = runner.state.lock().ok().and_then(|s| s.kept(&task.name));
    // The last record decodes while the trees this check reads are walked.
    let (previous, ()) = rayon::join(
        || kept.and_then(Kept::decode),
        || prewalk(task, &runner.walks),
    );
    let checked = match check(
        task,
        runner.keys,
        previous.as_ref(),
        &runner.walks,
        any_dep_ran,
    ) {
        Ok(c) => c,
        Err(e) => return fail(task, runner, started, e),
    };
    // The shared cache's view of this task, when it is cacheable.
    let cached = runner
        .cache
        .filter(|_| task.is_cacheable())
        .map(|(cache, version)| {
            (
                cache,
                crate::CachedTask {
                    name: &task.name,
                    key: crate::cache::cache_key(
                        &task.name,
                        &crate::uptodate::portable_fingerprint(&checked.record),
                        version,
                    ),
                    targets: &task.targets,
                    target_keys: task.targets.iter().map(|t| runner.keys.key(t)).collect(),
                },
            )
        });
    if checked.status == Status::UpToDate {
        if let Some((cache, entry)) = &cached {
            if let Err(warning) = cache.keep_if_missing(entry) {
                runner.reporter.event(&Event::Log {
                    task: task.name.clone(),
                    message: format!("warning: the cache did not keep its outputs: {warning}"),
                });
            }
        }
        let as_recorded = previous
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &checked.record) && p.dynamic == dynamic);
        if !as_recorded {
            // Refresh the fast-path metadata (content is unchanged).
            let mut record = Arc::unwrap_or_clone(checked.record);
            record.dynamic = dynamic;
            if let Err(e) = save(runner, |s| s.set(&task.name, record)) {
                return fail(task, runner, started, e);
            }
        }
        let children = match children_of(task) {
            Ok(c) => c,
            Err(e) => return fail(task, runner, started, e),
        };
        runner.reporter.event(&Event::Skipped {
            task: task.name.clone(),
            title,
        });
        return Outcome::Done {
            ran: false,
            children,
        };
    }
    runner.reporter.event(&Event::Started {
        task: task.name.clone(),
        title: title.clone(),
    });
    if let Status::Outdated(reason) = &checked.status {
        runner.reporter.event(&Event::Log {
            task: task.name.clone(),
            message: format!("runs because {reason}"),
        });
    }
    // What this task removes and writes is no longer what earlier walks saw.
    runner.walks.invalidate();
    // Forget the last success before touching anything: a run killed from here on
    // never leaves targets a later run believes.
    if let Err(e) = save(runner, |s| s.remove(&task.name)) {
        return fail(task, runner, started, e);
    }
    if let Some(previous) = &previous {
        if let Err(e) = remove_stale_outputs(task, previous, &checked.record.declared, runner) {
            return fail(task, runner, started, e);
        }
    }
    // From the shared cache, when it has this fingerprint's outputs.
    if let Some((cache, entry)) = &cached {
        match cache.restore(entry) {
            Ok(true) => {
                runner.walks.invalidate();
                match finish(task, Arc::clone(&checked.record), dynamic, runner) {
                    Ok(children) => {
                        runner.reporter.event(&Event::Restored {
                            task: task.name.clone(),
                            title,
                            duration: started.elapsed(),
                        });
                        return Outcome::Done {
                            ran: true,
                            children,
                        };
                    }
                    // What was restored cannot be recorded: the task runs, and replaces it.
                    Err(e) => {
                        let _ = save(runner, |s| s.remove(&task.name));
                        runner.reporter.event(&Event::Log {
                            task: task.name.clone(),
                            message: format!(
                                "warning: the cache: its restored outputs: {e}; running it here"
                            ),
                        });
                    }
                }
            }
            Ok(false) => {}
            Err(warning) => runner.reporter.event(&Event::Log {
                task: task.name.clone(),
                message: format!("warning: the cache: {warning}; running it here"),
            }),
        }
    }
    let ctx = Context {
        task: &task.name,
        file_deps: &checked.file_deps,
        reporter: runner.reporter,
        stopping: runner.stopping,
        inodes: &runner.walks.inodes,
    };
    if let Err(e) = action(&ctx) {
        runner.walks.invalidate();
        return fail(task, runner, started, render_chain(e.as_ref()));
    }
    runner.walks.invalidate();
    let children = match finish(task, checked.record, dynamic, runner) {
        Ok(children) => children,
        Err(e) => return fail(task, runner, started, e),
    };
    if let Some((cache, entry)) = &cached {
        if let Err(warning) = cache.save(entry) {
            runner.reporter.event(&Event::Log {
                task: task.name.clone(),
                message: format!("warning: the cache did not keep its outputs: {warning}"),
            });
        }
    }
    runner.reporter.event(&Event::Success {
        task: task.name.clone(),
        title,
        duration: started.elapsed(),
    });
    Outcome::Done {
        ran: true,
        children,
    }
}

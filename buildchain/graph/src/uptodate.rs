//! The up-to-date decision: file deps' content, the task's definition, its targets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::render_chain;
use crate::fingerprint::{hash_fields, stamp, stamp_with, walk_tree, PathKeys, Stamp};
use crate::state::Record;
use crate::task::Task;

/// Whether a task would run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    UpToDate,
    /// Not up to date; the reason, for humans.
    Outdated(String),
}

/// The result of checking a task before running it.
pub(crate) struct Check {
    pub status: Status,
    pub file_deps: Vec<PathBuf>,
    /// The record of the current inputs (targets as they are now).
    pub record: Record,
}

/// Static and calculated file deps, sorted and without duplicates.
pub(crate) fn file_deps_of(task: &Task) -> Result<Vec<PathBuf>, String> {
    let mut deps = task.file_deps.clone();
    if let Some(calc) = &task.calc_file_deps {
        let more = calc().map_err(|e| {
            format!(
                "cannot compute its file dependencies: {}",
                render_chain(e.as_ref())
            )
        })?;
        deps.extend(more);
    }
    // Byte order: much cheaper than component-wise path comparison on big trees.
    deps.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    deps.dedup();
    Ok(deps)
}

pub(crate) fn definition_hash(task: &Task, keys: &PathKeys) -> String {
    let mut targets: Vec<String> = task.targets.iter().map(|t| keys.key(t)).collect();
    targets.sort();
    let mut deps: Vec<&str> = task.task_deps.iter().map(String::as_str).collect();
    deps.sort();
    let mut fields = vec!["definition-v1", task.version.as_str(), "targets"];
    fields.extend(targets.iter().map(String::as_str));
    fields.push("task-deps");
    fields.extend(deps);
    hash_fields(fields)
}

pub(crate) fn stamp_targets(
    task: &Task,
    keys: &PathKeys,
    previous: Option<&Record>,
) -> Result<BTreeMap<String, Option<Stamp>>, String> {
    let mut out = BTreeMap::new();
    for target in &task.targets {
        let key = keys.key(target);
        let prev = previous.and_then(|r| r.targets.get(&key));
        let s = stamp(target, prev).map_err(|e| format!("target {}: {e}", target.display()))?;
        out.insert(key, s);
    }
    Ok(out)
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// Static and calculated file deps, plus the files of the tree deps (for `info`).
pub(crate) fn all_file_deps(task: &Task) -> Result<Vec<PathBuf>, String> {
    let mut deps = file_deps_of(task)?;
    for dir in &task.tree_deps {
        let entries =
            walk_tree(dir).map_err(|e| format!("tree dependency {}: {e}", dir.display()))?;
        deps.extend(
            entries
                .into_iter()
                .filter(|(_, m)| !m.is_dir())
                .map(|(p, _)| p),
        );
    }
    Ok(deps)
}

/// Checks `task` against its last successful run.
pub(crate) fn check(
    task: &Task,
    keys: &PathKeys,
    previous: Option<&Record>,
) -> Result<Check, String> {
    let mut file_deps = file_deps_of(task)?;
    let mut dep_stamps = BTreeMap::new();
    for dep in &file_deps {
        let key = keys.key(dep);
        let prev = previous.and_then(|r| r.file_deps.get(&key));
        match stamp(dep, prev) {
            Ok(Some(s)) => {
                dep_stamps.insert(key, s);
            }
            Ok(None) => return Err(format!("file dependency {} does not exist", dep.display())),
            Err(e) => return Err(format!("file dependency {}: {e}", dep.display())),
        }
    }
    for dir in &task.tree_deps {
        let entries =
            walk_tree(dir).map_err(|e| format!("tree dependency {}: {e}", dir.display()))?;
        for (path, meta) in entries {
            let key = keys.key(&path);
            let prev = previous.and_then(|r| r.file_deps.get(&key));
            let s = stamp_with(&path, &meta, prev)
                .map_err(|e| format!("tree dependency {}: {e}", path.display()))?;
            if !meta.is_dir() {
                file_deps.push(path);
            }
            dep_stamps.insert(key, s);
        }
    }
    let definition = definition_hash(task, keys);
    let contents: Vec<(&String, String)> =
        dep_stamps.iter().map(|(k, s)| (k, s.content())).collect();
    let mut fields = vec![definition.as_str()];
    for (key, content) in &contents {
        fields.push(key.as_str());
        fields.push(content.as_str());
    }
    let fingerprint = hash_fields(fields);
    let targets = stamp_targets(task, keys, previous)?;
    let record = Record {
        definition,
        fingerprint,
        file_deps: dep_stamps,
        targets: targets
            .iter()
            .filter_map(|(k, s)| s.clone().map(|s| (k.clone(), s)))
            .collect(),
    };
    let status = decide(task, previous, &record, &targets)?;
    Ok(Check {
        status,
        file_deps,
        record,
    })
}

fn decide(
    task: &Task,
    previous: Option<&Record>,
    current: &Record,
    targets: &BTreeMap<String, Option<Stamp>>,
) -> Result<Status, String> {
    let outdated = |s: String| Ok(Status::Outdated(s));
    if task.always_run {
        return outdated("it always runs".into());
    }
    let custom = |task: &Task| -> Result<Option<bool>, String> {
        match &task.uptodate {
            None => Ok(None),
            Some(f) => f()
                .map(Some)
                .map_err(|e| format!("up-to-date check failed: {}", render_chain(e.as_ref()))),
        }
    };
    if task.file_deps.is_empty()
        && task.tree_deps.is_empty()
        && task.calc_file_deps.is_none()
        && task.targets.is_empty()
    {
        return match custom(task)? {
            Some(true) => Ok(Status::UpToDate),
            Some(false) => outdated("its up-to-date check says it must run".into()),
            None => outdated("it has no file dependencies nor targets: it always runs".into()),
        };
    }
    let Some(previous) = previous else {
        return outdated("it never completed successfully here".into());
    };
    if previous.definition != current.definition {
        return outdated("its definition changed".into());
    }
    let added: Vec<String> = current
        .file_deps
        .keys()
        .filter(|k| !previous.file_deps.contains_key(*k))
        .cloned()
        .collect();
    let removed: Vec<String> = previous
        .file_deps
        .keys()
        .filter(|k| !current.file_deps.contains_key(*k))
        .cloned()
        .collect();
    if !added.is_empty() {
        return outdated(format!("new file dependencies: {}", list(&added)));
    }
    if !removed.is_empty() {
        return outdated(format!("file dependencies gone: {}", list(&removed)));
    }
    let changed: Vec<String> = current
        .file_deps
        .iter()
        .filter(|(k, s)| previous.file_deps.get(*k).map(Stamp::content) != Some(s.content()))
        .map(|(k, _)| k.clone())
        .collect();
    if !changed.is_empty() {
        return outdated(format!("changed: {}", list(&changed)));
    }
    for (key, now) in targets {
        match (now, previous.targets.get(key)) {
            (None, _) => return outdated(format!("target {key} is missing")),
            (Some(_), None) => return outdated(format!("target {key} was not recorded")),
            (Some(now), Some(before)) if now.content() != before.content() => {
                return outdated(format!("target {key} was modified"))
            }
            _ => {}
        }
    }
    if custom(task)? == Some(false) {
        return outdated("its up-to-date check says it must run".into());
    }
    Ok(Status::UpToDate)
}

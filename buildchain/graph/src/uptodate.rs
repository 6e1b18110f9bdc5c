//! The up-to-date decision: file deps' content, the task's definition, its targets.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::render_chain;
use crate::fingerprint::{
    hash_fields, stamp, stamp_with, FieldHasher, InodeHashes, PathKeys, Stamp,
};
use crate::state::Record;
use crate::task::Task;
use crate::walks::Walks;
use buildchain_fs::walk_tree;

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
    let sorted_keys = |paths: &[PathBuf]| {
        let mut v: Vec<String> = paths.iter().map(|t| keys.key(t)).collect();
        v.sort();
        v
    };
    let targets = sorted_keys(&task.targets);
    let created = sorted_keys(&task.created_dirs);
    let mut deps: Vec<&str> = task.task_deps.iter().map(String::as_str).collect();
    deps.sort();
    let mut fields = vec!["definition-v2", task.version.as_str(), "targets"];
    fields.extend(targets.iter().map(String::as_str));
    fields.push("created-dirs");
    fields.extend(created.iter().map(String::as_str));
    fields.push("task-deps");
    fields.extend(deps);
    hash_fields(fields)
}

/// The declared outputs of a task as they are on disk now.
pub(crate) struct TargetStamps {
    /// Every declared output that exists and, below each directory target, every entry.
    pub stamps: BTreeMap<String, Stamp>,
    /// Keys of the declared outputs that do not exist.
    pub missing: Vec<String>,
}

/// The keys of every path a task declares (targets and created directories), sorted.
pub(crate) fn declared_keys(task: &Task, keys: &PathKeys) -> Vec<String> {
    let mut v: Vec<String> = task.declared_outputs().map(|t| keys.key(t)).collect();
    v.sort();
    v.dedup();
    v
}

/// Stamps the declared outputs of `task`: files by content, directory targets entry by
/// entry (so that damage under them is seen), created directories by existence. Stamps of
/// `previous` give the fast path.
pub(crate) fn stamp_targets(
    task: &Task,
    keys: &PathKeys,
    previous: Option<&Record>,
    walks: &Walks,
) -> Result<TargetStamps, String> {
    let mut stamps = Vec::new();
    let mut missing = Vec::new();
    let prev = |key: &str| previous.and_then(|r| r.targets.get(key));
    for target in &task.targets {
        let key = keys.key(target);
        let meta = match fs::metadata(target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(key);
                continue;
            }
            Err(e) => return Err(format!("target {}: {e}", target.display())),
        };
        if !meta.is_dir() {
            let s = stamp_output(target, &meta, prev(&key), &walks.inodes)
                .map_err(|e| format!("target {}: {e}", target.display()))?;
            stamps.push((key, s));
            continue;
        }
        let entries = walks
            .walk(target)
            .map_err(|e| format!("target {}: {e}", target.display()))?;
        for (path, meta) in entries.iter() {
            let key = keys.key(path);
            let s = stamp_output(path, meta, prev(&key), &walks.inodes)
                .map_err(|e| format!("target {}: {e}", path.display()))?;
            stamps.push((key, s));
        }
    }
    for dir in &task.created_dirs {
        let key = keys.key(dir);
        // Not following links: a link where the directory belongs is not the directory.
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => missing.push(key),
            Ok(meta) if meta.is_dir() => {
                let s = stamp_with(dir, &meta, None, &walks.inodes)
                    .map_err(|e| format!("created directory {}: {e}", dir.display()))?;
                stamps.push((key, s));
            }
            Ok(_) => return Err(format!("{} is not a directory", dir.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(key),
            Err(e) => return Err(format!("created directory {}: {e}", dir.display())),
        }
    }
    Ok(TargetStamps {
        stamps: stamps.into_iter().collect(),
        missing,
    })
}

/// A stamp of an output entry: what cannot be read (a FIFO planted in a directory target)
/// is recorded as such, so that the task re-runs and replaces it rather than failing.
fn stamp_output(
    path: &Path,
    meta: &fs::Metadata,
    previous: Option<&Stamp>,
    inodes: &InodeHashes,
) -> io::Result<Stamp> {
    match stamp_with(path, meta, previous, inodes) {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(Stamp::Special {
            mode: std::os::unix::fs::PermissionsExt::mode(&meta.permissions()),
        }),
        other => other,
    }
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
    walks: &Walks,
) -> Result<Check, String> {
    let mut file_deps = file_deps_of(task)?;
    // Collected in order, then built at once (a sorted bulk build, not 10k inserts).
    let mut dep_stamps = Vec::new();
    for dep in &file_deps {
        let key = keys.key(dep);
        let prev = previous.and_then(|r| r.file_deps.get(&key));
        match stamp(dep, prev, &walks.inodes) {
            Ok(Some(s)) => {
                dep_stamps.push((key, s));
            }
            Ok(None) => return Err(format!("file dependency {} does not exist", dep.display())),
            Err(e) => return Err(format!("file dependency {}: {e}", dep.display())),
        }
    }
    for dir in &task.tree_deps {
        let entries = walks
            .walk(dir)
            .map_err(|e| format!("tree dependency {}: {e}", dir.display()))?;
        for (path, meta) in entries.iter() {
            let key = keys.key(path);
            let prev = previous.and_then(|r| r.file_deps.get(&key));
            let s = stamp_with(path, meta, prev, &walks.inodes)
                .map_err(|e| format!("tree dependency {}: {e}", path.display()))?;
            if !meta.is_dir() {
                file_deps.push(path.clone());
            }
            dep_stamps.push((key, s));
        }
    }
    let dep_stamps: BTreeMap<String, Stamp> = dep_stamps.into_iter().collect();
    let definition = definition_hash(task, keys);
    let mut hasher = FieldHasher::default();
    hasher.field(&definition);
    let mut content = String::new();
    for (key, stamp) in &dep_stamps {
        hasher.field(key);
        stamp.write_content(&mut content);
        hasher.field(&content);
    }
    let fingerprint = hasher.finish();
    let targets = stamp_targets(task, keys, previous, walks)?;
    let record = Record {
        definition,
        fingerprint,
        file_deps: dep_stamps,
        declared: declared_keys(task, keys),
        targets: targets.stamps,
        dynamic: false,
    };
    let status = decide(task, previous, &record, &targets.missing)?;
    Ok(Check {
        status,
        file_deps,
        record,
    })
}

/// The first difference between the recorded and the current stamps of the outputs.
fn first_change(before: &BTreeMap<String, Stamp>, now: &BTreeMap<String, Stamp>) -> Option<String> {
    for (key, stamp) in now {
        match before.get(key) {
            None => return Some(format!("target {key} was not there after its last run")),
            Some(old) if !old.same_content(stamp) => {
                return Some(format!("target {key} was modified"))
            }
            _ => {}
        }
    }
    before
        .keys()
        .find(|k| !now.contains_key(*k))
        .map(|key| format!("target {key} was removed"))
}

fn decide(
    task: &Task,
    previous: Option<&Record>,
    current: &Record,
    missing_targets: &[String],
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
        && task.created_dirs.is_empty()
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
        .filter(|(k, s)| {
            !previous
                .file_deps
                .get(*k)
                .is_some_and(|p| p.same_content(s))
        })
        .map(|(k, _)| k.clone())
        .collect();
    if !changed.is_empty() {
        return outdated(format!("changed: {}", list(&changed)));
    }
    if let Some(key) = missing_targets.first() {
        return outdated(format!("target {key} is missing"));
    }
    if let Some(change) = first_change(&previous.targets, &current.targets) {
        return outdated(change);
    }
    if custom(task)? == Some(false) {
        return outdated("its up-to-date check says it must run".into());
    }
    Ok(Status::UpToDate)
}

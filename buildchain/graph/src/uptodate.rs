//! The up-to-date decision: file deps' content, the task's definition, its targets.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::entries::Entries;
use crate::error::render_chain;
use crate::fingerprint::{
    hash_fields, stamp, stamp_with, FieldHasher, InodeHashes, PathKeys, Stamp,
};
use crate::state::Record;
use crate::task::Task;
use crate::walks::Walks;
use buildchain_fs::{walk_tree, Stat, Walked};

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
    /// The record of the current inputs (targets as they are now): the last one, shared,
    /// when nothing differs from it.
    pub record: Arc<Record>,
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

/// The stamps of a task's entries (file deps, or targets), taken in a fixed order and
/// compared on the way with those of its last run at the same position: while every entry
/// equals the recorded one, nothing is copied nor looked up (a no-op over a big tree builds
/// no key and no map); the first difference copies what came before, and from there each
/// entry gets its key and its recorded stamp by lookup.
pub(crate) struct StampList<'a> {
    previous: &'a Entries,
    /// Entries of `previous` met in order so far.
    same: usize,
    /// Set at the first difference: every entry so far.
    changed: Option<Entries>,
    index: Option<HashMap<&'a str, &'a Stamp>>,
}

impl<'a> StampList<'a> {
    pub fn new(previous: &'a Entries) -> Self {
        StampList {
            previous,
            same: 0,
            changed: None,
            index: None,
        }
    }

    /// Stamps `path` with `stamp_fn`, given the recorded stamp of the path if any.
    pub fn add(
        &mut self,
        path: &Path,
        keys: &PathKeys,
        stamp_fn: impl FnOnce(Option<&Stamp>) -> Result<Stamp, String>,
    ) -> Result<(), String> {
        if self.changed.is_none() {
            if let Some((key, previous)) = self.previous.get(self.same) {
                if keys.is_key_of(path, key) {
                    let stamp = stamp_fn(Some(previous))?;
                    if stamp == *previous {
                        self.same += 1;
                    } else {
                        let mut changed = self.previous.prefix(self.same);
                        changed.push(key, stamp);
                        self.changed = Some(changed);
                    }
                    return Ok(());
                }
            }
        }
        let key = keys.key(path);
        let previous = self.lookup(&key);
        let stamp = stamp_fn(previous)?;
        let same = self.same;
        let previous_entries = self.previous;
        self.changed
            .get_or_insert_with(|| previous_entries.prefix(same))
            .push(&key, stamp);
        Ok(())
    }

    fn lookup(&mut self, key: &str) -> Option<&'a Stamp> {
        let previous = self.previous;
        self.index
            .get_or_insert_with(|| previous.iter().collect())
            .get(key)
            .copied()
    }

    /// `None` when every entry equals the recorded one, in the same order; else the list.
    pub fn finish(self) -> Option<Entries> {
        match self.changed {
            Some(changed) => Some(changed),
            None if self.same == self.previous.len() => None,
            None => Some(self.previous.prefix(self.same)),
        }
    }
}

/// The declared outputs of a task as they are on disk now.
pub(crate) struct TargetStamps {
    /// Every declared output that exists and, below each directory target, every entry;
    /// `None` when exactly as recorded.
    pub stamps: Option<Entries>,
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
    let none = Entries::default();
    let mut stamps = StampList::new(previous.map_or(&none, |r| &r.targets));
    let mut missing = Vec::new();
    for target in &task.targets {
        let meta = match fs::metadata(target) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(keys.key(target));
                continue;
            }
            Err(e) => return Err(format!("target {}: {e}", target.display())),
        };
        if !meta.is_dir() {
            let stat = Stat::from(&meta);
            stamps.add(target, keys, |prev| {
                stamp_output(target, &stat, prev, &walks.inodes)
                    .map_err(|e| format!("target {}: {e}", target.display()))
            })?;
            continue;
        }
        let entries = walks
            .walk(target)
            .map_err(|e| format!("target {}: {e}", target.display()))?;
        for (path, meta) in entries.iter() {
            stamps.add(path, keys, |prev| {
                stamp_output(path, meta, prev, &walks.inodes)
                    .map_err(|e| format!("target {}: {e}", path.display()))
            })?;
        }
    }
    for dir in &task.created_dirs {
        // Not following links: a link where the directory belongs is not the directory.
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => missing.push(keys.key(dir)),
            Ok(meta) if meta.is_dir() => stamps.add(dir, keys, |_| {
                stamp_with(dir, &Stat::from(&meta), None, &walks.inodes)
                    .map_err(|e| format!("created directory {}: {e}", dir.display()))
            })?,
            Ok(_) => return Err(format!("{} is not a directory", dir.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(keys.key(dir)),
            Err(e) => return Err(format!("created directory {}: {e}", dir.display())),
        }
    }
    Ok(TargetStamps {
        stamps: stamps.finish(),
        missing,
    })
}

/// A stamp of an output entry: what cannot be read (a FIFO planted in a directory target)
/// is recorded as such, so that the task re-runs and replaces it rather than failing.
fn stamp_output(
    path: &Path,
    stat: &Stat,
    previous: Option<&Stamp>,
    inodes: &InodeHashes,
) -> io::Result<Stamp> {
    match stamp_with(path, stat, previous, inodes) {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(Stamp::Special { mode: stat.mode }),
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

/// Checks `task` against its last successful run; `a_dep_ran`: one of its task deps ran in
/// this run (see [`Task::reruns_after_its_deps`]).
pub(crate) fn check(
    task: &Task,
    keys: &PathKeys,
    previous: Option<&Arc<Record>>,
    walks: &Walks,
    a_dep_ran: bool,
) -> Result<Check, String> {
    let static_deps = file_deps_of(task)?;
    // The inputs and the outputs are stamped side by side (two trees of a copy task are
    // two walks, each of them parallel inside).
    let (deps, targets) = rayon::join(
        || stamp_deps(task, &static_deps, keys, previous.map(|r| &**r), walks),
        || stamp_targets(task, keys, previous.map(|r| &**r), walks),
    );
    let (dep_stamps, trees) = deps?;
    let targets = targets?;
    let definition = definition_hash(task, keys);
    let declared = declared_keys(task, keys);
    let status = match decide(
        task,
        previous.map(|r| &**r),
        &definition,
        &dep_stamps,
        &targets,
    )? {
        Status::UpToDate if task.reruns_after_its_deps && a_dep_ran => {
            Status::Outdated("a task it depends on ran".into())
        }
        status => status,
    };
    // Exactly as recorded: the record is the last one, shared (nothing to build or write).
    let record = match previous {
        Some(previous)
            if dep_stamps.is_none()
                && targets.stamps.is_none()
                && previous.definition == definition
                && previous.declared == declared =>
        {
            Arc::clone(previous)
        }
        _ => {
            let none = Entries::default();
            let fingerprint = match (&dep_stamps, previous) {
                (None, Some(previous)) if previous.definition == definition => {
                    previous.fingerprint.clone()
                }
                // The deps are as recorded (`None`) or new; either way all of them count.
                _ => fingerprint_of(
                    &definition,
                    dep_stamps
                        .as_ref()
                        .or(previous.map(|p| &p.file_deps))
                        .unwrap_or(&none),
                ),
            };
            let or_previous = |list: Option<Entries>, recorded: fn(&Record) -> &Entries| {
                list.unwrap_or_else(|| previous.map(|r| recorded(r).clone()).unwrap_or_default())
            };
            Arc::new(Record {
                definition,
                fingerprint,
                file_deps: or_previous(dep_stamps, |r| &r.file_deps),
                declared,
                targets: or_previous(targets.stamps, |r| &r.targets),
                dynamic: false,
            })
        }
    };
    // The action's list of inputs, only for a task that runs.
    let mut file_deps = static_deps;
    if status != Status::UpToDate {
        for tree in &trees {
            file_deps.extend(
                tree.iter()
                    .filter(|(_, meta)| !meta.is_dir())
                    .map(|(path, _)| path.clone()),
            );
        }
    }
    Ok(Check {
        status,
        file_deps,
        record,
    })
}

/// Stamps the file deps, then every entry of each tree dep; the walks of the trees.
fn stamp_deps(
    task: &Task,
    static_deps: &[PathBuf],
    keys: &PathKeys,
    previous: Option<&Record>,
    walks: &Walks,
) -> Result<(Option<Entries>, Vec<Walked>), String> {
    let none = Entries::default();
    let mut stamps = StampList::new(previous.map_or(&none, |r| &r.file_deps));
    for dep in static_deps {
        stamps.add(dep, keys, |prev| match stamp(dep, prev, &walks.inodes) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(format!("file dependency {} does not exist", dep.display())),
            Err(e) => Err(format!("file dependency {}: {e}", dep.display())),
        })?;
    }
    let mut trees = Vec::new();
    for dir in &task.tree_deps {
        let entries = walks
            .walk(dir)
            .map_err(|e| format!("tree dependency {}: {e}", dir.display()))?;
        for (path, meta) in entries.iter() {
            stamps.add(path, keys, |prev| {
                stamp_with(path, meta, prev, &walks.inodes)
                    .map_err(|e| format!("tree dependency {}: {e}", path.display()))
            })?;
        }
        trees.push(entries);
    }
    Ok((stamps.finish(), trees))
}

/// The content fingerprint: the definition, then each entry's key and content.
fn fingerprint_of(definition: &str, stamps: &Entries) -> String {
    let mut hasher = FieldHasher::default();
    hasher.field(definition);
    let mut content = String::new();
    for (key, stamp) in stamps.iter() {
        hasher.field(key);
        stamp.write_content(&mut content);
        hasher.field(&content);
    }
    hasher.finish()
}

/// The fingerprint of `record` with its file deps in the order of their portable keys:
/// the same wherever the repository and the build root are (their absolute paths sort the
/// deps of one and the other differently), what a shared cache is keyed by.
pub(crate) fn portable_fingerprint(record: &Record) -> String {
    let mut deps: Vec<(&str, &Stamp)> = record.file_deps.iter().collect();
    deps.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = FieldHasher::default();
    hasher.field("portable-v1");
    hasher.field(&record.definition);
    let mut content = String::new();
    for (key, stamp) in deps {
        hasher.field(key);
        stamp.write_content(&mut content);
        hasher.field(&content);
    }
    hasher.finish()
}

/// The first difference between the recorded and the current stamps of the outputs.
fn first_change(before: &Entries, now: &Entries) -> Option<String> {
    let recorded: HashMap<&str, &Stamp> = before.iter().collect();
    for (key, stamp) in now.iter() {
        match recorded.get(key) {
            None => return Some(format!("target {key} was not there after its last run")),
            Some(old) if !old.same_content(stamp) => {
                return Some(format!("target {key} was modified"))
            }
            _ => {}
        }
    }
    let current: HashSet<&str> = now.iter().map(|(k, _)| k).collect();
    before
        .iter()
        .find(|(k, _)| !current.contains(k))
        .map(|(key, _)| format!("target {key} was removed"))
}

/// Whether the task must run: `file_deps` and the targets' stamps are `None` when exactly
/// as recorded (see [`StampList`]).
fn decide(
    task: &Task,
    previous: Option<&Record>,
    definition: &str,
    file_deps: &Option<Entries>,
    targets: &TargetStamps,
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
    if previous.definition != definition {
        return outdated("its definition changed".into());
    }
    if let Some(current) = file_deps {
        if let Some(reason) = dependency_change(&previous.file_deps, current) {
            return outdated(reason);
        }
    }
    if let Some(key) = targets.missing.first() {
        return outdated(format!("target {key} is missing"));
    }
    if let Some(current) = &targets.stamps {
        if let Some(change) = first_change(&previous.targets, current) {
            return outdated(change);
        }
    }
    if custom(task)? == Some(false) {
        return outdated("its up-to-date check says it must run".into());
    }
    Ok(Status::UpToDate)
}

/// Why the file deps differ in content from the recorded ones, if they do (metadata alone
/// is no change: the record is then refreshed).
fn dependency_change(before: &Entries, now: &Entries) -> Option<String> {
    let recorded: HashMap<&str, &Stamp> = before.iter().collect();
    let current: HashSet<&str> = now.iter().map(|(k, _)| k).collect();
    let keys = |entries: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        let mut v: Vec<String> = entries.map(str::to_string).collect();
        v.sort();
        v.dedup();
        v
    };
    let added = keys(
        &mut now
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !recorded.contains_key(k)),
    );
    if !added.is_empty() {
        return Some(format!("new file dependencies: {}", list(&added)));
    }
    let removed = keys(
        &mut before
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !current.contains(k)),
    );
    if !removed.is_empty() {
        return Some(format!("file dependencies gone: {}", list(&removed)));
    }
    let changed = keys(
        &mut now
            .iter()
            .filter(|(k, s)| !recorded.get(k).is_some_and(|p| p.same_content(s)))
            .map(|(k, _)| k),
    );
    if !changed.is_empty() {
        return Some(format!("changed: {}", list(&changed)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(mode: u32) -> Stamp {
        Stamp::Dir { mode }
    }

    /// Runs a StampList over `now` (key, stamp) against `before`.
    fn compare(before: &[(&str, u32)], now: &[(&str, u32)]) -> Option<Vec<(String, u32)>> {
        let keys = PathKeys::new().with_root("t", "/r");
        let before: Entries = before.iter().map(|(k, m)| (*k, dir(*m))).collect();
        let mut list = StampList::new(&before);
        for (key, mode) in now {
            let path = keys.path(key);
            list.add(&path, &keys, |_| Ok(dir(*mode))).unwrap();
        }
        list.finish().map(|entries| {
            entries
                .iter()
                .map(|(k, s)| match s {
                    Stamp::Dir { mode } => (k.to_string(), *mode),
                    other => panic!("{other:?}"),
                })
                .collect()
        })
    }

    #[test]
    fn a_stamp_list_is_none_only_when_everything_is_as_recorded() {
        let before = [("t:a", 1), ("t:b", 2), ("t:c", 3)];
        assert_eq!(compare(&before, &before), None);
        let owned = |v: &[(&str, u32)]| -> Option<Vec<(String, u32)>> {
            Some(v.iter().map(|(k, m)| (k.to_string(), *m)).collect())
        };
        // Changed, removed at the end, appended, reordered, inserted, removed in the middle.
        for now in [
            &[("t:a", 1), ("t:b", 9), ("t:c", 3)][..],
            &[("t:a", 1), ("t:b", 2)],
            &[("t:a", 1), ("t:b", 2), ("t:c", 3), ("t:d", 4)],
            &[("t:b", 2), ("t:a", 1), ("t:c", 3)],
            &[("t:a", 1), ("t:x", 5), ("t:b", 2), ("t:c", 3)],
            &[("t:a", 1), ("t:c", 3)],
            &[],
        ] {
            assert_eq!(compare(&before, now), owned(now), "{now:?}");
        }
        assert_eq!(compare(&[], &[]), None);
    }
}

//! The state: per task, what its last successful run saw, kept in one append-only log for
//! the build root (`<state dir>/log`), as n2 and ninja keep theirs.
//!
//! - A task's success appends its record (`SET`); before a task's action touches anything,
//!   a `DROP` entry forgets its last success, so a run killed from there on never leaves
//!   targets a later run believes. The last entry of a task wins.
//! - Loading reads the file once; records are decoded when first asked for, so a run
//!   decodes only the records of the tasks it checks.
//! - Every entry carries its length and a CRC-32 of its bytes: a run killed in the middle
//!   of an append leaves a torn tail, which is ignored (its task re-runs).
//! - A no-op writes nothing. A run rewrites the log (atomically) before any task when it is
//!   damaged or of another version, and at its first write when it is mostly superseded
//!   entries; otherwise it appends.
//!
//! Runs are serialized by the build root's lock; readers (`info`, `list`) may read while a
//! run appends, and then see what was complete when they read.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::entries::Entries;
use crate::error::GraphError;
#[cfg(test)]
use crate::fingerprint::Stamp;
use buildchain_fs::{is_link_refusal, open_no_follow, remove_stale_temps, write_cache};

/// The first bytes of a log: what it is, then its format (little-endian u32).
const MAGIC: &[u8; 8] = b"BCSTATE\n";
const FORMAT: u32 = 6;
const HEADER_LEN: usize = MAGIC.len() + 4;
/// The log's file name in the state directory.
const LOG: &str = "log";
/// Entry kinds.
const SET: u8 = 1;
const DROP: u8 = 2;
/// Superseded bytes below this are never worth a rewrite.
const COMPACT_MIN_DEAD: usize = 1 << 20;

/// What the last successful run of a task saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Hash of the task's definition (version string, targets, task deps).
    pub definition: String,
    /// Content fingerprint: definition + file deps' contents (portable).
    pub fingerprint: String,
    /// Stamps of the file deps and of the entries of the tree deps, in the order the check
    /// takes them (file deps sorted, then each tree in walk order): the next check meets
    /// them in the same order and compares by position, without lookups.
    pub file_deps: Entries,
    /// Keys of the outputs the task declared (targets and created directories).
    pub declared: Vec<String>,
    /// Stamps of the declared outputs and of every entry below its directory targets, in
    /// the order they are taken.
    pub targets: Entries,
    /// Created at run time by another task's `create_after` (not in the static graph).
    pub dynamic: bool,
}

/// A task's record as the state keeps it (see [`State::kept`]).
pub(crate) enum Kept {
    Decoded(Option<Arc<Record>>),
    Encoded(Arc<Vec<u8>>, Range<usize>),
}

impl Kept {
    /// The record; `None` when it does not decode (its task re-runs).
    pub fn decode(self) -> Option<Arc<Record>> {
        match self {
            Kept::Decoded(record) => record,
            Kept::Encoded(bytes, range) => bytes.get(range).and_then(decode),
        }
    }
}

/// One task's latest entry.
#[derive(Debug)]
struct Slot {
    dynamic: bool,
    /// The whole entry (length, CRC and payload) in the loaded log, for a rewrite.
    entry: Range<usize>,
    /// The encoded record within the loaded log (empty for records set in this run).
    encoded: Range<usize>,
    record: OnceLock<Option<Arc<Record>>>,
}

/// The records of every task, loaded from the state directory's log.
#[derive(Debug)]
pub(crate) struct State {
    dir: PathBuf,
    path: PathBuf,
    /// The log as loaded (shared: records are decoded outside the state's lock).
    bytes: Arc<Vec<u8>>,
    tasks: BTreeMap<String, Slot>,
    /// Bytes of the loaded log that the latest entries of live tasks take.
    live: usize,
    /// The loaded log cannot be appended to as it is (damaged, torn, another format).
    rewrite: bool,
    /// Open for appending once this run wrote its first entry.
    writer: Option<File>,
    /// Why an earlier append of this run failed: nothing more is appended after a torn
    /// entry (the next load ignores what follows one).
    failed: Option<String>,
    /// What was ignored because unreadable (reported, never trusted).
    pub warnings: Vec<String>,
}

impl State {
    /// Loads the state; a missing log is an empty state. A damaged log is trusted up to
    /// the damage, with a warning (the tasks recorded after it re-run); a log of another
    /// version is ignored (every task re-runs once).
    pub fn load(dir: &Path) -> Result<State, GraphError> {
        let path = dir.join(LOG);
        let mut state = State {
            dir: dir.to_path_buf(),
            path: path.clone(),
            bytes: Arc::default(),
            tasks: BTreeMap::new(),
            live: 0,
            rewrite: false,
            writer: None,
            failed: None,
            warnings: Vec::new(),
        };
        let err = |cause| GraphError::State {
            path: path.clone(),
            cause,
        };
        // What killed runs left half-written (rewrites of the log).
        remove_stale_temps(dir, None).map_err(fs_error)?;
        // Non-blocking and not through a link: a FIFO planted there must not hang us.
        let file = match open_no_follow(fs::OpenOptions::new().read(true), &path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(state),
            Err(e) if is_link_refusal(&e) => {
                state.refuse("a symbolic link");
                return Ok(state);
            }
            Err(e) => return Err(err(e)),
        };
        if !file.metadata().map_err(err)?.is_file() {
            state.refuse("not a regular file");
            return Ok(state);
        }
        let mut bytes = Vec::new();
        (&file).read_to_end(&mut bytes).map_err(err)?;
        state.bytes = Arc::new(bytes);
        state.parse();
        Ok(state)
    }

    /// [`State::load`] for a run (the build root's lock held): a log that cannot be
    /// appended to as it is (damaged, torn, another format, not a file) is rewritten now,
    /// before any task runs, so that its damage is reported once and a log that cannot be
    /// replaced stops the run with one error, not its first task.
    pub fn load_for_run(dir: &Path) -> Result<State, GraphError> {
        let mut state = State::load(dir)?;
        if state.rewrite {
            state.writer = Some(state.open_for_append()?);
        }
        Ok(state)
    }

    fn refuse(&mut self, why: &str) {
        self.warnings.push(format!(
            "state log {}: {why}: ignored (every task re-runs); a build replaces it",
            self.path.display()
        ));
        self.rewrite = true;
    }

    /// Reads the entries of the loaded log, up to the first damaged one.
    fn parse(&mut self) {
        let len = self.bytes.len();
        if len < HEADER_LEN || &self.bytes[..MAGIC.len()] != MAGIC {
            self.refuse("not a buildchain state log");
            return;
        }
        if read_u32(&self.bytes, MAGIC.len()) != Some(FORMAT) {
            // Written by another version: every task simply re-runs.
            self.rewrite = true;
            return;
        }
        let mut pos = HEADER_LEN;
        while pos < len {
            match self.parse_entry(pos) {
                Some(end) => pos = end,
                None => {
                    self.warnings.push(format!(
                        "state log {}: damaged or incomplete entry at byte {pos} (a killed run?): \
                         the {} bytes from there are ignored (a task recorded there re-runs); \
                         a build cuts them off",
                        self.path.display(),
                        len - pos
                    ));
                    self.rewrite = true;
                    break;
                }
            }
        }
    }

    /// Applies the entry at `pos`; its end, or `None` when it is torn or damaged.
    fn parse_entry(&mut self, pos: usize) -> Option<usize> {
        let bytes = &self.bytes;
        let payload_len = read_u32(bytes, pos)? as usize;
        let crc = read_u32(bytes, pos + 4)?;
        let start = pos + 8;
        let end = start.checked_add(payload_len)?;
        let payload = bytes.get(start..end)?;
        if crc32fast::hash(payload) != crc {
            return None;
        }
        let (&kind, rest) = payload.split_first()?;
        let (&dynamic, rest) = rest.split_first()?;
        let name_len = read_u32(rest, 0)? as usize;
        let name = rest.get(4..4usize.checked_add(name_len)?)?;
        let name = std::str::from_utf8(name).ok()?.to_string();
        let encoded = start + 2 + 4 + name_len..end;
        match kind {
            SET => {
                let slot = Slot {
                    dynamic: dynamic != 0,
                    entry: pos..end,
                    encoded,
                    record: OnceLock::new(),
                };
                self.live += end - pos;
                if let Some(old) = self.tasks.insert(name, slot) {
                    self.live -= old.entry.len();
                }
            }
            DROP => {
                if let Some(old) = self.tasks.remove(&name) {
                    self.live -= old.entry.len();
                }
            }
            _ => return None,
        }
        Some(end)
    }

    /// The record of `task`, decoded on first use. A record that does not decode is
    /// treated as absent (its task re-runs).
    pub fn get(&self, task: &str) -> Option<&Record> {
        self.slot_record(task).map(|r| &**r)
    }

    /// The record of `task`, shared (a big tree's record is not copied to be checked).
    pub fn get_shared(&self, task: &str) -> Option<Arc<Record>> {
        self.slot_record(task).cloned()
    }

    fn slot_record(&self, task: &str) -> Option<&Arc<Record>> {
        let slot = self.tasks.get(task)?;
        slot.record
            .get_or_init(|| decode(self.bytes.get(slot.encoded.clone())?))
            .as_ref()
    }

    /// The record of `task` as kept, to be decoded by the caller (outside any lock: a big
    /// tree's record takes milliseconds, during which other tasks check theirs).
    pub fn kept(&self, task: &str) -> Option<Kept> {
        let slot = self.tasks.get(task)?;
        Some(match slot.record.get() {
            Some(decoded) => Kept::Decoded(decoded.clone()),
            None => Kept::Encoded(self.bytes.clone(), slot.encoded.clone()),
        })
    }

    /// Whether the last success of `task` was of a task created at run time.
    pub fn is_dynamic(&self, task: &str) -> bool {
        self.tasks.get(task).is_some_and(|s| s.dynamic)
    }

    /// Records a success (nothing written when it is the record this run already wrote:
    /// a check that finds everything as recorded shares the record and writes nothing).
    pub fn set(&mut self, task: &str, record: Record) -> Result<(), GraphError> {
        let kept = self.tasks.get(task).and_then(|slot| slot.record.get());
        if kept.is_some_and(|r| r.as_deref() == Some(&record)) {
            return Ok(());
        }
        let record = Arc::new(record);
        let payload = postcard::to_extend(&*record, entry_head(SET, record.dynamic, task))
            .map_err(|e| self.error(io::Error::other(e)))?;
        self.append(&payload)?;
        let slot = Slot {
            dynamic: record.dynamic,
            entry: 0..0,
            encoded: 0..0,
            record: OnceLock::from(Some(record)),
        };
        self.tasks.insert(task.to_string(), slot);
        Ok(())
    }

    /// Forgets a task's last success.
    pub fn remove(&mut self, task: &str) -> Result<(), GraphError> {
        if !self.tasks.contains_key(task) {
            return Ok(());
        }
        self.append(&entry_head(DROP, false, task))?;
        self.tasks.remove(task);
        Ok(())
    }

    pub fn task_names(&self) -> impl Iterator<Item = &String> {
        self.tasks.keys()
    }

    fn error(&self, cause: io::Error) -> GraphError {
        GraphError::State {
            path: self.path.clone(),
            cause,
        }
    }

    /// Appends one entry (length, CRC, payload) in a single write.
    fn append(&mut self, payload: &[u8]) -> Result<(), GraphError> {
        if let Some(why) = &self.failed {
            let cause = io::Error::other(format!("an earlier write of this run failed: {why}"));
            return Err(self.error(cause));
        }
        let result = self.append_entry(payload);
        if let Err(GraphError::State { cause, .. }) = &result {
            self.failed = Some(cause.to_string());
        }
        result
    }

    fn append_entry(&mut self, payload: &[u8]) -> Result<(), GraphError> {
        let len = u32::try_from(payload.len())
            .map_err(|_| self.error(io::Error::other("a record over 4 GiB")))?;
        let mut entry = Vec::with_capacity(8 + payload.len());
        entry.extend_from_slice(&len.to_le_bytes());
        entry.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        entry.extend_from_slice(payload);
        if self.writer.is_none() {
            self.writer = Some(self.open_for_append()?);
        }
        let Some(writer) = self.writer.as_mut() else {
            return Err(self.error(io::Error::other("the log is not open")));
        };
        let written = writer.write_all(&entry);
        written.map_err(|e| self.error(e))
    }

    /// Before this run's first write: rewrites the log when it cannot simply be appended
    /// to, or is mostly superseded entries; then opens it for appending.
    fn open_for_append(&mut self) -> Result<File, GraphError> {
        fs::create_dir_all(&self.dir).map_err(|e| self.error(e))?;
        self.remove_legacy_records();
        let dead = self.bytes.len().saturating_sub(HEADER_LEN + self.live);
        let exists = !self.bytes.is_empty() || self.rewrite;
        if self.rewrite || !exists || (dead >= COMPACT_MIN_DEAD && dead > self.live) {
            let mut log = Vec::with_capacity(HEADER_LEN + self.live);
            log.extend_from_slice(MAGIC);
            log.extend_from_slice(&FORMAT.to_le_bytes());
            // A damaged log keeps what was read before the damage.
            for slot in self.tasks.values() {
                if let Some(entry) = self.bytes.get(slot.entry.clone()) {
                    log.extend_from_slice(entry);
                }
            }
            write_cache(&self.path, &log).map_err(fs_error)?;
            self.rewrite = false;
        }
        open_no_follow(fs::OpenOptions::new().append(true), &self.path).map_err(|e| self.error(e))
    }

    /// Removes the per-task JSON records of versions before the log (format 4 and older):
    /// nothing reads them any more.
    fn remove_legacy_records(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let legacy = entry.path().extension().is_some_and(|e| e == "json")
                && entry.file_type().is_ok_and(|t| t.is_file());
            if legacy {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// A record from its encoding; `None` when it does not decode or does not hold together.
fn decode(encoded: &[u8]) -> Option<Arc<Record>> {
    let record = postcard::from_bytes::<Record>(encoded).ok()?;
    (record.file_deps.is_consistent() && record.targets.is_consistent()).then(|| Arc::new(record))
}

/// A file-system error of the state directory, the path said once.
fn fs_error(e: buildchain_fs::FsError) -> GraphError {
    let cause = io::Error::new(e.kind(), format!("cannot {}: {}", e.action, e.cause));
    GraphError::State {
        path: e.path,
        cause,
    }
}

/// The head of an entry's payload: kind, dynamic flag, the task's name.
fn entry_head(kind: u8, dynamic: bool, task: &str) -> Vec<u8> {
    let mut head = Vec::with_capacity(6 + task.len());
    head.push(kind);
    head.push(u8::from(dynamic));
    head.extend_from_slice(&(task.len() as u32).to_le_bytes());
    head.extend_from_slice(task.as_bytes());
    head
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Record {
        Record {
            definition: format!("def{n}"),
            fingerprint: format!("fp{n}"),
            file_deps: [(
                format!("t:f{n}").as_str(),
                Stamp::File {
                    sha256: [n; 32],
                    size: 1,
                    mtime_ns: 2,
                    ctime_ns: 3,
                    ino: 4,
                    mode: 0o644,
                },
            )]
            .into_iter()
            .collect(),
            declared: vec![],
            targets: Entries::default(),
            dynamic: n % 2 == 1,
        }
    }

    #[test]
    fn entries_survive_a_reload_and_the_last_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path()).unwrap();
        state.set("a", record(1)).unwrap();
        state.set("b", record(2)).unwrap();
        state.set("a", record(3)).unwrap();
        state.remove("b").unwrap();
        state.set("c", record(4)).unwrap();
        drop(state);
        let state = State::load(dir.path()).unwrap();
        assert!(state.warnings.is_empty(), "{:?}", state.warnings);
        assert_eq!(state.get("a"), Some(&record(3)));
        assert_eq!(state.get("b"), None);
        assert_eq!(state.get("c"), Some(&record(4)));
        assert!(state.is_dynamic("a") && !state.is_dynamic("c"));
        assert_eq!(state.task_names().collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn a_failed_append_stops_the_appends_of_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path()).unwrap();
        state.set("a", record(1)).unwrap();
        state.failed = Some("No space left on device".into());
        let err = state.remove("a").unwrap_err().to_string();
        assert!(
            err.contains("an earlier write of this run failed: No space"),
            "{err}"
        );
        assert!(state.set("b", record(2)).is_err());
    }

    #[test]
    fn a_run_cuts_a_damaged_tail_before_any_task() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path()).unwrap();
        state.set("a", record(1)).unwrap();
        drop(state);
        let log = dir.path().join(LOG);
        let good = fs::read(&log).unwrap();
        let mut bad = good.clone();
        bad.extend_from_slice(&[0u8; 50]);
        fs::write(&log, &bad).unwrap();
        // A reader leaves it; a run (which may write nothing) cuts it at once.
        let state = State::load(dir.path()).unwrap();
        assert_eq!(state.warnings.len(), 1);
        assert_eq!(fs::read(&log).unwrap(), bad);
        let state = State::load_for_run(dir.path()).unwrap();
        assert_eq!(state.warnings.len(), 1);
        drop(state);
        assert_eq!(fs::read(&log).unwrap(), good);
        assert!(State::load(dir.path()).unwrap().warnings.is_empty());
        // A directory in its place: one error naming it, once.
        fs::remove_file(&log).unwrap();
        fs::create_dir(&log).unwrap();
        let err = State::load_for_run(dir.path()).unwrap_err().to_string();
        assert_eq!(err.matches(&*log.display().to_string()).count(), 1, "{err}");
        assert!(err.contains("cannot rename into place"), "{err}");
    }

    #[test]
    fn a_torn_or_damaged_tail_is_ignored_then_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path()).unwrap();
        state.set("a", record(1)).unwrap();
        state.set("b", record(2)).unwrap();
        drop(state);
        let log = dir.path().join(LOG);
        let full = fs::read(&log).unwrap();
        // Torn: the last entry cut short, as a kill in the middle of the append leaves it.
        fs::write(&log, &full[..full.len() - 3]).unwrap();
        let mut state = State::load(dir.path()).unwrap();
        assert_eq!(state.get("a"), Some(&record(1)));
        assert_eq!(state.get("b"), None);
        assert!(
            state.warnings[0].contains("incomplete entry"),
            "{:?}",
            state.warnings
        );
        // The next write rewrites the log without the tail, then appends.
        state.set("c", record(4)).unwrap();
        drop(state);
        let state = State::load(dir.path()).unwrap();
        assert!(state.warnings.is_empty(), "{:?}", state.warnings);
        assert_eq!(state.task_names().collect::<Vec<_>>(), ["a", "c"]);
        // A flipped byte inside an entry: it and what follows are ignored.
        let mut bytes = fs::read(&log).unwrap();
        let at = HEADER_LEN + 20;
        bytes[at] ^= 0xff;
        fs::write(&log, &bytes).unwrap();
        let state = State::load(dir.path()).unwrap();
        assert_eq!(state.task_names().count(), 0);
        assert!(
            state.warnings[0].contains("damaged"),
            "{:?}",
            state.warnings
        );
    }

    #[test]
    fn superseded_entries_are_dropped_by_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(dir.path()).unwrap();
        let mut big = record(1);
        let keys: Vec<String> = (0..20_000).map(|i| format!("t:file{i}")).collect();
        big.file_deps = keys
            .iter()
            .map(|k| (k.as_str(), Stamp::Dir { mode: 0o755 }))
            .collect();
        for n in 0..8u32 {
            big.fingerprint = format!("fp{n}");
            state.set("big", big.clone()).unwrap();
        }
        drop(state);
        let log = dir.path().join(LOG);
        let before = fs::metadata(&log).unwrap().len();
        // A no-op load writes nothing.
        let state = State::load(dir.path()).unwrap();
        drop(state);
        assert_eq!(fs::metadata(&log).unwrap().len(), before);
        let mut state = State::load(dir.path()).unwrap();
        state.set("small", record(2)).unwrap();
        drop(state);
        let after = fs::metadata(&log).unwrap().len();
        assert!(after < before / 4, "{before} -> {after}");
        let state = State::load(dir.path()).unwrap();
        assert_eq!(state.get("big"), Some(&big));
        assert_eq!(state.get("small"), Some(&record(2)));
    }

    #[test]
    fn what_is_not_a_log_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG);
        fs::write(&log, b"{\"format\": 4}").unwrap();
        fs::write(dir.path().join("old-0123456789abcdef.json"), b"{}").unwrap();
        let mut state = State::load(dir.path()).unwrap();
        assert!(state.warnings[0].contains("not a buildchain state log"));
        state.set("a", record(1)).unwrap();
        drop(state);
        assert!(!dir.path().join("old-0123456789abcdef.json").exists());
        let state = State::load(dir.path()).unwrap();
        assert!(state.warnings.is_empty(), "{:?}", state.warnings);
        assert_eq!(state.get("a"), Some(&record(1)));
        // Another format version: silently ignored (every task re-runs once).
        let mut bytes = fs::read(&log).unwrap();
        bytes[MAGIC.len()] = 4;
        fs::write(&log, &bytes).unwrap();
        let state = State::load(dir.path()).unwrap();
        assert!(state.warnings.is_empty(), "{:?}", state.warnings);
        assert_eq!(state.task_names().count(), 0);
    }
}

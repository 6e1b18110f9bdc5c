//! [`OciCache`]: restore and save task outputs as OCI artifacts tagged by task key.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use buildchain_fs::{AtomicFile, StagingDir};
use buildchain_graph::{CachedTask, TaskCache};
use buildchain_oci::{ArtifactStore, OciError};
use buildchain_oci_types::Digest;
use rayon::prelude::*;
use serde::Serialize;

use crate::entry::{
    entry_problem, manifest, output_problem, Entry, EntryKind, Output, Outputs, ARTIFACT_TYPE,
    CREATED_ANNOTATION, KEY_ANNOTATION, TASK_ANNOTATION,
};

/// Largest config read (the entries of a big image tree are a few hundred KiB).
const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// Whether outputs are only restored, or also kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    ReadWrite,
}

/// What the cache did in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    /// Lookups or restores that failed (the task ran).
    pub errors: u64,
    pub saved: u64,
    pub bytes_restored: u64,
    pub bytes_uploaded: u64,
}

/// Task outputs in one repository of an OCI registry.
pub struct OciCache {
    store: ArtifactStore,
    mode: Mode,
    version: String,
    stats: Mutex<Stats>,
    /// Set once the registry could not be reached, stalled or refused the login: the rest
    /// of the run goes without it (one warning, not one wait per task).
    unreachable: std::sync::atomic::AtomicBool,
    /// Blobs found corrupt on the registry in this run: deleted and sent again when kept.
    suspect: Mutex<std::collections::BTreeSet<String>>,
    /// Set once the registry refused a write: the rest of the run only restores.
    no_writes: std::sync::atomic::AtomicBool,
}

impl OciCache {
    /// `version`: the tool's, recorded in each entry (keys already include it).
    pub fn new(store: ArtifactStore, mode: Mode, version: impl Into<String>) -> OciCache {
        OciCache {
            store,
            mode,
            version: version.into(),
            stats: Mutex::new(Stats::default()),
            unreachable: std::sync::atomic::AtomicBool::new(false),
            suspect: Mutex::new(std::collections::BTreeSet::new()),
            no_writes: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        if let Ok(mut stats) = self.stats.lock() {
            f(&mut stats);
        }
    }

    /// An error of the store, said; an unreachable registry is not asked again this run.
    fn said(&self, e: OciError) -> String {
        let text = self.said_text(&e);
        if let OciError::BlobVerification { digest, .. } = &e {
            if let Ok(mut suspect) = self.suspect.lock() {
                suspect.insert(digest.clone());
            }
        }
        // A stall or a refused login: not asked again (a refused write is `said_writing`).
        if matches!(
            e,
            OciError::Unreachable { .. } | OciError::Transfer { .. } | OciError::AuthRefused { .. }
        ) {
            self.unreachable
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return format!("{text} (the cache is not used for the rest of this run)");
        }
        text
    }

    /// An error of a write: a registry refusing writes (pull-only credentials) makes the
    /// rest of the run read-only, restores go on.
    fn said_writing(&self, e: OciError) -> String {
        let refused = matches!(e, OciError::AuthRefused { .. })
            || matches!(
                e,
                OciError::Http {
                    status: 401 | 403 | 405,
                    ..
                }
            );
        if refused {
            self.no_writes
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return format!(
                "{} (the registry refuses writes: nothing more is kept in this run; --cache-mode read says so)",
                self.said_text(&e)
            );
        }
        self.said(e)
    }

    fn said_text(&self, e: &OciError) -> String {
        let location = self.store.location();
        e.to_string()
            .replace(&format!("{location}:cache"), location)
    }

    fn may_write(&self) -> bool {
        self.mode == Mode::ReadWrite
            && !self.is_unreachable()
            && !self.no_writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn is_unreachable(&self) -> bool {
        self.unreachable.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn try_restore(&self, task: &CachedTask<'_>) -> Result<Option<u64>, String> {
        let Some(bytes) = self.store.manifest(&task.key).map_err(|e| self.said(e))? else {
            return Ok(None);
        };
        let at = |detail: String| format!("entry {}:{}: {detail}", self.store.location(), task.key);
        let manifest: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| at(format!("manifest is not JSON: {e}")))?;
        if manifest["artifactType"] != ARTIFACT_TYPE {
            return Err(at("not a buildchain cache entry (artifactType)".into()));
        }
        let annotations = &manifest["annotations"];
        if annotations[KEY_ANNOTATION] != task.key.as_str()
            || annotations[TASK_ANNOTATION] != task.name
        {
            return Err(at("its annotations name another task or key".into()));
        }
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .and_then(|d| Digest::parse(d).ok())
            .ok_or_else(|| at("no config digest".into()))?;
        let config = self
            .store
            .blob_bytes(&config_digest, MAX_CONFIG_BYTES)
            .map_err(|e| at(self.said(e)))?;
        let outputs: Outputs =
            serde_json::from_slice(&config).map_err(|e| at(format!("config: {e}")))?;
        let keys: Vec<&str> = outputs.outputs.iter().map(|o| o.key.as_str()).collect();
        if outputs.task != task.name
            || keys
                != task
                    .target_keys
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
        {
            return Err(at("its outputs are not this task's targets".into()));
        }
        let layers: BTreeMap<String, u64> = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| Some((l["digest"].as_str()?.to_string(), l["size"].as_u64()?)))
            .collect();
        for output in &outputs.outputs {
            if let Some(problem) = output_problem(output).or_else(|| {
                output
                    .entries
                    .iter()
                    .find_map(|e| entry_problem(e, &layers))
            }) {
                return Err(at(problem));
            }
        }
        let mut written: HashMap<String, PathBuf> = HashMap::new();
        let mut bytes = 0;
        for (output, target) in outputs.outputs.iter().zip(task.targets) {
            bytes += self
                .restore_output(output, target, &mut written)
                .map_err(|e| at(format!("{}: {e}", target.display())))?;
        }
        Ok(Some(bytes))
    }

    /// Puts one output in place (atomically: a file by rename, a directory by swapping a
    /// staged one in). Returns the bytes downloaded.
    fn restore_output(
        &self,
        output: &Output,
        target: &Path,
        written: &mut HashMap<String, PathBuf>,
    ) -> Result<u64, String> {
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        match output.entries.as_slice() {
            [single] if single.path.is_empty() && single.kind == EntryKind::File => {
                let mut file = AtomicFile::create(target).map_err(|e| e.to_string())?;
                let temp = file.temp_path().to_path_buf();
                let got = self.fetch(single, &temp, written, Some(&mut file))?;
                file.commit().map_err(|e| e.to_string())?;
                fs::set_permissions(target, fs::Permissions::from_mode(single.mode))
                    .map_err(|e| e.to_string())?;
                written.insert(
                    single.digest.clone().unwrap_or_default(),
                    target.to_path_buf(),
                );
                Ok(got)
            }
            entries => {
                let staging = StagingDir::create(target).map_err(|e| e.to_string())?;
                let root = staging.path().to_path_buf();
                let mut got = 0;
                let mut dirs = Vec::new();
                for entry in entries {
                    let path = if entry.path.is_empty() {
                        root.clone()
                    } else {
                        root.join(&entry.path)
                    };
                    match entry.kind {
                        EntryKind::Dir => {
                            if path != root {
                                fs::create_dir(&path)
                                    .map_err(|e| format!("{}: {e}", entry.path))?;
                            }
                            dirs.push((path, entry.mode));
                        }
                        EntryKind::Symlink => {
                            std::os::unix::fs::symlink(
                                entry.target.as_deref().unwrap_or(""),
                                &path,
                            )
                            .map_err(|e| format!("{}: {e}", entry.path))?;
                        }
                        EntryKind::File => {
                            got += self.fetch(entry, &path, written, None)?;
                            fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode))
                                .map_err(|e| format!("{}: {e}", entry.path))?;
                        }
                    }
                }
                for (dir, mode) in dirs.iter().rev() {
                    fs::set_permissions(dir, fs::Permissions::from_mode(*mode))
                        .map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                staging.publish().map_err(|e| e.to_string())?;
                Ok(got)
            }
        }
    }

    /// The content of a file entry at `path`: copied from a file this restore already
    /// wrote with that digest, else downloaded and verified. Returns the bytes downloaded.
    fn fetch(
        &self,
        entry: &Entry,
        path: &Path,
        written: &mut HashMap<String, PathBuf>,
        atomic: Option<&mut AtomicFile>,
    ) -> Result<u64, String> {
        let (Some(digest_text), Some(size)) = (&entry.digest, entry.size) else {
            return Err(format!("{}: no digest", entry.path));
        };
        let digest = Digest::parse(digest_text).map_err(|e| e.to_string())?;
        // Written (and verified) earlier in this restore: copied, streamed, not downloaded.
        if let Some(copy) = written.get(digest_text).filter(|p| p.is_file()) {
            let copied = fs::File::open(copy).and_then(|mut from| match atomic {
                Some(file) => std::io::copy(&mut from, &mut file.file()),
                None => fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .and_then(|mut to| std::io::copy(&mut from, &mut to)),
            });
            match copied {
                Ok(n) if n == size => return Ok(0),
                Ok(n) => {
                    return Err(format!(
                        "{}: {n} bytes copied, {size} expected",
                        path.display()
                    ))
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        match atomic {
            Some(file) => self
                .store
                .blob_to(&digest, size, &mut file.file())
                .map_err(|e| self.said(e))?,
            None => {
                // A new file: never one met through a link.
                let mut out = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                self.store
                    .blob_to(&digest, size, &mut out)
                    .map_err(|e| self.said(e))?;
            }
        }
        written.insert(digest_text.clone(), path.to_path_buf());
        Ok(size)
    }

    fn try_save(&self, task: &CachedTask<'_>) -> Result<u64, String> {
        let mut outputs = Vec::new();
        for (target, key) in task.targets.iter().zip(&task.target_keys) {
            outputs.push(Output {
                key: key.clone(),
                entries: describe(target)?,
            });
        }
        // Each distinct content once: its digest, its size, a file holding it.
        let mut blobs: BTreeMap<String, (u64, PathBuf)> = BTreeMap::new();
        for (output, target) in outputs.iter().zip(task.targets) {
            for entry in output.entries.iter().filter(|e| e.kind == EntryKind::File) {
                let path = if entry.path.is_empty() {
                    target.clone()
                } else {
                    target.join(&entry.path)
                };
                if let (Some(d), Some(s)) = (&entry.digest, entry.size) {
                    blobs.entry(d.clone()).or_insert((s, path));
                }
            }
        }
        let mut uploaded = 0;
        let suspect = self.suspect.lock().map(|s| s.clone()).unwrap_or_default();
        for (digest, (size, path)) in &blobs {
            let parsed = Digest::parse(digest).map_err(|e| e.to_string())?;
            if suspect.contains(digest) {
                // Found corrupt on the registry: its copy is replaced by this one.
                self.store
                    .delete_blob(&parsed)
                    .map_err(|e| self.said_writing(e))?;
            }
            let pushed = self
                .store
                .push_blob(&parsed, *size, &mut || {
                    fs::File::open(path)
                        .map(|f| Box::new(f) as Box<dyn Read>)
                        .map_err(|e| OciError::Io {
                            path: path.clone(),
                            cause: e,
                        })
                })
                .map_err(|e| self.said_writing(e))?;
            if pushed {
                uploaded += size;
            }
        }
        let config = serde_json::to_vec(&Outputs {
            task: task.name.to_string(),
            outputs,
        })
        .map_err(|e| e.to_string())?;
        let config_digest = Digest::of(&config);
        let bytes = config.clone();
        self.store
            .push_blob(&config_digest, config.len() as u64, &mut || {
                Ok(Box::new(std::io::Cursor::new(bytes.clone())) as Box<dyn Read>)
            })
            .map_err(|e| self.said_writing(e))?;
        let layers: BTreeMap<String, u64> =
            blobs.iter().map(|(d, (s, _))| (d.clone(), *s)).collect();
        let created = jiff::Timestamp::now().to_string();
        let manifest = manifest(
            (&config_digest.to_string(), config.len() as u64),
            &layers,
            task.name,
            &task.key,
            &self.version,
            &created,
        );
        let bytes = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
        // The tag last: a reader never sees an entry whose blobs are not all there.
        self.store
            .put_manifest(&task.key, &bytes)
            .map_err(|e| self.said_writing(e))?;
        Ok(uploaded)
    }

    /// Every entry of the repository, with its task, creation time and manifest digest.
    pub fn entries(&self) -> Result<Vec<Listed>, OciError> {
        let mut listed = Vec::new();
        for tag in self.store.tags()? {
            let Some(bytes) = self.store.manifest(&tag)? else {
                continue;
            };
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if value["artifactType"] != ARTIFACT_TYPE {
                continue;
            }
            let annotations = &value["annotations"];
            let bytes_total = value["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["size"].as_u64())
                .sum();
            listed.push(Listed {
                tag,
                task: annotations[TASK_ANNOTATION]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                created: annotations[CREATED_ANNOTATION]
                    .as_str()
                    .and_then(|c| c.parse::<jiff::Timestamp>().ok()),
                digest: Digest::of(&bytes),
                bytes: bytes_total,
            });
        }
        Ok(listed)
    }

    /// Deletes the entries created before `cutoff`; returns them.
    pub fn prune(&self, cutoff: jiff::Timestamp, dry_run: bool) -> Result<Vec<Listed>, OciError> {
        let mut pruned = Vec::new();
        for entry in self.entries()? {
            if entry.created.is_some_and(|c| c < cutoff) {
                if !dry_run {
                    self.store.delete_manifest(&entry.digest)?;
                }
                pruned.push(entry);
            }
        }
        Ok(pruned)
    }
}

/// One entry of the repository.
#[derive(Debug, Clone)]
pub struct Listed {
    pub tag: String,
    pub task: String,
    pub created: Option<jiff::Timestamp>,
    pub digest: Digest,
    /// Bytes of its file blobs (blobs shared with other entries counted in each).
    pub bytes: u64,
}

/// The entries of an output as it is on disk: a file, or a directory walked (parents
/// first), each file hashed (in parallel).
fn describe(target: &Path) -> Result<Vec<Entry>, String> {
    let meta = fs::symlink_metadata(target).map_err(|e| format!("{}: {e}", target.display()))?;
    if meta.is_file() {
        let (digest, size) =
            buildchain_fs::sha256_file_with_size(target).map_err(|e| e.to_string())?;
        return Ok(vec![Entry {
            path: String::new(),
            kind: EntryKind::File,
            mode: meta.permissions().mode() & 0o777,
            digest: Some(format!("sha256:{digest}")),
            size: Some(size),
            target: None,
        }]);
    }
    if !meta.is_dir() {
        return Err(format!(
            "{}: neither a file nor a directory",
            target.display()
        ));
    }
    let walked = buildchain_fs::walk_tree(target).map_err(|e| e.to_string())?;
    walked
        .par_iter()
        .map(|(path, stat)| {
            let relative = path.strip_prefix(target).unwrap_or(path);
            let Some(relative) = relative.to_str() else {
                return Err(format!("{}: not a UTF-8 name", path.display()));
            };
            let mode = stat.mode & 0o777;
            Ok(match stat.kind {
                buildchain_fs::Kind::Dir => Entry {
                    path: relative.to_string(),
                    kind: EntryKind::Dir,
                    mode,
                    digest: None,
                    size: None,
                    target: None,
                },
                buildchain_fs::Kind::File => {
                    let (digest, size) =
                        buildchain_fs::sha256_file_with_size(path).map_err(|e| e.to_string())?;
                    Entry {
                        path: relative.to_string(),
                        kind: EntryKind::File,
                        mode,
                        digest: Some(format!("sha256:{digest}")),
                        size: Some(size),
                        target: None,
                    }
                }
                buildchain_fs::Kind::Symlink => {
                    let to = fs::read_link(path).map_err(|e| e.to_string())?;
                    Entry {
                        path: relative.to_string(),
                        kind: EntryKind::Symlink,
                        mode: 0o777,
                        digest: None,
                        size: None,
                        target: Some(to.to_string_lossy().into_owned()),
                    }
                }
                buildchain_fs::Kind::Other => {
                    return Err(format!(
                        "{}: a FIFO, socket or device cannot be kept",
                        path.display()
                    ))
                }
            })
        })
        .collect()
}

impl TaskCache for OciCache {
    fn restore(&self, task: &CachedTask<'_>) -> Result<bool, String> {
        if self.is_unreachable() {
            self.count(|s| s.misses += 1);
            return Ok(false);
        }
        match self.try_restore(task) {
            Ok(Some(bytes)) => {
                self.count(|s| {
                    s.hits += 1;
                    s.bytes_restored += bytes;
                });
                Ok(true)
            }
            Ok(None) => {
                self.count(|s| s.misses += 1);
                Ok(false)
            }
            Err(e) => {
                self.count(|s| s.errors += 1);
                Err(e)
            }
        }
    }

    fn keep_if_missing(&self, task: &CachedTask<'_>) -> Result<(), String> {
        if !self.may_write() {
            return Ok(());
        }
        match self.store.manifest(&task.key) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => self.save(task),
            Err(e) => Err(self.said(e)),
        }
    }

    fn save(&self, task: &CachedTask<'_>) -> Result<(), String> {
        if !self.may_write() {
            return Ok(());
        }
        let uploaded = self.try_save(task)?;
        self.count(|s| {
            s.saved += 1;
            s.bytes_uploaded += uploaded;
        });
        Ok(())
    }
}

impl std::fmt::Debug for OciCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciCache")
            .field("store", &self.store)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

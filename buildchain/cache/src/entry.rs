//! What a cache entry holds: the artifact's config (every output of the task, entry by
//! entry: path, kind, mode, digest), its manifest, and the checks made on what a registry
//! serves before anything is restored.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// `artifactType` of the manifests, and media type of their config.
pub const ARTIFACT_TYPE: &str = "application/vnd.buildchain.task-outputs.v1+json";
/// Media type of each file's blob.
pub const FILE_MEDIA_TYPE: &str = "application/vnd.buildchain.file.v1";
pub const TASK_ANNOTATION: &str = "dev.buildchain.task";
pub const KEY_ANNOTATION: &str = "dev.buildchain.key";
pub const VERSION_ANNOTATION: &str = "dev.buildchain.version";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// One entry of an output: `path` is relative to the output (`""`: the output itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// One declared output (a target of the task): its portable key and its entries, parents
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub key: String,
    pub entries: Vec<Entry>,
}

/// The artifact's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    pub task: String,
    pub outputs: Vec<Output>,
}

/// Why an entry read from a registry cannot be restored, or `None`.
pub fn entry_problem(entry: &Entry, layers: &BTreeMap<String, u64>) -> Option<String> {
    let path = Path::new(&entry.path);
    if !entry.path.is_empty()
        && (path.is_absolute()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
            || entry.path.contains('\0'))
    {
        return Some(format!(
            "{:?}: not a relative path inside the output",
            entry.path
        ));
    }
    if entry.mode & !0o7777 != 0 || entry.mode & 0o7000 != 0 {
        return Some(format!(
            "{:?}: mode {:o} (set-id and sticky bits are never restored)",
            entry.path, entry.mode
        ));
    }
    let owner_needs = match entry.kind {
        EntryKind::File => 0o400,
        EntryKind::Dir => 0o700,
        EntryKind::Symlink => 0,
    };
    if entry.kind != EntryKind::Symlink
        && (entry.mode & owner_needs != owner_needs || entry.mode & 0o002 != 0)
    {
        return Some(format!(
            "{:?}: mode {:o} (unreadable by its owner, or world-writable)",
            entry.path, entry.mode
        ));
    }
    match entry.kind {
        EntryKind::File => {
            let (Some(digest), Some(size)) = (&entry.digest, entry.size) else {
                return Some(format!("{:?}: a file without digest or size", entry.path));
            };
            if layers.get(digest) != Some(&size) {
                return Some(format!(
                    "{:?}: {digest} of {size} bytes is not a layer of the entry",
                    entry.path
                ));
            }
        }
        EntryKind::Symlink => {
            if entry.target.as_deref().is_none_or(str::is_empty) {
                return Some(format!("{:?}: a link without target", entry.path));
            }
        }
        EntryKind::Dir => {}
    }
    None
}

/// Why an output's entries cannot be restored as a tree, or `None`: a single file is one
/// entry `""`; a directory starts with its root `""`, and every other entry is in a
/// directory listed before it (so nothing is ever written through a link or a file), once.
pub fn output_problem(output: &Output) -> Option<String> {
    let mut kinds: std::collections::HashMap<&str, EntryKind> = std::collections::HashMap::new();
    match output.entries.first() {
        Some(first) if first.path.is_empty() && first.kind == EntryKind::File => {
            return (output.entries.len() > 1)
                .then(|| "a file output with more than one entry".to_string());
        }
        Some(first) if first.path.is_empty() && first.kind == EntryKind::Dir => {
            kinds.insert("", EntryKind::Dir);
        }
        _ => return Some("the output's first entry is not the output itself".into()),
    }
    for entry in &output.entries[1..] {
        if entry.path.is_empty() || kinds.contains_key(entry.path.as_str()) {
            return Some(format!("{:?}: listed twice", entry.path));
        }
        let parent = entry.path.rsplit_once('/').map_or("", |(p, _)| p);
        if kinds.get(parent) != Some(&EntryKind::Dir) {
            return Some(format!(
                "{:?}: not in a directory listed before it",
                entry.path
            ));
        }
        kinds.insert(&entry.path, entry.kind);
    }
    let links: std::collections::HashSet<&str> = output
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Symlink)
        .map(|e| e.path.as_str())
        .collect();
    for entry in output
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Symlink)
    {
        let target = entry.target.as_deref().unwrap_or("");
        if let Some(problem) = buildchain_fs::link_target_problem(&entry.path, target, &links) {
            return Some(format!("{:?}: its target {target:?} {problem}", entry.path));
        }
    }
    None
}

/// The artifact manifest: config, one layer per distinct file content, annotations.
pub fn manifest(
    config: (&str, u64),
    layers: &BTreeMap<String, u64>,
    task: &str,
    key: &str,
    version: &str,
    created: &str,
) -> serde_json::Value {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(digest, size)| serde_json::json!({"mediaType": FILE_MEDIA_TYPE, "digest": digest, "size": size}))
        .collect();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": buildchain_oci::artifact::OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": ARTIFACT_TYPE, "digest": config.0, "size": config.1},
        "layers": layers,
        "annotations": {
            TASK_ANNOTATION: task,
            KEY_ANNOTATION: key,
            VERSION_ANNOTATION: version,
            CREATED_ANNOTATION: created,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.into(),
            kind,
            mode: 0o644,
            digest: None,
            size: None,
            target: Some("/tmp/outside".into()),
        }
    }

    fn output(entries: Vec<Entry>) -> Output {
        Output {
            key: "build:root/x".into(),
            entries,
        }
    }

    #[test]
    fn entries_never_lead_writes_through_a_link_or_twice_to_a_path() {
        let root = || entry("", EntryKind::Dir);
        let ok = output(vec![
            root(),
            entry("d", EntryKind::Dir),
            entry("d/f", EntryKind::File),
        ]);
        assert_eq!(output_problem(&ok), None);
        for (entries, want) in [
            (
                vec![
                    root(),
                    entry("esc", EntryKind::Symlink),
                    entry("esc/pwned", EntryKind::File),
                ],
                "not in a directory",
            ),
            (
                vec![
                    root(),
                    entry("f", EntryKind::Symlink),
                    entry("f", EntryKind::File),
                ],
                "listed twice",
            ),
            (
                vec![root(), entry("a/b", EntryKind::File)],
                "not in a directory",
            ),
            (vec![entry("x", EntryKind::File)], "first entry"),
            (
                vec![entry("", EntryKind::File), entry("y", EntryKind::File)],
                "more than one",
            ),
        ] {
            let problem = output_problem(&output(entries)).unwrap_or_default();
            assert!(problem.contains(want), "{want}: {problem}");
        }
    }
}

//! `diff OLD NEW`: what changed between two releases, grouped the way a release engineer
//! reviews it: product.txt fields, images (tag, digest, bytes of new layers), packages
//! (NEVRA), every other file, and the bytes of content NEW has that OLD lacks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::BufReader;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use crate::archive::{Archive, EntryKind};
use crate::error::ReleaseError;
use crate::inventory::{Inventory, Item};

/// One side of the comparison.
#[derive(Debug, Serialize)]
pub struct Side {
    pub archive: String,
    pub volume_id: Option<String>,
    pub version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FieldChange {
    pub key: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
    Upgraded,
    Downgraded,
    /// Same NEVRA, other bytes.
    Rebuilt,
    /// Same content, other permissions or link target.
    Mode,
}

impl Change {
    fn sign(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed | Change::Mode => '~',
            Change::Upgraded => '^',
            Change::Downgraded => 'v',
            Change::Rebuilt => '*',
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ImageChange {
    pub name: String,
    pub change: Change,
    pub old_tag: Option<String>,
    pub new_tag: Option<String>,
    pub old_digest: Option<String>,
    pub new_digest: Option<String>,
    /// Bytes of the new image's blobs that OLD holds nowhere.
    pub new_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct PackageChange {
    /// Where the repository lives under `packages/` (`redhat/8/metalk8s-scality-el8`).
    pub repository: String,
    pub name: String,
    pub arch: String,
    pub change: Change,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    pub change: Change,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

/// Content NEW has that OLD holds nowhere (by SHA-256, whatever the path).
#[derive(Debug, Serialize)]
pub struct NewContent {
    pub files: u64,
    pub bytes: u64,
    /// Bytes of NEW's distinct content.
    pub total_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct Diff {
    pub old: Side,
    pub new: Side,
    pub product: Vec<FieldChange>,
    pub images: Vec<ImageChange>,
    pub packages: Vec<PackageChange>,
    pub files: Vec<FileChange>,
    pub new_content: NewContent,
}

/// product.txt fields that differ on every build and say nothing a reviewer checks.
const NOISY_FIELDS: &[&str] = &["BUILD_HOST"];

impl Diff {
    pub fn between(
        old_archive: &Archive,
        old: &Inventory,
        new_archive: &Archive,
        new: &Inventory,
    ) -> Result<Diff, ReleaseError> {
        let side = |archive: &Archive, inventory: &Inventory| Side {
            archive: archive.path().display().to_string(),
            volume_id: inventory.volume_id.clone(),
            version: inventory.version().map(str::to_string),
        };
        let old_content: HashSet<&str> = old
            .items
            .iter()
            .filter_map(|i| i.sha256.as_deref())
            .collect();
        let mut seen = HashSet::new();
        let (mut files, mut bytes, mut total_bytes) = (0, 0, 0);
        for item in &new.items {
            if let Some(sha) = item.sha256.as_deref() {
                if seen.insert(sha) {
                    total_bytes += item.entry.size;
                    if !old_content.contains(sha) {
                        files += 1;
                        bytes += item.entry.size;
                    }
                }
            }
        }
        Ok(Diff {
            old: side(old_archive, old),
            new: side(new_archive, new),
            product: product_changes(old, new),
            images: image_changes(old, new, &old_content),
            packages: package_changes(old_archive, old, new_archive, new)?,
            files: file_changes(old, new),
            new_content: NewContent {
                files,
                bytes,
                total_bytes,
            },
        })
    }

    /// True when nothing but noise differs.
    pub fn is_empty(&self) -> bool {
        self.product.is_empty()
            && self.images.is_empty()
            && self.packages.is_empty()
            && self.files.is_empty()
    }

    /// A short table for a review.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let name = |s: &Side| s.version.clone().unwrap_or_else(|| s.archive.clone());
        let _ = writeln!(out, "{} -> {}", name(&self.old), name(&self.new));
        if self.is_empty() {
            let _ = writeln!(out, "\nno change");
        }
        if !self.product.is_empty() {
            let _ = writeln!(out, "\nproduct.txt");
            let width = self.product.iter().map(|f| f.key.len()).max().unwrap_or(0);
            for f in &self.product {
                let _ = writeln!(
                    out,
                    "  {:width$}  {} -> {}",
                    f.key,
                    f.old.as_deref().unwrap_or("(none)"),
                    f.new.as_deref().unwrap_or("(none)"),
                );
            }
        }
        if !self.images.is_empty() {
            let _ = writeln!(
                out,
                "\nimages ({})",
                counts(self.images.iter().map(|i| i.change))
            );
            let width = self.images.iter().map(|i| i.name.len()).max().unwrap_or(0);
            for i in &self.images {
                let tags = match (&i.old_tag, &i.new_tag) {
                    (Some(a), Some(b)) if a != b => format!("{a} -> {b}"),
                    (_, Some(t)) | (Some(t), None) => t.clone(),
                    (None, None) => String::new(),
                };
                let digest = i
                    .new_digest
                    .as_deref()
                    .or(i.old_digest.as_deref())
                    .map_or("", short_digest);
                let grown = if i.change == Change::Removed {
                    String::new()
                } else {
                    format!("  +{} new", human(i.new_bytes))
                };
                let _ = writeln!(
                    out,
                    "  {} {:width$}  {tags}  {digest}{grown}",
                    i.change.sign(),
                    i.name
                );
            }
        }
        if !self.packages.is_empty() {
            let _ = writeln!(
                out,
                "\npackages ({})",
                counts(self.packages.iter().map(|p| p.change))
            );
            for p in &self.packages {
                let what = match (&p.old, &p.new) {
                    (Some(a), Some(b)) if a != b => format!("{a} -> {b}"),
                    (_, Some(n)) | (Some(n), None) => n.clone(),
                    (None, None) => String::new(),
                };
                let _ = writeln!(out, "  {} {}  {what}", p.change.sign(), p.repository);
            }
        }
        if !self.files.is_empty() {
            let _ = writeln!(
                out,
                "\nfiles ({})",
                counts(self.files.iter().map(|f| f.change))
            );
            for f in &self.files {
                let sizes = match (f.old_size, f.new_size) {
                    (Some(a), Some(b)) if a != b => format!("  {} -> {}", human(a), human(b)),
                    (_, Some(s)) | (Some(s), None) => format!("  {}", human(s)),
                    (None, None) => String::new(),
                };
                let _ = writeln!(out, "  {} {}{sizes}", f.change.sign(), shown(&f.path));
            }
        }
        let c = &self.new_content;
        let _ = writeln!(
            out,
            "\nnew content: {} in {} files (of {} in NEW)",
            human(c.bytes),
            c.files,
            human(c.total_bytes)
        );
        out
    }
}

/// A name as the table prints it: control characters escaped (a name is data, never
/// terminal input or a line break).
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string().into()
    } else {
        name.into()
    }
}

fn counts(changes: impl Iterator<Item = Change>) -> String {
    let mut by: BTreeMap<Change, usize> = BTreeMap::new();
    for c in changes {
        *by.entry(c).or_default() += 1;
    }
    by.iter()
        .map(|(c, n)| {
            format!(
                "{n} {}",
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short_digest(digest: &str) -> &str {
    // `sha256:` and 12 hex digits, as docker and skopeo print them.
    digest.get(..19).unwrap_or(digest)
}

/// Bytes for a human: `512 B`, `1.5 KiB`, `12.3 MiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn product_changes(old: &Inventory, new: &Inventory) -> Vec<FieldChange> {
    let keys: BTreeSet<&String> = old.product.keys().chain(new.product.keys()).collect();
    keys.into_iter()
        .filter(|k| !NOISY_FIELDS.contains(&k.as_str()))
        .filter(|k| old.product.get(*k) != new.product.get(*k))
        .map(|k| FieldChange {
            key: k.clone(),
            old: old.product.get(k).cloned(),
            new: new.product.get(k).cloned(),
        })
        .collect()
}

/// An image directory: `images/<name>/<tag>/manifest.json` and its blobs.
struct Image<'a> {
    tag: &'a str,
    digest: String,
    blobs: Vec<&'a Item>,
}

fn images_of(inventory: &Inventory) -> BTreeMap<&str, Vec<Image<'_>>> {
    // The blobs of each directory, in one pass (`<dir>/<64 hex>`).
    let mut blobs_in: HashMap<&str, Vec<&Item>> = HashMap::new();
    for item in inventory.items.iter().filter(|i| i.sha256.is_some()) {
        if let Some((dir, name)) = item.entry.path.rsplit_once('/') {
            if is_blob_name(name) {
                blobs_in.entry(dir).or_default().push(item);
            }
        }
    }
    let mut images: BTreeMap<&str, Vec<Image<'_>>> = BTreeMap::new();
    for item in &inventory.items {
        // `images/<name, maybe with slashes>/<tag>/manifest.json`.
        let Some(dir) = item.entry.path.strip_suffix("/manifest.json") else {
            continue;
        };
        let Some(image_dir) = dir.strip_prefix("images/") else {
            continue;
        };
        if let (Some((name, tag)), Some(sha)) = (image_dir.rsplit_once('/'), &item.sha256) {
            images.entry(name).or_default().push(Image {
                tag,
                digest: format!("sha256:{sha}"),
                blobs: blobs_in.get(dir).cloned().unwrap_or_default(),
            });
        }
    }
    images
}

fn is_blob_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn image_changes(
    old: &Inventory,
    new: &Inventory,
    old_content: &HashSet<&str>,
) -> Vec<ImageChange> {
    let (old_images, new_images) = (images_of(old), images_of(new));
    let names: BTreeSet<&str> = old_images
        .keys()
        .chain(new_images.keys())
        .copied()
        .collect();
    let new_bytes = |image: &Image<'_>| -> u64 {
        let mut seen = HashSet::new();
        image
            .blobs
            .iter()
            .filter(|b| {
                b.sha256
                    .as_deref()
                    .is_some_and(|s| !old_content.contains(s) && seen.insert(s))
            })
            .map(|b| b.entry.size)
            .sum()
    };
    let mut changes = Vec::new();
    for name in names {
        let empty = Vec::new();
        let before = old_images.get(name).unwrap_or(&empty);
        let after = new_images.get(name).unwrap_or(&empty);
        // One version on each side (the usual case): a changed tag is a change of this
        // image. Several: matched by tag.
        let pairs: Vec<(Option<&Image<'_>>, Option<&Image<'_>>)> = if before.len() <= 1
            && after.len() <= 1
        {
            vec![(before.first(), after.first())]
        } else {
            let tags: BTreeSet<&str> = before.iter().chain(after.iter()).map(|i| i.tag).collect();
            tags.into_iter()
                .map(|t| {
                    (
                        before.iter().find(|i| i.tag == t),
                        after.iter().find(|i| i.tag == t),
                    )
                })
                .collect()
        };
        for (a, b) in pairs {
            let change = match (a, b) {
                (None, Some(_)) => Change::Added,
                (Some(_), None) => Change::Removed,
                (Some(a), Some(b)) if a.digest != b.digest || a.tag != b.tag => Change::Changed,
                _ => continue,
            };
            changes.push(ImageChange {
                name: name.to_string(),
                change,
                old_tag: a.map(|i| i.tag.to_string()),
                new_tag: b.map(|i| i.tag.to_string()),
                old_digest: a.map(|i| i.digest.clone()),
                new_digest: b.map(|i| i.digest.clone()),
                new_bytes: b.map_or(0, new_bytes),
            });
        }
    }
    changes
}

fn is_package(path: &str) -> bool {
    path.starts_with("packages/") && path.ends_with(".rpm")
}

/// Files the packages section speaks for: RPMs and the metadata written from them.
fn is_package_metadata(path: &str) -> bool {
    path.starts_with("packages/") && path.split('/').any(|p| p == "repodata")
}

struct Rpm {
    repository: String,
    name: String,
    arch: String,
    evr: buildchain_rpm::Evr,
    nevra: String,
    sha256: String,
}

/// Headers of the RPMs of `inventory` whose path and content OLD and NEW do not share.
fn changed_rpms(
    archive: &Archive,
    inventory: &Inventory,
    other: &Inventory,
) -> Result<Vec<Rpm>, ReleaseError> {
    let changed: Vec<&Item> = inventory
        .items
        .iter()
        .filter(|i| i.entry.kind == EntryKind::File && is_package(&i.entry.path))
        .filter(|i| other.get(&i.entry.path).map(|o| &o.sha256) != Some(&i.sha256))
        .collect();
    // Reading a header is a few KiB per file: in parallel for thousands of packages.
    changed
        .par_iter()
        .map(|item| {
            let path = &item.entry.path;
            let mut reader = BufReader::new(archive.reader(path)?);
            let header = buildchain_rpm::read_header_from(&mut reader, Path::new(path))
                .map_err(|e| archive.bad_entry(path, e.to_string()))?;
            let repository = path
                .trim_start_matches("packages/")
                .rsplit_once('/')
                .map_or("", |(dir, _)| dir)
                .to_string();
            let evr = buildchain_rpm::Evr::new(header.epoch, header.version, Some(header.release));
            let nevra = format!("{}-{evr}.{}", header.name, header.arch);
            Ok(Rpm {
                repository,
                name: header.name,
                arch: header.arch,
                evr,
                nevra,
                sha256: item.sha256.clone().unwrap_or_default(),
            })
        })
        .collect()
}

fn package_changes(
    old_archive: &Archive,
    old: &Inventory,
    new_archive: &Archive,
    new: &Inventory,
) -> Result<Vec<PackageChange>, ReleaseError> {
    type Key = (String, String, String);
    let keyed = |rpms: Vec<Rpm>| -> BTreeMap<Key, Vec<Rpm>> {
        let mut map: BTreeMap<Key, Vec<Rpm>> = BTreeMap::new();
        for rpm in rpms {
            map.entry((rpm.repository.clone(), rpm.name.clone(), rpm.arch.clone()))
                .or_default()
                .push(rpm);
        }
        map
    };
    let before = keyed(changed_rpms(old_archive, old, new)?);
    let after = keyed(changed_rpms(new_archive, new, old)?);
    let keys: BTreeSet<&Key> = before.keys().chain(after.keys()).collect();
    let mut changes = Vec::new();
    for key in keys {
        let (repository, name, arch) = key;
        let change = |change, old: Option<&Rpm>, new: Option<&Rpm>| PackageChange {
            repository: repository.clone(),
            name: name.clone(),
            arch: arch.clone(),
            change,
            old: old.map(|r| r.nevra.clone()),
            new: new.map(|r| r.nevra.clone()),
        };
        let empty = Vec::new();
        let (a, b) = (
            before.get(key).unwrap_or(&empty),
            after.get(key).unwrap_or(&empty),
        );
        match (a.as_slice(), b.as_slice()) {
            ([old], [new]) => {
                let kind = match old.evr.compare(&new.evr) {
                    std::cmp::Ordering::Less => Change::Upgraded,
                    std::cmp::Ordering::Greater => Change::Downgraded,
                    std::cmp::Ordering::Equal if old.sha256 != new.sha256 => Change::Rebuilt,
                    std::cmp::Ordering::Equal => continue,
                };
                changes.push(change(kind, Some(old), Some(new)));
            }
            _ => {
                // Several versions of one package (or one side only): each NEVRA on its own.
                for old in a.iter().filter(|o| !b.iter().any(|n| n.nevra == o.nevra)) {
                    changes.push(change(Change::Removed, Some(old), None));
                }
                for new in b {
                    match a.iter().find(|o| o.nevra == new.nevra) {
                        Some(old) if old.sha256 != new.sha256 => {
                            changes.push(change(Change::Rebuilt, Some(old), Some(new)))
                        }
                        Some(_) => {}
                        None => changes.push(change(Change::Added, None, Some(new))),
                    }
                }
            }
        }
    }
    Ok(changes)
}

fn file_changes(old: &Inventory, new: &Inventory) -> Vec<FileChange> {
    let reported = |item: &Item| {
        let path = item.entry.path.as_str();
        path != "product.txt"
            && !path.starts_with("images/")
            && !is_package(path)
            && !is_package_metadata(path)
    };
    // A directory is listed as `path/`.
    let named = |item: &Item| match item.entry.kind {
        EntryKind::Dir => format!("{}/", item.entry.path),
        _ => item.entry.path.clone(),
    };
    let mut changes = Vec::new();
    for item in new.items.iter().filter(|i| reported(i)) {
        let size = (item.entry.kind == EntryKind::File).then_some(item.entry.size);
        match old.get(&item.entry.path).filter(|o| reported(o)) {
            None => changes.push(FileChange {
                path: named(item),
                change: Change::Added,
                old_size: None,
                new_size: size,
            }),
            Some(before) => {
                let change = if before.sha256 != item.sha256 || before.entry.kind != item.entry.kind
                {
                    Change::Changed
                } else if before.entry.mode != item.entry.mode {
                    Change::Mode
                } else {
                    continue;
                };
                changes.push(FileChange {
                    path: named(item),
                    change,
                    old_size: (before.entry.kind == EntryKind::File).then_some(before.entry.size),
                    new_size: size,
                });
            }
        }
    }
    for item in old.items.iter().filter(|i| reported(i)) {
        if new.get(&item.entry.path).filter(|n| reported(n)).is_none() {
            changes.push(FileChange {
                path: named(item),
                change: Change::Removed,
                old_size: (item.entry.kind == EntryKind::File).then_some(item.entry.size),
                new_size: None,
            });
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

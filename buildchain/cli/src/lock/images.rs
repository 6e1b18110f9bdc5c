//! The images of versions.lock: what each pulled image's tag resolved to.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::{at_line, resolve_all, Lock, Mode, LOCK_FILE};
use crate::versions::{Image, LockedPin, Versions};

/// One pulled image as its tag resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    pub name: String,
    pub tag: String,
    /// The registry, as `[[images]] source`.
    pub source: String,
    /// The name on the registry, when it differs (`[[images]] remote_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_name: Option<String>,
    /// What the tag named when locked: the index, or the manifest.
    pub digest: String,
    /// The image manifest a pull keeps (linux/amd64 of an index).
    pub manifest: String,
    /// An index's platforms and their manifests (none for a plain manifest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<String, String>,
}

/// How the tags are resolved: a lookup on the image's registry (or a stand-in in tests).
pub type ImageResolver<'a> = dyn Fn(&Image) -> Result<LockedImage> + Sync + 'a;

/// Where a lock entry is, for messages.
fn entry(line: usize, image: &LockedImage) -> String {
    format!("{LOCK_FILE}:{line}: [[image]] {} {}", image.name, image.tag)
}

/// Fills the pins of the pulled images of `versions` (as versions.toml declares them) from
/// `lock`, as `mode` says:
/// - an entry that agrees with versions.toml (source, remote name, and the digest when
///   versions.toml pins one) gives the pin;
/// - a digest written in versions.toml is used as is when the lock lacks the image or
///   disagrees (no lookup: `buildchain lock` records it);
/// - an image given by its tag alone without an agreeing entry is looked up (Update mode,
///   images `needed` only) and added; otherwise it stays without a pin (its pull task fails
///   if run, saying to lock it);
/// - Update mode also drops the entries of images versions.toml no longer pulls;
/// - Locked mode refuses anything missing, disagreeing or stale, naming it.
pub(super) fn reconcile(
    versions: &mut Versions,
    lock: &mut Lock,
    mode: Mode,
    needed: &(dyn Fn(&Image) -> bool + Sync),
    resolve: &ImageResolver,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let listed: BTreeSet<(String, String)> = versions
        .images
        .iter()
        .filter(|i| !i.is_built())
        .map(|i| (i.name.clone(), i.version.clone()))
        .collect();
    // Entries for images versions.toml no longer pulls.
    let stale: Vec<usize> = (0..lock.images.len())
        .filter(|&i| {
            let (image, _) = &lock.images[i];
            !listed.contains(&(image.name.clone(), image.tag.clone()))
        })
        .collect();
    for &i in stale.iter().rev() {
        let (image, line) = &lock.images[i];
        match mode {
            Mode::Read => {}
            Mode::Locked => bail!(
                "{}: not in versions.toml (--locked): run `buildchain lock --update {}` to drop it",
                entry(*line, image),
                image.name
            ),
            Mode::Update => {
                changes.push(format!(
                    "{LOCK_FILE}: removed {} {} (not in versions.toml)",
                    image.name, image.tag
                ));
                lock.images.remove(i);
            }
        }
    }
    // Images given by their tag alone that the lock does not pin, and why.
    let mut to_resolve: Vec<(usize, String, bool)> = Vec::new();
    for (index, image) in versions.images.iter_mut().enumerate() {
        if image.is_built() {
            continue;
        }
        let what = format!("versions.toml [[images]] {} {}", image.name, image.version);
        let found = lock.find(&image.name, &image.version);
        let difference = found.and_then(|i| disagreement(image, &lock.images[i].0));
        if let (Some(i), None) = (found, &difference) {
            let (locked, line) = &lock.images[i];
            image.locked = Some(LockedPin {
                manifest: locked.manifest.clone(),
                platforms: locked.platforms.clone(),
                line: *line,
                pinned_in_versions_toml: image.digest.is_some(),
            });
            image.digest = Some(locked.digest.clone());
            continue;
        }
        let why = match (found, &difference) {
            (Some(i), Some(difference)) => format!("{} {difference}", at_line(lock.images[i].1)),
            _ => format!("no {LOCK_FILE} entry"),
        };
        if mode == Mode::Locked {
            bail!(
                "{what}: {why} (--locked): run `buildchain lock --update {}`",
                image.name
            );
        }
        if image.digest.is_none() {
            to_resolve.push((index, format!("{what}: {why}"), found.is_some()));
        }
    }
    if mode != Mode::Update {
        return Ok(changes);
    }
    // Only what this run pulls is looked up.
    to_resolve.retain(|(index, _, _)| needed(&versions.images[*index]));
    let images: Vec<&Image> = to_resolve
        .iter()
        .map(|(index, _, _)| &versions.images[*index])
        .collect();
    let resolved = resolve_all(&images, &|image: &&Image| resolve(image));
    for ((index, why, had_entry), locked) in to_resolve.into_iter().zip(resolved) {
        let locked = locked.with_context(|| why.clone())?;
        let image = &mut versions.images[index];
        changes.push(format!(
            "{LOCK_FILE}: {} {} {} -> {}",
            if had_entry { "updated" } else { "added" },
            image.name,
            image.version,
            locked.digest
        ));
        image.digest = Some(locked.digest.clone());
        image.locked = Some(LockedPin {
            manifest: locked.manifest.clone(),
            platforms: locked.platforms.clone(),
            line: 0,
            pinned_in_versions_toml: false,
        });
        lock.put(locked);
    }
    Ok(changes)
}

/// What of `locked` differs from versions.toml's `image`, if anything.
fn disagreement(image: &Image, locked: &LockedImage) -> Option<String> {
    if locked.source != image.source {
        return Some(format!(
            "locks it from {} (versions.toml: {})",
            locked.source, image.source
        ));
    }
    if locked.remote_name != image.remote_name {
        return Some(format!(
            "locks it as remote name {:?} (versions.toml: {:?})",
            locked.remote_name, image.remote_name
        ));
    }
    match &image.digest {
        Some(pin) if *pin != locked.digest => Some(format!(
            "locks {} (versions.toml pins {pin})",
            locked.digest
        )),
        _ => None,
    }
}

/// The names of the pulled images of `versions` and of the images `lock` has.
pub(super) fn names<'a>(versions: &'a Versions, lock: &'a Lock) -> BTreeSet<&'a str> {
    versions
        .images
        .iter()
        .filter(|i| !i.is_built())
        .map(|i| i.name.as_str())
        .chain(lock.images.iter().map(|(i, _)| i.name.as_str()))
        .collect()
}

/// Resolves the tags of the `selected` pulled images again (all of them with `None`) and
/// puts them in the lock. Returns the changes.
pub(super) fn relock(
    versions: &Versions,
    lock: &mut Lock,
    selected: Option<Vec<String>>,
    resolve: &ImageResolver,
) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let chosen: Vec<&Image> = versions
        .images
        .iter()
        .filter(|i| !i.is_built() && selected.as_ref().is_none_or(|s| s.contains(&i.name)))
        .collect();
    let resolved = resolve_all(&chosen, &|image: &&Image| resolve(image));
    for (image, locked) in chosen.into_iter().zip(resolved) {
        let what = format!("versions.toml [[images]] {} {}", image.name, image.version);
        let locked = locked.with_context(|| what.clone())?;
        let before = lock
            .find(&image.name, &image.version)
            .map(|i| lock.images[i].0.clone());
        if before.as_ref() != Some(&locked) {
            changes.push(format!(
                "{LOCK_FILE}: {} {} {} -> {}",
                if before.is_some() { "updated" } else { "added" },
                image.name,
                image.version,
                locked.digest
            ));
        }
        lock.put(locked);
    }
    Ok(changes)
}

impl Lock {
    fn find(&self, name: &str, tag: &str) -> Option<usize> {
        self.images
            .iter()
            .position(|(i, _)| i.name == name && i.tag == tag)
    }

    fn put(&mut self, image: LockedImage) {
        match self.find(&image.name, &image.tag) {
            Some(i) => self.images[i] = (image, 0),
            None => self.images.push((image, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn locked(name: &str, tag: &str, d: char) -> LockedImage {
        LockedImage {
            name: name.into(),
            tag: tag.into(),
            source: "registry.example.com".into(),
            remote_name: None,
            digest: digest(d),
            manifest: digest(d),
            platforms: BTreeMap::new(),
        }
    }

    #[test]
    fn renders_sorted_and_reads_back() {
        let mut lock = Lock::default();
        lock.put(locked("b/img", "1", 'b'));
        lock.put(locked("a/img", "2", 'a'));
        let mut multi = locked("a/img", "1", 'c');
        multi.platforms.insert("linux/arm64".into(), digest('d'));
        lock.put(multi);
        let text = lock.render().unwrap();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("name = "))
            .collect();
        assert_eq!(names, ["\"a/img\"", "\"a/img\"", "\"b/img\""]);
        let again = Lock::parse(&text).unwrap();
        assert_eq!(again.render().unwrap(), text, "a fixed point");
    }

    #[test]
    fn bad_locks_name_the_line() {
        let good = Lock {
            images: vec![(locked("a/img", "1", 'a'), 0)],
            ..Lock::default()
        }
        .render()
        .unwrap();
        let twice = format!(
            "{good}\n{}",
            good.lines()
                .skip_while(|l| !l.starts_with("[[image]]"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let cases = [
            (
                good.replace("sha256:aaaa", "sha256:AAAA"),
                "line 4: [[image]] a/img 1",
            ),
            (good.replace("name = ", "nam = "), "unknown field"),
            (good.replace("version = 1", "version = 9"), "version 9"),
            (twice, "listed twice"),
            (good.replace("a/img", "../etc"), "[[image]] ../etc"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Lock::parse(&text).unwrap_err());
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}

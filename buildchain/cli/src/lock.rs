//! `versions.lock`: what the tags of the pulled images resolved to, committed next to
//! `versions.toml` so that a release can be rebuilt from its tag a year later, and a pull
//! request shows which inputs an update moves (issue #15: images so far; the RPM downloads
//! are not locked yet).
//!
//! - A pulled image of `versions.toml` may give a tag alone: its digest comes from the lock.
//!   A digest written in `versions.toml` stays allowed, and the lock must agree with it.
//! - `buildchain lock [--update NAME…]` resolves the tags (network) and writes the lock.
//! - A task run fills the pins from the lock. For the images the run pulls, a missing entry
//!   is resolved and added (said on stderr), and entries of images no longer listed are
//!   removed; runs that pull nothing look nothing up. A pin written in versions.toml is used
//!   as is. With `--locked`, missing and stale entries are errors naming the entry, and
//!   nothing is resolved.
//! - The file is sorted, formatted by the toml crate, and replaced atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::versions::{Image, LockedPin, Versions};

pub const LOCK_FILE: &str = "versions.lock";
const FORMAT: u32 = 1;
const HEADER: &str =
    "# Written by `buildchain lock` (see docs/buildchain.md): review its diff, do not edit it.\n";

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

#[derive(Serialize)]
struct LockOut<'a> {
    version: u32,
    #[serde(rename = "image", skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a LockedImage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockIn {
    version: u32,
    #[serde(default, rename = "image")]
    images: Vec<toml::Spanned<LockedImage>>,
}

/// The lock as read: its images, each with the line it starts on (0: added in this run).
#[derive(Debug, Default)]
pub struct Lock {
    images: Vec<(LockedImage, usize)>,
    /// The file's text as read, if there was one.
    text: Option<String>,
}

/// How a run uses the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `list`, `info`, `clean`: fill the pins it has, resolve nothing, write nothing.
    Read,
    /// A task run: missing entries are resolved and added, stale ones removed.
    Update,
    /// `--locked`: anything missing, stale or disagreeing is an error.
    Locked,
}

impl Lock {
    /// Reads `path`; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lock> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking: a FIFO in its place must not hang the run.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        let mut file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            bail!("{}: not a regular file", path.display());
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let mut lock = Lock::parse(&text).with_context(|| {
            format!(
                "{}: invalid: fix it or run `buildchain lock` to write it again",
                path.display()
            )
        })?;
        lock.text = Some(text);
        Ok(lock)
    }

    /// The lock's text: as read, or as last written.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    fn parse(text: &str) -> Result<Lock> {
        let file: LockIn =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        if file.version != FORMAT {
            bail!(
                "version {}: this buildchain reads version {FORMAT}",
                file.version
            );
        }
        let mut lock = Lock::default();
        let mut seen = BTreeSet::new();
        // Entries come in file order: count the lines from one to the next (not from the top).
        let (mut line, mut counted) = (1, 0);
        for spanned in file.images {
            let start = spanned.span().start.max(counted);
            line += text.as_bytes()[counted..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            counted = start;
            let image = spanned.into_inner();
            let at = || format!("line {line}: [[image]] {} {}", image.name, image.tag);
            crate::versions::check_locked_image(&image).with_context(at)?;
            if !seen.insert((image.name.clone(), image.tag.clone())) {
                bail!("{}: listed twice", at());
            }
            lock.images.push((image, line));
        }
        Ok(lock)
    }

    /// The text of the lock: sorted by name and tag, formatted by the toml crate.
    pub fn render(&self) -> Result<String> {
        let mut images: Vec<&LockedImage> = self.images.iter().map(|(i, _)| i).collect();
        images.sort_by(|a, b| (&a.name, &a.tag).cmp(&(&b.name, &b.tag)));
        let body = toml::to_string(&LockOut {
            version: FORMAT,
            images,
        })
        .context("cannot format the lock")?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Replaces `path` atomically with [`Lock::render`].
    pub fn write(&mut self, path: &Path) -> Result<()> {
        let text = self.render()?;
        buildchain_fs::write_atomic(path, text.as_bytes(), Some(0o644))?;
        self.text = Some(text);
        Ok(())
    }

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

/// Runs `f` (read, update and write the lock) holding an exclusive lock on the repository
/// directory, so two runs updating `versions.lock` at once (two build roots, or `buildchain
/// lock` during a build) do not lose each other's entries.
pub fn exclusively<T>(repo_root: &Path, no_wait: bool, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let dir = std::fs::File::open(repo_root)
        .with_context(|| format!("{}: cannot open the repository", repo_root.display()))?;
    let cannot = || {
        format!(
            "{}: cannot lock the repository to update {LOCK_FILE}",
            repo_root.display()
        )
    };
    match dir.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) if no_wait => bail!(
            "{}: another buildchain is updating {LOCK_FILE}: not waiting (--no-wait)",
            repo_root.display()
        ),
        Err(std::fs::TryLockError::WouldBlock) => {
            eprintln!("buildchain: waiting for another buildchain updating {LOCK_FILE}");
            dir.lock().with_context(cannot)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(cannot),
    }
    f()
}

/// What [`reconcile`] did.
pub struct Reconciled {
    /// What changed in the lock, one line each (empty: nothing to write).
    pub changes: Vec<String>,
}

/// How the tags are resolved: a lookup on the image's registry (or a stand-in in tests).
pub type Resolver<'a> = dyn Fn(&Image) -> Result<LockedImage> + Sync + 'a;

/// Resolves `images` on up to 8 threads (a lookup is a round trip or two); results in order.
fn resolve_all(images: &[&Image], resolve: &Resolver) -> Vec<Result<LockedImage>> {
    const AT_ONCE: usize = 8;
    let mut results = Vec::with_capacity(images.len());
    for chunk in images.chunks(AT_ONCE) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|image| scope.spawn(move || resolve(image)))
                .collect();
            for handle in handles {
                results.push(
                    handle.join().unwrap_or_else(|_| {
                        Err(anyhow::anyhow!("the lookup stopped unexpectedly"))
                    }),
                );
            }
        });
    }
    results
}

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
pub fn reconcile(
    versions: &mut Versions,
    lock: &mut Lock,
    mode: Mode,
    needed: &(dyn Fn(&Image) -> bool + Sync),
    resolve: &Resolver,
) -> Result<Reconciled> {
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
        return Ok(Reconciled { changes });
    }
    // Only what this run pulls is looked up.
    to_resolve.retain(|(index, _, _)| needed(&versions.images[*index]));
    let images: Vec<&Image> = to_resolve
        .iter()
        .map(|(index, _, _)| &versions.images[*index])
        .collect();
    let resolved = resolve_all(&images, resolve);
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
            line: 0,
            pinned_in_versions_toml: false,
        });
        lock.put(locked);
    }
    Ok(Reconciled { changes })
}

/// `versions.lock:LINE` (or the file alone for an entry this run added).
pub fn at_line(line: usize) -> String {
    match line {
        0 => LOCK_FILE.to_string(),
        line => format!("{LOCK_FILE}:{line}"),
    }
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

/// `buildchain lock [--update NAME…]`: resolves the tags of the named pulled images (all of
/// them without names) again, keeps the other entries, adds the missing ones. Returns the
/// changes.
pub fn relock(
    versions: &mut Versions,
    lock: &mut Lock,
    names: &[String],
    resolve: &Resolver,
) -> Result<Vec<String>> {
    let pulled: BTreeSet<&str> = versions
        .images
        .iter()
        .filter(|i| !i.is_built())
        .map(|i| i.name.as_str())
        .collect();
    for name in names {
        let stale = lock.images.iter().any(|(i, _)| &i.name == name);
        if !pulled.contains(name.as_str()) && !stale {
            let pulled: Vec<&str> = pulled.iter().copied().collect();
            bail!(
                "{name:?}: neither a pulled image of versions.toml nor in {LOCK_FILE} (pulled: {})",
                if pulled.is_empty() {
                    "none".to_string()
                } else {
                    pulled.join(", ")
                }
            );
        }
    }
    let mut changes = Vec::new();
    let chosen: Vec<&Image> = versions
        .images
        .iter()
        .filter(|i| !i.is_built() && (names.is_empty() || names.contains(&i.name)))
        .collect();
    let resolved = resolve_all(&chosen, resolve);
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
    changes.extend(reconcile(versions, lock, Mode::Update, &|_| true, resolve)?.changes);
    Ok(changes)
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
            text: None,
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

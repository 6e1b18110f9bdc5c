//! `versions.lock`: what the tags of the pulled images resolved to and which RPM files the
//! downloaded packages resolved to, committed next to `versions.toml` so that a release can
//! be rebuilt from its tag a year later, and a pull request shows which inputs an update
//! moves (issue #15).
//!
//! - A pulled image of `versions.toml` may give a tag alone: its digest comes from the lock.
//!   A digest written in `versions.toml` stays allowed, and the lock must agree with it.
//! - A downloaded package is resolved, with its requirements, over the repositories of its
//!   release (base repositories included, never shipped); the lock records each package
//!   chosen (repository, location, sha256, what pulled it in), and builds download exactly
//!   those files.
//! - `buildchain lock [--update NAME…]` resolves (network) and writes the lock.
//! - A task run fills the pins from the lock. For what the run pulls or downloads, what the
//!   lock lacks is resolved and added (said on stderr), and entries versions.toml no longer
//!   lists are removed; runs that pull nothing look nothing up. With `--locked`, anything
//!   missing or stale is an error naming the entry, and nothing is resolved.
//! - The file is sorted, formatted by the toml crate, and replaced atomically.

mod images;
mod rpms;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::versions::{Image, Versions};

pub use images::{ImageResolver, LockedImage};
pub use rpms::{LockedRepository, LockedRpm, RpmGroup, RpmResolver};

pub const LOCK_FILE: &str = "versions.lock";
const FORMAT: u32 = 1;
const HEADER: &str =
    "# Written by `buildchain lock` (see docs/buildchain.md): review its diff, do not edit it.\n";

#[derive(Serialize)]
struct LockOut<'a> {
    version: u32,
    #[serde(rename = "image", skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a LockedImage>,
    #[serde(rename = "repository", skip_serializing_if = "Vec::is_empty")]
    repositories: Vec<&'a LockedRepository>,
    #[serde(rename = "rpm", skip_serializing_if = "Vec::is_empty")]
    rpms: Vec<&'a LockedRpm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockIn {
    version: u32,
    #[serde(default, rename = "image")]
    images: Vec<toml::Spanned<LockedImage>>,
    #[serde(default, rename = "repository")]
    repositories: Vec<toml::Spanned<LockedRepository>>,
    #[serde(default, rename = "rpm")]
    rpms: Vec<toml::Spanned<LockedRpm>>,
}

/// The lock as read: its entries, each with the line it starts on (0: added in this run).
#[derive(Debug, Default)]
pub struct Lock {
    images: Vec<(LockedImage, usize)>,
    repositories: Vec<(LockedRepository, usize)>,
    rpms: Vec<(LockedRpm, usize)>,
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
        let text = Lock::read(path)?;
        let Some(text) = text else {
            return Ok(Lock::default());
        };
        let mut lock = Lock::parse(&text).with_context(|| {
            format!(
                "{}: invalid: fix it, or run `buildchain lock` to write it anew (every entry resolved again)",
                path.display()
            )
        })?;
        lock.text = Some(text);
        Ok(lock)
    }

    /// For `buildchain lock` without names, which resolves every entry again: reads `path`
    /// as [`Lock::load`], but an invalid lock (a merge conflict, a hand edit) is started
    /// anew, saying so, instead of refused.
    pub fn load_or_start_anew(path: &Path) -> Result<Lock> {
        match Lock::load(path) {
            Ok(lock) => Ok(lock),
            Err(e) if Lock::read(path).is_ok() => {
                eprintln!("buildchain: {e:#}: writing it anew");
                Ok(Lock::default())
            }
            Err(e) => Err(e),
        }
    }

    /// The text of `path`, `None` when there is no file. A link, a FIFO or a directory is
    /// refused: the lock is rewritten in place, which would replace a link by a file.
    fn read(path: &Path) -> Result<Option<String>> {
        use std::io::Read;
        let not_regular = || {
            anyhow::anyhow!(
                "{}: not a regular file (a link, a FIFO or a directory): {LOCK_FILE} must be a regular file, which `buildchain lock` rewrites",
                path.display()
            )
        };
        // Non-blocking: a FIFO in its place must not hang the run; no link followed.
        let file = buildchain_fs::open_no_follow(std::fs::OpenOptions::new().read(true), path);
        let mut file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if buildchain_fs::is_link_refusal(&e) => return Err(not_regular()),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(not_regular());
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        Ok(Some(text))
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
        let newlines: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let line_of = |offset: usize| newlines.partition_point(|&n| n < offset) + 1;
        let mut lock = Lock::default();
        let mut seen = BTreeSet::new();
        for spanned in file.images {
            let line = line_of(spanned.span().start);
            let image = spanned.into_inner();
            let at = || format!("line {line}: [[image]] {} {}", image.name, image.tag);
            crate::versions::check_locked_image(&image).with_context(at)?;
            if !seen.insert((image.name.clone(), image.tag.clone())) {
                bail!("{}: listed twice", at());
            }
            lock.images.push((image, line));
        }
        for spanned in file.repositories {
            let line = line_of(spanned.span().start);
            lock.repositories.push((spanned.into_inner(), line));
        }
        for spanned in file.rpms {
            let line = line_of(spanned.span().start);
            lock.rpms.push((spanned.into_inner(), line));
        }
        rpms::check(&lock)?;
        Ok(lock)
    }

    /// The text of the lock: sorted, formatted by the toml crate.
    pub fn render(&self) -> Result<String> {
        let mut images: Vec<&LockedImage> = self.images.iter().map(|(i, _)| i).collect();
        images.sort_by(|a, b| (&a.name, &a.tag).cmp(&(&b.name, &b.tag)));
        let mut repositories: Vec<&LockedRepository> =
            self.repositories.iter().map(|(r, _)| r).collect();
        repositories.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rpms: Vec<&LockedRpm> = self.rpms.iter().map(|(r, _)| r).collect();
        rpms.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        let body = toml::to_string(&LockOut {
            version: FORMAT,
            images,
            repositories,
            rpms,
        })
        .context("cannot format the lock")?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Replaces `path` atomically with [`Lock::render`], unless it already holds that text.
    /// True when written.
    pub fn write(&mut self, path: &Path) -> Result<bool> {
        let text = self.render()?;
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        buildchain_fs::write_atomic(path, text.as_bytes(), Some(0o644))
            .with_context(|| format!("{}: cannot write", path.display()))?;
        self.text = Some(text);
        Ok(true)
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

/// What a run resolves when the lock lacks it.
pub struct Needed<'a> {
    /// The pulled images this run pulls.
    pub image: &'a (dyn Fn(&Image) -> bool + Sync),
    /// The releases whose packages this run downloads.
    pub release: &'a dyn Fn(&str) -> bool,
}

impl Needed<'_> {
    /// Nothing is resolved.
    pub fn nothing() -> Needed<'static> {
        Needed {
            image: &|_| false,
            release: &|_| false,
        }
    }

    /// Everything that lacks an entry is resolved.
    pub fn everything() -> Needed<'static> {
        Needed {
            image: &|_| true,
            release: &|_| true,
        }
    }
}

/// How entries are resolved: lookups on registries and repositories (stand-ins in tests).
pub struct Resolvers<'a> {
    pub image: &'a ImageResolver<'a>,
    pub rpms: &'a RpmResolver<'a>,
}

/// Fills the pins of `versions` (as versions.toml declares them) from `lock`, as `mode`
/// says (see [`images::reconcile`] and [`rpms::reconcile`]). Returns what changed in the
/// lock, one line each (empty: nothing to write).
pub fn reconcile(
    versions: &mut Versions,
    lock: &mut Lock,
    mode: Mode,
    needed: &Needed,
    resolvers: &Resolvers,
) -> Result<Vec<String>> {
    let mut changes = images::reconcile(versions, lock, mode, needed.image, resolvers.image)?;
    changes.extend(rpms::reconcile(
        versions,
        lock,
        mode,
        needed.release,
        resolvers.rpms,
    )?);
    Ok(changes)
}

/// `buildchain lock [--update NAME…]`: resolves again the named entries (pulled images,
/// downloaded packages, or every package of a repository; everything without names), keeps
/// the other entries, adds the missing ones. Returns the changes.
pub fn relock(
    versions: &mut Versions,
    lock: &mut Lock,
    names: &[String],
    resolvers: &Resolvers,
) -> Result<Vec<String>> {
    let known_images = images::names(versions, lock);
    let known_rpms = rpms::names(versions, lock);
    for name in names {
        if !known_images.contains(name.as_str()) && !known_rpms.contains(name.as_str()) {
            let listing = |set: &BTreeSet<&str>| match set.is_empty() {
                true => "none".to_string(),
                false => set.iter().copied().collect::<Vec<_>>().join(", "),
            };
            bail!(
                "{name:?}: neither a pulled image, a downloaded package nor a repository of versions.toml or {LOCK_FILE} (images: {}; packages and repositories: {})",
                listing(&known_images),
                listing(&known_rpms)
            );
        }
    }
    let selected = |known: &BTreeSet<&str>| -> Option<Vec<String>> {
        match names.is_empty() {
            true => None,
            false => Some(
                names
                    .iter()
                    .filter(|n| known.contains(n.as_str()))
                    .cloned()
                    .collect(),
            ),
        }
    };
    let (image_names, rpm_names) = (selected(&known_images), selected(&known_rpms));
    let mut changes = images::relock(versions, lock, image_names, resolvers.image)?;
    changes.extend(rpms::relock(versions, lock, rpm_names, resolvers.rpms)?);
    changes.extend(reconcile(
        versions,
        lock,
        Mode::Update,
        &Needed::everything(),
        resolvers,
    )?);
    Ok(changes)
}

/// `versions.lock:LINE` (or the file alone for an entry this run added).
pub fn at_line(line: usize) -> String {
    match line {
        0 => LOCK_FILE.to_string(),
        line => format!("{LOCK_FILE}:{line}"),
    }
}

/// Runs `resolve` on each item, up to 8 at once (a lookup is a few round trips); results
/// in order.
fn resolve_all<I: Sync, T: Send>(
    items: &[I],
    resolve: &(dyn Fn(&I) -> Result<T> + Sync),
) -> Vec<Result<T>> {
    const AT_ONCE: usize = 8;
    let mut results = Vec::with_capacity(items.len());
    for chunk in items.chunks(AT_ONCE) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|item| scope.spawn(move || resolve(item)))
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

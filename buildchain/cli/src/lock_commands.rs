//! The commands' side of versions.lock (the rules are in `lock/`): filling a run's pins,
//! looking up what a run pulls, and `buildchain lock`.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use buildchain_graph::Engine;
use buildchain_rpm::fetch::Preferred;

use crate::config::{find_repo_root, Config};
use crate::{lock, tasks, versions, Cli, Stdout};

/// Fills `cfg`'s pins from versions.lock (see [`lock::reconcile`]; in Update mode what is
/// `needed` is looked up when the lock lacks it); writes the lock when entries were added
/// or removed, saying which on stderr. True when the lock was written.
pub(crate) fn apply_lock(
    cfg: &mut Config,
    mode: lock::Mode,
    needed: &lock::Needed,
    no_wait: bool,
) -> Result<bool> {
    let path = cfg.repo(lock::LOCK_FILE);
    let snapshot = cfg.clone();
    let update = || -> Result<(versions::Versions, Option<String>, bool)> {
        let mut lock = lock::Lock::load(&path)?;
        // From versions.toml as written: a pin it has is told from one the lock gave.
        let mut versions = snapshot.declared.clone();
        let changes = with_resolvers(&snapshot, |resolvers| {
            lock::reconcile(&mut versions, &mut lock, mode, needed, resolvers)
        })?;
        let changed = mode == lock::Mode::Update && lock.write(&path)?;
        for change in &changes {
            eprintln!("buildchain: {change}");
        }
        Ok((versions, lock.text().map(str::to_string), changed))
    };
    let (versions, text, changed) = match mode {
        lock::Mode::Update => lock::exclusively(&snapshot.repo_root, no_wait, update)?,
        lock::Mode::Read | lock::Mode::Locked => update()?,
    };
    cfg.versions = versions;
    cfg.lock_text = text;
    Ok(changed)
}

/// Calls `f` with the resolvers of `cfg`: lookups on its registries and repositories.
fn with_resolvers<T>(cfg: &Config, f: impl FnOnce(&lock::Resolvers) -> T) -> T {
    let image = |image: &versions::Image| tasks::images::resolve(cfg, image);
    let rpms = |group: &lock::RpmGroup, preferred: &Preferred| {
        tasks::packaging::resolve(cfg, group, preferred)
    };
    f(&lock::Resolvers {
        image: &image,
        rpms: &rpms,
    })
}

/// What this run pulls or downloads that the lock does not pin yet: what must be looked up.
#[derive(Debug, Default)]
pub(crate) struct Unpinned {
    /// The images this run pulls (or records in the Salt tree's versions.json), by name
    /// and tag.
    pub images: BTreeSet<(String, String)>,
    /// The releases whose downloads this run runs.
    pub releases: BTreeSet<String>,
}

impl Unpinned {
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.releases.is_empty()
    }
}

pub(crate) fn unpinned(cfg: &Arc<Config>, engine: &Engine, names: &[String]) -> Unpinned {
    let graph = engine.graph();
    let all = graph.runs(names, "_salt_tree:salt");
    let images = cfg
        .versions
        .images
        .iter()
        // Given by their tag alone and not pinned by the lock as read.
        .filter(|i| !i.is_built() && i.digest.is_none())
        .filter(|i| all || graph.runs(names, &tasks::images::task_name(cfg, i)))
        .map(|i| (i.name.clone(), i.version.clone()))
        .collect();
    let releases = cfg
        .versions
        .shipped_repositories()
        .filter(|r| cfg.versions.rpm_pins.unresolved.contains(&r.release))
        .filter(|r| graph.runs(names, &format!("_package_download:{}", r.id)))
        .map(|r| r.release.clone())
        .collect();
    Unpinned { images, releases }
}

/// `buildchain lock [--update NAME…]`.
pub(crate) fn relock(cli: &Cli, names: &[String]) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = find_repo_root(&cwd)?;
    let cfg = Config::load(&repo, cli.build_root.as_deref())?;
    let path = cfg.repo(lock::LOCK_FILE);
    let changes = lock::exclusively(&cfg.repo_root, cli.no_wait, || {
        let mut lock = match names.is_empty() {
            true => lock::Lock::load_or_start_anew(&path)?,
            false => lock::Lock::load(&path)?,
        };
        let mut versions = cfg.versions.clone();
        let changes = with_resolvers(&cfg, |resolvers| {
            lock::relock(&mut versions, &mut lock, names, resolvers)
        })?;
        lock.write(&path)?;
        Ok(changes)
    })?;
    let mut out = Stdout(std::io::stdout().lock());
    if changes.is_empty() {
        writeln!(out, "{}: up to date", lock::LOCK_FILE)?;
    }
    for change in changes {
        writeln!(out, "{change}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

//! The commands' side of versions.lock (the rules are in `lock.rs`): filling a run's pins,
//! looking up what a run pulls, and `buildchain lock`.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use buildchain_graph::Engine;

use crate::config::{find_repo_root, Config};
use crate::{lock, tasks, versions, Cli, Stdout};

/// Fills `cfg`'s image pins from versions.lock (see [`lock::reconcile`]; in Update mode the
/// images `needed` are looked up when the lock lacks them); writes the lock when entries
/// were added or removed, saying which on stderr. True when the lock was written.
pub(crate) fn apply_lock(
    cfg: &mut Config,
    mode: lock::Mode,
    needed: &(dyn Fn(&versions::Image) -> bool + Sync),
    no_wait: bool,
) -> Result<bool> {
    let path = cfg.repo(lock::LOCK_FILE);
    let snapshot = cfg.clone();
    let update = || -> Result<(versions::Versions, Option<String>, bool)> {
        let mut lock = lock::Lock::load(&path)?;
        // From versions.toml as written: a pin it has is told from one the lock gave.
        let mut versions = snapshot.declared.clone();
        let outcome = lock::reconcile(&mut versions, &mut lock, mode, needed, &|image| {
            tasks::images::resolve(&snapshot, image)
        })?;
        let changed = !outcome.changes.is_empty();
        if changed {
            lock.write(&path)?;
            for change in &outcome.changes {
                eprintln!("buildchain: {change}");
            }
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

/// The images this run pulls (or records in the Salt tree's versions.json) that have no
/// pin yet: what must be looked up.
pub(crate) fn images_needed(
    cfg: &Arc<Config>,
    engine: &Engine,
    names: &[String],
) -> std::collections::BTreeSet<(String, String)> {
    let graph = engine.graph();
    let all = graph.runs(names, "_salt_tree:salt");
    cfg.versions
        .images
        .iter()
        // Given by their tag alone and not pinned by the lock as read.
        .filter(|i| !i.is_built() && i.digest.is_none())
        .filter(|i| all || graph.runs(names, &tasks::images::task_name(cfg, i)))
        .map(|i| (i.name.clone(), i.version.clone()))
        .collect()
}

/// `buildchain lock [--update NAME…]`.
pub(crate) fn relock(cli: &Cli, names: &[String]) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = find_repo_root(&cwd)?;
    let cfg = Config::load(&repo, cli.build_root.as_deref())?;
    let path = cfg.repo(lock::LOCK_FILE);
    let changes = lock::exclusively(&cfg.repo_root, cli.no_wait, || {
        let mut lock = lock::Lock::load(&path)?;
        let mut versions = cfg.versions.clone();
        let changes = lock::relock(&mut versions, &mut lock, names, &|image| {
            tasks::images::resolve(&cfg, image)
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

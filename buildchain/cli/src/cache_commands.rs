//! The shared build cache on the command line: `--cache oci://HOST[:PORT]/REPO` (or
//! `BUILDCHAIN_CACHE`), `--cache-mode read|readwrite` (or `BUILDCHAIN_CACHE_MODE`), and
//! `buildchain cache stats|prune`. The registry is reached as for pulls: `[[registries]]`
//! of versions.toml gives plain HTTP, the auth file and the CA of its host.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use buildchain_cache::{Mode, OciCache, Stats};

use crate::config::Config;

/// `buildchain cache …`.
#[derive(Debug, clap::Subcommand)]
pub enum CacheAction {
    /// The cache's entries on the registry (count, bytes, oldest) and what the runs of
    /// this build root did with it (restored, missed, kept).
    Stats,
    /// Delete the entries created more than AGE ago (`30d`, `12h`) from the registry (it
    /// must allow deletes; its garbage collection then frees the blobs).
    Prune {
        #[arg(long, value_name = "AGE")]
        older_than: String,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Where the run's cache statistics add up, in the build root.
const STATS_FILE: &str = "cache-stats.json";

/// `oci://HOST[:PORT]/REPO` -> `HOST[:PORT]/REPO`.
fn location(url: &str) -> Result<&str> {
    let Some(rest) = url.strip_prefix("oci://") else {
        bail!("cache {url:?}: expected oci://HOST[:PORT]/REPOSITORY");
    };
    if !rest.contains('/') || rest.ends_with('/') {
        bail!("cache {url:?}: expected oci://HOST[:PORT]/REPOSITORY (a repository name after the host)");
    }
    Ok(rest)
}

/// The cache of this run: `url` (else `BUILDCHAIN_CACHE`), `mode` (else
/// `BUILDCHAIN_CACHE_MODE`, else readwrite); `None` without a URL.
pub fn open(cfg: &Config, url: Option<&str>, mode: Option<&str>) -> Result<Option<Arc<OciCache>>> {
    let var = |name: &str| cfg.vars.get(name).filter(|v| !v.is_empty()).cloned();
    let Some(url) = url.map(str::to_string).or_else(|| var("BUILDCHAIN_CACHE")) else {
        return Ok(None);
    };
    let mode = match mode
        .map(str::to_string)
        .or_else(|| var("BUILDCHAIN_CACHE_MODE"))
        .as_deref()
    {
        None | Some("readwrite") => Mode::ReadWrite,
        Some("read") => Mode::Read,
        Some(other) => bail!("cache mode {other:?}: read or readwrite"),
    };
    let location = location(&url)?;
    let host = location.split('/').next().unwrap_or("");
    let registry = cfg.versions.registry(host);
    let store = buildchain_oci::ArtifactStore::open(
        location,
        registry.is_some_and(|r| r.insecure),
        registry
            .and_then(|r| r.auth_file.as_ref())
            .map(|f| cfg.repo_root.join(f))
            .as_deref(),
        // A cache is worth asking only when it answers fast: a stalled one must not cost
        // more than the build it would save (and is not asked again in the run).
        &buildchain_oci::HttpConfig {
            ca_file: registry
                .and_then(|r| r.ca_file.as_ref())
                .map(|f| cfg.repo_root.join(f)),
            connect_timeout: std::time::Duration::from_secs(5),
            stall_timeout: std::time::Duration::from_secs(15),
            retry: buildchain_oci::RetryPolicy {
                retries: 1,
                backoff: std::time::Duration::from_millis(500),
            },
            ..Default::default()
        },
    )
    .with_context(|| format!("cache {url}"))?;
    Ok(Some(Arc::new(OciCache::new(
        store,
        mode,
        env!("CARGO_PKG_VERSION"),
    ))))
}

/// Says what the cache did in this run (one line) and adds it up in the build root.
pub fn report(cache: &OciCache, build_root: &Path) {
    let run = cache.stats();
    if run == Stats::default() {
        return;
    }
    eprintln!(
        "buildchain: cache: {} restored ({:.1} MiB), {} not cached, {} failed lookups, {} kept ({:.1} MiB uploaded)",
        run.hits,
        run.bytes_restored as f64 / (1 << 20) as f64,
        run.misses,
        run.errors,
        run.saved,
        run.bytes_uploaded as f64 / (1 << 20) as f64
    );
    let path = build_root.join(STATS_FILE);
    let mut total: Stats = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    total.hits += run.hits;
    total.misses += run.misses;
    total.errors += run.errors;
    total.saved += run.saved;
    total.bytes_restored += run.bytes_restored;
    total.bytes_uploaded += run.bytes_uploaded;
    if let Ok(bytes) = serde_json::to_vec_pretty(&total) {
        let _ = buildchain_fs::write_atomic(&path, &bytes, Some(0o644));
    }
}

/// `buildchain cache stats|prune`.
pub fn run(cfg: &Config, cache: Option<&OciCache>, action: &CacheAction) -> Result<ExitCode> {
    let Some(cache) = cache else {
        bail!("no cache: give --cache oci://HOST[:PORT]/REPOSITORY or set BUILDCHAIN_CACHE");
    };
    let mut out = std::io::stdout().lock();
    match action {
        CacheAction::Stats => {
            let entries = cache.entries().context("listing the cache's entries")?;
            let bytes: u64 = entries.iter().map(|e| e.bytes).sum();
            let oldest = entries.iter().filter_map(|e| e.created).min();
            writeln!(
                out,
                "registry: {} entries, {:.1} MiB of files (shared blobs counted in each entry){}",
                entries.len(),
                bytes as f64 / (1 << 20) as f64,
                oldest.map(|o| format!(", oldest {o}")).unwrap_or_default()
            )?;
            let total: Stats = std::fs::read(cfg.build_root.join(STATS_FILE))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            writeln!(
                out,
                "this build root: {} restored, {} not cached, {} failed lookups, {} kept; {:.1} MiB restored, {:.1} MiB uploaded",
                total.hits,
                total.misses,
                total.errors,
                total.saved,
                total.bytes_restored as f64 / (1 << 20) as f64,
                total.bytes_uploaded as f64 / (1 << 20) as f64
            )?;
        }
        CacheAction::Prune {
            older_than,
            dry_run,
        } => {
            let span: jiff::Span = older_than.parse().with_context(|| {
                format!("--older-than {older_than:?}: an age such as 30d or 12h")
            })?;
            if span.is_negative() || span.is_zero() {
                bail!("--older-than {older_than:?}: an age must be positive (30d, 12h)");
            }
            let cutoff = jiff::Timestamp::now()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .checked_sub(span)
                .with_context(|| format!("--older-than {older_than:?}"))?
                .timestamp();
            let pruned = cache.prune(cutoff, *dry_run).context("pruning the cache")?;
            for entry in &pruned {
                writeln!(
                    out,
                    "{} {} {} ({})",
                    if *dry_run { "would delete" } else { "deleted" },
                    entry.tag,
                    entry.task,
                    entry.created.map(|c| c.to_string()).unwrap_or_default()
                )?;
            }
            writeln!(out, "{} entries created before {cutoff}", pruned.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

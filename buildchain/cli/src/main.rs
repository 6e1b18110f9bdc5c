//! `buildchain`: builds this repository's distribution into one ISO (see README.md and
//! docs/buildchain.md).

mod buildroot;
mod cache_commands;
mod config;
mod epoch;
mod fetch_rpms;
mod fsutil;
mod image_commands;
mod lock;
mod lock_commands;
mod release_commands;
mod reporter;
mod rpm_commands;
mod tasks;
mod templates;
mod verify;
mod version;
mod versions;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use buildchain_graph::{Engine, GraphError, PathKeys, Status};
use buildchain_http::escape_controls;
use clap::{Parser, Subcommand};

use crate::config::{find_repo_root, Config};
use crate::reporter::{Kind, Output};

#[derive(Parser)]
#[command(
    name = "buildchain",
    version,
    about = "Build the distribution of this repository into one ISO.",
    // Global options may come before or after the subcommand (`-v list`, `clean -v`).
    subcommand_precedence_over_arg = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Tasks to run, by name or glob (`images`, `_image_pull:*`); default `iso`.
    tasks: Vec<String>,
    /// Parallel workers: tasks at once (default: the number of CPUs); for pull, blobs at
    /// once (default 4); for fetch-rpms and repodata, downloads and files at once.
    #[arg(short = 'n', long = "jobs", global = true)]
    jobs: Option<usize>,
    /// How task events are printed [default: console].
    #[arg(long, value_enum, global = true)]
    reporter: Option<Kind>,
    /// The build root (default: BUILD_ROOT, else `_build` in the repository).
    #[arg(long, global = true)]
    build_root: Option<PathBuf>,
    /// Print task messages (why a task runs, what it did).
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Fail at once when another run holds the build root, instead of waiting for it.
    #[arg(long, global = true)]
    no_wait: bool,
    /// After a failure, run every task whose dependencies succeeded and report all the
    /// failures at the end (the default of `buildchain lint`).
    #[arg(short = 'k', long, global = true)]
    keep_going: bool,
    /// Use versions.lock as it is: fail, naming the entry, when versions.toml lists an image
    /// or a package it does not pin, or it pins one versions.toml no longer lists (no
    /// network lookup).
    #[arg(long, global = true)]
    locked: bool,
    /// Also write the delta ISO from this earlier release (ISO or unpacked tree) to the
    /// one this build writes, in `$BUILD_ROOT/delta/` (the `delta` task; `DELTA_FROM`).
    #[arg(long, global = true, value_name = "OLD")]
    delta_from: Option<PathBuf>,
    /// The shared build cache: `oci://HOST[:PORT]/REPOSITORY` on an OCI registry
    /// (`BUILDCHAIN_CACHE`); cacheable tasks restore their outputs from it.
    #[arg(long, global = true, value_name = "URL")]
    cache: Option<String>,
    /// `readwrite` (default: also keep what runs) or `read` (`BUILDCHAIN_CACHE_MODE`).
    #[arg(long, global = true, value_name = "MODE", value_parser = ["read", "readwrite"])]
    cache_mode: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// List the tasks (public ones by default).
    List {
        /// Include sub-tasks (`group:sub`).
        #[arg(long)]
        all: bool,
        /// Include private tasks (`_name`).
        #[arg(short, long)]
        private: bool,
    },
    /// Show a task: doc, status (and why it is not up to date), file deps, task deps, targets.
    Info { task: String },
    /// Remove what tasks produced (every task when none is given).
    Clean {
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
        tasks: Vec<String>,
    },
    /// Resolve the pulled images' tags and the downloaded packages (with what they require)
    /// of versions.toml, and write versions.lock.
    Lock {
        /// Re-resolve only these: images, packages, or every package of a repository id
        /// (the other entries stay as locked).
        #[arg(long, num_args = 1.., value_name = "NAME")]
        update: Vec<String>,
    },
    /// Pull an image into DEST_DIR (skopeo `dir:` layout), every digest verified.
    Pull(image_commands::PullArgs),
    /// Hardlink identical files under DIR, like `hardlink -c`.
    Dedup { dir: PathBuf },
    /// Download RPMs and what they require from yum repositories into DEST, and write its
    /// repodata.
    #[command(name = "fetch-rpms")]
    FetchRpms(fetch_rpms::FetchArgs),
    /// Write the yum repodata of a directory of RPMs (like `createrepo_c DIR`).
    Repodata(rpm_commands::RepodataArgs),
    /// Build RPMs from package.toml definitions into a directory.
    #[command(name = "build-rpm")]
    BuildRpm(rpm_commands::BuildRpmArgs),
    /// Check an ISO offline: its implanted MD5, SHA256SUM and its signature (next to it),
    /// every repository signature and every image blob digest in it.
    Verify(verify::VerifyArgs),
    /// What changed between two releases (ISO files or unpacked trees): product.txt,
    /// images, packages, other files, and the bytes NEW has that OLD lacks.
    Diff(release_commands::DiffArgs),
    /// The shared build cache (`--cache` / `BUILDCHAIN_CACHE`): `stats`, `prune`.
    Cache {
        #[command(subcommand)]
        action: cache_commands::CacheAction,
    },
}

/// The exit status of a process killed by SIGPIPE (128 + 13), as shells report it: what
/// `buildchain … | head` ends with once `head` stopped reading.
const EXIT_BROKEN_PIPE: u8 = 141;

/// mimalloc: a no-op over a 10k-file tree took 3,600 page faults with glibc's allocator
/// (per-thread arenas of the parallel walk), 400 with mimalloc, and 12% less time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader of stdout went away: stop quietly, as Unix tools do.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "buildchain: error: {}",
                escape_controls(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}

/// Standard output whose write errors say they are about stdout.
struct Stdout<'a>(std::io::StdoutLock<'a>);

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(on_stdout)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(on_stdout)
    }
}

fn on_stdout(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot write to stdout: {e}"))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The directories tasks copy (or read whole) into the ISO, by task: a build root inside
/// one would copy itself. Image and package definitions are read from `images/` and
/// `packages/`.
fn copied_dirs(cfg: &Config, engine: &Engine) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = engine
        .graph()
        .tasks()
        .iter()
        .flat_map(|t| {
            // Tree deps inside the build root are outputs read back (root/ by _iso_build).
            t.get_tree_deps()
                .iter()
                .filter(|d| *d == &cfg.build_root || !d.starts_with(&cfg.build_root))
                .map(|d| (t.name().to_string(), d.clone()))
        })
        .collect();
    dirs.push(("images".into(), cfg.repo("images")));
    dirs.push(("packaging".into(), cfg.repo("packages")));
    dirs
}

fn load(cli: &Cli) -> Result<(Arc<Config>, Engine)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = find_repo_root(&cwd)?;
    let mut cfg = Config::load(&repo, cli.build_root.as_deref())?;
    if let Some(old) = &cli.delta_from {
        cfg.delta_from = Some(cwd.join(old));
    }
    cfg.cache = cache_commands::open(&cfg, cli.cache.as_deref(), cli.cache_mode.as_deref())?;
    // The image pins come from versions.lock (`--locked`: it must cover versions.toml).
    // What it lacks is looked up only once the run is known to pull (see `build`).
    let mode = match cli.locked {
        true => lock::Mode::Locked,
        false => lock::Mode::Read,
    };
    lock_commands::apply_lock(&mut cfg, mode, &lock::Needed::nothing(), cli.no_wait)?;
    engine_for(cli, Arc::new(cfg))
}

/// The tasks of `cfg` and the engine that runs them.
fn engine_for(cli: &Cli, cfg: Arc<Config>) -> Result<(Arc<Config>, Engine)> {
    // A task run that cannot touch the lint tasks does not discover the files to lint.
    let with_lint = cli.command.is_some() || may_select_lint(&cli.tasks);
    let graph = tasks::define(&cfg, with_lint)?;
    let keys = PathKeys::new()
        .with_root("repo", &cfg.repo_root)
        .with_root("build", &cfg.build_root);
    let root = cfg.iso_root();
    let engine = Engine::new(graph, cfg.build_root.join(buildroot::MARKER_DIR))
        .with_keys(keys)
        .with_output_root(&cfg.build_root)
        .with_pruned_dir(&root)
        .with_pruned_dir(root.join("images"))
        .with_pruned_dir(root.join("packages"))
        .with_keep_going(cli.keep_going || only_lint(&cli.tasks));
    let engine = if with_lint {
        engine
    } else {
        engine.with_unloaded_family(tasks::lint::FAMILY)
    };
    let engine = match &cfg.cache {
        Some(cache) => engine.with_cache(cache.clone(), env!("CARGO_PKG_VERSION")),
        None => engine,
    };
    buildroot::check_location(&cfg.build_root, &cfg.repo_root, &copied_dirs(&cfg, &engine))?;
    Ok((cfg, engine))
}

/// The commands that run no task (pull, dedup, fetch-rpms, repodata, build-rpm) refuse
/// the options of task runs rather than ignore them.
fn refuse_task_options(cli: &Cli) -> Result<()> {
    let given: Vec<&str> = [
        (cli.build_root.is_some(), "--build-root"),
        (cli.reporter.is_some(), "--reporter"),
        (cli.verbose, "--verbose"),
        (cli.no_wait, "--no-wait"),
        (cli.keep_going, "--keep-going"),
        (cli.locked, "--locked"),
        (cli.delta_from.is_some(), "--delta-from"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if !given.is_empty() {
        bail!(
            "{} {} only to task runs (and list, info, clean), not to this command",
            given.join(", "),
            if given.len() == 1 { "applies" } else { "apply" }
        );
    }
    Ok(())
}

/// Lint runs show every finding in one run: each file is its own task, and a failing file
/// does not stop the others.
fn only_lint(tasks: &[String]) -> bool {
    !tasks.is_empty() && tasks.iter().all(|t| tasks::lint::is_lint_name(t))
}

/// Whether the requested tasks may name a lint task (a lint name, or any glob).
fn may_select_lint(tasks: &[String]) -> bool {
    tasks
        .iter()
        .any(|t| tasks::lint::is_lint_name(t) || buildchain_graph::is_pattern(t))
}

/// Resolves names and globs; public names accept `_` for `-` (`populate_iso`).
fn resolve(engine: &Engine, patterns: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for pattern in patterns {
        let names = match engine.graph().select(std::slice::from_ref(pattern)) {
            Ok(names) => names,
            Err(e @ (GraphError::UnknownTask(_) | GraphError::NoMatch(_))) => {
                let alias = if pattern.starts_with('_') {
                    None
                } else {
                    Some(pattern.replace('_', "-"))
                };
                match alias.filter(|a| a != pattern) {
                    Some(a) => engine.graph().select(&[a]).map_err(|_| {
                        anyhow::anyhow!("{e} (`buildchain list --all --private` shows the tasks)")
                    })?,
                    None => bail!("{e} (`buildchain list --all --private` shows the tasks)"),
                }
            }
            Err(e) => return Err(e.into()),
        };
        for n in names {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    Ok(out)
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(
        Command::Pull(_)
        | Command::Dedup { .. }
        | Command::FetchRpms(_)
        | Command::Repodata(_)
        | Command::BuildRpm(_)
        | Command::Verify(_)
        | Command::Diff(_),
    ) = &cli.command
    {
        refuse_task_options(&cli)?;
    }
    match &cli.command {
        Some(Command::Pull(args)) => return image_commands::pull(args, cli.jobs),
        Some(Command::Dedup { dir }) => return image_commands::dedup(dir),
        Some(Command::FetchRpms(args)) => return fetch_rpms::run(args, cli.jobs),
        Some(Command::Repodata(args)) => return rpm_commands::repodata(args, cli.jobs),
        Some(Command::BuildRpm(args)) => return rpm_commands::build_rpm(args),
        Some(Command::Verify(args)) => return verify::run(args),
        Some(Command::Diff(args)) => return release_commands::diff(args),
        Some(Command::Lock { update }) => {
            if cli.locked {
                bail!("--locked applies to builds, not to `lock`, which writes the lock");
            }
            let given: Vec<&str> = [
                (cli.build_root.is_some(), "--build-root"),
                (cli.reporter.is_some(), "--reporter"),
                (cli.verbose, "--verbose"),
                (cli.keep_going, "--keep-going"),
                (cli.jobs.is_some(), "--jobs"),
                (cli.delta_from.is_some(), "--delta-from"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect();
            if !given.is_empty() {
                bail!("{} do not apply to `lock`", given.join(", "));
            }
            return lock_commands::relock(&cli, update);
        }
        _ => {}
    }
    if cli.command.is_some() && !cli.tasks.is_empty() {
        bail!(
            "tasks ({}) cannot be given with a command: run them alone",
            cli.tasks.join(" ")
        );
    }
    let (cfg, mut engine) = load(&cli)?;
    if cli.command.is_none() {
        return build(&cli, cfg, engine);
    }
    // The report of list, info and clean (a build's goes through its reporter).
    let mut out = Stdout(std::io::stdout().lock());
    match &cli.command {
        None => unreachable!("built above"),
        Some(Command::Cache { action }) => cache_commands::run(&cfg, cfg.cache.as_deref(), action),
        Some(Command::List { all, private }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            let tasks: Vec<_> = engine
                .graph()
                .tasks()
                .iter()
                .filter(|t| (*private || !t.is_private()) && (*all || !t.is_subtask()))
                .collect();
            // Aligned on the longest name, up to a limit past which a name pushes its
            // summary further rather than every line.
            const MAX_WIDTH: usize = 32;
            let width = tasks
                .iter()
                .map(|t| t.name().len())
                .max()
                .unwrap_or(0)
                .min(MAX_WIDTH);
            for task in tasks {
                writeln!(out, "{:<width$}  {}", task.name(), task.summary())?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Info { task }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            let names = resolve(&engine, std::slice::from_ref(task))?;
            let name = match names.as_slice() {
                [one] => one.clone(),
                [] => bail!("no task matches {task:?}"),
                many => bail!(
                    "{task:?} matches {} tasks ({}{}): name one",
                    many.len(),
                    many.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                    if many.len() > 5 { ", …" } else { "" }
                ),
            };
            info(&mut out, &engine, &name)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Clean { dry_run, tasks }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            let names = resolve(&engine, tasks)?;
            let Some(_lock) =
                buildroot::open(&cfg.build_root, buildroot::Mode::Clean, cli.no_wait)?
            else {
                writeln!(
                    out,
                    "{}: does not exist: nothing to clean",
                    cfg.build_root.display()
                )?;
                return Ok(ExitCode::SUCCESS);
            };
            let mut lines = engine.clean(&names, *dry_run)?;
            if names.is_empty() && !*dry_run {
                for path in buildroot::sweep_temporaries(&cfg.build_root)? {
                    lines.push(format!("removed {}", path.display()));
                }
            }
            for line in lines {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(_) => unreachable!("handled above"),
    }
}

/// The ISO's volume id comes from PROJECT_NAME and VERSION: refused before any task of a
/// run that builds the ISO, not by `_iso_build` after everything else was built.
fn check_volume_id(cfg: &Config) -> Result<()> {
    let id = cfg.volume_id();
    let max = buildchain_iso9660::VOLUME_ID_MAX;
    if id.len() > max {
        let suffix_room = max.saturating_sub(id.len() - cfg.version.suffix.len());
        bail!(
            "{}: the ISO volume id \"<PROJECT_NAME> <VERSION>\" = {id:?} has {} characters, \
             ISO 9660 allows {max}: shorten VERSION_SUFFIX (at most {suffix_room} characters \
             here) or PROJECT_NAME",
            cfg.repo_root.join("VERSION").display(),
            id.len()
        );
    }
    buildchain_iso9660::validate_volume_id(&id).map_err(|e| {
        anyhow::anyhow!(
            "{}: PROJECT_NAME and VERSION make the ISO volume id: {e}",
            cfg.repo_root.join("VERSION").display()
        )
    })
}

fn warn_all(warnings: Vec<String>, verbose: bool) {
    if verbose {
        for w in warnings {
            let _ = writeln!(
                std::io::stderr(),
                "buildchain: warning: {}",
                escape_controls(&w.to_string())
            );
        }
    }
}

fn build(cli: &Cli, cfg: Arc<Config>, engine: Engine) -> Result<ExitCode> {
    let requested = if cli.tasks.is_empty() {
        vec!["iso".to_string()]
    } else {
        cli.tasks.clone()
    };
    let mut names = resolve(&engine, &requested)?;
    if engine.graph().runs(&names, "_iso_build") {
        check_volume_id(&cfg)?;
        if cfg.signing.is_none() {
            eprintln!(
                "buildchain: SIGNING_KEY is not set: SHA256SUM, the repositories' metadata and the built RPMs are not signed"
            );
        }
    }
    let jobs = cli.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let _lock = buildroot::open(&cfg.build_root, buildroot::Mode::Build, cli.no_wait)?;
    // Once the cheap checks passed and the build root is ours: look up the tags the lock
    // lacks, for the images this run pulls only, then define the tasks with their pins.
    let needed = if cli.locked {
        Default::default()
    } else {
        lock_commands::unpinned(&cfg, &engine, &names)
    };
    let (cfg, engine) = if needed.is_empty() {
        (cfg, engine)
    } else {
        let mut updated = (*cfg).clone();
        let needed = lock::Needed {
            image: &|i| needed.images.contains(&(i.name.clone(), i.version.clone())),
            release: &|r| needed.releases.contains(r),
        };
        lock_commands::apply_lock(&mut updated, lock::Mode::Update, &needed, cli.no_wait)?;
        let (cfg, engine) = engine_for(cli, Arc::new(updated))?;
        names = resolve(&engine, &requested)?;
        (cfg, engine)
    };
    let (cfg, engine) = (&*cfg, &engine);
    let output = Output::new(
        cli.reporter.unwrap_or(Kind::Console),
        cli.verbose,
        Some(&cfg.build_root.join("build.log")),
    )?;
    for path in buildroot::sweep_temporaries(&cfg.build_root)? {
        output.warn(&format!(
            "removed {} (left by a killed run)",
            path.display()
        ));
    }
    let summary = engine.run(&names, jobs, &output);
    output.finish();
    if let Some(cache) = &cfg.cache {
        cache_commands::report(cache, &cfg.build_root);
    }
    let summary = summary?;
    if let Some(e) = output.write_error() {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::from(EXIT_BROKEN_PIPE));
        }
        return Err(anyhow::Error::new(e).context(format!(
            "cannot write the {} report to stdout: stopped",
            cli.reporter.unwrap_or(Kind::Console).name()
        )));
    }
    if summary.success() {
        return Ok(ExitCode::SUCCESS);
    }
    // Each failure was printed once, when it happened; this is the summary.
    let failed: Vec<&str> = summary.failed.iter().map(|(t, _)| t.as_str()).collect();
    let mut err = std::io::stderr();
    let _ = writeln!(err, "buildchain: failed: {}", failed.join(", "));
    if !summary.not_run.is_empty() {
        let _ = writeln!(
            err,
            "buildchain: not run because a dependency failed{}: {}",
            if cli.keep_going || only_lint(&cli.tasks) {
                ""
            } else {
                " or the run stopped at the first failure (-k goes on)"
            },
            summary.not_run.join(", ")
        );
    }
    Ok(ExitCode::FAILURE)
}

fn info(out: &mut impl Write, engine: &Engine, name: &str) -> Result<()> {
    let task = engine.graph().get(name).context("no such task")?;
    writeln!(out, "{}", task.name())?;
    if !task.get_doc().is_empty() {
        writeln!(out, "{}", task.get_doc())?;
    }
    writeln!(out)?;
    let (status, warnings) = engine.status_and_warnings(name)?;
    for warning in warnings {
        eprintln!("buildchain: warning: {}", escape_controls(&warning));
    }
    match status {
        Status::UpToDate => writeln!(out, "status: up-to-date")?,
        Status::Outdated(reason) => writeln!(out, "status: not up-to-date: {reason}")?,
    }
    let list = |out: &mut dyn Write, title: &str, items: Vec<String>| -> std::io::Result<()> {
        writeln!(out, "{title}:")?;
        for item in items {
            writeln!(out, "  - {item}")?;
        }
        Ok(())
    };
    let paths = |paths: &[PathBuf]| -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    };
    // Static, calculated and tree file deps, as they would be now.
    let deps = match engine.current_file_deps(name) {
        Ok(deps) => deps,
        Err(e) => {
            writeln!(out, "(calculated file deps unavailable: {e})")?;
            task.get_file_deps().to_vec()
        }
    };
    const SHOWN: usize = 50;
    let mut shown = paths(&deps[..deps.len().min(SHOWN)]);
    if deps.len() > SHOWN {
        shown.push(format!("… and {} more", deps.len() - SHOWN));
    }
    if !task.get_tree_deps().is_empty() {
        list(out, "tree_dep", paths(task.get_tree_deps()))?;
    }
    list(out, "file_dep", shown)?;
    list(out, "task_dep", task.get_task_deps().to_vec())?;
    list(out, "targets", paths(task.get_targets()))?;
    if !task.get_created_dirs().is_empty() {
        list(out, "creates", paths(task.get_created_dirs()))?;
    }
    if let Some(fp) = engine.last_fingerprint(name)? {
        writeln!(out, "fingerprint: {fp}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_runs_define_the_lint_tasks() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for selects in [
            &["lint"][..],
            &["lint:yaml"],
            &["_lint:yaml/x.yaml"],
            &["iso", "lint"],
            &["*"],
            &["_image_pull:*"],
            &["lint?yaml"],
        ] {
            assert!(may_select_lint(&names(selects)), "{selects:?}");
        }
        for not in [
            &[][..],
            &["iso"],
            &["images"],
            &["populate_iso"],
            &["salt-tree"],
            &["lint-foo"],
        ] {
            assert!(!may_select_lint(&names(not)), "{not:?}");
        }
        assert!(only_lint(&names(&["lint", "_lint:sls/a.sls"])));
        assert!(!only_lint(&names(&["lint", "iso"])));
        assert!(!only_lint(&[]));
    }
}

//! `buildchain`: builds this repository's distribution into one ISO (see README.md and
//! docs/buildchain.md).

mod config;
mod fetch_rpms;
mod fsutil;
mod image_commands;
mod reporter;
mod tasks;
mod templates;
mod version;
mod versions;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use buildchain_graph::{Engine, GraphError, PathKeys, Status};
use clap::{Parser, Subcommand};

use crate::config::{find_repo_root, Config};
use crate::reporter::{Kind, Output};

#[derive(Parser)]
#[command(
    name = "buildchain",
    version,
    about = "Build the distribution of this repository into one ISO.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Tasks to run, by name or glob (`images`, `_image_pull:*`); default `iso`.
    tasks: Vec<String>,
    /// Number of tasks run in parallel (default: the number of CPUs).
    #[arg(short = 'n', long = "jobs", global = true)]
    jobs: Option<usize>,
    /// How task events are printed.
    #[arg(long, value_enum, default_value = "console", global = true)]
    reporter: Kind,
    /// The build root (default: BUILD_ROOT, else `_build` in the repository).
    #[arg(long, global = true)]
    build_root: Option<PathBuf>,
    /// Print task messages (why a task runs, what it did).
    #[arg(short, long, global = true)]
    verbose: bool,
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
    /// Pull an image into DEST_DIR (skopeo `dir:` layout), every digest verified.
    Pull(image_commands::PullArgs),
    /// Hardlink identical files under DIR, like `hardlink -c`.
    Dedup { dir: PathBuf },
    /// Download RPMs and what they require from yum repositories into DEST, and write its
    /// repodata.
    #[command(name = "fetch-rpms")]
    FetchRpms(fetch_rpms::FetchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("buildchain: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> Result<(Arc<Config>, Engine)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let repo = find_repo_root(&cwd)?;
    let cfg = Arc::new(Config::load(&repo, cli.build_root.as_deref())?);
    let graph = tasks::define(&cfg)?;
    let keys = PathKeys::new()
        .with_root("repo", &cfg.repo_root)
        .with_root("build", &cfg.build_root);
    let engine = Engine::new(graph, cfg.build_root.join(".buildchain-state")).with_keys(keys);
    Ok((cfg, engine))
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
    match &cli.command {
        Some(Command::Pull(args)) => return image_commands::pull(args, cli.jobs),
        Some(Command::Dedup { dir }) => return image_commands::dedup(dir),
        Some(Command::FetchRpms(args)) => return fetch_rpms::run(args, cli.jobs),
        _ => {}
    }
    let (cfg, mut engine) = load(&cli)?;
    match &cli.command {
        None => build(&cli, &cfg, &engine),
        Some(Command::List { all, private }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            for task in engine.graph().tasks() {
                if (task.is_private() && !private) || (task.is_subtask() && !all) {
                    continue;
                }
                println!("{:<24} {}", task.name(), task.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Info { task }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            let name = resolve(&engine, std::slice::from_ref(task))?
                .into_iter()
                .next()
                .context("no task")?;
            info(&engine, &name)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Clean { dry_run, tasks }) => {
            warn_all(engine.graph_mut().expand(), cli.verbose);
            let names = resolve(&engine, tasks)?;
            for line in engine.clean(&names, *dry_run)? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(_) => unreachable!("handled above"),
    }
}

fn warn_all(warnings: Vec<String>, verbose: bool) {
    if verbose {
        for w in warnings {
            eprintln!("buildchain: warning: {w}");
        }
    }
}

fn build(cli: &Cli, cfg: &Config, engine: &Engine) -> Result<ExitCode> {
    let requested = if cli.tasks.is_empty() {
        vec!["iso".to_string()]
    } else {
        cli.tasks.clone()
    };
    let names = resolve(engine, &requested)?;
    let jobs = cli.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let output = Output::new(
        cli.reporter,
        cli.verbose,
        Some(&cfg.build_root.join("build.log")),
    )?;
    let summary = engine.run(&names, jobs, &output);
    output.finish();
    let summary = summary?;
    if summary.success() {
        return Ok(ExitCode::SUCCESS);
    }
    for (task, error) in &summary.failed {
        eprintln!("buildchain: task {task} failed: {error}");
    }
    if !summary.not_run.is_empty() {
        eprintln!(
            "buildchain: not run because of the failure: {}",
            summary.not_run.join(", ")
        );
    }
    Ok(ExitCode::FAILURE)
}

fn info(engine: &Engine, name: &str) -> Result<()> {
    let task = engine.graph().get(name).context("no such task")?;
    println!("{}", task.name());
    if !task.get_doc().is_empty() {
        println!("{}", task.get_doc());
    }
    println!();
    match engine.status(name)? {
        Status::UpToDate => println!("status: up-to-date"),
        Status::Outdated(reason) => println!("status: not up-to-date: {reason}"),
    }
    let list = |title: &str, items: Vec<String>| {
        println!("{title}:");
        for item in items {
            println!("  - {item}");
        }
    };
    // Static, calculated and tree file deps, as they would be now.
    let deps = match engine.current_file_deps(name) {
        Ok(deps) => deps,
        Err(e) => {
            println!("(calculated file deps unavailable: {e})");
            task.get_file_deps().to_vec()
        }
    };
    const SHOWN: usize = 50;
    let mut shown: Vec<String> = deps
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if deps.len() > SHOWN {
        shown.push(format!("… and {} more", deps.len() - SHOWN));
    }
    if !task.get_tree_deps().is_empty() {
        list(
            "tree_dep",
            task.get_tree_deps()
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        );
    }
    list("file_dep", shown);
    list("task_dep", task.get_task_deps().to_vec());
    list(
        "targets",
        task.get_targets()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    );
    if let Some(fp) = engine.last_fingerprint(name)? {
        println!("fingerprint: {fp}");
    }
    Ok(())
}

//! `lint` and its sub-tasks `lint:yaml`, `lint:sls`, `lint:shell`, `lint:rust`.
//!
//! Each file is its own private task (`_lint:yaml/<path>`…) so unchanged files are not
//! re-linted. The checks themselves come from the buildchain-lint library: wiring one is
//! filling [`linter`] for its kind (a function from the files to the findings, printed
//! as `file:line: message`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use buildchain_graph::Task;

use super::Cfg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Yaml,
    Sls,
    Shell,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Yaml => "yaml",
            Kind::Sls => "sls",
            Kind::Shell => "shell",
        }
    }

    fn doc(self) -> &'static str {
        match self {
            Kind::Yaml => {
                "Check that every YAML file parses, without duplicate keys, yamllint-style."
            }
            Kind::Sls => {
                "Render every Salt state (Jinja, stub grains/pillar) and parse the result as YAML."
            }
            Kind::Shell => "Run shellcheck on the shell scripts (*.sh, and *.sh.in once rendered).",
        }
    }

    fn selects(self, rel: &str) -> bool {
        match self {
            Kind::Yaml => rel.ends_with(".yaml") || rel.ends_with(".yml"),
            Kind::Sls => rel.starts_with("salt/") && rel.ends_with(".sls"),
            Kind::Shell => rel.ends_with(".sh") || rel.ends_with(".sh.in"),
        }
    }
}

/// Checks files of a kind; returns the findings (`file:line: message`), empty when clean.
pub type Linter = fn(cfg: &Cfg, files: &[PathBuf]) -> Result<Vec<String>>;

/// The library function for each kind (`None`: not wired yet, the task fails saying so).
fn linter(kind: Kind) -> Option<Linter> {
    match kind {
        Kind::Yaml | Kind::Sls | Kind::Shell => None,
    }
}

/// Directories never linted.
const SKIP: &[&str] = &[".git", "target", "_build", ".vagrant", "node_modules"];

fn repo_files(cfg: &Cfg) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, root: &Path, build_root: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => bail!("{}: cannot list: {e}", dir.display()),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            if entry.file_type()?.is_dir() {
                let skipped = dir == root && SKIP.iter().any(|s| name == *s);
                if !skipped && path != build_root && !name.to_string_lossy().starts_with("target") {
                    walk(&path, root, build_root, out)?;
                }
            } else if entry.file_type()?.is_file() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&cfg.repo_root, &cfg.repo_root, &cfg.build_root, &mut out)?;
    out.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(out)
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let files = repo_files(cfg)?;
    let salt_dir = cfg.repo("salt");
    // States import map.jinja, defaults.yaml…: any of them changes their rendering.
    let salt_includes: Vec<PathBuf> = files
        .iter()
        .filter(|p| p.starts_with(&salt_dir) && !p.to_string_lossy().ends_with(".sls"))
        .cloned()
        .collect();
    let mut tasks = Vec::new();
    let mut lint = Task::new("lint").doc("Run the linting tools.");
    for kind in [Kind::Yaml, Kind::Sls, Kind::Shell] {
        let group_name = format!("lint:{}", kind.name());
        let mut group = Task::new(&group_name).doc(kind.doc());
        for file in &files {
            let rel = file
                .strip_prefix(&cfg.repo_root)
                .unwrap_or(file)
                .to_string_lossy()
                .into_owned();
            if !kind.selects(&rel) {
                continue;
            }
            let name = format!("_lint:{}/{rel}", kind.name());
            let (cfg2, f) = (cfg.clone(), file.clone());
            let mut task = Task::new(&name)
                .doc(format!("Lint {rel} ({}).", kind.name()))
                .file_dep(file.clone())
                .version(format!("lint {} v1", kind.name()))
                .action(move |_| -> Result<()> {
                    let Some(check) = linter(kind) else {
                        bail!(
                            "lint:{} is not wired yet (buildchain-lint; see buildchain/cli/src/tasks/lint.rs)",
                            kind.name()
                        );
                    };
                    let findings = check(&cfg2, std::slice::from_ref(&f))?;
                    if !findings.is_empty() {
                        bail!("{} finding(s):\n{}", findings.len(), findings.join("\n"));
                    }
                    Ok(())
                });
            if kind == Kind::Sls {
                task = task.file_deps(salt_includes.iter().cloned());
            }
            group = group.subtask(&name);
            tasks.push(task);
        }
        lint = lint.subtask(&group_name);
        tasks.push(group);
    }
    let rust_files: Vec<PathBuf> = files
        .iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.ends_with(".rs") || s.ends_with("Cargo.toml") || s.ends_with("Cargo.lock")
        })
        .cloned()
        .collect();
    let cfg2 = cfg.clone();
    tasks.push(
        Task::new("lint:rust")
            .doc("cargo fmt --check and cargo clippy -D warnings on the workspace.")
            .file_deps(rust_files)
            .version("lint rust v1")
            .action(move |_| -> Result<()> {
                let cargo = cfg2.bin("cargo");
                for args in [
                    vec!["fmt", "--all", "--", "--check"],
                    vec![
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--release",
                        "--",
                        "-D",
                        "warnings",
                    ],
                ] {
                    let status = std::process::Command::new(&cargo)
                        .args(&args)
                        .current_dir(&cfg2.repo_root)
                        .status()
                        .map_err(|e| anyhow::anyhow!("cannot run {cargo} (CARGO_BIN): {e}"))?;
                    if !status.success() {
                        bail!("{cargo} {} failed ({status})", args.join(" "));
                    }
                }
                Ok(())
            }),
    );
    tasks.push(lint.subtask("lint:rust"));
    Ok(tasks)
}

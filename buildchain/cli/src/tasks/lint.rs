//! `lint` and its sub-tasks `lint:yaml`, `lint:sls`, `lint:shell`, `lint:rust`.
//!
//! The checks are buildchain-lint's; this module decides what is linted, with what, and
//! when. Each linted file is its own private task (`_lint:yaml/<path>`…) whose file deps
//! are everything its findings depend on, so unchanged files are not re-linted. Findings
//! print as `file:line[:column]: message [rule]`, paths relative to the repository.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use buildchain_graph::Task;
use buildchain_lint::discover::{find_all, Discovered, FileKind};
use buildchain_lint::yaml::YamlConfig;
use buildchain_lint::{shell, sls, yaml, Finding, LintError};

use super::{files_under, Cfg};
use crate::config::Config;
use crate::templates;

/// Part of every lint task's definition: bump it when what the tasks check changes (new
/// rules in buildchain-lint), so that every file is linted again.
const LINT_VERSION: &str = "lint v2";

/// The prefixes of every lint task's name (`lint`, `lint:yaml`, `_lint:yaml/<path>`…).
pub const FAMILY: &[&str] = &["lint", "_lint:"];

/// Whether `name` is a lint task's name (`lint`, `lint:…`, `_lint:…`).
pub fn is_lint_name(name: &str) -> bool {
    name == "lint" || name.starts_with("lint:") || name.starts_with("_lint:")
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let found = find_all(&cfg.repo_root)
        .with_context(|| format!("{}: cannot list the files to lint", cfg.repo_root.display()))?;
    let groups = [
        (
            "lint:yaml",
            "Check that every YAML file parses, without duplicate keys, yamllint-style.",
            yaml_tasks(cfg, &found)?,
        ),
        (
            "lint:shell",
            "Run shellcheck (SHELLCHECK_BIN) on the shell scripts (*.sh, and *.sh.in once rendered).",
            shell_tasks(cfg, &found)?,
        ),
    ];
    let mut tasks = Vec::new();
    let mut lint = Task::new("lint").doc("Run the linting tools.");
    for (name, doc, file_tasks) in groups {
        let group = Task::new(name)
            .doc(doc)
            .subtasks(file_tasks.iter().map(|t| t.name().to_string()));
        tasks.extend(file_tasks);
        tasks.push(group);
        lint = lint.subtask(name);
    }
    tasks.push(sls_task(cfg)?);
    tasks.push(rust_task(cfg)?);
    tasks.push(lint.subtask("lint:sls").subtask("lint:rust"));
    Ok(tasks)
}

/// `path` relative to the repository, as task names and findings show it.
fn relative(cfg: &Config, path: &Path) -> PathBuf {
    path.strip_prefix(&cfg.repo_root)
        .unwrap_or(path)
        .to_path_buf()
}

/// The task linting `file` (`_lint:<kind>/<path>`), depending on it.
fn file_task(cfg: &Config, kind: &str, file: &Path) -> Task {
    let rel = relative(cfg, file);
    Task::new(format!("_lint:{kind}/{}", rel.display()))
        .doc(format!("Lint {} ({kind}).", rel.display()))
        .file_dep(file)
}

/// A lint that could not run (its message already names its cause: not repeated).
fn could_not_run(error: LintError) -> anyhow::Error {
    anyhow::anyhow!("{error}")
}

/// Fails listing the findings (`file:line: message [rule]`), if any.
fn report(cfg: &Config, mut findings: Vec<Finding>) -> Result<()> {
    if findings.is_empty() {
        return Ok(());
    }
    for finding in &mut findings {
        finding.path = relative(cfg, &finding.path);
    }
    findings.sort();
    findings.dedup();
    let lines: Vec<String> = findings.iter().map(ToString::to_string).collect();
    bail!("{} finding(s):\n{}", lines.len(), lines.join("\n"))
}

fn yaml_tasks(cfg: &Cfg, found: &Discovered) -> Result<Vec<Task>> {
    let config = YamlConfig::default();
    Ok(found
        .of(FileKind::Yaml)
        .into_iter()
        .map(|file| {
            let (cfg2, config2) = (cfg.clone(), config.clone());
            file_task(cfg, "yaml", &file)
                .version(format!("{LINT_VERSION} yaml {config:?}"))
                .action(move |_| -> Result<()> {
                    report(
                        &cfg2,
                        yaml::lint_file(&file, &config2).map_err(could_not_run)?,
                    )
                })
        })
        .collect())
}

/// `lint:sls`: the Salt states and pillar, rendered and checked by real Salt
/// (`SALT_CALL_BIN`, else the one ci/setup.sh installs, else `salt-call`) in the Salt
/// environment of an archive laid out as on a node (`$BUILD_ROOT/lint/salt/`: the salt
/// tree as the ISO ships it, the pillar, a `product.txt`), with the minion configurations
/// bootstrap.sh writes (its own `write_salt_minion_config`; the states render as on the
/// bootstrap node, the pillar as on the bootstrap node and on a node).
fn sls_task(cfg: &Cfg) -> Result<Task> {
    let salt_call = salt_call(cfg);
    let inputs = [
        cfg.repo("VERSION"),
        cfg.repo("versions.toml"),
        cfg.repo("iso/common.sh.in"),
    ];
    let cfg2 = cfg.clone();
    Ok(Task::new("lint:sls")
        .doc("Render every Salt state and the pillar with real Salt (SALT_CALL_BIN) in the archive's environment, and check functions, arguments, requisites and salt:// sources.")
        .tree_dep(cfg.repo("salt"))
        .tree_dep(cfg.repo("pillar"))
        .file_deps(inputs)
        // versions.json is made of the lock's pins too.
        .version(format!(
            "{LINT_VERSION} sls real-salt {} {} pins={}",
            salt_call.display(),
            templates::lint_context(cfg),
            super::salt::lock_pins(cfg)
        ))
        .action(move |_| -> Result<()> {
            let env = salt_environment(&cfg2, &salt_call)?;
            let findings = sls::lint(&env).map_err(|e| match e {
                LintError::ToolMissing { .. } => anyhow::anyhow!(
                    "{e} (ci/setup.sh installs the pinned Salt into ~/.cache/buildchain/salt)"
                ),
                e => could_not_run(e),
            })?;
            report(&cfg2, findings)
        }))
}

/// The salt-call `lint:sls` runs: `SALT_CALL_BIN`, else ci/setup.sh's, else `salt-call`.
fn salt_call(cfg: &Config) -> PathBuf {
    if let Some(bin) = cfg.vars.get(sls::ENV_VAR).filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let cache = cfg
        .vars
        .get("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| cfg.vars.get("HOME").map(|h| Path::new(h).join(".cache")));
    cache
        .map(|c| c.join("buildchain/salt/bin/salt-call"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("salt-call"))
}

/// Lays out `$BUILD_ROOT/lint/salt/` as a node's archives root holding this product, with
/// the minion configuration bootstrap.sh's `write_salt_minion_config` writes for it.
fn salt_environment(cfg: &Config, salt_call: &Path) -> Result<sls::SaltEnvironment> {
    let root = cfg.build_root.join("lint/salt");
    let archive = root.join("archives").join(cfg.product_id());
    let empty_images = root.join("no-images");
    std::fs::create_dir_all(&empty_images)
        .with_context(|| format!("{}: cannot create", empty_images.display()))?;
    super::salt::write_salt_tree(cfg, &empty_images, &archive.join("salt"))?;
    let ctx = templates::context(cfg);
    buildchain_fs::replace_dir(&archive.join("pillar"), |tmp| {
        crate::fsutil::copy_tree(&cfg.repo("pillar"), tmp, Some(&ctx))
    })?;
    buildchain_fs::write_atomic(
        &archive.join("product.txt"),
        format!(
            "NAME={}\nVERSION={}\n",
            cfg.project_name,
            cfg.version.full()
        )
        .as_bytes(),
        Some(0o644),
    )?;
    let common = root.join("common.sh");
    buildchain_fs::write_atomic(
        &common,
        templates::render_file(&cfg.repo("iso/common.sh.in"), &ctx)?.as_bytes(),
        Some(0o644),
    )?;
    // Salt's own files (caches: its file list is cached for 20 s by default) start afresh.
    let salt_root = root.join("salt-root");
    match std::fs::remove_dir_all(&salt_root) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("{}: cannot remove", salt_root.display()))
        }
        _ => {}
    }
    let mut config_dirs = Vec::new();
    for role in ["bootstrap", "node"] {
        let etc = root.join("etc").join(role);
        let status = std::process::Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && write_salt_minion_config \"$2\"")
            .arg("bash")
            .arg(&common)
            .arg(role)
            .env("ARCHIVES_ROOT", root.join("archives"))
            .env("SALT_MINION_CONFIG", etc.join("minion.d/99-metalk8s.conf"))
            .env("CONFIG_DIR", root.join("metalk8s"))
            .env("BOOTSTRAP_CONFIG", root.join("metalk8s/bootstrap.yaml"))
            .env("LOG_DIR", root.join("log"))
            .status()
            .context("cannot run bash (write_salt_minion_config of iso/common.sh.in)")?;
        if !status.success() {
            bail!("iso/common.sh.in: write_salt_minion_config {role} failed ({status})");
        }
        // What a node has besides: an id, and Salt's own files under the lint directory
        // (the file list read afresh: a file added or removed since is seen).
        buildchain_fs::write_atomic(
            &etc.join("minion"),
            format!(
                "id: lint-{role}\nroot_dir: {}\nlog_level_logfile: quiet\nfileserver_list_cache_time: 0\n",
                salt_root.join(role).display()
            )
            .as_bytes(),
            Some(0o644),
        )?;
        config_dirs.push(etc);
    }
    let mut states = Vec::new();
    let mut pillar = Vec::new();
    for (tree, into) in [("salt", &mut states), ("pillar", &mut pillar)] {
        for file in files_under(&cfg.repo(tree))? {
            if let Some(source) = sls_source(&cfg.repo(tree), &file)? {
                // The top file maps states to minions: not a state itself.
                if tree == "pillar" || source.sls != "top" {
                    into.push(source);
                }
            }
        }
    }
    Ok(sls::SaltEnvironment {
        salt_call: salt_call.to_path_buf(),
        config_dirs,
        saltenv: cfg.product_id(),
        states,
        pillar,
    })
}

/// A state or pillar file of the tree at `root` (`a/b/init.sls` and `a/b.sls.in` are SLS
/// `a.b`); `None` for other files.
fn sls_source(root: &Path, file: &Path) -> Result<Option<sls::SlsSource>> {
    let relative = file.strip_prefix(root).unwrap_or(file).to_string_lossy();
    let relative = relative.strip_suffix(".in").unwrap_or(&relative);
    let Some(name) = relative.strip_suffix(".sls") else {
        return Ok(None);
    };
    let name = name.strip_suffix("/init").unwrap_or(name).replace('/', ".");
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    Ok(Some(sls::SlsSource {
        sls: name,
        path: file.to_path_buf(),
        text,
    }))
}

/// The name a `# shellcheck source=NAME` directive of `text` names, for each directive.
fn sourced_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix('#'))
        .filter_map(|comment| comment.trim_start().strip_prefix("shellcheck "))
        .flat_map(|directive| {
            directive
                .split_whitespace()
                .filter_map(|word| word.strip_prefix("source="))
                .map(|name| name.trim_start_matches("./").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `template` and the templates of its directory it sources (`# shellcheck source=x.sh`
/// naming the rendering of `x.sh.in`), transitively: what shellcheck reads to check it.
/// An unreadable template sources nothing here (its task fails naming it).
fn sourced_set(template: &Path, all: &[PathBuf]) -> Vec<PathBuf> {
    let rendered_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".in").to_string())
    };
    let mut set = vec![template.to_path_buf()];
    let mut next = 0;
    while next < set.len() {
        let current = set[next].clone();
        next += 1;
        let text = std::fs::read_to_string(&current).unwrap_or_default();
        for name in sourced_names(&text) {
            let sibling = all.iter().find(|p| {
                p.parent() == current.parent() && rendered_name(p).as_deref() == Some(&name)
            });
            if let Some(sibling) = sibling {
                if !set.contains(sibling) {
                    set.push(sibling.clone());
                }
            }
        }
    }
    set
}

fn shell_tasks(cfg: &Cfg, found: &Discovered) -> Result<Vec<Task>> {
    let bin = cfg.bin("shellcheck");
    // The program is a parameter: pointing SHELLCHECK_BIN elsewhere lints again.
    let version = format!("{LINT_VERSION} shell {bin}");
    let mut tasks = Vec::new();
    for file in found.of(FileKind::Shell) {
        let (cfg2, bin2) = (cfg.clone(), PathBuf::from(&bin));
        tasks.push(
            file_task(cfg, "shell", &file)
                .version(version.clone())
                .action(move |_| -> Result<()> {
                    report(
                        &cfg2,
                        shell::lint_files(&[&file], &bin2).map_err(could_not_run)?,
                    )
                }),
        );
    }
    let templates = found.of(FileKind::ShellTemplate);
    let template_version = format!("{version} template {}", templates::lint_context(cfg));
    for template in &templates {
        let set = sourced_set(template, &templates);
        let (cfg2, bin2, t) = (cfg.clone(), PathBuf::from(&bin), template.clone());
        tasks.push(
            file_task(cfg, "shell", template)
                .file_deps(set.iter().skip(1).cloned())
                .file_deps([cfg.repo("VERSION"), cfg.repo("versions.toml")])
                .version(template_version.clone())
                .action(move |_| -> Result<()> {
                    let ctx = templates::lint_context(&cfg2);
                    let rendered = set
                        .iter()
                        .map(|p| Ok((p.clone(), templates::render_file(p, &ctx)?)))
                        .collect::<Result<Vec<_>>>()?;
                    let mut findings =
                        shell::lint_rendered_set(&rendered, &bin2).map_err(could_not_run)?;
                    // The sourced templates have their own tasks.
                    findings.retain(|f| f.path == t);
                    report(&cfg2, findings)
                }),
        );
    }
    Ok(tasks)
}

/// Directories never searched for Rust sources.
const SKIP: &[&str] = &[".git", "target", "_build", ".vagrant", "node_modules"];

/// The inputs of `lint:rust`: every `.rs`, `Cargo.toml` and `Cargo.lock` of the repository.
fn rust_files(cfg: &Cfg) -> Result<Vec<PathBuf>> {
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
                let s = name.to_string_lossy();
                if s.ends_with(".rs") || s == "Cargo.toml" || s == "Cargo.lock" {
                    out.push(path);
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&cfg.repo_root, &cfg.repo_root, &cfg.build_root, &mut out)?;
    out.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(out)
}

fn rust_task(cfg: &Cfg) -> Result<Task> {
    let task = Task::new("lint:rust")
        .doc("cargo fmt --check and cargo clippy -D warnings on the workspace.");
    if !cfg.repo("Cargo.toml").is_file() {
        // A distribution without Rust code: nothing to lint (no action: SKIPPED).
        return Ok(task);
    }
    let cfg2 = cfg.clone();
    Ok(task
        .file_deps(rust_files(cfg)?)
        .version("lint rust v1")
        .action(move |_| -> Result<()> {
            let cargo = PathBuf::from(cfg2.bin("cargo"));
            // The release profile: ci/test.sh just built and tested with it.
            let options = buildchain_lint::rust::RustOptions { release: true };
            let findings = buildchain_lint::rust::lint_workspace(&cfg2.repo_root, &cargo, options)
                .map_err(could_not_run)?;
            report(&cfg2, findings)
        }))
}

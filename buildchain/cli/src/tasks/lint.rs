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
use buildchain_lint::sls::SlsContext;
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
            "lint:sls",
            "Render every Salt state and pillar file (Jinja, stub grains/pillar; *.sls.in once rendered) and parse the result as YAML.",
            sls_tasks(cfg, &found)?,
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
    tasks.push(rust_task(cfg)?);
    tasks.push(lint.subtask("lint:rust"));
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

/// What the states render against: the salt and pillar trees of the sources, the
/// `metalk8s/versions.json` the `salt-tree` task generates (so `map.jinja` imports it),
/// and the archive's Salt environment.
fn sls_context(cfg: &Config) -> Result<SlsContext> {
    let mut context = SlsContext::new(cfg.repo("salt"))
        .with_pillar_root(cfg.repo("pillar"))
        .with_generated_file("metalk8s/versions.json", super::salt::versions_json(cfg)?);
    context.saltenv = cfg.product_id();
    Ok(context)
}

/// Files of a Salt tree a state may import (`map.jinja`, `defaults.yaml`…): every file but
/// the states and state templates themselves.
fn importable(root: &Path) -> Result<Vec<PathBuf>> {
    Ok(files_under(root)?
        .into_iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            !name.ends_with(".sls") && !name.ends_with(".sls.in")
        })
        .collect())
}

fn sls_tasks(cfg: &Cfg, found: &Discovered) -> Result<Vec<Task>> {
    let (salt, pillar) = (cfg.repo("salt"), cfg.repo("pillar"));
    let (salt_imports, pillar_imports) = (importable(&salt)?, importable(&pillar)?);
    // versions.json is made of these, and the Salt environment of the product id.
    let inputs = [cfg.repo("VERSION"), cfg.repo("versions.toml")];
    let version = format!("{LINT_VERSION} sls saltenv={}", cfg.product_id());
    let states = found.of(FileKind::Sls).into_iter().map(|f| (f, false));
    let state_templates = found
        .of(FileKind::SlsTemplate)
        .into_iter()
        .map(|f| (f, true));
    let mut tasks = Vec::new();
    for (file, is_template) in states.chain(state_templates) {
        let imports = if file.starts_with(&pillar) {
            &pillar_imports
        } else {
            &salt_imports
        };
        let version = if is_template {
            // The handlebars rendering: the template context is part of the definition.
            format!("{version} template {}", templates::lint_context(cfg))
        } else {
            version.clone()
        };
        let cfg2 = cfg.clone();
        let f = file.clone();
        tasks.push(
            file_task(cfg, "sls", &file)
                .file_deps(imports.iter().cloned())
                .file_deps(inputs.iter().cloned())
                .version(version)
                .action(move |_| -> Result<()> {
                    let context = sls_context(&cfg2)?;
                    let findings = if is_template {
                        let rendered = templates::render_file(&f, &templates::lint_context(&cfg2))?;
                        sls::lint_str(&f, &rendered, &context)
                    } else {
                        sls::lint_file(&f, &context).map_err(could_not_run)?
                    };
                    report(&cfg2, findings)
                }),
        );
    }
    Ok(tasks)
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

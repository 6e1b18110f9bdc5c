//! `packaging`: the yum repositories of `versions.toml`, in
//! `$BUILD_ROOT/root/packages/redhat/<release>/<id>/`.
//!
//! Today this creates each repository directory (empty) only: the RPM capabilities
//! (buildchain-rpm) are wired here when they land. To wire them, return from
//! [`package_task`] one task per package (`_package_build:<name>` for `source = "build"`,
//! `_package_download:<repo>` for downloads) writing into [`repo_dir`], and from
//! [`repodata_task`] the task writing `repodata/` of a repository (depending on the
//! package tasks of that repository).

use std::path::PathBuf;

use anyhow::Result;
use buildchain_graph::Task;

use super::iso::MKDIR_ROOT;
use super::{mkdir_task, Cfg};
use crate::versions::{Package, Repository};

pub const MKDIR: &str = "_package_mkdir_root";

/// `root/packages/redhat/<release>/<id>/`.
pub fn repo_dir(cfg: &Cfg, repo: &Repository) -> PathBuf {
    cfg.iso_root()
        .join("packages/redhat")
        .join(&repo.release)
        .join(&repo.id)
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let mut tasks = vec![mkdir_task(
        MKDIR,
        "Create the packages directory of the ISO.",
        cfg.iso_root().join("packages"),
        &[MKDIR_ROOT],
    )];
    let mut group = Task::new("packaging")
        .doc("Build and download the packages, and write the repositories.")
        .subtask(MKDIR);
    for repo in &cfg.versions.repositories {
        let mkdir = format!("_package_mkdir_repo:{}", repo.id);
        tasks.push(mkdir_task(
            &mkdir,
            &format!("Create the directory of the repository {}.", repo.id),
            repo_dir(cfg, repo),
            &[MKDIR],
        ));
        group = group.subtask(mkdir.clone());
        let mut members = Vec::new();
        for package in cfg
            .versions
            .packages
            .iter()
            .filter(|p| p.repository == repo.id)
        {
            if let Some(task) = package_task(cfg, repo, package)? {
                members.push(task.name().to_string());
                group = group.subtask(task.name().to_string());
                tasks.push(task.task_dep(mkdir.clone()));
            }
        }
        if let Some(task) = repodata_task(cfg, repo, &members)? {
            group = group.subtask(task.name().to_string());
            tasks.push(task.task_dep(mkdir.clone()).task_deps(members));
        }
    }
    tasks.push(group);
    Ok(tasks)
}

/// The task producing one package of `versions.toml`, once the RPM library is wired.
fn package_task(cfg: &Cfg, repo: &Repository, package: &Package) -> Result<Option<Task>> {
    let _ = (cfg, repo, package);
    Ok(None)
}

/// The task writing `repodata/` of a repository, once the RPM library is wired.
fn repodata_task(cfg: &Cfg, repo: &Repository, packages: &[String]) -> Result<Option<Task>> {
    let _ = (cfg, repo, packages);
    Ok(None)
}

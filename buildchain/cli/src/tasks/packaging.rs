//! `packaging`: the yum repositories of `versions.toml`, in
//! `$BUILD_ROOT/root/packages/redhat/<release>/<id>/` (RPMs, `RPM-GPG-KEY-<id>` and
//! `repodata/` side by side: the node yum configuration of `salt/metalk8s/yum` and of the
//! `metalk8s-release` package uses that directory as `baseurl`, and `<baseurl>/RPM-GPG-KEY-<id>`
//! as `gpgkey`).
//!
//! - `_package_build:<name>`: one per `source = "build"` package, built natively by
//!   buildchain-rpm from `packages/<name>/package.toml`;
//! - `_package_download:<id>`: one per shipped repository with a `url` and `source =
//!   "download"` packages: downloads the files versions.lock records for it (the packages
//!   and what they require from it; `resolve` makes those entries) and the repository's GPG
//!   key; what it wrote is listed in `$BUILD_ROOT/packaging/<id>.downloads.json`, which lets
//!   later runs skip it without network access;
//! - `_package_repodata:<id>`: one per repository, even empty (nodes use
//!   `skip_if_unavailable=0`): removes packages no task produces any more, then writes
//!   `repodata/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use buildchain_fs::write_atomic;
use buildchain_graph::Task;
use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};
use buildchain_rpm::fetch::{
    download_packages, remote_sha256, resolve_packages, FetchOptions, PackageRequest, Preferred,
    RemoteFile,
};
use buildchain_rpm::repo_dir::{foreign_entries, remove_foreign_entries, DownloadManifest};
use buildchain_rpm::repodata::{write_repodata, RepodataOptions};
use buildchain_rpm::Checksum;

use super::iso::MKDIR_ROOT;
use super::{mkdir_task, Cfg};
use crate::lock::{LockedRpm, RpmGroup};
use crate::versions::{Package, PackageSource, Repository};

pub const MKDIR: &str = "_package_mkdir_root";

/// `root/packages/redhat/<release>/<id>/`.
pub fn repo_dir(cfg: &crate::config::Config, repo: &Repository) -> PathBuf {
    cfg.iso_root()
        .join("packages/redhat")
        .join(&repo.release)
        .join(&repo.id)
}

/// The directories of a repository: one per RPM architecture of the distribution
/// (`<repo dir>/<arch>/`, see `Versions::rpm_arches`), else the repository directory;
/// with the architecture they serve.
pub fn repo_dirs(cfg: &crate::config::Config, repo: &Repository) -> Vec<(Option<String>, PathBuf)> {
    let base = repo_dir(cfg, repo);
    let arches = cfg.versions.rpm_arches();
    if arches.is_empty() {
        return vec![(None, base)];
    }
    arches
        .into_iter()
        .map(|arch| {
            let dir = base.join(&arch);
            (Some(arch), dir)
        })
        .collect()
}

/// A file a package task writes: (its directory, its name).
type Written = (String, String);

/// `<prefix>:<id>`, or `<prefix>:<id>:<arch>` for one architecture's directory.
fn per_dir(prefix: &str, repo: &Repository, arch: &Option<String>) -> String {
    match arch {
        Some(arch) => format!("{prefix}:{}:{arch}", repo.id),
        None => format!("{prefix}:{}", repo.id),
    }
}

/// Where `_package_download:<id>` lists what it placed in the repository.
fn downloads_manifest(cfg: &Cfg, repo: &Repository) -> PathBuf {
    cfg.build_root
        .join("packaging")
        .join(format!("{}.downloads.json", repo.id))
}

/// The key file salt's yum configuration points at: `<repo dir>/RPM-GPG-KEY-<id>`.
fn gpg_key_name(repo: &Repository) -> String {
    format!("RPM-GPG-KEY-{}", repo.id)
}

fn is_url(s: &str) -> bool {
    ["http://", "https://", "file://"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// A repository-relative `gpg_key` path, refused when it would leave the repository.
fn local_key(cfg: &Cfg, repo: &Repository, key: &str) -> Result<PathBuf> {
    let path = Path::new(key);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!(
            "versions.toml [[repositories]] {}: gpg_key {key:?} must be a URL or a path relative to the repository root",
            repo.id
        );
    }
    Ok(cfg.repo_root.join(path))
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let epoch = cfg.epoch.unsigned();
    let mut tasks = vec![mkdir_task(
        MKDIR,
        "Create the packages directory of the ISO.",
        cfg.iso_root().join("packages"),
        &[MKDIR_ROOT],
    )];
    let mut group = Task::new("packaging")
        .doc("Build and download the packages, and write the repositories.")
        .subtask(MKDIR);
    for repo in cfg.versions.shipped_repositories() {
        let dirs = repo_dirs(cfg, repo);
        let mut mkdirs = Vec::new();
        for (arch, dir) in &dirs {
            let mkdir = per_dir("_package_mkdir_repo", repo, arch);
            let parent = match arch {
                // The repository directory itself first.
                Some(_) => {
                    let top = format!("_package_mkdir_repo:{}", repo.id);
                    if !mkdirs.contains(&top) {
                        tasks.push(mkdir_task(
                            &top,
                            &format!("Create the directory of the repository {}.", repo.id),
                            repo_dir(cfg, repo),
                            &[MKDIR],
                        ));
                        group = group.subtask(top.clone());
                        mkdirs.push(top.clone());
                    }
                    top
                }
                None => MKDIR.to_string(),
            };
            tasks.push(mkdir_task(
                &mkdir,
                &format!(
                    "Create the directory of the repository {}{}.",
                    repo.id,
                    arch.as_ref()
                        .map(|a| format!(" for {a}"))
                        .unwrap_or_default()
                ),
                dir.clone(),
                &[parent.as_str()],
            ));
            group = group.subtask(mkdir.clone());
            mkdirs.push(mkdir);
        }
        let mut members = Vec::new();
        let mut built: Vec<Written> = Vec::new();
        let packages: Vec<&Package> = cfg
            .versions
            .packages
            .iter()
            .filter(|p| p.repository == repo.id)
            .collect();
        for package in &packages {
            if let Some((task, files)) = package_task(cfg, repo, package, epoch)? {
                members.push(task.name().to_string());
                built.extend(files);
                group = group.subtask(task.name().to_string());
                tasks.push(task.task_deps(mkdirs.clone()));
            }
        }
        if let Some(task) = download_task(cfg, repo, &packages, epoch)? {
            members.push(task.name().to_string());
            group = group.subtask(task.name().to_string());
            tasks.push(task.task_deps(mkdirs.clone()));
        }
        for (arch, dir) in &dirs {
            let files: Vec<String> = built
                .iter()
                .filter(|(in_dir, _)| Some(in_dir) == dir.to_str().map(str::to_string).as_ref())
                .map(|(_, name)| name.clone())
                .collect();
            let task = repodata_task(cfg, repo, arch, dir, files, epoch)?;
            group = group.subtask(task.name().to_string());
            tasks.push(task.task_deps(mkdirs.clone()).task_deps(members.clone()));
        }
    }
    tasks.push(group);
    Ok(tasks)
}

/// `_package_build:<name>` for a `source = "build"` package, with the files it writes
/// (directory, file name): one per directory of its repository that serves its
/// architecture (a noarch package is built once and linked into every one). None when
/// the definition cannot be read: the task then fails saying why.
fn package_task(
    cfg: &Cfg,
    repo: &Repository,
    package: &Package,
    epoch: u64,
) -> Result<Option<(Task, Vec<Written>)>> {
    if package.source != PackageSource::Build {
        return Ok(None);
    }
    let name = format!("_package_build:{}", package.name);
    let dir = cfg.repo(&format!("packages/{}", package.name));
    let definition = PackageDefinition::load(&dir)
        .map_err(|e| anyhow!("{e}"))
        .and_then(|def| {
            if def.name != package.name {
                bail!(
                    "{}: name {:?} differs from the versions.toml [[packages]] entry {:?}",
                    dir.join("package.toml").display(),
                    def.name,
                    package.name
                );
            }
            Ok(def)
        });
    let task = Task::new(name).doc(format!(
        "Build the RPM {} from packages/{}/ into the repository {}.",
        package.name, package.name, repo.id
    ));
    let definition = match definition {
        Ok(def) => def,
        Err(e) => {
            // Listing, cleaning and other tasks keep working; this one fails with the cause.
            let message = format!("{e:#}");
            let task = task
                .version(format!("broken definition: {message}"))
                .action(move |_| -> Result<()> { Err(anyhow!("{message}")) });
            return Ok(Some((task, Vec::new())));
        }
    };
    let dirs: Vec<PathBuf> = repo_dirs(cfg, repo)
        .into_iter()
        .filter(|(arch, _)| match arch {
            // One platform: its architecture's packages, and noarch ones.
            None => {
                definition.arch == "noarch"
                    || cfg
                        .versions
                        .single_rpm_arch()
                        .is_none_or(|a| definition.arch == a)
            }
            Some(arch) => definition.arch == "noarch" || definition.arch == *arch,
        })
        .map(|(_, dir)| dir)
        .collect();
    let Some(out_dir) = dirs.first().cloned() else {
        let arches = match cfg.versions.single_rpm_arch() {
            Some(one) => one.to_string(),
            None => cfg.versions.rpm_arches().join(", "),
        };
        let message = format!(
            "packages/{}/package.toml: arch {:?} is none of the distribution's ({arches}, noarch)",
            package.name, definition.arch,
        );
        let task = task
            .version(format!("broken definition: {message}"))
            .action(move |_| -> Result<()> { Err(anyhow!("{message}")) });
        return Ok(Some((task, Vec::new())));
    };
    let links: Vec<PathBuf> = dirs[1..].to_vec();
    let file_name = definition.file_name();
    let written: Vec<Written> = dirs
        .iter()
        .map(|d| (d.to_string_lossy().into_owned(), file_name.clone()))
        .collect();
    let context = BuildContext {
        repo_root: cfg.repo_root.clone(),
        source_date_epoch: Some(epoch),
        signer: cfg
            .signing
            .as_ref()
            .map(|k| (k.rpm_signer().clone(), k.signing_time(epoch))),
    };
    let task = task
        .file_deps(definition.input_files(&cfg.repo_root))
        .targets(dirs.iter().map(|d| d.join(&file_name)))
        .cacheable()
        .version(format!(
            "build_package v1 {} epoch={epoch} signed_by={}",
            definition.nevra(),
            cfg.signed_by()
        ))
        .action(move |ctx| -> Result<()> {
            let path = build_package(&definition, &context, &out_dir)
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("building {}", definition.nevra()))?;
            ctx.log(format!("built {}", path.display()));
            // The same file in each other architecture's repository (stored once in the
            // ISO: one inode).
            for dir in &links {
                let link = dir.join(path.file_name().context("a built package has no name")?);
                match fs::remove_file(&link) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("{}: cannot remove", link.display()))
                    }
                    _ => {}
                }
                fs::hard_link(&path, &link).with_context(|| {
                    format!("{}: cannot link to {}", link.display(), path.display())
                })?;
            }
            Ok(())
        });
    Ok(Some((task, written)))
}

/// `_package_download:<id>`: the files versions.lock records for a repository with a url
/// and `source = "download"` packages (they, and what they require from it).
fn download_task(
    cfg: &Cfg,
    repo: &Repository,
    packages: &[&Package],
    epoch: u64,
) -> Result<Option<Task>> {
    let requests: Vec<String> = packages
        .iter()
        .filter(|p| p.source == PackageSource::Download)
        .map(|p| match &p.version {
            Some(v) => format!("{}={v}", p.name),
            None => p.name.clone(),
        })
        .collect();
    let Some(url) = repo.url.clone() else {
        return Ok(None);
    };
    if requests.is_empty() {
        return Ok(None);
    }
    let options = fetch_options(cfg, repo.ca_file.as_deref(), epoch);
    // The files the lock records for this repository, and where each entry is.
    let mut files = Vec::new();
    let mut listed = Vec::new();
    for (rpm, line) in &cfg.versions.rpm_pins.entries {
        let (Some(location), Some(sha256)) = (&rpm.location, &rpm.sha256) else {
            continue;
        };
        if rpm.repository != repo.id {
            continue;
        }
        let checksum = Checksum::new("sha256", sha256).map_err(|e| anyhow!("{e}"))?;
        listed.push(format!("{} {location} {sha256}", rpm.nevra()));
        files.push(RemoteFile {
            repository: repo.id.clone(),
            nevra: rpm.nevra(),
            location: location.clone(),
            checksum,
            size: rpm.size,
            origin: Some(format!(
                "{}: [[rpm]] {}",
                crate::lock::at_line(*line),
                rpm.nevra()
            )),
        });
    }
    let unresolved = cfg.versions.rpm_pins.unresolved.contains(&repo.release);
    let dir = repo_dir(cfg, repo);
    let manifest = downloads_manifest(cfg, repo);
    let mut task = Task::new(format!("_package_download:{}", repo.id))
        .doc(format!(
            "Download {} (and what they require) from {url} into the repository {}, as versions.lock records them.",
            requests.join(", "),
            repo.id
        ))
        .target(manifest.clone())
        .version(format!(
            "download_packages v2 url={url} gpg_key={:?} ca_file={:?} unresolved={unresolved} files={}",
            repo.gpg_key,
            repo.ca_file,
            listed.join(",")
        ));
    let mut gpg_keys = Vec::new();
    if let Some(key) = &repo.gpg_key {
        if is_url(key) {
            gpg_keys.push(key.clone());
        } else {
            let path = local_key(cfg, repo, key)?;
            task = task.file_dep(path.clone());
            gpg_keys.push(path.to_string_lossy().into_owned());
        }
    }
    let source = buildchain_rpm::fetch::Repository {
        id: repo.id.clone(),
        base_url: url,
        gpg_keys,
        download: true,
    };
    let (uptodate_manifest, uptodate_dir) = (manifest.clone(), dir.clone());
    let (clean_manifest, clean_dir) = (manifest.clone(), dir.clone());
    let id = repo.id.clone();
    let task = task
        .uptodate(move || -> Result<bool> {
            Ok(
                match DownloadManifest::load(&uptodate_manifest).ok().flatten() {
                    Some(m) => m.intact(&uptodate_dir)?,
                    None => false,
                },
            )
        })
        .action(move |ctx| -> Result<()> {
            if unresolved {
                bail!(
                    "{}: does not cover the packages of repository {id} as versions.toml lists them: run `buildchain lock`",
                    crate::lock::LOCK_FILE
                );
            }
            let report = download_packages(std::slice::from_ref(&source), &files, &dir, &options)
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| {
                    format!(
                        "repository {id}: the files {} records: if the repository no longer serves them, `buildchain lock --update {id}` resolves them again",
                        crate::lock::LOCK_FILE
                    )
                })?;
            let mut names = Vec::new();
            for path in report
                .packages
                .iter()
                .map(|p| &p.path)
                .chain(&report.gpg_keys)
            {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .with_context(|| format!("{}: no file name", path.display()))?;
                names.push(name);
            }
            for p in &report.packages {
                ctx.log(format!("downloaded {} ({})", p.nevra, p.repository));
            }
            DownloadManifest::describe(&dir, names.iter().map(String::as_str))?.save(&manifest)?;
            Ok(())
        })
        .clean(move |ctx| -> Result<()> {
            for name in DownloadManifest::names_at(&clean_manifest) {
                ctx.remove(&clean_dir.join(name))?;
            }
            ctx.remove(&clean_manifest)?;
            Ok(())
        });
    Ok(Some(task))
}

/// How packages are fetched for `versions.toml`: its CA file, the build's epoch.
fn fetch_options(cfg: &crate::config::Config, ca_file: Option<&str>, epoch: u64) -> FetchOptions {
    FetchOptions {
        repodata: RepodataOptions {
            source_date_epoch: Some(epoch),
            ..RepodataOptions::default()
        },
        http: buildchain_http::Config {
            ca_file: ca_file.map(|f| cfg.repo_root.join(f)),
            ..Default::default()
        },
        arches: cfg.versions.download_arches(),
        ..FetchOptions::default()
    }
}

/// Resolves a group of downloaded packages over its repositories (network), preferring
/// `preferred`: what `buildchain lock` records (see `lock/rpms.rs`).
pub fn resolve(
    cfg: &crate::config::Config,
    group: &RpmGroup,
    preferred: &Preferred,
) -> Result<Vec<LockedRpm>> {
    let declared = |id: &str| cfg.declared.repositories.iter().find(|r| r.id == id);
    let ca_files: BTreeSet<&str> = group
        .repositories
        .iter()
        .filter_map(|r| declared(&r.id).and_then(|r| r.ca_file.as_deref()))
        .collect();
    if ca_files.len() > 1 {
        bail!(
            "the repositories of release {} name different ca_file ({}): they are read together, give them one CA file",
            group.release,
            ca_files.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let options = fetch_options(cfg, ca_files.into_iter().next(), cfg.epoch.unsigned());
    let repositories: Vec<buildchain_rpm::fetch::Repository> = group
        .repositories
        .iter()
        .map(|r| buildchain_rpm::fetch::Repository {
            id: r.id.clone(),
            base_url: r.url.clone(),
            gpg_keys: Vec::new(),
            download: !r.base,
        })
        .collect();
    let requests: Vec<PackageRequest> = group
        .requests
        .iter()
        .map(|r| PackageRequest {
            name: r.name.clone(),
            version: r.version.clone(),
            repository: Some(r.repository.clone()),
        })
        .collect();
    let resolved = resolve_packages(&repositories, &requests, preferred, &options)
        .map_err(|e| anyhow!("{e}"))?;
    // Packages whose repodata gives another checksum are downloaded to be hashed: in the
    // system's temporary directory (the build root may not exist, and `lock` must not make
    // one that builds would refuse as unmarked).
    let scratch = std::env::temp_dir();
    resolved
        .into_iter()
        .map(|p| {
            let (location, sha256, size) = if p.download {
                let repository = repositories
                    .iter()
                    .find(|r| r.id == p.repository)
                    .context("a package of an unknown repository")?;
                let sha256 = remote_sha256(repository, &p.remote_file(), &scratch, &options)
                    .map_err(|e| anyhow!("{e}"))?;
                (Some(p.location.clone()), Some(sha256), p.size)
            } else {
                (None, None, None)
            };
            let (required_by, requirement) = match &p.required_by {
                Some((by, requirement)) => (Some(by.clone()), Some(requirement.clone())),
                None => (None, None),
            };
            Ok(LockedRpm {
                name: p.name.clone(),
                version: p.evr.clone(),
                arch: p.arch.clone(),
                repository: p.repository.clone(),
                location,
                sha256,
                size,
                direct: required_by.is_none(),
                pulled_by: p.pulled_by.clone(),
                required_by,
                requirement,
            })
        })
        .collect()
}

/// `_package_repodata:<id>`: removes from the repository directory the packages and keys no
/// task of this definition produces (older versions, dropped entries) and temporaries of
/// interrupted runs, then writes `repodata/` for what remains.
fn repodata_task(
    cfg: &Cfg,
    repo: &Repository,
    arch: &Option<String>,
    dir: &Path,
    built: Vec<String>,
    epoch: u64,
) -> Result<Task> {
    let dir = dir.to_path_buf();
    let manifest = downloads_manifest(cfg, repo);
    let has_downloads = repo.url.is_some()
        && cfg
            .versions
            .packages
            .iter()
            .any(|p| p.repository == repo.id && p.source == PackageSource::Download);
    let mut task = Task::new(per_dir("_package_repodata", repo, arch))
        .doc(format!(
            "Write the repository metadata (repodata/) of {}{}.",
            repo.id,
            arch.as_ref()
                .map(|a| format!(" for {a}"))
                .unwrap_or_default()
        ))
        .target(dir.join("repodata"));
    // A repository we do not download from may still name its key: copied next to the
    // packages, where salt's yum configuration expects it.
    let mut local_key_copy = None;
    if let (None, Some(key)) = (&repo.url, &repo.gpg_key) {
        if is_url(key) {
            bail!(
                "versions.toml [[repositories]] {}: gpg_key {key:?} is a URL but the repository has no url (nothing is downloaded for it): give a path relative to the repository root",
                repo.id
            );
        }
        let source = local_key(cfg, repo, key)?;
        let target = dir.join(gpg_key_name(repo));
        task = task.file_dep(source.clone()).target(target.clone());
        local_key_copy = Some((source, target));
    }
    // Signed: repodata/repomd.xml.asc, and the public key next to the packages.
    let signing = cfg.signing.clone();
    let signing_key = signing.as_ref().map(|_| dir.join(repo.signing_key_name()));
    if let Some(path) = &signing_key {
        task = task
            .target(path.clone())
            .target(dir.join("repodata/repomd.xml.asc"));
    }
    let version = format!(
        "write_repodata v3 epoch={epoch} built={} downloads={has_downloads} key={:?} signed_by={}",
        built.join(","),
        repo.gpg_key,
        cfg.signed_by()
    );
    let expected_built: Vec<PathBuf> = built.iter().map(|n| dir.join(n)).collect();
    let (calc_dir, calc_manifest) = (dir.clone(), manifest.clone());
    let check_dir = dir.clone();
    let key_name = local_key_copy.as_ref().map(|(_, t)| gpg_key_name_of(t));
    let signing_key_file = signing_key.as_ref().map(|p| gpg_key_name_of(p));
    // What the repository directory holds besides repodata/: its built packages, its
    // downloads (per the download manifest), its key.
    let own_entries = move || -> Vec<String> {
        let mut keep = built.clone();
        if has_downloads {
            keep.extend(DownloadManifest::names_at(&manifest));
        }
        keep.extend(key_name.clone());
        keep.extend(signing_key_file.clone());
        keep
    };
    let keep_of_check = own_entries.clone();
    let task = task
        .version(version)
        .calc_file_deps(move || -> Result<Vec<PathBuf>> {
            let mut deps = expected_built.clone();
            if has_downloads {
                deps.extend(
                    DownloadManifest::names_at(&calc_manifest)
                        .into_iter()
                        .map(|n| calc_dir.join(n)),
                );
            }
            Ok(deps)
        })
        // The repository directory holds exactly its packages, key and repodata: anything
        // else (a stray file, a link, a killed writer's temporary) makes the task run and
        // remove it.
        .uptodate(move || -> Result<bool> {
            Ok(foreign_entries(&check_dir, &keep_of_check())?.is_empty())
        })
        .action(move |ctx| -> Result<()> {
            if let Some((source, target)) = &local_key_copy {
                let bytes = fs::read(source)
                    .with_context(|| format!("{}: cannot read the GPG key", source.display()))?;
                write_atomic(target, &bytes, Some(0o644))?;
            }
            for path in remove_foreign_entries(&dir, &own_entries())? {
                ctx.log(format!("removed {} (produced by no task)", path.display()));
            }
            let report = write_repodata(
                &dir,
                &RepodataOptions {
                    source_date_epoch: Some(epoch),
                    ..RepodataOptions::default()
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
            ctx.log(format!(
                "{} package(s) indexed in {}",
                report.packages,
                report.repomd.display()
            ));
            if let (Some(key), Some(key_file)) = (&signing, &signing_key) {
                let repomd = fs::read(&report.repomd)
                    .with_context(|| format!("{}: cannot read", report.repomd.display()))?;
                let signature = key
                    .sign_detached(&repomd, epoch)
                    .map_err(|e| anyhow!("{e}"))?;
                let asc = report.repomd.with_extension("xml.asc");
                write_atomic(&asc, signature.as_bytes(), Some(0o644))?;
                write_atomic(key_file, key.public_key_armored().as_bytes(), Some(0o644))?;
                ctx.log(format!(
                    "signed {} with {}",
                    asc.display(),
                    key.fingerprint()
                ));
            }
            Ok(())
        });
    // Cleaning removes the targets: repodata/ and the key copy.
    Ok(task)
}

fn gpg_key_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

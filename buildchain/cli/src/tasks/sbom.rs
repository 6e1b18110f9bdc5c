//! `_iso_sbom`: `sbom.spdx.json` at the ISO root (SPDX 2.3), written from what
//! the build shipped (buildchain-sbom): every image of `root/images/` with its layers and
//! platform, every RPM of `root/packages/` with its sha256 and license, the packages of
//! base repositories the lock resolved against, and the requirements the lock records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use buildchain_fs::write_atomic;
use buildchain_graph::Task;
use buildchain_sbom::{image_from_dir, Image, Rpm, Sbom, SpdxId, Supplier};

use super::iso::MKDIR_ROOT;
use super::Cfg;
use crate::config::Config;

pub const TASK: &str = "_iso_sbom";
pub const FILE: &str = "sbom.spdx.json";

pub fn task(cfg: &Cfg) -> Task {
    let target = cfg.iso_root().join(FILE);
    let (cfg2, cfg3) = (cfg.clone(), cfg.clone());
    Task::new(TASK)
        .cacheable()
        .doc("Write sbom.spdx.json (SPDX 2.3): every image, layer and RPM the ISO ships.")
        .task_deps([MKDIR_ROOT, "images", "packaging"])
        .file_deps([cfg.repo("VERSION"), cfg.repo("versions.toml")])
        .calc_file_deps(move || shipped_files(&cfg3))
        .target(target.clone())
        // The whole lock (base packages and requirements are in the SBOM too).
        .version(format!(
            "sbom v1 {} {} epoch={} pins={} lock={}",
            cfg.product_id(),
            cfg.project_name,
            cfg.epoch.unsigned(),
            super::salt::lock_pins(cfg),
            cfg.lock_text.as_deref().map_or_else(String::new, |text| {
                use sha2::Digest as _;
                format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
            })
        ))
        .action(move |_| -> Result<()> {
            let text = render(&cfg2)?;
            write_atomic(&target, text.as_bytes(), Some(0o644))
                .with_context(|| format!("{}: cannot write", target.display()))
        })
}

/// What the SBOM describes: the images' manifests and the RPMs of the ISO tree.
fn shipped_files(cfg: &Config) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = image_dirs(cfg)
        .into_iter()
        .map(|(_, dir)| dir.join("manifest.json"))
        .filter(|m| m.is_file())
        .collect();
    files.extend(rpm_files(cfg)?.into_iter().map(|(_, path)| path));
    Ok(files)
}

/// Each image of versions.toml and its directory in the ISO tree.
fn image_dirs(cfg: &Config) -> Vec<(&crate::versions::Image, PathBuf)> {
    cfg.versions
        .images
        .iter()
        .map(|i| {
            (
                i,
                cfg.iso_root().join("images").join(&i.name).join(&i.version),
            )
        })
        .collect()
}

/// Each RPM of the shipped repositories, with its repository: once, though a noarch
/// package is in the directory of each architecture.
fn rpm_files(cfg: &Config) -> Result<Vec<(&crate::versions::Repository, PathBuf)>> {
    let mut files = Vec::new();
    for repo in cfg.versions.shipped_repositories() {
        let mut seen = std::collections::BTreeSet::new();
        for (_, dir) in super::packaging::repo_dirs(cfg, repo) {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("{}: cannot list", dir.display())),
            };
            let mut names: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
                .filter(|p| p.file_name().is_some_and(|n| seen.insert(n.to_os_string())))
                .collect();
            names.sort();
            files.extend(names.into_iter().map(|p| (repo, p)));
        }
    }
    Ok(files)
}

/// The image shipped in `dir` (skopeo `dir:` layout).
fn image(cfg: &Config, entry: &crate::versions::Image, dir: &Path) -> Result<Image> {
    let (source, supplier) = if entry.is_built() {
        (None, Supplier::Organization(cfg.project_name.clone()))
    } else {
        let remote = entry.remote_name.as_deref().unwrap_or(&entry.name);
        (
            Some(format!("{}/{remote}", entry.source)),
            Supplier::NoAssertion,
        )
    };
    image_from_dir(
        dir,
        &entry.name,
        &entry.version,
        source,
        entry.digest.clone(),
        supplier,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The SBOM of the ISO tree as it is now.
pub fn render(cfg: &Config) -> Result<String> {
    let mut sbom = Sbom::new(
        &cfg.product_id(),
        &cfg.project_name,
        &cfg.version.full(),
        &cfg.project_name,
        &crate::epoch::format_utc(cfg.epoch.seconds),
        concat!("buildchain-", env!("CARGO_PKG_VERSION")),
    );
    for (entry, dir) in image_dirs(cfg) {
        if dir.join("manifest.json").is_file() {
            sbom.add_image(&image(cfg, entry, &dir)?);
        }
    }
    let locked = &cfg.versions.rpm_pins.entries;
    let url_of = |id: &str| {
        cfg.versions
            .repositories
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.url.clone())
    };
    // NEVRA → id, for the requirements the lock records.
    let mut ids: BTreeMap<String, SpdxId> = BTreeMap::new();
    for (repo, path) in rpm_files(cfg)? {
        let header =
            buildchain_rpm::read_package_header(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // Downloaded when the lock records this file for this repository.
        let downloaded = locked.iter().find(|(r, _)| {
            r.repository == repo.id
                && r.location.as_deref().and_then(|l| l.rsplit('/').next()) == file_name.as_deref()
        });
        let rpm = Rpm {
            name: header.name.clone(),
            epoch: header.epoch,
            version: header.version.clone(),
            release: header.release.clone(),
            arch: header.arch.clone(),
            sha256: Some(buildchain_fs::sha256_file(&path)?),
            license: Some(header.license.clone()),
            repository: repo.id.clone(),
            download_location: downloaded.and_then(|(r, _)| {
                let url = url_of(&r.repository)?;
                Some(format!(
                    "{}/{}",
                    url.trim_end_matches('/'),
                    r.location.as_deref()?
                ))
            }),
            supplier: match downloaded {
                Some(_) => Supplier::NoAssertion,
                None => Supplier::Organization(cfg.project_name.clone()),
            },
        };
        let nevra = format!("{}-{}.{}", rpm.name, rpm.evr(), rpm.arch);
        let id = sbom.add_rpm(&rpm);
        ids.insert(nevra, id);
    }
    // The packages of base repositories the lock resolved against: not shipped.
    for (entry, _) in locked.iter().filter(|(r, _)| r.location.is_none()) {
        let evr = buildchain_rpm::Evr::parse(&entry.version)
            .with_context(|| format!("versions.lock: [[rpm]] {}: bad version", entry.nevra()))?;
        let id = sbom.add_rpm(&Rpm {
            name: entry.name.clone(),
            epoch: evr.epoch,
            version: evr.version.clone(),
            release: evr.release.clone().unwrap_or_default(),
            arch: entry.arch.clone(),
            sha256: None,
            license: None,
            repository: entry.repository.clone(),
            download_location: None,
            supplier: Supplier::NoAssertion,
        });
        ids.insert(entry.nevra(), id);
    }
    for (entry, _) in locked {
        let by = entry.required_by.as_ref().and_then(|by| ids.get(by));
        if let (Some(from), Some(to)) = (by, ids.get(&entry.nevra())) {
            sbom.depends_on(&from.clone(), &to.clone());
        }
    }
    Ok(sbom.render())
}

//! `salt-tree`: the Salt states and pillar of the ISO, with the generated
//! `salt/metalk8s/versions.json` and the two registry includes.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use buildchain_graph::Task;
use static_container_registry::{generate, Constants, Options};

use super::iso::MKDIR_ROOT;
use super::{files_under, Cfg};
use crate::config::Config;
use crate::fsutil;
use crate::templates;

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    Ok(vec![
        Task::new("salt-tree")
            .doc("Deploy the Salt tree (salt/ and pillar/) inside the ISO.")
            .subtasks(["_salt_tree:salt", "_salt_tree:pillar"]),
        salt(cfg)?,
        pillar(cfg)?,
    ])
}

/// The options of the per-image include: names under `<product_id>/`, served from the
/// nginx variable `$<product_id with . and - as _>_images`.
pub fn registry_options(cfg: &Config) -> Options {
    let var = cfg.product_id().replace(['.', '-'], "_");
    Options {
        name_prefix: format!("{}/", cfg.product_id()),
        server_root: format!("${var}_images"),
        constants: Constants::Omit,
    }
}

/// The generated `metalk8s/versions.json` of the salt tree (sorted keys, indent 2). An
/// image shipped as an index (several platforms) records, in each of its `versions`
/// entries, `platforms`: each platform and its manifest's digest, as `images` holds them.
pub fn versions_json(cfg: &Config, images: &Path) -> Result<String> {
    let mut json = cfg
        .versions
        .to_salt_json(&cfg.version.full(), cfg.signing.is_some());
    let shipped = shipped_platforms(images)?;
    if let Some(serde_json::Value::Object(by_name)) = json.get_mut("images") {
        for (name, entry) in by_name.iter_mut() {
            let Some(serde_json::Value::Array(versions)) = entry.get_mut("versions") else {
                continue;
            };
            for version in versions {
                let tag = version
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                if let Some(platforms) = shipped.get(&(name.clone(), tag.to_string())) {
                    version["platforms"] = serde_json::json!(platforms);
                }
            }
        }
    }
    Ok(serde_json::to_string_pretty(&json)? + "\n")
}

/// The images under `images` (`<name…>/<tag>/manifest.json`) that are indexes: each
/// platform they list and its manifest digest.
fn shipped_platforms(
    images: &Path,
) -> Result<std::collections::BTreeMap<(String, String), std::collections::BTreeMap<String, String>>>
{
    use buildchain_oci_types::Manifest;
    let mut out = std::collections::BTreeMap::new();
    for path in image_manifests(images)? {
        if path.file_name().is_none_or(|n| n != "manifest.json") {
            continue;
        }
        let Some(tag_dir) = path.parent() else {
            continue;
        };
        let (Some(tag), Some(name)) = (
            tag_dir.file_name().and_then(|t| t.to_str()),
            tag_dir
                .parent()
                .and_then(|n| n.strip_prefix(images).ok())
                .and_then(|n| n.to_str()),
        ) else {
            continue;
        };
        let bytes = fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        if let Ok(Manifest::Index { entries, .. }) = Manifest::parse(&bytes, None) {
            let platforms = entries
                .iter()
                .filter_map(|e| Some((e.platform.as_ref()?.to_string(), e.digest.to_string())))
                .filter(|(_, digest)| {
                    let hex = digest.trim_start_matches("sha256:");
                    tag_dir.join(format!("{hex}.manifest.json")).is_file()
                })
                .collect();
            out.insert((name.to_string(), tag.to_string()), platforms);
        }
    }
    Ok(out)
}

/// `manifest.json` files of the images in the ISO: what the registry include is made of.
fn image_manifests(images: &Path) -> Result<Vec<PathBuf>> {
    Ok(files_under(images)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().ends_with("manifest.json"))
                .unwrap_or(false)
        })
        .collect())
}

/// The pin of every pulled image and downloaded package, as versions.json records them
/// (one line).
pub fn lock_pins(cfg: &Config) -> String {
    let images = cfg
        .versions
        .images
        .iter()
        .filter_map(|i| Some(format!("{}:{}@{}", i.name, i.version, i.digest.as_deref()?)));
    let packages = cfg.versions.packages.iter().filter_map(|p| {
        let version = cfg.versions.locked_version(p)?;
        Some(format!("{}/{}={version}", p.repository, p.name))
    });
    images.chain(packages).collect::<Vec<_>>().join(",")
}

fn salt(cfg: &Cfg) -> Result<Task> {
    let src = cfg.repo("salt");
    let dst = cfg.iso_root().join("salt");
    let cfg2 = cfg.clone();
    let cfg3 = cfg.clone();
    let opts = registry_options(cfg);
    Ok(Task::new("_salt_tree:salt")
        .cacheable()
        .doc("Copy salt/ (rendering *.in), write metalk8s/versions.json and the registry includes.")
        .task_deps([MKDIR_ROOT, "images"])
        .tree_dep(src.clone())
        .file_deps([cfg.repo("VERSION"), cfg.repo("versions.toml")])
        // The images present once `images` ran make the registry include.
        .calc_file_deps(move || image_manifests(&cfg3.iso_root().join("images")))
        .target(dst.clone())
        // versions.json records the pins, which versions.lock may change alone.
        .version(format!(
            "salt v2 {} {opts:?} pins={} signed_by={}",
            templates::context_version(cfg),
            lock_pins(cfg),
            cfg.signed_by()
        ))
        .action(move |_| -> Result<()> {
            write_salt_tree(&cfg2, &cfg2.iso_root().join("images"), &dst)
        }))
}

/// The Salt tree of the ISO at `dst` (replaced whole): `salt/` with its `*.in` rendered,
/// `metalk8s/versions.json` and the registry includes of the images under `images`.
pub fn write_salt_tree(cfg: &Config, images: &Path, dst: &Path) -> Result<()> {
    let src = cfg.repo("salt");
    let ctx = templates::context(cfg);
    // Generated before touching the tree: a bad image fails the task cleanly.
    let common = generate(
        images,
        &Options {
            constants: Constants::Only,
            ..registry_options(cfg)
        },
    )
    .context("registry include (constants)")?;
    let per_image = generate(images, &registry_options(cfg))
        .with_context(|| format!("registry include for {}", images.display()))?;
    let versions = versions_json(cfg, images)?;
    buildchain_fs::replace_dir(dst, |tmp| -> Result<()> {
        fsutil::copy_tree(&src, tmp, Some(&ctx))?;
        let meta = tmp.join("metalk8s");
        let files = meta.join("repo/files");
        fs::create_dir_all(&files)
            .with_context(|| format!("{}: cannot create", files.display()))?;
        fsutil::write_file(&meta.join("versions.json"), versions.as_bytes(), 0o644)?;
        fsutil::write_file(
            &files.join("metalk8s-registry-common.inc"),
            common.as_bytes(),
            0o644,
        )?;
        fsutil::write_file(
            &files.join("metalk8s-registry.inc"),
            per_image.as_bytes(),
            0o644,
        )?;
        Ok(())
    })
}

fn pillar(cfg: &Cfg) -> Result<Task> {
    let src = cfg.repo("pillar");
    let dst = cfg.iso_root().join("pillar");
    let cfg2 = cfg.clone();
    Ok(Task::new("_salt_tree:pillar")
        .doc("Copy pillar/ (rendering *.in).")
        .task_dep(MKDIR_ROOT)
        .tree_dep(src.clone())
        .file_deps([cfg.repo("VERSION"), cfg.repo("versions.toml")])
        .target(dst.clone())
        .version(format!("pillar v1 {}", templates::context_version(cfg)))
        .action(move |_| -> Result<()> {
            let ctx = templates::context(&cfg2);
            buildchain_fs::replace_dir(&dst, |tmp| fsutil::copy_tree(&src, tmp, Some(&ctx)))
        }))
}

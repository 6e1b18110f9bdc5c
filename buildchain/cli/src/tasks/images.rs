//! `images`: the container images of `versions.toml`, in `$BUILD_ROOT/root/images/`.
//!
//! - `_image_build:<name>` for `source = "build"` entries: built natively and reproducibly
//!   from `images/<name>/image.toml` (buildchain-oci), layer mtimes and the config's
//!   `created` set to the image epoch ([`image_epoch`]);
//! - `_image_pull:<name>` for the others: pulled from the registry `source` by the pinned
//!   digest into skopeo's `dir:` layout, every digest verified, blobs kept once in
//!   `$BUILD_ROOT/cache/blobs/sha256/` and hardlinked into the image directory; up to date
//!   (no network) while the image directory still holds the pinned manifest and its blobs;
//! - `_image_dedup_layers`, after all of them: identical files of `root/images/` become
//!   hardlinks of one inode, which the ISO writer stores once.
//!
//! A name listed with several versions gets one task per version (`_image_build:<name>:<version>`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context as _, Result};
use buildchain_fs::dedup::dedup_tree;
use buildchain_graph::Task;
use buildchain_oci::build::{
    build_image, build_index, input_files_for, Base, BuildContext, ImageDefinition,
};
use buildchain_oci::{
    pull_image, BarsProgress, KeepIndex, NoProgress, OciError, Progress, PullOptions,
};
use buildchain_oci_types::{Digest, ImageReference, Platform};

use super::iso::MKDIR_ROOT;
use super::{mkdir_task, Cfg};
use crate::config::Config;
use crate::versions::Image;

pub const MKDIR: &str = "_image_mkdir_root";
pub const DEDUP: &str = "_image_dedup_layers";

/// `root/images/<name>/<version>/`: where an image goes (skopeo `dir:` layout).
pub fn image_dir(cfg: &Cfg, image: &Image) -> PathBuf {
    cfg.iso_root()
        .join("images")
        .join(&image.name)
        .join(&image.version)
}

/// Layer mtimes and `created` of built images: the build's epoch (see `epoch.rs`).
pub fn image_epoch(cfg: &Cfg) -> u64 {
    cfg.epoch.unsigned()
}

/// The blob cache of pulls: `<cache>/blobs/sha256/<hex>`.
pub fn pull_cache(cfg: &Cfg) -> PathBuf {
    cfg.build_root.join("cache")
}

/// `_image_build:<name>` / `_image_pull:<name>` (`…:<name>:<version>` for a name listed twice).
pub fn task_name(cfg: &Cfg, image: &Image) -> String {
    let kind = if image.is_built() {
        "_image_build"
    } else {
        "_image_pull"
    };
    let listed = cfg
        .versions
        .images
        .iter()
        .filter(|i| i.name == image.name)
        .count();
    if listed > 1 {
        format!("{kind}:{}:{}", image.name, image.version)
    } else {
        format!("{kind}:{}", image.name)
    }
}

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let mut tasks = vec![mkdir_task(
        MKDIR,
        "Create the images directory of the ISO.",
        cfg.iso_root().join("images"),
        &[MKDIR_ROOT],
    )];
    let mut group = Task::new("images")
        .doc("Pull/build the container images.")
        .subtask(MKDIR);
    let mut names = Vec::new();
    for image in &cfg.versions.images {
        let task = image_task(cfg, image)?;
        names.push(task.name().to_string());
        group = group.subtask(task.name().to_string());
        tasks.push(task.task_dep(MKDIR));
    }
    tasks.push(dedup_task(cfg, names));
    tasks.push(group.subtask(DEDUP));
    Ok(tasks)
}

/// The task producing one image of `versions.toml`.
fn image_task(cfg: &Cfg, image: &Image) -> Result<Task> {
    if image.is_built() {
        Ok(build_task(cfg, image))
    } else {
        pull_task(cfg, image)
    }
}

fn build_task(cfg: &Cfg, image: &Image) -> Task {
    let def_dir = cfg.repo(&format!("images/{}", image.name));
    let dest = image_dir(cfg, image);
    let epoch = image_epoch(cfg);
    let mut ctx = BuildContext::new(&cfg.repo_root, epoch);
    ctx.build_root = Some(cfg.build_root.clone());
    let mut task = Task::new(task_name(cfg, image)).doc(format!(
        "Build the image {}:{} from images/{}/image.toml.",
        image.name, image.version, image.name
    ));
    // A base image listed in versions.toml is built/pulled first. (A definition that does
    // not load fails the task when it runs, not the whole command line.)
    let mut bases = Vec::new();
    if let Ok(def) = ImageDefinition::load(&def_dir) {
        if let Base::Image(base) = &def.base {
            if let Some(b) = cfg.versions.images.iter().find(|i| &i.name == base) {
                ctx.base_images.insert(base.clone(), image_dir(cfg, b));
                task = task.task_dep(task_name(cfg, b));
                bases.push(format!("{}:{}", b.name, b.version));
            }
        }
    }
    // Several platforms: one build each, published as an index. None or one: the image
    // as image.toml (or that one platform) says.
    let platforms = cfg.versions.platforms_of(image);
    let version = format!(
        "image-build v1 {}:{} epoch={epoch} format={:?} bases={bases:?}{}",
        image.name,
        image.version,
        ctx.format,
        platforms
            .as_ref()
            .map(|p| format!(" platforms={}", join(p)))
            .unwrap_or_default()
    );
    let ctx = Arc::new(ctx);
    let (dir2, ctx2, platforms2) = (def_dir.clone(), ctx.clone(), platforms.clone());
    // The image directory is a target: the engine stamps each of its files, so a missing
    // or damaged blob re-runs the build.
    task.target(dest.clone())
        .cacheable()
        .version(version)
        .calc_file_deps(move || -> Result<Vec<PathBuf>> {
            let def = ImageDefinition::load(&dir2)?;
            let platforms = platforms2
                .clone()
                .unwrap_or_else(|| vec![def.platform.clone()]);
            Ok(input_files_for(&def, &ctx2, &platforms)?)
        })
        .action(move |tctx| -> Result<()> {
            let def = ImageDefinition::load(&def_dir)?;
            match platforms.as_deref() {
                Some(several @ [_, _, ..]) => {
                    let report = build_index(&def, &ctx, several, &dest)?;
                    tctx.log(format!(
                        "{}: index {}, {}",
                        report.image,
                        report.index_digest,
                        report
                            .platforms
                            .iter()
                            .map(|(p, d)| format!("{p} {d}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                one => {
                    // `{arch}` is the image's architecture, even with its own platform.
                    let platform = match one {
                        Some([platform]) => platform.clone(),
                        _ => def.platform.clone(),
                    };
                    let def = def.for_platform(&platform);
                    let report = build_image(&def, &ctx, &dest)?;
                    tctx.log(format!(
                        "{}: manifest {}, {} layers",
                        report.image,
                        report.manifest_digest,
                        report.layers.len()
                    ));
                }
            }
            announce_blobs(tctx, &dest);
            Ok(())
        })
}

/// How `image` is reached: its reference (`source/remote:tag`, `@digest` when pinned) and
/// the registry settings of `versions.toml` (`[[registries]]`: plain HTTP, auth file, CA).
pub struct Remote {
    pub reference: ImageReference,
    pub insecure: bool,
    pub auth_name: Option<String>,
    pub ca_name: Option<String>,
    pub auth_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

impl Remote {
    pub fn of(cfg: &Config, image: &Image) -> Result<Remote> {
        let entry = || format!("versions.toml: [[images]] {} {}", image.name, image.version);
        let remote = image.remote_name.as_deref().unwrap_or(&image.name);
        let pin = image
            .digest
            .as_deref()
            .map(|d| format!("@{d}"))
            .unwrap_or_default();
        let text = format!("{}/{remote}:{}{pin}", image.source, image.version);
        let reference = ImageReference::parse(&text).with_context(entry)?;
        let registry = cfg.versions.registry(&image.source);
        let auth_name = registry.and_then(|r| r.auth_file.clone());
        let ca_name = registry.and_then(|r| r.ca_file.clone());
        Ok(Remote {
            reference,
            insecure: registry.is_some_and(|r| r.insecure),
            auth_file: auth_name.as_ref().map(|f| cfg.repo_root.join(f)),
            ca_file: ca_name.as_ref().map(|f| cfg.repo_root.join(f)),
            auth_name,
            ca_name,
        })
    }

    /// Pull options for this registry (the caller adds cache, progress…).
    pub fn options(&self) -> PullOptions {
        PullOptions {
            insecure: self.insecure,
            auth_file: self.auth_file.clone(),
            http: buildchain_oci::HttpConfig {
                ca_file: self.ca_file.clone(),
                ..Default::default()
            },
            ..PullOptions::default()
        }
    }
}

/// `linux/amd64,linux/arm64`.
fn join(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(Platform::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// What `image`'s tag (or pin) names on its registry now, as `versions.lock` records it
/// (`manifest`: the one of its first platform).
pub fn resolve(cfg: &Config, image: &Image) -> Result<crate::lock::LockedImage> {
    let remote = Remote::of(cfg, image)?;
    let mut options = remote.options();
    if let Some(first) = cfg
        .versions
        .platforms_of(image)
        .and_then(|p| p.into_iter().next())
    {
        options.platform = first;
    }
    let resolved = buildchain_oci::resolve_image(&remote.reference, &options)?;
    // Every platform the image is shipped for must be in its index: said now, at lock
    // time, rather than by a pull that a new lock cannot mend.
    if let Some(wanted) = cfg.versions.platforms_of(image).filter(|p| p.len() > 1) {
        if resolved.platforms.is_empty() {
            anyhow::bail!(
                "{}: one manifest, not an index: it serves one platform, not {}: list its platform in the image's `platforms`",
                remote.reference,
                join(&wanted)
            );
        }
        {
            let listed: Vec<Platform> = resolved
                .platforms
                .keys()
                .filter_map(|p| Platform::parse(p).ok())
                .collect();
            if let Some(missing) = wanted
                .iter()
                .find(|w| !listed.iter().any(|l| w.is_served_by(l)))
            {
                anyhow::bail!(
                    "{}: its index has no {missing} manifest (it has {}): list the image's own platforms in its `platforms`, or pick another tag",
                    remote.reference,
                    resolved.platforms.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(crate::lock::LockedImage {
        name: image.name.clone(),
        tag: image.version.clone(),
        source: image.source.clone(),
        remote_name: image.remote_name.clone(),
        digest: resolved.digest.to_string(),
        manifest: resolved.manifest_digest.to_string(),
        platforms: resolved
            .platforms
            .into_iter()
            .map(|(p, d)| (p, d.to_string()))
            .collect(),
    })
}

fn pull_task(cfg: &Cfg, image: &Image) -> Result<Task> {
    let Some(pin) = image.digest.clone() else {
        // No pin and no lock entry (list, info, clean resolve nothing): fails when run.
        let what = format!("{} {}", image.name, image.version);
        return Ok(Task::new(task_name(cfg, image))
            .doc(format!("Pull the image {what} (not locked yet)."))
            .always_run()
            .action(move |_| -> Result<()> {
                anyhow::bail!(
                    "versions.toml [[images]] {what}: no digest and no versions.lock entry: run `buildchain lock`"
                )
            }));
    };
    let remote = Remote::of(cfg, image)?;
    let mut registry_options = remote.options();
    let platforms = cfg
        .versions
        .platforms_of(image)
        .unwrap_or_else(|| vec![Platform::default()]);
    let locked = image.locked.clone();
    if let [platform] = platforms.as_slice() {
        registry_options.platform = platform.clone();
        // Pinned by versions.lock: the manifest it recorded for this platform is the one
        // kept, and a refusal says which entry to update.
        if let Some(pin) = &locked {
            let locked = pin.platforms.iter().find(|(listed, _)| {
                Platform::parse(listed).is_ok_and(|listed| platform.is_served_by(&listed))
            });
            let manifest = match locked {
                Some((_, manifest)) => manifest,
                None if pin.platforms.is_empty() => &pin.manifest,
                None => anyhow::bail!(
                    "versions.lock:{}: {} {} has no {platform} manifest (it lists {}): run `buildchain lock --update {}`",
                    pin.line,
                    image.name,
                    image.version,
                    pin.platforms.keys().cloned().collect::<Vec<_>>().join(", "),
                    image.name
                ),
            };
            registry_options.expected_manifest = Some(
                Digest::parse(manifest)
                    .map_err(|e| anyhow::anyhow!("versions.lock:{}: manifest: {e}", pin.line))?,
            );
        }
    } else {
        // The index as published, with these platforms.
        registry_options.keep_index = Some(KeepIndex::Platforms(platforms.clone()));
    }
    let lock_hint = locked.as_ref().map(|pin| {
        let at = crate::lock::at_line(pin.line);
        if pin.pinned_in_versions_toml {
            format!("pinned by versions.toml (and {at}): check its digest")
        } else {
            format!(
                "pinned by {at}: if the registry no longer serves it, run `buildchain lock --update {}`",
                image.name
            )
        }
    });
    let locked_manifest = locked.map(|pin| pin.manifest).unwrap_or_default();
    let Remote {
        reference,
        insecure,
        auth_name,
        ca_name,
        ..
    } = remote;
    let text = reference.to_string();
    let dest = image_dir(cfg, image);
    let cache = pull_cache(cfg);
    let what = format!("{}:{} from {}", image.name, image.version, image.source);
    Ok(Task::new(task_name(cfg, image))
        .doc(format!(
            "Pull the image {text}{} (pinned, every digest verified).",
            if insecure { " over plain HTTP" } else { "" }
        ))
        // The pin is in the version, and the engine stamps every file of the image
        // directory: up to date, with no network, while it holds what was pulled.
        .target(dest.clone())
        .cacheable()
        .version(format!(
            "image-pull v2 {text} manifest={locked_manifest} insecure={insecure} auth_file={auth_name:?} ca_file={ca_name:?} platform={}",
            join(&platforms)
        ))
        .action(move |tctx| -> Result<()> {
            let options = PullOptions {
                cache_dir: Some(cache.clone()),
                progress: pull_progress(),
                // The image directory is this task's own.
                overwrite: true,
                ..registry_options.clone()
            };
            let report = match pull_image(&reference, &dest, &options) {
                Ok(report) => report,
                Err(e) => {
                    // Whatever is there is not the pinned image: leave nothing behind.
                    if !manifest_is(&dest, &pin) {
                        let _ = std::fs::remove_dir_all(&dest);
                    }
                    let e = match e {
                        // These name a path, not the image: say which pull.
                        e @ (OciError::Io { .. } | OciError::Fs(_)) => {
                            anyhow::Error::new(e).context(format!("pulling {what}"))
                        }
                        e => anyhow::Error::new(e),
                    };
                    // A platform the index lacks is not mended by a new lock.
                    let mendable = !e
                        .downcast_ref::<OciError>()
                        .is_some_and(|e| matches!(e, OciError::PlatformNotFound { .. }));
                    return Err(match &lock_hint {
                        Some(hint) if mendable => anyhow::anyhow!("{e:#} ({hint})"),
                        _ => e,
                    });
                }
            };
            tctx.log(format!(
                "{}: manifest {}{}, {} blobs, {} bytes downloaded, {} from the cache",
                report.image,
                report.manifest_digest,
                report
                    .index_digest
                    .map(|d| format!(" (from index {d})"))
                    .unwrap_or_default(),
                report.blobs,
                report.bytes_downloaded,
                report.bytes_from_cache
            ));
            announce_blobs(tctx, &dest);
            Ok(())
        }))
}

/// Tells the engine the sha256 of every blob a pull just verified or a build just wrote (a
/// blob's file name in the `dir:` layout is its digest): stamping the image directory
/// reads none of them again.
fn announce_blobs(tctx: &buildchain_graph::Context, dest: &Path) {
    let Ok(entries) = std::fs::read_dir(dest) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let named_by_digest = name
            .to_str()
            .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok());
        if let Some(digest) = named_by_digest {
            tctx.known_sha256(&entry.path(), digest.hex());
        }
    }
}

fn dedup_task(cfg: &Cfg, image_tasks: Vec<String>) -> Task {
    let dir = cfg.iso_root().join("images");
    Task::new(DEDUP)
        .doc("Hardlink identical files of root/images (shared layers are then stored once in the ISO).")
        .task_dep(MKDIR)
        .task_deps(image_tasks)
        .tree_dep(dir.clone())
        // A pull that ran again relinked its blobs from the cache: same content, links to
        // the other images undone (and the next ISO would store shared layers twice).
        .reruns_after_its_deps()
        .version("image-dedup v1")
        .action(move |tctx| -> Result<()> {
            if let Some(Some(bars)) = PULL_BARS.get() {
                bars.finish();
            }
            let r = dedup_tree(&dir)?;
            tctx.log(format!(
                "{}: {} files scanned, {} linked, {} bytes saved",
                dir.display(),
                r.files_scanned,
                r.files_linked,
                r.bytes_saved
            ));
            Ok(())
        })
}

/// The pull bars of this run, on the console's bars when they are shown.
static PULL_BARS: OnceLock<Option<Arc<BarsProgress>>> = OnceLock::new();

fn pull_progress() -> Arc<dyn Progress> {
    let bars = PULL_BARS
        .get_or_init(|| crate::reporter::shared_bars().map(|m| Arc::new(BarsProgress::new(m))));
    match bars {
        Some(b) => b.clone(),
        None => Arc::new(NoProgress),
    }
}

/// `dir/manifest.json` hashes to `digest`.
fn manifest_is(dir: &Path, digest: &str) -> bool {
    Digest::of_file(&dir.join("manifest.json")).is_ok_and(|(d, _)| d.to_string() == digest)
}

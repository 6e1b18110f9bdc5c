//! `delta` (defined with `--delta-from OLD` or `DELTA_FROM`): the delta ISO from OLD to the
//! ISO this build writes, `$BUILD_ROOT/delta/<name>-<old>-to-<new>.delta.iso`, with its
//! implanted MD5 and `SHA256SUM` next to it (signed in `SHA256SUM.asc` with SIGNING_KEY).
//! It holds what OLD lacks and the manifest of the whole new tree; `apply-delta.sh` on
//! the node rebuilds the new tree from OLD and checks every file (docs/installation.md).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use buildchain_fs::{write_atomic, StagingDir};
use buildchain_graph::Task;
use buildchain_iso9660::{write_image, IsoOptions};
use buildchain_release::delta::{self, Identity};
use buildchain_release::Archive;

use super::Cfg;

pub const TASK: &str = "delta";
pub const SIGN_TASK: &str = "_delta_sign";

/// The directory the delta and its sums are written to.
pub fn dir(cfg: &Cfg) -> PathBuf {
    cfg.build_root.join("delta")
}

/// The delta's tasks, when a build asks for one.
pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let Some(old) = cfg.delta_from.clone() else {
        return Ok(Vec::new());
    };
    // This build's own output is what the delta is made from, never what it applies to.
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let real_old = real(&old);
    for own in [cfg.iso_path(), cfg.iso_root(), dir(cfg)] {
        let own = real(&own);
        if real_old == own || real_old.starts_with(&own) {
            bail!(
                "--delta-from {}: this build writes it ({}): copy the earlier release elsewhere first",
                old.display(),
                own.display()
            );
        }
    }
    let old_version = match release_version(&old) {
        Ok(version) => version,
        // list, info and clean keep working; the delta fails, saying why, when it runs.
        Err(e) => {
            let message = format!("{e:#}");
            return Ok(vec![Task::new(TASK)
                .doc(format!("Write the delta ISO from {}.", old.display()))
                .version(format!("broken --delta-from: {message}"))
                .always_run()
                .action(move |_| -> Result<()> { bail!("{message}") })]);
        }
    };
    let name = format!(
        "{}-{old_version}-to-{}.delta.iso",
        cfg.project_name.to_lowercase(),
        cfg.version.full()
    );
    let dir = dir(cfg);
    let (iso, sums) = (dir.join(&name), dir.join("SHA256SUM"));
    let signed = sums.clone();
    let new_iso = cfg.iso_path();
    let volume_id = volume_id(cfg);
    let opts = IsoOptions {
        sha256: true,
        ..IsoOptions::metalk8s(&volume_id, Some(cfg.epoch.seconds))
    };
    let project = cfg.project_name.clone();
    let task = Task::new(TASK)
        .doc(format!(
            "Write the delta ISO from {} ({old_version}) to this build's ISO, and its SHA256SUM.",
            old.display()
        ))
        .task_dep("_iso_build")
        .file_dep(new_iso.clone());
    let task = if old.is_dir() {
        task.tree_dep(old.clone())
    } else {
        task.file_dep(old.clone())
    };
    let task = task
        .targets([iso.clone(), sums.clone()])
        .version(format!("delta v1 {name} format={} {opts:?}", delta::FORMAT))
        .action(move |ctx| -> Result<()> {
            remove_previous(&dir)?;
            // A damaged OLD would make a delta for an image no node has.
            if old.is_file() {
                use buildchain_iso9660::isomd5::{check, CheckOutcome};
                match check(&old).with_context(|| format!("{}: cannot check", old.display()))? {
                    CheckOutcome::Pass { .. } => {}
                    CheckOutcome::NoChecksum => ctx.log(format!(
                        "{}: no implanted MD5, not checked",
                        old.display()
                    )),
                    CheckOutcome::Fail { reason, .. } => bail!(
                        "--delta-from {}: its implanted MD5 does not match ({reason}): the ISO is damaged",
                        old.display()
                    ),
                }
            }
            let ((old_archive, old_inventory), (new_archive, new_inventory)) =
                buildchain_release::inventory::read_both(&old, &new_iso)?;
            let from = Identity {
                version: old_version.clone(),
                volume_id: old_inventory.volume_id.clone(),
                sha256: match old_archive.is_image() {
                    true => Some(buildchain_fs::sha256_file(&old)?),
                    false => None,
                },
            };
            let to = Identity {
                version: version_of(&new_archive, new_inventory.version())?,
                volume_id: Some(volume_id.clone()),
                sha256: None,
            };
            let staging = StagingDir::create(&dir.join("tree"))?;
            let summary = delta::write_tree(
                &old_inventory,
                &from,
                &new_archive,
                &new_inventory,
                &to,
                &project,
                staging.path(),
            )?;
            let image = write_image(staging.path(), &iso, &opts)
                .with_context(|| format!("{}: cannot write the delta", iso.display()))?;
            drop(staging);
            let sha256 = image.sha256.context("the ISO writer returned no SHA-256")?;
            ctx.known_sha256(&iso, &sha256);
            write_atomic(&sums, format!("{sha256}  {name}\n").as_bytes(), Some(0o644))
                .with_context(|| format!("{}: cannot write", sums.display()))?;
            let full = fs::metadata(&new_iso).map(|m| m.len()).unwrap_or(0);
            ctx.log(format!(
                "{name}: {} bytes (the full ISO: {full}); {} entries, {} files from {}, {} contents ({} bytes) in the delta",
                image.bytes, summary.entries, summary.from_old, summary.from_version, summary.objects, summary.object_bytes
            ));
            Ok(())
        });
    let mut tasks = vec![task];
    tasks.extend(super::iso::sign_task(cfg, SIGN_TASK, TASK, signed));
    Ok(tasks)
}

/// `<project> <version> delta`, within the 32 characters of a volume id.
fn volume_id(cfg: &Cfg) -> String {
    let id = format!("{} delta", cfg.volume_id());
    if id.len() <= 32 {
        id
    } else {
        format!("{} delta", cfg.project_name)
            .chars()
            .take(32)
            .collect()
    }
}

/// The VERSION of a release's product.txt, checked to be usable in a file name.
fn release_version(path: &Path) -> Result<String> {
    let archive = Archive::open(path).with_context(|| {
        format!(
            "--delta-from (or DELTA_FROM) {}: cannot read",
            path.display()
        )
    })?;
    let text = archive
        .read_small("product.txt", 64 << 10)?
        .with_context(|| {
            format!(
                "--delta-from {}: no product.txt at its root: not a release",
                path.display()
            )
        })?;
    let fields = buildchain_release::inventory::parse_key_values(&String::from_utf8_lossy(&text));
    version_of(&archive, fields.get("VERSION").map(String::as_str))
}

fn version_of(archive: &Archive, version: Option<&str>) -> Result<String> {
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        bail!("{}: product.txt has no VERSION", archive.path().display());
    };
    if !version
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
    {
        bail!(
            "{}: product.txt has VERSION={version:?}: letters, digits, '.', '-', '_' and '+' only",
            archive.path().display()
        );
    }
    Ok(version.to_string())
}

/// A delta from another OLD (or another version) must not stay next to this one.
fn remove_previous(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot read", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".delta.iso") || name == "SHA256SUM" || name == "SHA256SUM.asc" {
            fs::remove_file(entry.path())
                .with_context(|| format!("{}: cannot remove", entry.path().display()))?;
        }
    }
    Ok(())
}

//! `iso`, `populate-iso` and `_iso_add_tree`: the ISO tree's top level, the image and its
//! digest.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use buildchain_fs::write_atomic;
use buildchain_graph::Task;
use buildchain_iso9660::{write_image, IsoOptions};

use super::{files_under, mkdir_task, Cfg};
use crate::fsutil;
use crate::templates;

pub const MKDIR_ROOT: &str = "_iso_mkdir_root";

pub fn tasks(cfg: &Cfg) -> Result<Vec<Task>> {
    let mut top_level = vec![
        "_iso_add_tree:product.txt",
        "_iso_add_tree:scripts",
        "_iso_add_tree:examples",
        "_iso_add_tree:documentation",
    ];
    let lock = versions_lock(cfg);
    if lock.is_some() {
        top_level.push(LOCK_TASK);
    }
    let mut tasks = vec![
        mkdir_task(
            MKDIR_ROOT,
            "Create the ISO root ($BUILD_ROOT/root).",
            cfg.iso_root(),
            &[],
        ),
        Task::new("iso")
            .doc(format!(
                "Build the {} ISO and its SHA256SUM (signed in SHA256SUM.asc with SIGNING_KEY).",
                cfg.project_name
            ))
            .task_dep("populate-iso")
            .subtasks(["_iso_build"])
            .subtasks(cfg.signing.as_ref().map(|_| SIGN_TASK))
            .subtasks(cfg.delta_from.as_ref().map(|_| super::delta::TASK))
            .subtasks(
                cfg.delta_from
                    .as_ref()
                    .and(cfg.signing.as_ref())
                    .map(|_| super::delta::SIGN_TASK),
            ),
        Task::new("populate-iso")
            .doc("Populate the ISO tree ($BUILD_ROOT/root).")
            .subtasks([
                "_iso_add_tree",
                "salt-tree",
                "images",
                "packaging",
                super::sbom::TASK,
            ]),
        Task::new("_iso_add_tree")
            .doc("Top level of the ISO: product.txt, scripts, examples, documentation, versions.lock.")
            .subtasks(top_level),
        product_txt(cfg),
        scripts(cfg)?,
        copy_dir(cfg, "_iso_add_tree:examples", "examples", "examples")?,
        copy_dir(cfg, "_iso_add_tree:documentation", "docs", "documentation")?,
        iso_build(cfg),
        super::sbom::task(cfg),
    ];
    tasks.extend(sign_task(
        cfg,
        SIGN_TASK,
        "_iso_build",
        cfg.build_root.join("SHA256SUM"),
    ));
    tasks.extend(lock);
    Ok(tasks)
}

const LOCK_TASK: &str = "_iso_add_tree:versions.lock";

/// `versions.lock` at the ISO root, next to product.txt: a mounted release says which
/// digests its images were pulled by. Defined when the repository has a lock, with the
/// text this run read or wrote (`Config::lock_text`: the one its pins come from).
fn versions_lock(cfg: &Cfg) -> Option<Task> {
    let text = cfg.lock_text.clone()?;
    let digest = buildchain_oci_types::Digest::of(text.as_bytes());
    let dst = cfg.iso_root().join(crate::lock::LOCK_FILE);
    let d = dst.clone();
    Some(
        Task::new(LOCK_TASK)
            .doc("Copy versions.lock to the ISO root.")
            .task_dep(MKDIR_ROOT)
            .target(dst)
            .version(format!("versions-lock v3 0644 {digest}"))
            .action(move |_| -> Result<()> { Ok(write_atomic(&d, text.as_bytes(), Some(0o644))?) }),
    )
}

/// `product.txt` (`KEY=value` lines, MetalK8s order).
pub fn product_txt_content(cfg: &Cfg, timestamp: &str) -> String {
    let v = &cfg.version;
    format!(
        "NAME={}\nVERSION={}\nSHORT_VERSION={}\nGIT={}\nDEVELOPMENT_RELEASE={}\nBUILD_TIMESTAMP={}\nBUILD_HOST={}\n",
        cfg.project_name,
        v.full(),
        v.short(),
        cfg.git,
        if v.is_development() { 1 } else { 0 },
        timestamp,
        cfg.build_host
    )
}

fn product_txt(cfg: &Cfg) -> Task {
    let target = cfg.iso_root().join("product.txt");
    let version = product_txt_content(cfg, &templates::build_timestamp(cfg));
    let (cfg2, t) = (cfg.clone(), target.clone());
    Task::new("_iso_add_tree:product.txt")
        .doc("Write product.txt (NAME, VERSION, … BUILD_HOST).")
        .task_dep(MKDIR_ROOT)
        .file_dep(cfg.repo("VERSION"))
        .target(target)
        .version(version)
        .action(move |_| -> Result<()> {
            let text = product_txt_content(&cfg2, &templates::build_timestamp(&cfg2));
            // The error names the file and what failed.
            Ok(write_atomic(&t, text.as_bytes(), Some(0o644))?)
        })
}

/// Top-level files from `iso/`: `*.in` rendered (suffix dropped), others copied.
fn scripts(cfg: &Cfg) -> Result<Task> {
    let src = cfg.repo("iso");
    let files = files_under(&src)?;
    let mut outputs: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap_or(file);
        let rel_str = rel.to_string_lossy();
        let (out, render) = match rel_str.strip_suffix(".in") {
            Some(stem) if !stem.is_empty() && !stem.ends_with('/') => {
                (cfg.iso_root().join(stem), true)
            }
            _ => (cfg.iso_root().join(rel), false),
        };
        outputs.push((file.clone(), out, render));
    }
    let cfg2 = cfg.clone();
    let outs = outputs.clone();
    Ok(Task::new("_iso_add_tree:scripts")
        .doc("Render iso/*.in (handlebars, strict) and copy the other iso/ files to the ISO root.")
        .task_dep(MKDIR_ROOT)
        .tree_dep(src)
        .file_deps([cfg.repo("VERSION"), cfg.repo("versions.toml")])
        .targets(outputs.iter().map(|(_, out, _)| out.clone()))
        .version(format!("scripts v1 {}", templates::context_version(cfg)))
        .action(move |_| -> Result<()> {
            let ctx = templates::context(&cfg2);
            for (src, out, render) in &outs {
                let mode = fsutil::mode_of(src)?;
                let bytes = if *render {
                    templates::render_file(src, &ctx)?.into_bytes()
                } else {
                    fs::read(src).with_context(|| format!("{}: cannot read", src.display()))?
                };
                if let Some(parent) = out.parent() {
                    fs::create_dir_all(parent)
                        .with_context(|| format!("{}: cannot create", parent.display()))?;
                }
                write_atomic(out, &bytes, Some(mode))?;
            }
            Ok(())
        }))
}

/// Copies the repository directory `from` to `<iso root>/<to>` (whole tree replaced).
fn copy_dir(cfg: &Cfg, name: &str, from: &str, to: &str) -> Result<Task> {
    let src = cfg.repo(from);
    let dst = cfg.iso_root().join(to);
    let (s, d) = (src.clone(), dst.clone());
    Ok(Task::new(name)
        .doc(format!("Copy {from}/ to the ISO's {to}/."))
        .task_dep(MKDIR_ROOT)
        .tree_dep(src)
        .target(dst)
        .version(format!("copy-tree v1 {from} -> {to}"))
        .action(move |_| -> Result<()> {
            buildchain_fs::replace_dir(&d, |tmp| fsutil::copy_tree(&s, tmp, None))
        }))
}

fn iso_options(cfg: &Cfg) -> IsoOptions {
    IsoOptions {
        sha256: true,
        ..IsoOptions::metalk8s(&cfg.volume_id(), Some(cfg.epoch.seconds))
    }
}

const SIGN_TASK: &str = "_iso_sign";

/// `<sums>.asc`: a detached, armored OpenPGP signature of the `SHA256SUM` file `sums`
/// (written by the task `after`) by SIGNING_KEY, made at the build's epoch
/// (`gpg --verify SHA256SUM.asc SHA256SUM`). Defined with a key.
pub(super) fn sign_task(cfg: &Cfg, name: &str, after: &str, sums: PathBuf) -> Option<Task> {
    let key = cfg.signing.clone()?;
    let signature = sums.with_extension("asc");
    let epoch = cfg.epoch.unsigned();
    Some(
        Task::new(name)
            .doc(format!(
                "Sign {0} ({0}.asc) with SIGNING_KEY.",
                sums.strip_prefix(&cfg.build_root)
                    .unwrap_or(&sums)
                    .display()
            ))
            .task_dep(after)
            .file_dep(sums.clone())
            .target(signature.clone())
            .version(format!("sign v2 {} epoch={epoch}", cfg.signed_by()))
            .action(move |ctx| -> Result<()> {
                let text =
                    fs::read(&sums).with_context(|| format!("{}: cannot read", sums.display()))?;
                let armored = key
                    .sign_detached(&text, epoch)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                write_atomic(&signature, armored.as_bytes(), Some(0o644))
                    .with_context(|| format!("{}: cannot write", signature.display()))?;
                ctx.log(format!(
                    "signed {} with {}",
                    sums.display(),
                    key.fingerprint()
                ));
                Ok(())
            }),
    )
}

/// The ISO, its implanted MD5 and its `SHA256SUM` (`<hex>  <iso name>`), in one pass over
/// the tree: the SHA-256 comes from the writer, nothing reads the image again.
fn iso_build(cfg: &Cfg) -> Task {
    let (root, iso, digest, name) = (
        cfg.iso_root(),
        cfg.iso_path(),
        cfg.build_root.join("SHA256SUM"),
        cfg.iso_name(),
    );
    let opts = iso_options(cfg);
    Task::new("_iso_build")
        .cacheable()
        .doc(format!(
            "Write the ISO image {} (MD5 implanted) and SHA256SUM.",
            cfg.iso_name()
        ))
        .task_dep("populate-iso")
        .file_dep(cfg.repo("VERSION"))
        // Every file of the ISO root, and its structure, as populate-iso left it.
        .tree_dep(root.clone())
        .targets([iso.clone(), digest.clone()])
        .version(format!("mkiso v2 {name} {opts:?}"))
        .action(move |ctx| -> Result<()> {
            // Never leave a stale image (or its digest, or its signature) next to a failed
            // build.
            for old in [&digest.with_extension("asc"), &digest, &iso] {
                match fs::remove_file(old) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("{}: cannot remove", old.display()))
                    }
                    _ => {}
                }
            }
            let summary = write_image(&root, &iso, &opts)
                .with_context(|| format!("{}: cannot write the ISO", iso.display()))?;
            let sha256 = summary
                .sha256
                .as_deref()
                .context("the ISO writer returned no SHA-256")?;
            // Computed as the image was written: the engine need not read it again.
            ctx.known_sha256(&iso, sha256);
            write_atomic(
                &digest,
                format!("{sha256}  {name}\n").as_bytes(),
                Some(0o644),
            )
            .with_context(|| format!("{}: cannot write", digest.display()))?;
            ctx.log(format!(
                "{} sectors, {} bytes, implanted MD5 {}, SHA-256 {sha256}",
                summary.sectors,
                summary.bytes,
                summary.implanted_md5.as_deref().unwrap_or("none")
            ));
            Ok(())
        })
}

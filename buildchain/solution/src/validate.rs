//! The validation of a whole archive: every rule, every problem reported.

use crate::blobs;
use crate::dir_source::DirSource;
use crate::image::{self, ImageInfo};
use crate::kube;
use crate::manifest::{self, SolutionManifest, MANIFEST_LIMIT, MANIFEST_PATH};
use crate::registry_config::{self, PresentImage, CONFIG_LIMIT, CONFIG_PATH};
use crate::report::{excerpt, Finding, Report, Rule, Stats};
use crate::source::{
    join, read_limited, unsafe_component, ArchiveSource, EntryKind, ReadLimitedError, SourceError,
};
use buildchain_oci_types::name::{check_component, check_tag};
use std::collections::BTreeSet;
use std::path::Path;

pub const IMAGES_DIR: &str = "images";

/// Why an archive could not be read at all (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{path}: no such file or directory")]
    Missing { path: String },
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: neither a directory nor an ISO 9660 image")]
    NotAnArchive { path: String },
    #[error("{path}: unreadable ISO 9660 image: {message}")]
    BadIso { path: String, message: String },
}

/// Opens `path` (a directory or an ISO image) and validates it.
pub fn validate_path(path: &Path) -> Result<Report, OpenError> {
    let shown = path.display().to_string();
    let source = open(path)?;
    Ok(validate_source(source.as_ref(), &shown))
}

/// Opens an archive: a directory, or a file with an ISO 9660 volume descriptor.
pub fn open(path: &Path) -> Result<Box<dyn ArchiveSource>, OpenError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OpenError::Missing { path: shown })
        }
        Err(source) => {
            return Err(OpenError::Io {
                path: shown,
                cause: source,
            })
        }
    };
    if meta.is_dir() {
        let source = DirSource::open(path).map_err(|source| OpenError::Io {
            path: shown,
            cause: source,
        })?;
        return Ok(Box::new(source));
    }
    if meta.is_file() {
        return crate::iso_source::open(path);
    }
    Err(OpenError::NotAnArchive { path: shown })
}

/// Validates an opened archive; `shown` names it in the report.
pub fn validate_source(source: &dyn ArchiveSource, shown: &str) -> Report {
    let mut findings = Vec::new();
    check_links(source, &mut findings);
    let manifest = check_manifest(source, &mut findings);
    let (present, infos) = check_images(source, &mut findings);
    if let Some(manifest) = &manifest {
        check_listed(manifest, &present, &mut findings);
    }
    check_registry_config(source, &present, &mut findings);
    kube::check(source, &mut findings);
    let blob_refs: Vec<_> = infos.iter().flat_map(|i| i.blobs.iter().cloned()).collect();
    // The ISO checks read the whole image (MD5): run them beside blob hashing.
    let (verified, iso_findings) = rayon::join(
        || blobs::verify(source, &blob_refs),
        || {
            let mut found = Vec::new();
            crate::iso_checks::check(source, manifest.as_ref(), &mut found);
            found
        },
    );
    findings.extend(iso_findings);
    findings.extend(verified.findings);
    // The whole-archive walk and the image checks may both see one bad entry: said once.
    let mut seen = BTreeSet::new();
    findings.retain(|f| seen.insert((f.severity, f.rule, f.path.clone())));
    let stats = Stats {
        images: present.len(),
        blobs: verified.blobs,
        bytes_hashed: verified.bytes_hashed,
    };
    Report::new(shown.to_string(), source.kind(), findings, stats)
}

fn check_manifest(
    source: &dyn ArchiveSource,
    findings: &mut Vec<Finding>,
) -> Option<SolutionManifest> {
    let bytes = match read_limited(source, MANIFEST_PATH, MANIFEST_LIMIT) {
        Ok(bytes) => bytes,
        Err(ReadLimitedError::Missing) => {
            findings.push(Finding::error(
                Rule::ManifestPresent,
                MANIFEST_PATH,
                "missing",
                "a Solution manifest at the archive root",
            ));
            return None;
        }
        Err(e @ (ReadLimitedError::TooLarge { .. } | ReadLimitedError::NotAFile)) => {
            findings.push(Finding::error(
                Rule::ManifestYaml,
                MANIFEST_PATH,
                e.to_string(),
                "a YAML file of at most 1 MiB",
            ));
            return None;
        }
        Err(ReadLimitedError::Source(e)) => {
            let rule = if e.is_path_problem() {
                Rule::ArchivePath
            } else {
                Rule::ArchiveRead
            };
            findings.push(Finding::error(
                rule,
                MANIFEST_PATH,
                e.reason(),
                "a readable file",
            ));
            return None;
        }
    };
    let (manifest, problems) = manifest::parse(&bytes);
    findings.extend(problems);
    manifest
}

/// Walks the whole archive without following links: every name must be safe, no link may
/// lead outside the archive, and none may stand under `images/` (blobs and manifests are
/// regular files: a link there is how a file from outside would be served).
fn check_links(source: &dyn ArchiveSource, findings: &mut Vec<Finding>) {
    let images = format!("{IMAGES_DIR}/");
    let mut dirs = vec![String::new()];
    while let Some(dir) = dirs.pop() {
        // Unreadable directories are reported by the checks that need them.
        let Ok(names) = source.list_dir(&dir) else {
            continue;
        };
        for name in names {
            if let Some(reason) = unsafe_component(&name) {
                findings.push(Finding::error(
                    Rule::ArchivePath,
                    join(&dir, &excerpt(&name)),
                    format!("unsafe name ({reason})"),
                    "a plain file or directory name",
                ));
                continue;
            }
            let path = join(&dir, &name);
            match source.link_target(&path) {
                Ok(Some(target)) => {
                    let target = excerpt(&target);
                    if path.starts_with(&images) {
                        findings.push(Finding::error(
                            Rule::ArchivePath,
                            path,
                            format!("a symbolic link (to {target:?})"),
                            "regular files only under images/",
                        ));
                    } else if matches!(source.metadata(&path), Err(SourceError::Escapes { .. })) {
                        findings.push(Finding::error(
                            Rule::ArchivePath,
                            path,
                            format!("a link leading outside the archive (to {target:?})"),
                            "links that stay inside the archive",
                        ));
                    }
                    continue;
                }
                Ok(None) => {}
                Err(_) => continue,
            }
            if let Ok(Some(meta)) = source.metadata(&path) {
                if meta.kind == EntryKind::Dir {
                    dirs.push(path);
                }
            }
        }
    }
}

/// A directory entry, checked: its name is safe and its kind known.
fn entries(
    source: &dyn ArchiveSource,
    dir: &str,
    findings: &mut Vec<Finding>,
) -> Vec<(String, EntryKind)> {
    let names = match source.list_dir(dir) {
        Ok(names) => names,
        Err(e) => {
            let rule = if e.is_path_problem() {
                Rule::ArchivePath
            } else {
                Rule::ArchiveRead
            };
            findings.push(Finding::error(
                rule,
                dir,
                e.reason(),
                "a readable directory",
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for name in names {
        if let Some(reason) = unsafe_component(&name) {
            findings.push(Finding::error(
                Rule::ArchivePath,
                join(dir, &excerpt(&name)),
                format!("unsafe name ({reason})"),
                "a plain file or directory name",
            ));
            continue;
        }
        let path = join(dir, &name);
        match source.metadata(&path) {
            Ok(Some(meta)) => out.push((name, meta.kind)),
            Ok(None) => findings.push(Finding::error(
                Rule::ArchiveRead,
                path,
                "a dangling link",
                "an existing entry",
            )),
            Err(e) => {
                let rule = if e.is_path_problem() {
                    Rule::ArchivePath
                } else {
                    Rule::ArchiveRead
                };
                findings.push(Finding::error(rule, path, e.reason(), "a readable entry"));
            }
        }
    }
    out
}

/// Finds every `images/<name>/<tag>/` and checks its manifest.
fn check_images(
    source: &dyn ArchiveSource,
    findings: &mut Vec<Finding>,
) -> (Vec<PresentImage>, Vec<ImageInfo>) {
    let mut present = Vec::new();
    let mut infos = Vec::new();
    match source.metadata(IMAGES_DIR) {
        Ok(Some(meta)) if meta.kind == EntryKind::Dir => {}
        Ok(Some(_)) => {
            findings.push(Finding::error(
                Rule::ImagesDir,
                IMAGES_DIR,
                "not a directory",
                "a directory of images",
            ));
            return (present, infos);
        }
        Ok(None) => {
            findings.push(Finding::error(
                Rule::ImagesDir,
                IMAGES_DIR,
                "missing",
                "a directory of images/<name>/<tag>/",
            ));
            return (present, infos);
        }
        Err(e) => {
            findings.push(Finding::error(
                Rule::ArchiveRead,
                IMAGES_DIR,
                e.reason(),
                "a readable directory",
            ));
            return (present, infos);
        }
    }
    for (name, kind) in entries(source, IMAGES_DIR, findings) {
        let name_dir = join(IMAGES_DIR, &name);
        if kind != EntryKind::Dir {
            findings.push(Finding::error(
                Rule::ImagesName,
                name_dir,
                "not a directory",
                "images/<name>/<tag>/ directories only",
            ));
            continue;
        }
        if check_component(&name).is_err() {
            findings.push(Finding::error(
                Rule::ImagesName,
                name_dir,
                format!("image name {:?}", excerpt(&name)),
                "a repository name: [a-z0-9]+ separated by `.`, `_`, `__` or `-`",
            ));
            continue;
        }
        for (tag, kind) in entries(source, &name_dir, findings) {
            let dir = join(&name_dir, &tag);
            if kind != EntryKind::Dir {
                findings.push(Finding::error(
                    Rule::ImagesName,
                    dir,
                    "not a directory",
                    "images/<name>/<tag>/ directories only",
                ));
                continue;
            }
            if check_tag(&tag).is_err() {
                findings.push(Finding::error(
                    Rule::ImagesName,
                    dir,
                    format!("tag {:?}", excerpt(&tag)),
                    "a tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
                ));
                continue;
            }
            let info = image::check_image(source, &dir, findings);
            present.push(PresentImage {
                name: name.clone(),
                tag,
                manifest_digest: info.as_ref().map(|i| i.manifest_digest.clone()),
                child_digests: info
                    .as_ref()
                    .map(|i| i.child_digests.clone())
                    .unwrap_or_default(),
            });
            infos.extend(info);
        }
    }
    (present, infos)
}

/// `spec.images` and the operator image against what is present.
fn check_listed(
    manifest: &SolutionManifest,
    present: &[PresentImage],
    findings: &mut Vec<Finding>,
) {
    let have: BTreeSet<(&str, &str)> = present
        .iter()
        .map(|p| (p.name.as_str(), p.tag.as_str()))
        .collect();
    if let Some(listed) = &manifest.images {
        for image in listed {
            if !have.contains(&(image.name.as_str(), image.tag.as_str())) {
                findings.push(Finding::error(
                    Rule::ImagesListed,
                    image.dir(),
                    format!("{image} listed in spec.images, directory missing"),
                    "a skopeo dir: image at images/<name>/<tag>/",
                ));
            }
        }
        let listed: BTreeSet<(&str, &str)> = listed
            .iter()
            .map(|i| (i.name.as_str(), i.tag.as_str()))
            .collect();
        for (name, tag) in &have {
            if !listed.contains(&(*name, *tag)) {
                findings.push(Finding::warning(
                    Rule::ImagesUnlisted,
                    format!("images/{name}/{tag}"),
                    format!("{name}:{tag} not in spec.images"),
                    "every image shipped listed in spec.images",
                ));
            }
        }
    }
    let operator = &manifest.operator_image;
    if !have.contains(&(operator.name.as_str(), operator.tag.as_str())) {
        findings.push(Finding::error(
            Rule::ImagesOperator,
            operator.dir(),
            format!("operator image {operator} missing"),
            "the operator image (spec.operator.image, default <name>-operator:<version>)",
        ));
    }
}

fn check_registry_config(
    source: &dyn ArchiveSource,
    present: &[PresentImage],
    findings: &mut Vec<Finding>,
) {
    let bytes = match read_limited(source, CONFIG_PATH, CONFIG_LIMIT) {
        Ok(bytes) => bytes,
        Err(ReadLimitedError::Missing) => {
            findings.push(Finding::error(
                Rule::RegistryConfigPresent,
                CONFIG_PATH,
                "missing",
                "the nginx include from static-container-registry --name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants images/",
            ));
            return;
        }
        Err(ReadLimitedError::Source(e)) => {
            findings.push(Finding::error(
                Rule::ArchiveRead,
                CONFIG_PATH,
                e.reason(),
                "a readable file",
            ));
            return;
        }
        Err(e) => {
            findings.push(Finding::error(
                Rule::RegistryConfigSyntax,
                CONFIG_PATH,
                e.to_string(),
                "an nginx include",
            ));
            return;
        }
    };
    match std::str::from_utf8(&bytes) {
        Ok(text) => findings.extend(registry_config::check(text, present)),
        Err(e) => findings.push(Finding::error(
            Rule::RegistryConfigSyntax,
            CONFIG_PATH,
            format!("invalid UTF-8 ({e})"),
            "a UTF-8 nginx include",
        )),
    }
}

//! One image directory (`images/<name>/<tag>/`, skopeo `dir:` layout): its `manifest.json`
//! (Docker v2s2, OCI manifest, or an index / manifest list of them) and the blobs it names.

use crate::report::{excerpt, Finding, Rule};
use crate::source::{join, read_limited, ArchiveSource, ReadLimitedError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

pub use buildchain_oci_types::layout::{
    DIR_VERSION as VERSION_CONTENT, MANIFEST_FILE as MANIFEST_JSON, VERSION_FILE,
};
pub use buildchain_oci_types::media_type::{
    DOCKER_CONFIG, DOCKER_MANIFEST as DOCKER_V2S2, DOCKER_MANIFEST_LIST as DOCKER_LIST, OCI_INDEX,
    OCI_MANIFEST,
};
/// Largest manifest read (the limit registries use).
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

fn is_index(media_type: &str) -> bool {
    media_type == DOCKER_LIST || media_type == OCI_INDEX
}

/// A blob to verify: a file of the image directory, its expected digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub path: String,
    pub digest_hex: String,
    pub size: u64,
    /// Non-distributable layer with `urls`: absence is only a warning.
    pub foreign: bool,
    /// The manifest that names it.
    pub referenced_by: String,
}

/// What was learnt from a readable image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub dir: String,
    pub media_type: String,
    /// sha256 (hex) of `manifest.json`, the digest a registry serves it under.
    pub manifest_digest: String,
    /// sha256 (hex) of the manifests an index names (served by digest too).
    pub child_digests: Vec<String>,
    pub blobs: Vec<BlobRef>,
}

struct Descriptor {
    media_type: String,
    hex: String,
    size: u64,
    foreign: bool,
}

enum Kind {
    Manifest,
    Index,
}

/// Checks the image in `dir`; pushes findings, returns what blob verification and the
/// registry check need when `manifest.json` is usable.
pub fn check_image(
    source: &dyn ArchiveSource,
    dir: &str,
    findings: &mut Vec<Finding>,
) -> Option<ImageInfo> {
    let manifest_path = join(dir, MANIFEST_JSON);
    let bytes = match read_limited(source, &manifest_path, MANIFEST_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => {
            findings.push(read_problem(
                &manifest_path,
                e,
                "a Docker v2s2 or OCI manifest",
            ));
            return None;
        }
    };
    let mut blobs = Vec::new();
    let mut named = BTreeSet::from([MANIFEST_JSON.to_string(), VERSION_FILE.to_string()]);
    let media_type = parse_into(
        source,
        dir,
        &manifest_path,
        &bytes,
        0,
        &mut blobs,
        &mut named,
        findings,
    )?;
    check_version_file(source, dir, findings);
    check_extra_files(source, dir, &named, findings);
    let child_digests = blobs
        .iter()
        .filter(|b| is_index(&media_type) && b.referenced_by == manifest_path)
        .map(|b| b.digest_hex.clone())
        .collect();
    Some(ImageInfo {
        dir: dir.to_string(),
        media_type,
        manifest_digest: format!("{:x}", Sha256::digest(&bytes)),
        child_digests,
        blobs,
    })
}

/// Turns a read failure into a finding.
pub fn read_problem(path: &str, error: ReadLimitedError, expected: &str) -> Finding {
    match error {
        ReadLimitedError::Missing => Finding::error(Rule::ImageManifest, path, "missing", expected),
        ReadLimitedError::Source(e) if e.is_path_problem() => Finding::error(
            Rule::ArchivePath,
            path,
            e.reason(),
            "a safe path inside the archive",
        ),
        ReadLimitedError::Source(e) => {
            Finding::error(Rule::ArchiveRead, path, e.reason(), "a readable file")
        }
        other => Finding::error(Rule::ImageManifest, path, other.to_string(), expected),
    }
}

/// Parses one manifest (depth 0) or a manifest an index names (depth 1).
#[allow(clippy::too_many_arguments)]
fn parse_into(
    source: &dyn ArchiveSource,
    dir: &str,
    path: &str,
    bytes: &[u8],
    depth: usize,
    blobs: &mut Vec<BlobRef>,
    named: &mut BTreeSet<String>,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let problem = |findings: &mut Vec<Finding>, found: String| {
        findings.push(Finding::error(
            Rule::ImageManifest,
            path,
            excerpt(&found),
            "a Docker v2s2 or OCI image manifest or index (schemaVersion 2, sha256 descriptors)",
        ));
    };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => {
            problem(findings, format!("not JSON: {e}"));
            return None;
        }
    };
    if !value.is_object() {
        problem(findings, "not a JSON object".to_string());
        return None;
    }
    if value.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        problem(
            findings,
            format!(
                "schemaVersion {}",
                value.get("schemaVersion").unwrap_or(&Value::Null)
            ),
        );
        return None;
    }
    let declared = value.get("mediaType");
    let (media_type, kind) = match declared.map(|v| v.as_str()) {
        Some(Some(DOCKER_V2S2)) => (DOCKER_V2S2, Kind::Manifest),
        Some(Some(OCI_MANIFEST)) => (OCI_MANIFEST, Kind::Manifest),
        Some(Some(DOCKER_LIST)) => (DOCKER_LIST, Kind::Index),
        Some(Some(OCI_INDEX)) => (OCI_INDEX, Kind::Index),
        None if value.get("manifests").is_some() => (OCI_INDEX, Kind::Index),
        None => (OCI_MANIFEST, Kind::Manifest),
        Some(other) => {
            problem(findings, format!("mediaType {other:?}"));
            return None;
        }
    };
    let before = findings.len();
    match kind {
        Kind::Manifest => {
            let mut descriptors = Vec::new();
            match value.get("config").map(|c| descriptor(c, "config")) {
                Some(Ok(d)) if media_type == DOCKER_V2S2 && d.media_type != DOCKER_CONFIG => {
                    problem(findings, format!("config mediaType {:?}", d.media_type))
                }
                Some(Ok(d)) => descriptors.push(d),
                Some(Err(e)) => problem(findings, e),
                None => problem(findings, "no `config` descriptor".to_string()),
            }
            match value.get("layers").and_then(Value::as_array) {
                Some(layers) => {
                    for (i, layer) in layers.iter().enumerate() {
                        match descriptor(layer, &format!("layers[{i}]")) {
                            Ok(d) => descriptors.push(d),
                            Err(e) => problem(findings, e),
                        }
                    }
                }
                None => problem(findings, "no `layers` array".to_string()),
            }
            for d in descriptors {
                named.insert(d.hex.clone());
                blobs.push(BlobRef {
                    path: join(dir, &d.hex),
                    digest_hex: d.hex,
                    size: d.size,
                    foreign: d.foreign,
                    referenced_by: path.to_string(),
                });
            }
        }
        Kind::Index => {
            if depth > 0 {
                problem(findings, "an index inside an index".to_string());
                return None;
            }
            let Some(entries) = value.get("manifests").and_then(Value::as_array) else {
                problem(findings, "no `manifests` array".to_string());
                return None;
            };
            for (i, entry) in entries.iter().enumerate() {
                let d = match descriptor(entry, &format!("manifests[{i}]")) {
                    Ok(d) => d,
                    Err(e) => {
                        problem(findings, e);
                        continue;
                    }
                };
                parse_child(source, dir, path, d, blobs, named, findings);
            }
        }
    }
    (findings.len() == before).then(|| media_type.to_string())
}

/// A manifest named by an index: stored as `<hex>.manifest.json` (skopeo `dir:` with
/// `--all`) or as a plain `<hex>` blob.
fn parse_child(
    source: &dyn ArchiveSource,
    dir: &str,
    index_path: &str,
    d: Descriptor,
    blobs: &mut Vec<BlobRef>,
    named: &mut BTreeSet<String>,
    findings: &mut Vec<Finding>,
) {
    let skopeo_name = format!("{}.manifest.json", d.hex);
    let name = match source.metadata(&join(dir, &skopeo_name)) {
        Ok(Some(_)) => skopeo_name,
        _ => d.hex.clone(),
    };
    let child_path = join(dir, &name);
    named.insert(name);
    blobs.push(BlobRef {
        path: child_path.clone(),
        digest_hex: d.hex.clone(),
        size: d.size,
        foreign: false,
        referenced_by: index_path.to_string(),
    });
    match read_limited(source, &child_path, MANIFEST_LIMIT) {
        Ok(bytes) => {
            parse_into(source, dir, &child_path, &bytes, 1, blobs, named, findings);
        }
        // Missing: reported once, by blob verification.
        Err(ReadLimitedError::Missing) => {}
        Err(e) => findings.push(read_problem(&child_path, e, "an image manifest")),
    }
}

fn descriptor(value: &Value, field: &str) -> Result<Descriptor, String> {
    let media_type = value
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}.mediaType` missing"))?;
    let digest = value
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}.digest` missing"))?;
    let hex = buildchain_oci_types::Digest::parse(digest)
        .map_err(|_| {
            format!("`{field}.digest` {digest:?} is not sha256:<64 lower-case hex digits>")
        })?
        .hex()
        .to_string();
    let size = value
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{field}.size` missing or not a non-negative integer"))?;
    if size > i64::MAX as u64 {
        return Err(format!("`{field}.size` {size} is absurd"));
    }
    let foreign = value
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|urls| !urls.is_empty());
    Ok(Descriptor {
        media_type: media_type.to_string(),
        hex,
        size,
        foreign,
    })
}

fn check_version_file(source: &dyn ArchiveSource, dir: &str, findings: &mut Vec<Finding>) {
    let path = join(dir, VERSION_FILE);
    let found = match read_limited(source, &path, 4096) {
        Ok(bytes) if bytes == VERSION_CONTENT.as_bytes() => return,
        Ok(bytes) => format!("{:?}", excerpt(&String::from_utf8_lossy(&bytes))),
        Err(e) => e.to_string(),
    };
    findings.push(Finding::warning(
        Rule::ImageVersionFile,
        path,
        found,
        format!("{VERSION_CONTENT:?}"),
    ));
}

fn check_extra_files(
    source: &dyn ArchiveSource,
    dir: &str,
    named: &BTreeSet<String>,
    findings: &mut Vec<Finding>,
) {
    let Ok(names) = source.list_dir(dir) else {
        return;
    };
    for name in names {
        if !named.contains(&name) && !name.starts_with("signature-") {
            findings.push(Finding::warning(
                Rule::ImageExtraFile,
                join(dir, &name),
                "a file no manifest names",
                "only manifest.json, version and the blobs it names",
            ));
        }
    }
}

//! skopeo's `dir:` layout and the manifest formats it holds.
//!
//! A `dir:` image is `manifest.json` (the manifest, byte for byte), `version`
//! (`Directory Transport Version: 1.1\n`) and one file per blob named by its bare hex digest.

use crate::digest::Digest;
use serde::Deserialize;

/// The content of the `version` file.
pub const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";
/// File name of the manifest in a `dir:` image.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the transport version in a `dir:` image.
pub const VERSION_FILE: &str = "version";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The `Accept` header of manifest requests: every format we can handle.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Manifest formats this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// Docker image manifest v2 schema 2 (what MetalK8s ships and static-container-registry serves).
    #[default]
    V2s2,
    /// OCI image manifest v1.
    Oci,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub platform: Option<RawPlatform>,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: i64,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<RawDescriptor>,
    #[serde(default)]
    layers: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
}

/// A blob referenced by an image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// One entry of an index / manifest list.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub media_type: String,
    pub digest: Digest,
    pub platform: Option<RawPlatform>,
}

/// A parsed manifest: an image (config + layers) or an index of per-platform images.
#[derive(Debug, Clone)]
pub(crate) enum Manifest {
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index {
        entries: Vec<IndexEntry>,
    },
}

/// Why a manifest could not be used.
pub(crate) enum ManifestProblem {
    UnsupportedMediaType(String),
    Malformed(String),
}

impl Manifest {
    /// Parses manifest bytes. The media type comes from the document (`mediaType`), else
    /// from the HTTP `Content-Type`, else from the document's shape.
    pub(crate) fn parse(
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<Manifest, ManifestProblem> {
        let raw: RawManifest = serde_json::from_slice(bytes)
            .map_err(|e| ManifestProblem::Malformed(format!("not a JSON manifest: {e}")))?;
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
            .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
        let media_type = match (&raw.media_type, content_type) {
            (Some(m), _) if !m.is_empty() => m.clone(),
            (_, Some(c)) => c,
            _ if raw.manifests.is_some() => OCI_INDEX.to_string(),
            _ if raw.config.is_some() => OCI_MANIFEST.to_string(),
            _ => String::new(),
        };
        match media_type.as_str() {
            DOCKER_MANIFEST | OCI_MANIFEST => {
                if raw.schema_version != 2 {
                    return Err(ManifestProblem::Malformed(format!(
                        "schemaVersion is {}, expected 2",
                        raw.schema_version
                    )));
                }
                let config = raw
                    .config
                    .ok_or_else(|| ManifestProblem::Malformed("no config descriptor".into()))
                    .and_then(descriptor)?;
                let layers = raw
                    .layers
                    .ok_or_else(|| ManifestProblem::Malformed("no layers list".into()))?
                    .into_iter()
                    .map(descriptor)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Manifest::Image {
                    media_type,
                    config,
                    layers,
                })
            }
            DOCKER_MANIFEST_LIST | OCI_INDEX => {
                let entries = raw
                    .manifests
                    .ok_or_else(|| ManifestProblem::Malformed("index without manifests".into()))?
                    .into_iter()
                    .map(|d| {
                        let digest =
                            Digest::parse(&d.digest).map_err(ManifestProblem::Malformed)?;
                        Ok(IndexEntry {
                            media_type: d.media_type,
                            digest,
                            platform: d.platform,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Manifest::Index { entries })
            }
            other => Err(ManifestProblem::UnsupportedMediaType(other.to_string())),
        }
    }
}

fn descriptor(raw: RawDescriptor) -> Result<Descriptor, ManifestProblem> {
    let digest = Digest::parse(&raw.digest).map_err(ManifestProblem::Malformed)?;
    if raw.size < 0 {
        return Err(ManifestProblem::Malformed(format!(
            "blob {digest} has a negative size {}",
            raw.size
        )));
    }
    if raw.urls.as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(ManifestProblem::Malformed(format!(
            "blob {digest} is a foreign layer (urls); foreign layers are not supported"
        )));
    }
    Ok(Descriptor {
        media_type: raw.media_type,
        digest,
        size: raw.size as u64,
    })
}

/// Links `src` to `dst` (a hardlink when both are on one file system, else a copy).
pub(crate) fn link_or_copy(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    match std::fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => std::fs::copy(src, dst).map(|_| ()),
    }
}

/// Whether `name` is one of the files of a `dir:` layout: `manifest.json`, `version`,
/// `signature-N`, a blob named by its hex digest, or a child manifest `<hex>.manifest.json`.
pub fn is_layout_file(name: &str) -> bool {
    let is_hex =
        |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    name == MANIFEST_FILE
        || name == VERSION_FILE
        || name
            .strip_prefix("signature-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || is_hex(name)
        || name.strip_suffix(".manifest.json").is_some_and(is_hex)
}

/// Checks that `dest` may be replaced by a pulled image: it does not exist, is empty, or
/// holds only the files of a `dir:` layout (an image pulled there before). Anything else
/// (a user's file, a directory) is refused, naming it.
pub fn check_replaceable(dest: &std::path::Path) -> Result<(), crate::OciError> {
    use crate::error::IoContext;
    let entries = match std::fs::read_dir(dest) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(crate::OciError::NotAnImageDirectory {
                path: dest.to_path_buf(),
                found: "a file, not a directory".into(),
            })
        }
        Err(e) => return Err(crate::OciError::io(dest, e)),
    };
    let mut names: Vec<(String, bool)> = Vec::new();
    for entry in entries {
        let entry = entry.at(dest)?;
        let is_file = entry.file_type().at(dest)?.is_file();
        names.push((entry.file_name().to_string_lossy().into_owned(), is_file));
    }
    names.sort();
    match names
        .into_iter()
        .find(|(name, is_file)| !is_file || !is_layout_file(name))
    {
        None => Ok(()),
        Some((found, _)) => Err(crate::OciError::NotAnImageDirectory {
            path: dest.to_path_buf(),
            found,
        }),
    }
}

/// Creates the hidden staging directory of `dest` (the shared temporary-name convention,
/// so a killed pull's leftovers are removed by the next one), published by [`publish_dir`].
pub(crate) fn staging_dir(
    dest: &std::path::Path,
) -> Result<buildchain_fs::StagingDir, crate::OciError> {
    Ok(buildchain_fs::StagingDir::create(dest)?)
}

/// Moves a complete staging directory to `dest`, replacing what was there.
pub(crate) fn publish_dir(
    staging: buildchain_fs::StagingDir,
    _dest: &std::path::Path,
) -> Result<(), crate::OciError> {
    Ok(staging.publish()?)
}

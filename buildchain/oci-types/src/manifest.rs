//! Manifests and indexes, parsed with `oci-spec`'s types (Docker's v2s2 documents have the
//! same shape). Parsing never re-serialises: callers keep and hash the bytes as served.

use oci_spec::image::{ImageIndex, ImageManifest};
use serde::Deserialize;

use crate::digest::Digest;
use crate::media_type::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::reference::Platform;

/// A blob referenced by an image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

/// One entry of an index / manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// `None` when the entry says no platform.
    pub platform: Option<Platform>,
}

/// A parsed manifest: an image (config + layers) or an index of per-platform images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Image {
        media_type: String,
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index {
        media_type: String,
        entries: Vec<IndexEntry>,
    },
}

/// Why a manifest cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestProblem {
    #[error("unsupported manifest media type {0:?} (supported: Docker v2 schema 2, OCI image manifest, manifest list, OCI index)")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Malformed(String),
}

/// Just enough of a document to tell its kind.
#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

/// The media type of a manifest document: its `mediaType`, else the HTTP `Content-Type`
/// (when it says more than JSON), else its shape.
pub fn media_type_of(bytes: &[u8], content_type: Option<&str>) -> Result<String, ManifestProblem> {
    let shape: Shape = serde_json::from_slice(bytes)
        .map_err(|e| ManifestProblem::Malformed(format!("not a JSON manifest: {e}")))?;
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
        .filter(|c| !c.is_empty() && c != "application/json" && c != "text/plain");
    Ok(match (shape.media_type, content_type) {
        (Some(m), _) if !m.is_empty() => m,
        (_, Some(c)) => c,
        _ if shape.manifests.is_some() => OCI_INDEX.to_string(),
        _ if shape.config.is_some() => OCI_MANIFEST.to_string(),
        _ => String::new(),
    })
}

fn digest_of(d: &oci_spec::image::Descriptor) -> Result<Digest, ManifestProblem> {
    Digest::try_from(d.digest()).map_err(ManifestProblem::Malformed)
}

fn descriptor(d: &oci_spec::image::Descriptor) -> Result<Descriptor, ManifestProblem> {
    let digest = digest_of(d)?;
    if d.urls().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(ManifestProblem::Malformed(format!(
            "blob {digest} is a foreign layer (urls); foreign layers are not supported"
        )));
    }
    Ok(Descriptor {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
    })
}

impl Manifest {
    /// Parses manifest bytes (see [`media_type_of`] for how the kind is told).
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestProblem> {
        let media_type = media_type_of(bytes, content_type)?;
        let malformed = |e: serde_json::Error| ManifestProblem::Malformed(e.to_string());
        match media_type.as_str() {
            DOCKER_MANIFEST | OCI_MANIFEST => {
                let m: ImageManifest = serde_json::from_slice(bytes).map_err(malformed)?;
                if m.schema_version() != 2 {
                    return Err(ManifestProblem::Malformed(format!(
                        "schemaVersion is {}, expected 2",
                        m.schema_version()
                    )));
                }
                Ok(Manifest::Image {
                    media_type,
                    config: descriptor(m.config())?,
                    layers: m
                        .layers()
                        .iter()
                        .map(descriptor)
                        .collect::<Result<_, _>>()?,
                })
            }
            DOCKER_MANIFEST_LIST | OCI_INDEX => {
                let index: ImageIndex = serde_json::from_slice(bytes).map_err(malformed)?;
                let entries = index
                    .manifests()
                    .iter()
                    .map(|d| {
                        Ok(IndexEntry {
                            media_type: d.media_type().to_string(),
                            digest: digest_of(d)?,
                            size: d.size(),
                            platform: d.platform().as_ref().map(Platform::from),
                        })
                    })
                    .collect::<Result<_, ManifestProblem>>()?;
                Ok(Manifest::Index {
                    media_type,
                    entries,
                })
            }
            other => Err(ManifestProblem::UnsupportedMediaType(other.to_string())),
        }
    }

    /// The config and layers of an image manifest (none for an index).
    pub fn blobs(&self) -> Vec<&Descriptor> {
        match self {
            Manifest::Image { config, layers, .. } => {
                std::iter::once(config).chain(layers).collect()
            }
            Manifest::Index { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn v2s2(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{HEX}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":3,"digest":"sha256:{HEX}"{extra}}}]}}"#
        )
    }

    #[test]
    fn parses_docker_and_oci_documents() {
        let m = Manifest::parse(v2s2("").as_bytes(), None).unwrap();
        assert_eq!(m.blobs().len(), 2);
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","size":5,"digest":"sha256:{HEX}","platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
        );
        match Manifest::parse(index.as_bytes(), Some("application/json")).unwrap() {
            Manifest::Index {
                media_type,
                entries,
            } => {
                assert_eq!(media_type, OCI_INDEX);
                assert_eq!(
                    entries[0].platform.as_ref().unwrap().to_string(),
                    "linux/arm64/v8"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_what_cannot_be_used() {
        let cases = [
            (v2s2(r#","urls":["http://x"]"#), "foreign layer"),
            (v2s2("").replace(r#""size":3"#, r#""size":-3"#), "invalid value"),
            (
                v2s2("").replace(&format!("sha256:{HEX}\"}}]"), &format!("sha512:{}\"}}]", "ab".repeat(64))),
                "not a sha256 digest",
            ),
            (v2s2("").replace(&format!("sha256:{HEX}\"}}]"), "sha512:ab\"}]"), "digest"),
            (v2s2("").replace("\"schemaVersion\":2", "\"schemaVersion\":1"), "schemaVersion"),
            ("[".to_string(), "not a JSON manifest"),
            (
                r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#.to_string(),
                "unsupported",
            ),
        ];
        for (text, want) in cases {
            let err = Manifest::parse(text.as_bytes(), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}

//! Reading manifest files: their digest, their media type, the children of an index.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::Error;

/// Largest manifest read (the distribution spec asks registries to accept at least 4 MiB).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// The manifest kinds served, each with its own `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    /// `application/vnd.docker.distribution.manifest.v2+json`
    DockerManifest,
    /// `application/vnd.docker.distribution.manifest.list.v2+json`
    DockerManifestList,
    /// `application/vnd.oci.image.manifest.v1+json`
    OciManifest,
    /// `application/vnd.oci.image.index.v1+json`
    OciIndex,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::DockerManifest,
        MediaType::DockerManifestList,
        MediaType::OciManifest,
        MediaType::OciIndex,
    ];

    /// The media type string, as sent in `Content-Type`.
    pub fn as_str(self) -> &'static str {
        use buildchain_oci_types::media_type as mt;
        match self {
            MediaType::DockerManifest => mt::DOCKER_MANIFEST,
            MediaType::DockerManifestList => mt::DOCKER_MANIFEST_LIST,
            MediaType::OciManifest => mt::OCI_MANIFEST,
            MediaType::OciIndex => mt::OCI_INDEX,
        }
    }

    /// Parses a media type string; `None` for kinds not served.
    pub fn parse(text: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether this kind lists other manifests (a Docker manifest list or an OCI index).
    pub fn is_index(self) -> bool {
        matches!(self, MediaType::DockerManifestList | MediaType::OciIndex)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A manifest file read from disk.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// Lower-case hex SHA-256 of the file's bytes.
    pub hex_digest: String,
    pub json: Value,
}

/// Reads a manifest file (at most [`MAX_MANIFEST_SIZE`] bytes), hashes and parses it.
pub fn read_manifest(path: &Path) -> Result<ManifestFile, Error> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(Error::ManifestTooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_MANIFEST_SIZE,
        });
    }
    let hex_digest = format!("{:x}", Sha256::digest(&bytes));
    let json = serde_json::from_slice(&bytes).map_err(|source| Error::InvalidManifestJson {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ManifestFile { hex_digest, json })
}

/// What a manifest is: a served kind, or the reason it is not served.
pub fn classify(json: &Value) -> Result<MediaType, String> {
    let Some(object) = json.as_object() else {
        return Err("not a JSON object".to_string());
    };
    match object.get("schemaVersion") {
        Some(v) if v.as_u64() == Some(2) => {}
        Some(v) => return Err(format!("schemaVersion {v} is not served (only 2)")),
        None => return Err("no schemaVersion".to_string()),
    }
    match object.get("mediaType") {
        Some(Value::String(text)) => MediaType::parse(text)
            .ok_or_else(|| format!("media type {text:?} is not a served manifest kind")),
        Some(other) => Err(format!("mediaType {other} is not a string")),
        // OCI manifests and indexes may omit mediaType: tell them apart by their fields.
        None if object.contains_key("manifests") => Ok(MediaType::OciIndex),
        None if object.contains_key("config") && object.contains_key("layers") => {
            Ok(MediaType::OciManifest)
        }
        None => Err("no mediaType, and neither an image manifest nor an index".to_string()),
    }
}

/// One entry of an index's `manifests` list.
#[derive(Debug, Clone)]
pub struct ChildDescriptor {
    /// Lower-case hex SHA-256 (other algorithms are reported as unsupported).
    pub hex_digest: Result<String, String>,
    pub media_type: Option<String>,
}

/// The `manifests` descriptors of an index; an error says how the list is malformed.
pub fn child_descriptors(json: &Value) -> Result<Vec<ChildDescriptor>, String> {
    let Some(list) = json.get("manifests").and_then(Value::as_array) else {
        return Err("index without a `manifests` list".to_string());
    };
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let Some(digest) = entry.get("digest").and_then(Value::as_str) else {
                return Err(format!("manifests[{i}] has no digest string"));
            };
            let hex_digest = match digest.split_once(':') {
                Some(("sha256", hex)) if is_sha256_hex(hex) => Ok(hex.to_string()),
                Some(("sha256", _)) => {
                    return Err(format!(
                        "manifests[{i}] digest {digest:?} is not sha256:<64 lower-case hex digits>"
                    ))
                }
                _ => Err(format!("digest {digest:?} is not a sha256 digest")),
            };
            let media_type = entry
                .get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(ChildDescriptor {
                hex_digest,
                media_type,
            })
        })
        .collect()
}

/// Whether `text` is 64 lower-case hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_by_media_type_or_fields() {
        for t in MediaType::ALL {
            assert_eq!(
                classify(&json!({"schemaVersion": 2, "mediaType": t.as_str()})),
                Ok(t)
            );
        }
        assert_eq!(
            classify(&json!({"schemaVersion": 2, "manifests": []})),
            Ok(MediaType::OciIndex)
        );
        assert_eq!(
            classify(&json!({"schemaVersion": 2, "config": {}, "layers": []})),
            Ok(MediaType::OciManifest)
        );
        assert!(classify(&json!({"schemaVersion": 1, "fsLayers": []})).is_err());
        assert!(classify(&json!({"schemaVersion": 2})).is_err());
        assert!(classify(&json!({"schemaVersion": 2, "mediaType": "text/plain"})).is_err());
        assert!(classify(&json!([1])).is_err());
    }

    #[test]
    fn child_digests_are_checked() {
        let hex = "a".repeat(64);
        let ok = json!({"manifests": [{"digest": format!("sha256:{hex}")}]});
        assert_eq!(
            child_descriptors(&ok).unwrap()[0].hex_digest,
            Ok(hex.clone())
        );
        let traversal = json!({"manifests": [{"digest": "sha256:../../etc/passwd"}]});
        assert!(child_descriptors(&traversal).is_err());
        let other = json!({"manifests": [{"digest": "sha512:abc"}]});
        assert!(child_descriptors(&other).unwrap()[0].hex_digest.is_err());
        assert!(child_descriptors(&json!({"manifests": [{}]})).is_err());
        assert!(child_descriptors(&json!({})).is_err());
    }
}

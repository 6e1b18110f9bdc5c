//! Reading an image shipped in skopeo's `dir:` layout (`manifest.json`, blobs named by
//! their hex SHA-256) into an [`Image`].

use std::path::Path;

use serde_json::Value;
use sha2::Digest as _;

use crate::{Image, Layer, Supplier};

/// Why an image directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct ImageDirError {
    pub path: String,
    pub rule: String,
}

/// The image `name:tag` shipped in `dir`: its manifest's SHA-256, its layers, and the
/// platform of its configuration blob (when present). `source` is where it was pulled
/// from (`None`: built), `index_digest` what the tag named at the source when that was an
/// index.
pub fn image_from_dir(
    dir: &Path,
    name: &str,
    tag: &str,
    source: Option<String>,
    index_digest: Option<String>,
    supplier: Supplier,
) -> Result<Image, ImageDirError> {
    let manifest_path = dir.join("manifest.json");
    let fail = |path: &Path, rule: String| ImageDirError {
        path: path.display().to_string(),
        rule,
    };
    let bytes = std::fs::read(&manifest_path)
        .map_err(|e| fail(&manifest_path, format!("cannot read: {e}")))?;
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|e| fail(&manifest_path, format!("not JSON: {e}")))?;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    let layers = manifest["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| Layer {
            digest: l["digest"].as_str().unwrap_or_default().to_string(),
            size: l["size"].as_u64().unwrap_or_default(),
            media_type: l["mediaType"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    let platform = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| d.strip_prefix("sha256:"))
        .and_then(|hex| std::fs::read(dir.join(hex)).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|config| {
            let os = config["os"].as_str()?;
            let arch = config["architecture"].as_str()?;
            Some(match config["variant"].as_str() {
                Some(variant) => format!("{os}/{arch}/{variant}"),
                None => format!("{os}/{arch}"),
            })
        });
    Ok(Image {
        name: name.to_string(),
        tag: tag.to_string(),
        index_digest: index_digest.filter(|d| *d != digest),
        manifest_digest: digest,
        platform,
        layers,
        source,
        supplier,
    })
}

/// RFC 3339 UTC of `seconds` since the epoch (an SBOM's creation time: the build's epoch).
pub fn rfc3339(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_string(),
    }
}

//! skopeo's `dir:` layout: `manifest.json` (the manifest, byte for byte), `version`
//! (`Directory Transport Version: 1.1\n`), one file per blob named by its bare hex digest,
//! `<hex>.manifest.json` per child manifest of an index, `signature-N`.

use std::path::Path;

use crate::digest::Digest;
use crate::manifest::Manifest;

/// The content of the `version` file.
pub const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";
/// File name of the manifest in a `dir:` image.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the transport version in a `dir:` image.
pub const VERSION_FILE: &str = "version";

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `name` is one of the files of a `dir:` layout.
pub fn is_layout_file(name: &str) -> bool {
    name == MANIFEST_FILE
        || name == VERSION_FILE
        || name
            .strip_prefix("signature-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || is_hex64(name)
        || name.strip_suffix(".manifest.json").is_some_and(is_hex64)
}

/// The file name of a blob in a `dir:` layout.
pub fn blob_file(digest: &Digest) -> &str {
    digest.hex()
}

/// Whether `dir` holds a complete `dir:` image: a `version` file, a parsable image manifest,
/// and each of its blobs as a regular file of the size the manifest gives (a deleted or
/// truncated blob makes it incomplete). Links are not followed.
pub fn image_complete(dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(dir.join(MANIFEST_FILE)) else {
        return false;
    };
    let Ok(manifest @ Manifest::Image { .. }) = Manifest::parse(&bytes, None) else {
        return false;
    };
    let regular = |p: &Path| std::fs::symlink_metadata(p).ok().filter(|m| m.is_file());
    if regular(&dir.join(VERSION_FILE)).is_none() {
        return false;
    }
    manifest.blobs().iter().all(|blob| {
        regular(&dir.join(blob_file(&blob.digest))).is_some_and(|m| m.len() == blob.size)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        let hex = "a".repeat(64);
        for ok in [MANIFEST_FILE, VERSION_FILE, "signature-1", hex.as_str()] {
            assert!(is_layout_file(ok), "{ok}");
        }
        assert!(is_layout_file(&format!("{hex}.manifest.json")));
        for bad in [
            "precious",
            "signature-",
            "signature-x",
            &"A".repeat(64),
            ".manifest.json",
        ] {
            assert!(!is_layout_file(bad), "{bad}");
        }
    }

    #[test]
    fn completeness() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = b"{}";
        let layer = b"layer";
        let (c, l) = (Digest::of(config), Digest::of(layer));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{c}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":5,"digest":"{l}"}}]}}"#
        );
        std::fs::write(d.join(MANIFEST_FILE), manifest).unwrap();
        std::fs::write(d.join(VERSION_FILE), DIR_VERSION).unwrap();
        std::fs::write(d.join(c.hex()), config).unwrap();
        assert!(!image_complete(d), "a blob is missing");
        std::fs::write(d.join(l.hex()), b"lay").unwrap();
        assert!(!image_complete(d), "a blob is truncated");
        std::fs::write(d.join(l.hex()), layer).unwrap();
        assert!(image_complete(d));
    }
}

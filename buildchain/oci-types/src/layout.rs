//! skopeo's `dir:` layout: `manifest.json` (the manifest, byte for byte), `version`
//! (`Directory Transport Version: 1.1\n`), one file per blob named by its bare hex digest,
//! `<hex>.manifest.json` per child manifest of an index, `signature-N`.

use crate::digest::Digest;

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

/// The file name of an index's child manifest in a `dir:` layout (`skopeo copy --all`).
pub fn child_manifest_file(digest: &Digest) -> String {
    format!("{}.manifest.json", digest.hex())
}

/// The file name of a blob in a `dir:` layout.
pub fn blob_file(digest: &Digest) -> &str {
    digest.hex()
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
}

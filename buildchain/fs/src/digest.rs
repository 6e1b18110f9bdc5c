//! SHA-256 of files, streamed: the one implementation every crate uses (content
//! fingerprints, download manifests, digests of written files).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{FsError, IoResultExt};

/// Lower-case hex SHA-256 of the content of `path` (symbolic links followed).
pub fn sha256_file(path: &Path) -> Result<String, FsError> {
    let (hex, _) = sha256_file_with_size(path)?;
    Ok(hex)
}

/// Lower-case hex SHA-256 of the content of `path`, with the number of bytes read.
pub fn sha256_file_with_size(path: &Path) -> Result<(String, u64), FsError> {
    let mut file = File::open(path).at("open", path)?;
    sha256_read(&mut file).map_err(|e| FsError::new("read", path, e))
}

/// Lower-case hex SHA-256 of everything `reader` gives, with the number of bytes (a file
/// inside an ISO image, a response body).
pub fn sha256_read(reader: &mut dyn Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_content_and_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        assert_eq!(
            sha256_file_with_size(&f).unwrap(),
            (
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824".to_string(),
                5
            )
        );
        let err = sha256_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}

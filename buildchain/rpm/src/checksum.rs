//! Checksums announced by repodata (`sha256`, `sha512`, … and legacy `sha`/`sha1`).

use sha2::digest::DynDigest;

/// An expected checksum: its type (`sha256`, …) and lower-case hex value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub kind: String,
    pub hex: String,
}

impl Checksum {
    /// Validates the type and the hex length.
    pub fn new(kind: &str, hex: &str) -> Result<Checksum, String> {
        let hasher = hasher_for(kind)?;
        let hex = hex.trim().to_ascii_lowercase();
        if hex.len() != hasher.output_size() * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "checksum '{hex}' is not a {kind} digest ({} hex digits)",
                hasher.output_size() * 2
            ));
        }
        Ok(Checksum {
            kind: kind.to_string(),
            hex,
        })
    }

    pub(crate) fn hasher(&self) -> Box<dyn DynDigest + Send> {
        // The type was validated in `new`.
        hasher_for(&self.kind).unwrap_or_else(|_| Box::new(sha2::Sha256::default()))
    }
}

fn hasher_for(kind: &str) -> Result<Box<dyn DynDigest + Send>, String> {
    Ok(match kind {
        "sha256" => Box::new(sha2::Sha256::default()),
        "sha512" => Box::new(sha2::Sha512::default()),
        "sha384" => Box::new(sha2::Sha384::default()),
        "sha224" => Box::new(sha2::Sha224::default()),
        "sha" | "sha1" => Box::new(sha1::Sha1::default()),
        other => {
            return Err(format!(
                "unsupported checksum type '{other}' (sha1, sha224, sha256, sha384, sha512)"
            ))
        }
    })
}

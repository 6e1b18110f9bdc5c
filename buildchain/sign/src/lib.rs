//! OpenPGP signing and verification for the build chain (see README.md): a user's armored
//! secret key loaded once ([`SigningKey`]), detached armored signatures of files
//! (`SHA256SUM.asc`, `repomd.xml.asc`), the signer for RPM headers, and offline checks of
//! detached signatures against an armored public key ([`verify_detached`]).

use std::path::{Path, PathBuf};

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedSecretKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::KeyDetails;
use rpm::signature::pgp::Signer;
use rpm::signature::Signing;

/// Everything that can go wrong, naming the key or the file.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signing key {}: cannot read: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("signing key {}: {rule}", path.display())]
    Key { path: PathBuf, rule: String },
    #[error("{what}: {rule}")]
    Signature { what: String, rule: String },
}

/// A secret key, ready to sign.
#[derive(Debug, Clone)]
pub struct SigningKey {
    path: PathBuf,
    signer: Signer,
    public_armored: String,
    fingerprint: String,
    /// When the key was made (seconds since the epoch): no signature is older.
    created: u64,
}

impl SigningKey {
    /// Loads the armored secret key at `path`, unlocked by `passphrase` if it has one, and
    /// checks that it can sign now (at `now`, seconds since the epoch): a malformed key, an
    /// expired or revoked one, or a wrong or missing passphrase is an error here, before
    /// anything is built with it.
    pub fn load(path: &Path, passphrase: Option<&str>, now: u64) -> Result<SigningKey, SignError> {
        let fail = |rule: String| SignError::Key {
            path: path.to_path_buf(),
            rule,
        };
        let text = read_key_file(path)?;
        if !text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
            return Err(fail(
                "not an armored OpenPGP secret key (-----BEGIN PGP PRIVATE KEY BLOCK-----)".into(),
            ));
        }
        let (secret, _) = SignedSecretKey::from_string(&text)
            .map_err(|e| fail(format!("not a valid OpenPGP secret key: {e}")))?;
        secret
            .verify_bindings()
            .map_err(|e| fail(format!("its self-signatures do not verify: {e}")))?;
        if !secret.details.revocation_signatures.is_empty() {
            return Err(fail("the key is revoked".into()));
        }
        let created = u64::from(secret.primary_key.created_at().as_secs());
        // A signing subkey that expired or was revoked would make signatures verifiers
        // refuse (and `rpm --import` refuses the whole key).
        for subkey in &secret.secret_subkeys {
            let made = u64::from(subkey.key.created_at().as_secs());
            let id = format!("{:X}", subkey.key.fingerprint());
            let problem = match subkey_status(&subkey.signatures, made, now) {
                SubkeyStatus::Usable => continue,
                SubkeyStatus::Revoked => "is revoked",
                SubkeyStatus::Expired => "has expired",
            };
            return Err(fail(format!(
                "its subkey {id} {problem}: renew it, or export the key without it"
            )));
        }
        // No signature may be older than the key that makes it: the primary or a subkey.
        let newest_key = secret
            .secret_subkeys
            .iter()
            .map(|s| u64::from(s.key.created_at().as_secs()))
            .chain([created])
            .max()
            .unwrap_or(created);
        let expiration = secret
            .details
            .users
            .iter()
            .flat_map(|u| &u.signatures)
            .chain(&secret.details.direct_signatures)
            .filter_map(|s| s.key_expiration_time())
            .map(|d| u64::from(d.as_secs()))
            .max();
        if let Some(lifetime) = expiration.filter(|&l| l > 0) {
            if created + lifetime <= now {
                return Err(fail(format!(
                    "the key expired {} seconds after its creation ({} seconds ago)",
                    lifetime,
                    now - (created + lifetime)
                )));
            }
        }
        let public = secret.to_public_key();
        let public_armored = public
            .to_armored_string(Default::default())
            .map_err(|e| fail(format!("cannot export its public key: {e}")))?;
        let fingerprint = format!("{:X}", secret.primary_key.fingerprint());
        let mut signer =
            Signer::from_asc(&text).map_err(|e| fail(format!("cannot sign with it: {e}")))?;
        if let Some(passphrase) = passphrase {
            signer = signer.with_key_passphrase(passphrase);
        }
        let key = SigningKey {
            path: path.to_path_buf(),
            signer,
            public_armored,
            fingerprint,
            created: newest_key,
        };
        // A passphrase-protected key without (or with a wrong) passphrase fails here.
        key.sign_detached(b"buildchain", now).map_err(|e| {
            fail(match passphrase {
                None => format!(
                    "cannot sign with it ({e}): is it protected by a passphrase? Give it in SIGNING_KEY_PASSPHRASE"
                ),
                Some(_) => format!("cannot sign with it ({e}): is the passphrase wrong?"),
            })
        })?;
        Ok(key)
    }

    /// The armored public key (what `gpg --import`, `rpm --import` and dnf's `gpgkey` read).
    pub fn public_key_armored(&self) -> &str {
        &self.public_armored
    }

    /// The primary key's fingerprint (upper-case hex).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The time signatures are made at for a requested `time`: no earlier than the newest
    /// of the key's keys (verifiers refuse a signature older than the key that made it).
    pub fn signing_time(&self, time: u64) -> u64 {
        time.max(self.created)
    }

    /// The signer of RPM headers (`rpm::PackageBuilder::build_and_sign`).
    pub fn rpm_signer(&self) -> &Signer {
        &self.signer
    }

    /// A detached, armored signature of `data` (`-----BEGIN PGP SIGNATURE-----`), made at
    /// `time` (seconds since the epoch: the build's, so the same key, data and time give
    /// the same bytes with a deterministic algorithm such as RSA or EdDSA), or at the
    /// key's creation when that is later (a signature older than its key is refused by
    /// verifiers: a new key signing the rebuild of an old release).
    pub fn sign_detached(&self, data: &[u8], time: u64) -> Result<String, SignError> {
        self.sign_detached_from(data, time)
    }

    /// [`SigningKey::sign_detached`] of what `data` reads (a whole ISO, streamed).
    pub fn sign_detached_from(
        &self,
        data: impl std::io::Read,
        time: u64,
    ) -> Result<String, SignError> {
        let time = self.signing_time(time);
        let fail = |rule: String| SignError::Signature {
            what: format!("signing with {}", self.path.display()),
            rule,
        };
        let time = u32::try_from(time).map_err(|_| fail(format!("time {time} out of range")))?;
        let bytes = self
            .signer
            .sign(data, rpm::Timestamp(time))
            .map_err(|e| fail(e.to_string()))?;
        let signature =
            DetachedSignature::from_bytes(&bytes[..]).map_err(|e| fail(e.to_string()))?;
        signature
            .to_armored_string(Default::default())
            .map_err(|e| fail(e.to_string()))
    }
}

/// Most bytes of a key file (an armored RSA-4096 key with subkeys is a few KiB).
const KEY_FILE_LIMIT: u64 = 1 << 20;

/// The text of the key file `path`: a regular file (a link to one is followed) of at most
/// [`KEY_FILE_LIMIT`] bytes; a FIFO or a device is refused, not waited on or read forever.
pub fn read_key_file(path: &Path) -> Result<String, SignError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let read_error = |cause: std::io::Error| SignError::Read {
        path: path.to_path_buf(),
        cause,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    let rule = |rule: String| SignError::Key {
        path: path.to_path_buf(),
        rule,
    };
    if !metadata.is_file() {
        return Err(rule("not a regular file".into()));
    }
    if metadata.len() > KEY_FILE_LIMIT {
        return Err(rule(format!(
            "{} bytes: larger than the {KEY_FILE_LIMIT} bytes a key file may have",
            metadata.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(KEY_FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    String::from_utf8(bytes).map_err(|_| rule("not text: an armored key is ASCII".into()))
}

/// Checks `signature` (armored, detached) of `data` against the armored public key(s) of
/// `public_key` (its primary key or any subkey). `what` names the signed file in errors.
pub fn verify_detached(
    public_key: &str,
    data: &[u8],
    signature: &str,
    what: &str,
) -> Result<(), SignError> {
    let fail = |rule: String| SignError::Signature {
        what: what.to_string(),
        rule,
    };
    let (signature, _) = DetachedSignature::from_string(signature)
        .map_err(|e| fail(format!("not an armored OpenPGP signature: {e}")))?;
    // Every armored block of the file (`cat a.asc b.asc` is a keyring gpg accepts).
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let mut tried = 0;
    let mut revoked = false;
    for block in public_key.split(BEGIN).skip(1) {
        let armored = format!("{BEGIN}{block}");
        let (keys, _) = SignedPublicKey::from_string_many(&armored)
            .map_err(|e| fail(format!("the public key is not readable: {e}")))?;
        for key in keys.flatten() {
            tried += 1;
            if !key.details.revocation_signatures.is_empty() {
                // A revoked primary key takes its subkeys with it.
                revoked |= signature.verify(&key, data).is_ok()
                    || key
                        .public_subkeys
                        .iter()
                        .any(|sub| signature.verify(&sub.key, data).is_ok());
                continue;
            }
            if signature.verify(&key, data).is_ok() {
                return Ok(());
            }
            for subkey in &key.public_subkeys {
                // Expiry is not checked here: a signature made before it stays good.
                if subkey_status(&subkey.signatures, 0, 0) == SubkeyStatus::Revoked {
                    revoked |= signature.verify(&subkey.key, data).is_ok();
                    continue;
                }
                if signature.verify(&subkey.key, data).is_ok() {
                    return Ok(());
                }
            }
        }
    }
    if revoked {
        return Err(fail(
            "the key that made the signature is revoked: it is not trusted any more".into(),
        ));
    }
    Err(fail(if tried == 0 {
        "the public key holds no key".to_string()
    } else {
        "the signature does not verify with the given key (the file or its signature was changed, or another key signed it)".to_string()
    }))
}

/// What a subkey's binding signatures say of it at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubkeyStatus {
    Usable,
    Revoked,
    Expired,
}

/// The status at `now` of a subkey made at `created`, per its binding `signatures`.
fn subkey_status(signatures: &[Signature], created: u64, now: u64) -> SubkeyStatus {
    if signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
    {
        return SubkeyStatus::Revoked;
    }
    let lifetime = signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
        .filter_map(|s| s.key_expiration_time())
        .map(|d| u64::from(d.as_secs()))
        .max()
        .unwrap_or(0);
    if lifetime > 0 && created.saturating_add(lifetime) <= now {
        SubkeyStatus::Expired
    } else {
        SubkeyStatus::Usable
    }
}

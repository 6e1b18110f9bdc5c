//! `buildchain-oci-types`: the OCI vocabulary every crate of the build chain shares (see
//! README.md): one grammar for repository names, tags and registry hosts; `sha256:`
//! digests; media types; manifests and indexes parsed with `oci-spec`'s types (the bytes
//! are kept and hashed as served, never re-serialised); platforms; skopeo's `dir:` layout.

mod digest;
pub mod layout;
pub mod manifest;
pub mod media_type;
pub mod name;
mod reference;

pub use digest::{Digest, HashingWriter};
pub use manifest::{Descriptor, IndexEntry, Manifest, ManifestProblem};
pub use name::NameError;
pub use reference::{ImageReference, Platform, PlatformError, ReferenceError};

//! skopeo's `dir:` layout as this crate writes it. The vocabulary (file names, media types,
//! manifest parsing) is `buildchain-oci-types`'; re-exported here for the crate's modules.

pub use buildchain_oci_types::layout::{is_layout_file, DIR_VERSION, MANIFEST_FILE, VERSION_FILE};
pub use buildchain_oci_types::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MANIFEST_ACCEPT,
    OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
pub use buildchain_oci_types::{Descriptor, IndexEntry, Manifest, ManifestProblem};

/// Manifest formats this crate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// Docker image manifest v2 schema 2 (what MetalK8s ships and static-container-registry serves).
    #[default]
    V2s2,
    /// OCI image manifest v1.
    Oci,
}

/// Links `src` to `dst` (a hardlink when both are on one file system, else a copy).
pub(crate) fn link_or_copy(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
    match std::fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => std::fs::copy(src, dst).map(|_| ()),
    }
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

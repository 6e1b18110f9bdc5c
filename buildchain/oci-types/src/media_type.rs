//! Media types: the OCI ones come from `oci-spec` ([`MediaType`]); Docker's, which the
//! OCI spec does not name, are constants here. One list for every crate.

pub use oci_spec::image::MediaType;

/// Docker image manifest v2 schema 2 (what MetalK8s ships).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image configuration.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker image manifest v2 schema 1 (signed or not): never served nor pulled.
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The OCI media type strings (as `oci-spec` spells them).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Manifest kinds a registry client asks for, in order of preference: the `Accept` header.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Whether `media_type` names an image manifest (Docker v2s2 or OCI).
pub fn is_image_manifest(media_type: &str) -> bool {
    matches!(media_type, DOCKER_MANIFEST | OCI_MANIFEST)
}

/// Whether `media_type` names a list of manifests (Docker manifest list or OCI index).
pub fn is_index(media_type: &str) -> bool {
    matches!(media_type, DOCKER_MANIFEST_LIST | OCI_INDEX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_constants_are_oci_specs_spelling() {
        assert_eq!(MediaType::ImageManifest.to_string(), OCI_MANIFEST);
        assert_eq!(MediaType::ImageIndex.to_string(), OCI_INDEX);
        assert_eq!(MediaType::ImageConfig.to_string(), OCI_CONFIG);
        assert_eq!(MediaType::ImageLayer.to_string(), OCI_LAYER_TAR);
        assert_eq!(MediaType::ImageLayerGzip.to_string(), OCI_LAYER_GZIP);
        assert_eq!(MediaType::ImageLayerZstd.to_string(), OCI_LAYER_ZSTD);
        for t in [
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            OCI_INDEX,
        ] {
            assert!(MANIFEST_ACCEPT.contains(t));
        }
        assert!(is_index(OCI_INDEX) && !is_index(OCI_MANIFEST));
        assert!(is_image_manifest(DOCKER_MANIFEST) && !is_image_manifest(DOCKER_CONFIG));
    }
}

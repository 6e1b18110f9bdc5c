//! Native, reproducible image builds from `images/<name>/image.toml` into the `dir:` layout.

mod config;
mod definition;
mod layer;

pub use definition::{
    Base, DirSpec, FileSpec, ImageConfig, ImageDefinition, LayerSpec, SourceRoot, SymlinkSpec,
    DEFINITION_FILE,
};
pub use layer::LayerBlob;

use crate::error::IoContext;
use crate::layout::{
    link_or_copy, Descriptor, Manifest, ManifestFormat, DIR_VERSION, DOCKER_CONFIG,
    DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MANIFEST_FILE, OCI_CONFIG, OCI_INDEX,
    OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_MANIFEST, VERSION_FILE,
};
use crate::OciError;
use buildchain_oci_types::{Digest, Platform};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Inputs of a build that are not in the definition.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Repository root: `from = "repo"` sources are relative to it.
    pub repo_root: PathBuf,
    /// Build root: `from = "build"` sources are relative to it (None: such sources are an error).
    pub build_root: Option<PathBuf>,
    /// Timestamps of the image (config `created`, history) and upper bound of file mtimes.
    pub source_date_epoch: u64,
    pub format: ManifestFormat,
    /// `dir:` directories of the base images a definition may name (`image.base`).
    pub base_images: BTreeMap<String, PathBuf>,
}

impl BuildContext {
    /// A context with no build root and no base images, Docker v2s2 output.
    pub fn new(repo_root: impl Into<PathBuf>, source_date_epoch: u64) -> BuildContext {
        BuildContext {
            repo_root: repo_root.into(),
            build_root: None,
            source_date_epoch,
            format: ManifestFormat::V2s2,
            base_images: BTreeMap::new(),
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub image: String,
    /// Digest of `manifest.json`.
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    /// The image's own layers (base layers not included).
    pub layers: Vec<LayerBlob>,
}

/// Every file the build of `def` reads, sorted: the definition, each source file, and the
/// base image's `manifest.json` (for up-to-date checks).
pub fn input_files(def: &ImageDefinition, ctx: &BuildContext) -> Result<Vec<PathBuf>, OciError> {
    let mut files = vec![def.definition_file()];
    for layer in &def.layers {
        files.extend(layer::layer_inputs(def, layer, ctx)?);
    }
    if let Base::Image(name) = &def.base {
        files.push(base_dir(def, ctx, name)?.join(MANIFEST_FILE));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Builds `def` into the `dir:` layout at `dest` (replaced when it exists). Independent
/// layers are built in parallel; the result is staged and renamed into place when complete.
pub fn build_image(
    def: &ImageDefinition,
    ctx: &BuildContext,
    dest: &Path,
) -> Result<BuildReport, OciError> {
    let staging = buildchain_fs::StagingDir::create(dest)?;
    let stage = staging.path();
    let base = match &def.base {
        Base::Scratch => None,
        Base::Image(name) => Some(load_base(def, ctx, name, stage)?),
    };
    let layers: Vec<LayerBlob> = (0..def.layers.len())
        .into_par_iter()
        .map(|i| layer::build_layer(def, i, ctx, stage))
        .collect::<Result<_, _>>()?;

    let config_json = config::image_config(def, ctx, base.as_ref().map(|b| &b.config), &layers)?;
    let config_digest = Digest::of(&config_json);
    let config_path = stage.join(config_digest.hex());
    buildchain_fs::write_new(&config_path, &config_json, 0o644)?;

    let (manifest_type, config_type, layer_type) = match ctx.format {
        ManifestFormat::V2s2 => (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER_GZIP),
        ManifestFormat::Oci => (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP),
    };
    let mut manifest_layers = Vec::new();
    if let Some(base) = &base {
        for d in &base.layers {
            manifest_layers.push(ManifestDescriptor {
                media_type: convert_layer_type(def, &d.media_type, ctx.format)?,
                size: d.size,
                digest: d.digest.to_string(),
            });
        }
    }
    for l in &layers {
        manifest_layers.push(ManifestDescriptor {
            media_type: layer_type.to_string(),
            size: l.size,
            digest: l.digest.to_string(),
        });
    }
    let manifest = ManifestDocument {
        schema_version: 2,
        media_type: manifest_type,
        config: ManifestDescriptor {
            media_type: config_type.to_string(),
            size: config_json.len() as u64,
            digest: config_digest.to_string(),
        },
        layers: manifest_layers,
    };
    let mut manifest_json = serde_json::to_vec_pretty(&manifest).map_err(|e| OciError::Build {
        image: def.name.clone(),
        detail: format!("serialising the manifest: {e}"),
    })?;
    manifest_json.push(b'\n');
    let manifest_path = stage.join(MANIFEST_FILE);
    buildchain_fs::write_new(&manifest_path, &manifest_json, 0o644)?;
    let version_path = stage.join(VERSION_FILE);
    buildchain_fs::write_new(&version_path, DIR_VERSION.as_bytes(), 0o644)?;
    staging.publish()?;
    Ok(BuildReport {
        image: def.name.clone(),
        manifest_digest: Digest::of(&manifest_json),
        config_digest,
        layers,
    })
}

/// What an index build produced.
#[derive(Debug, Clone)]
pub struct IndexReport {
    pub image: String,
    /// Digest of `manifest.json` (the index).
    pub index_digest: Digest,
    /// Each platform, in the order given, and its image manifest's digest.
    pub platforms: Vec<(Platform, Digest)>,
}

/// Every file the builds of `def` for `platforms` read (see [`input_files`]).
pub fn input_files_for(
    def: &ImageDefinition,
    ctx: &BuildContext,
    platforms: &[Platform],
) -> Result<Vec<PathBuf>, OciError> {
    let mut files = Vec::new();
    for platform in platforms {
        files.extend(input_files(&def.for_platform(platform), ctx)?);
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Builds `def` once per platform ([`ImageDefinition::for_platform`]) and publishes them
/// as an index at `dest` (a Docker manifest list in the V2s2 format, an OCI index
/// otherwise): `manifest.json` is the index, each platform's manifest is
/// `<hex>.manifest.json`, every blob is stored once (layers the platforms share are the
/// same blob). A base image that is an index gives each build its platform's manifest.
pub fn build_index(
    def: &ImageDefinition,
    ctx: &BuildContext,
    platforms: &[Platform],
    dest: &Path,
) -> Result<IndexReport, OciError> {
    if platforms.is_empty() {
        return Err(OciError::Build {
            image: def.name.clone(),
            detail: "no platform to build".into(),
        });
    }
    let staging = buildchain_fs::StagingDir::create(dest)?;
    let stage = staging.path();
    let mut entries = Vec::new();
    let mut built = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let one = stage.join(format!(".platform-{i}"));
        let report = build_image(&def.for_platform(platform), ctx, &one)?;
        let manifest_path = one.join(MANIFEST_FILE);
        let manifest = std::fs::read(&manifest_path).at(&manifest_path)?;
        for entry in std::fs::read_dir(&one).at(&one)? {
            let entry = entry.at(&one)?;
            let name = entry.file_name();
            let is_blob = name
                .to_str()
                .is_some_and(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()));
            let target = stage.join(&name);
            if is_blob && !target.exists() {
                std::fs::rename(entry.path(), &target).at(&target)?;
            }
        }
        std::fs::remove_dir_all(&one).at(&one)?;
        let child = stage.join(buildchain_oci_types::layout::child_manifest_file(
            &report.manifest_digest,
        ));
        if !child.exists() {
            buildchain_fs::write_new(&child, &manifest, 0o644)?;
        }
        entries.push(IndexEntryDocument {
            media_type: match ctx.format {
                ManifestFormat::V2s2 => DOCKER_MANIFEST,
                ManifestFormat::Oci => OCI_MANIFEST,
            },
            size: manifest.len() as u64,
            digest: report.manifest_digest.to_string(),
            platform: PlatformDocument {
                architecture: platform.architecture.clone(),
                os: platform.os.clone(),
                variant: platform.variant.clone(),
            },
        });
        built.push((platform.clone(), report.manifest_digest));
    }
    let index = IndexDocument {
        schema_version: 2,
        media_type: match ctx.format {
            ManifestFormat::V2s2 => DOCKER_MANIFEST_LIST,
            ManifestFormat::Oci => OCI_INDEX,
        },
        manifests: entries,
    };
    let mut index_json = serde_json::to_vec_pretty(&index).map_err(|e| OciError::Build {
        image: def.name.clone(),
        detail: format!("serialising the index: {e}"),
    })?;
    index_json.push(b'\n');
    buildchain_fs::write_new(&stage.join(MANIFEST_FILE), &index_json, 0o644)?;
    buildchain_fs::write_new(&stage.join(VERSION_FILE), DIR_VERSION.as_bytes(), 0o644)?;
    staging.publish()?;
    Ok(IndexReport {
        image: def.name.clone(),
        index_digest: Digest::of(&index_json),
        platforms: built,
    })
}

#[derive(Serialize)]
struct IndexDocument {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: Vec<IndexEntryDocument>,
}

#[derive(Serialize)]
struct IndexEntryDocument {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    size: u64,
    digest: String,
    platform: PlatformDocument,
}

#[derive(Serialize)]
struct PlatformDocument {
    architecture: String,
    os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
}

#[derive(Serialize)]
struct ManifestDocument {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: ManifestDescriptor,
    layers: Vec<ManifestDescriptor>,
}

#[derive(Serialize)]
struct ManifestDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: String,
}

struct BaseImage {
    config: serde_json::Value,
    layers: Vec<Descriptor>,
}

fn base_dir<'a>(
    def: &ImageDefinition,
    ctx: &'a BuildContext,
    name: &str,
) -> Result<&'a PathBuf, OciError> {
    ctx.base_images.get(name).ok_or_else(|| OciError::Build {
        image: def.name.clone(),
        detail: format!(
            "base image {name:?} was not provided (pull it first and pass its directory)"
        ),
    })
}

/// Reads the base image's manifest and config, and links its layers into the stage.
fn load_base(
    def: &ImageDefinition,
    ctx: &BuildContext,
    name: &str,
    stage: &Path,
) -> Result<BaseImage, OciError> {
    let dir = base_dir(def, ctx, name)?;
    let fail = |detail: String| OciError::Build {
        image: def.name.clone(),
        detail: format!("base image {name:?} ({}): {detail}", dir.display()),
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut bytes = std::fs::read(&manifest_path).at(&manifest_path)?;
    // A multi-platform base: the manifest of this build's platform, stored next to the
    // index (`<hex>.manifest.json`) and checked against its entry.
    if let Ok(Manifest::Index { entries, .. }) = Manifest::parse(&bytes, None) {
        let wanted = &def.platform;
        let Some(entry) = entries
            .iter()
            .find(|e| e.platform.as_ref().is_some_and(|p| wanted.is_served_by(p)))
        else {
            return Err(fail(format!("its index has no {wanted} manifest")));
        };
        let child = dir.join(buildchain_oci_types::layout::child_manifest_file(
            &entry.digest,
        ));
        bytes = std::fs::read(&child).at(&child)?;
        if Digest::of(&bytes) != entry.digest {
            return Err(fail(format!(
                "{} does not match its digest",
                child.display()
            )));
        }
    }
    let (config, layers) = match Manifest::parse(&bytes, None) {
        Ok(Manifest::Image { config, layers, .. }) => (config, layers),
        Ok(Manifest::Index { .. }) => return Err(fail("its index lists another index".into())),
        Err(buildchain_oci_types::ManifestProblem::UnsupportedMediaType(m)) => {
            return Err(fail(format!("unsupported manifest media type {m:?}")))
        }
        Err(buildchain_oci_types::ManifestProblem::Malformed(m)) => {
            return Err(fail(format!("malformed manifest.json: {m}")))
        }
    };
    let config_path = dir.join(config.digest.hex());
    let config_bytes = std::fs::read(&config_path).at(&config_path)?;
    if Digest::of(&config_bytes) != config.digest {
        return Err(fail(format!(
            "config blob {} does not match its digest",
            config.digest
        )));
    }
    let config_value: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| fail(format!("config is not JSON: {e}")))?;
    // Its layers run on this build's platform only if it is of it.
    if let (Some(os), Some(architecture)) = (
        config_value["os"].as_str(),
        config_value["architecture"].as_str(),
    ) {
        let base_platform = Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: config_value["variant"].as_str().map(str::to_string),
        };
        if !def.platform.is_served_by(&base_platform) {
            return Err(fail(format!(
                "it is a {base_platform} image, this build is for {}",
                def.platform
            )));
        }
    }
    for layer in &layers {
        let src = dir.join(layer.digest.hex());
        let size = std::fs::metadata(&src).at(&src)?.len();
        if size != layer.size {
            return Err(fail(format!(
                "layer {} is {size} bytes, the manifest says {}",
                layer.digest, layer.size
            )));
        }
        let dst = stage.join(layer.digest.hex());
        if !dst.exists() {
            link_or_copy(&src, &dst).at(&dst)?;
        }
    }
    Ok(BaseImage {
        config: config_value,
        layers,
    })
}

fn convert_layer_type(
    def: &ImageDefinition,
    media_type: &str,
    format: ManifestFormat,
) -> Result<String, OciError> {
    const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    let converted = match (media_type, format) {
        (DOCKER_LAYER_GZIP | OCI_LAYER_GZIP, ManifestFormat::V2s2) => DOCKER_LAYER_GZIP,
        (DOCKER_LAYER_GZIP | OCI_LAYER_GZIP, ManifestFormat::Oci) => OCI_LAYER_GZIP,
        (DOCKER_LAYER_TAR | OCI_LAYER_TAR, ManifestFormat::V2s2) => DOCKER_LAYER_TAR,
        (DOCKER_LAYER_TAR | OCI_LAYER_TAR, ManifestFormat::Oci) => OCI_LAYER_TAR,
        (other, ManifestFormat::Oci) if other.starts_with("application/vnd.oci.image.layer.") => {
            other
        }
        (other, _) => {
            return Err(OciError::Build {
                image: def.name.clone(),
                detail: format!(
                    "base layer media type {other:?} cannot be written in the {format:?} format"
                ),
            })
        }
    };
    Ok(converted.to_string())
}

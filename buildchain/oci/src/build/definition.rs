//! `images/<name>/image.toml`: the declarative image definition.

use crate::OciError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// File name of a definition inside its directory.
pub const DEFINITION_FILE: &str = "image.toml";

/// A loaded and validated image definition.
#[derive(Debug, Clone)]
pub struct ImageDefinition {
    /// Image name: `image.name`, else the definition directory's name.
    pub name: String,
    /// The definition directory (`images/<name>/`).
    pub dir: PathBuf,
    pub platform: buildchain_oci_types::Platform,
    pub base: Base,
    pub config: ImageConfig,
    pub layers: Vec<LayerSpec>,
}

impl ImageDefinition {
    /// The definition built for `platform`: `{arch}` in a file's `src` becomes the
    /// platform's architecture (`files/bin/{arch}/tool`: files per architecture where they
    /// differ), and the config says `platform`.
    pub fn for_platform(&self, platform: &buildchain_oci_types::Platform) -> ImageDefinition {
        let mut def = self.clone();
        def.platform = platform.clone();
        for layer in &mut def.layers {
            for file in &mut layer.files {
                file.src = file.src.replace("{arch}", &platform.architecture);
            }
        }
        def
    }
}

/// What the image starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// No base: the image is only its own layers.
    Scratch,
    /// A pulled image, by name: the caller maps it to its `dir:` directory
    /// ([`crate::build::BuildContext::base_images`]).
    Image(String),
}

/// The runtime configuration (Docker / OCI image config fields).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=value` strings, in order.
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `PORT/tcp` or `PORT/udp` (a bare `PORT` means tcp).
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    pub stop_signal: Option<String>,
}

/// One layer: files, directories and symlinks, all placed by absolute image path.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Recorded in the image history.
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub dirs: Vec<DirSpec>,
    #[serde(default)]
    pub symlinks: Vec<SymlinkSpec>,
}

/// Where a file's `src` is taken from.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceRoot {
    /// The definition directory (default).
    #[default]
    Image,
    /// The repository root.
    Repo,
    /// The build root (outputs of other tasks).
    Build,
}

/// A file or a directory tree copied into the layer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Relative path under `from`; a directory is copied recursively.
    pub src: String,
    /// Absolute path in the image. For a directory `src`, the directory it becomes.
    pub dest: String,
    #[serde(default)]
    pub from: SourceRoot,
    /// Mode of regular files (e.g. `0o755`); default: 0o755 when the source is
    /// executable by its owner, else 0o644.
    pub mode: Option<u32>,
}

/// An (empty) directory.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirSpec {
    pub path: String,
    #[serde(default = "default_dir_mode")]
    pub mode: u32,
}

/// A symbolic link.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SymlinkSpec {
    pub path: String,
    pub target: String,
}

fn default_dir_mode() -> u32 {
    0o755
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    #[serde(default)]
    image: RawImage,
    #[serde(default)]
    config: ImageConfig,
    #[serde(default)]
    layers: Vec<LayerSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    name: Option<String>,
    platform: Option<String>,
    base: Option<String>,
}

impl ImageDefinition {
    /// Loads `dir/image.toml` and checks every rule; the error names the image and file.
    pub fn load(dir: &Path) -> Result<ImageDefinition, OciError> {
        let path = dir.join(DEFINITION_FILE);
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let fail = |detail: String| OciError::Definition {
            image: dir_name.clone(),
            path: path.clone(),
            detail,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let raw: RawDefinition =
            toml::from_str(&text).map_err(|e| fail(e.to_string().trim_end().to_string()))?;
        let name = raw.image.name.unwrap_or(dir_name.clone());
        let fail = |detail: String| OciError::Definition {
            image: name.clone(),
            path: path.clone(),
            detail,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        {
            return Err(fail(format!(
                "image.name {name:?} must be lowercase letters, digits, '.', '_' or '-'"
            )));
        }
        let platform = match raw.image.platform.as_deref() {
            Some(p) => buildchain_oci_types::Platform::parse(p)
                .map_err(|e| fail(format!("image.platform: {e}")))?,
            None => buildchain_oci_types::Platform::default(),
        };
        let base = match raw.image.base.as_deref() {
            None | Some("scratch") => Base::Scratch,
            Some("") => {
                return Err(fail(
                    "image.base must be \"scratch\" or an image name".into(),
                ))
            }
            Some(other) => Base::Image(other.to_string()),
        };
        check_config(&raw.config).map_err(|d| fail(format!("config: {d}")))?;
        if raw.layers.is_empty() {
            return Err(fail(
                "no [[layers]]: an image needs at least one layer".into(),
            ));
        }
        for (i, layer) in raw.layers.iter().enumerate() {
            check_layer(layer).map_err(|d| fail(format!("layers[{i}]: {d}")))?;
        }
        Ok(ImageDefinition {
            name,
            dir: dir.to_path_buf(),
            platform,
            base,
            config: raw.config,
            layers: raw.layers,
        })
    }

    /// Path of the definition file.
    pub fn definition_file(&self) -> PathBuf {
        self.dir.join(DEFINITION_FILE)
    }

    /// The directory a file's `src` is relative to.
    pub fn source_root(
        &self,
        from: SourceRoot,
        ctx: &super::BuildContext,
    ) -> Result<PathBuf, OciError> {
        match from {
            SourceRoot::Image => Ok(self.dir.clone()),
            SourceRoot::Repo => Ok(ctx.repo_root.clone()),
            SourceRoot::Build => ctx.build_root.clone().ok_or_else(|| OciError::Definition {
                image: self.name.clone(),
                path: self.definition_file(),
                detail: "a file has from = \"build\" but no build root was given".into(),
            }),
        }
    }
}

fn check_config(config: &ImageConfig) -> Result<(), String> {
    for env in &config.env {
        match env.split_once('=') {
            Some((k, _)) if !k.is_empty() && !k.contains(char::is_whitespace) => {}
            _ => return Err(format!("env entry {env:?} must be KEY=value")),
        }
    }
    for port in &config.exposed_ports {
        let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        if number.parse::<u16>().map_or(true, |p| p == 0)
            || !matches!(proto, "tcp" | "udp" | "sctp")
        {
            return Err(format!("exposed port {port:?} must be PORT[/tcp|udp|sctp]"));
        }
    }
    if let Some(w) = &config.workdir {
        if !w.starts_with('/') {
            return Err(format!("workdir {w:?} must be absolute"));
        }
    }
    Ok(())
}

fn check_layer(layer: &LayerSpec) -> Result<(), String> {
    if layer.files.is_empty() && layer.dirs.is_empty() && layer.symlinks.is_empty() {
        return Err("empty layer (no files, dirs or symlinks)".into());
    }
    for f in &layer.files {
        check_relative(&f.src).map_err(|d| format!("src {:?}: {d}", f.src))?;
        image_path(&f.dest).map_err(|d| format!("dest {:?}: {d}", f.dest))?;
        if f.mode.is_some_and(|m| m > 0o7777) {
            return Err(format!(
                "mode of {:?} is not a permission mode (write it as 0o755)",
                f.src
            ));
        }
    }
    for d in &layer.dirs {
        image_path(&d.path).map_err(|e| format!("dir {:?}: {e}", d.path))?;
        if d.mode > 0o7777 {
            return Err(format!(
                "mode of dir {:?} is not a permission mode (write it as 0o755)",
                d.path
            ));
        }
    }
    for s in &layer.symlinks {
        image_path(&s.path).map_err(|e| format!("symlink {:?}: {e}", s.path))?;
        if s.target.is_empty() || s.target.contains('\0') {
            return Err(format!(
                "symlink {:?} has an empty or invalid target",
                s.path
            ));
        }
    }
    Ok(())
}

/// A source path must stay inside its root.
fn check_relative(src: &str) -> Result<(), String> {
    let path = Path::new(src);
    if src.is_empty() {
        return Err("empty path".into());
    }
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => return Err("must be a relative path without '..'".into()),
        }
    }
    Ok(())
}

/// Normalises an absolute image path to its tar form (`usr/bin/x`, no leading `/`).
pub(crate) fn image_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("must be an absolute path in the image".into());
    }
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => {
                let p = p.to_str().ok_or("is not UTF-8")?;
                parts.push(p.to_string());
            }
            _ => return Err("must not contain '..'".into()),
        }
    }
    if parts.is_empty() {
        return Err("must name something below /".into());
    }
    Ok(parts.join("/"))
}

//! Walking `ROOT/<name>/<tag>/` for images in skopeo's `dir:` layout.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::grammar;
use crate::manifest::{self, MediaType};
use crate::Error;

/// The file holding an image's top-level manifest in a `dir:` layout.
pub const MANIFEST_JSON: &str = "manifest.json";

/// Everything found under a root: the images served and what was passed over.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The root scanned, absolute (the default server root).
    pub root: PathBuf,
    /// Repositories with at least one served tag, sorted by name.
    pub repositories: Vec<Repository>,
    /// Directories and manifests not served, with the reason (informational).
    pub skipped: Vec<Skipped>,
}

/// One repository: the directory `ROOT/<dir_name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Repository name without the prefix; `:` in the directory name becomes `/`.
    pub name: String,
    /// The directory's path under the root (`/`-separated for a nested name).
    pub dir_name: String,
    /// Served tags, sorted by name.
    pub tags: Vec<Tag>,
}

/// One tag: the directory `ROOT/<dir_name>/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    /// The top-level manifest (`manifest.json`).
    pub manifest: Manifest,
    /// For an index or manifest list, the child manifests present in the tag directory
    /// (`<hex>.manifest.json`), in the index's order.
    pub children: Vec<Manifest>,
}

/// A manifest file of a tag directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `sha256:<hex>` of the file's bytes.
    pub digest: String,
    pub media_type: MediaType,
    /// The file's name inside the tag directory.
    pub file_name: String,
}

impl Manifest {
    /// The 64 hex digits of the digest.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// Something found on disk and not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// One image (repository and tag) a generated config serves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServedImage {
    /// Repository name without the prefix.
    pub repository: String,
    pub tag: String,
    /// `sha256:<hex>` of the top-level manifest.
    pub digest: String,
    pub media_type: MediaType,
}

impl Catalog {
    /// Every `repository:tag` served, sorted.
    pub fn served_images(&self) -> Vec<ServedImage> {
        self.repositories
            .iter()
            .flat_map(|repo| {
                repo.tags.iter().map(|tag| ServedImage {
                    repository: repo.name.clone(),
                    tag: tag.name.clone(),
                    digest: tag.manifest.digest.clone(),
                    media_type: tag.manifest.media_type,
                })
            })
            .collect()
    }
}

/// Deepest repository name, in path components, looked for below the root.
const MAX_NAME_DEPTH: usize = 8;

/// Scans `root` for `<name>/<tag>/manifest.json` images. Names and tags of directories
/// that hold a `manifest.json` are checked against the distribution grammar; manifests of
/// kinds not served (schema 1, unknown media types) are skipped, as by the original.
pub fn scan(root: &Path) -> Result<Catalog, Error> {
    let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
    let metadata = fs::metadata(&root).map_err(|e| Error::io(&root, e))?;
    if !metadata.is_dir() {
        return Err(Error::NotADirectory { path: root });
    }
    let mut catalog = Catalog {
        root: root.clone(),
        repositories: Vec::new(),
        skipped: Vec::new(),
    };
    // Repositories: `<dir_name>/` directories whose sub-directories hold `manifest.json`
    // (the tags). A name with slashes is nested directories (`coredns/coredns/v1.11.1/`),
    // or one directory with `:` for `/` (`coredns:coredns/`, the original's layout).
    let mut pending: Vec<(PathBuf, usize)> = sorted_subdirectories(&root, &root)?
        .into_iter()
        .map(|n| (root.join(n), 1))
        .collect();
    pending.reverse();
    while let Some((repo_dir, depth)) = pending.pop() {
        let mut tags = Vec::new();
        let mut nested = Vec::new();
        for tag_name in sorted_subdirectories(&root, &repo_dir)? {
            let tag_dir = repo_dir.join(&tag_name);
            let manifest_path = tag_dir.join(MANIFEST_JSON);
            if !manifest_path.is_file() {
                if depth < MAX_NAME_DEPTH && !sorted_subdirectories(&root, &tag_dir)?.is_empty() {
                    nested.push((tag_dir, depth + 1));
                } else {
                    catalog.skipped.push(Skipped {
                        path: tag_dir,
                        reason: format!("no {MANIFEST_JSON}"),
                    });
                }
                continue;
            }
            check_no_symlinks(&root, &tag_dir)?;
            let tag_name = utf8_name(tag_name, &tag_dir)?;
            grammar::check_tag(&tag_name).map_err(|reason| Error::InvalidTag {
                path: tag_dir.clone(),
                reason,
            })?;
            if let Some(tag) = read_tag(&tag_dir, tag_name, &mut catalog.skipped)? {
                tags.push(tag);
            }
        }
        nested.reverse();
        pending.extend(nested);
        if tags.is_empty() {
            continue;
        }
        let relative = repo_dir.strip_prefix(&root).unwrap_or(&repo_dir);
        let dir_name = utf8_name(relative.as_os_str().to_os_string(), &repo_dir)?;
        let name = dir_name.replace(':', "/");
        grammar::check_repository_name(&name).map_err(|reason| Error::InvalidRepositoryName {
            path: repo_dir.clone(),
            reason,
        })?;
        catalog.repositories.push(Repository {
            name,
            dir_name,
            tags,
        });
    }
    catalog.repositories.sort_by(|a, b| a.name.cmp(&b.name));
    // `a:b/` and `a/b/` are one name: nginx would refuse the duplicate locations.
    if let Some(pair) = catalog
        .repositories
        .windows(2)
        .find(|w| w[0].name == w[1].name)
    {
        return Err(Error::InvalidRepositoryName {
            path: root.join(&pair[1].dir_name),
            reason: format!(
                "the same repository name as {}",
                root.join(&pair[0].dir_name).display()
            ),
        });
    }
    for repo in &mut catalog.repositories {
        repo.tags.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(catalog)
}

/// Names of the sub-directories of `dir`, sorted. A symbolic link to a directory is an
/// error (the original followed them; nginx is told not to: see [`Error::Symlink`]).
fn sorted_subdirectories(root: &Path, dir: &Path) -> Result<Vec<OsString>, Error> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_symlink() {
            if fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                return Err(symlink_error(root, path));
            }
            continue;
        }
        if kind.is_dir() {
            names.push(entry.file_name());
        }
    }
    names.sort();
    Ok(names)
}

/// The error for a symbolic link met at `path`, saying whether it leads out of `root`.
fn symlink_error(root: &Path, path: PathBuf) -> Error {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let outside = match fs::canonicalize(&path) {
        Ok(real) => !real.starts_with(&root),
        // Dangling or looping: where it leads cannot be known; never served either way.
        Err(_) => true,
    };
    Error::Symlink { path, outside }
}

/// Refuses a served tag directory holding any symbolic link (a manifest or a blob that
/// nginx would refuse, or that would serve a file from elsewhere).
fn check_no_symlinks(root: &Path, tag_dir: &Path) -> Result<(), Error> {
    let mut links = Vec::new();
    for entry in fs::read_dir(tag_dir).map_err(|e| Error::io(tag_dir, e))? {
        let entry = entry.map_err(|e| Error::io(tag_dir, e))?;
        if entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_symlink()
        {
            links.push(entry.path());
        }
    }
    links.sort();
    match links.into_iter().next() {
        Some(path) => Err(symlink_error(root, path)),
        None => Ok(()),
    }
}

fn utf8_name(name: OsString, path: &Path) -> Result<String, Error> {
    name.into_string().map_err(|_| Error::NonUtf8Name {
        path: path.to_path_buf(),
    })
}

/// Reads one tag directory; `None` when its manifest is of a kind not served.
fn read_tag(
    tag_dir: &Path,
    name: String,
    skipped: &mut Vec<Skipped>,
) -> Result<Option<Tag>, Error> {
    let path = tag_dir.join(MANIFEST_JSON);
    let file = manifest::read_manifest(&path)?;
    let media_type = match manifest::classify(&file.json) {
        Ok(t) => t,
        Err(reason) => {
            skipped.push(Skipped { path, reason });
            return Ok(None);
        }
    };
    let children = if media_type.is_index() {
        read_children(tag_dir, &path, &file.json, skipped)?
    } else {
        Vec::new()
    };
    Ok(Some(Tag {
        name,
        manifest: Manifest {
            digest: format!("sha256:{}", file.hex_digest),
            media_type,
            file_name: MANIFEST_JSON.to_string(),
        },
        children,
    }))
}

/// The child manifests of an index, stored by skopeo (`copy --all`) as
/// `<hex>.manifest.json` next to `manifest.json`. Children absent from the directory
/// (copied without `--all`) are skipped; a child whose bytes do not match its digest is an
/// error.
fn read_children(
    tag_dir: &Path,
    index_path: &Path,
    index: &serde_json::Value,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Manifest>, Error> {
    let descriptors =
        manifest::child_descriptors(index).map_err(|reason| Error::InvalidManifest {
            path: index_path.to_path_buf(),
            reason,
        })?;
    let mut children: Vec<Manifest> = Vec::new();
    for descriptor in descriptors {
        let hex = match descriptor.hex_digest {
            Ok(hex) => hex,
            Err(reason) => {
                skipped.push(Skipped {
                    path: index_path.to_path_buf(),
                    reason: format!("child manifest not served: {reason}"),
                });
                continue;
            }
        };
        let file_name = format!("{hex}.manifest.json");
        let path = tag_dir.join(&file_name);
        if !path.is_file() {
            skipped.push(Skipped {
                path,
                reason: format!("child manifest sha256:{hex} listed by the index is absent"),
            });
            continue;
        }
        let file = manifest::read_manifest(&path)?;
        if file.hex_digest != hex {
            return Err(Error::DigestMismatch {
                path,
                expected: format!("sha256:{hex}"),
                actual: format!("sha256:{}", file.hex_digest),
            });
        }
        let media_type = match manifest::classify(&file.json) {
            Ok(t) => t,
            Err(reason) => match descriptor.media_type.as_deref().and_then(MediaType::parse) {
                Some(t) => t,
                None => {
                    skipped.push(Skipped { path, reason });
                    continue;
                }
            },
        };
        if children.iter().all(|c| c.file_name != file_name) {
            children.push(Manifest {
                digest: format!("sha256:{hex}"),
                media_type,
                file_name,
            });
        }
    }
    Ok(children)
}

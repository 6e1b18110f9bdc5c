//! A repository directory as the build owns it: which files a fetch placed there (a
//! download manifest, so that later runs can tell without network that they are still
//! there unchanged), and what does not belong (removed before repodata is written).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::RpmError;

/// One file a fetch placed in a repository directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadedFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    /// Modification time (ns since the epoch) when recorded: the content is hashed again
    /// only when it differs.
    pub mtime_ns: u128,
}

/// What a fetch placed in a repository directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadManifest {
    pub files: Vec<DownloadedFile>,
}

fn mtime_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl DownloadManifest {
    /// Describes the files `names` of `dir` as they are now.
    pub fn describe<'a>(
        dir: &Path,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, RpmError> {
        let mut files = Vec::new();
        for name in names {
            let path = dir.join(name);
            let meta = fs::metadata(&path).map_err(|e| RpmError::io("reading", &path, e))?;
            files.push(DownloadedFile {
                name: name.to_string(),
                size: meta.len(),
                sha256: buildchain_fs::sha256_file(&path)?,
                mtime_ns: mtime_ns(&meta),
            });
        }
        Ok(DownloadManifest { files })
    }

    /// The manifest at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, RpmError> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| RpmError::Manifest {
                    path: path.to_path_buf(),
                    rule: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RpmError::io("reading", path, e)),
        }
    }

    /// The file names of the manifest at `path`; none when it is missing or unreadable.
    pub fn names_at(path: &Path) -> Vec<String> {
        Self::load(path)
            .ok()
            .flatten()
            .map(|m| m.files.into_iter().map(|f| f.name).collect())
            .unwrap_or_default()
    }

    /// Writes the manifest to `path` atomically (its directory is created).
    pub fn save(&self, path: &Path) -> Result<(), RpmError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| RpmError::io("creating", parent, e))?;
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| RpmError::Manifest {
            path: path.to_path_buf(),
            rule: e.to_string(),
        })?;
        Ok(buildchain_fs::write_atomic(path, &text, Some(0o644))?)
    }

    /// Whether every file of the manifest is still in `dir` as it was recorded.
    pub fn intact(&self, dir: &Path) -> Result<bool, RpmError> {
        for file in &self.files {
            let path = dir.join(&file.name);
            let Ok(meta) = fs::symlink_metadata(&path) else {
                return Ok(false);
            };
            if !meta.is_file() || meta.len() != file.size {
                return Ok(false);
            }
            if mtime_ns(&meta) != file.mtime_ns && buildchain_fs::sha256_file(&path)? != file.sha256
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The entries of a repository directory that are not its own: anything but the regular
/// files named in `keep` and the `repodata` directory (stray files, links, older packages,
/// killed writers' temporaries).
pub fn foreign_entries(dir: &Path, keep: &[String]) -> Result<Vec<PathBuf>, RpmError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RpmError::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RpmError::io("listing", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .map_err(|e| RpmError::io("reading", entry.path(), e))?;
        let own = if name == "repodata" {
            kind.is_dir()
        } else {
            kind.is_file() && keep.contains(&name)
        };
        if !own {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Removes the [`foreign_entries`] of `dir`; returns what was removed.
pub fn remove_foreign_entries(dir: &Path, keep: &[String]) -> Result<Vec<PathBuf>, RpmError> {
    let foreign = foreign_entries(dir, keep)?;
    for path in &foreign {
        buildchain_fs::remove_path(path)?;
    }
    Ok(foreign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_intact_check() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("a.rpm"), "a").unwrap();
        let manifest = DownloadManifest::describe(d, ["a.rpm"]).unwrap();
        let path = d.join("state/m.json");
        manifest.save(&path).unwrap();
        assert_eq!(
            DownloadManifest::load(&path).unwrap(),
            Some(manifest.clone())
        );
        assert_eq!(DownloadManifest::names_at(&path), ["a.rpm"]);
        assert!(manifest.intact(d).unwrap());
        fs::write(d.join("a.rpm"), "b").unwrap();
        assert!(!manifest.intact(d).unwrap());
        fs::remove_file(d.join("a.rpm")).unwrap();
        assert!(!manifest.intact(d).unwrap());
        fs::write(&path, "not json").unwrap();
        assert!(DownloadManifest::load(&path).is_err());
        assert!(DownloadManifest::names_at(&path).is_empty());
    }

    #[test]
    fn only_kept_files_and_repodata_belong() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("repodata")).unwrap();
        fs::write(d.join("keep.rpm"), "k").unwrap();
        fs::write(d.join("old.rpm"), "o").unwrap();
        fs::write(d.join(".keep.rpm.tmp-1-0"), "t").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("link.rpm")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("keep2.rpm")).unwrap();
        let keep = vec!["keep.rpm".to_string(), "keep2.rpm".to_string()];
        let removed = remove_foreign_entries(d, &keep).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        let mut left: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["keep.rpm", "repodata"]);
    }
}

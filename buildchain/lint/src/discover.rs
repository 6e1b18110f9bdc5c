//! Lists the repository's files for each linter (sorted, repo-relative paths joined to the
//! root). Build outputs, hidden directories and the Rust crates (whose test fixtures are
//! broken on purpose) are not searched.

use std::path::{Path, PathBuf};

use crate::LintError;

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `*.yaml`, `*.yml`; under `salt/`, files with Jinja markup (`{{`, `{%`, `{#`) are
    /// templates rendered by Salt on the node and are left out.
    Yaml,
    /// `*.sls` under `salt/` and `pillar/`.
    Sls,
    /// `*.sls.in` under `salt/` and `pillar/` (handlebars templates: lint their rendering).
    SlsTemplate,
    /// `*.sh`.
    Shell,
    /// `*.sh.in` (handlebars templates: lint their rendering).
    ShellTemplate,
}

/// The distribution's source directories (repo-relative) searched by [`find`].
pub const DISTRIBUTION_DIRS: [&str; 9] = [
    "salt", "pillar", "examples", "images", "packages", "iso", "vagrant", "docs", "ci",
];

impl FileKind {
    fn matches(self, name: &str) -> bool {
        match self {
            FileKind::Yaml => name.ends_with(".yaml") || name.ends_with(".yml"),
            FileKind::Sls => name.ends_with(".sls"),
            FileKind::SlsTemplate => name.ends_with(".sls.in"),
            FileKind::Shell => name.ends_with(".sh"),
            FileKind::ShellTemplate => name.ends_with(".sh.in"),
        }
    }

    fn dirs(self) -> &'static [&'static str] {
        match self {
            FileKind::Sls | FileKind::SlsTemplate => &["salt", "pillar"],
            _ => &DISTRIBUTION_DIRS,
        }
    }
}

/// The files of `kind` under the distribution directories of `repo_root` (missing
/// directories are skipped).
pub fn find(repo_root: &Path, kind: FileKind) -> Result<Vec<PathBuf>, LintError> {
    find_in(repo_root, kind.dirs(), kind)
}

/// The files of `kind` under `dirs` (relative to `repo_root`).
pub fn find_in(repo_root: &Path, dirs: &[&str], kind: FileKind) -> Result<Vec<PathBuf>, LintError> {
    Ok(walk_dirs(repo_root, dirs)?.of_kind_in(kind, dirs))
}

/// Every file of every kind, from one walk of the distribution directories (a build
/// discovers all kinds; walking once per kind read a big `docs/` three times).
pub struct Discovered {
    /// (path, file name) of every regular file, sorted by path.
    files: Vec<(PathBuf, String)>,
    repo_root: PathBuf,
}

impl Discovered {
    /// The files of `kind`, as [`find`] lists them.
    pub fn of(&self, kind: FileKind) -> Vec<PathBuf> {
        self.of_kind_in(kind, kind.dirs())
    }

    /// The files of `kind` under `dirs` (relative to the repository root).
    fn of_kind_in(&self, kind: FileKind, dirs: &[&str]) -> Vec<PathBuf> {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        // Byte prefixes (`<root>/<dir>/`): a component-wise `starts_with` per file and
        // directory was most of the discovery time on a big tree.
        let prefix = |dir: &str| {
            let mut p = self.repo_root.join(dir).into_os_string().into_vec();
            p.push(b'/');
            p
        };
        let dirs: Vec<Vec<u8>> = dirs.iter().map(|d| prefix(d)).collect();
        let salt = prefix("salt");
        self.files
            .iter()
            .filter(|(path, name)| {
                let bytes = path.as_os_str().as_bytes();
                kind.matches(name)
                    && dirs.iter().any(|d| bytes.starts_with(d))
                    && !(kind == FileKind::Yaml && bytes.starts_with(&salt) && has_jinja(path))
            })
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// Walks the distribution directories of `repo_root` once (see [`Discovered::of`]).
pub fn find_all(repo_root: &Path) -> Result<Discovered, LintError> {
    walk_dirs(repo_root, &DISTRIBUTION_DIRS)
}

/// Every regular file under `dirs` (relative to `repo_root`; missing ones skipped).
fn walk_dirs(repo_root: &Path, dirs: &[&str]) -> Result<Discovered, LintError> {
    let mut files = Vec::new();
    for dir in dirs {
        let start = repo_root.join(dir);
        if start.is_dir() {
            walk_all(&start, &mut files)?;
        }
    }
    {
        use std::os::unix::ffi::OsStrExt;
        files.sort_unstable_by(|a, b| a.0.as_os_str().as_bytes().cmp(b.0.as_os_str().as_bytes()));
    }
    Ok(Discovered {
        files,
        repo_root: repo_root.to_path_buf(),
    })
}

fn walk_all(dir: &Path, found: &mut Vec<(PathBuf, String)>) -> Result<(), LintError> {
    let read_error = |source| LintError::Read {
        path: dir.to_path_buf(),
        cause: source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().map_err(read_error)?;
        if file_type.is_dir() {
            if !skipped_dir(&name) {
                walk_all(&entry.path(), found)?;
            }
        } else if file_type.is_file() {
            found.push((entry.path(), name));
        }
    }
    Ok(())
}

fn skipped_dir(name: &str) -> bool {
    name.starts_with('.')
        || name == "target"
        || name.starts_with("target-")
        || name == "_build"
        || name == "node_modules"
}

fn has_jinja(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .map(|text| text.contains("{{") || text.contains("{%") || text.contains("{#"))
        .unwrap_or(false)
}

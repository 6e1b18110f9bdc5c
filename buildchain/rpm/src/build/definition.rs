//! `packages/<name>/package.toml`: the declarative definition of a package we build.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::dependency::Dependency;
use crate::error::RpmError;

/// The file name of a definition inside its package directory.
pub const DEFINITION_FILE: &str = "package.toml";

const ARCHES: &[&str] = &["noarch", "x86_64", "aarch64", "i686", "ppc64le", "s390x"];

/// Payload compression of a built package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// gzip level 9: readable by every rpm (EL7 included).
    #[default]
    Gzip,
    /// zstd level 19: smaller, needs rpm >= 4.14.
    Zstd,
}

/// A regular file of the package, its content taken from the repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path of the content, relative to the repository root.
    pub source: PathBuf,
    /// Absolute installed path.
    pub dest: String,
    /// Permission bits, octal (`"0644"`, the default).
    #[serde(default = "default_file_mode")]
    pub mode: String,
    #[serde(default = "root")]
    pub owner: String,
    #[serde(default = "root")]
    pub group: String,
    /// `%config`: kept as `.rpmsave` when modified and the package removed.
    #[serde(default)]
    pub config: bool,
    /// `%config(noreplace)`: a modified file is kept, the new one written as `.rpmnew`.
    #[serde(default)]
    pub noreplace: bool,
    /// `%doc`.
    #[serde(default)]
    pub doc: bool,
}

/// A directory owned by the package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySpec {
    pub path: String,
    #[serde(default = "default_dir_mode")]
    pub mode: String,
    #[serde(default = "root")]
    pub owner: String,
    #[serde(default = "root")]
    pub group: String,
}

/// A symbolic link owned by the package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymlinkSpec {
    pub path: String,
    pub target: String,
}

/// Shell scriptlets (run by `/bin/sh`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scripts {
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: String,
    #[serde(default)]
    epoch: Option<u32>,
    version: String,
    release: String,
    summary: String,
    description: String,
    license: String,
    #[serde(default = "noarch")]
    arch: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    packager: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    compression: Compression,
    #[serde(default)]
    files: Vec<FileSpec>,
    #[serde(default)]
    directories: Vec<DirectorySpec>,
    #[serde(default)]
    symlinks: Vec<SymlinkSpec>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    conflicts: Vec<String>,
    #[serde(default)]
    obsoletes: Vec<String>,
    #[serde(default)]
    scripts: Scripts,
}

fn default_file_mode() -> String {
    "0644".into()
}
fn default_dir_mode() -> String {
    "0755".into()
}
fn root() -> String {
    "root".into()
}
fn noarch() -> String {
    "noarch".into()
}

/// A validated package definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDefinition {
    /// The `package.toml` this was loaded from.
    pub definition_path: PathBuf,
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub arch: String,
    pub url: Option<String>,
    pub vendor: Option<String>,
    pub packager: Option<String>,
    pub group: Option<String>,
    pub compression: Compression,
    pub files: Vec<FileSpec>,
    pub directories: Vec<DirectorySpec>,
    pub symlinks: Vec<SymlinkSpec>,
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub scripts: Scripts,
}

impl PackageDefinition {
    /// Loads and validates `dir/package.toml`. Source files are checked when building
    /// (they are relative to the repository root, see [`crate::build::BuildContext`]).
    pub fn load(dir: &Path) -> Result<Self, RpmError> {
        let path = dir.join(DEFINITION_FILE);
        let text =
            fs::read_to_string(&path).map_err(|e| RpmError::io("reading", path.clone(), e))?;
        Self::parse(&text, &path)
    }

    /// Parses and validates a definition; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, RpmError> {
        let fail = |rule: String| RpmError::Definition {
            path: path.to_path_buf(),
            rule,
        };
        let raw: RawDefinition =
            toml::from_str(text).map_err(|e| fail(format!("invalid TOML: {e}")))?;
        check_token("name", &raw.name, "A-Za-z0-9._+-", |c| {
            c.is_ascii_alphanumeric() || "._+-".contains(c)
        })
        .map_err(&fail)?;
        if raw.name.starts_with(['-', '.']) {
            return Err(fail(format!(
                "name '{}' must not start with '-' or '.'",
                raw.name
            )));
        }
        for (field, value) in [("version", &raw.version), ("release", &raw.release)] {
            check_token(field, value, "A-Za-z0-9._+~^", |c| {
                c.is_ascii_alphanumeric() || "._+~^".contains(c)
            })
            .map_err(&fail)?;
        }
        if !ARCHES.contains(&raw.arch.as_str()) {
            return Err(fail(format!(
                "arch '{}' is not one of {}",
                raw.arch,
                ARCHES.join(", ")
            )));
        }
        for (field, value) in [
            ("summary", &raw.summary),
            ("description", &raw.description),
            ("license", &raw.license),
        ] {
            if value.trim().is_empty() {
                return Err(fail(format!("{field} must not be empty")));
            }
        }
        if raw.summary.contains('\n') {
            return Err(fail("summary must be a single line".into()));
        }

        let mut owned = BTreeSet::new();
        let mut claim = |kind: &str, dest: &str| -> Result<(), RpmError> {
            check_installed_path(dest).map_err(|rule| fail(format!("{kind} '{dest}': {rule}")))?;
            if !owned.insert(dest.to_string()) {
                return Err(fail(format!(
                    "{kind} '{dest}': the path is listed more than once"
                )));
            }
            Ok(())
        };
        for file in &raw.files {
            claim("file", &file.dest)?;
            check_source_path(&file.source).map_err(|rule| {
                fail(format!(
                    "file '{}': source '{}': {rule}",
                    file.dest,
                    file.source.display()
                ))
            })?;
            parse_mode(&file.mode)
                .map_err(|rule| fail(format!("file '{}': mode: {rule}", file.dest)))?;
            check_account(&file.owner, &file.group)
                .map_err(|rule| fail(format!("file '{}': {rule}", file.dest)))?;
            if file.doc && (file.config || file.noreplace) {
                return Err(fail(format!(
                    "file '{}': a file is either doc or config, not both",
                    file.dest
                )));
            }
        }
        for dir in &raw.directories {
            claim("directory", &dir.path)?;
            parse_mode(&dir.mode)
                .map_err(|rule| fail(format!("directory '{}': mode: {rule}", dir.path)))?;
            check_account(&dir.owner, &dir.group)
                .map_err(|rule| fail(format!("directory '{}': {rule}", dir.path)))?;
        }
        for link in &raw.symlinks {
            claim("symlink", &link.path)?;
            if link.target.is_empty() || link.target.contains('\0') {
                return Err(fail(format!(
                    "symlink '{}': target must be a non-empty path",
                    link.path
                )));
            }
        }

        let deps = |field: &str, list: &[String]| -> Result<Vec<Dependency>, RpmError> {
            list.iter()
                .map(|text| {
                    Dependency::parse(text)
                        .map_err(|rule| fail(format!("{field} '{text}': {rule}")))
                })
                .collect()
        };
        let requires = deps("requires", &raw.requires)?;
        let provides = deps("provides", &raw.provides)?;
        let conflicts = deps("conflicts", &raw.conflicts)?;
        let obsoletes = deps("obsoletes", &raw.obsoletes)?;
        for (which, script) in [
            ("pre", &raw.scripts.pre),
            ("post", &raw.scripts.post),
            ("preun", &raw.scripts.preun),
            ("postun", &raw.scripts.postun),
        ] {
            if script.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(fail(format!("scripts.{which} must not be empty")));
            }
        }

        Ok(PackageDefinition {
            definition_path: path.to_path_buf(),
            name: raw.name,
            epoch: raw.epoch,
            version: raw.version,
            release: raw.release,
            summary: raw.summary,
            description: raw.description,
            license: raw.license,
            arch: raw.arch,
            url: raw.url,
            vendor: raw.vendor,
            packager: raw.packager,
            group: raw.group,
            compression: raw.compression,
            files: raw.files,
            directories: raw.directories,
            symlinks: raw.symlinks,
            requires,
            provides,
            conflicts,
            obsoletes,
            scripts: raw.scripts,
        })
    }

    /// The files a build reads: the definition and every source, absolute (sources are
    /// joined to `repo_root`). For up-to-date checks.
    pub fn input_files(&self, repo_root: &Path) -> Vec<PathBuf> {
        let mut inputs = vec![self.definition_path.clone()];
        inputs.extend(self.files.iter().map(|f| repo_root.join(&f.source)));
        inputs
    }

    /// `name-[epoch:]version-release.arch`, for messages.
    pub fn nevra(&self) -> String {
        match self.epoch {
            Some(e) => format!(
                "{}-{}:{}-{}.{}",
                self.name, e, self.version, self.release, self.arch
            ),
            None => format!(
                "{}-{}-{}.{}",
                self.name, self.version, self.release, self.arch
            ),
        }
    }

    /// The file name of the built package: `name-version-release.arch.rpm`.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            self.name, self.version, self.release, self.arch
        )
    }
}

fn check_token(
    field: &str,
    value: &str,
    allowed: &str,
    ok: impl Fn(char) -> bool,
) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    if let Some(bad) = value.chars().find(|c| !ok(*c)) {
        return Err(format!(
            "{field} '{value}' contains '{bad}' (allowed: {allowed})"
        ));
    }
    Ok(())
}

/// Parses an octal permission string (`"0644"`, `"755"`).
pub(crate) fn parse_mode(mode: &str) -> Result<u16, String> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    match u16::from_str_radix(digits, 8) {
        Ok(bits) if bits <= 0o7777 && !digits.is_empty() => Ok(bits),
        _ => Err(format!(
            "'{mode}' is not an octal permission between 0000 and 7777"
        )),
    }
}

fn check_account(owner: &str, group: &str) -> Result<(), String> {
    for (what, name) in [("owner", owner), ("group", group)] {
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "{what} '{name}' is not a valid user/group name ([a-z_][a-z0-9_-]*)"
            ));
        }
    }
    Ok(())
}

fn check_installed_path(dest: &str) -> Result<(), String> {
    if !dest.starts_with('/') || dest == "/" {
        return Err("the installed path must be absolute and not '/'".into());
    }
    if dest.ends_with('/') || dest.contains("//") {
        return Err("the installed path must not contain empty components".into());
    }
    if dest.contains(['\0', '\n']) {
        return Err("the installed path must not contain NUL or newline".into());
    }
    if dest.split('/').any(|c| c == "." || c == "..") {
        return Err("the installed path must not contain '.' or '..' components".into());
    }
    Ok(())
}

fn check_source_path(source: &Path) -> Result<(), String> {
    if source.as_os_str().is_empty() {
        return Err("must not be empty".into());
    }
    for component in source.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err("must stay inside the repository ('..' is refused)".into())
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("must be relative to the repository root".into())
            }
        }
    }
    Ok(())
}

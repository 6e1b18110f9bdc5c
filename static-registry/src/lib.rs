//! nginx config generator for a static, read-only container registry (see README.md).
//!
//! This file is a stub whose signatures are the contract with `buildchain`; the
//! implementation replaces it.

use std::path::Path;

/// Which parts of the config to emit (`--omit-constants` / `--only-constants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Constants {
    /// Constants (`/v2`, `/v2/`, `@404_tag`) and per-image locations.
    #[default]
    Include,
    /// Per-image locations only (`--omit-constants`).
    Omit,
    /// Constants only (`--only-constants`); the root is not read.
    Only,
}

/// Options of the generator, as the command-line flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--name-prefix`: prepended to every repository name (may hold `{{ jinja }}`).
    pub name_prefix: String,
    /// `--server-root`: path nginx serves image directories from (may hold `$variables`).
    pub server_root: String,
    pub constants: Constants,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name_prefix: String::new(),
            server_root: "/var/lib/images".to_string(),
            constants: Constants::Include,
        }
    }
}

/// Errors of the generator.
#[derive(Debug)]
pub enum Error {
    NotImplemented,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not implemented yet")
    }
}

impl std::error::Error for Error {}

/// Generates the nginx include serving every `root/<name>/<tag>/` image.
pub fn generate(root: &Path, options: &Options) -> Result<String, Error> {
    let _ = (root, options);
    Err(Error::NotImplemented)
}

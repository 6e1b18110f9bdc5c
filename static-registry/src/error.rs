//! The errors of the generator: each names the file or value at fault and the rule broken.
//! The underlying I/O or JSON error is the `source()`, not repeated in the message (print
//! the chain, e.g. anyhow's `{:#}`).

use std::path::{Path, PathBuf};

/// Everything that stops the generator. Nothing is emitted when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A directory or file of the image tree could not be read.
    #[error("cannot read {}", shown(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The root given is not a directory.
    #[error("{}: not a directory", shown(.path))]
    NotADirectory { path: PathBuf },

    /// A file name in the tree, or the root path itself, is not UTF-8.
    #[error("{}: name is not valid UTF-8", shown(.path))]
    NonUtf8Name { path: PathBuf },

    /// An image directory's name is not a valid repository name.
    #[error("{}: invalid repository name: {reason}", shown(.path))]
    InvalidRepositoryName { path: PathBuf, reason: String },

    /// A tag directory's name is not a valid tag.
    #[error("{}: invalid tag: {reason}", shown(.path))]
    InvalidTag { path: PathBuf, reason: String },

    /// A manifest file is not JSON.
    #[error("{}: not a JSON manifest", shown(.path))]
    InvalidManifestJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A manifest file, or a descriptor in an index, breaks the manifest format.
    #[error("{}: {reason}", shown(.path))]
    InvalidManifest { path: PathBuf, reason: String },

    /// A manifest file is larger than registries accept.
    #[error("{}: manifest is {size} bytes, more than the {limit} bytes a manifest may hold", shown(.path))]
    ManifestTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// A name, tag, manifest or blob of the tree is a symbolic link: the generated config
    /// tells nginx not to follow links (`disable_symlinks`), and a link leading out of the
    /// root would serve a file from elsewhere.
    #[error("{}: a symbolic link{}: the registry serves regular files and directories only (copy or hard-link instead)", shown(.path), if *.outside { " leading outside the root" } else { "" })]
    Symlink { path: PathBuf, outside: bool },

    /// A child manifest's content does not hash to the digest its index gives it.
    #[error("{}: content has digest {actual}, but the index lists it as {expected}", shown(.path))]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// `--name-prefix` could not be written into nginx locations safely.
    #[error("invalid name prefix {value:?}: {reason}")]
    InvalidNamePrefix { value: String, reason: String },

    /// `--server-root` could not be written into nginx `alias` directives safely.
    #[error("invalid server root {value:?}: {reason}")]
    InvalidServerRoot { value: String, reason: String },
}

/// A path as shown in messages: control characters (a newline in a hostile file name)
/// escaped so that one error stays one line.
pub(crate) fn shown(path: &Path) -> String {
    path.display()
        .to_string()
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

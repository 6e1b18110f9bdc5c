//! RPM packages and yum repositories, natively (see README.md):
//!
//! - [`build`]: build RPMs from declarative `package.toml` definitions;
//! - [`repodata`]: read RPM headers and write yum repodata (`repomd.xml`, primary,
//!   filelists, other), as `createrepo_c` does;
//! - [`fetch`]: read remote repositories, resolve requirements, download and verify;
//! - [`repo_dir`]: what a repository directory holds (download manifests, foreign files).

pub mod build;
mod checksum;
mod dependency;
mod error;
pub mod fetch;
mod fsutil;
mod header;
pub mod header_bounds;
pub mod repo_dir;
pub mod repodata;
mod vercmp;

pub use checksum::Checksum;
pub use dependency::Dependency;
pub use error::RpmError;
pub use header::{read_header_from, read_package_header, FileKind, PackageFile, PackageHeader};
pub use vercmp::{ranges_overlap, rpmvercmp, Comparison, Evr};

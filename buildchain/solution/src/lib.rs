//! Solution archive validation and building (see README.md).
//!
//! - [`validate_path`] opens a Solution archive (ISO image or unpacked tree) and checks every
//!   rule ([`Rule`]), returning a [`Report`] listing every problem.
//! - [`build()`] turns a Solution tree into a validated ISO.

pub mod blobs;
pub mod build;
pub mod dir_source;
pub mod image;
pub mod iso_checks;
pub mod iso_source;
pub mod kube;
pub mod manifest;
pub mod nginx;
pub mod registry_config;
pub mod report;
pub mod source;
pub mod validate;

pub use build::{build, BuildError, BuildOptions, BuildOutcome};
pub use manifest::{SolutionManifest, SCHEMA_JSON};
pub use report::{Finding, Report, Rule, Severity};
pub use source::ArchiveSource;
pub use validate::{open, validate_path, validate_source, OpenError};

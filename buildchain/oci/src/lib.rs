//! OCI images for the build chain (see README.md): pull by digest into skopeo's `dir:`
//! layout, native reproducible image builds from declarative definitions.

pub mod artifact;
mod auth;
pub mod build;
mod error;
pub mod layout;
pub mod progress;
pub mod pull;
mod registry;

pub use artifact::ArtifactStore;
pub use auth::{default_auth_file, lookup_credentials, Credentials};
pub use buildchain_http::Config as HttpConfig;
pub use error::OciError;
pub use layout::ManifestFormat;
pub use progress::{BarsProgress, NoProgress, Progress};
pub use pull::{pull_image, resolve_image, KeepIndex, PullOptions, PullReport, ResolvedImage};
pub use registry::RetryPolicy;

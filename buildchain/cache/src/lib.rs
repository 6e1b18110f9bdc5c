//! `buildchain-cache`: the outputs of cacheable tasks kept in an OCI registry repository,
//! one artifact per task key (see [`OciCache`] and README.md).

mod entry;
mod store;

pub use entry::{Entry, EntryKind, Outputs, ARTIFACT_TYPE, FILE_MEDIA_TYPE};
pub use store::{Listed, Mode, OciCache, Stats};

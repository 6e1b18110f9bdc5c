//! Releases over time: read two archives (an ISO image or an unpacked tree), say what
//! changed between them ([`Diff`]), and write a delta ([`delta::write_tree`]) from which a
//! node holding the old one rebuilds the new one.

pub mod archive;
pub mod delta;
pub mod diff;
mod error;
pub mod inventory;

pub use archive::{Archive, Entry, EntryKind};
pub use diff::Diff;
pub use error::ReleaseError;
pub use inventory::{Inventory, Item};

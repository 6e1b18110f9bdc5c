//! `buildchain-fs`: the file-system rules every crate of the build chain shares (see
//! README.md): atomic replacement of files and directories, one convention for temporary
//! names and the removal of what killed writers left, SHA-256 of files, walking trees,
//! and hardlink de-duplication.

mod atomic;
pub mod dedup;
mod digest;
mod error;
mod links;
mod open;
mod temp;
mod walk;

pub use atomic::{replace_dir, write_atomic, write_cache, write_new, AtomicFile, StagingDir};
pub use digest::{sha256_file, sha256_file_with_size, sha256_read};
pub use error::{FsError, IoResultExt};
pub use links::link_target_problem;
pub use open::{is_link_refusal, open_no_follow};
pub use temp::{
    is_temp_name, process_alive, remove_path, remove_stale_temps, temp_owner, temp_path_for,
};
pub use walk::{files_under, walk_tree, walk_tree_reusing, Kind, Stat, Walked};

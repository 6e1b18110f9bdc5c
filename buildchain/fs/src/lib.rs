//! `buildchain-fs`: the file-system rules every crate of the build chain shares (see
//! README.md): atomic replacement of files and directories, one convention for temporary
//! names, and the removal of what killed writers left.

mod atomic;
mod error;
mod temp;

pub use atomic::{replace_dir, write_atomic, AtomicFile, StagingDir};
pub use error::{FsError, IoResultExt};
pub use temp::{
    is_temp_name, process_alive, remove_path, remove_stale_temps, temp_owner, temp_path_for,
};

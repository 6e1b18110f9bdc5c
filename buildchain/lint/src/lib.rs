//! Linters of the distribution sources (see README.md).
//!
//! Every linter takes an explicit list of files (so the task engine decides what is out of
//! date) and returns [`Finding`]s; [`LintError`] means the lint itself could not run.
//! [`discover`] lists the repository's files for each linter.

pub mod discover;
mod finding;
pub mod rust;
pub mod shell;
pub mod sls;
pub mod yaml;

pub use finding::{Finding, LintError};

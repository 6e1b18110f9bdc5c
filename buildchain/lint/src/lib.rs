//! Linters of the distribution sources (see README.md).

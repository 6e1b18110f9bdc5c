//! OCI images: pull, build, dedup (see README.md).

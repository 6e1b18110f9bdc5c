//! RPM packages and yum repodata (see README.md).

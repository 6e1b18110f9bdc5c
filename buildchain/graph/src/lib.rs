//! Generic task engine (see README.md).

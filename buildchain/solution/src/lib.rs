//! Solution archive validation (see README.md).

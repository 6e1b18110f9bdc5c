//! SPDX 2.3 JSON software bills of materials, written from what a build knows (digests,
//! NEVRAs, checksums, what the resolver chose): no scan. See README.md.
//!
//! ```text
//! let mut sbom = Sbom::new("metalk8s-0.1.0", "MetalK8s", "0.1.0", "2026-01-01T00:00:00Z");
//! let image = sbom.add_image(&Image { .. });
//! let rpm = sbom.add_rpm(&Rpm { .. });
//! sbom.depends_on(&rpm, &other);
//! let json = sbom.render();   // the same inputs give the same bytes
//! ```

mod document;
mod image_dir;
mod purl;

pub use document::{Image, Layer, Rpm, Sbom, SpdxId, Supplier};
pub use image_dir::{image_from_dir, rfc3339, ImageDirError};

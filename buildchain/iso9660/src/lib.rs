//! ISO 9660 (level 1-3) image writer with Rock Ridge (RRIP 1.12) and Joliet, a reader, and
//! isomd5sum-compatible implant/check (see README.md and /work/shared/specs/iso9660.md).
//!
//! - [`write_image`]: one streaming pass from a directory to an image, optionally with the
//!   isomd5sum implanted (hashed while writing).
//! - [`IsoImage`]: open an image, list its entries, read or extract files.
//! - [`isomd5`]: implant into / check an existing image.

mod bytes;
mod datetime;
mod error;
pub mod isomd5;
mod layout;
pub mod md5;
pub mod names;
mod pipeline;
mod reader;
mod scan;
mod susp;
mod writer;

use std::path::Path;
use std::sync::Arc;

pub use error::{CorruptKind, IsoError};
pub use layout::{validate_volume_id, VOLUME_ID_MAX};
pub use reader::{EntryKind, IsoEntry, IsoFileReader, IsoImage, Tree, VolumeInfo};

/// Rock Ridge mode, as mkisofs's `-R` / `-r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RockRidge {
    /// No Rock Ridge extensions.
    Off,
    /// `-R`: modes, owners and times copied from disk.
    #[default]
    Plain,
    /// `-r`: rationalised modes (read-only, x when any x), uid = gid = 0.
    Rational,
}

/// How the image is built: the mkisofs flags MetalK8s uses, as data.
#[derive(Debug, Clone)]
pub struct IsoOptions {
    /// Volume identifier (at most 32 printable ASCII characters).
    pub volume_id: String,
    pub rock_ridge: RockRidge,
    pub joliet: bool,
    /// Joliet names up to 103 UCS-2 units instead of 64.
    pub joliet_long: bool,
    /// `-l`: 30-character names even at ISO level 1.
    pub full_iso9660_filenames: bool,
    /// 1 or 2: one extent per file; 3: multi-extent files over 4 GiB.
    pub iso_level: u8,
    /// Force this owner in Rock Ridge (mkisofs `-uid`).
    pub uid: Option<u32>,
    /// Force this group in Rock Ridge (mkisofs `-gid`).
    pub gid: Option<u32>,
    /// `SOURCE_DATE_EPOCH`: fixes volume dates and clamps every timestamp.
    pub source_date_epoch: Option<i64>,
    /// Embed the isomd5sum checksum in the same pass (`--implantisomd5`).
    pub implant_md5: bool,
    /// Compute the SHA-256 of the finished image (`--sha256sum FILE`): in the same pass,
    /// or, with `implant_md5`, from the page cache right after it (the implanted sum is
    /// part of the hashed bytes and is known only at the end).
    pub sha256: bool,
    /// Zero sectors appended inside the volume (mkisofs `-pad`: 150; `-no-pad`: 0).
    pub padding_sectors: u32,
    /// Called with (bytes written, total bytes) every few MiB while the image is written.
    pub progress: Option<Progress>,
}

/// A progress callback: `(bytes written, total bytes of the image)`.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64, u64) + Send + Sync>);

impl Progress {
    pub fn new(f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Default for IsoOptions {
    fn default() -> Self {
        IsoOptions {
            volume_id: "CDROM".to_string(),
            rock_ridge: RockRidge::Off,
            joliet: false,
            joliet_long: false,
            full_iso9660_filenames: false,
            iso_level: 1,
            uid: None,
            gid: None,
            source_date_epoch: None,
            implant_md5: false,
            sha256: false,
            padding_sectors: 150,
            progress: None,
        }
    }
}

impl IsoOptions {
    /// The flag set of MetalK8s's `mkisofs` call (`-quiet -rock -joliet -joliet-long
    /// -full-iso9660-filenames --iso-level 3 -uid 0 -gid 0`) plus `--implantisomd5`.
    pub fn metalk8s(volume_id: &str, source_date_epoch: Option<i64>) -> Self {
        IsoOptions {
            volume_id: volume_id.to_string(),
            rock_ridge: RockRidge::Plain,
            joliet: true,
            joliet_long: true,
            full_iso9660_filenames: true,
            iso_level: 3,
            uid: Some(0),
            gid: Some(0),
            source_date_epoch,
            implant_md5: true,
            ..IsoOptions::default()
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    /// Volume Space Size, in 2048-byte sectors.
    pub sectors: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// The implanted isomd5sum MD5 (lower-case hex), when implanted.
    pub implanted_md5: Option<String>,
    /// SHA-256 of the image file (lower-case hex), when asked for.
    pub sha256: Option<String>,
}

/// Writes the image of `source` (a directory) to `output`, atomically (temporary name in
/// the same directory, renamed when complete; nothing is left at `output` on error).
pub fn write_image(
    source: &Path,
    output: &Path,
    options: &IsoOptions,
) -> Result<ImageSummary, IsoError> {
    writer::write_image(source, output, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn contract_types() {
        assert_error::<IsoError>();
        assert_send_sync::<IsoImage>();
        let o = IsoOptions::metalk8s("METALK8S 2.0", Some(1));
        assert_eq!(o.iso_level, 3);
        assert_eq!(o.padding_sectors, 150);
        assert!(o.implant_md5 && o.joliet && o.joliet_long && o.full_iso9660_filenames);
        assert_eq!(IsoOptions::default().volume_id, "CDROM");
    }
}

//! ISO 9660 writer and reader (see README.md).
//!
//! The public entry point used by the build tasks is [`write_image`]. This file is a stub
//! whose signatures are the contract with `buildchain`; the implementation replaces it.

use std::path::Path;

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
    pub volume_id: String,
    pub rock_ridge: RockRidge,
    pub joliet: bool,
    pub joliet_long: bool,
    pub full_iso9660_filenames: bool,
    pub iso_level: u8,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `SOURCE_DATE_EPOCH`: fixes volume dates and clamps every timestamp.
    pub source_date_epoch: Option<i64>,
    /// Embed the isomd5sum checksum in the same pass (`--implantisomd5`).
    pub implant_md5: bool,
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
}

/// Errors of the writer and reader.
#[derive(Debug)]
pub enum IsoError {
    NotImplemented,
}

impl std::fmt::Display for IsoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not implemented yet")
    }
}

impl std::error::Error for IsoError {}

/// Writes the image of `source` (a directory) to `output`, atomically (temporary name in
/// the same directory, renamed when complete; nothing is left at `output` on error).
pub fn write_image(
    source: &Path,
    output: &Path,
    options: &IsoOptions,
) -> Result<ImageSummary, IsoError> {
    let _ = (source, output, options);
    Err(IsoError::NotImplemented)
}

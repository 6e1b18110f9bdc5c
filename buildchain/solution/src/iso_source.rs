//! An ISO 9660 image read natively with `buildchain-iso9660` (no mount, no isoinfo).

use crate::source::ArchiveSource;
use crate::validate::OpenError;
use std::io::Read;
use std::path::Path;

/// Byte offset of the first volume descriptor and its standard identifier.
const DESCRIPTOR_OFFSET: u64 = 16 * 2048;
const STANDARD_ID: &[u8] = b"CD001";

/// True when the file starts like an ISO 9660 image.
pub fn looks_like_iso(path: &Path) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.len() < DESCRIPTOR_OFFSET + 6 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(DESCRIPTOR_OFFSET + 1))?;
    let mut id = [0u8; 5];
    file.read_exact(&mut id)?;
    Ok(id == STANDARD_ID)
}

/// Opens an ISO image file.
pub fn open(path: &Path) -> Result<Box<dyn ArchiveSource>, OpenError> {
    let shown = path.display().to_string();
    match looks_like_iso(path) {
        Ok(true) => {}
        Ok(false) => return Err(OpenError::NotAnArchive { path: shown }),
        Err(source) => {
            return Err(OpenError::Io {
                path: shown,
                source,
            })
        }
    }
    Err(OpenError::BadIso {
        path: shown,
        message: "reading ISO images is not supported yet (the buildchain-iso9660 reader has not landed); validate the unpacked tree".to_string(),
    })
}

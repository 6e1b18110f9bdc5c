//! isomd5sum (implantisomd5 / checkisomd5) compatible checksums, spec §10: an MD5 over the
//! image minus its last 15 sectors, with the PVD application-use area taken as spaces, plus
//! 20 "fragment sums" taken on the 32 KiB read grid of the original tools.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::md5::Md5;

use crate::bytes::be32;
use crate::error::{io_err, CorruptKind, IsoError};

/// Byte offset of the PVD application-use area (PVD at LBA 16).
pub const APP_USE_OFFSET: u64 = 16 * 2048 + 883;
/// Size of the application-use area.
pub const APP_USE_LEN: usize = 512;
/// Sectors at the end of the volume that are not hashed.
pub const SKIP_SECTORS: u64 = 15;
/// Fragment count written when implanting.
pub const FRAGMENT_COUNT: u64 = 20;
const FRAGMENT_SUM_SIZE: usize = 60;
const CHUNK: u64 = 32768;

/// Streaming isomd5sum hasher: feed the image bytes from offset 0 in any slice sizes.
#[derive(Clone)]
pub struct Isomd5Hasher {
    md5: Md5,
    pos: u64,
    total: u64,
    fragment_size: u64,
    chars_per_fragment: usize,
    prev: u64,
    /// (fragment index, its characters) in the order they were taken.
    fragments: Vec<(u64, String)>,
}

/// The result of hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isomd5Sum {
    /// Lower-case hex MD5 of the hashed range.
    pub md5: String,
    /// The fragment characters concatenated (60 for images of at least 336 sectors).
    pub fragment_sums: String,
}

impl Isomd5Hasher {
    /// A hasher for a volume of `volume_sectors` with the default 15 skipped sectors and 20
    /// fragments.
    pub fn new(volume_sectors: u64) -> Self {
        Self::with_params(volume_sectors, SKIP_SECTORS, FRAGMENT_COUNT)
    }

    /// A hasher with explicit SKIPSECTORS and FRAGMENT COUNT (as read by the checker).
    pub fn with_params(volume_sectors: u64, skip: u64, fragment_count: u64) -> Self {
        let total = volume_sectors.saturating_sub(skip) * 2048;
        Isomd5Hasher {
            md5: Md5::new(),
            pos: 0,
            total,
            fragment_size: if fragment_count == 0 {
                0
            } else {
                total / fragment_count.saturating_add(1)
            },
            // At most one character per digest byte (a stored count is untrusted).
            chars_per_fragment: (FRAGMENT_SUM_SIZE as u64)
                .checked_div(fragment_count)
                .unwrap_or(0)
                .min(16) as usize,
            prev: 0,
            fragments: Vec::new(),
        }
    }

    /// Bytes that are hashed: `[0, total)`.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes absorbed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Absorbs the next image bytes (bytes past the hashed range are ignored).
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.pos < self.total {
            let chunk_start = self.pos / CHUNK * CHUNK;
            let end = (chunk_start + CHUNK).min(self.total);
            let n = ((end - self.pos) as usize).min(data.len());
            self.md5.update(&data[..n]);
            self.pos += n as u64;
            data = &data[n..];
            if self.pos == end {
                self.chunk_done(chunk_start);
            }
        }
    }

    fn chunk_done(&mut self, chunk_start: u64) {
        if self.fragment_size == 0 {
            return;
        }
        let idx = chunk_start / self.fragment_size;
        if idx != self.prev {
            let digest = self.md5.clone().finalize();
            let chars: String = digest[..self.chars_per_fragment]
                .iter()
                .filter_map(|b| format!("{b:x}").chars().next())
                .collect();
            self.fragments.push((idx, chars));
            self.prev = idx;
        }
    }

    /// The final sum; call after `total()` bytes were absorbed.
    pub fn finish(self) -> Isomd5Sum {
        let digest = self.md5.finalize();
        let mut fragment_sums: String = self.fragments.iter().map(|(_, c)| c.as_str()).collect();
        fragment_sums.truncate(FRAGMENT_SUM_SIZE);
        Isomd5Sum {
            md5: hex(&digest),
            fragment_sums,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The 512-byte application-use area implantisomd5 writes.
pub fn app_use_area(sum: &Isomd5Sum, supported: bool) -> [u8; APP_USE_LEN] {
    let text = format!(
        "ISO MD5SUM = {};SKIPSECTORS = {};RHLISOSTATUS={};FRAGMENT SUMS = {};FRAGMENT COUNT = {};THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!",
        sum.md5,
        SKIP_SECTORS,
        u8::from(supported),
        sum.fragment_sums,
        FRAGMENT_COUNT
    );
    let mut area = [b' '; APP_USE_LEN];
    let n = text.len().min(APP_USE_LEN);
    area[..n].copy_from_slice(&text.as_bytes()[..n]);
    area
}

/// What checkisomd5 parses out of the application-use area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSum {
    pub md5: String,
    pub skip_sectors: u64,
    pub supported: bool,
    /// Exactly 60 characters copied blindly, as checkisomd5 does (may hold trailing text).
    pub fragment_sums: Option<String>,
    pub fragment_count: u64,
}

/// Parses an application-use area the way checkisomd5 does; `None` without `ISO MD5SUM` and
/// `SKIPSECTORS`.
pub fn parse_app_use(area: &[u8]) -> Option<StoredSum> {
    let mut buf = area.to_vec();
    if let Some(last) = buf.last_mut() {
        *last = 0;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let buf = &buf[..end];
    let number = |from: usize| -> u64 {
        let digits: Vec<u8> = buf[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        String::from_utf8_lossy(&digits).parse().unwrap_or(0)
    };
    let (mut md5, mut skip, mut supported, mut frags, mut count) = (None, None, None, None, None);
    for p in 0..buf.len() {
        let rest = &buf[p..];
        if md5.is_none() && rest.starts_with(b"ISO MD5SUM = ") && rest.len() >= 13 + 32 {
            md5 = Some(String::from_utf8_lossy(&rest[13..45]).into_owned());
        } else if skip.is_none() && rest.starts_with(b"SKIPSECTORS = ") {
            skip = Some(number(p + 14));
        } else if supported.is_none() && rest.starts_with(b"RHLISOSTATUS=") {
            supported = Some(number(p + 13) != 0);
        } else if frags.is_none() && rest.starts_with(b"FRAGMENT SUMS = ") {
            let s = &rest[16..];
            frags =
                Some(String::from_utf8_lossy(&s[..s.len().min(FRAGMENT_SUM_SIZE)]).into_owned());
        } else if count.is_none() && rest.starts_with(b"FRAGMENT COUNT = ") {
            count = Some(number(p + 17));
        }
    }
    Some(StoredSum {
        md5: md5?,
        skip_sectors: skip?,
        supported: supported.unwrap_or(false),
        fragment_sums: frags,
        fragment_count: count.unwrap_or(FRAGMENT_COUNT),
    })
}

/// The outcome of [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The image matches its implanted checksum.
    Pass { md5: String },
    /// It does not (damaged, truncated or modified).
    Fail {
        expected: String,
        actual: Option<String>,
        reason: String,
    },
    /// No isomd5sum data in the PVD application-use area.
    NoChecksum,
}

/// Volume space size (BE half, as isomd5sum reads it) and the application-use area.
fn read_pvd(file: &File, path: &Path) -> Result<(u64, [u8; APP_USE_LEN]), IsoError> {
    let mut pvd = [0u8; 2048];
    file.read_exact_at(&mut pvd, 16 * 2048).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            IsoError::NotIso {
                path: path.to_path_buf(),
                reason: "shorter than 17 sectors".into(),
            }
        } else {
            IsoError::Io {
                path: path.to_path_buf(),
                cause: e,
            }
        }
    })?;
    if pvd[0] != 1 || &pvd[1..6] != b"CD001" {
        return Err(IsoError::NotIso {
            path: path.to_path_buf(),
            reason: "no primary volume descriptor at LBA 16".into(),
        });
    }
    let mut area = [0u8; APP_USE_LEN];
    area.copy_from_slice(&pvd[883..883 + APP_USE_LEN]);
    Ok((u64::from(be32(&pvd, 84)), area))
}

/// Hashes `[0, hasher.total())` of `file` with the application-use area as spaces.
fn hash_file(file: &File, path: &Path, hasher: &mut Isomd5Hasher) -> Result<bool, IsoError> {
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; 1 << 20];
    while hasher.position() < hasher.total() {
        let want = ((hasher.total() - hasher.position()) as usize).min(buf.len());
        let n = reader.read(&mut buf[..want]).map_err(io_err(path))?;
        if n == 0 {
            return Ok(false);
        }
        let start = hasher.position();
        blank_app_use(&mut buf[..n], start);
        hasher.update(&buf[..n]);
    }
    Ok(true)
}

fn blank_app_use(buf: &mut [u8], start: u64) {
    let end = start + buf.len() as u64;
    let (a, b) = (APP_USE_OFFSET, APP_USE_OFFSET + APP_USE_LEN as u64);
    if start < b && end > a {
        let from = a.max(start) - start;
        let to = b.min(end) - start;
        buf[from as usize..to as usize].fill(b' ');
    }
}

/// Implants the isomd5sum into an existing image (as `implantisomd5 [--force]`). Without
/// `force`, an application-use area that is not all spaces is an error.
pub fn implant(path: &Path, force: bool) -> Result<Isomd5Sum, IsoError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    let (sectors, area) = read_pvd(&file, path)?;
    if !force && area.iter().any(|&b| b != b' ') {
        return Err(IsoError::AppUseInUse {
            path: path.to_path_buf(),
        });
    }
    let mut hasher = Isomd5Hasher::new(sectors);
    if !hash_file(&file, path, &mut hasher)? {
        let file_bytes = file.metadata().map_err(io_err(path))?.len();
        return Err(IsoError::Corrupt {
            path: path.to_path_buf(),
            kind: CorruptKind::Truncated {
                volume_bytes: sectors * 2048,
                file_bytes,
            },
        });
    }
    let sum = hasher.finish();
    file.write_all_at(&app_use_area(&sum, false), APP_USE_OFFSET)
        .map_err(io_err(path))?;
    Ok(sum)
}

/// Verifies the implanted isomd5sum (as `checkisomd5`), including fragment sums.
pub fn check(path: &Path) -> Result<CheckOutcome, IsoError> {
    let file = File::open(path).map_err(io_err(path))?;
    let (sectors, area) = read_pvd(&file, path)?;
    let Some(stored) = parse_app_use(&area) else {
        return Ok(CheckOutcome::NoChecksum);
    };
    let mut hasher = Isomd5Hasher::with_params(sectors, stored.skip_sectors, stored.fragment_count);
    let complete = hash_file(&file, path, &mut hasher)?;
    if !complete {
        return Ok(CheckOutcome::Fail {
            expected: stored.md5,
            actual: None,
            reason: "image is shorter than its volume space size".into(),
        });
    }
    let fragments = hasher.fragments.clone();
    let per = hasher.chars_per_fragment;
    let sum = hasher.finish();
    if let Some(stored_frags) = &stored.fragment_sums {
        for (idx, chars) in fragments {
            let at = (idx as usize).saturating_sub(1) * per;
            let expected = stored_frags.get(at..at + per);
            if expected != Some(chars.as_str()) {
                return Ok(CheckOutcome::Fail {
                    expected: stored.md5,
                    actual: None,
                    reason: format!("fragment {idx} does not match"),
                });
            }
        }
    }
    if sum.md5 == stored.md5 {
        Ok(CheckOutcome::Pass { md5: sum.md5 })
    } else {
        Ok(CheckOutcome::Fail {
            expected: stored.md5,
            actual: Some(sum.md5),
            reason: "MD5 does not match".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §10.7 test vector.
    fn vector_image(sectors: u32) -> Vec<u8> {
        let mut img = vec![0u8; sectors as usize * 2048];
        img[32768] = 1;
        img[32769..32774].copy_from_slice(b"CD001");
        img[32774] = 1;
        img[32848..32856].copy_from_slice(&crate::bytes::both32(sectors));
        img[33651..34163].fill(b' ');
        img[34816] = 0xFF;
        img[34817..34822].copy_from_slice(b"CD001");
        img[34822] = 1;
        img
    }

    fn sum_of(img: &[u8], sectors: u64, step: usize) -> Isomd5Sum {
        let mut h = Isomd5Hasher::new(sectors);
        for c in img.chunks(step) {
            h.update(c);
        }
        h.finish()
    }

    #[test]
    fn spec_test_vector_400_sectors() {
        let img = vector_image(400);
        for step in [1000, 32768, 1 << 20] {
            let s = sum_of(&img, 400, step);
            assert_eq!(s.md5, "fa531565b189b60088a9c8e6b2407b72");
            assert_eq!(
                s.fragment_sums,
                "6b545e8961784c6b42965ea6946651ae861484696b588af3d156b6bf46dc"
            );
        }
    }

    #[test]
    fn spec_test_vector_212_sectors() {
        let img = vector_image(212);
        let s = sum_of(&img, 212, 4096);
        assert_eq!(s.md5, "93001f4933ec4160af5fff3b42b11e7a");
        assert_eq!(s.fragment_sums, "ffeadb43c19873d92a947fbbea4244e69901");
    }

    #[test]
    fn hostile_stored_parameters_do_not_panic() {
        let img = vector_image(400);
        for count in [0, 1, 2, 59, 61, u64::MAX] {
            for skip in [0, 15, 399, 400, 401, u64::MAX] {
                let mut h = Isomd5Hasher::with_params(400, skip, count);
                h.update(&img);
                let _ = h.finish();
            }
        }
    }

    #[test]
    fn app_use_round_trip() {
        let sum = Isomd5Sum {
            md5: "fa531565b189b60088a9c8e6b2407b72".into(),
            fragment_sums: "6b545e8961784c6b42965ea6946651ae861484696b588af3d156b6bf46dc".into(),
        };
        let area = app_use_area(&sum, false);
        let text = std::str::from_utf8(&area).unwrap();
        assert_eq!(text.trim_end().len(), 227);
        let parsed = parse_app_use(&area).unwrap();
        assert_eq!(parsed.md5, sum.md5);
        assert_eq!(parsed.skip_sectors, 15);
        assert_eq!(parsed.fragment_count, 20);
        assert_eq!(
            parsed.fragment_sums.as_deref(),
            Some(sum.fragment_sums.as_str())
        );
        assert!(parse_app_use(&[b' '; 512]).is_none());
    }

    #[test]
    fn implant_then_check_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.iso");
        std::fs::write(&path, vector_image(400)).unwrap();
        let s = implant(&path, false).unwrap();
        assert_eq!(s.md5, "fa531565b189b60088a9c8e6b2407b72");
        assert!(matches!(check(&path).unwrap(), CheckOutcome::Pass { .. }));
        assert!(matches!(
            implant(&path, false),
            Err(IsoError::AppUseInUse { .. })
        ));
        implant(&path, true).unwrap();
        let mut img = std::fs::read(&path).unwrap();
        img[100] ^= 1;
        std::fs::write(&path, &img).unwrap();
        assert!(matches!(check(&path).unwrap(), CheckOutcome::Fail { .. }));
        // The 212-sector image: implanted but never passes (spec §10.5).
        std::fs::write(&path, vector_image(212)).unwrap();
        implant(&path, false).unwrap();
        assert!(matches!(check(&path).unwrap(), CheckOutcome::Fail { .. }));
    }
}

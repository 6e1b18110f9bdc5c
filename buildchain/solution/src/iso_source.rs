//! An ISO 9660 image read natively with `buildchain-iso9660` (no mount, no isoinfo): the
//! Rock Ridge tree when present (else Joliet, else plain ISO 9660). Symbolic links are
//! followed only inside the image.

use crate::source::{
    check_path, checked_parent_and_name, ArchiveSource, EntryKind, IsoFacts, Md5Check, Metadata,
    SourceError,
};
use crate::validate::OpenError;
use buildchain_iso9660::isomd5::{self, CheckOutcome};
use buildchain_iso9660::{EntryKind as IsoKind, IsoError, IsoImage};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Byte offset of the first volume descriptor and its standard identifier.
const DESCRIPTOR_OFFSET: u64 = 16 * 2048;
const STANDARD_ID: &[u8] = b"CD001";
/// Most symbolic links followed while resolving one path (as Linux's ELOOP limit).
const MAX_LINK_HOPS: usize = 40;

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

/// An opened ISO image.
pub struct IsoSource {
    path: PathBuf,
    image: IsoImage,
    children: BTreeMap<String, Vec<String>>,
}

/// Opens an ISO image file.
pub fn open(path: &Path) -> Result<Box<dyn ArchiveSource>, OpenError> {
    Ok(Box::new(IsoSource::open(path)?))
}

impl IsoSource {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let shown = path.display().to_string();
        match looks_like_iso(path) {
            Ok(true) => {}
            Ok(false) => return Err(OpenError::NotAnArchive { path: shown }),
            Err(source) => {
                return Err(OpenError::Io {
                    path: shown,
                    cause: source,
                })
            }
        }
        let image = IsoImage::open(path).map_err(|e| match e {
            IsoError::NotIso { .. } => OpenError::NotAnArchive {
                path: shown.clone(),
            },
            other => OpenError::BadIso {
                path: shown.clone(),
                message: other.to_string(),
            },
        })?;
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in image.entries() {
            let (parent, name) = match entry.path.rsplit_once('/') {
                Some((parent, name)) => (parent.to_string(), name.to_string()),
                None => (String::new(), entry.path.clone()),
            };
            children.entry(parent).or_default().push(name);
        }
        for names in children.values_mut() {
            names.sort();
        }
        Ok(IsoSource {
            path: path.to_path_buf(),
            image,
            children,
        })
    }

    /// The real path of `path` inside the image, following symbolic links; `Ok(None)` when
    /// it (or a link target) does not exist.
    fn resolve(&self, path: &str) -> Result<Option<String>, SourceError> {
        check_path(path)?;
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    if current.pop().is_none() {
                        return Err(SourceError::Escapes {
                            path: path.to_string(),
                        });
                    }
                    continue;
                }
                _ => {}
            }
            current.push(component);
            let joined = current.join("/");
            let Some(entry) = self.image.entry(&joined) else {
                return Ok(None);
            };
            if let IsoKind::Symlink { target } = &entry.kind {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(SourceError::Io {
                        path: path.to_string(),
                        cause: std::io::Error::other("too many levels of symbolic links"),
                    });
                }
                if target.starts_with('/') {
                    return Err(SourceError::Escapes {
                        path: path.to_string(),
                    });
                }
                current.pop();
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
        }
        Ok(Some(current.join("/")))
    }

    fn not_found(path: &str) -> SourceError {
        SourceError::Io {
            path: path.to_string(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such entry"),
        }
    }
}

impl ArchiveSource for IsoSource {
    fn kind(&self) -> &'static str {
        "iso"
    }

    fn link_target(&self, path: &str) -> Result<Option<String>, SourceError> {
        let Some((parent, name)) = checked_parent_and_name(path)? else {
            return Ok(None);
        };
        let Some(dir) = self.resolve(parent)? else {
            return Ok(None);
        };
        let real = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        Ok(match self.image.entry(&real).map(|e| &e.kind) {
            Some(IsoKind::Symlink { target }) => Some(target.clone()),
            _ => None,
        })
    }

    fn metadata(&self, path: &str) -> Result<Option<Metadata>, SourceError> {
        let Some(real) = self.resolve(path)? else {
            return Ok(None);
        };
        if real.is_empty() {
            return Ok(Some(Metadata {
                kind: EntryKind::Dir,
                size: 0,
                file_id: None,
            }));
        }
        let Some(entry) = self.image.entry(&real) else {
            return Ok(None);
        };
        let kind = match entry.kind {
            IsoKind::File => EntryKind::File,
            IsoKind::Dir => EntryKind::Dir,
            IsoKind::Symlink { .. } => EntryKind::Other,
        };
        Ok(Some(Metadata {
            kind,
            size: entry.size,
            file_id: None,
        }))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, SourceError> {
        let real = self.resolve(path)?.ok_or_else(|| Self::not_found(path))?;
        Ok(self.children.get(&real).cloned().unwrap_or_default())
    }

    fn open(&self, path: &str) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let real = self.resolve(path)?.ok_or_else(|| Self::not_found(path))?;
        let reader = self
            .image
            .open_file(&real)
            .map_err(|e| SourceError::Corrupt {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        Ok(Box::new(reader))
    }

    fn iso_facts(&self) -> Option<IsoFacts> {
        Some(IsoFacts {
            volume_id: self.image.volume_id().to_string(),
            rock_ridge: self.image.has_rock_ridge(),
            joliet: self.image.has_joliet(),
        })
    }

    fn check_md5(&self) -> Result<Option<Md5Check>, SourceError> {
        let outcome = isomd5::check(&self.path).map_err(|e| SourceError::Corrupt {
            path: String::new(),
            message: e.to_string(),
        })?;
        Ok(match outcome {
            CheckOutcome::NoChecksum => None,
            CheckOutcome::Pass { md5 } => Some(Md5Check {
                ok: true,
                found: md5.clone(),
                expected: md5,
            }),
            CheckOutcome::Fail {
                expected,
                actual,
                reason,
            } => Some(Md5Check {
                ok: false,
                found: match actual {
                    Some(actual) => format!("{actual} ({reason})"),
                    None => reason,
                },
                expected,
            }),
        })
    }
}

//! Typed errors of the writer, the reader and isomd5.

use std::fmt;
use std::path::PathBuf;

/// Errors of the writer, the reader and the isomd5 functions.
#[derive(Debug, thiserror::Error)]
pub enum IsoError {
    /// The output path exists and is not a regular file (a link, a directory, a device):
    /// the image replaces a file by renaming over it, it never writes through.
    #[error("{path}: is {kind}: the image is written to a regular file (write it to a file, then copy it where it goes)")]
    OutputNotAFile { path: PathBuf, kind: &'static str },
    /// Creating, flushing or renaming the output failed.
    #[error(transparent)]
    Output(#[from] buildchain_fs::FsError),
    /// An I/O operation on `path` failed.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The source of an image is not a directory.
    #[error("{path}: the image source must be a directory")]
    SourceNotDirectory { path: PathBuf },
    /// A socket, device or FIFO in the source tree.
    #[error(
        "{path}: {kind} cannot be stored in the image (only files, directories and symlinks are)"
    )]
    SpecialFile { path: PathBuf, kind: &'static str },
    /// A file name that cannot be encoded (not UTF-8, too long, ...).
    #[error("{path}: file name cannot be encoded: {reason}")]
    BadName { path: PathBuf, reason: String },
    /// A source file changed (size or mtime) while the image was written.
    #[error("{path}: changed while the image was written ({what})")]
    ChangedDuringWrite { path: PathBuf, what: String },
    /// The volume identifier is not encodable (more than 32 bytes, not printable ASCII).
    #[error("invalid volume id {id:?}: {reason}")]
    BadVolumeId { id: String, reason: String },
    /// An option combination that cannot be honoured.
    #[error("invalid options: {0}")]
    BadOption(String),
    /// A file larger than one extent with an ISO level below 3.
    #[error("{path}: {size} bytes needs ISO level 3 (multi-extent files)")]
    FileTooLarge { path: PathBuf, size: u64 },
    /// A directory deeper than 8 levels without Rock Ridge (relocation needs Rock Ridge).
    #[error(
        "{path}: directory deeper than 8 levels can only be relocated with Rock Ridge (-R/-r)"
    )]
    TooDeepWithoutRockRidge { path: PathBuf },
    /// More directories than a path table can number.
    #[error("{count} directories: ISO 9660 path tables hold at most 65535")]
    TooManyDirectories { count: usize },
    /// More sectors than a 32-bit volume space size can hold.
    #[error("image of {sectors} sectors exceeds the ISO 9660 limit (2^32 - 1)")]
    ImageTooLarge { sectors: u64 },
    /// The file is not an ISO 9660 image.
    #[error("{path}: not an ISO 9660 image: {reason}")]
    NotIso { path: PathBuf, reason: String },
    /// The image is damaged or hostile.
    #[error("{path}: corrupt image: {kind}")]
    Corrupt { path: PathBuf, kind: CorruptKind },
    /// No entry with this path in the image.
    #[error("{path}: no entry {entry:?} in the image")]
    NotFound { path: PathBuf, entry: String },
    /// The entry exists but is not a regular file.
    #[error("{path}: {entry:?} is not a regular file")]
    NotAFile { path: PathBuf, entry: String },
    /// The extraction destination already holds this path.
    #[error("{path}: already exists, refusing to overwrite while extracting")]
    ExtractTargetExists { path: PathBuf },
    /// The PVD application-use area holds data and `force` was not given.
    #[error("{path}: the application-use area of the primary volume descriptor is already used; not implanting (use --force)")]
    AppUseInUse { path: PathBuf },
}

/// What is wrong in a corrupt or hostile image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorruptKind {
    /// The file is shorter than the volume space size says.
    Truncated { volume_bytes: u64, file_bytes: u64 },
    /// An extent lies (partly) beyond the end of the image.
    ExtentOutOfBounds { what: String, lba: u64, len: u64 },
    /// A directory is reached twice (cycle or shared directory extent).
    DirectoryLoop { path: String, lba: u32 },
    /// Directory nesting deeper than the reader accepts.
    TooDeep { path: String, depth: usize },
    /// A directory record is malformed.
    BadRecord {
        dir: String,
        offset: u64,
        reason: String,
    },
    /// A name that would escape the extraction directory or is not a file name.
    UnsafeName { dir: String, name: String },
    /// Two entries of one directory have the same name.
    DuplicateName { path: String },
    /// A multi-extent file whose sections do not follow the rules.
    BadMultiExtent { path: String },
    /// A Rock Ridge / SUSP entry is malformed.
    BadSusp { path: String, reason: String },
    /// A volume descriptor is malformed.
    BadVolumeDescriptor { reason: String },
    /// More entries than the reader accepts.
    TooManyEntries { limit: usize },
}

impl fmt::Display for CorruptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptKind::Truncated {
                volume_bytes,
                file_bytes,
            } => write!(
                f,
                "truncated: volume space is {volume_bytes} bytes but the file has {file_bytes}"
            ),
            CorruptKind::ExtentOutOfBounds { what, lba, len } => write!(
                f,
                "extent of {what} (LBA {lba}, {len} bytes) lies beyond the end of the image"
            ),
            CorruptKind::DirectoryLoop { path, lba } => {
                write!(
                    f,
                    "directory {path:?} (LBA {lba}) is reached twice: loop in the tree"
                )
            }
            CorruptKind::TooDeep { path, depth } => {
                write!(f, "directory {path:?} is nested {depth} levels deep")
            }
            CorruptKind::BadRecord {
                dir,
                offset,
                reason,
            } => {
                write!(
                    f,
                    "bad directory record in {dir:?} at byte {offset}: {reason}"
                )
            }
            CorruptKind::UnsafeName { dir, name } => {
                write!(f, "unsafe file name {name:?} in directory {dir:?}")
            }
            CorruptKind::DuplicateName { path } => write!(f, "duplicate entry {path:?}"),
            CorruptKind::BadMultiExtent { path } => {
                write!(f, "bad multi-extent sections for {path:?}")
            }
            CorruptKind::BadSusp { path, reason } => {
                write!(f, "bad Rock Ridge data for {path:?}: {reason}")
            }
            CorruptKind::BadVolumeDescriptor { reason } => {
                write!(f, "bad volume descriptor: {reason}")
            }
            CorruptKind::TooManyEntries { limit } => {
                write!(f, "more than {limit} entries")
            }
        }
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IsoError {
    let path = path.into();
    move |source| IsoError::Io {
        path,
        cause: source,
    }
}

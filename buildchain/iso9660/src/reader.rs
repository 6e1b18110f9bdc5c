//! Reads images: volume descriptors, the Rock Ridge / Joliet / plain ISO 9660 tree, file
//! contents as streams, and safe extraction. Everything read from the image is checked
//! (bounds, loops, names, sizes) and reported as a typed error, never a panic.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::bytes::{be32, le16, le32};
use crate::datetime::{parse_dir_date, parse_vd_date};
use crate::error::{io_err, CorruptKind, IsoError};

const SECTOR: u64 = 2048;
const MAX_DESCRIPTORS: u64 = 64;
const MAX_DEPTH: usize = 1024;
const MAX_ENTRIES: usize = 10_000_000;
const MAX_CE_HOPS: usize = 32;
/// Largest directory extent accepted (real ones are a few hundred KiB at most).
const MAX_DIR_BYTES: u64 = 256 << 20;

/// Which directory tree names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The ISO 9660 tree with Rock Ridge names and attributes.
    RockRidge,
    /// The Joliet (UCS-2) tree.
    Joliet,
    /// The ISO 9660 tree with its own (upper-case, `;1`-stripped) names.
    Plain,
}

/// Primary volume descriptor fields.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub system_id: String,
    pub volume_id: String,
    /// Volume Space Size in 2048-byte sectors.
    pub volume_space_size: u64,
    pub publisher_id: String,
    pub preparer_id: String,
    pub application_id: String,
    pub creation: Option<i64>,
    pub modification: Option<i64>,
    /// The 512-byte application-use area (isomd5sum lives here).
    pub application_use: Vec<u8>,
}

/// The kind of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink { target: String },
}

/// One entry of the image.
#[derive(Debug, Clone)]
pub struct IsoEntry {
    /// Path relative to the image root, `/`-separated, no leading `/`.
    pub path: String,
    pub kind: EntryKind,
    /// Size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// Rock Ridge POSIX mode (type and permission bits).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub nlink: Option<u32>,
    /// Modification time, seconds since the epoch (Rock Ridge TF, else the record date).
    pub mtime: i64,
    /// Data sections (byte offset in the image, length).
    sections: Vec<(u64, u64)>,
}

impl IsoEntry {
    /// Where the file's data starts in the image (`None` for an empty file, a directory
    /// or a link): hardlinked files share their data, so the same start means the same
    /// file stored once.
    pub fn data_start(&self) -> Option<u64> {
        match (&self.kind, self.sections.first()) {
            (EntryKind::File, Some(&(start, len))) if len > 0 => Some(start),
            _ => None,
        }
    }
}

/// An opened image.
pub struct IsoImage {
    path: PathBuf,
    file: File,
    volume: VolumeInfo,
    has_rock_ridge: bool,
    has_joliet: bool,
    tree: Tree,
    entries: Vec<IsoEntry>,
    index: HashMap<String, usize>,
}

/// A directory record as found in a directory extent.
#[derive(Debug)]
struct RawRecord {
    extent: u32,
    size: u32,
    date: [u8; 7],
    flags: u8,
    ident: Vec<u8>,
    sua: Vec<u8>,
}

/// Rock Ridge data of one record.
#[derive(Default)]
struct Susp {
    name: Option<Vec<u8>>,
    mode: Option<u32>,
    nlink: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    symlink: Option<Vec<u8>>,
    mtime: Option<i64>,
    child_link: Option<u32>,
    relocated: bool,
    has_sp: bool,
    has_er: bool,
}

impl IsoImage {
    /// Opens an image, choosing Rock Ridge, else Joliet, else the plain ISO 9660 tree.
    pub fn open(path: &Path) -> Result<IsoImage, IsoError> {
        Self::open_with(path, None)
    }

    /// Opens an image reading the given tree (`None`: best available).
    pub fn open_with(path: &Path, tree: Option<Tree>) -> Result<IsoImage, IsoError> {
        let file = File::open(path).map_err(io_err(path))?;
        let file_len = file.metadata().map_err(io_err(path))?.len();
        let mut img = IsoImage {
            path: path.to_path_buf(),
            file,
            volume: VolumeInfo {
                system_id: String::new(),
                volume_id: String::new(),
                volume_space_size: 0,
                publisher_id: String::new(),
                preparer_id: String::new(),
                application_id: String::new(),
                creation: None,
                modification: None,
                application_use: Vec::new(),
            },
            has_rock_ridge: false,
            has_joliet: false,
            tree: Tree::Plain,
            entries: Vec::new(),
            index: HashMap::new(),
        };
        let mut walker = Walker {
            img: &img,
            file_len,
            susp_skip: 0,
            dir_bytes_budget: file_len.saturating_mul(2) + (1 << 20),
        };
        let (pvd, joliet_root) = walker.read_descriptors()?;
        let pvd_root = walker.root_record(&pvd[156..190])?;
        let volume = volume_info(&pvd);
        if volume.volume_space_size * SECTOR > file_len {
            return Err(walker.corrupt(CorruptKind::Truncated {
                volume_bytes: volume.volume_space_size * SECTOR,
                file_bytes: file_len,
            }));
        }
        let rr = walker.detect_rock_ridge(&pvd_root)?;
        let chosen = match tree {
            Some(Tree::RockRidge) if !rr => {
                return Err(IsoError::NotIso {
                    path: path.to_path_buf(),
                    reason: "no Rock Ridge extensions in this image".into(),
                })
            }
            Some(Tree::Joliet) if joliet_root.is_none() => {
                return Err(IsoError::NotIso {
                    path: path.to_path_buf(),
                    reason: "no Joliet tree in this image".into(),
                })
            }
            Some(t) => t,
            None if rr => Tree::RockRidge,
            None if joliet_root.is_some() => Tree::Joliet,
            None => Tree::Plain,
        };
        let root = match (chosen, &joliet_root) {
            (Tree::Joliet, Some(j)) => walker.root_record(j)?,
            _ => pvd_root,
        };
        let entries = walker.walk(&root, chosen)?;
        let has_joliet = joliet_root.is_some();
        img.volume = volume;
        img.has_rock_ridge = rr;
        img.has_joliet = has_joliet;
        img.tree = chosen;
        img.index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.clone(), i))
            .collect();
        img.entries = entries;
        Ok(img)
    }

    pub fn volume(&self) -> &VolumeInfo {
        &self.volume
    }

    pub fn volume_id(&self) -> &str {
        &self.volume.volume_id
    }

    pub fn has_rock_ridge(&self) -> bool {
        self.has_rock_ridge
    }

    pub fn has_joliet(&self) -> bool {
        self.has_joliet
    }

    /// The tree the entries were read from.
    pub fn tree(&self) -> Tree {
        self.tree
    }

    /// All entries, parents before children.
    pub fn entries(&self) -> &[IsoEntry] {
        &self.entries
    }

    /// The entry at `path` (`a/b/c`, a leading `/` is ignored).
    pub fn entry(&self, path: &str) -> Option<&IsoEntry> {
        self.index
            .get(path.trim_start_matches('/').trim_end_matches('/'))
            .map(|&i| &self.entries[i])
    }

    fn file_entry(&self, path: &str) -> Result<&IsoEntry, IsoError> {
        let e = self.entry(path).ok_or_else(|| IsoError::NotFound {
            path: self.path.clone(),
            entry: path.to_string(),
        })?;
        if e.kind != EntryKind::File {
            return Err(IsoError::NotAFile {
                path: self.path.clone(),
                entry: path.to_string(),
            });
        }
        Ok(e)
    }

    /// A streaming reader over the content of the regular file at `path`.
    pub fn open_file(&self, path: &str) -> Result<IsoFileReader<'_>, IsoError> {
        let e = self.file_entry(path)?;
        Ok(IsoFileReader {
            file: &self.file,
            sections: e.sections.clone(),
            current: 0,
            offset: 0,
        })
    }

    /// The whole content of the regular file at `path`.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, IsoError> {
        let e = self.file_entry(path)?;
        let mut out = Vec::with_capacity(e.size.min(1 << 30) as usize);
        self.open_file(path)?
            .read_to_end(&mut out)
            .map_err(io_err(&self.path))?;
        Ok(out)
    }

    /// Extracts every entry under `dest` (created if missing; existing entries are not
    /// overwritten). Symlinks are created with their literal target; modes (Rock Ridge) and
    /// modification times are applied; hardlinks become copies.
    pub fn extract(&self, dest: &Path) -> Result<(), IsoError> {
        std::fs::create_dir_all(dest).map_err(io_err(dest))?;
        for e in &self.entries {
            let target = dest.join(&e.path);
            match &e.kind {
                EntryKind::Dir => {
                    std::fs::create_dir(&target).map_err(|err| exists_or(err, &target))?
                }
                EntryKind::Symlink { target: link } => std::os::unix::fs::symlink(link, &target)
                    .map_err(|err| exists_or(err, &target))?,
                EntryKind::File => {
                    let mut out = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&target)
                        .map_err(|err| exists_or(err, &target))?;
                    let mut reader = self.open_file(&e.path)?;
                    std::io::copy(&mut reader, &mut out).map_err(io_err(&target))?;
                    set_mode_and_time(&out, e, &target)?;
                }
            }
        }
        for e in self.entries.iter().rev() {
            if e.kind == EntryKind::Dir {
                let target = dest.join(&e.path);
                let dir = File::open(&target).map_err(io_err(&target))?;
                set_mode_and_time(&dir, e, &target)?;
            }
        }
        Ok(())
    }
}

fn exists_or(err: std::io::Error, path: &Path) -> IsoError {
    if err.kind() == std::io::ErrorKind::AlreadyExists {
        IsoError::ExtractTargetExists {
            path: path.to_path_buf(),
        }
    } else {
        IsoError::Io {
            path: path.to_path_buf(),
            cause: err,
        }
    }
}

fn set_mode_and_time(f: &File, e: &IsoEntry, path: &Path) -> Result<(), IsoError> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(mode) = e.mode {
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(io_err(path))?;
    }
    let t = if e.mtime >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.mtime as u64)
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_secs(e.mtime.unsigned_abs())
    };
    f.set_modified(t).map_err(io_err(path))
}

/// Reads one file's data sections in order.
pub struct IsoFileReader<'a> {
    file: &'a File,
    sections: Vec<(u64, u64)>,
    current: usize,
    offset: u64,
}

impl Read for IsoFileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(&(start, len)) = self.sections.get(self.current) {
            if self.offset >= len {
                self.current += 1;
                self.offset = 0;
                continue;
            }
            let want = ((len - self.offset) as usize).min(buf.len());
            if want == 0 {
                return Ok(0);
            }
            let n = self.file.read_at(&mut buf[..want], start + self.offset)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "image ends inside a file extent",
                ));
            }
            self.offset += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

fn volume_info(pvd: &[u8]) -> VolumeInfo {
    let date = |r: std::ops::Range<usize>| {
        let mut d = [0u8; 17];
        d.copy_from_slice(&pvd[r]);
        parse_vd_date(&d)
    };
    VolumeInfo {
        system_id: text(&pvd[8..40]),
        volume_id: text(&pvd[40..72]),
        volume_space_size: u64::from(le32(pvd, 80)),
        publisher_id: text(&pvd[318..446]),
        preparer_id: text(&pvd[446..574]),
        application_id: text(&pvd[574..702]),
        creation: date(813..830),
        modification: date(830..847),
        application_use: pvd[883..1395].to_vec(),
    }
}

struct Walker<'a> {
    img: &'a IsoImage,
    file_len: u64,
    susp_skip: usize,
    dir_bytes_budget: u64,
}

impl Walker<'_> {
    fn corrupt(&self, kind: CorruptKind) -> IsoError {
        IsoError::Corrupt {
            path: self.img.path.clone(),
            kind,
        }
    }

    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, IsoError> {
        let mut buf = vec![0u8; len];
        self.img
            .file
            .read_exact_at(&mut buf, offset)
            .map_err(io_err(&self.img.path))?;
        Ok(buf)
    }

    fn check_extent(&self, what: &str, lba: u32, len: u64) -> Result<(), IsoError> {
        if u64::from(lba) * SECTOR + len > self.file_len {
            return Err(self.corrupt(CorruptKind::ExtentOutOfBounds {
                what: what.to_string(),
                lba: u64::from(lba),
                len,
            }));
        }
        Ok(())
    }

    /// The PVD and the Joliet SVD's root record, if any.
    fn read_descriptors(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), IsoError> {
        let not_iso = |reason: &str| IsoError::NotIso {
            path: self.img.path.clone(),
            reason: reason.to_string(),
        };
        let mut pvd = None;
        let mut joliet = None;
        for lba in 16..16 + MAX_DESCRIPTORS {
            if (lba + 1) * SECTOR > self.file_len {
                break;
            }
            let vd = self.read_at(lba * SECTOR, SECTOR as usize)?;
            if &vd[1..6] != b"CD001" {
                break;
            }
            match vd[0] {
                1 if pvd.is_none() => pvd = Some(vd),
                2 if joliet.is_none()
                    && vd[88] == 0x25
                    && vd[89] == 0x2F
                    && matches!(vd[90], 0x40 | 0x43 | 0x45) =>
                {
                    joliet = Some(vd[156..190].to_vec())
                }
                255 => break,
                _ => {}
            }
        }
        let pvd = pvd.ok_or_else(|| not_iso("no primary volume descriptor from LBA 16"))?;
        if le16(&pvd, 128) != SECTOR as u16 {
            return Err(self.corrupt(CorruptKind::BadVolumeDescriptor {
                reason: format!(
                    "logical block size {} (only 2048 is supported)",
                    le16(&pvd, 128)
                ),
            }));
        }
        if le32(&pvd, 80) != be32(&pvd, 84) {
            return Err(self.corrupt(CorruptKind::BadVolumeDescriptor {
                reason: "the two halves of the volume space size differ".into(),
            }));
        }
        Ok((pvd, joliet))
    }

    fn root_record(&self, bytes: &[u8]) -> Result<RawRecord, IsoError> {
        let r = parse_record(bytes).map_err(|reason| {
            self.corrupt(CorruptKind::BadVolumeDescriptor {
                reason: format!("root directory record: {reason}"),
            })
        })?;
        if r.flags & 2 == 0 {
            return Err(self.corrupt(CorruptKind::BadVolumeDescriptor {
                reason: "root directory record is not a directory".into(),
            }));
        }
        self.check_extent("root directory", r.extent, u64::from(r.size))?;
        Ok(r)
    }

    /// SUSP is in use when the root "." starts with SP; Rock Ridge when an ER or PX is seen.
    fn detect_rock_ridge(&mut self, root: &RawRecord) -> Result<bool, IsoError> {
        if root.size < 34 {
            return Ok(false);
        }
        let first = self.read_at(
            u64::from(root.extent) * SECTOR,
            2048.min(root.size as usize),
        )?;
        let Ok(dot) = parse_record(&first) else {
            return Ok(false);
        };
        if dot.sua.len() < 7 || &dot.sua[..2] != b"SP" || dot.sua[4] != 0xBE || dot.sua[5] != 0xEF {
            return Ok(false);
        }
        self.susp_skip = usize::from(dot.sua[6]);
        let s = self.parse_susp(&dot.sua, "/", true)?;
        Ok(s.has_sp && (s.has_er || s.mode.is_some()))
    }

    fn parse_susp(&self, sua: &[u8], path: &str, is_root_dot: bool) -> Result<Susp, IsoError> {
        let bad = |reason: &str| {
            self.corrupt(CorruptKind::BadSusp {
                path: path.to_string(),
                reason: reason.to_string(),
            })
        };
        let mut s = Susp::default();
        let skip = if is_root_dot { 0 } else { self.susp_skip };
        let mut area: Vec<u8> = sua.get(skip..).unwrap_or(&[]).to_vec();
        let mut hops = 0;
        let mut sl_continued = false;
        let mut sl_need_slash = false;
        let mut nm_done = false;
        loop {
            let mut next_ce: Option<(u32, u32, u32)> = None;
            let mut p = 0;
            while p + 4 <= area.len() {
                let len = usize::from(area[p + 2]);
                if len < 4 || p + len > area.len() {
                    break;
                }
                let e = &area[p..p + len];
                let data = &e[4..];
                match &e[..2] {
                    b"ST" => break,
                    b"SP" => s.has_sp = true,
                    b"ER" => s.has_er = true,
                    b"CE" if data.len() >= 24 => {
                        next_ce = Some((le32(data, 0), le32(data, 8), le32(data, 16)))
                    }
                    b"PX" if data.len() >= 32 => {
                        s.mode = Some(le32(data, 0));
                        s.nlink = Some(le32(data, 8));
                        s.uid = Some(le32(data, 16));
                        s.gid = Some(le32(data, 24));
                    }
                    b"NM" if !data.is_empty() => {
                        let flags = data[0];
                        if flags & 0x06 == 0 && !nm_done {
                            s.name
                                .get_or_insert_with(Vec::new)
                                .extend_from_slice(&data[1..]);
                            if flags & 1 == 0 {
                                nm_done = true;
                            }
                        }
                    }
                    b"SL" if !data.is_empty() => {
                        let target = s.symlink.get_or_insert_with(Vec::new);
                        let mut q = 1;
                        while q + 2 <= data.len() {
                            let (cflags, clen) = (data[q], usize::from(data[q + 1]));
                            // genisoimage writes SL entries whose LEN wrapped past 255:
                            // keep what is there, as bsdtar does.
                            let Some(content) = data.get(q + 2..q + 2 + clen) else {
                                break;
                            };
                            if cflags & 0x08 != 0 {
                                target.clear();
                                target.push(b'/');
                                sl_need_slash = false;
                            } else {
                                if sl_need_slash && !sl_continued {
                                    target.push(b'/');
                                }
                                if cflags & 0x02 != 0 {
                                    target.push(b'.');
                                } else if cflags & 0x04 != 0 {
                                    target.extend_from_slice(b"..");
                                } else {
                                    target.extend_from_slice(content);
                                }
                                sl_need_slash = true;
                            }
                            sl_continued = cflags & 0x01 != 0;
                            q += 2 + clen;
                        }
                    }
                    b"TF" if !data.is_empty() => {
                        let flags = data[0];
                        let size = if flags & 0x80 != 0 { 17 } else { 7 };
                        let mut q = 1;
                        for bit in 0..7 {
                            if flags & (1 << bit) == 0 {
                                continue;
                            }
                            let Some(stamp) = data.get(q..q + size) else {
                                break;
                            };
                            if bit == 1 {
                                s.mtime = if size == 7 {
                                    let mut d = [0u8; 7];
                                    d.copy_from_slice(stamp);
                                    Some(parse_dir_date(&d))
                                } else {
                                    let mut d = [0u8; 17];
                                    d.copy_from_slice(stamp);
                                    parse_vd_date(&d)
                                };
                            }
                            q += size;
                        }
                    }
                    b"CL" if data.len() >= 8 => s.child_link = Some(le32(data, 0)),
                    b"RE" => s.relocated = true,
                    _ => {}
                }
                p += len;
            }
            let Some((lba, off, len)) = next_ce else {
                break;
            };
            hops += 1;
            if hops > MAX_CE_HOPS {
                return Err(bad("more than 32 continuation areas"));
            }
            if u64::from(off) + u64::from(len) > SECTOR {
                return Err(bad("continuation area crosses a block"));
            }
            self.check_extent(
                &format!("continuation area of {path}"),
                lba,
                u64::from(off) + u64::from(len),
            )?;
            area = self.read_at(u64::from(lba) * SECTOR + u64::from(off), len as usize)?;
        }
        Ok(s)
    }

    /// Walks the tree from `root`, returning entries parents-first.
    fn walk(&mut self, root: &RawRecord, tree: Tree) -> Result<Vec<IsoEntry>, IsoError> {
        let rr = tree == Tree::RockRidge;
        let mut entries = Vec::new();
        let mut visited: HashSet<u32> = HashSet::from([root.extent]);
        // Directories in which a relocated (RE) directory was skipped.
        let mut relocation_dirs: HashSet<String> = HashSet::new();
        let mut stack: Vec<(u32, u32, String, usize)> =
            vec![(root.extent, root.size, String::new(), 1)];
        while let Some((lba, size, dir_path, depth)) = stack.pop() {
            let shown = if dir_path.is_empty() {
                "/".to_string()
            } else {
                dir_path.clone()
            };
            if depth > MAX_DEPTH {
                return Err(self.corrupt(CorruptKind::TooDeep { path: shown, depth }));
            }
            self.check_extent(&format!("directory {shown}"), lba, u64::from(size))?;
            if u64::from(size) > MAX_DIR_BYTES {
                return Err(self.corrupt(CorruptKind::BadRecord {
                    dir: shown,
                    offset: 0,
                    reason: format!(
                        "directory extent of {size} bytes (at most {MAX_DIR_BYTES} accepted)"
                    ),
                }));
            }
            if u64::from(size) > self.dir_bytes_budget {
                return Err(self.corrupt(CorruptKind::TooManyEntries { limit: MAX_ENTRIES }));
            }
            self.dir_bytes_budget -= u64::from(size);
            let data = self.read_at(u64::from(lba) * SECTOR, size as usize)?;
            let records = split_records(&data).map_err(|(offset, reason)| {
                self.corrupt(CorruptKind::BadRecord {
                    dir: shown.clone(),
                    offset,
                    reason,
                })
            })?;
            let mut names: HashSet<String> = HashSet::new();
            let mut pending: Vec<RawRecord> = Vec::new();
            let mut subdirs = Vec::new();
            for rec in records.into_iter().skip(2) {
                if rec.flags & 0x04 != 0 {
                    continue;
                }
                if rec.flags & 0x80 != 0 {
                    if let Some(first) = pending.first() {
                        if first.ident != rec.ident {
                            return Err(self.corrupt(CorruptKind::BadMultiExtent {
                                path: format!("{shown}/{}", String::from_utf8_lossy(&rec.ident)),
                            }));
                        }
                    }
                    if u64::from(rec.size) & (SECTOR - 1) != 0 {
                        return Err(self.corrupt(CorruptKind::BadMultiExtent {
                            path: format!("{shown}/{}", String::from_utf8_lossy(&rec.ident)),
                        }));
                    }
                    pending.push(rec);
                    continue;
                }
                let mut sections: Vec<RawRecord> = std::mem::take(&mut pending);
                if let Some(first) = sections.first() {
                    if first.ident != rec.ident {
                        return Err(self.corrupt(CorruptKind::BadMultiExtent {
                            path: format!("{shown}/{}", String::from_utf8_lossy(&rec.ident)),
                        }));
                    }
                }
                sections.push(rec);
                let rec = &sections[sections.len() - 1];
                let susp = if rr {
                    self.parse_susp(&rec.sua, &shown, false)?
                } else {
                    Susp::default()
                };
                if susp.relocated {
                    relocation_dirs.insert(dir_path.clone());
                    continue;
                }
                let name = match tree {
                    Tree::RockRidge => match &susp.name {
                        Some(n) => String::from_utf8(n.clone()).map_err(|_| {
                            self.corrupt(CorruptKind::UnsafeName {
                                dir: shown.clone(),
                                name: String::from_utf8_lossy(n).into_owned(),
                            })
                        })?,
                        None => plain_name(&rec.ident, rec.flags & 2 != 0),
                    },
                    Tree::Joliet => joliet_name(&rec.ident),
                    Tree::Plain => plain_name(&rec.ident, rec.flags & 2 != 0),
                };
                if name.is_empty()
                    || name == "."
                    || name == ".."
                    || name.contains('/')
                    || name.contains('\0')
                {
                    return Err(self.corrupt(CorruptKind::UnsafeName {
                        dir: shown.clone(),
                        name,
                    }));
                }
                let path = if dir_path.is_empty() {
                    name.clone()
                } else {
                    format!("{dir_path}/{name}")
                };
                if !names.insert(name) {
                    return Err(self.corrupt(CorruptKind::DuplicateName { path }));
                }
                let mtime = susp.mtime.unwrap_or_else(|| parse_dir_date(&rec.date));
                let is_symlink = susp.mode.map(|m| m & 0o170000 == 0o120000).unwrap_or(false)
                    && susp.symlink.is_some();
                let (kind, size, secs) = if rec.flags & 2 != 0 || susp.child_link.is_some() {
                    let (dlba, dsize) = match susp.child_link {
                        Some(cl) => {
                            self.check_extent(&format!("relocated directory {path}"), cl, SECTOR)?;
                            let first = self.read_at(u64::from(cl) * SECTOR, SECTOR as usize)?;
                            let dot = parse_record(&first).map_err(|reason| {
                                self.corrupt(CorruptKind::BadRecord {
                                    dir: path.clone(),
                                    offset: 0,
                                    reason,
                                })
                            })?;
                            (cl, dot.size)
                        }
                        None => (rec.extent, rec.size),
                    };
                    if !visited.insert(dlba) {
                        return Err(self.corrupt(CorruptKind::DirectoryLoop { path, lba: dlba }));
                    }
                    subdirs.push((dlba, dsize, path.clone(), depth + 1));
                    (EntryKind::Dir, 0, Vec::new())
                } else if is_symlink {
                    let target = susp.symlink.clone().unwrap_or_default();
                    let target = String::from_utf8(target).map_err(|_| {
                        self.corrupt(CorruptKind::BadSusp {
                            path: path.clone(),
                            reason: "symlink target is not UTF-8".into(),
                        })
                    })?;
                    (EntryKind::Symlink { target }, 0, Vec::new())
                } else {
                    let mut secs = Vec::with_capacity(sections.len());
                    let mut total: u64 = 0;
                    for s in &sections {
                        let len = u64::from(s.size);
                        if len > 0 {
                            self.check_extent(&format!("file {path}"), s.extent, len)?;
                            secs.push((u64::from(s.extent) * SECTOR, len));
                        }
                        total += len;
                    }
                    (EntryKind::File, total, secs)
                };
                entries.push(IsoEntry {
                    path,
                    kind,
                    size,
                    mode: susp.mode,
                    uid: susp.uid,
                    gid: susp.gid,
                    nlink: susp.nlink,
                    mtime,
                    sections: secs,
                });
                if entries.len() > MAX_ENTRIES {
                    return Err(self.corrupt(CorruptKind::TooManyEntries { limit: MAX_ENTRIES }));
                }
            }
            if let Some(rec) = pending.first() {
                return Err(self.corrupt(CorruptKind::BadMultiExtent {
                    path: format!("{shown}/{}", String::from_utf8_lossy(&rec.ident)),
                }));
            }
            stack.extend(subdirs.into_iter().rev());
        }
        // The relocation directory (`rr_moved` at the root, as genisoimage and mkiso write
        // it, with no RE of its own) is hidden once everything in it was relocated, as
        // libarchive does.
        for name in ["rr_moved", ".rr_moved"] {
            let holds_only_relocated = relocation_dirs.contains(name)
                && !entries.iter().any(|e| {
                    e.path
                        .strip_prefix(name)
                        .is_some_and(|r| r.starts_with('/'))
                });
            if holds_only_relocated {
                entries.retain(|e| e.path != name);
            }
        }
        Ok(entries)
    }
}

/// Parses one directory record from the start of `b`.
fn parse_record(b: &[u8]) -> Result<RawRecord, String> {
    let len = usize::from(*b.first().ok_or("empty record")?);
    if len < 34 || len > b.len() {
        return Err(format!("record length {len}"));
    }
    let len_fi = usize::from(b[32]);
    let sua_start = 33 + len_fi + usize::from(len_fi % 2 == 0);
    if 33 + len_fi > len || len_fi == 0 {
        return Err(format!(
            "identifier length {len_fi} does not fit record length {len}"
        ));
    }
    let mut date = [0u8; 7];
    date.copy_from_slice(&b[18..25]);
    Ok(RawRecord {
        extent: le32(b, 2),
        size: le32(b, 10),
        date,
        flags: b[25],
        ident: b[33..33 + len_fi].to_vec(),
        sua: b.get(sua_start..len).unwrap_or(&[]).to_vec(),
    })
}

/// Splits a directory extent into records (a zero length byte skips to the next sector).
fn split_records(data: &[u8]) -> Result<Vec<RawRecord>, (u64, String)> {
    let mut out = Vec::new();
    let mut p = 0usize;
    while p < data.len() {
        let len = usize::from(data[p]);
        if len == 0 {
            p = (p / SECTOR as usize + 1) * SECTOR as usize;
            continue;
        }
        let sector_end = ((p / SECTOR as usize + 1) * SECTOR as usize).min(data.len());
        if p + len > sector_end {
            return Err((p as u64, "record crosses a sector boundary".into()));
        }
        out.push(parse_record(&data[p..p + len]).map_err(|e| (p as u64, e))?);
        p += len;
    }
    if out.len() < 2 || out[0].ident != [0] || out[1].ident != [1] {
        return Err((0, "directory does not start with \".\" and \"..\"".into()));
    }
    Ok(out)
}

fn plain_name(ident: &[u8], is_dir: bool) -> String {
    let mut s = String::from_utf8_lossy(ident).into_owned();
    if !is_dir {
        if let Some(semi) = s.rfind(';') {
            if s[semi + 1..].bytes().all(|b| b.is_ascii_digit()) {
                s.truncate(semi);
            }
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

fn joliet_name(ident: &[u8]) -> String {
    let units: Vec<u16> = ident
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    let mut s = String::from_utf16_lossy(&units);
    if let Some(semi) = s.rfind(';') {
        if !s[semi + 1..].is_empty() && s[semi + 1..].bytes().all(|b| b.is_ascii_digit()) {
            s.truncate(semi);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(len: u8, ident: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; len as usize];
        r[0] = len;
        r[32] = ident.len() as u8;
        r[33..33 + ident.len()].copy_from_slice(ident);
        r
    }

    #[test]
    fn records_crossing_a_sector_are_rejected() {
        let mut dir = rec(34, &[0]);
        dir.extend(rec(34, &[1]));
        dir.resize(2048 - 40, 0);
        dir.extend(rec(100, b"X"));
        dir.resize(4096, 0);
        let p = 2048 - 40;
        // The zero byte before the record skips to the next sector: not reached.
        assert_eq!(split_records(&dir).unwrap().len(), 2);
        // Contiguous records up to near the sector end, then one that crosses it.
        let mut dir2 = rec(34, &[0]);
        dir2.extend(rec(34, &[1]));
        while dir2.len() + 34 <= p {
            dir2.extend(rec(34, b"Y"));
        }
        let at = dir2.len();
        dir2.extend(rec(254.min((2048 - at + 2) as u8), b"Z"));
        dir2.resize(4096, 0);
        let err = split_records(&dir2).unwrap_err();
        assert!(err.1.contains("crosses"), "{err:?}");
    }

    #[test]
    fn names() {
        assert_eq!(plain_name(b"FILE1.TXT;1", false), "FILE1.TXT");
        assert_eq!(plain_name(b"SYM1.;1", false), "SYM1");
        assert_eq!(joliet_name(&[0, b'a', 0, b';', 0, b'1']), "a");
    }
}

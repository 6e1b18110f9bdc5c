//! Reading what repodata needs from an RPM file's header (with the `rpm` crate's parser).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rpm::{DependencyFlags, FileFlags, IndexSignatureTag, IndexTag, PackageMetadata};

use crate::dependency::Dependency;
use crate::error::RpmError;
use crate::vercmp::{Comparison, Evr};

/// The kind of a packaged path, as repodata spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    File,
    Dir,
    Ghost,
}

/// One packaged path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageFile {
    pub path: String,
    pub kind: FileKind,
}

/// One changelog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changelog {
    pub author: String,
    pub date: u64,
    pub text: String,
}

/// What repodata says about one package, read from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHeader {
    pub name: String,
    pub arch: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub build_host: String,
    pub source_rpm: String,
    pub build_time: u64,
    pub installed_size: u64,
    pub archive_size: u64,
    /// Byte range of the main header in the file (`rpm:header-range`).
    pub header_start: u64,
    pub header_end: u64,
    pub provides: Vec<Dependency>,
    /// Requirements, filtered as createrepo_c does (no `rpmlib(…)`, nothing the package
    /// provides itself, no duplicates).
    pub requires: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    pub files: Vec<PackageFile>,
    /// Oldest first, at most [`CHANGELOG_LIMIT`] entries (the newest ones).
    pub changelogs: Vec<Changelog>,
}

/// How many changelog entries repodata keeps per package (createrepo_c's default).
pub const CHANGELOG_LIMIT: usize = 10;

impl PackageHeader {
    /// The EVR with its release.
    pub fn evr(&self) -> Evr {
        Evr::new(self.epoch, self.version.clone(), Some(self.release.clone()))
    }
}

/// Whether createrepo_c lists a path in primary.xml (the rest is only in filelists).
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

/// Reads the header of the RPM at `path` (the lead and headers only, not the payload).
pub fn read_package_header(path: &Path) -> Result<PackageHeader, RpmError> {
    let file = File::open(path).map_err(|e| RpmError::io("opening", path, e))?;
    let mut reader = BufReader::new(file);
    read_header_from(&mut reader, path)
}

/// Passes reads through, keeping a copy of what was read.
struct Capture<'a, R> {
    inner: &'a mut R,
    seen: Vec<u8>,
}

impl<R: std::io::Read> std::io::Read for Capture<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Reads the lead and headers from `reader` (left at the payload). Their structure is
/// checked first ([`crate::header_bounds`]), on the bytes read once: a hostile header is an
/// error naming the file before the `rpm` crate's parser sees it. `path` is the name
/// errors give (the reader may come from an ISO image, not a file).
pub fn read_header_from(reader: &mut impl BufRead, path: &Path) -> Result<PackageHeader, RpmError> {
    let fail = |rule: String| RpmError::ReadPackage {
        path: path.to_path_buf(),
        rule,
    };
    let mut capture = Capture {
        inner: reader,
        seen: Vec::new(),
    };
    crate::header_bounds::check_headers(&mut capture)
        .map_err(|rule| fail(format!("not a readable RPM: {rule}")))?;
    let headers = capture.seen;
    let meta = PackageMetadata::parse(&mut &headers[..])
        .map_err(|e| fail(format!("not a readable RPM: {e}")))?;
    if meta.is_source_package() {
        return Err(fail(
            "is a source package (repodata lists binary packages)".into(),
        ));
    }
    let required = |what: &str, value: Result<&str, rpm::Error>| {
        value
            .map(str::to_string)
            .map_err(|e| fail(format!("header has no {what}: {e}")))
    };
    let optional = |value: Result<&str, rpm::Error>| value.unwrap_or_default().to_string();
    let h = &meta.header;
    let name = required("name", meta.get_name())?;
    let version = required("version", meta.get_version())?;
    let release = required("release", meta.get_release())?;
    let arch = required("arch", meta.get_arch())?;
    let epoch = meta.get_epoch().unwrap_or(0);
    let offsets = meta.get_package_segment_offsets();

    let installed_size = h
        .get_entry_data_as_u64(IndexTag::RPMTAG_LONGSIZE)
        .or_else(|_| {
            h.get_entry_data_as_u32(IndexTag::RPMTAG_SIZE)
                .map(u64::from)
        })
        .unwrap_or(0);
    let s = &meta.signature;
    let archive_size = s
        .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE)
        .or_else(|_| {
            s.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE)
                .map(u64::from)
        })
        .or_else(|_| h.get_entry_data_as_u64(IndexTag::RPMTAG_LONGARCHIVESIZE))
        .or_else(|_| {
            h.get_entry_data_as_u32(IndexTag::RPMTAG_ARCHIVESIZE)
                .map(u64::from)
        })
        .unwrap_or(0);

    let files = read_files(&meta).map_err(&fail)?;
    let deps = |list: Result<Vec<rpm::Dependency>, rpm::Error>, what: &str| {
        list.map_err(|e| fail(format!("unreadable {what}: {e}")))
            .map(|list| list.iter().map(convert_dependency).collect::<Vec<_>>())
    };
    let provides = deps(meta.get_provides(), "provides")?;
    let raw_requires = meta
        .get_requires()
        .map_err(|e| fail(format!("unreadable requires: {e}")))?;
    let requires = filter_requires(&raw_requires, &provides, &files);
    let changelogs = read_changelogs(&meta).map_err(fail)?;

    Ok(PackageHeader {
        name,
        arch,
        epoch,
        version,
        release,
        summary: optional(meta.get_summary()),
        description: optional(meta.get_description()),
        packager: optional(meta.get_packager()),
        url: optional(meta.get_url()),
        license: optional(meta.get_license()),
        vendor: optional(meta.get_vendor()),
        group: optional(meta.get_group()),
        build_host: optional(meta.get_build_host()),
        source_rpm: optional(meta.get_source_rpm()),
        build_time: meta.get_build_time().unwrap_or(0),
        installed_size,
        archive_size,
        header_start: offsets.header,
        header_end: offsets.payload,
        provides,
        requires,
        conflicts: deps(meta.get_conflicts(), "conflicts")?,
        obsoletes: deps(meta.get_obsoletes(), "obsoletes")?,
        recommends: deps(meta.get_recommends(), "recommends")?,
        suggests: deps(meta.get_suggests(), "suggests")?,
        supplements: deps(meta.get_supplements(), "supplements")?,
        enhances: deps(meta.get_enhances(), "enhances")?,
        files,
        changelogs,
    })
}

fn read_files(meta: &PackageMetadata) -> Result<Vec<PackageFile>, String> {
    let h = &meta.header;
    if !h.entry_is_present(IndexTag::RPMTAG_BASENAMES) {
        return Ok(Vec::new());
    }
    let err = |what: &str, e: rpm::Error| format!("unreadable file list ({what}): {e}");
    let basenames = h
        .get_entry_data_as_string_array(IndexTag::RPMTAG_BASENAMES)
        .map_err(|e| err("basenames", e))?;
    let dirnames = h
        .get_entry_data_as_string_array(IndexTag::RPMTAG_DIRNAMES)
        .map_err(|e| err("dirnames", e))?;
    let indexes = h
        .get_entry_data_as_u32_array(IndexTag::RPMTAG_DIRINDEXES)
        .map_err(|e| err("dirindexes", e))?;
    let modes = h
        .get_entry_data_as_u16_array(IndexTag::RPMTAG_FILEMODES)
        .map_err(|e| err("modes", e))?;
    let flags = h
        .get_entry_data_as_u32_array(IndexTag::RPMTAG_FILEFLAGS)
        .map_err(|e| err("flags", e))?;
    let n = basenames.len();
    if indexes.len() != n || modes.len() != n || flags.len() != n {
        return Err("inconsistent file list: tag arrays have different lengths".into());
    }
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let dir = dirnames
            .get(indexes[i] as usize)
            .ok_or_else(|| format!("file {}: directory index out of range", basenames[i]))?;
        let kind = if modes[i] & 0o170000 == 0o040000 {
            FileKind::Dir
        } else if FileFlags::from_bits_retain(flags[i]).contains(FileFlags::GHOST) {
            FileKind::Ghost
        } else {
            FileKind::File
        };
        files.push(PackageFile {
            path: format!("{dir}{}", basenames[i]),
            kind,
        });
    }
    Ok(files)
}

fn read_changelogs(meta: &PackageMetadata) -> Result<Vec<Changelog>, String> {
    let entries = meta
        .get_changelog_entries()
        .map_err(|e| format!("unreadable changelog: {e}"))?;
    // The header lists the newest first; repodata keeps the newest N, oldest first, and
    // (as createrepo_c) makes equal dates distinct by bumping the newer ones.
    let mut kept: std::collections::VecDeque<Changelog> = Default::default();
    let mut last_time = 0;
    for entry in entries.into_iter().take(CHANGELOG_LIMIT) {
        let date = entry.timestamp;
        kept.push_front(Changelog {
            author: entry.name.trim_end_matches(' ').to_string(),
            date,
            text: entry.description,
        });
        if date == last_time {
            for (expected, newer) in (date..).zip(kept.iter_mut().skip(1)) {
                if newer.date != expected {
                    break;
                }
                newer.date += 1;
            }
        } else {
            last_time = date;
        }
    }
    Ok(kept.into())
}

fn convert_dependency(dep: &rpm::Dependency) -> Dependency {
    let f = dep.flags;
    let cmp = match (
        f.contains(DependencyFlags::LESS),
        f.contains(DependencyFlags::GREATER),
        f.contains(DependencyFlags::EQUAL),
    ) {
        (true, false, false) => Some(Comparison::Lt),
        (true, false, true) => Some(Comparison::Le),
        (false, false, true) => Some(Comparison::Eq),
        (false, true, true) => Some(Comparison::Ge),
        (false, true, false) => Some(Comparison::Gt),
        _ => None,
    };
    let version = match (cmp, dep.version.is_empty()) {
        (Some(cmp), false) => Evr::parse(&dep.version).map(|evr| (cmp, evr)),
        _ => None,
    };
    Dependency {
        name: dep.name.clone(),
        version,
        pre: f.intersects(
            DependencyFlags::PREREQ | DependencyFlags::SCRIPT_PRE | DependencyFlags::SCRIPT_POST,
        ),
    }
}

fn filter_requires(
    raw: &[rpm::Dependency],
    provides: &[Dependency],
    files: &[PackageFile],
) -> Vec<Dependency> {
    let own_files: std::collections::HashSet<&str> =
        files.iter().map(|f| f.path.as_str()).collect();
    let provided: std::collections::HashSet<&str> =
        provides.iter().map(|p| p.name.as_str()).collect();
    let mut last_by_name: std::collections::HashMap<String, Dependency> = Default::default();
    let mut out = Vec::new();
    for dep in raw {
        if dep.name.starts_with("rpmlib(") {
            continue;
        }
        if own_files.contains(dep.name.as_str()) && is_primary_file(&dep.name) {
            continue;
        }
        if provided.contains(dep.name.as_str()) {
            continue;
        }
        let dep = convert_dependency(dep);
        if last_by_name.get(&dep.name) == Some(&dep) {
            continue;
        }
        last_by_name.insert(dep.name.clone(), dep.clone());
        out.push(dep);
    }
    out
}

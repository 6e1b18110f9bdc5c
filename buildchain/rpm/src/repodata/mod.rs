//! Yum repository metadata: writing it for a directory of RPMs (as `createrepo_c` does) and
//! reading a remote repository's `repomd.xml` and `primary.xml`.

pub(crate) mod read;
mod write;
mod xml;

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::RpmError;
use crate::fsutil::{temp_sibling, TempPath};
use crate::header::read_header_from;
use write::{
    filelists_entry, other_entry, primary_entry, IndexedPackage, FILELISTS_NS, OTHER_NS,
    PRIMARY_NS, REPO_NS, RPM_NS,
};

pub use read::{check_package_location, RemotePackage, RepoMd, RepoMdRecord};

/// How to write repodata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepodataOptions {
    /// `SOURCE_DATE_EPOCH`: the timestamp of every record (and the default revision), and
    /// the upper bound of the package file times recorded. `None`: the current time.
    pub source_date_epoch: Option<u64>,
    /// `<revision>` of repomd.xml; defaults to the timestamp.
    pub revision: Option<String>,
    /// Worker threads reading packages; `None`: one per CPU.
    pub jobs: Option<usize>,
}

/// What [`write_repodata`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepodataReport {
    /// How many packages were indexed.
    pub packages: usize,
    /// `repo_dir/repodata/repomd.xml`.
    pub repomd: PathBuf,
    /// The revision written.
    pub revision: String,
}

/// Indexes every `*.rpm` under `repo_dir` (recursively; hidden entries and `repodata/` are
/// skipped) and writes `repo_dir/repodata/` with `repomd.xml` and the checksum-named
/// `primary.xml.gz`, `filelists.xml.gz` and `other.xml.gz`. The new directory is written
/// aside and swapped in when complete: on error the previous repodata (if any) is untouched.
pub fn write_repodata(
    repo_dir: &Path,
    options: &RepodataOptions,
) -> Result<RepodataReport, RpmError> {
    let mut locations = Vec::new();
    find_packages(repo_dir, "", &mut locations)?;
    locations.sort();
    let timestamp = match options.source_date_epoch {
        Some(t) => t,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };

    let index_all = || -> Result<Vec<IndexedPackage>, RpmError> {
        locations
            .par_iter()
            .map(|location| index_package(repo_dir, location, options.source_date_epoch))
            .collect()
    };
    let packages = match options.jobs {
        Some(jobs) => rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build()
            .map_err(|e| RpmError::Options(format!("cannot start {jobs} workers: {e}")))?
            .install(index_all)?,
        None => index_all()?,
    };

    let count = packages.len();
    let documents: Vec<(String, String, String)> = packages
        .par_iter()
        .map(|p| (primary_entry(p), filelists_entry(p), other_entry(p)))
        .collect();
    let header = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let primary = assemble(
        format!("{header}<metadata xmlns=\"{PRIMARY_NS}\" xmlns:rpm=\"{RPM_NS}\" packages=\"{count}\">\n"),
        documents.iter().map(|d| d.0.as_str()),
        "</metadata>",
    );
    let filelists = assemble(
        format!("{header}<filelists xmlns=\"{FILELISTS_NS}\" packages=\"{count}\">\n"),
        documents.iter().map(|d| d.1.as_str()),
        "</filelists>",
    );
    let other = assemble(
        format!("{header}<otherdata xmlns=\"{OTHER_NS}\" packages=\"{count}\">\n"),
        documents.iter().map(|d| d.2.as_str()),
        "</otherdata>",
    );
    drop(documents);

    let staging = TempPath::new(temp_sibling(&repo_dir.join("repodata"))?);
    fs::create_dir(staging.path())
        .map_err(|e| RpmError::io("creating", staging.path().to_path_buf(), e))?;
    let docs = [
        ("primary", primary),
        ("filelists", filelists),
        ("other", other),
    ];
    let records: Vec<Record> = docs
        .par_iter()
        .map(|(kind, text)| write_document(staging.path(), kind, text.as_bytes(), timestamp))
        .collect::<Result<_, _>>()?;
    let revision = options
        .revision
        .clone()
        .unwrap_or_else(|| timestamp.to_string());
    let repomd = repomd_xml(&revision, &records);
    let repomd_path = staging.path().join("repomd.xml");
    fs::write(&repomd_path, repomd).map_err(|e| RpmError::io("writing", repomd_path, e))?;

    swap_in(repo_dir, staging)?;
    Ok(RepodataReport {
        packages: count,
        repomd: repo_dir.join("repodata").join("repomd.xml"),
        revision,
    })
}

fn assemble<'a>(opening: String, entries: impl Iterator<Item = &'a str>, closing: &str) -> String {
    let mut out = opening;
    for entry in entries {
        out.push_str(entry);
    }
    out.push_str(closing);
    out
}

fn find_packages(root: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), RpmError> {
    let dir = root.join(prefix);
    let entries = fs::read_dir(&dir).map_err(|e| RpmError::io("listing", dir.clone(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| RpmError::io("listing", dir.clone(), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(RpmError::ReadPackage {
                path: entry.path(),
                rule: "file name is not UTF-8 (repodata locations are XML text)".into(),
            });
        };
        if name.starts_with('.') || (prefix.is_empty() && name == "repodata") {
            continue;
        }
        let file_type = fs::metadata(entry.path())
            .map_err(|e| RpmError::io("reading", entry.path(), e))?
            .file_type();
        let relative = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        };
        if file_type.is_dir() {
            find_packages(root, &relative, out)?;
        } else if file_type.is_file() && name.ends_with(".rpm") {
            out.push(relative);
        }
    }
    Ok(())
}

/// Reads a package's header and sha256 in one pass over the file.
fn index_package(
    repo_dir: &Path,
    location: &str,
    source_date_epoch: Option<u64>,
) -> Result<IndexedPackage, RpmError> {
    let path = repo_dir.join(location);
    let file = File::open(&path).map_err(|e| RpmError::io("opening", path.clone(), e))?;
    let metadata = file
        .metadata()
        .map_err(|e| RpmError::io("reading", path.clone(), e))?;
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        HashingReader {
            inner: file,
            hasher: Sha256::new(),
        },
    );
    let header = read_header_from(&mut reader, &path)?;
    io::copy(&mut reader, &mut io::sink()).map_err(|e| RpmError::io("reading", path.clone(), e))?;
    let sha256 = hex(&reader.into_inner().hasher.finalize());
    let mtime = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let file_time = match source_date_epoch {
        Some(limit) => mtime.min(limit),
        None => mtime,
    };
    Ok(IndexedPackage {
        header,
        location: location.to_string(),
        sha256,
        file_size: metadata.len(),
        file_time,
    })
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

struct Record {
    kind: &'static str,
    checksum: String,
    open_checksum: String,
    href: String,
    size: u64,
    open_size: u64,
    timestamp: u64,
}

fn write_document(
    dir: &Path,
    kind: &'static str,
    text: &[u8],
    timestamp: u64,
) -> Result<Record, RpmError> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::default(),
    );
    let compressed = encoder
        .write_all(text)
        .and_then(|()| encoder.finish())
        .map_err(|e| RpmError::io("compressing", dir.join(kind), e))?;
    let checksum = hex(&Sha256::digest(&compressed));
    let name = format!("{checksum}-{kind}.xml.gz");
    let path = dir.join(&name);
    fs::write(&path, &compressed).map_err(|e| RpmError::io("writing", path, e))?;
    Ok(Record {
        kind,
        open_checksum: hex(&Sha256::digest(text)),
        checksum,
        href: format!("repodata/{name}"),
        size: compressed.len() as u64,
        open_size: text.len() as u64,
        timestamp,
    })
}

fn repomd_xml(revision: &str, records: &[Record]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"{REPO_NS}\" xmlns:rpm=\"{RPM_NS}\">\n  <revision>{}</revision>\n",
        xml::escape_text(revision)
    );
    for r in records {
        out.push_str(&format!(
            "  <data type=\"{}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"{}\"/>\n    <timestamp>{}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            r.kind, r.checksum, r.open_checksum, r.href, r.timestamp, r.size, r.open_size
        ));
    }
    out.push_str("</repomd>\n");
    out
}

/// Replaces `repo_dir/repodata` by `staging`; the old directory is removed afterwards.
fn swap_in(repo_dir: &Path, staging: TempPath) -> Result<(), RpmError> {
    let target = repo_dir.join("repodata");
    let old = if target.exists() {
        let old = TempPath::new(temp_sibling(&target)?);
        fs::rename(&target, old.path())
            .map_err(|e| RpmError::io("moving aside", target.clone(), e))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = fs::rename(staging.path(), &target) {
        if let Some(old) = old {
            let old = old.keep();
            let _ = fs::rename(&old, &target);
        }
        return Err(RpmError::io("renaming into", target, e));
    }
    staging.keep();
    drop(old);
    Ok(())
}

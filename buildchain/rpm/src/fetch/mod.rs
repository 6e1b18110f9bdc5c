//! Fetching packages from yum repositories: read `repomd.xml` and `primary.xml(.gz|.zst)`,
//! resolve the requests and their requirements, download in parallel with retries, verify
//! each package against repodata, copy GPG keys, and write repodata for the destination.

mod resolve;
mod transport;

use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checksum::Checksum;
use crate::error::RpmError;
use crate::fsutil::{temp_sibling, TempPath};
use crate::repodata::read::{parse_primary, parse_repomd};
use crate::repodata::{hex, write_repodata, RepodataOptions, RepodataReport};
use resolve::{resolve, RepositoryIndex};
use transport::{Download, Location, Transport};

/// A yum repository to read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Identifier (`[A-Za-z0-9._-]+`), used in messages and GPG key file names.
    pub id: String,
    /// `http(s)://…` or `file://…`: the directory holding `repodata/`.
    pub base_url: String,
    /// GPG public keys of the repository (URLs or local paths), copied into the destination
    /// as `RPM-GPG-KEY-<id>` (then `RPM-GPG-KEY-<id>-2`, …).
    pub gpg_keys: Vec<String>,
    /// `false`: packages of this repository satisfy requirements but are not downloaded
    /// (a base OS repository the nodes already have).
    pub download: bool,
}

impl Repository {
    pub fn new(id: impl Into<String>, base_url: impl Into<String>) -> Self {
        Repository {
            id: id.into(),
            base_url: base_url.into(),
            gpg_keys: Vec::new(),
            download: true,
        }
    }
}

/// A package to fetch: a name, and optionally a version pin `[epoch:]version[-release]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRequest {
    pub name: String,
    pub version: Option<String>,
}

impl PackageRequest {
    /// Parses `name` or `name=[epoch:]version[-release]`.
    pub fn parse(text: &str) -> Result<PackageRequest, RpmError> {
        let (name, version) = match text.split_once('=') {
            Some((name, version)) => (name, Some(version.to_string())),
            None => (text, None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
        {
            return Err(RpmError::Options(format!(
                "package request '{text}': expected NAME or NAME=VERSION"
            )));
        }
        if version
            .as_deref()
            .is_some_and(|v| crate::vercmp::Evr::parse(v).is_none())
        {
            return Err(RpmError::Options(format!(
                "package request '{text}': the pin is not [epoch:]version[-release]"
            )));
        }
        Ok(PackageRequest {
            name: name.to_string(),
            version,
        })
    }
}

impl fmt::Display for PackageRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}={v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// How to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Architectures kept, in order of preference (default `x86_64`, `noarch`).
    pub arches: Vec<String>,
    /// Parallel downloads.
    pub jobs: usize,
    /// Time limits, retries (after a network failure, a 5xx answer or a truncated
    /// download), proxies, extra CA: the shared HTTP client's settings.
    pub http: buildchain_http::Config,
    /// How the destination's repodata is written.
    pub repodata: RepodataOptions,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            arches: vec!["x86_64".into(), "noarch".into()],
            jobs: 4,
            http: buildchain_http::Config::default(),
            repodata: RepodataOptions::default(),
        }
    }
}

/// One package placed in the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub nevra: String,
    pub repository: String,
    pub path: PathBuf,
}

/// What [`fetch_packages`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Downloaded packages, in resolution order.
    pub packages: Vec<FetchedPackage>,
    /// Chosen packages of repositories with `download = false`, not downloaded.
    pub not_downloaded: Vec<String>,
    /// GPG key files written.
    pub gpg_keys: Vec<PathBuf>,
    pub repodata: RepodataReport,
}

const REPOMD_LIMIT: u64 = 16 << 20;
const PRIMARY_LIMIT: u64 = 1 << 30;
const GPG_KEY_LIMIT: u64 = 1 << 20;

/// Fetches `requests` (and what they require) from `repositories` into `dest`, then writes
/// `dest/repodata/`. Packages are downloaded to a staging directory in `dest` and moved in
/// only when every one of them was verified: on error, `dest` is left as it was.
pub fn fetch_packages(
    repositories: &[Repository],
    requests: &[PackageRequest],
    dest: &Path,
    options: &FetchOptions,
) -> Result<FetchReport, RpmError> {
    check_options(repositories, options)?;
    let transport = Transport::new(&options.http)?;
    let locations: Vec<Location> = repositories
        .iter()
        .map(|r| {
            Location::parse(&r.base_url)
                .map_err(|rule| RpmError::Options(format!("repository {}: {rule}", r.id)))
        })
        .collect::<Result<_, _>>()?;

    let indexes: Vec<RepositoryIndex> = repositories
        .par_iter()
        .zip(locations.par_iter())
        .map(|(repo, location)| read_index(&transport, repo, location))
        .collect::<Result<_, _>>()?;
    let choices = resolve(&indexes, requests, &options.arches)?;

    fs::create_dir_all(dest).map_err(|e| RpmError::io("creating", dest, e))?;
    let staging = TempPath::new(temp_sibling(&dest.join("fetch")));
    fs::create_dir(staging.path())
        .map_err(|e| RpmError::io("creating", staging.path().to_path_buf(), e))?;

    let mut keys = Vec::new();
    for (repo, location) in repositories.iter().zip(&locations) {
        for (n, key) in repo.gpg_keys.iter().enumerate() {
            let name = if n == 0 {
                format!("RPM-GPG-KEY-{}", repo.id)
            } else {
                format!("RPM-GPG-KEY-{}-{}", repo.id, n + 1)
            };
            let bytes = read_gpg_key(&transport, repo, location, key)?;
            let path = staging.path().join(&name);
            fs::write(&path, bytes).map_err(|e| RpmError::io("writing", path, e))?;
            keys.push(name);
        }
    }

    let mut downloads = Vec::new();
    let mut not_downloaded = Vec::new();
    let mut file_names = std::collections::HashSet::new();
    for choice in &choices {
        let repo = &repositories[choice.repository];
        let package = &indexes[choice.repository].packages[choice.package];
        if !repo.download {
            not_downloaded.push(package.nevra());
            continue;
        }
        let file_name = package
            .location
            .rsplit('/')
            .next()
            .unwrap_or(&package.location)
            .to_string();
        if !file_names.insert(file_name.clone()) {
            return Err(RpmError::Metadata {
                repository: repo.id.clone(),
                file: "primary.xml".into(),
                rule: format!(
                    "package {}: another chosen package has the same file name {file_name}",
                    package.nevra()
                ),
            });
        }
        downloads.push((choice.repository, package, file_name));
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| RpmError::Options(format!("cannot start {} workers: {e}", options.jobs)))?;
    pool.install(|| {
        downloads
            .par_iter()
            .map(|(r, package, file_name)| {
                let expected =
                    Checksum::new(&package.checksum_type, &package.checksum).map_err(|rule| {
                        RpmError::Corrupted {
                            package: package.nevra(),
                            url: locations[*r].join(&package.location),
                            rule,
                        }
                    })?;
                transport.download(&Download {
                    repository: &repositories[*r].id,
                    package: &package.nevra(),
                    location: &locations[*r],
                    relative: &package.location,
                    expected: &expected,
                    expected_size: package.size,
                    target: &staging.path().join(file_name),
                })
            })
            .collect::<Result<Vec<()>, _>>()
    })?;

    // Everything verified: move into place.
    let mut packages = Vec::new();
    for name in &keys {
        move_into(staging.path(), dest, name)?;
    }
    for (r, package, file_name) in &downloads {
        let path = move_into(staging.path(), dest, file_name)?;
        packages.push(FetchedPackage {
            nevra: package.nevra(),
            repository: repositories[*r].id.clone(),
            path,
        });
    }
    drop(staging);
    let repodata = write_repodata(dest, &options.repodata)?;
    Ok(FetchReport {
        packages,
        not_downloaded,
        gpg_keys: keys.iter().map(|k| dest.join(k)).collect(),
        repodata,
    })
}

fn check_options(repositories: &[Repository], options: &FetchOptions) -> Result<(), RpmError> {
    if repositories.is_empty() {
        return Err(RpmError::Options("no repository given".into()));
    }
    if options.arches.is_empty() {
        return Err(RpmError::Options("no architecture given".into()));
    }
    let mut ids = std::collections::HashSet::new();
    for repo in repositories {
        if repo.id.is_empty()
            || repo.id.starts_with('.')
            || !repo
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(RpmError::Options(format!(
                "repository id '{}' must match [A-Za-z0-9._-]+ (it names files)",
                repo.id
            )));
        }
        if !ids.insert(repo.id.as_str()) {
            return Err(RpmError::Options(format!(
                "repository id '{}' given twice",
                repo.id
            )));
        }
    }
    Ok(())
}

fn move_into(staging: &Path, dest: &Path, name: &str) -> Result<PathBuf, RpmError> {
    let target = dest.join(name);
    fs::rename(staging.join(name), &target)
        .map_err(|e| RpmError::io("moving into", target.clone(), e))?;
    Ok(target)
}

/// Reads a repository's repomd.xml and primary.xml.
fn read_index(
    transport: &Transport,
    repo: &Repository,
    location: &Location,
) -> Result<RepositoryIndex, RpmError> {
    let repomd_bytes =
        transport.get_bytes(&repo.id, location, "repodata/repomd.xml", REPOMD_LIMIT)?;
    let repomd = parse_repomd(&repomd_bytes, &repo.id)?;
    let record = repomd.record("primary").ok_or_else(|| RpmError::Metadata {
        repository: repo.id.clone(),
        file: "repodata/repomd.xml".into(),
        rule: "no <data type=\"primary\"> record".into(),
    })?;
    let fail = |rule: String| RpmError::Metadata {
        repository: repo.id.clone(),
        file: record.location.clone(),
        rule,
    };
    if record.location.starts_with('/') || record.location.split('/').any(|c| c == "..") {
        return Err(fail("location must stay inside the repository".into()));
    }
    let compressed = transport.get_bytes(&repo.id, location, &record.location, PRIMARY_LIMIT)?;
    let expected = Checksum::new(&record.checksum_type, &record.checksum).map_err(&fail)?;
    let mut hasher = expected.hasher();
    hasher.update(&compressed);
    let actual = hex(&hasher.finalize());
    if actual != expected.hex {
        return Err(fail(format!(
            "{} checksum mismatch: repomd.xml announces {}, the file has {actual}",
            expected.kind, expected.hex
        )));
    }
    let reader: Box<dyn BufRead> = if record.location.ends_with(".gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            &compressed[..],
        )))
    } else if record.location.ends_with(".zst") {
        let decoder = zstd::stream::read::Decoder::new(&compressed[..])
            .map_err(|e| fail(format!("not zstd data: {e}")))?;
        Box::new(BufReader::new(decoder))
    } else if record.location.ends_with(".xml") {
        Box::new(&compressed[..])
    } else {
        return Err(fail(
            "unsupported compression (primary.xml, .xml.gz and .xml.zst are read)".into(),
        ));
    };
    let packages = parse_primary(CheckedRead { inner: reader }, &repo.id, &record.location)?;
    Ok(RepositoryIndex {
        id: repo.id.clone(),
        packages,
    })
}

/// Turns decompression errors into XML-reader errors with the cause (quick-xml reports them
/// as I/O errors, which name the decoder's complaint).
struct CheckedRead<R> {
    inner: R,
}

impl<R: BufRead> Read for CheckedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: BufRead> BufRead for CheckedRead<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt)
    }
}

fn read_gpg_key(
    transport: &Transport,
    repo: &Repository,
    location: &Location,
    key: &str,
) -> Result<Vec<u8>, RpmError> {
    let bytes = if key.starts_with("http://")
        || key.starts_with("https://")
        || key.starts_with("file://")
    {
        let (base, name) = key.rsplit_once('/').unwrap_or((key, ""));
        let key_location = Location::parse(base).map_err(|rule| {
            RpmError::Options(format!("repository {}: GPG key: {rule}", repo.id))
        })?;
        transport.get_bytes(&repo.id, &key_location, name, GPG_KEY_LIMIT)?
    } else {
        let _ = location;
        fs::read(key).map_err(|e| RpmError::io("reading the GPG key", key, e))?
    };
    let text = String::from_utf8_lossy(&bytes);
    if !text
        .trim_start()
        .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    {
        return Err(RpmError::Metadata {
            repository: repo.id.clone(),
            file: key.to_string(),
            rule: "GPG key is not an ASCII-armored public key block".into(),
        });
    }
    Ok(bytes)
}

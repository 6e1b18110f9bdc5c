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
use crate::header::read_package_header;
use crate::repodata::read::{parse_primary, parse_repomd};
use crate::repodata::{hex, write_repodata, RepodataOptions, RepodataReport};
use buildchain_http::printable;
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

/// A package to fetch: a name, and optionally a version pin `[epoch:]version[-release]`
/// and the repository it must come from (its requirements may come from any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRequest {
    pub name: String,
    pub version: Option<String>,
    pub repository: Option<String>,
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
            repository: None,
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
    /// Packages announced larger than this are refused before any download (4 GiB).
    pub max_package_bytes: u64,
    /// Most bytes of a repository's primary.xml, compressed (256 MiB) and expanded
    /// (512 MiB; Fedora's largest is about 200 MiB): a decompression bomb stops there.
    pub max_primary_bytes: u64,
    pub max_primary_expanded_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            arches: vec!["x86_64".into(), "noarch".into()],
            jobs: 4,
            http: buildchain_http::Config::default(),
            repodata: RepodataOptions::default(),
            max_package_bytes: 4 << 30,
            max_primary_bytes: 256 << 20,
            max_primary_expanded_bytes: 512 << 20,
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

/// Most bytes of a repomd.xml and of a GPG key.
const REPOMD_LIMIT: u64 = 16 << 20;
const GPG_KEY_LIMIT: u64 = 1 << 20;

/// A package chosen by [`resolve_packages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPackage {
    pub name: String,
    /// `[epoch:]version-release`.
    pub evr: String,
    pub arch: String,
    /// The id of the repository it comes from.
    pub repository: String,
    /// That repository is downloaded from ([`Repository::download`]).
    pub download: bool,
    /// Its path in the repository, as repodata gives it.
    pub location: String,
    /// Its checksum, as repodata announces it.
    pub checksum: Checksum,
    pub size: Option<u64>,
    /// `None` when requested; else the package (`name-evr.arch`) whose requirement it
    /// satisfies, and that requirement.
    pub required_by: Option<(String, String)>,
    /// The name of the request that pulled it in.
    pub pulled_by: String,
}

impl ResolvedPackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }

    /// The file to download for it.
    pub fn remote_file(&self) -> RemoteFile {
        RemoteFile {
            repository: self.repository.clone(),
            nevra: self.nevra(),
            location: self.location.clone(),
            checksum: self.checksum.clone(),
            size: self.size,
            origin: None,
        }
    }
}

/// One package file to download from a repository, and what it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The id of its repository.
    pub repository: String,
    /// `name-[epoch:]version-release.arch`, for messages.
    pub nevra: String,
    /// Its path in the repository.
    pub location: String,
    pub checksum: Checksum,
    /// Its size, when known: more is refused, less is a truncated download.
    pub size: Option<u64>,
    /// Where the checksum and size come from when not from repodata (a lock's line): it
    /// prefixes the errors of this file's download.
    pub origin: Option<String>,
}

impl RemoteFile {
    /// Its file name in the destination (the last component of its location).
    fn file_name(&self) -> &str {
        self.location.rsplit('/').next().unwrap_or(&self.location)
    }

    /// What announced its checksum and size, for messages (the origin prefixes them).
    fn announced_by(&self) -> &str {
        match self.origin {
            Some(_) => "the entry",
            None => "repodata",
        }
    }

    /// `error`, prefixed with the file's origin when it has one.
    fn explain(&self, error: RpmError) -> RpmError {
        match &self.origin {
            Some(origin) => RpmError::Listed {
                origin: origin.clone(),
                cause: Box::new(error),
            },
            None => error,
        }
    }
}

/// Preferred choices of [`resolve_packages`]: `(repository id, name-[epoch:]version-release.arch)`.
pub type Preferred = std::collections::HashSet<(String, String)>;

/// Fetches `requests` (and what they require) from `repositories` into `dest`, then writes
/// `dest/repodata/`: [`resolve_packages`], then [`download_packages`] of what the
/// repositories with `download = true` provide.
pub fn fetch_packages(
    repositories: &[Repository],
    requests: &[PackageRequest],
    dest: &Path,
    options: &FetchOptions,
) -> Result<FetchReport, RpmError> {
    let resolved = resolve_packages(repositories, requests, &Preferred::new(), options)?;
    let (downloads, not_downloaded): (Vec<&ResolvedPackage>, Vec<&ResolvedPackage>) =
        resolved.iter().partition(|p| p.download);
    let files: Vec<RemoteFile> = downloads.iter().map(|p| p.remote_file()).collect();
    let mut report = download_packages(repositories, &files, dest, options)?;
    report.not_downloaded = not_downloaded.iter().map(|p| p.nevra()).collect();
    Ok(report)
}

/// Reads the repositories' metadata and resolves `requests` and what they require, over
/// all of them: each request's newest version (or the pinned one; a request naming a
/// repository is looked up there only), then its requirements transitively. A choice in
/// `preferred` wins over newer versions (a lock's choices, kept when it is updated).
/// Ties go to the repository listed first. Nothing is written.
pub fn resolve_packages(
    repositories: &[Repository],
    requests: &[PackageRequest],
    preferred: &Preferred,
    options: &FetchOptions,
) -> Result<Vec<ResolvedPackage>, RpmError> {
    check_options(repositories, options)?;
    for request in requests {
        if let Some(id) = &request.repository {
            if !repositories.iter().any(|r| &r.id == id) {
                return Err(RpmError::Options(format!(
                    "package request {request}: repository '{id}' is not given"
                )));
            }
        }
    }
    let transport = Transport::new(&options.http)?;
    let locations = locations(repositories)?;
    let indexes: Vec<RepositoryIndex> = repositories
        .par_iter()
        .zip(locations.par_iter())
        .map(|(repo, location)| read_index(&transport, repo, location, options))
        .collect::<Result<_, _>>()?;
    let chosen = resolve(&indexes, requests, &options.arches, preferred)?;
    let package = |c: &resolve::Chosen| &indexes[c.choice.repository].packages[c.choice.package];
    chosen
        .iter()
        .map(|c| {
            let p = package(c);
            let checksum = Checksum::new(&p.checksum_type, &p.checksum).map_err(|rule| {
                RpmError::Corrupted {
                    package: p.nevra(),
                    url: printable(&locations[c.choice.repository].join(&p.location)),
                    rule,
                }
            })?;
            Ok(ResolvedPackage {
                name: p.name.clone(),
                evr: p.evr.to_string(),
                arch: p.arch.clone(),
                repository: repositories[c.choice.repository].id.clone(),
                download: repositories[c.choice.repository].download,
                location: p.location.clone(),
                checksum,
                size: p.size,
                required_by: c
                    .required_by
                    .as_ref()
                    .map(|(by, requirement)| (package(&chosen[*by]).nevra(), requirement.clone())),
                pulled_by: requests[c.request].name.clone(),
            })
        })
        .collect()
}

/// Whether `evr` (`[epoch:]version[-release]`) matches a pin `[epoch:]version[-release]`
/// as a request's pin is matched (a pin without epoch or release matches any).
pub fn pin_matches(evr: &str, pin: &str) -> bool {
    crate::vercmp::Evr::parse(evr).is_some_and(|evr| resolve::matches_pin(&evr, pin))
}

fn locations(repositories: &[Repository]) -> Result<Vec<Location>, RpmError> {
    repositories
        .iter()
        .map(|r| {
            Location::parse(&r.base_url)
                .map_err(|rule| RpmError::Options(format!("repository {}: {rule}", r.id)))
        })
        .collect()
}

/// Downloads `files` from `repositories` into `dest`, verifying each against its checksum
/// and size and reading its header, copies the repositories' GPG keys, then writes
/// `dest/repodata/`. Packages are downloaded to a staging directory in `dest` and moved in
/// only when every one of them was verified: on error, `dest` is left as it was.
pub fn download_packages(
    repositories: &[Repository],
    files: &[RemoteFile],
    dest: &Path,
    options: &FetchOptions,
) -> Result<FetchReport, RpmError> {
    check_options(repositories, options)?;
    let transport = Transport::new(&options.http)?;
    let locations = locations(repositories)?;
    let mut downloads = Vec::new();
    let mut file_names = std::collections::HashSet::new();
    for file in files {
        let Some(r) = repositories.iter().position(|r| r.id == file.repository) else {
            return Err(RpmError::Options(format!(
                "package {}: repository '{}' is not given",
                file.nevra, file.repository
            )));
        };
        let fail = |rule: String| {
            file.explain(RpmError::Metadata {
                repository: file.repository.clone(),
                file: file.announced_by().to_string(),
                rule: format!("package {}: {rule}", file.nevra),
            })
        };
        crate::repodata::check_package_location(&file.location)
            .map_err(|rule| fail(format!("location '{}': {rule}", file.location)))?;
        if !file_names.insert(file.file_name()) {
            return Err(fail(format!(
                "another chosen package has the same file name {}",
                file.file_name()
            )));
        }
        if let Some(size) = file.size.filter(|&s| s > options.max_package_bytes) {
            return Err(file.explain(RpmError::Corrupted {
                package: file.nevra.clone(),
                url: printable(&locations[r].join(&file.location)),
                rule: format!(
                    "{} announces {size} bytes, more than the {} allowed (FetchOptions::max_package_bytes)",
                    file.announced_by(),
                    options.max_package_bytes
                ),
            }));
        }
        downloads.push((r, file));
    }

    fs::create_dir_all(dest).map_err(|e| RpmError::io("creating", dest, e))?;
    // What a killed fetch left goes first: the files it replaced are put back, then its
    // staging directory and half-written repodata are removed.
    recover_killed_fetches(dest, &options.repodata)?;
    buildchain_fs::remove_stale_temps(dest, None)?;
    let staging = TempPath::new(temp_sibling(&dest.join("fetch"))?);
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

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|e| RpmError::Options(format!("cannot start {} workers: {e}", options.jobs)))?;
    pool.install(|| {
        downloads
            .par_iter()
            .map(|(r, file)| {
                transport
                    .download(&Download {
                        repository: &repositories[*r].id,
                        package: &file.nevra,
                        location: &locations[*r],
                        relative: &file.location,
                        expected: &file.checksum,
                        expected_size: file.size,
                        announced_by: file.announced_by(),
                        max_bytes: options.max_package_bytes,
                        target: &staging.path().join(file.file_name()),
                    })
                    .map_err(|e| file.explain(e))
            })
            .collect::<Result<Vec<()>, _>>()
    })?;

    // Every package's header must be sound, and be the package announced, before anything
    // reaches dest (a hostile one whose checksum matches repodata or a lock is refused
    // here, naming it).
    downloads.par_iter().try_for_each(|(_, file)| {
        let path = staging.path().join(file.file_name());
        let header = read_package_header(&path).map_err(|e| file.explain(e))?;
        let found = format!("{}-{}.{}", header.name, header.evr(), header.arch);
        if found != file.nevra {
            return Err(file.explain(RpmError::ReadPackage {
                path: PathBuf::from(&file.location),
                rule: format!(
                    "its header says {found}, {} says {}",
                    file.announced_by(),
                    file.nevra
                ),
            }));
        }
        Ok(())
    })?;

    // Everything verified: move into place as one transaction. What a name replaces is
    // kept aside until the repodata is written, and put back if anything fails.
    let mut moved = Transaction::new(staging.path(), dest);
    let mut packages = Vec::new();
    let outcome = (|| -> Result<RepodataReport, RpmError> {
        for name in &keys {
            moved.move_in(name)?;
        }
        for (r, file) in &downloads {
            let path = moved.move_in(file.file_name())?;
            packages.push(FetchedPackage {
                nevra: file.nevra.clone(),
                repository: repositories[*r].id.clone(),
                path,
            });
        }
        write_repodata(dest, &options.repodata)
    })();
    let repodata = match outcome {
        Ok(report) => report,
        Err(e) => {
            return Err(match moved.roll_back() {
                Ok(()) => e,
                Err(rollback) => {
                    // The staging directory holds the originals not put back: kept.
                    drop(moved);
                    staging.keep();
                    RpmError::NotRestored {
                        dest: dest.to_path_buf(),
                        failure: e.to_string(),
                        rollback,
                    }
                }
            });
        }
    };
    drop(moved);
    drop(staging);
    Ok(FetchReport {
        packages,
        not_downloaded: Vec::new(),
        gpg_keys: keys.iter().map(|k| dest.join(k)).collect(),
        repodata,
    })
}

/// The SHA-256 of a package whose repodata announces another checksum type: downloaded
/// (verified against that checksum) into a temporary file of `scratch`, hashed, removed.
pub fn remote_sha256(
    repository: &Repository,
    file: &RemoteFile,
    scratch: &Path,
    options: &FetchOptions,
) -> Result<String, RpmError> {
    if file.checksum.kind == "sha256" {
        return Ok(file.checksum.hex.clone());
    }
    let transport = Transport::new(&options.http)?;
    let location = locations(std::slice::from_ref(repository))?
        .pop()
        .ok_or_else(|| RpmError::Options("no repository given".into()))?;
    fs::create_dir_all(scratch).map_err(|e| RpmError::io("creating", scratch, e))?;
    let target = TempPath::new(temp_sibling(&scratch.join(file.file_name()))?);
    transport.download(&Download {
        repository: &repository.id,
        package: &file.nevra,
        location: &location,
        relative: &file.location,
        expected: &file.checksum,
        expected_size: file.size,
        announced_by: file.announced_by(),
        max_bytes: options.max_package_bytes,
        target: target.path(),
    })?;
    Ok(buildchain_fs::sha256_file(target.path())?)
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

/// Files moved from a staging directory into dest, with what they replace kept aside in
/// the staging directory (`.old/`, hard links made before the replacing rename, so dest
/// never lacks a file), so that dest can be put back as it was, by this run or, if it is
/// killed, by the next ([`recover_killed_fetches`]).
struct Transaction<'a> {
    staging: &'a Path,
    dest: &'a Path,
    /// (name, whether an older file of that name was kept aside).
    moved: Vec<(String, bool)>,
}

/// Where a transaction keeps the files it replaced.
const ASIDE: &str = ".old";

impl<'a> Transaction<'a> {
    fn new(staging: &'a Path, dest: &'a Path) -> Self {
        Transaction {
            staging,
            dest,
            moved: Vec::new(),
        }
    }

    fn move_in(&mut self, name: &str) -> Result<PathBuf, RpmError> {
        let target = self.dest.join(name);
        let aside = self.staging.join(ASIDE);
        let replaced = fs::symlink_metadata(&target).is_ok();
        if replaced {
            fs::create_dir_all(&aside).map_err(|e| RpmError::io("creating", aside.clone(), e))?;
            fs::hard_link(&target, aside.join(name))
                .map_err(|e| RpmError::io("keeping aside", target.clone(), e))?;
        }
        fs::rename(self.staging.join(name), &target)
            .map_err(|e| RpmError::io("moving into", target.clone(), e))?;
        self.moved.push((name.to_string(), replaced));
        Ok(target)
    }

    /// Puts dest back as it was: the new files removed, the old ones renamed back over
    /// them. Goes through every file whatever fails; on failure the caller must keep the
    /// staging directory, which holds the originals not put back.
    fn roll_back(&mut self) -> Result<(), String> {
        let mut failures = Vec::new();
        for (name, replaced) in std::mem::take(&mut self.moved).into_iter().rev() {
            let target = self.dest.join(&name);
            let result = if replaced {
                fs::rename(self.staging.join(ASIDE).join(&name), &target)
            } else {
                fs::remove_file(&target)
            };
            if let Err(e) = result {
                failures.push(format!("{}: {e}", target.display()));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} (the originals not put back are in {})",
                failures.join("; "),
                self.staging.join(ASIDE).display()
            ))
        }
    }
}

/// Puts back what fetches killed in the middle of their transaction replaced in `dest`
/// (their staging directories' `.old/`), then, if anything was put back, rewrites dest's
/// repodata so that it describes the files there. Returns the files put back.
fn recover_killed_fetches(
    dest: &Path,
    options: &RepodataOptions,
) -> Result<Vec<PathBuf>, RpmError> {
    let entries = match fs::read_dir(dest) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RpmError::io("listing", dest, e)),
    };
    let mut restored = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| RpmError::io("listing", dest, e))?;
        let name = entry.file_name();
        let stale =
            buildchain_fs::temp_owner(&name).is_some_and(|pid| !buildchain_fs::process_alive(pid));
        let aside = entry.path().join(ASIDE);
        if !stale || !aside.is_dir() {
            continue;
        }
        for kept in fs::read_dir(&aside).map_err(|e| RpmError::io("listing", &aside, e))? {
            let kept = kept.map_err(|e| RpmError::io("listing", &aside, e))?;
            let target = dest.join(kept.file_name());
            fs::rename(kept.path(), &target).map_err(|e| RpmError::io("restoring", &target, e))?;
            restored.push(target);
        }
    }
    if !restored.is_empty() {
        write_repodata(dest, options)?;
    }
    Ok(restored)
}

/// Reads a repository's repomd.xml and primary.xml.
fn read_index(
    transport: &Transport,
    repo: &Repository,
    location: &Location,
    options: &FetchOptions,
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
    let compressed = transport.get_bytes(
        &repo.id,
        location,
        &record.location,
        options.max_primary_bytes,
    )?;
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
    let limited = CheckedRead {
        inner: reader,
        remaining: options.max_primary_expanded_bytes,
        limit: options.max_primary_expanded_bytes,
        since_markup: 0,
    };
    let packages = parse_primary(limited, &repo.id, &record.location)?;
    Ok(RepositoryIndex {
        id: repo.id.clone(),
        packages,
    })
}

/// The decompressed primary.xml, bounded: past `limit` expanded bytes the XML reader gets
/// an error saying so (quick-xml reports it as an I/O error, as it does the decoder's own).
struct CheckedRead<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    /// Bytes since the last `<` or `>`: a text or tag the XML reader keeps whole in memory.
    since_markup: u64,
}

/// The longest text or tag of a primary.xml (a package description is a few KiB): a
/// document made of one endless text is refused here, with memory bounded.
const MAX_XML_TOKEN_BYTES: u64 = 16 << 20;

impl<R: BufRead> CheckedRead<R> {
    fn too_large(&self) -> std::io::Error {
        std::io::Error::other(format!(
            "expands to more than {} bytes (FetchOptions::max_primary_expanded_bytes)",
            self.limit
        ))
    }
}

impl<R: BufRead> Read for CheckedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CheckedRead<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.since_markup > MAX_XML_TOKEN_BYTES {
            return Err(std::io::Error::other(format!(
                "holds a text or tag longer than {MAX_XML_TOKEN_BYTES} bytes"
            )));
        }
        let remaining = self.remaining;
        if remaining == 0 {
            // One more byte would be past the limit: look whether there is one.
            if !self.inner.fill_buf()?.is_empty() {
                return Err(self.too_large());
            }
            return Ok(&[]);
        }
        let buf = self.inner.fill_buf()?;
        let n = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        Ok(&buf[..n])
    }
    fn consume(&mut self, amt: usize) {
        self.remaining = self.remaining.saturating_sub(amt as u64);
        // The bytes consumed are those fill_buf just returned (no I/O here).
        if let Ok(buf) = self.inner.fill_buf() {
            let seen = &buf[..amt.min(buf.len())];
            match seen.iter().rposition(|&b| b == b'<' || b == b'>') {
                Some(at) => self.since_markup = (seen.len() - at - 1) as u64,
                None => self.since_markup += seen.len() as u64,
            }
        }
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
        // The key's URL as given (already URL-encoded): the location itself.
        let key_location = Location::parse(key).map_err(|rule| {
            RpmError::Options(format!("repository {}: GPG key: {rule}", repo.id))
        })?;
        transport.get_bytes(&repo.id, &key_location, "", GPG_KEY_LIMIT)?
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

//! Pull an image by reference into skopeo's `dir:` layout, verifying every digest.

use crate::auth::{default_auth_file, lookup_credentials};
use crate::error::IoContext;
use crate::layout::{
    check_replaceable, link_or_copy, Descriptor, IndexEntry, Manifest, ManifestProblem,
    DIR_VERSION, MANIFEST_ACCEPT, MANIFEST_FILE, VERSION_FILE,
};
use crate::progress::{NoProgress, Progress};
use crate::registry::RegistryClient;
use crate::OciError;
use buildchain_http::{Attempt, HttpError};
use buildchain_oci_types::{Digest, HashingWriter};
use buildchain_oci_types::{ImageReference, Platform};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Largest manifest accepted (the distribution registry's own limit is 4 MiB).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// Platform picked from an index / manifest list (default linux/amd64).
    pub platform: Platform,
    /// Auth file; `None` means `REGISTRY_AUTH_FILE`, else `~/.docker/config.json`.
    pub auth_file: Option<PathBuf>,
    /// Content-addressed blob cache (`<cache>/blobs/sha256/<hex>`), hardlinked into image
    /// directories. `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Blobs fetched at once (at least 1).
    pub jobs: usize,
    /// Time limits, retries, proxies, extra CA (the shared HTTP client's settings).
    pub http: buildchain_http::Config,
    pub progress: Arc<dyn Progress>,
    /// Blobs a manifest declares larger than this are refused before any download
    /// (default 32 GiB): a lying manifest cannot make the pull fill a disk.
    pub max_blob_bytes: u64,
    /// Replace `dest` whatever it holds. Otherwise a `dest` holding anything but the
    /// files of a `dir:` layout is refused before any network access
    /// ([`check_replaceable`](crate::layout::check_replaceable)).
    pub overwrite: bool,
    /// The image manifest the pull must keep (a lock's record of an index's platform
    /// manifest): another one is refused before any blob is fetched. Not used when
    /// [`PullOptions::keep_index`] keeps an index.
    pub expected_manifest: Option<Digest>,
    /// Keep an index with several of its platforms instead of one platform's manifest
    /// (`skopeo copy --all` / `--multi-arch`). `None`: [`PullOptions::platform`] only.
    pub keep_index: Option<KeepIndex>,
}

/// Which platforms of an index a pull keeps with the index itself: `manifest.json` is the
/// index as published (its digest still resolves), each kept platform's manifest is
/// `<hex>.manifest.json` next to it, and the blobs of all of them are stored once. A
/// source that is not an index is pulled as one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepIndex {
    /// Every manifest the index lists.
    All,
    /// These platforms (each must be listed; a missing one is an error naming those the
    /// index has). Platforms the index lists and this does not are not stored: a client
    /// asking for them gets no manifest.
    Platforms(Vec<Platform>),
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            insecure: false,
            platform: Platform::default(),
            auth_file: None,
            cache_dir: None,
            jobs: 4,
            http: buildchain_http::Config::default(),
            progress: Arc::new(NoProgress),
            overwrite: false,
            max_blob_bytes: 32 << 30,
            expected_manifest: None,
            keep_index: None,
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("insecure", &self.insecure)
            .field("platform", &self.platform)
            .field("auth_file", &self.auth_file)
            .field("cache_dir", &self.cache_dir)
            .field("jobs", &self.jobs)
            .field("http", &self.http)
            .field("overwrite", &self.overwrite)
            .field("expected_manifest", &self.expected_manifest)
            .field("keep_index", &self.keep_index)
            .finish_non_exhaustive()
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The reference pulled, as text.
    pub image: String,
    /// Digest of the `manifest.json` written (the platform's image manifest, or the index
    /// kept with [`PullOptions::keep_index`]).
    pub manifest_digest: Digest,
    /// The platforms kept with an index and their manifests (empty for one manifest).
    pub platforms: std::collections::BTreeMap<String, Digest>,
    /// Digest of the index the manifest was selected from, when the reference named one.
    pub index_digest: Option<Digest>,
    /// Media type of `manifest.json`.
    pub media_type: String,
    /// Blob files written (config + distinct layers).
    pub blobs: usize,
    pub bytes_downloaded: u64,
    pub bytes_from_cache: u64,
}

/// Pulls `reference` into the `dir:` layout at `dest`, replacing an image pulled there
/// before (anything else only with [`PullOptions::overwrite`]). The result is staged next
/// to `dest` and renamed into place only when complete and verified.
pub fn pull_image(
    reference: &ImageReference,
    dest: &Path,
    options: &PullOptions,
) -> Result<PullReport, OciError> {
    let image = reference.to_string();
    if !options.overwrite {
        check_replaceable(dest)?;
    }
    let client = connect(reference, options)?;
    let top = fetch_top(&client, reference, options)?;
    if let (Some(keep), Manifest::Index { entries, .. }) = (&options.keep_index, &top.manifest) {
        let entries = entries.clone();
        return pull_index(&client, &image, top, &entries, keep, dest, options);
    }
    let Selected {
        bytes,
        manifest_digest,
        manifest,
        index_digest,
        ..
    } = select_from(&client, reference, top, options)?;
    if let Some(expected) = &options.expected_manifest {
        if *expected != manifest_digest {
            return Err(OciError::ManifestDigestMismatch {
                image,
                expected: expected.to_string(),
                actual: manifest_digest.to_string(),
            });
        }
    }
    let Manifest::Image {
        media_type,
        config,
        layers,
    } = manifest
    else {
        return Err(OciError::MalformedManifest {
            image,
            detail: "expected an image manifest".into(),
        });
    };

    let mut blobs: Vec<Descriptor> = Vec::with_capacity(layers.len() + 1);
    add_blobs(&image, &mut blobs, std::iter::once(config).chain(layers))?;
    let (blobs, downloaded, cached) = store(&client, &image, &bytes, &[], blobs, dest, options)?;
    Ok(PullReport {
        image,
        manifest_digest,
        platforms: std::collections::BTreeMap::new(),
        index_digest,
        media_type,
        blobs,
        bytes_downloaded: downloaded,
        bytes_from_cache: cached,
    })
}

/// Adds `descriptors` to `blobs`, once each (a digest listed twice must have one size).
fn add_blobs(
    image: &str,
    blobs: &mut Vec<Descriptor>,
    descriptors: impl IntoIterator<Item = Descriptor>,
) -> Result<(), OciError> {
    for d in descriptors {
        if let Some(seen) = blobs.iter().find(|b| b.digest == d.digest) {
            if seen.size != d.size {
                return Err(OciError::MalformedManifest {
                    image: image.to_string(),
                    detail: format!(
                        "blob {} listed with two sizes ({} and {})",
                        d.digest, seen.size, d.size
                    ),
                });
            }
            continue;
        }
        blobs.push(d);
    }
    Ok(())
}

/// An index and the platforms [`KeepIndex`] names, with every blob they use.
fn pull_index(
    client: &RegistryClient,
    image: &str,
    top: Top,
    entries: &[IndexEntry],
    keep: &KeepIndex,
    dest: &Path,
    options: &PullOptions,
) -> Result<PullReport, OciError> {
    // A platform listed twice: which manifest a node gets would depend on its runtime.
    let mut seen = std::collections::BTreeSet::new();
    for platform in entries.iter().filter_map(|e| e.platform.as_ref()) {
        if !seen.insert(platform.normalized().to_string()) {
            return Err(OciError::MalformedManifest {
                image: image.to_string(),
                detail: format!("the index lists {platform} twice"),
            });
        }
    }
    let chosen: Vec<&IndexEntry> = match keep {
        KeepIndex::All => entries.iter().collect(),
        KeepIndex::Platforms(platforms) => platforms
            .iter()
            .map(|p| select_platform(client, entries, p))
            .collect::<Result<_, _>>()?,
    };
    let mut children: Vec<(Digest, Vec<u8>)> = Vec::new();
    let mut platforms = std::collections::BTreeMap::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    for entry in chosen {
        if children.iter().any(|(d, _)| *d == entry.digest) {
            continue;
        }
        let child = fetch_manifest(client, &entry.digest.to_string(), options)?;
        let child_digest = Digest::of(&child.bytes);
        if child_digest != entry.digest {
            return Err(OciError::ManifestDigestMismatch {
                image: image.to_string(),
                expected: entry.digest.to_string(),
                actual: child_digest.to_string(),
            });
        }
        if child.bytes.len() as u64 != entry.size {
            return Err(OciError::MalformedManifest {
                image: image.to_string(),
                detail: format!(
                    "the index gives {} a size of {} bytes, it has {}: a client reading that many would fail",
                    entry.digest,
                    entry.size,
                    child.bytes.len()
                ),
            });
        }
        let content_type = child
            .content_type
            .clone()
            .or(Some(entry.media_type.clone()));
        match parse_manifest(client, &child.bytes, content_type.as_deref())? {
            Manifest::Image { config, layers, .. } => {
                add_blobs(image, &mut blobs, std::iter::once(config).chain(layers))?;
            }
            Manifest::Index { .. } => {
                return Err(OciError::MalformedManifest {
                    image: image.to_string(),
                    detail: format!("index entry {} is itself an index", entry.digest),
                })
            }
        }
        if let Some(platform) = &entry.platform {
            platforms.insert(platform.to_string(), child_digest.clone());
        }
        children.push((child_digest, child.bytes));
    }
    let (count, downloaded, cached) =
        store(client, image, &top.bytes, &children, blobs, dest, options)?;
    Ok(PullReport {
        image: image.to_string(),
        manifest_digest: top.digest.clone(),
        platforms,
        index_digest: Some(top.digest),
        media_type: top.media_type,
        blobs: count,
        bytes_downloaded: downloaded,
        bytes_from_cache: cached,
    })
}

/// Writes `manifest` (and the `children` manifests of an index) with every blob of
/// `blobs` into a staging directory, renamed to `dest` once complete. Returns the blob
/// count and the bytes downloaded and taken from the cache.
fn store(
    client: &RegistryClient,
    image: &str,
    manifest: &[u8],
    children: &[(Digest, Vec<u8>)],
    blobs: Vec<Descriptor>,
    dest: &Path,
    options: &PullOptions,
) -> Result<(usize, u64, u64), OciError> {
    if let Some(big) = blobs.iter().find(|b| b.size > options.max_blob_bytes) {
        return Err(OciError::MalformedManifest {
            image: image.to_string(),
            detail: format!(
                "blob {} is declared {} bytes, more than the {} allowed (PullOptions::max_blob_bytes)",
                big.digest, big.size, options.max_blob_bytes
            ),
        });
    }
    let total: u64 = blobs.iter().map(|b| b.size).sum();
    options.progress.image_started(image, blobs.len(), total);

    let staging = buildchain_fs::StagingDir::create(dest)?;
    let stage = staging.path();
    let manifest_path = stage.join(MANIFEST_FILE);
    buildchain_fs::write_new(&manifest_path, manifest, 0o644)?;
    for (digest, bytes) in children {
        let path = stage.join(buildchain_oci_types::layout::child_manifest_file(digest));
        buildchain_fs::write_new(&path, bytes, 0o644)?;
    }
    let version_path = stage.join(VERSION_FILE);
    buildchain_fs::write_new(&version_path, DIR_VERSION.as_bytes(), 0o644)?;

    let cache = match &options.cache_dir {
        Some(dir) => {
            let blobs_dir = dir.join("blobs").join("sha256");
            std::fs::create_dir_all(&blobs_dir).at(&blobs_dir)?;
            Some(blobs_dir)
        }
        None => None,
    };
    let counters = Counters::default();
    fetch_all(client, &blobs, stage, cache.as_deref(), options, &counters)?;
    staging.publish()?;
    options.progress.image_finished(image);
    Ok((
        blobs.len(),
        counters.downloaded.load(Ordering::Relaxed),
        counters.cached.load(Ordering::Relaxed),
    ))
}

/// What a reference names on its registry, checked without fetching any blob: what
/// `buildchain lock` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference resolved, as text.
    pub image: String,
    /// Digest of what the reference names: the index, or the manifest when it is not one.
    pub digest: Digest,
    /// Media type of what the reference names.
    pub media_type: String,
    /// The image manifest a pull keeps ([`PullOptions::platform`] of an index).
    pub manifest_digest: Digest,
    /// For an index: each platform it lists (`os/arch[/variant]`) and its manifest digest.
    pub platforms: std::collections::BTreeMap<String, Digest>,
}

/// Resolves `reference` (a tag, or a digest to check) to the digests a pull would use,
/// fetching and verifying the manifests only: the top one against the pin or the
/// registry's `Docker-Content-Digest`, the platform's manifest of an index against its
/// entry. No blob is fetched.
pub fn resolve_image(
    reference: &ImageReference,
    options: &PullOptions,
) -> Result<ResolvedImage, OciError> {
    let client = connect(reference, options)?;
    let top = fetch_top(&client, reference, options)?;
    let selected = select_from(&client, reference, top, options)?;
    let platforms = selected
        .index_entries
        .iter()
        .filter_map(|e| Some((e.platform.as_ref()?.to_string(), e.digest.clone())))
        .collect();
    Ok(ResolvedImage {
        image: reference.to_string(),
        digest: selected.top_digest,
        media_type: selected.top_media_type,
        manifest_digest: selected.manifest_digest,
        platforms,
    })
}

fn connect(reference: &ImageReference, options: &PullOptions) -> Result<RegistryClient, OciError> {
    let credentials = match default_auth_file(options.auth_file.as_deref()) {
        Some(file) => lookup_credentials(&file, &reference.registry)?,
        None => None,
    };
    RegistryClient::new(reference, options.insecure, credentials, &options.http)
}

/// The image manifest a pull of `reference` uses, and what named it.
struct Selected {
    /// The image manifest's bytes, digest and parsed form.
    bytes: Vec<u8>,
    manifest_digest: Digest,
    manifest: Manifest,
    /// The index it was selected from, if any, and its entries.
    index_digest: Option<Digest>,
    index_entries: Vec<IndexEntry>,
    top_digest: Digest,
    top_media_type: String,
}

/// The manifest a reference names, checked and parsed.
struct Top {
    bytes: Vec<u8>,
    digest: Digest,
    media_type: String,
    manifest: Manifest,
}

/// Fetches the manifest `reference` names and checks it (against the pin, else the
/// registry's `Docker-Content-Digest`).
fn fetch_top(
    client: &RegistryClient,
    reference: &ImageReference,
    options: &PullOptions,
) -> Result<Top, OciError> {
    let top = fetch_manifest(client, &reference.manifest_reference(), options)?;
    let digest = Digest::of(&top.bytes);
    let expected = reference.digest.clone().or(top.header_digest.clone());
    if let Some(expected) = expected {
        if expected != digest {
            return Err(OciError::ManifestDigestMismatch {
                image: reference.to_string(),
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
    }
    let manifest = parse_manifest(client, &top.bytes, top.content_type.as_deref())?;
    let media_type = match &manifest {
        Manifest::Image { media_type, .. } | Manifest::Index { media_type, .. } => {
            media_type.clone()
        }
    };
    Ok(Top {
        bytes: top.bytes,
        digest,
        media_type,
        manifest,
    })
}

/// The image manifest a pull of one platform uses: `top` itself, or for an index, the
/// entry of [`PullOptions::platform`], fetched and checked.
fn select_from(
    client: &RegistryClient,
    reference: &ImageReference,
    top: Top,
    options: &PullOptions,
) -> Result<Selected, OciError> {
    let image = reference.to_string();
    let top_digest = top.digest;
    let top_media_type = top.media_type;
    match top.manifest {
        Manifest::Index { entries, .. } => {
            let entry = select_platform(client, &entries, &options.platform)?;
            let child = fetch_manifest(client, &entry.digest.to_string(), options)?;
            let child_digest = Digest::of(&child.bytes);
            if child_digest != entry.digest {
                return Err(OciError::ManifestDigestMismatch {
                    image,
                    expected: entry.digest.to_string(),
                    actual: child_digest.to_string(),
                });
            }
            let content_type = child
                .content_type
                .clone()
                .or(Some(entry.media_type.clone()));
            match parse_manifest(client, &child.bytes, content_type.as_deref())? {
                Manifest::Index { .. } => Err(OciError::MalformedManifest {
                    image,
                    detail: format!("index entry {} is itself an index", entry.digest),
                }),
                manifest => Ok(Selected {
                    bytes: child.bytes,
                    manifest_digest: child_digest,
                    manifest,
                    index_digest: Some(top_digest.clone()),
                    index_entries: entries.clone(),
                    top_digest,
                    top_media_type,
                }),
            }
        }
        manifest => Ok(Selected {
            bytes: top.bytes,
            manifest_digest: top_digest.clone(),
            manifest,
            index_digest: None,
            index_entries: Vec::new(),
            top_digest,
            top_media_type,
        }),
    }
}

#[derive(Default)]
struct Counters {
    downloaded: AtomicU64,
    cached: AtomicU64,
}

struct FetchedManifest {
    bytes: Vec<u8>,
    content_type: Option<String>,
    header_digest: Option<Digest>,
}

fn fetch_manifest(
    client: &RegistryClient,
    reference: &str,
    options: &PullOptions,
) -> Result<FetchedManifest, OciError> {
    let url = client.manifest_url(reference);
    // The image's own reference is said by the error already (`name:tag@digest`).
    let what = if client.image().ends_with(reference) {
        "manifest".to_string()
    } else {
        format!("manifest {reference}")
    };
    let too_large = || OciError::MalformedManifest {
        image: client.image(),
        detail: format!("{what} is larger than {MAX_MANIFEST_BYTES} bytes"),
    };
    client.retry.run(
        |_| {
            let response = client.attempt(&url, Some(MANIFEST_ACCEPT), &what)?;
            if response
                .content_length()
                .is_some_and(|l| l > MAX_MANIFEST_BYTES)
            {
                return Err(Attempt::Fail(too_large()));
            }
            let content_type = response.header("content-type").map(str::to_string);
            let header_digest = response
                .header("docker-content-digest")
                .and_then(|d| Digest::parse(d).ok());
            match response.read_all(MAX_MANIFEST_BYTES, &what) {
                Ok(bytes) => Ok(FetchedManifest {
                    bytes,
                    content_type,
                    header_digest,
                }),
                Err(HttpError::TooLarge { .. }) => Err(Attempt::Fail(too_large())),
                Err(e) if e.is_transient() => {
                    options
                        .progress
                        .retrying(&client.image(), &what, &e.to_string());
                    Err(Attempt::Retry(format!("body cut short: {e}")))
                }
                Err(e) => Err(Attempt::Fail(client.transport_error(&what, &e, 1))),
            }
        },
        |_, _| {},
        |why, attempts| OciError::Unreachable {
            image: client.image(),
            registry: client.registry().to_string(),
            detail: format!("{what}: {why} (after {attempts} attempts)"),
        },
    )
}

fn parse_manifest(
    client: &RegistryClient,
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Manifest, OciError> {
    Manifest::parse(bytes, content_type).map_err(|problem| match problem {
        ManifestProblem::UnsupportedMediaType(media_type) => OciError::UnsupportedMediaType {
            image: client.image(),
            media_type,
        },
        ManifestProblem::Malformed(detail) => OciError::MalformedManifest {
            image: client.image(),
            detail,
        },
    })
}

fn select_platform<'a>(
    client: &RegistryClient,
    entries: &'a [IndexEntry],
    wanted: &Platform,
) -> Result<&'a IndexEntry, OciError> {
    let matches = |e: &&IndexEntry| e.platform.as_ref().is_some_and(|p| wanted.is_served_by(p));
    entries.iter().find(matches).ok_or_else(|| {
        let available: Vec<String> = entries
            .iter()
            .filter_map(|e| e.platform.as_ref())
            .map(|p| match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            })
            .collect();
        OciError::PlatformNotFound {
            image: client.image(),
            platform: wanted.to_string(),
            available: if available.is_empty() {
                "none".into()
            } else {
                available.join(", ")
            },
        }
    })
}

/// Fetches every blob with `options.jobs` workers; the first error stops the others.
fn fetch_all(
    client: &RegistryClient,
    blobs: &[Descriptor],
    stage: &Path,
    cache: Option<&Path>,
    options: &PullOptions,
    counters: &Counters,
) -> Result<(), OciError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<OciError>> = Mutex::new(None);
    let workers = options.jobs.clamp(1, blobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(blob) = blobs.get(i) else { return };
                if let Err(e) = fetch_one(client, blob, stage, cache, options, counters) {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    match first_error.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn fetch_one(
    client: &RegistryClient,
    blob: &Descriptor,
    stage: &Path,
    cache: Option<&Path>,
    options: &PullOptions,
    counters: &Counters,
) -> Result<(), OciError> {
    let target = stage.join(blob.digest.hex());
    let image = client.image();
    let Some(cache) = cache else {
        download(client, blob, stage, &target, options)?;
        counters.downloaded.fetch_add(blob.size, Ordering::Relaxed);
        options.progress.blob_done(&image, &blob.digest, false);
        return Ok(());
    };
    let cached = cache.join(blob.digest.hex());
    let mut from_cache = false;
    if cached.is_file() {
        match Digest::of_file(&cached) {
            Ok((d, size)) if d == blob.digest && size == blob.size => from_cache = true,
            _ => {
                // A damaged cache entry (e.g. an image file edited in place): fetch again.
                std::fs::remove_file(&cached).at(&cached)?;
            }
        }
    }
    if from_cache {
        // A cache written by an older version may hold 0600 blobs: the link shares the mode.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cached, std::fs::Permissions::from_mode(0o644)).at(&cached)?;
        counters.cached.fetch_add(blob.size, Ordering::Relaxed);
        options.progress.bytes_done(&image, blob.size);
    } else {
        download(client, blob, cache, &cached, options)?;
        counters.downloaded.fetch_add(blob.size, Ordering::Relaxed);
    }
    link_or_copy(&cached, &target).at(&target)?;
    options.progress.blob_done(&image, &blob.digest, from_cache);
    Ok(())
}

/// Downloads one blob to `target` (a temporary name next to it until verified), reading at
/// most the size the manifest gives (one byte more is a lie, refused) and verifying the
/// digest while streaming. Short bodies and network errors are retried; content that
/// hashes wrong or is too long is not (the registry serves what it stores).
fn download(
    client: &RegistryClient,
    blob: &Descriptor,
    dir: &Path,
    target: &Path,
    options: &PullOptions,
) -> Result<(), OciError> {
    let image = client.image();
    let url = client.blob_url(&blob.digest);
    let what = format!("blob {}", blob.digest);
    let verification = |detail: String| OciError::BlobVerification {
        image: image.clone(),
        digest: blob.digest.to_string(),
        detail,
    };
    client.retry.run(
        |_| {
            let response = client.attempt(&url, None, &what)?;
            // Blobs are served by an unprivileged nginx: world-readable, as skopeo leaves them.
            let tmp = buildchain_fs::AtomicFile::create(target)
                .map_err(|e| Attempt::Fail(e.into()))?
                .with_mode(0o644);
            let mut writer = HashingWriter::new(std::io::BufWriter::with_capacity(256 << 10, tmp));
            let mut body = response.into_reader(blob.size, &what);
            let mut buf = vec![0u8; 128 << 10];
            loop {
                match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        writer
                            .write_all(&buf[..n])
                            .map_err(|e| Attempt::Fail(OciError::io(dir, e)))?;
                        options.progress.bytes_done(&image, n as u64);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(match HttpError::from_io(&url, e) {
                            HttpError::TooLarge { .. } => Attempt::Fail(verification(format!(
                                "the registry sent more than the {} bytes the manifest lists",
                                blob.size
                            ))),
                            e if e.is_transient() => {
                                let why = format!(
                                    "download interrupted after {} bytes: {e}",
                                    body.received()
                                );
                                options.progress.retrying(&image, &what, &why);
                                Attempt::Retry(why)
                            }
                            e => Attempt::Fail(client.transport_error(&what, &e, 1)),
                        })
                    }
                }
            }
            if body.received() < blob.size {
                let why = format!(
                    "truncated download: {} of {} bytes",
                    body.received(),
                    blob.size
                );
                options.progress.retrying(&image, &what, &why);
                return Err(Attempt::Retry(why));
            }
            let (buffered, digest, _) = writer.finish();
            if digest != blob.digest {
                return Err(Attempt::Fail(verification(format!(
                    "the content served hashes to {digest}"
                ))));
            }
            let file = buffered
                .into_inner()
                .map_err(|e| Attempt::Fail(OciError::io(dir, e.into_error())))?;
            file.commit().map_err(|e| Attempt::Fail(e.into()))
        },
        |_, _| {},
        // The transfer kept failing (cut short, timed out): not a verification failure.
        |why, attempts| OciError::Transfer {
            image: image.clone(),
            what: what.clone(),
            detail: format!("{why} (after {attempts} attempts)"),
        },
    )
}

//! `solution-archive build`: Solution tree -> validated ISO, atomically.
//!
//! The source tree is never modified: it is mirrored (hardlinks, or copies across file
//! systems) into a staging directory next to the output, where images are de-duplicated
//! and `registry-config.inc.j2` is generated; the staging tree is validated, written as an
//! ISO under a temporary name, the ISO is validated, then renamed to the output.

use crate::dir_source::DirSource;
use crate::manifest::{self, MANIFEST_LIMIT, MANIFEST_PATH};
use crate::registry_config::{CONFIG_PATH, NAME_PREFIX, SERVER_ROOT};
use crate::report::Report;
use crate::source::read_limited;
use crate::validate::{self, OpenError, IMAGES_DIR};
use buildchain_fs::dedup::{dedup_tree, DedupReport};
use buildchain_iso9660::{write_image, ImageSummary, IsoOptions};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Longest ISO 9660 volume identifier.
pub use buildchain_iso9660::VOLUME_ID_MAX;

/// Options of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `SOURCE_DATE_EPOCH`: same tree, same bytes.
    pub source_date_epoch: Option<i64>,
    /// Signs the ISO: `<output>.asc`, a detached armored signature of the whole file.
    pub signing: Option<buildchain_sign::SigningKey>,
}

/// The bill of materials written at the root of every Solution ISO.
pub const SBOM_PATH: &str = "sbom.spdx.json";

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub volume_id: String,
    pub summary: ImageSummary,
    pub dedup: DedupReport,
    /// The validation of the written ISO.
    pub report: Report,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },
    #[error("the Solution is invalid ({} error(s))", .0.errors)]
    Invalid(Box<Report>),
    #[error("volume id {0:?} is longer than 32 bytes: shorten the display name or the version")]
    VolumeIdTooLong(String),
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("generating {CONFIG_PATH}: {0}")]
    Registry(String),
    #[error("writing the ISO: {0}")]
    Iso(String),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Fs(#[from] buildchain_fs::FsError),
    #[error("{SBOM_PATH}: {0}")]
    Sbom(String),
    #[error(transparent)]
    Sign(#[from] buildchain_sign::SignError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io {
        path: path.to_path_buf(),
        cause: source,
    }
}

/// Builds the Solution ISO `output` from the tree `dir`.
pub fn build(
    dir: &Path,
    output: &Path,
    options: &BuildOptions,
) -> Result<BuildOutcome, BuildError> {
    let source = DirSource::open(dir).map_err(|e| BuildError::Source {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let bytes =
        read_limited(&source, MANIFEST_PATH, MANIFEST_LIMIT).map_err(|e| BuildError::Source {
            path: dir.join(MANIFEST_PATH),
            message: e.to_string(),
        })?;
    let (manifest, problems) = manifest::parse(&bytes);
    let manifest = match manifest {
        Some(manifest) if problems.is_empty() => manifest,
        _ => {
            let report = Report::new(
                dir.display().to_string(),
                "directory",
                problems,
                Default::default(),
            );
            return Err(BuildError::Invalid(Box::new(report)));
        }
    };
    let volume_id = manifest.volume_id();
    if volume_id.len() > VOLUME_ID_MAX {
        return Err(BuildError::VolumeIdTooLong(volume_id));
    }

    let out_dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The usual failure (no such directory) named once, before tempfile's own wording.
    fs::metadata(&out_dir).map_err(io(&out_dir))?;
    let staging = tempfile::Builder::new()
        .prefix(".solution-archive-staging-")
        .tempdir_in(&out_dir)
        .map_err(|e| {
            // tempfile's error already names the path: keep only its cause.
            let cause = std::io::Error::new(
                e.kind(),
                e.get_ref()
                    .and_then(|inner| inner.source())
                    .map_or_else(|| e.kind().to_string(), |s| s.to_string()),
            );
            io(&out_dir)(cause)
        })?;
    let root = staging.path().join("root");
    // The output (and the staging directory) may lie inside the tree: never mirror them.
    let out_dir_real = fs::canonicalize(&out_dir).map_err(io(&out_dir))?;
    let excluded = [
        out_dir_real.join(staging.path().file_name().unwrap_or_default()),
        out_dir_real.join(output.file_name().unwrap_or_default()),
    ];
    mirror(source.root(), &root, &excluded, 0)?;
    let images = root.join(IMAGES_DIR);
    // Without images/ (or with names the generator refuses) the validation says why.
    let (dedup, generated) = if images.is_dir() {
        let dedup = dedup_tree(&images)?;
        let generated = static_container_registry::generate(
            &images,
            &static_container_registry::Options {
                name_prefix: NAME_PREFIX.to_string(),
                server_root: SERVER_ROOT.to_string(),
                constants: static_container_registry::Constants::Omit,
            },
        );
        (dedup, Some(generated))
    } else {
        (DedupReport::default(), None)
    };
    let registry_error = match generated {
        Some(Ok(config)) => {
            let config_path = root.join(CONFIG_PATH);
            fs::write(&config_path, config).map_err(io(&config_path))?;
            None
        }
        Some(Err(e)) => Some(e.to_string()),
        None => None,
    };

    let sbom = solution_sbom(&manifest, &root, options.source_date_epoch)?;
    let sbom_path = root.join(SBOM_PATH);
    fs::write(&sbom_path, sbom).map_err(io(&sbom_path))?;

    let mut tree_report = validate::validate_path(&root)?;
    if !tree_report.valid {
        tree_report.archive = dir.display().to_string();
        return Err(BuildError::Invalid(Box::new(tree_report)));
    }
    if let Some(message) = registry_error {
        return Err(BuildError::Registry(message));
    }

    let file_name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "solution.iso".to_string());
    let temp_iso = staging.path().join(format!("{file_name}.partial"));
    let summary = write_image(
        &root,
        &temp_iso,
        &IsoOptions::metalk8s(&volume_id, options.source_date_epoch),
    )
    .map_err(|e| BuildError::Iso(e.to_string()))?;

    let mut report = validate::validate_path(&temp_iso)?;
    report.archive = output.display().to_string();
    if !report.valid {
        return Err(BuildError::Invalid(Box::new(report)));
    }
    // Signed before it is in place: a signed build never leaves an unsigned ISO behind;
    // an unsigned one removes the signature of a previous build of that name.
    let mut asc = output.as_os_str().to_owned();
    asc.push(".asc");
    let asc = PathBuf::from(asc);
    match &options.signing {
        Some(key) => {
            let file = fs::File::open(&temp_iso).map_err(io(&temp_iso))?;
            let time = options
                .source_date_epoch
                .and_then(|e| u64::try_from(e).ok())
                .unwrap_or(0);
            let signature = key.sign_detached_from(std::io::BufReader::new(file), time)?;
            buildchain_fs::write_atomic(&asc, signature.as_bytes(), Some(0o644))?;
        }
        None => match fs::remove_file(&asc) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&asc)(e)),
            _ => {}
        },
    }
    fs::rename(&temp_iso, output).map_err(io(output))?;
    Ok(BuildOutcome {
        volume_id,
        summary,
        dedup,
        report,
    })
}

/// The SPDX bill of materials of the Solution laid out at `root`: its images, with their
/// layers (buildchain-sbom).
fn solution_sbom(
    manifest: &manifest::SolutionManifest,
    root: &Path,
    source_date_epoch: Option<i64>,
) -> Result<String, BuildError> {
    let supplier = manifest
        .display_name
        .clone()
        .unwrap_or_else(|| manifest.name.clone());
    let mut sbom = buildchain_sbom::Sbom::new(
        &format!("{}-{}", manifest.name, manifest.version),
        &manifest.name,
        &manifest.version,
        &supplier,
        &buildchain_sbom::rfc3339(source_date_epoch.unwrap_or(0)),
        concat!("solution-archive-", env!("CARGO_PKG_VERSION")),
    );
    let images = root.join(IMAGES_DIR);
    let mut dirs = Vec::new();
    for name in read_sorted(&images)? {
        for version in read_sorted(&name)? {
            if version.join("manifest.json").is_file() {
                dirs.push((name.clone(), version));
            }
        }
    }
    for (name, version) in dirs {
        let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let image = buildchain_sbom::image_from_dir(
            &version,
            &file_name(&name).unwrap_or_default(),
            &file_name(&version).unwrap_or_default(),
            None,
            None,
            buildchain_sbom::Supplier::Organization(supplier.clone()),
        )
        .map_err(|e| BuildError::Sbom(e.to_string()))?;
        sbom.add_image(&image);
    }
    Ok(sbom.render())
}

/// The directories in `dir`, sorted (none when it does not exist).
fn read_sorted(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Mirrors `from` into `to` with hardlinks (copies when linking fails), leaving out the
/// registry config (regenerated). Symbolic links are re-created as they are.
fn mirror(from: &Path, to: &Path, excluded: &[PathBuf], depth: usize) -> Result<(), BuildError> {
    if depth > 64 {
        return Err(BuildError::Source {
            path: from.to_path_buf(),
            message: "directories nested too deeply".to_string(),
        });
    }
    fs::create_dir(to).map_err(io(to))?;
    let permissions = fs::metadata(from).map_err(io(from))?.permissions();
    for entry in fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if (depth == 0 && entry.file_name() == CONFIG_PATH) || excluded.contains(&src) {
            continue;
        }
        let kind = entry.file_type().map_err(io(&src))?;
        if kind.is_dir() {
            mirror(&src, &dst, excluded, depth + 1)?;
        } else if kind.is_file() {
            if fs::hard_link(&src, &dst).is_err() {
                fs::copy(&src, &dst).map_err(io(&src))?;
            }
        } else if kind.is_symlink() {
            let target = fs::read_link(&src).map_err(io(&src))?;
            std::os::unix::fs::symlink(target, &dst).map_err(io(&dst))?;
        } else {
            let what = if kind.is_fifo() {
                "a FIFO"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "a device"
            };
            return Err(BuildError::Source {
                path: src,
                message: format!("{what} cannot go into an ISO"),
            });
        }
    }
    fs::set_permissions(to, permissions).map_err(io(to))?;
    Ok(())
}

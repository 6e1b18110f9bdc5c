//! `buildchain pull` and `buildchain dedup`: the image library (buildchain-oci) on the
//! command line, outside any repository.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use buildchain_fs::dedup::dedup_tree;
use buildchain_oci::{pull_image, BarsProgress, KeepIndex, OciError, PullOptions};
use buildchain_oci_types::{ImageReference, Platform};
use std::io::Write;

fn parse_reference(text: &str) -> Result<ImageReference, String> {
    ImageReference::parse(text).map_err(|e| e.to_string())
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text).map_err(|e| e.to_string())
}

/// `buildchain pull [--insecure] [--platform OS/ARCH]… [--all] REF DEST_DIR`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Plain HTTP instead of HTTPS (a local registry).
    #[arg(long)]
    insecure: bool,
    /// The platform picked from an index / manifest list (default linux/amd64). Given
    /// more than once: the index is kept, with these platforms (`skopeo copy --multi-arch`).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    platform: Vec<Platform>,
    /// Keep the index with every platform it lists (`skopeo copy --all`).
    #[arg(long, conflicts_with = "platform")]
    all: bool,
    /// `HOST[:PORT]/NAME:TAG`, `…:TAG@sha256:HEX` or `…@sha256:HEX` (`docker://` accepted).
    /// Credentials: $REGISTRY_AUTH_FILE, else ~/.docker/config.json.
    #[arg(value_name = "REF", value_parser = parse_reference)]
    reference: ImageReference,
    /// Where the image goes (skopeo `dir:` layout). An image pulled there before is
    /// replaced; a directory holding anything else is refused unless --force.
    #[arg(value_name = "DEST_DIR")]
    dest: PathBuf,
    /// Replace DEST_DIR whatever it holds.
    #[arg(long)]
    force: bool,
    /// PEM certificates to trust besides the system's (a private registry's CA).
    /// Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, as curl and skopeo.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Pulls one image; `jobs`: blobs fetched at once.
pub fn pull(args: &PullArgs, jobs: Option<usize>) -> Result<ExitCode> {
    let bars = Arc::new(BarsProgress::new(indicatif::MultiProgress::new()));
    let keep_index = match (args.all, args.platform.as_slice()) {
        (true, _) => Some(KeepIndex::All),
        (false, [_, _, ..]) => Some(KeepIndex::Platforms(args.platform.clone())),
        _ => None,
    };
    let platform = args.platform.first().cloned().unwrap_or_default();
    let options = PullOptions {
        insecure: args.insecure,
        platform: platform.clone(),
        keep_index,
        jobs: jobs.unwrap_or(4).max(1),
        progress: bars.clone(),
        overwrite: args.force,
        http: buildchain_oci::HttpConfig {
            ca_file: args.ca_file.clone(),
            ..Default::default()
        },
        ..PullOptions::default()
    };
    let result = pull_image(&args.reference, &args.dest, &options);
    bars.finish();
    let report = match result {
        Err(e @ OciError::NotAnImageDirectory { .. }) => {
            anyhow::bail!("{e} (--force replaces it)")
        }
        // Errors of the library name the image; the others get it said once here.
        Err(e @ (OciError::Io { .. } | OciError::Fs(_))) => {
            return Err(anyhow::Error::new(e).context(format!("cannot pull {}", args.reference)))
        }
        other => other?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "pulled {} -> {}", report.image, args.dest.display())?;
    writeln!(
        out,
        "  manifest {} ({})",
        report.manifest_digest, report.media_type
    )?;
    if !report.platforms.is_empty() {
        for (platform, digest) in &report.platforms {
            writeln!(out, "  {platform}: {digest}")?;
        }
    } else if let Some(index) = &report.index_digest {
        writeln!(out, "  selected from index {index} for {platform}")?;
    }
    writeln!(
        out,
        "  {} blobs, {} downloaded",
        report.blobs,
        mib(report.bytes_downloaded)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Hardlinks identical files under `dir`.
pub fn dedup(dir: &Path) -> Result<ExitCode> {
    if !dir.is_dir() {
        anyhow::bail!("{}: not a directory", dir.display());
    }
    let r = dedup_tree(dir).with_context(|| format!("cannot dedup {}", dir.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "{}: {} files scanned, {} linked, {} bytes saved ({})",
        dir.display(),
        r.files_scanned,
        r.files_linked,
        r.bytes_saved,
        mib(r.bytes_saved)
    )?;
    Ok(ExitCode::SUCCESS)
}

//! `buildchain verify ISO [--key KEY] [--format text|json]`: what a customer checks before
//! carrying an ISO in, offline, without mounting it: the implanted MD5, `SHA256SUM` (next
//! to the ISO), its signature `SHA256SUM.asc`, the signature of every repository's
//! `repomd.xml` inside the ISO, and the digest of every image blob.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use buildchain_iso9660::isomd5::CheckOutcome;
use buildchain_iso9660::{EntryKind, IsoImage};
use sha2::{Digest, Sha256};

/// `buildchain verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The ISO image.
    #[arg(value_name = "ISO")]
    iso: PathBuf,
    /// The armored public key the signatures must verify with (without it, signatures
    /// are not checked).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// `text` (a summary line per check) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// One check's outcome.
#[derive(Debug, serde::Serialize)]
struct Check {
    name: &'static str,
    /// `ok`, `failed`, or `skipped`.
    status: &'static str,
    detail: String,
}

impl Check {
    fn new(name: &'static str, result: Result<String, String>) -> Check {
        match result {
            Ok(detail) => Check {
                name,
                status: "ok",
                detail,
            },
            Err(detail) => Check {
                name,
                status: "failed",
                detail,
            },
        }
    }

    fn skipped(name: &'static str, detail: &str) -> Check {
        Check {
            name,
            status: "skipped",
            detail: detail.into(),
        }
    }
}

/// Exit status: 0 verified, 1 not verified (a check failed), 2 the ISO or the key could
/// not be read (said on stderr, and as `{"ok": false, "error": …}` with `--format json`).
pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let opened = (|| -> Result<(Option<String>, IsoImage)> {
        let key = match &args.key {
            Some(path) => Some(
                buildchain_sign::read_key_file(path)
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .context("the --key")?,
            ),
            None => None,
        };
        let image = IsoImage::open(&args.iso)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{}: cannot read the ISO", args.iso.display()))?;
        Ok((key, image))
    })();
    let (key, image) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("buildchain: {e:#}");
            if args.format == "json" {
                let report = serde_json::json!({
                    "iso": args.iso.display().to_string(),
                    "ok": false,
                    "error": format!("{e:#}"),
                });
                println!("{report}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let mut checks = vec![implanted_md5(&args.iso)];
    let sums = args.iso.with_file_name("SHA256SUM");
    checks.push(Check::new("SHA256SUM", sha256sum(&args.iso, &sums)));
    checks.push(match &key {
        None => Check::skipped("signature", "no --key"),
        Some(key) => Check::new("signature", signature(key, &sums)),
    });
    checks.push(repositories(&image, key.as_deref()));
    checks.push(Check::new("images", images(&image)));
    let ok = checks.iter().all(|c| c.status != "failed");
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        let report = serde_json::json!({
            "iso": args.iso.display().to_string(),
            "volume_id": image.volume_id(),
            "ok": ok,
            "checks": checks,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "{} ({})", args.iso.display(), image.volume_id())?;
        for check in &checks {
            writeln!(
                out,
                "  {:<14} {:<7} {}",
                check.name, check.status, check.detail
            )?;
        }
        writeln!(out, "{}", if ok { "verified" } else { "NOT verified" })?;
    }
    out.flush()?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn implanted_md5(iso: &Path) -> Check {
    match buildchain_iso9660::isomd5::check(iso) {
        Ok(CheckOutcome::Pass { md5 }) => Check::new("implanted MD5", Ok(md5)),
        Ok(CheckOutcome::Fail { reason, .. }) => Check::new("implanted MD5", Err(reason)),
        Ok(CheckOutcome::NoChecksum) => Check::skipped("implanted MD5", "none implanted"),
        Err(e) => Check::new("implanted MD5", Err(e.to_string())),
    }
}

/// The ISO's line of `SHA256SUM` and the ISO's SHA-256 agree.
fn sha256sum(iso: &Path, sums: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(sums)
        .map_err(|e| format!("{}: cannot read: {e}", sums.display()))?;
    let name = iso
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let expected = text
        .lines()
        .find_map(|l| {
            let (hex, file) = l.split_once(char::is_whitespace)?;
            (file.trim_start().trim_start_matches('*') == name).then(|| hex.to_string())
        })
        .ok_or_else(|| format!("{}: no line for {name}", sums.display()))?;
    let actual = buildchain_fs::sha256_file(iso).map_err(|e| e.to_string())?;
    if actual == expected {
        Ok(actual)
    } else {
        Err(format!(
            "{} says {expected}, the ISO has {actual}",
            sums.display()
        ))
    }
}

/// `SHA256SUM.asc` verifies `SHA256SUM` with `key`.
fn signature(key: &str, sums: &Path) -> Result<String, String> {
    let asc = sums.with_file_name("SHA256SUM.asc");
    let signature = std::fs::read_to_string(&asc)
        .map_err(|e| format!("{}: cannot read: {e}", asc.display()))?;
    let data = std::fs::read(sums).map_err(|e| format!("{}: cannot read: {e}", sums.display()))?;
    buildchain_sign::verify_detached(key, &data, &signature, &asc.display().to_string())
        .map(|()| format!("{} verifies", asc.display()))
        .map_err(|e| e.to_string())
}

/// Every `repodata/repomd.xml` of the ISO has a `repomd.xml.asc` that verifies with `key`.
fn repositories(image: &IsoImage, key: Option<&str>) -> Check {
    let repomds: Vec<&str> = image
        .entries()
        .iter()
        .filter(|e| e.kind == EntryKind::File && e.path.ends_with("/repodata/repomd.xml"))
        .map(|e| e.path.as_str())
        .collect();
    let Some(key) = key else {
        return Check::skipped(
            "repositories",
            &format!("{} repository metadata file(s), no --key", repomds.len()),
        );
    };
    let mut failures = Vec::new();
    for path in &repomds {
        let asc = format!("{path}.asc");
        let result = (|| -> Result<(), String> {
            let data = image.read_file(path).map_err(|e| e.to_string())?;
            let signature = image
                .read_file(&asc)
                .map_err(|_| format!("{path}: not signed (no {asc})"))?;
            let signature = String::from_utf8_lossy(&signature);
            buildchain_sign::verify_detached(key, &data, &signature, &asc)
                .map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            failures.push(e);
        }
    }
    Check::new(
        "repositories",
        match failures.is_empty() {
            true => Ok(format!("{} repository signature(s) verify", repomds.len())),
            false => Err(failures.join("; ")),
        },
    )
}

/// Every blob of every image (a file named by its SHA-256 under `images/`) has that
/// digest.
fn images(image: &IsoImage) -> Result<String, String> {
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in image.entries() {
        let name = entry.path.rsplit('/').next().unwrap_or("");
        let is_blob = entry.kind == EntryKind::File
            && entry.path.starts_with("images/")
            && name.len() == 64
            && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_blob {
            continue;
        }
        checked += 1;
        let actual = (|| -> Result<String, String> {
            let mut reader = image.open_file(&entry.path).map_err(|e| e.to_string())?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut reader, &mut hasher).map_err(|e| e.to_string())?;
            Ok(format!("{:x}", hasher.finalize()))
        })();
        match actual {
            Ok(actual) if actual == name => {}
            Ok(actual) => failures.push(format!("{}: its SHA-256 is {actual}", entry.path)),
            Err(e) => failures.push(format!("{}: {e}", entry.path)),
        }
    }
    if failures.is_empty() {
        Ok(format!("{checked} blobs match their digests"))
    } else {
        Err(failures.join("; "))
    }
}

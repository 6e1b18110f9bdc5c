//! `buildchain diff OLD NEW`: what changed between two releases (ISO files or unpacked
//! trees, read without mounting), as a short table or JSON.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use buildchain_release::Diff;

/// `buildchain diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier release: an ISO image or an unpacked tree.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The later release: an ISO image or an unpacked tree.
    #[arg(value_name = "NEW")]
    new: PathBuf,
    /// `text` (a table for a review) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// Exit with 1 when the releases differ (as `git diff --exit-code`).
    #[arg(long)]
    exit_code: bool,
}

/// Exit status: 0 (or with --exit-code: 0 the same, 1 different), 2 when a release cannot
/// be read (said on stderr), as diff(1).
pub fn diff(args: &DiffArgs) -> Result<ExitCode> {
    let compared = (|| -> Result<Diff> {
        let ((old_archive, old), (new_archive, new)) =
            buildchain_release::inventory::read_both(&args.old, &args.new)?;
        Ok(Diff::between(&old_archive, &old, &new_archive, &new)?)
    })();
    let diff = match compared {
        Ok(diff) => diff,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let text = match args.format.as_str() {
        "json" => serde_json::to_string_pretty(&diff)? + "\n",
        _ => diff.to_text(),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader that stopped reading (`| head`) is not a failure of the diff.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to stdout")?,
    }
    Ok(if args.exit_code && !diff.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

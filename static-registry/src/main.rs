//! `static-container-registry [--name-prefix P] [--server-root R]
//! [--omit-constants | --only-constants] [ROOT]`: prints the nginx include on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use static_container_registry::{generate_with_report, shown_path, Constants, Options};

/// Generates an nginx config include serving a directory of images (`ROOT/<name>/<tag>/`
/// in skopeo's `dir:` layout) as a read-only Docker/OCI registry.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Prefix added to every image name (may hold `{{ jinja }}` placeholders)
    #[arg(long, value_name = "PREFIX")]
    name_prefix: Option<String>,

    /// Root directory from where exported image files are served (may hold nginx
    /// `$variables` and `{{ jinja }}` placeholders) [default: ROOT]
    #[arg(long, value_name = "PATH")]
    server_root: Option<String>,

    /// Do not write the constant locations (e.g. /v2/), to include this config with others
    #[arg(long, conflicts_with = "only_constants")]
    omit_constants: bool,

    /// Only write the constant locations (e.g. /v2/), to include once
    #[arg(long)]
    only_constants: bool,

    /// Root directory containing exported images
    #[arg(value_name = "ROOT", default_value = ".")]
    root: PathBuf,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("static-container-registry: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let options = Options {
        name_prefix: cli.name_prefix.unwrap_or_default(),
        server_root: cli.server_root.unwrap_or_default(),
        constants: if cli.only_constants {
            Constants::Only
        } else if cli.omit_constants {
            Constants::Omit
        } else {
            Constants::Include
        },
    };
    // Every error names the file or option at fault; nothing is written on error.
    let (config, skipped) = generate_with_report(&cli.root, &options)?;
    for entry in skipped {
        eprintln!(
            "static-container-registry: not served: {}: {}",
            shown_path(&entry.path),
            entry.reason
        );
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(config.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the config to standard output")?;
    Ok(())
}

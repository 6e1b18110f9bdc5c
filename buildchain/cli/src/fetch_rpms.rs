//! `buildchain fetch-rpms`: download RPMs and what they require from yum repositories into
//! a directory, and write its repodata (buildchain-rpm's `fetch_packages`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use buildchain_http::escape_controls;
use buildchain_rpm::fetch::{fetch_packages, FetchOptions, PackageRequest, Repository};
use buildchain_rpm::repodata::RepodataOptions;
use buildchain_rpm::RpmError;
use clap::Args;

/// Exit status of invalid arguments (as clap's own usage errors).
const USAGE: u8 = 2;

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// A repository to download from: ID=URL (the directory holding repodata/; http(s):// or
    /// file://). Repeatable.
    #[arg(long = "repo", value_name = "ID=URL", required = true)]
    repos: Vec<String>,
    /// A repository whose packages satisfy requirements without being downloaded (the base
    /// OS the nodes already have): ID=URL. Repeatable.
    #[arg(long = "base-repo", value_name = "ID=URL")]
    base_repos: Vec<String>,
    /// A GPG key of a repository, copied into DEST as RPM-GPG-KEY-<ID>: ID=URL-or-path.
    /// Repeatable.
    #[arg(long = "gpg-key", value_name = "ID=KEY")]
    gpg_keys: Vec<String>,
    /// Architectures kept, in order of preference.
    #[arg(
        long = "arch",
        value_name = "ARCH,…",
        value_delimiter = ',',
        default_value = "x86_64,noarch"
    )]
    arches: Vec<String>,
    /// The directory receiving the packages, keys and repodata/.
    #[arg(long, value_name = "DIR")]
    dest: PathBuf,
    /// PEM certificates to trust besides the system's (a private mirror's CA). Proxies:
    /// HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY, as curl.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Packages to fetch: NAME or NAME=[EPOCH:]VERSION[-RELEASE].
    #[arg(value_name = "PKG", required = true)]
    packages: Vec<String>,
}

fn id_and_value<'a>(option: &str, text: &'a str) -> Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((id, value)) if !id.is_empty() && !value.is_empty() => Ok((id, value)),
        _ => bail!("{option} {text:?}: expected ID=VALUE"),
    }
}

/// The repositories and requests of the command line, or the argument at fault.
fn parse(args: &FetchArgs) -> Result<(Vec<Repository>, Vec<PackageRequest>)> {
    let mut repositories = Vec::new();
    for (option, texts, download) in [
        ("--repo", &args.repos, true),
        ("--base-repo", &args.base_repos, false),
    ] {
        for text in texts {
            let (id, url) = id_and_value(option, text)?;
            if repositories.iter().any(|r: &Repository| r.id == id) {
                bail!("{option} {text:?}: repository id {id:?} given twice");
            }
            let mut repo = Repository::new(id, url);
            repo.download = download;
            repositories.push(repo);
        }
    }
    for text in &args.gpg_keys {
        let (id, key) = id_and_value("--gpg-key", text)?;
        let repo = repositories
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| anyhow!("--gpg-key {text:?}: no --repo or --base-repo {id:?}"))?;
        repo.gpg_keys.push(key.to_string());
    }
    if args.arches.iter().any(|a| a.trim().is_empty()) {
        bail!("--arch: empty architecture name");
    }
    let requests = args
        .packages
        .iter()
        .map(|p| PackageRequest::parse(p).map_err(|e| anyhow!("{e}")))
        .collect::<Result<Vec<_>>>()?;
    Ok((repositories, requests))
}

/// Runs the subcommand: 0 when everything was fetched, 1 when fetching failed (nothing is
/// left in DEST then), 2 for invalid arguments.
pub fn run(args: &FetchArgs, jobs: Option<usize>) -> Result<ExitCode> {
    let (repositories, requests) = match parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!(
                "buildchain fetch-rpms: error: {}",
                escape_controls(&format!("{e:#}"))
            );
            return Ok(ExitCode::from(USAGE));
        }
    };
    let source_date_epoch = Some(crate::epoch::from_environment()?.unsigned());
    let mut options = FetchOptions {
        arches: args.arches.iter().map(|a| a.trim().to_string()).collect(),
        repodata: RepodataOptions {
            source_date_epoch,
            ..RepodataOptions::default()
        },
        http: buildchain_http::Config {
            ca_file: args.ca_file.clone(),
            ..Default::default()
        },
        ..FetchOptions::default()
    };
    if let Some(jobs) = jobs {
        options.jobs = jobs.max(1);
    }
    let existed = args.dest.exists();
    let report = match fetch_packages(&repositories, &requests, &args.dest, &options) {
        Ok(report) => report,
        Err(e) => {
            if !existed {
                remove_if_empty(&args.dest);
            }
            eprintln!(
                "buildchain fetch-rpms: error: {}",
                escape_controls(&e.to_string())
            );
            if matches!(e, RpmError::NotRestored { .. }) {
                eprintln!(
                    "buildchain fetch-rpms: {} was left changed: check it, or fetch again",
                    args.dest.display()
                );
            } else {
                eprintln!(
                    "buildchain fetch-rpms: nothing was added to {}",
                    args.dest.display()
                );
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "resolved {} package(s), downloaded {} into {}",
        report.packages.len() + report.not_downloaded.len(),
        report.packages.len(),
        args.dest.display()
    );
    for package in &report.packages {
        println!(
            "downloaded      {}  ({})  {}",
            escape_controls(&package.nevra),
            package.repository,
            escape_controls(&file_name(&package.path))
        );
    }
    for nevra in &report.not_downloaded {
        println!(
            "from base repo  {}  (not downloaded)",
            escape_controls(nevra)
        );
    }
    for key in &report.gpg_keys {
        println!("gpg key         {}", escape_controls(&file_name(key)));
    }
    println!(
        "repodata        {} package(s), revision {}: {}",
        report.repodata.packages,
        report.repodata.revision,
        report.repodata.repomd.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Removes `dir` when the failed fetch created it and left it empty.
fn remove_if_empty(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}

//! `buildchain repodata` and `buildchain build-rpm`: the RPM library (buildchain-rpm) on the
//! command line, outside any distribution (like `createrepo_c DIR` and `rpmbuild`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};
use buildchain_rpm::repodata::{write_repodata, RepodataOptions};

/// `buildchain repodata DIR`.
#[derive(Debug, clap::Args)]
pub struct RepodataArgs {
    /// The repository directory: every `*.rpm` below it is indexed into DIR/repodata/.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// `buildchain build-rpm [--repo-root ROOT] --out DIR PACKAGE_DIR…`.
#[derive(Debug, clap::Args)]
pub struct BuildRpmArgs {
    /// What `[[files]] source` paths of the definitions are relative to.
    #[arg(long, value_name = "ROOT", default_value = ".")]
    repo_root: PathBuf,
    /// Where the packages are written (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Directories holding a `package.toml` each.
    #[arg(value_name = "PACKAGE_DIR", required = true)]
    packages: Vec<PathBuf>,
}

/// Writes the repodata of a directory of RPMs (times: the SOURCE_DATE_EPOCH rule).
pub fn repodata(args: &RepodataArgs, jobs: Option<usize>) -> Result<ExitCode> {
    let options = RepodataOptions {
        source_date_epoch: Some(crate::epoch::from_environment()?.unsigned()),
        jobs,
        ..RepodataOptions::default()
    };
    let report = write_repodata(&args.dir, &options)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("cannot write the repodata of {}", args.dir.display()))?;
    writeln!(
        std::io::stdout().lock(),
        "{} packages indexed, {} (revision {})",
        report.packages,
        report.repomd.display(),
        report.revision
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Builds RPMs from `package.toml` definitions (times: the SOURCE_DATE_EPOCH rule).
pub fn build_rpm(args: &BuildRpmArgs) -> Result<ExitCode> {
    let context = BuildContext {
        repo_root: args.repo_root.clone(),
        source_date_epoch: Some(crate::epoch::from_environment()?.unsigned()),
        signer: None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let mut out = std::io::stdout().lock();
    for dir in &args.packages {
        let definition = PackageDefinition::load(dir).map_err(anyhow::Error::new)?;
        let path = build_package(&definition, &context, &args.out)
            .map_err(anyhow::Error::new)
            .with_context(|| format!("cannot build {}", definition.nevra()))?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

//! `rpm-build --repo-root ROOT --out DIR PACKAGE_DIR…`: builds RPMs from `package.toml`
//! definitions. A stand-in for benchmarks and manual use until the `buildchain` CLI's
//! `packaging` task wires the library.

use std::path::PathBuf;

use anyhow::{bail, Context};
use buildchain_rpm::build::{build_package, BuildContext, PackageDefinition};

fn main() -> anyhow::Result<()> {
    let usage = "usage: rpm-build --repo-root ROOT --out DIR PACKAGE_DIR…   (SOURCE_DATE_EPOCH is honoured)";
    let mut args = std::env::args().skip(1);
    let (mut repo_root, mut out, mut packages) = (None, None, Vec::new());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--repo-root" => repo_root = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("{usage}");
                return Ok(());
            }
            _ if arg.starts_with('-') => bail!("unknown option {arg}\n{usage}"),
            _ => packages.push(PathBuf::from(arg)),
        }
    }
    let (Some(repo_root), Some(out)) = (repo_root, out) else {
        bail!("{usage}");
    };
    if packages.is_empty() {
        bail!("{usage}");
    }
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.is_empty() => Some(
            text.parse::<u64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH '{text}' is not a number"))?,
        ),
        _ => None,
    };
    let context = BuildContext {
        repo_root,
        source_date_epoch,
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for dir in packages {
        let definition = PackageDefinition::load(&dir)?;
        let path = build_package(&definition, &context, &out)?;
        println!("{}", path.display());
    }
    Ok(())
}

//! `rpm-repodata DIR`: writes yum repodata for the RPMs under DIR (like `createrepo_c DIR`).
//! A stand-in for benchmarks and manual use until the `buildchain` CLI exposes it.

use std::path::PathBuf;

use anyhow::{bail, Context};
use buildchain_rpm::repodata::{write_repodata, RepodataOptions};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        bail!("usage: rpm-repodata DIR   (SOURCE_DATE_EPOCH is honoured)");
    };
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.is_empty() => Some(
            text.parse::<u64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH '{text}' is not a number"))?,
        ),
        _ => None,
    };
    let options = RepodataOptions {
        source_date_epoch,
        ..RepodataOptions::default()
    };
    let report = write_repodata(&PathBuf::from(dir), &options)
        .with_context(|| format!("writing repodata for {dir}"))?;
    println!(
        "{} packages indexed, {} (revision {})",
        report.packages,
        report.repomd.display(),
        report.revision
    );
    Ok(())
}

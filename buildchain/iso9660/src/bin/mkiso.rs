//! `mkiso`: an mkisofs/genisoimage drop-in for the flags MetalK8s uses, plus
//! `--implantisomd5`. mkisofs takes single-dash long flags, so the parser is hand-written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use buildchain_iso9660::{write_image, IsoOptions, RockRidge};

const USAGE: &str = "usage: mkiso [options] -o FILE SOURCE_DIR

options (mkisofs-compatible):
  -o, -output FILE               image to write (atomically: temporary name, then rename)
  -quiet                         print nothing on success
  -R, -rock                      Rock Ridge, attributes copied from disk
  -r, -rational-rock             Rock Ridge, uid/gid 0, modes made read-only
  -J, -joliet                    Joliet tree
  -joliet-long                   Joliet names up to 103 characters
  -l, -full-iso9660-filenames    31-character ISO 9660 names
  -V, -volid ID                  volume identifier (default CDROM)
  -iso-level, --iso-level N      1, 2 or 3 (3: multi-extent files over 4 GiB)
  -uid N, -gid N                 owner and group written in Rock Ridge (implies -R)
  -input-charset, -output-charset utf-8   the only charset supported
  -pad, -no-pad                  add (default) or omit 150 padding sectors
  --implantisomd5                embed the isomd5sum checksum (checkisomd5) in the same pass
  --sha256sum FILE               also write FILE as `sha256sum` does (`<hex>  <image name>`)
environment: SOURCE_DATE_EPOCH fixes the volume dates and clamps every timestamp";

struct Args {
    options: IsoOptions,
    output: PathBuf,
    source: PathBuf,
    sha256sum: Option<PathBuf>,
    quiet: bool,
}

fn parse(args: Vec<String>) -> Result<Option<Args>> {
    let mut options = IsoOptions::default();
    let mut output = None;
    let mut source: Option<PathBuf> = None;
    let mut quiet = false;
    let mut sha256sum = None;
    let mut it = args.into_iter();
    let mut only_operands = false;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| anyhow!("option {name} needs a value"))
        };
        if only_operands || !arg.starts_with('-') || arg == "-" {
            if let Some(first) = &source {
                bail!(
                    "only one source directory is supported (got {} and {arg})",
                    first.display()
                );
            }
            source = Some(PathBuf::from(arg));
            continue;
        }
        match arg.as_str() {
            "--" => only_operands = true,
            "-h" | "-help" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-o" | "-output" | "--output" => output = Some(PathBuf::from(value(&arg)?)),
            "-quiet" | "--quiet" => quiet = true,
            "-R" | "-rock" | "--rock" => options.rock_ridge = RockRidge::Plain,
            "-r" | "-rational-rock" | "--rational-rock" => options.rock_ridge = RockRidge::Rational,
            "-J" | "-joliet" | "--joliet" => options.joliet = true,
            "-joliet-long" | "--joliet-long" => options.joliet_long = true,
            "-l" | "-full-iso9660-filenames" | "--full-iso9660-filenames" => {
                options.full_iso9660_filenames = true
            }
            "-V" | "-volid" | "--volid" => options.volume_id = value(&arg)?,
            "-iso-level" | "--iso-level" => {
                let v = value(&arg)?;
                options.iso_level = match v.as_str() {
                    "1" => 1,
                    "2" => 2,
                    "3" => 3,
                    "4" => bail!("{arg} 4 (ISO 9660:1999) is not supported: use 3"),
                    _ => bail!("{arg} {v}: expected 1, 2 or 3"),
                };
            }
            "-uid" | "--uid" | "-gid" | "--gid" => {
                let v = value(&arg)?;
                let n: u32 = v
                    .parse()
                    .with_context(|| format!("{arg} {v}: not a number"))?;
                if arg.ends_with("uid") {
                    options.uid = Some(n);
                } else {
                    options.gid = Some(n);
                }
                if options.rock_ridge == RockRidge::Off {
                    options.rock_ridge = RockRidge::Plain;
                }
            }
            "-input-charset" | "--input-charset" | "-output-charset" | "--output-charset" => {
                let v = value(&arg)?;
                if !matches!(v.to_ascii_lowercase().as_str(), "utf-8" | "utf8") {
                    bail!("{arg} {v}: only utf-8 is supported");
                }
            }
            "-pad" | "--pad" => options.padding_sectors = 150,
            "-no-pad" | "--no-pad" => options.padding_sectors = 0,
            "--implantisomd5" | "-implantisomd5" => options.implant_md5 = true,
            "--sha256sum" | "-sha256sum" => {
                sha256sum = Some(PathBuf::from(value(&arg)?));
                options.sha256 = true;
            }
            other => bail!("unknown option {other}\n{USAGE}"),
        }
    }
    let output = output.ok_or_else(|| anyhow!("no output file (-o FILE)\n{USAGE}"))?;
    let source = source.ok_or_else(|| anyhow!("no source directory\n{USAGE}"))?;
    if let Ok(sde) = std::env::var("SOURCE_DATE_EPOCH") {
        let sde = sde.trim();
        options.source_date_epoch = Some(
            sde.parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={sde:?} is not an integer"))?,
        );
    }
    Ok(Some(Args {
        options,
        output,
        source,
        sha256sum,
        quiet,
    }))
}

/// A `sha256sum` line for `name`: names holding a newline or a backslash are escaped and
/// the line starts with `\`, as coreutils writes them (so `sha256sum -c` reads it back).
fn sum_line(hex: &str, name: &str) -> String {
    if name.contains(['\n', '\\']) {
        let escaped = name.replace('\\', "\\\\").replace('\n', "\\n");
        format!("\\{hex}  {escaped}\n")
    } else {
        format!("{hex}  {name}\n")
    }
}

fn run() -> Result<()> {
    let mut raw = Vec::new();
    for arg in std::env::args_os().skip(1) {
        raw.push(
            arg.into_string()
                .map_err(|a| anyhow!("argument {a:?} is not UTF-8: not supported"))?,
        );
    }
    let Some(args) = parse(raw)? else {
        return Ok(());
    };
    if let Some(sum_file) = &args.sha256sum {
        // Checked before minutes of writing, not after the image replaced the old one.
        if sum_file == &args.output {
            bail!(
                "--sha256sum {} is the image itself: give another file",
                sum_file.display()
            );
        }
        let dir = match sum_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            bail!(
                "--sha256sum {}: no directory {}",
                sum_file.display(),
                dir.display()
            );
        }
    }
    // Errors name the file they are about (the source, the image or its temporary name).
    let summary = write_image(&args.source, &args.output, &args.options)?;
    if let (Some(sum_file), Some(hex)) = (&args.sha256sum, &summary.sha256) {
        let name = args.output.file_name().unwrap_or(args.output.as_os_str());
        let line = sum_line(hex, &name.to_string_lossy());
        buildchain_fs::write_atomic(sum_file, line.as_bytes(), Some(0o644)).with_context(|| {
            format!(
                "{} was written, but not its SHA-256 sum",
                args.output.display()
            )
        })?;
    }
    if !args.quiet {
        eprintln!(
            "{}: {} sectors ({} bytes){}",
            args.output.display(),
            summary.sectors,
            summary.bytes,
            summary
                .implanted_md5
                .map(|m| format!(", isomd5sum {m}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkiso: {e:#}");
            ExitCode::FAILURE
        }
    }
}

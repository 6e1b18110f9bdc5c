//! `solution-archive`: validate or build MetalK8s Solution archives.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use solution_archive::{build, validate_path, BuildError, BuildOptions, Rule};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "solution-archive",
    version,
    about = "Validate and build MetalK8s Solution archives"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Check an archive (ISO image or unpacked tree). Exit 0 valid, 1 invalid, 2 unreadable.
    Validate {
        /// The Solution ISO or its unpacked directory.
        path: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Build a validated Solution ISO from a Solution tree (honours SOURCE_DATE_EPOCH).
    Build {
        /// The Solution tree (manifest.yaml, images/, operator/ …).
        dir: PathBuf,
        /// The ISO to write (atomically).
        #[arg(short, long)]
        output: PathBuf,
        /// Report format of the validation.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Sign the ISO with this armored OpenPGP secret key (passphrase from
        /// SIGNING_KEY_PASSPHRASE): `<output>.asc`, for `gpg --verify`.
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
    },
    /// List the rules and their ids.
    Rules,
}

fn print_report(report: &solution_archive::Report, format: Format) {
    match format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
}

fn print_unreadable(path: &std::path::Path, message: &str, format: Format) {
    eprintln!("solution-archive: {message}");
    if let Format::Json = format {
        let value = serde_json::json!({
            "archive": path.display().to_string(),
            "valid": false,
            "error": message,
        });
        println!("{value}");
    }
}

fn run() -> anyhow::Result<u8> {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { path, format } => match validate_path(&path) {
            Ok(report) => {
                print_report(&report, format);
                Ok(if report.valid { 0 } else { 1 })
            }
            Err(e) => {
                print_unreadable(&path, &e.to_string(), format);
                Ok(2)
            }
        },
        Command::Build {
            dir,
            output,
            format,
            sign,
        } => {
            let signing = match &sign {
                None => None,
                Some(key) => {
                    let passphrase = std::env::var("SIGNING_KEY_PASSPHRASE").ok();
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    Some(buildchain_sign::SigningKey::load(
                        key,
                        passphrase.as_deref().filter(|p| !p.is_empty()),
                        now,
                    )?)
                }
            };
            let source_date_epoch =
                match std::env::var("SOURCE_DATE_EPOCH") {
                    Ok(value) => Some(value.trim().parse::<i64>().with_context(|| {
                        format!("SOURCE_DATE_EPOCH={value:?} is not an integer")
                    })?),
                    Err(_) => None,
                };
            let options = BuildOptions {
                source_date_epoch,
                signing,
            };
            match build(&dir, &output, &options) {
                Ok(outcome) => {
                    print_report(&outcome.report, format);
                    eprintln!(
                        "solution-archive: wrote {} ({} bytes, volume id {:?}, MD5 {}; {} file(s) hardlinked, {} bytes saved)",
                        output.display(),
                        outcome.summary.bytes,
                        outcome.volume_id,
                        outcome.summary.implanted_md5.as_deref().unwrap_or("none"),
                        outcome.dedup.files_linked,
                        outcome.dedup.bytes_saved,
                    );
                    Ok(0)
                }
                Err(BuildError::Invalid(report)) => {
                    print_report(&report, format);
                    eprintln!(
                        "solution-archive: {} not written: the Solution is invalid",
                        output.display()
                    );
                    Ok(1)
                }
                Err(BuildError::Open(e)) => {
                    print_unreadable(&dir, &e.to_string(), format);
                    Ok(2)
                }
                Err(e @ BuildError::Source { .. }) => {
                    print_unreadable(&dir, &e.to_string(), format);
                    Ok(2)
                }
                Err(e) => {
                    Err(anyhow::Error::new(e).context(format!("building {}", output.display())))
                }
            }
        }
        Command::Rules => {
            for rule in Rule::ALL {
                println!("{:<26} {}", rule.id(), rule.description());
            }
            Ok(0)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("solution-archive: {e:#}");
            ExitCode::from(2)
        }
    }
}

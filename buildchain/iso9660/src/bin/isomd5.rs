//! `isomd5`: implant or check the isomd5sum checksum of an image, compatible with
//! implantisomd5 / checkisomd5. Exit codes: 0 pass / implanted, 1 fail / refused,
//! 2 no checksum or unreadable.

use std::path::PathBuf;
use std::process::ExitCode;

use buildchain_iso9660::isomd5::{self, CheckOutcome};
use buildchain_iso9660::IsoError;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "isomd5",
    about = "Implant or check the isomd5sum checksum of an ISO image"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed the checksum in the primary volume descriptor (as implantisomd5).
    Implant {
        /// Overwrite an application-use area that is already used.
        #[arg(short, long)]
        force: bool,
        file: PathBuf,
    },
    /// Verify the embedded checksum (as checkisomd5).
    Check { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Implant { force, file } => match isomd5::implant(&file, force) {
            Ok(sum) => {
                println!("{}: implanted isomd5sum {}", file.display(), sum.md5);
                ExitCode::SUCCESS
            }
            Err(e @ IsoError::AppUseInUse { .. }) => {
                eprintln!("isomd5: {e}");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("isomd5: {e}");
                ExitCode::from(2)
            }
        },
        Command::Check { file } => match isomd5::check(&file) {
            Ok(CheckOutcome::Pass { md5 }) => {
                println!("{}: PASS (isomd5sum {md5})", file.display());
                ExitCode::SUCCESS
            }
            Ok(CheckOutcome::Fail {
                expected,
                actual,
                reason,
            }) => {
                println!(
                    "{}: FAIL: {reason} (expected {expected}{})",
                    file.display(),
                    actual
                        .map(|a| format!(", computed {a}"))
                        .unwrap_or_default()
                );
                ExitCode::from(1)
            }
            Ok(CheckOutcome::NoChecksum) => {
                println!("{}: no isomd5sum checksum in the image", file.display());
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("isomd5: {e}");
                ExitCode::from(2)
            }
        },
    }
}

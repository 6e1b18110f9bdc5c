//! `oci-pull [--insecure] [--platform OS/ARCH] [--cache DIR] [--jobs N] REF DEST_DIR…`:
//! stand-in for `buildchain pull` until the CLI wires `buildchain_oci::pull::pull_image`.
//! Several `REF DEST_DIR` pairs may follow the options; they share the cache.

use buildchain_oci::{pull_image, ImageReference, Platform, PullOptions};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oci-pull: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut options = PullOptions::default();
    let mut args = std::env::args().skip(1).peekable();
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--insecure" => options.insecure = true,
            "--platform" => {
                let p = args.next().ok_or("--platform needs OS/ARCH")?;
                options.platform = Platform::parse(&p).map_err(|e| e.to_string())?;
            }
            "--cache" => {
                options.cache_dir = Some(PathBuf::from(
                    args.next().ok_or("--cache needs a directory")?,
                ))
            }
            "--jobs" => {
                options.jobs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--jobs needs a number")?
            }
            _ => positional.push(arg),
        }
    }
    if positional.is_empty() || positional.len() % 2 != 0 {
        return Err("usage: oci-pull [--insecure] [--platform OS/ARCH] [--cache DIR] [--jobs N] REF DEST_DIR…".into());
    }
    let bars = std::sync::Arc::new(buildchain_oci::BarsProgress::new(
        indicatif::MultiProgress::new(),
    ));
    options.progress = bars.clone();
    let result = std::thread::scope(|scope| {
        let handles: Vec<_> = positional
            .chunks(2)
            .map(|pair| {
                let options = &options;
                scope.spawn(move || -> Result<(), String> {
                    let reference = ImageReference::parse(&pair[0]).map_err(|e| e.to_string())?;
                    let report = pull_image(&reference, &PathBuf::from(&pair[1]), options)
                        .map_err(|e| e.to_string())?;
                    println!("{} {} -> {}", report.image, report.manifest_digest, pair[1]);
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a pull thread panicked".into()))
            })
            .collect::<Result<Vec<()>, String>>()
    });
    bars.finish();
    result.map(|_| ())
}

//! `oci-dedup DIR`: hardlink identical files under DIR (stand-in for `buildchain dedup`
//! until the CLI wires `buildchain_oci::dedup::dedup_tree`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!("usage: oci-dedup DIR");
        return ExitCode::from(2);
    };
    match buildchain_oci::dedup::dedup_tree(std::path::Path::new(dir)) {
        Ok(r) => {
            println!(
                "{dir}: {} files scanned, {} linked, {} bytes saved",
                r.files_scanned, r.files_linked, r.bytes_saved
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oci-dedup: {e}");
            ExitCode::FAILURE
        }
    }
}

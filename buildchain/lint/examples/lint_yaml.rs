//! Lints the YAML files given as arguments with the default rules (debug aid):
//! `cargo run -p buildchain-lint --example lint_yaml -- FILE…`

use std::path::PathBuf;

use buildchain_lint::yaml::{self, YamlConfig};

fn main() {
    let mut failed = false;
    for path in std::env::args().skip(1).map(PathBuf::from) {
        match yaml::lint_file(&path, &YamlConfig::default()) {
            Ok(findings) => {
                failed |= !findings.is_empty();
                findings.iter().for_each(|f| println!("{f}"));
            }
            Err(error) => {
                failed = true;
                eprintln!("{error}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}

//! Fixture RPMs made by the reference tool, `rpmbuild` (noarch, one file each), and yum
//! repositories of them made by `createrepo_c`: what our fetcher and resolver read.

use std::path::Path;
use std::process::Command;

use crate::tools::{require_tool, run_ok};

/// One fixture package: `name-version-1.noarch`, holding `file` (its own name as content).
#[derive(Debug, Clone, Copy)]
pub struct FixtureRpm {
    pub name: &'static str,
    pub version: &'static str,
    pub file: &'static str,
    pub provides: &'static [&'static str],
    pub requires: &'static [&'static str],
}

/// Builds `spec` with rpmbuild (work files in `work`) into `out`.
pub fn rpmbuild(spec: &FixtureRpm, work: &Path, out: &Path) {
    let rpmbuild = require_tool("rpmbuild");
    let mut text = format!(
        "Name: {}\nVersion: {}\nRelease: 1\nSummary: fixture {}\nLicense: MIT\nBuildArch: noarch\n",
        spec.name, spec.version, spec.name
    );
    for p in spec.provides {
        text.push_str(&format!("Provides: {p}\n"));
    }
    for r in spec.requires {
        text.push_str(&format!("Requires: {r}\n"));
    }
    let dir = Path::new(spec.file)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "/".into());
    text.push_str(&format!(
        "%description\nfixture\n%install\nmkdir -p %{{buildroot}}{dir}\necho {} > %{{buildroot}}{}\n%files\n{}\n",
        spec.name, spec.file, spec.file
    ));
    std::fs::create_dir_all(work).expect("rpmbuild work dir");
    let spec_path = work.join(format!("{}-{}.spec", spec.name, spec.version));
    std::fs::write(&spec_path, text).expect("write the spec");
    run_ok(
        Command::new(rpmbuild)
            .args(["-bb", "--quiet"])
            .arg("--define")
            .arg(format!("_topdir {}", work.join("top").display()))
            .arg("--define")
            .arg(format!("_rpmdir {}", out.display()))
            .arg("--define")
            .arg("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")
            .arg(&spec_path),
    );
}

/// A yum repository at `repo`: every spec built into `repo/Packages`, then createrepo_c.
pub fn yum_repository(specs: &[FixtureRpm], repo: &Path, work: &Path) {
    let packages = repo.join("Packages");
    std::fs::create_dir_all(&packages).expect("Packages dir");
    for spec in specs {
        rpmbuild(spec, work, &packages);
    }
    run_ok(
        Command::new(require_tool("createrepo_c"))
            .args(["-q", "--no-database"])
            .arg(repo),
    );
}

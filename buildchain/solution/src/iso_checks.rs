//! Checks only an ISO image has: volume id, implanted MD5, Rock Ridge and Joliet.

use crate::manifest::SolutionManifest;
use crate::report::{excerpt, Finding, Rule};
use crate::source::ArchiveSource;

/// Checks the ISO facts of `source` (no-op for other sources).
pub fn check(
    source: &dyn ArchiveSource,
    manifest: Option<&SolutionManifest>,
    findings: &mut Vec<Finding>,
) {
    let Some(facts) = source.iso_facts() else {
        return;
    };
    if let Some(manifest) = manifest {
        let expected = manifest.volume_id();
        if facts.volume_id.trim_end() != expected {
            findings.push(Finding::error(
                Rule::IsoVolumeId,
                "",
                format!("volume id {:?}", excerpt(&facts.volume_id)),
                format!("{expected:?} (<display name or name> <version>, at most 32 bytes)"),
            ));
        }
    }
    if !facts.rock_ridge {
        findings.push(Finding::error(
            Rule::IsoRockRidge,
            "",
            "no Rock Ridge records",
            "Rock Ridge extensions (mkisofs -R)",
        ));
    }
    if !facts.joliet {
        findings.push(Finding::error(
            Rule::IsoJoliet,
            "",
            "no Joliet volume descriptor",
            "a Joliet supplementary volume descriptor (mkisofs -J -joliet-long)",
        ));
    }
    match source.check_md5() {
        Ok(None) => {}
        Ok(Some(check)) if check.ok => {}
        Ok(Some(check)) => findings.push(Finding::error(
            Rule::IsoMd5,
            "",
            format!("MD5 {}", check.found),
            format!("the implanted MD5 {}", check.expected),
        )),
        Err(e) => findings.push(Finding::error(
            Rule::IsoMd5,
            "",
            format!("checksum unreadable: {}", e.reason()),
            "a checkable implanted MD5",
        )),
    }
}

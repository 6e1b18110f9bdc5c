//! Solution ISOs: written by genisoimage + implantisomd5 and by `solution-archive build`,
//! read natively (iso9660 crate), checked against checkisomd5 and isoinfo.

mod common;

use common::*;
use solution_archive::{validate_path, Report, Severity};
use std::fs;
use std::path::Path;
use std::process::Command;

const RR_JOLIET: &[&str] = &["-R", "-J", "-joliet-long", "-uid", "0", "-gid", "0"];

fn rules(report: &Report) -> Vec<&'static str> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.rule.id())
        .collect()
}

fn iso_of(root: &Path, out: &Path, volume_id: &str, flags: &[&str]) -> Report {
    genisoimage(root, out, volume_id, flags, true);
    validate_path(out).unwrap()
}

#[test]
fn genisoimage_archive_is_valid() {
    let (dir, root) = solution();
    let iso = dir.path().join("example.iso");
    let report = iso_of(&root, &iso, VOLUME_ID, RR_JOLIET);
    assert_eq!(report.kind, "iso");
    assert!(report.findings.is_empty(), "{}", report.to_text());
    assert_eq!(report.stats.images, 3);
    let out = run(&["validate", "--format", "json", iso.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["kind"], "iso");
}

#[test]
fn flipped_byte_fails_md5_and_digest() {
    let (dir, root) = solution();
    let iso = dir.path().join("example.iso");
    genisoimage(&root, &iso, VOLUME_ID, RR_JOLIET, true);
    let pristine = fs::read(&iso).unwrap();

    // A byte of the system area (not part of any file): only the MD5 sees it.
    let mut bytes = pristine.clone();
    bytes[100] ^= 0x01;
    fs::write(&iso, &bytes).unwrap();
    let report = validate_path(&iso).unwrap();
    assert_eq!(rules(&report), ["iso.md5"], "{}", report.to_text());
    let out = run(&["validate", iso.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[iso.md5]"));

    // A byte of a layer: the MD5 and the blob digest both fail.
    let layer = fs::read(layer_path(&root, "base/2.0.0")).unwrap();
    let at = pristine
        .windows(layer.len())
        .position(|w| w == layer.as_slice())
        .unwrap();
    let mut bytes = pristine.clone();
    bytes[at + layer.len() / 2] ^= 0x01;
    fs::write(&iso, &bytes).unwrap();
    let report = validate_path(&iso).unwrap();
    let found = rules(&report);
    assert!(found.contains(&"iso.md5"), "{found:?}");
    assert!(found.contains(&"blob.digest"), "{found:?}");
}

#[test]
fn iso_rules_volume_id_rock_ridge_joliet() {
    let (dir, root) = solution();
    let iso = dir.path().join("a.iso");
    let report = iso_of(&root, &iso, "Wrong Name 1.0.0", RR_JOLIET);
    assert_eq!(rules(&report), ["iso.volume-id"], "{}", report.to_text());
    let report = iso_of(&root, &iso, VOLUME_ID, &["-R"]);
    assert_eq!(rules(&report), ["iso.joliet"], "{}", report.to_text());
    let report = iso_of(&root, &iso, VOLUME_ID, &["-J", "-joliet-long"]);
    assert!(
        rules(&report).contains(&"iso.rock-ridge"),
        "{}",
        report.to_text()
    );
    // Without implantisomd5 there is nothing to check: still valid.
    genisoimage(&root, &iso, VOLUME_ID, RR_JOLIET, false);
    let report = validate_path(&iso).unwrap();
    assert!(report.valid, "{}", report.to_text());
}

#[test]
fn truncated_iso_is_refused() {
    let (dir, root) = solution();
    let iso = dir.path().join("example.iso");
    genisoimage(&root, &iso, VOLUME_ID, RR_JOLIET, true);
    let bytes = fs::read(&iso).unwrap();
    for keep in [
        bytes.len() - 4096,
        bytes.len() / 2,
        17 * 2048,
        16 * 2048 + 10,
    ] {
        fs::write(&iso, &bytes[..keep]).unwrap();
        let out = run(&["validate", iso.to_str().unwrap()]);
        let code = out.status.code();
        assert!(code == Some(1) || code == Some(2), "{keep}: {code:?}");
        assert!(!out.stderr.is_empty() || !out.stdout.is_empty());
    }
}

#[test]
fn hostile_links_inside_an_iso() {
    let (dir, root) = solution();
    let layer = layer_path(&root, "base/2.0.0");
    fs::remove_file(&layer).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &layer).unwrap();
    std::os::unix::fs::symlink("loop", root.join("images/loop")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("images/base/up")).unwrap();
    let iso = dir.path().join("hostile.iso");
    let report = iso_of(&root, &iso, VOLUME_ID, RR_JOLIET);
    let found = rules(&report);
    assert!(found.contains(&"archive.path"), "{}", report.to_text());
    assert!(found.contains(&"archive.read"), "{}", report.to_text());
}

#[test]
fn build_writes_a_valid_iso() {
    require_tool("checkisomd5");
    require_tool("isoinfo");
    let (dir, root) = solution();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let iso = out_dir.join("example.iso");
    // The tree's own config is replaced by a generated one.
    fs::remove_file(root.join("registry-config.inc.j2")).unwrap();
    let out = Command::new(bin())
        .args(["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("5 file(s) hardlinked"), "{stderr}");
    // The source tree is untouched.
    assert!(!root.join("registry-config.inc.j2").exists());
    // Nothing but the ISO is left in the output directory.
    let left: Vec<_> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("example.iso")]);

    let report = validate_path(&iso).unwrap();
    assert!(report.findings.is_empty(), "{}", report.to_text());
    let check = Command::new("checkisomd5").arg(&iso).output().unwrap();
    assert!(
        check.status.success(),
        "checkisomd5: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let info = Command::new("isoinfo")
        .args(["-d", "-i"])
        .arg(&iso)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains(&format!("Volume id: {VOLUME_ID}")), "{info}");
    assert!(info.contains("Rock Ridge signatures version"), "{info}");
    assert!(info.contains("Joliet"), "{info}");

    // Same tree, same SOURCE_DATE_EPOCH: same bytes.
    let again = out_dir.join("again.iso");
    let out = Command::new(bin())
        .args([
            "build",
            root.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        fs::read(&iso).unwrap() == fs::read(&again).unwrap(),
        "builds differ"
    );
}

#[test]
fn build_refuses_an_invalid_tree_and_writes_nothing() {
    let (dir, root) = solution();
    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let iso = out_dir.join("example.iso");
    let layer = layer_path(&root, "example-operator/1.0.0");
    let mut data = fs::read(&layer).unwrap();
    data[10] ^= 0xff;
    fs::write(&layer, data).unwrap();
    let out = run(&[
        "build",
        root.to_str().unwrap(),
        "-o",
        iso.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0);

    // Names the registry generator refuses: reported by rule, not as a crash.
    make_image(&root, "Bad-Name", "1.0", b"x");
    let out = run(&["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[images.name]"));
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0);
    fs::remove_dir_all(root.join("images")).unwrap();
    let out = run(&["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[images.dir]"));
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0);

    fs::write(root.join("manifest.yaml"), "kind: [").unwrap();
    let out = run(&["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 0);

    let out = run(&[
        "build",
        dir.path().join("missing").to_str().unwrap(),
        "-o",
        iso.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn build_into_the_tree_itself() {
    let (_dir, root) = solution();
    let iso = root.join("example.iso");
    for _ in 0..2 {
        let out = run(&["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = validate_path(&iso).unwrap();
    assert!(report.findings.is_empty(), "{}", report.to_text());
    let image = buildchain_iso9660::IsoImage::open(&iso).unwrap();
    assert!(image.entry("example.iso").is_none());
    assert!(image
        .entries()
        .iter()
        .all(|e| !e.path.contains("solution-archive-staging")));
}

#[test]
fn damaged_metadata_never_panics() {
    let (dir, root) = solution();
    let iso = dir.path().join("example.iso");
    genisoimage(&root, &iso, VOLUME_ID, RR_JOLIET, true);
    let pristine = fs::read(&iso).unwrap();
    let damaged = dir.path().join("damaged.iso");
    // Volume descriptors, path tables and directory records live in the first sectors.
    let area = 16 * 2048..48 * 2048;
    let mut state: u64 = 42;
    let mut outcomes = [0usize; 3];
    for _ in 0..150 {
        let mut bytes = pristine.clone();
        for _ in 0..4 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = area.start + (state >> 33) as usize % area.len();
            bytes[at] = (state >> 13) as u8;
        }
        fs::write(&damaged, &bytes).unwrap();
        match validate_path(&damaged) {
            Ok(report) if report.valid => outcomes[0] += 1,
            Ok(_) => outcomes[1] += 1,
            Err(_) => outcomes[2] += 1,
        }
    }
    // Most damage is caught (by the MD5 at least); none panics.
    assert!(outcomes[1] + outcomes[2] > 100, "{outcomes:?}");
}

#[test]
fn xorriso_archive_is_valid() {
    require_tool("xorriso");
    require_tool("implantisomd5");
    let (dir, root) = solution();
    let iso = dir.path().join("xorriso.iso");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-o"])
        .arg(&iso)
        .args(["-V", VOLUME_ID, "-l", "-iso-level", "3"])
        .args(RR_JOLIET)
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xorriso: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("implantisomd5").arg(&iso).output().unwrap();
    assert!(out.status.success());
    let report = validate_path(&iso).unwrap();
    assert!(report.findings.is_empty(), "{}", report.to_text());
}

#[test]
fn hostile_rock_ridge_names() {
    let (dir, root) = solution();
    fs::write(root.join("images/qq"), "x").unwrap();
    fs::create_dir(root.join("images/base/ww")).unwrap();
    let iso = dir.path().join("names.iso");
    genisoimage(&root, &iso, VOLUME_ID, RR_JOLIET, false);
    let pristine = fs::read(&iso).unwrap();
    for (from, to) in [
        (b"qq", b".."),
        (b"qq", b"a/"),
        (b"ww", b".."),
        (b"ww", b"\0x"),
    ] {
        let mut pattern = b"NM\x07\x01\x00".to_vec();
        pattern.extend_from_slice(from);
        let at = pristine
            .windows(pattern.len())
            .position(|w| w == pattern.as_slice())
            .expect("Rock Ridge NM entry");
        let mut bytes = pristine.clone();
        bytes[at + 5..at + 7].copy_from_slice(to);
        fs::write(&iso, &bytes).unwrap();
        match validate_path(&iso) {
            Ok(report) => assert!(
                report.has_error(solution_archive::Rule::ArchivePath),
                "{:?}: {}",
                String::from_utf8_lossy(to),
                report.to_text()
            ),
            Err(e) => {
                let out = run(&["validate", iso.to_str().unwrap()]);
                assert_eq!(out.status.code(), Some(2), "{e}");
            }
        }
    }
}

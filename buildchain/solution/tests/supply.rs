//! What a Solution ISO says of itself: `sbom.spdx.json` at its root (validated by
//! pyspdxtools, naming every image by digest), and `build --sign KEY`: `<iso>.asc`, which
//! `gpg --verify` accepts; a bad key writes no ISO.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use buildchain_iso9660::IsoImage;
use common::*;

fn pyspdxtools() -> PathBuf {
    buildchain_testkit::require_venv_tool("spdx", "pyspdxtools", "PYSPDXTOOLS_BIN")
}

#[test]
fn a_solution_iso_carries_its_sbom_and_can_be_signed() {
    require_tool("gpg");
    let (dir, root) = solution();
    let w = dir.path();
    // A signing key, made by gpg.
    let home = w.join("gnupg");
    fs::create_dir(&home).unwrap();
    let mut perms = fs::metadata(&home).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    fs::set_permissions(&home, perms).unwrap();
    let gpg = || {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", &home).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        cmd
    };
    assert!(gpg()
        .args([
            "--quick-gen-key",
            "Solution Signer <s@example.com>",
            "rsa2048",
            "sign",
            "0"
        ])
        .status()
        .unwrap()
        .success());
    let secret = gpg()
        .args(["--armor", "--export-secret-keys"])
        .output()
        .unwrap()
        .stdout;
    let key = w.join("key.asc");
    fs::write(&key, secret).unwrap();

    let iso = w.join("example.iso");
    let out = Command::new(bin())
        .args(["build", root.to_str().unwrap(), "-o", iso.to_str().unwrap()])
        .arg("--sign")
        .arg(&key)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The SBOM: in the ISO, valid SPDX, every image manifest by digest.
    let image = IsoImage::open(&iso).unwrap();
    let sbom = image.read_file("sbom.spdx.json").unwrap();
    let sbom_path = w.join("sbom.spdx.json");
    fs::write(&sbom_path, &sbom).unwrap();
    let check = Command::new(pyspdxtools())
        .arg("-i")
        .arg(&sbom_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let text = String::from_utf8(sbom).unwrap();
    let manifests: Vec<&str> = image
        .entries()
        .iter()
        .filter(|e| e.path.starts_with("images/") && e.path.ends_with("/manifest.json"))
        .map(|e| e.path.as_str())
        .collect();
    assert!(!manifests.is_empty());
    for manifest in manifests {
        let digest = sha256_hex(&image.read_file(manifest).unwrap());
        assert!(
            text.contains(&digest),
            "{manifest} ({digest}) not in the SBOM"
        );
    }

    // The signature: gpg --verify accepts it; one flipped byte of the ISO fails it.
    let asc = w.join("example.iso.asc");
    assert!(gpg()
        .arg("--verify")
        .arg(&asc)
        .arg(&iso)
        .status()
        .unwrap()
        .success());
    let mut bytes = fs::read(&iso).unwrap();
    bytes[40_000] ^= 1;
    let tampered = w.join("tampered.iso");
    fs::write(&tampered, bytes).unwrap();
    assert!(!gpg()
        .arg("--verify")
        .arg(&asc)
        .arg(&tampered)
        .status()
        .unwrap()
        .success());

    // A key that cannot sign: an error naming it, and no ISO written.
    let bad = w.join("bad.asc");
    fs::write(&bad, "not a key").unwrap();
    let other = w.join("other.iso");
    let out = Command::new(bin())
        .args([
            "build",
            root.to_str().unwrap(),
            "-o",
            other.to_str().unwrap(),
        ])
        .arg("--sign")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.asc"));
    assert!(!other.exists());
}

//! Signing with SIGNING_KEY, checked by the tools every node has: `gpg --verify` on
//! SHA256SUM.asc, `rpm -K` on the built RPMs, dnf with `gpgcheck=1` and `repo_gpgcheck=1`
//! on the ISO's repository; one flipped byte fails each; bad keys are refused, naming the
//! key; the same key and epoch give the same signature.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use buildchain_testkit::run_ok;
use common::*;

/// A GnuPG home with one key made by `args` (after `--quick-gen-key <uid>`), exported.
struct Keys {
    home: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        need("gpg");
        let home = tempfile::tempdir().unwrap();
        let mut perms = fs::metadata(home.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        fs::set_permissions(home.path(), perms).unwrap();
        Keys { home }
    }

    fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback"]);
        cmd
    }

    /// Makes a key for `uid` (RSA 2048, signing), protected by `passphrase` (may be empty),
    /// expiring per `expire` (`0`: never), made at `time` (`None`: now); returns the paths
    /// of its armored secret and public keys.
    fn make(
        &self,
        uid: &str,
        passphrase: &str,
        expire: &str,
        time: Option<&str>,
    ) -> (PathBuf, PathBuf) {
        let mut cmd = self.gpg();
        if let Some(time) = time {
            cmd.arg(format!("--faked-system-time={time}"));
        }
        run_ok(cmd.args([
            "--passphrase",
            passphrase,
            "--quick-gen-key",
            uid,
            "rsa2048",
            "sign",
            expire,
        ]));
        let secret = self.home.path().join(format!("{}.key", uid.len()));
        let public = self.home.path().join(format!("{}.pub", uid.len()));
        let out = run_ok(self.gpg().args([
            "--passphrase",
            passphrase,
            "--armor",
            "--export-secret-keys",
            uid,
        ]));
        fs::write(&secret, out).unwrap();
        let out = run_ok(self.gpg().args(["--armor", "--export", uid]));
        fs::write(&public, out).unwrap();
        (secret, public)
    }
}

/// A copy of `file` in `dir` with its byte at `at` changed.
fn flipped(file: &Path, dir: &Path, at: usize) -> PathBuf {
    let mut bytes = fs::read(file).unwrap();
    bytes[at] ^= 0x01;
    let copy = dir.join(file.file_name().unwrap());
    fs::write(&copy, bytes).unwrap();
    copy
}

/// `gpg --verify SIGNATURE FILE` in a keyring holding only `public`.
fn gpg_verify(public: &Path, signature: &Path, file: &Path) -> Output {
    let home = tempfile::tempdir().unwrap();
    let gpg = || {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", home.path()).arg("--batch");
        cmd
    };
    run_ok(gpg().arg("--import").arg(public));
    gpg()
        .arg("--verify")
        .arg(signature)
        .arg(file)
        .output()
        .unwrap()
}

/// dnf installing `package` from `repo` (file://) with `gpgcheck=1` and `repo_gpgcheck=1`.
fn dnf_install(repo: &Path, key: &Path, package: &str, work: &Path) -> Output {
    let root = work.join("installroot");
    let mut dnf = dnf_in(
        &root,
        &format!(
            "[signed]\nname=signed\nbaseurl=file://{}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            repo.display(),
            key.display()
        ),
    );
    run_ok(Command::new("rpm").arg("--initdb").arg("--root").arg(&root));
    dnf.args(["--setopt=tsflags=noscripts", "-y", "install", package])
        .output()
        .unwrap()
}

#[test]
fn signatures_verify_with_gpg_rpm_and_dnf_and_tampering_fails() {
    for tool in ["gpg", "rpm", "dnf"] {
        need(tool);
    }
    let keys = Keys::new();
    let (secret, public) = keys.make("Release Signer <release@example.com>", "", "0", None);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let repo = Repo::copy();
    let signing = [("SIGNING_KEY", secret.to_str().unwrap())];
    let out = repo.run(&["iso"], &signing);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not signed"), "{}", stderr(&out));
    let build = repo.build_root();

    // SHA256SUM.asc: gpg --verify passes; a flipped byte fails.
    let (sums, asc) = (build.join("SHA256SUM"), build.join("SHA256SUM.asc"));
    let good = gpg_verify(&public, &asc, &sums);
    assert!(good.status.success(), "{}", stderr(&good));
    let tampered = flipped(&sums, w, 3);
    assert!(!gpg_verify(&public, &asc, &tampered).status.success());

    // The built RPMs: rpm -K with the key imported; a flipped byte fails.
    let repo_dir = build.join("root/packages/redhat/8/metalk8s-scality-el8");
    let rpmdb = w.join("rpmdb");
    fs::create_dir_all(&rpmdb).unwrap();
    run_ok(
        Command::new("rpm")
            .arg("--dbpath")
            .arg(&rpmdb)
            .arg("--import")
            .arg(&public),
    );
    let rpms: Vec<PathBuf> = fs::read_dir(&repo_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    assert_eq!(rpms.len(), 2);
    for rpm in &rpms {
        let said = run_ok(
            Command::new("rpm")
                .arg("--dbpath")
                .arg(&rpmdb)
                .arg("-K")
                .arg(rpm),
        );
        assert!(said.contains("digests signatures OK"), "{said}");
        let size = fs::metadata(rpm).unwrap().len() as usize;
        let bad_dir = w.join("bad-rpm");
        fs::create_dir_all(&bad_dir).unwrap();
        let bad = flipped(rpm, &bad_dir, size - 10);
        let out = Command::new("rpm")
            .arg("--dbpath")
            .arg(&rpmdb)
            .arg("-K")
            .arg(&bad)
            .output()
            .unwrap();
        assert!(
            !out.status.success() || !stdout(&out).contains("digests signatures OK"),
            "{}",
            stdout(&out)
        );
    }

    // dnf with gpgcheck=1 and repo_gpgcheck=1 installs from the repository; a flipped
    // byte in repomd.xml fails it.
    let key_file = repo_dir.join("RPM-GPG-KEY-metalk8s-scality-el8");
    assert!(repo_dir.join("repodata/repomd.xml.asc").is_file());
    let out = dnf_install(&repo_dir, &key_file, "metalk8s-release", w);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let copy = w.join("tampered-repo");
    run_ok(Command::new("cp").arg("-a").arg(&repo_dir).arg(&copy));
    let repomd = copy.join("repodata/repomd.xml");
    let text = fs::read_to_string(&repomd).unwrap();
    let at = text.find("<revision>").unwrap() + "<revision>".len();
    flipped(&repomd, &copy.join("repodata"), at);
    let out = dnf_install(&copy, &key_file, "metalk8s-release", w);
    assert!(!out.status.success(), "{}", stdout(&out));

    // Salt's yum configuration turns both checks on for the signed repository.
    let json = fs::read_to_string(build.join("root/salt/metalk8s/versions.json")).unwrap();
    assert!(
        json.contains("\"signing_key\": \"RPM-GPG-KEY-metalk8s-scality-el8\""),
        "{json}"
    );

    // `buildchain verify`: everything verifies with the key; another key fails the
    // signatures; a flipped byte of an image blob fails its digest (and the sums).
    let iso = build.join("metalk8s.iso");
    let verify = |iso: &Path, key: &Path| {
        repo.run(
            &[
                "verify",
                iso.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "--format",
                "json",
            ],
            &[],
        )
    };
    let out = verify(&iso, &public);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("\"ok\": true"), "{}", stdout(&out));
    let (_, other_public) = keys.make("Someone Else <else@example.com>", "", "0", None);
    let out = verify(&iso, &other_public);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let status = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("signature"), "failed");
    assert_eq!(status("repositories"), "failed");
    assert_eq!(status("images"), "ok");
    let blob = fs::read_dir(build.join("root/images/metalk8s-utils/0.1.0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().len() == 64)
        .unwrap();
    let blob_bytes = fs::read(&blob).unwrap();
    let mut iso_bytes = fs::read(&iso).unwrap();
    let at = iso_bytes
        .windows(blob_bytes.len())
        .position(|w| w == blob_bytes.as_slice())
        .expect("the blob in the ISO");
    iso_bytes[at + blob_bytes.len() / 2] ^= 0x01;
    let bad_dir = w.join("bad-iso");
    fs::create_dir_all(&bad_dir).unwrap();
    let bad_iso = bad_dir.join("metalk8s.iso");
    fs::write(&bad_iso, iso_bytes).unwrap();
    fs::copy(&sums, bad_dir.join("SHA256SUM")).unwrap();
    fs::copy(&asc, bad_dir.join("SHA256SUM.asc")).unwrap();
    let out = verify(&bad_iso, &public);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let images = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "images")
        .unwrap()
        .clone();
    assert_eq!(images["status"], "failed", "{report}");
    assert!(
        images["detail"]
            .as_str()
            .unwrap()
            .contains(blob.file_name().unwrap().to_str().unwrap()),
        "{report}"
    );

    // The node's scripts (common.sh: check_signature, run by bootstrap.sh and
    // iso-manager.sh for each ISO archive) accept the signed ISO with the key configured,
    // refuse a changed or unsigned one, and check nothing without a key.
    let check = |iso: &Path, key: &str| {
        Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && check_signature \"$2\"")
            .arg("bash")
            .arg(build.join("root/common.sh"))
            .arg(iso)
            .env("SIGNING_PUBLIC_KEY", key)
            .env("CONFIG_DIR", w.join("no-config"))
            .output()
            .unwrap()
    };
    let public_key = public.to_str().unwrap();
    let out = check(&iso, public_key);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = check(&bad_iso, public_key);
    assert!(
        !out.status.success() && stderr(&out).contains("the archive was changed"),
        "{}",
        stderr(&out)
    );
    fs::remove_file(bad_dir.join("SHA256SUM.asc")).unwrap();
    let out = check(&bad_iso, public_key);
    assert!(
        !out.status.success() && stderr(&out).contains("refusing an unsigned archive"),
        "{}",
        stderr(&out)
    );
    let out = check(&bad_iso, other_public.to_str().unwrap());
    assert!(!out.status.success());
    assert!(check(&bad_iso, "").status.success(), "no key: not checked");

    // The same key and epoch: the same signature bytes (RSA signatures are deterministic).
    let again = w.join("again");
    let out = repo.run(
        &["iso"],
        &[signing[0], ("BUILD_ROOT", again.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs::read(again.join("SHA256SUM.asc")).unwrap(),
        fs::read(&asc).unwrap()
    );
}

#[test]
fn bad_signing_keys_are_refused_naming_the_key() {
    let keys = Keys::new();
    let (locked, _) = keys.make("Locked <locked@example.com>", "secret", "0", None);
    let (expired, _) = keys.make(
        "Expired <expired@example.com>",
        "",
        "1d",
        Some("20200101T000000"),
    );
    let repo = Repo::copy();
    let list = |env: &[(&str, &str)]| repo.run(&["list"], env);
    let path = |p: &Path| p.to_str().unwrap().to_string();

    let locked_path = path(&locked);
    let out = list(&[("SIGNING_KEY", &locked_path)]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&locked_path) && stderr(&out).contains("passphrase"),
        "{}",
        stderr(&out)
    );
    ok(&list(&[
        ("SIGNING_KEY", &locked_path),
        ("SIGNING_KEY_PASSPHRASE", "secret"),
    ]));
    let out = list(&[
        ("SIGNING_KEY", &locked_path),
        ("SIGNING_KEY_PASSPHRASE", "wrong"),
    ]);
    assert!(!out.status.success(), "{}", stderr(&out));

    let expired_path = path(&expired);
    let out = list(&[("SIGNING_KEY", &expired_path)]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));

    let work = tempfile::tempdir().unwrap();
    let public_only = work.path().join("public.asc");
    fs::write(
        &public_only,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n",
    )
    .unwrap();
    let out = list(&[("SIGNING_KEY", &path(&public_only))]);
    assert!(
        !out.status.success() && stderr(&out).contains("not an armored OpenPGP secret key"),
        "{}",
        stderr(&out)
    );
    // A FIFO in the key's place is refused, not waited on.
    let fifo = work.path().join("fifo.asc");
    run_ok(Command::new("mkfifo").arg(&fifo));
    let out = list(&[("SIGNING_KEY", &path(&fifo))]);
    assert!(
        !out.status.success() && stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    let out = list(&[("SIGNING_KEY", "/nonexistent/key.asc")]);
    assert!(
        !out.status.success() && stderr(&out).contains("/nonexistent/key.asc"),
        "{}",
        stderr(&out)
    );
}

/// A key whose signing subkey is newer than the commit (and than its primary key): the
/// signatures are made no earlier than that subkey, so gpg accepts them; once the key is
/// revoked, `buildchain verify` and the node's check refuse what it signed; an ISO name
/// with spaces is checked as any other.
#[test]
fn subkeys_revocations_and_names_with_spaces() {
    for tool in ["gpg", "rpm"] {
        need(tool);
    }
    let keys = Keys::new();
    let uid = "Sub Signer <sub@example.com>";
    run_ok(keys.gpg().args([
        "--faked-system-time=20250101T000000",
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "rsa2048",
        "cert",
        "0",
    ]));
    let listing = run_ok(keys.gpg().args(["--with-colons", "--list-keys", uid]));
    let fingerprint = listing
        .lines()
        .find_map(|l| l.strip_prefix("fpr:"))
        .map(|l| l.trim_matches(':').to_string())
        .unwrap();
    run_ok(keys.gpg().args([
        "--passphrase",
        "",
        "--quick-add-key",
        &fingerprint,
        "rsa2048",
        "sign",
        "0",
    ]));
    let secret = keys.home.path().join("sub.key");
    let public = keys.home.path().join("sub.pub");
    fs::write(
        &secret,
        run_ok(
            keys.gpg()
                .args(["--passphrase", "", "--armor", "--export-secret-keys", uid]),
        ),
    )
    .unwrap();
    fs::write(
        &public,
        run_ok(keys.gpg().args(["--armor", "--export", uid])),
    )
    .unwrap();

    let repo = Repo::copy();
    let out = repo.run(&["iso"], &[("SIGNING_KEY", secret.to_str().unwrap())]);
    assert!(out.status.success(), "{}", stderr(&out));
    let build = repo.build_root();
    let (sums, asc) = (build.join("SHA256SUM"), build.join("SHA256SUM.asc"));
    let good = gpg_verify(&public, &asc, &sums);
    assert!(good.status.success(), "{}", stderr(&good));

    // An ISO named with spaces, next to its signed sums: the node's check accepts it.
    let work = tempfile::tempdir().unwrap();
    let spaced = work.path().join("my release.iso");
    fs::copy(build.join("metalk8s.iso"), &spaced).unwrap();
    let hex = buildchain_fs::sha256_file(&spaced).unwrap();
    fs::write(
        work.path().join("SHA256SUM"),
        format!("{hex}  my release.iso\n"),
    )
    .unwrap();
    let sign = |file: &Path| {
        run_ok(
            keys.gpg()
                .args(["--passphrase", "", "--armor", "--detach-sign", "--yes"])
                .arg(file),
        )
    };
    sign(&work.path().join("SHA256SUM"));
    let check = |key: &Path| {
        Command::new("bash")
            .arg("-c")
            .arg("source \"$1\" && check_signature \"$2\"")
            .arg("bash")
            .arg(build.join("root/common.sh"))
            .arg(&spaced)
            .env("SIGNING_PUBLIC_KEY", key)
            .env("CONFIG_DIR", work.path().join("no-config"))
            .output()
            .unwrap()
    };
    let out = check(&public);
    assert!(out.status.success(), "{}", stderr(&out));

    // Revoked: what the key signed is refused by verify and by the node's check.
    let revocation = keys
        .home
        .path()
        .join(format!("openpgp-revocs.d/{fingerprint}.rev"));
    let certificate = fs::read_to_string(&revocation)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    let certificate_path = work.path().join("revocation.asc");
    fs::write(&certificate_path, certificate).unwrap();
    run_ok(keys.gpg().arg("--import").arg(&certificate_path));
    let revoked = work.path().join("revoked.pub");
    fs::write(
        &revoked,
        run_ok(keys.gpg().args(["--armor", "--export", uid])),
    )
    .unwrap();
    let out = repo.run(
        &[
            "verify",
            build.join("metalk8s.iso").to_str().unwrap(),
            "--key",
            revoked.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        !out.status.success() && stdout(&out).contains("revoked"),
        "{}",
        stdout(&out)
    );
    let out = check(&revoked);
    assert!(
        !out.status.success() && stderr(&out).contains("revoked"),
        "{}",
        stderr(&out)
    );
}

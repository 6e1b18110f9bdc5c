//! The ISO built from the repository's own distribution: checked with the real tools.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

fn tool_output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn iso_builds_checks_and_rebuilds_only_what_changed() {
    for tool in ["checkisomd5", "isoinfo", "sha256sum"] {
        need(tool);
    }
    let repo = Repo::copy();
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert!(out.contains("SUCCESS  _iso_build"), "{out}");
    let build = repo.build_root();
    let iso = build.join("metalk8s.iso");

    tool_output(Command::new("checkisomd5").arg(&iso));
    let sums = tool_output(
        Command::new("sha256sum")
            .arg("-c")
            .arg("SHA256SUM")
            .current_dir(&build),
    );
    assert_eq!(sums.trim(), "metalk8s.iso: OK");
    let info = tool_output(Command::new("isoinfo").arg("-d").arg("-i").arg(&iso));
    let volume = format!("Volume id: MetalK8s {}", version_of(repo.path()));
    assert!(info.lines().any(|l| l.trim() == volume), "{info}");
    let files = tool_output(Command::new("isoinfo").args(["-R", "-f", "-i"]).arg(&iso));
    for wanted in [
        "/product.txt",
        "/bootstrap.sh",
        "/iso-manager.sh",
        "/solutions.sh",
        "/common.sh",
        "/examples",
        "/documentation",
        "/salt/metalk8s/versions.json",
        "/salt/metalk8s/repo/files/metalk8s-registry.inc",
        "/salt/metalk8s/repo/files/metalk8s-registry-common.inc",
        "/salt/top.sls",
        "/pillar/top.sls",
        "/images",
        "/packages/redhat/8/metalk8s-scality-el8",
    ] {
        assert!(
            files.lines().any(|l| l == wanted),
            "{wanted} missing from the ISO:\n{files}"
        );
    }
    assert!(
        !files.contains(".in\n"),
        "templates are rendered, not shipped:\n{files}"
    );
    let product = tool_output(
        Command::new("isoinfo")
            .args(["-R", "-x", "/product.txt", "-i"])
            .arg(&iso),
    );
    let keys: Vec<&str> = product
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "NAME",
            "VERSION",
            "SHORT_VERSION",
            "GIT",
            "DEVELOPMENT_RELEASE",
            "BUILD_TIMESTAMP",
            "BUILD_HOST"
        ]
    );
    assert!(
        product.contains("BUILD_TIMESTAMP=2023-11-14T22:13:20Z\nBUILD_HOST=builder\n"),
        "{product}"
    );
    let versions = std::fs::read_to_string(build.join("root/salt/metalk8s/versions.json")).unwrap();
    assert!(versions.starts_with("{\n  \"images\""), "{versions}");
    let mode = std::fs::metadata(build.join("root/bootstrap.sh")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o755,
        "modes of iso/*.in kept"
    );

    // Nothing changed: only SKIPPED.
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED  ")), "{out}");

    // One Salt file changed: the Salt tree and the ISO tasks re-run, nothing else.
    let sls = repo.path().join("salt/metalk8s/repo/init.sls");
    let mut text = std::fs::read_to_string(&sls).unwrap();
    text.push_str("\n# changed\n");
    std::fs::write(&sls, text).unwrap();
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert_eq!(
        with_status(&out, "STARTED"),
        ["_iso_build", "_salt_tree:salt"],
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| !l.starts_with("SKIPPED") && (l.contains("image") || l.contains("packag"))),
        "{out}"
    );
    tool_output(Command::new("checkisomd5").arg(&iso));
}

#[test]
fn two_clean_builds_are_byte_identical() {
    let repo = Repo::copy();
    let a = repo.path().join("build-a");
    let b = repo.path().join("build-b");
    ok(&repo.run(&["--build-root", a.to_str().unwrap(), "iso"], &[]));
    // A different host name and job count must not change a byte (BUILD_HOST is fixed).
    ok(&repo.run(
        &["--build-root", b.to_str().unwrap(), "-n", "1", "iso"],
        &[],
    ));
    let (ia, ib) = (
        std::fs::read(a.join("metalk8s.iso")).unwrap(),
        std::fs::read(b.join("metalk8s.iso")).unwrap(),
    );
    assert!(ia == ib, "ISOs differ");
    assert_eq!(
        std::fs::read(a.join("SHA256SUM")).unwrap(),
        std::fs::read(b.join("SHA256SUM")).unwrap()
    );
}

#[test]
fn killed_build_then_rerun_gives_the_same_bytes() {
    let repo = Repo::copy();
    // A big (sparse) document makes the copy and the ISO write long enough to be killed.
    let big = std::fs::File::create(repo.path().join("docs/big.bin")).unwrap();
    big.set_len(96 << 20).unwrap();
    drop(big);
    let reference = repo.path().join("reference");
    ok(&repo.run(&["--build-root", reference.to_str().unwrap()], &[]));
    let expected = std::fs::read(reference.join("metalk8s.iso")).unwrap();
    std::fs::remove_dir_all(&reference).unwrap();

    for kill_at in [
        "STARTED  _iso_add_tree:documentation",
        "STARTED  _iso_build",
    ] {
        let build = repo.path().join("killed");
        let mut child = repo
            .command(&["--build-root", build.to_str().unwrap(), "-n", "2"], &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = false;
        for line in BufReader::new(stdout).lines() {
            if line.unwrap().starts_with(kill_at) {
                seen = true;
                break;
            }
        }
        assert!(seen, "the build never printed {kill_at:?}");
        std::thread::sleep(std::time::Duration::from_millis(30));
        // SIGKILL, as `kill -9`.
        child.kill().unwrap();
        child.wait().unwrap();
        let out = ok(&repo.run(&["--build-root", build.to_str().unwrap(), "-n", "2"], &[]));
        assert!(
            with_status(&out, "STARTED").contains(&"_iso_build".to_string()),
            "killed at {kill_at:?}: the killed run must not have completed the ISO:\n{out}"
        );
        let got = std::fs::read(build.join("metalk8s.iso")).unwrap();
        assert!(
            got == expected,
            "killed at {kill_at:?}: re-run differs from an uninterrupted build"
        );
        let leftovers: Vec<_> = std::fs::read_dir(build.join("root"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&build).unwrap();
    }
}

//! Releases over time, against the real tools: two builds of this repository with
//! different content; `buildchain diff` lists exactly the changes; the delta ISO is read
//! by bsdtar, `apply-delta.sh` rebuilds the new tree from the old one (`diff -r` finds it
//! identical to the new ISO unpacked) and nginx serves its images to skopeo; a corrupted
//! delta is refused and the old tree is left as it was. upgrade.sh and downgrade.sh run
//! with stand-ins for salt-call, dnf and mount, and the sequence of calls is checked.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{need, ok, stderr, stdout, Repo, EPOCH};

fn unpack(iso: &Path, dest: &Path) {
    need("bsdtar");
    fs::create_dir_all(dest).unwrap();
    let out = Command::new("bsdtar")
        .arg("-xf")
        .arg(iso)
        .arg("-C")
        .arg(dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "bsdtar: {}", stderr(&out));
}

/// Every file under `dir` with its content: what "left as it was" is checked against.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                );
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            }
        }
    }
    out
}

/// What a node script said: it logs through tee, stderr joins stdout.
fn said(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

/// 8 MiB of content both releases share (what a real release mostly is: unchanged layers
/// and packages), deterministic.
fn add_shared_content(repo: &Path) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..8 << 20)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    fs::write(repo.join("docs/reference-data.bin"), bytes).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut content = fs::read_to_string(path).unwrap();
    content.push_str(text);
    fs::write(path, content).unwrap();
}

/// The changes of the second release: a changed image file, an added package, a changed
/// Salt state, and the next patch version.
fn change_release(repo: &Path) {
    append(
        &repo.join("images/metalk8s-utils/files/etc/metalk8s-utils.conf"),
        "# 0.1.1\n",
    );
    let extra = repo.join("packages/metalk8s-extra");
    fs::create_dir_all(&extra).unwrap();
    fs::write(extra.join("extra.conf"), "extra = true\n").unwrap();
    fs::write(
        extra.join("package.toml"),
        "name = \"metalk8s-extra\"\nversion = \"1.0\"\nrelease = \"1\"\nsummary = \"extra\"\n\
         description = \"An added package.\"\nlicense = \"Apache-2.0\"\narch = \"noarch\"\n\n\
         [[files]]\nsource = \"packages/metalk8s-extra/extra.conf\"\ndest = \"/etc/metalk8s-extra.conf\"\nmode = \"0644\"\n",
    )
    .unwrap();
    append(
        &repo.join("versions.toml"),
        "\n[[packages]]\nname = \"metalk8s-extra\"\nrepository = \"metalk8s-scality-el8\"\nsource = \"build\"\n",
    );
    append(
        &repo.join("salt/metalk8s/repo/installed.sls"),
        "# changed in 0.1.1\n",
    );
    let version = fs::read_to_string(repo.join("VERSION")).unwrap();
    fs::write(
        repo.join("VERSION"),
        version.replace("VERSION_PATCH=0", "VERSION_PATCH=1"),
    )
    .unwrap();
}

fn run_script(script: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn diff_delta_apply_and_serve() {
    for tool in ["bsdtar", "nginx", "skopeo", "checkisomd5", "isoinfo"] {
        need(tool);
    }
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let old_repo = Repo::copy();
    add_shared_content(old_repo.path());
    ok(&old_repo.run(&["iso"], &[]));
    let old_iso = w.join("metalk8s-0.1.0-dev.iso");
    fs::copy(old_repo.build_root().join("metalk8s.iso"), &old_iso).unwrap();

    let new_repo = Repo::copy();
    add_shared_content(new_repo.path());
    change_release(new_repo.path());
    let out = new_repo.run(&["iso", "--delta-from", old_iso.to_str().unwrap()], &[]);
    ok(&out);
    let new_iso = new_repo.build_root().join("metalk8s.iso");
    let delta_dir = new_repo.build_root().join("delta");
    let delta_iso = delta_dir.join("metalk8s-0.1.0-dev-to-0.1.1-dev.delta.iso");
    assert!(delta_iso.is_file(), "{}", stdout(&out));

    // diff: exactly the changes made, and what follows from them.
    let out = new_repo.run(
        &[
            "diff",
            old_iso.to_str().unwrap(),
            new_iso.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    eprintln!("{report:#}");
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{report:#}");
    assert_eq!(images[0]["name"], "metalk8s-utils");
    assert_eq!(images[0]["change"], "changed");
    assert_ne!(images[0]["old_digest"], images[0]["new_digest"]);
    assert!(images[0]["new_bytes"].as_u64().unwrap() > 0);
    let packages: Vec<(String, String)> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        packages.contains(&("metalk8s-extra".into(), "added".into())),
        "{packages:?}"
    );
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    // The changed state, and what follows from the changes: every script and top file
    // carries the version, the registry include and versions.json the image's digest,
    // the SBOM everything.
    assert_eq!(
        files,
        [
            "apply-delta.sh",
            "backup.sh",
            "bootstrap.sh",
            "common.sh",
            "downgrade.sh",
            "pillar/top.sls",
            "restore.sh",
            "salt/metalk8s/repo/files/metalk8s-registry.inc",
            "salt/metalk8s/repo/installed.sls",
            "salt/metalk8s/versions.json",
            "salt/top.sls",
            "sbom.spdx.json",
            "solutions.sh",
            "upgrade.sh",
        ],
        "{report:#}"
    );
    assert_eq!(packages.len(), 1, "{packages:?}");
    let versions: Vec<&serde_json::Value> = report["product"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["key"] == "VERSION")
        .collect();
    assert_eq!(versions[0]["old"], "0.1.0-dev");
    assert_eq!(versions[0]["new"], "0.1.1-dev");
    // The same release twice: no change, and --exit-code says so.
    let out = new_repo.run(
        &[
            "diff",
            new_iso.to_str().unwrap(),
            new_iso.to_str().unwrap(),
            "--exit-code",
        ],
        &[],
    );
    assert!(ok(&out).contains("no change"), "{}", stdout(&out));
    let out = new_repo.run(
        &[
            "diff",
            old_iso.to_str().unwrap(),
            new_iso.to_str().unwrap(),
            "--exit-code",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("metalk8s-utils") && table.contains("metalk8s-extra"),
        "{table}"
    );

    // What cannot be read is not "different": exit 2, as diff(1).
    let out = new_repo.run(
        &[
            "diff",
            old_iso.to_str().unwrap(),
            "/nonexistent",
            "--exit-code",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/nonexistent"), "{}", stderr(&out));

    // OLD must be an earlier release, intact: not this build's own ISO, not a damaged one.
    let out = new_repo.run(&["iso", "--delta-from", new_iso.to_str().unwrap()], &[]);
    assert!(
        !out.status.success() && stderr(&out).contains("this build writes it"),
        "{}",
        stderr(&out)
    );
    let damaged = w.join("damaged.iso");
    let mut bytes = fs::read(&old_iso).unwrap();
    let at = bytes.len() - 300 * 1024;
    bytes[at] ^= 0xff;
    fs::write(&damaged, bytes).unwrap();
    let out = new_repo.run(&["iso", "--delta-from", damaged.to_str().unwrap()], &[]);
    assert!(
        !out.status.success() && said(&out).contains("implanted MD5 does not match"),
        "{}",
        said(&out)
    );
    // The delta from the right OLD again (the refused runs left the previous one).
    ok(&new_repo.run(&["iso", "--delta-from", old_iso.to_str().unwrap()], &[]));

    // The delta: a checkable ISO, smaller than the full one by at least what is unchanged.
    let check = Command::new("checkisomd5")
        .arg(&delta_iso)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stdout(&check));
    let sums = fs::read_to_string(delta_dir.join("SHA256SUM")).unwrap();
    assert!(
        sums.ends_with("  metalk8s-0.1.0-dev-to-0.1.1-dev.delta.iso\n"),
        "{sums}"
    );
    let (full, delta) = (
        fs::metadata(&new_iso).unwrap().len(),
        fs::metadata(&delta_iso).unwrap().len(),
    );
    let new_bytes = report["new_content"]["bytes"].as_u64().unwrap();
    let total = report["new_content"]["total_bytes"].as_u64().unwrap();
    eprintln!(
        "full ISO {full} bytes, delta {delta} bytes, new content {new_bytes} of {total} bytes"
    );
    // Unchanged content stays out: the delta is what is new, its manifest and scripts,
    // within an ISO (one with an implanted MD5 is at least 336 sectors).
    assert!(
        delta <= (new_bytes + (256 << 10)).max(336 * 2048),
        "full {full}, delta {delta}"
    );
    assert!(
        full - delta >= total - new_bytes - 336 * 2048,
        "full {full}, delta {delta}"
    );

    // Applied on the node: OLD (unpacked) + the delta (unpacked) = NEW.
    let (old_tree, new_tree, delta_tree) = (w.join("old"), w.join("new"), w.join("delta"));
    unpack(&old_iso, &old_tree);
    unpack(&new_iso, &new_tree);
    unpack(&delta_iso, &delta_tree);
    let objects: u64 = fs::read_dir(delta_tree.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(
        objects, new_bytes,
        "the delta holds each new content once, nothing else"
    );
    let before = snapshot(&old_tree);
    let applied = w.join("applied");
    let env: Vec<(&str, &Path)> = vec![("LOG_DIR", w), ("CONFIG_DIR", w)];
    let apply = |delta: &Path, output: &Path| {
        run_script(
            &delta.join("apply-delta.sh"),
            &[
                "--from",
                old_tree.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
            ],
            &env,
        )
    };
    let out = apply(&delta_tree, &applied);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let same = Command::new("diff")
        .arg("-r")
        .arg(&applied)
        .arg(&new_tree)
        .output()
        .unwrap();
    assert!(same.status.success(), "diff -r: {}", stdout(&same));
    assert_eq!(snapshot(&old_tree), before, "the old tree is read only");
    // Again into the same directory: refused, nothing changed.
    let out = apply(&delta_tree, &applied);
    assert!(
        !out.status.success() && said(&out).contains("exists"),
        "{}",
        said(&out)
    );

    // A delta with one byte flipped in one blob: refused, no new tree, OLD untouched.
    let bad_delta = w.join("bad-delta");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&delta_tree)
        .arg(&bad_delta)
        .status()
        .unwrap();
    assert!(status.success());
    let object = fs::read_dir(bad_delta.join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&object, bytes).unwrap();
    let refused = w.join("refused");
    let out = apply(&bad_delta, &refused);
    assert!(
        !out.status.success() && said(&out).contains("corrupted"),
        "{}",
        said(&out)
    );
    assert!(!refused.exists());
    let leftovers: Vec<_> = fs::read_dir(w)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(snapshot(&old_tree), before);
    // Applied to another version: refused, naming both.
    let out = run_script(
        &delta_tree.join("apply-delta.sh"),
        &[
            "--from",
            new_tree.to_str().unwrap(),
            "--output",
            w.join("x").to_str().unwrap(),
        ],
        &env,
    );
    assert!(
        !out.status.success() && said(&out).contains("applies to 0.1.0-dev"),
        "{}",
        said(&out)
    );

    // Crafted manifests (delta.txt rewritten to match): refused before anything is
    // written, nothing appears outside the tree.
    let outside = w.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let manifest = fs::read_to_string(delta_tree.join("manifest.tsv")).unwrap();
    let a_file = manifest
        .lines()
        .find(|l| l.starts_with("f\t"))
        .unwrap()
        .to_string();
    let fields: Vec<&str> = a_file.split('\t').collect();
    let with_line = |line: String| format!("{manifest}{line}\n");
    for (name, crafted, message) in [
        (
            "traversal",
            with_line(format!("f\t0644\t{}\t{}\t-\t{}\t../outside/evil", fields[2], fields[3], fields[5])),
            "\"..\" component",
        ),
        ("escaping link", with_line("l\t0777\t0\t-\t-\t../../outside\tdocumentation/out".into()), "leaves the archive"),
        ("link through a link", format!("{manifest}l\t0777\t0\t-\t-\t../..\tsalt/metalk8s/d\nl\t0777\t0\t-\t-\td/..\tsalt/metalk8s/e\n"), "goes through another link"),
        ("link under a link", format!("{manifest}l\t0777\t0\t-\t-\t.\tdocumentation/here\nl\t0777\t0\t-\t-\tx\tdocumentation/here/x\n"), "not in a directory listed before it"),
        (
            "setuid",
            with_line(format!("f\t4755\t{}\t{}\t-\t{}\tdocumentation/suid", fields[2], fields[3], fields[5])),
            "set-id",
        ),
        ("empty field", with_line("d\t0755\t\t-\t-\t-\tdocumentation/empty".into()), "an empty field"),
    ] {
        let crafted_delta = w.join(format!("crafted-{}", name.replace(' ', "-")));
        let status = Command::new("cp").arg("-a").arg(&delta_tree).arg(&crafted_delta).status().unwrap();
        assert!(status.success());
        for file in ["manifest.tsv", "delta.txt"] {
            fs::set_permissions(crafted_delta.join(file), fs::Permissions::from_mode(0o644)).unwrap();
        }
        fs::write(crafted_delta.join("manifest.tsv"), &crafted).unwrap();
        let sum = Command::new("sha256sum").arg(crafted_delta.join("manifest.tsv")).output().unwrap();
        let sum = stdout(&sum)[..64].to_string();
        let description = fs::read_to_string(crafted_delta.join("delta.txt")).unwrap();
        let description: String = description
            .lines()
            .map(|l| if l.starts_with("MANIFEST_SHA256=") { format!("MANIFEST_SHA256={sum}\n") } else { format!("{l}\n") })
            .collect();
        fs::write(crafted_delta.join("delta.txt"), description).unwrap();
        let target = w.join(format!("out-{}", name.replace(' ', "-")));
        let out = apply(&crafted_delta, &target);
        assert!(!out.status.success() && said(&out).contains(message), "{name}: {}", said(&out));
        assert!(!target.exists(), "{name}");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "{name}");
    }

    // nginx serves the rebuilt tree's images with the registry include it ships; skopeo
    // pulls them.
    let product_id = "metalk8s-0.1.1-dev";
    let files = applied.join("salt/metalk8s/repo/files");
    let server = buildchain_testkit::Nginx::start(
        &w.join("nginx"),
        &format!(
            "set $metalk8s_0_1_1_dev_images \"{}/images/\";\ninclude {};\ninclude {};",
            applied.display(),
            files.join("metalk8s-registry-common.inc").display(),
            files.join("metalk8s-registry.inc").display()
        ),
    );
    let reference = format!(
        "docker://{}/{product_id}/metalk8s-utils:0.1.0",
        server.host()
    );
    let copy = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", &reference])
        .arg(format!("dir:{}", w.join("pulled").display()))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "skopeo copy {reference}: {}",
        stderr(&copy)
    );
}

/// Stand-ins for salt-call, dnf, mount and umount: each appends its name and arguments
/// to `calls`.
fn stand_ins(dir: &Path, calls: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in ["salt-call", "dnf", "mount", "umount"] {
        let path = bin.join(tool);
        fs::write(
            &path,
            format!("#!/bin/bash\necho \"{tool} $*\" >> '{}'\n", calls.display()),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[test]
fn upgrade_and_downgrade_check_versions_and_call_salt_in_order() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let old_repo = Repo::copy();
    ok(&old_repo.run(&["populate-iso"], &[]));
    let new_repo = Repo::copy();
    change_release(new_repo.path());
    ok(&new_repo.run(&["populate-iso"], &[]));
    let (old, new) = (
        old_repo.build_root().join("root"),
        new_repo.build_root().join("root"),
    );

    let calls = w.join("calls");
    let bin = stand_ins(w, &calls);
    let etc = w.join("etc");
    fs::create_dir_all(&etc).unwrap();
    let config = etc.join("bootstrap.yaml");
    fs::write(
        &config,
        format!(
            "apiVersion: metalk8s.scality.com/v1alpha3\nkind: BootstrapConfiguration\narchives:\n  - \"{}\"\n  - \"{}\"\n",
            old.display(),
            new.display()
        ),
    )
    .unwrap();
    fs::write(etc.join("deployed-version"), "0.1.0-dev\n").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |script: &Path, args: &[&str]| -> (Output, Vec<String>) {
        let _ = fs::remove_file(&calls);
        let out = Command::new("bash")
            .arg(script)
            .args(args)
            .env("PATH", &path)
            .env("CONFIG_DIR", &etc)
            .env("ARCHIVES_ROOT", w.join("srv"))
            .env("LOG_DIR", w.join("log"))
            .env("FSTAB", w.join("fstab"))
            .env("SALT_MINION_CONFIG", w.join("minion.conf"))
            .output()
            .unwrap();
        let calls = fs::read_to_string(&calls).unwrap_or_default();
        (out, calls.lines().map(str::to_string).collect())
    };
    let salt = |what: &str, env: &str, test: &str| {
        format!("salt-call --local --retcode-passthrough --state-output=mixed {what} saltenv={env} pillarenv={env} test={test}")
    };
    let (old_id, new_id) = ("metalk8s-0.1.0-dev", "metalk8s-0.1.1-dev");

    // upgrade --dry-run: Salt in test mode only, nothing recorded.
    let (out, seen) = run(&new.join("upgrade.sh"), &["--dry-run"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        seen,
        [
            salt("state.sls metalk8s.repo", new_id, "True"),
            salt("state.sls metalk8s.yum", new_id, "True"),
            salt("state.apply", new_id, "True"),
        ]
    );
    assert_eq!(
        fs::read_to_string(etc.join("deployed-version")).unwrap(),
        "0.1.0-dev\n"
    );
    assert!(!w.join("srv").exists(), "a dry run mounts nothing");

    // The upgrade: both archives made available, the package metadata refreshed, the
    // version recorded last.
    let (out, seen) = run(&new.join("upgrade.sh"), &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        seen,
        [
            salt("state.sls metalk8s.repo", new_id, "False"),
            salt("state.sls metalk8s.yum", new_id, "False"),
            "dnf --assumeyes makecache --refresh".to_string(),
            salt("state.apply", new_id, "False"),
        ]
    );
    for id in [old_id, new_id] {
        assert!(
            w.join("srv").join(id).join("product.txt").is_file(),
            "{id} not available"
        );
    }
    let minion = fs::read_to_string(w.join("minion.conf")).unwrap();
    assert!(
        minion.contains(old_id) && minion.contains(new_id),
        "{minion}"
    );
    assert_eq!(
        fs::read_to_string(etc.join("deployed-version")).unwrap(),
        "0.1.1-dev\n"
    );
    assert!(fs::read_to_string(w.join("log/upgrade.log"))
        .unwrap()
        .contains("Record 0.1.1-dev"));

    // Again: nothing to upgrade. The old version's upgrade.sh: that is a downgrade.
    let (out, seen) = run(&new.join("upgrade.sh"), &["--dry-run"]);
    assert!(
        !out.status.success() && said(&out).contains("already runs 0.1.1-dev"),
        "{}",
        said(&out)
    );
    assert!(seen.is_empty());
    let (out, _) = run(&old.join("upgrade.sh"), &[]);
    assert!(
        said(&out).contains("use the downgrade.sh of 0.1.1-dev"),
        "{}",
        said(&out)
    );

    // downgrade: the repositories stay served by the running version's states, the node
    // switches to the destination's.
    let (out, seen) = run(
        &new.join("downgrade.sh"),
        &["--destination-version", "0.1.0-dev", "--dry-run"],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(
        seen,
        [
            salt("state.sls metalk8s.repo", new_id, "True"),
            salt("state.sls metalk8s.yum", old_id, "True"),
            salt("state.apply", old_id, "True"),
        ]
    );
    for (args, message) in [
        (
            vec!["--destination-version", "0.0.9"],
            "crosses a minor version",
        ),
        (
            vec!["--destination-version", "0.1.2"],
            "is newer than 0.1.1-dev",
        ),
        (vec!["--destination-version", "latest"], "is not a version"),
        (vec![], "--destination-version is required"),
    ] {
        let (out, seen) = run(&new.join("downgrade.sh"), &args);
        assert!(
            !out.status.success() && said(&out).contains(message),
            "{args:?}: {}",
            said(&out)
        );
        assert!(seen.is_empty(), "{args:?}: {seen:?}");
    }
    let (out, seen) = run(
        &new.join("downgrade.sh"),
        &["--destination-version", "0.1.0-dev"],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(
        fs::read_to_string(etc.join("deployed-version")).unwrap(),
        "0.1.0-dev\n"
    );

    // An upgrade whose archive is not configured: refused before anything runs.
    fs::write(
        &config,
        format!("apiVersion: metalk8s.scality.com/v1alpha3\nkind: BootstrapConfiguration\narchives:\n  - \"{}\"\n", old.display()),
    )
    .unwrap();
    let (out, seen) = run(&new.join("upgrade.sh"), &[]);
    assert!(
        !out.status.success() && said(&out).contains("iso-manager.sh --add-archive"),
        "{}",
        said(&out)
    );
    assert!(seen.is_empty(), "{seen:?}");

    // The version rules (common.sh), on versions these two releases cannot show.
    let rule = |check: &str, from: &str, to: &str| -> Output {
        Command::new("bash")
            .arg("-c")
            .arg(format!("source \"$1\" && {check} \"$2\" \"$3\""))
            .arg("bash")
            .arg(new.join("common.sh"))
            .arg(from)
            .arg(to)
            .output()
            .unwrap()
    };
    for (from, to) in [
        ("1.2.3", "1.2.4"),
        ("1.2.3", "1.3.0"),
        ("1.2.3", "2.0.0"),
        ("1.9.0", "2.0.1"),
        ("1.2.0-rc.9", "1.2.0-rc.10"),
        ("1.2.0-dev", "1.2.0"),
    ] {
        let out = rule("check_upgrade", from, to);
        assert!(out.status.success(), "{from} -> {to}: {}", said(&out));
    }
    for (from, to, message) in [
        (
            "1.2.3",
            "1.4.0",
            "skips a minor version: upgrade to 1.3 first",
        ),
        ("1.9.3", "2.1.0", "upgrade to 2.0 first"),
        ("1.2.3", "3.0.0", "skips a major version"),
        ("1.2.0", "1.2.0-rc.1", "newer than 1.2.0-rc.1"),
        ("1.2.0", "1.02.0", "is not a version"),
    ] {
        let out = rule("check_upgrade", from, to);
        assert!(
            !out.status.success() && said(&out).contains(message),
            "{from} -> {to}: {}",
            said(&out)
        );
    }
    let _ = EPOCH;
}

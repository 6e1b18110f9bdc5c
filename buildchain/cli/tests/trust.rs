//! What a release tool must never do, tried as a hostile user would (issue "Trust"): lose
//! data, ship a wrong ISO, or hang. Each test is one of the failures found, with the real
//! commands (bsdtar, checkisomd5, git, a closed pipe, /dev/full, kill -9).

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn listing(iso: &Path) -> Vec<String> {
    need("bsdtar");
    let out = Command::new("bsdtar").arg("-tf").arg(iso).output().unwrap();
    assert!(out.status.success(), "bsdtar -tf {}", iso.display());
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn checkisomd5(iso: &Path) {
    need("checkisomd5");
    let out = Command::new("checkisomd5").arg(iso).output().unwrap();
    assert!(out.status.success(), "checkisomd5 {}", iso.display());
}

fn sha256sum_check(build_root: &Path) {
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUM"])
        .current_dir(build_root)
        .output()
        .unwrap();
    assert!(out.status.success(), "sha256sum -c: {}", stdout(&out));
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    stdout(&out).split(' ').next().unwrap().to_string()
}

fn git(dir: &Path, args: &[&str]) -> String {
    need("git");
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn clean_never_removes_what_is_not_the_builds() {
    let repo = Repo::copy();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "fixture"]);
    for (root, want) in [
        (".", "it is the repository itself"),
        ("..", "it holds the repository"),
        ("/", "it is the file-system root"),
    ] {
        for args in [
            vec!["clean", "--build-root", root],
            vec!["clean", "--dry-run", "--build-root", root],
        ] {
            let out = repo.run(&args, &[]);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
            assert!(
                !stdout(&out).contains("remove"),
                "{args:?}: {}",
                stdout(&out)
            );
        }
    }
    let home = tempfile::tempdir().unwrap();
    let out = repo.run(
        &["clean", "--build-root", home.path().to_str().unwrap()],
        &[("HOME", home.path().to_str().unwrap())],
    );
    assert!(stderr(&out).contains("home directory"), "{}", stderr(&out));
    // A directory that is not a build root: nothing of it is removed.
    let user = tempfile::tempdir().unwrap();
    fs::write(user.path().join("precious"), "mine").unwrap();
    fs::create_dir(user.path().join("root")).unwrap();
    let out = repo.run(
        &["clean", "--build-root", user.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a build root"),
        "{}",
        stderr(&out)
    );
    assert!(user.path().join("precious").exists() && user.path().join("root").exists());
    // Nor is a build run there.
    let out = repo.run(&["--build-root", user.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!user.path().join(".buildchain-state").exists());
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");

    // In a real build root, clean removes the outputs and keeps the user's own file.
    ok(&repo.run(&["iso"], &[]));
    fs::write(repo.build_root().join("notes.txt"), "mine").unwrap();
    ok(&repo.run(&["clean"], &[]));
    assert!(repo.build_root().join("notes.txt").exists());
    assert!(!repo.build_root().join("root").exists());
    assert!(!repo.build_root().join("metalk8s.iso").exists());
    assert_eq!(
        git(repo.path(), &["status", "--porcelain", "--ignored"])
            .lines()
            .count(),
        1
    );
}

#[test]
fn a_build_root_inside_a_copied_directory_is_refused() {
    let repo = Repo::copy();
    for (cwd, root, copied) in [
        ("salt", "relb", "salt"),
        (".", "docs/out", "docs"),
        (".", "iso/b", "iso"),
        (".", "images/metalk8s-utils/b", "images"),
        (".", "packages/x", "packages"),
        (".", "examples/b", "examples"),
        (".", "pillar", "pillar"),
        (".", "salt", "salt"),
    ] {
        let out = run_in(&repo.path().join(cwd), &["--build-root", root], &[]);
        assert_eq!(out.status.code(), Some(1), "{root}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}/{copied}", repo.path().display()))
                && err.contains("the build would copy itself"),
            "{root}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "said once: {err}");
        let marker = repo.path().join(cwd).join(root).join(".buildchain-state");
        assert!(!marker.exists(), "{root}: a build root was made");
    }
}

#[test]
fn concurrent_runs_never_ship_an_incomplete_iso() {
    let repo = Repo::copy();
    let reference = repo.path().join("reference");
    ok(&repo.run(&["--build-root", reference.to_str().unwrap()], &[]));
    let expected = listing(&reference.join("metalk8s.iso"));
    assert!(expected
        .iter()
        .any(|p| p.ends_with("examples/bootstrap.yaml")));
    let iso = repo.build_root().join("metalk8s.iso");
    let mut waited = 0;
    for round in 0..20 {
        if round % 2 == 1 {
            // Half the rounds start from nothing, half from a tree to update.
            ok(&repo.run(&["clean"], &[]));
        } else {
            fs::write(repo.path().join("examples/round.txt"), format!("{round}\n")).unwrap();
        }
        let spawn = || {
            repo.command(&["iso"], &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            waited += stderr(&out).contains("waiting for") as usize;
            ok(&out);
        }
        let got = listing(&iso);
        for path in &expected {
            assert!(
                got.contains(path),
                "round {round}: {path} missing from the ISO"
            );
        }
        let has_round = got.iter().any(|p| p.ends_with("examples/round.txt"));
        assert_eq!(
            has_round,
            round % 2 == 0,
            "round {round}: examples/round.txt"
        );
        checkisomd5(&iso);
        sha256sum_check(&repo.build_root());
        if round % 2 == 0 {
            fs::remove_file(repo.path().join("examples/round.txt")).unwrap();
        }
    }
    // Not an assertion of timing: at least once, a run must have met the other's lock.
    assert!(waited > 0, "no run ever waited for the other");
}

#[test]
fn no_wait_fails_at_once_naming_the_holder() {
    let repo = Repo::copy();
    ok(&repo.run(&["_iso_mkdir_root"], &[]));
    // Hold the lock as a run would (flock on the build root), from another process.
    let lock = repo.build_root();
    need("flock");
    let mut holder = Command::new("flock")
        .arg("--no-fork")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = repo.run(&["--no-wait", "iso"], &[]);
        if !out.status.success() {
            let err = stderr(&out);
            assert!(
                err.contains("in use by") && err.contains("--no-wait"),
                "{err}"
            );
            assert!(
                err.contains(&repo.build_root().display().to_string()),
                "{err}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "flock never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = repo.run(&["--no-wait", "clean"], &[]);
    assert_eq!(out.status.code(), Some(1), "clean takes the lock too");
    holder.kill().unwrap();
    holder.wait().unwrap();
    ok(&repo.run(&["--no-wait", "iso"], &[]));
}

#[test]
fn damage_and_strays_under_the_iso_root_are_repaired() {
    let repo = Repo::copy();
    ok(&repo.run(&["iso"], &[]));
    let root = repo.build_root().join("root");
    let iso = repo.build_root().join("metalk8s.iso");
    let expected = listing(&iso);
    let pristine = sha256_of(&iso);
    let salt_file = root.join("salt/metalk8s/defaults.yaml");
    assert!(salt_file.exists());
    // Removed, edited, planted: each repaired by the next plain run.
    fs::remove_file(root.join("examples/bootstrap.yaml")).unwrap();
    fs::write(&salt_file, "edited: true\n").unwrap();
    fs::write(root.join("evil.sh"), "#!/bin/sh\n").unwrap();
    fs::create_dir_all(root.join("images/planted/1.0")).unwrap();
    fs::write(root.join("images/planted/1.0/manifest.json"), "{}").unwrap();
    let out = ok(&repo.run(&["iso"], &[]));
    assert!(
        with_status(&out, "STARTED").contains(&"_iso_add_tree:examples".to_string()),
        "{out}"
    );
    assert_eq!(listing(&iso), expected);
    assert_eq!(
        sha256_of(&iso),
        pristine,
        "the repaired ISO is the clean one"
    );
    assert_ne!(fs::read_to_string(&salt_file).unwrap(), "edited: true\n");
    sha256sum_check(&repo.build_root());
    // And a run after the repair is a no-op.
    let out = ok(&repo.run(&["iso"], &[]));
    assert!(with_status(&out, "STARTED").is_empty(), "{out}");
}

#[test]
fn outputs_the_definition_no_longer_asks_for_are_removed() {
    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    fs::write(
        &versions,
        format!(
            "{original}\n[[images]]\nname = \"example-operator\"\nversion = \"1.0.0\"\nsource = \"build\"\n\n[[images]]\nname = \"metalk8s-utils\"\nversion = \"0.2.0\"\nsource = \"build\"\n"
        ),
    )
    .unwrap();
    ok(&repo.run(&["iso"], &[]));
    let root = repo.build_root().join("root");
    let include = root.join("salt/metalk8s/repo/files/metalk8s-registry.inc");
    let inc = fs::read_to_string(&include).unwrap();
    assert!(inc.contains("/example-operator/") && inc.contains("manifests/0.2.0"));
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("salt/metalk8s/versions.json")).unwrap())
            .unwrap();
    let versions_of_utils: Vec<&str> = json["images"]["metalk8s-utils"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions_of_utils, ["0.1.0", "0.2.0"]);
    // Both extra images removed from versions.toml: gone from the tree, include and ISO.
    fs::write(&versions, &original).unwrap();
    ok(&repo.run(&["iso"], &[]));
    assert!(!root.join("images/example-operator").exists());
    assert!(!root.join("images/metalk8s-utils/0.2.0").exists());
    let inc = fs::read_to_string(&include).unwrap();
    assert!(
        !inc.contains("example-operator") && !inc.contains("0.2.0"),
        "{inc}"
    );
    let iso = listing(&repo.build_root().join("metalk8s.iso"));
    assert!(!iso
        .iter()
        .any(|p| p.contains("example-operator") || p.contains("0.2.0")));
}

#[test]
fn a_closed_or_full_stdout_stops_the_build_without_a_panic() {
    let repo = Repo::copy();
    let sh = |script: &str| -> (Option<i32>, String) {
        let out = Command::new("bash")
            .args(["-c", &format!("set -o pipefail; {script}")])
            .current_dir(repo.path())
            .env("B", env!("CARGO_BIN_EXE_buildchain"))
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap();
        (out.status.code(), stderr(&out))
    };
    // The first line, then a closed pipe: the run stops (141, as killed by SIGPIPE).
    let (code, err) = sh("timeout 20 \"$B\" | head -1 >/dev/null");
    assert_eq!(code, Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    ok(&repo.run(&["clean"], &[]));
    for (script, want) in [
        (
            "timeout 20 \"$B\" > /dev/full",
            "cannot write the console report to stdout",
        ),
        (
            "timeout 20 \"$B\" --reporter json > /dev/full",
            "cannot write the json report to stdout",
        ),
        (
            "\"$B\" clean --dry-run > /dev/full",
            "cannot write to stdout",
        ),
        ("\"$B\" list > /dev/full", "cannot write to stdout"),
    ] {
        let (code, err) = sh(script);
        assert_eq!(code, Some(1), "{script}: {err}");
        assert!(
            err.contains(want) && err.contains("No space left"),
            "{script}: {err}"
        );
        assert!(!err.contains("panicked"), "{script}: {err}");
    }
    // list and info into a pipe closed early: quiet, no panic.
    for script in [
        "\"$B\" info iso | head -1",
        "\"$B\" list --all --private | head -1",
        "\"$B\" clean --dry-run | head -2",
    ] {
        let (code, err) = sh(script);
        assert!(
            matches!(code, Some(0) | Some(141)),
            "{script}: {code:?} {err}"
        );
        assert!(err.is_empty(), "{script}: {err}");
    }
}

#[test]
fn pull_never_deletes_a_directory_it_did_not_write() {
    let repo = Repo::copy();
    let dest = repo.path().join("dest");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("precious"), "mine").unwrap();
    // Refused before any network access (nothing listens on port 1).
    let out = repo.run(
        &[
            "pull",
            "--insecure",
            "127.0.0.1:1/x:1",
            dest.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("precious") && err.contains("--force"), "{err}");
    assert_eq!(fs::read_to_string(dest.join("precious")).unwrap(), "mine");
}

/// Kills a build (fresh build root) `after` its start, then runs it again once: the re-run
/// succeeds and gives the bytes of an uninterrupted build.
fn kill_then_rerun(repo: &Repo, build: &Path, after: Duration, expected: &str, what: &str) {
    let _ = fs::remove_dir_all(build);
    let args = ["--build-root", build.to_str().unwrap()];
    let mut child = repo
        .command(&args, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL, as `kill -9`
    child.wait().unwrap();
    let out = repo.run(&args, &[]);
    ok(&out);
    let iso = build.join("metalk8s.iso");
    assert_eq!(
        sha256_of(&iso),
        expected,
        "{what}: the re-run differs from a clean build"
    );
    sha256sum_check(build);
    let leftovers: Vec<String> = walk(build)
        .into_iter()
        .map(|p| p.display().to_string())
        .filter(|p| p.contains(".tmp-") || p.contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

#[test]
fn kill_at_twenty_points_then_one_rerun_gives_the_clean_bytes() {
    let repo = Repo::copy();
    // A 200 MB document (sparse) makes the copy, the fingerprints and the ISO long.
    let big = fs::File::create(repo.path().join("docs/big.bin")).unwrap();
    big.set_len(200 << 20).unwrap();
    drop(big);
    let reference = repo.path().join("reference");
    let start = Instant::now();
    ok(&repo.run(&["--build-root", reference.to_str().unwrap()], &[]));
    let duration = start.elapsed();
    let expected = sha256_of(&reference.join("metalk8s.iso"));
    fs::remove_dir_all(&reference).unwrap();
    let build = repo.path().join("killed");
    // Twenty points over the whole build, at least 10 ms apart.
    let step = (duration / 20).max(Duration::from_millis(10));
    for i in 1..=20u32 {
        kill_then_rerun(
            &repo,
            &build,
            step * i,
            &expected,
            &format!("kill at {:?}", step * i),
        );
    }
    // And while the 200 MB file is being copied.
    let _ = fs::remove_dir_all(&build);
    let mut child = repo
        .command(&["--build-root", build.to_str().unwrap(), "-n", "2"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = false;
    for line in lines {
        if line
            .unwrap()
            .starts_with("STARTED  _iso_add_tree:documentation")
        {
            seen = true;
            break;
        }
    }
    assert!(seen);
    std::thread::sleep(Duration::from_millis(20));
    child.kill().unwrap();
    child.wait().unwrap();
    ok(&repo.run(&["--build-root", build.to_str().unwrap()], &[]));
    assert_eq!(sha256_of(&build.join("metalk8s.iso")), expected);
}

/// A plain build with a link planted where an output directory belongs: nothing outside
/// the build root is written or removed, nothing of the build root's own is lost, and the
/// ISO is the clean one.
#[test]
fn links_planted_in_the_build_root_never_lead_writes_or_removals_out() {
    let repo = Repo::copy();
    ok(&repo.run(&["iso"], &[]));
    let iso = repo.build_root().join("metalk8s.iso");
    let clean = sha256_of(&iso);
    let root = repo.build_root().join("root");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path();
    for dir in [
        "salt",
        "documentation",
        "metalk8s-utils/0.1.0",
        "8/metalk8s-scality-el8",
    ] {
        fs::create_dir_all(victim.join(dir)).unwrap();
        fs::write(victim.join(dir).join("precious"), "mine").unwrap();
    }
    let repo_dir = root.join("packages/redhat/8/metalk8s-scality-el8");
    let plants: Vec<(PathBuf, PathBuf)> = vec![
        (root.clone(), victim.to_path_buf()),
        (root.join("images"), victim.to_path_buf()),
        (root.join("packages/redhat"), victim.to_path_buf()),
        (repo_dir.clone(), victim.join("8/metalk8s-scality-el8")),
        // Back into the build root: its marker, cache, log and user files must stay.
        (root.join("images"), PathBuf::from("..")),
    ];
    fs::create_dir_all(repo.build_root().join("cache/blobs/sha256")).unwrap();
    fs::write(repo.build_root().join("cache/blobs/sha256/abc"), "blob").unwrap();
    fs::write(repo.build_root().join("my-notes.txt"), "mine").unwrap();
    for (at, to) in plants {
        buildchain_fs_remove(&at);
        std::os::unix::fs::symlink(&to, &at).unwrap();
        let out = repo.run(&["iso"], &[]);
        ok(&out);
        let what = format!("{} -> {}", at.display(), to.display());
        assert!(
            fs::symlink_metadata(&at).unwrap().is_dir(),
            "{what}: the link stays"
        );
        assert_eq!(
            sha256_of(&iso),
            clean,
            "{what}: the ISO differs from a clean build"
        );
        for dir in [
            "salt",
            "documentation",
            "metalk8s-utils/0.1.0",
            "8/metalk8s-scality-el8",
        ] {
            let mut names: Vec<String> = fs::read_dir(victim.join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            assert_eq!(names, ["precious"], "{what}: {dir} outside was written to");
        }
        for own in [
            ".buildchain-state/BUILD-ROOT",
            "cache/blobs/sha256/abc",
            "my-notes.txt",
            "build.log",
        ] {
            assert!(
                repo.build_root().join(own).exists(),
                "{what}: {own} was removed"
            );
        }
    }
}

fn buildchain_fs_remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).unwrap(),
        Ok(_) => fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

/// What is planted in a yum repository directory of the ISO tree (a stray package, a link
/// to a host file, a killed writer's temporary, a changed mode) never ships.
#[test]
fn the_repository_directories_hold_only_their_own_files() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::copy();
    ok(&repo.run(&["iso"], &[]));
    let iso = repo.build_root().join("metalk8s.iso");
    let clean = sha256_of(&iso);
    let root = repo.build_root().join("root");
    let dir = root.join("packages/redhat/8/metalk8s-scality-el8");
    fs::write(dir.join("evil.rpm"), "evil").unwrap();
    fs::write(dir.join("repodata/evil.xml"), "evil").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd.rpm")).unwrap();
    fs::write(
        dir.join(".metalk8s-release-0.1.0-1.noarch.rpm.tmp-999999-0"),
        "partial",
    )
    .unwrap();
    fs::set_permissions(root.join("images"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    ok(&repo.run(&["iso"], &[]));
    let listing = listing(&iso);
    for bad in ["evil", "passwd", ".tmp-"] {
        assert!(
            !listing.iter().any(|p| p.contains(bad)),
            "{bad} shipped: {listing:?}"
        );
    }
    assert_eq!(sha256_of(&iso), clean, "the ISO differs from a clean build");
}

#[test]
fn a_plain_clean_never_destroys_machines() {
    let repo = Repo::copy();
    let calls = repo.path().join("vagrant-calls");
    let fake = repo.path().join("fake-vagrant");
    fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir_all(repo.path().join(".vagrant/machines/bootstrap")).unwrap();
    ok(&repo.run(&["iso"], &[]));
    let env = [("VAGRANT_BIN", fake.to_str().unwrap())];
    let out = ok(&repo.run(&["clean"], &env));
    assert!(out.contains("cleaned only when named"), "{out}");
    assert!(!calls.exists(), "vagrant was called by a plain clean");
    ok(&repo.run(&["clean", "vagrant-up"], &env));
    assert!(fs::read_to_string(&calls)
        .unwrap()
        .contains("destroy --force"));
}

//! The command line: selection, list/info/clean, reporters, configuration, bad input.

mod common;

use std::fs;

use common::*;

#[test]
fn list_info_and_selection() {
    let repo = Repo::copy();
    let out = ok(&repo.run(&["list"], &[]));
    let names: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    for public in [
        "iso",
        "populate-iso",
        "images",
        "packaging",
        "salt-tree",
        "lint",
        "vagrant-up",
        "vagrant-restore",
    ] {
        assert!(names.contains(&public), "{public} missing from:\n{out}");
    }
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with('_') && !n.contains(':')),
        "{out}"
    );
    let all = ok(&repo.run(&["list", "--all"], &[]));
    assert!(all.contains("lint:yaml") && !all.contains("_iso_build"));
    let private = ok(&repo.run(&["list", "--all", "--private"], &[]));
    assert!(private.contains("_iso_build") && private.contains("_iso_add_tree:product.txt"));

    let info = ok(&repo.run(&["info", "_iso_add_tree:product.txt"], &[]));
    assert!(
        info.contains("status: not up-to-date: it never completed successfully here"),
        "{info}"
    );
    assert!(
        info.contains("file_dep:\n  - ") && info.contains("VERSION"),
        "{info}"
    );
    assert!(info.contains("task_dep:\n  - _iso_mkdir_root"), "{info}");
    assert!(
        info.contains("targets:\n  - ") && info.contains("root/product.txt"),
        "{info}"
    );

    // Underscore alias of a public name, and a glob.
    let out = ok(&repo.run(&["populate_iso"], &[]));
    assert!(out.contains("SUCCESS  populate-iso"), "{out}");
    let info = ok(&repo.run(&["info", "_salt_tree:salt"], &[]));
    assert!(
        info.contains("tree_dep:\n  - ") && info.contains("salt/top.sls.in"),
        "{info}"
    );
    let info = ok(&repo.run(&["info", "_iso_add_tree:product.txt"], &[]));
    assert!(
        info.contains("status: up-to-date") && info.contains("fingerprint: "),
        "{info}"
    );
    let out = ok(&repo.run(&["_iso_add_tree:*"], &[]));
    assert_eq!(
        with_status(&out, "SKIPPED"),
        [
            "_iso_add_tree:documentation",
            "_iso_add_tree:examples",
            "_iso_add_tree:product.txt",
            "_iso_add_tree:scripts",
            "_iso_mkdir_root"
        ],
        "{out}"
    );
    assert!(!out.contains("_iso_build"));
    // Changing the definition (here BUILD_HOST, rendered into product.txt) re-runs it.
    let out = ok(&repo.run(&["_iso_add_tree:product.txt"], &[("BUILD_HOST", "other")]));
    assert_eq!(with_status(&out, "STARTED"), ["_iso_add_tree:product.txt"]);
    let info = ok(&repo.run(&["info", "_iso_add_tree:product.txt"], &[]));
    assert!(
        info.contains("status: not up-to-date: its definition changed"),
        "{info}"
    );
}

#[test]
fn json_reporter_and_build_log() {
    let repo = Repo::copy();
    let out = ok(&repo.run(&["--reporter", "json", "salt-tree"], &[]));
    let mut events = Vec::new();
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        events.push((
            v["event"].as_str().unwrap().to_string(),
            v["task"].as_str().unwrap().to_string(),
        ));
    }
    assert!(events.contains(&("started".into(), "_salt_tree:salt".into())));
    assert!(events.contains(&("success".into(), "salt-tree".into())));
    let log = fs::read_to_string(repo.build_root().join("build.log")).unwrap();
    assert!(log.lines().count() >= events.len());
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["time"].is_number() && v["event"].is_string());
    }
}

#[test]
fn clean_dry_run_then_clean_everything() {
    let repo = Repo::copy();
    ok(&repo.run(&["populate-iso"], &[]));
    let salt = repo.build_root().join("root/salt");
    let out = ok(&repo.run(&["clean", "--dry-run", "salt-tree"], &[]));
    assert!(
        out.contains("would remove") && out.contains("root/salt"),
        "{out}"
    );
    assert!(salt.exists());
    ok(&repo.run(&["clean", "salt-tree"], &[]));
    assert!(!salt.exists());
    assert!(
        repo.build_root().join("root/product.txt").exists(),
        "other tasks untouched"
    );
    let out = ok(&repo.run(&["salt-tree"], &[]));
    assert_eq!(
        with_status(&out, "STARTED"),
        ["_salt_tree:pillar", "_salt_tree:salt"],
        "{out}"
    );
    ok(&repo.run(&["clean"], &[]));
    // What tasks produced is gone; the marked build root itself stays (with its marker
    // and the log of the last run).
    let mut left: Vec<String> = fs::read_dir(repo.build_root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".buildchain-state", "build.log"]);
}

#[test]
fn env_file_and_environment() {
    let repo = Repo::copy();
    fs::write(
        repo.path().join(".env"),
        "export PROJECT_NAME=Acme\nBUILD_ROOT=out\n",
    )
    .unwrap();
    ok(&repo.run(&["_iso_add_tree:product.txt"], &[]));
    let product = fs::read_to_string(repo.path().join("out/root/product.txt")).unwrap();
    assert!(product.starts_with("NAME=Acme\n"), "{product}");
    // The environment wins over .env.
    ok(&repo.run(
        &["_iso_add_tree:product.txt"],
        &[("BUILD_ROOT", "elsewhere")],
    ));
    assert!(repo.path().join("elsewhere/root/product.txt").exists());
    // Found from a sub-directory.
    let out = run_in(&repo.path().join("salt/metalk8s"), &["list"], &[]);
    assert!(out.status.success());
}

fn fails_with(out: &std::process::Output, wanted: &[&str]) {
    assert!(!out.status.success(), "should fail: {}", stdout(out));
    let err = stderr(out);
    for w in wanted {
        assert!(err.contains(w), "stderr lacks {w:?}:\n{err}");
    }
}

#[test]
fn bad_input_fails_naming_the_file_or_task() {
    let repo = Repo::copy();
    fails_with(&repo.run(&["nope"], &[]), &["unknown task 'nope'"]);
    fails_with(&repo.run(&["nope:*"], &[]), &["no task matches 'nope:*'"]);
    fails_with(&repo.run(&["info", "nope"], &[]), &["unknown task 'nope'"]);
    // Commands that run no task refuse the options of task runs instead of ignoring them.
    fails_with(
        &repo.run(&["dedup", "images", "--build-root", "elsewhere", "-v"], &[]),
        &["--build-root, --verbose apply only to task runs"],
    );
    fails_with(
        &repo.run(&["info", "_iso_add_tree:*"], &[]),
        &["matches 4 tasks", "_iso_add_tree:scripts", "name one"],
    );
    fails_with(
        &repo.run(&["iso"], &[("SOURCE_DATE_EPOCH", "yesterday")]),
        &["SOURCE_DATE_EPOCH"],
    );

    let dir = tempfile::tempdir().unwrap();
    fails_with(&run_in(dir.path(), &["iso"], &[]), &["no repository found"]);

    let version = fs::read_to_string(repo.path().join("VERSION")).unwrap();
    fs::write(
        repo.path().join("VERSION"),
        version.replace("VERSION_MINOR=", "VERSION_MINOR=x"),
    )
    .unwrap();
    fails_with(
        &repo.run(&["iso"], &[]),
        &[
            "VERSION: malformed VERSION file",
            "VERSION_MINOR must be a number",
        ],
    );
    // A volume id over 32 characters: refused before any task runs, naming VERSION.
    let long = version
        .lines()
        .map(|l| {
            if l.starts_with("VERSION_SUFFIX=") {
                "VERSION_SUFFIX=-dev.20240101.abcdef".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs::write(repo.path().join("VERSION"), long).unwrap();
    let out = repo.run(&["iso"], &[]);
    fails_with(
        &out,
        &[
            "VERSION: the ISO volume id",
            "has 34 characters",
            "VERSION_SUFFIX",
        ],
    );
    assert!(!stdout(&out).contains("STARTED"), "{}", stdout(&out));
    // A run that does not build the ISO is not refused.
    ok(&repo.run(&["_iso_mkdir_root"], &[]));
    fs::write(repo.path().join("VERSION"), &version).unwrap();

    let versions = fs::read_to_string(repo.path().join("versions.toml")).unwrap();
    fs::write(
        repo.path().join("versions.toml"),
        versions.replace("[kubernetes]", "[kubernetes"),
    )
    .unwrap();
    fails_with(&repo.run(&["iso"], &[]), &["versions.toml: invalid"]);
    fs::write(
        repo.path().join("versions.toml"),
        format!("{versions}\n[[images]]\nname = \"x\"\nversion = \"1\"\nsource = \"quay.io\"\n"),
    )
    .unwrap();
    // A tag alone needs a versions.lock entry: --locked refuses without looking it up.
    fails_with(
        &repo.run(&["--locked", "iso"], &[]),
        &[
            "versions.toml [[images]] x 1: no versions.lock entry (--locked)",
            "buildchain lock --update x",
        ],
    );
    fs::write(repo.path().join("versions.toml"), &versions).unwrap();

    fs::write(repo.path().join(".env"), "PROJECT_NAME\n").unwrap();
    fails_with(&repo.run(&["iso"], &[]), &[".env: malformed", "line 1"]);
    fs::remove_file(repo.path().join(".env")).unwrap();

    // A missing template variable: the task fails naming the file, and no ISO is built.
    fs::write(
        repo.path().join("iso/broken.sh.in"),
        "#!/bin/sh\necho {{no_such_variable}}\n",
    )
    .unwrap();
    let out = repo.run(&["iso"], &[]);
    fails_with(
        &out,
        &[
            "_iso_add_tree:scripts",
            "iso/broken.sh.in",
            "no_such_variable",
        ],
    );
    assert!(stdout(&out).contains("FAILED   _iso_add_tree:scripts"));
    assert!(!repo.build_root().join("metalk8s.iso").exists());
    fs::remove_file(repo.path().join("iso/broken.sh.in")).unwrap();

    // An unreadable input (a FIFO in the Salt tree): an error, not a hang.
    let fifo = repo.path().join("salt/pipe.sls");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    fails_with(
        &repo.run(&["salt-tree"], &[]),
        &["_salt_tree:salt", "salt/pipe.sls", "not a regular file"],
    );
    fs::remove_file(&fifo).unwrap();
    // A source file removed from iso/ leaves the ISO tree.
    fs::write(repo.path().join("iso/extra.txt"), "x").unwrap();
    ok(&repo.run(&["_iso_add_tree:scripts"], &[]));
    assert!(repo.build_root().join("root/extra.txt").exists());
    fs::remove_file(repo.path().join("iso/extra.txt")).unwrap();
    ok(&repo.run(&["_iso_add_tree:scripts"], &[]));
    assert!(
        !repo.build_root().join("root/extra.txt").exists(),
        "a removed source file leaves the ISO"
    );

    fails_with(&repo.run(&["dedup", "x"], &[]), &["x: not a directory"]);
    ok(&repo.run(&["salt-tree"], &[]));
}

/// `info` only reads the state: a damaged log is reported, and left for the next build to
/// cut off before any task.
#[test]
fn info_reports_a_damaged_state_log() {
    let repo = Repo::copy();
    ok(&repo.run(&["_iso_add_tree:product.txt"], &[]));
    let log = repo.build_root().join(".buildchain-state/log");
    let mut bytes = fs::read(&log).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(&[0u8; 40]);
    fs::write(&log, &bytes).unwrap();
    let out = repo.run(&["info", "_iso_add_tree:product.txt"], &[]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(err.contains("damaged or incomplete entry"), "{err}");
    assert_eq!(fs::metadata(&log).unwrap().len() as usize, good + 40);
    let out = ok(&repo.run(&["_iso_add_tree:product.txt"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED")), "{out}");
    assert_eq!(fs::metadata(&log).unwrap().len() as usize, good);
}

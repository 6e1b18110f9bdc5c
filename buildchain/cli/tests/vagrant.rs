//! `vagrant-up` / `vagrant-restore` with a stand-in `vagrant` recording its calls.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;

/// Writes a fake vagrant that appends its arguments to `calls` and answers
/// `snapshot list` with the content of `snapshots` (when present).
fn fake_vagrant(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (bin, calls, snapshots) = (
        dir.join("vagrant"),
        dir.join("calls"),
        dir.join("snapshots"),
    );
    fs::write(
        &bin,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{calls}'\nif [ \"$1 $2\" = 'snapshot list' ] && [ -f '{snap}' ]; then cat '{snap}'; fi\n\
             [ \"$VAGRANT_VAGRANTFILE\" = vagrant/Vagrantfile ] || {{ echo bad VAGRANT_VAGRANTFILE >&2; exit 3; }}\n",
            calls = calls.display(),
            snap = snapshots.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls, snapshots)
}

fn take_calls(calls: &Path) -> Vec<String> {
    let text = fs::read_to_string(calls).unwrap_or_default();
    let _ = fs::remove_file(calls);
    text.lines().map(str::to_string).collect()
}

#[test]
fn vagrant_up_sequence_key_once_and_snapshot_skipped() {
    need("ssh-keygen");
    let repo = Repo::copy();
    let tools = tempfile::tempdir().unwrap();
    let (bin, calls, snapshots) = fake_vagrant(tools.path());
    let env = [
        ("VAGRANT_BIN", bin.to_str().unwrap()),
        ("VAGRANT_UP_ARGS", "--provider libvirt --parallel"),
    ];
    ok(&repo.run(&["vagrant-up"], &env));
    assert_eq!(
        take_calls(&calls),
        [
            "up --provider libvirt --parallel --no-provision",
            "snapshot list",
            "halt bootstrap",
            "snapshot save --force bootstrap bootstrap.autosnapshot",
            "up --provider libvirt --parallel",
        ]
    );
    let key = repo.path().join(".vagrant/preshared_key_for_k8s_nodes");
    let first = fs::read(&key).unwrap();
    assert!(String::from_utf8_lossy(&first).contains("PRIVATE KEY"));
    assert!(repo
        .path()
        .join(".vagrant/preshared_key_for_k8s_nodes.pub")
        .exists());

    // The snapshot exists now: skipped; the key is kept; defaults for the up arguments.
    fs::write(&snapshots, "==> bootstrap:\nbootstrap.autosnapshot\n").unwrap();
    let out = ok(&repo.run(&["vagrant-up"], &[("VAGRANT_BIN", bin.to_str().unwrap())]));
    assert!(out.contains("SKIPPED  _vagrant_snapshot"), "{out}");
    let default = "--provision --no-destroy-on-error --parallel --provider virtualbox";
    assert_eq!(
        take_calls(&calls),
        [
            format!("up {default} --no-provision"),
            "snapshot list".into(),
            format!("up {default}")
        ]
    );
    assert_eq!(fs::read(&key).unwrap(), first, "the key is generated once");

    ok(&repo.run(
        &["vagrant_restore"],
        &[
            ("VAGRANT_BIN", bin.to_str().unwrap()),
            ("VAGRANT_SNAPSHOT_NAME", "snap1"),
        ],
    ));
    assert_eq!(take_calls(&calls), ["snapshot restore bootstrap snap1"]);
}

#[test]
fn missing_vagrant_is_a_clear_error() {
    let repo = Repo::copy();
    let out = repo.run(&["vagrant-up"], &[("VAGRANT_BIN", "/nonexistent/vagrant")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("vagrant not found") && err.contains("/nonexistent/vagrant"),
        "{err}"
    );
}

#[test]
fn vagrantfile_is_valid_ruby() {
    need("ruby");
    let out = std::process::Command::new("ruby")
        .arg("-c")
        .arg(repo_root().join("vagrant/Vagrantfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The `packaging` tasks and `fetch-rpms`, checked with the real tools: `rpm`, `rpm2cpio`,
//! `dnf repoquery`, and yum repositories made by `rpmbuild` + `createrepo_c` served by nginx.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

const REPO: &str = "packages/redhat/8/metalk8s-scality-el8";

use buildchain_testkit::run_ok as tool;

/// `name version-release` of every package of the repository at `dir`, as dnf reads it.
fn repoquery(dir: &Path, cache: &Path) -> Vec<String> {
    let out = tool(
        Command::new("dnf")
            .args([
                "-q",
                "--setopt=reposdir=/dev/null",
                "--releasever=8",
                "--disablerepo=*",
                "--enablerepo=t",
            ])
            .arg(format!("--setopt=cachedir={}", cache.display()))
            .arg(format!("--repofrompath=t,file://{}", dir.display()))
            .args(["repoquery", "--qf", "%{name} %{version}-%{release}"]),
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn rpms_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    names.sort();
    names
}

#[test]
fn built_packages_are_verifiable_indexed_and_rebuilt_only_when_changed() {
    for t in ["rpm", "rpm2cpio", "cpio", "dnf", "isoinfo"] {
        need(t);
    }
    let repo = Repo::copy();
    ok(&repo.run(&["-n", "2"], &[]));
    let dir = repo.build_root().join("root").join(REPO);
    let cache = repo.path().join("dnf-cache");
    assert_eq!(
        rpms_in(&dir),
        [
            "metalk8s-release-0.1.0-1.noarch.rpm",
            "metalk8s-sosreport-0.1.0-1.noarch.rpm"
        ]
    );
    for rpm in rpms_in(&dir) {
        let out = tool(
            Command::new("rpm")
                .args(["-K", "--nosignature"])
                .arg(dir.join(&rpm)),
        );
        assert!(out.trim_end().ends_with("digests OK"), "{out}");
    }
    assert_eq!(
        repoquery(&dir, &cache),
        ["metalk8s-release 0.1.0-1", "metalk8s-sosreport 0.1.0-1"]
    );
    let files = tool(
        Command::new("isoinfo")
            .args(["-R", "-f", "-i"])
            .arg(repo.build_root().join("metalk8s.iso")),
    );
    for wanted in [
        "metalk8s-release-0.1.0-1.noarch.rpm",
        "metalk8s-sosreport-0.1.0-1.noarch.rpm",
        "repodata/repomd.xml",
    ] {
        let path = format!("/{REPO}/{wanted}");
        assert!(files.lines().any(|l| l == path), "{path} not in the ISO");
    }
    // The repository configuration the release package installs points where salt's does.
    let release_files = tool(
        Command::new("rpm")
            .arg("-qpl")
            .arg(dir.join("metalk8s-release-0.1.0-1.noarch.rpm")),
    );
    assert!(release_files.contains("/etc/yum.repos.d/metalk8s.repo"));

    // Nothing changed: everything SKIPPED.
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED  ")), "{out}");

    // One package's source changed: that package, its repository's metadata, the SBOM
    // and the ISO.
    let plugin = repo.path().join("packages/metalk8s-sosreport/metalk8s.py");
    let mut text = fs::read_to_string(&plugin).unwrap();
    text.push_str("\n# changed\n");
    fs::write(&plugin, &text).unwrap();
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert_eq!(
        with_status(&out, "STARTED"),
        [
            "_iso_build",
            "_iso_sbom",
            "_package_build:metalk8s-sosreport",
            "_package_repodata:metalk8s-scality-el8"
        ],
        "{out}"
    );
    let shipped = tool(Command::new("sh").arg("-c").arg(format!(
        "rpm2cpio '{}' | cpio -i --quiet --to-stdout ./usr/lib/python3.6/site-packages/sos/report/plugins/metalk8s.py",
        dir.join("metalk8s-sosreport-0.1.0-1.noarch.rpm").display()
    )));
    assert_eq!(shipped, text, "the rebuilt RPM ships the changed source");

    // A new version replaces the old package in the repository.
    let definition = repo.path().join("packages/metalk8s-sosreport/package.toml");
    let toml = fs::read_to_string(&definition).unwrap();
    fs::write(
        &definition,
        toml.replace("version = \"0.1.0\"", "version = \"0.1.1\""),
    )
    .unwrap();
    ok(&repo.run(&["-n", "2", "packaging"], &[]));
    assert_eq!(
        rpms_in(&dir),
        [
            "metalk8s-release-0.1.0-1.noarch.rpm",
            "metalk8s-sosreport-0.1.1-1.noarch.rpm"
        ]
    );
    assert_eq!(
        repoquery(&dir, &repo.path().join("dnf-cache-2")),
        ["metalk8s-release 0.1.0-1", "metalk8s-sosreport 0.1.1-1"]
    );
}

#[test]
fn a_broken_package_definition_fails_its_task_naming_the_file() {
    let repo = Repo::copy();
    let definition = repo.path().join("packages/metalk8s-sosreport/package.toml");
    fs::write(&definition, "name = \"metalk8s-sosreport\"\nbogus = 1\n").unwrap();
    // Listing still works.
    ok(&repo.run(&["list"], &[]));
    let out = repo.run(&["packaging"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("_package_build:metalk8s-sosreport") && err.contains("package.toml"),
        "{err}"
    );
    assert!(!repo
        .build_root()
        .join("root")
        .join(REPO)
        .join("repodata")
        .exists());
}

// --- A yum repository made by rpmbuild + createrepo_c, served by nginx ---

type Spec = buildchain_testkit::FixtureRpm;

const SPECS: &[Spec] = &[
    Spec {
        name: "app",
        version: "1.0",
        file: "/usr/share/app/v1.0",
        provides: &[],
        requires: &["webserver >= 2", "/usr/bin/helper"],
    },
    Spec {
        name: "app",
        version: "1.1",
        file: "/usr/share/app/v1.1",
        provides: &[],
        requires: &["webserver >= 2", "/usr/bin/helper"],
    },
    Spec {
        name: "web",
        version: "2.1",
        file: "/usr/share/web/README",
        provides: &["webserver = 2.1"],
        requires: &[],
    },
    Spec {
        name: "helper",
        version: "1.0",
        file: "/usr/bin/helper",
        provides: &[],
        requires: &[],
    },
];

const KEY: &str =
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBFfixture\n-----END PGP PUBLIC KEY BLOCK-----\n";

/// `www/main/` (the repository) and `www/key.asc`, built once.
fn served_root() -> &'static Path {
    static ROOT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &ROOT
        .get_or_init(|| {
            for t in ["rpmbuild", "createrepo_c", "nginx"] {
                need(t);
            }
            let tmp = tempfile::tempdir().unwrap();
            let www = tmp.path().join("www");
            buildchain_testkit::yum_repository(SPECS, &www.join("main"), &tmp.path().join("work"));
            fs::write(www.join("key.asc"), KEY).unwrap();
            (tmp, www)
        })
        .1
}

/// nginx (buildchain-testkit) serving the fixture repository on 127.0.0.1.
struct Nginx {
    server: buildchain_testkit::Nginx,
    _work: tempfile::TempDir,
}

impl Nginx {
    fn serve() -> Nginx {
        let work = tempfile::tempdir().unwrap();
        let server = buildchain_testkit::Nginx::start(
            work.path(),
            &format!("root {};", served_root().display()),
        );
        Nginx {
            server,
            _work: work,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.server.host())
    }
}

#[test]
fn fetch_rpms_resolves_downloads_and_writes_repodata() {
    need("dnf");
    let nginx = Nginx::serve();
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let url = format!("main={}", nginx.url("main"));
    let key = format!("main={}", nginx.url("key.asc"));
    let out = run_in(
        tmp.path(),
        &[
            "fetch-rpms",
            "--repo",
            &url,
            "--gpg-key",
            &key,
            "--arch",
            "x86_64,noarch",
            "--dest",
            dest.to_str().unwrap(),
            "app",
        ],
        &[],
    );
    let text = ok(&out);
    for nevra in [
        "app-1.1-1.noarch",
        "web-2.1-1.noarch",
        "helper-1.0-1.noarch",
    ] {
        assert!(text.contains(nevra), "{nevra} not reported:\n{text}");
    }
    assert!(text.contains("RPM-GPG-KEY-main"), "{text}");
    assert_eq!(
        rpms_in(&dest),
        [
            "app-1.1-1.noarch.rpm",
            "helper-1.0-1.noarch.rpm",
            "web-2.1-1.noarch.rpm"
        ]
    );
    assert_eq!(
        fs::read_to_string(dest.join("RPM-GPG-KEY-main")).unwrap(),
        KEY
    );
    assert_eq!(
        repoquery(&dest, &tmp.path().join("cache")),
        ["app 1.1-1", "helper 1.0-1", "web 2.1-1"]
    );

    // A pin picks the older version.
    let pinned = tmp.path().join("pinned");
    ok(&run_in(
        tmp.path(),
        &[
            "fetch-rpms",
            "--repo",
            &url,
            "--dest",
            pinned.to_str().unwrap(),
            "app=1.0",
        ],
        &[],
    ));
    assert!(rpms_in(&pinned).contains(&"app-1.0-1.noarch.rpm".to_string()));

    // A package no repository has: a clear error, exit 1, nothing left behind.
    let missing = tmp.path().join("missing");
    let out = run_in(
        tmp.path(),
        &[
            "fetch-rpms",
            "--repo",
            &url,
            "--dest",
            missing.to_str().unwrap(),
            "app",
            "nosuch",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nosuch"), "{}", stderr(&out));
    assert!(!missing.exists(), "nothing may be left in --dest");

    // Into an existing directory: it is left as it was.
    let existing = tmp.path().join("existing");
    fs::create_dir(&existing).unwrap();
    fs::write(existing.join("keep.txt"), "x").unwrap();
    let out = run_in(
        tmp.path(),
        &[
            "fetch-rpms",
            "--repo",
            &url,
            "--dest",
            existing.to_str().unwrap(),
            "nosuch",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let left: Vec<_> = fs::read_dir(&existing)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["keep.txt"]);

    // Bad arguments: exit 2, naming the argument.
    for args in [
        vec![
            "fetch-rpms",
            "--repo",
            "no-equals-sign",
            "--dest",
            "d",
            "app",
        ],
        vec!["fetch-rpms", "--repo", &url, "--dest", "d", "bad name!"],
        vec![
            "fetch-rpms",
            "--repo",
            &url,
            "--gpg-key",
            "other=k",
            "--dest",
            "d",
            "app",
        ],
    ] {
        let out = run_in(tmp.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!tmp.path().join("d").exists());
    }
}

#[test]
fn downloaded_packages_are_fetched_once_then_up_to_date_offline() {
    need("dnf");
    let repo = Repo::copy();
    let nginx = Nginx::serve();
    let versions = repo.path().join("versions.toml");
    let mut text = fs::read_to_string(&versions).unwrap();
    text.push_str(&format!(
        "\n[[repositories]]\nid = \"mirror-el8\"\nrelease = \"8\"\nurl = \"{}\"\ngpg_key = \"{}\"\n\n\
         [[packages]]\nname = \"app\"\nrepository = \"mirror-el8\"\nsource = \"download\"\nversion = \"1.0\"\n",
        nginx.url("main"),
        nginx.url("key.asc")
    ));
    fs::write(&versions, text).unwrap();
    let out = ok(&repo.run(&["-n", "2", "packaging"], &[]));
    assert!(
        out.contains("SUCCESS  _package_download:mirror-el8"),
        "{out}"
    );
    let dir = repo.build_root().join("root/packages/redhat/8/mirror-el8");
    assert_eq!(
        rpms_in(&dir),
        [
            "app-1.0-1.noarch.rpm",
            "helper-1.0-1.noarch.rpm",
            "web-2.1-1.noarch.rpm"
        ]
    );
    assert_eq!(
        fs::read_to_string(dir.join("RPM-GPG-KEY-mirror-el8")).unwrap(),
        KEY
    );
    assert_eq!(
        repoquery(&dir, &repo.path().join("cache")),
        ["app 1.0-1", "helper 1.0-1", "web 2.1-1"]
    );

    // The server is gone: a re-run needs no network.
    drop(nginx);
    let out = ok(&repo.run(&["-n", "2", "packaging"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED  ")), "{out}");

    // A downloaded file removed: the task runs again (and fails offline, naming the repository).
    fs::remove_file(dir.join("web-2.1-1.noarch.rpm")).unwrap();
    let out = repo.run(&["-n", "2", "packaging"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("_package_download:mirror-el8"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn build_rpm_and_repodata_commands_work_outside_a_distribution() {
    let repo = Repo::copy();
    let out = repo.path().join("out");
    let built = ok(&repo.run(
        &[
            "build-rpm",
            "--out",
            out.to_str().unwrap(),
            "packages/metalk8s-release",
            "packages/metalk8s-sosreport",
        ],
        &[],
    ));
    assert_eq!(built.lines().count(), 2, "{built}");
    for line in built.lines() {
        tool(Command::new("rpm").args(["-K", "--nosignature", line]));
    }
    let indexed = ok(&repo.run(&["repodata", out.to_str().unwrap()], &[]));
    assert!(indexed.starts_with("2 packages indexed"), "{indexed}");
    // The same bytes as the distribution's own repodata task would write.
    let again = ok(&repo.run(&["repodata", out.to_str().unwrap()], &[]));
    assert_eq!(indexed, again);
    let missing = repo.run(
        &["build-rpm", "--out", out.to_str().unwrap(), "packages/nope"],
        &[],
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("nope/package.toml"),
        "{}",
        stderr(&missing)
    );
    let not_a_repo = repo.run(
        &["repodata", repo.path().join("absent").to_str().unwrap()],
        &[],
    );
    assert!(
        stderr(&not_a_repo).contains("absent"),
        "{}",
        stderr(&not_a_repo)
    );
}

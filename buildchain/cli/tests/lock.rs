//! versions.lock against a real docker-registry: a tag locked, a locked build that gives the
//! same ISO after the tag moved, `lock --update`, `--locked`, bad locks naming their line.

mod common;

use std::fs;

use common::images::*;
use common::*;

fn sha256sum(build_root: &std::path::Path) -> String {
    fs::read_to_string(build_root.join("SHA256SUM")).unwrap()
}

#[test]
fn a_locked_tag_builds_the_same_iso_after_the_tag_moved() {
    need("skopeo");
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first");
    make_dir_image(work.path(), &first, "first content\n");
    let first_digest = registry.push(&first, "test/app:1.0");

    // A tag alone in versions.toml: `lock` pins it.
    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    let image = |name: &str| {
        format!(
            "\n[[images]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = \"{}\"\n",
            registry.host()
        )
    };
    let registries = format!(
        "\n[[registries]]\nhost = \"{}\"\ninsecure = true\n",
        registry.host()
    );
    fs::write(
        &versions,
        format!("{original}{}{registries}", image("test/app")),
    )
    .unwrap();
    let out = ok(&repo.run(&["lock"], &[]));
    assert!(out.contains("added test/app 1.0"), "{out}");
    let lock_path = repo.path().join("versions.lock");
    let lock = fs::read_to_string(&lock_path).unwrap();
    assert!(
        lock.contains(&format!("digest = \"{first_digest}\"")),
        "{lock}"
    );
    let out = ok(&repo.run(&["lock"], &[]));
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(
        fs::read_to_string(&lock_path).unwrap(),
        lock,
        "a fixed point"
    );

    let out = ok(&repo.run(&["--locked", "iso"], &[]));
    assert!(out.contains("SUCCESS  _image_pull:test/app"), "{out}");
    let sum = sha256sum(&repo.build_root());
    // Shipped at the ISO root, next to product.txt.
    assert_eq!(
        fs::read_to_string(repo.build_root().join("root/versions.lock")).unwrap(),
        lock
    );

    // The tag moves: a locked build in a fresh build root still gives the same ISO.
    let second = work.path().join("second");
    make_dir_image(work.path(), &second, "second content\n");
    let second_digest = registry.push(&second, "test/app:1.0");
    assert_ne!(second_digest, first_digest);
    let fresh = work.path().join("fresh");
    ok(&repo.run(
        &["--locked", "iso"],
        &[("BUILD_ROOT", fresh.to_str().unwrap())],
    ));
    assert_eq!(sha256sum(&fresh), sum, "the same bytes");

    // `lock --update NAME` moves that entry (and only what it names).
    let out = ok(&repo.run(&["lock", "--update", "test/app"], &[]));
    assert!(
        out.contains(&format!("updated test/app 1.0 -> {second_digest}")),
        "{out}"
    );
    // The Salt tree's versions.json follows the lock alone (versions.toml did not change).
    ok(&repo.run(&["salt-tree"], &[]));
    let json =
        fs::read_to_string(repo.build_root().join("root/salt/metalk8s/versions.json")).unwrap();
    assert!(json.contains(&second_digest), "{json}");
    let out = repo.run(&["lock", "--update", "test/nope"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("test/nope"), "{}", stderr(&out));

    // An image the lock does not cover: --locked refuses naming it; a plain build adds it.
    let other = work.path().join("other");
    make_dir_image(work.path(), &other, "other content\n");
    registry.push(&other, "test/other:1.0");
    let text = format!(
        "{original}{}{}{registries}",
        image("test/app"),
        image("test/other")
    );
    fs::write(&versions, text).unwrap();
    let out = repo.run(&["--locked", "images"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("test/other 1.0: no versions.lock entry (--locked)")
            && err.contains("buildchain lock --update test/other"),
        "{err}"
    );
    let out = repo.run(&["images"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("versions.lock: added test/other 1.0"),
        "{}",
        stderr(&out)
    );
    // A digest written in versions.toml must agree with the lock.
    let pinned = fs::read_to_string(&versions).unwrap().replace(
        "name = \"test/app\"\nversion = \"1.0\"\n",
        &format!("name = \"test/app\"\nversion = \"1.0\"\ndigest = \"{first_digest}\"\n"),
    );
    fs::write(&versions, pinned).unwrap();
    let out = repo.run(&["--locked", "images"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.lock:") && err.contains(&second_digest),
        "{err}"
    );

    // The manifest the lock recorded is the one a pull keeps; a refusal names the entry.
    fs::write(
        &versions,
        fs::read_to_string(&versions)
            .unwrap()
            .replace(&format!("digest = \"{first_digest}\"\n"), ""),
    )
    .unwrap();
    let lock = fs::read_to_string(&lock_path).unwrap();
    let lied = lock.replacen(
        &format!("manifest = \"{second_digest}\""),
        &format!("manifest = \"sha256:{}\"", "9".repeat(64)),
        1,
    );
    assert_ne!(lied, lock);
    fs::write(&lock_path, &lied).unwrap();
    let elsewhere = work.path().join("elsewhere");
    let out = repo.run(
        &["--locked", "images"],
        &[("BUILD_ROOT", elsewhere.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("does not match")
            && err.contains("pinned by versions.lock:")
            && err.contains("buildchain lock --update test/app"),
        "{err}"
    );
    fs::write(&lock_path, &lock).unwrap();

    // A damaged lock: the line and what to run.
    let lock = fs::read_to_string(&lock_path).unwrap();
    fs::write(
        &lock_path,
        lock.replacen("digest = \"sha256:", "digest = \"sha257:", 1),
    )
    .unwrap();
    let out = repo.run(&["images"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.lock: invalid") && err.contains("line "),
        "{err}"
    );
}

/// Only a run that pulls an image looks its tag up: other tasks, unknown task names and
/// images pinned in versions.toml need no network; a stale entry's hint is `buildchain lock`;
/// a FIFO in the lock's place is refused, not waited on.
#[test]
fn runs_that_pull_nothing_look_nothing_up() {
    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    // A registry that does not exist (port 9, discard): any lookup would fail.
    let dead = "\n[[images]]\nname = \"test/dead\"\nversion = \"1.0\"\nsource = \"127.0.0.1:9\"\n\n[[registries]]\nhost = \"127.0.0.1:9\"\ninsecure = true\n";
    fs::write(&versions, format!("{original}{dead}")).unwrap();
    ok(&repo.run(&["_iso_mkdir_root"], &[]));
    let out = repo.run(&["nosuchtask"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nosuchtask"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
    ok(&repo.run(&["list"], &[]));
    assert!(!repo.path().join("versions.lock").exists());
    // A run that pulls it looks it up, and says which image failed.
    let out = repo.run(&["images"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.toml [[images]] test/dead 1.0: no versions.lock entry"),
        "{err}"
    );

    // Pinned in versions.toml: used as is, with no lookup nor lock entry (here the pull
    // task itself then fails: the registry does not exist).
    let pinned = dead.replace(
        "version = \"1.0\"\n",
        &format!(
            "version = \"1.0\"\ndigest = \"sha256:{}\"\n",
            "2".repeat(64)
        ),
    );
    fs::write(&versions, format!("{original}{pinned}")).unwrap();
    let out = repo.run(&["images"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("_image_pull:test/dead") && !err.contains("versions.lock"),
        "{err}"
    );
    assert!(!repo.path().join("versions.lock").exists());

    // A stale entry under --locked: the hint is `buildchain lock`.
    fs::write(&versions, &original).unwrap();
    let lock = format!(
        "version = 1\n\n[[image]]\nname = \"test/gone\"\ntag = \"1.0\"\nsource = \"127.0.0.1:9\"\ndigest = \"sha256:{d}\"\nmanifest = \"sha256:{d}\"\n",
        d = "3".repeat(64)
    );
    fs::write(repo.path().join("versions.lock"), lock).unwrap();
    let out = repo.run(&["--locked", "_iso_mkdir_root"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.lock:3: [[image]] test/gone 1.0: not in versions.toml")
            && err.contains("run `buildchain lock --update test/gone` to drop it"),
        "{err}"
    );
    ok(&repo.run(&["lock", "--update", "test/gone"], &[]));
    assert!(!fs::read_to_string(repo.path().join("versions.lock"))
        .unwrap()
        .contains("test/gone"));

    // A FIFO: refused at once.
    let path = repo.path().join("versions.lock");
    fs::remove_file(&path).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success());
    let out = repo.run(&["list"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// Downloaded RPMs, locked against real repositories served by nginx: `extra` (shipped,
/// its repodata checksums in sha512, so the lock computes the sha256 itself) and `os`
/// (a base repository: resolved against, never shipped).
#[test]
fn locked_rpms_build_the_same_iso_after_the_repository_moved() {
    for tool in ["rpmbuild", "createrepo_c", "nginx"] {
        need(tool);
    }
    let work = tempfile::tempdir().unwrap();
    let www = work.path().join("www");
    let scratch = work.path().join("rpmbuild");
    buildchain_testkit::yum_repository(
        &[fixture("oslib", "1.0", "/usr/share/fixture/oslib", &[])],
        &www.join("os"),
        &scratch,
    );
    buildchain_testkit::yum_repository(
        &[
            fixture("app", "1.0", "/usr/share/fixture/app", &["helper", "oslib"]),
            fixture("helper", "1.0", "/usr/share/fixture/helper", &[]),
        ],
        &www.join("extra"),
        &scratch,
    );
    createrepo(&www.join("extra"), &["-s", "sha512"]);
    let nginx_work = tempfile::tempdir().unwrap();
    let nginx =
        buildchain_testkit::Nginx::start(nginx_work.path(), &format!("root {};", www.display()));
    let url = |path: &str| format!("http://{}/{path}/", nginx.host());

    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    let declared = |app: &str| {
        format!(
            "{original}\n[[repositories]]\nid = \"os-el8\"\nrelease = \"8\"\nurl = \"{}\"\nbase = true\n\n\
             [[repositories]]\nid = \"extra-el8\"\nrelease = \"8\"\nurl = \"{}\"\n\n\
             [[packages]]\nname = \"app\"\nrepository = \"extra-el8\"\nsource = \"download\"\n{app}",
            url("os"),
            url("extra")
        )
    };
    fs::write(&versions, declared("")).unwrap();
    let out = ok(&repo.run(&["lock"], &[]));
    assert!(
        out.contains("added rpm app-1.0-1.noarch from extra-el8 (requested)")
            && out.contains(
                "added rpm helper-1.0-1.noarch from extra-el8 (helper of app-1.0-1.noarch)"
            )
            && out.contains("added rpm oslib-1.0-1.noarch from os-el8"),
        "{out}"
    );
    let lock_path = repo.path().join("versions.lock");
    let lock = fs::read_to_string(&lock_path).unwrap();
    let app_rpm = www.join("extra/Packages/app-1.0-1.noarch.rpm");
    let app_sha = buildchain_fs::sha256_file(&app_rpm).unwrap();
    assert!(
        lock.contains(&format!("sha256 = \"{app_sha}\""))
            && lock.contains("[[repository]]\nid = \"os-el8\"")
            && lock.contains("base = true")
            && lock.contains("requirement = \"oslib\""),
        "{lock}"
    );
    assert!(ok(&repo.run(&["lock"], &[])).contains("up to date"));

    let out = ok(&repo.run(&["--locked", "iso"], &[]));
    assert!(
        out.contains("SUCCESS  _package_download:extra-el8"),
        "{out}"
    );
    let shipped = repo.build_root().join("root/packages/redhat/8");
    let names = |dir: &std::path::Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        names(&shipped.join("extra-el8")),
        [
            "app-1.0-1.noarch.rpm",
            "helper-1.0-1.noarch.rpm",
            "repodata"
        ]
    );
    assert!(
        !shipped.join("os-el8").exists(),
        "a base repository is not shipped"
    );
    let sum = sha256sum(&repo.build_root());
    // Salt's versions.json says which version the lock chose.
    let json: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(repo.build_root().join("root/salt/metalk8s/versions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json["packages"]["app"]["version"], "1.0-1", "{json}");
    let ids: Vec<&str> = json["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"extra-el8") && !ids.contains(&"os-el8"),
        "{ids:?}"
    );

    // The repository moves on: newer app and helper. A locked build in a fresh build root
    // still gives the same ISO.
    let packages = www.join("extra/Packages");
    buildchain_testkit::rpmbuild(
        &fixture("app", "2.0", "/usr/share/fixture/app", &["helper"]),
        &scratch,
        &packages,
    );
    buildchain_testkit::rpmbuild(
        &fixture("helper", "1.1", "/usr/share/fixture/helper", &[]),
        &scratch,
        &packages,
    );
    createrepo(&www.join("extra"), &[]);
    let fresh = work.path().join("fresh");
    let fresh_env = [("BUILD_ROOT", fresh.to_str().unwrap())];
    ok(&repo.run(&["--locked", "iso"], &fresh_env));
    assert_eq!(sha256sum(&fresh), sum, "the same bytes");

    // `lock --update helper` moves helper only.
    let out = ok(&repo.run(&["lock", "--update", "helper"], &[]));
    assert_eq!(
        out.trim(),
        "versions.lock: updated rpm helper 1.0-1 -> 1.1-1 from extra-el8"
    );
    let lock = fs::read_to_string(&lock_path).unwrap();
    assert!(lock.contains("version = \"1.0-1\""), "app stays: {lock}");

    // A pin the lock does not cover: --locked refuses, naming the entry; a build resolves.
    fs::write(&versions, declared("version = \"2.0\"\n")).unwrap();
    let out = repo.run(&["--locked", "packaging"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("[[rpm]] app-1.0-1.noarch does not match the pin 2.0")
            && err.contains("buildchain lock --update app"),
        "{err}"
    );
    let out = repo.run(&["packaging"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("updated rpm app 1.0-1 -> 2.0-1")
            && err.contains("removed rpm oslib-1.0-1.noarch from os-el8 (no longer required)")
            && !err.contains("updated rpm helper 1.1-1 ->"),
        "{err}"
    );

    // A file that no longer matches its lock entry: refused, naming the line and what to run.
    let lock = fs::read_to_string(&lock_path).unwrap();
    let helper_sha = buildchain_fs::sha256_file(&packages.join("helper-1.1-1.noarch.rpm")).unwrap();
    fs::write(&lock_path, lock.replace(&helper_sha, &"0".repeat(64))).unwrap();
    let out = repo.run(&["--locked", "packaging"], &fresh_env);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.lock:")
            && err.contains("[[rpm]] helper-1.1-1.noarch")
            && err.contains("checksum mismatch")
            && err.contains("buildchain lock --update extra-el8"),
        "{err}"
    );
    // A file the repository no longer serves: the same.
    fs::write(&lock_path, &lock).unwrap();
    let aside = work.path().join("app-2.0-1.noarch.rpm");
    fs::rename(packages.join("app-2.0-1.noarch.rpm"), &aside).unwrap();
    let gone = work.path().join("gone");
    let out = repo.run(
        &["--locked", "packaging"],
        &[("BUILD_ROOT", gone.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("[[rpm]] app-2.0-1.noarch") && err.contains("404"),
        "{err}"
    );
    fs::rename(&aside, packages.join("app-2.0-1.noarch.rpm")).unwrap();
    // A hostile location: the lock is refused before anything is fetched.
    fs::write(
        &lock_path,
        lock.replace("Packages/helper-1.1-1", "../../../helper-1.1-1"),
    )
    .unwrap();
    let out = repo.run(&["packaging"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("versions.lock: invalid") && err.contains("[[rpm]] helper-1.1-1.noarch"),
        "{err}"
    );
    // An entry whose file is another package's (its sha256 matches that file): the
    // header is checked against the entry's NEVRA.
    let oslib = www.join("os/Packages/oslib-1.0-1.noarch.rpm");
    fs::copy(&oslib, packages.join("oslib-1.0-1.noarch.rpm")).unwrap();
    let oslib_sha = buildchain_fs::sha256_file(&oslib).unwrap();
    let oslib_size = fs::metadata(&oslib).unwrap().len();
    let helper_size = fs::metadata(packages.join("helper-1.1-1.noarch.rpm"))
        .unwrap()
        .len();
    let swapped = lock
        .replace(
            "Packages/helper-1.1-1.noarch.rpm",
            "Packages/oslib-1.0-1.noarch.rpm",
        )
        .replace(&helper_sha, &oslib_sha)
        .replace(
            &format!("size = {helper_size}\n"),
            &format!("size = {oslib_size}\n"),
        );
    assert_ne!(swapped, lock);
    fs::write(&lock_path, &swapped).unwrap();
    let other = work.path().join("other");
    let out = repo.run(
        &["--locked", "_package_download:extra-el8"],
        &[("BUILD_ROOT", other.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("[[rpm]] helper-1.1-1.noarch")
            && err.contains("its header says oslib-1.0-1.noarch"),
        "{err}"
    );
    // A merge conflict in the lock: `lock` (all entries resolved again) writes it anew,
    // `lock --update` refuses it.
    fs::write(
        &lock_path,
        lock.replacen("[[rpm]]", "<<<<<<< HEAD\n[[rpm]]", 1),
    )
    .unwrap();
    let out = repo.run(&["lock", "--update", "app"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("write it anew"), "{}", stderr(&out));
    let out = repo.run(&["lock"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("writing it anew"), "{}", stderr(&out));
    assert!(!fs::read_to_string(&lock_path).unwrap().contains("<<<"));
    // A link in the lock's place is refused, not replaced.
    fs::remove_file(&lock_path).unwrap();
    std::os::unix::fs::symlink(work.path().join("elsewhere.lock"), &lock_path).unwrap();
    let out = repo.run(&["lock"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(fs::symlink_metadata(&lock_path).unwrap().is_symlink());
    drop(nginx);
}

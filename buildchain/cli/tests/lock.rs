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

//! The images task family and `buildchain pull|dedup`, against the real tools: skopeo,
//! Debian's docker-registry on 127.0.0.1, isoinfo, bsdtar.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::images::*;
use common::*;

use buildchain_testkit::run_ok as tool;

/// `skopeo copy docker://REF dir:DEST` from a plain-HTTP registry.
fn skopeo_pull(reference: &str, dest: &Path) {
    tool(
        Command::new("skopeo")
            .args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{reference}"))
            .arg(format!("dir:{}", dest.display())),
    );
}

fn append(path: &Path, text: &str) {
    let mut s = fs::read_to_string(path).unwrap();
    s.push_str(text);
    fs::write(path, s).unwrap();
}

fn skopeo_inspect_dir(dir: &Path) -> String {
    need("skopeo");
    tool(
        Command::new("skopeo")
            .arg("inspect")
            .arg(format!("dir:{}", dir.display())),
    )
}

/// `[ extent ...]` of a file in `isoinfo -R -l`.
fn extent_of(listing: &str, dir: &str, file: &str) -> String {
    let mut in_dir = false;
    for line in listing.lines() {
        if let Some(d) = line.strip_prefix("Directory listing of ") {
            in_dir = d.trim_end_matches('/') == dir;
            continue;
        }
        if in_dir && line.trim_end().ends_with(&format!(" {file}")) {
            let start = line.find('[').unwrap();
            let end = line.find(']').unwrap();
            return line[start + 1..end].trim().to_string();
        }
    }
    panic!("{dir}/{file} not in the listing:\n{listing}");
}

#[test]
fn iso_ships_built_images_and_stores_shared_layers_once() {
    for t in ["isoinfo", "bsdtar", "skopeo"] {
        need(t);
    }
    let repo = Repo::copy();
    // A second image made of the same files: its layers are the same blobs.
    let copy = repo.path().join("images/metalk8s-utils-copy");
    tool(
        Command::new("cp")
            .arg("-a")
            .arg(repo.path().join("images/metalk8s-utils"))
            .arg(&copy),
    );
    let toml = copy.join("image.toml");
    let text = fs::read_to_string(&toml).unwrap().replace(
        "name = \"metalk8s-utils\"",
        "name = \"metalk8s-utils-copy\"",
    );
    fs::write(&toml, text).unwrap();
    append(
        &repo.path().join("versions.toml"),
        "\n[[images]]\nname = \"metalk8s-utils-copy\"\nversion = \"0.1.0\"\nsource = \"build\"\n",
    );
    let out = ok(&repo.run(&["-n", "2"], &[]));
    for task in [
        "_image_build:metalk8s-utils",
        "_image_build:metalk8s-utils-copy",
        "_image_dedup_layers",
        "_iso_build",
    ] {
        assert!(out.contains(&format!("SUCCESS  {task}")), "{out}");
    }
    let root = repo.build_root().join("root");
    let a = root.join("images/metalk8s-utils/0.1.0");
    let b = root.join("images/metalk8s-utils-copy/0.1.0");
    let inspect = skopeo_inspect_dir(&a);
    assert!(
        inspect.contains("\"Created\": \"2023-11-14T22:13:20Z\""),
        "{inspect}"
    );
    skopeo_inspect_dir(&b);

    // Shared layers: one inode in the tree, one extent in the ISO.
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(a.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    assert_eq!(
        fs::metadata(a.join(&layer)).unwrap().ino(),
        fs::metadata(b.join(&layer)).unwrap().ino(),
        "identical layers are hardlinked"
    );
    let iso = repo.build_root().join("metalk8s.iso");
    let listing = tool(Command::new("isoinfo").args(["-R", "-l", "-i"]).arg(&iso));
    assert_eq!(
        extent_of(&listing, "/images/metalk8s-utils/0.1.0", &layer),
        extent_of(&listing, "/images/metalk8s-utils-copy/0.1.0", &layer),
        "a shared layer is stored once in the ISO"
    );
    // What the ISO holds is a valid image too.
    let extracted = repo.path().join("extracted");
    fs::create_dir_all(&extracted).unwrap();
    tool(
        Command::new("bsdtar")
            .arg("-xf")
            .arg(&iso)
            .arg("-C")
            .arg(&extracted)
            .arg("images"),
    );
    let shipped = extracted.join("images/metalk8s-utils/0.1.0");
    skopeo_inspect_dir(&shipped);
    assert_same_image(&shipped, &a);

    // Second run: nothing to do.
    let out = ok(&repo.run(&["-n", "2"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED  ")), "{out}");

    // A deleted blob is noticed: the image is built again.
    fs::remove_file(b.join(&layer)).unwrap();
    let out = ok(&repo.run(&["images"], &[]));
    assert!(
        out.contains("SUCCESS  _image_build:metalk8s-utils-copy")
            && out.contains("SKIPPED  _image_build:metalk8s-utils\n"),
        "{out}"
    );
}

#[test]
fn built_images_are_reproducible_without_source_date_epoch() {
    let repo = Repo::copy();
    let digest = |build: &str| {
        let root = repo.path().join(build);
        ok(&repo.run(
            &["--build-root", root.to_str().unwrap(), "images"],
            &[("SOURCE_DATE_EPOCH", "")],
        ));
        let dir = root.join("root/images/metalk8s-utils/0.1.0");
        let inspect = skopeo_inspect_dir(&dir);
        assert!(
            inspect.contains("\"Created\": \"1980-01-01T00:00:00Z\""),
            "the default image epoch: {inspect}"
        );
        fs::read(dir.join("manifest.json")).unwrap()
    };
    let first = digest("a");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(first == digest("b"), "same inputs, same manifest");
}

#[test]
fn pull_task_from_a_local_registry_then_offline_rerun() {
    need("skopeo");
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    make_dir_image(work.path(), &src, "hello from the registry\n");
    let digest = registry.push(&src, "test/hello:1.0");
    assert!(digest.starts_with("sha256:"), "{digest}");

    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let original = fs::read_to_string(&versions).unwrap();
    let with_pin = |pin: &str| {
        format!(
            "{original}\n[[images]]\nname = \"test/hello\"\nversion = \"1.0\"\nsource = \"{host}\"\ndigest = \"{pin}\"\n\n[[registries]]\nhost = \"{host}\"\ninsecure = true\n",
            host = registry.host()
        )
    };
    fs::write(&versions, with_pin(&digest)).unwrap();
    let out = ok(&repo.run(&["images"], &[]));
    assert!(out.contains("SUCCESS  _image_pull:test/hello"), "{out}");
    let pulled = repo.build_root().join("root/images/test/hello/1.0");
    skopeo_inspect_dir(&pulled);
    let reference = skopeo_copy_dir(&registry, "test/hello:1.0", work.path());
    assert_same_image(&pulled, &reference);
    // The blobs live once in the build root's cache, hardlinked.
    let cache = repo.build_root().join("cache/blobs/sha256");
    assert_eq!(names(&cache).len(), 2, "config + layer cached");
    for hex in names(&cache) {
        assert_eq!(
            fs::metadata(cache.join(&hex)).unwrap().ino(),
            fs::metadata(pulled.join(&hex)).unwrap().ino()
        );
    }

    // Pinned in versions.toml, the image needs no lock entry (no lookup, no lock written).
    assert!(!repo.path().join("versions.lock").exists());

    // A wrong pin: FAILED naming the image, nothing left of it.
    let wrong = format!("sha256:{}", sha256_hex(b"not the manifest"));
    fs::write(&versions, with_pin(&wrong)).unwrap();
    let out = repo.run(&["images"], &[]);
    assert!(!out.status.success());
    let (so, se) = (stdout(&out), stderr(&out));
    assert!(so.contains("FAILED   _image_pull:test/hello"), "{so}");
    assert!(
        se.contains("test/hello") && se.contains(&wrong[7..20]),
        "{se}"
    );
    assert!(!pulled.exists(), "the image of another pin is not left");
    let leftovers = names(pulled.parent().unwrap());
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Back to the right pin (blobs from the cache), then offline: SKIPPED.
    fs::write(&versions, with_pin(&digest)).unwrap();
    let out = ok(&repo.run(&["images"], &[]));
    assert!(out.contains("SUCCESS  _image_pull:test/hello"), "{out}");
    drop(registry);
    let out = ok(&repo.run(&["images"], &[]));
    assert!(out.lines().all(|l| l.starts_with("SKIPPED  ")), "{out}");
    assert_same_image(&pulled, &reference);
}

fn skopeo_copy_dir(registry: &Registry, name_tag: &str, work: &Path) -> PathBuf {
    let dest = work.join(format!("skopeo-{}", name_tag.replace(['/', ':'], "-")));
    skopeo_pull(&format!("{}/{name_tag}", registry.host()), &dest);
    dest
}

#[test]
fn pull_command_by_tag_and_digest_equals_skopeo_copy() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    make_dir_image(work.path(), &src, "pulled by the command line\n");
    let digest = registry.push(&src, "cli/img:2.0");
    let reference = skopeo_copy_dir(&registry, "cli/img:2.0", work.path());
    let host = registry.host();
    for (i, r) in [
        format!("{host}/cli/img:2.0"),
        format!("docker://{host}/cli/img@{digest}"),
        format!("{host}/cli/img:2.0@{digest}"),
    ]
    .iter()
    .enumerate()
    {
        let dest = work.path().join(format!("ours-{i}"));
        let out = run_in(
            work.path(),
            &["pull", "--insecure", r, dest.to_str().unwrap()],
            &[],
        );
        let so = ok(&out);
        assert!(so.contains("pulled ") && so.contains(&digest), "{so}");
        assert_same_image(&dest, &reference);
    }
    // A wrong pin: exit 1, the image named, nothing written.
    let wrong = format!("sha256:{}", sha256_hex(b"x"));
    let dest = work.path().join("wrong");
    let out = run_in(
        work.path(),
        &[
            "pull",
            "--insecure",
            &format!("{host}/cli/img@{wrong}"),
            dest.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cli/img"), "{}", stderr(&out));
    assert!(!dest.exists());
    // Bad references and platforms are usage errors (exit 2).
    for args in [
        vec!["pull", "not a ref", "x"],
        vec!["pull", "--platform", "linux", "127.0.0.1:1/a:b", "x"],
        vec!["pull", "127.0.0.1:1/a:b"],
    ] {
        let out = run_in(work.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // Registry down: exit 1, a message naming the registry.
    drop(registry);
    let out = run_in(
        work.path(),
        &["pull", "--insecure", &format!("{host}/cli/img:2.0"), "down"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&host), "{}", stderr(&out));
}

#[test]
fn dedup_command_links_identical_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("tree");
    fs::create_dir_all(dir.join("a/1")).unwrap();
    fs::create_dir_all(dir.join("b/2")).unwrap();
    let blob = vec![7u8; 100_000];
    fs::write(dir.join("a/1/blob"), &blob).unwrap();
    fs::write(dir.join("b/2/same"), &blob).unwrap();
    let mut other = blob.clone();
    other[99_999] = 8;
    fs::write(dir.join("b/2/other"), &other).unwrap();
    fs::write(dir.join("a/empty"), "").unwrap();
    fs::write(dir.join("b/empty"), "").unwrap();
    let out = run_in(work.path(), &["dedup", dir.to_str().unwrap()], &[]);
    let so = ok(&out);
    assert!(
        so.contains("1 linked") && so.contains("100000 bytes saved"),
        "{so}"
    );
    let ino = |p: &str| fs::metadata(dir.join(p)).unwrap().ino();
    assert_eq!(ino("a/1/blob"), ino("b/2/same"));
    assert_ne!(ino("a/1/blob"), ino("b/2/other"));
    assert_ne!(ino("a/empty"), ino("b/empty"), "empty files are left alone");
    assert_eq!(fs::read(dir.join("b/2/other")).unwrap(), other);
    // Twice: nothing more to do.
    let so = ok(&run_in(work.path(), &["dedup", dir.to_str().unwrap()], &[]));
    assert!(so.contains("0 linked"), "{so}");
    // Not a directory: exit 1 naming it.
    let out = run_in(work.path(), &["dedup", "/nonexistent/dir"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/dir"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn pull_honours_the_proxy_environment_as_curl_does() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let src = w.join("src");
    make_dir_image(w, &src, "through a proxy\n");
    registry.push(&src, "team/app:1.0");
    let proxy = buildchain_testkit::Proxy::start();
    let reference = format!("{}/team/app:1.0", registry.host());
    let pull = |dest: &str, env: &[(&str, &str)]| {
        let mut cmd = command_in(w, &["pull", "--insecure", &reference, dest], env);
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ] {
            if !env.iter().any(|(k, _)| *k == var) {
                cmd.env_remove(var);
            }
        }
        cmd.output().unwrap()
    };
    let url = proxy.url();
    ok(&pull("via-proxy", &[("HTTP_PROXY", &url)]));
    assert!(
        proxy.seen().iter().any(|s| s.contains(&registry.host())),
        "{:?}",
        proxy.seen()
    );
    assert_same_image(&w.join("via-proxy"), &src);
    let before = proxy.seen().len();
    ok(&pull(
        "direct",
        &[("HTTP_PROXY", &url), ("NO_PROXY", "localhost,127.0.0.1")],
    ));
    assert_eq!(proxy.seen().len(), before, "NO_PROXY bypasses the proxy");
    let out = pull("dead", &[("HTTP_PROXY", "http://127.0.0.1:1")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!w.join("dead").exists());
}

/// A pull that runs again relinks its blobs from the cache; the de-duplication runs after
/// it, so the next ISO is byte for byte the one a fresh build root gives (shared layers
/// stored once), not a bigger one holding the shared layer twice.
#[test]
fn an_image_pulled_again_is_deduplicated_again() {
    need("skopeo");
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    make_dir_image(work.path(), &src, "a shared layer\n");
    let a = registry.push(&src, "test/a:1.0");
    let b = registry.push(&src, "test/b:1.0");
    let repo = Repo::copy();
    let versions = repo.path().join("versions.toml");
    let mut text = fs::read_to_string(&versions).unwrap();
    for (name, pin) in [("test/a", &a), ("test/b", &b)] {
        text.push_str(&format!(
            "\n[[images]]\nname = \"{name}\"\nversion = \"1.0\"\nsource = \"{host}\"\ndigest = \"{pin}\"\n",
            host = registry.host()
        ));
    }
    text.push_str(&format!(
        "\n[[registries]]\nhost = \"{}\"\ninsecure = true\n",
        registry.host()
    ));
    fs::write(&versions, text).unwrap();
    ok(&repo.run(&["iso"], &[]));
    // Damage test/a's layer in place (same size, mtime put back): its pull runs again.
    let image_a = repo.build_root().join("root/images/test/a/1.0");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(image_a.join("manifest.json")).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let path = image_a.join(&layer["sha256:".len()..]);
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    fs::remove_file(&path).unwrap();
    fs::write(&path, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = ok(&repo.run(&["iso"], &[]));
    assert!(out.contains("SUCCESS  _image_pull:test/a"), "{out}");
    assert!(out.contains("SUCCESS  _image_dedup_layers"), "{out}");
    // Any later ISO equals a fresh build's.
    append(
        &repo.path().join("salt/metalk8s/repo/configured.sls"),
        "# changed\n",
    );
    ok(&repo.run(&["iso"], &[]));
    let fresh = work.path().join("fresh");
    ok(&repo.run(&["iso"], &[("BUILD_ROOT", fresh.to_str().unwrap())]));
    let ours = fs::read(repo.build_root().join("metalk8s.iso")).unwrap();
    let theirs = fs::read(fresh.join("metalk8s.iso")).unwrap();
    assert_eq!(ours.len(), theirs.len(), "the shared layer is stored once");
    assert!(ours == theirs, "the same bytes as a fresh build");
}

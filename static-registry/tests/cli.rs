//! The command line and the library on hand-made trees: options, determinism, and hostile
//! names, option values and manifests (clear error naming the path, nothing emitted).

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::{generate_cli, run_cli, sha256_hex};
use static_container_registry::{
    generate, served_images, shown_path, Constants, Error, MediaType, Options, TAG_INVALID_JSON,
};

const V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn v2s2_manifest(seed: &str) -> String {
    let hex = sha256_hex(seed.as_bytes());
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{V2S2}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{hex}"}},"layers":[]}}"#
    )
}

/// Writes `root/<name>/<tag>/manifest.json` (names as raw bytes) and returns the tag dir.
fn image(root: &Path, name: &[u8], tag: &[u8], manifest: &str) -> PathBuf {
    let dir = root
        .join(std::ffi::OsStr::from_bytes(name))
        .join(std::ffi::OsStr::from_bytes(tag));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    dir
}

fn small_tree() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    image(tmp.path(), b"alpine", b"3.9", &v2s2_manifest("a"));
    image(tmp.path(), b"alpine", b"3.9.3", &v2s2_manifest("a"));
    image(tmp.path(), b"alpine", b"3.8", &v2s2_manifest("b"));
    image(tmp.path(), b"k8s.gcr.io:pause", b"3.1", &v2s2_manifest("c"));
    tmp
}

/// Runs the CLI expecting failure: exit status 1, nothing on stdout, `needle` on stderr.
fn assert_refused(args: &[&str], needle: &str) {
    let out = run_cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} emitted output");
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
}

#[test]
fn default_output_has_constants_and_every_image() {
    let tree = small_tree();
    let root = tree.path().to_str().unwrap();
    let out = generate_cli(&[root]);
    assert!(out.starts_with("\nlocation = /v2 {\n    return 301 /v2/;\n}\n"));
    assert!(out.contains(&format!("return 404 '{TAG_INVALID_JSON}';")));
    assert!(out.contains(
        "location = \"/v2/alpine/tags/list\" {\n    types { } default_type \"application/json\";\n    return 200 '{\"name\": \"alpine\", \"tags\": [\"3.8\", \"3.9\", \"3.9.3\"]}';\n}\n"
    ));
    let digest = sha256_hex(v2s2_manifest("a").as_bytes());
    let by_tag = format!(
        "location = \"/v2/alpine/manifests/3.9\" {{\n    alias \"{root}/alpine/3.9/\";\n    disable_symlinks on \"from={root}\";\n    types {{ }} default_type \"{V2S2}\";\n    add_header 'Docker-Content-Digest' 'sha256:{digest}';\n    try_files manifest.json =404;\n    error_page 404 @404_tag;\n}}\n"
    );
    assert!(out.contains(&by_tag), "{out}");
    // One by-digest location per distinct digest.
    assert_eq!(
        out.matches(&format!("/manifests/sha256:{digest}\""))
            .count(),
        1
    );
    assert!(out.contains(&format!(
        "# Digest sha256:{digest} of \"alpine:3.9.3\" already served"
    )));
    assert!(out.contains(&format!(
        "location ~ \"^/v2/alpine/blobs/sha256:([a-f0-9]{{64}})$\" {{\n    alias \"{root}/alpine/\";\n    disable_symlinks on \"from={root}\";\n    try_files 3.8/$1 3.9/$1 3.9.3/$1 =404;\n}}\n"
    )));
    // `:` on disk is a `/` in the registry; `.` is escaped in the blob regex.
    assert!(out.contains("location = \"/v2/k8s.gcr.io/pause/manifests/3.1\""));
    assert!(out.contains(&format!("alias \"{root}/k8s.gcr.io:pause/3.1/\";")));
    assert!(out.contains("location ~ \"^/v2/k8s\\.gcr\\.io/pause/blobs/sha256:"));
}

#[test]
fn only_constants_and_omit_constants() {
    let tree = small_tree();
    let root = tree.path().to_str().unwrap();
    let all = generate_cli(&[root]);
    let only = generate_cli(&["--only-constants", root]);
    let omit = generate_cli(&["--omit-constants", root]);
    assert_eq!(format!("{only}{omit}"), all);
    assert!(!only.contains("alpine"));
    assert!(!omit.contains("location = /v2/ {") && !omit.contains("location @404_tag"));
    assert!(
        omit.contains("@404_tag;"),
        "per-image locations refer to the constants"
    );
    // --only-constants does not read the root.
    assert_eq!(
        generate_cli(&["--only-constants", "/nonexistent/root"]),
        only
    );
    // The two are exclusive.
    let both = run_cli(&["--only-constants", "--omit-constants", root]);
    assert_eq!(both.status.code(), Some(2));
    assert!(both.stdout.is_empty());
    // Same through the library.
    let options = |constants| Options {
        constants,
        ..Options::default()
    };
    assert_eq!(
        generate(tree.path(), &options(Constants::Include)).unwrap(),
        all
    );
    assert_eq!(
        generate(tree.path(), &options(Constants::Only)).unwrap(),
        only
    );
    assert_eq!(
        generate(tree.path(), &options(Constants::Omit)).unwrap(),
        omit
    );
}

#[test]
fn jinja_placeholders_pass_through_untouched() {
    let tree = small_tree();
    let out = generate_cli(&[
        "--name-prefix",
        "{{ repository }}",
        "--server-root",
        "{{ registry_root }}",
        "--omit-constants",
        tree.path().to_str().unwrap(),
    ]);
    assert!(out.contains("location = \"/v2/{{ repository }}/alpine/manifests/3.8\" {"));
    assert!(out.contains("alias \"{{ registry_root }}/alpine/3.8/\";"));
    assert!(out.contains("'{\"name\": \"{{ repository }}/alpine\", \"tags\": ["));
    assert!(out.contains("location ~ \"^/v2/{{ repository }}/k8s\\.gcr\\.io/pause/blobs/"));
    assert!(!out.contains("location = /v2/ {"));
}

#[test]
fn output_is_deterministic() {
    // Same images created in opposite orders: same bytes.
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let names: [&[u8]; 4] = [b"zeta", b"alpha", b"mid:sub", b"beta"];
    let tags: [&[u8]; 3] = [b"2", b"10", b"1"];
    for n in names {
        for t in tags {
            image(a.path(), n, t, &v2s2_manifest("x"));
        }
    }
    for n in names.iter().rev() {
        for t in tags.iter().rev() {
            image(b.path(), n, t, &v2s2_manifest("x"));
        }
    }
    let run = |dir: &Path| generate_cli(&["--server-root", "/srv", dir.to_str().unwrap()]);
    let first = run(a.path());
    assert_eq!(first, run(a.path()));
    assert_eq!(first, run(b.path()));
    let positions: Vec<_> = ["/v2/alpha/", "/v2/beta/", "/v2/mid/sub/", "/v2/zeta/"]
        .iter()
        .map(|n| first.find(&format!("\"{n}tags/list\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert!(first.contains("\"tags\": [\"1\", \"10\", \"2\"]"));
}

#[test]
fn served_images_lists_exactly_what_is_served() {
    let tree = small_tree();
    // Not served: schema 1, an unknown media type, a tag directory without manifest.
    image(
        tree.path(),
        b"old",
        b"v1",
        r#"{"schemaVersion":1,"name":"old","fsLayers":[]}"#,
    );
    image(
        tree.path(),
        b"alpine",
        b"helm",
        r#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.config.v1+json"}"#,
    );
    std::fs::create_dir_all(tree.path().join("alpine/partial")).unwrap();
    std::fs::write(tree.path().join("stray-file"), "x").unwrap();
    let served = served_images(tree.path()).unwrap();
    let listed: Vec<_> = served
        .iter()
        .map(|i| format!("{}:{}", i.repository, i.tag))
        .collect();
    assert_eq!(
        listed,
        [
            "alpine:3.8",
            "alpine:3.9",
            "alpine:3.9.3",
            "k8s.gcr.io/pause:3.1"
        ]
    );
    assert!(served
        .iter()
        .all(|i| i.media_type == MediaType::DockerManifest));
    assert_eq!(
        served[0].digest,
        format!("sha256:{}", sha256_hex(v2s2_manifest("b").as_bytes()))
    );

    let out = run_cli(&[tree.path().to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("/old/") && !stdout.contains("helm") && !stdout.contains("partial"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("old/v1/manifest.json: schemaVersion 1 is not served"),
        "{stderr}"
    );
    assert!(
        stderr.contains("alpine/helm/manifest.json: media type"),
        "{stderr}"
    );
    assert!(
        stderr.contains("alpine/partial: no manifest.json"),
        "{stderr}"
    );
}

#[test]
fn oci_manifests_without_media_type_are_recognised() {
    let tree = tempfile::tempdir().unwrap();
    image(
        tree.path(),
        b"oci",
        b"1",
        r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
    );
    image(
        tree.path(),
        b"oci",
        b"idx",
        r#"{"schemaVersion":2,"manifests":[]}"#,
    );
    let out = generate_cli(&[tree.path().to_str().unwrap()]);
    assert!(out.contains("default_type \"application/vnd.oci.image.manifest.v1+json\""));
    assert!(out.contains("default_type \"application/vnd.oci.image.index.v1+json\""));
}

#[test]
fn hostile_repository_names_are_refused() {
    let hostile: &[&[u8]] = &[
        b"a\"b",
        b"a'b",
        b"a{b",
        b"a}b",
        b"a;b",
        b"a\nb",
        b"a b",
        b"a$b",
        b"a\\b",
        b"a#b",
        b"Upper",
        b"a..b",
        b"a:..:b",
        b"a::b",
        b".hidden",
        b"-a",
        b"a_",
        b"\xff\xfe",
    ];
    for name in hostile {
        let tree = small_tree();
        image(tree.path(), name, b"1.0", &v2s2_manifest("h"));
        let shown = tree.path().join(std::ffi::OsStr::from_bytes(name));
        let needle = if name == b"\xff\xfe" {
            "not valid UTF-8".to_string()
        } else {
            format!("{}: invalid repository name", shown_path(&shown))
        };
        assert_refused(&[tree.path().to_str().unwrap()], &needle);
        let error = generate(tree.path(), &Options::default()).unwrap_err();
        assert!(
            matches!(error, Error::InvalidRepositoryName { ref path, .. } | Error::NonUtf8Name { ref path } if *path == shown),
            "{error}"
        );
    }
}

#[test]
fn hostile_tags_are_refused() {
    let hostile: &[&[u8]] = &[
        b"1.0\"",
        b"x'y",
        b"{t}",
        b"t;x",
        b"t\nx",
        b"a b",
        b"$t",
        b"t\\x",
        b".x",
        b"..x",
        b"-x",
        b"t:x",
        &[b'a'; 129],
        b"\xc3\xa9",
    ];
    for tag in hostile {
        let tree = small_tree();
        image(tree.path(), b"alpine", tag, &v2s2_manifest("h"));
        let shown = tree
            .path()
            .join("alpine")
            .join(std::ffi::OsStr::from_bytes(tag));
        assert_refused(
            &[tree.path().to_str().unwrap()],
            &format!("{}: invalid tag", shown_path(&shown)),
        );
        let error = generate(tree.path(), &Options::default()).unwrap_err();
        assert!(
            matches!(error, Error::InvalidTag { ref path, .. } if *path == shown),
            "{error}"
        );
    }
}

#[test]
fn hostile_name_prefixes_are_refused() {
    let tree = small_tree();
    let root = tree.path().to_str().unwrap();
    for prefix in [
        "a\"b",
        "a'b",
        "a{b",
        "a}b",
        "a;b",
        "a\nb",
        "..",
        "../x",
        "a/../b",
        "Upper",
        "$var",
        "a b",
        "a\\b",
        "a#b",
        "{{ x",
        "{{ x }}}",
        "{{ a\"b }}",
        "{{ a;b }}",
        "a//b",
    ] {
        assert_refused(&["--name-prefix", prefix, root], "invalid name prefix");
        assert_refused(
            &["--name-prefix", prefix, "--only-constants", root],
            "invalid name prefix",
        );
    }
}

#[test]
fn hostile_server_roots_are_refused() {
    let tree = small_tree();
    let root = tree.path().to_str().unwrap();
    for server_root in [
        "/x\";", "/x'", "/x;y", "/x{y", "/x}", "/x\ny", "/x\\y", "/x#y", "/x\ty", "{{ x", "$",
        "/x$", "${x", "$1",
    ] {
        assert_refused(&["--server-root", server_root, root], "invalid server root");
    }
    // The default server root is the root itself, which must be safe too.
    let unsafe_root = tree.path().join("im;ages");
    image(&unsafe_root, b"alpine", b"1", &v2s2_manifest("a"));
    assert_refused(&[unsafe_root.to_str().unwrap()], "invalid server root");
    // A `$` in the root path would be expanded by nginx: refused as a default too.
    let dollar_root = tree.path().join("im$ages");
    image(&dollar_root, b"alpine", b"1", &v2s2_manifest("a"));
    assert_refused(
        &[dollar_root.to_str().unwrap()],
        "which nginx or Jinja would expand",
    );
    // …but not when another server root is given.
    generate_cli(&[
        "--server-root",
        "/srv/images",
        unsafe_root.to_str().unwrap(),
    ]);
}

#[test]
fn hostile_manifests_are_refused() {
    // Malformed and truncated JSON.
    for text in ["{not json", "{\"schemaVersion\": 2, \"mediaType\": \"", ""] {
        let tree = small_tree();
        let dir = image(tree.path(), b"broken", b"1", text);
        assert_refused(
            &[tree.path().to_str().unwrap()],
            &format!(
                "{}: not a JSON manifest",
                dir.join("manifest.json").display()
            ),
        );
    }
    // Larger than any registry accepts.
    let tree = small_tree();
    let dir = image(tree.path(), b"huge", b"1", &" ".repeat(4 * 1024 * 1024 + 1));
    assert_refused(
        &[tree.path().to_str().unwrap()],
        &format!(
            "{}: manifest is 4194305 bytes",
            dir.join("manifest.json").display()
        ),
    );

    // An index whose child digest would escape the tag directory.
    let tree = small_tree();
    let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:../../../etc/passwd","size":1}]}"#;
    image(tree.path(), b"multi", b"1", index);
    assert_refused(
        &[tree.path().to_str().unwrap()],
        "is not sha256:<64 lower-case hex digits>",
    );

    // An index whose child manifest does not hash to its digest (lying digest).
    let tree = small_tree();
    let child = v2s2_manifest("child");
    let hex = sha256_hex(child.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{{"mediaType":"{V2S2}","digest":"sha256:{hex}","size":{}}}]}}"#,
        child.len()
    );
    let dir = image(tree.path(), b"multi", b"1", &index);
    std::fs::write(
        dir.join(format!("{hex}.manifest.json")),
        v2s2_manifest("other"),
    )
    .unwrap();
    assert_refused(
        &[tree.path().to_str().unwrap()],
        "but the index lists it as sha256:",
    );
    // With the right bytes, the child is served by digest with its own media type.
    std::fs::write(dir.join(format!("{hex}.manifest.json")), &child).unwrap();
    let out = generate_cli(&[tree.path().to_str().unwrap()]);
    assert!(out.contains(&format!("location = \"/v2/multi/manifests/sha256:{hex}\"")));
    assert!(out.contains(&format!("try_files {hex}.manifest.json =404;")));
    // Absent children (copied without --all) are reported and not served.
    std::fs::remove_file(dir.join(format!("{hex}.manifest.json"))).unwrap();
    let out = run_cli(&[tree.path().to_str().unwrap()]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&format!("sha256:{hex}\"")));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listed by the index is absent"));
}

#[test]
fn unreadable_roots_are_errors() {
    assert_refused(&["/nonexistent/images"], "cannot read /nonexistent/images");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert_refused(&[file.to_str().unwrap()], "not a directory");
}

#[test]
fn symbolic_links_are_refused_naming_them() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "secret\n").unwrap();
    std::fs::create_dir(outside.path().join("repo")).unwrap();
    let blob = "a".repeat(64);
    type Plant = fn(&Path, &Path, &str) -> PathBuf;
    let cases: &[(&str, Plant, bool)] = &[
        (
            "a blob leading out",
            |root, out, blob| {
                let link = root.join("alpine/3.9").join(blob);
                std::os::unix::fs::symlink(out.join("passwd"), &link).unwrap();
                link
            },
            true,
        ),
        (
            "a manifest leading out",
            |root, out, _| {
                let link = root.join("alpine/3.8/manifest.json");
                std::fs::remove_file(&link).unwrap();
                std::fs::write(out.join("manifest.json"), v2s2_manifest("z")).unwrap();
                std::os::unix::fs::symlink(out.join("manifest.json"), &link).unwrap();
                link
            },
            true,
        ),
        (
            "a repository leading out",
            |root, out, _| {
                image(out, b"repo", b"1.0", &v2s2_manifest("o"));
                let link = root.join("evil");
                std::os::unix::fs::symlink(out.join("repo"), &link).unwrap();
                link
            },
            true,
        ),
        (
            "a tag staying inside",
            |root, _, _| {
                let link = root.join("alpine/latest");
                std::os::unix::fs::symlink("3.9", &link).unwrap();
                link
            },
            false,
        ),
    ];
    for (what, plant, leads_out) in cases {
        let tree = small_tree();
        let link = plant(tree.path(), outside.path(), &blob);
        let needle = format!(
            "{}: a symbolic link{}",
            shown_path(&link),
            if *leads_out {
                " leading outside the root"
            } else {
                ""
            }
        );
        assert_refused(&[tree.path().to_str().unwrap()], &needle);
        let error = generate(tree.path(), &Options::default()).unwrap_err();
        assert!(
            matches!(error, Error::Symlink { ref path, outside } if *path == link && outside == *leads_out),
            "{what}: {error:?}"
        );
    }
}

//! End to end: the generated include served by real nginx, every image pulled by real
//! skopeo (inspect digest == sha256 of manifest.json, copy by tag and by digest), HEAD and
//! the error paths checked with raw HTTP requests.

mod common;

use std::path::Path;

use common::{fixture, generate_cli, require_tool, sha256_hex, skopeo, Fixture, Nginx};
use static_container_registry::{configured_images, scan, served_images, MediaType};

/// Checks everything a pull client relies on, for every image the root holds.
fn check_registry(server: &Nginx, fixture: &Fixture, prefix: &str) {
    let registry = server.host();
    let catalog = scan(&fixture.root).unwrap();
    let served = catalog.served_images();
    let names: Vec<_> = served
        .iter()
        .map(|i| format!("{}:{}", i.repository, i.tag))
        .collect();
    assert_eq!(
        names,
        [
            "base:1.0",
            "base:1.1",
            "base:latest",
            "library/nested:3.0",
            "multi:list",
            "multi:v1",
            "oci-image:v1",
        ],
        "served images"
    );

    // Constants.
    let redirect = server.request("GET", "/v2");
    assert_eq!(redirect.status, 301);
    assert!(redirect.header("location").unwrap().ends_with("/v2/"));
    let ping = server.request("GET", "/v2/");
    assert_eq!((ping.status, ping.body.as_slice()), (200, b"ok".as_slice()));
    let head_ping = server.request("HEAD", "/v2/");
    assert_eq!(head_ping.status, 200);
    assert!(head_ping.body.is_empty());

    let out = tempfile::tempdir().unwrap();
    for repo in &catalog.repositories {
        let reference = format!("{registry}/{prefix}{}", repo.name);

        // tags/list: exactly the tags on disk.
        let list = server.request("GET", &format!("/v2/{prefix}{}/tags/list", repo.name));
        assert_eq!(list.status, 200);
        assert_eq!(list.header("content-type"), Some("application/json"));
        let json: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
        let tags: Vec<&str> = repo.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            json,
            serde_json::json!({"name": format!("{prefix}{}", repo.name), "tags": tags})
        );

        for tag in &repo.tags {
            let tag_dir = fixture.root.join(&repo.dir_name).join(&tag.name);
            let on_disk = std::fs::read(tag_dir.join("manifest.json")).unwrap();
            let digest = format!("sha256:{}", sha256_hex(&on_disk));
            assert_eq!(tag.manifest.digest, digest);

            // skopeo inspect: the digest is the sha256 of manifest.json.
            let inspect = skopeo(&[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{reference}:{}", tag.name),
            ]);
            let inspected: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
            assert_eq!(
                inspected["Digest"],
                digest.as_str(),
                "{reference}:{}",
                tag.name
            );

            // skopeo copy by tag and by digest: same manifest bytes.
            let by_tag = out.path().join(format!("{}-{}", repo.dir_name, tag.name));
            skopeo(&[
                "copy",
                "--quiet",
                "--all",
                "--src-tls-verify=false",
                &format!("docker://{reference}:{}", tag.name),
                &format!("dir:{}", by_tag.display()),
            ]);
            assert_eq!(
                std::fs::read(by_tag.join("manifest.json")).unwrap(),
                on_disk
            );
            let by_digest = out
                .path()
                .join(format!("{}-{}-digest", repo.dir_name, tag.name));
            skopeo(&[
                "copy",
                "--quiet",
                "--all",
                "--src-tls-verify=false",
                &format!("docker://{reference}@{digest}"),
                &format!("dir:{}", by_digest.display()),
            ]);
            assert_eq!(
                std::fs::read(by_digest.join("manifest.json")).unwrap(),
                on_disk
            );

            // HEAD by tag: GET's headers, no body.
            let uri = format!("/v2/{prefix}{}/manifests/{}", repo.name, tag.name);
            let head = server.request("HEAD", &uri);
            assert_eq!(head.status, 200, "HEAD {uri}");
            assert_eq!(
                head.header("content-type"),
                Some(tag.manifest.media_type.as_str())
            );
            assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));
            assert_eq!(
                head.header("content-length"),
                Some(on_disk.len().to_string().as_str())
            );
            assert!(head.body.is_empty(), "HEAD {uri} has a body");
            let get = server.request(
                "GET",
                &format!("/v2/{prefix}{}/manifests/{digest}", repo.name),
            );
            assert_eq!(get.status, 200);
            assert_eq!(get.body, on_disk);
            assert_eq!(get.header("docker-content-digest"), Some(digest.as_str()));

            // Child manifests of an index, by digest, with their own media type.
            for child in &tag.children {
                let bytes = std::fs::read(tag_dir.join(&child.file_name)).unwrap();
                for method in ["GET", "HEAD"] {
                    let response = server.request(
                        method,
                        &format!("/v2/{prefix}{}/manifests/{}", repo.name, child.digest),
                    );
                    assert_eq!(response.status, 200);
                    assert_eq!(
                        response.header("content-type"),
                        Some(child.media_type.as_str())
                    );
                    assert_eq!(
                        response.header("docker-content-digest"),
                        Some(child.digest.as_str())
                    );
                    let expected: &[u8] = if method == "GET" { &bytes } else { b"" };
                    assert_eq!(response.body, expected);
                }
            }

            // Every blob of every manifest of the tag, GET and HEAD.
            for file in std::fs::read_dir(&tag_dir).unwrap() {
                let name = file.unwrap().file_name().into_string().unwrap();
                if name.len() != 64 {
                    continue;
                }
                let size = std::fs::metadata(tag_dir.join(&name)).unwrap().len();
                let uri = format!("/v2/{prefix}{}/blobs/sha256:{name}", repo.name);
                let head = server.request("HEAD", &uri);
                assert_eq!(head.status, 200, "HEAD {uri}");
                assert_eq!(
                    head.header("content-length"),
                    Some(size.to_string().as_str())
                );
                assert!(head.body.is_empty());
                assert_eq!(sha256_hex(&server.request("GET", &uri).body), name);
            }
        }

        // An unknown blob is a 404.
        let missing = server.request(
            "GET",
            &format!("/v2/{prefix}{}/blobs/sha256:{}", repo.name, "0".repeat(64)),
        );
        assert_eq!(missing.status, 404);
    }

    // The index: every platform is pulled through its child manifest.
    let multi = format!("docker://{registry}/{prefix}multi");
    let (amd64, arm64) = &fixture.index_children;
    for (arch, child) in [("amd64", amd64), ("arm64", arm64)] {
        let inspect = skopeo(&[
            "inspect",
            "--tls-verify=false",
            "--override-arch",
            arch,
            &format!("{multi}:v1"),
        ]);
        let inspected: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(inspected["Architecture"], arch);
        let dest = out.path().join(format!("child-{arch}"));
        skopeo(&[
            "copy",
            "--quiet",
            "--src-tls-verify=false",
            &format!("{multi}@sha256:{child}"),
            &format!("dir:{}", dest.display()),
        ]);
        assert_eq!(
            sha256_hex(&std::fs::read(dest.join("manifest.json")).unwrap()),
            *child
        );
    }
    let v1 = &catalog
        .repositories
        .iter()
        .find(|r| r.name == "multi")
        .unwrap()
        .tags[1];
    assert_eq!(v1.manifest.media_type, MediaType::OciIndex);
    assert_eq!(v1.children.len(), 2);
    assert!(v1
        .children
        .iter()
        .all(|c| c.media_type == MediaType::OciManifest));

    // A listed tag whose manifest vanished: the TAG_INVALID JSON 404.
    let latest = fixture.root.join("base/latest");
    std::fs::rename(latest.join("manifest.json"), latest.join("moved.json")).unwrap();
    let invalid = server.request("GET", &format!("/v2/{prefix}base/manifests/latest"));
    std::fs::rename(latest.join("moved.json"), latest.join("manifest.json")).unwrap();
    assert_eq!(invalid.status, 404);
    assert_eq!(invalid.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&invalid.body).unwrap();
    assert_eq!(body["errors"][0]["code"], "TAG_INVALID");
}

fn tools() {
    require_tool("nginx");
    require_tool("skopeo");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn serves_every_image_without_prefix() {
    tools();
    let fixture = fixture();
    let conf = tempfile::tempdir().unwrap();
    let config = generate_cli(&[fixture.root.to_str().unwrap()]);
    let include = write(conf.path(), "registry.inc", &config);
    let server = Nginx::start(conf.path(), &format!("include {include};"));
    check_registry(&server, &fixture, "");
}

#[test]
fn serves_metalk8s_style_prefix_and_variable_root() {
    tools();
    let fixture = fixture();
    let conf = tempfile::tempdir().unwrap();
    let constants = generate_cli(&["--only-constants", "/nonexistent"]);
    let images = generate_cli(&[
        "--name-prefix",
        "metalk8s-2.0.0-dev/",
        "--server-root",
        "$metalk8s_2_0_0_dev_images",
        "--omit-constants",
        fixture.root.to_str().unwrap(),
    ]);
    assert!(!images.contains("location = /v2/ {"));
    assert!(images.contains("alias \"$metalk8s_2_0_0_dev_images/base/1.0/\";"));
    let constants = write(conf.path(), "metalk8s-registry-common.inc", &constants);
    let images = write(conf.path(), "metalk8s-registry.inc", &images);
    let server = Nginx::start(
        conf.path(),
        &format!(
            "set $metalk8s_2_0_0_dev_images {};\ninclude {constants};\ninclude {images};",
            fixture.root.display()
        ),
    );
    check_registry(&server, &fixture, "metalk8s-2.0.0-dev/");
}

#[test]
fn serves_a_rendered_jinja_template() {
    tools();
    let fixture = fixture();
    let conf = tempfile::tempdir().unwrap();
    let template = generate_cli(&[
        "--name-prefix",
        "{{ repository }}",
        "--server-root",
        "{{ registry_root }}",
        "--omit-constants",
        fixture.root.to_str().unwrap(),
    ]);
    // The placeholders pass through untouched, for Salt to render.
    assert!(template.contains("location = \"/v2/{{ repository }}/base/manifests/1.0\" {"));
    assert!(template.contains("alias \"{{ registry_root }}/base/1.0/\";"));
    assert!(template
        .contains("location ~ \"^/v2/{{ repository }}/base/blobs/sha256:([a-f0-9]{64})$\" {"));
    assert!(!template.contains("location = /v2/ {"));
    // Reading the template back gives exactly the images on disk.
    let configured: Vec<String> = configured_images(&template)
        .iter()
        .map(|i| format!("{}:{}", i.name, i.tag))
        .collect();
    let on_disk: Vec<String> = served_images(&fixture.root)
        .unwrap()
        .iter()
        .map(|i| format!("{{{{ repository }}}}/{}:{}", i.repository, i.tag))
        .collect();
    assert_eq!(configured, on_disk);
    let rendered = template
        .replace("{{ repository }}", "example-solution-1.0.0")
        .replace("{{ registry_root }}", fixture.root.to_str().unwrap());
    let constants = generate_cli(&["--only-constants"]);
    let constants = write(conf.path(), "constants.inc", &constants);
    let images = write(conf.path(), "solution.inc", &rendered);
    let server = Nginx::start(
        conf.path(),
        &format!("include {constants};\ninclude {images};"),
    );
    check_registry(&server, &fixture, "example-solution-1.0.0/");
}

#[test]
fn a_symbolic_link_planted_after_generation_is_not_served() {
    tools();
    let fixture = fixture();
    let conf = tempfile::tempdir().unwrap();
    let config = generate_cli(&[fixture.root.to_str().unwrap()]);
    let include = write(conf.path(), "registry.inc", &config);
    let server = Nginx::start(conf.path(), &format!("include {include};"));
    // A blob the manifest names, served; then swapped for a link to a host file.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture.root.join("base/1.1/manifest.json")).unwrap(),
    )
    .unwrap();
    let digest = manifest["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/v2/base/blobs/{digest}");
    assert_eq!(server.request("GET", &uri).status, 200);
    let secret = conf.path().join("secret");
    std::fs::write(&secret, "host file\n").unwrap();
    let blob = fixture.root.join("base/1.1").join(&digest[7..]);
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink(&secret, &blob).unwrap();
    let response = server.request("GET", &uri);
    assert_eq!(
        response.status,
        404,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    // The same for a manifest by tag.
    let tag_manifest = fixture.root.join("base/1.1/manifest.json");
    std::fs::remove_file(&tag_manifest).unwrap();
    std::os::unix::fs::symlink(&secret, &tag_manifest).unwrap();
    assert_eq!(server.request("GET", "/v2/base/manifests/1.1").status, 404);
}

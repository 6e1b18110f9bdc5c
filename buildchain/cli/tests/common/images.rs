//! Test images: a registry (Debian's docker-registry) that says the digest it serves, and
//! small `dir:` images made with tar and gzip.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::Command;

use buildchain_testkit::run_ok as tool;
use sha2::{Digest as _, Sha256};

use super::need;

/// The names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Same files, same bytes.
pub fn assert_same_image(ours: &Path, theirs: &Path) {
    assert_eq!(names(ours), names(theirs), "file sets differ");
    for name in names(ours) {
        assert!(
            fs::read(ours.join(&name)).unwrap() == fs::read(theirs.join(&name)).unwrap(),
            "{name} differs"
        );
    }
}

/// 40 small images pushed to `registry` as `test/image-N:1.N`: their `[[images]]` entries.
pub fn forty_images(registry: &Registry, work: &Path) -> String {
    let mut images = String::new();
    for n in 0..40 {
        let dir = work.join(format!("image-{n}"));
        make_dir_image(work, &dir, &format!("content of image {n}\n"));
        registry.push(&dir, &format!("test/image-{n}:1.{n}"));
        images.push_str(&format!(
            "\n[[images]]\nname = \"test/image-{n}\"\nversion = \"1.{n}\"\nsource = \"{}\"\n",
            registry.host()
        ));
    }
    images
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Debian's docker-registry (buildchain-testkit), plus a push that says the digest served.
pub struct Registry(buildchain_testkit::Registry);

impl Registry {
    pub fn start() -> Registry {
        Registry(buildchain_testkit::Registry::start())
    }

    pub fn host(&self) -> String {
        self.0.host()
    }

    /// Pushes a `dir:` image with skopeo; returns the manifest digest the registry serves.
    pub fn push(&self, dir: &Path, name_tag: &str) -> String {
        self.0.push(dir, name_tag, &[]);
        let reference = format!("docker://{}/{name_tag}", self.host());
        let out = tool(
            Command::new("skopeo")
                .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
                .arg(&reference),
        );
        out.trim().to_string()
    }

    /// Pushes a `dir:` index (`skopeo copy --all`); returns the index digest served.
    pub fn push_index(&self, dir: &Path, name_tag: &str) -> String {
        self.0.push(dir, name_tag, &["--all"]);
        let reference = format!("docker://{}/{name_tag}", self.host());
        let out = tool(
            Command::new("skopeo")
                .args(["inspect", "--raw", "--tls-verify=false"])
                .arg(&reference),
        );
        format!("sha256:{}", sha256_hex(out.as_bytes()))
    }
}

/// A gzipped tar layer holding `name` with `content`: its bytes and diff id (hex).
fn tar_layer(work: &Path, name: &str, content: &str) -> (Vec<u8>, String) {
    let files = work.join(format!(
        "layer-{}",
        sha256_hex(format!("{name}{content}").as_bytes())
    ));
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join(name), content).unwrap();
    let tar_path = files.with_extension("tar");
    tool(
        Command::new("tar")
            .args(["--owner=0", "--group=0", "--mtime=@0", "-cf"])
            .arg(&tar_path)
            .arg("-C")
            .arg(&files)
            .arg(name),
    );
    let diff_id = sha256_hex(&fs::read(&tar_path).unwrap());
    tool(Command::new("gzip").args(["-n", "-f"]).arg(&tar_path));
    let gz = tar_path.with_extension("tar.gz");
    let bytes = fs::read(&gz).unwrap();
    fs::remove_file(&gz).unwrap();
    (bytes, diff_id)
}

/// A two-platform (linux/amd64, linux/arm64) Docker manifest list in skopeo's `dir:`
/// layout (`copy --all`): each platform has the layer `shared` (the same blob) and one of
/// its own. Returns each platform's manifest digest.
pub fn make_index_image(
    work: &Path,
    dest: &Path,
    shared: &str,
    own: &str,
) -> Vec<(String, String)> {
    need("tar");
    need("gzip");
    fs::create_dir_all(dest).unwrap();
    let (base, base_diff) = tar_layer(work, "base.txt", shared);
    let base_hex = sha256_hex(&base);
    fs::write(dest.join(&base_hex), &base).unwrap();
    let mut entries = Vec::new();
    let mut digests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (layer, diff) = tar_layer(work, "own.txt", &format!("{own} for {arch}\n"));
        let layer_hex = sha256_hex(&layer);
        fs::write(dest.join(&layer_hex), &layer).unwrap();
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["/bin/true"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{base_diff}","sha256:{diff}"]}}}}"#
        );
        let config_hex = sha256_hex(config.as_bytes());
        fs::write(dest.join(&config_hex), &config).unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"sha256:{config_hex}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{base_hex}"}},{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{layer_hex}"}}]}}"#,
            config.len(),
            base.len(),
            layer.len()
        );
        let manifest_hex = sha256_hex(manifest.as_bytes());
        fs::write(
            dest.join(format!("{manifest_hex}.manifest.json")),
            &manifest,
        )
        .unwrap();
        entries.push(format!(
            r#"{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":{},"digest":"sha256:{manifest_hex}","platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            manifest.len()
        ));
        digests.push((format!("linux/{arch}"), format!("sha256:{manifest_hex}")));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{}]}}"#,
        entries.join(",")
    );
    fs::write(dest.join("manifest.json"), index).unwrap();
    fs::write(dest.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    digests
}

/// A small Docker v2s2 `dir:` image made with tar and gzip: one layer holding `payload`.
pub fn make_dir_image(work: &Path, dest: &Path, payload: &str) {
    need("tar");
    need("gzip");
    let (tar, diff_id) = tar_layer(work, "payload.txt", payload);
    fs::create_dir_all(dest).unwrap();
    let layer_hex = sha256_hex(&tar);
    fs::write(dest.join(&layer_hex), &tar).unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/true"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}}}}"#
    );
    let config_hex = sha256_hex(config.as_bytes());
    fs::write(dest.join(&config_hex), &config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"sha256:{config_hex}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{layer_hex}"}}]}}"#,
        config.len(),
        tar.len()
    );
    fs::write(dest.join("manifest.json"), manifest).unwrap();
    fs::write(dest.join("version"), "Directory Transport Version: 1.1\n").unwrap();
}

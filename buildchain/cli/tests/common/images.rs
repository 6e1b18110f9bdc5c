//! Test images: a registry (Debian's docker-registry) that says the digest it serves, and
//! small `dir:` images made with tar and gzip.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::Command;

use buildchain_testkit::run_ok as tool;
use sha2::{Digest as _, Sha256};

use super::need;

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
}

/// A small Docker v2s2 `dir:` image made with tar and gzip: one layer holding `payload`.
pub fn make_dir_image(work: &Path, dest: &Path, payload: &str) {
    need("tar");
    need("gzip");
    let files = work.join(format!("files-{}", sha256_hex(payload.as_bytes())));
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("payload.txt"), payload).unwrap();
    let tar_path = work.join("layer.tar");
    tool(
        Command::new("tar")
            .args(["--owner=0", "--group=0", "--mtime=@0", "-cf"])
            .arg(&tar_path)
            .arg("-C")
            .arg(&files)
            .arg("payload.txt"),
    );
    tool(Command::new("gzip").args(["-n", "-f"]).arg(&tar_path));
    let tar = fs::read(work.join("layer.tar.gz")).unwrap();
    let diff_id = {
        let out = Command::new("gzip")
            .args(["-dc"])
            .arg(work.join("layer.tar.gz"))
            .output()
            .unwrap();
        sha256_hex(&out.stdout)
    };
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
    fs::remove_file(work.join("layer.tar.gz")).unwrap();
}

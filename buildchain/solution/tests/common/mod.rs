//! A Solution corpus built in the tests: real v2s2 images (gzip tar layer, config,
//! manifest with right digests), manifest.yaml, operator files, registry include.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NAME: &str = "example";
pub const VERSION: &str = "1.0.0";
pub const DISPLAY: &str = "Example Solution";
pub const VOLUME_ID: &str = "Example Solution 1.0.0";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_solution-archive")
}

/// Runs `solution-archive ARGS…`.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// Fails with a message naming the tool when it is not installed.
pub fn require_tool(tool: &str) {
    buildchain_testkit::require_tool(tool);
}

/// Incompressible bytes (xorshift), deterministic.
pub fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A gzip-compressed tar holding one file.
pub fn layer(content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, "data/file.txt", content)
        .unwrap();
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

/// Writes a skopeo `dir:` v2s2 image at `images/<name>/<tag>/` of `root`; returns the
/// layer's digest hex.
pub fn make_image(root: &Path, name: &str, tag: &str, content: &[u8]) -> String {
    let dir = root.join("images").join(name).join(tag);
    fs::create_dir_all(&dir).unwrap();
    let layer = layer(content);
    let layer_hex = sha256_hex(&layer);
    let mut diff = Vec::new();
    flate2::read::GzDecoder::new(&layer[..])
        .read_to_end(&mut diff)
        .unwrap();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&diff))]},
    })
    .to_string()
    .into_bytes();
    let config_hex = sha256_hex(&config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": format!("sha256:{config_hex}"),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": format!("sha256:{layer_hex}"),
        }],
    });
    fs::write(dir.join(&layer_hex), &layer).unwrap();
    fs::write(dir.join(&config_hex), &config).unwrap();
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    layer_hex
}

pub const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: examples.example.solutions.metalk8s.scality.com
spec:
  group: example.solutions.metalk8s.scality.com
  names:
    kind: Example
    plural: examples
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
";

pub const ROLE: &str = "---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: example-operator
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: example-operator
rules: []
";

pub fn manifest_yaml(images: &[&str]) -> String {
    let list = images
        .iter()
        .map(|i| format!("    - {i}\n"))
        .collect::<String>();
    format!(
        "apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: Solution
metadata:
  name: {NAME}
  annotations:
    solutions.metalk8s.scality.com/display-name: {DISPLAY}
  labels: {{}}
spec:
  version: {VERSION}
  operator:
    image:
      name: example-operator
      tag: {VERSION}
  images:
{list}"
    )
}

/// (Re)generates `registry-config.inc.j2` with the static-registry library, as MetalK8s
/// asks (`--name-prefix '{{ repository }}' --server-root '{{ registry_root }}'
/// --omit-constants`).
pub fn write_registry_config(root: &Path) {
    let config = static_container_registry::generate(
        &root.join("images"),
        &static_container_registry::Options {
            name_prefix: "{{ repository }}".to_string(),
            server_root: "{{ registry_root }}".to_string(),
            constants: static_container_registry::Constants::Omit,
        },
    )
    .unwrap();
    fs::write(root.join("registry-config.inc.j2"), config).unwrap();
}

/// A complete, valid Solution tree in `root`.
pub fn make_solution(root: &Path) {
    fs::create_dir_all(root).unwrap();
    // Big enough (3 MiB, incompressible) for isomd5sum: checkisomd5 itself fails the
    // fragment sums of images under about 1 MiB written by genisoimage + implantisomd5.
    make_image(root, "example-operator", VERSION, &noise(3 << 20));
    make_image(root, "base", "2.0.0", b"a base image");
    // An alias tag of the same image (as `hardlink -c` users do).
    let base = root.join("images/base/2.0.0");
    let alias = root.join("images/base/latest");
    fs::create_dir_all(&alias).unwrap();
    for entry in fs::read_dir(&base).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), alias.join(entry.file_name())).unwrap();
    }
    fs::write(
        root.join("manifest.yaml"),
        manifest_yaml(&["example-operator:1.0.0", "base:2.0.0", "base:latest"]),
    )
    .unwrap();
    fs::create_dir_all(root.join("operator/deploy/crds")).unwrap();
    fs::write(root.join("operator/deploy/crds/example_crd.yaml"), CRD).unwrap();
    fs::write(root.join("operator/deploy/role.yaml"), ROLE).unwrap();
    fs::write(
        root.join("operator/deploy/operator.yaml"),
        "kind: Deployment\n",
    )
    .unwrap();
    write_registry_config(root);
}

/// A fresh valid tree in a temporary directory.
pub fn solution() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("solution");
    make_solution(&root);
    (dir, root)
}

/// The layer file of an image directory (the largest blob).
pub fn layer_path(root: &Path, image: &str) -> PathBuf {
    let dir = root.join("images").join(image);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let digest = manifest["layers"][0]["digest"].as_str().unwrap();
    dir.join(digest.strip_prefix("sha256:").unwrap())
}

/// `genisoimage` with the flags of the Solution guidelines, then `implantisomd5`. `extra`
/// holds -R/-J… (and `-uid`/`-gid`, which turn Rock Ridge on).
pub fn genisoimage(source: &Path, output: &Path, volume_id: &str, extra: &[&str], implant: bool) {
    require_tool("genisoimage");
    let mut args = vec![
        "-quiet",
        "-o",
        output.to_str().unwrap(),
        "-V",
        volume_id,
        "-l",
        "-iso-level",
        "3",
        "-input-charset",
        "utf-8",
    ];
    args.extend_from_slice(extra);
    args.push(source.to_str().unwrap());
    let out = Command::new("genisoimage").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "genisoimage: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if implant {
        require_tool("implantisomd5");
        let out = Command::new("implantisomd5").arg(output).output().unwrap();
        assert!(
            out.status.success(),
            "implantisomd5: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

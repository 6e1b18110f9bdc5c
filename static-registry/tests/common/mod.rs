//! Shared test helpers: real tools (nginx, skopeo), images built by hand, raw HTTP.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Finds a required tool, failing the test with its name when it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    buildchain_testkit::require_tool(name)
}

/// The command-line binary under test.
pub fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_static-container-registry"))
}

/// Runs the CLI, returning its output.
pub fn run_cli(args: &[&str]) -> Output {
    cli().args(args).output().unwrap()
}

/// Runs the CLI, asserting success, returning stdout.
pub fn generate_cli(args: &[&str]) -> String {
    let out = run_cli(args);
    assert!(
        out.status.success(),
        "static-container-registry {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------
// Images, written by hand in an OCI layout, converted by skopeo into `dir:` layouts.

/// A one-file uncompressed tar archive (ustar).
pub fn tar_with_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let fields: [(usize, String); 5] = [
        (100, "0000644\0".to_string()),
        (108, "0000000\0".to_string()),
        (116, "0000000\0".to_string()),
        (124, format!("{:011o}\0", content.len())),
        (136, "00000000000\0".to_string()),
    ];
    for (offset, text) in fields {
        header[offset..offset + text.len()].copy_from_slice(text.as_bytes());
    }
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// An OCI image layout being written.
pub struct OciLayout {
    pub dir: PathBuf,
    refs: Vec<serde_json::Value>,
}

impl OciLayout {
    pub fn new(dir: &Path) -> OciLayout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        OciLayout {
            dir: dir.to_path_buf(),
            refs: Vec::new(),
        }
    }

    /// Stores a blob, returning its descriptor fields (digest, size).
    pub fn blob(&self, bytes: &[u8]) -> (String, usize) {
        let hex = sha256_hex(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    }

    /// Writes an image (config + uncompressed layers) and returns its manifest descriptor.
    pub fn image(&self, arch: &str, layers: &[&[u8]]) -> serde_json::Value {
        let layer_descriptors: Vec<_> = layers
            .iter()
            .map(|layer| {
                let (digest, size) = self.blob(layer);
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest, "size": size,
                })
            })
            .collect();
        let diff_ids: Vec<_> = layer_descriptors
            .iter()
            .map(|d| d["digest"].clone())
            .collect();
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {"Env": ["PATH=/bin"]},
        });
        let (config_digest, config_size) = self.blob(config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest, "size": config_size,
            },
            "layers": layer_descriptors,
        });
        let (digest, size) = self.blob(manifest.to_string().as_bytes());
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"},
        })
    }

    /// Writes an index of the given manifests, returning its descriptor.
    pub fn index(&self, manifests: &[serde_json::Value]) -> serde_json::Value {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        let (digest, size) = self.blob(index.to_string().as_bytes());
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest, "size": size,
        })
    }

    /// Names a descriptor in `index.json`.
    pub fn tag(&mut self, name: &str, descriptor: &serde_json::Value) {
        let mut entry = descriptor.clone();
        entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": name});
        self.refs.push(entry);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": self.refs});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }
}

/// `skopeo copy` with extra flags; panics with skopeo's output on failure.
pub fn skopeo(args: &[&str]) -> Output {
    let out = Command::new(require_tool("skopeo"))
        .arg("--insecure-policy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Replaces every file of `dir` that has an identical file of the same name in `reference`
/// by a hard link to it (as `hardlink -c` does across tag directories).
pub fn hardlink_identical(reference: &Path, dir: &Path) -> usize {
    let mut linked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let other = reference.join(path.file_name().unwrap());
        if other.is_file() && std::fs::read(&other).unwrap() == std::fs::read(&path).unwrap() {
            std::fs::remove_file(&path).unwrap();
            std::fs::hard_link(&other, &path).unwrap();
            linked += 1;
        }
    }
    linked
}

/// The test tree: images of every kind served, built without network.
pub struct Fixture {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    /// Digests (hex) of the children of the OCI index `multi:v1`: (amd64, arm64).
    pub index_children: (String, String),
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = OciLayout::new(&tmp.path().join("oci"));
    let base = tar_with_file("etc/base", b"shared base layer\n");
    let amd = layout.image("amd64", &[&base, &tar_with_file("app", b"app a\n")]);
    let b = layout.image("amd64", &[&base, &tar_with_file("app", b"app b\n")]);
    let arm = layout.image("arm64", &[&base, &tar_with_file("app", b"app arm\n")]);
    let index = layout.index(&[amd.clone(), arm.clone()]);
    layout.tag("a", &amd);
    layout.tag("b", &b);
    layout.tag("multi", &index);

    let root = tmp.path().join("images");
    let oci = |reference: &str| format!("oci:{}:{reference}", layout.dir.display());
    let dir = |rel: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        format!("dir:{}", path.display())
    };
    // Docker v2s2 images; 1.0 and latest are the same image, 1.1 shares its base layer.
    skopeo(&[
        "copy",
        "--quiet",
        "--format",
        "v2s2",
        &oci("a"),
        &dir("base/1.0"),
    ]);
    skopeo(&[
        "copy",
        "--quiet",
        "--format",
        "v2s2",
        &oci("b"),
        &dir("base/1.1"),
    ]);
    skopeo(&[
        "copy",
        "--quiet",
        "--format",
        "v2s2",
        &oci("a"),
        &dir("base/latest"),
    ]);
    // A nested repository name (`:` on disk is `/` in the registry).
    skopeo(&[
        "copy",
        "--quiet",
        "--format",
        "v2s2",
        &oci("b"),
        &dir("library:nested/3.0"),
    ]);
    // An OCI image manifest.
    skopeo(&["copy", "--quiet", &oci("a"), &dir("oci-image/v1")]);
    // An OCI index and a Docker manifest list, with their child manifests.
    skopeo(&["copy", "--quiet", "--all", &oci("multi"), &dir("multi/v1")]);
    skopeo(&[
        "copy",
        "--quiet",
        "--all",
        "--format",
        "v2s2",
        &oci("multi"),
        &dir("multi/list"),
    ]);

    // Tags sharing blobs through hard links, also across repositories.
    assert!(hardlink_identical(&root.join("base/1.0"), &root.join("base/latest")) >= 4);
    assert!(hardlink_identical(&root.join("base/1.0"), &root.join("base/1.1")) >= 2);
    assert!(hardlink_identical(&root.join("base/1.1"), &root.join("library:nested/3.0")) >= 3);

    // Things that are not images: a stray file, a tag directory without manifest.
    std::fs::write(root.join("README"), "not an image\n").unwrap();
    std::fs::create_dir_all(root.join("base/partial")).unwrap();

    let hex = |d: &serde_json::Value| d["digest"].as_str().unwrap()[7..].to_string();
    Fixture {
        root,
        index_children: (hex(&amd), hex(&arm)),
        _tmp: tmp,
    }
}

// ---------------------------------------------------------------------------------------
// nginx and raw requests: buildchain-testkit's.

#[allow(unused_imports)]
pub use buildchain_testkit::{http::Response, Nginx};

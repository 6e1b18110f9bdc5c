//! Test helpers: real tools (docker-registry, skopeo, umoci), a throwaway HTTP server for
//! misbehaving registries, and small image definitions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub use buildchain_testkit::{require_tool, run_ok as run};

/// Debian's docker-registry (buildchain-testkit), with the pushes these tests make.
pub struct Registry {
    inner: buildchain_testkit::Registry,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry {
            inner: buildchain_testkit::Registry::start(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A registry with htpasswd basic auth for `alice` / `secret`.
    pub fn start_with_auth() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(
            &htpasswd,
            "alice:$2b$04$.7930awgD2jG8L3EAc2xjOPypaSDy1RquBps14gsShZFjlWuHqJp.\n",
        )
        .unwrap();
        Registry {
            inner: buildchain_testkit::Registry::start_with(&buildchain_testkit::RegistryOptions {
                htpasswd: Some(htpasswd),
                ..Default::default()
            }),
            _dir: dir,
        }
    }

    pub fn host(&self) -> String {
        self.inner.host()
    }

    /// Pushes a `dir:` image with skopeo.
    pub fn push(&self, dir: &Path, name_tag: &str) {
        self.inner.push(dir, name_tag, &[]);
    }

    /// Pushes a `dir:` image with skopeo and extra options (credentials).
    pub fn push_as(&self, dir: &Path, name_tag: &str, extra: &[&str]) {
        self.inner.push(dir, name_tag, extra);
    }

    /// The stored file of a blob.
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.inner.blob_data(hex)
    }
}

/// `skopeo copy docker://REF dir:DEST` from a plain-HTTP registry.
pub fn skopeo_pull(reference: &str, dest: &Path, extra: &[&str]) {
    run(Command::new(require_tool("skopeo"))
        .args(extra)
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("dir:{}", dest.display())));
}

/// Asserts two `dir:` images hold the same files with the same bytes.
pub fn assert_same_dir_image(ours: &Path, theirs: &Path) {
    let list = |d: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(list(ours), list(theirs), "file sets differ");
    for name in list(ours) {
        assert!(
            std::fs::read(ours.join(&name)).unwrap() == std::fs::read(theirs.join(&name)).unwrap(),
            "{name} differs"
        );
    }
}

/// Writes a tiny image definition with one text file per layer and builds it (v2s2).
pub fn build_test_image(
    work: &Path,
    name: &str,
    arch: &str,
    layers: &[&str],
    dest: &Path,
) -> buildchain_oci::build::BuildReport {
    build_test_image_as(
        work,
        name,
        arch,
        layers,
        dest,
        buildchain_oci::ManifestFormat::V2s2,
    )
}

/// Same, in the given manifest format.
pub fn build_test_image_as(
    work: &Path,
    name: &str,
    arch: &str,
    layers: &[&str],
    dest: &Path,
    format: buildchain_oci::ManifestFormat,
) -> buildchain_oci::build::BuildReport {
    let def_dir = work.join(format!("def-{name}-{arch}"));
    std::fs::create_dir_all(def_dir.join("files")).unwrap();
    let mut toml = format!("[image]\nname = \"{name}\"\nplatform = \"linux/{arch}\"\n[config]\ncmd = [\"/bin/true\"]\n");
    for (i, content) in layers.iter().enumerate() {
        let file = format!("files/layer{i}.txt");
        std::fs::write(def_dir.join(&file), content).unwrap();
        toml.push_str(&format!(
            "[[layers]]\ncomment = \"layer {i}\"\nfiles = [{{ src = \"{file}\", dest = \"/data/layer{i}.txt\" }}]\n"
        ));
    }
    std::fs::write(def_dir.join("image.toml"), toml).unwrap();
    let def = buildchain_oci::build::ImageDefinition::load(&def_dir).unwrap();
    let mut ctx = buildchain_oci::build::BuildContext::new(work, 1_700_000_000);
    ctx.format = format;
    buildchain_oci::build::build_image(&def, &ctx, dest).unwrap()
}

/// Names in `dir` that look like our staging leftovers.
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".partial-") || n.contains(".part-") || n.contains(".tmp-"))
                .collect()
        })
        .unwrap_or_default()
}

pub use buildchain_testkit::hostile::Request;

/// What the fake server answers: raw bytes written to the socket, then the connection closes.
pub type Handler = dyn Fn(&Request) -> Vec<u8> + Send + Sync;

/// A throwaway HTTP/1.1 server on 127.0.0.1 playing a misbehaving registry (testkit's
/// hostile server answering raw bytes); stops on drop.
pub struct FakeServer {
    pub port: u16,
    _server: buildchain_testkit::hostile::HostileServer,
}

impl FakeServer {
    pub fn start(handler: Arc<Handler>) -> FakeServer {
        let server = buildchain_testkit::hostile::HostileServer::start(move |request| {
            buildchain_testkit::hostile::Reply::Raw(handler(request))
        });
        FakeServer {
            port: server.port,
            _server: server,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// An HTTP response with `Connection: close`.
#[allow(unused_imports)]
pub use buildchain_testkit::hostile::response_bytes as http;

/// A response whose Content-Length promises more than the body holds (a cut download).
pub fn http_truncated(body: &[u8], promised: usize) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {promised}\r\n\r\n")
            .into_bytes();
    out.extend_from_slice(body);
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

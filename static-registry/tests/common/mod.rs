//! Shared test helpers: real tools (nginx, skopeo), images built by hand, raw HTTP.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Finds a required tool, failing the test with its name when it is missing.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        [
            "/usr/sbin",
            "/sbin",
            "/usr/bin",
            "/usr/local/bin",
            "/usr/local/sbin",
        ]
        .map(PathBuf::from),
    );
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "required tool `{name}` not found in PATH: install the Debian package `{name}` \
         (ci/setup.sh does); this test never passes without it"
    );
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
// nginx, started on a free port of 127.0.0.1 and killed on drop.

pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Nginx {
    /// Starts nginx with `server_lines` inside its `server {}` block.
    pub fn start(dir: &Path, server_lines: &str) -> Nginx {
        let nginx = require_tool("nginx");
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.display();
        let conf = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {d}/logs/access.log;
    client_body_temp_path {d}/tmp-body;
    proxy_temp_path {d}/tmp-proxy;
    fastcgi_temp_path {d}/tmp-fastcgi;
    uwsgi_temp_path {d}/tmp-uwsgi;
    scgi_temp_path {d}/tmp-scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
{server_lines}
    }}
}}
"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let error_log = dir.join("logs/error.log");
        let test = Command::new(&nginx)
            .arg("-t")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&error_log)
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "nginx -t rejects the config: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(&nginx)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(&error_log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn registry(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// One raw HTTP/1.0 request.
    pub fn request(&self, method: &str, path: &str) -> Response {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        Response::parse(&raw)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("no end of headers");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|line| {
                let (k, v) = line.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        Response {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }
}

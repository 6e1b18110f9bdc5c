//! Test helpers: real tools (docker-registry, skopeo, umoci), a throwaway HTTP server for
//! misbehaving registries, and small image definitions.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use buildchain_testkit::{require_tool, run_ok as run};

/// A port of 127.0.0.1 free now (for a server of the test's own, or a closed port).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

/// A request seen by [`FakeServer`].
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake server answers: raw bytes written to the socket, then the connection closes.
pub type Handler = dyn Fn(&Request) -> Vec<u8> + Send + Sync;

/// A throwaway HTTP/1.1 server on 127.0.0.1 playing a misbehaving registry; stops on drop.
pub struct FakeServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: Arc<Handler>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let handler = handler.clone();
                        std::thread::spawn(move || serve(stream, &*handler));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let response = handler(&Request {
        method,
        path,
        headers,
    });
    let _ = writer.write_all(&response);
    let _ = writer.flush();
    // One request per connection: every response says Connection: close.
}

/// An HTTP response with `Connection: close`.
pub fn http(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

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

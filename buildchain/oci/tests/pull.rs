//! Pulls against a real registry (Debian's docker-registry), compared with skopeo, and
//! against misbehaving servers.

mod common;

use buildchain_oci::{pull_image, OciError, PullOptions, RetryPolicy};
use buildchain_oci_types::{ImageReference, Platform};
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn options() -> PullOptions {
    PullOptions {
        insecure: true,
        http: buildchain_oci::HttpConfig {
            retry: RetryPolicy {
                retries: 2,
                backoff: Duration::from_millis(10),
            },
            ..Default::default()
        },
        // No auth file from the machine running the tests.
        auth_file: Some("/nonexistent/auth.json".into()),
        ..PullOptions::default()
    }
}

fn pull(
    reference: &str,
    dest: &Path,
    options: &PullOptions,
) -> Result<buildchain_oci::PullReport, OciError> {
    pull_image(&ImageReference::parse(reference).unwrap(), dest, options)
}

#[test]
fn pull_matches_skopeo_and_shares_cached_layers() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let shared = "shared base layer\n".repeat(1000);
    let a = build_test_image(
        w,
        "app-a",
        "amd64",
        &[&shared, "only in a\n"],
        &w.join("src-a"),
    );
    build_test_image(
        w,
        "app-b",
        "amd64",
        &[&shared, "only in b\n"],
        &w.join("src-b"),
    );
    registry.push(&w.join("src-a"), "team/app-a:1.0");
    registry.push(&w.join("src-b"), "team/app-b:2.0");
    let host = registry.host();

    let counter = Arc::new(Counter::default());
    let opts = PullOptions {
        cache_dir: Some(w.join("cache")),
        progress: counter.clone(),
        ..options()
    };
    let out = w.join("out");
    let ra = pull(
        &format!("docker://{host}/team/app-a:1.0"),
        &out.join("app-a/1.0"),
        &opts,
    )
    .unwrap();
    let rb = pull(
        &format!("{host}/team/app-b@{}", digest_of(&w.join("src-b"))),
        &out.join("app-b/2.0"),
        &opts,
    )
    .unwrap();
    assert_eq!(
        ra.manifest_digest, a.manifest_digest,
        "skopeo push kept our manifest"
    );
    assert!(ra.index_digest.is_none());
    assert_eq!(ra.blobs, 3);
    assert!(
        rb.bytes_from_cache > 0,
        "the shared layer came from the cache"
    );

    skopeo_pull(&format!("{host}/team/app-a:1.0"), &w.join("skopeo-a"), &[]);
    skopeo_pull(&format!("{host}/team/app-b:2.0"), &w.join("skopeo-b"), &[]);
    assert_same_dir_image(&out.join("app-a/1.0"), &w.join("skopeo-a"));
    assert_same_dir_image(&out.join("app-b/2.0"), &w.join("skopeo-b"));
    assert_eq!(
        std::fs::read_to_string(out.join("app-a/1.0/version")).unwrap(),
        "Directory Transport Version: 1.1\n"
    );

    // The shared layer is one inode: cache, image a, image b.
    let shared_hex = a.layers[0].digest.hex().to_string();
    let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
    let cached = ino(&w.join("cache/blobs/sha256").join(&shared_hex));
    assert_eq!(ino(&out.join("app-a/1.0").join(&shared_hex)), cached);
    assert_eq!(ino(&out.join("app-b/2.0").join(&shared_hex)), cached);
    assert!(leftovers(&out.join("app-a")).is_empty());

    // Pulling again replaces the directory, all from the cache.
    let again = pull(
        &format!("{host}/team/app-a:1.0"),
        &out.join("app-a/1.0"),
        &opts,
    )
    .unwrap();
    assert_eq!(again.bytes_downloaded, 0);
    assert_same_dir_image(&out.join("app-a/1.0"), &w.join("skopeo-a"));

    // Without a cache, same result.
    pull(
        &format!("{host}/team/app-a:1.0"),
        &w.join("nocache"),
        &options(),
    )
    .unwrap();
    assert_same_dir_image(&w.join("nocache"), &w.join("skopeo-a"));
}

#[derive(Default)]
struct Counter {
    started: std::sync::atomic::AtomicU64,
    finished: std::sync::atomic::AtomicU64,
    blobs: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
}

impl buildchain_oci::Progress for Counter {
    fn image_started(&self, _: &str, _: usize, total: u64) {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.total
            .fetch_add(total, std::sync::atomic::Ordering::SeqCst);
    }
    fn bytes_done(&self, _: &str, n: u64) {
        self.bytes.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn blob_done(&self, _: &str, _: &buildchain_oci_types::Digest, _: bool) {
        self.blobs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn image_finished(&self, _: &str) {
        self.finished
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Puts a Docker manifest list of the two images (`dir:` layouts already pushed) under
/// `name:tag`; its digest.
fn put_index(host: &str, name: &str, tag: &str, amd64: &Path, arm64: &Path) -> String {
    let entry = |dir: &Path, arch: &str| {
        let bytes = std::fs::read(dir.join("manifest.json")).unwrap();
        format!(
            r#"{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:{}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            sha256_hex(&bytes),
            bytes.len()
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{},{}]}}"#,
        entry(amd64, "amd64"),
        entry(arm64, "arm64")
    );
    let response = ureq::put(format!("http://{host}/v2/{name}/manifests/{tag}"))
        .header(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .send(index.clone())
        .unwrap();
    assert!(
        response.status().is_success(),
        "PUT index: {}",
        response.status()
    );
    format!("sha256:{}", sha256_hex(index.as_bytes()))
}

fn digest_of(dir: &Path) -> String {
    format!(
        "sha256:{}",
        sha256_hex(&std::fs::read(dir.join("manifest.json")).unwrap())
    )
}

#[test]
fn index_platform_selection_matches_skopeo() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    build_test_image(w, "multi", "amd64", &["amd64 content\n"], &w.join("amd64"));
    build_test_image(w, "multi", "arm64", &["arm64 content\n"], &w.join("arm64"));
    registry.push(&w.join("amd64"), "multi:amd64");
    registry.push(&w.join("arm64"), "multi:arm64");
    let host = registry.host();
    let index_digest = put_index(&host, "multi", "1.0", &w.join("amd64"), &w.join("arm64"));

    let arm = PullOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..options()
    };
    let report = pull(
        &format!("{host}/multi:1.0@{index_digest}"),
        &w.join("ours-arm64"),
        &arm,
    )
    .unwrap();
    assert_eq!(
        report.index_digest.map(|d| d.to_string()),
        Some(index_digest.clone())
    );
    skopeo_pull(
        &format!("{host}/multi@{index_digest}"),
        &w.join("skopeo-arm64"),
        &["--override-arch", "arm64"],
    );
    assert_same_dir_image(&w.join("ours-arm64"), &w.join("skopeo-arm64"));
    assert_same_dir_image(&w.join("ours-arm64"), &w.join("arm64"));

    // Default platform: linux/amd64.
    pull(
        &format!("{host}/multi:1.0"),
        &w.join("ours-amd64"),
        &options(),
    )
    .unwrap();
    skopeo_pull(
        &format!("{host}/multi:1.0"),
        &w.join("skopeo-amd64"),
        &["--override-arch", "amd64"],
    );
    assert_same_dir_image(&w.join("ours-amd64"), &w.join("skopeo-amd64"));

    // A platform the index does not have.
    let s390x = PullOptions {
        platform: Platform::parse("linux/s390x").unwrap(),
        ..options()
    };
    let err = pull(&format!("{host}/multi:1.0"), &w.join("none"), &s390x).unwrap_err();
    assert!(matches!(err, OciError::PlatformNotFound { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("multi:1.0") && text.contains("linux/s390x") && text.contains("linux/arm64"),
        "{text}"
    );
    assert!(!w.join("none").exists());
    assert!(leftovers(w).is_empty());
}

#[test]
fn corrupted_blob_wrong_pin_and_unreachable_registry() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let built = build_test_image(
        w,
        "victim",
        "amd64",
        &[&"payload\n".repeat(500)],
        &w.join("src"),
    );
    registry.push(&w.join("src"), "victim:1");
    let host = registry.host();

    // Corrupt the stored layer, same length.
    let data = registry.blob_data(built.layers[0].digest.hex());
    let mut bytes = std::fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    let opts = PullOptions {
        cache_dir: Some(w.join("cache")),
        ..options()
    };
    let dest = w.join("out/victim/1");
    let err = pull(&format!("{host}/victim:1"), &dest, &opts).unwrap_err();
    assert!(matches!(err, OciError::BlobVerification { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("victim:1") && text.contains(built.layers[0].digest.hex()),
        "{text}"
    );
    assert!(!dest.exists(), "nothing partial left");
    assert!(leftovers(&w.join("out/victim")).is_empty());
    assert!(!w
        .join("cache/blobs/sha256")
        .join(built.layers[0].digest.hex())
        .exists());
    let cache_leftovers = leftovers(&w.join("cache/blobs/sha256"));
    assert!(cache_leftovers.is_empty(), "{cache_leftovers:?}");

    // A wrong pin: the registry has no such manifest.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let err = pull(
        &format!("{host}/victim:1@{wrong}"),
        &w.join("pinned"),
        &options(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OciError::Http { status: 404, .. }), "{text}");
    // The digest in the reference and in the URL, not a third time.
    assert_eq!(text.matches(&wrong).count(), 2, "{text}");
    assert!(
        text.contains("victim:1@sha256:0000") && text.contains("MANIFEST_UNKNOWN"),
        "{text}"
    );
    assert!(!w.join("pinned").exists());

    // An existing destination survives a failed pull.
    std::fs::create_dir_all(w.join("kept")).unwrap();
    std::fs::write(w.join("kept/marker"), "x").unwrap();
    assert!(pull(&format!("{host}/victim:1"), &w.join("kept"), &options()).is_err());
    assert!(w.join("kept/marker").exists());

    // An unreachable registry (closed port).
    let closed = buildchain_testkit::free_port();
    let err = pull(
        &format!("127.0.0.1:{closed}/victim:1"),
        &w.join("down"),
        &options(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OciError::Unreachable { .. }), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{closed}/victim:1")),
        "{text}"
    );
    assert!(!w.join("down").exists());
}

/// A fake registry serving one image; `blob_response` decides how blobs are answered.
fn fake_registry(
    manifest: Vec<u8>,
    media_type: &'static str,
    blobs: Vec<(String, Vec<u8>)>,
    blob_response: impl Fn(&[u8], usize) -> Vec<u8> + Send + Sync + 'static,
) -> (FakeServer, Arc<std::sync::atomic::AtomicUsize>) {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hits2 = hits.clone();
    let server = FakeServer::start(Arc::new(move |req: &Request| {
        if req.path.contains("/manifests/") {
            return http("200 OK", &[("Content-Type", media_type)], &manifest);
        }
        for (hex, data) in &blobs {
            if req.path.ends_with(hex.as_str()) {
                let n = hits2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                return blob_response(data, n);
            }
        }
        http("404 Not Found", &[], b"{}")
    }));
    (server, hits)
}

fn one_layer_manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"sha256:{}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"sha256:{}"}}]}}"#,
        config.len(),
        sha256_hex(config),
        layer.len(),
        sha256_hex(layer)
    )
    .into_bytes()
}

#[test]
fn truncated_downloads_are_retried_then_refused() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let config = b"{}".to_vec();
    let layer = vec![42u8; 100_000];
    let manifest = one_layer_manifest(&config, &layer);
    let blobs = vec![
        (sha256_hex(&config), config.clone()),
        (sha256_hex(&layer), layer.clone()),
    ];

    // Cut once, then served whole: the retry succeeds.
    let layer_hex = sha256_hex(&layer);
    let (server, _) = fake_registry(
        manifest.clone(),
        "application/vnd.docker.distribution.manifest.v2+json",
        blobs.clone(),
        {
            let cut = std::sync::atomic::AtomicBool::new(false);
            move |data, _| {
                if data.len() > 1000 && !cut.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    http_truncated(&data[..data.len() / 2], data.len())
                } else {
                    http("200 OK", &[], data)
                }
            }
        },
    );
    pull(
        &format!("{}/flaky:1", server.host()),
        &w.join("ok"),
        &options(),
    )
    .unwrap();
    assert_eq!(std::fs::read(w.join("ok").join(&layer_hex)).unwrap(), layer);

    // Always cut: an error naming the blob, nothing left.
    let (server, _) = fake_registry(
        manifest,
        "application/vnd.docker.distribution.manifest.v2+json",
        blobs,
        |data, _| {
            if data.len() > 1000 {
                http_truncated(&data[..data.len() / 2], data.len())
            } else {
                http("200 OK", &[], data)
            }
        },
    );
    let err = pull(
        &format!("{}/cut:1", server.host()),
        &w.join("cut"),
        &options(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cut:1") && text.contains(&layer_hex),
        "{text}"
    );
    assert!(!w.join("cut").exists());
    assert!(leftovers(w).is_empty());
}

#[test]
fn server_errors_are_retried() {
    let work = tempfile::tempdir().unwrap();
    let config = b"{}".to_vec();
    let layer = b"layer bytes".to_vec();
    let manifest = one_layer_manifest(&config, &layer);
    let blobs = vec![
        (sha256_hex(&config), config.clone()),
        (sha256_hex(&layer), layer.clone()),
    ];
    let (server, hits) = fake_registry(
        manifest,
        "application/vnd.docker.distribution.manifest.v2+json",
        blobs,
        |data, n| {
            if n < 2 {
                http("503 Service Unavailable", &[], b"busy")
            } else {
                http("200 OK", &[], data)
            }
        },
    );
    let opts = PullOptions {
        jobs: 1,
        ..options()
    };
    pull(
        &format!("{}/busy:1", server.host()),
        &work.path().join("busy"),
        &opts,
    )
    .unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 4);
}

#[test]
fn lying_registries_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let config = b"{}".to_vec();
    let layer = b"the real layer".to_vec();
    let manifest = one_layer_manifest(&config, &layer);
    let pinned = format!("sha256:{}", sha256_hex(&manifest));

    // Manifest served for a pin it does not match.
    let other = one_layer_manifest(b"{ }", &layer);
    let (server, _) = fake_registry(
        other,
        "application/vnd.docker.distribution.manifest.v2+json",
        vec![],
        |d, _| http("200 OK", &[], d),
    );
    let err = pull(
        &format!("{}/liar:1@{pinned}", server.host()),
        &w.join("a"),
        &options(),
    )
    .unwrap_err();
    assert!(
        matches!(err, OciError::ManifestDigestMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&pinned));

    // Blob with other content than its digest, same size.
    let blobs = vec![
        (sha256_hex(&config), config.clone()),
        (sha256_hex(&layer), b"the fake layer".to_vec()),
    ];
    let (server, _) = fake_registry(
        manifest.clone(),
        "application/vnd.docker.distribution.manifest.v2+json",
        blobs,
        |d, _| http("200 OK", &[], d),
    );
    let err = pull(
        &format!("{}/liar:1@{pinned}", server.host()),
        &w.join("b"),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::BlobVerification { .. }), "{err}");

    // Blob longer than the manifest says.
    let blobs = vec![
        (sha256_hex(&config), config.clone()),
        (sha256_hex(&layer), b"the real layer and more".to_vec()),
    ];
    let (server, _) = fake_registry(
        manifest,
        "application/vnd.docker.distribution.manifest.v2+json",
        blobs,
        |d, _| http("200 OK", &[], d),
    );
    let err = pull(
        &format!("{}/liar:1", server.host()),
        &w.join("c"),
        &options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");

    // Unknown manifest media type.
    let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"1","fsLayers":[]}"#.to_vec();
    let (server, _) = fake_registry(
        schema1,
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        vec![],
        |d, _| http("200 OK", &[], d),
    );
    let err = pull(
        &format!("{}/old:1", server.host()),
        &w.join("d"),
        &options(),
    )
    .unwrap_err();
    assert!(
        matches!(err, OciError::UnsupportedMediaType { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("old:1") && err.to_string().contains("v1+prettyjws"),
        "{err}"
    );

    // Not JSON at all.
    let (server, _) = fake_registry(b"<html>".to_vec(), "text/html", vec![], |d, _| {
        http("200 OK", &[], d)
    });
    let err = pull(
        &format!("{}/html:1", server.host()),
        &w.join("e"),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::MalformedManifest { .. }), "{err}");
    assert!(leftovers(w).is_empty());
    for d in ["a", "b", "c", "d", "e"] {
        assert!(!w.join(d).exists(), "{d}");
    }
}

/// A registry with Docker Hub style bearer auth: the token service wants alice:secret.
fn auth_registry() -> FakeServer {
    let config = b"{}".to_vec();
    let layer = b"private layer".to_vec();
    let manifest = one_layer_manifest(&config, &layer);
    let blobs = vec![(sha256_hex(&config), config), (sha256_hex(&layer), layer)];
    let port = buildchain_testkit::free_port();
    let _ = port;
    let server_port = Arc::new(std::sync::OnceLock::<u16>::new());
    let sp = server_port.clone();
    let server = FakeServer::start(Arc::new(move |req: &Request| {
        let port = sp.get().copied().unwrap_or(0);
        if req.path.starts_with("/token") {
            // base64("alice:secret")
            return if req.header("Authorization") == Some("Basic YWxpY2U6c2VjcmV0")
                && req.path.contains("scope=repository%3Aprivate%3Apull")
            {
                http(
                    "200 OK",
                    &[("Content-Type", "application/json")],
                    br#"{"token":"good-token"}"#,
                )
            } else {
                http(
                    "401 Unauthorized",
                    &[],
                    br#"{"details":"incorrect username or password"}"#,
                )
            };
        }
        if req.header("Authorization") != Some("Bearer good-token") {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:private:pull""#
            );
            return http(
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge)],
                b"{}",
            );
        }
        if req.path.contains("/manifests/") {
            return http(
                "200 OK",
                &[(
                    "Content-Type",
                    "application/vnd.docker.distribution.manifest.v2+json",
                )],
                &manifest,
            );
        }
        for (hex, data) in &blobs {
            if req.path.ends_with(hex.as_str()) {
                return http("200 OK", &[], data);
            }
        }
        http("404 Not Found", &[], b"{}")
    }));
    server_port.set(server.port).unwrap();
    server
}

#[test]
fn bearer_auth_with_credentials_from_the_auth_file() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = auth_registry();
    let auth = w.join("auth.json");
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6c2VjcmV0"}}}}}}"#,
            server.host()
        ),
    )
    .unwrap();
    let good = PullOptions {
        auth_file: Some(auth.clone()),
        ..options()
    };
    pull(
        &format!("{}/private:1", server.host()),
        &w.join("ok"),
        &good,
    )
    .unwrap();
    assert!(w.join("ok/manifest.json").is_file());

    // Wrong password, and no credentials at all: refused, naming the image.
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6d3Jvbmc="}}}}}}"#,
            server.host()
        ),
    )
    .unwrap();
    let err = pull(
        &format!("{}/private:1", server.host()),
        &w.join("bad"),
        &good,
    )
    .unwrap_err();
    assert!(matches!(err, OciError::AuthRefused { .. }), "{err}");
    assert!(err.to_string().contains("private:1"), "{err}");
    let err = pull(
        &format!("{}/private:1", server.host()),
        &w.join("none"),
        &options(),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::AuthRefused { .. }), "{err}");
    assert!(err.to_string().contains("no credentials"), "{err}");
    assert!(!w.join("bad").exists() && !w.join("none").exists());

    // REGISTRY_AUTH_FILE is honoured when no auth file is given.
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6c2VjcmV0"}}}}}}"#,
            server.host()
        ),
    )
    .unwrap();
    std::env::set_var("REGISTRY_AUTH_FILE", &auth);
    let env = PullOptions {
        auth_file: None,
        ..options()
    };
    let result = pull(
        &format!("{}/private:1", server.host()),
        &w.join("env"),
        &env,
    );
    std::env::remove_var("REGISTRY_AUTH_FILE");
    result.unwrap();
}

#[test]
fn basic_auth_against_a_real_registry() {
    let registry = Registry::start_with_auth();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    build_test_image(w, "secret", "amd64", &["classified\n"], &w.join("src"));
    registry.push_as(
        &w.join("src"),
        "secret:1",
        &["--dest-creds", "alice:secret"],
    );
    let host = registry.host();
    let auth = w.join("config.json");
    // base64("alice:secret")
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{host}":{{"auth":"YWxpY2U6c2VjcmV0"}}}}}}"#),
    )
    .unwrap();
    let opts = PullOptions {
        auth_file: Some(auth.clone()),
        ..options()
    };
    pull(&format!("{host}/secret:1"), &w.join("ok"), &opts).unwrap();
    assert_same_dir_image(&w.join("ok"), &w.join("src"));

    // Refused: wrong password, and no credentials.
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{host}":{{"auth":"YWxpY2U6d3Jvbmc="}}}}}}"#),
    )
    .unwrap();
    let err = pull(&format!("{host}/secret:1"), &w.join("bad"), &opts).unwrap_err();
    assert!(matches!(err, OciError::AuthRefused { .. }), "{err}");
    assert!(err.to_string().contains("secret:1"), "{err}");
    let err = pull(&format!("{host}/secret:1"), &w.join("none"), &options()).unwrap_err();
    assert!(matches!(err, OciError::AuthRefused { .. }), "{err}");
    assert!(!w.join("bad").exists() && !w.join("none").exists());
    assert!(leftovers(w).is_empty());
}

#[test]
fn oci_manifests_and_oci_index() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let oci = buildchain_oci::ManifestFormat::Oci;
    build_test_image_as(w, "ocimg", "amd64", &["oci amd64\n"], &w.join("amd64"), oci);
    build_test_image_as(
        w,
        "ocimg",
        "arm64",
        &["oci arm64\n", "more\n"],
        &w.join("arm64"),
        oci,
    );
    registry.push(&w.join("amd64"), "ocimg:amd64");
    registry.push(&w.join("arm64"), "ocimg:arm64");
    let host = registry.host();

    // A plain OCI manifest by tag: kept byte for byte.
    let report = pull(&format!("{host}/ocimg:arm64"), &w.join("plain"), &options()).unwrap();
    assert_eq!(
        report.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_same_dir_image(&w.join("plain"), &w.join("arm64"));

    let entry = |dir: &Path, arch: &str| {
        let bytes = std::fs::read(dir.join("manifest.json")).unwrap();
        format!(
            r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            sha256_hex(&bytes),
            bytes.len()
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{},{}]}}"#,
        entry(&w.join("amd64"), "amd64"),
        entry(&w.join("arm64"), "arm64")
    );
    let response = ureq::put(format!("http://{host}/v2/ocimg/manifests/multi"))
        .header("Content-Type", "application/vnd.oci.image.index.v1+json")
        .send(index.clone())
        .unwrap();
    assert!(
        response.status().is_success(),
        "PUT index: {}",
        response.status()
    );
    let index_digest = format!("sha256:{}", sha256_hex(index.as_bytes()));
    let arm = PullOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..options()
    };
    let report = pull(
        &format!("{host}/ocimg@{index_digest}"),
        &w.join("ours"),
        &arm,
    )
    .unwrap();
    assert_eq!(report.index_digest.unwrap().to_string(), index_digest);
    skopeo_pull(
        &format!("{host}/ocimg@{index_digest}"),
        &w.join("skopeo"),
        &["--override-arch", "arm64"],
    );
    assert_same_dir_image(&w.join("ours"), &w.join("skopeo"));
    assert_same_dir_image(&w.join("ours"), &w.join("arm64"));
}

/// A tag resolves to what the registry serves, without a pull: a manifest, or an index
/// with each platform's manifest (what `buildchain lock` records); a pin is checked.
#[test]
fn resolve_image_names_the_digests_a_pull_would_use() {
    use buildchain_oci::resolve_image;
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let host = registry.host();
    build_test_image(w, "res", "amd64", &["amd64 bytes\n"], &w.join("amd64"));
    build_test_image(w, "res", "arm64", &["arm64 bytes\n"], &w.join("arm64"));
    registry.push(&w.join("amd64"), "res:amd64");
    registry.push(&w.join("arm64"), "res:arm64");
    let resolve = |reference: &str, options: &PullOptions| {
        resolve_image(&ImageReference::parse(reference).unwrap(), options)
    };

    // A plain manifest by tag: the digest skopeo would copy.
    let plain = resolve(&format!("{host}/res:amd64"), &options()).unwrap();
    assert_eq!(plain.digest.to_string(), digest_of(&w.join("amd64")));
    assert_eq!(plain.manifest_digest, plain.digest);
    assert!(plain.platforms.is_empty());

    // An index by tag: its digest, each platform's manifest, the one a pull keeps.
    let index_digest = put_index(&host, "res", "1.0", &w.join("amd64"), &w.join("arm64"));
    let arm = PullOptions {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..options()
    };
    let multi = resolve(&format!("{host}/res:1.0"), &arm).unwrap();
    assert_eq!(multi.digest.to_string(), index_digest);
    assert_eq!(
        multi.manifest_digest.to_string(),
        digest_of(&w.join("arm64"))
    );
    let platforms: Vec<(String, String)> = multi
        .platforms
        .iter()
        .map(|(p, d)| (p.clone(), d.to_string()))
        .collect();
    assert_eq!(
        platforms,
        [
            ("linux/amd64".to_string(), digest_of(&w.join("amd64"))),
            ("linux/arm64".to_string(), digest_of(&w.join("arm64")))
        ]
    );
    // Pinned: checked; a pin the registry does not serve is refused, naming the image.
    let pinned = resolve(&format!("{host}/res:1.0@{index_digest}"), &arm).unwrap();
    assert_eq!(
        (&pinned.digest, &pinned.manifest_digest, &pinned.platforms),
        (&multi.digest, &multi.manifest_digest, &multi.platforms)
    );
    let wrong = format!("sha256:{}", "1".repeat(64));
    let err = resolve(&format!("{host}/res:1.0@{wrong}"), &arm).unwrap_err();
    assert!(err.to_string().contains("res:1.0@sha256:1111"), "{err}");
    // Nothing was written anywhere.
    assert!(leftovers(w).is_empty());
}

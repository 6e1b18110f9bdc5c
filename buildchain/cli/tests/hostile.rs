//! Registries and yum mirrors we do not control, played by buildchain-testkit's hostile
//! server on 127.0.0.1, against the real binary (`buildchain pull`, `buildchain
//! fetch-rpms`) run under GNU time: every failure exits 1 (never 101 or 134), leaves DEST
//! as it was (hashed before and after), keeps memory bounded (peak RSS), sends no
//! credentials where they do not belong, and writes no terminal escape on stderr.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildchain_testkit::hostile::{response, HostileServer, Reply, Request};
use common::*;
use sha2::{Digest as _, Sha256};

/// Peak RSS allowed to any hostile case (a build of this size needs far less).
const MAX_RSS_KB: u64 = 200 * 1024;

struct Outcome {
    code: Option<i32>,
    stderr: String,
    max_rss_kb: u64,
}

/// Runs `buildchain ARGS` under `/usr/bin/time`, reading its peak RSS.
fn measured(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    need("time");
    let report = dir.join(format!("time-{}.txt", std::process::id()));
    let cmd = command_in(dir, args, env);
    let program = cmd.get_program().to_owned();
    let mut timed = std::process::Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(program)
        .args(cmd.get_args())
        .current_dir(dir);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        timed.env_remove(var);
    }
    let out = timed.output().unwrap();
    let max_rss_kb = fs::read_to_string(&report)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    let _ = fs::remove_file(&report);
    Outcome {
        code: out.status.code(),
        stderr: stderr(&out),
        max_rss_kb,
    }
}

impl Outcome {
    /// Exit 1 with every `wanted` text on stderr, no escape byte there, memory bounded.
    fn refused(&self, what: &str, wanted: &[&str]) {
        assert_eq!(
            self.code,
            Some(1),
            "{what}: exit {:?}: {}",
            self.code,
            self.stderr
        );
        for w in wanted {
            assert!(
                self.stderr.contains(w),
                "{what}: stderr lacks {w:?}: {}",
                self.stderr
            );
        }
        assert!(
            !self.stderr.contains('\u{1b}'),
            "{what}: an ESC reached stderr"
        );
        assert!(!self.stderr.contains("panicked"), "{what}: {}", self.stderr);
        assert!(
            self.max_rss_kb > 0 && self.max_rss_kb < MAX_RSS_KB,
            "{what}: peak RSS {} KiB",
            self.max_rss_kb
        );
    }
}

/// A digest of everything under `dir` (names, hidden ones included, and contents).
fn tree_hash(dir: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut entries: Vec<PathBuf> = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                out.push(p.clone());
                if p.is_dir() {
                    walk(&p, out);
                }
            }
        }
    }
    walk(dir, &mut entries);
    entries.sort();
    for p in entries {
        hasher.update(p.strip_prefix(dir).unwrap().to_string_lossy().as_bytes());
        if p.is_file() {
            hasher.update(fs::read(&p).unwrap());
        }
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

// --- yum mirrors -------------------------------------------------------------------------

/// A package entry of primary.xml.
fn package_xml(
    name: &str,
    location: &str,
    checksum_type: &str,
    checksum: &str,
    size: usize,
) -> String {
    format!(
        r#"<package type="rpm"><name>{name}</name><arch>noarch</arch><version epoch="0" ver="1.0" rel="1"/><checksum type="{checksum_type}" pkgid="YES">{checksum}</checksum><size package="{size}" installed="0" archive="0"/><location href="{location}"/><format><rpm:provides><rpm:entry name="{name}" flags="EQ" epoch="0" ver="1.0" rel="1"/></rpm:provides></format></package>"#
    )
}

fn primary(packages: &[String]) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{}\">{}</metadata>\n",
        packages.len(),
        packages.join("")
    )
    .into_bytes()
}

fn repomd(primary_name: &str, primary: &[u8]) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><revision>1</revision><data type=\"primary\"><checksum type=\"sha256\">{}</checksum><location href=\"repodata/{primary_name}\"/></data></repomd>\n",
        sha256(primary)
    )
    .into_bytes()
}

/// A mirror serving `files` (path -> bytes) and, for `stream`, an endless body.
fn mirror(files: Vec<(String, Vec<u8>)>, endless: Option<&'static str>) -> HostileServer {
    HostileServer::start(move |r: &Request| {
        if endless.is_some_and(|p| r.path.ends_with(p)) {
            return Reply::Stream {
                head: "HTTP/1.1 200 OK\r\nConnection: close".into(),
                chunk: vec![b'x'; 64 << 10],
                times: None,
                pause: Duration::ZERO,
            };
        }
        match files.iter().find(|(p, _)| r.path.ends_with(p.as_str())) {
            Some((_, body)) => response("200 OK", &[], body),
            None => response("404 Not Found", &[], b"no"),
        }
    })
}

/// An RPM whose signature header has one INT32 entry at `offset` with `count` elements of
/// type `kind`: what crashed the `rpm` crate (offset 2^31-1; INT64 count 0xffffffff).
fn hostile_rpm(kind: u32, offset: u32, count: u32) -> Vec<u8> {
    let mut out = vec![0xed, 0xab, 0xee, 0xdb];
    out.resize(96, 0);
    out.extend([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]);
    out.extend(1u32.to_be_bytes());
    out.extend(8u32.to_be_bytes());
    for v in [1000u32, kind, offset, count] {
        out.extend(v.to_be_bytes());
    }
    out.extend([0u8; 8]);
    out
}

#[test]
fn hostile_mirrors_never_crash_nor_change_dest() {
    let repo = Repo::copy();
    let w = repo.path();
    let dest = w.join("dest");
    // A good alpha in DEST first, from a real rpmbuild + createrepo_c repository.
    let good = w.join("good");
    buildchain_testkit::yum_repository(
        &[buildchain_testkit::FixtureRpm {
            name: "alpha",
            version: "1.0",
            file: "/usr/share/alpha/README",
            provides: &[],
            requires: &[],
        }],
        &good,
        &w.join("work"),
    );
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let repomd_path = "repodata/repomd.xml";
    files.push((
        repomd_path.into(),
        fs::read(good.join(repomd_path)).unwrap(),
    ));
    let repomd_text = fs::read_to_string(good.join("repodata/repomd.xml")).unwrap();
    for name in fs::read_dir(good.join("repodata")).unwrap() {
        let name = name.unwrap().file_name().to_string_lossy().into_owned();
        if repomd_text.contains(&name) {
            files.push((
                format!("repodata/{name}"),
                fs::read(good.join("repodata").join(&name)).unwrap(),
            ));
        }
    }
    files.push((
        "Packages/alpha-1.0-1.noarch.rpm".into(),
        fs::read(good.join("Packages/alpha-1.0-1.noarch.rpm")).unwrap(),
    ));
    let server = mirror(files, None);
    let fetch = |url: String, package: &str| {
        measured(
            w,
            &[
                "fetch-rpms",
                "--repo",
                &format!("m={url}"),
                "--dest",
                dest.to_str().unwrap(),
                package,
            ],
            &[],
        )
    };
    let ok = fetch(format!("http://{}", server.host()), "alpha");
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let before = tree_hash(&dest);

    // Hostile packages whose checksum matches repodata, under the good one's name.
    for (what, rpm) in [
        ("index offset 2^31-1", hostile_rpm(4, 0x7fff_ffff, 1)),
        ("INT64 count 0xffffffff", hostile_rpm(5, 0, 0xffff_ffff)),
        (
            "garbage",
            b"\xed\xab\xee\xdb garbage, not a package".to_vec(),
        ),
    ] {
        let location = "alpha-1.0-1.noarch.rpm";
        let prim = primary(&[package_xml(
            "alpha",
            location,
            "sha256",
            &sha256(&rpm),
            rpm.len(),
        )]);
        let server = mirror(
            vec![
                ("repodata/repomd.xml".into(), repomd("primary.xml", &prim)),
                ("repodata/primary.xml".into(), prim),
                (location.into(), rpm),
            ],
            None,
        );
        let out = fetch(format!("http://{}", server.host()), "alpha");
        out.refused(
            what,
            &[
                "alpha-1.0-1.noarch.rpm",
                "not a readable RPM",
                "nothing was added",
            ],
        );
        assert_eq!(tree_hash(&dest), before, "{what}: DEST changed");
    }

    // An endless package declared 5,513 bytes: stopped at the declared size.
    let prim = primary(&[package_xml(
        "alpha",
        "alpha-1.0-1.noarch.rpm",
        "sha256",
        &"0".repeat(64),
        5513,
    )]);
    let server = mirror(
        vec![
            ("repodata/repomd.xml".into(), repomd("primary.xml", &prim)),
            ("repodata/primary.xml".into(), prim),
        ],
        Some("alpha-1.0-1.noarch.rpm"),
    );
    fetch(format!("http://{}", server.host()), "alpha")
        .refused("endless package", &["more than the 5513 bytes"]);
    assert_eq!(tree_hash(&dest), before, "endless package: DEST changed");

    // A primary.xml of one endless text (a decompression bomb's shape): bounded.
    let mut bomb =
        b"<?xml version=\"1.0\"?>\n<metadata packages=\"1\"><package type=\"rpm\"><description>"
            .to_vec();
    bomb.resize(40 << 20, b' ');
    let server = mirror(
        vec![
            ("repodata/repomd.xml".into(), repomd("primary.xml", &bomb)),
            ("repodata/primary.xml".into(), bomb),
        ],
        None,
    );
    fetch(format!("http://{}", server.host()), "alpha").refused("endless text", &["longer than"]);
    assert_eq!(tree_hash(&dest), before);

    // One md5 package elsewhere in the repository does not make it unusable.
    let rpm = fs::read(good.join("Packages/alpha-1.0-1.noarch.rpm")).unwrap();
    let with = |extra: String| {
        let prim = primary(&[
            package_xml(
                "alpha",
                "alpha-1.0-1.noarch.rpm",
                "sha256",
                &sha256(&rpm),
                rpm.len(),
            ),
            extra,
        ]);
        mirror(
            vec![
                (
                    "repodata/repomd.xml".to_string(),
                    repomd("primary.xml", &prim),
                ),
                ("repodata/primary.xml".to_string(), prim),
                ("alpha-1.0-1.noarch.rpm".to_string(), rpm.clone()),
            ],
            None,
        )
    };
    let server = with(package_xml(
        "old",
        "old-1.0-1.noarch.rpm",
        "md5",
        &"0".repeat(32),
        10,
    ));
    let out = fetch(format!("http://{}", server.host()), "alpha");
    assert_eq!(
        out.code,
        Some(0),
        "an md5 package elsewhere: {}",
        out.stderr
    );
    let before = tree_hash(&dest);
    // A location climbing out through %2e%2e is refused; one carrying an escape sequence is
    // refused with the sequence shown escaped.
    let server = with(package_xml(
        "gamma",
        "%2e%2e/%2e%2e/etc/gamma.rpm",
        "sha256",
        &"0".repeat(64),
        10,
    ));
    fetch(format!("http://{}", server.host()), "gamma")
        .refused("%2e%2e", &["must not contain '..'"]);
    let server = with(package_xml(
        "delta",
        "d\u{1b}[2J/delta.rpm",
        "sha256",
        &"0".repeat(64),
        10,
    ));
    fetch(format!("http://{}", server.host()), "delta").refused("escape in a location", &["\\x1b"]);
    assert_eq!(tree_hash(&dest), before);
}

// --- registries ----------------------------------------------------------------------------

const V2S2: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn manifest(config: &[u8], layer_digest: &str, layer_size: u64) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{V2S2}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"sha256:{}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{layer_size},"digest":"{layer_digest}"}}]}}"#,
        config.len(),
        sha256(config)
    )
    .into_bytes()
}

/// A registry: `/v2/` answers, the manifest of `x:1` is `manifest`, blobs by `blob`.
fn registry(
    manifest: Vec<u8>,
    config: Vec<u8>,
    blob: impl Fn(&Request) -> Reply + Send + Sync + 'static,
) -> HostileServer {
    HostileServer::start(move |r: &Request| {
        if r.path == "/v2/" {
            return response("200 OK", &[], b"{}");
        }
        if r.path.contains("/manifests/") {
            return response("200 OK", &[("Content-Type", V2S2)], &manifest);
        }
        if r.path.ends_with(&sha256(&config)) {
            return response("200 OK", &[], &config);
        }
        blob(r)
    })
}

#[test]
fn hostile_registries_are_bounded_refused_and_escaped() {
    let repo = Repo::copy();
    let w = repo.path();
    let pull = |host: &str, dest: &str, env: &[(&str, &str)]| {
        measured(
            w,
            &["pull", "--insecure", &format!("{host}/x:1"), dest],
            env,
        )
    };
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}".to_vec();
    let fake_layer = format!("sha256:{}", "a".repeat(64));

    // A blob declared 2^62 bytes: refused before any download.
    let server = registry(
        manifest(&config, &fake_layer, 1 << 62),
        config.clone(),
        |_| response("500 Internal Server Error", &[], b""),
    );
    pull(&server.host(), "huge", &[]).refused("2^62 blob", &["more than the", "allowed"]);
    assert!(!w.join("huge").exists());
    assert!(!server
        .requests()
        .iter()
        .any(|r| r.path.contains(&"a".repeat(64))));

    // A blob longer than declared: stopped at the declared size + 1.
    let server = registry(manifest(&config, &fake_layer, 100), config.clone(), |_| {
        Reply::Stream {
            head: "HTTP/1.1 200 OK\r\nConnection: close".into(),
            chunk: vec![0; 64 << 10],
            times: None,
            pause: Duration::ZERO,
        }
    });
    pull(&server.host(), "long", &[]).refused("endless blob", &["more than the 100 bytes"]);

    // An endless error body and an escape sequence in the registry's message.
    let server = HostileServer::start(|r: &Request| {
        if r.path == "/v2/" {
            return response("200 OK", &[], b"{}");
        }
        if r.path.contains("/manifests/") {
            let body = b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"\\u001b[2J\\u001b]0;owned\\u0007 gone\\r\\nFAKE: line\"}]}";
            return response(
                "404 Not Found",
                &[("Content-Type", "application/json")],
                body,
            );
        }
        Reply::Stream {
            head: "HTTP/1.1 404 Not Found\r\nConnection: close".into(),
            chunk: vec![b'e'; 64 << 10],
            times: None,
            pause: Duration::ZERO,
        }
    });
    let out = pull(&server.host(), "escaped", &[]);
    out.refused("escape sequences", &["MANIFEST_UNKNOWN", "\\x1b[2J"]);
    assert!(
        !out.stderr.contains("\nFAKE"),
        "a forged line: {}",
        out.stderr
    );

    // An endless token response: bounded, said as such.
    let token_host = Arc::new(Mutex::new(String::new()));
    let th = token_host.clone();
    let server = HostileServer::start(move |r: &Request| {
        if r.path.starts_with("/token") {
            return Reply::Stream {
                head: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json"
                    .into(),
                chunk: vec![b'a'; 64 << 10],
                times: None,
                pause: Duration::ZERO,
            };
        }
        let realm = format!("http://{}/token", th.lock().unwrap());
        response(
            "401 Unauthorized",
            &[(
                "WWW-Authenticate",
                &format!("Bearer realm=\"{realm}\",service=\"x\""),
            )],
            b"",
        )
    });
    *token_host.lock().unwrap() = server.host();
    pull(&server.host(), "token", &[]).refused("endless token", &["token", "65536 bytes"]);

    // Credentials are not sent to a token realm on another origin over plain http.
    let foreign = HostileServer::start(|_| response("200 OK", &[], b"{\"token\":\"t\"}"));
    let realm = format!("http://{}/token", foreign.host());
    let server = HostileServer::start(move |_| {
        response(
            "401 Unauthorized",
            &[("WWW-Authenticate", &format!("Bearer realm=\"{realm}\""))],
            b"",
        )
    });
    let auth = w.join("auth.json");
    fs::write(
        &auth,
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            server.host(),
            "YWxpY2U6c2VjcmV0" // alice:secret
        ),
    )
    .unwrap();
    let out = pull(
        &server.host(),
        "creds",
        &[("REGISTRY_AUTH_FILE", auth.to_str().unwrap())],
    );
    out.refused("foreign realm", &["not sending the credentials"]);
    assert!(
        foreign
            .requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "credentials reached the foreign realm: {:?}",
        foreign.requests()
    );

    // A token realm naming the metadata address is a redirect there in disguise.
    let server = HostileServer::start(|_| {
        response(
            "401 Unauthorized",
            &[(
                "WWW-Authenticate",
                "Bearer realm=\"http://169.254.169.254/latest/meta-data/\"",
            )],
            b"",
        )
    });
    pull(&server.host(), "realm", &[]).refused(
        "token realm at 169.254.169.254",
        &["169.254.169.254", "link-local"],
    );

    // Redirects: to the link-local metadata address, and in a loop.
    let server = registry(manifest(&config, &fake_layer, 10), config.clone(), |_| {
        response(
            "302 Found",
            &[("Location", "http://169.254.169.254/latest/meta-data/")],
            b"",
        )
    });
    pull(&server.host(), "metadata", &[]).refused(
        "redirect to 169.254.169.254",
        &["169.254.169.254", "redirect refused"],
    );
    let server = registry(
        manifest(&config, &fake_layer, 10),
        config.clone(),
        |r: &Request| response("302 Found", &[("Location", &format!("{}x", r.path))], b""),
    );
    pull(&server.host(), "loop", &[]).refused("redirect loop", &["redirect loop"]);
}

//! The transport of pulls against real servers: a registry behind TLS with a private CA
//! (trusted only when given the CA file), and an HTTP proxy (plain requests and CONNECT
//! tunnels), with NO_PROXY-style bypass. Servers from buildchain-testkit.

mod common;

use buildchain_http::ProxyConfig;
use buildchain_oci::{pull_image, HttpConfig, PullOptions};
use buildchain_oci_types::ImageReference;
use buildchain_testkit::{private_ca, Proxy, Registry, RegistryOptions};
use common::{assert_same_dir_image, build_test_image};
use std::path::Path;

fn options(insecure: bool, http: HttpConfig) -> PullOptions {
    PullOptions {
        insecure,
        auth_file: Some("/nonexistent/auth.json".into()),
        http,
        ..PullOptions::default()
    }
}

fn quick(http: HttpConfig) -> HttpConfig {
    HttpConfig {
        retry: buildchain_oci::RetryPolicy {
            retries: 0,
            backoff: std::time::Duration::from_millis(10),
        },
        ..http
    }
}

fn image(work: &Path) -> std::path::PathBuf {
    let src = work.join("src");
    build_test_image(work, "app", "amd64", &["over the wire\n"], &src);
    src
}

#[test]
fn a_tls_registry_with_a_private_ca_is_trusted_only_with_the_ca_file() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ca = private_ca(w);
    let registry = Registry::start_with(&RegistryOptions {
        tls: Some((ca.server_cert.clone(), ca.server_key.clone())),
        ..RegistryOptions::default()
    });
    registry.push(&image(w), "team/app:1.0", &[]);
    let reference = ImageReference::parse(&format!("{}/team/app:1.0", registry.host())).unwrap();

    let err = pull_image(
        &reference,
        &w.join("untrusted"),
        &options(false, quick(HttpConfig::default())),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("TLS") || err.contains("certificate"), "{err}");
    assert!(!w.join("untrusted").exists());

    let trusted = HttpConfig {
        ca_file: Some(ca.ca_cert.clone()),
        ..HttpConfig::default()
    };
    pull_image(&reference, &w.join("trusted"), &options(false, trusted)).unwrap();
    assert_same_dir_image(&w.join("trusted"), &w.join("src"));

    // A CA file that holds no certificate is refused naming it.
    let junk = w.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let bad = HttpConfig {
        ca_file: Some(junk),
        ..HttpConfig::default()
    };
    let err = pull_image(&reference, &w.join("junk"), &options(false, bad))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("junk.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
}

#[test]
fn pulls_go_through_the_proxy_unless_the_host_is_excluded() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ca = private_ca(w);
    let plain = Registry::start();
    plain.push(&image(w), "team/app:1.0", &[]);
    let tls = Registry::start_with(&RegistryOptions {
        tls: Some((ca.server_cert.clone(), ca.server_key.clone())),
        ..RegistryOptions::default()
    });
    tls.push(&w.join("src"), "team/app:1.0", &[]);
    let proxy = Proxy::start();
    let via = |no_proxy: &str| HttpConfig {
        proxy: ProxyConfig::Explicit {
            http: Some(proxy.url()),
            https: Some(proxy.url()),
            no_proxy: no_proxy.to_string(),
        },
        ca_file: Some(ca.ca_cert.clone()),
        ..HttpConfig::default()
    };
    let reference =
        |r: &Registry| ImageReference::parse(&format!("{}/team/app:1.0", r.host())).unwrap();

    // Plain http: through the proxy (ureq tunnels it with CONNECT, as it does https).
    pull_image(
        &reference(&plain),
        &w.join("plain"),
        &options(true, via("")),
    )
    .unwrap();
    assert_same_dir_image(&w.join("plain"), &w.join("src"));
    let seen = proxy.seen();
    assert!(seen.iter().any(|s| s.contains(&plain.host())), "{seen:?}");
    // https: a CONNECT tunnel, the TLS inside it checked against the CA file.
    pull_image(&reference(&tls), &w.join("tls"), &options(false, via(""))).unwrap();
    assert!(
        proxy
            .seen()
            .iter()
            .any(|s| s == &format!("CONNECT {}", tls.host())),
        "{:?}",
        proxy.seen()
    );
    // NO_PROXY: direct.
    let before = proxy.seen().len();
    pull_image(
        &reference(&plain),
        &w.join("direct"),
        &options(true, via("localhost,127.0.0.1")),
    )
    .unwrap();
    assert_eq!(proxy.seen().len(), before, "{:?}", proxy.seen());
    // A proxy that does not answer: a clear error naming it, nothing written.
    let dead = HttpConfig {
        proxy: ProxyConfig::Explicit {
            http: Some("http://127.0.0.1:1".into()),
            https: None,
            no_proxy: String::new(),
        },
        ..quick(HttpConfig::default())
    };
    let err = pull_image(&reference(&plain), &w.join("dead"), &options(true, dead))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unreachable") || err.contains("connect"),
        "{err}"
    );
    assert!(!w.join("dead").exists());
}

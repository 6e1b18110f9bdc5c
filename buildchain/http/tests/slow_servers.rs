//! Servers that hold a client without failing: one that stops sending, one that trickles
//! a body, one that trickles its headers. Each must end in a clear error naming the URL,
//! whatever the body length the server announced.

use std::time::Duration;

use buildchain_http::{Client, Config, HttpError, ProxyConfig, Retry};
use buildchain_testkit::hostile::{HostileServer, Reply};

fn client() -> Client {
    Client::new(Config {
        stall_timeout: Duration::from_secs(1),
        min_bytes_per_second: 1000,
        retry: Retry {
            retries: 0,
            ..Retry::default()
        },
        proxy: ProxyConfig::None,
        ..Config::default()
    })
    .expect("client")
}

fn serve(reply: impl Fn() -> Reply + Send + Sync + 'static) -> HostileServer {
    HostileServer::start(move |_| reply())
}

#[test]
fn a_server_that_stops_sending_is_given_up_after_the_stall_timeout() {
    let server = serve(|| Reply::Stream {
        head: "HTTP/1.1 200 OK\r\nContent-Length: 1000".into(),
        chunk: b"0123456789".to_vec(),
        times: Some(2),
        pause: Duration::from_secs(30),
    });
    let url = format!("http://{}/stalled", server.host());
    let response = client().get(&url, &[], &[]).expect("headers arrive");
    let err = response.read_all(1 << 20, "the body").unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("/stalled"), "{err}");
}

#[test]
fn a_trickled_body_is_given_up_below_the_minimum_rate() {
    // 1 byte every 20 ms: 50 bytes/s against a floor of 1000, and never a stall.
    let server = serve(|| Reply::Stream {
        head: "HTTP/1.1 200 OK\r\nContent-Length: 1000000".into(),
        chunk: b"x".to_vec(),
        times: None,
        pause: Duration::from_millis(20),
    });
    let url = format!("http://{}/trickle", server.host());
    let response = client().get(&url, &[], &[]).expect("headers arrive");
    let err = response.read_all(1 << 20, "the body").unwrap_err();
    match &err {
        HttpError::TooSlow { floor, .. } => assert_eq!(*floor, 1000),
        other => panic!("expected too slow, got {other:?}"),
    }
    assert!(err.to_string().contains("too slow"), "{err}");
}

#[test]
fn trickled_headers_are_given_up_after_the_stall_timeout() {
    // A header line every 100 ms, forever: no single read stalls, the head never ends.
    let server = serve(|| Reply::Drip {
        prefix: b"HTTP/1.1 200 OK\r\n".to_vec(),
        chunk: b"X-Slow: 1\r\n".to_vec(),
        pause: Duration::from_millis(100),
    });
    let url = format!("http://{}/slow-head", server.host());
    let err = client().get(&url, &[], &[]).unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("/slow-head"), "{err}");
}

#[test]
fn a_fast_start_does_not_pay_for_a_trickle_afterwards() {
    // 200 kB at once, then 50 bytes/s: on average over the whole body the rate stays above
    // the floor for minutes; over the last stall period it does not.
    let mut prefix = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n".to_vec();
    prefix.extend(vec![b'x'; 200_000]);
    let server = serve(move || Reply::Drip {
        prefix: prefix.clone(),
        chunk: b"x".to_vec(),
        pause: Duration::from_millis(20),
    });
    let url = format!("http://{}/burst-then-trickle", server.host());
    let response = client().get(&url, &[], &[]).expect("headers arrive");
    let err = response.read_all(1 << 30, "the body").unwrap_err();
    assert!(matches!(err, HttpError::TooSlow { .. }), "{err:?}");
}

#[test]
fn an_error_page_is_read_under_the_same_limits() {
    // A 404 whose body trickles: the excerpt ends at the stall timeout, not after the
    // 64 KiB the caller would take.
    let server = serve(|| Reply::Stream {
        head: "HTTP/1.1 404 Not Found\r\nContent-Length: 65536".into(),
        chunk: b"no".to_vec(),
        times: Some(2),
        pause: Duration::from_secs(30),
    });
    let url = format!("http://{}/missing", server.host());
    let response = client().get(&url, &[], &[]).expect("headers arrive");
    assert_eq!(response.status(), 404);
    assert_eq!(response.text_excerpt(64 << 10), "no");
}

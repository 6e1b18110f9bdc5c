//! A server that misbehaves on purpose (a hostile registry or yum mirror): each request is
//! answered by a handler with a [`Reply`]: any bytes, an endless or trickled stream, a
//! connection held open. Every request is recorded (method, path, headers) so a test can
//! tell what a client sent where. Binds 127.0.0.1:0 itself; stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the server read it.
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

/// How to answer.
pub enum Reply {
    /// These bytes (a whole response, head and body), then close.
    Raw(Vec<u8>),
    /// `head` (status line and headers, without the blank line), then `chunk` again and
    /// again (`times`, or until the client goes away), `pause` between writes.
    Stream {
        head: String,
        chunk: Vec<u8>,
        times: Option<u64>,
        pause: Duration,
    },
    /// `prefix` as is (no blank line added: a head that never ends, say), then `chunk`
    /// again and again until the client goes away, `pause` between writes.
    Drip {
        prefix: Vec<u8>,
        chunk: Vec<u8>,
        pause: Duration,
    },
}

/// A complete response with `Connection: close` and a right `Content-Length`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Raw(response_bytes(status, headers, body))
}

/// The bytes of [`response`].
pub fn response_bytes(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
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

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

pub struct HostileServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl HostileServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hostile server");
        let port = listener.local_addr().expect("its address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (requests2, stop2) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, requests, stop) = (handler.clone(), requests2.clone(), stop2.clone());
                std::thread::spawn(move || serve(stream, &*handler, &requests, &stop));
            }
        });
        HostileServer {
            port,
            requests,
            stop,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, handler: &Handler, requests: &Mutex<Vec<Request>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = Vec::new();
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
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let request = Request {
        method,
        path,
        headers,
    };
    if let Ok(mut r) = requests.lock() {
        r.push(request.clone());
    }
    let mut out = stream;
    match handler(&request) {
        Reply::Raw(bytes) => {
            let _ = out.write_all(&bytes);
        }
        Reply::Stream {
            head,
            chunk,
            times,
            pause,
        } => {
            let head = format!("{head}\r\n\r\n").into_bytes();
            if !drip(&mut out, &head, &chunk, times, pause, stop) {
                return;
            }
        }
        Reply::Drip {
            prefix,
            chunk,
            pause,
        } => {
            if !drip(&mut out, &prefix, &chunk, None, pause, stop) {
                return;
            }
        }
    }
    let _ = out.flush();
}

/// Writes `prefix`, then `chunk` `times` times (or until the client goes away or the server
/// stops), pausing between writes. False when the client went away.
fn drip(
    out: &mut TcpStream,
    prefix: &[u8],
    chunk: &[u8],
    times: Option<u64>,
    pause: Duration,
    stop: &AtomicBool,
) -> bool {
    if out.write_all(prefix).is_err() {
        return false;
    }
    let mut sent = 0u64;
    while times.is_none_or(|t| sent < t) && !stop.load(Ordering::SeqCst) {
        if out.write_all(chunk).is_err() {
            return false;
        }
        sent += 1;
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
    }
    true
}

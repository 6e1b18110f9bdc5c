//! A small HTTP proxy for tests: forwards plain requests (absolute-form `GET http://…`) and
//! tunnels `CONNECT host:port` (HTTPS), recording every target, so a test can tell that a
//! client went through it. Binds 127.0.0.1:0 itself; stopped on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Proxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let seen = seen2.clone();
                    thread::spawn(move || {
                        let _ = handle(stream, &seen);
                    });
                }
            }
        });
        Proxy { port, seen, stop }
    }

    /// `http://127.0.0.1:PORT`: the value of HTTP_PROXY / HTTPS_PROXY.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request seen: `CONNECT host:port` or `GET http://host:port/path`.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

fn handle(client: TcpStream, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        headers.push(line);
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if let Ok(mut s) = seen.lock() {
        s.push(format!("{method} {target}"));
    }
    let mut client = client;
    if method == "CONNECT" {
        let upstream = TcpStream::connect(target)?;
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        // Bytes the reader buffered past the head belong to the tunnel.
        let buffered = reader.buffer().to_vec();
        let mut up = upstream.try_clone()?;
        up.write_all(&buffered)?;
        let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
        let t = thread::spawn(move || pipe(c2, u2));
        pipe(upstream, client);
        let _ = t.join();
        return Ok(());
    }
    // Absolute form: http://host:port/path
    let rest = target.strip_prefix("http://").unwrap_or(target);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut upstream = TcpStream::connect(if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    })?;
    let version = parts.next().unwrap_or("HTTP/1.1");
    write!(upstream, "{method} {path} {version}\r\n")?;
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("proxy-") {
            upstream.write_all(header.as_bytes())?;
        }
    }
    upstream.write_all(b"\r\n")?;
    let buffered = reader.buffer().to_vec();
    upstream.write_all(&buffered)?;
    let mut response = Vec::new();
    let mut up = upstream.try_clone()?;
    let (c2, u2) = (client.try_clone()?, upstream.try_clone()?);
    let t = thread::spawn(move || pipe(c2, u2));
    let _ = up.read_to_end(&mut response);
    client.write_all(&response)?;
    let _ = client.shutdown(Shutdown::Both);
    let _ = t.join();
    Ok(())
}

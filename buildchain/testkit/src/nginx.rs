//! nginx on 127.0.0.1, started by the test and killed on drop. The port: a free one is
//! picked and nginx binds it itself; should another process take it first (nginx then
//! exits with "Address already in use"), another port is tried. Each instance answers a
//! secret token at a private location, so a test never talks to someone else's server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::require_tool;

pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

fn candidate_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

impl Nginx {
    /// Starts nginx with `server_lines` inside its `server {}` block; its prefix, config
    /// and logs live in `dir`.
    pub fn start(dir: &Path, server_lines: &str) -> Nginx {
        let nginx = require_tool("nginx");
        std::fs::create_dir_all(dir.join("logs")).expect("logs dir");
        for attempt in 0..10 {
            let port = candidate_port();
            let token = format!("{}-{port}-{attempt}", std::process::id());
            match Self::try_start(&nginx, dir, server_lines, port, &token) {
                Some(server) => return server,
                None => continue,
            }
        }
        panic!("nginx could not bind a free port of 127.0.0.1 in 10 attempts");
    }

    fn try_start(
        nginx: &Path,
        dir: &Path,
        server_lines: &str,
        port: u16,
        token: &str,
    ) -> Option<Nginx> {
        let d = dir.display();
        let conf_path = write_config(
            dir,
            &format!(
                "    access_log {d}/logs/access.log;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        location = /__testkit_token {{ return 200 '{token}'; }}
{server_lines}
    }}"
            ),
        );
        let error_log = dir.join("logs/error.log");
        let _ = std::fs::remove_file(&error_log);
        let test = command(nginx, dir, &conf_path)
            .arg("-t")
            .output()
            .expect("run nginx -t");
        assert!(
            test.status.success(),
            "nginx -t rejects the config: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = command(nginx, dir, &conf_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut server = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = server.child.try_wait() {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                assert!(
                    log.contains("Address already in use"),
                    "nginx exited: {log}"
                );
                return None;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let answer = crate::http::request(port, "GET", "/__testkit_token");
                if answer.body == token.as_bytes() {
                    return Some(server);
                }
                // Someone else's server on that port: ours will fail to bind.
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts nginx with `http_lines` as its whole `http {}` block (a configuration made
    /// elsewhere, e.g. by Salt, listening on `port`); its prefix, config and logs live in
    /// `dir`. Waits until `port` answers.
    pub fn start_http(dir: &Path, port: u16, http_lines: &str) -> Nginx {
        let nginx = require_tool("nginx");
        std::fs::create_dir_all(dir.join("logs")).expect("logs dir");
        let conf_path = write_config(dir, http_lines);
        let error_log = dir.join("logs/error.log");
        let mut child = command(&nginx, dir, &conf_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(&error_log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// One raw HTTP/1.0 request.
    pub fn request(&self, method: &str, path: &str) -> crate::http::Response {
        crate::http::request(self.port, method, path)
    }
}

/// `nginx -p DIR -c CONF -e DIR/logs/error.log`: everything of the instance in `dir`.
fn command(nginx: &Path, dir: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .arg("-e")
        .arg(dir.join("logs/error.log"));
    cmd
}

/// Writes `dir/nginx.conf`: a foreground nginx whose pid, logs and temporary files live
/// in `dir`, with `http_lines` in its `http {}` block. Returns its path.
fn write_config(dir: &Path, http_lines: &str) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {d}/tmp-body;
    proxy_temp_path {d}/tmp-proxy;
    fastcgi_temp_path {d}/tmp-fastcgi;
    uwsgi_temp_path {d}/tmp-uwsgi;
    scgi_temp_path {d}/tmp-scgi;
{http_lines}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    conf_path
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

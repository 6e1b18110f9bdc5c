//! Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, storage in a temporary
//! directory, killed on drop. It binds port 0 itself and says which port it got in its
//! log: no race with other tests for a port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::tools::require_tool;

/// How to start the registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// An htpasswd file (bcrypt): basic auth required.
    pub htpasswd: Option<PathBuf>,
    /// Certificate and key (PEM): served over TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

pub struct Registry {
    child: Child,
    pub port: u16,
    pub storage: tempfile::TempDir,
    tls: bool,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(&RegistryOptions::default())
    }

    pub fn start_with(options: &RegistryOptions) -> Registry {
        let bin = require_tool("docker-registry");
        let storage = tempfile::tempdir().expect("storage dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
            storage.path().join("data").display()
        );
        if let Some((cert, key)) = &options.tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some(htpasswd) = &options.htpasswd {
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = storage.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        let stderr = child.stderr.take().expect("registry stderr");
        let (tx, rx) = mpsc::channel();
        // Reads the log until the "listening on HOST:PORT" line, then drains it.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(port) = listening_port(&line) {
                        let _ = tx.send(port);
                        sent = true;
                    }
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("docker-registry did not say where it listens");
            }
        };
        Registry {
            child,
            port,
            storage,
            tls: options.tls.is_some(),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Where the registry stores a blob (to damage it on purpose).
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.storage
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Pushes the `dir:` image at `dir` as `name_tag` with skopeo.
    pub fn push(&self, dir: &Path, name_tag: &str, extra: &[&str]) {
        let skopeo = require_tool("skopeo");
        crate::tools::run_ok(
            Command::new(skopeo)
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .args(extra)
                .arg(format!("dir:{}", dir.display()))
                .arg(format!("docker://{}/{name_tag}", self.host())),
        );
    }
}

/// The port of a `msg="listening on 127.0.0.1:PORT"` log line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let addr = rest.split(['"', ' ', ',']).next()?;
    addr.rsplit_once(':')?.1.parse().ok()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_listening_line() {
        let line = r#"time="x" level=info msg="listening on 127.0.0.1:40337" go.version=go1.19.8"#;
        assert_eq!(super::listening_port(line), Some(40337));
        assert_eq!(
            super::listening_port("listening on [::]:5000 x"),
            Some(5000)
        );
        assert_eq!(super::listening_port("nothing"), None);
    }
}

//! A private containerd (its own root, state, socket and config under the test's directory,
//! no CRI), started by the test and killed on drop; images pulled with `ctr`, as a node's
//! container runtime pulls them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::tools::require_tool;

pub struct Containerd {
    child: Child,
    socket: PathBuf,
    ctr: PathBuf,
}

impl Containerd {
    /// Starts containerd with everything under `dir`; waits for its socket.
    pub fn start(dir: &Path) -> Containerd {
        let containerd = require_tool("containerd");
        let ctr = require_tool("ctr");
        std::fs::create_dir_all(dir).expect("containerd dir");
        let socket = dir.join("containerd.sock");
        let d = dir.display();
        let config = format!(
            "version = 2
root = \"{d}/root\"
state = \"{d}/state\"
disabled_plugins = [
  \"io.containerd.grpc.v1.cri\",
  \"io.containerd.snapshotter.v1.aufs\",
  \"io.containerd.snapshotter.v1.btrfs\",
  \"io.containerd.snapshotter.v1.devmapper\",
  \"io.containerd.snapshotter.v1.zfs\",
]
[grpc]
  address = \"{d}/containerd.sock\"
[plugins.\"io.containerd.internal.v1.opt\"]
  path = \"{d}/opt\"
"
        );
        let config_path = dir.join("config.toml");
        std::fs::write(&config_path, config).expect("write containerd config");
        let log = std::fs::File::create(dir.join("containerd.log")).expect("containerd log");
        let mut child = Command::new(containerd)
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "containerd exited ({status}): {}",
                    std::fs::read_to_string(dir.join("containerd.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "containerd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Containerd { child, socket, ctr }
    }

    /// `ctr images pull --plain-http [args] REFERENCE`.
    pub fn pull(&self, reference: &str, args: &[&str]) -> Output {
        let mut all = vec!["images", "pull", "--plain-http"];
        all.extend_from_slice(args);
        all.push(reference);
        self.ctr(&all)
    }

    /// `ctr ARGS` against this containerd.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new(&self.ctr)
            .arg("--address")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ctr")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

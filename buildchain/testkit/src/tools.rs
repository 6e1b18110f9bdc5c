//! Real tools, required by name: a test that needs one it cannot find fails saying which
//! (and that ci/setup.sh installs it), never passes silently.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The path of `tool` on PATH (or in /usr/sbin, /sbin), else a failure naming it.
pub fn require_tool(tool: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("this test needs `{tool}`, which is not installed (ci/setup.sh installs it)")
        })
}

/// Runs `cmd`, failing with its output unless it succeeds; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

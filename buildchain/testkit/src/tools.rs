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

/// A program of the pinned Python environment `venv` that ci/setup.sh makes in
/// `~/.cache/buildchain/<venv>/bin/` (or the path in `env_var`), else a failure naming it.
pub fn require_venv_tool(venv: &str, program: &str, env_var: &str) -> PathBuf {
    let bin = std::env::var_os(env_var).map(PathBuf::from).or_else(|| {
        let home = std::env::var_os("HOME")?;
        Some(PathBuf::from(home).join(format!(".cache/buildchain/{venv}/bin/{program}")))
    });
    match bin {
        Some(bin) if bin.is_file() => bin,
        bin => panic!(
            "this test needs `{program}` ({bin:?}), which is not installed: run ci/setup.sh (installs it into ~/.cache/buildchain/{venv}) or set {env_var}"
        ),
    }
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

//! Helpers of the integration tests: a temporary copy of the repository's distribution,
//! and the built binary run in it with a controlled environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod images;

pub const EPOCH: &str = "1700000000";

/// The repository this crate lives in.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Fails (never skips) when a tool the test reads results with is missing.
/// The pinned Salt ci/setup.sh installs (or `SALT_CALL_BIN`): a test needing it fails
/// saying so when it is missing.
pub fn need_salt() -> PathBuf {
    buildchain_testkit::require_venv_tool("salt", "salt-call", "SALT_CALL_BIN")
}

pub fn need(tool: &str) {
    buildchain_testkit::require_tool(tool);
}

/// A copy of the repository's distribution content (no .git, no target, no _build).
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn copy() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let src = repo_root();
        for entry in [
            "VERSION",
            "versions.toml",
            "salt",
            "pillar",
            "iso",
            "examples",
            "docs",
            "images",
            "packages",
            "vagrant",
        ] {
            if !src.join(entry).exists() {
                continue;
            }
            let status = Command::new("cp")
                .arg("-a")
                .arg(src.join(entry))
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        Repo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn build_root(&self) -> PathBuf {
        self.path().join("_build")
    }

    /// Runs `buildchain ARGS` in the copy with a clean environment plus `env`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        run_in(self.path(), args, env)
    }

    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        command_in(self.path(), args, env)
    }
}

pub fn command_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_buildchain"));
    cmd.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key == "PROJECT_NAME"
            || key == "BUILD_ROOT"
            || key == "SOURCE_DATE_EPOCH"
            || key == "BUILD_HOST"
            || key.starts_with("VAGRANT_")
            || key.ends_with("_BIN")
        {
            cmd.env_remove(key);
        }
    }
    cmd.env("SOURCE_DATE_EPOCH", EPOCH)
        .env("BUILD_HOST", "builder");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command_in(dir, args, env).output().unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success, showing the output otherwise.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "buildchain failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Names of the tasks printed with `status` (e.g. "STARTED").
pub fn with_status(stdout: &str, status: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(status))
        .map(|rest| rest.trim().split(' ').next().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

pub fn version_of(repo: &Path) -> String {
    let text = std::fs::read_to_string(repo.join("VERSION")).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    format!(
        "{}.{}.{}{}",
        get("VERSION_MAJOR"),
        get("VERSION_MINOR"),
        get("VERSION_PATCH"),
        get("VERSION_SUFFIX")
    )
}

/// One fixture RPM (`name-version-1.noarch`, holding `file`, requiring `requires`).
pub const fn fixture(
    name: &'static str,
    version: &'static str,
    file: &'static str,
    requires: &'static [&'static str],
) -> buildchain_testkit::FixtureRpm {
    buildchain_testkit::FixtureRpm {
        name,
        version,
        file,
        provides: &[],
        requires,
    }
}

/// `createrepo_c` on `dir` (again), with `args`.
pub fn createrepo(dir: &std::path::Path, args: &[&str]) {
    buildchain_testkit::run_ok(
        std::process::Command::new(buildchain_testkit::require_tool("createrepo_c"))
            .args(["-q", "--no-database"])
            .args(args)
            .arg(dir),
    );
}

/// `dnf` in a fresh installroot `root` whose only repository file is `repo_file`: the
/// caller adds the command (`install PKG`, `repoquery …`).
pub fn dnf_in(root: &Path, repo_file: &str) -> Command {
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root.join("repos")).unwrap();
    std::fs::write(root.join("repos/test.repo"), repo_file).unwrap();
    let mut cmd = Command::new("dnf");
    cmd.arg(format!("--installroot={}", root.display()))
        .arg(format!(
            "--setopt=reposdir={}",
            root.join("repos").display()
        ))
        .arg("--releasever=8");
    cmd
}

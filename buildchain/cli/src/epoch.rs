//! The one `SOURCE_DATE_EPOCH` rule. Every time an output records (product.txt's
//! `BUILD_TIMESTAMP`, image configs and layer mtimes, RPM headers, repodata, the ISO's
//! dates) is this one value, so the same commit gives the same bytes on any machine:
//!
//! 1. `SOURCE_DATE_EPOCH` when set: seconds since 1970-01-01T00:00:00Z;
//! 2. else the commit time of `HEAD` (`git log -1 --format=%ct`) of the repository;
//! 3. else (not a git checkout, no git) 1980-01-01T00:00:00Z, the earliest date every
//!    format we write can hold (zip, ISO 9660, RPM).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};

/// 1980-01-01T00:00:00Z.
pub const DEFAULT_EPOCH: i64 = 315_532_800;

/// Where the epoch came from (the rule applied; checked by the tests of this rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Variable,
    Commit,
    Default,
}

/// The resolved epoch of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    pub seconds: i64,
    pub origin: Origin,
}

impl Epoch {
    /// The epoch as unsigned seconds (for the libraries' options).
    pub fn unsigned(self) -> u64 {
        u64::try_from(self.seconds).unwrap_or(0)
    }
}

/// Resolves the epoch: `variable` is the value of `SOURCE_DATE_EPOCH` (empty = unset),
/// `repo` the repository whose `HEAD` dates the build, `git` the program to ask.
pub fn resolve(variable: Option<&str>, repo: Option<&Path>, git: &str) -> Result<Epoch> {
    if let Some(text) = variable.map(str::trim).filter(|v| !v.is_empty()) {
        let seconds = text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .with_context(|| {
                format!("SOURCE_DATE_EPOCH {text:?}: must be a number of seconds since 1970-01-01")
            })?;
        return Ok(Epoch {
            seconds,
            origin: Origin::Variable,
        });
    }
    Ok(match repo.and_then(|r| head_commit_time(r, git)) {
        Some(seconds) => Epoch {
            seconds,
            origin: Origin::Commit,
        },
        None => Epoch {
            seconds: DEFAULT_EPOCH,
            origin: Origin::Default,
        },
    })
}

/// The epoch of a command run outside a distribution (`repodata`, `build-rpm`): the
/// variable, else the commit time of the git checkout holding the current directory.
pub fn from_environment() -> Result<Epoch> {
    let variable = std::env::var("SOURCE_DATE_EPOCH").ok();
    let git = std::env::var("GIT_BIN").unwrap_or_else(|_| "git".into());
    let cwd = std::env::current_dir().ok();
    resolve(variable.as_deref(), cwd.as_deref(), &git)
}

fn head_commit_time(repo: &Path, git: &str) -> Option<i64> {
    let out = Command::new(git)
        .args(["log", "-1", "--format=%ct", "HEAD"])
        .current_dir(repo)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// `%Y-%m-%dT%H:%M:%SZ` of a Unix time (UTC).
pub fn format_utc(seconds: i64) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        // Beyond year 9999: no format we write can hold it anyway.
        Err(_) => seconds.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_then_commit_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve(Some("1700000000"), Some(dir.path()), "git").unwrap();
        assert_eq!((e.seconds, e.origin), (1_700_000_000, Origin::Variable));
        // Not a git checkout: the default.
        let e = resolve(Some(""), Some(dir.path()), "git").unwrap();
        assert_eq!((e.seconds, e.origin), (DEFAULT_EPOCH, Origin::Default));
        let e = resolve(None, Some(dir.path()), "/nonexistent/git").unwrap();
        assert_eq!(e.origin, Origin::Default);
        for bad in ["yesterday", "-1", "1.5"] {
            let err = resolve(Some(bad), None, "git").unwrap_err().to_string();
            assert!(err.contains("SOURCE_DATE_EPOCH"), "{err}");
        }
        // A checkout: HEAD's commit time.
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(dir.path())
                .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["commit", "-q", "--allow-empty", "-m", "x"]);
        let e = resolve(None, Some(dir.path()), "git").unwrap();
        assert_eq!((e.seconds, e.origin), (1_600_000_000, Origin::Commit));
    }

    #[test]
    fn utc_format() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(DEFAULT_EPOCH), "1980-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}

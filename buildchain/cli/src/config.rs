//! Configuration: the repository root, `.env`, then the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};

use crate::version::Version;
use crate::versions::Versions;

/// Everything the tasks need to know about this build.
#[derive(Debug, Clone)]
pub struct Config {
    pub repo_root: PathBuf,
    /// Absolute.
    pub build_root: PathBuf,
    pub project_name: String,
    pub version: Version,
    /// versions.toml with the pins of versions.lock filled in (see `lock/`).
    pub versions: Versions,
    /// versions.toml as written (what the lock is reconciled against).
    pub declared: Versions,
    /// The text of versions.lock this run read or wrote (shipped in the ISO), if any.
    pub lock_text: Option<String>,
    /// `.env` values overridden by the environment.
    pub vars: BTreeMap<String, String>,
    /// The one time every output records (see `epoch.rs`).
    pub epoch: crate::epoch::Epoch,
    pub build_host: String,
    /// `git describe --always --long --tags --dirty`, or empty.
    pub git: String,
    /// The key that signs SHA256SUM, the repositories' metadata and the built RPMs
    /// (`SIGNING_KEY`, unlocked by `SIGNING_KEY_PASSPHRASE`); `None`: nothing is signed.
    pub signing: Option<std::sync::Arc<buildchain_sign::SigningKey>>,
    /// The earlier release a delta is written from (`--delta-from`, else `DELTA_FROM`,
    /// relative to the repository); `None`: no delta.
    pub delta_from: Option<PathBuf>,
    /// The shared build cache of this run (`--cache`, `BUILDCHAIN_CACHE`).
    pub cache: Option<std::sync::Arc<buildchain_cache::OciCache>>,
}

/// The closest directory at or above `start` holding `VERSION` and `versions.toml`.
pub fn find_repo_root(start: &Path) -> Result<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join("VERSION").is_file() && d.join("versions.toml").is_file() {
            return Ok(d.to_path_buf());
        }
        dir = d.parent();
    }
    bail!(
        "no repository found: neither {} nor any parent directory holds both VERSION and versions.toml",
        start.display()
    )
}

/// Parses a `.env` file: `KEY=value` or `export KEY=value` lines, `#` comments, values
/// optionally quoted; `$VAR` / `${VAR}` are expanded (outside single quotes) from earlier
/// keys and the environment.
pub fn parse_dotenv(
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {}: expected KEY=value, found {raw:?}", n + 1);
        };
        let key = key.trim();
        if key.is_empty()
            || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || key.as_bytes()[0].is_ascii_digit()
        {
            bail!("line {}: {key:?} is not a valid variable name", n + 1);
        }
        let value = value.trim();
        let lookup = |name: &str| {
            out.get(name)
                .or_else(|| env.get(name))
                .cloned()
                .unwrap_or_default()
        };
        let value = if let Some(inner) = value.strip_prefix('\'') {
            let Some(inner) = inner.strip_suffix('\'') else {
                bail!("line {}: unterminated single quote", n + 1);
            };
            inner.to_string()
        } else if let Some(inner) = value.strip_prefix('"') {
            let Some(inner) = inner.strip_suffix('"') else {
                bail!("line {}: unterminated double quote", n + 1);
            };
            expand(inner, &lookup)
        } else {
            // Unquoted: a trailing ` # comment` is dropped.
            let v = value.split(" #").next().unwrap_or("").trim_end();
            expand(v, &lookup)
        };
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn expand(s: &str, lookup: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                name.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
        }
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(&lookup(&name));
        }
    }
    out
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn git_describe(git: &str, repo: &Path) -> String {
    Command::new(git)
        .args(["describe", "--always", "--long", "--tags", "--dirty"])
        .current_dir(repo)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Config {
    /// Loads the configuration of the repository at `repo_root`; `build_root` (the
    /// command-line option) wins over `BUILD_ROOT`.
    pub fn load(repo_root: &Path, build_root: Option<&Path>) -> Result<Config> {
        // Variables whose name or value is not UTF-8 are not ours: left out, never a panic.
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let dotenv_path = repo_root.join(".env");
        let mut vars = match std::fs::read_to_string(&dotenv_path) {
            Ok(text) => parse_dotenv(&text, &env)
                .with_context(|| format!("{}: malformed", dotenv_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("{}: cannot read", dotenv_path.display()))
            }
        };
        vars.extend(env);
        let get = |k: &str, default: &str| {
            vars.get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        let project_name = get("PROJECT_NAME", "MetalK8s");
        if project_name.is_empty()
            || !project_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            bail!("PROJECT_NAME {project_name:?}: letters, digits, '-', '_' and '.' only");
        }
        // `--build-root` is relative to the current directory, `BUILD_ROOT` to the repository.
        let build_root = match build_root {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            Some(p) => std::env::current_dir()
                .context("cannot read the current directory")?
                .join(p),
            None => repo_root.join(get("BUILD_ROOT", "_build")),
        };
        // One spelling of the build root: paths of outputs compare and key consistently.
        let build_root = crate::buildroot::normalize(&build_root)?;
        let git_bin = get("GIT_BIN", "git");
        // The two git commands run while the files are read: they cost more than the rest
        // of a no-op's configuration.
        let (git, epoch, version, versions) = std::thread::scope(|scope| {
            let describe = scope.spawn(|| git_describe(&git_bin, repo_root));
            let epoch = scope.spawn(|| {
                crate::epoch::resolve(
                    vars.get("SOURCE_DATE_EPOCH").map(String::as_str),
                    Some(repo_root),
                    &git_bin,
                )
            });
            let version = Version::load(&repo_root.join("VERSION"));
            let versions = Versions::load(&repo_root.join("versions.toml"));
            (describe.join(), epoch.join(), version, versions)
        });
        let version = version?;
        let versions = versions?;
        let git = git.unwrap_or_default();
        let epoch = epoch.map_err(|_| anyhow::anyhow!("resolving SOURCE_DATE_EPOCH failed"))??;
        let build_host = get("BUILD_HOST", &host_name());
        let signing = match vars.get("SIGNING_KEY").filter(|k| !k.is_empty()) {
            None => None,
            Some(key) => {
                let path = repo_root.join(key);
                let passphrase = vars
                    .get("SIGNING_KEY_PASSPHRASE")
                    .map(String::as_str)
                    .filter(|p| !p.is_empty());
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let key = buildchain_sign::SigningKey::load(&path, passphrase, now)
                    .context("SIGNING_KEY: nothing is built unsigned when a key is given")?;
                Some(std::sync::Arc::new(key))
            }
        };
        let delta_from = vars
            .get("DELTA_FROM")
            .filter(|v| !v.is_empty())
            .map(|v| repo_root.join(v));
        Ok(Config {
            repo_root: repo_root.to_path_buf(),
            build_root,
            project_name,
            version,
            declared: versions.clone(),
            versions,
            lock_text: None,
            vars,
            epoch,
            build_host,
            git,
            signing,
            delta_from,
            cache: None,
        })
    }

    /// The fingerprint of the signing key, `none` without one (part of the definition of
    /// the tasks that sign: a new key signs again).
    pub fn signed_by(&self) -> String {
        self.signing
            .as_ref()
            .map_or_else(|| "none".to_string(), |k| k.fingerprint().to_string())
    }

    /// A configuration value, or `default`.
    pub fn var(&self, key: &str, default: &str) -> String {
        self.vars
            .get(key)
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// The program to run for `name` (`VAGRANT_BIN` for `vagrant`…).
    pub fn bin(&self, name: &str) -> String {
        let key = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
        self.var(&key, name)
    }

    /// `$BUILD_ROOT/root`: the ISO tree.
    pub fn iso_root(&self) -> PathBuf {
        self.build_root.join("root")
    }

    pub fn iso_name(&self) -> String {
        format!("{}.iso", self.project_name.to_lowercase())
    }

    pub fn iso_path(&self) -> PathBuf {
        self.build_root.join(self.iso_name())
    }

    /// `metalk8s-<version>`: mount point name, Salt environment, registry prefix.
    pub fn product_id(&self) -> String {
        format!(
            "{}-{}",
            self.project_name.to_lowercase(),
            self.version.full()
        )
    }

    pub fn volume_id(&self) -> String {
        format!("{} {}", self.project_name, self.version.full())
    }

    pub fn repo(&self, rel: &str) -> PathBuf {
        self.repo_root.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv() {
        let env = BTreeMap::from([("HOME".to_string(), "/root".to_string())]);
        let text = "# comment\nexport PROJECT_NAME=Foo\nVAGRANT_PROVIDER=libvirt\n\
                    VAGRANT_UP_ARGS=\"--provider $VAGRANT_PROVIDER --parallel\"\n\
                    LIT='$HOME x'\nX=${HOME}/y # note\n";
        let vars = parse_dotenv(text, &env).unwrap();
        assert_eq!(vars["PROJECT_NAME"], "Foo");
        assert_eq!(vars["VAGRANT_UP_ARGS"], "--provider libvirt --parallel");
        assert_eq!(vars["LIT"], "$HOME x");
        assert_eq!(vars["X"], "/root/y");
        for (bad, want) in [
            ("JUSTTEXT\n", "line 1: expected KEY=value"),
            ("A=1\n1BAD=2\n", "line 2"),
            ("A=\"open\n", "unterminated double quote"),
        ] {
            let err = parse_dotenv(bad, &env).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn repo_root_is_found_upwards() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("VERSION"), "").unwrap();
        std::fs::write(dir.path().join("versions.toml"), "").unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_repo_root(&deep).unwrap(), dir.path());
        std::fs::remove_file(dir.path().join("versions.toml")).unwrap();
        assert!(find_repo_root(&deep).is_err());
    }
}

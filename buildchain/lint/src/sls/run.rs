//! Running `salt-call --local --out=json` and reading its answer.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::LintError;

pub(super) const TOOL: &str = "salt-call";
/// Where callers let users point at another salt-call.
pub const ENV_VAR: &str = "SALT_CALL_BIN";
/// The longest a `salt-call` may take (a state's Jinja can run commands): then it is
/// killed and the lint fails saying so.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// One masterless Salt: its program, configuration and environment.
pub(super) struct Salt<'a> {
    bin: &'a Path,
    config_dir: &'a Path,
    saltenv: &'a str,
}

impl<'a> Salt<'a> {
    pub(super) fn new(bin: &'a Path, config_dir: &'a Path, saltenv: &'a str) -> Self {
        Salt {
            bin,
            config_dir,
            saltenv,
        }
    }

    /// The rendered states (highstate data: ID → module → arguments and function), or the
    /// list of render errors (Salt then exits 1).
    pub(super) fn show_sls(&self, names: &[&str]) -> Result<serde_json::Value, LintError> {
        if names.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        let names = names.join(",");
        self.call_accepting(
            &[
                "state.show_sls",
                &names,
                &format!("saltenv={}", self.saltenv),
                &format!("pillarenv={}", self.saltenv),
            ],
            "quiet",
            &|status, value| status == Some(0) || (status == Some(1) && value.is_array()),
        )
        .map(|(value, _)| value)
    }

    /// The pillar (with `_errors` when a pillar file does not render: each error gets the
    /// reason Salt logs apart, "see master log").
    pub(super) fn pillar_items(&self) -> Result<serde_json::Value, LintError> {
        let (mut pillar, log) = self.call_logging(
            &[
                "pillar.items",
                &format!("saltenv={}", self.saltenv),
                &format!("pillarenv={}", self.saltenv),
            ],
            "error",
        )?;
        if let Some(errors) = pillar.get_mut("_errors").and_then(|e| e.as_array_mut()) {
            for error in errors {
                if let Some(text) = error.as_str() {
                    *error = serde_json::Value::String(with_logged_reason(text, &log));
                }
            }
        }
        Ok(pillar)
    }

    /// The files of the environment (what `salt://` sources may name): never empty.
    pub(super) fn list_files(&self) -> Result<serde_json::Value, LintError> {
        let files = self.call(&["cp.list_master", &format!("saltenv={}", self.saltenv)])?;
        self.non_empty(files, "cp.list_master", "no file in the Salt environment")
    }

    /// Every state function and its signature (`args`, `kwargs`…): never empty.
    pub(super) fn state_argspecs(&self) -> Result<serde_json::Value, LintError> {
        let specs = self.call(&["sys.state_argspec", "*"])?;
        self.non_empty(specs, "sys.state_argspec", "no state function")
    }

    /// `value`, unless it is empty: a salt-call that answers nothing is not a working Salt.
    fn non_empty(
        &self,
        value: serde_json::Value,
        call: &str,
        what: &str,
    ) -> Result<serde_json::Value, LintError> {
        let empty = match &value {
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o.is_empty(),
            _ => true,
        };
        if empty {
            return Err(LintError::ToolFailed {
                tool: TOOL,
                status: format!("{} ({call})", self.bin.display()),
                output: format!("{what}: not a working Salt"),
            });
        }
        Ok(value)
    }

    /// `salt-call --local --config-dir=… --out=json ARGS`: the value under `local`. A
    /// failing call that still answers (render errors) gives its answer.
    fn call(&self, args: &[&str]) -> Result<serde_json::Value, LintError> {
        self.call_logging(args, "quiet").map(|(value, _)| value)
    }

    /// [`Salt::call`], with Salt's log at `level` on stderr, returned.
    fn call_logging(
        &self,
        args: &[&str],
        level: &str,
    ) -> Result<(serde_json::Value, String), LintError> {
        self.call_accepting(args, level, &|status, _| status == Some(0))
    }

    /// Runs salt-call (in the configuration directory: what a state's Jinja writes in its
    /// working directory stays there; killed after [`TIME_LIMIT`]); its answer under
    /// `local` and its stderr, when `accept(exit code, answer)` says the call worked.
    fn call_accepting(
        &self,
        args: &[&str],
        level: &str,
        accept: &dyn Fn(Option<i32>, &serde_json::Value) -> bool,
    ) -> Result<(serde_json::Value, String), LintError> {
        let mut child = Command::new(self.bin)
            .arg("--local")
            .arg(format!("--config-dir={}", self.config_dir.display()))
            .arg("--out=json")
            .arg(format!("--log-level={level}"))
            .args(args)
            .env("PYTHONWARNINGS", "ignore")
            .current_dir(self.config_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| LintError::ToolMissing {
                tool: TOOL,
                env_var: ENV_VAR,
                bin: self.bin.to_path_buf(),
                source,
            })?;
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = drain(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = drain(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if started.elapsed() > TIME_LIMIT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break None,
            }
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        let described = match status {
            Some(status) => format!("{status} ({})", args.join(" ")),
            None => format!(
                "killed after {} s ({})",
                TIME_LIMIT.as_secs(),
                args.join(" ")
            ),
        };
        let failed = || LintError::ToolFailed {
            tool: TOOL,
            status: described.clone(),
            output: tail(&stderr, &stdout),
        };
        let status = status.ok_or_else(failed)?;
        let value: serde_json::Value = serde_json::from_slice(&stdout).map_err(|_| failed())?;
        let value = value.get("local").cloned().ok_or_else(failed)?;
        if !accept(status.code(), &value) {
            return Err(failed());
        }
        Ok((value, String::from_utf8_lossy(&stderr).into_owned()))
    }
}

/// `Rendering SLS 'x' failed. Please see master log for details.` with the reason the log
/// gives (the line after `Rendering SLS 'x' failed, render error:`).
fn with_logged_reason(error: &str, log: &str) -> String {
    let Some(start) = error.find("SLS '").map(|i| i + 5) else {
        return error.to_string();
    };
    let Some(sls) = error[start..].split('\'').next() else {
        return error.to_string();
    };
    let marker = format!("Rendering SLS '{sls}' failed, render error:");
    let reason = log
        .lines()
        .skip_while(|l| !l.contains(&marker))
        .nth(1)
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match reason {
        Some(reason) => format!("Rendering SLS '{sls}' failed: {reason}"),
        None => error.to_string(),
    }
}

/// The end of what a failed call printed (its error is last): stderr, then stdout.
fn tail(stderr: &[u8], stdout: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stderr),
        String::from_utf8_lossy(stdout)
    );
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.trim().is_empty() {
        "(it printed nothing)".to_string()
    } else {
        tail
    }
}

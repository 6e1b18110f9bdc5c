//! Salt states and pillar, checked by real Salt: `salt-call --local` renders them in the
//! Salt environment a node uses (its minion configuration is the caller's: file roots,
//! pillar roots, grains), and the rendered states are checked against what that Salt
//! knows of its state functions.
//!
//! Salt itself renders (Jinja, YAML, includes, the pillar) and gives the signature of every
//! state function and the files of the environment; the checks Salt only makes when a
//! state runs for real are made here, on the rendered data, without running anything:
//! - `salt-render`, `salt-pillar`: a state or pillar file that does not render (Salt's
//!   message, at the line it gives);
//! - `salt-function`: a state function Salt does not have (`file.manage`);
//! - `salt-argument`: an argument the function does not take: always when it takes no
//!   `**kwargs`, else when it is a near miss of one it takes (`sourc` for `source`): Salt
//!   passes unknown keywords through silently;
//! - `salt-requisite`: a `require`/`watch`/`onchanges`… (or `_in`) naming no state of the
//!   rendered states (by ID or name), or no SLS;
//! - `salt-source`: a `salt://` source missing from the environment.

mod checks;
mod lines;
mod run;

use std::path::{Path, PathBuf};

use crate::{Finding, LintError};

pub use run::ENV_VAR;

/// A state or pillar file: its SLS name, and the file findings about it name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlsSource {
    /// `metalk8s.repo` for `metalk8s/repo/init.sls`.
    pub sls: String,
    /// The file reported (the source, e.g. `salt/metalk8s/repo/init.sls`).
    pub path: PathBuf,
    /// Its text, to find the lines of IDs and arguments.
    pub text: String,
}

/// What to check, and with which Salt.
#[derive(Debug, Clone)]
pub struct SaltEnvironment {
    /// `salt-call`.
    pub salt_call: PathBuf,
    /// Minion configuration directories (`--config-dir`), one per role the grains give
    /// (their file and pillar roots define `saltenv`): the states render with the first,
    /// the pillar with each (its top file picks files by role).
    pub config_dirs: Vec<PathBuf>,
    /// The Salt environment (and pillar environment) the states render in.
    pub saltenv: String,
    pub states: Vec<SlsSource>,
    pub pillar: Vec<SlsSource>,
}

/// Renders and checks every state and the pillar of `env`. The `salt-call`s run in two
/// rounds (Salt creates its cache directories on first use: calls sharing a configuration
/// must not race to make them): the files, and the pillar of every other role; then the
/// states, the state functions and the pillar of the first role. A missing or failing Salt
/// is an error, never a pass.
pub fn lint(env: &SaltEnvironment) -> Result<Vec<Finding>, LintError> {
    let Some((first, others)) = env.config_dirs.split_first() else {
        return Ok(Vec::new());
    };
    let salt = run::Salt::new(&env.salt_call, first, &env.saltenv);
    let names: Vec<&str> = env.states.iter().map(|s| s.sls.as_str()).collect();
    let (files, mut pillars) = std::thread::scope(|scope| {
        let pillars: Vec<_> = others
            .iter()
            .map(|dir| {
                scope
                    .spawn(move || run::Salt::new(&env.salt_call, dir, &env.saltenv).pillar_items())
            })
            .collect();
        let files = salt.list_files();
        (files, pillars.into_iter().map(joined).collect::<Vec<_>>())
    });
    let (states, argspecs, pillar) = std::thread::scope(|scope| {
        let states = scope.spawn(|| salt.show_sls(&names));
        let argspecs = scope.spawn(|| salt.state_argspecs());
        let pillar = salt.pillar_items();
        (joined(states), joined(argspecs), pillar)
    });
    pillars.insert(0, pillar);
    let sources = Sources {
        states: &env.states,
        pillar: &env.pillar,
    };
    // The pillar first: a pillar that does not render fails every state's rendering too.
    let mut findings = Vec::new();
    for pillar in pillars {
        if let Some(errors) = pillar?.get("_errors").and_then(|e| e.as_array()) {
            findings.extend(
                errors
                    .iter()
                    .map(|e| sources.render_error(e, "salt-pillar")),
            );
        }
    }
    if !findings.is_empty() {
        return Ok(findings);
    }
    let (states, files, argspecs) = (states?, files?, argspecs?);
    match &states {
        serde_json::Value::Array(errors) => findings.extend(
            errors
                .iter()
                .map(|e| sources.render_error(e, "salt-render")),
        ),
        serde_json::Value::Object(highstate) => findings.extend(checks::check(
            highstate,
            &checks::Known::new(&argspecs, &files, &names),
            &sources,
            &env.saltenv,
        )),
        other => {
            return Err(LintError::ToolFailed {
                tool: run::TOOL,
                status: "unexpected output".into(),
                output: format!("state.show_sls gave {other}"),
            })
        }
    }
    Ok(findings)
}

/// A salt-call thread's result (a thread that panicked is a failed call).
fn joined(
    handle: std::thread::ScopedJoinHandle<'_, Result<serde_json::Value, LintError>>,
) -> Result<serde_json::Value, LintError> {
    handle.join().unwrap_or_else(|_| {
        Err(LintError::ToolFailed {
            tool: run::TOOL,
            status: "stopped".into(),
            output: "a salt-call thread stopped unexpectedly".into(),
        })
    })
}

/// The files findings are reported against.
struct Sources<'a> {
    states: &'a [SlsSource],
    pillar: &'a [SlsSource],
}

impl Sources<'_> {
    fn state(&self, sls: &str) -> Option<&SlsSource> {
        self.states.iter().find(|s| s.sls == sls)
    }

    /// A finding for one of Salt's render errors: at the file of the SLS it names (the
    /// pillar's for `salt-pillar`), at the line it gives.
    fn render_error(&self, error: &serde_json::Value, rule: &str) -> Finding {
        let text = match error {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (sls, line, message) = lines::parse_render_error(&text);
        let message = lines::capped(&message);
        let pool = if rule == "salt-pillar" {
            self.pillar
        } else {
            self.states
        };
        let path = sls
            .as_deref()
            .and_then(|sls| pool.iter().find(|s| s.sls == sls))
            .map(|s| s.path.clone())
            .or_else(|| pool.first().map(|s| fallback_dir(&s.path)))
            .unwrap_or_default();
        Finding::new(path, line, None, rule, message)
    }
}

/// Where a finding about an unknown SLS goes: the directory of the tree.
fn fallback_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

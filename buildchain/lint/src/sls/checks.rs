//! The checks Salt makes only when a state runs, made on the rendered states: functions,
//! arguments, requisites and `salt://` sources.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::lines::{argument_line, line_after, IdLines};
use super::Sources;
use crate::Finding;

/// Keywords every state takes besides its function's arguments (Salt 3007's
/// `STATE_INTERNAL_KEYWORDS`, plus `name` and `names`).
const GLOBAL_KEYWORDS: &[&str] = &[
    "name",
    "names",
    "fun",
    "state",
    "check_cmd",
    "cmd_opts_exclude",
    "failhard",
    "onlyif",
    "unless",
    "creates",
    "retry",
    "order",
    "parallel",
    "prerequired",
    "reload_modules",
    "reload_grains",
    "reload_pillar",
    "runas",
    "runas_password",
    "fire_event",
    "saltenv",
    "umask",
    "onfail_stop",
];

/// Requisites: their value lists states (`- module: ID or name`, or `- sls: name`).
const REQUISITES: &[&str] = &[
    "require",
    "require_any",
    "require_in",
    "watch",
    "watch_any",
    "watch_in",
    "onchanges",
    "onchanges_any",
    "onchanges_in",
    "onfail",
    "onfail_any",
    "onfail_all",
    "onfail_in",
    "prereq",
    "prereq_in",
    "listen",
    "listen_in",
    "use",
    "use_in",
];

/// What the environment's Salt knows: its state functions, its files, the SLS checked.
pub(super) struct Known<'a> {
    argspecs: Option<&'a Map<String, Value>>,
    files: HashSet<&'a str>,
    sls: HashSet<&'a str>,
}

impl<'a> Known<'a> {
    pub(super) fn new(argspecs: &'a Value, files: &'a Value, sls: &[&'a str]) -> Self {
        Known {
            argspecs: argspecs.as_object(),
            files: files
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            sls: sls.iter().copied().collect(),
        }
    }
}

/// One state of the rendered data: an ID's module, function and arguments (or what an
/// `extend:` adds to one).
struct State<'a> {
    id: &'a str,
    sls: &'a str,
    module: &'a str,
    function: Option<&'a str>,
    args: Vec<(&'a str, &'a Value)>,
    /// An `extend:` of the state `id` (its function is the extended state's).
    extends: bool,
}

impl<'a> State<'a> {
    /// The names it answers to in requisites: its ID, its `name`, its `names`.
    fn names(&self) -> Vec<&'a str> {
        let mut names = vec![self.id];
        for (key, value) in &self.args {
            match (*key, value) {
                ("name", Value::String(name)) => names.push(name),
                ("names", Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::String(name) => names.push(name),
                            Value::Object(map) => names.extend(map.keys().map(String::as_str)),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        names
    }
}

/// The states of highstate data (`ID → {module: [args…, "function"], __sls__}`), then
/// the `extend:`s (`__extend__: [{ID: {module: [args…], __sls__}}]`).
fn states(highstate: &Map<String, Value>) -> Vec<State<'_>> {
    let mut out = Vec::new();
    let extends = highstate
        .get("__extend__")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.iter().map(|(id, body)| (id, body, true)));
    let declared = highstate
        .iter()
        .filter(|(id, _)| !id.starts_with("__"))
        .map(|(id, body)| (id, body, false));
    for (id, body, extends) in declared.chain(extends) {
        let Some(body) = body.as_object() else {
            continue;
        };
        let sls = body.get("__sls__").and_then(Value::as_str).unwrap_or("");
        for (module, items) in body {
            if module.starts_with("__") {
                continue;
            }
            let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
            let function = items.iter().find_map(Value::as_str);
            let args = items
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
                .collect();
            out.push(State {
                id,
                sls,
                module,
                function,
                args,
                extends,
            });
        }
    }
    out
}

/// The findings of the rendered `highstate`, at the lines of their files.
pub(super) fn check(
    highstate: &Map<String, Value>,
    known: &Known,
    sources: &Sources,
    saltenv: &str,
) -> Vec<Finding> {
    let states = states(highstate);
    let targets: HashSet<(&str, &str)> = states
        .iter()
        .filter(|s| !s.extends)
        .flat_map(|s| s.names().into_iter().map(move |n| (s.module, n)))
        .collect();
    // The function of each declared state, for what an `extend:` adds to it.
    let functions: std::collections::HashMap<(&str, &str), &str> = states
        .iter()
        .filter(|s| !s.extends)
        .filter_map(|s| Some(((s.id, s.module), s.function?)))
        .collect();
    let mut id_lines: std::collections::HashMap<&str, IdLines> = Default::default();
    let mut findings = Vec::new();
    for state in &states {
        let source = sources.state(state.sls);
        let text = source.map_or("", |s| s.text.as_str());
        let lines = id_lines
            .entry(state.sls)
            .or_insert_with(|| IdLines::new(text));
        let at = match state.extends {
            // The extended ID is written under `extend:`.
            true => line_after(text, lines.get("extend"), state.id),
            false => lines.get(state.id),
        };
        let mut finding = |line: usize, rule: &str, message: String| {
            let path = source.map(|s| s.path.clone()).unwrap_or_default();
            findings.push(Finding::new(
                path,
                line,
                None,
                rule,
                format!("{} ({}): {message}", state.id, state.module),
            ));
        };
        let declared = functions.get(&(state.id, state.module)).copied();
        let function_name = if state.extends {
            declared
        } else {
            state.function
        };
        let function = format!("{}.{}", state.module, function_name.unwrap_or(""));
        let spec = known.argspecs.and_then(|a| a.get(&function));
        match (state.extends, function_name, spec) {
            (true, None, _) => finding(
                at,
                "salt-requisite",
                format!(
                    "extend names {} state {:?}, which no rendered state is",
                    state.module, state.id
                ),
            ),
            (false, None, _) => finding(at, "salt-function", "no state function given".into()),
            (_, Some(_), None) if known.argspecs.is_some() => finding(
                at,
                "salt-function",
                format!("state function {function} does not exist"),
            ),
            _ => {}
        }
        for (arg, value) in &state.args {
            let line = || argument_line(text, at, arg);
            if let Some(problem) = spec.and_then(|s| unknown_argument(s, arg)) {
                finding(line(), "salt-argument", format!("{function}: {problem}"));
            }
            if REQUISITES.contains(arg) {
                for (module, target) in requisite_targets(value) {
                    let exists = match module {
                        Some("sls") => known.sls.contains(target),
                        Some(module) => targets.contains(&(module, target)),
                        None => targets.iter().any(|(_, name)| *name == target),
                    };
                    if !exists && !target.contains(['*', '?']) {
                        let what = match module {
                            Some("sls") => format!("SLS {target}"),
                            Some(module) => format!("{module} state {target:?}"),
                            None => format!("state {target:?}"),
                        };
                        finding(
                            line_after(text, at, target),
                            "salt-requisite",
                            format!("{arg} names {what}, which no rendered state is"),
                        );
                    }
                }
            }
            if *arg == "source" {
                let directory = function == "file.recurse";
                if let Some(missing) = missing_source(value, &known.files, directory) {
                    finding(
                        line_after(text, at, missing),
                        "salt-source",
                        format!("source {missing} is not in the Salt environment {saltenv}"),
                    );
                }
            }
        }
    }
    findings
}

/// Why `arg` is not an argument of the function of `spec`, if it is not. A near miss of
/// one of its arguments or of Salt's own keywords (`requires` for `require`) is one even
/// for a function that takes `**kwargs` (Salt passes it through, and ignores it).
fn unknown_argument(spec: &Value, arg: &str) -> Option<String> {
    if GLOBAL_KEYWORDS.contains(&arg) || REQUISITES.contains(&arg) || arg.starts_with("__") {
        return None;
    }
    let args: Vec<&str> = spec
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if args.contains(&arg) {
        return None;
    }
    let nearest = args
        .iter()
        .chain(GLOBAL_KEYWORDS)
        .chain(REQUISITES)
        .map(|a| (strsim::damerau_levenshtein(a, arg), *a))
        .min()
        .filter(|(distance, a)| {
            *distance <= 1 || (*distance <= 2 && a.len() >= 6 && arg.len() >= 6)
        });
    let takes_any = spec
        .get("kwargs")
        .is_some_and(|k| k.as_bool() == Some(true));
    match (nearest, takes_any) {
        (Some((_, near)), _) => Some(format!("unknown argument '{arg}' (did you mean '{near}'?)")),
        (None, false) => Some(format!(
            "unknown argument '{arg}' (it takes: {})",
            args.join(", ")
        )),
        // Passed through to the function's **kwargs, as Salt allows.
        (None, true) => None,
    }
}

/// The states a requisite's value names: `(module or None for a bare ID, target)`.
fn requisite_targets(value: &Value) -> Vec<(Option<&str>, &str)> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(target) => out.push((None, target.as_str())),
            Value::Object(map) => {
                for (module, target) in map {
                    if let Some(target) = target.as_str() {
                        out.push((Some(module.as_str()), target));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The `salt://` source of `value` that is missing when none of its alternatives exists
/// (a list is tried in order, the first existing wins).
fn missing_source<'a>(value: &'a Value, files: &HashSet<&str>, directory: bool) -> Option<&'a str> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    let candidates: Vec<&str> = items
        .iter()
        .flat_map(|item| match item {
            Value::String(s) => vec![s.as_str()],
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => vec![],
        })
        .collect();
    let mut first_missing = None;
    for candidate in candidates {
        let Some(path) = candidate.strip_prefix("salt://") else {
            return None; // Not a file of the environment: not ours to check.
        };
        let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        let exists = if directory {
            let prefix = format!("{path}/");
            files.iter().any(|f| f.starts_with(&prefix))
        } else {
            files.contains(path)
        };
        if exists {
            return None;
        }
        first_missing.get_or_insert(candidate);
    }
    first_missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn near_misses_and_strict_signatures() {
        let managed = json!({"args": ["name", "source", "template"], "kwargs": true});
        assert_eq!(
            unknown_argument(&managed, "sourc").as_deref(),
            Some("unknown argument 'sourc' (did you mean 'source'?)")
        );
        assert_eq!(unknown_argument(&managed, "enablerepo"), None);
        assert_eq!(unknown_argument(&managed, "require"), None);
        assert_eq!(
            unknown_argument(&managed, "requires").as_deref(),
            Some("unknown argument 'requires' (did you mean 'require'?)")
        );
        assert!(unknown_argument(&managed, "onlyfi").is_some_and(|m| m.contains("'onlyif'")));
        let touch = json!({"args": ["name", "atime", "mtime"], "kwargs": null});
        assert!(unknown_argument(&touch, "color")
            .is_some_and(|m| m.contains("it takes: name, atime, mtime")));
    }

    #[test]
    fn sources_are_looked_up_in_the_environment() {
        let files: HashSet<&str> = ["a/b.conf", "dir/x"].into_iter().collect();
        let one = json!("salt://a/b.conf");
        assert_eq!(missing_source(&one, &files, false), None);
        let alternatives = json!(["salt://nope", "salt://a/b.conf?saltenv=x"]);
        assert_eq!(missing_source(&alternatives, &files, false), None);
        let none = json!(["salt://nope", "salt://gone"]);
        assert_eq!(missing_source(&none, &files, false), Some("salt://nope"));
        assert_eq!(missing_source(&json!("salt://dir/"), &files, true), None);
        assert_eq!(missing_source(&json!("https://x/y"), &files, false), None);
    }
}

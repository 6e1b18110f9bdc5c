//! Salt state lint, native: every state (and pillar) file renders as Jinja with MiniJinja,
//! against stand-in grains, pillar and `salt` functions, and the result parses as YAML to
//! a mapping with no duplicated key.
//!
//! A Salt state only fails at rendering when its Jinja is broken (syntax, a filter or macro
//! that does not exist, a missing imported file); undefined variables are tolerated (they
//! render empty), as the real values only exist on a minion.

mod context;
mod filters;
mod lines;
mod salt;
mod tags;
mod value;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

pub use context::SlsContext;

use crate::finding::read_text;
use crate::yaml::tree::{parse_documents, Node, NodeKind};
use crate::yaml::{duplicate_findings, syntax_finding};
use crate::{Finding, LintError};

/// Lints one state or pillar file.
pub fn lint_file(path: &Path, context: &SlsContext) -> Result<Vec<Finding>, LintError> {
    let source = read_text(path)?;
    Ok(lint_str(path, &source, context))
}

/// Lints each file in turn.
pub fn lint_files<P: AsRef<Path>>(
    paths: &[P],
    context: &SlsContext,
) -> Result<Vec<Finding>, LintError> {
    let mut findings = Vec::new();
    for path in paths {
        findings.extend(lint_file(path.as_ref(), context)?);
    }
    Ok(findings)
}

/// Lints `source` as the state at `path` (e.g. the rendering of a `.sls.in` template;
/// `path` names the file in findings and places it in the salt or pillar tree).
pub fn lint_str(path: &Path, source: &str, context: &SlsContext) -> Vec<Finding> {
    let renderers = Renderers::of(source);
    if !renderers.yaml {
        return Vec::new();
    }
    if !renderers.jinja {
        return check_rendered(path, source, None);
    }
    let rendered = match render_str(path, source, context) {
        Ok(rendered) => rendered,
        Err(finding) => return vec![*finding],
    };
    let findings = check_rendered(path, &rendered, Some(&|_| None));
    if findings.is_empty() {
        return findings;
    }
    // Place the findings at source lines: render again with line markers.
    let source_lines = render_str(path, &lines::mark(source), context)
        .map(|marked| lines::source_lines(&marked))
        .unwrap_or_default();
    check_rendered(
        path,
        &rendered,
        Some(&|line| source_lines.get(line.checked_sub(1)?).copied().flatten()),
    )
}

/// Renders `source` (the state at `path`) as Salt would with Jinja; a broken template is a
/// finding naming the file and line of the error (an imported file's, when it is there).
pub fn render_str(path: &Path, source: &str, context: &SlsContext) -> Result<String, Box<Finding>> {
    let root = context.root_of(path);
    let name = template_name(path, &root);
    let env = environment(&root, context);
    let globals = context.globals(&name, &root);
    let result = env
        .template_from_named_str(&name, &tags::rewrite(source))
        .and_then(|template| template.render(globals));
    result.map_err(|error| Box::new(error_finding(path, &name, &root, &error)))
}

/// The renderer pipeline of a state (`#!jinja|yaml` first line; Salt's default otherwise).
struct Renderers {
    jinja: bool,
    yaml: bool,
}

impl Renderers {
    fn of(source: &str) -> Renderers {
        match source.strip_prefix("#!") {
            Some(rest) => {
                let line = rest.lines().next().unwrap_or_default();
                let names: Vec<&str> = line.split('|').map(str::trim).collect();
                Renderers {
                    jinja: names.contains(&"jinja"),
                    yaml: names.contains(&"yaml") || names.contains(&"yamlex"),
                }
            }
            None => Renderers {
                jinja: true,
                yaml: true,
            },
        }
    }
}

/// The rendered text must be YAML, without duplicated keys, whose documents are mappings.
/// For a Jinja rendering, `source_line` maps a rendered line to its source line, when
/// known: findings are placed there and name the rendered line in their message; otherwise
/// they stay at the rendered line. `None`: the text was not rendered.
fn check_rendered(
    path: &Path,
    rendered: &str,
    source_line: Option<&dyn Fn(usize) -> Option<usize>>,
) -> Vec<Finding> {
    let documents = match parse_documents(rendered) {
        Ok(documents) => Ok(documents),
        Err(error) => Err(syntax_finding(path, &error, "")),
    };
    let mut findings = match &documents {
        Ok(documents) => duplicate_findings(path, documents, ""),
        Err(finding) => vec![finding.clone()],
    };
    if let Ok(documents) = &documents {
        findings.extend(
            documents
                .iter()
                .filter_map(|root| not_a_mapping(path, root)),
        );
    }
    let Some(source_line) = source_line else {
        return findings;
    };
    for finding in &mut findings {
        let rendered_line = finding.line;
        finding.message = format!("rendered line {rendered_line}: {}", finding.message);
        if let Some(line) = source_line(rendered_line) {
            finding.line = line;
            finding.column = None;
        }
    }
    findings
}

fn not_a_mapping(path: &Path, root: &Node) -> Option<Finding> {
    let kind = match &root.kind {
        NodeKind::Map { .. } => return None,
        NodeKind::Scalar { value, .. } if value.is_empty() => return None,
        NodeKind::Scalar { .. } | NodeKind::Alias(_) => "a scalar",
        NodeKind::Seq { .. } => "a list",
    };
    Some(Finding::new(
        path,
        root.line,
        None,
        "sls-structure",
        format!("the state renders to {kind}, Salt needs a mapping"),
    ))
}

/// The template name of `path`: relative to `root` when inside it (as Salt names it).
fn template_name(path: &Path, root: &Path) -> String {
    let relative = context::relative_to(path, root).unwrap_or_else(|| path.to_path_buf());
    let name = relative.to_string_lossy().replace('\\', "/");
    name.trim_start_matches("./").to_string()
}

fn environment(root: &Path, context: &SlsContext) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let files = Arc::new(Files {
        root: root.to_path_buf(),
        generated: context.generated_files.clone(),
    });
    let loader_files = files.clone();
    env.set_loader(move |name| loader_files.template(name));
    env.set_path_join_callback(|name, parent| join_template_path(name, parent).into());
    env.set_unknown_method_callback(methods::call);
    filters::register(&mut env);
    for (function, parse) in [
        ("import_yaml", Parse::Yaml),
        ("import_json", Parse::Json),
        ("import_text", Parse::Text),
    ] {
        let files = files.clone();
        env.add_function(function, move |state: &minijinja::State, file: String| {
            files.import(state.name(), &file, parse)
        });
    }
    env.add_function("raise", |message: Value| -> Result<Value, Error> {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("raise: {message}"),
        ))
    });
    env.add_function("show_full_context", || Value::from(()));
    env
}

#[derive(Clone, Copy)]
enum Parse {
    Yaml,
    Json,
    Text,
}

/// The tree templates and imported files are read from, generated files first.
struct Files {
    root: PathBuf,
    generated: std::collections::BTreeMap<String, String>,
}

impl Files {
    /// The text of `name` (relative to the root); `Ok(None)` when it does not exist or
    /// would leave the tree.
    fn read(&self, name: &str) -> Result<Option<String>, Error> {
        let Some(path) = resolve(&self.root, name) else {
            return Ok(None);
        };
        let relative = path
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if let Some(text) = self.generated.get(&relative) {
            return Ok(Some(text.clone()));
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot read {}: {error}", path.display()),
            )),
        }
    }

    fn template(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.read(name)?.map(|source| tags::rewrite(&source)))
    }

    fn import(&self, current: &str, file: &str, parse: Parse) -> Result<Value, Error> {
        let name = join_template_path(file.trim_start_matches("salt://"), current);
        let text = self.read(&name)?.ok_or_else(|| {
            Error::new(
                ErrorKind::TemplateNotFound,
                format!(
                    "{file}: no such file in the tree at {}",
                    self.root.display()
                ),
            )
        })?;
        match parse {
            Parse::Yaml => filters::load_yaml(Value::from(text)),
            Parse::Json => filters::load_json(Value::from(text)),
            Parse::Text => Ok(Value::from(text)),
        }
    }
}

/// `./x` and `../x` are relative to the including template's directory; other names are
/// relative to the root of the tree.
fn join_template_path(name: &str, parent: &str) -> String {
    if name.starts_with("./") || name.starts_with("../") {
        let directory = parent.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        if directory.is_empty() {
            name.to_string()
        } else {
            format!("{directory}/{name}")
        }
    } else {
        name.to_string()
    }
}

/// `root/name`, normalized; `None` when `name` is absolute or leaves `root`.
fn resolve(root: &Path, name: &str) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let mut path = root.to_path_buf();
    path.extend(parts);
    Some(path)
}

/// A render error as a finding at the file and line where MiniJinja located it.
fn error_finding(path: &Path, name: &str, root: &Path, error: &Error) -> Finding {
    let mut message = error.kind().to_string();
    if let Some(detail) = error.detail() {
        message = format!("{message}: {detail}");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    let (file, line) = match error.name() {
        Some(other) if other != name => (
            resolve(root, other).unwrap_or_else(|| PathBuf::from(other)),
            error.line().unwrap_or(0),
        ),
        _ => (path.to_path_buf(), error.line().unwrap_or(0)),
    };
    if file != path {
        message = format!("{message} (rendering {})", path.display());
    }
    Finding::new(file, line, None, "jinja", message)
}

mod methods {
    //! Python methods on template values: MiniJinja's `pycompat`, plus `dict.get` with
    //! Salt's `a:b:c` traversal, and mutating methods (`append`, `update`…) accepted and
    //! ignored (template values are immutable; a lint needs the rendering, not the data).
    use minijinja::value::{Value, ValueKind};
    use minijinja::{Error, ErrorKind, State};

    use super::salt::{traverse, Args};

    pub(super) fn call(
        state: &mut State,
        value: &Value,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "get" && value.kind() == ValueKind::Map {
            let args = Args::new(args);
            let key = args
                .get(0, "key")
                .map(|k| k.to_string())
                .unwrap_or_default();
            return Ok(traverse(value, &key, ":")
                .or_else(|| args.get(1, "default"))
                .unwrap_or_else(|| Value::from(())));
        }
        match minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args) {
            Err(error) if error.kind() == ErrorKind::UnknownMethod => match method {
                "append" | "extend" | "update" | "insert" | "remove" | "clear" | "sort"
                | "reverse" => Ok(Value::from(())),
                "setdefault" | "pop" => {
                    let args = Args::new(args);
                    let existing = args
                        .get(0, "key")
                        .and_then(|k| value.get_item(&k).ok())
                        .filter(|v| !v.is_undefined());
                    Ok(existing
                        .or_else(|| args.get(1, "default"))
                        .unwrap_or_else(|| Value::from(())))
                }
                _ => Err(error),
            },
            other => other,
        }
    }
}

//! Stand-ins for what Salt puts in a state's Jinja context: the `salt` function dictionary
//! (`salt['pillar.get'](…)`, `salt.grains.get(…)`), and a tolerant stub value returned by
//! every function this module does not know.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, State};

/// The data the stand-in functions read.
#[derive(Debug)]
pub(crate) struct SaltData {
    pub grains: Value,
    pub pillar: Value,
    pub opts: Value,
}

/// `salt`: any `module.function` key gives a callable; `salt.module` gives a module.
#[derive(Debug)]
pub(crate) struct SaltFunctions(pub Arc<SaltData>);

impl Object for SaltFunctions {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        Some(if name.contains('.') {
            Value::from_object(SaltFunction {
                name: name.to_string(),
                data: self.0.clone(),
            })
        } else {
            Value::from_object(SaltModule {
                name: name.to_string(),
                data: self.0.clone(),
            })
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// `salt.module`: attribute access and method calls name functions of the module.
#[derive(Debug)]
struct SaltModule {
    name: String,
    data: Arc<SaltData>,
}

impl Object for SaltModule {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from_object(SaltFunction {
            name: format!("{}.{}", self.name, key.as_str()?),
            data: self.data.clone(),
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        call(&self.data, &format!("{}.{method}", self.name), args)
    }
}

/// One Salt execution-module function.
#[derive(Debug)]
struct SaltFunction {
    name: String,
    data: Arc<SaltData>,
}

impl Object for SaltFunction {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        call(&self.data, &self.name, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<salt function {}>", self.name)
    }
}

/// Arguments split into positional ones and keyword ones.
pub(crate) struct Args {
    positional: Vec<Value>,
    keywords: Option<Value>,
}

impl Args {
    pub(crate) fn new(args: &[Value]) -> Args {
        Args {
            positional: args.iter().filter(|a| !a.is_kwargs()).cloned().collect(),
            keywords: args.iter().find(|a| a.is_kwargs()).cloned(),
        }
    }

    /// The argument at `index`, or the keyword argument `name`.
    pub(crate) fn get(&self, index: usize, name: &str) -> Option<Value> {
        self.positional.get(index).cloned().or_else(|| {
            self.keywords
                .as_ref()
                .and_then(|k| k.get_attr(name).ok())
                .filter(|v| !v.is_undefined())
        })
    }

    pub(crate) fn positional(&self) -> &[Value] {
        &self.positional
    }
}

/// Looks up `key` in `data`, `delimiter`-separated path segments descending into mappings
/// (and lists, by index), as Salt's `traverse_dict_and_list`.
pub(crate) fn traverse(data: &Value, key: &str, delimiter: &str) -> Option<Value> {
    let direct = data
        .get_item(&Value::from(key))
        .ok()
        .filter(|v| !v.is_undefined());
    if direct.is_some() || delimiter.is_empty() || !key.contains(delimiter) {
        return direct;
    }
    let mut current = data.clone();
    for part in key.split(delimiter) {
        current = match current.kind() {
            ValueKind::Map => current.get_item(&Value::from(part)).ok()?,
            ValueKind::Seq => current
                .get_item(&Value::from(part.parse::<i64>().ok()?))
                .ok()?,
            _ => return None,
        };
        if current.is_undefined() {
            return None;
        }
    }
    Some(current)
}

fn lookup(data: &Value, args: &Args) -> Value {
    let key = args
        .get(0, "key")
        .map(|k| k.to_string())
        .unwrap_or_default();
    let delimiter = args
        .get(2, "delimiter")
        .map(|d| d.to_string())
        .unwrap_or_else(|| ":".into());
    traverse(data, &key, &delimiter)
        .or_else(|| args.get(1, "default"))
        .unwrap_or_else(|| Value::from(""))
}

fn call(data: &SaltData, name: &str, args: &[Value]) -> Result<Value, Error> {
    let args = Args::new(args);
    Ok(match name {
        "pillar.get" => lookup(&data.pillar, &args),
        "grains.get" => lookup(&data.grains, &args),
        "config.get" | "config.option" => {
            let key = args
                .get(0, "key")
                .map(|k| k.to_string())
                .unwrap_or_default();
            [&data.opts, &data.pillar, &data.grains]
                .into_iter()
                .find_map(|d| traverse(d, &key, ":"))
                .or_else(|| args.get(1, "default"))
                .unwrap_or_else(|| Value::from(""))
        }
        "pillar.items" | "pillar.raw" | "pillar.data" => data.pillar.clone(),
        "grains.items" => data.grains.clone(),
        "grains.filter_by" => filter_by(data, &args),
        "file.join" => Value::from(join(args.positional())),
        "file.basename" => Value::from(
            first_string(&args)
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
        "file.dirname" => {
            let path = first_string(&args);
            Value::from(
                path.rsplit_once('/')
                    .map(|(d, _)| d)
                    .unwrap_or("")
                    .to_string(),
            )
        }
        "slsutil.merge" | "defaults.merge" => merge(&args),
        "test.true" | "test.ping" => Value::from(true),
        "test.false" => Value::from(false),
        _ => stub(),
    })
}

fn first_string(args: &Args) -> String {
    args.positional()
        .first()
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// `file.join('/a', 'b', 'c')` → `/a/b/c`.
pub(crate) fn join(parts: &[Value]) -> String {
    let mut joined = String::new();
    for part in parts.iter().map(|p| p.to_string()) {
        if part.starts_with('/') || joined.is_empty() {
            joined = part;
        } else {
            if !joined.ends_with('/') {
                joined.push('/');
            }
            joined.push_str(&part);
        }
    }
    joined
}

fn filter_by(data: &SaltData, args: &Args) -> Value {
    let Some(lookup) = args.get(0, "lookup_dict") else {
        return Value::from(());
    };
    let grain = args
        .get(1, "grain")
        .map(|g| g.to_string())
        .unwrap_or_else(|| "os_family".into());
    let default = args
        .get(3, "default")
        .map(|d| d.to_string())
        .unwrap_or_else(|| "default".into());
    let key = traverse(&data.grains, &grain, ":")
        .map(|k| k.to_string())
        .unwrap_or_default();
    let found = [key, default]
        .iter()
        .filter_map(|k| lookup.get_item(&Value::from(k.as_str())).ok())
        .find(|v| !v.is_undefined())
        .unwrap_or_else(|| Value::from(()));
    match args.get(2, "merge") {
        Some(merge) if merge.kind() == ValueKind::Map => merged(&found, &merge),
        _ => found,
    }
}

fn merge(args: &Args) -> Value {
    match (args.get(0, "dest"), args.get(1, "src")) {
        (Some(a), Some(b)) => merged(&a, &b),
        (Some(a), None) => a,
        _ => Value::from(()),
    }
}

/// Recursive merge of two mappings, `upper` winning.
pub(crate) fn merged(lower: &Value, upper: &Value) -> Value {
    if lower.kind() != ValueKind::Map || upper.kind() != ValueKind::Map {
        return upper.clone();
    }
    let mut map: BTreeMap<Value, Value> = BTreeMap::new();
    for source in [lower, upper] {
        if let Ok(keys) = source.try_iter() {
            for key in keys {
                let value = source.get_item(&key).unwrap_or_default();
                let value = match map.get(&key) {
                    Some(existing) => merged(existing, &value),
                    None => value,
                };
                map.insert(key, value);
            }
        }
    }
    Value::from(map)
}

/// The value of a function this module does not know: prints as nothing, iterates as
/// nothing, is false, and every attribute, item, call or method of it is a stub again.
pub(crate) fn stub() -> Value {
    Value::from_object(Stub)
}

/// Whether `value` is a [`stub`].
pub(crate) fn is_stub(value: &Value) -> bool {
    value.downcast_object_ref::<Stub>().is_some()
}

#[derive(Debug)]
struct Stub;

impl Object for Stub {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        Some(stub())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, _args: &[Value]) -> Result<Value, Error> {
        Ok(stub())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        _method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        Ok(stub())
    }

    fn render(self: &Arc<Self>, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

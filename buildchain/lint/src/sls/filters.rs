//! The Jinja filters Salt adds to its environment (`salt/utils/jinja.py` and the
//! `jinja_filter` decorated functions), as far as a lint needs them: the data ones are
//! implemented, the ones that only transform text for the target host pass their input
//! through.

use std::collections::BTreeSet;

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use super::salt::{is_stub, join, traverse, Args};
use super::value::{from_json, from_yaml};
use crate::yaml::tree::parse_documents;

/// Registers Salt's filters on `env`.
pub(crate) fn register(env: &mut Environment<'_>) {
    env.add_filter("yaml", to_yaml_flow);
    env.add_filter("yaml_dump", to_yaml_flow);
    env.add_filter("json", to_json);
    env.add_filter("json_encode", to_json);
    env.add_filter("yaml_encode", to_json);
    env.add_filter("yaml_dquote", |v: Value| {
        to_json(Value::from(v.to_string()))
    });
    env.add_filter("yaml_squote", |v: Value| {
        format!("'{}'", v.to_string().replace('\'', "''"))
    });
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("load_yaml", load_yaml);
    env.add_filter("load_json", load_json);
    env.add_filter("load_text", |v: Value| v.to_string());
    env.add_filter("traverse", traverse_filter);
    env.add_filter("unique", unique);
    env.add_filter("to_bool", to_bool);
    env.add_filter("to_num", to_num);
    env.add_filter("is_list", |v: Value| v.kind() == ValueKind::Seq);
    env.add_filter("sequence", |v: Value| match v.kind() {
        ValueKind::Seq => v,
        _ => Value::from(vec![v]),
    });
    env.add_filter("quote", |v: Value| {
        format!("'{}'", v.to_string().replace('\'', "'\"'\"'"))
    });
    env.add_filter("path_join", |args: &[Value]| join(args));
    env.add_filter("union", |a: Value, b: Value| set_op(&a, &b, |x, y| x || y));
    env.add_filter("intersect", |a: Value, b: Value| {
        set_op(&a, &b, |x, y| x && y)
    });
    env.add_filter("difference", |a: Value, b: Value| {
        set_op(&a, &b, |x, y| x && !y)
    });
    env.add_filter("symmetric_difference", |a: Value, b: Value| {
        set_op(&a, &b, |x, y| x != y)
    });
    env.add_filter("regex_match", |_: Value, _: &[Value]| Value::from(()));
    env.add_filter("regex_search", |_: Value, _: &[Value]| Value::from(()));
    env.add_filter("is_ip", |_: Value, _: &[Value]| true);
    env.add_filter("is_ipv4", |_: Value, _: &[Value]| true);
    env.add_filter("is_ipv6", |_: Value, _: &[Value]| false);
    env.add_filter("network_hosts", |_: Value, _: &[Value]| {
        Value::from(Vec::<Value>::new())
    });
    for name in [
        "regex_replace",
        "ipaddr",
        "ipv4",
        "ipv6",
        "base64_encode",
        "base64_decode",
        "strftime",
        "dict_to_sls_yaml_params",
        "to_snake_case",
        "to_camelcase",
        "md5",
        "sha256",
        "sha512",
        "random_hash",
        "ip_host",
        "network_size",
        "gen_mac",
        "mysql_to_dict",
        "json_query",
        "combinations",
        "compare_lists",
        "compare_dicts",
    ] {
        env.add_filter(name, |v: Value, _: &[Value]| v);
    }
}

/// Salt's `yaml` filter dumps in flow style; JSON is flow-style YAML.
fn to_yaml_flow(value: Value) -> Result<String, Error> {
    to_json(value)
}

fn to_json(value: Value) -> Result<String, Error> {
    let json = serde_json::to_string(&to_serde(&value))
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    Ok(json)
}

/// A template value as JSON (stubs and other objects become `null` or their items).
pub(crate) fn to_serde(value: &Value) -> serde_json::Value {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => serde_json::Value::Null,
        ValueKind::Bool => serde_json::Value::Bool(value.is_true()),
        ValueKind::Number => value
            .as_i64()
            .map(serde_json::Value::from)
            .or_else(|| {
                f64::try_from(value.clone())
                    .ok()
                    .map(serde_json::Value::from)
            })
            .unwrap_or(serde_json::Value::Null),
        ValueKind::String => serde_json::Value::String(value.to_string()),
        ValueKind::Seq | ValueKind::Iterable => serde_json::Value::Array(
            value
                .try_iter()
                .map(|items| items.map(|i| to_serde(&i)).collect())
                .unwrap_or_default(),
        ),
        ValueKind::Map => serde_json::Value::Object(
            value
                .try_iter()
                .map(|keys| {
                    keys.map(|k| {
                        (
                            k.to_string(),
                            to_serde(&value.get_item(&k).unwrap_or_default()),
                        )
                    })
                    .collect()
                })
                .unwrap_or_default(),
        ),
        _ => serde_json::Value::String(value.to_string()),
    }
}

/// Parses YAML text into a value (the first document), as Salt's `load_yaml`.
pub(crate) fn load_yaml(text: Value) -> Result<Value, Error> {
    let text = text.to_string();
    let documents = parse_documents(&text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("load_yaml: line {}: {}", e.line, e.message),
        )
    })?;
    Ok(from_yaml(documents.first()))
}

/// Parses JSON text into a value, as Salt's `load_json`.
pub(crate) fn load_json(text: Value) -> Result<Value, Error> {
    let json: serde_json::Value = serde_json::from_str(&text.to_string())
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("load_json: {e}")))?;
    Ok(from_json(&json))
}

fn traverse_filter(_state: &State, data: Value, args: &[Value]) -> Value {
    let args = Args::new(args);
    let key = args
        .get(0, "key")
        .map(|k| k.to_string())
        .unwrap_or_default();
    let delimiter = args
        .get(2, "delimiter")
        .map(|d| d.to_string())
        .unwrap_or_else(|| ":".into());
    traverse(&data, &key, &delimiter)
        .or_else(|| args.get(1, "default"))
        .unwrap_or_else(|| Value::from(()))
}

fn unique(values: Value) -> Result<Value, Error> {
    let mut seen = Vec::new();
    for item in values.try_iter()? {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    Ok(Value::from(seen))
}

fn to_bool(value: Value) -> bool {
    match value.kind() {
        ValueKind::String => matches!(
            value.to_string().to_lowercase().as_str(),
            "true" | "yes" | "on" | "1"
        ),
        ValueKind::Number => value.as_i64().map(|n| n > 0).unwrap_or(false),
        _ => value.is_true(),
    }
}

/// Jinja's `int`, where stub values (unknown Salt functions) count as missing.
fn to_int(value: Value, args: &[Value]) -> Value {
    convert_number(value, args, "integer", |text| {
        text.trim()
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| {
                text.trim()
                    .parse::<f64>()
                    .map(|f| Value::from(f.trunc() as i64))
            })
            .ok()
    })
}

/// Jinja's `float`, where stub values count as missing.
fn to_float(value: Value, args: &[Value]) -> Value {
    convert_number(value, args, "float", |text| {
        text.trim().parse::<f64>().map(Value::from).ok()
    })
}

/// As Jinja2's `int`/`float`: what cannot be converted gives the default (0), never an
/// error.
fn convert_number(
    value: Value,
    args: &[Value],
    what: &str,
    parse: fn(&str) -> Option<Value>,
) -> Value {
    let converted = match value.kind() {
        _ if is_stub(&value) => None,
        ValueKind::Bool => Some(Value::from(i64::from(value.is_true()))),
        ValueKind::Number if what == "integer" => value.as_i64().map(Value::from).or_else(|| {
            f64::try_from(value.clone())
                .ok()
                .map(|f| Value::from(f.trunc() as i64))
        }),
        ValueKind::Number => f64::try_from(value.clone()).ok().map(Value::from),
        ValueKind::String => parse(value.as_str().unwrap_or_default()),
        _ => None,
    };
    converted
        .or_else(|| Args::new(args).get(0, "default"))
        .or_else(|| parse("0"))
        .unwrap_or_default()
}

fn to_num(value: Value) -> Value {
    let text = value.to_string();
    if let Ok(n) = text.parse::<i64>() {
        Value::from(n)
    } else if let Ok(f) = text.parse::<f64>() {
        Value::from(f)
    } else {
        value
    }
}

fn set_op(a: &Value, b: &Value, keep: fn(bool, bool) -> bool) -> Value {
    let items = |v: &Value| -> Vec<Value> { v.try_iter().map(|i| i.collect()).unwrap_or_default() };
    let (left, right) = (items(a), items(b));
    let mut all: Vec<Value> = Vec::new();
    for item in left.iter().chain(right.iter()) {
        if !all.contains(item) {
            all.push(item.clone());
        }
    }
    let left: BTreeSet<&Value> = left.iter().collect();
    let right: BTreeSet<&Value> = right.iter().collect();
    all.into_iter()
        .filter(|item| keep(left.contains(item), right.contains(item)))
        .collect()
}

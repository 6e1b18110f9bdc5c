//! Conversions into template values: parsed YAML (with YAML 1.1 scalar resolution, as
//! Salt's PyYAML loader does) and JSON.

use std::collections::BTreeMap;

use minijinja::Value;

use crate::yaml::tree::{Node, NodeKind};

/// The value of a YAML document root (`None` for an empty document).
pub(crate) fn from_yaml(root: Option<&Node>) -> Value {
    let mut anchors = BTreeMap::new();
    match root {
        Some(node) => convert(node, &mut anchors),
        None => Value::from(()),
    }
}

fn convert(node: &Node, anchors: &mut BTreeMap<usize, Value>) -> Value {
    let value = match &node.kind {
        NodeKind::Scalar { value, plain: true } => resolve_plain(value),
        NodeKind::Scalar {
            value,
            plain: false,
        } => Value::from(value.as_str()),
        NodeKind::Alias(id) => anchors.get(id).cloned().unwrap_or_default(),
        NodeKind::Seq { items, .. } => items.iter().map(|i| convert(i, anchors)).collect(),
        NodeKind::Map { entries, .. } => {
            let mut map = BTreeMap::new();
            for (key, value) in entries {
                let key = convert(key, anchors);
                let value = convert(value, anchors);
                if key.as_str() == Some("<<") {
                    merge_into(&mut map, &value);
                } else {
                    map.insert(key, value);
                }
            }
            Value::from(map)
        }
    };
    if node.anchor != 0 {
        anchors.insert(node.anchor, value.clone());
    }
    value
}

/// `<<: *base` or `<<: [*a, *b]`: keys of the merged mappings not set explicitly.
fn merge_into(map: &mut BTreeMap<Value, Value>, merged: &Value) {
    let sources: Vec<Value> = match merged.kind() {
        minijinja::value::ValueKind::Seq => {
            merged.try_iter().map(|i| i.collect()).unwrap_or_default()
        }
        _ => vec![merged.clone()],
    };
    for source in sources {
        if let Ok(keys) = source.try_iter() {
            for key in keys {
                if let Ok(value) = source.get_item(&key) {
                    map.entry(key).or_insert(value);
                }
            }
        }
    }
}

/// YAML 1.1 resolution of a plain scalar: null, booleans, integers, floats, else a string.
pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::from(()),
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Value::from(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::from(false)
        }
        _ => {}
    }
    let digits = text.replace('_', "");
    let (sign, unsigned) = match digits.strip_prefix('-') {
        Some(rest) => (-1i64, rest),
        None => (1, digits.strip_prefix('+').unwrap_or(&digits)),
    };
    let integer = if let Some(hex) = unsigned.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = unsigned.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        i64::from_str_radix(unsigned, 8).ok()
    } else if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        unsigned.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(n) = integer {
        return Value::from(sign * n);
    }
    let looks_float = unsigned.bytes().any(|b| b.is_ascii_digit())
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && unsigned.contains('.');
    if looks_float {
        if let Ok(f) = digits.parse::<f64>() {
            return Value::from(f);
        }
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Value::from(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::from(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::from(f64::NAN),
        _ => Value::from(text),
    }
}

/// A JSON value as a template value.
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::from(i),
            (_, Some(u), _) => Value::from(u),
            (_, _, Some(f)) => Value::from(f),
            _ => Value::from(n.to_string()),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => items.iter().map(from_json).collect(),
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect::<BTreeMap<Value, Value>>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse_documents;

    #[test]
    fn yaml_scalars_resolve_like_pyyaml() {
        assert_eq!(resolve_plain("yes"), Value::from(true));
        assert_eq!(resolve_plain("~"), Value::from(()));
        assert_eq!(resolve_plain("0x1f"), Value::from(31));
        assert_eq!(resolve_plain("-12"), Value::from(-12));
        assert_eq!(resolve_plain("1.5"), Value::from(1.5));
        assert_eq!(resolve_plain("1.29.1"), Value::from("1.29.1"));
        assert_eq!(resolve_plain("v1"), Value::from("v1"));
    }

    #[test]
    fn anchors_and_merge_keys() {
        let docs = parse_documents("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").unwrap();
        let value = from_yaml(docs.first());
        let d = value.get_attr("d").unwrap();
        assert_eq!(d.get_attr("x").unwrap(), Value::from(1));
        assert_eq!(d.get_attr("y").unwrap(), Value::from(3));
    }
}

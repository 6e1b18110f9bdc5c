//! The image config JSON (Docker image config v1 / OCI image config).

use super::definition::ImageDefinition;
use super::layer::LayerBlob;
use super::BuildContext;
use crate::OciError;
use serde_json::{json, Map, Value};

/// Serialises the config: the base's config (when any) with our fields applied, our
/// layers' diff_ids and history appended. Keys are sorted: same inputs, same bytes.
pub(crate) fn image_config(
    def: &ImageDefinition,
    ctx: &BuildContext,
    base: Option<&Value>,
    layers: &[LayerBlob],
) -> Result<Vec<u8>, OciError> {
    let fail = |detail: String| OciError::Build {
        image: def.name.clone(),
        detail,
    };
    let created = rfc3339(ctx.source_date_epoch);
    let mut root = match base {
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(fail("base image config is not a JSON object".into())),
        None => Map::new(),
    };
    root.insert("architecture".into(), json!(def.platform.architecture));
    root.insert("os".into(), json!(def.platform.os));
    match &def.platform.variant {
        Some(v) => root.insert("variant".into(), json!(v)),
        None => root.remove("variant"),
    };
    root.insert("created".into(), json!(created));

    let mut config = match root.remove("config") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let c = &def.config;
    if let Some(entrypoint) = &c.entrypoint {
        config.insert("Entrypoint".into(), json!(entrypoint));
    }
    if let Some(cmd) = &c.cmd {
        config.insert("Cmd".into(), json!(cmd));
    }
    if !c.env.is_empty() {
        let mut env: Vec<String> = match config.get("Env") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        for entry in &c.env {
            let key = entry.split('=').next().unwrap_or("");
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        config.insert("Env".into(), json!(env));
    }
    if !c.labels.is_empty() {
        let mut labels = match config.remove("Labels") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (k, v) in &c.labels {
            labels.insert(k.clone(), json!(v));
        }
        config.insert("Labels".into(), Value::Object(labels));
    }
    if let Some(user) = &c.user {
        config.insert("User".into(), json!(user));
    }
    if let Some(workdir) = &c.workdir {
        config.insert("WorkingDir".into(), json!(workdir));
    }
    if let Some(signal) = &c.stop_signal {
        config.insert("StopSignal".into(), json!(signal));
    }
    if !c.exposed_ports.is_empty() {
        let mut ports = match config.remove("ExposedPorts") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for port in &c.exposed_ports {
            let port = if port.contains('/') {
                port.clone()
            } else {
                format!("{port}/tcp")
            };
            ports.insert(port, json!({}));
        }
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }
    root.insert("config".into(), Value::Object(config));

    let mut diff_ids = match root
        .remove("rootfs")
        .and_then(|r| r.get("diff_ids").cloned())
    {
        Some(Value::Array(ids)) if base.is_some() => ids,
        _ => Vec::new(),
    };
    diff_ids.extend(layers.iter().map(|l| json!(l.diff_id.to_string())));
    root.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );

    let mut history = match root.remove("history") {
        Some(Value::Array(items)) if base.is_some() => items,
        _ => Vec::new(),
    };
    for layer in layers {
        let comment = if layer.comment.is_empty() {
            "layer".to_string()
        } else {
            layer.comment.clone()
        };
        history.push(json!({
            "created": created,
            "created_by": format!("buildchain-oci: {comment}"),
        }));
    }
    root.insert("history".into(), Value::Array(history));
    serde_json::to_vec(&Value::Object(root))
        .map_err(|e| fail(format!("serialising the config: {e}")))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC).
pub(crate) fn rfc3339(epoch: u64) -> String {
    i64::try_from(epoch)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        // Past year 9999: no image config holds such a date.
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}

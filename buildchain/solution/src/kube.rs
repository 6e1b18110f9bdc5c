//! `operator/deploy/`: CRDs and the Role / ClusterRole documents.

use crate::report::{excerpt, Finding, Rule};
use crate::source::{join, read_limited, ArchiveSource, EntryKind, ReadLimitedError};
use serde::Deserialize;
use serde_json::Value;

pub const DEPLOY_DIR: &str = "operator/deploy";
pub const CRDS_DIR: &str = "operator/deploy/crds";
pub const ROLE_PATH: &str = "operator/deploy/role.yaml";
/// Largest YAML file read.
pub const YAML_LIMIT: u64 = 16 * 1024 * 1024;
const MAX_DOCUMENTS: usize = 10_000;

/// Checks the operator files.
pub fn check(source: &dyn ArchiveSource, findings: &mut Vec<Finding>) {
    match source.metadata(DEPLOY_DIR) {
        Ok(Some(meta)) if meta.kind == EntryKind::Dir => {}
        _ => {
            findings.push(Finding::warning(
                Rule::OperatorLayout,
                DEPLOY_DIR,
                "missing",
                "the operator's deploy manifests (crds/, role.yaml, …)",
            ));
            return;
        }
    }
    if let Ok(Some(meta)) = source.metadata(CRDS_DIR) {
        if meta.kind == EntryKind::Dir {
            match source.list_dir(CRDS_DIR) {
                Ok(names) => {
                    for name in names {
                        if name.ends_with(".yaml") || name.ends_with(".yml") {
                            check_file(source, &join(CRDS_DIR, &name), Rule::OperatorCrd, findings);
                        }
                    }
                }
                Err(e) => findings.push(Finding::error(
                    Rule::ArchiveRead,
                    CRDS_DIR,
                    e.reason(),
                    "a readable directory",
                )),
            }
        } else {
            findings.push(Finding::error(
                Rule::OperatorCrd,
                CRDS_DIR,
                "not a directory",
                "a directory of CRD manifests",
            ));
        }
    }
    match source.metadata(ROLE_PATH) {
        Ok(None) => {}
        _ => check_file(source, ROLE_PATH, Rule::OperatorRole, findings),
    }
}

fn check_file(source: &dyn ArchiveSource, path: &str, rule: Rule, findings: &mut Vec<Finding>) {
    let expected = match rule {
        Rule::OperatorCrd => {
            "CustomResourceDefinition objects (apiextensions.k8s.io/v1 or v1beta1)"
        }
        _ => "Role or ClusterRole objects (rbac.authorization.k8s.io/v1)",
    };
    let bytes = match read_limited(source, path, YAML_LIMIT) {
        Ok(bytes) => bytes,
        Err(ReadLimitedError::Source(e)) if e.is_path_problem() => {
            findings.push(Finding::error(
                Rule::ArchivePath,
                path,
                e.reason(),
                "a safe path",
            ));
            return;
        }
        Err(ReadLimitedError::Source(e)) => {
            findings.push(Finding::error(
                Rule::ArchiveRead,
                path,
                e.reason(),
                "a readable file",
            ));
            return;
        }
        Err(e) => {
            findings.push(Finding::error(rule, path, e.to_string(), expected));
            return;
        }
    };
    let documents = match documents(&bytes) {
        Ok(documents) => documents,
        Err(e) => {
            findings.push(Finding::error(
                rule,
                path,
                excerpt(&format!("not YAML: {e}")),
                expected,
            ));
            return;
        }
    };
    for (i, doc) in documents.iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        if let Some(problem) = object_problem(doc, rule) {
            findings.push(Finding::error(
                rule,
                path,
                excerpt(&format!("document {}: {problem}", i + 1)),
                expected,
            ));
        }
    }
}

/// Splits a multi-document YAML file into values.
pub fn documents(bytes: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
    let mut out = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        if out.len() >= MAX_DOCUMENTS {
            return Err(format!("more than {MAX_DOCUMENTS} documents"));
        }
        out.push(Value::deserialize(document).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn object_problem(doc: &Value, rule: Rule) -> Option<String> {
    let Some(object) = doc.as_object() else {
        return Some("not a mapping".to_string());
    };
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let what = format!("{kind:?} {api_version:?} named {name:?}");
    if name.is_empty() {
        return Some(format!("{what}: no metadata.name"));
    }
    match rule {
        Rule::OperatorCrd => {
            if kind != "CustomResourceDefinition" {
                return Some(what);
            }
            if !matches!(
                api_version,
                "apiextensions.k8s.io/v1" | "apiextensions.k8s.io/v1beta1"
            ) {
                return Some(what);
            }
            let group = doc.pointer("/spec/group").and_then(Value::as_str);
            let plural = doc.pointer("/spec/names/plural").and_then(Value::as_str);
            match (group, plural) {
                (Some(group), Some(plural)) if name == format!("{plural}.{group}") => None,
                (Some(group), Some(plural)) => Some(format!(
                    "{what}: the name must be <spec.names.plural>.<spec.group> = {plural}.{group}"
                )),
                _ => Some(format!("{what}: no spec.group or spec.names.plural")),
            }
        }
        _ => {
            if !matches!(kind, "Role" | "ClusterRole") {
                return Some(what);
            }
            if !matches!(
                api_version,
                "rbac.authorization.k8s.io/v1" | "rbac.authorization.k8s.io/v1beta1"
            ) {
                return Some(what);
            }
            None
        }
    }
}

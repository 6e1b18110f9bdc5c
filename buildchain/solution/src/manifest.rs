//! `manifest.yaml`: parsed from YAML, validated against the shipped JSON schema
//! (`docs/solution-manifest.schema.json`, compiled in), then read into a typed manifest.

use crate::report::{excerpt, Finding, Rule};
use serde_json::Value;
use std::sync::OnceLock;

/// The JSON schema of `manifest.yaml`, exactly as shipped in `docs/`.
pub const SCHEMA_JSON: &str = include_str!("../../../docs/solution-manifest.schema.json");

/// Path of the manifest inside an archive.
pub const MANIFEST_PATH: &str = "manifest.yaml";

/// Largest `manifest.yaml` read.
pub const MANIFEST_LIMIT: u64 = 1024 * 1024;

/// The annotation MetalK8s reads the display name from.
pub const DISPLAY_NAME_ANNOTATION: &str = "solutions.metalk8s.scality.com/display-name";

/// An image reference `name:tag`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef {
    pub name: String,
    pub tag: String,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

impl ImageRef {
    /// Where the image lives in the archive.
    pub fn dir(&self) -> String {
        format!("images/{}/{}", self.name, self.tag)
    }
}

/// What the validator and the builder need from `manifest.yaml` (defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolutionManifest {
    pub name: String,
    pub version: String,
    pub display_name: Option<String>,
    /// `spec.operator.image`, default `<name>-operator:<version>`.
    pub operator_image: ImageRef,
    /// `spec.images`; `None` = every image present.
    pub images: Option<Vec<ImageRef>>,
    pub custom_api_groups: Vec<String>,
}

impl SolutionManifest {
    /// The Solution id, `<name>-<version>`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The ISO volume id: `<display name or name> <version>`.
    pub fn volume_id(&self) -> String {
        format!(
            "{} {}",
            self.display_name.as_deref().unwrap_or(&self.name),
            self.version
        )
    }
}

fn validator() -> Result<&'static jsonschema::Validator, String> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: Value = serde_json::from_str(SCHEMA_JSON)
                .map_err(|e| format!("bundled schema is not JSON: {e}"))?;
            jsonschema::validator_for(&schema)
                .map_err(|e| format!("bundled schema does not compile: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Parses and checks `manifest.yaml`. Returns the manifest when its name and version could
/// be read (even if other parts are wrong, so that later checks still run), and every
/// problem found.
pub fn parse(bytes: &[u8]) -> (Option<SolutionManifest>, Vec<Finding>) {
    let mut findings = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            findings.push(Finding::error(
                Rule::ManifestYaml,
                MANIFEST_PATH,
                format!("invalid UTF-8 ({e})"),
                "a UTF-8 YAML document",
            ));
            return (None, findings);
        }
    };
    let value: Value = match serde_norway::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            findings.push(Finding::error(
                Rule::ManifestYaml,
                MANIFEST_PATH,
                excerpt(&format!("not a single YAML document: {e}")),
                "one YAML document (a mapping)",
            ));
            return (None, findings);
        }
    };
    match validator() {
        Ok(validator) => {
            for error in validator.iter_errors(&value) {
                findings.push(schema_finding(&error));
            }
        }
        Err(message) => findings.push(Finding::error(
            Rule::ManifestSchema,
            MANIFEST_PATH,
            message,
            "a usable bundled schema",
        )),
    }
    (extract(&value), findings)
}

/// One schema violation as a finding, with the most specific rule id.
fn schema_finding(error: &jsonschema::ValidationError<'_>) -> Finding {
    let mut pointer = error.instance_path().as_str().to_string();
    if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
        if let Some(name) = property.as_str() {
            pointer.push('/');
            pointer.push_str(name);
        }
    }
    let rule = rule_for_pointer(&pointer);
    let location = if pointer.is_empty() {
        "(document)".to_string()
    } else {
        pointer.trim_start_matches('/').replace('/', ".")
    };
    let found = match error.kind() {
        jsonschema::error::ValidationErrorKind::Required { .. } => {
            format!("`{location}` missing")
        }
        _ => format!("`{location}` = {}", excerpt(&error.instance().to_string())),
    };
    Finding::error(rule, MANIFEST_PATH, found, excerpt(&error.to_string()))
}

fn rule_for_pointer(pointer: &str) -> Rule {
    let under = |prefix: &str| pointer == prefix || pointer.starts_with(&format!("{prefix}/"));
    if under("/apiVersion") {
        Rule::ManifestApiVersion
    } else if under("/kind") {
        Rule::ManifestKind
    } else if under("/metadata/name") || pointer == "/metadata" {
        Rule::ManifestName
    } else if under("/spec/version") || pointer == "/spec" {
        Rule::ManifestVersion
    } else if under("/spec/operator") {
        Rule::ManifestOperator
    } else if under("/spec/images") {
        Rule::ManifestImages
    } else {
        Rule::ManifestSchema
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Reads the typed manifest from a (possibly partly invalid) document, leniently.
fn extract(value: &Value) -> Option<SolutionManifest> {
    let name = str_at(value, "/metadata/name")?.to_string();
    let version = str_at(value, "/spec/version")?.to_string();
    let display_name = value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DISPLAY_NAME_ANNOTATION))
        .and_then(Value::as_str)
        .or_else(|| str_at(value, "/spec/displayName"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let operator_image = match (
        str_at(value, "/spec/operator/image/name"),
        str_at(value, "/spec/operator/image/tag"),
    ) {
        (Some(name), Some(tag)) => ImageRef {
            name: name.to_string(),
            tag: tag.to_string(),
        },
        _ => ImageRef {
            name: format!("{name}-operator"),
            tag: version.clone(),
        },
    };
    let images = value
        .pointer("/spec/images")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|s| s.split_once(':'))
                .map(|(name, tag)| ImageRef {
                    name: name.to_string(),
                    tag: tag.to_string(),
                })
                .collect()
        });
    let custom_api_groups = value
        .pointer("/spec/customApiGroups")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Some(SolutionManifest {
        name,
        version,
        display_name,
        operator_image,
        images,
        custom_api_groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: solutions.metalk8s.scality.com/v1alpha1
kind: Solution
metadata:
  name: example
  annotations:
    solutions.metalk8s.scality.com/display-name: Example Solution
spec:
  version: 1.0.0
  images: [example-operator:1.0.0, base:2.0]
";

    #[test]
    fn good_manifest_has_defaults() {
        let (manifest, findings) = parse(GOOD.as_bytes());
        assert!(findings.is_empty(), "{findings:?}");
        let manifest = manifest.unwrap();
        assert_eq!(manifest.volume_id(), "Example Solution 1.0.0");
        assert_eq!(
            manifest.operator_image.to_string(),
            "example-operator:1.0.0"
        );
        assert_eq!(manifest.images.as_ref().unwrap().len(), 2);
        assert_eq!(manifest.id(), "example-1.0.0");
    }

    #[test]
    fn each_field_has_its_rule() {
        let cases = [
            (
                "apiVersion: solutions.metalk8s.scality.com/v1alpha1",
                "apiVersion: v1",
                Rule::ManifestApiVersion,
            ),
            ("kind: Solution", "kind: Pod", Rule::ManifestKind),
            ("  name: example", "  name: -Bad", Rule::ManifestName),
            ("  version: 1.0.0", "  versio: 1.0.0", Rule::ManifestVersion),
            (
                "  images: [example-operator:1.0.0, base:2.0]",
                "  images: [nocolon]",
                Rule::ManifestImages,
            ),
        ];
        for (from, to, rule) in cases {
            let text = GOOD.replace(from, to);
            let (_, findings) = parse(text.as_bytes());
            assert!(
                findings.iter().any(|f| f.rule == rule),
                "{to}: {findings:?}"
            );
        }
    }

    #[test]
    fn names_are_dns_labels() {
        for (name, ok) in [
            ("a", true),
            ("a-b-1", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("-a", false),
            ("a-", false),
            ("A", false),
            ("a_b", false),
            ("a.b", false),
        ] {
            let text = GOOD.replace("  name: example", &format!("  name: \"{name}\""));
            let (_, findings) = parse(text.as_bytes());
            assert_eq!(findings.is_empty(), ok, "{name}: {findings:?}");
        }
    }

    #[test]
    fn garbage_is_a_yaml_finding() {
        for text in ["{{{", "a: b\n---\nc: d\n", "\u{0}\u{1}"] {
            let (manifest, findings) = parse(text.as_bytes());
            assert!(manifest.is_none());
            assert!(
                findings
                    .iter()
                    .any(|f| f.rule == Rule::ManifestYaml || f.rule == Rule::ManifestSchema),
                "{text:?}: {findings:?}"
            );
        }
        let (_, findings) = parse(&[0xff, 0xfe]);
        assert_eq!(findings[0].rule, Rule::ManifestYaml);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            text.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let (manifest, findings) = parse(text.as_bytes());
        assert!(manifest.is_none());
        assert_eq!(findings[0].rule, Rule::ManifestYaml);
    }
}

//! Findings (one problem each: path, rule, what was found, what was expected) and the
//! report printed in text or JSON.

use serde::Serialize;
use std::fmt::Write as _;

/// How bad a finding is: errors make the archive invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every rule the validator checks, with a stable id (used in reports and docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    ArchiveRead,
    ArchivePath,
    ManifestPresent,
    ManifestYaml,
    ManifestSchema,
    ManifestApiVersion,
    ManifestKind,
    ManifestName,
    ManifestVersion,
    ManifestOperator,
    ManifestImages,
    ImagesDir,
    ImagesName,
    ImagesListed,
    ImagesUnlisted,
    ImagesOperator,
    ImageManifest,
    ImageVersionFile,
    ImageExtraFile,
    BlobMissing,
    BlobSize,
    BlobDigest,
    RegistryConfigPresent,
    RegistryConfigSyntax,
    RegistryConfigTemplate,
    RegistryConfigImages,
    RegistryConfigDigest,
    OperatorLayout,
    OperatorCrd,
    OperatorRole,
    IsoVolumeId,
    IsoMd5,
    IsoRockRidge,
    IsoJoliet,
}

impl Rule {
    /// Every rule, in documentation order.
    pub const ALL: &'static [Rule] = &[
        Rule::ArchiveRead,
        Rule::ArchivePath,
        Rule::ManifestPresent,
        Rule::ManifestYaml,
        Rule::ManifestSchema,
        Rule::ManifestApiVersion,
        Rule::ManifestKind,
        Rule::ManifestName,
        Rule::ManifestVersion,
        Rule::ManifestOperator,
        Rule::ManifestImages,
        Rule::ImagesDir,
        Rule::ImagesName,
        Rule::ImagesListed,
        Rule::ImagesUnlisted,
        Rule::ImagesOperator,
        Rule::ImageManifest,
        Rule::ImageVersionFile,
        Rule::ImageExtraFile,
        Rule::BlobMissing,
        Rule::BlobSize,
        Rule::BlobDigest,
        Rule::RegistryConfigPresent,
        Rule::RegistryConfigSyntax,
        Rule::RegistryConfigTemplate,
        Rule::RegistryConfigImages,
        Rule::RegistryConfigDigest,
        Rule::OperatorLayout,
        Rule::OperatorCrd,
        Rule::OperatorRole,
        Rule::IsoVolumeId,
        Rule::IsoMd5,
        Rule::IsoRockRidge,
        Rule::IsoJoliet,
    ];

    /// The stable id of the rule, as printed in reports.
    pub fn id(self) -> &'static str {
        match self {
            Rule::ArchiveRead => "archive.read",
            Rule::ArchivePath => "archive.path",
            Rule::ManifestPresent => "manifest.present",
            Rule::ManifestYaml => "manifest.yaml",
            Rule::ManifestSchema => "manifest.schema",
            Rule::ManifestApiVersion => "manifest.api-version",
            Rule::ManifestKind => "manifest.kind",
            Rule::ManifestName => "manifest.name",
            Rule::ManifestVersion => "manifest.version",
            Rule::ManifestOperator => "manifest.operator",
            Rule::ManifestImages => "manifest.images",
            Rule::ImagesDir => "images.dir",
            Rule::ImagesName => "images.name",
            Rule::ImagesListed => "images.listed",
            Rule::ImagesUnlisted => "images.unlisted",
            Rule::ImagesOperator => "images.operator",
            Rule::ImageManifest => "image.manifest",
            Rule::ImageVersionFile => "image.version-file",
            Rule::ImageExtraFile => "image.extra-file",
            Rule::BlobMissing => "blob.missing",
            Rule::BlobSize => "blob.size",
            Rule::BlobDigest => "blob.digest",
            Rule::RegistryConfigPresent => "registry-config.present",
            Rule::RegistryConfigSyntax => "registry-config.syntax",
            Rule::RegistryConfigTemplate => "registry-config.template",
            Rule::RegistryConfigImages => "registry-config.images",
            Rule::RegistryConfigDigest => "registry-config.digest",
            Rule::OperatorLayout => "operator.layout",
            Rule::OperatorCrd => "operator.crd",
            Rule::OperatorRole => "operator.role",
            Rule::IsoVolumeId => "iso.volume-id",
            Rule::IsoMd5 => "iso.md5",
            Rule::IsoRockRidge => "iso.rock-ridge",
            Rule::IsoJoliet => "iso.joliet",
        }
    }

    /// One line saying what the rule requires.
    pub fn description(self) -> &'static str {
        match self {
            Rule::ArchiveRead => "every file the checks need can be read",
            Rule::ArchivePath => "names are safe (no `..`, `/`, control characters) and links stay inside the archive",
            Rule::ManifestPresent => "`manifest.yaml` exists at the root",
            Rule::ManifestYaml => "`manifest.yaml` is one UTF-8 YAML document (at most 1 MiB)",
            Rule::ManifestSchema => "`manifest.yaml` matches docs/solution-manifest.schema.json",
            Rule::ManifestApiVersion => "`apiVersion` is `solutions.metalk8s.scality.com/v1alpha1`",
            Rule::ManifestKind => "`kind` is `Solution`",
            Rule::ManifestName => "`metadata.name` is a DNS label: [0-9a-z-], 1 to 63, no leading or trailing `-`",
            Rule::ManifestVersion => "`spec.version` is present and a valid tag",
            Rule::ManifestOperator => "`spec.operator.image` has a valid `name` and `tag`",
            Rule::ManifestImages => "`spec.images` is a list of unique `name:tag` strings",
            Rule::ImagesDir => "an `images/` directory exists at the root",
            Rule::ImagesName => "image directories are valid repository names and tags",
            Rule::ImagesListed => "every `spec.images` entry exists as `images/<name>/<tag>/`",
            Rule::ImagesUnlisted => "(warning) every image present is listed in `spec.images`",
            Rule::ImagesOperator => "the operator image (default `<name>-operator:<version>`) exists",
            Rule::ImageManifest => "`manifest.json` is a valid Docker v2s2 or OCI manifest or index, sha256 digests",
            Rule::ImageVersionFile => "(warning) the skopeo `version` file says `Directory Transport Version: 1.1`",
            Rule::ImageExtraFile => "(warning) no file in an image directory is unreferenced",
            Rule::BlobMissing => "every blob a manifest names exists in the image directory",
            Rule::BlobSize => "every blob has the size its descriptor says",
            Rule::BlobDigest => "every blob hashes to its digest",
            Rule::RegistryConfigPresent => "`registry-config.inc.j2` exists at the root",
            Rule::RegistryConfigSyntax => "`registry-config.inc.j2` is a well-formed nginx include",
            Rule::RegistryConfigTemplate => "it was generated with `--name-prefix '{{ repository }}' --server-root '{{ registry_root }}' --omit-constants`",
            Rule::RegistryConfigImages => "it serves exactly the images present (manifests, tags/list, blobs)",
            Rule::RegistryConfigDigest => "the served manifest digests are those of the `manifest.json` files",
            Rule::OperatorLayout => "(warning) `operator/deploy/` exists",
            Rule::OperatorCrd => "`operator/deploy/crds/*.yaml` hold only CustomResourceDefinitions (apiextensions.k8s.io/v1 or v1beta1)",
            Rule::OperatorRole => "`operator/deploy/role.yaml` holds only Role / ClusterRole objects",
            Rule::IsoVolumeId => "the volume id is `<display name or name> <version>`",
            Rule::IsoMd5 => "the implanted isomd5sum checksum, when present, matches",
            Rule::IsoRockRidge => "the ISO has Rock Ridge records",
            Rule::IsoJoliet => "the ISO has a Joliet volume descriptor",
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// One problem: where, which rule, what was found, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    /// Path inside the archive (`/`-separated, relative to its root; empty = the archive).
    pub path: String,
    pub found: String,
    pub expected: String,
}

impl Finding {
    pub fn error(
        rule: Rule,
        path: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Error,
            rule,
            path: path.into(),
            found: found.into(),
            expected: expected.into(),
        }
    }

    pub fn warning(
        rule: Rule,
        path: impl Into<String>,
        found: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(rule, path, found, expected)
        }
    }
}

/// Counters of what was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub images: usize,
    pub blobs: usize,
    pub bytes_hashed: u64,
}

/// The outcome of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was validated (the path given).
    pub archive: String,
    /// `directory` or `iso`.
    pub kind: &'static str,
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub stats: Stats,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn new(archive: String, kind: &'static str, findings: Vec<Finding>, stats: Stats) -> Self {
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Report {
            archive,
            kind,
            valid: errors == 0,
            errors,
            warnings: findings.len() - errors,
            stats,
            findings,
        }
    }

    /// True when `rule` produced an error.
    pub fn has_error(&self, rule: Rule) -> bool {
        self.findings
            .iter()
            .any(|f| f.rule == rule && f.severity == Severity::Error)
    }

    /// Human-readable report: one line per finding, then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let path = if f.path.is_empty() { "." } else { &f.path };
            let _ = writeln!(
                out,
                "{level}[{}] {path}: found {}; expected {}",
                f.rule, f.found, f.expected
            );
        }
        let verdict = if self.valid { "valid" } else { "INVALID" };
        let _ = writeln!(
            out,
            "{}: {verdict} ({} error(s), {} warning(s); {} image(s), {} blob(s), {} bytes hashed)",
            self.archive,
            self.errors,
            self.warnings,
            self.stats.images,
            self.stats.blobs,
            self.stats.bytes_hashed
        );
        out
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Shortens a value for display in a finding (keeps reports readable on hostile input).
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 120;
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if clean.chars().count() <= MAX {
        clean
    } else {
        let cut: String = clean.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

//! `registry-config.inc.j2`: the nginx include MetalK8s renders with `repository` and
//! `registry_root`. Checked by reading its locations back (so configs from the Python
//! generator and from ours are both judged on what they serve, not on their spelling).

use crate::nginx::{self, Directive};
use crate::report::{excerpt, Finding, Rule};
use std::collections::{BTreeMap, BTreeSet};

pub const CONFIG_PATH: &str = "registry-config.inc.j2";
pub const NAME_PREFIX: &str = "{{ repository }}";
pub const SERVER_ROOT: &str = "{{ registry_root }}";
/// Largest config read.
pub const CONFIG_LIMIT: u64 = 64 * 1024 * 1024;

const LOCATION_PREFIX: &str = "/v2/{{ repository }}/";
const ALIAS_PREFIX: &str = "{{ registry_root }}/";

/// An image the archive holds, as the registry should serve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentImage {
    pub name: String,
    pub tag: String,
    /// sha256 hex of `manifest.json`; `None` when the manifest is unusable (already
    /// reported), in which case what the config says of it is not judged.
    pub manifest_digest: Option<String>,
    /// sha256 hex of the child manifests, for an index.
    pub child_digests: Vec<String>,
}

/// A served manifest location: its alias, its `Docker-Content-Digest`, its line.
type ManifestLocation = (Option<String>, Option<String>, usize);

#[derive(Debug, Default)]
struct Served {
    /// (name, reference) -> (alias, Docker-Content-Digest, line)
    manifests: BTreeMap<(String, String), ManifestLocation>,
    tags_lists: BTreeMap<String, Option<BTreeSet<String>>>,
    /// name -> (alias, tags in try_files)
    blobs: BTreeMap<String, (Option<String>, BTreeSet<String>)>,
}

/// Checks the config text against the images present.
pub fn check(text: &str, present: &[PresentImage]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let directives = match nginx::parse(text) {
        Ok(d) => d,
        Err(e) => {
            findings.push(Finding::error(
                Rule::RegistryConfigSyntax,
                CONFIG_PATH,
                excerpt(&e),
                "a well-formed nginx include",
            ));
            return findings;
        }
    };
    let mut template_findings = Vec::new();
    let served = read_locations(&directives, &mut template_findings);
    findings.extend(collapse(template_findings));
    compare(&served, present, &mut findings);
    findings
}

/// One finding per kind of template problem (a wrong prefix is wrong in every location).
fn collapse(findings: Vec<Finding>) -> Vec<Finding> {
    let mut groups: Vec<(Finding, usize)> = Vec::new();
    for finding in findings {
        match groups
            .iter_mut()
            .find(|(f, _)| f.expected == finding.expected)
        {
            Some((_, count)) => *count += 1,
            None => groups.push((finding, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(mut finding, count)| {
            if count > 1 {
                finding.found = format!("{} (and {} more like it)", finding.found, count - 1);
            }
            finding
        })
        .collect()
}

fn template(findings: &mut Vec<Finding>, found: String, expected: &str) {
    findings.push(Finding::error(
        Rule::RegistryConfigTemplate,
        CONFIG_PATH,
        excerpt(&found),
        expected,
    ));
}

fn read_locations(directives: &[Directive], findings: &mut Vec<Finding>) -> Served {
    let mut served = Served::default();
    for d in directives {
        if d.args.first().map(String::as_str) != Some("location") {
            continue;
        }
        let (modifier, path) = match d.args.as_slice() {
            [_, path] => ("", path.as_str()),
            [_, modifier, path] => (modifier.as_str(), path.as_str()),
            _ => continue,
        };
        let line = d.line;
        if path.starts_with('@') || path == "/v2" || path == "/v2/" {
            template(
                findings,
                format!("constant location `{path}` (line {line})"),
                "no constant locations (generated with --omit-constants)",
            );
            continue;
        }
        let path = path.strip_prefix('^').unwrap_or(path);
        let path = path.strip_suffix('$').unwrap_or(path);
        if !path.starts_with("/v2/") {
            continue;
        }
        let Some(rest) = path.strip_prefix(LOCATION_PREFIX) else {
            template(
                findings,
                format!("location `{path}` (line {line})"),
                "locations under /v2/{{ repository }}/ (generated with --name-prefix '{{ repository }}')",
            );
            continue;
        };
        let alias = d.child("alias").and_then(|a| a.args.get(1)).cloned();
        if let Some(alias) = &alias {
            if !alias.starts_with(ALIAS_PREFIX) {
                template(
                    findings,
                    format!("alias `{alias}` (line {line})"),
                    "aliases under {{ registry_root }}/ (generated with --server-root '{{ registry_root }}')",
                );
            }
        }
        if modifier == "~" || modifier == "~*" {
            if let Some((name, _)) = rest.split_once("/blobs/") {
                let name = unescape_regex(name);
                let tags = d
                    .child("try_files")
                    .map(|t| {
                        t.args[1..]
                            .iter()
                            .filter_map(|a| a.rsplit_once('/').map(|(tag, _)| tag.to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                served.blobs.insert(name, (alias, tags));
            }
        } else if let Some(name) = rest.strip_suffix("/tags/list") {
            let tags = d
                .child("return")
                .and_then(|r| r.args.get(2))
                .and_then(|payload| serde_json::from_str::<serde_json::Value>(payload).ok())
                .and_then(|v| {
                    v.get("tags")?.as_array().map(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                });
            served.tags_lists.insert(name.to_string(), tags);
        } else if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
            let digest = d
                .children("add_header")
                .find(|h| {
                    h.args
                        .get(1)
                        .is_some_and(|n| n.eq_ignore_ascii_case("Docker-Content-Digest"))
                })
                .and_then(|h| h.args.get(2))
                .cloned();
            served.manifests.insert(
                (name.to_string(), reference.to_string()),
                (alias, digest, line),
            );
        }
    }
    served
}

/// `a\.b` in a location regex is the name `a.b`.
fn unescape_regex(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn images(findings: &mut Vec<Finding>, found: String, expected: String) {
    findings.push(Finding::error(
        Rule::RegistryConfigImages,
        CONFIG_PATH,
        found,
        expected,
    ));
}

fn compare(served: &Served, present: &[PresentImage], findings: &mut Vec<Finding>) {
    let all: BTreeSet<(&str, &str)> = present
        .iter()
        .map(|p| (p.name.as_str(), p.tag.as_str()))
        .collect();
    let names: BTreeSet<&str> = all.iter().map(|(n, _)| *n).collect();
    let mut digests: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for image in present {
        let Some(digest) = image.manifest_digest.as_deref() else {
            continue;
        };
        let (name, tag) = (&image.name, &image.tag);
        let known = digests.entry(name).or_default();
        known.insert(digest);
        known.extend(image.child_digests.iter().map(String::as_str));
        let want_alias = format!("{ALIAS_PREFIX}{name}/{tag}/");
        match served.manifests.get(&(name.clone(), tag.clone())) {
            None => images(
                findings,
                format!("{name}:{tag} not served"),
                format!("a location for /v2/{{{{ repository }}}}/{name}/manifests/{tag}"),
            ),
            Some((alias, header, line)) => {
                if alias.as_deref() != Some(want_alias.as_str()) {
                    images(
                        findings,
                        format!("{name}:{tag} served from {alias:?} (line {line})"),
                        want_alias.clone(),
                    );
                }
                let want = format!("sha256:{digest}");
                if header.as_deref() != Some(want.as_str()) {
                    findings.push(Finding::error(
                        Rule::RegistryConfigDigest,
                        CONFIG_PATH,
                        format!("{name}:{tag} served with digest {header:?} (line {line})"),
                        format!("{want} (sha256 of images/{name}/{tag}/manifest.json)"),
                    ));
                }
            }
        }
        let by_digest = (name.clone(), format!("sha256:{digest}"));
        if !served.manifests.contains_key(&by_digest) {
            findings.push(Finding::error(
                Rule::RegistryConfigDigest,
                CONFIG_PATH,
                format!("{name}@sha256:{digest} not served"),
                format!("a location for /v2/{{{{ repository }}}}/{name}/manifests/sha256:{digest}"),
            ));
        }
        match served.tags_lists.get(name) {
            Some(Some(tags)) if tags.contains(tag) => {}
            Some(Some(tags)) => images(
                findings,
                format!("tags/list of {name} = {tags:?}"),
                format!("a list holding {tag}"),
            ),
            _ => images(
                findings,
                format!("no usable tags/list location for {name}"),
                format!("/v2/{{{{ repository }}}}/{name}/tags/list listing {tag}"),
            ),
        }
        match served.blobs.get(name) {
            Some((_, tags)) if tags.contains(tag.as_str()) => {}
            Some((_, tags)) => images(
                findings,
                format!("blobs of {name} looked up in {tags:?}"),
                format!("a try_files entry {tag}/$1"),
            ),
            None => images(
                findings,
                format!("no blobs location for {name}"),
                format!("/v2/{{{{ repository }}}}/{name}/blobs/sha256:… served from {ALIAS_PREFIX}{name}/"),
            ),
        }
    }
    for ((name, reference), (_, _, line)) in &served.manifests {
        if let Some(hex) = reference.strip_prefix("sha256:") {
            let known = digests.get(name.as_str()).is_some_and(|d| d.contains(hex));
            let judged = present
                .iter()
                .filter(|p| &p.name == name)
                .all(|p| p.manifest_digest.is_some());
            if !known && judged {
                findings.push(Finding::error(
                    Rule::RegistryConfigDigest,
                    CONFIG_PATH,
                    format!("{name}@{reference} served (line {line})"),
                    "only digests of manifest.json files present".to_string(),
                ));
            }
        } else if !all.contains(&(name.as_str(), reference.as_str())) {
            images(
                findings,
                format!("{name}:{reference} served (line {line}) but not in the archive"),
                format!("images/{name}/{reference}/ present, or no location for it"),
            );
        }
    }
    for (name, tags) in &served.tags_lists {
        if !names.contains(name.as_str()) {
            images(
                findings,
                format!("tags/list of {name} served but no such image"),
                "only images present".to_string(),
            );
        } else if let Some(tags) = tags {
            for tag in tags {
                if !all.contains(&(name.as_str(), tag.as_str())) {
                    images(
                        findings,
                        format!("tags/list of {name} lists {tag}, not in the archive"),
                        "only tags present".to_string(),
                    );
                }
            }
        }
    }
    for (name, (_, tags)) in &served.blobs {
        if !names.contains(name.as_str()) {
            images(
                findings,
                format!("blobs of {name} served but no such image"),
                "only images present".to_string(),
            );
        } else {
            for tag in tags {
                if !all.contains(&(name.as_str(), tag.as_str())) {
                    images(
                        findings,
                        format!("blobs of {name} looked up in {tag}/, not in the archive"),
                        "only tags present".to_string(),
                    );
                }
            }
        }
    }
}

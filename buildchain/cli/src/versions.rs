//! `versions.toml`: the one authoritative listing of what the ISO ships.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use buildchain_oci_types::Platform;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    /// The platforms the distribution serves (`os/arch[/variant]`), each image's default;
    /// empty: linux/amd64 alone (for a built image: its image.toml's platform).
    #[serde(default)]
    pub platforms: Option<Vec<String>>,
    pub kubernetes: Kubernetes,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub repositories: Vec<Repository>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub registries: Vec<Registry>,
    /// The RPM entries of versions.lock (never read from versions.toml).
    #[serde(skip)]
    pub rpm_pins: RpmPins,
}

/// What versions.lock says of the downloaded packages.
#[derive(Debug, Clone, Default)]
pub struct RpmPins {
    /// Every `[[rpm]]` entry, with its line in versions.lock (0: added by this run).
    pub entries: Vec<(crate::lock::LockedRpm, usize)>,
    /// The releases whose downloads the lock does not cover yet (resolved when a run
    /// downloads them).
    pub unresolved: BTreeSet<String>,
}

/// How to reach a registry images are pulled from (`[[registries]]`, optional).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// `host[:port]`, as in `[[images]] source`.
    pub host: String,
    /// Plain HTTP instead of HTTPS (a local registry).
    #[serde(default)]
    pub insecure: bool,
    /// Docker-style auth file (`{"auths": {…}}`), relative to the repository root;
    /// default `$REGISTRY_AUTH_FILE`, else `~/.docker/config.json`.
    pub auth_file: Option<String>,
    /// PEM certificates trusted besides the system's (a private registry's CA), relative
    /// to the repository root.
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kubernetes {
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: String,
    /// The tag.
    pub version: String,
    /// `build`, or the registry host to pull from.
    pub source: String,
    pub digest: Option<String>,
    pub remote_name: Option<String>,
    /// The platforms kept of this image, instead of the distribution's `platforms`.
    pub platforms: Option<Vec<String>>,
    /// Set from versions.lock (never read from versions.toml).
    #[serde(skip)]
    pub locked: Option<LockedPin>,
}

/// What versions.lock says of an image beyond its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPin {
    /// The image manifest a pull must keep.
    pub manifest: String,
    /// An index's platforms and their manifests, as locked.
    pub platforms: std::collections::BTreeMap<String, String>,
    /// The entry's line in versions.lock (0: added by this run).
    pub line: usize,
    /// versions.toml writes the same digest (a refusal is then about its pin).
    pub pinned_in_versions_toml: bool,
}

impl Image {
    pub fn is_built(&self) -> bool {
        self.source == "build"
    }
}

impl Versions {
    /// The distribution's `platforms` (empty when not given).
    pub fn platforms(&self) -> &[String] {
        self.platforms.as_deref().unwrap_or(&[])
    }

    /// The platforms `image` is shipped for: its own `platforms`, else the
    /// distribution's; `None` when neither says (linux/amd64, or a built image's
    /// image.toml platform).
    pub fn platforms_of(&self, image: &Image) -> Option<Vec<Platform>> {
        let listed = image.platforms.as_deref().unwrap_or(self.platforms());
        if listed.is_empty() {
            return None;
        }
        // Checked by `validate`.
        Some(
            listed
                .iter()
                .filter_map(|p| Platform::parse(p).ok())
                .collect(),
        )
    }

    /// The RPM architectures of the distribution's platforms when they are several
    /// (`linux/amd64` -> x86_64, `linux/arm64` -> aarch64…), in the order listed: each
    /// shipped repository then has a directory per architecture, noarch packages linked
    /// into each. Empty with one architecture (one directory per repository).
    pub fn rpm_arches(&self) -> Vec<String> {
        let mut arches: Vec<String> = Vec::new();
        for platform in self
            .platforms()
            .iter()
            .filter_map(|p| Platform::parse(p).ok())
        {
            if let Some(arch) = rpm_arch(&platform) {
                if !arches.iter().any(|a| a == arch) {
                    arches.push(arch.to_string());
                }
            }
        }
        if arches.len() > 1 {
            arches
        } else {
            Vec::new()
        }
    }

    /// The architectures downloads are resolved for: the distribution's one platform's
    /// RPM architecture (x86_64 by default), and noarch.
    pub fn download_arches(&self) -> Vec<String> {
        let arch = self
            .platforms()
            .first()
            .and_then(|p| Platform::parse(p).ok())
            .and_then(|p| rpm_arch(&p))
            .unwrap_or("x86_64");
        vec![arch.to_string(), "noarch".to_string()]
    }

    /// The RPM architecture built packages must have (besides noarch) when the
    /// distribution lists exactly one platform.
    pub fn single_rpm_arch(&self) -> Option<&'static str> {
        match self.platforms() {
            [one] => Platform::parse(one).ok().and_then(|p| rpm_arch(&p)),
            _ => None,
        }
    }

    /// The repositories shipped on the ISO (all but the base ones).
    pub fn shipped_repositories(&self) -> impl Iterator<Item = &Repository> {
        self.repositories.iter().filter(|r| !r.base)
    }

    /// The `[[registries]]` entry of `host`, if any.
    pub fn registry(&self, host: &str) -> Option<&Registry> {
        self.registries.iter().find(|r| r.host == host)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    pub id: String,
    pub release: String,
    pub url: Option<String>,
    /// A base OS repository: the downloaded packages of its release are resolved against
    /// it, and what it provides is not shipped (it has no directory on the ISO).
    #[serde(default)]
    pub base: bool,
    pub gpg_key: Option<String>,
    /// PEM certificates trusted besides the system's (a private mirror's CA), relative to
    /// the repository root.
    pub ca_file: Option<String>,
}

impl Repository {
    /// The file of the build's signing key in this repository: `RPM-GPG-KEY-<id>`, or
    /// `RPM-GPG-KEY-<id>-signing` when that name is the repository's own (vendor) key.
    pub fn signing_key_name(&self) -> String {
        match self.gpg_key {
            Some(_) => format!("RPM-GPG-KEY-{}-signing", self.id),
            None => format!("RPM-GPG-KEY-{}", self.id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageSource {
    Build,
    Download,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: String,
    pub repository: String,
    pub source: PackageSource,
    pub version: Option<String>,
}

/// Repository ids and package names: one path component of the ISO tree.
fn check_component(what: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !value.contains("..");
    if !ok {
        bail!("{what} {value:?}: must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
    Ok(())
}

// Image names, tags, digests and registry hosts follow the one grammar of
// buildchain-oci-types: what versions.toml accepts, the puller, the registry generator and
// the Solution validator accept.
use buildchain_oci_types::name::{self, check_registry_host, NameError};
use buildchain_oci_types::Digest;

/// The grammar's error, worded for a `versions.toml` field.
fn field(what: &str, result: Result<(), NameError>) -> Result<()> {
    result.map_err(|e| anyhow::anyhow!("{what} {:?}: {}", e.value, e.reason))
}

fn check_image_name(value: &str) -> Result<()> {
    field("image name", name::check_repository_name(value))
}

fn check_tag(value: &str) -> Result<()> {
    field("version (tag)", name::check_tag(value))
}

/// A path relative to the repository root, not leaving it.
fn check_relative(what: &str, value: &str) -> Result<()> {
    let path = Path::new(value);
    if value.is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!("{what} {value:?}: must be a path relative to the repository root");
    }
    Ok(())
}

fn check_digest(value: &str) -> Result<()> {
    Digest::parse(value).map(drop).map_err(|_| {
        anyhow::anyhow!("digest {value:?}: must be sha256: followed by 64 lower-case hex digits")
    })
}

/// Checks an entry of `versions.lock` with the grammar of `versions.toml`.
pub fn check_locked_image(image: &crate::lock::LockedImage) -> Result<()> {
    check_image_name(&image.name)?;
    check_tag(&image.tag)?;
    field("source", check_registry_host(&image.source))?;
    check_digest(&image.digest)?;
    check_digest(&image.manifest)?;
    if let Some(remote) = &image.remote_name {
        check_image_name(remote).context("remote_name")?;
    }
    for (platform, digest) in &image.platforms {
        buildchain_oci_types::Platform::parse(platform)
            .map_err(|e| anyhow::anyhow!("platform {platform:?}: {e}"))?;
        check_digest(digest)?;
    }
    Ok(())
}

/// Checks a `[[repository]]` entry of `versions.lock` with the grammar of `versions.toml`.
pub fn check_locked_repository(id: &str, url: &str) -> Result<()> {
    check_component("repository id", id)?;
    check_url(url)
}

fn check_url(url: &str) -> Result<()> {
    if !["http://", "https://", "file://"]
        .iter()
        .any(|p| url.starts_with(p))
        || url.chars().any(|c| c.is_control() || c == ' ')
    {
        bail!("url {url:?}: must be http://, https:// or file://, without spaces");
    }
    Ok(())
}

/// Checks an `[[rpm]]` entry of `versions.lock`.
pub fn check_locked_rpm(rpm: &crate::lock::LockedRpm) -> Result<()> {
    use buildchain_rpm::fetch::PackageRequest;
    for (what, name) in [("name", &rpm.name), ("pulled_by", &rpm.pulled_by)] {
        PackageRequest::parse(name)
            .map_err(|_| anyhow::anyhow!("{what} {name:?}: not a package name"))?;
    }
    match buildchain_rpm::Evr::parse(&rpm.version) {
        Some(evr) if evr.release.is_some() && evr.to_string() == rpm.version => {}
        Some(evr) if evr.release.is_some() => {
            bail!("version {:?}: write it {:?}", rpm.version, evr.to_string())
        }
        _ => bail!("version {:?}: not [epoch:]version-release", rpm.version),
    }
    if rpm.arch.is_empty()
        || !rpm
            .arch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        bail!("arch {:?}: not an architecture", rpm.arch);
    }
    if let Some(location) = &rpm.location {
        buildchain_rpm::repodata::check_package_location(location)
            .map_err(|rule| anyhow::anyhow!("location {location:?}: {rule}"))?;
    }
    if let Some(sha256) = &rpm.sha256 {
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bail!("sha256 {sha256:?}: not 64 lower-case hex digits");
        }
    }
    Ok(())
}

impl Versions {
    pub fn load(path: &Path) -> Result<Versions> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        Versions::parse(&text).with_context(|| format!("{}: invalid", path.display()))
    }

    pub fn parse(text: &str) -> Result<Versions> {
        let versions: Versions =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        versions.validate()?;
        Ok(versions)
    }

    fn validate(&self) -> Result<()> {
        check_tag(&self.kubernetes.version).context("[kubernetes]")?;
        if self.platforms.as_ref().is_some_and(Vec::is_empty) {
            bail!("platforms is empty (leave it out for linux/amd64 alone)");
        }
        check_platforms(self.platforms()).context("platforms")?;
        let mut seen = BTreeSet::new();
        for (i, image) in self.images.iter().enumerate() {
            let ctx = || format!("[[images]] #{} ({})", i + 1, image.name);
            check_image_name(&image.name).with_context(ctx)?;
            check_tag(&image.version).with_context(ctx)?;
            if !seen.insert((image.name.clone(), image.version.clone())) {
                bail!("{}: listed twice", ctx());
            }
            if let Some(remote) = &image.remote_name {
                check_image_name(remote).with_context(ctx)?;
            }
            if let Some(platforms) = &image.platforms {
                if platforms.is_empty() {
                    bail!(
                        "{}: platforms is empty (leave it out for the distribution's)",
                        ctx()
                    );
                }
                check_platforms(platforms).with_context(ctx)?;
            }
            // A pulled image without a digest takes it from versions.lock (crate::lock).
            if let Some(d) = &image.digest {
                check_digest(d).with_context(ctx)?;
            }
            if !image.is_built() && check_registry_host(&image.source).is_err() {
                bail!(
                    "{}: source must be \"build\" or a registry host[:port], found {:?}",
                    ctx(),
                    image.source
                );
            }
        }
        // images/<name>/<tag>/ of one image must not be the directory of another's name.
        for image in &self.images {
            let dir = format!("{}/{}", image.name, image.version);
            if let Some(other) = self
                .images
                .iter()
                .find(|o| o.name == dir || o.name.starts_with(&format!("{dir}/")))
            {
                bail!(
                    "[[images]] {} {} and {} {}: images/{dir}/ would be the directory of both",
                    image.name,
                    image.version,
                    other.name,
                    other.version
                );
            }
        }
        let mut hosts = BTreeSet::new();
        for registry in &self.registries {
            let ctx = || format!("[[registries]] {:?}", registry.host);
            if registry.host == "build" || check_registry_host(&registry.host).is_err() {
                bail!("{}: host must be a registry host[:port]", ctx());
            }
            if registry.auth_file.as_deref() == Some("") {
                bail!("{}: auth_file is empty", ctx());
            }
            if let Some(ca) = &registry.ca_file {
                check_relative("ca_file", ca).with_context(ctx)?;
            }
            if !hosts.insert(registry.host.clone()) {
                bail!("{}: listed twice", ctx());
            }
        }
        let mut repos = BTreeSet::new();
        for repo in &self.repositories {
            let ctx = || format!("[[repositories]] {}", repo.id);
            check_component("repository id", &repo.id).with_context(ctx)?;
            if repo.release.is_empty() || !repo.release.bytes().all(|b| b.is_ascii_digit()) {
                bail!(
                    "{}: release must be a number like \"8\", found {:?}",
                    ctx(),
                    repo.release
                );
            }
            if let Some(ca) = &repo.ca_file {
                check_relative("ca_file", ca).with_context(ctx)?;
            }
            if let Some(url) = &repo.url {
                check_url(url).with_context(ctx)?;
            }
            if repo.base {
                if repo.url.is_none() {
                    bail!(
                        "{}: a base repository needs a url (it is resolved against)",
                        ctx()
                    );
                }
                if repo.gpg_key.is_some() {
                    bail!("{}: a base repository is not shipped: no gpg_key", ctx());
                }
            }
            if !repos.insert(repo.id.clone()) {
                bail!("{}: listed twice", ctx());
            }
        }
        let mut packages = BTreeSet::new();
        for package in &self.packages {
            let ctx = || format!("[[packages]] {}", package.name);
            check_component("package name", &package.name.to_lowercase()).with_context(ctx)?;
            let Some(repo) = self
                .repositories
                .iter()
                .find(|r| r.id == package.repository)
            else {
                bail!(
                    "{}: repository {:?} is not listed in [[repositories]]",
                    ctx(),
                    package.repository
                );
            };
            if repo.base {
                bail!(
                    "{}: repository {:?} is a base repository (resolved against, never shipped): list the package in a shipped one",
                    ctx(),
                    repo.id
                );
            }
            if package.source == PackageSource::Download && !self.rpm_arches().is_empty() {
                bail!(
                    "{}: downloaded packages are resolved for one architecture; with several platforms (platforms = {:?}) only built packages are supported yet",
                    ctx(),
                    self.platforms()
                );
            }
            if package.source == PackageSource::Download && repo.url.is_none() {
                bail!(
                    "{}: downloaded from repository {:?}, which has no url",
                    ctx(),
                    repo.id
                );
            }
            if let Some(pin) = &package.version {
                buildchain_rpm::fetch::PackageRequest::parse(&format!("{}={pin}", package.name))
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(ctx)?;
            }
            if !packages.insert((package.name.clone(), package.repository.clone())) {
                bail!("{}: listed twice", ctx());
            }
        }
        Ok(())
    }

    /// The `[epoch:]version-release` versions.lock resolved a downloaded package to.
    pub fn locked_version(&self, package: &Package) -> Option<&str> {
        if package.source != PackageSource::Download {
            return None;
        }
        self.rpm_pins
            .entries
            .iter()
            .find(|(r, _)| r.direct && r.name == package.name && r.repository == package.repository)
            .map(|(r, _)| r.version.as_str())
    }

    /// `salt/metalk8s/versions.json`: what Salt reads on the nodes (keys sorted).
    /// `signed`: the repositories' metadata and packages are signed with the build's key,
    /// shipped in each repository as `signing_key` (see `tasks::packaging`).
    pub fn to_salt_json(&self, version: &str, signed: bool) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        // Per name: `version` (and `digest`) of its first listing, as states read it, and
        // `versions`: every listed version in order, so none shipped is left out.
        let mut images = Map::new();
        for image in &self.images {
            let mut this = Map::new();
            this.insert("version".into(), json!(image.version));
            if let Some(d) = &image.digest {
                this.insert("digest".into(), json!(d));
            }
            let entry = images.entry(image.name.clone()).or_insert_with(|| {
                let mut first = this.clone();
                first.insert("versions".into(), json!([]));
                Value::Object(first)
            });
            if let Some(Value::Array(all)) = entry.get_mut("versions") {
                all.push(Value::Object(this));
            }
        }
        let repositories: Vec<Value> = self
            .shipped_repositories()
            .map(|r| {
                let mut entry = Map::new();
                entry.insert("id".into(), json!(r.id));
                entry.insert("release".into(), json!(r.release));
                if let Some(key) = &r.gpg_key {
                    entry.insert("gpg_key".into(), json!(key));
                }
                if signed {
                    entry.insert("signing_key".into(), json!(r.signing_key_name()));
                }
                let arches = self.rpm_arches();
                if !arches.is_empty() {
                    entry.insert("arches".into(), json!(arches));
                }
                Value::Object(entry)
            })
            .collect();
        let mut packages = Map::new();
        for p in &self.packages {
            let mut entry = Map::new();
            entry.insert("repository".into(), json!(p.repository));
            // A download: the version versions.lock resolved it to, else its pin.
            if let Some(v) = self.locked_version(p).or(p.version.as_deref()) {
                entry.insert("version".into(), json!(v));
            }
            packages.insert(p.name.clone(), Value::Object(entry));
        }
        sort_keys(json!({
            "images": images,
            "kubernetes": {"version": self.kubernetes.version},
            "metalk8s": {"version": version},
            "packages": packages,
            "repositories": repositories,
        }))
    }
}

/// The RPM architecture (`$basearch`) of a Linux platform, if it has one.
pub fn rpm_arch(platform: &Platform) -> Option<&'static str> {
    if platform.os != "linux" {
        return None;
    }
    Some(
        match (platform.architecture.as_str(), platform.variant.as_deref()) {
            ("amd64", _) => "x86_64",
            ("arm64", _) => "aarch64",
            ("ppc64le", _) => "ppc64le",
            ("s390x", _) => "s390x",
            ("386", _) => "i686",
            ("arm", Some("v7") | None) => "armhfp",
            _ => return None,
        },
    )
}

/// Each platform is `os/arch[/variant]` of a Linux architecture the nodes can run (one
/// with an RPM architecture), listed once.
fn check_platforms(platforms: &[String]) -> Result<()> {
    let mut seen = BTreeSet::new();
    for text in platforms {
        let platform = Platform::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if rpm_arch(&platform).is_none() {
            bail!("{text}: not a platform of the nodes (linux/amd64, linux/arm64, linux/ppc64le, linux/s390x, linux/386, linux/arm/v7)");
        }
        if !seen.insert(platform.normalized().to_string()) {
            bail!("platform {text:?} listed twice");
        }
    }
    Ok(())
}

/// Recursively sorts object keys (serde_json keeps insertion order here).
fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[kubernetes]
version = "1.29.1"

[[images]]
name = "metalk8s-utils"
version = "0.1.0"
source = "build"

[[images]]
name = "coredns/coredns"
version = "v1.11.1"
source = "registry.k8s.io"
digest = "sha256:1eeb4c7316bacb1d4c8ead65571cd92dd21e27359f0d4917f1a5822a73b75db1"

[[repositories]]
id = "metalk8s-scality-el8"
release = "8"

[[packages]]
name = "metalk8s-release"
repository = "metalk8s-scality-el8"
source = "build"
"#;

    #[test]
    fn parses_and_renders_salt_json() {
        let v = Versions::parse(OK).unwrap();
        assert_eq!(v.images.len(), 2);
        let json = serde_json::to_string_pretty(&v.to_salt_json("0.1.0-dev", false)).unwrap();
        assert!(
            json.starts_with("{\n  \"images\": {\n    \"coredns/coredns\""),
            "{json}"
        );
        assert!(json.contains("\"repositories\": [\n    {\n      \"id\": \"metalk8s-scality-el8\""));
    }

    #[test]
    fn every_version_of_an_image_is_listed() {
        let text = format!(
            "{OK}\n[[images]]\nname = \"metalk8s-utils\"\nversion = \"0.2.0\"\nsource = \"build\"\n"
        );
        let v = Versions::parse(&text).unwrap();
        let json = v.to_salt_json("1", false);
        let utils = &json["images"]["metalk8s-utils"];
        assert_eq!(
            utils["version"], "0.1.0",
            "the first listed stays the default"
        );
        let listed: Vec<&str> = utils["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ["0.1.0", "0.2.0"]);
        assert_eq!(
            json["images"]["coredns/coredns"]["versions"][0]["digest"],
            json["images"]["coredns/coredns"]["digest"]
        );
    }

    #[test]
    fn rejects_bad_entries() {
        let cases = [
            (OK.replace("name = \"metalk8s-utils\"", "name = \"../etc\""), "image name"),
            (OK.replace("version = \"0.1.0\"", "version = \"a b\""), "version (tag)"),
            (OK.replace("repository = \"metalk8s-scality-el8\"", "repository = \"nope\""), "is not listed"),
            (OK.replace("release = \"8\"", "release = \"8; rm\""), "release must be a number"),
            (OK.replace("source = \"build\"\n\n[[images]]", "source = \"build\"\nextra = 1\n\n[[images]]"), "unknown field"),
            (OK.replace("[kubernetes]", "[kubernetes"), "unclosed table"),
            (OK.replace("source = \"registry.k8s.io\"", "source = \"reg;istry\""), "source must be"),
            (format!("{OK}\n[[images]]\nname = \"metalk8s-utils\"\nversion = \"0.1.0\"\nsource = \"build\"\n"), "listed twice"),
            (OK.replace("sha256:1eeb4c", "sha256:XYZ"), "64 lower-case hex"),
            (format!("{OK}\n[[registries]]\nhost = \"a b\"\n"), "host must be"),
            (format!("{OK}\n[[registries]]\nhost = \"r.io\"\ninsecure = \"yes\"\n"), "invalid type"),
            (format!("{OK}\n[[registries]]\nhost = \"r.io\"\n[[registries]]\nhost = \"r.io\"\n"), "listed twice"),
            (format!("platforms = []\n{OK}"), "platforms is empty"),
            (format!("platforms = [\"windows/amd64\"]\n{OK}"), "not a platform of the nodes"),
            (format!("platforms = [\"linux/riscv64\"]\n{OK}"), "not a platform of the nodes"),
            (format!("platforms = [\"Linux/AMD64\"]\n{OK}"), "not a platform of the nodes"),
            (format!("platforms = [\"linux/arm64\", \"linux/arm64\"]\n{OK}"), "listed twice"),
            (format!("{OK}\n[[images]]\nname = \"metalk8s-utils/0.1.0\"\nversion = \"1\"\nsource = \"build\"\n"), "would be the directory of both"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Versions::parse(&text).unwrap_err());
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }
}

/// One grammar for every reader of image names: what `versions.toml` accepts, the puller,
/// the registry generator and the Solution validator accept; what it refuses is refused
/// naming the rule, before any network or disk work.
#[cfg(test)]
mod grammar_properties {
    use super::*;
    use buildchain_oci_types::name::{COMPONENT_RULE, TAG_RULE};
    use buildchain_oci_types::ImageReference;
    use proptest::prelude::*;

    fn versions_with(name: &str, tag: &str) -> String {
        let esc = |s: &str| serde_json::to_string(s).unwrap_or_default();
        format!(
            "[kubernetes]\nversion = \"1.29.1\"\n[[images]]\nname = {}\nversion = {}\nsource = \"registry.example.com\"\ndigest = \"sha256:{}\"\n",
            esc(name),
            esc(tag),
            "a".repeat(64)
        )
    }

    /// The generator over a tree holding this one image (`/` is `:` on disk).
    fn generator_accepts(name: &str, tag: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let tag_dir = dir.path().join(name.replace('/', ":")).join(tag);
        if std::fs::create_dir_all(&tag_dir).is_err() {
            return false;
        }
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:{}"}},"layers":[]}}"#,
            "b".repeat(64)
        );
        std::fs::write(tag_dir.join("manifest.json"), manifest).unwrap();
        static_container_registry::generate(dir.path(), &Default::default()).is_ok()
    }

    /// The Solution validator finds no name or tag problem in `images/<name>/<tag>/`.
    fn validator_accepts(name: &str, tag: &str) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let tag_dir = dir.path().join("images").join(name).join(tag);
        if std::fs::create_dir_all(&tag_dir).is_err() {
            return false;
        }
        match solution_archive::validate_path(dir.path()) {
            Ok(report) => !report
                .findings
                .iter()
                .any(|f| f.rule == solution_archive::Rule::ImagesName),
            Err(_) => false,
        }
    }

    fn name_part() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]{1,6}([._-]{1,2}[a-z0-9]{1,6}){0,2}",
            "[a-zA-Z0-9._\\-{};$ \n]{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn accepted_by_versions_toml_means_accepted_everywhere(
            first in name_part(),
            second in proptest::option::of(name_part()),
            tag in "[a-zA-Z0-9._\\-{};$ \n]{0,10}|[A-Za-z0-9_][A-Za-z0-9._-]{0,12}",
        ) {
            let name = match &second {
                Some(s) => format!("{first}/{s}"),
                None => first.clone(),
            };
            match Versions::parse(&versions_with(&name, &tag)) {
                Ok(_) => {
                    prop_assert!(generator_accepts(&name, &tag), "generator refused {name:?}:{tag:?}");
                    let reference = format!("registry.example.com/{name}:{tag}");
                    prop_assert!(ImageReference::parse(&reference).is_ok(), "puller refused {reference:?}");
                    if second.is_none() {
                        prop_assert!(validator_accepts(&name, &tag), "validator refused {name:?}:{tag:?}");
                    }
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    prop_assert!(
                        text.contains(COMPONENT_RULE) || text.contains(TAG_RULE) || text.contains("more than 255"),
                        "a refusal must name the rule: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn hostile_names_are_refused_at_load() {
        let long = "a".repeat(256);
        for (name, tag) in [
            ("..", "1"),
            ("a{b", "1"),
            ("a;b", "1"),
            ("a$b", "1"),
            ("a\nb", "1"),
            ("Upper", "1"),
            (long.as_str(), "1"),
            ("ok", "1;x"),
            ("ok", "{x}"),
            ("ok", "a\nb"),
            ("ok", ".."),
        ] {
            let err = Versions::parse(&versions_with(name, tag)).unwrap_err();
            let text = format!("{err:#}");
            assert!(
                text.contains(COMPONENT_RULE)
                    || text.contains(TAG_RULE)
                    || text.contains("more than 255"),
                "{name:?}:{tag:?}: {text}"
            );
        }
    }
}

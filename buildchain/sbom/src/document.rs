//! The SPDX 2.3 document: a root package (the product), images with their layers, RPMs,
//! and the relationships between them, rendered deterministically.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::purl;

/// An SPDX element identifier (`SPDXRef-…`: letters, digits, `.` and `-`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpdxId(String);

impl SpdxId {
    /// `SPDXRef-<kind>-<parts…>`, each part's other characters replaced by `-`.
    fn new(kind: &str, parts: &[&str]) -> SpdxId {
        let mut id = format!("SPDXRef-{kind}");
        for part in parts {
            id.push('-');
            id.extend(part.chars().map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            }));
        }
        SpdxId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who supplies a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Supplier {
    /// Built by this organization (the product's own artifacts).
    Organization(String),
    /// Pulled or downloaded: the supplier is not asserted.
    NoAssertion,
}

impl Supplier {
    fn field(&self) -> String {
        match self {
            Supplier::Organization(name) => format!("Organization: {name}"),
            Supplier::NoAssertion => "NOASSERTION".into(),
        }
    }
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `sha256:<hex>`.
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// One image shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub tag: String,
    /// `sha256:<hex>` of the image manifest shipped.
    pub manifest_digest: String,
    /// `os/arch[/variant]`, from the image configuration.
    pub platform: Option<String>,
    pub layers: Vec<Layer>,
    /// Where it was pulled from (`registry/name`); `None` when built here.
    pub source: Option<String>,
    /// What the tag named at the source when it was an index (the manifest is one of its
    /// platforms).
    pub index_digest: Option<String>,
    pub supplier: Supplier,
}

/// One RPM shipped (or resolved against, in a base repository).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rpm {
    pub name: String,
    pub epoch: u32,
    pub version: String,
    pub release: String,
    pub arch: String,
    /// Lower-case hex SHA-256 of the file; `None` for a package not shipped.
    pub sha256: Option<String>,
    /// The license its header declares (any text: not an SPDX expression is kept as a
    /// `LicenseRef-`); `None`: not known.
    pub license: Option<String>,
    /// The id of the repository it is in (or was resolved in).
    pub repository: String,
    /// Where it was downloaded from; `None` when built here or not shipped.
    pub download_location: Option<String>,
    pub supplier: Supplier,
}

impl Rpm {
    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        match self.epoch {
            0 => format!("{}-{}", self.version, self.release),
            epoch => format!("{epoch}:{}-{}", self.version, self.release),
        }
    }
}

/// A bill of materials under construction.
#[derive(Debug, Clone)]
pub struct Sbom {
    name: String,
    created: String,
    creators: Vec<String>,
    root: SpdxId,
    packages: BTreeMap<SpdxId, Value>,
    relationships: BTreeSet<(SpdxId, &'static str, SpdxId)>,
    /// `LicenseRef-…` → the license text it stands for.
    extracted: BTreeMap<String, String>,
}

impl Sbom {
    /// A document named `name` (the product id) describing the product `product` at
    /// `version`, supplied by `organization`, created at `created` (RFC 3339 UTC, the
    /// build's epoch) by `tool` (`buildchain-0.1.0`).
    pub fn new(
        name: &str,
        product: &str,
        version: &str,
        organization: &str,
        created: &str,
        tool: &str,
    ) -> Sbom {
        let root = SpdxId::new("Product", &[name]);
        let mut packages = BTreeMap::new();
        packages.insert(
            root.clone(),
            json!({
                "SPDXID": root.as_str(),
                "name": product,
                "versionInfo": version,
                "supplier": Supplier::Organization(organization.into()).field(),
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": "OPERATING-SYSTEM",
                "comment": "The product: what its ISO holds.",
            }),
        );
        Sbom {
            name: name.into(),
            created: created.into(),
            creators: vec![
                format!("Organization: {organization}"),
                format!("Tool: {tool}"),
            ],
            root,
            packages,
            relationships: BTreeSet::new(),
            extracted: BTreeMap::new(),
        }
    }

    /// The product's package: what contains everything added.
    pub fn root(&self) -> &SpdxId {
        &self.root
    }

    /// Adds an image (contained by the product) and its layers (contained by the image; a
    /// layer shared by several images is one package). Returns the image's id.
    pub fn add_image(&mut self, image: &Image) -> SpdxId {
        let hex = hex_of(&image.manifest_digest);
        let id = SpdxId::new(
            "Image",
            &[&image.name, &image.tag, &hex[..hex.len().min(12)]],
        );
        let arch = image.platform.as_deref().and_then(|p| p.split('/').nth(1));
        let purl = purl::oci(
            &image.name,
            &image.manifest_digest,
            arch,
            image.source.as_deref(),
            &image.tag,
        );
        let mut comment = match &image.source {
            Some(source) => format!("Pulled from {source}:{}", image.tag),
            None => "Not pulled by the build: built, or shipped as provided.".to_string(),
        };
        if let Some(platform) = &image.platform {
            comment.push_str(&format!(" Platform {platform}."));
        }
        if let Some(index) = &image.index_digest {
            comment.push_str(&format!(" The tag named the index {index}."));
        }
        self.packages.insert(
            id.clone(),
            json!({
                "SPDXID": id.as_str(),
                "name": image.name,
                "versionInfo": image.tag,
                "supplier": image.supplier.field(),
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "checksums": [{"algorithm": "SHA256", "checksumValue": hex}],
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": "CONTAINER",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl,
                }],
                "comment": comment,
            }),
        );
        self.relate(&self.root.clone(), "CONTAINS", &id);
        for layer in &image.layers {
            let layer_hex = hex_of(&layer.digest);
            let layer_id = SpdxId::new("Layer", &[&layer_hex]);
            self.packages.entry(layer_id.clone()).or_insert_with(|| {
                json!({
                    "SPDXID": layer_id.as_str(),
                    "name": layer.digest,
                    "downloadLocation": "NOASSERTION",
                    "filesAnalyzed": false,
                    "checksums": [{"algorithm": "SHA256", "checksumValue": layer_hex}],
                    "licenseConcluded": "NOASSERTION",
                    "licenseDeclared": "NOASSERTION",
                    "copyrightText": "NOASSERTION",
                    "primaryPackagePurpose": "ARCHIVE",
                    "comment": format!("Image layer, {} bytes, {}.", layer.size, layer.media_type),
                })
            });
            self.relate(&id, "CONTAINS", &layer_id);
        }
        id
    }

    /// Adds an RPM; a shipped one (with a sha256) is contained by the product. Returns its
    /// id.
    pub fn add_rpm(&mut self, rpm: &Rpm) -> SpdxId {
        let nevra = format!("{}-{}.{}", rpm.name, rpm.evr(), rpm.arch);
        let id = SpdxId::new("RPM", &[&rpm.repository, &nevra]);
        let license = match rpm.license.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => self.license(text),
            _ => "NOASSERTION".to_string(),
        };
        let purl = purl::rpm(
            &rpm.repository,
            &rpm.name,
            rpm.epoch,
            &rpm.version,
            &rpm.release,
            &rpm.arch,
        );
        let mut package = json!({
            "SPDXID": id.as_str(),
            "name": rpm.name,
            "versionInfo": rpm.evr(),
            "supplier": rpm.supplier.field(),
            "downloadLocation": rpm
                .download_location
                .as_deref()
                .filter(|url| is_spdx_url(url))
                .unwrap_or("NOASSERTION"),
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license,
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "INSTALL",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }],
            "comment": match (&rpm.sha256, &rpm.supplier) {
                (None, _) => format!("In the base repository {}: resolved against, not shipped.", rpm.repository),
                (Some(_), Supplier::Organization(_)) => format!("Built by the build chain, in the repository {}.", rpm.repository),
                (Some(_), Supplier::NoAssertion) => match &rpm.download_location {
                    Some(url) => format!("Downloaded from {url}, in the repository {}.", rpm.repository),
                    None => format!("Downloaded, in the repository {}.", rpm.repository),
                },
            },
        });
        if let Some(sha256) = &rpm.sha256 {
            package["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha256}]);
            self.relate(&self.root.clone(), "CONTAINS", &id);
        }
        self.packages.insert(id.clone(), package);
        id
    }

    /// `from` DEPENDS_ON `to` (a requirement the resolver satisfied with `to`).
    pub fn depends_on(&mut self, from: &SpdxId, to: &SpdxId) {
        self.relate(from, "DEPENDS_ON", to);
    }

    fn relate(&mut self, from: &SpdxId, kind: &'static str, to: &SpdxId) {
        self.relationships.insert((from.clone(), kind, to.clone()));
    }

    /// `text` as an SPDX license expression, or a `LicenseRef-` standing for it.
    fn license(&mut self, text: &str) -> String {
        if spdx::Expression::parse(text).is_ok() {
            return text.to_string();
        }
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        let id = format!("LicenseRef-{}", &digest[..16]);
        self.extracted.insert(id.clone(), text.to_string());
        id
    }

    /// The document, as JSON text: packages sorted by id, relationships sorted, the
    /// namespace derived from the content (the same inputs give the same bytes).
    pub fn render(&self) -> String {
        let packages: Vec<&Value> = self.packages.values().collect();
        let mut relationships = vec![json!({
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": self.root.as_str(),
        })];
        relationships.extend(self.relationships.iter().map(|(from, kind, to)| {
            json!({
                "spdxElementId": from.as_str(),
                "relationshipType": kind,
                "relatedSpdxElement": to.as_str(),
            })
        }));
        let extracted: Vec<Value> = self
            .extracted
            .iter()
            .map(|(id, text)| {
                json!({
                    "licenseId": id,
                    "extractedText": text,
                    "name": text,
                    "comment": "As the RPM header declares it (not an SPDX expression).",
                })
            })
            .collect();
        let mut content = Sha256::new();
        for value in packages
            .iter()
            .copied()
            .chain(&relationships)
            .chain(&extracted)
        {
            content.update(value.to_string().as_bytes());
        }
        let content = hex::encode(content.finalize());
        let mut document = json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": self.name,
            "documentNamespace": format!(
                "https://spdx.org/spdxdocs/{}-{}",
                purl::encode(&self.name),
                &content[..32]
            ),
            "creationInfo": {
                "created": self.created,
                "creators": self.creators,
            },
            "packages": packages,
            "relationships": relationships,
        });
        if !extracted.is_empty() {
            document["hasExtractedLicensingInfos"] = Value::Array(extracted);
        }
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Whether `url` is a download location SPDX accepts: `http(s)://` and a host name
/// with a top-level domain (the pattern of the SPDX validators; an IP address or a bare
/// host name is not one: such a location is given in the comment instead).
fn is_spdx_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    let labels: Vec<&str> = host.split('.').collect();
    let tld_ok = labels.last().is_some_and(|tld| {
        (2..=5).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_lowercase())
    });
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    port_ok && tld_ok && labels_ok
}

/// The hex of `sha256:<hex>` (or the text itself without an algorithm).
fn hex_of(digest: &str) -> String {
    digest
        .split_once(':')
        .map_or(digest, |(_, hex)| hex)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Sbom {
        let mut sbom = Sbom::new(
            "product-1.0",
            "Product",
            "1.0",
            "Example",
            "2026-01-01T00:00:00Z",
            "buildchain-0.1.0",
        );
        let layer = Layer {
            digest: format!("sha256:{}", "a".repeat(64)),
            size: 10,
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        };
        for (name, d) in [("one", 'b'), ("two/img", 'c')] {
            sbom.add_image(&Image {
                name: name.into(),
                tag: "1.0".into(),
                manifest_digest: format!("sha256:{}", d.to_string().repeat(64)),
                platform: Some("linux/amd64".into()),
                layers: vec![layer.clone()],
                source: None,
                index_digest: None,
                supplier: Supplier::Organization("Example".into()),
            });
        }
        let rpm = |name: &str, license: &str, sha: Option<&str>| Rpm {
            name: name.into(),
            epoch: 0,
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            sha256: sha.map(Into::into),
            license: Some(license.into()),
            repository: "repo".into(),
            download_location: None,
            supplier: Supplier::NoAssertion,
        };
        let app = sbom.add_rpm(&rpm("app", "GPLv2+", Some(&"d".repeat(64))));
        let lib = sbom.add_rpm(&rpm("lib", "MIT OR Apache-2.0", None));
        sbom.depends_on(&app, &lib);
        sbom
    }

    #[test]
    fn renders_deterministically_with_shared_layers_once() {
        let text = sample().render();
        assert_eq!(text, sample().render());
        let doc: Value = serde_json::from_str(&text).unwrap();
        let packages = doc["packages"].as_array().unwrap();
        // Product, two images, one shared layer, two RPMs.
        assert_eq!(packages.len(), 6, "{text}");
        let relationships = doc["relationships"].as_array().unwrap();
        let count = |kind: &str| {
            relationships
                .iter()
                .filter(|r| r["relationshipType"] == kind)
                .count()
        };
        // Product contains two images and the shipped RPM; each image contains the layer.
        assert_eq!(count("CONTAINS"), 5);
        assert_eq!(count("DEPENDS_ON"), 1);
        assert_eq!(count("DESCRIBES"), 1);
        // A license that is not an SPDX expression is a LicenseRef with its text.
        assert!(text.contains("\"extractedText\": \"GPLv2+\""), "{text}");
        assert!(text.contains("\"licenseDeclared\": \"MIT OR Apache-2.0\""));
    }

    #[test]
    fn download_locations_are_what_spdx_accepts() {
        assert!(is_spdx_url("https://dl.fedoraproject.org/pub/epel/8/x.rpm"));
        assert!(is_spdx_url("http://mirror.example.com:8080/x.rpm"));
        assert!(!is_spdx_url("http://127.0.0.1:8080/x.rpm"));
        assert!(!is_spdx_url("http://localhost/x.rpm"));
        assert!(!is_spdx_url("file:///srv/x.rpm"));
    }

    #[test]
    fn ids_are_valid_spdx_ids() {
        let id = SpdxId::new("Image", &["quay.io/org/img:x", "v1+2"]);
        assert_eq!(id.as_str(), "SPDXRef-Image-quay.io-org-img-x-v1-2");
    }
}

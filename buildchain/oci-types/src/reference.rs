//! Image references (`HOST[:PORT]/NAME[:TAG][@sha256:HEX]`) and platforms (`OS/ARCH[/VARIANT]`).

use crate::digest::Digest;
use crate::name::{check_registry_host, check_repository_name, check_tag};
use std::fmt;

/// A reference that breaks the grammar, with the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    pub reference: String,
    pub reason: String,
}

/// A platform that is not `OS/ARCH[/VARIANT]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {platform:?}: expected OS/ARCH or OS/ARCH/VARIANT")]
pub struct PlatformError {
    pub platform: String,
}

/// A parsed image reference. An optional `docker://` prefix is accepted; a reference
/// without a registry host means Docker Hub (`docker.io`, `library/` for one-part names);
/// one with neither tag nor digest means tag `latest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// Registry as written (`127.0.0.1:5000`, `registry.k8s.io`, `docker.io`).
    pub registry: String,
    /// Repository path on the registry (`library/nginx`, `coredns/coredns`).
    pub repository: String,
    pub tag: Option<String>,
    /// The pinned manifest digest, when given.
    pub digest: Option<Digest>,
}

impl ImageReference {
    /// Parses a reference; the error says which rule the text breaks.
    pub fn parse(text: &str) -> Result<ImageReference, ReferenceError> {
        let invalid = |reason: &str| ReferenceError {
            reference: text.to_string(),
            reason: reason.to_string(),
        };
        let rest = text.strip_prefix("docker://").unwrap_or(text);
        if rest.is_empty() {
            return Err(invalid("empty reference"));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((name, digest)) => (
                name,
                Some(Digest::parse(digest).map_err(|reason| invalid(&reason))?),
            ),
            None => (rest, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon + 1..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ if name.contains('/') => ("docker.io".to_string(), name.to_string()),
            _ => ("docker.io".to_string(), format!("library/{name}")),
        };
        check_registry_host(&registry).map_err(|e| invalid(&e.to_string()))?;
        check_repository_name(&repository).map_err(|e| invalid(&e.to_string()))?;
        if let Some(tag) = &tag {
            check_tag(tag).map_err(|e| invalid(&e.to_string()))?;
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(ImageReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What the manifest is fetched by: the pinned digest when given, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host the Registry API is served from (Docker Hub's API lives elsewhere).
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// A target platform for index selection (default `linux/amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    /// Parses `OS/ARCH` or `OS/ARCH/VARIANT`.
    pub fn parse(text: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(PlatformError {
                platform: text.to_string(),
            }),
        }
    }
}

impl Platform {
    /// The platform with its default variant said (`linux/arm64` is `linux/arm64/v8`, as
    /// containerd normalises it): two platforms are the same when these are equal.
    pub fn normalized(&self) -> Platform {
        let variant = match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            (_, v) => v.map(str::to_string),
        };
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant,
        }
    }

    /// Whether an index entry of platform `entry` serves this platform: same OS and
    /// architecture, and the same variant when this one names one (defaults normalised).
    pub fn is_served_by(&self, entry: &Platform) -> bool {
        let (want, have) = (self.normalized(), entry.normalized());
        want.os == have.os
            && want.architecture == have.architecture
            && (self.variant.is_none() || want.variant == have.variant)
    }
}

impl From<&oci_spec::image::Platform> for Platform {
    fn from(p: &oci_spec::image::Platform) -> Self {
        Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_references() {
        let r = ImageReference::parse("127.0.0.1:5000/metalk8s/utils:0.1.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "metalk8s/utils");
        assert_eq!(r.tag.as_deref(), Some("0.1.0"));
        assert!(r.digest.is_none());

        let r = ImageReference::parse(&format!("docker://registry.k8s.io/pause:3.9@sha256:{HEX}"))
            .unwrap();
        assert_eq!(r.registry, "registry.k8s.io");
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(
            r.to_string(),
            format!("registry.k8s.io/pause:3.9@sha256:{HEX}")
        );

        let r = ImageReference::parse("nginx").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.api_host(), "registry-1.docker.io");

        let r = ImageReference::parse(&format!("localhost/a@sha256:{HEX}")).unwrap();
        assert_eq!(r.registry, "localhost");
        assert!(r.tag.is_none());
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "",
            "docker://",
            "host.io/UPPER:1",
            "host.io/a/../b:1",
            "host.io/a:bad tag",
            "host.io/a@sha256:123",
            "host.io:99999/a:1",
            "host.io/a:-x",
            "ho st.io/a:1",
            "host.io//a",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(Platform::parse("linux/amd64").unwrap(), Platform::default());
        assert_eq!(
            Platform::parse("linux/arm64/v8")
                .unwrap()
                .variant
                .as_deref(),
            Some("v8")
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }
}

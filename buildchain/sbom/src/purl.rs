//! Package URLs (<https://github.com/package-url/purl-spec>) of images and RPMs.

/// Percent-encodes what a purl component may not hold as is (RFC 3986 unreserved stays).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `pkg:oci/<last name segment>@sha256%3A<hex>?arch=…&repository_url=…&tag=…`.
pub(crate) fn oci(
    name: &str,
    manifest_digest: &str,
    arch: Option<&str>,
    repository_url: Option<&str>,
    tag: &str,
) -> String {
    let last = name.rsplit('/').next().unwrap_or(name).to_lowercase();
    let mut qualifiers = Vec::new();
    if let Some(arch) = arch {
        qualifiers.push(format!("arch={}", encode(arch)));
    }
    if let Some(url) = repository_url {
        qualifiers.push(format!("repository_url={}", encode(url)));
    }
    qualifiers.push(format!("tag={}", encode(tag)));
    format!(
        "pkg:oci/{}@{}?{}",
        encode(&last),
        encode(manifest_digest),
        qualifiers.join("&")
    )
}

/// `pkg:rpm/<namespace>/<name>@<version>-<release>?arch=…[&epoch=…]`.
pub(crate) fn rpm(
    namespace: &str,
    name: &str,
    epoch: u32,
    version: &str,
    release: &str,
    arch: &str,
) -> String {
    let mut purl = format!(
        "pkg:rpm/{}/{}@{}-{}?arch={}",
        encode(&namespace.to_lowercase()),
        encode(name),
        encode(version),
        encode(release),
        encode(arch)
    );
    if epoch != 0 {
        purl.push_str(&format!("&epoch={epoch}"));
    }
    purl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_follow_the_spec_examples() {
        assert_eq!(
            oci(
                "library/debian",
                "sha256:244fd47e07d10",
                Some("amd64"),
                Some("docker.io/library/debian"),
                "latest"
            ),
            "pkg:oci/debian@sha256%3A244fd47e07d10?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=latest"
        );
        assert_eq!(
            rpm("fedora", "curl", 1, "7.50.3", "1.fc25", "i386"),
            "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&epoch=1"
        );
    }
}

//! The certificates trusted: the system's bundle (`SSL_CERT_FILE`, else Debian's and
//! Red Hat's usual paths, as curl and skopeo use it), plus an extra CA file for a private
//! registry or mirror; Mozilla's roots when the system has no bundle.

use std::path::Path;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::HttpError;

const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(Result::ok)
        .filter_map(|item| match item {
            PemItem::Certificate(c) => Some(c.to_owned()),
            _ => None,
        })
        .collect()
}

/// The TLS configuration: system roots plus those of `ca_file` (an error naming the file
/// when it cannot be read or holds no certificate).
pub(crate) fn config(ca_file: Option<&Path>) -> Result<TlsConfig, HttpError> {
    let system = std::env::var("SSL_CERT_FILE")
        .ok()
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(|s| s.to_string()))
        .find_map(|path| std::fs::read(path).ok())
        .map(|pem| certificates(&pem))
        .unwrap_or_default();
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| HttpError::Config(format!("CA file {}: {e}", path.display())))?;
        extra = certificates(&pem);
        if extra.is_empty() {
            return Err(HttpError::Config(format!(
                "CA file {}: no PEM certificate in it",
                path.display()
            )));
        }
    }
    let roots = if system.is_empty() && extra.is_empty() {
        RootCerts::WebPki
    } else {
        let all: Vec<Certificate<'static>> = system.into_iter().chain(extra).collect();
        RootCerts::new_with_certs(&all)
    };
    Ok(TlsConfig::builder().root_certs(roots).build())
}

//! An OCI registry repository as a store of artifacts (what `buildchain-cache` keeps task
//! outputs in): manifests by tag, blobs by digest, both ways, every digest verified. The
//! same client, credentials, TLS and limits as pulls.

use std::io::{Read, Write};
use std::path::Path;

use buildchain_http::Method;
use buildchain_oci_types::{Digest, ImageReference};

use crate::auth::{default_auth_file, lookup_credentials};
use crate::registry::RegistryClient;
use crate::OciError;

/// OCI image manifests (artifacts are image manifests with an `artifactType`).
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Largest artifact manifest read.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// A repository of a registry, `host[:port]/name`.
pub struct ArtifactStore {
    client: RegistryClient,
    location: String,
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore")
            .field("location", &self.location)
            .finish()
    }
}

impl ArtifactStore {
    /// The repository at `location` (`host[:port]/name`), over plain HTTP when `insecure`;
    /// credentials from `auth_file` (else $REGISTRY_AUTH_FILE, else ~/.docker/config.json).
    pub fn open(
        location: &str,
        insecure: bool,
        auth_file: Option<&Path>,
        http: &buildchain_http::Config,
    ) -> Result<ArtifactStore, OciError> {
        let reference = ImageReference::parse(&format!("{location}:cache"))?;
        // Used as given: a bare name would be read as a Docker Hub repository.
        let host = location.split('/').next().unwrap_or("");
        if reference.registry != host {
            return Err(OciError::Transfer {
                image: location.to_string(),
                what: "the repository".into(),
                detail: format!(
                    "{host} is not a registry host: give HOST:PORT or a name with a dot (a bare name would mean Docker Hub)"
                ),
            });
        }
        let credentials = match default_auth_file(auth_file) {
            Some(file) => lookup_credentials(&file, &reference.registry)?,
            None => None,
        };
        Ok(ArtifactStore {
            client: RegistryClient::new(&reference, insecure, credentials, http)?,
            location: location.to_string(),
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// GET with retries (transient failures), authenticated.
    fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<buildchain_http::Response, OciError> {
        self.client.retry.run(
            |_| self.client.attempt(url, accept, what),
            |_, _| {},
            |why, attempts| OciError::Unreachable {
                image: self.location.clone(),
                registry: self.client.registry().to_string(),
                detail: format!("{what}: {why} (after {attempts} attempts)"),
            },
        )
    }

    /// The manifest tagged `tag`, `None` when there is none.
    pub fn manifest(&self, tag: &str) -> Result<Option<Vec<u8>>, OciError> {
        let url = format!("{}/manifests/{tag}", self.client.base());
        let what = format!("manifest {tag}");
        match self.get(&url, Some(OCI_MANIFEST), &what) {
            Ok(response) => Ok(Some(
                response
                    .read_all(MAX_MANIFEST_BYTES, &what)
                    .map_err(|e| self.client.transport_error(&what, &e, 1))?,
            )),
            Err(OciError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The blob `digest`, at most `limit` bytes, verified.
    pub fn blob_bytes(&self, digest: &Digest, limit: u64) -> Result<Vec<u8>, OciError> {
        let what = format!("blob {digest}");
        let bytes = self
            .get(&self.client.blob_url(digest), None, &what)?
            .read_all(limit, &what)
            .map_err(|e| self.client.transport_error(&what, &e, 1))?;
        if Digest::of(&bytes) != *digest {
            return Err(self.mismatch(digest, "its content has another digest"));
        }
        Ok(bytes)
    }

    /// Writes the blob `digest` of `size` bytes to `out`, verifying both as it reads;
    /// `Err` on any difference (what was written must then be thrown away).
    pub fn blob_to(&self, digest: &Digest, size: u64, out: &mut dyn Write) -> Result<(), OciError> {
        let what = format!("blob {digest}");
        let response = self.get(&self.client.blob_url(digest), None, &what)?;
        let mut reader = response.into_reader(size + 1, &what);
        let mut hasher = buildchain_oci_types::HashingWriter::new(out);
        let mut buf = vec![0u8; 256 << 10];
        let mut copied = 0u64;
        loop {
            // A stalled or cut connection is a transfer error (the registry's), a
            // failing write an error of this machine: each said as such.
            let n = match reader.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    return Err(OciError::Transfer {
                        image: self.location.clone(),
                        what,
                        detail: e.to_string(),
                    })
                }
            };
            if n == 0 {
                break;
            }
            hasher
                .write_all(&buf[..n])
                .map_err(|e| OciError::Transfer {
                    image: self.location.clone(),
                    what: format!("writing {what}"),
                    detail: e.to_string(),
                })?;
            copied += n as u64;
        }
        let (_, actual, _) = hasher.finish();
        if copied != size {
            return Err(self.mismatch(digest, &format!("{copied} bytes, {size} announced")));
        }
        if actual != *digest {
            return Err(self.mismatch(digest, "its content has another digest"));
        }
        Ok(())
    }

    fn mismatch(&self, digest: &Digest, detail: &str) -> OciError {
        OciError::BlobVerification {
            image: self.location.clone(),
            digest: digest.to_string(),
            detail: detail.to_string(),
        }
    }

    /// One request without a body.
    fn call(
        &self,
        method: Method,
        url: &str,
        what: &str,
    ) -> Result<buildchain_http::Response, OciError> {
        self.client.send(method, url, &[], &mut || Ok(None), what)
    }

    /// Whether the repository has the blob `digest`.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool, OciError> {
        let url = self.client.blob_url(digest);
        let what = format!("blob {digest}");
        let response = self.call(Method::Head, &url, &what)?;
        match response.status() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(self.client.http_error(&what, status, &url, response)),
        }
    }

    /// Uploads the blob `digest` of `size` bytes read from `open()` (called for each
    /// sending), unless the repository has it. Monolithic upload: POST, then PUT.
    pub fn push_blob(
        &self,
        digest: &Digest,
        size: u64,
        open: &mut dyn FnMut() -> Result<Box<dyn Read>, OciError>,
    ) -> Result<bool, OciError> {
        if self.has_blob(digest)? {
            return Ok(false);
        }
        let what = format!("upload of blob {digest}");
        let start = format!("{}/blobs/uploads/", self.client.base());
        let response = self.call(Method::Post, &start, &what)?;
        if response.status() != 202 {
            return Err(self
                .client
                .http_error(&what, response.status(), &start, response));
        }
        let location = response
            .header("location")
            .map(str::to_string)
            .ok_or_else(|| self.protocol(&what, "HTTP 202 without a Location"))?;
        let url = self.same_registry(&location, &what)?;
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}digest={digest}");
        let response = self.client.send(
            Method::Put,
            &url,
            &[("content-type", "application/octet-stream")],
            &mut || Ok(Some((open()?, size))),
            &what,
        )?;
        if response.status() != 201 {
            return Err(self
                .client
                .http_error(&what, response.status(), &url, response));
        }
        Ok(true)
    }

    /// Tags `bytes` (an OCI manifest whose blobs are all pushed) as `tag`.
    pub fn put_manifest(&self, tag: &str, bytes: &[u8]) -> Result<Digest, OciError> {
        let url = format!("{}/manifests/{tag}", self.client.base());
        let what = format!("manifest {tag}");
        let response = self.client.send(
            Method::Put,
            &url,
            &[("content-type", OCI_MANIFEST)],
            &mut || {
                Ok(Some((
                    Box::new(std::io::Cursor::new(bytes.to_vec())) as Box<dyn Read>,
                    bytes.len() as u64,
                )))
            },
            &what,
        )?;
        if response.status() != 201 {
            return Err(self
                .client
                .http_error(&what, response.status(), &url, response));
        }
        Ok(Digest::of(bytes))
    }

    /// Every tag of the repository (none when it does not exist yet).
    pub fn tags(&self) -> Result<Vec<String>, OciError> {
        let url = format!("{}/tags/list?n=100000", self.client.base());
        let what = "tags list";
        let response = match self.get(&url, None, what) {
            Ok(response) => response,
            Err(OciError::Http { status: 404, .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let bytes = response
            .read_all(64 << 20, what)
            .map_err(|e| self.client.transport_error(what, &e, 1))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.protocol(what, &format!("not JSON: {e}")))?;
        Ok(value
            .get("tags")
            .and_then(|t| t.as_array())
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Deletes the blob `digest` (one found corrupt, before it is sent again); a blob the
    /// repository does not have is not an error.
    pub fn delete_blob(&self, digest: &Digest) -> Result<(), OciError> {
        let url = self.client.blob_url(digest);
        let what = format!("delete of blob {digest}");
        let response = self.call(Method::Delete, &url, &what)?;
        match response.status() {
            200 | 202 | 404 => Ok(()),
            status => Err(self.client.http_error(&what, status, &url, response)),
        }
    }

    /// Deletes the manifest `digest` (and so its tags). A registry that does not allow
    /// deletes answers 405: said as such.
    pub fn delete_manifest(&self, digest: &Digest) -> Result<(), OciError> {
        let url = format!("{}/manifests/{digest}", self.client.base());
        let what = format!("delete of manifest {digest}");
        let response = self.call(Method::Delete, &url, &what)?;
        match response.status() {
            200 | 202 => Ok(()),
            405 => Err(self.protocol(
                &what,
                "HTTP 405: this registry does not allow deletes (distribution: storage.delete.enabled: true)",
            )),
            status => Err(self.client.http_error(&what, status, &url, response)),
        }
    }

    fn protocol(&self, what: &str, detail: &str) -> OciError {
        OciError::Transfer {
            image: self.location.clone(),
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    /// An upload Location, absolute: relative ones are joined to the registry; an absolute
    /// one elsewhere is refused (a registry does not send uploads to another host).
    fn same_registry(&self, location: &str, what: &str) -> Result<String, OciError> {
        let base = self.client.base();
        let origin_end = base.find("/v2/").unwrap_or(base.len());
        let origin = &base[..origin_end];
        if location.starts_with('/') {
            return Ok(format!("{origin}{location}"));
        }
        if location.starts_with(&format!("{origin}/")) {
            return Ok(location.to_string());
        }
        Err(self.protocol(
            what,
            &format!(
                "the registry sends the upload elsewhere ({}): refused",
                buildchain_http::printable(location)
            ),
        ))
    }
}

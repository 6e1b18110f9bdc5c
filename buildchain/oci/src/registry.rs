//! A small blocking Registry API v2 client: manifests and blobs by reference, anonymous /
//! basic / bearer-token auth, retries with backoff on network errors, 429 and 5xx.

use crate::auth::{parse_challenge, Challenge, Credentials};
use crate::OciError;
use buildchain_oci_types::ImageReference;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use std::sync::Mutex;
use std::time::Duration;

/// Time limit of a manifest or token request (connection to end of body).
pub(crate) const MANIFEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Time limit of a blob request: a minute plus the time to receive it at 64 KiB/s, so a
/// stalled connection is retried rather than waited on forever.
pub(crate) fn blob_timeout(size: u64) -> Duration {
    Duration::from_secs(60 + size / (64 << 10))
}

/// Retry policy for transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

pub(crate) struct RegistryClient {
    http: Client,
    base: String,
    reference: ImageReference,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
    pub(crate) retry: RetryPolicy,
}

impl RegistryClient {
    pub(crate) fn new(
        reference: &ImageReference,
        insecure: bool,
        credentials: Option<Credentials>,
        retry: RetryPolicy,
    ) -> Result<RegistryClient, OciError> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(None)
            .user_agent(concat!("buildchain-oci/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::Unreachable {
                image: reference.to_string(),
                registry: reference.registry.clone(),
                detail: format!("cannot set up the HTTP client: {e}"),
            })?;
        let scheme = if insecure { "http" } else { "https" };
        Ok(RegistryClient {
            http,
            base: format!(
                "{scheme}://{}/v2/{}",
                reference.api_host(),
                reference.repository
            ),
            reference: reference.clone(),
            credentials,
            authorization: Mutex::new(None),
            retry,
        })
    }

    pub(crate) fn registry(&self) -> &str {
        &self.reference.registry
    }

    pub(crate) fn image(&self) -> String {
        self.reference.to_string()
    }

    pub(crate) fn manifest_url(&self, reference: &str) -> String {
        format!("{}/manifests/{reference}", self.base)
    }

    pub(crate) fn blob_url(&self, digest: &buildchain_oci_types::Digest) -> String {
        format!("{}/blobs/{digest}", self.base)
    }

    /// GETs `url`, authenticating on 401 and retrying transient failures. Returns the
    /// successful response; a non-success status is an [`OciError::Http`] naming `what`.
    pub(crate) fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
        timeout: Duration,
    ) -> Result<Response, OciError> {
        let mut attempt = 0;
        let mut authenticated_after_401 = false;
        loop {
            let mut request = self.http.get(url).timeout(timeout);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(auth) = self.current_authorization() {
                request = request.header(AUTHORIZATION, auth);
            }
            let failure = match request.send() {
                Err(e) => describe_reqwest_error(&e),
                Ok(response) => {
                    let status = response.status();
                    if status == StatusCode::UNAUTHORIZED {
                        if authenticated_after_401 {
                            return Err(self.auth_refused(format!(
                                "{what}: HTTP 401 from {url} even with credentials{}",
                                self.credentials_note()
                            )));
                        }
                        self.authenticate(&response)?;
                        authenticated_after_401 = true;
                        continue;
                    }
                    if status.is_success() {
                        return Ok(response);
                    }
                    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                        format!("HTTP {status}")
                    } else {
                        let body = response.text().unwrap_or_default();
                        return Err(self.http_error(what, status, url, &body));
                    }
                }
            };
            if attempt >= self.retry.retries {
                return Err(OciError::Unreachable {
                    image: self.image(),
                    registry: self.reference.registry.clone(),
                    detail: format!("{what}: {failure} (after {} attempts)", attempt + 1),
                });
            }
            self.sleep_before_retry(attempt);
            attempt += 1;
        }
    }

    pub(crate) fn sleep_before_retry(&self, attempt: u32) {
        let factor = 1u32 << attempt.min(10);
        std::thread::sleep(self.retry.backoff.saturating_mul(factor));
    }

    pub(crate) fn http_error(
        &self,
        what: &str,
        status: StatusCode,
        url: &str,
        body: &str,
    ) -> OciError {
        let code = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?;
                Some(format!(
                    "{} {}",
                    e.get("code")?.as_str()?,
                    e.get("message").and_then(|m| m.as_str()).unwrap_or("")
                ))
            })
            .map(|c| format!(" ({})", c.trim()))
            .unwrap_or_default();
        if status == StatusCode::FORBIDDEN {
            return self.auth_refused(format!("{what}: HTTP 403 from {url}{code}"));
        }
        OciError::Http {
            image: self.image(),
            what: what.to_string(),
            status: status.as_u16(),
            url: url.to_string(),
            detail: code,
        }
    }

    fn current_authorization(&self) -> Option<String> {
        self.authorization.lock().ok().and_then(|a| a.clone())
    }

    fn credentials_note(&self) -> &'static str {
        if self.credentials.is_some() {
            ""
        } else {
            " (no credentials for this registry in the auth file)"
        }
    }

    fn auth_refused(&self, detail: String) -> OciError {
        OciError::AuthRefused {
            image: self.image(),
            registry: self.reference.registry.clone(),
            detail,
        }
    }

    /// Answers a 401 challenge: basic credentials, or a bearer token from the realm.
    fn authenticate(&self, response: &Response) -> Result<(), OciError> {
        let header = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        let value = match parse_challenge(&header) {
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => basic_header(c),
                None => {
                    return Err(self.auth_refused(format!(
                        "the registry asks for basic auth{}",
                        self.credentials_note()
                    )))
                }
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let scope = scope
                    .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                format!(
                    "Bearer {}",
                    self.fetch_token(&realm, service.as_deref(), &scope)?
                )
            }
            None => {
                return Err(self.auth_refused(format!(
                    "HTTP 401 with an unusable WWW-Authenticate challenge {header:?}"
                )))
            }
        };
        if let Ok(mut slot) = self.authorization.lock() {
            *slot = Some(value);
        }
        Ok(())
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, OciError> {
        let mut url = reqwest::Url::parse(realm)
            .map_err(|e| self.auth_refused(format!("token realm {realm:?} is not a URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", scope);
        }
        let mut attempt = 0;
        loop {
            let mut request = self.http.get(url.clone()).timeout(MANIFEST_TIMEOUT);
            if let Some(c) = &self.credentials {
                request = request.header(AUTHORIZATION, basic_header(c));
            }
            let failure = match request.send() {
                Err(e) => describe_reqwest_error(&e),
                Ok(response) if response.status().is_success() => {
                    let bytes = response.bytes().map_err(|e| {
                        self.auth_refused(format!("token response from {realm}: {e}"))
                    })?;
                    let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                        self.auth_refused(format!("token response from {realm} is not JSON: {e}"))
                    })?;
                    let token = body
                        .get("token")
                        .or_else(|| body.get("access_token"))
                        .and_then(|t| t.as_str())
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| {
                            self.auth_refused(format!("token response from {realm} holds no token"))
                        })?;
                    return Ok(token.to_string());
                }
                Ok(response) if response.status().is_server_error() => {
                    format!("HTTP {}", response.status())
                }
                Ok(response) => {
                    return Err(self.auth_refused(format!(
                        "token request to {realm} refused with HTTP {}{}",
                        response.status(),
                        self.credentials_note()
                    )))
                }
            };
            if attempt >= self.retry.retries {
                return Err(OciError::Unreachable {
                    image: self.image(),
                    registry: self.reference.registry.clone(),
                    detail: format!("token service {realm}: {failure}"),
                });
            }
            self.sleep_before_retry(attempt);
            attempt += 1;
        }
    }
}

fn basic_header(c: &Credentials) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

/// reqwest's Display hides the cause ("error sending request"): walk the chain.
pub(crate) fn describe_reqwest_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

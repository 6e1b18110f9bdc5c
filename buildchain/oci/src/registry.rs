//! A small blocking Registry API v2 client on buildchain-http: manifests and blobs by
//! reference, anonymous / basic / bearer-token auth, the shared retry policy and limits.
//! Credentials go only where they belong: to the registry itself, and to a token realm over
//! https (or over plain http on the host of an `insecure` registry).

use crate::auth::{parse_challenge, Challenge, Credentials};
use crate::OciError;
use buildchain_http::{printable, Attempt, Client, HttpError, Response};
use buildchain_oci_types::ImageReference;
use std::sync::Mutex;

pub use buildchain_http::Retry as RetryPolicy;

/// Largest token response read (a JWT is a few KiB).
pub(crate) const MAX_TOKEN_BYTES: u64 = 64 << 10;
/// Largest error body read (its JSON `errors` are shown).
pub(crate) const MAX_ERROR_BYTES: u64 = 64 << 10;

/// A request body: its bytes and their length.
pub(crate) type Body = (Box<dyn std::io::Read>, u64);

pub(crate) struct RegistryClient {
    http: Client,
    base: String,
    insecure: bool,
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
        http: &buildchain_http::Config,
    ) -> Result<RegistryClient, OciError> {
        let client = Client::new(http.clone()).map_err(|e| OciError::Unreachable {
            image: reference.to_string(),
            registry: reference.registry.clone(),
            detail: e.to_string(),
        })?;
        let scheme = if insecure { "http" } else { "https" };
        Ok(RegistryClient {
            http: client,
            base: format!(
                "{scheme}://{}/v2/{}",
                reference.api_host(),
                reference.repository
            ),
            insecure,
            reference: reference.clone(),
            credentials,
            authorization: Mutex::new(None),
            retry: http.retry,
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

    /// An error of the transport, said for `what`: a connection that never came after the
    /// retries is "unreachable"; a refused redirect, a body too large or too slow, a time
    /// limit are said as such.
    pub(crate) fn transport_error(&self, what: &str, e: &HttpError, attempts: u32) -> OciError {
        let after = if attempts > 1 {
            format!(" (after {attempts} attempts)")
        } else {
            String::new()
        };
        match e {
            HttpError::Connect { .. } => OciError::Unreachable {
                image: self.image(),
                registry: self.reference.registry.clone(),
                detail: format!("{what}: {e}{after}"),
            },
            _ => OciError::Transfer {
                image: self.image(),
                what: what.to_string(),
                detail: format!("{e}{after}"),
            },
        }
    }

    /// One GET of `url` (authenticating on a 401, once); transient failures are
    /// [`Attempt::Retry`], for the caller's one retry loop (which also covers reading the
    /// body: a loop here too would multiply the attempts).
    pub(crate) fn attempt(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response, Attempt<OciError>> {
        let mut authenticated = false;
        loop {
            let authorization = self.current_authorization();
            let mut headers: Vec<(&str, &str)> = Vec::new();
            if let Some(accept) = accept {
                headers.push(("accept", accept));
            }
            if let Some(auth) = authorization.as_deref() {
                headers.push(("authorization", auth));
            }
            let response = match self.http.get(url, &headers, &["authorization"]) {
                Ok(r) => r,
                Err(e) if e.is_transient() => return Err(Attempt::Retry(e.to_string())),
                Err(e) => return Err(Attempt::Fail(self.transport_error(what, &e, 1))),
            };
            let status = response.status();
            if status == 401 {
                if authenticated {
                    return Err(Attempt::Fail(self.auth_refused(format!(
                        "{what}: HTTP 401 from {url} even with credentials{}",
                        self.credentials_note()
                    ))));
                }
                self.authenticate(&response).map_err(Attempt::Fail)?;
                authenticated = true;
                continue;
            }
            if response.is_success() {
                return Ok(response);
            }
            if response.is_transient_status() {
                return Err(Attempt::Retry(format!("HTTP {status} from {url}")));
            }
            return Err(Attempt::Fail(self.http_error(what, status, url, response)));
        }
    }

    /// The repository's base URL (`http[s]://host/v2/<repository>`).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// One request of the write API (HEAD, POST, PUT, DELETE), authenticating on a 401
    /// (the challenge names the scope: `pull,push` for a write) and sending again, once.
    /// `body` is made again for the second sending. Any status is returned.
    pub(crate) fn send(
        &self,
        method: buildchain_http::Method,
        url: &str,
        extra: &[(&str, &str)],
        body: &mut dyn FnMut() -> Result<Option<Body>, OciError>,
        what: &str,
    ) -> Result<Response, OciError> {
        let mut authenticated = false;
        loop {
            let authorization = self.current_authorization();
            let mut headers: Vec<(&str, &str)> = extra.to_vec();
            if let Some(auth) = authorization.as_deref() {
                headers.push(("authorization", auth));
            }
            let mut content = body()?;
            let response = self
                .http
                .send(
                    method,
                    url,
                    &headers,
                    content
                        .as_mut()
                        .map(|(r, n)| (&mut **r as &mut dyn std::io::Read, *n)),
                )
                .map_err(|e| self.transport_error(what, &e, 1))?;
            if response.status() == 401 && !authenticated {
                authenticated = true;
                self.authenticate(&response)?;
                continue;
            }
            return Ok(response);
        }
    }

    /// The error of a non-success status; the registry's JSON `errors` (escaped) said.
    pub(crate) fn http_error(
        &self,
        what: &str,
        status: u16,
        url: &str,
        response: Response,
    ) -> OciError {
        let body = response.text_excerpt(MAX_ERROR_BYTES);
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?;
                Some(format!(
                    "{} {}",
                    e.get("code")?.as_str()?,
                    e.get("message").and_then(|m| m.as_str()).unwrap_or("")
                ))
            })
            .map(|c| format!(" ({})", printable(c.trim())))
            .unwrap_or_default();
        if status == 403 {
            return self.auth_refused(format!("{what}: HTTP 403 from {}{code}", printable(url)));
        }
        OciError::Http {
            image: self.image(),
            what: what.to_string(),
            status,
            url: printable(url),
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
            .header("www-authenticate")
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
                    "HTTP 401 with an unusable WWW-Authenticate challenge \"{}\"",
                    printable(&header)
                )))
            }
        };
        if let Ok(mut slot) = self.authorization.lock() {
            *slot = Some(value);
        }
        Ok(())
    }

    /// Whether the registry's credentials may be sent to `realm`: over https, or over
    /// plain http only to the very authority (host and port) of an `insecure` registry.
    /// `Err` says why not.
    fn may_send_credentials_to(&self, realm: &str) -> Result<(), String> {
        let (scheme, rest) = realm
            .split_once("://")
            .ok_or_else(|| format!("token realm \"{}\" is not a URL", printable(realm)))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Ok(());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let with_port = |a: &str| {
            let a = a.to_ascii_lowercase();
            let has_port = a.rsplit_once(':').is_some_and(|(_, port)| {
                !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
            if has_port {
                a
            } else {
                format!("{a}:80")
            }
        };
        if self.insecure
            && !authority.contains('@')
            && with_port(authority) == with_port(self.reference.api_host())
        {
            return Ok(());
        }
        Err(format!(
            "not sending the credentials for {} to the token realm {} over plain http (only https, or the insecure registry itself)",
            self.reference.registry,
            printable(realm)
        ))
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<String, OciError> {
        let mut url = realm.to_string();
        let mut separator = if url.contains('?') { '&' } else { '?' };
        for (key, value) in service
            .map(|s| ("service", s))
            .into_iter()
            .chain(std::iter::once(("scope", scope)))
        {
            url.push(separator);
            url.push_str(key);
            url.push('=');
            url.push_str(&query_escape(value));
            separator = '&';
        }
        let basic = match &self.credentials {
            Some(c) => {
                self.may_send_credentials_to(realm)
                    .map_err(|why| self.auth_refused(why))?;
                Some(basic_header(c))
            }
            None => None,
        };
        let what = format!("token from {}", printable(realm));
        self.retry.run(
            |_| {
                let mut headers: Vec<(&str, &str)> = Vec::new();
                if let Some(b) = basic.as_deref() {
                    headers.push(("authorization", b));
                }
                let response =
                    match self
                        .http
                        .get_sent_by(&url, &self.base, &headers, &["authorization"])
                    {
                        Ok(r) => r,
                        Err(e) if e.is_transient() => return Err(Attempt::Retry(e.to_string())),
                        Err(e) => return Err(Attempt::Fail(self.transport_error(&what, &e, 1))),
                    };
                if response.is_transient_status() {
                    return Err(Attempt::Retry(format!("HTTP {}", response.status())));
                }
                if !response.is_success() {
                    return Err(Attempt::Fail(self.auth_refused(format!(
                        "token request to {} refused with HTTP {}{}",
                        printable(realm),
                        response.status(),
                        self.credentials_note()
                    ))));
                }
                let bytes = match response.read_all(MAX_TOKEN_BYTES, "a token response") {
                    Ok(b) => b,
                    Err(e) if e.is_transient() => return Err(Attempt::Retry(e.to_string())),
                    Err(e) => return Err(Attempt::Fail(self.transport_error(&what, &e, 1))),
                };
                let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Attempt::Fail(self.auth_refused(format!(
                        "token response from {} is not JSON: {e}",
                        printable(realm)
                    )))
                })?;
                body.get("token")
                    .or_else(|| body.get("access_token"))
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        Attempt::Fail(self.auth_refused(format!(
                            "token response from {} holds no usable token",
                            printable(realm)
                        )))
                    })
            },
            |_, _| {},
            |why, attempts| OciError::Unreachable {
                image: self.image(),
                registry: self.reference.registry.clone(),
                detail: format!("{what}: {why} (after {attempts} attempts)"),
            },
        )
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn query_escape(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn basic_header(c: &Credentials) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
    )
}

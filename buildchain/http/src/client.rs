//! The client: one ureq agent per way out (direct, through the HTTP proxy, through the
//! HTTPS proxy), redirects followed here hop by hop (so each hop is checked), bodies read
//! through a bounded reader.

use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::HttpError;
use crate::proxy::{NoProxy, ProxyConfig};
use crate::retry::Retry;
use crate::text::printable;
use crate::url::Url;

/// How the client talks to servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Time to establish a connection (DNS, TCP, TLS).
    pub connect_timeout: Duration,
    /// The longest wait for the next byte of a response (headers or body): a stalled
    /// server is given up on after this, whatever the total time.
    pub stall_timeout: Duration,
    /// Bodies slower than this many bytes per second (on average, after the first
    /// `stall_timeout`) are given up on: a server trickling bytes cannot hold a build.
    pub min_bytes_per_second: u64,
    pub retry: Retry,
    /// PEM certificates trusted besides the system's (a private registry's or mirror's CA).
    pub ca_file: Option<PathBuf>,
    pub proxy: ProxyConfig,
    /// Most redirects followed for one request.
    pub max_redirects: u32,
    pub user_agent: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(60),
            min_bytes_per_second: 1024,
            retry: Retry::default(),
            ca_file: None,
            proxy: ProxyConfig::Environment,
            max_redirects: 10,
            user_agent: concat!("buildchain/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// The HTTP client of the build chain.
pub struct Client {
    config: Config,
    direct: ureq::Agent,
    http_proxy: Option<(ureq::Agent, String)>,
    https_proxy: Option<(ureq::Agent, String)>,
    no_proxy: NoProxy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("http_proxy", &self.http_proxy.as_ref().map(|p| &p.1))
            .field("https_proxy", &self.https_proxy.as_ref().map(|p| &p.1))
            .finish_non_exhaustive()
    }
}

/// A response: status, headers, the URL that answered (after redirects), the body.
pub struct Response {
    status: u16,
    url: String,
    headers: Vec<(String, String)>,
    body: ureq::Body,
    stall_timeout: Duration,
    min_bytes_per_second: u64,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(config: Config) -> Result<Client, HttpError> {
        let tls = crate::tls::config(config.ca_file.as_deref())?;
        let agent = |proxy: Option<ureq::Proxy>| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_connect(Some(config.connect_timeout))
                .timeout_per_read(Some(config.stall_timeout))
                .timeout_per_write(Some(config.stall_timeout))
                // Headers trickled a line at a time never stall a read: the whole head
                // must arrive within one stall period.
                .timeout_recv_response(Some(config.stall_timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .user_agent(config.user_agent.as_str())
                .tls_config(tls.clone())
                .proxy(proxy)
                .build()
                .into()
        };
        let (http, https, no_proxy) = config.proxy.resolve();
        let via = |url: Option<String>| -> Result<Option<(ureq::Agent, String)>, HttpError> {
            url.map(|url| {
                let proxy = ureq::Proxy::new(&url).map_err(|e| {
                    HttpError::Config(format!("proxy {}: {e}", printable(&without_password(&url))))
                })?;
                Ok((agent(Some(proxy)), url))
            })
            .transpose()
        };
        Ok(Client {
            direct: agent(None),
            http_proxy: via(http)?,
            https_proxy: via(https)?,
            no_proxy,
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn retry(&self) -> Retry {
        self.config.retry
    }

    fn agent_for(&self, url: &Url) -> &ureq::Agent {
        if self.no_proxy.matches(&url.host) {
            return &self.direct;
        }
        let proxy = if url.scheme == "https" {
            &self.https_proxy
        } else {
            &self.http_proxy
        };
        proxy.as_ref().map(|(a, _)| a).unwrap_or(&self.direct)
    }

    /// GETs `url` (one attempt; see [`Retry`] for more), following redirects that the
    /// policy allows: never from https to http, never to a loopback, link-local or private
    /// address unless the request started at one; `headers` named in `origin_only`
    /// (credentials) are dropped once a redirect leaves the original origin. Any status is
    /// returned as a [`Response`].
    pub fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        origin_only: &[&str],
    ) -> Result<Response, HttpError> {
        let first = parse(url)?;
        let started = crate::policy::reaches(&first.host);
        self.get_from(first, started, headers, origin_only)
    }

    /// GETs `url`, a URL the server at `sent_by` told the client to fetch (a registry's
    /// token realm): as if `sent_by` had redirected there, so a server cannot send the
    /// client into the network it sits in by naming an address rather than redirecting.
    pub fn get_sent_by(
        &self,
        url: &str,
        sent_by: &str,
        headers: &[(&str, &str)],
        origin_only: &[&str],
    ) -> Result<Response, HttpError> {
        let (first, origin) = (parse(url)?, parse(sent_by)?);
        let started = crate::policy::reaches(&origin.host);
        crate::policy::check_redirect(&origin, &first, &started).map_err(|detail| {
            HttpError::Redirect {
                url: printable(sent_by),
                detail: format!("sent the client {detail}"),
            }
        })?;
        self.get_from(first, started, headers, origin_only)
    }

    fn get_from(
        &self,
        first: Url,
        started: Vec<crate::policy::Reach>,
        headers: &[(&str, &str)],
        origin_only: &[&str],
    ) -> Result<Response, HttpError> {
        let url = first.to_string();
        let url = url.as_str();
        let mut current = first.clone();
        for _ in 0..=self.config.max_redirects {
            let text = current.to_string();
            let mut request = self.agent_for(&current).get(&text);
            for (name, value) in headers {
                let same_origin = current.origin() == first.origin();
                if same_origin || !origin_only.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    request = request.header(*name, *value);
                }
            }
            let response = request.call().map_err(|e| HttpError::from_ureq(&text, e))?;
            let status = response.status().as_u16();
            let headers_of = |r: &http_response::Response| -> Vec<(String, String)> {
                r.headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect()
            };
            let response_headers = headers_of(&response);
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let location = response_headers
                    .iter()
                    .find(|(k, _)| k == "location")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| HttpError::Redirect {
                        url: printable(&text),
                        detail: format!("HTTP {status} without a Location"),
                    })?;
                let next = current
                    .join(&location)
                    .map_err(|detail| HttpError::Redirect {
                        url: printable(&text),
                        detail: format!("Location {:?}: {detail}", printable(&location)),
                    })?;
                crate::policy::check_redirect(&current, &next, &started).map_err(|detail| {
                    HttpError::Redirect {
                        url: printable(&text),
                        detail,
                    }
                })?;
                current = next;
                continue;
            }
            return Ok(Response {
                status,
                url: text,
                headers: response_headers,
                body: response.into_body(),
                stall_timeout: self.config.stall_timeout,
                min_bytes_per_second: self.config.min_bytes_per_second,
            });
        }
        Err(HttpError::Redirect {
            url: printable(url),
            detail: format!(
                "more than {} redirects (a redirect loop?), the last to {}",
                self.config.max_redirects,
                printable(&current.to_string())
            ),
        })
    }
}

/// The methods besides GET that a registry's write API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Client {
    /// One `method` request to `url` with `headers` and, for POST, PUT and PATCH, `body`
    /// (its bytes and their length, sent as `Content-Length`). No redirect is followed: a
    /// 3xx is returned as it is, for the caller to check where it leads. Any status is
    /// returned as a [`Response`].
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&mut dyn Read, u64)>,
    ) -> Result<Response, HttpError> {
        let parsed = parse(url)?;
        let text = parsed.to_string();
        let agent = self.agent_for(&parsed);
        let length = body.as_ref().map_or(0, |(_, n)| *n).to_string();
        let response = match method {
            Method::Head | Method::Delete => {
                let mut request = match method {
                    Method::Head => agent.head(&text),
                    _ => agent.delete(&text),
                };
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                request.call()
            }
            Method::Post | Method::Put | Method::Patch => {
                let mut request = match method {
                    Method::Post => agent.post(&text),
                    Method::Put => agent.put(&text),
                    _ => agent.patch(&text),
                };
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                request = request.header("content-length", length.as_str());
                match body {
                    Some((reader, _)) => request.send(ureq::SendBody::from_reader(reader)),
                    None => request.send_empty(),
                }
            }
        }
        .map_err(|e| HttpError::from_ureq(&text, e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Response {
            status,
            url: text,
            headers,
            body: response.into_body(),
            stall_timeout: self.config.stall_timeout,
            min_bytes_per_second: self.config.min_bytes_per_second,
        })
    }
}

/// `url` with the password of its user information hidden (a proxy URL in a message).
fn without_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            let scheme = if scheme.is_empty() {
                String::new()
            } else {
                format!("{scheme}://")
            };
            format!("{scheme}{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_string(),
    }
}

fn parse(url: &str) -> Result<Url, HttpError> {
    Url::parse(url).map_err(|detail| {
        HttpError::Config(format!("{}: not a valid URL: {detail}", printable(url)))
    })
}

/// The response type ureq hands back (an `http::Response`).
mod http_response {
    pub type Response = ureq::http::Response<ureq::Body>;
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Whether the status says to try again later (429, 5xx).
    pub fn is_transient_status(&self) -> bool {
        self.status == 429 || self.status >= 500
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A header's value (name case-insensitive; the first when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The declared `Content-Length`, when there is one.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// The body as a reader that fails past `limit` bytes (as soon as byte `limit + 1`
    /// arrives) or when the server is slower than the minimum rate. `what` names the body
    /// in errors ("blob sha256:…", "primary.xml").
    pub fn into_reader(self, limit: u64, what: &str) -> BodyReader {
        BodyReader {
            inner: Box::new(self.body.into_reader()),
            url: self.url,
            what: what.to_string(),
            limit,
            received: 0,
            window_started: Instant::now(),
            window_received: 0,
            window: self.stall_timeout,
            min_bytes_per_second: self.min_bytes_per_second,
        }
    }

    /// The whole body, at most `limit` bytes.
    pub fn read_all(self, limit: u64, what: &str) -> Result<Vec<u8>, HttpError> {
        let url = self.url.clone();
        let mut out = Vec::new();
        self.into_reader(limit, what)
            .read_to_end(&mut out)
            .map_err(|e| HttpError::from_io(&url, e))?;
        Ok(out)
    }

    /// Up to `limit` bytes of the body, lossily decoded (an error page to read; pass what
    /// is shown of it through [`printable`]). Read under the same time limits as any body;
    /// errors, and the limit, end it early.
    pub fn text_excerpt(self, limit: u64) -> String {
        let mut out = Vec::new();
        let _ = self
            .into_reader(u64::MAX, "an error page")
            .take(limit)
            .read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A response body bounded in size and rate (see [`Response::into_reader`]). Its errors
/// carry an [`HttpError`] ([`HttpError::from_io`] gets it back).
pub struct BodyReader {
    inner: Box<dyn Read + Send>,
    url: String,
    what: String,
    limit: u64,
    received: u64,
    /// The rate is measured over successive windows of one stall timeout each, so a fast
    /// start cannot pay for hours of trickle afterwards.
    window_started: Instant,
    window_received: u64,
    window: Duration,
    min_bytes_per_second: u64,
}

impl BodyReader {
    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn fail(&self, e: HttpError) -> io::Error {
        io::Error::other(e)
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.received > self.limit {
            return Err(self.fail(HttpError::TooLarge {
                url: printable(&self.url),
                what: self.what.clone(),
                limit: self.limit,
            }));
        }
        // Never ask for more than one byte past the limit.
        let room = (self.limit - self.received).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => return Err(self.fail(HttpError::from_io(&self.url, e))),
        };
        self.received += n as u64;
        self.window_received += n as u64;
        if self.received > self.limit {
            return Err(self.fail(HttpError::TooLarge {
                url: printable(&self.url),
                what: self.what.clone(),
                limit: self.limit,
            }));
        }
        let elapsed = self.window_started.elapsed();
        if n > 0 && elapsed > self.window && self.min_bytes_per_second > 0 {
            let seconds = elapsed.as_secs().max(1);
            if self.window_received / seconds < self.min_bytes_per_second {
                return Err(self.fail(HttpError::TooSlow {
                    url: printable(&self.url),
                    received: self.window_received,
                    seconds,
                    floor: self.min_bytes_per_second,
                }));
            }
            self.window_started = Instant::now();
            self.window_received = 0;
        }
        Ok(n)
    }
}

impl HttpError {
    /// The [`HttpError`] an I/O error of a [`BodyReader`] carries, or one made from it.
    pub fn from_io(url: &str, e: io::Error) -> HttpError {
        if e.get_ref().is_some_and(|inner| inner.is::<HttpError>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(http) = inner.downcast::<HttpError>() {
                    return *http;
                }
            }
            return HttpError::Transfer {
                url: printable(url),
                detail: "read error".into(),
            };
        }
        // ureq's body reader wraps its own errors (a per-read timeout among them).
        if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(ureq) = inner.downcast::<ureq::Error>() {
                    return HttpError::from_ureq(url, *ureq);
                }
            }
            return HttpError::Transfer {
                url: printable(url),
                detail: "read error".into(),
            };
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpError::Timeout {
                url: printable(url),
                detail: format!("no data for too long: {e}"),
            },
            _ => HttpError::Transfer {
                url: printable(url),
                detail: format!("reading the body: {}", printable(&e.to_string())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_not_shown() {
        assert_eq!(
            without_password("http://alice:secret@proxy:3128/x"),
            "http://alice:***@proxy:3128/x"
        );
        assert_eq!(without_password("proxy:3128"), "proxy:3128");
        assert_eq!(without_password("http://a:b@c@h:1"), "http://a:***@h:1");
    }
}

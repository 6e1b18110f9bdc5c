use crate::text::printable;

/// What went wrong with a request. Each variant names the URL (or host) concerned; text a
/// server sent is escaped before it is kept here.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client could not be set up (a bad proxy URL, an unreadable CA file…).
    #[error("HTTP client: {0}")]
    Config(String),
    /// No connection (refused, unknown host, TLS failure…).
    #[error("{url}: cannot connect: {detail}")]
    Connect { url: String, detail: String },
    /// A configured time limit was hit.
    #[error("{url}: {detail}")]
    Timeout { url: String, detail: String },
    /// The server broke the protocol, or the connection broke while reading.
    #[error("{url}: {detail}")]
    Transfer { url: String, detail: String },
    /// A redirect this client does not follow (and why).
    #[error("{url}: redirect refused: {detail}")]
    Redirect { url: String, detail: String },
    /// The server sent more than the caller allows for this response.
    #[error("{url}: the server sent more than the {limit} bytes allowed for {what}")]
    TooLarge {
        url: String,
        what: String,
        limit: u64,
    },
    /// The server sent data slower than the minimum rate.
    #[error(
        "{url}: too slow: {received} bytes in the last {seconds} s, less than {floor} bytes/s"
    )]
    TooSlow {
        url: String,
        received: u64,
        seconds: u64,
        floor: u64,
    },
}

impl HttpError {
    /// Whether another attempt may succeed (a network or server hiccup, a timeout), as
    /// opposed to a refusal that would only repeat.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            HttpError::Connect { .. } | HttpError::Timeout { .. } | HttpError::Transfer { .. }
        )
    }

    pub(crate) fn from_ureq(url: &str, e: ureq::Error) -> HttpError {
        let url = printable(url);
        match e {
            ureq::Error::Timeout(t) => HttpError::Timeout {
                url,
                detail: format!("timed out ({t})"),
            },
            ureq::Error::HostNotFound => HttpError::Connect {
                url,
                detail: "host not found".into(),
            },
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    HttpError::Timeout {
                        url,
                        detail: format!("timed out: {io}"),
                    }
                }
                std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::AddrNotAvailable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::HostUnreachable => HttpError::Connect {
                    url,
                    detail: io.to_string(),
                },
                _ => HttpError::Transfer {
                    url,
                    detail: printable(&io.to_string()),
                },
            },
            ureq::Error::BadUri(detail) => {
                HttpError::Config(format!("{url}: not a valid URL: {}", printable(&detail)))
            }
            ureq::Error::Tls(detail) => HttpError::Connect {
                url,
                detail: format!("TLS: {detail}"),
            },
            ureq::Error::Rustls(detail) => HttpError::Connect {
                url,
                detail: format!("TLS: {detail}"),
            },
            other => HttpError::Transfer {
                url,
                detail: printable(&other.to_string()),
            },
        }
    }
}

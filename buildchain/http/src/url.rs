//! Just enough of URLs for requests and redirects: `scheme://host[:port]/path?query`, the
//! origin, and resolving a `Location` against the current URL.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub scheme: String,
    /// As written (a bracketed IPv6 address keeps its brackets).
    pub host: String,
    pub port: Option<u16>,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| "no scheme (http:// or https://)".to_string())?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not accepted".into());
        }
        let (host, port) = match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => {
                let port = authority[i + 1..]
                    .parse::<u16>()
                    .map_err(|_| format!("port {:?} is not a number", &authority[i + 1..]))?;
                (&authority[..i], Some(port))
            }
            _ => (authority, None),
        };
        if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("no valid host".into());
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        if path.chars().any(|c| c.is_control() || c == ' ') {
            return Err("control characters or spaces in the path".into());
        }
        Ok(Url {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    fn default_port(&self) -> u16 {
        if self.scheme == "https" {
            443
        } else {
            80
        }
    }

    /// (scheme, host, port): what credentials are scoped to.
    pub fn origin(&self) -> (String, String, u16) {
        (
            self.scheme.clone(),
            self.host.clone(),
            self.port.unwrap_or(self.default_port()),
        )
    }

    /// The host without IPv6 brackets.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// Resolves a `Location` value against this URL.
    pub fn join(&self, location: &str) -> Result<Url, String> {
        let location = location.trim();
        if location.contains("://") {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme));
        }
        let mut next = self.clone();
        if location.starts_with('/') {
            next.path = location.to_string();
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            let dir = &base[..base.rfind('/').map(|i| i + 1).unwrap_or(0)];
            next.path = format!("{dir}{location}");
        }
        Url::parse(&next.to_string())
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_join() {
        let u = Url::parse("https://Reg.IO:5000/v2/x/blobs/sha256:ab?x=1").unwrap();
        assert_eq!(u.host, "reg.io");
        assert_eq!(u.origin(), ("https".into(), "reg.io".into(), 5000));
        assert_eq!(
            u.join("/other").unwrap().to_string(),
            "https://reg.io:5000/other"
        );
        assert_eq!(
            u.join("rel").unwrap().to_string(),
            "https://reg.io:5000/v2/x/blobs/rel"
        );
        assert_eq!(
            u.join("//cdn.io/b").unwrap().to_string(),
            "https://cdn.io/b"
        );
        assert_eq!(u.join("http://a.b/c").unwrap().scheme, "http");
        let v6 = Url::parse("http://[::1]:8080/x").unwrap();
        assert_eq!((v6.bare_host(), v6.port), ("::1", Some(8080)));
        for bad in [
            "ftp://a/b",
            "a/b",
            "http://u:p@h/",
            "http:///x",
            "http://h:99999/",
            "http://h/a b",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Proxies as curl and skopeo take them from the environment: `HTTPS_PROXY` for https
//! URLs, `HTTP_PROXY` for http ones, `ALL_PROXY` for both (lower-case names too), and
//! `NO_PROXY`: hosts and domains reached directly.

/// Where proxies come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyConfig {
    /// The environment variables (the default).
    #[default]
    Environment,
    /// No proxy at all.
    None,
    /// Explicit: proxy for http URLs, for https URLs, and the hosts reached directly
    /// (`NO_PROXY` syntax).
    Explicit {
        http: Option<String>,
        https: Option<String>,
        no_proxy: String,
    },
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl ProxyConfig {
    /// (proxy for http URLs, proxy for https URLs, direct hosts).
    pub(crate) fn resolve(&self) -> (Option<String>, Option<String>, NoProxy) {
        match self {
            ProxyConfig::None => (None, None, NoProxy::default()),
            ProxyConfig::Explicit {
                http,
                https,
                no_proxy,
            } => (http.clone(), https.clone(), NoProxy::parse(no_proxy)),
            ProxyConfig::Environment => {
                let all = env(&["ALL_PROXY", "all_proxy"]);
                (
                    env(&["HTTP_PROXY", "http_proxy"]).or_else(|| all.clone()),
                    env(&["HTTPS_PROXY", "https_proxy"]).or(all),
                    NoProxy::parse(&env(&["NO_PROXY", "no_proxy"]).unwrap_or_default()),
                )
            }
        }
    }
}

/// The hosts reached without a proxy: `*` (all), names matching exactly or as a domain
/// suffix (`example.com` and `.example.com` both match `a.example.com`), addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    all: bool,
    entries: Vec<String>,
}

impl NoProxy {
    pub fn parse(text: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.all = true;
            }
            // A port in an entry is ignored: the host decides, as curl does.
            let host = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => entry,
            };
            out.entries.push(
                host.trim_start_matches('.')
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
            );
        }
        out
    }

    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        self.entries
            .iter()
            .any(|e| host == *e || host.ends_with(&format!(".{e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matching() {
        let n = NoProxy::parse("localhost, .internal.io,10.0.0.1:5000, [::1]");
        for host in [
            "localhost",
            "a.internal.io",
            "internal.io",
            "10.0.0.1",
            "[::1]",
        ] {
            assert!(n.matches(host), "{host}");
        }
        for host in ["registry.k8s.io", "internal.io.evil", "10.0.0.2"] {
            assert!(!n.matches(host), "{host}");
        }
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(!NoProxy::parse("").matches("anything"));
    }
}

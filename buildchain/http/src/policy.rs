//! Where a redirect may lead. A server we do not control must not send the client to a
//! plain-text URL, nor into the network the build machine sits in (loopback, link-local,
//! private addresses: cloud metadata services, internal admin pages).

use std::net::{IpAddr, ToSocketAddrs};

use crate::text::printable;
use crate::url::Url;

/// Loopback, link-local, private (RFC 1918 / unique local), unspecified, CGNAT.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Whether `host` (a name or an address) is, or resolves to, an internal address.
pub fn host_is_internal(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_internal(ip);
    }
    if bare == "localhost" || bare.ends_with(".localhost") {
        return true;
    }
    match (bare, 0).to_socket_addrs() {
        Ok(addrs) => addrs.into_iter().any(|a| is_internal(a.ip())),
        // Unresolvable: the connection fails anyway, naming the host.
        Err(_) => false,
    }
}

/// Whether a redirect from `from` to `to` may be followed (`Err` says why not, naming
/// the host).
pub(crate) fn check_redirect(from: &Url, to: &Url, started_internal: bool) -> Result<(), String> {
    if from.scheme == "https" && to.scheme == "http" {
        return Err(format!(
            "from https to plain http ({})",
            printable(&to.to_string())
        ));
    }
    if !started_internal && host_is_internal(&to.host) {
        return Err(format!(
            "to {}, a loopback, link-local or private address, from a public one",
            printable(to.bare_host())
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "0.0.0.0",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2001:4860::1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
        assert!(host_is_internal("localhost") && host_is_internal("[::1]"));
    }

    #[test]
    fn redirect_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_redirect(&u("https://a.io/x"), &u("http://a.io/x"), false).is_err());
        assert!(check_redirect(&u("http://a.io/x"), &u("https://b.io/x"), false).is_ok());
        let err = check_redirect(
            &u("https://8.8.8.8/x"),
            &u("https://169.254.169.254/"),
            false,
        )
        .unwrap_err();
        assert!(err.contains("169.254.169.254"), "{err}");
        // A local registry may redirect locally.
        assert!(check_redirect(
            &u("http://127.0.0.1:5000/x"),
            &u("http://127.0.0.2/y"),
            true
        )
        .is_ok());
    }
}

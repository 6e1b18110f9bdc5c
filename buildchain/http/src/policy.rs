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

/// Where an address lies, for redirects: a redirect may always go to a public address,
/// and to an internal one only of the kind the request started at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reach {
    Public,
    Private,
    Loopback,
    LinkLocal,
}

fn reach_of(ip: IpAddr) -> Reach {
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        Reach::LinkLocal
    } else if ip.is_loopback() || ip.is_unspecified() {
        Reach::Loopback
    } else if is_internal(ip) {
        Reach::Private
    } else {
        Reach::Public
    }
}

/// The kinds of address `host` (a name or an address) is or resolves to.
pub(crate) fn reaches(host: &str) -> Vec<Reach> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return vec![reach_of(ip)];
    }
    if bare == "localhost" || bare.ends_with(".localhost") {
        return vec![Reach::Loopback];
    }
    match (bare, 0).to_socket_addrs() {
        Ok(addrs) => {
            let mut v: Vec<Reach> = addrs.into_iter().map(|a| reach_of(a.ip())).collect();
            v.sort();
            v.dedup();
            v
        }
        // Unresolvable: the connection fails anyway, naming the host.
        Err(_) => vec![Reach::Public],
    }
}

/// Whether `host` (a name or an address) is, or resolves to, an internal address.
pub fn host_is_internal(host: &str) -> bool {
    reaches(host).iter().any(|r| *r != Reach::Public)
}

/// Whether a redirect from `from` to `to` may be followed, the request having started at
/// an address of the kinds `started` (`Err` says why not, naming the host).
pub(crate) fn check_redirect(from: &Url, to: &Url, started: &[Reach]) -> Result<(), String> {
    if from.scheme == "https" && to.scheme == "http" {
        return Err(format!(
            "from https to plain http ({})",
            printable(&to.to_string())
        ));
    }
    for reach in reaches(&to.host) {
        if reach != Reach::Public && !started.contains(&reach) {
            let kind = match reach {
                Reach::Loopback => "a loopback",
                Reach::LinkLocal => "a link-local",
                _ => "a private",
            };
            return Err(format!(
                "to {}, {kind} address, which the request did not start at",
                printable(to.bare_host())
            ));
        }
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
        let public = [Reach::Public];
        assert!(check_redirect(&u("https://a.io/x"), &u("http://a.io/x"), &public).is_err());
        assert!(check_redirect(&u("http://8.8.8.8/x"), &u("https://1.1.1.1/x"), &public).is_ok());
        let err = check_redirect(
            &u("https://8.8.8.8/x"),
            &u("https://169.254.169.254/"),
            &public,
        )
        .unwrap_err();
        assert!(
            err.contains("169.254.169.254") && err.contains("link-local"),
            "{err}"
        );
        // A local registry may redirect locally, but not to the metadata service.
        let local = reaches("127.0.0.1");
        assert!(check_redirect(
            &u("http://127.0.0.1:5000/x"),
            &u("http://127.0.0.2/y"),
            &local
        )
        .is_ok());
        assert!(check_redirect(
            &u("http://127.0.0.1/x"),
            &u("http://169.254.169.254/"),
            &local
        )
        .is_err());
        assert!(check_redirect(&u("http://127.0.0.1/x"), &u("http://10.0.0.1/"), &local).is_err());
    }
}

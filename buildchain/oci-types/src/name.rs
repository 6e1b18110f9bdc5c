//! The one grammar of repository names, tags and registry hosts: the distribution spec's,
//! which also keeps every name free of what could end an nginx string or block, a shell
//! word or a path (`"`, `'`, `{`, `;`, `$`, `\`, space, newline, `..`, upper case in names).
//! `versions.toml`, the puller, the registry generator and the Solution validator all
//! check names here, so a name one accepts the others accept.
//!
//! Hand-written matchers: the grammar is tiny, and spelling it out gives a precise reason
//! in every error (a regex would only say "does not match").

/// The distribution-spec rule for one path component of a repository name.
pub const COMPONENT_RULE: &str = "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*";
/// The distribution-spec rule for a tag.
pub const TAG_RULE: &str = "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}";
/// Longest repository name accepted (clients limit `host/name` to 255 characters).
pub const MAX_NAME_LEN: usize = 255;

/// A name, tag or host that breaks the grammar: what it is, the value, the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {reason}")]
pub struct NameError {
    /// `repository name`, `tag`, `registry host`…
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Why one component of a repository name (the text between two `/`) is invalid.
fn component_problem(component: &str) -> Option<String> {
    let fail = || {
        Some(format!(
            "component {component:?} does not match {COMPONENT_RULE}"
        ))
    };
    let chars: Vec<char> = component.chars().collect();
    let mut i = 0;
    loop {
        // An alphanumeric run…
        let start = i;
        while i < chars.len() && is_lower_alnum(chars[i]) {
            i += 1;
        }
        if i == start {
            return fail();
        }
        if i == chars.len() {
            return None;
        }
        // …then one separator: `.`, `_`, `__` or one or more `-`.
        match chars[i] {
            '.' => i += 1,
            '_' => {
                i += 1;
                if chars.get(i) == Some(&'_') {
                    i += 1;
                }
            }
            '-' => {
                while chars.get(i) == Some(&'-') {
                    i += 1;
                }
            }
            _ => return fail(),
        }
    }
}

/// Checks one component of a repository name.
pub fn check_component(component: &str) -> Result<(), NameError> {
    match component_problem(component) {
        None => Ok(()),
        Some(reason) => Err(NameError {
            what: "repository name component",
            value: component.to_string(),
            reason,
        }),
    }
}

/// Checks a repository name made of `/`-separated components.
pub fn check_repository_name(name: &str) -> Result<(), NameError> {
    let fail = |reason: String| NameError {
        what: "repository name",
        value: name.to_string(),
        reason,
    };
    if name.len() > MAX_NAME_LEN {
        return Err(fail(format!(
            "{} characters, more than {MAX_NAME_LEN}",
            name.len()
        )));
    }
    match name.split('/').find_map(component_problem) {
        None => Ok(()),
        Some(reason) => Err(fail(reason)),
    }
}

/// Checks a tag.
pub fn check_tag(tag: &str) -> Result<(), NameError> {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && tag.len() <= 128 {
        Ok(())
    } else {
        Err(NameError {
            what: "tag",
            value: tag.to_string(),
            reason: format!("does not match {TAG_RULE}"),
        })
    }
}

/// Checks a registry host: `host[:port]`, host made of letters, digits, `.` and `-` (or a
/// bracketed IPv6 address), port 1 to 65535.
pub fn check_registry_host(registry: &str) -> Result<(), NameError> {
    let fail = |reason: String| NameError {
        what: "registry host",
        value: registry.to_string(),
        reason,
    };
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err(fail("`[` without `]`".into()));
        };
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(fail(format!("{ip:?} is not an IPv6 address")));
        }
        match after {
            "" => (ip, None),
            p => match p.strip_prefix(':') {
                Some(port) => (ip, Some(port)),
                None => return Err(fail("unexpected text after `]`".into())),
            },
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !registry.starts_with('[') && (host.is_empty() || !host.split('.').all(label_ok)) {
        return Err(fail(format!("{host:?} is not a valid host name")));
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(fail(format!("{port:?} is not a valid port")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_grammar() {
        for ok in [
            "a",
            "a.b",
            "a_b",
            "a__b",
            "a---b",
            "a/b/c",
            "k8s.gcr.io/pause",
            "a1.b2-c3",
        ] {
            assert!(check_repository_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a_-b", "a..b", "a___b", "-a", "a-", ".a", "a//b", "/a", "a/", "a b", "a{b",
            "a;b", "a;", "{{x}}", "a$b", "a\nb", "..", "é",
        ] {
            let err = check_repository_name(bad).unwrap_err();
            assert!(err.reason.contains(COMPONENT_RULE), "{bad:?}: {err}");
        }
        let long = "a/".repeat(128) + "a";
        assert!(check_repository_name(&long)
            .unwrap_err()
            .reason
            .contains("more than 255"));
        for ok in [
            "latest",
            "v1.0",
            "_x",
            "1.0-rc_1",
            "v1.2.3-dev_4",
            &"a".repeat(128),
        ] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "a b",
            "a:b",
            "a/b",
            "..",
            &"a".repeat(129),
            "a$b",
            "é",
        ] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "registry.k8s.io",
            "127.0.0.1:5000",
            "localhost",
            "[::1]:5000",
            "a-b.c",
        ] {
            assert!(check_registry_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a b", "h:0", "h:99999", "-a.b", "a..b", "[::1", "h/x", "h;x",
        ] {
            assert!(check_registry_host(bad).is_err(), "{bad:?}");
        }
    }
}

//! The names and tags read from disk (the one grammar of buildchain-oci-types), and the
//! rules that keep the name prefix and the server root from ending an nginx string or block.

pub use buildchain_oci_types::name::{COMPONENT_RULE, MAX_NAME_LEN, TAG_RULE};

/// Checks one component of a repository name (the text between two `/`).
pub fn check_component(component: &str) -> Result<(), String> {
    buildchain_oci_types::name::check_component(component).map_err(|e| e.reason)
}

/// Checks a repository name made of `/`-separated components (the one grammar of
/// buildchain-oci-types).
pub fn check_repository_name(name: &str) -> Result<(), String> {
    buildchain_oci_types::name::check_repository_name(name).map_err(|e| e.reason)
}

/// Checks a tag.
pub fn check_tag(tag: &str) -> Result<(), String> {
    buildchain_oci_types::name::check_tag(tag).map_err(|e| format!("{:?} {}", e.value, e.reason))
}

/// A piece of an option value: literal text, a Jinja `{{ … }}` placeholder or an nginx
/// `$variable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Literal(&'a str),
    Jinja(&'a str),
    Variable(&'a str),
}

fn is_jinja_inner(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '|' | ' ')
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits an option value into literal text, `{{ jinja }}` placeholders and `$variables`
/// (`$name` or `${name}`). Unterminated or ill-formed placeholders are errors.
pub(crate) fn split_placeholders(value: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    let bytes = value.as_bytes();
    while i < bytes.len() {
        let placeholder_end = if value[i..].starts_with("{{") {
            let Some(close) = value[i + 2..].find("}}") else {
                return Err("`{{` without a closing `}}`".to_string());
            };
            let inner = &value[i + 2..i + 2 + close];
            if inner.trim().is_empty() || !inner.chars().all(is_jinja_inner) {
                return Err(format!(
                    "Jinja placeholder {{{{{inner}}}}} may only hold letters, digits, `_`, `.`, `|` and spaces"
                ));
            }
            Some((i + 2 + close + 2, true))
        } else if bytes[i] == b'$' {
            let rest = &value[i + 1..];
            let len = if let Some(braced) = rest.strip_prefix('{') {
                let Some(close) = braced.find('}') else {
                    return Err("`${` without a closing `}`".to_string());
                };
                if !is_variable_name(&braced[..close]) {
                    return Err(format!("invalid nginx variable ${{{}}}", &braced[..close]));
                }
                close + 2
            } else {
                let name_len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if !is_variable_name(&rest[..name_len]) {
                    return Err("`$` not followed by an nginx variable name".to_string());
                }
                name_len
            };
            Some((i + 1 + len, false))
        } else {
            None
        };
        match placeholder_end {
            Some((end, jinja)) => {
                if literal_start < i {
                    pieces.push(Piece::Literal(&value[literal_start..i]));
                }
                let text = &value[i..end];
                pieces.push(if jinja {
                    Piece::Jinja(text)
                } else {
                    Piece::Variable(text)
                });
                i = end;
                literal_start = end;
            }
            None => i += value[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if literal_start < value.len() {
        pieces.push(Piece::Literal(&value[literal_start..]));
    }
    Ok(pieces)
}

/// Checks a name prefix (already stripped of leading and trailing `/`): `/`-separated
/// components following the repository grammar, where a Jinja placeholder stands for a
/// valid piece of name. nginx expands no variable in a `location` path, so `$` is refused.
pub fn check_name_prefix(prefix: &str) -> Result<(), String> {
    let pieces = split_placeholders(prefix)?;
    let mut shape = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                if let Some(bad) = text.chars().find(|c| {
                    !(c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '.' | '_' | '-' | '/'))
                }) {
                    return Err(format!(
                        "character {bad:?} cannot appear in a repository name"
                    ));
                }
                shape.push_str(text);
            }
            Piece::Jinja(_) => shape.push('x'),
            Piece::Variable(var) => {
                return Err(format!(
                    "nginx does not expand variables such as {var} in location paths; \
                     use a Jinja placeholder or a literal prefix"
                ))
            }
        }
    }
    shape.split('/').try_for_each(check_component)
}

/// Checks a server root: a path whose literal text holds only letters, digits, spaces and
/// `._/~+@%,=:-`, plus Jinja placeholders and nginx variables.
pub fn check_server_root(root: &str) -> Result<(), String> {
    if root.is_empty() {
        return Err("empty".to_string());
    }
    for piece in split_placeholders(root)? {
        if let Piece::Literal(text) = piece {
            if let Some(bad) = text.chars().find(|c| {
                !(c.is_alphanumeric()
                    || matches!(
                        c,
                        ' ' | '.' | '_' | '/' | '~' | '+' | '@' | '%' | ',' | '=' | ':' | '-'
                    ))
            }) {
                return Err(format!(
                    "character {bad:?} could end an nginx string or block"
                ));
            }
        }
    }
    Ok(())
}

/// Escapes a literal piece of a location regex (names hold `.`, the only regex
/// metacharacter they may contain).
pub(crate) fn regex_escape_literal(text: &str) -> String {
    text.replace('.', "\\.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        for ok in [
            "a",
            "abc",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "k8s.gcr.io",
            "0",
        ] {
            assert!(check_component(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a.", ".a", "a..b", "a___b", "a_", "-a", "a-", "a b", "a\"b", "a;b", "a{b",
            "a\nb", "..", ".", "a/b", "é",
        ] {
            assert!(check_component(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tags() {
        for ok in ["latest", "v1.0.0", "_x", "1", "A-b_c.d", &"a".repeat(128)] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "..",
            "a b",
            "a;",
            "a'",
            "a}",
            "a\n",
            "a/b",
            "a:b",
            &"a".repeat(129),
        ] {
            assert!(check_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repository_names() {
        assert!(check_repository_name("library/alpine").is_ok());
        assert!(check_repository_name("a//b").is_err());
        assert!(check_repository_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            split_placeholders("a{{ b }}$c/${d}e").unwrap(),
            vec![
                Piece::Literal("a"),
                Piece::Jinja("{{ b }}"),
                Piece::Variable("$c"),
                Piece::Literal("/"),
                Piece::Variable("${d}"),
                Piece::Literal("e"),
            ]
        );
        for bad in [
            "{{ a",
            "{{}}",
            "{{ a\"b }}",
            "{{ a;b }}",
            "$",
            "$1",
            "${a",
            "${}",
            "{{ {a} }}",
        ] {
            assert!(split_placeholders(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefixes() {
        for ok in ["metalk8s-2.0.0", "{{ repository }}", "a/{{ b }}-c", "x.y/z"] {
            assert!(check_name_prefix(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a\"b", "a'b", "a;b", "a{b", "a}b", "a\nb", "..", "a/../b", "Upper", "a b", "$x",
            "a\\b", "a//b", "{{ x }}}", "a#b",
        ] {
            assert!(check_name_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn server_roots() {
        for ok in [
            "/srv/images",
            "$metalk8s_2_0_images",
            "{{ registry_root }}",
            "${root}/x",
            "/home/me/My Images",
            "relative/path",
        ] {
            assert!(check_server_root(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a\"b", "/a'b", "/a;b", "/a{b", "/a}b", "/a\nb", "/a\\b", "/a#b", "/a\tb", "$",
            "/a$", "{{ x",
        ] {
            assert!(check_server_root(bad).is_err(), "{bad:?}");
        }
    }
}

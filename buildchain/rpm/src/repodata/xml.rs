//! Escaping for XML 1.0, the way libxml2 (hence createrepo_c) writes text and attributes.

use std::borrow::Cow;

/// Escapes element text: `&`, `<`, `>`, carriage return; drops the characters XML 1.0
/// cannot carry (control characters other than tab and newline).
pub(crate) fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Escapes an attribute value: as text, plus `"`, tab and newline.
pub(crate) fn escape_attr(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, attribute: bool) -> Cow<'_, str> {
    let special = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\n' | '\t' => attribute,
        c => is_forbidden(c),
    };
    if !text.chars().any(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_forbidden(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::{escape_attr, escape_text};

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape_text("a<b & \"c\">\u{1}d\n"),
            "a&lt;b &amp; \"c\"&gt;d\n"
        );
        assert_eq!(escape_attr("a\"b\n"), "a&quot;b&#10;");
        assert!(matches!(
            escape_text("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

//! Escaping text for XML 1.0 (repodata text and attributes).

use std::borrow::Cow;

/// Escapes `&`, `<`, `>`, `"` and drops the characters XML 1.0 cannot carry (control
/// characters other than tab, newline and carriage return), as libxml2 does for createrepo_c.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    let needs_work = text
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"') || is_forbidden(c));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
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
    use super::escape;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b & \"c\">\u{1}d\n"), "a&lt;b &amp; &quot;c&quot;&gt;d\n");
        assert!(matches!(escape("plain"), std::borrow::Cow::Borrowed(_)));
    }
}

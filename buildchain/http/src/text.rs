//! Text a server sends (error messages, locations, header values) shown to a user: control
//! characters escaped (`\x1b`, `\r`, `\n`), so it can neither drive the terminal nor forge
//! log lines, and long text cut.

/// The most characters of server text shown.
pub const SHOWN_CHARS: usize = 400;

/// `text` with every control character escaped and at most [`SHOWN_CHARS`] characters.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_CHARS));
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push('…');
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// `text` (a whole message, perhaps of several lines) with every control character but
/// the line break and the tab escaped, uncut: what a binary passes every message through before it
/// reaches a terminal, whatever part of it came from a server.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' || c == '\t' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("a\x1b[2Jb\r\nc"), "a\\x1b[2Jb\\r\\nc");
        assert_eq!(escape_controls("a\x1b[2Jb\r\nc"), "a\\x1b[2Jb\\r\nc");
        assert_eq!(printable("plain é"), "plain é");
        let long = "x".repeat(1000);
        assert_eq!(printable(&long).chars().count(), SHOWN_CHARS + 1);
        assert!(!printable("\u{7f}\u{9b}").chars().any(char::is_control));
    }
}

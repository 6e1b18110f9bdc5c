//! Lines: where Salt's render errors point, and where an ID or an argument is written.

/// From one of Salt's render errors: the SLS it names, the line it gives (0: none), and
/// its message (the first line, without the source listing that may follow).
pub(super) fn parse_render_error(text: &str) -> (Option<String>, usize, String) {
    let sls = ["SLS '", "sls found for '"].iter().find_map(|marker| {
        let start = text.find(marker)? + marker.len();
        let name = &text[start..start + text[start..].find('\'')?];
        // `saltenv:name` in "Rendering SLS 'env:name' failed".
        Some(name.rsplit(':').next().unwrap_or(name).to_string())
    });
    let line = text
        .match_indices("line ")
        .find_map(|(at, _)| {
            let digits: String = text[at + 5..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0);
    let message = text
        .lines()
        .take_while(|l| !l.starts_with("---"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    (sls, line, message)
}

/// A message cut to a readable length (a render error may quote a whole file).
pub(super) fn capped(message: &str) -> String {
    const MOST: usize = 400;
    match message.char_indices().nth(MOST) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_string(),
    }
}

/// Where the IDs of a file are declared: `id:`, `"id":` or `'id':` at the start of a line.
pub(super) struct IdLines(std::collections::HashMap<String, usize>);

impl IdLines {
    pub(super) fn new(text: &str) -> IdLines {
        let mut lines = std::collections::HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with([' ', '\t', '-', '#', '{']) {
                continue;
            }
            let line = line.trim_end();
            let key = match line.strip_suffix(':') {
                Some(key) => key,
                None => match line.split_once(": ") {
                    Some((key, _)) => key,
                    None => continue,
                },
            };
            let key = key.trim();
            let unquoted = key
                .strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
                .unwrap_or(key);
            lines.entry(unquoted.to_string()).or_insert(i + 1);
        }
        IdLines(lines)
    }

    /// The 1-based line declaring `id`, or 0 when it is not written as is (made by Jinja).
    pub(super) fn get(&self, id: &str) -> usize {
        self.0.get(id).copied().unwrap_or(0)
    }
}

/// The 1-based line, after `from` (an ID's line) and before the next ID, of the first
/// line holding `needle`; `from` itself when there is none.
pub(super) fn line_after(text: &str, from: usize, needle: &str) -> usize {
    line_after_where(text, from, |l| l.contains(needle))
}

/// The 1-based line, after `from` and before the next ID, of the argument `name`
/// (`- name:` or `name:` first on its line); `from` itself when there is none.
pub(super) fn argument_line(text: &str, from: usize, name: &str) -> usize {
    let key = format!("{name}:");
    line_after_where(text, from, |l| {
        let l = l.trim_start();
        l.strip_prefix("- ").unwrap_or(l).starts_with(&key)
    })
}

fn line_after_where(text: &str, from: usize, found: impl Fn(&str) -> bool) -> usize {
    if from == 0 {
        return 0;
    }
    text.lines()
        .enumerate()
        .skip(from)
        .take_while(|(_, l)| l.starts_with([' ', '\t']) || l.is_empty())
        .find(|(_, l)| found(l))
        .map_or(from, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_errors_give_their_sls_and_line() {
        let (sls, line, message) = parse_render_error(
            "Rendering SLS 'env-1:metalk8s.repo' failed: Jinja variable 'dict object' has no attribute 'x'; line 4\n\n---\n{% set a = b.x %}    <======\n---",
        );
        assert_eq!(sls.as_deref(), Some("metalk8s.repo"));
        assert_eq!(line, 4);
        assert!(message.ends_with("line 4"), "{message}");
        let (sls, line, _) = parse_render_error("No matching sls found for 'a.b' in env 'e'");
        assert_eq!((sls.as_deref(), line), (Some("a.b"), 0));
    }

    #[test]
    fn ids_and_arguments_are_found() {
        let text = "include:\n  - x\n\nMy state:\n  file.managed:\n    - name: /a\n    - sourc: salt://a\n\"Other\":\n  cmd.run: []\n";
        let id_line = |text: &str, id: &str| IdLines::new(text).get(id);
        assert_eq!(id_line(text, "My state"), 4);
        assert_eq!(line_after(text, 4, "- sourc:"), 7);
        assert_eq!(argument_line(text, 4, "sourc"), 7);
        assert_eq!(argument_line(text, 4, "name"), 6);
        assert_eq!(line_after(text, 4, "- missing:"), 4);
        assert_eq!(id_line(text, "Other"), 8);
        assert_eq!(id_line(text, "Nope"), 0);
    }
}

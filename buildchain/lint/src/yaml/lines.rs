//! The line-based rules: trailing spaces, tabs in indentation, line length, new line at end
//! of file, document start.

/// Whether documents must (or must not) start with `---`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocumentStart {
    /// No check.
    #[default]
    Ignore,
    /// The first document starts with an explicit `---`.
    Required,
    /// The first document has no `---`.
    Forbidden,
}

/// A problem: 1-based line, optional 1-based column, rule, message.
pub(crate) type Problem = (usize, Option<usize>, &'static str, String);

pub(crate) fn trailing_spaces(text: &str, out: &mut Vec<Problem>) {
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let kept = line.trim_end_matches([' ', '\t']);
        if kept.len() != line.len() {
            let column = kept.chars().count() + 1;
            out.push((
                index + 1,
                Some(column),
                "trailing-spaces",
                "trailing spaces".into(),
            ));
        }
    }
}

pub(crate) fn tabs(text: &str, out: &mut Vec<Problem>) {
    for (index, line) in text.split('\n').enumerate() {
        let indentation = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(at) = line[..indentation].find('\t') {
            out.push((
                index + 1,
                Some(at + 1),
                "no-tabs",
                "tab character in indentation".into(),
            ));
        }
    }
}

/// yamllint's `line-length` with `allow-non-breakable-words`: a line that is one long word
/// (a URL, a hash), possibly behind `- ` or `# `, is allowed.
pub(crate) fn line_length(text: &str, max: usize, out: &mut Vec<Problem>) {
    for (index, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let length = line.chars().count();
        if length <= max {
            continue;
        }
        let content = line.trim_start();
        let content = content
            .strip_prefix("- ")
            .or_else(|| content.strip_prefix("# "))
            .unwrap_or(content)
            .trim_start();
        if !content.contains(' ') {
            continue;
        }
        out.push((
            index + 1,
            Some(max + 1),
            "line-length",
            format!("line too long ({length} > {max} characters)"),
        ));
    }
}

pub(crate) fn new_line_at_end_of_file(text: &str, out: &mut Vec<Problem>) {
    if !text.is_empty() && !text.ends_with('\n') {
        let line = text.split('\n').count();
        out.push((
            line,
            None,
            "new-line-at-end-of-file",
            "no new line character at the end of file".into(),
        ));
    }
}

pub(crate) fn document_start(text: &str, wanted: DocumentStart, out: &mut Vec<Problem>) {
    if wanted == DocumentStart::Ignore {
        return;
    }
    let first = text.split('\n').enumerate().find(|(_, line)| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#') && !line.starts_with('%')
    });
    let Some((index, line)) = first else {
        return;
    };
    let explicit = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
    match (wanted, explicit) {
        (DocumentStart::Required, false) => out.push((
            index + 1,
            Some(1),
            "document-start",
            "missing document start \"---\"".into(),
        )),
        (DocumentStart::Forbidden, true) => out.push((
            index + 1,
            Some(1),
            "document-start",
            "found forbidden document start \"---\"".into(),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl Fn(&mut Vec<Problem>)) -> Vec<(usize, Option<usize>)> {
        let mut out = Vec::new();
        f(&mut out);
        out.into_iter().map(|p| (p.0, p.1)).collect()
    }

    #[test]
    fn trailing_spaces_and_tabs() {
        assert_eq!(
            run(|o| trailing_spaces("a: 1 \nb: 2\nc: 3\t\n", o)),
            vec![(1, Some(5)), (3, Some(5))]
        );
        assert_eq!(
            run(|o| tabs("a:\n\tb: 1\nc: \"x\ty\"\n", o)),
            vec![(2, Some(1))]
        );
    }

    #[test]
    fn line_length_allows_long_words() {
        let url = format!("url: \n  - {}\n", "x".repeat(200));
        assert!(run(|o| line_length(&url, 80, o)).is_empty());
        let words = format!("a: {}\n", "word ".repeat(30));
        assert_eq!(run(|o| line_length(&words, 80, o)), vec![(1, Some(81))]);
    }

    #[test]
    fn end_of_file_and_document_start() {
        assert_eq!(
            run(|o| new_line_at_end_of_file("a: 1\nb: 2", o)),
            vec![(2, None)]
        );
        assert!(run(|o| new_line_at_end_of_file("", o)).is_empty());
        let required = DocumentStart::Required;
        assert!(run(|o| document_start("# c\n---\na: 1\n", required, o)).is_empty());
        assert_eq!(
            run(|o| document_start("# c\na: 1\n", required, o)),
            vec![(2, Some(1))]
        );
        let forbidden = DocumentStart::Forbidden;
        assert_eq!(
            run(|o| document_start("--- \na: 1\n", forbidden, o)),
            vec![(1, Some(1))]
        );
    }
}

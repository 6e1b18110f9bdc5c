//! Maps lines of a state's rendering back to the lines of its source: the source is
//! rendered a second time with a marker at the end of every line that ends outside Jinja
//! markup; the first marker on a rendered line names the source line it comes from.

const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// `source` with a line marker before every newline that is outside `{{ }}`, `{% %}` and
/// `{# #}` (so the markers never change the template's syntax or its line structure).
pub(crate) fn mark(source: &str) -> String {
    let mut out = String::with_capacity(source.len() * 2);
    let mut inside: Option<char> = None;
    let mut line = 1;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match (inside, c) {
            (None, '{') => {
                if let Some(&next @ ('{' | '%' | '#')) = chars.peek() {
                    inside = Some(if next == '{' { '}' } else { next });
                    out.push(c);
                    out.push(next);
                    chars.next();
                    continue;
                }
            }
            (Some(closing), _) if c == closing && chars.peek() == Some(&'}') => {
                inside = None;
                out.push(c);
                out.push('}');
                chars.next();
                continue;
            }
            (None, '\n') => out.extend(
                [OPEN]
                    .into_iter()
                    .chain(line.to_string().chars())
                    .chain([CLOSE]),
            ),
            _ => {}
        }
        if c == '\n' {
            line += 1;
        }
        out.push(c);
    }
    out
}

/// For each line of the marked rendering (index 0 = line 1), the source line it comes
/// from: its first marker, else the next marker below it.
pub(crate) fn source_lines(marked_rendering: &str) -> Vec<Option<usize>> {
    let lines: Vec<Option<usize>> = marked_rendering
        .split('\n')
        .map(|line| {
            let start = line.find(OPEN)? + OPEN.len_utf8();
            let end = line[start..].find(CLOSE)? + start;
            line[start..end].parse().ok()
        })
        .collect();
    let mut next = None;
    let mut mapped: Vec<Option<usize>> = lines
        .iter()
        .rev()
        .map(|line| {
            if line.is_some() {
                next = *line;
            }
            next
        })
        .collect();
    mapped.reverse();
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_stay_outside_jinja_and_keep_lines() {
        let source = "a: 1\n{% set x = {\n  'k': 1} %}\nb: {{ x\n }}\n{# c\n #}\n";
        let marked = mark(source);
        assert_eq!(marked.matches('\n').count(), source.matches('\n').count());
        assert_eq!(marked.matches(OPEN).count(), 4, "{marked:?}");
        assert!(marked.starts_with("a: 1\u{1}1\u{2}\n{% set x = {\n  'k': 1} %}\u{1}3\u{2}\n"));
    }

    #[test]
    fn rendered_lines_map_to_their_source() {
        let rendered = "a\u{1}1\u{2}\nmacro output\nb\u{1}4\u{2}\u{1}5\u{2}\nc\u{1}4\u{2}\ntail";
        assert_eq!(
            source_lines(rendered),
            vec![Some(1), Some(4), Some(4), Some(4), None]
        );
    }
}

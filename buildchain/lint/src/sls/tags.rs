//! Salt's own Jinja tags, rewritten into standard Jinja before MiniJinja compiles the
//! template (line numbers are kept: every newline of a rewritten tag stays in it):
//!
//! - `{% import_yaml EXPR as NAME %}` (and `import_json`, `import_text`)
//!   → `{% set NAME = import_yaml(EXPR) %}`
//! - `{% load_yaml as NAME %}…{% endload %}` (and `load_json`, `load_text`)
//!   → `{% set NAME | load_yaml %}…{% endset %}`

const IMPORTS: [&str; 3] = ["import_yaml", "import_json", "import_text"];
const LOADS: [&str; 3] = ["load_yaml", "load_json", "load_text"];

/// Rewrites Salt's tags in `source`; anything else is left untouched.
pub(crate) fn rewrite(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        out.push_str(&rest[..start]);
        let tag_and_after = &rest[start..];
        let Some(end) = tag_and_after.find("%}") else {
            out.push_str(tag_and_after);
            return out;
        };
        let tag = &tag_and_after[..end + 2];
        out.push_str(&rewrite_tag(tag).unwrap_or_else(|| tag.to_string()));
        rest = &tag_and_after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `tag` is `{%…%}`; returns its rewriting when it is one of Salt's.
fn rewrite_tag(tag: &str) -> Option<String> {
    let inner = &tag[2..tag.len() - 2];
    let (open, inner) = split_marker_front(inner);
    let (inner, close) = split_marker_back(inner);
    let newlines = "\n".repeat(inner.matches('\n').count());
    let body = inner.trim();
    let (keyword, arguments) = body
        .split_once(char::is_whitespace)
        .map(|(k, a)| (k, a.trim()))
        .unwrap_or((body, ""));
    let rewritten = if IMPORTS.contains(&keyword) {
        let (expression, name) = arguments.rsplit_once(" as ")?;
        format!("set {} = {keyword}({})", name.trim(), expression.trim())
    } else if LOADS.contains(&keyword) {
        let name = arguments.strip_prefix("as")?.trim();
        format!("set {name} | {keyword}")
    } else if keyword == "endload" {
        "endset".to_string()
    } else {
        return None;
    };
    Some(format!("{{%{open} {rewritten} {newlines}{close}%}}"))
}

fn split_marker_front(inner: &str) -> (&str, &str) {
    match inner.chars().next() {
        Some(c @ ('-' | '+')) => (&inner[..c.len_utf8()], &inner[c.len_utf8()..]),
        _ => ("", inner),
    }
}

fn split_marker_back(inner: &str) -> (&str, &str) {
    match inner.chars().last() {
        Some('-' | '+') => (&inner[..inner.len() - 1], &inner[inner.len() - 1..]),
        _ => (inner, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_and_loads_are_rewritten() {
        assert_eq!(
            rewrite("a\n{%- import_yaml \"x/d.yaml\" as defaults -%}\nb"),
            "a\n{%- set defaults = import_yaml(\"x/d.yaml\") -%}\nb"
        );
        assert_eq!(
            rewrite("{% load_yaml as v %}\nk: 1\n{% endload %}"),
            "{% set v | load_yaml %}\nk: 1\n{% endset %}"
        );
    }

    #[test]
    fn other_tags_and_line_count_are_kept() {
        let source = "{% if x %}\n{% import_json 'a.json'\n   as j %}\n{% endif %}";
        let out = rewrite(source);
        assert!(out.starts_with("{% if x %}"));
        assert_eq!(out.matches('\n').count(), source.matches('\n').count());
        assert_eq!(rewrite("{% unterminated"), "{% unterminated");
    }
}

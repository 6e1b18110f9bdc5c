//! A small YAML node tree with source positions, built from `yaml-rust2`'s event parser.
//!
//! `yaml-rust2`'s own loader keeps the last of duplicated keys and drops positions; the
//! linters need both, so they work on this tree instead.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// One YAML node and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    /// 1-based line of the node's first character (exact for scalars and flow collections;
    /// the parser places block collections near, not at, their first entry).
    pub line: usize,
    /// 0-based column (in characters), same precision as `line`.
    pub col: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar { value: String },
    Seq { items: Vec<Node> },
    Map { entries: Vec<(Node, Node)> },
    Alias,
}

/// A YAML syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Deeper collections are refused (the linters walk the tree recursively).
pub(crate) const MAX_DEPTH: usize = 256;

enum Open {
    Seq(Node),
    Map(Node, Option<Node>),
}

/// Parses every document of `text`; the roots of empty documents are absent.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    check_printable(text)?;
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        if stack.len() > MAX_DEPTH {
            return Err(SyntaxError {
                line: mark.line(),
                column: mark.col() + 1,
                message: format!("collections nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let complete = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart | Event::DocumentEnd => {
                continue
            }
            Event::Scalar(value, _, _, _) => Some(node(NodeKind::Scalar { value }, mark)),
            Event::Alias(_) => Some(node(NodeKind::Alias, mark)),
            Event::SequenceStart(_, _) => {
                let items = Vec::new();
                stack.push(Open::Seq(node(NodeKind::Seq { items }, mark)));
                None
            }
            Event::MappingStart(_, _) => {
                let entries = Vec::new();
                stack.push(Open::Map(node(NodeKind::Map { entries }, mark), None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(n)) | Some(Open::Map(n, _)) => Some(n),
                None => None,
            },
        };
        if let Some(done) = complete {
            match stack.last_mut() {
                None => documents.push(done),
                Some(Open::Seq(parent)) => {
                    if let NodeKind::Seq { items, .. } = &mut parent.kind {
                        items.push(done);
                    }
                }
                Some(Open::Map(parent, pending_key)) => match pending_key.take() {
                    None => *pending_key = Some(done),
                    Some(key) => {
                        if let NodeKind::Map { entries, .. } = &mut parent.kind {
                            entries.push((key, done));
                        }
                    }
                },
            }
        }
    }
    Ok(documents)
}

/// YAML streams hold printable characters only (`c-printable`); `yaml-rust2` lets some
/// others through.
fn check_printable(text: &str) -> Result<(), SyntaxError> {
    for (index, line) in text.split('\n').enumerate() {
        let bad = line.chars().enumerate().find(|(_, c)| {
            let c = *c as u32;
            (c < 0x20 && c != 0x09 && c != 0x0d)
                || (0x7f..=0x84).contains(&c)
                || (0x86..=0x9f).contains(&c)
                || c == 0xfffe
                || c == 0xffff
        });
        if let Some((column, c)) = bad {
            return Err(SyntaxError {
                line: index + 1,
                column: column + 1,
                message: format!("special character U+{:04X} is not allowed", c as u32),
            });
        }
    }
    Ok(())
}

fn node(kind: NodeKind, mark: Marker) -> Node {
    Node {
        kind,
        line: mark.line(),
        col: mark.col(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_positions() {
        let docs = parse_documents("a:\n  b: [1, 2]\n  c:\n  - x\n").unwrap();
        let NodeKind::Map { entries } = &docs[0].kind else {
            panic!("not a map")
        };
        let NodeKind::Map { entries: inner, .. } = &entries[0].1.kind else {
            panic!("not a map")
        };
        let (bkey, bval) = &inner[0];
        assert_eq!((bkey.line, bkey.col), (2, 2));
        assert!(matches!(bval.kind, NodeKind::Seq { .. }));
        assert_eq!((bval.line, bval.col), (2, 5));
        let (_, cval) = &inner[1];
        assert!(matches!(cval.kind, NodeKind::Seq { .. }));
    }

    #[test]
    fn multiple_documents_and_errors() {
        assert_eq!(parse_documents("a: 1\n---\nb: 2\n").unwrap().len(), 2);
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // Refused (by yaml-rust2's own limit, or ours), never a stack overflow.
        assert!(parse_documents(&deep).is_err());
    }
}

//! The `key-duplicates` rule: a key appears at most once per mapping (YAML forbids it, but
//! most loaders, Salt's included, silently keep the last value).

use super::tree::{Node, NodeKind};

/// A duplicated key: 1-based line and column of the repeated key, message.
pub(crate) type Duplicate = (usize, usize, String);

/// Every duplicated scalar key in `documents` (merge keys `<<` may repeat).
pub(crate) fn find(documents: &[Node]) -> Vec<Duplicate> {
    let mut found = Vec::new();
    for root in documents {
        walk(root, &mut found);
    }
    found
}

fn walk(node: &Node, found: &mut Vec<Duplicate>) {
    match &node.kind {
        NodeKind::Map { entries, .. } => {
            let mut seen: Vec<(&str, usize)> = Vec::new();
            for (key, value) in entries {
                if let NodeKind::Scalar { value: name, .. } = &key.kind {
                    if name != "<<" {
                        match seen.iter().find(|(s, _)| s == name) {
                            Some((_, first_line)) => found.push((
                                key.line,
                                key.col + 1,
                                format!(
                                    "duplication of key \"{name}\" in mapping (first at line {first_line})"
                                ),
                            )),
                            None => seen.push((name, key.line)),
                        }
                    }
                }
                walk(key, found);
                walk(value, found);
            }
        }
        NodeKind::Seq { items, .. } => items.iter().for_each(|item| walk(item, found)),
        NodeKind::Scalar { .. } | NodeKind::Alias => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse_documents;
    use super::*;

    #[test]
    fn nested_duplicates_are_found_with_their_line() {
        let docs = parse_documents("a:\n  b: 1\n  c: 2\n  b: 3\nd:\n- {x: 1, x: 2}\n").unwrap();
        let lines: Vec<usize> = find(&docs).iter().map(|d| d.0).collect();
        assert_eq!(lines, vec![4, 6]);
    }

    #[test]
    fn same_key_in_sibling_mappings_and_merge_keys_are_fine() {
        let text = "a: &a {k: 1}\nb:\n  <<: *a\n  <<: *a\n  k: 2\nc:\n  k: 3\n";
        assert!(find(&parse_documents(text).unwrap()).is_empty());
    }
}

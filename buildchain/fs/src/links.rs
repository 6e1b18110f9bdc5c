//! Symbolic links read from somewhere else (a delta's manifest, a cache entry): the one
//! rule for a link that may be recreated inside a tree.

use std::collections::HashSet;

/// Why the link at `path` (relative to a tree's root) to `target` may not be recreated, or
/// `None`: it must be relative, stay inside the tree read as text, and not go through
/// another link of the tree (`links`), whose own target would make the text lie
/// (`d -> ../..`, then `e -> d/..`). Control characters and backslashes are refused.
pub fn link_target_problem(
    path: &str,
    target: &str,
    links: &HashSet<&str>,
) -> Option<&'static str> {
    if target.is_empty() || target.chars().any(|c| c.is_control() || c == '\\') {
        return Some("is empty or holds a control character or a backslash");
    }
    if target.starts_with('/') {
        return Some("is absolute");
    }
    let mut at: Vec<&str> = path.split('/').collect();
    at.pop();
    let parts: Vec<&str> = target
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            if at.pop().is_none() {
                return Some("leaves the archive");
            }
            continue;
        }
        at.push(part);
        if i + 1 < parts.len() && links.contains(at.join("/").as_str()) {
            return Some("goes through another link of the archive");
        }
    }
    None
}

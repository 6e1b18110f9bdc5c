//! Writing the nginx locations. Every name, tag and option value reaching this module has
//! been checked (see `grammar`), so none can end a quoted string or a block.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::grammar::{self, Piece};
use crate::scan::{Catalog, Manifest, Repository};

/// The body of the `TAG_INVALID` 404 (same bytes as the original's `json.dumps`).
pub const TAG_INVALID_JSON: &str = r#"{"errors": [{"code": "TAG_INVALID", "message": "manifest tag did not match URI", "detail": ""}]}"#;

/// The constant locations: `/v2` redirect, `/v2/` ping, the internal `@404_tag`.
pub fn constants() -> String {
    format!(
        "
location = /v2 {{
    return 301 /v2/;
}}

location = /v2/ {{
    return 200 'ok';
}}

location @404_tag {{
    internal;
    types {{ }} default_type \"application/json\";
    return 404 '{TAG_INVALID_JSON}';
}}
"
    )
}

/// Name prefix and server root, normalised and checked.
pub struct Paths<'a> {
    /// Empty, or the prefix with one trailing `/` (as the original's `--name-prefix`).
    pub prefix: String,
    /// The server root without trailing `/` (unless it is `/`).
    pub server_root: &'a str,
}

/// Appends the locations of one repository.
pub fn repository(out: &mut String, repo: &Repository, paths: &Paths<'_>) {
    let prefix = &paths.prefix;
    let name = &repo.name;
    let root = paths.server_root.trim_end_matches('/');
    // Symbolic links below the server root are never followed (`disable_symlinks`).
    let from = if root.is_empty() { "/" } else { root };
    let dir = &repo.dir_name;

    let tags: Vec<String> = repo
        .tags
        .iter()
        .map(|t| format!("\"{}\"", t.name))
        .collect();
    let _ = write!(
        out,
        "
location = \"/v2/{prefix}{name}/tags/list\" {{
    types {{ }} default_type \"application/json\";
    return 200 '{{\"name\": \"{prefix}{name}\", \"tags\": [{}]}}';
}}
",
        tags.join(", ")
    );

    let mut seen = BTreeSet::new();
    for tag in &repo.tags {
        let alias = format!("{root}/{dir}/{}/", tag.name);
        manifest_location(
            out,
            &format!("/v2/{prefix}{name}/manifests/{}", tag.name),
            &alias,
            from,
            &tag.manifest,
        );
        for manifest in std::iter::once(&tag.manifest).chain(&tag.children) {
            if seen.insert(manifest.digest.as_str()) {
                manifest_location(
                    out,
                    &format!("/v2/{prefix}{name}/manifests/{}", manifest.digest),
                    &alias,
                    from,
                    manifest,
                );
            } else {
                let _ = write!(
                    out,
                    "\n# Digest {} of \"{name}:{}\" already served\n",
                    manifest.digest, tag.name
                );
            }
        }
    }

    let tries: Vec<String> = repo.tags.iter().map(|t| format!("{}/$1", t.name)).collect();
    let _ = write!(
        out,
        "
location ~ \"^/v2/{}{}/blobs/sha256:([a-f0-9]{{64}})$\" {{
    alias \"{root}/{dir}/\";
    disable_symlinks on \"from={from}\";
    try_files {} =404;
}}
",
        regex_prefix(prefix),
        grammar::regex_escape_literal(name),
        tries.join(" ")
    );
}

fn manifest_location(out: &mut String, uri: &str, alias: &str, from: &str, manifest: &Manifest) {
    let _ = write!(
        out,
        "
location = \"{uri}\" {{
    alias \"{alias}\";
    disable_symlinks on \"from={from}\";
    types {{ }} default_type \"{}\";
    add_header 'Docker-Content-Digest' '{}';
    try_files {} =404;
    error_page 404 @404_tag;
}}
",
        manifest.media_type, manifest.digest, manifest.file_name
    );
}

/// The prefix as a piece of regex: literal `.` escaped, Jinja placeholders kept as they are.
fn regex_prefix(prefix: &str) -> String {
    match grammar::split_placeholders(prefix) {
        Ok(pieces) => pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) => grammar::regex_escape_literal(text),
                Piece::Jinja(text) | Piece::Variable(text) => text.to_string(),
            })
            .collect(),
        // Unreachable for a checked prefix; escaping everything stays safe.
        Err(_) => grammar::regex_escape_literal(prefix),
    }
}

/// Appends the locations of every repository of the catalog.
pub fn catalog(out: &mut String, catalog: &Catalog, paths: &Paths<'_>) {
    for repo in &catalog.repositories {
        repository(out, repo, paths);
    }
}

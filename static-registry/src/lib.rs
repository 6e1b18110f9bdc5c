//! nginx config generator for a static, read-only container registry (see README.md).
//!
//! Images live in `ROOT/<name>/<tag>/` in skopeo's `dir:` layout (`manifest.json`,
//! `version`, one file per blob named by its hex digest, `<hex>.manifest.json` per child
//! manifest of an index). [`generate`] returns an nginx include, to be placed inside a
//! `server {}` block, that answers the Registry API v2 requests pull clients make.

mod error;
pub mod grammar;
mod manifest;
mod parse;
mod render;
mod scan;

use std::path::Path;

pub use error::Error;
pub use manifest::{MediaType, MAX_MANIFEST_SIZE};
pub use parse::{configured_images, ConfiguredImage};
pub use render::TAG_INVALID_JSON;
pub use scan::{scan, Catalog, Manifest, Repository, ServedImage, Skipped, Tag, MANIFEST_JSON};

/// A path as the errors show it (control characters escaped).
pub fn shown_path(path: &Path) -> String {
    error::shown(path)
}

/// Which parts of the config to emit (`--omit-constants` / `--only-constants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Constants {
    /// Constants (`/v2`, `/v2/`, `@404_tag`) and per-image locations.
    #[default]
    Include,
    /// Per-image locations only (`--omit-constants`).
    Omit,
    /// Constants only (`--only-constants`); the root is not read.
    Only,
}

/// Options of the generator, as the command-line flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--name-prefix`: prepended to every repository name (may hold `{{ jinja }}`
    /// placeholders). Leading and trailing `/` are ignored; empty means no prefix.
    pub name_prefix: String,
    /// `--server-root`: path nginx serves image directories from (may hold `$variables`
    /// and `{{ jinja }}` placeholders). Empty means the root scanned, made absolute.
    pub server_root: String,
    pub constants: Constants,
}

/// Generates the nginx include serving every `root/<name>/<tag>/` image.
///
/// Fails, emitting nothing, on an invalid prefix or server root, a repository name or tag
/// outside the distribution grammar, an unreadable or malformed manifest, or an index
/// child whose bytes do not match its digest.
pub fn generate(root: &Path, options: &Options) -> Result<String, Error> {
    check_options(options)?;
    if options.constants == Constants::Only {
        return Ok(render::constants());
    }
    render(&scan(root)?, options)
}

/// As [`generate`], also returning what was found on disk and not served (manifests of
/// kinds not served, tag directories without `manifest.json`, absent index children).
pub fn generate_with_report(
    root: &Path,
    options: &Options,
) -> Result<(String, Vec<Skipped>), Error> {
    check_options(options)?;
    if options.constants == Constants::Only {
        return Ok((render::constants(), Vec::new()));
    }
    let catalog = scan(root)?;
    let config = render(&catalog, options)?;
    Ok((config, catalog.skipped))
}

/// Writes the include for an already scanned catalog (see [`generate`]).
pub fn render(catalog: &Catalog, options: &Options) -> Result<String, Error> {
    check_options(options)?;
    let mut out = String::new();
    if options.constants != Constants::Omit {
        out.push_str(&render::constants());
    }
    if options.constants == Constants::Only {
        return Ok(out);
    }
    let server_root = if options.server_root.is_empty() {
        let root = catalog.root.to_str().ok_or_else(|| Error::NonUtf8Name {
            path: catalog.root.clone(),
        })?;
        // A path read from disk is literal: nginx would expand a `$` and Jinja a `{{`.
        if root.contains('$') || root.contains("{{") {
            return Err(Error::InvalidServerRoot {
                value: root.to_string(),
                reason: "the root path holds `$` or `{{`, which nginx or Jinja would expand; \
                         give the server root explicitly"
                    .to_string(),
            });
        }
        check_server_root(root)?;
        root
    } else {
        options.server_root.as_str()
    };
    let paths = render::Paths {
        prefix: normalized_prefix(&options.name_prefix),
        server_root,
    };
    render::catalog(&mut out, catalog, &paths);
    Ok(out)
}

/// Every image (repository without prefix, tag, digest, media type) that [`generate`]
/// serves for `root`, sorted. Same checks as [`generate`].
pub fn served_images(root: &Path) -> Result<Vec<ServedImage>, Error> {
    Ok(scan(root)?.served_images())
}

/// Checks the name prefix and the (non-empty) server root of `options`.
pub fn check_options(options: &Options) -> Result<(), Error> {
    let prefix = options.name_prefix.trim_matches('/');
    if !prefix.is_empty() {
        grammar::check_name_prefix(prefix).map_err(|reason| Error::InvalidNamePrefix {
            value: options.name_prefix.clone(),
            reason,
        })?;
    }
    if !options.server_root.is_empty() {
        check_server_root(&options.server_root)?;
    }
    Ok(())
}

fn check_server_root(value: &str) -> Result<(), Error> {
    grammar::check_server_root(value).map_err(|reason| Error::InvalidServerRoot {
        value: value.to_string(),
        reason,
    })
}

/// The prefix as the original writes it: no leading `/`, one trailing `/` unless empty.
fn normalized_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn error_is_send_sync() {
        assert_send_sync::<Error>();
    }

    #[test]
    fn prefix_is_normalized_as_the_original() {
        assert_eq!(normalized_prefix(""), "");
        assert_eq!(normalized_prefix("/"), "");
        assert_eq!(normalized_prefix("/a/b/"), "a/b/");
        assert_eq!(normalized_prefix("{{ repository }}"), "{{ repository }}/");
    }

    #[test]
    fn only_constants_reads_nothing() {
        let options = Options {
            constants: Constants::Only,
            ..Options::default()
        };
        let out = generate(Path::new("/nonexistent/root"), &options).unwrap();
        assert!(out.contains("location = /v2/ {"));
        assert!(out.contains("TAG_INVALID"));
    }
}

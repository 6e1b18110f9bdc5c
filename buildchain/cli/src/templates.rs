//! Handlebars rendering of `.in` files (strict: a missing variable is an error naming the
//! file) and the values they see.

use std::path::Path;

use anyhow::{Context as _, Result};
use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::config::Config;

/// The build timestamp: the build's epoch (see `epoch.rs`), as `%Y-%m-%dT%H:%M:%SZ`.
pub fn build_timestamp(cfg: &Config) -> String {
    crate::epoch::format_utc(cfg.epoch.seconds)
}

/// The variables templates see (see docs/distribution.md).
pub fn context(cfg: &Config) -> Value {
    let v = &cfg.version;
    json!({
        "project_name": cfg.project_name,
        "version": v.full(),
        "short_version": v.short(),
        "version_major": v.major.to_string(),
        "version_minor": v.minor.to_string(),
        "version_patch": v.patch.to_string(),
        "version_suffix": v.suffix,
        "development_release": if v.is_development() { "1" } else { "0" },
        "git": cfg.git,
        "build_timestamp": build_timestamp(cfg),
        "build_host": cfg.build_host,
        "kubernetes_version": cfg.versions.kubernetes.version,
        "product_id": cfg.product_id(),
    })
}

/// What a rendering depends on, for task definitions: the whole context (the build time
/// is the epoch: stable for a commit).
pub fn context_version(cfg: &Config) -> String {
    context(cfg).to_string()
}

/// The context templates are linted with: the values that change with every commit
/// (`git`, `build_timestamp`) or host (`build_host`) pinned, so a lint's result, and its
/// fingerprint, depend only on what can change a finding: the template and the version.
pub fn lint_context(cfg: &Config) -> Value {
    let mut ctx = context(cfg);
    ctx["git"] = json!("0.0.0-0-g0000000");
    ctx["build_timestamp"] = json!(crate::epoch::format_utc(0));
    ctx["build_host"] = json!("lint");
    ctx
}

/// Renders the template file `path` (shown in errors) with `ctx`.
pub fn render_file(path: &Path, ctx: &Value) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    render(&text, ctx).with_context(|| format!("{}: template error", path.display()))
}

pub fn render(text: &str, ctx: &Value) -> Result<String> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.render_template(text, ctx)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string().replace("\"Unnamed template\" ", "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rendering() {
        let ctx = json!({"version": "1.0"});
        assert_eq!(render("V={{version}} <&>", &ctx).unwrap(), "V=1.0 <&>");
        let err = render("line\n{{nope}}", &ctx).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(render("{{#if}}", &ctx).is_err());
    }
}

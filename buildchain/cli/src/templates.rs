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

/// Renders the template file `path` (named in errors, once) with `ctx`.
pub fn render_file(path: &Path, ctx: &Value) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    render_named(&path.display().to_string(), &text, ctx)
}

/// Renders `text`; errors name `name` once: `Error rendering "NAME" line L, col C: …`.
fn render_named(name: &str, text: &str, ctx: &Value) -> Result<String> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_template_string(name, text)
        .map_err(|e| anyhow::anyhow!("{name}: template error: {e}"))?;
    hb.render(name, ctx).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rendering() {
        let ctx = json!({"version": "1.0"});
        let render = |text: &str| render_named("t.in", text, &ctx);
        assert_eq!(render("V={{version}} <&>").unwrap(), "V=1.0 <&>");
        let err = render("line\n{{nope}}").unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("\"t.in\" line 2"),
            "{err}"
        );
        assert!(!err.contains("Unnamed"), "{err}");
        assert!(render("{{#if}}").is_err());
    }
}

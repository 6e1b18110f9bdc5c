//! Handlebars rendering of `.in` files (strict: a missing variable is an error naming the
//! file) and the values they see.

use std::path::Path;

use anyhow::{Context as _, Result};
use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::config::Config;

/// `%Y-%m-%dT%H:%M:%SZ` of a Unix time (UTC).
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The build timestamp: `SOURCE_DATE_EPOCH` when set, else now.
pub fn build_timestamp(cfg: &Config) -> String {
    let secs = cfg.source_date_epoch.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    format_utc(secs)
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

/// What a rendering depends on, for task definitions: the context, without the build
/// time unless `SOURCE_DATE_EPOCH` fixes it (otherwise every run would differ).
pub fn context_version(cfg: &Config) -> String {
    let mut ctx = context(cfg);
    if cfg.source_date_epoch.is_none() {
        if let Some(map) = ctx.as_object_mut() {
            map.remove("build_timestamp");
        }
    }
    ctx.to_string()
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
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn strict_rendering() {
        let ctx = json!({"version": "1.0"});
        assert_eq!(render("V={{version}} <&>", &ctx).unwrap(), "V=1.0 <&>");
        let err = render("line\n{{nope}}", &ctx).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
        assert!(render("{{#if}}", &ctx).is_err());
    }
}

//! The `VERSION` file (MetalK8s format: `VERSION_MAJOR=0` … `KEY=value` lines).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub suffix: String,
}

impl Version {
    /// `M.m.p<suffix>`.
    pub fn full(&self) -> String {
        format!(
            "{}.{}.{}{}",
            self.major, self.minor, self.patch, self.suffix
        )
    }

    /// `M.m`.
    pub fn short(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    /// A development release has the suffix `-dev` exactly.
    pub fn is_development(&self) -> bool {
        self.suffix == "-dev"
    }

    pub fn load(path: &Path) -> Result<Version> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        Version::parse(&text).with_context(|| format!("{}: malformed VERSION file", path.display()))
    }

    pub fn parse(text: &str) -> Result<Version> {
        let mut values = BTreeMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                bail!("line {}: expected KEY=value, found {raw:?}", n + 1);
            };
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            values.insert(key.trim().to_string(), (n + 1, value.to_string()));
        }
        let number = |key: &str| -> Result<u64> {
            let (line, value) = values
                .get(key)
                .ok_or_else(|| anyhow::anyhow!("{key} is missing"))?;
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 9 {
                bail!("line {line}: {key} must be a number, found {value:?}");
            }
            Ok(value.parse()?)
        };
        let suffix = values
            .get("VERSION_SUFFIX")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if let Some(bad) = suffix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '+')))
        {
            bail!("VERSION_SUFFIX {suffix:?}: character {bad:?} is not allowed (letters, digits, - . _ +)");
        }
        Ok(Version {
            major: number("VERSION_MAJOR")?,
            minor: number("VERSION_MINOR")?,
            patch: number("VERSION_PATCH")?,
            suffix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metalk8s_format() {
        let v = Version::parse(
            "VERSION_MAJOR=2\nVERSION_MINOR=4\nVERSION_PATCH=3\nVERSION_SUFFIX=-dev\nOTHER=x\n",
        )
        .unwrap();
        assert_eq!(v.full(), "2.4.3-dev");
        assert_eq!(v.short(), "2.4");
        assert!(v.is_development());
        let v = Version::parse("# c\nexport VERSION_MAJOR=1\nVERSION_MINOR=0\nVERSION_PATCH=0\n")
            .unwrap();
        assert_eq!(v.full(), "1.0.0");
        assert!(!v.is_development());
    }

    #[test]
    fn rejects_malformed() {
        for (text, msg) in [
            (
                "VERSION_MAJOR=1\nVERSION_MINOR=x\nVERSION_PATCH=0",
                "VERSION_MINOR must be a number",
            ),
            (
                "VERSION_MAJOR=1\nVERSION_PATCH=0",
                "VERSION_MINOR is missing",
            ),
            ("VERSION_MAJOR=1\ngarbage\n", "line 2: expected KEY=value"),
            (
                "VERSION_MAJOR=1\nVERSION_MINOR=0\nVERSION_PATCH=0\nVERSION_SUFFIX=-dev/../x",
                "not allowed",
            ),
        ] {
            let err = format!("{:#}", Version::parse(text).unwrap_err());
            assert!(err.contains(msg), "{err}");
        }
    }
}

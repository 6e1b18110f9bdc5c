//! A dependency (`Requires:`, `Provides:` …): a name and an optional versioned comparison.

use std::fmt;

use crate::vercmp::{ranges_overlap, Comparison, Evr};

/// `name [op evr]`, e.g. `python3`, `sos >= 4.0`, `/bin/sh`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    pub name: String,
    pub version: Option<(Comparison, Evr)>,
    /// Needed before the package's scriptlets run (`Requires(pre)`); repodata `pre="1"`.
    pub pre: bool,
}

impl Dependency {
    pub fn unversioned(name: impl Into<String>) -> Self {
        Dependency {
            name: name.into(),
            version: None,
            pre: false,
        }
    }

    /// Parses the spec-file form `name`, `name OP [epoch:]version[-release]`.
    pub fn parse(text: &str) -> Result<Dependency, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let name = match words.first() {
            Some(name) => *name,
            None => return Err("empty dependency".into()),
        };
        if name.contains(['<', '>', '=', ',']) {
            return Err("expected 'name' or 'name OP version' with spaces around OP".into());
        }
        let version = match words.as_slice() {
            [_] => None,
            [_, op, evr] => {
                let op = Comparison::from_operator(op)
                    .ok_or_else(|| format!("unknown comparison '{op}' (use <, <=, =, >=, >)"))?;
                let evr = Evr::parse(evr)
                    .ok_or_else(|| format!("'{evr}' is not a valid [epoch:]version[-release]"))?;
                Some((op, evr))
            }
            _ => return Err("expected 'name' or 'name OP version'".into()),
        };
        Ok(Dependency {
            name: name.to_string(),
            version,
            pre: false,
        })
    }

    /// Whether a provide `self` satisfies the requirement `required`.
    pub fn satisfies(&self, required: &Dependency) -> bool {
        self.name == required.name
            && ranges_overlap(
                self.version.as_ref().map(|(c, e)| (*c, e)),
                required.version.as_ref().map(|(c, e)| (*c, e)),
            )
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some((op, evr)) = &self.version {
            write!(f, " {} {}", op.operator(), evr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let req = Dependency::parse("sos >= 4.0").unwrap();
        assert_eq!(req.to_string(), "sos >= 4.0");
        let prov = Dependency::parse("sos = 4.5.6-1.el8").unwrap();
        assert!(prov.satisfies(&req));
        assert!(!Dependency::parse("sos = 3.9-1").unwrap().satisfies(&req));
        assert!(Dependency::unversioned("sos").satisfies(&req));
        assert!(Dependency::parse("sos>=4").is_err());
        assert!(Dependency::parse("sos >> 4").is_err());
        assert!(Dependency::parse("sos >= ").is_err());
        assert!(Dependency::parse("").is_err());
    }
}

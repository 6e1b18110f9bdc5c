//! RPM version comparison: `rpmvercmp` and epoch:version-release ordering, as rpm does it
//! (rpmio/rpmvercmp.c semantics, including `~` pre-releases and `^` post-releases).

use std::cmp::Ordering;
use std::fmt;

/// Compares two version (or release) strings the way `rpmvercmp` does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0usize, 0usize);
    let separator = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && separator(a[i]) {
            i += 1;
        }
        while j < b.len() && separator(b[j]) {
            j += 1;
        }
        let ca = a.get(i).copied();
        let cb = b.get(j).copied();
        // A tilde sorts before everything, even the end of the string.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // A caret sorts after the end of the string but before anything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca.is_none() || cb.is_none() {
            break;
        }
        let (start_a, start_b) = (i, j);
        let numeric = a[i].is_ascii_digit();
        if numeric {
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else {
            while i < a.len() && a[i].is_ascii_alphabetic() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
        }
        // Segments of different kinds: a numeric segment is newer than an alphabetic one.
        if j == start_b {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let mut seg_a = &a[start_a..i];
        let mut seg_b = &b[start_b..j];
        if numeric {
            while seg_a.first() == Some(&b'0') {
                seg_a = &seg_a[1..];
            }
            while seg_b.first() == Some(&b'0') {
                seg_b = &seg_b[1..];
            }
            match seg_a.len().cmp(&seg_b.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match seg_a.cmp(seg_b) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

/// An epoch:version-release triple. A missing release (in a requirement such as
/// `foo >= 1.2`) matches any release.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evr {
    pub epoch: u32,
    pub version: String,
    pub release: Option<String>,
}

impl Evr {
    pub fn new(epoch: u32, version: impl Into<String>, release: Option<String>) -> Self {
        Evr {
            epoch,
            version: version.into(),
            release,
        }
    }

    /// Parses `[epoch:]version[-release]`. Returns `None` when the epoch is not a number
    /// or the version is empty.
    pub fn parse(text: &str) -> Option<Evr> {
        let (epoch, rest) = match text.split_once(':') {
            Some((e, rest)) => (e.parse::<u32>().ok()?, rest),
            None => (0, text),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        if version.is_empty() || release.as_deref() == Some("") {
            return None;
        }
        Some(Evr::new(epoch, version, release))
    }

    /// Compares two EVRs; the release is compared only when both have one.
    pub fn compare(&self, other: &Evr) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.version)?;
        if let Some(release) = &self.release {
            write!(f, "-{release}")?;
        }
        Ok(())
    }
}

/// The comparison of a versioned dependency (`LT`, `LE`, `EQ`, `GE`, `GT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Comparison {
    /// The repodata spelling (`flags="GE"`).
    pub fn repodata_flag(self) -> &'static str {
        match self {
            Comparison::Lt => "LT",
            Comparison::Le => "LE",
            Comparison::Eq => "EQ",
            Comparison::Ge => "GE",
            Comparison::Gt => "GT",
        }
    }

    pub fn from_repodata_flag(flag: &str) -> Option<Self> {
        Some(match flag {
            "LT" => Comparison::Lt,
            "LE" => Comparison::Le,
            "EQ" => Comparison::Eq,
            "GE" => Comparison::Ge,
            "GT" => Comparison::Gt,
            _ => return None,
        })
    }

    /// The spec-file spelling (`>=`).
    pub fn operator(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Eq => "=",
            Comparison::Ge => ">=",
            Comparison::Gt => ">",
        }
    }

    pub fn from_operator(op: &str) -> Option<Self> {
        Some(match op {
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            "=" | "==" => Comparison::Eq,
            ">=" => Comparison::Ge,
            ">" => Comparison::Gt,
            _ => return None,
        })
    }

    fn less(self) -> bool {
        matches!(self, Comparison::Lt | Comparison::Le)
    }
    fn greater(self) -> bool {
        matches!(self, Comparison::Gt | Comparison::Ge)
    }
    fn equal(self) -> bool {
        matches!(self, Comparison::Le | Comparison::Eq | Comparison::Ge)
    }
}

/// Whether the ranges `provided` and `required` overlap (rpm's `rpmdsCompare`): an
/// unversioned side matches anything.
pub fn ranges_overlap(
    provided: Option<(Comparison, &Evr)>,
    required: Option<(Comparison, &Evr)>,
) -> bool {
    let (Some((pc, pe)), Some((rc, re))) = (provided, required) else {
        return true;
    };
    match pe.compare(re) {
        Ordering::Less => pc.greater() || rc.less(),
        Ordering::Greater => pc.less() || rc.greater(),
        Ordering::Equal => {
            (pc.equal() && rc.equal()) || (pc.less() && rc.less()) || (pc.greater() && rc.greater())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn rpmvercmp_matches_rpm_test_suite() {
        // Cases from rpm's own tests/rpmvercmp.at.
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0", "1.0", Greater),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1a", Equal),
            ("2.0.1a", "2.0.1", Greater),
            ("2.0.1", "2.0.1a", Less),
            ("5.5p1", "5.5p1", Equal),
            ("5.5p1", "5.5p2", Less),
            ("5.5p2", "5.5p1", Greater),
            ("5.5p10", "5.5p10", Equal),
            ("5.5p1", "5.5p10", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("10.1xyz", "10xyz", Greater),
            ("xyz10", "xyz10", Equal),
            ("xyz10", "xyz10.1", Less),
            ("xyz10.1", "xyz10", Greater),
            ("xyz.4", "xyz.4", Equal),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("xyz.4", "2", Less),
            ("2", "xyz.4", Greater),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "5.5p2", Greater),
            ("5.6p1", "6.5p1", Less),
            ("6.5p1", "5.6p1", Greater),
            ("6.0.rc1", "6.0", Greater),
            ("6.0", "6.0.rc1", Less),
            ("10b2", "10a1", Greater),
            ("10a2", "10b2", Less),
            ("1.0aa", "1.0aa", Equal),
            ("1.0a", "1.0aa", Less),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.0001", Equal),
            ("10.0001", "10.1", Equal),
            ("10.1", "10.0001", Equal),
            ("10.0001", "10.0039", Less),
            ("10.0039", "10.0001", Greater),
            ("4.999.9", "5.0", Less),
            ("5.0", "4.999.9", Greater),
            ("20101121", "20101121", Equal),
            ("20101121", "20101122", Less),
            ("20101122", "20101121", Greater),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("2_0", "2.0", Equal),
            ("a", "a", Equal),
            ("a+", "a+", Equal),
            ("a+", "a_", Equal),
            ("a_", "a+", Equal),
            ("+a", "+a", Equal),
            ("+a", "_a", Equal),
            ("_a", "+a", Equal),
            ("+_", "+_", Equal),
            ("_+", "+_", Equal),
            ("_+", "_+", Equal),
            ("+", "_", Equal),
            ("_", "+", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0~rc1", Greater),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc2", "1.0~rc1", Greater),
            ("1.0~rc1~git123", "1.0~rc1~git123", Equal),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0~rc1", "1.0~rc1~git123", Greater),
            ("1.0^", "1.0^", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0", "1.0^", Less),
            ("1.0^git1", "1.0^git1", Equal),
            ("1.0^git1", "1.0", Greater),
            ("1.0", "1.0^git1", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git2", "1.0^git1", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.01", "1.0^git1", Greater),
            ("1.0^20160101", "1.0^20160101", Equal),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0.1", "1.0^20160101", Greater),
            ("1.0^20160101^git1", "1.0^20160101^git1", Equal),
            ("1.0^20160102", "1.0^20160101^git1", Greater),
            ("1.0^20160101^git1", "1.0^20160102", Less),
            ("1.0~rc1^git1", "1.0~rc1^git1", Equal),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0~rc1", "1.0~rc1^git1", Less),
            ("1.0^git1~pre", "1.0^git1~pre", Equal),
            ("1.0^git1", "1.0^git1~pre", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(rpmvercmp(a, b), *expected, "rpmvercmp({a:?}, {b:?})");
        }
    }

    #[test]
    fn evr_ordering_and_parsing() {
        let e = |s: &str| Evr::parse(s).unwrap();
        assert_eq!(e("1:1.0-1").compare(&e("2.0-1")), Greater);
        assert_eq!(e("1.0-2").compare(&e("1.0-10")), Less);
        assert_eq!(e("1.0").compare(&e("1.0-10")), Equal);
        assert_eq!(e("1:2.3-4.el8").to_string(), "1:2.3-4.el8");
        assert!(Evr::parse("x:1.0").is_none());
        assert!(Evr::parse("").is_none());
        assert!(Evr::parse("1.0-").is_none());
    }

    #[test]
    fn dependency_ranges() {
        let e = |s: &str| Evr::parse(s).unwrap();
        use Comparison::*;
        let v2 = e("2.0-1");
        let v1 = e("1.0");
        assert!(ranges_overlap(Some((Eq, &v2)), Some((Ge, &v1))));
        assert!(!ranges_overlap(Some((Eq, &v2)), Some((Lt, &v1))));
        assert!(ranges_overlap(Some((Eq, &v2)), Some((Eq, &e("2.0")))));
        assert!(!ranges_overlap(Some((Eq, &v2)), Some((Eq, &e("2.0-2")))));
        assert!(ranges_overlap(None, Some((Eq, &v1))));
        assert!(ranges_overlap(Some((Ge, &v1)), Some((Gt, &v2))));
        assert!(!ranges_overlap(Some((Le, &v1)), Some((Gt, &v2))));
    }
}

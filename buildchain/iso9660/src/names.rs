//! Name mapping: host names to ISO 9660 identifiers (levels 1-3, mkisofs `-l` style) and to
//! Joliet UCS-2 identifiers, with collisions resolved by a numeric suffix (never dropped).

use std::collections::{HashMap, HashSet};

/// Limits of ISO 9660 identifiers for a level / `-full-iso9660-filenames` combination.
#[derive(Debug, Clone, Copy)]
pub struct IsoNameRules {
    /// Max length of a file's name part (8 at level 1 without `-l`, else 30).
    pub file_name_max: usize,
    /// Max length of a file's extension (3 at level 1 without `-l`, else 30).
    pub file_ext_max: usize,
    /// Max length of name + extension of a file.
    pub file_total_max: usize,
    /// Max length of a directory identifier.
    pub dir_max: usize,
}

impl IsoNameRules {
    pub fn new(iso_level: u8, full_iso9660_filenames: bool) -> Self {
        if iso_level <= 1 && !full_iso9660_filenames {
            IsoNameRules {
                file_name_max: 8,
                file_ext_max: 3,
                file_total_max: 11,
                dir_max: 8,
            }
        } else {
            IsoNameRules {
                file_name_max: 30,
                file_ext_max: 30,
                file_total_max: 30,
                dir_max: 31,
            }
        }
    }
}

fn d_chars(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&b| {
            let c = b.to_ascii_uppercase();
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_' {
                c
            } else {
                b'_'
            }
        })
        .collect()
}

/// A mapped ISO 9660 name before collision resolution: `base` and, for files, `ext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoName {
    pub base: Vec<u8>,
    pub ext: Option<Vec<u8>>,
}

impl IsoName {
    /// The identifier written in the directory record (`NAME.EXT;1` for files).
    pub fn identifier(&self) -> Vec<u8> {
        match &self.ext {
            None => self.base.clone(),
            Some(ext) => {
                let mut id = self.base.clone();
                id.push(b'.');
                id.extend_from_slice(ext);
                id.extend_from_slice(b";1");
                id
            }
        }
    }

    /// The key two names must not share: the name without `;1` and without a bare final dot.
    fn key(&self) -> Vec<u8> {
        let mut k = self.base.clone();
        if let Some(ext) = &self.ext {
            if !ext.is_empty() {
                k.push(b'.');
                k.extend_from_slice(ext);
            }
        }
        k
    }
}

/// Maps a host name (bytes, usually UTF-8) to an ISO 9660 name (§3.4 of the spec): upper
/// case, non-d-characters to `_`, split at the last dot, name part shortened first.
pub fn map_iso_name(name: &[u8], is_dir: bool, rules: &IsoNameRules) -> IsoName {
    // Multi-byte UTF-8 sequences become one `_` each, not one per byte.
    let ascii: Vec<u8> = String::from_utf8_lossy(name)
        .chars()
        .map(|c| if c.is_ascii() { c as u8 } else { b'_' })
        .collect();
    if is_dir {
        let mut base = d_chars(&ascii);
        base.truncate(rules.dir_max);
        if base.is_empty() {
            base.push(b'_');
        }
        return IsoName { base, ext: None };
    }
    let (base, ext) = match ascii.iter().rposition(|&b| b == b'.') {
        Some(dot) => (d_chars(&ascii[..dot]), d_chars(&ascii[dot + 1..])),
        None => (d_chars(&ascii), Vec::new()),
    };
    let mut ext = ext;
    let mut base = base;
    ext.truncate(rules.file_ext_max);
    if base.len() + ext.len() > rules.file_total_max {
        // Keep at least 3 characters of extension, shorten the name part first.
        let ext_keep = ext
            .len()
            .min(3.max(rules.file_total_max.saturating_sub(base.len())));
        ext.truncate(ext_keep);
    }
    base.truncate(rules.file_name_max.min(rules.file_total_max - ext.len()));
    if base.is_empty() && ext.is_empty() {
        base.push(b'_');
    }
    IsoName {
        base,
        ext: Some(ext),
    }
}

/// Makes the names of one directory unique by replacing the tail of the name part with a
/// decimal counter. Returns the identifiers in input order.
pub fn resolve_iso_collisions(names: Vec<IsoName>, rules: &IsoNameRules) -> Vec<Vec<u8>> {
    let mut taken: HashSet<Vec<u8>> = HashSet::with_capacity(names.len());
    let mut first_seen: HashSet<Vec<u8>> = HashSet::with_capacity(names.len());
    let mut next_counter: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut clashing = vec![false; names.len()];
    for (i, n) in names.iter().enumerate() {
        if !first_seen.insert(n.key()) {
            clashing[i] = true;
        } else {
            taken.insert(n.key());
        }
    }
    let mut out = Vec::with_capacity(names.len());
    for (i, mut n) in names.into_iter().enumerate() {
        if clashing[i] {
            let max = match &n.ext {
                None => rules.dir_max,
                Some(ext) => rules.file_name_max.min(rules.file_total_max - ext.len()),
            };
            let original = n.base.clone();
            // Each clashing name resumes its counter where the last one of its group
            // stopped: k names of one group cost O(k) tries, not O(k²).
            let counter = next_counter.entry(n.key()).or_insert(1);
            loop {
                let digits = counter.to_string().into_bytes();
                let keep = original.len().min(max.saturating_sub(digits.len()));
                let mut base = original[..keep].to_vec();
                base.extend_from_slice(&digits);
                let candidate = IsoName {
                    base,
                    ext: n.ext.clone(),
                };
                *counter += 1;
                if taken.insert(candidate.key()) {
                    n = candidate;
                    break;
                }
            }
        }
        out.push(n.identifier());
    }
    out
}

/// ECMA-119 9.3 sort key of an identifier: name part, then extension (version ignored).
pub fn iso_sort_key(identifier: &[u8]) -> Vec<u8> {
    let end = identifier
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(identifier.len());
    identifier[..end].to_vec()
}

/// Maps a host name to a Joliet name in UCS-2/UTF-16 code units: forbidden characters to
/// `_`, at most `max_units` units including the dot, extension (up to 5 units) kept.
/// Characters outside the BMP are written as UTF-16 surrogate pairs (never split).
pub fn map_joliet_name(name: &str, is_dir: bool, max_units: usize) -> Vec<u16> {
    let clean: String = name
        .chars()
        .map(|c| match c {
            '\u{0}'..='\u{1f}' | '*' | '/' | ':' | ';' | '?' | '\\' => '_',
            c => c,
        })
        .collect();
    let (base, ext) = match clean.rfind('.') {
        Some(dot) if !is_dir && dot > 0 && clean.len() - dot - 1 <= 5 => {
            (&clean[..dot], Some(&clean[dot + 1..]))
        }
        _ => (clean.as_str(), None),
    };
    let ext_units: Vec<u16> = ext.map(|e| e.encode_utf16().collect()).unwrap_or_default();
    let reserved = if ext.is_some() {
        ext_units.len() + 1
    } else {
        0
    };
    let mut out = truncate_utf16(base, max_units - reserved);
    if ext.is_some() {
        out.push(u16::from(b'.'));
        out.extend_from_slice(&ext_units);
    }
    out
}

/// The UTF-16 units of `s`, cut to at most `max` units without splitting a surrogate pair.
fn truncate_utf16(s: &str, max: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(max);
    for c in s.chars() {
        let mut buf = [0u16; 2];
        let units = c.encode_utf16(&mut buf);
        if out.len() + units.len() > max {
            break;
        }
        out.extend_from_slice(units);
    }
    out
}

/// Makes Joliet names of one directory unique (numeric suffix before the extension).
pub fn resolve_joliet_collisions(names: Vec<Vec<u16>>, max_units: usize) -> Vec<Vec<u16>> {
    let mut seen: HashSet<Vec<u16>> = HashSet::with_capacity(names.len());
    let mut next_counter: HashMap<Vec<u16>, u64> = HashMap::new();
    let mut clashing = vec![false; names.len()];
    for (i, n) in names.iter().enumerate() {
        clashing[i] = !seen.insert(n.clone());
    }
    let mut out = Vec::with_capacity(names.len());
    for (i, n) in names.into_iter().enumerate() {
        if !clashing[i] {
            out.push(n);
            continue;
        }
        let dot = n
            .iter()
            .rposition(|&u| u == u16::from(b'.'))
            .filter(|&d| d > 0);
        let (base, ext) = match dot {
            Some(d) => (n[..d].to_vec(), n[d..].to_vec()),
            None => (n.clone(), Vec::new()),
        };
        let counter = next_counter.entry(n.clone()).or_insert(1);
        loop {
            let digits: Vec<u16> = counter.to_string().encode_utf16().collect();
            *counter += 1;
            let mut keep = base
                .len()
                .min(max_units.saturating_sub(digits.len() + ext.len()));
            // Never end the kept part on a high surrogate.
            if keep > 0 && (0xD800..0xDC00).contains(&base[keep - 1]) {
                keep -= 1;
            }
            let mut candidate = base[..keep].to_vec();
            candidate.extend_from_slice(&digits);
            candidate.extend_from_slice(&ext);
            if seen.insert(candidate.clone()) {
                out.push(candidate);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l3() -> IsoNameRules {
        IsoNameRules::new(3, true)
    }

    fn id(name: &str, is_dir: bool) -> String {
        String::from_utf8(map_iso_name(name.as_bytes(), is_dir, &l3()).identifier()).unwrap()
    }

    #[test]
    fn level3_file_names() {
        assert_eq!(id("file1.txt", false), "FILE1.TXT;1");
        assert_eq!(id("sym1", false), "SYM1.;1");
        assert_eq!(
            id(
                "a_very_long_file_name_with_more_than_thirty_characters_in_it_for_the_test.txt",
                false
            ),
            "A_VERY_LONG_FILE_NAME_WITH_.TXT;1"
        );
        assert_eq!(id("archive.tar.gz", false), "ARCHIVE_TAR.GZ;1");
        assert_eq!(id("héllo wörld.md", false), "H_LLO_W_RLD.MD;1");
        assert_eq!(id(".hidden", false), ".HIDDEN;1");
        assert_eq!(id("x.averyveryveryveryverylongextension", false).len(), 33);
    }

    #[test]
    fn level3_dir_names() {
        assert_eq!(id("my.dir-name", true), "MY_DIR_NAME");
        assert_eq!(id(&"d".repeat(40), true), "D".repeat(31));
    }

    #[test]
    fn level1_names() {
        let r = IsoNameRules::new(1, false);
        let n = map_iso_name(b"hardlink.txt", false, &r).identifier();
        assert_eq!(n, b"HARDLINK.TXT;1");
        let n = map_iso_name(b"a_very_long.text", false, &r).identifier();
        assert_eq!(n, b"A_VERY_L.TEX;1");
    }

    #[test]
    fn collisions_are_resolved_not_dropped() {
        let r = l3();
        let names: Vec<IsoName> = ["a-b.txt", "a_b.txt", "A+B.txt", "a b.TXT"]
            .iter()
            .map(|n| map_iso_name(n.as_bytes(), false, &r))
            .collect();
        let ids = resolve_iso_collisions(names, &r);
        let set: HashSet<_> = ids.iter().collect();
        assert_eq!(set.len(), 4, "{ids:?}");
        assert_eq!(ids[0], b"A_B.TXT;1");
        assert_eq!(ids[1], b"A_B1.TXT;1");

        let long = "x".repeat(60);
        let names: Vec<IsoName> = (0..12)
            .map(|i| map_iso_name(format!("{long}{i}").as_bytes(), true, &r))
            .collect();
        let ids = resolve_iso_collisions(names, &r);
        let set: HashSet<_> = ids.iter().collect();
        assert_eq!(set.len(), 12);
        assert!(ids.iter().all(|i| i.len() <= 31));
    }

    #[test]
    fn joliet_names() {
        let n = map_joliet_name("a:b*c.txt", false, 64);
        assert_eq!(String::from_utf16(&n).unwrap(), "a_b_c.txt");
        let long = format!("{}.txt", "é".repeat(200));
        let n = map_joliet_name(&long, false, 103);
        assert_eq!(n.len(), 103);
        assert!(String::from_utf16(&n).unwrap().ends_with(".txt"));
        let emoji = "😀".repeat(60);
        let n = map_joliet_name(&emoji, false, 103);
        assert_eq!(n.len(), 102);
        assert!(String::from_utf16(&n).is_ok());
        let ids = resolve_joliet_collisions(vec![n.clone(), n.clone()], 103);
        assert_ne!(ids[0], ids[1]);
        assert!(ids[1].len() <= 103);
        assert!(String::from_utf16(&ids[1]).is_ok());
    }
}

//! What an archive holds, with the SHA-256 of every file: the common ground of a diff and
//! a delta. Files are hashed in parallel, each read once.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::archive::{Archive, Entry, EntryKind};
use crate::error::ReleaseError;

/// `product.txt` is a few hundred bytes; anything much larger is not one.
const PRODUCT_TXT_LIMIT: u64 = 64 << 10;

/// One entry and, for a file, the SHA-256 of its content (lower-case hex).
#[derive(Debug, Clone)]
pub struct Item {
    pub entry: Entry,
    pub sha256: Option<String>,
}

/// An archive's entries with their content sums, and its `product.txt` fields.
#[derive(Debug)]
pub struct Inventory {
    pub volume_id: Option<String>,
    /// `KEY=value` lines of `product.txt` (empty when it has none).
    pub product: BTreeMap<String, String>,
    pub items: Vec<Item>,
    index: HashMap<String, usize>,
}

impl Inventory {
    /// Reads every entry of `archive` and hashes every file.
    pub fn read(archive: &Archive) -> Result<Inventory, ReleaseError> {
        let entries = archive.entries()?;
        let items = entries
            .into_par_iter()
            .map(|entry| {
                let sha256 = match entry.kind {
                    EntryKind::File => Some(hash(archive, &entry)?),
                    _ => None,
                };
                Ok(Item { entry, sha256 })
            })
            .collect::<Result<Vec<_>, ReleaseError>>()?;
        let product = match archive.read_small("product.txt", PRODUCT_TXT_LIMIT)? {
            Some(bytes) => parse_key_values(&String::from_utf8_lossy(&bytes)),
            None => BTreeMap::new(),
        };
        let index = items
            .iter()
            .enumerate()
            .map(|(i, item)| (item.entry.path.clone(), i))
            .collect();
        Ok(Inventory {
            volume_id: archive.volume_id().map(str::to_string),
            product,
            items,
            index,
        })
    }

    pub fn get(&self, path: &str) -> Option<&Item> {
        self.index.get(path).map(|&i| &self.items[i])
    }

    /// `VERSION` of product.txt.
    pub fn version(&self) -> Option<&str> {
        self.product.get("VERSION").map(String::as_str)
    }

    /// The files, by content: sha256 -> the first path holding it.
    pub fn by_content(&self) -> HashMap<&str, &str> {
        let mut map = HashMap::new();
        for item in &self.items {
            if let Some(sha) = &item.sha256 {
                map.entry(sha.as_str()).or_insert(item.entry.path.as_str());
            }
        }
        map
    }
}

fn hash(archive: &Archive, entry: &Entry) -> Result<String, ReleaseError> {
    let mut reader = archive.reader(&entry.path)?;
    let (sha256, total) = buildchain_fs::sha256_read(&mut reader)
        .map_err(|e| ReleaseError::io("read", archive.path().join(&entry.path), e))?;
    if total != entry.size {
        return Err(archive.bad_entry(
            &entry.path,
            format!(
                "{total} bytes read, {} announced: it changed while read",
                entry.size
            ),
        ));
    }
    Ok(sha256)
}

/// `KEY=value` lines (the first `=` splits; blank lines and `#` comments skipped).
pub fn parse_key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

/// An opened archive and its inventory.
pub type Opened = (Archive, Inventory);

/// Opens and reads two archives at once (each hashing on every core).
pub fn read_both(
    old: &std::path::Path,
    new: &std::path::Path,
) -> Result<(Opened, Opened), ReleaseError> {
    let read = |path: &std::path::Path| -> Result<Opened, ReleaseError> {
        let archive = Archive::open(path)?;
        let inventory = Inventory::read(&archive)?;
        Ok((archive, inventory))
    };
    let (old, new) = rayon::join(|| read(old), || read(new));
    Ok((old?, new?))
}

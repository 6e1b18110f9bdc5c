//! The structure of an RPM's lead and headers, checked before any third-party parser reads
//! them: a hostile package (a signature index offset of 2^31, a count of 0xffffffff INT64s)
//! must be an error naming the file, never a panic or an allocation sized by the attacker.
//!
//! Layout: a 96-byte lead; then two headers (signature, padded to 8 bytes; main), each a
//! 16-byte intro (magic 8e ad e8 01, 4 reserved bytes, index count, store size, big-endian),
//! 16 bytes per index entry (tag, type, offset, count), then the store.

use std::io::Read;

const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const LEAD_SIZE: usize = 96;
const HEADER_MAGIC: [u8; 4] = [0x8e, 0xad, 0xe8, 0x01];
/// Most index entries in one header (rpm's own limit).
pub const MAX_INDEX_ENTRIES: u32 = 0xffff;
/// Largest store of one header: 64 MiB (rpm allows 256 MiB; real headers, file lists of
/// the largest packages included, stay far below).
pub const MAX_STORE_BYTES: u32 = 64 << 20;

/// Region tags (HEADERIMAGE, HEADERSIGNATURES, HEADERIMMUTABLE): a first entry with one
/// of these points at the region trailer at the end of the store, out of data order.
const REGION_TAGS: [u32; 3] = [61, 62, 63];

const STRING: u32 = 6;
const BIN: u32 = 7;
const STRING_ARRAY: u32 = 8;
const I18N_STRING: u32 = 9;

/// Bytes per element of a fixed-size type; `None` for strings and unknown types.
fn element_size(kind: u32) -> Option<u64> {
    match kind {
        0 => Some(0),
        1 | 2 | BIN => Some(1),
        3 => Some(2),
        4 => Some(4),
        5 => Some(8),
        _ => None,
    }
}

fn read_exact(reader: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), String> {
    reader
        .read_exact(buf)
        .map_err(|e| format!("truncated {what}: {e}"))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks one header read from `reader`; returns its size in bytes (intro, index, store).
fn check_header(reader: &mut impl Read, which: &str) -> Result<u64, String> {
    let mut intro = [0u8; 16];
    read_exact(reader, &mut intro, &format!("{which} header"))?;
    if intro[..4] != HEADER_MAGIC {
        return Err(format!("{which} header: bad magic"));
    }
    let (count, store_size) = (be32(&intro[8..12]), be32(&intro[12..16]));
    if count == 0 || count > MAX_INDEX_ENTRIES {
        return Err(format!(
            "{which} header: {count} index entries (1 to {MAX_INDEX_ENTRIES} allowed)"
        ));
    }
    if store_size > MAX_STORE_BYTES {
        return Err(format!(
            "{which} header: a {store_size}-byte store (at most {MAX_STORE_BYTES})"
        ));
    }
    let mut index = vec![0u8; count as usize * 16];
    read_exact(reader, &mut index, &format!("{which} header index"))?;
    let mut store = vec![0u8; store_size as usize];
    read_exact(reader, &mut store, &format!("{which} header store"))?;
    let store_len = u64::from(store_size);
    // As rpm's hdrblobVerifyInfo: data lies in index order and no two entries overlap, so
    // the data of all entries together is at most the store (a parser allocating per
    // entry cannot be made to allocate the store 65535 times over).
    let mut end = 0u64;
    for (n, entry) in index.chunks_exact(16).enumerate() {
        let (tag, kind, offset, items) = (
            be32(&entry[0..4]),
            be32(&entry[4..8]),
            be32(&entry[8..12]),
            be32(&entry[12..16]),
        );
        let bad = |rule: String| format!("{which} header: entry {n} (tag {tag}): {rule}");
        let offset = u64::from(offset);
        if offset > store_len {
            return Err(bad(format!(
                "offset {offset} past the {store_len}-byte store"
            )));
        }
        let region = n == 0 && REGION_TAGS.contains(&tag);
        if !region && offset < end {
            return Err(bad(format!(
                "data at offset {offset} overlaps the previous entry's (ending at {end})"
            )));
        }
        let length = match element_size(kind) {
            Some(size) => {
                if size > 1 && offset % size != 0 {
                    return Err(bad(format!("offset {offset} not aligned to {size} bytes")));
                }
                let needed = u64::from(items) * size;
                if needed > store_len - offset {
                    return Err(bad(format!(
                        "{items} elements of {size} bytes past the end of the store"
                    )));
                }
                needed
            }
            None if matches!(kind, STRING | STRING_ARRAY | I18N_STRING) => {
                if kind == STRING && items != 1 {
                    return Err(bad(format!("a STRING with count {items}")));
                }
                if u64::from(items) > store_len - offset {
                    return Err(bad(format!("{items} strings past the end of the store")));
                }
                // Each string must end (NUL) inside the store.
                let mut at = offset as usize;
                for _ in 0..items {
                    match store[at..].iter().position(|&b| b == 0) {
                        Some(nul) => at += nul + 1,
                        None => return Err(bad("a string not terminated inside the store".into())),
                    }
                }
                at as u64 - offset
            }
            None => return Err(bad(format!("unknown type {kind}"))),
        };
        if !region {
            end = offset + length;
        }
    }
    Ok(16 + index.len() as u64 + store_len)
}

/// Checks the lead and both headers of the RPM read from `reader` (not the payload).
pub fn check_headers(reader: &mut impl Read) -> Result<(), String> {
    let mut lead = [0u8; LEAD_SIZE];
    read_exact(reader, &mut lead, "lead")?;
    if lead[..4] != LEAD_MAGIC {
        return Err("not an RPM (bad lead magic)".into());
    }
    let signature = check_header(reader, "signature")?;
    // The signature header is padded to a multiple of 8 bytes.
    let padding = (8 - signature % 8) % 8;
    let mut pad = [0u8; 8];
    read_exact(reader, &mut pad[..padding as usize], "signature padding")?;
    check_header(reader, "main")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(entries: &[(u32, u32, u32, u32)], store: &[u8]) -> Vec<u8> {
        let mut out = HEADER_MAGIC.to_vec();
        out.extend([0u8; 4]);
        out.extend((entries.len() as u32).to_be_bytes());
        out.extend((store.len() as u32).to_be_bytes());
        for (tag, kind, offset, count) in entries {
            for v in [tag, kind, offset, count] {
                out.extend(v.to_be_bytes());
            }
        }
        out.extend(store);
        out
    }

    fn rpm(signature: Vec<u8>, main: Vec<u8>) -> Vec<u8> {
        let mut out = LEAD_MAGIC.to_vec();
        out.resize(LEAD_SIZE, 0);
        let len = signature.len();
        out.extend(signature);
        out.resize(out.len() + (8 - len % 8) % 8, 0);
        out.extend(main);
        out
    }

    #[test]
    fn sound_headers_pass_and_hostile_ones_are_refused() {
        let good_sig = header(&[(1000, 4, 0, 1)], &[0, 0, 0, 5]);
        let good_main = header(
            &[(1000, STRING, 0, 1), (1001, STRING_ARRAY, 2, 2)],
            b"a\0b\0c\0",
        );
        assert!(check_headers(&mut &rpm(good_sig.clone(), good_main.clone())[..]).is_ok());
        // A region tag first points at the trailer, at the end of the store: allowed.
        let with_region = header(&[(63, BIN, 4, 4), (1000, STRING, 0, 1)], b"abc\0tttt");
        assert!(check_headers(&mut &rpm(good_sig.clone(), with_region)[..]).is_ok());
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                rpm(
                    header(&[(1000, 4, 0x7fff_ffff, 1)], &[0; 4]),
                    good_main.clone(),
                ),
                "past the",
            ),
            (
                rpm(
                    header(&[(1000, 5, 0, 0xffff_ffff)], &[0; 8]),
                    good_main.clone(),
                ),
                "past the end",
            ),
            (
                rpm(good_sig.clone(), header(&[(1000, STRING, 0, 1)], b"abc")),
                "not terminated",
            ),
            (
                rpm(
                    good_sig.clone(),
                    header(&[(1000, STRING_ARRAY, 0, 1000)], b"a\0"),
                ),
                "past the end",
            ),
            (
                rpm(good_sig.clone(), header(&[(1000, 42, 0, 1)], b"a\0")),
                "unknown type",
            ),
            (
                rpm(header(&[(1000, 4, 2, 1)], &[0; 8]), good_main.clone()),
                "not aligned",
            ),
            (
                // Every entry the whole store: a parser copying each would allocate
                // 65535 times 64 MiB.
                rpm(
                    good_sig.clone(),
                    header(&[(1000, BIN, 0, 8), (1001, BIN, 0, 8)], &[0; 8]),
                ),
                "overlaps",
            ),
            (
                rpm(
                    good_sig.clone(),
                    header(&[(1000, STRING, 2, 1), (1001, STRING, 0, 1)], b"a\0b\0"),
                ),
                "overlaps",
            ),
            (rpm(good_sig.clone(), good_main[..20].to_vec()), "truncated"),
            (
                b"not an rpm at all, not at all, not at all ...".repeat(3),
                "bad lead magic",
            ),
        ];
        for (bytes, want) in cases {
            let err = check_headers(&mut &bytes[..]).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        }
        let mut huge = HEADER_MAGIC.to_vec();
        huge.extend([0u8; 4]);
        huge.extend(1u32.to_be_bytes());
        huge.extend(u32::MAX.to_be_bytes());
        let err = check_headers(&mut &rpm(huge, vec![])[..]).unwrap_err();
        assert!(err.contains("store"), "{err}");
    }
}

//! SUSP and Rock Ridge (RRIP 1.12) entries, and the placement of a record's entries in its
//! System Use Area or in Continuation Areas.

use crate::bytes::both32;
use crate::datetime::dir_date;

pub const ER_ID: &[u8] = b"IEEE_1282";
pub const ER_DESCRIPTOR: &[u8] =
    b"THE IEEE 1282 PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS.";
pub const ER_SOURCE: &[u8] =
    b"PLEASE CONTACT THE IEEE STANDARDS DEPARTMENT, PISCATAWAY, NJ, USA FOR THE 1282 SPECIFICATION.";

/// Size of a CE entry.
pub const CE_LEN: usize = 28;
/// Most name bytes in one NM entry / component bytes in one SL component record.
const NM_CHUNK: usize = 250;
const SL_COMPONENT_CHUNK: usize = 248;

fn entry(sig: &[u8; 2], data: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(4 + data.len());
    e.extend_from_slice(sig);
    e.push((4 + data.len()) as u8);
    e.push(1);
    e.extend_from_slice(data);
    e
}

pub fn sp() -> Vec<u8> {
    entry(b"SP", &[0xBE, 0xEF, 0])
}

pub fn er() -> Vec<u8> {
    let mut d = vec![
        ER_ID.len() as u8,
        ER_DESCRIPTOR.len() as u8,
        ER_SOURCE.len() as u8,
        1,
    ];
    d.extend_from_slice(ER_ID);
    d.extend_from_slice(ER_DESCRIPTOR);
    d.extend_from_slice(ER_SOURCE);
    entry(b"ER", &d)
}

pub fn px(mode: u32, nlink: u32, uid: u32, gid: u32, serial: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(40);
    for v in [mode, nlink, uid, gid, serial] {
        d.extend_from_slice(&both32(v));
    }
    entry(b"PX", &d)
}

/// TF with modify, access and attribute-change times (flags 0x0E), 7-byte form.
pub fn tf(mtime: i64, atime: i64, ctime: i64) -> Vec<u8> {
    let mut d = vec![0x0E];
    for t in [mtime, atime, ctime] {
        d.extend_from_slice(&dir_date(t));
    }
    entry(b"TF", &d)
}

pub fn ce(lba: u32, offset: u32, len: u32) -> Vec<u8> {
    let mut d = Vec::with_capacity(24);
    for v in [lba, offset, len] {
        d.extend_from_slice(&both32(v));
    }
    entry(b"CE", &d)
}

pub fn cl(lba: u32) -> Vec<u8> {
    entry(b"CL", &both32(lba))
}

pub fn pl(lba: u32) -> Vec<u8> {
    entry(b"PL", &both32(lba))
}

pub fn re() -> Vec<u8> {
    entry(b"RE", &[])
}

/// NM entries for `name`, split at 250 bytes with CONTINUE.
pub fn nm(name: &[u8]) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = name.chunks(NM_CHUNK).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut d = vec![u8::from(i != last)];
            d.extend_from_slice(c);
            entry(b"NM", &d)
        })
        .collect()
}

/// SL entries for a symlink target: components split at `/`, long components and long
/// targets continued over several component records / SL entries.
pub fn sl(target: &[u8]) -> Vec<Vec<u8>> {
    let mut comps: Vec<(u8, &[u8])> = Vec::new();
    if target.first() == Some(&b'/') {
        comps.push((0x08, &[]));
    }
    for part in target.split(|&b| b == b'/') {
        match part {
            b"" => {}
            b"." => comps.push((0x02, &[])),
            b".." => comps.push((0x04, &[])),
            _ => {
                let chunks: Vec<&[u8]> = part.chunks(SL_COMPONENT_CHUNK).collect();
                let last = chunks.len() - 1;
                for (i, c) in chunks.into_iter().enumerate() {
                    comps.push((u8::from(i != last), c));
                }
            }
        }
    }
    // Pack components into SL entries (at most 250 bytes of components each). Every entry
    // but the last must end inside a text component (component CONTINUE flag): Linux then
    // adds no `/` at the boundary and libarchive, which never adds one there, agrees.
    const ROOM: usize = 255 - 5;
    let mut packed: Vec<Vec<(u8, Vec<u8>)>> = vec![Vec::new()];
    let used = |e: &Vec<(u8, Vec<u8>)>| e.iter().map(|c| 2 + c.1.len()).sum::<usize>();
    for (flags, content) in comps {
        let mut content = content.to_vec();
        while let Some(cur) = packed.last_mut() {
            let free = ROOM - used(cur);
            if 2 + content.len() <= free {
                cur.push((flags, content));
                break;
            }
            let is_text = flags & 0x0E == 0;
            if is_text && free >= 3 {
                let rest = content.split_off(free - 2);
                cur.push((flags | 0x01, content));
                content = rest;
                packed.push(Vec::new());
                continue;
            }
            // Cannot split here: end the entry inside its last text component if possible.
            let mut carried = Vec::new();
            if let Some(last) = cur.last_mut() {
                if last.0 & 0x0F == 0 && last.1.len() >= 2 {
                    if let Some(b) = last.1.pop() {
                        last.0 |= 0x01;
                        carried.push((0u8, vec![b]));
                    }
                }
            }
            packed.push(carried);
        }
    }
    let bodies: Vec<Vec<u8>> = packed
        .into_iter()
        .map(|e| {
            let mut body = Vec::new();
            for (f, c) in e {
                body.push(f);
                body.push(c.len() as u8);
                body.extend_from_slice(&c);
            }
            body
        })
        .collect();
    let last = bodies.len() - 1;
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut d = vec![u8::from(i != last)];
            d.extend_from_slice(&body);
            entry(b"SL", &d)
        })
        .collect()
}

/// The Continuation Area blocks that follow one directory's extent.
pub struct ContinuationArea {
    pub base_lba: u32,
    pub buf: Vec<u8>,
}

impl ContinuationArea {
    pub fn new(base_lba: u32) -> Self {
        ContinuationArea {
            base_lba,
            buf: Vec::new(),
        }
    }

    /// Number of 2048-byte blocks used.
    pub fn sectors(&self) -> u32 {
        self.buf.len().div_ceil(2048) as u32
    }

    fn pad_to_block(&mut self) {
        let rem = self.buf.len() % 2048;
        if rem != 0 {
            self.buf.resize(self.buf.len() + 2048 - rem, 0);
        }
    }

    /// Stores `entries` in one or more pieces (each inside one block, chained by CE) and
    /// returns the CE that points at the first piece.
    pub fn store(&mut self, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut first: Option<Vec<u8>> = None;
        let mut patch_at: Option<usize> = None;
        let mut rest = entries;
        while !rest.is_empty() {
            let space = 2048 - self.buf.len() % 2048;
            let total: usize = rest.iter().map(Vec::len).sum();
            let take = if total <= space {
                rest.len()
            } else {
                let mut used = 0;
                let mut n = 0;
                while n < rest.len() && used + rest[n].len() + CE_LEN <= space {
                    used += rest[n].len();
                    n += 1;
                }
                n
            };
            if take == 0 {
                self.pad_to_block();
                continue;
            }
            let start = self.buf.len();
            let len: usize = rest[..take].iter().map(Vec::len).sum::<usize>()
                + if take < rest.len() { CE_LEN } else { 0 };
            let pointer = ce(
                self.base_lba + (start / 2048) as u32,
                (start % 2048) as u32,
                len as u32,
            );
            match patch_at {
                None => first = Some(pointer),
                Some(at) => self.buf[at..at + CE_LEN].copy_from_slice(&pointer),
            }
            for e in &rest[..take] {
                self.buf.extend_from_slice(e);
            }
            if take < rest.len() {
                patch_at = Some(self.buf.len());
                self.buf.extend_from_slice(&[0u8; CE_LEN]);
            }
            rest = &rest[take..];
        }
        first.unwrap_or_default()
    }
}

/// Builds a record's System Use Area: everything inline when it fits in `max`, else the
/// `fixed` entries inline plus a CE, and the `movable` ones (NM, SL, ER) in the CA.
pub fn place(
    fixed: Vec<Vec<u8>>,
    movable: Vec<Vec<u8>>,
    max: usize,
    ca: &mut ContinuationArea,
) -> Vec<u8> {
    let total: usize = fixed.iter().chain(&movable).map(Vec::len).sum();
    let mut sua: Vec<u8> = fixed.concat();
    if total <= max {
        for e in &movable {
            sua.extend_from_slice(e);
        }
    } else {
        // Move as few entries as possible: keep leading movable ones while they fit.
        let mut inline = 0;
        let mut used = sua.len() + CE_LEN;
        while inline < movable.len() && used + movable[inline].len() <= max {
            used += movable[inline].len();
            inline += 1;
        }
        for e in &movable[..inline] {
            sua.extend_from_slice(e);
        }
        let pointer = ca.store(&movable[inline..]);
        sua.extend_from_slice(&pointer);
    }
    if sua.len() % 2 == 1 {
        sua.push(0);
    }
    sua
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn er_has_libisofs_length() {
        assert_eq!(er().len(), 182);
        assert_eq!(px(0o100644, 1, 0, 0, 1).len(), 44);
        assert_eq!(tf(0, 0, 0).len(), 26);
    }

    #[test]
    fn sl_components() {
        let e = sl(b"../../a/b/./c");
        assert_eq!(e.len(), 1);
        assert_eq!(
            &e[0][5..],
            &[4, 0, 4, 0, 0, 1, b'a', 0, 1, b'b', 2, 0, 0, 1, b'c']
        );
        let e = sl(b"/abs/path/");
        assert_eq!(
            &e[0][5..],
            &[8, 0, 0, 3, b'a', b'b', b's', 0, 4, b'p', b'a', b't', b'h']
        );
        let long = format!("/{}/{}", "x".repeat(300), "y".repeat(700));
        let e = sl(long.as_bytes());
        assert!(e.len() >= 4);
        assert!(e.iter().all(|x| x.len() <= 255 && x[2] as usize == x.len()));
        assert!(e[..e.len() - 1].iter().all(|x| x[4] == 1));
    }

    #[test]
    fn ca_chains_within_blocks() {
        let mut ca = ContinuationArea::new(100);
        let entries: Vec<Vec<u8>> = (0..20).map(|_| sl(&[b'z'; 240])[0].clone()).collect();
        let first = ca.store(&entries);
        assert_eq!(&first[..2], b"CE");
        assert!(ca.sectors() >= 3);
        // Every piece stays inside one block.
        let lba = crate::bytes::le32(&first, 4);
        let off = crate::bytes::le32(&first, 12);
        let len = crate::bytes::le32(&first, 20);
        assert_eq!(lba, 100);
        assert!(off + len <= 2048);
    }
}

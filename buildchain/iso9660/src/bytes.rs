//! ECMA-119 number encodings.

/// 733: u32 both-endian (LE then BE).
pub fn both32(v: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&v.to_le_bytes());
    out[4..].copy_from_slice(&v.to_be_bytes());
    out
}

/// 723: u16 both-endian (LE then BE).
pub fn both16(v: u16) -> [u8; 4] {
    let mut out = [0u8; 4];
    out[..2].copy_from_slice(&v.to_le_bytes());
    out[2..].copy_from_slice(&v.to_be_bytes());
    out
}

/// Reads the little-endian half of a 733 field at `at` (caller checked bounds).
pub fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a big-endian u32 at `at`.
pub fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a little-endian u16 at `at`.
pub fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Copies `text` into `field`, padding with spaces (a-/d-character fields).
pub fn put_text(field: &mut [u8], text: &[u8]) {
    field.fill(b' ');
    let n = text.len().min(field.len());
    field[..n].copy_from_slice(&text[..n]);
}

/// Writes `text` as UCS-2BE into `field`, padded with U+0020; an odd last byte stays 0.
pub fn put_ucs2_text(field: &mut [u8], text: &str) {
    field.fill(0);
    let units: Vec<u16> = text.encode_utf16().collect();
    for i in 0..field.len() / 2 {
        let u = units.get(i).copied().unwrap_or(0x20);
        field[2 * i..2 * i + 2].copy_from_slice(&u.to_be_bytes());
    }
}

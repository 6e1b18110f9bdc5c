//! ECMA-119 date formats (7-byte directory-record dates, 17-byte volume-descriptor dates),
//! always written in UTC (offset 0).

/// Lowest and highest instants the 7-byte format can hold (1900-01-01, 2155-12-31 23:59:59).
const MIN_7: i64 = -2_208_988_800;
const MAX_7: i64 = 5_869_583_999;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn civil(t: i64) -> Civil {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        minute: (secs / 60 % 60) as u32,
        second: (secs % 60) as u32,
    }
}

/// The 7-byte directory-record date of `t` (seconds since the epoch), clamped to 1900..=2155.
pub fn dir_date(t: i64) -> [u8; 7] {
    let c = civil(t.clamp(MIN_7, MAX_7));
    [
        (c.year - 1900) as u8,
        c.month as u8,
        c.day as u8,
        c.hour as u8,
        c.minute as u8,
        c.second as u8,
        0,
    ]
}

/// The 17-byte volume-descriptor date of `t`, clamped to years 1..=9999.
pub fn vd_date(t: i64) -> [u8; 17] {
    let c = civil(t.clamp(-62_135_596_800, 253_402_300_799));
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}00",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    let mut out = [0u8; 17];
    out[..16].copy_from_slice(text.as_bytes());
    out
}

/// The "not specified" 17-byte date.
pub const VD_DATE_UNSPECIFIED: [u8; 17] = *b"0000000000000000\0";

/// Seconds since the epoch of a 7-byte date (the GMT offset is honoured).
pub fn parse_dir_date(b: &[u8; 7]) -> i64 {
    let month = u32::from(b[1]).clamp(1, 12);
    let day = u32::from(b[2]).clamp(1, 31);
    let days = days_from_civil(1900 + i64::from(b[0]), month, day);
    let offset = i64::from(b[6] as i8) * 15 * 60;
    days * 86_400 + i64::from(b[3]) * 3600 + i64::from(b[4]) * 60 + i64::from(b[5]) - offset
}

/// Seconds since the epoch of a 17-byte date, `None` when unspecified or malformed.
pub fn parse_vd_date(b: &[u8; 17]) -> Option<i64> {
    let text = std::str::from_utf8(&b[..16]).ok()?;
    if !text.bytes().all(|c| c.is_ascii_digit()) || text == "0000000000000000" {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<i64>().ok();
    let year = num(0..4)?;
    let month = num(4..6)?.clamp(1, 12) as u32;
    let day = num(6..8)?.clamp(1, 31) as u32;
    let days = days_from_civil(year, month, day);
    let offset = i64::from(b[16] as i8) * 15 * 60;
    Some(days * 86_400 + num(8..10)? * 3600 + num(10..12)? * 60 + num(12..14)? - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(dir_date(0), [70, 1, 1, 0, 0, 0, 0]);
        assert_eq!(&vd_date(1_000_000_000)[..16], b"2001090901464000");
        assert_eq!(dir_date(-10_000_000_000), [0, 1, 1, 0, 0, 0, 0]);
        assert_eq!(dir_date(i64::MAX), [255, 12, 31, 23, 59, 59, 0]);
    }

    #[test]
    fn round_trip() {
        for t in [
            0i64,
            1,
            86_399,
            951_782_400,
            1_700_000_000,
            -86_401,
            4_102_444_800,
        ] {
            assert_eq!(parse_dir_date(&dir_date(t)), t);
            assert_eq!(parse_vd_date(&vd_date(t)), Some(t));
        }
        assert_eq!(parse_vd_date(&VD_DATE_UNSPECIFIED), None);
    }
}

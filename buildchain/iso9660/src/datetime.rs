//! ECMA-119 date formats (7-byte directory-record dates, 17-byte volume-descriptor dates),
//! always written in UTC (offset 0).

/// Lowest and highest instants the 7-byte format can hold (1900-01-01, 2155-12-31 23:59:59).
const MIN_7: i64 = -2_208_988_800;
const MAX_7: i64 = 5_869_583_999;

/// (year, month, day) to days since 1970-01-01; a day past the end of its month runs
/// into the next one (dates read from an image are not trusted to be valid).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let first = i16::try_from(year)
        .ok()
        .and_then(|y| jiff::civil::Date::new(y, month.clamp(1, 12) as i8, 1).ok());
    let Some(first) = first else {
        return 0;
    };
    let days = first
        .since((jiff::Unit::Day, jiff::civil::date(1970, 1, 1)))
        .map(|span| i64::from(span.get_days()))
        .unwrap_or(0);
    days + i64::from(day) - 1
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

/// The UTC calendar date and time of `t` (within jiff's years -9999..=9999).
fn civil(t: i64) -> Civil {
    let utc = jiff::Timestamp::from_second(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC);
    Civil {
        year: i64::from(utc.year()),
        month: utc.month() as u32,
        day: utc.day() as u32,
        hour: utc.hour() as u32,
        minute: utc.minute() as u32,
        second: utc.second() as u32,
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

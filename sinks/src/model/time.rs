//! Fast UTC timestamp formatting for the hot paths (chrono's `format` parses
//! its pattern on every call).

use chrono::{DateTime, Datelike as _, Timelike as _, Utc};

/// Appends `YYYY-MM-DDTHH:MM:SS` (UTC) to `out`; years outside 0..=9999 are
/// clamped to four digits as Go's RFC 3339 layout cannot print them either.
fn push_date_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    let year = u32::try_from(t.year().clamp(0, 9999)).unwrap_or(0);
    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, t.month(), 2);
    out.push(b'-');
    push_digits(out, t.day(), 2);
    out.push(b'T');
    push_digits(out, t.hour(), 2);
    out.push(b':');
    push_digits(out, t.minute(), 2);
    out.push(b':');
    push_digits(out, t.second(), 2);
}

fn push_digits(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    for slot in buf[..width].iter_mut().rev() {
        // `v % 10` is a single digit.
        *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// Appends `t` with `digits` fractional-second digits (0, 3 or 6, truncated
/// like Go) and a `Z`: `2024-05-14T10:00:03Z`, `…03.123Z`, `…03.123456Z`.
pub(crate) fn push_utc(out: &mut Vec<u8>, t: &DateTime<Utc>, digits: u32) {
    push_date_time(out, t);
    if digits > 0 {
        out.push(b'.');
        // Leap-second nanos (>= 1e9) print as .999…, like Go.
        let nanos = t.nanosecond().min(999_999_999);
        let frac = nanos / 10u32.pow(9 - digits.min(9));
        push_digits(out, frac, usize::try_from(digits.min(9)).unwrap_or(9));
    }
    out.push(b'Z');
}

/// [`push_utc`] into a new string.
pub(crate) fn format_utc(t: &DateTime<Utc>, digits: u32) -> String {
    let mut out = Vec::with_capacity(32);
    push_utc(&mut out, t, digits);
    // Only ASCII digits and punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn formats_like_chrono() {
        let t = Utc.timestamp_opt(1_715_680_803, 123_456_789).unwrap();
        assert_eq!(format_utc(&t, 0), "2024-05-14T10:00:03Z");
        assert_eq!(format_utc(&t, 3), "2024-05-14T10:00:03.123Z");
        assert_eq!(format_utc(&t, 6), "2024-05-14T10:00:03.123456Z");
        let early = Utc.with_ymd_and_hms(7, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_utc(&early, 3), "0007-01-02T03:04:05.000Z");
        for secs in [0i64, 86_399, 951_782_400, 4_102_444_800] {
            let t = Utc.timestamp_opt(secs, 5_000).unwrap();
            assert_eq!(
                format_utc(&t, 6),
                t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
        }
    }
}

//! Times as the vendors write them, through `jiff`.

use jiff::civil::{Date, DateTime};
use jiff::Timestamp;

/// Unix time in milliseconds; enrichment progress and delta timestamps are wall-clock based.
pub fn unix_ms_now() -> i64 {
    Timestamp::now().as_millisecond()
}

/// catalogian shows times as `2026-03-08T20:00:00.000Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(at) => at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => String::new(),
    }
}

/// `since` as unix ms: an RFC 3339 / ISO 8601 time with a zone (`Z`, `±HH[:MM]`), or one
/// without (taken as UTC), or a date alone (its midnight, UTC). Below a millisecond is dropped.
pub fn parse_iso8601_ms(raw: &str) -> Option<i64> {
    let at = if let Ok(at) = raw.parse::<Timestamp>() {
        at
    } else if let Ok(civil) = raw.parse::<DateTime>() {
        civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp()
    } else if raw.len() == 10 {
        let date = raw.parse::<Date>().ok()?;
        date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp()
    } else {
        return None;
    };
    Some(at.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_with_milliseconds_and_parse_back() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_773_000_000_123), "2026-03-08T20:00:00.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 1, 951_782_400_000, 1_773_000_000_123, 4_102_444_799_999] {
            assert_eq!(parse_iso8601_ms(&rfc3339_ms(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn since_takes_the_usual_iso_8601_forms() {
        let at = 1_773_000_000_000;
        for raw in [
            "2026-03-08T20:00:00.000Z",
            "2026-03-08T20:00:00Z",
            "2026-03-08T20:00Z",
            "2026-03-08 20:00:00",
            "2026-03-08T21:00:00+01:00",
            "2026-03-08T21:30:00+0130",
            "2026-03-08T18:00:00-02",
            "2026-03-08T20:00:00.0004Z",
        ] {
            assert_eq!(parse_iso8601_ms(raw), Some(at), "{raw}");
        }
        assert_eq!(parse_iso8601_ms("2026-03-08T20:00:00.5Z"), Some(at + 500));
        assert_eq!(parse_iso8601_ms("2026-03-08"), Some(at - 20 * 3_600_000));
        for raw in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-13-01T00:00:00Z",
            "2026-03-08T24:00:00Z",
            "2026-03-08T20:00:00.Z",
            "2026-03-08T20:00:00Zjunk",
            "1773000000",
        ] {
            assert_eq!(parse_iso8601_ms(raw), None, "{raw}");
        }
    }
}

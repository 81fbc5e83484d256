//! Event time: RFC 3339 strings (a missing zone means UTC) or epoch milliseconds.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

use super::Val;

/// Parses an event-time value into epoch milliseconds.
///
/// Accepts integers (epoch milliseconds), floats (epoch milliseconds, fraction dropped), and
/// strings in RFC 3339 (`2024-01-01T10:00:00Z`, `...+02:00`, fractional seconds). A string
/// without a zone (`2024-01-01T12:00:00`, also with a space instead of `T`) is read as UTC.
pub fn parse_time(v: &Val) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        Val::Float(f) if f.is_finite() => Ok(f.trunc() as i64),
        Val::Str(s) => parse_time_str(s),
        Val::Missing => Err("missing".into()),
        other => Err(format!(
            "expected an RFC 3339 string or epoch milliseconds, found {}",
            other.to_json()
        )),
    }
}

fn parse_time_str(s: &str) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(Utc.from_utc_datetime(&t).timestamp_millis());
        }
    }
    Err(format!("`{s}` is not an RFC 3339 timestamp"))
}

/// Formats epoch milliseconds as RFC 3339 in UTC (`2024-01-01T10:00:00Z`, milliseconds shown
/// only when not zero).
pub fn format_rfc3339(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoneless_timestamps_are_utc() {
        let zoned = parse_time(&Val::Str("2024-01-01T12:00:00Z".into())).unwrap();
        let zoneless = parse_time(&Val::Str("2024-01-01T12:00:00".into())).unwrap();
        assert_eq!(zoned, zoneless);
        assert_eq!(zoned, 1_704_110_400_000);
        assert_eq!(parse_time(&Val::Str("2024-01-01T14:00:00+02:00".into())).unwrap(), zoned);
        assert_eq!(parse_time(&Val::Str("2024-01-01 12:00:00.250".into())).unwrap(), zoned + 250);
    }

    #[test]
    fn epoch_millis_and_errors() {
        assert_eq!(parse_time(&Val::Int(1_704_110_400_000)), Ok(1_704_110_400_000));
        assert!(parse_time(&Val::Str("yesterday".into())).is_err());
        assert!(parse_time(&Val::Bool(true)).is_err());
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_rfc3339(1_704_110_400_000), "2024-01-01T12:00:00Z");
        assert_eq!(format_rfc3339(1_704_110_400_250), "2024-01-01T12:00:00.250Z");
    }
}

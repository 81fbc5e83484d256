//! Durations with units: `500ms`, `10s`, `5m`, `24h`, `7d`, and sums such as `1h30m`.

/// Milliseconds per unit, longest unit first (the printer picks the largest that fits).
const UNITS: &[(&str, u64)] =
    &[("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];

/// Parses `500ms`, `10s`, `5m`, `24h`, `7d`, or a sum of them (`1h30m`), into milliseconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = t;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{t}` is not a duration: expected a number before the unit"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{t}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some(&(_, ms)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("`{t}` has no unit: write for example `{n}s` or `{n}ms`")
            } else {
                format!("`{unit}` is not a duration unit (use ms, s, m, h or d)")
            });
        };
        total = n
            .checked_mul(ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{t}` is too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The canonical text of a duration: units from largest to smallest, `0ms` for zero.
pub fn format(mut millis: u64) -> String {
    if millis == 0 {
        return "0ms".into();
    }
    let mut out = String::new();
    for &(unit, ms) in UNITS {
        if millis >= ms {
            out.push_str(&format!("{}{unit}", millis / ms));
            millis %= ms;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_sums() {
        assert_eq!(parse("500ms"), Ok(500));
        assert_eq!(parse("10s"), Ok(10_000));
        assert_eq!(parse("5m"), Ok(300_000));
        assert_eq!(parse("24h"), Ok(86_400_000));
        assert_eq!(parse("7d"), Ok(604_800_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000));
    }

    #[test]
    fn refuses_missing_or_unknown_units() {
        assert!(parse("5").unwrap_err().contains("no unit"));
        assert!(parse("5x").unwrap_err().contains("not a duration unit"));
        assert!(parse("-1s").is_err());
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999d").is_err());
    }

    #[test]
    fn format_reads_back() {
        for ms in [0, 1, 999, 1000, 90_000, 5_400_000, 86_400_001, 604_800_000] {
            assert_eq!(parse(&format(ms)), Ok(ms), "{}", format(ms));
        }
        assert_eq!(format(5_400_000), "1h30m");
    }
}

//! Parsing of durations (`90s`, `30m`, `24h`, `7d`, `1h30m`: PromQL's parser) and RFC 3339
//! timestamps (chrono's), and the UI's time format. No calendar arithmetic of our own.

use std::time::Duration;

/// Parses a duration as Prometheus does (`90s`, `30m`, `1h30m`, `7d`, `2w`, `1y`, `250ms`;
/// PromQL's own parser, `promql_parser::util::parse_duration`), or a bare number of seconds
/// (`1.5`). Never panics and never wraps: a negative, non-finite or overflowing value is an error
/// that says so.
///
/// ```
/// use std::time::Duration;
/// use vystak_otel_viewer::parse_duration;
///
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
/// assert!(parse_duration("1e30").is_err());
/// assert!(parse_duration("-5").is_err());
/// ```
///
/// # Errors
/// The text is not a duration, or it is out of range; the message names it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<f64>() {
        if secs == 0.0 {
            return Ok(Duration::ZERO);
        }
        return Duration::try_from_secs_f64(secs).map_err(|_| {
            format!(
                "invalid duration {text:?}: seconds must be finite, positive and at most {}",
                u64::MAX
            )
        });
    }
    // promql_parser reads each number as a u32 and takes one that does not fit for zero ("must
    // be greater than 0"): say what is wrong instead.
    let too_long = text
        .split(|c: char| !c.is_ascii_digit())
        .any(|digits| !digits.is_empty() && digits.parse::<u32>().is_err());
    if too_long {
        return Err(format!("invalid duration {text:?}: too long"));
    }
    promql_parser::util::parse_duration(text)
        .map_err(|e| format!("invalid duration {text:?}: {e} (e.g. 30s, 15m, 24h, 7d)"))
}

/// Parses an RFC 3339 timestamp (`2025-01-02T03:04:05.678Z`, `…+02:00`) to Unix nanoseconds
/// (chrono's parser; `T`, `t` or a space between date and time).
pub(crate) fn parse_rfc3339_nanos(text: &str) -> Result<i128, String> {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("invalid RFC 3339 time {text:?}: {e}"))?;
    // An i64 of seconds times 10^9 plus < 10^9 fits i128.
    #[allow(clippy::arithmetic_side_effects)]
    let nanos = i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
    Ok(nanos)
}

/// Unix nanoseconds as `YYYY-MM-DD HH:MM:SS.mmm` (UTC), as the UI shows times.
pub(crate) fn format_utc_millis(unix_nanos: u64) -> String {
    let secs = i64::try_from(unix_nanos / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = u32::try_from(unix_nanos % 1_000_000_000).unwrap_or(0);
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => format!("{unix_nanos} ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1_500));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T03:04:05.5Z").unwrap(),
            1_735_787_045_500_000_000
        );
        assert_eq!(
            parse_rfc3339_nanos("2025-01-02T05:04:05+02:00").unwrap(),
            1_735_787_045_000_000_000
        );
        assert!(parse_rfc3339_nanos("2025-01-02").is_err());
        assert!(parse_rfc3339_nanos("2025-13-02T03:04:05Z").is_err());
    }

    #[test]
    fn utc_formatting_inverts_parsing() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2000-02-29T23:59:59.999Z",
            "2025-01-02T03:04:05.500Z",
            "2100-03-01T12:00:00.001Z",
        ] {
            let ns = parse_rfc3339_nanos(text).unwrap() as u64;
            let shown = format_utc_millis(ns);
            assert_eq!(shown, text[..23].replace('T', " "), "{text}");
        }
    }
}

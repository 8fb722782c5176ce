//! Parsing of durations (`90s`, `30m`, `24h`, `7d`, `1h30m`) and RFC 3339 timestamps.

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

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an RFC 3339 timestamp (`2025-01-02T03:04:05.678Z`, `…+02:00`) to Unix nanoseconds.
pub(crate) fn parse_rfc3339_nanos(text: &str) -> Result<i128, String> {
    let err = || format!("invalid RFC 3339 time {text:?}");
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let s = text.get(r).ok_or_else(err)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        s.parse().map_err(|_| err())
    };
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(err());
    }
    let mut i = 19;
    let mut frac_nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
        let digits = &text[start..i.min(start + 9)];
        frac_nanos =
            digits.parse::<i128>().map_err(|_| err())? * 10i128.pow(9 - digits.len() as u32);
    }
    let offset_secs: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(err()),
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    Ok(i128::from(secs) * 1_000_000_000 + frac_nanos)
}

/// Unix nanoseconds as `YYYY-MM-DD HH:MM:SS.mmm` (UTC), as the UI shows times.
pub(crate) fn format_utc_millis(unix_nanos: u64) -> String {
    let secs = (unix_nanos / 1_000_000_000) as i64;
    let millis = (unix_nanos / 1_000_000) % 1_000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days, the inverse of days_from_civil above.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
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

//! Query-string parsing shared by the API and the pages: form pairs, Prometheus' "last value
//! wins" parameters, and the trace search query (`GET /api/traces` and the search page).

use std::time::Duration;

use crate::model::time::{parse_duration, parse_rfc3339_nanos};
use crate::query::traces::{self, TraceQuery};
use crate::storage::now_unix_nanos;

/// A point in time: RFC 3339, Unix nanoseconds, or a duration ago (`1h`, `30m`).
fn parse_instant(name: &str, value: &str) -> Result<u64, String> {
    if let Ok(ns) = value.parse::<u64>() {
        return Ok(ns);
    }
    if let Ok(ns) = parse_rfc3339_nanos(value) {
        return if ns < 0 {
            Err(format!("{name}={value}: before 1970"))
        } else {
            Ok(u64::try_from(ns).unwrap_or(u64::MAX))
        };
    }
    parse_duration(value)
        .map(|ago| {
            now_unix_nanos().saturating_sub(u64::try_from(ago.as_nanos()).unwrap_or(u64::MAX))
        })
        .map_err(|_| {
            format!("{name}={value}: expected RFC 3339, Unix nanoseconds or a duration like 1h")
        })
}

/// Parses the query string of `GET /api/traces`.
pub(crate) fn parse_query(raw: Option<&str>) -> Result<TraceQuery, String> {
    let mut q = TraceQuery::default();
    for (k, v) in form_pairs(raw.unwrap_or("")) {
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "service" => q.service = Some(v),
            "operation" | "name" => q.operation = Some(v),
            "status" => match v.as_str() {
                "error" => q.errors_only = true,
                "any" | "all" => q.errors_only = false,
                other => return Err(format!("status={other}: expected error or any")),
            },
            "min_duration_ms" => {
                let duration = v
                    .parse::<f64>()
                    .ok()
                    .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
                    .ok_or_else(|| {
                        format!(
                            "min_duration_ms={v}: expected a number of milliseconds from 0 to {}",
                            u64::MAX
                        )
                    })?;
                q.min_duration = Some(duration);
            }
            "min_duration" => {
                q.min_duration =
                    Some(parse_duration(&v).map_err(|e| format!("min_duration: {e}"))?);
            }
            "attr" => {
                let (key, value) = v
                    .split_once('=')
                    .ok_or_else(|| format!("attr={v}: expected key=value"))?;
                q.attributes.push((key.to_owned(), value.to_owned()));
            }
            "since" | "start" => q.since_unix_nanos = Some(parse_instant(&k, &v)?),
            "before" | "end" => match traces::parse_cursor(&v) {
                Some((start, trace_id)) => {
                    q.before_unix_nanos = Some(start);
                    q.before_trace_id = Some(trace_id);
                }
                None => q.before_unix_nanos = Some(parse_instant(&k, &v)?),
            },
            "limit" => {
                q.limit = v
                    .parse()
                    .map_err(|_| format!("limit={v}: expected a positive integer"))?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// `application/x-www-form-urlencoded` pairs, in order (repeated keys kept).
pub(crate) fn form_pairs(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The last non-empty value of `name` among `pairs` (as Prometheus reads a repeated parameter).
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

//! `tracestate` parsing, limits and mutation (W3C Trace Context Level 2, §3.3 and §3.5).

use opentelemetry::trace::TraceState;

use crate::traceparent::trim_ows;

/// Maximum number of list-members (§3.3.1.1).
pub const MAX_MEMBERS: usize = 32;
/// Combined length vendors must propagate at least, and the size above which they truncate when
/// mutating (§3.3.1.5).
pub const MAX_HEADER_LEN: usize = 512;
/// List-members longer than this are removed first when truncating (§3.3.1.5).
pub const LARGE_MEMBER_LEN: usize = 128;

/// Why a `tracestate` was discarded as a whole (§3.3.1: a vendor that cannot parse the header
/// MUST NOT propagate any of it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TracestateError {
    /// A list-member has no `=`.
    MissingEquals(String),
    /// A key breaks §3.3.1.3.1 (`( lcalpha / DIGIT ) 0*255( keychar )`).
    BadKey(String),
    /// A value breaks §3.3.1.3.2 (printable ASCII except `,` and `=`, at most 256, no trailing
    /// space).
    BadValue(String),
    /// More than 32 list-members (§3.3.1.1).
    TooManyMembers(usize),
}

fn key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

/// `key = ( lcalpha / DIGIT ) 0*255( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" /
/// "/" / "@"` (§3.3.1.3.1, the grammar of Level 2 and, since w3c/trace-context#386, of Level 1).
///
/// The older `tenant-id "@" system-id` split (at most one `@`, 14 characters after it) is gone:
/// `foo@`, `a@b@c` and `1foo` are valid keys.
pub fn valid_key(key: &str) -> bool {
    let k = key.as_bytes();
    !k.is_empty()
        && k.len() <= 256
        && (k[0].is_ascii_lowercase() || k[0].is_ascii_digit())
        && k.iter().all(|b| key_char(*b))
}

/// `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`, `chr = %x20 / nblk-chr`
/// (§3.3.1.3.2).
pub fn valid_value(value: &str) -> bool {
    let v = value.as_bytes();
    let nblk = |b: u8| matches!(b, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e);
    !v.is_empty()
        && v.len() <= 256
        && nblk(v[v.len() - 1])
        && v.iter().all(|b| *b == 0x20 || nblk(*b))
}

/// Parses the combined `tracestate` (several header lines are joined with `,`, §3.3.1.5 / RFC 9110
/// list rules). Empty list-members and OWS around members are allowed.
///
/// A key that appears twice is kept as received: uniqueness is the sender's duty, and a receiver
/// does not clean up another participant's list (w3c/trace-context#477 and #552). When a list is
/// mutated ([`insert_member`]) every earlier occurrence of the key is removed.
///
/// # Errors
/// Any invalid member or more than 32 members: the whole header is discarded.
pub fn parse_tracestate(lines: &[&str]) -> Result<Vec<(String, String)>, TracestateError> {
    let mut members: Vec<(String, String)> = Vec::new();
    for line in lines {
        for raw in line.split(',') {
            let member = trim_ows(raw);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member
                .split_once('=')
                .ok_or_else(|| TracestateError::MissingEquals(member.to_owned()))?;
            if !valid_key(key) {
                return Err(TracestateError::BadKey(key.to_owned()));
            }
            if !valid_value(value) {
                return Err(TracestateError::BadValue(value.to_owned()));
            }
            members.push((key.to_owned(), value.to_owned()));
            if members.len() > MAX_MEMBERS {
                return Err(TracestateError::TooManyMembers(members.len()));
            }
        }
    }
    Ok(members)
}

/// The serialised list (`k=v,k=v`), empty when there are no members.
pub fn format_tracestate(members: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Adds or updates a member the way a vendor mutates `tracestate` when it adds a span (§3.5):
/// the new member goes on the left, an existing member with that key is removed, and the list is
/// kept within 32 members (dropping from the right) and, when over 512 characters, shortened by
/// first removing members longer than 128 characters (from the right), then members from the right
/// (§3.3.1.5). The member just added is never removed.
///
/// # Errors
/// An invalid key or value.
pub fn insert_member(
    members: &[(String, String)],
    key: &str,
    value: &str,
) -> Result<Vec<(String, String)>, TracestateError> {
    if !valid_key(key) {
        return Err(TracestateError::BadKey(key.to_owned()));
    }
    if !valid_value(value) {
        return Err(TracestateError::BadValue(value.to_owned()));
    }
    let mut out = Vec::with_capacity(members.len() + 1);
    out.push((key.to_owned(), value.to_owned()));
    out.extend(members.iter().filter(|(k, _)| k != key).cloned());
    out.truncate(MAX_MEMBERS);
    let len = |m: &[(String, String)]| format_tracestate(m).len();
    while len(&out) > MAX_HEADER_LEN {
        let large = out
            .iter()
            .enumerate()
            .skip(1)
            .rev()
            .find(|(_, (k, v))| k.len() + 1 + v.len() > LARGE_MEMBER_LEN)
            .map(|(i, _)| i);
        match large {
            Some(i) => {
                out.remove(i);
            }
            None if out.len() > 1 => {
                out.pop();
            }
            None => break,
        }
    }
    Ok(out)
}

/// The OpenTelemetry `TraceState` closest to `members`: every member its (older, stricter) key
/// rules accept, in order, once per key. The full list travels beside it in the `Context`
/// ([`W3cTraceContextPropagator`](crate::W3cTraceContextPropagator) does that), so nothing the
/// SDK type cannot hold is lost.
pub fn to_trace_state(members: &[(String, String)]) -> TraceState {
    let mut kept: Vec<(&str, &str)> = Vec::with_capacity(members.len());
    for (k, v) in members {
        if kept.iter().any(|(seen, _)| seen == k) {
            continue;
        }
        if TraceState::from_key_value([(k.as_str(), v.as_str())]).is_ok() {
            kept.push((k, v));
        }
    }
    TraceState::from_key_value(kept).unwrap_or(TraceState::NONE)
}

/// The members of an OpenTelemetry `TraceState`.
pub fn from_trace_state(state: &TraceState) -> Vec<(String, String)> {
    let header = state.header();
    parse_tracestate(&[header.as_str()]).unwrap_or_default()
}

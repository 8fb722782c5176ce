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
    /// A key breaks §3.3.1.3.1 (`simple-key` or `tenant-id@system-id`, lengths included).
    BadKey(String),
    /// A value breaks §3.3.1.3.2 (printable ASCII except `,` and `=`, at most 256, no trailing
    /// space).
    BadValue(String),
    /// More than 32 list-members (§3.3.1.1).
    TooManyMembers(usize),
    /// The same key twice (§3.3.1.1: keys are unique).
    DuplicateKey(String),
}

fn key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )`
/// `multi-tenant-key = tenant-id "@" system-id`,
/// `tenant-id = ( lcalpha / DIGIT ) 0*240( … )`, `system-id = lcalpha 0*13( … )` (§3.3.1.3.1).
pub fn valid_key(key: &str) -> bool {
    let k = key.as_bytes();
    match key.split_once('@') {
        None => {
            !k.is_empty()
                && k.len() <= 256
                && k[0].is_ascii_lowercase()
                && k.iter().all(|b| key_char(*b))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|b| key_char(*b))
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s.iter().all(|b| key_char(*b))
        }
    }
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
/// # Errors
/// Any invalid member, a duplicate key, or more than 32 members: the whole header is discarded.
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
            if members.iter().any(|(k, _)| k == key) {
                return Err(TracestateError::DuplicateKey(key.to_owned()));
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

/// Converts parsed members into the OpenTelemetry `TraceState` (which re-validates with its own,
/// slightly looser rules; our members always pass them).
pub fn to_trace_state(members: &[(String, String)]) -> TraceState {
    TraceState::from_key_value(members.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or(TraceState::NONE)
}

/// The members of an OpenTelemetry `TraceState`.
pub fn from_trace_state(state: &TraceState) -> Vec<(String, String)> {
    let header = state.header();
    parse_tracestate(&[header.as_str()]).unwrap_or_default()
}

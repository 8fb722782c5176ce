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

/// `s` split at each `sep`, an ASCII byte, like `str::split(char)` but with a plain byte loop:
/// `tracestate` members are a few dozen bytes, where `memchr`'s set-up costs more than it saves.
#[derive(Clone)]
struct SplitAscii<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitAscii<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match s.bytes().position(|b| b == self.sep) {
            Some(i) => {
                self.rest = Some(&s[i + 1..]);
                Some(&s[..i])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

fn split_ascii(s: &str, sep: u8) -> SplitAscii<'_> {
    debug_assert!(sep.is_ascii());
    SplitAscii { rest: Some(s), sep }
}

/// `str::split_once` at the first `=`, with a plain byte loop.
fn split_at_equals(member: &str) -> Option<(&str, &str)> {
    let i = member.bytes().position(|b| b == b'=')?;
    Some((&member[..i], &member[i + 1..]))
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
    members_of(lines)
        .map(|m| m.map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// The valid list-members of the combined lines, borrowed, in order; the first invalid member (or
/// the 33rd) is an error.
fn members_of<'a>(
    lines: &'a [&'a str],
) -> impl Iterator<Item = Result<(&'a str, &'a str), TracestateError>> + 'a {
    lines
        .iter()
        .flat_map(|line| split_ascii(line, b','))
        .map(trim_ows)
        .filter(|member| !member.is_empty())
        .enumerate()
        .map(|(i, member)| {
            let (key, value) = split_at_equals(member)
                .ok_or_else(|| TracestateError::MissingEquals(member.to_owned()))?;
            if !valid_key(key) {
                return Err(TracestateError::BadKey(key.to_owned()));
            }
            if !valid_value(value) {
                return Err(TracestateError::BadValue(value.to_owned()));
            }
            if i >= MAX_MEMBERS {
                return Err(TracestateError::TooManyMembers(i + 1));
            }
            Ok((key, value))
        })
}

/// The combined lines as one canonical list (`k=v,k=v`: no OWS, no empty members), what
/// [`format_tracestate`] of [`parse_tracestate`] gives, in one allocation (none when empty).
pub(crate) fn canonical_tracestate(lines: &[&str]) -> Result<String, TracestateError> {
    let mut out = String::new();
    for member in members_of(lines) {
        let (key, value) = member?;
        if out.is_empty() {
            out.reserve(lines.iter().map(|l| l.len()).sum());
        } else {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    Ok(out)
}

/// The members of a canonical list (see [`canonical_tracestate`]).
pub(crate) fn split_canonical(list: &str) -> impl Iterator<Item = (&str, &str)> + Clone {
    split_ascii(list, b',').filter_map(split_at_equals)
}

/// The serialised list (`k=v,k=v`), empty when there are no members.
pub fn format_tracestate(members: &[(String, String)]) -> String {
    let len = members
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>();
    let mut out = String::with_capacity(len.saturating_sub(1));
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
    sdk_trace_state_and_fit(members.iter().map(|(k, v)| (k.as_str(), v.as_str()))).0
}

/// The first occurrence of each key of a canonical list, in order, without allocating.
pub(crate) fn first_occurrences(list: &str) -> impl Iterator<Item = (&str, &str)> {
    split_canonical(list)
        .enumerate()
        .filter(move |(i, (key, _))| !split_canonical(list).take(*i).any(|(k, _)| k == *key))
        .map(|(_, member)| member)
}

/// [`to_trace_state`] over borrowed members, and whether the state holds exactly the first occurrence of each key
/// (every member was one the SDK accepts).
pub(crate) fn sdk_trace_state_and_fit<'a>(
    members: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> (TraceState, bool) {
    // The common case first: every member is one the SDK accepts, so one `TraceState` is built
    // from the list with each key's first occurrence.
    let mut first: Vec<(&str, &str)> = Vec::new();
    for (k, v) in members.clone() {
        if !first.iter().any(|(seen, _)| *seen == k) {
            first.push((k, v));
        }
    }
    if first.is_empty() {
        return (TraceState::NONE, true);
    }
    if let Ok(state) = TraceState::from_key_value(first.iter().copied()) {
        return (state, true);
    }
    // Some member the SDK rejects: keep, in order, the first accepted member of each key.
    let mut kept: Vec<(&str, &str)> = Vec::with_capacity(first.len());
    for (k, v) in members {
        if kept.iter().any(|(seen, _)| *seen == k) {
            continue;
        }
        if TraceState::from_key_value([(k, v)]).is_ok() {
            kept.push((k, v));
        }
    }
    (
        TraceState::from_key_value(kept).unwrap_or(TraceState::NONE),
        false,
    )
}

/// The members of an OpenTelemetry `TraceState`.
pub fn from_trace_state(state: &TraceState) -> Vec<(String, String)> {
    let header = state.header();
    parse_tracestate(&[header.as_str()]).unwrap_or_default()
}

#[cfg(test)]
mod canonical_tests {
    use super::*;

    #[test]
    fn the_canonical_list_is_the_formatted_parse_and_fails_alike() {
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        for lines in [
            vec![],
            vec![""],
            vec!["rojo=00f067aa0ba902b7"],
            vec![" a=1 ,, b=2\t", "c=3,", ",a=4"],
            vec!["foo@=x,a@b@c=y,1foo=z"],
            vec!["a=1", "bad"],
            vec!["A=1"],
            vec!["a=1 "],
            vec![many.as_str()],
        ] {
            let parsed = parse_tracestate(&lines);
            let canonical = canonical_tracestate(&lines);
            match (&parsed, &canonical) {
                (Ok(members), Ok(list)) => {
                    assert_eq!(*list, format_tracestate(members), "{lines:?}");
                    let split: Vec<(String, String)> = split_canonical(list)
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    assert_eq!(&split, members, "{lines:?}");
                    assert_eq!(
                        to_trace_state(members),
                        sdk_trace_state_and_fit(split_canonical(list)).0
                    );
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{lines:?}"),
                _ => panic!("{lines:?}: {parsed:?} vs {canonical:?}"),
            }
        }
    }

    #[test]
    fn a_member_the_sdk_rejects_is_left_out_and_the_rest_kept() {
        // Valid in Level 2, rejected by the SDK's older key rules: the SDK state keeps the others.
        let members = parse_tracestate(&["a=1,a@b@c=2,b=3,a=4"]).unwrap();
        assert_eq!(to_trace_state(&members).header(), "a=1,b=3");
        let list = canonical_tracestate(&["a=1,a@b@c=2,b=3,a=4"]).unwrap();
        assert!(!sdk_trace_state_and_fit(split_canonical(&list)).1);
        let list = canonical_tracestate(&["a=1,b=3,a=4"]).unwrap();
        let (state, fits) = sdk_trace_state_and_fit(split_canonical(&list));
        assert!(fits);
        assert!(state.into_iter().eq(first_occurrences(&list)));
        assert_eq!(
            first_occurrences(&list).collect::<Vec<_>>(),
            [("a", "1"), ("b", "3")]
        );
    }
}

//! `traceparent` parsing and formatting (W3C Trace Context Level 2, §3.2).

use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

/// Why a `traceparent` value was rejected (the trace restarts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceparentError {
    /// More than one `traceparent` header (§3.2: the header is a single value; a vendor must not
    /// pick one of several).
    Multiple,
    /// Shorter than the 55 characters of version 00 (§3.2.4 step 1).
    TooShort,
    /// Version 00 with anything other than exactly 55 characters (§3.2.2).
    BadLength,
    /// The version is not two lowercase hex digits (§3.2.2.1).
    BadVersion,
    /// Version `ff` is forbidden (§3.2.2.1).
    ForbiddenVersion,
    /// A field separator `-` is missing where the grammar puts one (§3.2.2, §3.2.4 steps 2–4).
    BadDelimiter,
    /// The trace-id is not 32 lowercase hex digits (§3.2.2.3).
    BadTraceId,
    /// The trace-id is all zeros (§3.2.2.3).
    ZeroTraceId,
    /// The parent-id is not 16 lowercase hex digits (§3.2.2.4).
    BadParentId,
    /// The parent-id is all zeros (§3.2.2.4).
    ZeroParentId,
    /// The trace-flags are not 2 lowercase hex digits (§3.2.2.5).
    BadFlags,
}

/// A parsed `traceparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traceparent {
    /// The version read (00, or a later one parsed by the forward-compatibility rules).
    pub version: u8,
    /// trace-id.
    pub trace_id: TraceId,
    /// parent-id.
    pub parent_id: SpanId,
    /// The flags we understand: `sampled` (0x01) and Level 2 `random` (0x02). Other bits are
    /// dropped (§3.2.2.5: unknown flags are not propagated).
    pub flags: TraceFlags,
}

/// Bits of trace-flags defined by Level 2: sampled and random.
pub const KNOWN_FLAGS: u8 = 0x01 | 0x02;
/// The Level 2 `random` trace flag (§3.2.2.5.2).
pub const RANDOM_FLAG: u8 = 0x02;

/// The lowercase hex digits, by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The value of each lowercase hex digit; `0xff` for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX_DIGITS[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn hex_lc(b: u8) -> Option<u8> {
    let v = HEX_VALUE[usize::from(b)];
    (v < 16).then_some(v)
}

/// `2 * N` lowercase hex digits as `N` bytes: one table read per digit and a single check at the
/// end (an invalid digit reads `0xff`, which survives the OR).
fn parse_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(pair[0])],
            HEX_VALUE[usize::from(pair[1])],
        );
        invalid |= hi | lo;
        *byte = (hi << 4) | lo;
    }
    (invalid < 16).then_some(out)
}

/// Optional whitespace around an HTTP field value (RFC 9110 §5.6.3) is not part of the value.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Parses one `traceparent` value.
///
/// Version 00 must be exactly 55 characters. A later version is parsed by §3.2.4: at least 55
/// characters, trace-id and parent-id each followed by `-`, the flags followed by the end or a `-`.
///
/// # Errors
/// The first rule the value breaks.
pub fn parse_traceparent(value: &str) -> Result<Traceparent, TraceparentError> {
    let v = trim_ows(value).as_bytes();
    if v.len() < 55 {
        return Err(TraceparentError::TooShort);
    }
    let version = match (hex_lc(v[0]), hex_lc(v[1])) {
        (Some(a), Some(b)) => (a << 4) | b,
        _ => return Err(TraceparentError::BadVersion),
    };
    if version == 0xff {
        return Err(TraceparentError::ForbiddenVersion);
    }
    if version == 0 && v.len() != 55 {
        return Err(TraceparentError::BadLength);
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return Err(TraceparentError::BadDelimiter);
    }
    if v.len() > 55 && v[55] != b'-' {
        // §3.2.4 step 4: the flags are followed by the end of the value or a dash.
        return Err(TraceparentError::BadDelimiter);
    }
    let trace_id = parse_hex::<16>(&v[3..35]).ok_or(TraceparentError::BadTraceId)?;
    if trace_id == [0; 16] {
        return Err(TraceparentError::ZeroTraceId);
    }
    let parent_id = parse_hex::<8>(&v[36..52]).ok_or(TraceparentError::BadParentId)?;
    if parent_id == [0; 8] {
        return Err(TraceparentError::ZeroParentId);
    }
    let flags = parse_hex::<1>(&v[53..55]).ok_or(TraceparentError::BadFlags)?[0];
    Ok(Traceparent {
        version,
        trace_id: TraceId::from_bytes(trace_id),
        parent_id: SpanId::from_bytes(parent_id),
        flags: TraceFlags::new(flags & KNOWN_FLAGS),
    })
}

/// Formats a version-00 `traceparent` (lowercase hex; only the sampled and random flags).
///
/// The digits are written into a 55-byte buffer, which becomes a string of exactly 55 bytes of
/// capacity, so a carrier can turn it into a header value without copying it.
pub fn format_traceparent(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> String {
    fn hex_into(bytes: &[u8], out: &mut [u8]) {
        for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
            pair[0] = HEX_DIGITS[usize::from(b >> 4)];
            pair[1] = HEX_DIGITS[usize::from(b & 0x0f)];
        }
    }
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex_into(&trace_id.to_bytes(), &mut out[3..35]);
    hex_into(&parent_id.to_bytes(), &mut out[36..52]);
    hex_into(&[flags.to_u8() & KNOWN_FLAGS], &mut out[53..55]);
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn format_matches_the_display_of_the_ids_and_parses_back() {
        for (t, s, f) in [
            (
                0x4bf92f3577b34da6a3ce929d0e0e4736u128,
                0x00f067aa0ba902b7u64,
                0x01u8,
            ),
            (1, 1, 0),
            (u128::MAX, u64::MAX, 0xff),
        ] {
            let (t, s, f) = (TraceId::from(t), SpanId::from(s), TraceFlags::new(f));
            let v = format_traceparent(t, s, f);
            assert_eq!(v, format!("00-{t}-{s}-{:02x}", f.to_u8() & KNOWN_FLAGS));
            assert_eq!(v.capacity(), 55);
            let back = parse_traceparent(&v).unwrap();
            assert_eq!((back.trace_id, back.parent_id), (t, s));
        }
    }
}

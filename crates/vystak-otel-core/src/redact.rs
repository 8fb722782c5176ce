//! Redaction, declared once: the semantic conventions' sensitive query keys, the replacement
//! text, and the query and in-text URL redactors the server (`url.query`), the client
//! (`url.full`) and the GenAI crate (error messages) apply.
//!
//! ```
//! use vystak_otel_core::redact::{redact_query, redact_urls_in};
//!
//! assert_eq!(redact_query("sig=abc&color=blue"), "sig=REDACTED&color=blue");
//! assert_eq!(
//!     redact_urls_in("GET https://u:p@h/x?X-Amz-Signature=s#f failed"),
//!     "GET https://REDACTED:REDACTED@h/x?X-Amz-Signature=REDACTED#f failed"
//! );
//! ```

use std::borrow::Cow;

/// Value written in place of redacted query values and header values.
pub const REDACTED: &str = "REDACTED";

/// Replacement for the credentials of a URL.
pub const REDACTED_USERINFO: &str = "REDACTED:REDACTED";

/// Query keys whose values are redacted (semantic conventions, URL redaction). Case-sensitive.
pub const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
];

/// Whether a `key=value` pair's value is redacted (a key without `=` is kept as it is).
pub fn is_sensitive_pair(pair: &str) -> bool {
    pair.split_once('=')
        .is_some_and(|(key, _)| SENSITIVE_QUERY_KEYS.contains(&key))
}

/// The query with the values of [`SENSITIVE_QUERY_KEYS`] replaced by [`REDACTED`] (keys kept).
/// Borrows when nothing needs redacting.
pub fn redact_query(query: &str) -> Cow<'_, str> {
    if !query.split('&').any(is_sensitive_pair) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if SENSITIVE_QUERY_KEYS.contains(&key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// `text` with every `http://` / `https://` URL in it redacted: credentials become
/// [`REDACTED_USERINFO`], sensitive query values [`REDACTED`]. A URL ends at whitespace or one
/// of `) " ' < >`. For error messages, which quote the request URL.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_url(rest) {
        out.push_str(&rest[..start]);
        let url_and_more = &rest[start..];
        let end = url_and_more
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>'))
            .unwrap_or(url_and_more.len());
        push_redacted_url(&url_and_more[..end], &mut out);
        rest = &url_and_more[end..];
    }
    out.push_str(rest);
    out
}

fn find_url(s: &str) -> Option<usize> {
    match (s.find("http://"), s.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One URL redacted like `url.full`: credentials become [`REDACTED_USERINFO`], sensitive query
/// values [`REDACTED`] (scheme, host, path and fragment kept). Borrows when nothing needs
/// redacting.
///
/// ```
/// use vystak_otel_core::redact::redact_url;
///
/// assert_eq!(redact_url("https://u@h/o?sig=s&a=1"), "https://REDACTED:REDACTED@h/o?sig=REDACTED&a=1");
/// assert_eq!(redact_url("https://h/o?a=1"), "https://h/o?a=1");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let mut out = String::new();
    push_redacted_url(url, &mut out);
    if out == url {
        Cow::Borrowed(url)
    } else {
        Cow::Owned(out)
    }
}

fn push_redacted_url(url: &str, out: &mut String) {
    let scheme_end = url.find("://").map_or(0, |i| i.saturating_add(3));
    let (scheme, after) = url.split_at(scheme_end);
    out.push_str(scheme);
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, tail) = after.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(REDACTED_USERINFO);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let Some(q) = tail.find('?') else {
        out.push_str(tail);
        return;
    };
    out.push_str(&tail[..=q]);
    let query_and_fragment = &tail[q.saturating_add(1)..];
    let (query, fragment) = match query_and_fragment.find('#') {
        Some(h) => query_and_fragment.split_at(h),
        None => (query_and_fragment, ""),
    };
    out.push_str(&redact_query(query));
    out.push_str(fragment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sensitive_key_is_redacted_and_others_are_kept() {
        for key in SENSITIVE_QUERY_KEYS {
            assert_eq!(
                redact_query(&format!("a=1&{key}=secret")),
                format!("a=1&{key}={REDACTED}")
            );
        }
        assert!(matches!(redact_query("a=1&Sig=x&sig"), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_in_text_lose_credentials_and_sensitive_values() {
        let msg = "error sending request for url (https://user:pw@api.example.com/v1/messages?sig=abc&color=blue&X-Amz-Signature=s3cr3t&AWSAccessKeyId=AK#frag): timed out";
        assert_eq!(
            redact_urls_in(msg),
            "error sending request for url (https://REDACTED:REDACTED@api.example.com/v1/messages?sig=REDACTED&color=blue&X-Amz-Signature=REDACTED&AWSAccessKeyId=REDACTED#frag): timed out"
        );
        assert_eq!(redact_urls_in("no url here"), "no url here");
    }
}

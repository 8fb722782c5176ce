//! `url.full` redaction: credentials → `REDACTED:REDACTED`, sensitive query values → `REDACTED`.

use crate::semconv::REDACTED_USERINFO;

/// The URL as `url.full` may carry it; a URL repeated from the last requests on this thread
/// (the same endpoint, called again) is shared, not copied.
pub(crate) fn redacted_url(url: &reqwest::Url) -> opentelemetry::StringValue {
    match redacted(url) {
        Some(redacted) => redacted.into(),
        None => vystak_otel_core::intern::recent(vystak_otel_core::intern::Kind::Url, url.as_str()),
    }
}

/// The redacted URL, or `None` when there is nothing to redact.
fn redacted(url: &reqwest::Url) -> Option<String> {
    let has_userinfo = !url.username().is_empty() || url.password().is_some();
    let query_sensitive = url.query().is_some_and(|q| {
        q.split('&')
            .any(vystak_otel_core::redact::is_sensitive_pair)
    });
    if !has_userinfo && !query_sensitive {
        return None;
    }
    let out = vystak_otel_core::redact::redact_url(url.as_str()).into_owned();
    debug_assert!(!has_userinfo || out.contains(REDACTED_USERINFO));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semconv::SENSITIVE_QUERY_KEYS;

    fn r(s: &str) -> String {
        redacted_url(&s.parse().unwrap()).as_str().to_owned()
    }

    #[test]
    fn credentials_and_sensitive_query_values_are_redacted() {
        assert_eq!(r("https://example.com/a?b=1"), "https://example.com/a?b=1");
        assert_eq!(
            r("https://user:pass@www.example.com/"),
            "https://REDACTED:REDACTED@www.example.com/"
        );
        assert_eq!(
            r("https://user@example.com/"),
            "https://REDACTED:REDACTED@example.com/"
        );
        assert_eq!(
            r("https://s3.example.com/o?X-Amz-Signature=abc&color=blue&sig=zz&Sig=keep"),
            "https://s3.example.com/o?X-Amz-Signature=REDACTED&color=blue&sig=REDACTED&Sig=keep"
        );
        for key in SENSITIVE_QUERY_KEYS {
            assert_eq!(
                r(&format!("http://h/p?{key}=secret")),
                format!("http://h/p?{key}=REDACTED")
            );
        }
    }
}

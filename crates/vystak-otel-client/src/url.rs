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
    let mut out = url.clone();
    if has_userinfo {
        // Both setters only fail for URLs that cannot have credentials, which had none.
        let _ = out.set_username("REDACTED");
        let _ = out.set_password(Some("REDACTED"));
    }
    if query_sensitive {
        let query = vystak_otel_core::redact::redact_query(url.query().unwrap_or_default());
        out.set_query(Some(&query));
    }
    debug_assert!(!has_userinfo || out.as_str().contains(REDACTED_USERINFO));
    Some(out.into())
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

/// `text` with every `http://` / `https://` URL in it redacted like `url.full` (userinfo and the
/// sensitive query values): for error messages, which quote the request URL.
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest
        .find("http://")
        .into_iter()
        .chain(rest.find("https://"))
        .min()
    {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']'))
            .unwrap_or(tail.len());
        let candidate = &tail[..end];
        match reqwest::Url::parse(candidate) {
            Ok(url) => out.push_str(redacted_url(&url).as_str()),
            // Not a URL we can parse: drop its query, which is where secrets sit.
            Err(_) => out.push_str(candidate.split('?').next().unwrap_or_default()),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact_urls_in;

    #[test]
    fn urls_inside_text_are_redacted() {
        assert_eq!(
            redact_urls_in("error sending request for url (https://u:p@h/x?sig=abc&a=1) and http://h/y"),
            "error sending request for url (https://REDACTED:REDACTED@h/x?sig=REDACTED&a=1) and http://h/y"
        );
        assert_eq!(redact_urls_in("no url"), "no url");
        assert_eq!(redact_urls_in("http://[::1/?sig=x"), "http://[::1/");
    }
}

//! `url.full` redaction: credentials → `REDACTED:REDACTED`, sensitive query values → `REDACTED`.

use crate::semconv::{REDACTED, REDACTED_USERINFO, SENSITIVE_QUERY_KEYS};

/// The URL as `url.full` may carry it.
pub(crate) fn redacted_url(url: &reqwest::Url) -> String {
    let has_userinfo = !url.username().is_empty() || url.password().is_some();
    let query_sensitive = url.query().is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, _)| SENSITIVE_QUERY_KEYS.contains(&k))
        })
    });
    if !has_userinfo && !query_sensitive {
        return url.as_str().to_owned();
    }
    let mut out = url.clone();
    if has_userinfo {
        // Both setters only fail for URLs that cannot have credentials, which had none.
        let _ = out.set_username("REDACTED");
        let _ = out.set_password(Some("REDACTED"));
    }
    if query_sensitive {
        let query: Vec<String> = url
            .query()
            .unwrap_or_default()
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SENSITIVE_QUERY_KEYS.contains(&k) => format!("{k}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.set_query(Some(&query.join("&")));
    }
    debug_assert!(!has_userinfo || out.as_str().contains(REDACTED_USERINFO));
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redacted_url(&s.parse().unwrap())
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

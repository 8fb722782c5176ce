//! Reading semantic-convention values off a request: method normalisation, protocol version,
//! server address, query redaction, and the [`RequestView`] handed to filters and hooks.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Method, Uri, Version};

use crate::semconv::{KNOWN_METHODS, OTHER};

/// What filters, hooks and route extractors see of a request.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RequestView<'a> {
    /// The method.
    pub method: &'a Method,
    /// The request target.
    pub uri: &'a Uri,
    /// HTTP version.
    pub version: Version,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The matched route template (axum `MatchedPath`), when known.
    pub route: Option<&'a str>,
}

impl RequestView<'_> {
    /// The request path.
    pub fn path(&self) -> &str {
        self.uri.path()
    }
}

/// The known-method list: the default (static) or an override.
#[derive(Clone, Debug)]
pub(crate) enum KnownMethods {
    Default,
    Custom(Arc<[String]>),
}

impl KnownMethods {
    /// Reads `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` (comma-separated, full override).
    pub(crate) fn from_env() -> Self {
        match std::env::var(crate::semconv::ENV_KNOWN_METHODS) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v),
            _ => Self::Default,
        }
    }

    pub(crate) fn parse(list: &str) -> Self {
        Self::Custom(
            list.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into(),
        )
    }

    fn contains(&self, method: &str) -> bool {
        match self {
            KnownMethods::Default => KNOWN_METHODS.contains(&method),
            KnownMethods::Custom(list) => list.iter().any(|m| m == method),
        }
    }
}

/// A normalised method: the attribute value, and the original when it was replaced by `_OTHER`.
#[derive(Debug)]
pub(crate) struct NormalizedMethod {
    pub(crate) value: Cow<'static, str>,
    pub(crate) original: Option<String>,
}

pub(crate) fn normalize_method(method: &Method, known: &KnownMethods) -> NormalizedMethod {
    let s = method.as_str();
    if known.contains(s) {
        NormalizedMethod {
            value: static_method(method).map_or_else(|| Cow::Owned(s.to_owned()), Cow::Borrowed),
            original: None,
        }
    } else {
        NormalizedMethod {
            value: Cow::Borrowed(OTHER),
            original: Some(s.to_owned()),
        }
    }
}

fn static_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

/// `network.protocol.version` values: `1.0`, `1.1`, `2`, `3`.
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// `server.address` / `server.port` from the URI authority (`:authority`, absolute-form) or the
/// `Host` header.
pub(crate) fn server_address<'a>(
    uri: &'a Uri,
    headers: &'a HeaderMap,
) -> Option<(&'a str, Option<u16>)> {
    if let Some(authority) = uri.authority() {
        return Some((authority.host(), authority.port_u16()));
    }
    let host = headers.get(http::header::HOST)?.to_str().ok()?.trim();
    if host.is_empty() {
        return None;
    }
    parse_host(host)
}

pub(crate) fn parse_host(host: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']')?;
        let addr = &host[..end + 2];
        let port = rest[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        return Some((addr, port));
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !h.contains(':') => Some((h, p.parse().ok())),
        _ => Some((host, None)),
    }
}

pub(crate) use vystak_otel_core::redact::redact_query;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semconv::SENSITIVE_QUERY_KEYS;

    #[test]
    fn methods_are_normalised_to_other_with_the_original_kept() {
        let known = KnownMethods::Default;
        let get = normalize_method(&Method::GET, &known);
        assert_eq!((get.value.as_ref(), get.original), ("GET", None));
        let query = normalize_method(&Method::from_bytes(b"QUERY").unwrap(), &known);
        assert_eq!((query.value.as_ref(), query.original), ("QUERY", None));
        let custom = normalize_method(&Method::from_bytes(b"PURGE").unwrap(), &known);
        assert_eq!(custom.value, "_OTHER");
        assert_eq!(custom.original.as_deref(), Some("PURGE"));
        let lower = normalize_method(&Method::from_bytes(b"get").unwrap(), &known);
        assert_eq!(lower.value, "_OTHER", "matching is case-sensitive");
    }

    #[test]
    fn the_known_method_list_is_a_full_override() {
        let known = KnownMethods::parse("GET, PURGE ,");
        assert_eq!(
            normalize_method(&Method::from_bytes(b"PURGE").unwrap(), &known).value,
            "PURGE"
        );
        assert_eq!(normalize_method(&Method::POST, &known).value, "_OTHER");
    }

    #[test]
    fn protocol_versions_use_the_semconv_spelling() {
        assert_eq!(protocol_version(Version::HTTP_10), Some("1.0"));
        assert_eq!(protocol_version(Version::HTTP_11), Some("1.1"));
        assert_eq!(protocol_version(Version::HTTP_2), Some("2"));
        assert_eq!(protocol_version(Version::HTTP_3), Some("3"));
    }

    #[test]
    fn host_parsing() {
        assert_eq!(
            parse_host("example.com:8080"),
            Some(("example.com", Some(8080)))
        );
        assert_eq!(parse_host("example.com"), Some(("example.com", None)));
        assert_eq!(parse_host("[::1]:9000"), Some(("[::1]", Some(9000))));
        assert_eq!(parse_host("[::1]"), Some(("[::1]", None)));
        assert_eq!(parse_host("host:notaport"), Some(("host", None)));
        assert_eq!(parse_host("[::1"), None);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, "api.local:3000".parse().unwrap());
        let uri: Uri = "/a2a".parse().unwrap();
        assert_eq!(
            server_address(&uri, &headers),
            Some(("api.local", Some(3000)))
        );
        let absolute: Uri = "http://h2.local:81/x".parse().unwrap();
        assert_eq!(
            server_address(&absolute, &headers),
            Some(("h2.local", Some(81)))
        );
        assert_eq!(server_address(&uri, &HeaderMap::new()), None);
    }

    #[test]
    fn sensitive_query_values_are_redacted() {
        assert!(matches!(redact_query("a=1&b=2"), Cow::Borrowed("a=1&b=2")));
        assert_eq!(
            redact_query("color=blue&sig=abc&X-Amz-Signature=zz&Signature&SIG=x"),
            "color=blue&sig=REDACTED&X-Amz-Signature=REDACTED&Signature&SIG=x"
        );
        for key in SENSITIVE_QUERY_KEYS {
            assert_eq!(
                redact_query(&format!("{key}=secret")),
                format!("{key}=REDACTED")
            );
        }
    }
}

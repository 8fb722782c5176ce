//! Classifying failed model calls: a low-cardinality `error.type` and a redacted status message.

use std::any::Any;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::semconv::{ERROR_TYPE_OTHER, ERROR_TYPE_TIMEOUT};

/// Longest status description recorded (bytes, cut at a character boundary).
pub const MAX_ERROR_DESCRIPTION: usize = 1024;

pub use vystak_otel_core::redact::SENSITIVE_QUERY_KEYS;

/// How a failed model call is recorded: `error.type` on the span and the duration metric, and the
/// span status description.
///
/// ```
/// use vystak_otel_genai::{GenAiErrorClass, ProviderError};
///
/// let err = ProviderError::from_body(529, r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
/// let class = GenAiErrorClass::from_error(&err);
/// assert_eq!(class.error_type(), "overloaded_error");
/// assert_eq!(class.description(), "Overloaded (HTTP 529)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenAiErrorClass {
    error_type: Cow<'static, str>,
    description: String,
}

impl GenAiErrorClass {
    /// A class with this `error.type` and status description (the description is redacted and
    /// capped here).
    pub fn new(error_type: impl Into<Cow<'static, str>>, description: impl AsRef<str>) -> Self {
        Self {
            error_type: error_type.into(),
            description: redact_message(description.as_ref()),
        }
    }

    /// The `error.type` value.
    pub fn error_type(&self) -> &str {
        &self.error_type
    }

    /// The span status description (redacted).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Classifies an error and its `source()` chain: the first of
    /// 1. a provider error type from the response body ([`ProviderError`], e.g. `overloaded_error`),
    /// 2. the provider's HTTP status code as a string (`529`; from [`ProviderError`] or, with the
    ///    `reqwest` feature, `reqwest::Error::status`),
    /// 3. `timeout` (`reqwest::Error::is_timeout`, `std::io::ErrorKind::TimedOut`),
    ///
    /// found anywhere in the chain, else `_OTHER`. The description is the error's message, each
    /// source appended after `: `, with URL credentials and signed-URL query values redacted.
    pub fn from_error(err: &(dyn StdError + 'static)) -> Self {
        let mut provider_type = None;
        let mut status = None;
        let mut timeout = false;
        let mut chain: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = chain {
            inspect(e, &mut provider_type, &mut status, &mut timeout);
            chain = e.source();
        }
        let error_type: Cow<'static, str> = if let Some(t) = provider_type {
            Cow::Owned(t)
        } else if let Some(s) = status {
            Cow::Owned(s.to_string())
        } else if timeout {
            Cow::Borrowed(ERROR_TYPE_TIMEOUT)
        } else {
            Cow::Borrowed(ERROR_TYPE_OTHER)
        };
        Self::new(error_type, chain_message(err))
    }

    /// Classifies a value of any error type: the common boxed errors
    /// (`Box<dyn Error + Send + Sync>`, `Box<dyn Error + Send>`, `Box<dyn Error>`,
    /// `Arc<dyn Error + Send + Sync>`), `std::io::Error`, `serde_json::Error`, [`ProviderError`],
    /// `reqwest::Error` / `reqwest_middleware::Error` (features) go through
    /// [`from_error`](Self::from_error); a `String` or `&str` is the message with `_OTHER`;
    /// anything else is `_OTHER` (use
    /// [`GenAiInstrumentation::with_error_classifier`](crate::GenAiInstrumentation::with_error_classifier)
    /// for your own types).
    pub fn from_any(err: &(dyn Any + 'static)) -> Self {
        if let Some(e) = as_std_error(err) {
            return Self::from_error(e);
        }
        if let Some(s) = err.downcast_ref::<String>() {
            return Self::new(ERROR_TYPE_OTHER, s);
        }
        if let Some(s) = err.downcast_ref::<&'static str>() {
            return Self::new(ERROR_TYPE_OTHER, s);
        }
        Self::new(ERROR_TYPE_OTHER, "model call failed")
    }
}

/// `error.type` only (the description says which type failed).
impl From<&'static str> for GenAiErrorClass {
    fn from(error_type: &'static str) -> Self {
        Self {
            error_type: Cow::Borrowed(error_type),
            description: format!("model call failed: {error_type}"),
        }
    }
}

fn as_std_error<'a>(err: &'a (dyn Any + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    macro_rules! try_as {
        ($($t:ty),* $(,)?) => {$(
            if let Some(e) = err.downcast_ref::<$t>() {
                return Some(&**e);
            }
        )*};
    }
    try_as!(
        Box<dyn StdError + Send + Sync>,
        Box<dyn StdError + Send>,
        Box<dyn StdError>,
        Arc<dyn StdError + Send + Sync>,
    );
    macro_rules! try_concrete {
        ($($t:ty),* $(,)?) => {$(
            if let Some(e) = err.downcast_ref::<$t>() {
                return Some(e);
            }
        )*};
    }
    try_concrete!(std::io::Error, ProviderError, std::fmt::Error);
    #[cfg(any(feature = "anthropic", feature = "openai"))]
    try_concrete!(serde_json::Error);
    #[cfg(feature = "reqwest")]
    try_concrete!(reqwest::Error);
    #[cfg(feature = "sse")]
    try_concrete!(StreamError);
    #[cfg(feature = "reqwest-middleware")]
    if let Some(e) = err.downcast_ref::<reqwest_middleware::Error>() {
        return Some(match e {
            reqwest_middleware::Error::Reqwest(e) => e,
            reqwest_middleware::Error::Middleware(e) => &**e,
        });
    }
    None
}

fn inspect(
    e: &(dyn StdError + 'static),
    provider_type: &mut Option<String>,
    status: &mut Option<u16>,
    timeout: &mut bool,
) {
    if let Some(p) = e.downcast_ref::<ProviderError>() {
        if provider_type.is_none() {
            *provider_type = p.error_type.clone();
        }
        if status.is_none() {
            *status = p.status;
        }
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        *timeout |= io.kind() == std::io::ErrorKind::TimedOut;
    }
    #[cfg(feature = "reqwest")]
    if let Some(r) = e.downcast_ref::<reqwest::Error>() {
        *timeout |= r.is_timeout();
        if status.is_none() {
            *status = r.status().map(|s| s.as_u16());
        }
    }
    #[cfg(feature = "reqwest-middleware")]
    if let Some(reqwest_middleware::Error::Reqwest(r)) =
        e.downcast_ref::<reqwest_middleware::Error>()
    {
        *timeout |= r.is_timeout();
        if status.is_none() {
            *status = r.status().map(|s| s.as_u16());
        }
    }
}

/// The message of `err`, each source appended after `: ` unless the message already contains it
/// (many errors repeat their source's text).
fn chain_message(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let msg = s.to_string();
        if !msg.is_empty() && !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = s.source();
        if out.len() > MAX_ERROR_DESCRIPTION {
            break;
        }
    }
    out
}

/// An error reported by the model provider: the HTTP status and, when the body has one, the
/// provider's error type and message. Return it (or wrap it in your error, as a `source()`) so
/// `error.type` is `overloaded_error` / `rate_limit_error` / `529` rather than a type name.
///
/// ```
/// use vystak_otel_genai::ProviderError;
///
/// let openai = ProviderError::from_body(429, r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#);
/// assert_eq!(openai.error_type(), Some("rate_limit_exceeded"));
/// let plain = ProviderError::from_body(502, "<html>Bad Gateway</html>");
/// assert_eq!((plain.status(), plain.error_type()), (Some(502), None));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderError {
    status: Option<u16>,
    error_type: Option<String>,
    message: String,
}

impl ProviderError {
    /// An error with this HTTP status, provider error type and message.
    pub fn new(
        status: Option<u16>,
        error_type: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_type: error_type.filter(|t| low_cardinality(t)),
            message: message.into(),
        }
    }

    /// From an error response: the status and the body, parsed as Anthropic's
    /// `{"type":"error","error":{"type":"overloaded_error","message":"…"}}` or OpenAI's
    /// `{"error":{"message":"…","type":"…","code":"…"}}` (the `code` wins over the `type` there)
    /// when the `anthropic` or `openai` feature is on; any other body is kept as the message.
    pub fn from_body(status: u16, body: &str) -> Self {
        #[cfg(any(feature = "anthropic", feature = "openai"))]
        if let Some((ty, msg)) = parse_error_body(body) {
            return Self::new(Some(status), ty, msg);
        }
        Self::new(Some(status), None, crate::attrs::cap(body.trim(), 256))
    }

    /// An error reported inside a streaming reply (no HTTP status): an error object in the
    /// shapes [`from_body`](Self::from_body) reads, else `None`.
    #[cfg(all(feature = "sse", any(feature = "anthropic", feature = "openai")))]
    pub(crate) fn from_event(data: &str) -> Option<Self> {
        parse_error_body(data).map(|(ty, message)| Self::new(None, ty, message))
    }

    /// The HTTP status code.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The provider's error type (`overloaded_error`, `rate_limit_exceeded`, …).
    pub fn error_type(&self) -> Option<&str> {
        self.error_type.as_deref()
    }

    /// The provider's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.message.is_empty(), self.status) {
            (false, Some(s)) => write!(f, "{} (HTTP {s})", self.message),
            (false, None) => f.write_str(&self.message),
            (true, Some(s)) => write!(f, "model provider returned HTTP {s}"),
            (true, None) => f.write_str("model provider error"),
        }
    }
}

impl StdError for ProviderError {}

/// A provider error type fit for `error.type`: short, `[A-Za-z0-9_.-]`.
fn low_cardinality(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(any(feature = "anthropic", feature = "openai"))]
fn parse_error_body(body: &str) -> Option<(Option<String>, String)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    let s = |k: &str| {
        err.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let message = s("message").unwrap_or_default();
    // OpenAI: `code` is the specific id (`rate_limit_exceeded`), `type` the family.
    let ty = s("code")
        .filter(|c| low_cardinality(c))
        .or_else(|| s("type"));
    Some((ty, message))
}

/// Redacts URLs inside a message (credentials become `REDACTED:REDACTED`, the values of
/// [`SENSITIVE_QUERY_KEYS`] become `REDACTED`) and caps it at [`MAX_ERROR_DESCRIPTION`] bytes.
pub fn redact_message(message: &str) -> String {
    crate::attrs::cap(
        &vystak_otel_core::redact::redact_urls_in(message),
        MAX_ERROR_DESCRIPTION,
    )
}

/// Why a streaming reply failed. Its [`source`](StdError::source) chain carries the
/// [`ProviderError`] or `reqwest::Error`, so the call's `error.type` is the provider's error
/// type, the HTTP status or `timeout` (see [`GenAiErrorClass::from_error`](crate::GenAiErrorClass::from_error)).
#[cfg(feature = "sse")]
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError {
    /// The request failed before a response arrived (connection, timeout, a middleware).
    Request(Box<dyn StdError + Send + Sync>),
    /// The provider answered with an error: a non-2xx status and its error body, or an `error`
    /// event in the stream (`overloaded_error` mid-reply).
    Provider(ProviderError),
    /// The body broke off mid-stream.
    Body(reqwest::Error),
    /// The body is not Server-Sent Events (invalid UTF-8, a line that does not parse).
    Sse(String),
    /// An event's `data` is not what the provider's stream sends.
    Json(serde_json::Error),
}

#[cfg(feature = "sse")]
impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Request(_) => f.write_str("the streaming request failed"),
            Self::Provider(_) => f.write_str("the provider answered with an error"),
            Self::Body(_) => f.write_str("the stream broke off"),
            Self::Sse(e) => write!(f, "the stream is not Server-Sent Events: {e}"),
            Self::Json(_) => f.write_str("a stream event is not the provider's JSON"),
        }
    }
}

#[cfg(feature = "sse")]
impl StdError for StreamError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Request(e) => Some(&**e),
            Self::Provider(e) => Some(e),
            Self::Body(e) => Some(e),
            Self::Sse(_) => None,
            Self::Json(e) => Some(e),
        }
    }
}

/// How a provider module turns one SSE event (`event` name, `data`) into an item: `None` skips
/// it (OpenAI's `[DONE]`).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_are_redacted() {
        let msg = "error sending request for url (https://user:pw@api.example.com/v1/messages?sig=abc&color=blue&X-Amz-Signature=s3cr3t&AWSAccessKeyId=AK#frag): timed out";
        assert_eq!(
            redact_message(msg),
            "error sending request for url (https://REDACTED:REDACTED@api.example.com/v1/messages?sig=REDACTED&color=blue&X-Amz-Signature=REDACTED&AWSAccessKeyId=REDACTED#frag): timed out"
        );
        assert_eq!(
            redact_message("see http://h/p?Sig=1 and http://h/q?x-goog-signature=2"),
            "see http://h/p?Sig=1 and http://h/q?x-goog-signature=2",
            "key matching is case-sensitive"
        );
        assert_eq!(redact_message("no url here"), "no url here");
        assert_eq!(redact_message(&"é".repeat(2000)).len(), 1024);
    }

    #[test]
    fn provider_bodies_and_chains() {
        let anthropic = ProviderError::from_body(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#,
        );
        assert_eq!(anthropic.error_type(), Some("overloaded_error"));
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(anthropic);
        let class = GenAiErrorClass::from_any(&boxed);
        assert_eq!(class.error_type(), "overloaded_error");
        assert_eq!(class.description(), "Overloaded (HTTP 529)");

        let status_only = ProviderError::new(Some(503), Some("not a low card type!".into()), "");
        assert_eq!(
            GenAiErrorClass::from_error(&status_only).error_type(),
            "503"
        );

        let timeout = std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline elapsed");
        assert_eq!(GenAiErrorClass::from_any(&timeout).error_type(), "timeout");

        struct Opaque;
        let other = GenAiErrorClass::from_any(&Opaque);
        assert_eq!(
            (other.error_type(), other.description()),
            ("_OTHER", "model call failed")
        );
        let s = GenAiErrorClass::from_any(&String::from("boom"));
        assert_eq!((s.error_type(), s.description()), ("_OTHER", "boom"));
    }
}

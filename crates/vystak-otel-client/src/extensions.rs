//! Per-request overrides, read from reqwest-middleware's `Extensions`.

use std::borrow::Cow;

/// Overrides the span name of one request (default: the method).
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// client
///     .post("http://127.0.0.1:8080/a2a")
///     .with_extension(vystak_otel_client::OtelName("POST /a2a".into()))
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtelName(pub Cow<'static, str>);

/// The low-cardinality template of this request's URL, e.g. `/agents/{name}/a2a`: recorded as
/// `url.template` and used in the span name (`POST /agents/{name}/a2a`), as the HTTP semantic
/// conventions describe for clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate(pub Cow<'static, str>);

/// Do not inject trace context into this request (e.g. calls to third-party APIs that must not
/// see our trace ids). The span is still recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisableOtelPropagation;

/// Record no span and no metric for this request (context is still injected unless
/// [`DisableOtelPropagation`] is set too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DisableOtelSpan;

/// Attempt counter kept in the request's `Extensions` across retries (reqwest-retry passes the
/// same `Extensions` to every attempt): [`FirstAttemptMade`] after the first attempt (zero-sized:
/// its box allocates nothing), then the number of attempts made.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Attempts(pub(crate) u32);

/// Marks that this request's first attempt was made.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FirstAttemptMade;

/// This attempt's number (0 for the first), counting it as made.
pub(crate) fn next_attempt(extensions: &mut http::Extensions) -> u32 {
    if let Some(attempts) = extensions.get_mut::<Attempts>() {
        let n = attempts.0;
        attempts.0 += 1;
        return n;
    }
    if extensions.get::<FirstAttemptMade>().is_some() {
        extensions.insert(Attempts(2));
        return 1;
    }
    extensions.insert(FirstAttemptMade);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_from_zero_across_calls() {
        let mut extensions = http::Extensions::new();
        let seen: Vec<u32> = (0..5).map(|_| next_attempt(&mut extensions)).collect();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }
}

//! Streaming replies as typed events (feature `sse`): a `reqwest::Response` carrying
//! Server-Sent Events, decoded by `eventsource-stream`, each event's `data` parsed by the
//! provider module ([`anthropic::events`](crate::anthropic::events),
//! [`openai::events`](crate::openai::events)).
//!
//! The streams are lazy: the `send_events` forms take the request's `send()` future and send it
//! on the first poll, so under [`instrument_stream`](crate::GenAiInstrumentation::instrument_stream)
//! the HTTP client span is a child of the `gen_ai.chat` span.

use std::error::Error as StdError;
use std::future::{ready, Future};

use eventsource_stream::{EventStreamError, Eventsource};
use futures_core::Stream;
use futures_util::{stream, StreamExt};

use crate::error::ProviderError;

pub use crate::error::StreamError;

#[cfg_attr(not(any(feature = "anthropic", feature = "openai")), allow(dead_code))]
pub(crate) type ParseEvent<T> = fn(&str, &str) -> Option<Result<T, StreamError>>;

/// The events of a response: one [`StreamError::Provider`] for a non-2xx status (its body
/// read), else each event parsed as it arrives.
#[cfg_attr(not(any(feature = "anthropic", feature = "openai")), allow(dead_code))]
pub(crate) fn response_events<T: Send + 'static>(
    response: reqwest::Response,
    parse: ParseEvent<T>,
) -> impl Stream<Item = Result<T, StreamError>> + Send + 'static {
    stream::once(async move {
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let error = ProviderError::from_body(status.as_u16(), &body);
            return stream::iter([Err(StreamError::Provider(error))]).left_stream();
        }
        response
            .bytes_stream()
            .eventsource()
            .filter_map(move |event| {
                ready(match event {
                    Ok(event) => parse(&event.event, &event.data),
                    Err(EventStreamError::Transport(e)) => Some(Err(StreamError::Body(e))),
                    Err(e) => Some(Err(StreamError::Sse(e.to_string()))),
                })
            })
            .right_stream()
    })
    .flatten()
}

/// The events of the response `send` resolves to, sending it on the first poll.
#[cfg_attr(not(any(feature = "anthropic", feature = "openai")), allow(dead_code))]
pub(crate) fn send_events<F, E, T>(
    send: F,
    parse: ParseEvent<T>,
) -> impl Stream<Item = Result<T, StreamError>> + Send + 'static
where
    F: Future<Output = Result<reqwest::Response, E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>>,
    T: Send + 'static,
{
    stream::once(async move {
        match send.await {
            Ok(response) => response_events(response, parse).left_stream(),
            Err(e) => stream::iter([Err(StreamError::Request(e.into()))]).right_stream(),
        }
    })
    .flatten()
}

#[cfg(any(feature = "anthropic", feature = "openai"))]
/// An `error` event's data (`{"type":"error","error":{"type":…,"message":…}}` or OpenAI's
/// `{"error":{…}}`) as a provider error, when it is one.
pub(crate) fn error_event(data: &str) -> Option<StreamError> {
    ProviderError::from_event(data).map(StreamError::Provider)
}

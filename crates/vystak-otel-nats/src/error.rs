//! Errors of the NATS helpers.

/// What can go wrong sending an envelope or running the bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The envelope could not be serialised.
    #[error("cannot serialise the envelope: {0}")]
    Encode(#[from] serde_json::Error),
    /// The request failed (timed out, no responders, payload too large, …).
    #[error("NATS request failed: {0}")]
    Request(#[from] async_nats::RequestError),
    /// Publishing failed.
    #[error("NATS publish failed: {0}")]
    Publish(#[from] async_nats::PublishError),
    /// Subscribing failed.
    #[error("NATS subscribe failed: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
    /// No reply within the timeout.
    #[error("no reply within {0:?}")]
    Timeout(std::time::Duration),
}

impl NatsError {
    /// A low-cardinality `error.type`.
    pub fn error_type(&self) -> &'static str {
        use async_nats::RequestErrorKind;
        match self {
            NatsError::Encode(_) => "encode",
            NatsError::Request(e) => match e.kind() {
                RequestErrorKind::TimedOut => crate::semconv::ERROR_TIMEOUT,
                RequestErrorKind::NoResponders => crate::semconv::ERROR_NO_RESPONDERS,
                _ => "request",
            },
            NatsError::Publish(_) => "publish",
            NatsError::Subscribe(_) => "subscribe",
            NatsError::Timeout(_) => crate::semconv::ERROR_TIMEOUT,
        }
    }
}

//! traceparent through JSON-RPC envelopes (params._meta.headers) and NATS, with async-nats helpers and a NATS-to-HTTP bridge.

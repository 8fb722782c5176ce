//! Every name this crate emits (messaging semantic conventions v1.44, development status).

/// `messaging.system`.
pub const MESSAGING_SYSTEM: &str = "messaging.system";
/// The `messaging.system` value for NATS (no well-known value exists; the OpenTelemetry Java
/// agent uses `nats`).
pub const MESSAGING_SYSTEM_NATS: &str = "nats";
/// `messaging.destination.name` (the subject).
pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
/// `messaging.destination.temporary` (reply inboxes).
pub const MESSAGING_DESTINATION_TEMPORARY: &str = "messaging.destination.temporary";
/// `messaging.operation.name`.
pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
/// `messaging.operation.type`.
pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
/// `messaging.message.body.size`.
pub const MESSAGING_MESSAGE_BODY_SIZE: &str = "messaging.message.body.size";
/// `messaging.consumer.group.name` (the queue group).
pub const MESSAGING_CONSUMER_GROUP_NAME: &str = "messaging.consumer.group.name";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// Operation `send` (PRODUCER span whose context is injected into the message).
pub const OPERATION_SEND: &str = "send";
/// Operation `process` (CONSUMER span).
pub const OPERATION_PROCESS: &str = "process";
/// Prefix of NATS reply inboxes, never used in span names.
pub const INBOX_PREFIX: &str = "_INBOX.";

/// JSON-RPC envelope path of the seed's carrier: `params._meta.headers`.
pub const ENVELOPE_PARAMS: &str = "params";
/// `_meta` (MCP SEP-414 and the seed).
pub const ENVELOPE_META: &str = "_meta";
/// `headers` under `_meta` (the seed).
pub const ENVELOPE_HEADERS: &str = "headers";

/// `error.type` of a request that timed out.
pub const ERROR_TIMEOUT: &str = "timeout";
/// `error.type` when no one listens on the subject.
pub const ERROR_NO_RESPONDERS: &str = "no_responders";
/// `error.type` of a payload larger than the server accepts.
pub const ERROR_MAX_PAYLOAD: &str = "max_payload_exceeded";

/// `rpc.system.name` (RPC conventions; `rpc.system` is deprecated).
pub const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// The JSON-RPC value of `rpc.system.name`.
pub const RPC_SYSTEM_JSONRPC: &str = "jsonrpc";
/// `rpc.method`: the envelope's `method` (JSON-RPC method names are a small fixed set here; the
/// value is capped at [`MAX_RPC_METHOD_BYTES`]).
pub const RPC_METHOD: &str = "rpc.method";
/// `jsonrpc.request.id`: the envelope's `id` as a string, absent for a null or missing id
/// (a notification).
pub const JSONRPC_REQUEST_ID: &str = "jsonrpc.request.id";
/// `jsonrpc.protocol.version`: the envelope's `jsonrpc` member (conditionally required when not
/// `1.0`).
pub const JSONRPC_PROTOCOL_VERSION: &str = "jsonrpc.protocol.version";
/// `rpc.response.status_code` (v1.44): a JSON-RPC error reply's `error.code` as a string.
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// Longest `rpc.method` / `jsonrpc.request.id` value recorded (bytes, cut at a char boundary).
pub const MAX_RPC_METHOD_BYTES: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the semantic conventions define, against the `opentelemetry-semantic-conventions`
    /// crate (an independent source; the envelope path is the seed's).
    #[test]
    fn names_match_the_semantic_conventions_crate() {
        use opentelemetry_semantic_conventions::attribute as a;
        for (ours, spec) in [
            (MESSAGING_SYSTEM, a::MESSAGING_SYSTEM),
            (MESSAGING_DESTINATION_NAME, a::MESSAGING_DESTINATION_NAME),
            (
                MESSAGING_DESTINATION_TEMPORARY,
                a::MESSAGING_DESTINATION_TEMPORARY,
            ),
            (MESSAGING_OPERATION_NAME, a::MESSAGING_OPERATION_NAME),
            (MESSAGING_OPERATION_TYPE, a::MESSAGING_OPERATION_TYPE),
            (MESSAGING_MESSAGE_BODY_SIZE, a::MESSAGING_MESSAGE_BODY_SIZE),
            (
                MESSAGING_CONSUMER_GROUP_NAME,
                a::MESSAGING_CONSUMER_GROUP_NAME,
            ),
            (ERROR_TYPE, a::ERROR_TYPE),
        ] {
            assert_eq!(ours, spec);
        }
    }
}

//! The RPC conventions' JSON-RPC attributes for `send` / `process` spans carrying an envelope.

use opentelemetry::trace::{SpanRef, Status};
use opentelemetry::{Key, KeyValue};
use serde_json::Value;

use crate::semconv::*;

fn key(k: &'static str) -> Key {
    Key::from_static_str(k)
}

/// The JSON-RPC attributes of a request envelope: `rpc.system.name=jsonrpc`,
/// `jsonrpc.protocol.version`, `rpc.method`, `jsonrpc.request.id` (not for a null or missing id).
/// Nothing for a payload that is not a JSON-RPC request (no `jsonrpc` member, or a `method` that
/// is not a string).
pub(crate) fn request_attributes(envelope: &Value) -> Vec<KeyValue> {
    let Some(obj) = envelope.as_object() else {
        return Vec::new();
    };
    let version = obj.get("jsonrpc").and_then(Value::as_str);
    let method = obj.get("method").and_then(Value::as_str);
    let (Some(version), Some(method)) = (version, method) else {
        return Vec::new();
    };
    let mut attrs = vec![
        KeyValue::new(key(RPC_SYSTEM_NAME), RPC_SYSTEM_JSONRPC),
        KeyValue::new(
            key(JSONRPC_PROTOCOL_VERSION),
            vystak_otel_core::attrs::cap(version, MAX_RPC_METHOD_BYTES),
        ),
        KeyValue::new(
            key(RPC_METHOD),
            vystak_otel_core::attrs::cap(method, MAX_RPC_METHOD_BYTES),
        ),
    ];
    let id = match obj.get("id") {
        Some(Value::String(s)) => Some(vystak_otel_core::attrs::cap(s, MAX_RPC_METHOD_BYTES)),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if let Some(id) = id {
        attrs.push(KeyValue::new(key(JSONRPC_REQUEST_ID), id));
    }
    attrs
}

/// The `error.code` of a JSON-RPC error reply, as a string, with the error's message.
pub(crate) fn reply_error(reply: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(reply).ok()?;
    let error = v.get("error")?.as_object()?;
    let code = match error.get("code")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => vystak_otel_core::attrs::cap(s, MAX_RPC_METHOD_BYTES),
        _ => return None,
    };
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("JSON-RPC error")
        .to_owned();
    Some((code, message))
}

/// Records a JSON-RPC error reply on `span`: `rpc.response.status_code`, and unless the span
/// already has a more specific `error.type` (`keep_error_type`), `error.type` = the code and an
/// ERROR status with the error's message (URLs redacted like `url.full`: a message may quote a
/// signed URL).
pub(crate) fn record_reply(span: &SpanRef<'_>, reply: &[u8], keep_error_type: bool) {
    let Some((code, message)) = reply_error(reply) else {
        return;
    };
    span.set_attribute(KeyValue::new(key(RPC_RESPONSE_STATUS_CODE), code.clone()));
    if !keep_error_type {
        let description = vystak_otel_core::redact::redact_urls_in(&message);
        span.set_attribute(KeyValue::new(key(ERROR_TYPE), code));
        span.set_status(Status::error(description));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(attrs: Vec<KeyValue>) -> Vec<(String, String)> {
        attrs
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }

    /// The status description of a span that got `reply`.
    fn status_after(reply: &serde_json::Value) -> opentelemetry::trace::Status {
        use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        provider.tracer("t").in_span("send", |cx| {
            record_reply(&cx.span(), reply.to_string().as_bytes(), false);
        });
        exporter.get_finished_spans().unwrap()[0].status.clone()
    }

    #[test]
    fn an_error_reply_never_puts_a_signed_url_in_the_status() {
        let status = status_after(&json!({"jsonrpc": "2.0", "id": 1, "error": {
            "code": -32000, "message": "upstream https://u:p@h/x?sig=abc failed"}}));
        let opentelemetry::trace::Status::Error { description } = status else {
            panic!("{status:?}");
        };
        assert!(
            !description.contains("sig=abc") && !description.contains("u:p"),
            "{description}"
        );
        assert!(
            description.contains("upstream https://REDACTED:REDACTED@h/x?sig=REDACTED failed"),
            "the redacted message: {description}"
        );
    }

    #[test]
    fn a_request_gets_the_rpc_attributes() {
        let got = map(request_attributes(
            &json!({"jsonrpc": "2.0", "id": 7, "method": "message/send", "params": {}}),
        ));
        assert_eq!(
            got,
            [
                ("rpc.system.name".into(), "jsonrpc".into()),
                ("jsonrpc.protocol.version".into(), "2.0".into()),
                ("rpc.method".into(), "message/send".into()),
                ("jsonrpc.request.id".into(), "7".into()),
            ]
        );
        let got = map(request_attributes(
            &json!({"jsonrpc": "2.0", "id": "req-1", "method": "tasks/get"}),
        ));
        assert_eq!(got[3], ("jsonrpc.request.id".into(), "req-1".into()));
    }

    #[test]
    fn null_ids_and_non_requests_get_no_id_or_nothing() {
        for notification in [
            json!({"jsonrpc": "2.0", "method": "notify"}),
            json!({"jsonrpc": "2.0", "method": "notify", "id": null}),
            json!({"jsonrpc": "2.0", "method": "notify", "id": {"odd": true}}),
        ] {
            let got = map(request_attributes(&notification));
            assert_eq!(got.len(), 3, "{notification}");
            assert!(got.iter().all(|(k, _)| k != "jsonrpc.request.id"));
        }
        for not_rpc in [
            json!([1, 2]),
            json!("x"),
            json!({"method": "m"}),
            json!({"jsonrpc": "2.0", "method": 5}),
            json!({"jsonrpc": 2, "method": "m"}),
        ] {
            assert!(request_attributes(&not_rpc).is_empty(), "{not_rpc}");
        }
    }

    #[test]
    fn hostile_methods_are_capped() {
        let long = "é".repeat(200);
        let got = map(request_attributes(
            &json!({"jsonrpc": "2.0", "method": long, "id": 1}),
        ));
        assert_eq!(got[2].1.len(), MAX_RPC_METHOD_BYTES);
    }

    #[test]
    fn error_replies_give_the_code() {
        let reply =
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad params"}});
        assert_eq!(
            reply_error(reply.to_string().as_bytes()),
            Some(("-32602".into(), "bad params".into()))
        );
        for ok in [
            json!({"jsonrpc": "2.0", "id": 1, "result": {}}).to_string(),
            "not json".to_owned(),
            json!({"error": "flat"}).to_string(),
        ] {
            assert_eq!(reply_error(ok.as_bytes()), None, "{ok}");
        }
    }
}

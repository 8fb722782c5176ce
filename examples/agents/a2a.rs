//! Minimal A2A JSON-RPC 2.0 envelopes (`message/send`) as the Vystak runtime sends them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A `message/send` request carrying one user text part.
pub(crate) fn message_send(text: &str) -> Value {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    json!({
        "jsonrpc": "2.0",
        "id": format!("req-{}-{n}", std::process::id()),
        "method": "message/send",
        "params": {
            "message": {
                "kind": "message",
                "messageId": format!("msg-{}-{n}", std::process::id()),
                "role": "user",
                "parts": [{"kind": "text", "text": text}],
                "contextId": "demo-context",
                "metadata": {}
            }
        }
    })
}

/// The text of the first text part of a request's message.
pub(crate) fn request_text(request: &Value) -> Option<&str> {
    request
        .pointer("/params/message/parts/0/text")
        .and_then(Value::as_str)
}

/// A successful reply to `request` carrying `text`.
pub(crate) fn reply(request: &Value, text: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": request.get("id").cloned().unwrap_or(Value::Null),
        "result": {
            "kind": "message",
            "messageId": format!("reply-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            "role": "agent",
            "parts": [{"kind": "text", "text": text}]
        }
    })
}

/// A JSON-RPC error reply.
pub(crate) fn error(request: &Value, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": request.get("id").cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message}
    })
}

/// The text of a reply, or the error message as `Err`.
pub(crate) fn reply_text(reply: &Value) -> Result<String, String> {
    if let Some(text) = reply
        .pointer("/result/parts/0/text")
        .and_then(Value::as_str)
    {
        return Ok(text.to_owned());
    }
    Err(reply
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("malformed JSON-RPC reply")
        .to_owned())
}

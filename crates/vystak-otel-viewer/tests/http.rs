//! OTLP/HTTP: the SDK's real HTTP exporters (protobuf and JSON, with and without gzip) into the
//! viewer's `/v1/*` receiver, and the spec's error replies for bad requests.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{span_exporter, tracer_provider, Transport};
use opentelemetry::trace::{
    Span as _, SpanKind as OtelKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _,
};
use opentelemetry::KeyValue;
use vystak_otel_viewer::{AttrValue, Receiver, SpanKind, SpanStatus};

async fn export_two_spans(receiver: &Receiver, transport: Transport, service: &str) -> String {
    let exporter = span_exporter(
        transport,
        &receiver.endpoint(),
        &receiver.http_endpoint().unwrap(),
    );
    let tp = tracer_provider(exporter, service);
    let tracer = tp.tracer("http-test");
    let mut parent = tracer
        .span_builder("POST /a2a")
        .with_kind(OtelKind::Server)
        .with_attributes([
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("ratio", 0.25),
            KeyValue::new("cached", true),
        ])
        .start(&tracer);
    let trace_id = parent.span_context().trace_id().to_string();
    let cx =
        opentelemetry::Context::current().with_remote_span_context(parent.span_context().clone());
    let mut child = tracer
        .span_builder("gen_ai.chat")
        .with_kind(OtelKind::Client)
        .with_attributes([KeyValue::new("gen_ai.usage.input_tokens", 1234_i64)])
        .start_with_context(&tracer, &cx);
    child.add_event("exception", vec![KeyValue::new("exception.type", "Boom")]);
    child.set_status(Status::error("model failed"));
    child.end();
    parent.end();
    common::shutdown(tp).await;
    trace_id
}

async fn assert_two_spans(receiver: &Receiver, trace_id: &str, service: &str) {
    let store = receiver.store();
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| s.trace(trace_id).len() == 2)
            .await,
        "{:#?}",
        store.spans()
    );
    let spans = store.trace(trace_id);
    let server = spans.iter().find(|s| s.name == "POST /a2a").unwrap();
    let chat = spans.iter().find(|s| s.name == "gen_ai.chat").unwrap();
    assert_eq!(server.service_name, service);
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.parent_span_id, None);
    assert_eq!(server.int_attr("http.response.status_code"), Some(200));
    assert_eq!(server.attr("ratio"), Some(&AttrValue::Double(0.25)));
    assert_eq!(server.attr("cached"), Some(&AttrValue::Bool(true)));
    assert!(server.end_unix_nanos >= server.start_unix_nanos && server.start_unix_nanos > 0);
    assert_eq!(chat.kind, SpanKind::Client);
    assert_eq!(
        chat.parent_span_id.as_deref(),
        Some(server.span_id.as_str())
    );
    assert_eq!(chat.int_attr("gen_ai.usage.input_tokens"), Some(1234));
    assert_eq!(
        chat.status,
        SpanStatus::Error {
            message: "model failed".into()
        }
    );
    assert_eq!(chat.events[0].name, "exception");
    assert_eq!(chat.trace_id, trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_http_exporters_protobuf_and_json_with_and_without_gzip() {
    let receiver = Receiver::start_local().await.unwrap();
    for (i, transport) in [
        Transport::HttpProto { gzip: false },
        Transport::HttpProto { gzip: true },
        Transport::HttpJson { gzip: false },
        Transport::HttpJson { gzip: true },
    ]
    .into_iter()
    .enumerate()
    {
        let service = format!("svc-http-{i}");
        let trace_id = export_two_spans(&receiver, transport, &service).await;
        assert_two_spans(&receiver, &trace_id, &service).await;
    }
    assert_eq!(receiver.store().span_count(), 8);
    receiver.shutdown().await;
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A hand-written OTLP/JSON body as the spec shows it: hex ids, enum ints, int64 both as
/// strings and as numbers.
const JSON_TRACES: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
    "scopeSpans": [{
      "scope": {"name": "manual", "version": "1"},
      "spans": [
        {
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "EEE19B7EC3C1B174",
          "parentSpanId": "",
          "name": "slack.app_mention",
          "kind": 1,
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "attributes": [
            {"key": "n", "value": {"intValue": "42"}},
            {"key": "m", "value": {"intValue": 7}},
            {"key": "d", "value": {"doubleValue": 1.5}},
            {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"boolValue": false}]}}}
          ],
          "status": {"code": 2, "message": "bad"},
          "unknownField": "ignored"
        },
        {
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b175",
          "parentSpanId": "eee19b7ec3c1b174",
          "name": "child",
          "kind": 3,
          "startTimeUnixNano": "1544712660100000000",
          "endTimeUnixNano": "1544712660200000000",
          "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}]
        }
      ]
    }]
  }]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_json_body_is_decoded_hex_ids_enum_ints_and_int64_strings() {
    let receiver = Receiver::start_local().await.unwrap();
    let url = format!("{}/v1/traces", receiver.http_endpoint().unwrap());
    let client = reqwest::Client::new();
    let reply = client
        .post(&url)
        .header("content-type", "application/json")
        .body(JSON_TRACES)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/json");
    assert_eq!(reply.text().await.unwrap(), "{}");
    let spans = receiver.store().trace("5b8efff798038103d269b633813fc60c");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let root = &spans[0];
    assert_eq!(root.span_id, "eee19b7ec3c1b174");
    assert_eq!(root.service_name, "json-svc");
    assert_eq!(root.scope_name, "manual");
    assert_eq!(root.kind, SpanKind::Internal);
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.start_unix_nanos, 1_544_712_660_000_000_000);
    assert_eq!(root.end_unix_nanos, 1_544_712_661_000_000_000);
    assert_eq!(root.int_attr("n"), Some(42));
    assert_eq!(root.int_attr("m"), Some(7));
    assert_eq!(root.attr("d"), Some(&AttrValue::Double(1.5)));
    assert_eq!(
        root.attr("list"),
        Some(&AttrValue::Array(vec![
            AttrValue::Str("a".into()),
            AttrValue::Bool(false)
        ]))
    );
    assert_eq!(
        root.status,
        SpanStatus::Error {
            message: "bad".into()
        }
    );
    let child = &spans[1];
    assert_eq!(child.kind, SpanKind::Client);
    assert_eq!(child.parent_span_id.as_deref(), Some("eee19b7ec3c1b174"));
    assert_eq!(child.links[0].trace_id, "0af7651916cd43dd8448eb211c80319c");

    // The same body gzip-compressed.
    receiver.store().clear();
    let reply = client
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .header("content-encoding", "gzip")
        .body(gzip(JSON_TRACES.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(receiver.store().span_count(), 2);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_rejects_spans_with_invalid_ids_and_stores_the_rest() {
    let receiver = Receiver::start_local().await.unwrap();
    let url = format!("{}/v1/traces", receiver.http_endpoint().unwrap());
    // Second span: an 8-byte trace id (wrong length); third: an all-zero span id.
    let body = JSON_TRACES
        .replace(
            r#""traceId": "5b8efff798038103d269b633813fc60c""#,
            r#""traceId": "5b8efff798038103""#,
        )
        .replace(
            r#""spans": ["#,
            r#""spans": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "0000000000000000", "name": "zero"},"#,
        );
    let reply = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let json: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(json["partialSuccess"]["rejectedSpans"], "2", "{json}");
    let message = json["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("invalid span id") && message.contains("\"zero\""),
        "{message}"
    );
    let spans = receiver.store().spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "slack.app_mention");

    // The protobuf reply carries the same partial success.
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use prost::Message as _;
    let request: ExportTraceServiceRequest = serde_json::from_str(JSON_TRACES).unwrap();
    let mut request = request;
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![1, 2, 3];
    let reply = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "application/x-protobuf");
    let decoded = ExportTraceServiceResponse::decode(reply.bytes().await.unwrap()).unwrap();
    let partial = decoded.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("invalid trace id \"010203\""),
        "{}",
        partial.error_message
    );
    // The same valid span again (same trace and span id): a retry, stored once (issue 26).
    assert_eq!(receiver.store().span_count(), 1);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_spec_status_codes_and_the_server_keeps_serving() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    let receiver = vystak_otel_viewer::Viewer::start(
        vystak_otel_viewer::ViewerConfig::local().with_max_request_bytes(64 * 1024),
    )
    .await
    .unwrap();
    let base = receiver.http_endpoint().unwrap();
    let client = reqwest::Client::new();
    let post = |path: &str, ct: &str, body: Vec<u8>| {
        client
            .post(format!("{base}{path}"))
            .header("content-type", ct)
            .body(body)
            .send()
    };

    // Malformed protobuf → 400 with a protobuf google.rpc.Status.
    let reply = post(
        "/v1/traces",
        "application/x-protobuf",
        vec![0xff, 0xff, 0xff],
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 400);
    assert_eq!(reply.headers()["content-type"], "application/x-protobuf");
    let body = reply.bytes().await.unwrap();
    // field 1 (code) = 3 INVALID_ARGUMENT, then field 2 (message).
    assert_eq!(&body[..2], &[0x08, 0x03]);
    assert!(String::from_utf8_lossy(&body).contains("malformed protobuf body"));

    // Malformed JSON → 400 with a JSON Status.
    for path in ["/v1/traces", "/v1/metrics", "/v1/logs"] {
        let reply = post(path, "application/json", b"{\"resourceSpans\": [".to_vec())
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{path}");
        let json: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(json["code"], 3);
        assert!(json["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed OTLP/JSON body"));
    }
    // A bad hex id is malformed JSON too.
    let reply = post(
        "/v1/traces",
        "application/json",
        JSON_TRACES
            .replace("EEE19B7EC3C1B174", "not-hex!")
            .into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 400);

    // Broken gzip → 400.
    let reply = client
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(vec![1, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);

    // Unsupported content type / encoding → 415.
    let reply = post("/v1/traces", "text/plain", b"hello".to_vec())
        .await
        .unwrap();
    assert_eq!(reply.status(), 415);
    let reply = client
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "br")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 415);

    // Wrong method → 405.
    let reply = client
        .get(format!("{base}/v1/traces"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);

    // Too large, raw and after gunzip → 413, with a google.rpc.Status in the request's encoding
    // (not the framework's plain-text rejection).
    let reply = post("/v1/traces", "application/x-protobuf", vec![0; 65 * 1024])
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
    assert_eq!(reply.headers()["content-type"], "application/x-protobuf");
    let body = reply.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x08, 0x03]);
    assert!(
        String::from_utf8_lossy(&body).contains("larger than"),
        "{body:?}"
    );
    let reply = post("/v1/metrics", "application/json", vec![b' '; 65 * 1024])
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);
    let json: serde_json::Value = reply.json().await.expect("a JSON Status");
    assert_eq!(json["code"], 3);
    let reply = client
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gzip(&vec![0; 1024 * 1024]))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 413);

    // Still serving: a valid protobuf body is stored; an empty one is a valid empty export.
    let request: ExportTraceServiceRequest = serde_json::from_str(JSON_TRACES).unwrap();
    let reply = post(
        "/v1/traces",
        "application/x-protobuf",
        request.encode_to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 200);
    let reply = post("/v1/traces", "application/x-protobuf", Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(receiver.store().span_count(), 2);
    receiver.shutdown().await;
}

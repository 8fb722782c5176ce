//! Logs: the SDK's real OTLP log exporters (gRPC and HTTP) into the viewer; correlation with
//! traces; malformed ids are rejected with partial success.

mod common;

use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry_otlp::{LogExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use vystak_otel_viewer::{AttrValue, Receiver};

fn emit(provider: &SdkLoggerProvider, body: &'static str, trace: Option<(&str, &str)>) {
    let logger = provider.logger("logs-test");
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from(body));
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    record.set_event_name("agent.turn");
    record.add_attribute("turn", 3_i64);
    if let Some((t, s)) = trace {
        record.set_trace_context(
            TraceId::from_hex(t).unwrap(),
            SpanId::from_hex(s).unwrap(),
            Some(TraceFlags::SAMPLED),
        );
    }
    logger.emit(record);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_arrive_over_grpc_and_http_and_correlate_with_traces() {
    let receiver = Receiver::start_local().await.unwrap();
    let grpc = LogExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.endpoint())
        .build()
        .unwrap();
    let http = LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("{}/v1/logs", receiver.http_endpoint().unwrap()))
        .build()
        .unwrap();
    let trace = "0af7651916cd43dd8448eb211c80319c";
    for (exporter, service, body) in [
        (grpc, "logs-grpc", "over grpc"),
        (http, "logs-http", "over http"),
    ] {
        let provider = SdkLoggerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(common::resource(service))
            .build();
        emit(&provider, body, Some((trace, "b7ad6b7169203331")));
        emit(&provider, "uncorrelated", None);
        tokio::task::spawn_blocking(move || provider.shutdown())
            .await
            .unwrap()
            .unwrap();
    }
    let store = receiver.store();
    assert!(
        store
            .wait_until(Duration::from_secs(20), |s| s.log_count() == 4)
            .await
    );
    let correlated = store.logs_for_trace(trace);
    assert_eq!(correlated.len(), 2);
    let grpc_log = correlated
        .iter()
        .find(|l| l.service_name == "logs-grpc")
        .unwrap();
    assert_eq!(grpc_log.body, AttrValue::Str("over grpc".into()));
    assert_eq!(grpc_log.severity_number, Severity::Warn as i32);
    assert_eq!(grpc_log.severity_text, "WARN");
    assert_eq!(grpc_log.event_name, "agent.turn");
    assert_eq!(grpc_log.span_id.as_deref(), Some("b7ad6b7169203331"));
    assert_eq!(grpc_log.attributes.get("turn"), Some(&AttrValue::Int(3)));
    assert_eq!(grpc_log.scope_name, "logs-test");
    let http_log = correlated
        .iter()
        .find(|l| l.service_name == "logs-http")
        .unwrap();
    assert_eq!(http_log.body, AttrValue::Str("over http".into()));
    assert_eq!(http_log.attributes.get("turn"), Some(&AttrValue::Int(3)));
    let uncorrelated: Vec<_> = store
        .logs()
        .into_iter()
        .filter(|l| l.trace_id.is_none())
        .collect();
    assert_eq!(uncorrelated.len(), 2);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_with_malformed_ids_are_rejected() {
    let receiver = Receiver::start_local().await.unwrap();
    let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"timeUnixNano":"1544712660000000000","body":{"stringValue":"ok"},"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"},
        {"timeUnixNano":"1544712661000000000","body":{"stringValue":"bad"},"traceId":"0af76519"}
    ]}]}]}"#;
    let reply = reqwest::Client::new()
        .post(format!("{}/v1/logs", receiver.http_endpoint().unwrap()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let json: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(json["partialSuccess"]["rejectedLogRecords"], "1", "{json}");
    let logs = receiver.store().logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].body, AttrValue::Str("ok".into()));
    assert_eq!(logs[0].time_unix_nanos, 1_544_712_660_000_000_000);
    receiver.shutdown().await;
}

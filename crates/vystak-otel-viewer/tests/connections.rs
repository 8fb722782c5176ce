//! Connection hygiene (issue 27): idle and slow clients cannot hold the ports, a port holds a
//! bounded number of connections, and a gRPC message that can never fit is refused with a
//! status the OTLP exporters do not retry.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vystak_otel_viewer::{ConnectionLimits, Viewer, ViewerConfig, DEFAULT_MAX_REQUEST_BYTES};

/// Reads until the server closes the connection (or fails it); `None` if it is still open
/// after 10 s — far beyond the 1 s timeouts configured here.
async fn closed_by_server(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

async fn viewer(max_connections: usize) -> Viewer {
    Viewer::start(
        ViewerConfig::local().with_connection_limits(
            ConnectionLimits::default()
                .with_max_connections(max_connections)
                .with_idle_timeout(Duration::from_secs(1))
                .with_body_timeout(Duration::from_secs(1)),
        ),
    )
    .await
    .unwrap()
}

/// Regression (issue 27): 1,100 idle connections locked both OTLP receivers out. Silent
/// connections are now closed after the idle timeout on every port, connections past the
/// limit are closed at once, and once the silent ones are gone an exporter gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_the_limit_holds() {
    let viewer = viewer(8).await;
    let http = viewer.http_addr().unwrap();
    for addr in [http, viewer.local_addr(), viewer.ui_addr().unwrap()] {
        let mut idle = Vec::new();
        for _ in 0..20 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        for (i, stream) in idle.iter_mut().enumerate() {
            assert!(
                closed_by_server(stream).await.is_some(),
                "{addr}: silent connection {i} was never closed"
            );
        }
    }
    let reply = reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    viewer.shutdown().await;
}

/// Regression (issue 27): a client sending its request head slowly (slowloris) or its body
/// slowly held the connection and the handler for ever. The head gets hyper's header read
/// timeout; the body a `400` naming the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_bodies_time_out() {
    let viewer = viewer(64).await;
    let http = viewer.http_addr().unwrap();

    let mut slow_head = TcpStream::connect(http).await.unwrap();
    slow_head
        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut slow_head).await.is_some(),
        "an unfinished request head kept its connection"
    );

    let mut slow_body = TcpStream::connect(http).await.unwrap();
    slow_body
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"resourceSpans\"",
        )
        .await
        .unwrap();
    let answer = closed_by_server(&mut slow_body)
        .await
        .expect("an unfinished body kept its connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    viewer.shutdown().await;
}

/// Regression (issue 27): a gRPC message over the size limit was refused with `OUT_OF_RANGE`,
/// which the OTLP specification lists as retryable, so exporters resent a batch that can never
/// fit. It is now `RESOURCE_EXHAUSTED` without `RetryInfo` (not retryable), and a message
/// within the limit is still accepted on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_grpc_message_is_not_retryable() {
    let viewer = viewer(64).await;
    let mut client = TraceServiceClient::connect(format!("http://{}", viewer.local_addr()))
        .await
        .unwrap()
        .max_encoding_message_size(usize::MAX);
    let request = |value_bytes: usize| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "big".into(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_000_000_001,
                    attributes: vec![KeyValue {
                        key: "blob".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("x".repeat(value_bytes))),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let status = client
        .export(request(DEFAULT_MAX_REQUEST_BYTES + 1))
        .await
        .expect_err("a message over the limit is refused");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.metadata().get("grpc-status-details-bin").is_none(),
        "no RetryInfo: the exporter must not retry"
    );
    client.export(request(10)).await.expect("a small message");
    viewer.shutdown().await;
}

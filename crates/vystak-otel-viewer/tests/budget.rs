//! Memory follows `--max-memory`, not the sender: resources are stored once per distinct
//! resource, and the span store is bounded by bytes as well as by count.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use vystak_otel_viewer::{Store, StoreOptions, Viewer, ViewerConfig};

fn kv(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

/// One request: a resource with a `resource_bytes` attribute (Kubernetes annotations, an
/// environment dump) and `spans` spans of one trace `trace`.
fn request(trace: u8, resource_bytes: usize, spans: u64) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "vystak-big-resource".into()),
                    kv("k8s.pod.annotations", "x".repeat(resource_bytes)),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![trace; 16],
                        span_id: (i + 1).to_be_bytes().to_vec(),
                        name: "gen_ai.chat".into(),
                        kind: 3,
                        start_time_unix_nano: now,
                        end_time_unix_nano: now + 1_000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Regression (issue 26): the resource was copied into every span, so one 1.3 MB request (a
/// 1 MiB resource attribute, 5,000 spans) needed more than 4 GB. Now the viewer process' peak
/// RSS stays a small multiple of the request, in memory and with `--db` (where the file stores
/// the resource once too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_resource_on_many_spans_costs_its_size_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("big.db");
    for with_db in [false, true] {
        let mut args: Vec<&std::ffi::OsStr> = Vec::new();
        if with_db {
            args.extend([std::ffi::OsStr::new("--db"), db.as_os_str()]);
        }
        let (mut child, http) = common::spawn_viewer_binary(&args).await;
        let pid = child.id().unwrap();
        let before = rss_bytes(pid);
        let body = request(1, 1 << 20, 5_000).encode_to_vec();
        let reply = reqwest::Client::new()
            .post(format!("http://{http}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let grown = rss_bytes(pid).saturating_sub(before);
        eprintln!(
            "--db {with_db}: a {} KB request grew the peak RSS by {} MB",
            body.len() / 1024,
            grown >> 20
        );
        assert!(
            grown < 64 << 20,
            "--db {with_db}: a {} KB request grew the peak RSS by {} MB",
            body.len() / 1024,
            grown >> 20
        );
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
    // The file holds the resource once.
    let file = rusqlite::Connection::open(&db).unwrap();
    let size: i64 = file
        .query_row("SELECT SUM(LENGTH(record)) FROM spans", [], |r| r.get(0))
        .unwrap();
    assert!(size < 4 << 20, "the spans' records hold {size} bytes");
}

/// `--max-memory` bounds the stored spans by bytes: the oldest go first, the count bound aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_store_is_bounded_by_bytes() {
    let store = Store::with_options(StoreOptions::default().with_max_memory(4 << 20));
    let viewer = Viewer::start(ViewerConfig::local().with_store(store))
        .await
        .unwrap();
    let url = format!("{}/v1/traces", viewer.http_endpoint().unwrap());
    let client = reqwest::Client::new();
    // 40 requests, each a distinct 512 KiB resource on 10 spans: ~20 MiB sent.
    for trace in 1..=40u8 {
        let mut body = request(trace, 512 << 10, 10);
        body.resource_spans[0].resource.as_mut().unwrap().attributes[1] = kv(
            "k8s.pod.annotations",
            format!("{trace}{}", "y".repeat(512 << 10)),
        );
        let reply = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    let store = viewer.store();
    assert!(
        store.span_bytes() <= 4 << 20,
        "{} bytes held",
        store.span_bytes()
    );
    assert!(
        store.span_count() < 400 && store.span_count() >= 10,
        "{}",
        store.span_count()
    );
    assert_eq!(
        store
            .trace(&format!("{:032x}", u128::from_be_bytes([40; 16])))
            .len(),
        10,
        "the newest trace is kept whole"
    );
    viewer.shutdown().await;
}

//! No query can crash the viewer: it runs as a child process here, is sent what used to kill it,
//! and must still be alive and answering afterwards.

mod common;

use vystak_otel_viewer::query::promql::MAX_EXPRESSION_DEPTH;

/// Regression (issue 27): `/api/v1/query?query=sum(sum(…up…))` nested about 1,000 deep (or
/// 2,000 nested parentheses, or a 3,000-term `1+1+…`) overflowed the evaluator's stack and
/// aborted the process. Each is now a `400 bad_data`; a query at the depth limit still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_queries_are_refused_and_the_viewer_lives() {
    let (mut child, _http, ui) = common::spawn_viewer_child(&[]).await;
    let client = reqwest::Client::new();
    let query = |q: String| {
        let (client, url) = (client.clone(), format!("{ui}/api/v1/query"));
        async move {
            let reply = client
                .post(url)
                .form(&[("query", q.as_str()), ("time", "1700000000")])
                .send()
                .await
                .expect("the viewer is still there");
            let status = reply.status().as_u16();
            (status, reply.json::<serde_json::Value>().await.unwrap())
        }
    };
    let nested = |depth: usize| format!("{}up{}", "sum(".repeat(depth), ")".repeat(depth));
    for hostile in [
        nested(1_000),
        format!("{}1{}", "(".repeat(2_000), ")".repeat(2_000)),
        vec!["1"; 3_000].join("+"),
    ] {
        let (status, body) = query(hostile).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errorType"], "bad_data");
        assert!(
            body["error"].as_str().unwrap().contains("levels deep"),
            "{body}"
        );
        assert!(child.try_wait().unwrap().is_none(), "the viewer died");
    }
    // At the limit, a query evaluates (on the evaluator's ordinary thread).
    let (status, body) = query(nested(MAX_EXPRESSION_DEPTH - 1)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = query(vec!["up"; MAX_EXPRESSION_DEPTH - 1].join(" + ")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = query("1+1".into()).await;
    assert_eq!(
        (status, body["data"]["result"][1].as_str()),
        (200, Some("2")),
        "{body}"
    );
    assert!(child.try_wait().unwrap().is_none());
}

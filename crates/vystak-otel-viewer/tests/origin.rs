//! Only our own origin: after DNS rebinding a page is same-origin with the viewer, but its
//! requests carry the attacker's `Host`; a page on another site can post, but its requests
//! carry its `Origin`.

use vystak_otel_viewer::{Viewer, ViewerConfig};

/// Regression (issue 27): `Host: evil.example` got span data from the API and OTLP/JSON posts
/// were accepted; a form POST from another site reached the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_hosts_and_other_origins_are_refused() {
    let viewer = Viewer::start(ViewerConfig::local().with_allowed_hosts(["viewer.lan"]))
        .await
        .unwrap();
    let ui = viewer.ui_url().unwrap();
    let otlp = viewer.http_endpoint().unwrap();
    let client = reqwest::Client::new();
    let get = |url: String, host: &'static str| {
        let client = client.clone();
        async move {
            let mut request = client.get(url);
            if !host.is_empty() {
                request = request.header("host", host);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(get(format!("{ui}/api/traces"), "evil.example").await, 421);
    assert_eq!(
        get(format!("{ui}/api/traces"), "evil.example:13000").await,
        421
    );
    assert_eq!(get(format!("{ui}/"), "127.0.0.1.evil.example").await, 421);
    assert_eq!(
        get(format!("{ui}/api/traces"), "").await,
        200,
        "our own address"
    );
    assert_eq!(
        get(format!("{ui}/api/traces"), "localhost:13000").await,
        200
    );
    assert_eq!(
        get(format!("{ui}/api/traces"), "viewer.lan").await,
        200,
        "--allow-host"
    );

    let post_json = |host: &'static str| {
        let (client, url) = (client.clone(), format!("{otlp}/v1/traces"));
        async move {
            let mut request = client
                .post(url)
                .header("content-type", "application/json")
                .body(r#"{"resourceSpans":[]}"#);
            if !host.is_empty() {
                request = request.header("host", host);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(post_json("evil.example").await, 421, "OTLP/HTTP too");
    assert_eq!(post_json("").await, 200);

    let query = |origin: Option<String>| {
        let (client, url) = (client.clone(), format!("{ui}/api/v1/query"));
        async move {
            let mut request = client.post(url).form(&[("query", "1+1")]);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(query(Some("https://evil.example".into())).await, 403);
    assert_eq!(query(Some("null".into())).await, 403, "a sandboxed page");
    assert_eq!(query(Some(ui.clone())).await, 200, "the viewer's own pages");
    assert_eq!(query(None).await, 200, "curl, Grafana: no Origin");
    viewer.shutdown().await;
}

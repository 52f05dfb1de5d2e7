//! Bad input never gives a 5xx or a hang: a 4xx with a JSON error.

mod support;

use facecheck_fleet::testing::TestServer;
use support::Api;

async fn bad_input(api: Api, _server: &TestServer) {
    let url = |p: &str| format!("{}{p}", api.base);
    let check = |r: reqwest::Response, expect: u16| async move {
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.expect("a JSON error body");
        assert_eq!(status, expect, "{body}");
        assert!(body["error"]["code"].is_string(), "{body}");
        body["error"]["code"].as_str().unwrap().to_owned()
    };
    for path in ["/v1/checkins", "/v1/registrations", "/v1/challenges", "/v1/erasures", "/v1/reviews"] {
        let big = format!("{{\"token\":\"{}\"}}", "a".repeat(100_000));
        let r = api.http.post(url(path)).header("content-type", "application/json").body(big).send().await.unwrap();
        assert_eq!(check(r, 413).await, "body_too_large");
        let r = api.http.post(url(path)).header("content-type", "text/plain").body("{}").send().await.unwrap();
        assert_eq!(check(r, 415).await, "unsupported_media_type");
        let r = api.http.post(url(path)).header("content-type", "application/json").body("{nope").send().await.unwrap();
        assert_eq!(check(r, 400).await, "malformed_json");
        let r = api.http.post(url(path)).header("content-type", "application/json").body("[1,2]").send().await.unwrap();
        assert_eq!(check(r, 422).await, "invalid_body");
        let r = api.http.get(url(path)).send().await.unwrap();
        assert_eq!(check(r, 405).await, "method_not_allowed");
    }
    for path in ["/nope", "/v1", "/v1/checkins/x/y", "/admin/../etc/passwd"] {
        let r = api.http.get(url(path)).send().await.unwrap();
        check(r, 404).await;
    }
    // Garbage and oversized tokens in every field.
    let garbage = [
        String::new(),
        "a".into(),
        "a.b.c".into(),
        "..".into(),
        "eyJhbGciOiJub25lIn0.e30.".into(),
        format!("{}.{}.{}", "A".repeat(20_000), "B".repeat(20_000), "C".repeat(20_000)),
        "\u{0}\u{1}".into(),
    ];
    for token in &garbage {
        for (path, field) in [
            ("/v1/checkins", "token"),
            ("/v1/registrations", "statement"),
            ("/v1/erasures", "receipt"),
            ("/v1/reviews", "request"),
        ] {
            let (status, body) = api.post(path, serde_json::json!({ field: token })).await;
            assert!((400..500).contains(&status), "{path} {status} {body}");
            assert!(body["error"]["code"].is_string());
        }
    }
    let (status, _) = api.post("/v1/challenges", serde_json::json!({"kid": "x".repeat(43), "block": "b"})).await;
    assert_eq!(status, 404);
    let (status, _) = api.post("/v1/challenges", serde_json::json!({"kid": 5, "block": null})).await;
    assert_eq!(status, 422);
    let (status, _) = api.get("/v1/enrollment-codes/%00%ff").await;
    assert_eq!(status, 404);
    let (status, _) = api.get(&format!("/v1/enrollment-codes/{}", "A".repeat(5000))).await;
    assert!((400..500).contains(&status));
    // A slow client does not hold the service: a request with a body that never arrives is cut, others go on.
    let (status, body) = api.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_json_error() {
    each_backend!(bad_input);
}

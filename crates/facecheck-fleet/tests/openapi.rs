//! The OpenAPI document (`openapi.yaml`) and the service agree: every operation it describes is routed (answered by
//! its handler, not by the unknown-route or wrong-method fallbacks), and every JSON route of `src/web.rs` is in it.

use std::collections::BTreeSet;

use facecheck_fleet::testing::TestServer;

const DOCUMENT: &str = include_str!("../openapi.yaml");
const ROUTER: &str = include_str!("../src/web.rs");
const METHODS: [&str; 4] = ["get", "post", "put", "delete"];

/// (path, method) of each operation under `paths:` (two-space paths, four-space methods).
fn documented() -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    let mut path = None;
    for line in DOCUMENT.lines() {
        if !line.starts_with(' ') {
            path = None;
        } else if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(m)) = (&path, line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))) {
            if METHODS.contains(&m) {
                ops.insert((p.clone(), m.to_owned()));
            }
        }
    }
    ops
}

/// (path, method) of each `.route("/v1/..." | "/healthz", get(..).post(..))` in the router's source.
fn routed() -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for part in ROUTER.split(".route(\"").skip(1) {
        let (path, rest) = part.split_once('"').expect("a quoted path");
        if !(path.starts_with("/v1/") || path == "/healthz") {
            continue;
        }
        let handlers = &rest[..rest.find("))").expect("the route's end")];
        for m in METHODS {
            if handlers.contains(&format!(" {m}(")) || handlers.contains(&format!(".{m}(")) {
                ops.insert((path.to_owned(), m.to_owned()));
            }
        }
    }
    ops
}

#[test]
fn every_json_route_is_documented_and_every_documented_operation_is_routed_in_the_source() {
    let (documented, routed) = (documented(), routed());
    assert!(routed.len() >= 18, "the router's source was not read: {routed:?}");
    assert_eq!(documented, routed, "openapi.yaml against src/web.rs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_reaches_its_handler() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&format!("sqlite:{}", dir.path().join("f.db").display())).await.unwrap();
    let http = reqwest::Client::new();
    let ops = documented();
    assert!(ops.len() >= 18, "the document was not read: {ops:?}");
    for (path, method) in ops {
        // Path parameters get a value no row has; a body, one no handler accepts.
        let filled: Vec<&str> = path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect();
        let url = format!("{}{}", server.url(), filled.join("/"));
        let req = http.request(method.to_uppercase().parse().unwrap(), &url);
        let req = if method == "get" { req } else { req.json(&serde_json::json!({})) };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let fallback = (status == 404 && body["error"]["code"] == "not_found") || status == 405;
        assert!(!fallback, "{method} {path} ({url}): {status} {body}");
    }
    server.shutdown().await;
}

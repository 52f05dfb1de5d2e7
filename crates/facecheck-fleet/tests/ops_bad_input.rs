//! Bad input (issue 9): bodies over the size limit, malformed JSON, garbage, oversized and forged tokens, wrong
//! content types, unknown routes and methods -> a 4xx with the protocol's JSON error, never a 5xx and never a hang
//! (every request has a deadline); a stalled or half-sent request does not block anyone else; admin routes
//! without a session -> 401 or a redirect to the login. The server process must still be alive at the end.

mod ops;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use facecheck_attest::Outcome;
use ops::{assert_json_error, post_json, Db, Device, Server};
use serde_json::{json, Value};

const JSON_ROUTES: [&str; 5] = ["/v1/checkins", "/v1/challenges", "/v1/registrations", "/v1/erasures", "/v1/reviews"];

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    try_send(req).await.unwrap_or_else(|e| panic!("the server answers (within the deadline): {e}"))
}

/// Sends; a connection the server closed before answering is an `Err` (a timeout would be too, and fails).
async fn try_send(req: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens that must be refused as invalid (or for an unknown key), built from one valid check-in.
fn bad_tokens(valid: &str, stranger: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = valid.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    sig[0] ^= 1;
    let mut raised = payload.clone();
    raised["ctr"] = json!(payload["ctr"].as_u64().unwrap() + 1000);
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let mut hs_header = header.clone();
    hs_header["alg"] = json!("HS256");
    let mut reg_header = header.clone();
    reg_header["typ"] = json!("fc-registration+jwt");
    let enc = |v: &Value| b64(v.to_string().as_bytes());
    vec![
        ("empty", String::new()),
        ("one segment", "abc".into()),
        ("dots only", "..".into()),
        ("four segments", format!("{valid}.{s}")),
        ("not base64", "!!!.@@@.###".into()),
        ("padded base64", format!("{h}=.{p}.{s}")),
        ("garbage bytes", b64(&[0xff; 300])),
        ("oversized", format!("{h}.{}.{s}", "A".repeat(64 * 1024))),
        ("oversized but under the body limit", format!("{h}.{}.{s}", "A".repeat(9000))),
        ("flipped signature", format!("{h}.{p}.{}", b64(&sig))),
        ("no signature", format!("{h}.{p}.")),
        ("raised counter, old signature", format!("{h}.{}.{s}", enc(&raised))),
        ("alg none", format!("{}.{p}.", enc(&none_header))),
        ("alg HS256", format!("{}.{p}.{s}", enc(&hs_header))),
        ("typ registration", format!("{}.{p}.{s}", enc(&reg_header))),
        ("header not JSON", format!("{}.{p}.{s}", b64(b"not json"))),
        ("payload array", format!("{h}.{}.{s}", b64(b"[1,2,3]"))),
        ("unregistered key", stranger.into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_json_4xx_never_a_5xx() {
    for db in Db::all() {
        let mut server = Server::start(&db);
        let client = ops::client();
        let fleet = ops::unique("fleet");
        let mut device = Device::enroll(&client, &server, &db, &fleet, "driver-1").await;
        let nonce = device.challenge(&client, &server, "block-1").await;
        let valid = device.checkin_token("block-1", &nonce, Outcome::Match);
        let stranger = {
            let mut s = Device::new(&fleet, "driver-1");
            s.checkin_token("block-1", &nonce, Outcome::Match)
        };

        // Tokens: every one refused with a JSON error; the valid one, sent last, still works (nothing consumed it).
        for (what, token) in bad_tokens(&valid, &stranger) {
            let answer = try_send(client.post(server.url("/v1/checkins")).json(&json!({ "token": token }))).await;
            let (status, body) =
                answer.unwrap_or_else(|e| panic!("{:?} check-in token {what}: no answer: {e}", db.backend));
            assert_json_error(status, &body, &format!("{:?} check-in token {what}", db.backend));
            if what != "oversized" {
                let code = body["error"]["code"].as_str().unwrap();
                assert!(
                    ["token_invalid", "key_unknown", "body_too_large", "payload_too_large"].contains(&code),
                    "{what}: unexpected code {code}"
                );
            }
        }
        // Forged statements on the other token routes, and the check-in token where a receipt or request belongs.
        for (route, field) in
            [("/v1/registrations", "statement"), ("/v1/erasures", "receipt"), ("/v1/reviews", "request")]
        {
            for token in ["", "a.b.c", &valid, &stranger] {
                let (status, body) = send(client.post(server.url(route)).json(&json!({ field: token }))).await;
                assert_json_error(status, &body, &format!("{route} with a wrong token"));
            }
        }

        // Bodies: too large, malformed, the wrong shape, the wrong content type.
        let big = json!({ "token": "x".repeat(70 * 1024) }).to_string();
        for route in JSON_ROUTES {
            let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
                (
                    "over 64 KiB",
                    client.post(server.url(route)).header("content-type", "application/json").body(big.clone()),
                ),
                (
                    "1 MiB of JSON",
                    client
                        .post(server.url(route))
                        .header("content-type", "application/json")
                        .body(format!("[{}0]", "0,".repeat(512 * 1024))),
                ),
                (
                    "truncated JSON",
                    client.post(server.url(route)).header("content-type", "application/json").body("{\"token\":"),
                ),
                ("not JSON", client.post(server.url(route)).header("content-type", "application/json").body("hello")),
                ("JSON array", client.post(server.url(route)).json(&json!([1, 2]))),
                (
                    "wrong field types",
                    client.post(server.url(route)).json(&json!({"token": 5, "kid": [], "block": {}})),
                ),
                ("empty object", client.post(server.url(route)).json(&json!({}))),
                ("empty body", client.post(server.url(route)).header("content-type", "application/json")),
                (
                    "deep nesting",
                    client.post(server.url(route)).header("content-type", "application/json").body(format!(
                        "{}{}",
                        "[".repeat(5000),
                        "]".repeat(5000)
                    )),
                ),
                (
                    "invalid UTF-8",
                    client
                        .post(server.url(route))
                        .header("content-type", "application/json")
                        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']),
                ),
                (
                    "text/plain",
                    client
                        .post(server.url(route))
                        .header("content-type", "text/plain")
                        .body(json!({"token": valid}).to_string()),
                ),
                ("form", client.post(server.url(route)).form(&[("token", valid.as_str())])),
                ("no content type", client.post(server.url(route)).body(json!({"token": valid}).to_string())),
            ];
            for (what, req) in cases {
                let (status, body) = match try_send(req).await {
                    Ok(answer) => answer,
                    // Refusing a too-large body may close the connection before the client finished sending it;
                    // that is no hang and no 5xx. Anything else without an answer fails.
                    Err(e) if (what.contains("KiB") || what.contains("MiB")) && !e.is_timeout() => continue,
                    Err(e) => panic!("{:?} POST {route}: {what}: no answer: {e}", db.backend),
                };
                assert_json_error(status, &body, &format!("{:?} POST {route}: {what}", db.backend));
                if what.contains("KiB") || what.contains("MiB") {
                    assert_eq!(status, 413, "{route} {what}: 413 Payload Too Large");
                }
                if ["text/plain", "form", "no content type"].contains(&what) {
                    assert_eq!(status, 415, "{route} {what}: 415 Unsupported Media Type");
                }
            }
        }

        // Challenges for keys that are not there, and odd blocks.
        for body in [
            json!({"kid": "AAAA", "block": "b"}),
            json!({"kid": device.kid(), "block": ""}),
            json!({"kid": device.kid(), "block": "x".repeat(10_000)}),
            json!({"kid": "A".repeat(43), "block": "b"}),
        ] {
            let (status, answer) = post_json(&client, &server.url("/v1/challenges"), &body).await;
            assert_json_error(
                status,
                &answer,
                &format!("challenge {}", &body.to_string()[..60.min(body.to_string().len())]),
            );
        }

        // Unknown routes and wrong methods: a JSON 404/405 under /v1.
        for (method, path) in [
            ("GET", "/v1/nope"),
            ("POST", "/v1/nope"),
            ("GET", "/v1/checkins"),
            ("DELETE", "/v1/checkins"),
            ("PUT", "/v1/challenges"),
            ("GET", "/v1/enrollment-codes/"),
            ("GET", "/v1/../../etc/passwd"),
            ("GET", "/v1/%00"),
        ] {
            let req = client.request(method.parse().unwrap(), server.url(path));
            let (status, body) = send(req).await;
            assert!(status == 404 || status == 405 || status == 400, "{method} {path}: {status}");
            assert_json_error(status, &body, &format!("{method} {path}"));
        }
        // An unknown or malformed enrollment code: one answer, code_unknown.
        for code in ["AAAA-BBBB-CCCC", "x", &"9".repeat(5000)] {
            let (status, body) = send(client.get(server.url(&format!("/v1/enrollment-codes/{code}")))).await;
            assert_eq!(status, 404, "enrollment code {}: {body}", &code[..code.len().min(20)]);
            assert_eq!(body["error"]["code"], "code_unknown");
        }

        // The valid token was never consumed by all of that: it is accepted now, and stored once.
        let (status, body) = post_json(&client, &server.url("/v1/checkins"), &json!({ "token": valid })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["verdict"], "accepted");
        assert_eq!(db.checkins(Some("driver-1")).len(), 1);
        assert!(
            server.is_running(),
            "{:?}: the server survived the bad input; log:\n{}",
            db.backend,
            server.log_text()
        );
    }
}

/// Raw sockets: a request that stops half-way (headers or body) must not stall the service for others, and the
/// server must close such a connection by itself rather than hold it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_sent_requests_do_not_hang_the_service() {
    let db = Db::sqlite();
    let mut server = Server::start(&db);
    let addr = format!("127.0.0.1:{}", server.port);
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(&addr).unwrap();
        if i % 2 == 0 {
            s.write_all(b"POST /v1/checkins HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n").unwrap();
        } else {
            s.write_all(b"POST /v1/checkins HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"tok")
                .unwrap();
        }
        stalled.push(s);
    }
    // Meanwhile, the service answers others at once.
    let client = ops::client();
    for _ in 0..20 {
        let t = Instant::now();
        let resp = client.get(server.url("/healthz")).send().await.expect("healthz while others stall");
        assert_eq!(resp.status(), 200);
        assert!(t.elapsed() < Duration::from_secs(2), "healthz took {:?} while connections stall", t.elapsed());
    }
    let (status, body) = post_json(&client, &server.url("/v1/checkins"), &json!({"token": "a.b.c"})).await;
    assert_json_error(status, &body, "check-in while others stall");

    // The stalled connections are answered (408/400) or closed by the server within a bound, not held forever.
    let deadline = Duration::from_secs(45);
    let t = Instant::now();
    for mut s in stalled {
        s.set_read_timeout(Some(deadline.saturating_sub(t.elapsed()).max(Duration::from_millis(1)))).unwrap();
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(
            r.is_ok() || buf.starts_with(b"HTTP/1.1 4"),
            "a stalled connection was still held open after {:?}: {r:?}",
            t.elapsed()
        );
        if !buf.is_empty() {
            let head = String::from_utf8_lossy(&buf);
            assert!(head.starts_with("HTTP/1.1 4"), "stalled request answered with {head:?}");
        }
    }
    assert!(server.is_running());
}

/// Admin routes without a session: 401, or a redirect to the login page; never the page itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_routes_need_a_session() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let client = reqwest::Client::builder()
        .timeout(ops::REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let routes = ops::admin_routes(&server).await;
    assert!(routes.len() >= 3, "found admin routes to probe: {routes:?}");
    for (method, path) in routes {
        for cookie in [None, Some("fc_session=forged"), Some("session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
            let mut req = client.request(method.parse().unwrap(), server.url(&path));
            if method == "POST" {
                req = req.form(&[("csrf", "x"), ("driver", "d"), ("fleet", "f"), ("note", "n"), ("kid", "k")]);
            }
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let location = resp.headers().get("location").map(|v| v.to_str().unwrap_or("").to_owned());
            let text = resp.text().await.unwrap_or_default();
            let refused = status == 401
                || status == 403
                || ((status == 302 || status == 303 || status == 307)
                    && location.as_deref().is_some_and(|l| l.contains("login")));
            assert!(refused, "{method} {path} with {cookie:?}: {status} {location:?}");
            assert!(
                !text.contains("id=\"reviews\"") && !text.contains("id=\"devices\""),
                "{method} {path} leaked the page"
            );
        }
    }
    // A wrong admin token does not log in.
    let resp = client.post(server.url("/admin/login")).form(&[("token", "not-a-token")]).send().await.unwrap();
    let status = resp.status().as_u16();
    assert!(
        resp.headers().get("set-cookie").is_none_or(|c| c.to_str().unwrap_or("").contains("Max-Age=0")),
        "no session for a wrong token"
    );
    assert!((400..500).contains(&status) || status == 303 || status == 302 || status == 200, "{status}");
}

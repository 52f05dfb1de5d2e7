//! A property test over the ingest endpoint (issue 9): arbitrary bodies, arbitrary tokens and mutations of a
//! valid signed check-in are answered with a 4xx and the JSON error, or (only for the untouched token) a 200; never
//! a 5xx, never a hang; nothing but the genuine check-ins ends up in the record. Bounded cases, one server.

mod ops;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use facecheck_attest::Outcome;
use ops::{assert_json_error, Db, Device, Server};
use proptest::prelude::*;
use serde_json::{json, Value};

/// One way to damage a valid token.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        at: usize,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Swap {
        a: usize,
        b: usize,
    },
    /// Re-encodes the payload with one claim replaced by an arbitrary JSON value (signature no longer matches).
    Claim {
        name: &'static str,
        value: Value,
    },
    Repeat {
        times: usize,
    },
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let claim = prop::sample::select(vec![
        "iss", "sub", "aud", "blk", "nonce", "iat", "ctr", "res", "live", "lvm", "att", "mdl", "pol", "ver", "extra",
    ]);
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap { a, b }),
        (claim, json_value()).prop_map(|(name, value)| Mutation::Claim { name, value }),
        (2usize..6).prop_map(|times| Mutation::Repeat { times }),
    ]
}

fn apply(token: &str, m: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    match m {
        Mutation::FlipBit { at, bit } => {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        Mutation::Truncate { at } => bytes.truncate(at % bytes.len()),
        Mutation::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), *byte),
        Mutation::Swap { a, b } => {
            let (a, b) = (a % bytes.len(), b % bytes.len());
            bytes.swap(a, b);
        }
        Mutation::Claim { name, value } => {
            let parts: Vec<&str> = token.split('.').collect();
            let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            payload[*name] = value.clone();
            let p = URL_SAFE_NO_PAD.encode(payload.to_string());
            return format!("{}.{p}.{}", parts[0], parts[2]);
        }
        Mutation::Repeat { times } => return token.repeat(*times),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The ingest request: the token in a field, or an arbitrary JSON body instead.
#[derive(Debug, Clone)]
enum Body {
    Mutated(Mutation),
    Arbitrary(Value),
    ArbitraryToken(String),
    RawBytes(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => mutation().prop_map(Body::Mutated),
        2 => json_value().prop_map(Body::Arbitrary),
        1 => "[A-Za-z0-9_.=-]{0,200}".prop_map(Body::ArbitraryToken),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::RawBytes),
    ]
}

#[test]
fn ingest_never_fails_open_or_errors_on_arbitrary_input() {
    let rt = ops::runtime();
    let db = Db::sqlite();
    let mut server = Server::start(&db);
    let client = ops::client();
    let fleet = ops::unique("fleet");
    let device = std::cell::RefCell::new(rt.block_on(Device::enroll(&client, &server, &db, &fleet, "driver-fuzz")));

    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases, ..ProptestConfig::default() });
    let accepted = std::cell::Cell::new(0u32);
    let url = server.url("/v1/checkins");
    runner
        .run(&(body(), any::<bool>()), |(body, fresh)| {
            let mut device = device.borrow_mut();
            // A fresh challenge and a valid token every so often, so mutations hit live nonces too.
            let nonce = if fresh {
                rt.block_on(device.challenge(&client, &server, "block-fuzz"))
            } else {
                "c2VydmVyIGNoYWxsZW5nZQ".into()
            };
            let valid = device.checkin_token("block-fuzz", &nonce, Outcome::Match);
            let req = match &body {
                Body::Mutated(m) => {
                    let token = apply(&valid, m);
                    prop_assume!(token != valid);
                    client.post(&url).json(&json!({ "token": token }))
                }
                Body::Arbitrary(v) => client.post(&url).json(v),
                Body::ArbitraryToken(t) => client.post(&url).json(&json!({ "token": t })),
                Body::RawBytes(b) => client.post(&url).header("content-type", "application/json").body(b.clone()),
            };
            let (status, answer) = rt.block_on(async {
                let resp = req.send().await.expect("answer within the deadline");
                let status = resp.status().as_u16();
                (status, serde_json::from_str::<Value>(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null))
            });
            prop_assert!(status < 500, "5xx for {body:?}: {status} {answer}");
            prop_assert_ne!(status, 200, "a damaged or arbitrary token was accepted: {:?} -> {}", body, answer);
            assert_json_error(status, &answer, &format!("{body:?}"));
            // The untouched token still goes through afterwards when its nonce is live: nothing above consumed it.
            if fresh {
                let (s, a) = rt.block_on(ops::post_json(&client, &url, &json!({ "token": valid })));
                prop_assert_eq!(s, 200, "the genuine token after a damaged one: {}", a);
                accepted.set(accepted.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    assert!(server.is_running(), "server died; log:\n{}", server.log_text());
    let rows = db.checkins(Some("driver-fuzz"));
    assert_eq!(rows.len() as u32, accepted.get(), "only the genuine check-ins are recorded");
    assert!(accepted.get() > 0, "some genuine check-ins were exercised");
}

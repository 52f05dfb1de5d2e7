//! Concurrency (issue 9): the same token submitted 50 times in parallel, to one replica and to two replicas on one
//! PostgreSQL, is accepted exactly once; a used nonce cannot be spent twice by racing different tokens; two
//! registrations racing for one driver leave exactly one active key; a revocation racing the key's own
//! registration retries is never lost; racing check-ins of one key are each decided on the history recorded
//! before them. Black box: the real binary over HTTP, the record read back with
//! `admin checkins --json`.

mod ops;

use facecheck_attest::Outcome;
use ops::{post_json, Backend, Db, Device, Server};
use serde_json::{json, Value};

const PARALLEL: usize = 50;

/// Rounds of racing check-ins of one key (each a new driver): a race only shows a stale decision when a request's
/// read and its write straddle another's write, so one round is not enough.
const ROUNDS: usize = 3;

/// Fires `PARALLEL` identical submissions of one signed check-in, spread round-robin over `servers`, and checks that
/// exactly one check-in is recorded, and that every answer is the same stored answer.
async fn same_token_in_parallel(db: &Db, servers: &[&Server]) {
    let client = ops::client();
    let fleet = ops::unique("fleet");
    let driver = ops::unique("driver");
    let mut device = Device::enroll(&client, servers[0], db, &fleet, &driver).await;
    let nonce = device.challenge(&client, servers[0], "block-1").await;
    let token = device.checkin_token("block-1", &nonce, Outcome::Match);

    let mut tasks = Vec::new();
    for i in 0..PARALLEL {
        let client = client.clone();
        let url = servers[i % servers.len()].url("/v1/checkins");
        let body = json!({ "token": token });
        tasks.push(tokio::spawn(async move { post_json(&client, &url, &body).await }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    let accepted = answers.iter().filter(|(_, b)| b["verdict"] == "accepted").count();
    assert!(accepted >= 1, "{:?}: a fresh match is accepted by at least one answer: {answers:?}", db.backend);
    for (status, body) in &answers {
        assert!(*status < 500, "{:?}: no 5xx under contention: {status} {body}", db.backend);
    }
    let rows = db.checkins(Some(&driver));
    assert_eq!(
        rows.len(),
        1,
        "{:?}, {} replica(s): exactly one check-in recorded: {rows:?}",
        db.backend,
        servers.len()
    );
    assert_eq!(rows[0]["counter"], json!(device.counter));
    assert_eq!(rows[0]["outcome"], "match");
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{:?}: every identical resubmission gets the stored answer: {body}", db.backend);
    }
    let first = &answers.iter().find(|(_, b)| b["verdict"] == "accepted").unwrap().1;
    assert_eq!(first["verdict"], "accepted", "a fresh match is accepted: {first}");
    for (_, body) in &answers {
        assert_eq!(body["checkin_id"], first["checkin_id"], "one check-in id for one token");
        assert_eq!(body["verdict"], first["verdict"]);
        assert_eq!(body["evidence"], first["evidence"], "the same evidence for the same token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_token_fifty_times_in_parallel_one_replica() {
    for db in Db::all() {
        let server = Server::start(&db);
        same_token_in_parallel(&db, &[&server]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_token_fifty_times_in_parallel_two_replicas_on_one_postgres() {
    let Some(db) = Db::postgres() else { return };
    let a = Server::start(&db);
    let b = Server::start(&db);
    assert_ne!(a.port, b.port);
    same_token_in_parallel(&db, &[&a, &b]).await;
}

/// 50 *different* tokens (each a valid signature, counters 1..=50) for one nonce, raced over the replicas:
/// one is stored, every other is refused with a stable reason, none is a 5xx.
async fn one_nonce_many_tokens(db: &Db, servers: &[&Server]) {
    let client = ops::client();
    let fleet = ops::unique("fleet");
    let driver = ops::unique("driver");
    let device = Device::enroll(&client, servers[0], db, &fleet, &driver).await;
    let nonce = device.challenge(&client, servers[0], "block-1").await;
    let mut tasks = Vec::new();
    for i in 0..PARALLEL {
        let token = device.key.sign(&device.claims("block-1", &nonce, Outcome::Match, 1 + i as u64));
        let client = client.clone();
        let url = servers[i % servers.len()].url("/v1/checkins");
        tasks.push(tokio::spawn(async move { post_json(&client, &url, &json!({ "token": token })).await }));
    }
    let mut stored = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == 200 {
            stored += 1;
        } else {
            ops::assert_json_error(status, &body, "racing token for a used nonce");
            let code = body["error"]["code"].as_str().unwrap();
            assert!(
                ["challenge_used", "counter_replayed"].contains(&code),
                "{:?}: a spent nonce is refused as used or replayed, got {code}",
                db.backend
            );
        }
    }
    assert_eq!(stored, 1, "{:?}: exactly one token spends the nonce", db.backend);
    assert_eq!(db.checkins(Some(&driver)).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_nonce_cannot_be_spent_twice_by_racing_tokens() {
    for db in Db::all() {
        let server = Server::start(&db);
        one_nonce_many_tokens(&db, &[&server]).await;
        if db.backend == Backend::Postgres {
            let second = Server::start(&db);
            one_nonce_many_tokens(&db, &[&server, &second]).await;
        }
    }
}

/// 30 check-ins of one key, each with its own challenge and counter (1..=30, every other one a `no_match`), raced
/// over the replicas: whichever are recorded, in whatever order, each verdict is the one the recorded history
/// before it implies — its counter gap counts exactly the counters skipped since the previous recorded one, and a
/// match after the fleet's limit of failed attempts (10) goes to review. A decision made on a stale read of the key
/// would break one or the other.
async fn racing_checkins_of_one_key(db: &Db, servers: &[&Server]) {
    const N: u64 = 30;
    let client = ops::client();
    let fleet = ops::unique("fleet");
    let driver = ops::unique("driver");
    let device = Device::enroll(&client, servers[0], db, &fleet, &driver).await;
    let mut tokens = Vec::new();
    for counter in 1..=N {
        let nonce = device.challenge(&client, servers[0], "block-1").await;
        let outcome = if counter % 2 == 0 { Outcome::NoMatch } else { Outcome::Match };
        tokens.push(device.key.sign(&device.claims("block-1", &nonce, outcome, counter)));
    }
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let client = client.clone();
        let url = servers[i % servers.len()].url("/v1/checkins");
        tasks.push(tokio::spawn(async move { post_json(&client, &url, &json!({ "token": token })).await }));
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status != 200 {
            ops::assert_json_error(status, &body, "racing check-ins of one key");
            assert_eq!(body["error"]["code"], "counter_replayed", "{:?}: {status} {body}", db.backend);
        }
    }
    let mut rows = db.checkins(Some(&driver));
    rows.sort_by_key(|r| r["counter"].as_i64().unwrap());
    assert!(!rows.is_empty());
    let history: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} gap {} {} {}", r["counter"], r["outcome"], r["counter_gap"], r["verdict"], r["reason"]))
        .collect();
    let (mut previous, mut failures) = (0, 0);
    for row in &rows {
        let counter = row["counter"].as_i64().unwrap();
        let gap = counter - previous - 1;
        assert_eq!(
            row["counter_gap"],
            json!(gap),
            "{:?}: gap from the previous recorded counter: {history:#?}",
            db.backend
        );
        let expected = match row["outcome"].as_str().unwrap() {
            "no_match" => ("review", "no_match"),
            _ if failures >= 10 => ("review", "attempt_limit"),
            _ if gap > 0 => ("review", "counter_gap"),
            _ => ("accepted", ""),
        };
        assert_eq!(
            (row["verdict"].as_str().unwrap(), row["reason"].as_str().unwrap()),
            expected,
            "{:?}: {history:#?}",
            db.backend
        );
        if row["outcome"] == "no_match" {
            failures += 1;
        }
        previous = counter;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_checkins_of_one_key_are_decided_on_their_recorded_history() {
    for db in Db::all() {
        let server = Server::start(&db);
        let second = (db.backend == Backend::Postgres).then(|| Server::start(&db));
        for _ in 0..ROUNDS {
            racing_checkins_of_one_key(&db, &[&server]).await;
            if let Some(second) = &second {
                racing_checkins_of_one_key(&db, &[&server, second]).await;
            }
        }
    }
}

async fn challenge_status(client: &reqwest::Client, server: &Server, device: &Device) -> (u16, Value) {
    post_json(client, &server.url("/v1/challenges"), &json!({ "kid": device.kid(), "block": "block-1" })).await
}

/// Two devices of one driver register at the same moment with two valid codes: afterwards exactly one key is
/// active (the driver has one active key), never two.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_registrations_leave_one_active_key() {
    for db in Db::all() {
        let servers: Vec<Server> = match db.backend {
            Backend::Sqlite => vec![Server::start(&db)],
            Backend::Postgres => vec![Server::start(&db), Server::start(&db)],
        };
        let client = ops::client();
        for round in 0..5 {
            let fleet = ops::unique("fleet");
            let driver = ops::unique("driver");
            let mut devices: Vec<Device> = (0..4).map(|_| Device::new(&fleet, &driver)).collect();
            let codes: Vec<String> = devices.iter().map(|_| db.enrollment_code(&fleet, &driver)).collect();
            let mut tasks = Vec::new();
            for (i, (mut device, code)) in devices.drain(..).zip(codes).enumerate() {
                let client = client.clone();
                let server = &servers[i % servers.len()];
                let url = server.url("/v1/registrations");
                let info_url = server.url(&format!("/v1/enrollment-codes/{code}"));
                tasks.push(tokio::spawn(async move {
                    let info: Value = client.get(info_url).send().await.unwrap().json().await.unwrap();
                    let notice = info["consent_notice"].as_str().unwrap_or("").to_owned();
                    device.registration = device.registration_statement(&code, &notice);
                    let (status, body) = post_json(&client, &url, &json!({ "statement": device.registration })).await;
                    (device, status, body)
                }));
            }
            let mut registered = Vec::new();
            for task in tasks {
                let (device, status, body) = task.await.unwrap();
                assert!(status < 500, "{:?}: registration under contention: {status} {body}", db.backend);
                if status == 201 || status == 200 {
                    registered.push(device);
                }
            }
            assert!(!registered.is_empty(), "{:?} round {round}: at least one registration succeeds", db.backend);
            let mut active = 0;
            for device in &registered {
                let (status, body) = challenge_status(&client, &servers[0], device).await;
                match status {
                    200 | 201 => active += 1,
                    _ => ops::assert_json_error(status, &body, "challenge for a replaced key"),
                }
            }
            assert_eq!(active, 1, "{:?} round {round}: exactly one active key for the driver", db.backend);
        }
    }
}

/// A revoked key stays revoked while its own registration statement is being retried concurrently (a phone
/// retrying after a lost response): the idempotent replay of the registration must not resurrect the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_racing_registration_retries_is_never_lost() {
    for db in Db::all() {
        let server = Server::start(&db);
        let client = ops::client();
        let admin = ops::AdminApi::new(&server, &db);
        for round in 0..5 {
            let fleet = ops::unique("fleet");
            let driver = ops::unique("driver");
            let device = Device::enroll(&client, &server, &db, &fleet, &driver).await;
            let mut retries = Vec::new();
            for _ in 0..20 {
                let client = client.clone();
                let url = server.url("/v1/registrations");
                let statement = device.registration.clone();
                retries.push(tokio::spawn(async move {
                    post_json(&client, &url, &json!({ "statement": statement })).await
                }));
            }
            let revoke = admin.revoke(&device.kid()).await;
            assert!(revoke, "{:?}: the admin revocation went through", db.backend);
            for task in retries {
                let (status, body) = task.await.unwrap();
                assert!(status < 500, "{:?}: registration retry: {status} {body}", db.backend);
            }
            // And a retry after the revocation, for good measure.
            let (status, body) =
                post_json(&client, &server.url("/v1/registrations"), &json!({ "statement": device.registration }))
                    .await;
            assert!(status < 500, "late retry: {status} {body}");
            let (status, body) = challenge_status(&client, &server, &device).await;
            assert_eq!(status, 403, "{:?} round {round}: a revoked key gets no challenge: {body}", db.backend);
            assert_eq!(body["error"]["code"], "key_not_active");
        }
    }
}

//! The device API end to end over real HTTP on loopback, against SQLite and (with FACECHECK_TEST_POSTGRES_URL)
//! PostgreSQL.

mod support;

use facecheck_attest::{statement_hash, Consent, EvidenceKind, LivenessMethod, Outcome, ReviewReason};
use facecheck_fleet::challenge::{Binding, SealedKeyState};
use facecheck_fleet::testing::TestServer;
use reqwest::Method;
use serde_json::json;
use support::{challenge, check_in, code_of, enrolled, now, Api, Device};

const FLEET: &str = "fleet-7";

async fn enrollment_and_checkin(api: Api, server: &TestServer) {
    let code = server.enrollment_code(FLEET, "driver-1").await.expect("code");

    // The code lookup names fleet, driver and the fleet key; in any spelling of the code.
    let (status, body) = api.get(&format!("/v1/enrollment-codes/{}", code.to_lowercase())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fleet"], FLEET);
    assert_eq!(body["driver"], "driver-1");
    assert_eq!(body["fleet_key"]["x"], facecheck_fleet::util::b64(&api.fleet_key));

    let mut device = Device::new(FLEET, "driver-1");
    let statement = device.registration(Some(&code));
    let (status, first) = api.post("/v1/registrations", json!({"statement": statement})).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["kid"], device.kid());
    assert_eq!(first["status"], "active");
    let ev = api.evidence(&first["evidence"], FLEET, &statement, "accepted");
    assert_eq!(ev.claims().kind, EvidenceKind::Registration);
    assert_eq!(ev.claims().driver, "driver-1");

    // The same statement again: the same answer. The code is used now: lookups and other keys are refused.
    let (status, again) = api.post("/v1/registrations", json!({"statement": statement})).await;
    assert_eq!((status, &again), (201, &first));
    let (status, body) = api.get(&format!("/v1/enrollment-codes/{code}")).await;
    assert_eq!((status, code_of(&body)), (404, "code_unknown"));
    let other = Device::new(FLEET, "driver-1");
    let (status, body) = api.post("/v1/registrations", json!({"statement": other.registration(Some(&code))})).await;
    assert_eq!((status, code_of(&body)), (403, "code_unknown"), "{body}");

    // Challenge: bound to the key, with server time and the last counter.
    let (status, ch) = api.post("/v1/challenges", json!({"kid": device.kid(), "block": "2026-12-01-am"})).await;
    assert_eq!(status, 201, "{ch}");
    assert_eq!(ch["last_counter"], 0);
    assert_eq!(ch["liveness"], "passive");
    assert!((ch["server_time"].as_i64().unwrap() - now() as i64).abs() < 5);
    assert!(ch["expires_at"].as_i64().unwrap() > ch["server_time"].as_i64().unwrap());
    let nonce = ch["nonce"].as_str().unwrap().to_owned();

    let token = device.checkin(&nonce, "2026-12-01-am", Outcome::Match);
    let (status, verdict) = api.post("/v1/checkins", json!({"token": token})).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["verdict"], "accepted");
    assert_eq!(verdict["reason"], "");
    let ev = api.evidence(&verdict["evidence"], FLEET, &token, "accepted");
    assert_eq!(ev.claims().kind, EvidenceKind::Checkin);

    // Identical resubmission: the stored answer, same evidence.
    let (status, again) = api.post("/v1/checkins", json!({"token": token})).await;
    assert_eq!((status, &again), (200, &verdict));

    // A different token on the used nonce is refused; so is an old counter on a new nonce.
    let other_token = device.checkin(&nonce, "2026-12-01-am", Outcome::Match);
    let (status, body) = api.post("/v1/checkins", json!({"token": other_token})).await;
    assert_eq!((status, code_of(&body)), (409, "challenge_used"), "{body}");
    let fresh = challenge(&api, &device, "2026-12-01-am").await;
    let mut claims = device.claims(&fresh, "2026-12-01-am", Outcome::Match);
    claims.counter = 1;
    let (status, body) = api.post("/v1/checkins", json!({"token": device.key.sign(&claims)})).await;
    assert_eq!((status, code_of(&body)), (403, "counter_replayed"), "{body}");

    // The next challenge reports the counter the fleet accepted.
    let (_, ch) = api.post("/v1/challenges", json!({"kid": device.kid(), "block": "b2"})).await;
    assert_eq!(ch["last_counter"], 1);

    // The admin sees the one check-in.
    let admin = server.admin_token().await.unwrap();
    let (status, rows) = api.admin(Method::GET, "/v1/admin/checkins?driver=driver-1", &admin, None).await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["outcome"], "match");
    assert_eq!(rows[0]["verdict"], "accepted");
    assert_eq!(rows[0]["counter"], 1);
    assert_eq!(rows[0]["block"], "2026-12-01-am");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_and_checkin_flow() {
    each_backend!(enrollment_and_checkin);
}

async fn registration_refusals(api: Api, server: &TestServer) {
    let code = server.enrollment_code(FLEET, "driver-2").await.unwrap();
    let post = |s: String| {
        let api = api.clone();
        async move { api.post("/v1/registrations", json!({"statement": s})).await }
    };
    // No code at all.
    let (status, body) = post(Device::new(FLEET, "driver-2").registration(None)).await;
    assert_eq!((status, code_of(&body)), (403, "code_required"), "{body}");
    // A code for driver-2, used by a statement for driver-3 or another fleet.
    let (status, body) = post(Device::new(FLEET, "driver-3").registration(Some(&code))).await;
    assert_eq!((status, code_of(&body)), (403, "code_mismatch"), "{body}");
    let (status, body) = post(Device::new("fleet-other", "driver-2").registration(Some(&code))).await;
    assert_eq!((status, code_of(&body)), (403, "code_mismatch"), "{body}");
    // An unknown code.
    let (status, body) = post(Device::new(FLEET, "driver-2").registration(Some("AAAA-BBBB-CCCC"))).await;
    assert_eq!((status, code_of(&body)), (403, "code_unknown"), "{body}");
    // No consent record.
    let (status, body) = post(Device::new(FLEET, "driver-2").registration_with(Some(&code), None, now())).await;
    assert_eq!((status, code_of(&body)), (403, "consent_required"), "{body}");
    // Consent to another notice than the fleet's current one, or accepted after the statement was signed.
    let old_notice = Some(Consent { notice: "facecheck-consent-v0".into(), accepted_at: now() - 5 });
    let (status, body) = post(Device::new(FLEET, "driver-2").registration_with(Some(&code), old_notice, now())).await;
    assert_eq!((status, code_of(&body)), (403, "consent_outdated"), "{body}");
    let later = Some(Consent { notice: "facecheck-consent-v2".into(), accepted_at: now() + 60 });
    let (status, body) = post(Device::new(FLEET, "driver-2").registration_with(Some(&code), later, now())).await;
    assert_eq!((status, code_of(&body)), (403, "consent_outdated"), "{body}");
    // Signed before the code existed (older than the code's validity allows).
    let consent = Some(Consent { notice: "v1".into(), accepted_at: now() });
    let (status, body) =
        post(Device::new(FLEET, "driver-2").registration_with(Some(&code), consent.clone(), now() - 3600)).await;
    assert_eq!((status, code_of(&body)), (403, "stale"), "{body}");
    // A check-in attestation is not a registration statement; garbage is not either.
    let mut d = Device::new(FLEET, "driver-2");
    let (status, body) = post(d.checkin("n", "b", Outcome::Match)).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post("x.y.z".into()).await;
    assert_eq!(status / 100, 4, "{body}");
    // An expired code: one answer, code_unknown.
    server.service().db.exec("UPDATE enrollment_codes SET expires_at = 1", vec![]).await.unwrap();
    let (status, body) = post(Device::new(FLEET, "driver-2").registration(Some(&code))).await;
    assert_eq!((status, code_of(&body)), (403, "code_unknown"), "{body}");
    // Nothing was registered.
    let admin = server.admin_token().await.unwrap();
    let (_, devices) = api.admin(Method::GET, "/v1/admin/devices", &admin, None).await;
    assert_eq!(devices.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_bound_to_a_valid_code() {
    each_backend!(registration_refusals);
}

async fn reregistration(api: Api, server: &TestServer) {
    let old = enrolled(&api, server, FLEET, "driver-4").await;
    let new = enrolled(&api, server, FLEET, "driver-4").await;
    let (status, body) = api.post("/v1/challenges", json!({"kid": old.kid(), "block": "b"})).await;
    assert_eq!((status, code_of(&body)), (403, "key_not_active"), "{body}");
    challenge(&api, &new, "b").await;
    let admin = server.admin_token().await.unwrap();
    let (_, devices) = api.admin(Method::GET, "/v1/admin/devices", &admin, None).await;
    let status_of =
        |kid: &str| devices.as_array().unwrap().iter().find(|d| d["kid"] == kid).map(|d| d["status"].clone()).unwrap();
    assert_eq!(status_of(&old.kid()), "revoked");
    assert_eq!(status_of(&new.kid()), "active");
    let (_, audit) = api.admin(Method::GET, "/v1/admin/audit", &admin, None).await;
    assert!(audit.as_array().unwrap().iter().any(|a| a["action"] == "key_revoked" && a["kid"] == old.kid()));
    // The admin revokes the new key: nothing it signs is accepted.
    let (status, _) = api.admin(Method::POST, &format!("/v1/admin/keys/{}/revoke", new.kid()), &admin, None).await;
    assert_eq!(status, 200);
    let (status, body) = api.post("/v1/challenges", json!({"kid": new.kid(), "block": "b"})).await;
    assert_eq!((status, code_of(&body)), (403, "key_not_active"), "{body}");
    let (status, body) = api.post("/v1/challenges", json!({"kid": "not-a-kid", "block": "b"})).await;
    assert_eq!((status, code_of(&body)), (404, "key_unknown"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_registration_revokes_the_drivers_older_keys() {
    each_backend!(reregistration);
}

async fn verdicts(api: Api, server: &TestServer) {
    let admin = server.admin_token().await.unwrap();
    let mut d = enrolled(&api, server, FLEET, "driver-5").await;
    // Every outcome is stored, with its verdict.
    let (_, body, _) = check_in(&api, &mut d, "b1", Outcome::PoorQuality).await;
    assert_eq!((body["verdict"].as_str(), body["reason"].as_str()), (Some("refused"), Some("retake")));
    let (_, body, _) = check_in(&api, &mut d, "b1", Outcome::NoFace).await;
    assert_eq!(body["reason"], "retake");
    let (_, body, token) = check_in(&api, &mut d, "b1", Outcome::NoMatch).await;
    assert_eq!((body["verdict"].as_str(), body["reason"].as_str()), (Some("review"), Some("no_match")));
    api.evidence(&body["evidence"], FLEET, &token, "review");
    let (_, body, _) = check_in(&api, &mut d, "b1", Outcome::SpoofSuspected).await;
    assert_eq!(body["reason"], "spoof_suspected");
    let (_, body, _) = check_in(&api, &mut d, "b1", Outcome::LockedOut).await;
    assert_eq!(body["reason"], "locked_out");
    let (_, body, _) = check_in(&api, &mut d, "b1", Outcome::Match).await;
    assert_eq!(body["verdict"], "accepted");

    // A counter jump the fleet never saw: review, flagged.
    d.counter += 3;
    let (_, body, _) = check_in(&api, &mut d, "b2", Outcome::Match).await;
    assert_eq!((body["verdict"].as_str(), body["reason"].as_str()), (Some("review"), Some("counter_gap")));
    assert_eq!(body["counter_gap"], 3);

    let (_, rows) = api.admin(Method::GET, "/v1/admin/checkins?driver=driver-5", &admin, None).await;
    let outcomes: Vec<_> = rows.as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap().to_owned()).collect();
    assert_eq!(outcomes.len(), 7);
    for o in ["match", "no_match", "spoof_suspected", "no_face", "poor_quality", "locked_out"] {
        assert!(outcomes.iter().any(|x| x == o), "{o} stored");
    }
    let (_, reviews) = api.admin(Method::GET, "/v1/admin/reviews", &admin, None).await;
    let mut kinds: Vec<_> =
        reviews.as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap().to_owned()).collect();
    kinds.sort();
    assert_eq!(kinds, ["counter_gap", "locked_out", "no_match", "spoof_suspected"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_stored_with_its_verdict() {
    each_backend!(verdicts);
}

async fn attempt_limit(api: Api, server: &TestServer) {
    let admin = server.admin_token().await.unwrap();
    let (status, policy) = api
        .admin(Method::PUT, "/v1/admin/fleets/fleet-lim/policy", &admin, Some(json!({"failed_attempt_limit": 2})))
        .await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["failed_attempt_limit"], 2);
    let mut d = enrolled(&api, server, "fleet-lim", "driver-6").await;
    check_in(&api, &mut d, "b", Outcome::NoMatch).await;
    let (_, body, _) = check_in(&api, &mut d, "b", Outcome::Match).await;
    assert_eq!(body["verdict"], "accepted", "one failure is under the limit");
    check_in(&api, &mut d, "b", Outcome::SpoofSuspected).await;
    let (_, body, _) = check_in(&api, &mut d, "b", Outcome::Match).await;
    assert_eq!((body["verdict"].as_str(), body["reason"].as_str()), (Some("review"), Some("attempt_limit")));
    // A person clears it; then a match is accepted again.
    let (_, reviews) = api.admin(Method::GET, "/v1/admin/reviews", &admin, None).await;
    let limit_review = reviews.as_array().unwrap().iter().find(|r| r["kind"] == "attempt_limit").unwrap().clone();
    let id = limit_review["id"].as_str().unwrap();
    let (status, body) = api.resolve_review(&admin, id, "cleared", "").await;
    assert_eq!((status, code_of(&body)), (400, "invalid_note"));
    let (status, resolved) = api.resolve_review(&admin, id, "cleared", "called the driver, verified in person").await;
    assert_eq!(status, 200, "{resolved}");
    let ev = facecheck_attest::verify_evidence(resolved["evidence"].as_str().unwrap(), &api.fleet_key, "fleet-lim")
        .expect("resolution evidence verifies");
    assert_eq!(ev.claims().kind, EvidenceKind::ReviewResolution);
    assert_eq!(ev.claims().verdict, "cleared");
    let (status, body) = api.resolve_review(&admin, id, "upheld", "x").await;
    assert_eq!((status, code_of(&body)), (409, "review_resolved"));
    let (_, body, _) = check_in(&api, &mut d, "b", Outcome::Match).await;
    assert_eq!(body["verdict"], "accepted", "{body}");

    // A clearance never moves back: one made by a replica whose clock runs an hour ahead stays when the next is
    // resolved on this one. (The two failures above count again once the clearance is forgotten.)
    let db = &server.service().db;
    let set_cleared_at = |at: i64| {
        let sql = "UPDATE drivers SET attempts_cleared_at = $1 WHERE fleet = 'fleet-lim' AND id = 'driver-6'";
        db.exec(sql, facecheck_fleet::args![at])
    };
    set_cleared_at(0).await.unwrap();
    let (_, body, _) = check_in(&api, &mut d, "b", Outcome::Match).await;
    assert_eq!(body["reason"], "attempt_limit", "{body}");
    let ahead = now() as i64 + 3600;
    set_cleared_at(ahead).await.unwrap();
    let (_, reviews) = api.admin(Method::GET, "/v1/admin/reviews?status=open", &admin, None).await;
    let open = reviews.as_array().unwrap().iter().find(|r| r["kind"] == "attempt_limit" && r["status"] == "open");
    let id = open.expect("an open attempt-limit review")["id"].as_str().unwrap().to_owned();
    let (status, _) = api.resolve_review(&admin, &id, "cleared", "called the driver again").await;
    assert_eq!(status, 200);
    let sql = "SELECT attempts_cleared_at FROM drivers WHERE fleet = 'fleet-lim' AND id = 'driver-6'";
    assert_eq!(db.row(sql, vec![]).await.unwrap().unwrap().i64("attempts_cleared_at"), ahead);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleets_failed_attempt_limit_binds_until_a_person_clears_it() {
    each_backend!(attempt_limit);
}

async fn liveness_policy(api: Api, server: &TestServer) {
    let admin = server.admin_token().await.unwrap();
    let mut d = enrolled(&api, server, "fleet-act", "driver-7").await;
    let ask = |d: &Device| api.post("/v1/challenges", json!({"kid": d.kid(), "block": "b"}));
    let (_, body) = ask(&d).await;
    assert_eq!(body["liveness"], "passive", "the default asks for the passive check");
    // A challenge issued before the policy changes keeps what it asked for.
    let (_, before) = ask(&d).await;
    let (status, policy) =
        api.admin(Method::PUT, "/v1/admin/fleets/fleet-act/policy", &admin, Some(json!({"liveness": "active"}))).await;
    assert_eq!((status, policy["liveness"].as_str()), (200, Some("active")), "{policy}");
    let (status, body) =
        api.admin(Method::PUT, "/v1/admin/fleets/fleet-act/policy", &admin, Some(json!({"liveness": "blink"}))).await;
    assert_eq!((status, code_of(&body)), (422, "invalid_body"), "an unknown method is refused");
    let token = d.checkin(before["nonce"].as_str().unwrap(), "b", Outcome::Match);
    let (_, body) = api.post("/v1/checkins", json!({"token": token})).await;
    assert_eq!(body["verdict"], "accepted", "{body}");

    // Active asked, passive ran: refused, and a person is told.
    let (_, body) = ask(&d).await;
    assert_eq!(body["liveness"], "active");
    let token = d.checkin(body["nonce"].as_str().unwrap(), "b", Outcome::Match);
    let (_, body) = api.post("/v1/checkins", json!({"token": token})).await;
    assert_eq!((body["verdict"].as_str(), body["reason"].as_str()), (Some("refused"), Some("liveness_method")));
    let (_, reviews) = api.admin(Method::GET, "/v1/admin/reviews", &admin, None).await;
    let review = reviews.as_array().unwrap().iter().find(|r| r["kind"] == "liveness_method").expect("a review");
    assert_eq!(review["driver"], "driver-7");

    // Active asked, active ran: accepted, and the method is recorded.
    let (_, body) = ask(&d).await;
    let mut claims = d.claims(body["nonce"].as_str().unwrap(), "b", Outcome::Match);
    claims.liveness_method = LivenessMethod::Active;
    let (_, body) = api.post("/v1/checkins", json!({"token": d.key.sign(&claims)})).await;
    assert_eq!(body["verdict"], "accepted", "{body}");
    let (_, rows) = api.admin(Method::GET, "/v1/admin/checkins?driver=driver-7", &admin, None).await;
    let methods: Vec<_> = rows.as_array().unwrap().iter().map(|r| r["liveness_method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["active", "passive", "passive"], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_that_requires_the_active_challenge_refuses_a_passive_match() {
    each_backend!(liveness_policy);
}

/// A challenge seals the key's state when it is issued (its public key and counter); a check-in answering it is still
/// decided on the key, the driver's failed attempts and the fleet's limit as they are when the check-in arrives.
async fn sealed_state(api: Api, server: &TestServer) {
    let admin = server.admin_token().await.unwrap();
    let mut d = enrolled(&api, server, "fleet-seal", "driver-8").await;
    let post = |token: String| api.post("/v1/checkins", json!({"token": token}));
    let verdict = |body: &serde_json::Value| (body["verdict"].as_str().map(str::to_owned), body["reason"].clone());

    // Two challenges sealed with the same counter: the second check-in is decided after the first moved it.
    let (n1, n2) = (challenge(&api, &d, "b").await, challenge(&api, &d, "b").await);
    let sealed = || server.service().checkins_on_sealed_state();
    let before = sealed();
    let t1 = d.checkin(&n1, "b", Outcome::Match);
    let (_, first) = post(t1.clone()).await;
    assert_eq!(first["verdict"], "accepted", "{first}");
    assert_eq!(sealed(), before + 1, "decided without a read");
    let (_, body) = post(d.checkin(&n2, "b", Outcome::Match)).await;
    assert_eq!((body["verdict"].as_str(), body["counter_gap"].as_i64()), (Some("accepted"), Some(0)), "{body}");
    assert_eq!(sealed(), before + 1, "the counter moved since n2 was sealed: decided on a fresh read");
    // The first token again gets its stored answer; another token on its nonce is refused.
    let (status, again) = post(t1).await;
    assert_eq!((status, &again), (200, &first));
    let (status, body) = post(d.checkin(&n1, "b", Outcome::Match)).await;
    assert_eq!((status, code_of(&body)), (409, "challenge_used"), "{body}");
    d.counter -= 1; // that token was never recorded
    assert_eq!(sealed(), before + 1);

    // One failure on record, then the fleet lowers its limit to 1 after the challenge was issued: the match goes to
    // a person, as under the new limit (the limit is counted when the match is stored).
    check_in(&api, &mut d, "b", Outcome::NoMatch).await;
    assert_eq!(sealed(), before + 2, "a failure is recorded on the sealed state too");
    let n3 = challenge(&api, &d, "b").await;
    let (status, policy) = api
        .admin(Method::PUT, "/v1/admin/fleets/fleet-seal/policy", &admin, Some(json!({"failed_attempt_limit": 1})))
        .await;
    assert_eq!(status, 200, "{policy}");
    let (_, body) = post(d.checkin(&n3, "b", Outcome::Match)).await;
    assert_eq!(verdict(&body), (Some("review".into()), json!("attempt_limit")), "{body}");
    // At the limit, a match after counter values the fleet never saw: the limit's review, as on a fresh read, and
    // the gap's.
    let n3b = challenge(&api, &d, "b").await;
    d.counter += 2;
    let (_, body) = post(d.checkin(&n3b, "b", Outcome::Match)).await;
    assert_eq!(verdict(&body), (Some("review".into()), json!("attempt_limit")), "{body}");
    assert_eq!(body["counter_gap"], 2, "{body}");

    // Sealed over the limit, cleared by a person before the check-in arrives: accepted, as after the clearance.
    let n4 = challenge(&api, &d, "b").await;
    let (_, reviews) = api.admin(Method::GET, "/v1/admin/reviews", &admin, None).await;
    let review = reviews.as_array().unwrap().iter().find(|r| r["kind"] == "attempt_limit").unwrap().clone();
    let (status, body) =
        api.resolve_review(&admin, review["id"].as_str().unwrap(), "cleared", "checked in person").await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = post(d.checkin(&n4, "b", Outcome::Match)).await;
    assert_eq!(body["verdict"], "accepted", "{body}");
    assert_eq!(sealed(), before + 3, "the two matches at the limit were decided on a fresh read, this one was not");

    // Sealed while active, revoked before the check-in arrives: refused, nothing recorded.
    let n5 = challenge(&api, &d, "b").await;
    let (status, _) = api.admin(Method::POST, &format!("/v1/admin/keys/{}/revoke", d.kid()), &admin, None).await;
    assert_eq!(status, 200);
    let (status, body) = post(d.checkin(&n5, "b", Outcome::Match)).await;
    assert_eq!((status, code_of(&body)), (403, "key_not_active"), "{body}");
    let (_, rows) = api.admin(Method::GET, "/v1/admin/checkins?driver=driver-8", &admin, None).await;
    assert_eq!(rows.as_array().unwrap().len(), 6, "{rows}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_is_decided_on_the_key_as_it_is_when_it_arrives() {
    each_backend!(sealed_state);
}

/// Even with the challenge key (it is in the database), a nonce sealing another public key for a driver's key id does
/// not make a token signed by that other key count: the write checks the key row it decided on.
async fn leaked_challenge_key(api: Api, server: &TestServer) {
    use base64::Engine as _;
    use ring::signature::{Ed25519KeyPair, KeyPair as _};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut victim = enrolled(&api, server, "fleet-leak", "driver-9").await;
    let rng = ring::rand::SystemRandom::new();
    let other = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
    let binding = Binding { kid: victim.key.key_id(), fleet: "fleet-leak", driver: "driver-9", block: "b" };
    let sealed = SealedKeyState { public_key: other.public_key().as_ref().try_into().unwrap(), last_counter: 0 };
    let nonce = server.service().challenge_key.issue(&binding, LivenessMethod::Passive, now() as i64 + 600, &sealed);
    // The victim's header and claims, signed by the other key.
    let genuine = victim.checkin(&nonce, "b", Outcome::Match);
    let signed = genuine.rsplit_once('.').unwrap().0;
    let forged = format!("{signed}.{}", b64.encode(other.sign(signed.as_bytes()).as_ref()));
    let (status, body) = api.post("/v1/checkins", json!({"token": forged})).await;
    assert_eq!((status, code_of(&body)), (400, "token_invalid"), "{body}");
    assert_eq!(server.service().checkins_on_sealed_state(), 0);
    // The victim's own token on that nonce still counts, decided on a fresh read of the victim's key.
    let (status, body) = api.post("/v1/checkins", json!({"token": genuine})).await;
    assert_eq!((status, body["verdict"].as_str()), (200, Some("accepted")), "{body}");
    assert_eq!(server.service().checkins_on_sealed_state(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonce_sealing_another_key_does_not_make_its_tokens_count() {
    each_backend!(leaked_challenge_key);
}

async fn challenge_binding(api: Api, server: &TestServer) {
    let mut a = enrolled(&api, server, FLEET, "driver-a").await;
    let mut b = enrolled(&api, server, FLEET, "driver-b").await;
    // Another block than the challenge's.
    let nonce = challenge(&api, &a, "block-1").await;
    let (status, body) = api.post("/v1/checkins", json!({"token": a.checkin(&nonce, "block-2", Outcome::Match)})).await;
    assert_eq!((status, code_of(&body)), (403, "challenge_mismatch"), "{body}");
    // Another key's challenge.
    let (status, body) = api.post("/v1/checkins", json!({"token": b.checkin(&nonce, "block-1", Outcome::Match)})).await;
    assert_eq!((status, code_of(&body)), (403, "challenge_mismatch"), "{body}");
    // A nonce the fleet never issued.
    let (status, body) =
        api.post("/v1/checkins", json!({"token": a.checkin("made-up", "block-1", Outcome::Match)})).await;
    assert_eq!((status, code_of(&body)), (404, "challenge_unknown"), "{body}");
    // Expired: sealed by the service for this key and block, but with an expiry that has passed.
    let binding = Binding { kid: a.key.key_id(), fleet: FLEET, driver: "driver-a", block: "block-3" };
    let sealed = SealedKeyState { public_key: [0; 32], last_counter: 0 };
    let nonce = server.service().challenge_key.issue(&binding, LivenessMethod::Passive, now() as i64 - 1, &sealed);
    let (status, body) = api.post("/v1/checkins", json!({"token": a.checkin(&nonce, "block-3", Outcome::Match)})).await;
    assert_eq!((status, code_of(&body)), (410, "challenge_expired"), "{body}");
    // Stale token on a live challenge.
    let nonce = challenge(&api, &a, "block-4").await;
    let mut claims = a.claims(&nonce, "block-4", Outcome::Match);
    claims.issued_at = now() - 3600;
    let (status, body) = api.post("/v1/checkins", json!({"token": a.key.sign(&claims)})).await;
    assert_eq!((status, code_of(&body)), (403, "stale"), "{body}");
    // A forged signature.
    a.counter = 0;
    let token = a.checkin(&nonce, "block-4", Outcome::Match);
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = api.post("/v1/checkins", json!({"token": forged})).await;
    assert_eq!((status, code_of(&body)), (400, "token_invalid"), "{body}");
    // The genuine one still works: nothing above consumed the nonce.
    let (status, body) = api.post("/v1/checkins", json!({"token": token})).await;
    assert_eq!((status, body["verdict"].as_str()), (200, Some("accepted")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_bind_key_driver_block_and_expiry() {
    each_backend!(challenge_binding);
}

async fn erasure(api: Api, server: &TestServer) {
    let mut d = enrolled(&api, server, FLEET, "driver-e").await;
    check_in(&api, &mut d, "b", Outcome::Match).await;
    // Older than 30 days: refused. Ten days old (offline erasure): accepted.
    let old = d.receipt(now() - 31 * 86_400);
    let (status, body) = api.post("/v1/erasures", json!({"receipt": old})).await;
    assert_eq!((status, code_of(&body)), (403, "stale"), "{body}");
    let receipt = d.receipt(now() - 10 * 86_400);
    let (status, body) = api.post("/v1/erasures", json!({"receipt": receipt})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "erased");
    let ev = api.evidence(&body["evidence"], FLEET, &receipt, "erased");
    assert_eq!(ev.claims().kind, EvidenceKind::Erasure);
    let (status, again) = api.post("/v1/erasures", json!({"receipt": receipt})).await;
    assert_eq!((status, &again), (200, &body));
    // Every later statement of the key is refused.
    let (status, body) = api.post("/v1/challenges", json!({"kid": d.kid(), "block": "b"})).await;
    assert_eq!((status, code_of(&body)), (403, "key_not_active"), "{body}");
    let (status, body) = api.post("/v1/erasures", json!({"receipt": d.receipt(now())})).await;
    assert_eq!((status, code_of(&body)), (403, "key_not_active"), "{body}");
    // A receipt is not a check-in.
    let mut e = enrolled(&api, server, FLEET, "driver-f").await;
    let nonce = challenge(&api, &e, "b").await;
    let mut claims = e.claims(&nonce, "b", Outcome::Erased);
    claims.liveness_passed = false;
    let (status, body) = api.post("/v1/checkins", json!({"token": e.key.sign(&claims)})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_is_final() {
    each_backend!(erasure);
}

async fn driver_review(api: Api, server: &TestServer) {
    let mut d = enrolled(&api, server, FLEET, "driver-r").await;
    let (_, _, token) = check_in(&api, &mut d, "b", Outcome::NoMatch).await;
    let request = d.review(&statement_hash(&token), ReviewReason::NoMatch);
    let (status, body) = api.post("/v1/reviews", json!({"request": request})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["review_id"].as_str().unwrap().to_owned();
    let ev = api.evidence(&body["evidence"], FLEET, &request, "received");
    assert_eq!(ev.claims().kind, EvidenceKind::Review);
    let (status, again) = api.post("/v1/reviews", json!({"request": request})).await;
    assert_eq!((status, &again), (201, &body));
    // A request signed by another fleet's idea of the driver is refused.
    let stranger = Device::new(FLEET, "driver-r");
    let (status, body) = api.post("/v1/reviews", json!({"request": stranger.review("", ReviewReason::Other)})).await;
    assert_eq!((status, code_of(&body)), (403, "key_unknown"), "{body}");

    let (status, state) = api.get(&format!("/v1/reviews/{id}")).await;
    assert_eq!((status, state["status"].as_str()), (200, Some("open")));
    let admin = server.admin_token().await.unwrap();
    let (status, _) = api.resolve_review(&admin, &id, "upheld", "photo on file does not match").await;
    assert_eq!(status, 200);
    let (_, state) = api.get(&format!("/v1/reviews/{id}")).await;
    assert_eq!(state["status"], "resolved");
    assert_eq!(state["resolution"], "upheld");
    api.evidence(&state["evidence"], FLEET, &request, "upheld");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_ask_for_a_person_and_get_signed_answers() {
    each_backend!(driver_review);
}

/// The reviews a check-in opened are the driver's to follow too: listed under the check-in's id, each with the
/// fleet's signed resolution once a person resolved it.
async fn checkin_reviews(api: Api, server: &TestServer) {
    let mut d = enrolled(&api, server, FLEET, "driver-cr").await;
    let (_, matched, _) = check_in(&api, &mut d, "b1", Outcome::Match).await;
    let (_, missed, token) = check_in(&api, &mut d, "b2", Outcome::NoMatch).await;
    assert_eq!(missed["verdict"], "review", "{missed}");
    let reviews_of =
        |answer: &serde_json::Value| format!("/v1/checkins/{}/reviews", answer["checkin_id"].as_str().unwrap());

    let (status, list) = api.get(&reviews_of(&matched)).await;
    assert_eq!((status, &list["reviews"]), (200, &json!([])), "an accepted match opens none");
    let (status, list) = api.get("/v1/checkins/no-such-checkin/reviews").await;
    assert_eq!((status, &list["reviews"]), (200, &json!([])));
    let (status, list) = api.get(&reviews_of(&missed)).await;
    assert_eq!(status, 200, "{list}");
    let open = list["reviews"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{list}");
    assert_eq!((open[0]["kind"].as_str(), open[0]["status"].as_str()), (Some("no_match"), Some("open")));
    assert_eq!(open[0]["evidence"], serde_json::Value::Null);

    let admin = server.admin_token().await.unwrap();
    let id = open[0]["review_id"].as_str().unwrap();
    let (status, _) = api.resolve_review(&admin, id, "cleared", "the driver's new haircut; checked in person").await;
    assert_eq!(status, 200);
    let (_, list) = api.get(&reviews_of(&missed)).await;
    let resolved = &list["reviews"][0];
    assert_eq!((resolved["status"].as_str(), resolved["resolution"].as_str()), (Some("resolved"), Some("cleared")));
    assert_eq!(resolved.get("note"), None, "the admin's note stays with the fleet: {resolved}");
    let ev = api.evidence(&resolved["evidence"], FLEET, &token, "cleared");
    assert_eq!(ev.claims().kind, EvidenceKind::ReviewResolution);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_follow_the_reviews_their_check_ins_opened() {
    each_backend!(checkin_reviews);
}

async fn same_token_in_parallel(api: Api, server: &TestServer) {
    let mut d = enrolled(&api, server, FLEET, "driver-p").await;
    let nonce = challenge(&api, &d, "b").await;
    let token = d.checkin(&nonce, "b", Outcome::Match);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let api = api.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move { api.post("/v1/checkins", json!({"token": token})).await }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].1, "every submission gets the one stored answer");
    }
    // And 20 different tokens on one nonce: one accepted, the rest refused.
    let nonce = challenge(&api, &d, "b").await;
    let tokens: Vec<String> = (0..20).map(|_| d.checkin(&nonce, "b", Outcome::Match)).collect();
    let mut tasks = Vec::new();
    for token in tokens {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.post("/v1/checkins", json!({"token": token})).await }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            409 | 403 => assert!(["challenge_used", "counter_replayed"].contains(&code_of(&body)), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    let admin = server.admin_token().await.unwrap();
    let (_, rows) = api.admin(Method::GET, "/v1/admin/checkins?driver=driver-p", &admin, None).await;
    assert_eq!(rows.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_token_sent_50_times_in_parallel_is_accepted_once() {
    each_backend!(same_token_in_parallel);
}

/// Sends `body` to `path` 20 times at once; every answer must be `status` and the same.
async fn all_same(api: &Api, path: &str, body: serde_json::Value, status: u16) -> serde_json::Value {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (api, path, body) = (api.clone(), path.to_owned(), body.clone());
            tokio::spawn(async move { api.post(&path, body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for (s, b) in &answers {
        assert_eq!(*s, status, "{b}");
        assert_eq!(b, &answers[0].1);
    }
    answers[0].1.clone()
}

async fn same_statements_in_parallel(api: Api, server: &TestServer) {
    let code = server.enrollment_code(FLEET, "driver-q").await.unwrap();
    let mut d = Device::new(FLEET, "driver-q");
    let answer = all_same(&api, "/v1/registrations", json!({"statement": d.registration(Some(&code))}), 201).await;
    assert_eq!(answer["kid"], d.kid());
    let receipt = d.receipt(now());
    all_same(&api, "/v1/erasures", json!({"receipt": receipt}), 200).await;
    let admin = server.admin_token().await.unwrap();
    let (_, devices) = api.admin(Method::GET, "/v1/admin/devices", &admin, None).await;
    assert_eq!(devices.as_array().unwrap().len(), 1);
    assert_eq!(devices[0]["status"], "erased");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_registrations_and_erasures_in_parallel_get_one_answer() {
    each_backend!(same_statements_in_parallel);
}

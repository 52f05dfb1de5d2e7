//! The service's log, at its most verbose, carries ids and outcomes and none of the secrets that pass through it:
//! not an enrollment code, an admin token, a statement (or its signature), nor the fleet's evidence.

mod ops;

use facecheck_attest::Outcome;
use ops::{client, post_json, runtime, Db, Device, Server};
use serde_json::json;

/// The third part of a compact JWS: its signature.
fn signature(jws: &str) -> &str {
    jws.rsplit('.').next().unwrap()
}

#[test]
fn the_log_at_debug_level_holds_no_code_token_statement_or_evidence() {
    let db = Db::sqlite();
    let server = Server::start_logging(&db.url, db.dir.path(), &[], "debug");
    let admin = db.admin_token();
    let code = db.enrollment_code("fleet-log", "driver-log");
    let rt = runtime();
    let http = client();
    let mut secrets: Vec<(String, String)> =
        vec![("enrollment code".into(), code.clone()), ("admin token".into(), admin.clone())];
    rt.block_on(async {
        let mut device = Device::new("fleet-log", "driver-log");
        let (_, registered) = device.register_with_code(&http, &server, &code).await;
        secrets.push(("registration statement".into(), device.registration.clone()));
        secrets.push(("registration evidence".into(), registered["evidence"].as_str().unwrap().to_owned()));
        for outcome in [Outcome::Match, Outcome::NoMatch] {
            let (status, answer, token) = device.check_in(&http, &server, "block-log", outcome).await;
            assert_eq!(status, 200, "{answer}");
            secrets.push(("check-in token".into(), token));
            secrets.push(("check-in evidence".into(), answer["evidence"].as_str().unwrap().to_owned()));
        }
        let reviews: serde_json::Value =
            http.get(server.url("/v1/admin/reviews")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
        let id = reviews[0]["id"].as_str().expect("the no_match's review").to_owned();
        let resolve = server.url(&format!("/v1/admin/reviews/{id}/resolve"));
        let resolved = http
            .post(resolve)
            .bearer_auth(&admin)
            .json(&json!({"resolution": "cleared", "note": "checked in person"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resolved.status(), 200);
        let resolved: serde_json::Value = resolved.json().await.unwrap();
        secrets.push(("resolution evidence".into(), resolved["evidence"].as_str().unwrap().to_owned()));
        // A forged token and a wrong admin token are refused: their contents stay out of the log too.
        let forged = format!("{}x", secrets[4].1);
        let (status, _) = post_json(&http, &server.url("/v1/checkins"), &json!({"token": forged})).await;
        assert!((400..500).contains(&status));
        let wrong = http.get(server.url("/v1/admin/reviews")).bearer_auth("fca_not-a-token-of-this-fleet").send();
        assert_eq!(wrong.await.unwrap().status(), 401);
        secrets.push(("wrong admin token".into(), "fca_not-a-token-of-this-fleet".into()));
    });
    let log = server.log_text();
    drop(server);
    assert!(log.contains("check-in recorded") && log.contains("DEBUG"), "a debug-level log was written: {log}");
    for (what, secret) in &secrets {
        let part = if secret.matches('.').count() == 2 { signature(secret) } else { secret.as_str() };
        assert!(part.len() >= 12, "{what}: {part:?}");
        assert!(!log.contains(part), "the log holds the {what}");
    }
    let normalised = code.replace('-', "");
    assert!(!log.contains(&normalised), "the log holds the enrollment code without its dashes");
}

//! Shared by the fleet integration tests: backends, a device that signs, an HTTP client.
#![allow(dead_code)]

use facecheck_attest::{
    statement_hash, verify_evidence, Claims, CodeBinding, Consent, DeviceKey, ManifestDigest, Outcome,
    RegistrationClaims, ReviewClaims, ReviewReason, VerifiedEvidence,
};
use facecheck_fleet::testing::{fresh_postgres_url, TestServer};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

/// The database URLs every flow runs against: a fresh SQLite file, and a fresh PostgreSQL database when
/// `FACECHECK_TEST_POSTGRES_URL` is set. The tempdir lives as long as the returned guard.
pub async fn backends() -> Vec<(String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = format!("sqlite:{}", dir.path().join("fleet.db").display());
    let mut urls = vec![(sqlite, Some(dir))];
    if let Ok(base) = std::env::var("FACECHECK_TEST_POSTGRES_URL") {
        if !base.is_empty() {
            urls.push((fresh_postgres_url(&base).await.expect("fresh PostgreSQL database"), None));
        }
    }
    urls
}

/// Runs `scenario` once per backend, each on a fresh database and server.
#[macro_export]
macro_rules! each_backend {
    ($scenario:expr) => {{
        for (url, _guard) in support::backends().await {
            eprintln!("backend: {}", url.split(':').next().unwrap_or(""));
            let server = facecheck_fleet::testing::TestServer::start(&url).await.expect("server starts");
            $scenario(support::Api::new(&server), &server).await;
            server.shutdown().await;
        }
    }};
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// A plain HTTP client of one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub fleet_key: [u8; 32],
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Api { base: server.url(), http, fleet_key: server.fleet_public_key() }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// An admin resolves review `id` (`resolution`: `cleared` or `upheld`) with `note`.
    pub async fn resolve_review(&self, token: &str, id: &str, resolution: &str, note: &str) -> (u16, Value) {
        let path = format!("/v1/admin/reviews/{id}/resolve");
        self.admin(reqwest::Method::POST, &path, token, Some(json!({"resolution": resolution, "note": note}))).await
    }

    /// Checks that `evidence` is the fleet's, about `statement`, with this verdict.
    pub fn evidence(&self, evidence: &Value, fleet: &str, statement: &str, verdict: &str) -> VerifiedEvidence {
        let token = evidence.as_str().expect("evidence is a string");
        let verified = verify_evidence(token, &self.fleet_key, fleet).expect("evidence verifies under the fleet key");
        assert_eq!(verified.claims().statement, statement_hash(statement));
        assert_eq!(verified.claims().verdict, verdict);
        verified
    }
}

/// A device: its key, driver, fleet and counter.
pub struct Device {
    pub key: DeviceKey,
    pub driver: String,
    pub fleet: String,
    pub counter: u64,
}

impl Device {
    pub fn new(fleet: &str, driver: &str) -> Device {
        let (key, _) = DeviceKey::generate(&SystemRandom::new()).expect("key");
        Device { key, driver: driver.into(), fleet: fleet.into(), counter: 0 }
    }

    pub fn kid(&self) -> String {
        self.key.key_id().as_str().to_owned()
    }

    pub fn registration(&self, code: Option<&str>) -> String {
        self.registration_with(
            code,
            Some(Consent { notice: "facecheck-consent-v2".into(), accepted_at: now() - 5 }),
            now(),
        )
    }

    pub fn registration_with(&self, code: Option<&str>, consent: Option<Consent>, iat: u64) -> String {
        self.key.sign_registration(&RegistrationClaims {
            driver: self.driver.clone(),
            fleet: self.fleet.clone(),
            model_manifest: ManifestDigest::of_manifest(b"manifest"),
            issued_at: iat,
            enrollment_code: code.map(CodeBinding::of_code),
            consent,
        })
    }

    pub fn claims(&mut self, nonce: &str, block: &str, outcome: Outcome) -> Claims {
        self.counter += 1;
        Claims {
            driver: self.driver.clone(),
            fleet: self.fleet.clone(),
            block: block.into(),
            nonce: nonce.into(),
            issued_at: now(),
            counter: self.counter,
            outcome,
            liveness_passed: outcome == Outcome::Match,
            liveness_method: facecheck_attest::LivenessMethod::Passive,
            attempts: 1,
            model_manifest: ManifestDigest::of_manifest(b"manifest"),
            policy: "fmr-1e-4".into(),
            version: "0.1.0".into(),
        }
    }

    pub fn checkin(&mut self, nonce: &str, block: &str, outcome: Outcome) -> String {
        let claims = self.claims(nonce, block, outcome);
        self.key.sign(&claims)
    }

    pub fn receipt(&mut self, iat: u64) -> String {
        let mut claims = self.claims("erasure", "erasure", Outcome::Erased);
        claims.issued_at = iat;
        claims.liveness_passed = false;
        claims.attempts = 0;
        self.key.sign(&claims)
    }

    pub fn review(&self, about: &str, reason: ReviewReason) -> String {
        self.key.sign_review(&ReviewClaims {
            driver: self.driver.clone(),
            fleet: self.fleet.clone(),
            issued_at: now(),
            request_id: ReviewClaims::new_request_id(&SystemRandom::new()).expect("rid"),
            about: about.into(),
            reason,
        })
    }
}

/// Enrolls a new device for `driver` of `fleet` through the API (code from the server), returns it.
pub async fn enrolled(api: &Api, server: &TestServer, fleet: &str, driver: &str) -> Device {
    let code = server.enrollment_code(fleet, driver).await.expect("code");
    let device = Device::new(fleet, driver);
    let (status, body) = api.post("/v1/registrations", json!({"statement": device.registration(Some(&code))})).await;
    assert_eq!(status, 201, "{body}");
    device
}

/// Asks for a challenge for `block`; returns the nonce.
pub async fn challenge(api: &Api, device: &Device, block: &str) -> String {
    let (status, body) = api.post("/v1/challenges", json!({"kid": device.kid(), "block": block})).await;
    assert_eq!(status, 201, "{body}");
    body["nonce"].as_str().expect("nonce").to_owned()
}

/// A full check-in with `outcome`; returns (status, body, token).
pub async fn check_in(api: &Api, device: &mut Device, block: &str, outcome: Outcome) -> (u16, Value, String) {
    let nonce = challenge(api, device, block).await;
    let token = device.checkin(&nonce, block, outcome);
    let (status, body) = api.post("/v1/checkins", json!({"token": token})).await;
    (status, body, token)
}

pub fn code_of(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

//! The fleet service's device API (`crates/facecheck-fleet`, `/v1/...`) as the `--server` forms of `enroll`,
//! `checkin` and `erase` use it: a small blocking HTTP client with timeouts, and the checks of what the fleet
//! answers (its signed evidence, against the fleet key pinned at enrollment).
//!
//! Only statements cross the wire: the registration statement, check-in attestations and erasure receipts (JWS with
//! ids, a decision and a counter), the key id and block of a challenge request, an enrollment code. No image, crop,
//! embedding, score or distance is ever given to this module.

use facecheck_attest::{statement_hash, verify_evidence, EvidenceKind, VerifiedEvidence};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long one request may take in all (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to the fleet service failed. The texts carry no biometric data (there is none to carry).
#[derive(Debug)]
pub enum ClientError {
    /// The service could not be reached (refused, unknown host, timeout, TLS).
    Unreachable { url: String, why: String },
    /// The service answered with a 4xx or 5xx and its JSON error.
    Refused { status: u16, code: String, message: String },
    /// The answer is not what the protocol says (not JSON, missing fields, evidence that does not verify).
    BadAnswer(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { url, why } => write!(f, "cannot reach the fleet service at {url}: {why}"),
            ClientError::Refused { status, code, message } => {
                write!(f, "the fleet service refused (HTTP {status}, {code}): {message}")
            }
            ClientError::BadAnswer(why) => write!(f, "the fleet service's answer is not acceptable: {why}"),
        }
    }
}

impl From<ClientError> for String {
    fn from(e: ClientError) -> String {
        e.to_string()
    }
}

/// A client for one fleet service.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    sent: AtomicUsize,
}

impl Client {
    /// A client for the service at `base` (`http://` or `https://`; TLS is the reverse proxy's in front of it).
    pub fn new(base: &str) -> Result<Client, String> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.contains(['?', '#', ' ']) {
            return Err(format!("--server must be an http:// or https:// base URL, not {base:?}"));
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("facecheck/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client { base: base.to_owned(), agent: ureq::Agent::new_with_config(config), sent: AtomicUsize::new(0) })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Bytes of request bodies sent so far (what left the device).
    pub fn bytes_sent(&self) -> usize {
        self.sent.load(Ordering::Relaxed)
    }

    /// `GET path`: the JSON answer of a 2xx.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let answer = self.agent.get(&url).header("accept", "application/json").call();
        self.answer(&url, answer)
    }

    /// `POST path` with a JSON body: the JSON answer of a 2xx.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let text = body.to_string();
        self.sent.fetch_add(text.len(), Ordering::Relaxed);
        let answer = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .send(text.as_bytes());
        self.answer(&url, answer)
    }

    fn answer(
        &self,
        url: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut response = answer.map_err(|e| ClientError::Unreachable { url: self.base.clone(), why: why(&e) })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|e| ClientError::Unreachable { url: self.base.clone(), why: why(&e) })?;
        let value: Option<Value> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return value.ok_or_else(|| ClientError::BadAnswer(format!("{url} answered {status} without JSON")));
        }
        let error = value.as_ref().and_then(|v| v.get("error"));
        let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str).map(str::to_owned);
        Err(ClientError::Refused {
            status,
            code: field("code").unwrap_or_else(|| "unknown".to_owned()),
            message: field("message").unwrap_or_else(|| format!("{url} answered {status}")),
        })
    }
}

fn why(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is `facecheck-fleet serve` running there?)".to_owned()
        }
        ureq::Error::ConnectionFailed => {
            "connection refused or failed (is `facecheck-fleet serve` running there?)".into()
        }
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::Timeout(_) => "timed out".to_owned(),
        other => other.to_string(),
    }
}

/// A string field of a JSON answer.
pub fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, ClientError> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| ClientError::BadAnswer(format!("no `{name}` in the answer")))
}

/// An integer field of a JSON answer.
pub fn number(value: &Value, name: &str) -> Result<u64, ClientError> {
    value.get(name).and_then(Value::as_u64).ok_or_else(|| ClientError::BadAnswer(format!("no `{name}` in the answer")))
}

/// The raw public key of a JWK-like `{"kty":"OKP","crv":"Ed25519","x":...}`.
pub fn ed25519_x(jwk: &Value) -> Result<[u8; 32], ClientError> {
    let bad = || ClientError::BadAnswer("the fleet key is not an Ed25519 JWK".to_owned());
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err(bad());
    }
    let x = jwk.get("x").and_then(Value::as_str).ok_or_else(bad)?;
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(x).map_err(|_| bad())?;
    bytes.try_into().map_err(|_| bad())
}

/// The fleet key as base64url, for the pin file.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks the fleet's signed evidence: signed by `fleet_key` for `fleet`, of `kind`, about `driver`, answering
/// exactly `statement` (its hash), with the verdict the answer states.
pub fn check_evidence(
    evidence: &str,
    fleet_key: &[u8; 32],
    fleet: &str,
    driver: &str,
    kind: EvidenceKind,
    statement: &str,
    verdict: &str,
) -> Result<VerifiedEvidence, ClientError> {
    let verified = verify_evidence(evidence, fleet_key, fleet)
        .map_err(|e| ClientError::BadAnswer(format!("the fleet's evidence does not verify against its key: {e}")))?;
    let claims = verified.claims();
    let problem = if claims.kind != kind {
        Some(format!("it answers a {} statement, not a {}", claims.kind.as_str(), kind.as_str()))
    } else if claims.statement != statement_hash(statement) {
        Some("it names another statement than the one sent".to_owned())
    } else if claims.driver != driver {
        Some("it is about another driver".to_owned())
    } else if claims.verdict != verdict {
        Some(format!("it says {}, the answer says {verdict}", claims.verdict))
    } else {
        None
    };
    match problem {
        Some(why) => Err(ClientError::BadAnswer(format!("the fleet's evidence does not match: {why}"))),
        None => Ok(verified),
    }
}

/// `{"statement": ...}` and friends.
pub fn body(name: &str, token: &str) -> Value {
    json!({ name: token })
}

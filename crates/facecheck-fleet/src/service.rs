//! The relying party: what the fleet decides about every signed statement, and what it stores.
//!
//! Each ingest (registration, check-in, erasure, review request) runs in three steps: (1) an identical statement
//! already answered gets its stored answer back; (2) the token is verified by `facecheck_attest` against the one
//! key row it names; (3) in ONE transaction the single-use and monotonic facts are made to hold (the code, the
//! nonce, the counter, the key's status), the answer is stored and the facts are consumed. Registrations, erasures
//! and review requests re-check them under lock; a check-in, the one ingest that has to be fast, writes only if the
//! key's counter and status are still those it was decided on (and, for an accepted match, only if the driver is
//! under the fleet's attempt limit then), with the nonce and the token each recorded once by a unique column. A
//! constraint violation or a changed key from a concurrent writer rolls the transaction back and the request is
//! decided again from (1). A check-in is first decided without a read, on the key's state sealed in its challenge
//! (`Service::checkin_on_sealed_state`): the same write conditions make that decision stand only if it is the one
//! the current state gives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use facecheck_attest::{
    peek_key_id, statement_hash, verify_attestation, verify_erasure_receipt, verify_registration, verify_review,
    DeviceStatus, ErasureExpectations, EvidenceClaims, EvidenceKind, Expectations, FleetKey, KeyId, KnownDevice,
    LivenessMethod, Outcome, RegistrationError, RegistrationExpectations, ReviewExpectations, VerifyError,
    DEFAULT_SKEW_SECS, MAX_TOKEN_LEN,
};
use serde_json::{json, Value};

use crate::args;
use crate::challenge::{Binding, ChallengeKey, ChallengeRefusal, SealedKeyState};
use crate::codes;
use crate::db::{Backend, Db, DbError, Row, Tx};
use crate::error::ApiError;
use crate::util::{self, now};

/// The consent notice version the service names in enrollment-code lookups.
pub const DEFAULT_CONSENT_NOTICE: &str = "facecheck-consent-v2";

/// How old a driver's review request may be (written offline, sent later): 30 days.
pub const REVIEW_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// How many times a transaction is retried after a concurrent writer's constraint violation.
const RETRIES: usize = 4;

/// How many times a check-in is decided again after another request recorded something for its key first. Each
/// retry follows another request's success, so this bounds the check-ins of one key in flight at once, far above
/// what one phone sends.
const CHECKIN_RETRIES: usize = 64;

/// Service settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The base URL devices reach this service at (put in the QR payload).
    pub public_url: String,
    /// The freshness window of check-ins and registrations, in seconds.
    pub skew_secs: u64,
    /// The consent notice version devices must have accepted.
    pub consent_notice: String,
    /// Whether the session cookie is marked `Secure` (behind a TLS reverse proxy).
    pub secure_cookies: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            public_url: "http://127.0.0.1:8080".to_owned(),
            skew_secs: DEFAULT_SKEW_SECS,
            consent_notice: DEFAULT_CONSENT_NOTICE.to_owned(),
            secure_cookies: false,
        }
    }
}

/// A fleet's policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// The fleet id.
    pub fleet: String,
    /// Failed attempts (no_match, spoof_suspected) per driver per rolling 24 h before `match` needs a person.
    pub failed_attempt_limit: i64,
    /// Key algorithms the fleet accepts (`ed25519` today; `ecdsa-p256-android` later).
    pub accepted_key_kinds: Vec<String>,
    /// Enrollment code validity, seconds.
    pub code_ttl_secs: i64,
    /// Challenge validity, seconds.
    pub challenge_ttl_secs: i64,
    /// Maximum age of an erasure receipt, seconds.
    pub erasure_max_age_secs: i64,
    /// The liveness check every challenge asks for; a check-in that ran a weaker one is refused
    /// ([`liveness_method_is_enough`]).
    pub liveness: LivenessMethod,
}

/// A change to a fleet's policy: the fields that are `Some` are set, the others kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    /// See [`Policy::failed_attempt_limit`], 1-10,000.
    pub failed_attempt_limit: Option<i64>,
    /// See [`Policy::accepted_key_kinds`], not empty.
    pub accepted_key_kinds: Option<Vec<String>>,
    /// See [`Policy::code_ttl_secs`], 60 s to 30 days.
    pub code_ttl_secs: Option<i64>,
    /// See [`Policy::challenge_ttl_secs`], 30 s to a day.
    pub challenge_ttl_secs: Option<i64>,
    /// See [`Policy::liveness`].
    pub liveness: Option<LivenessMethod>,
}

impl PolicyChange {
    /// Whether the change sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == PolicyChange::default()
    }
}

/// Whether a check-in's liveness method (its `lvm` claim) is what its challenge asked for. The challenge's
/// requirement is the fleet's policy when the challenge was issued, so a policy change does not strand a driver
/// mid-check-in; `active` is accepted where `passive` was asked (it includes the passive check).
pub fn liveness_method_is_enough(asked: LivenessMethod, ran: LivenessMethod) -> bool {
    match asked {
        LivenessMethod::Passive => true,
        LivenessMethod::Active => ran == LivenessMethod::Active,
    }
}

/// The service: the database, the fleet's signing key and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    /// The database.
    pub db: Db,
    /// The fleet's evidence-signing key.
    pub fleet_key: Arc<FleetKey>,
    /// The key that seals challenges.
    pub challenge_key: Arc<ChallengeKey>,
    /// The settings.
    pub config: Arc<Config>,
    /// Check-ins recorded on the state sealed in their challenge, without a read (since start).
    sealed_checkins: Arc<AtomicU64>,
}

/// An answer to a device: status and JSON body.
pub type Answer = (StatusCode, Value);

/// Whether `id` is an acceptable fleet or driver id: 1 to 64 characters of `A-Z a-z 0-9 . _ - : @`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
}

/// Whether `block` is an acceptable block id: 1 to 128 printable ASCII characters.
pub fn is_valid_block(block: &str) -> bool {
    !block.is_empty() && block.len() <= 128 && block.bytes().all(|b| b.is_ascii_graphic())
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads the claims of a compact JWS payload WITHOUT verifying anything: only to find the row the verifier then
/// checks the token against. `None` if the payload is not a JSON object.
fn peek_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else { return None };
    let bytes = util::unb64(payload)?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn token_invalid() -> ApiError {
    ApiError::bad_request("token_invalid", "the token is malformed or its signature does not verify")
}

fn check_len(token: &str) -> Result<(), ApiError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(token_invalid());
    }
    Ok(())
}

/// The refusal for a failed check of an attestation-format token.
fn refusal(e: &VerifyError) -> ApiError {
    use VerifyError as E;
    match e {
        E::UnknownKey { .. } => ApiError::forbidden("key_unknown", "the device key is not registered"),
        E::RevokedKey { .. } | E::ErasedKey { .. } => {
            ApiError::forbidden("key_not_active", "the device key is revoked or erased")
        }
        E::DriverMismatch { .. }
        | E::AudienceMismatch { .. }
        | E::DeviceNotInFleet { .. }
        | E::BlockMismatch { .. }
        | E::NonceMismatch { .. } => {
            ApiError::forbidden("challenge_mismatch", "the token does not answer this key's challenge")
        }
        E::Stale { .. } | E::IssuedInFuture { .. } => {
            ApiError::forbidden("stale", "the token's issue time is outside the accepted window")
        }
        E::CounterNotIncreasing { .. } => {
            ApiError::forbidden("counter_replayed", "the counter is not above the last one accepted from this key")
        }
        _ => token_invalid(),
    }
}

/// A device key row.
struct KeyRow {
    kid: KeyId,
    fleet: String,
    driver: String,
    algorithm: String,
    public_key: [u8; 32],
    status: String,
    last_counter: i64,
}

impl KeyRow {
    fn from_row(row: &Row) -> Option<KeyRow> {
        let public_key: [u8; 32] = util::unb64(&row.str("public_key"))?.try_into().ok()?;
        Some(KeyRow {
            kid: KeyId::parse(&row.str("kid")).ok()?,
            fleet: row.str("fleet"),
            driver: row.str("driver"),
            algorithm: row.str("algorithm"),
            public_key,
            status: row.str("status"),
            last_counter: row.i64("last_counter"),
        })
    }

    fn known(&self) -> (KeyId, KnownDevice) {
        let status = match self.status.as_str() {
            "active" => DeviceStatus::Active,
            "erased" => DeviceStatus::Erased,
            _ => DeviceStatus::Revoked,
        };
        (
            self.kid.clone(),
            KnownDevice { public_key: self.public_key, driver: self.driver.clone(), fleet: self.fleet.clone(), status },
        )
    }
}

/// Failed attempts per driver per rolling day before a match needs a person, for a fleet that set none (the
/// schema's default too).
const DEFAULT_FAILED_ATTEMPT_LIMIT: i64 = 10;

/// The rolling window of the attempt limit: a day.
const ATTEMPT_WINDOW_SECS: i64 = 86_400;

/// SQL: the failed attempts (no_match, spoof_suspected) of the driver of the `device_keys` row `k` received after
/// the placeholder `$since` and since an admin last cleared them. Counted on the partial index of failures.
macro_rules! failures_since {
    ($since:literal) => {
        concat!(
            "(SELECT COUNT(*) FROM checkins c WHERE c.fleet = k.fleet AND c.driver = k.driver \
             AND c.outcome IN ('no_match', 'spoof_suspected') AND c.received_at > ",
            $since,
            " AND c.received_at > COALESCE((SELECT d.attempts_cleared_at FROM drivers d \
             WHERE d.fleet = k.fleet AND d.id = k.driver), 0))"
        )
    };
}

/// SQL: the attempt limit of the fleet of the `device_keys` row `k`, the placeholder `$default` without a `fleets`
/// row.
macro_rules! attempt_limit {
    ($default:literal) => {
        concat!("COALESCE((SELECT f.failed_attempt_limit FROM fleets f WHERE f.id = k.fleet), ", $default, ")")
    };
}

const KEY_COLUMNS: &str = "kid, fleet, driver, algorithm, public_key, status, last_counter";

/// [`KEY_COLUMNS`] of the table named `alias` in a join.
fn key_columns(alias: &str) -> String {
    KEY_COLUMNS.split(", ").map(|column| format!("{alias}.{column}")).collect::<Vec<_>>().join(", ")
}

impl Service {
    /// Opens the service on a migrated database: loads the fleet key, making it on first start.
    pub async fn new(db: Db, config: Config) -> Result<Service, DbError> {
        let fleet_key = load_or_create_fleet_key(&db).await?;
        let challenge_key = load_or_create_challenge_key(&db).await?;
        Ok(Service {
            db,
            fleet_key: Arc::new(fleet_key),
            challenge_key: Arc::new(challenge_key),
            config: Arc::new(config),
            sealed_checkins: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many check-ins this process recorded on the state sealed in their challenge, without reading the key
    /// ([`Service::checkin_on_sealed_state`]); the others were decided on a fresh read.
    pub fn checkins_on_sealed_state(&self) -> u64 {
        self.sealed_checkins.load(Ordering::Relaxed)
    }

    /// The fleet key's public key as base64url (the QR payload's `fk`, the JWK's `x`).
    pub fn fleet_key_x(&self) -> String {
        util::b64(&self.fleet_key.public_key())
    }

    /// `GET /v1/fleet-key`.
    pub fn fleet_key_json(&self) -> Value {
        json!({
            "kid": self.fleet_key.key_id().as_str(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": self.fleet_key_x(), "kid": self.fleet_key.key_id().as_str(),
                    "use": "sig", "alg": "EdDSA"},
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn evidence(
        &self,
        fleet: &str,
        driver: &str,
        kind: EvidenceKind,
        statement: &str,
        verdict: &str,
        reason: &str,
        at: i64,
    ) -> Result<String, ApiError> {
        let claims = EvidenceClaims {
            fleet: fleet.to_owned(),
            driver: driver.to_owned(),
            kind,
            statement: statement.to_owned(),
            verdict: verdict.to_owned(),
            reason: reason.to_owned(),
            issued_at: u(at),
        };
        self.fleet_key.sign_evidence(&claims).map_err(|_| {
            tracing::error!(kind = kind.as_str(), "evidence claims not well formed");
            ApiError::internal()
        })
    }

    // ----------------------------------------------------------------------------------------------------------
    // Policy

    /// The fleet's policy (the defaults if the fleet has no row yet).
    pub async fn policy(&self, fleet: &str) -> Result<Policy, DbError> {
        let row = self.db.row("SELECT * FROM fleets WHERE id = $1", args![fleet]).await?;
        Ok(policy_of(fleet, row.as_ref()))
    }

    /// Changes a fleet's policy (creating its row), with an audit entry.
    pub async fn set_policy(&self, actor: &str, fleet: &str, change: &PolicyChange) -> Result<Policy, ApiError> {
        let PolicyChange { failed_attempt_limit, accepted_key_kinds, code_ttl_secs, challenge_ttl_secs, liveness } =
            change.clone();
        if !is_valid_id(fleet) {
            return Err(ApiError::bad_request("invalid_id", "fleet ids are 1-64 characters of A-Z a-z 0-9 . _ - : @"));
        }
        if failed_attempt_limit.is_some_and(|n| !(1..=10_000).contains(&n))
            || code_ttl_secs.is_some_and(|n| !(60..=30 * 86_400).contains(&n))
            || challenge_ttl_secs.is_some_and(|n| !(30..=86_400).contains(&n))
        {
            return Err(ApiError::bad_request("invalid_policy", "a policy value is out of range"));
        }
        if let Some(kinds) = &accepted_key_kinds {
            if kinds.is_empty() || kinds.iter().any(|k| !is_valid_id(k)) {
                return Err(ApiError::bad_request("invalid_policy", "accepted key kinds must be a non-empty list"));
            }
        }
        let now = now();
        let mut tx = self.db.begin().await?;
        ensure_fleet(&mut tx, fleet, now).await?;
        if let Some(n) = failed_attempt_limit {
            tx.exec("UPDATE fleets SET failed_attempt_limit = $1 WHERE id = $2", args![n, fleet]).await?;
        }
        if let Some(kinds) = &accepted_key_kinds {
            tx.exec("UPDATE fleets SET accepted_key_kinds = $1 WHERE id = $2", args![kinds.join(","), fleet]).await?;
        }
        if let Some(n) = code_ttl_secs {
            tx.exec("UPDATE fleets SET code_ttl_secs = $1 WHERE id = $2", args![n, fleet]).await?;
        }
        if let Some(n) = challenge_ttl_secs {
            tx.exec("UPDATE fleets SET challenge_ttl_secs = $1 WHERE id = $2", args![n, fleet]).await?;
        }
        if let Some(method) = liveness {
            tx.exec("UPDATE fleets SET liveness_required = $1 WHERE id = $2", args![method.as_str(), fleet]).await?;
        }
        let row = tx.row("SELECT * FROM fleets WHERE id = $1", args![fleet]).await?.ok_or_else(ApiError::internal)?;
        let policy = policy_of(fleet, Some(&row));
        let detail = serde_json::to_string(&policy).unwrap_or_default();
        audit(&mut tx, actor, "policy_changed", Some(fleet), None, None, &detail, now).await?;
        tx.commit().await?;
        tracing::info!(fleet, "fleet policy changed");
        Ok(policy)
    }

    // ----------------------------------------------------------------------------------------------------------
    // Enrollment codes

    /// Creates an enrollment code for `driver` of `fleet`. Returns (code, expires_at, QR payload).
    pub async fn create_code(
        &self,
        actor: &str,
        fleet: &str,
        driver: &str,
        ttl_secs: Option<i64>,
    ) -> Result<(String, i64, String), ApiError> {
        if !is_valid_id(fleet) || !is_valid_id(driver) {
            return Err(ApiError::bad_request(
                "invalid_id",
                "fleet and driver ids are 1-64 characters of A-Z a-z 0-9 . _ - : @",
            ));
        }
        if ttl_secs.is_some_and(|t| !(60..=30 * 86_400).contains(&t)) {
            return Err(ApiError::bad_request("invalid_ttl", "a code lives between 60 s and 30 days"));
        }
        let now = now();
        let code = codes::generate();
        let mut tx = self.db.begin().await?;
        ensure_fleet(&mut tx, fleet, now).await?;
        ensure_driver(&mut tx, fleet, driver, now).await?;
        let ttl = match ttl_secs {
            Some(t) => t,
            None => tx
                .row("SELECT code_ttl_secs FROM fleets WHERE id = $1", args![fleet])
                .await?
                .map(|r| r.i64("code_ttl_secs"))
                .unwrap_or(86_400),
        };
        let expires_at = now + ttl;
        tx.exec(
            "INSERT INTO enrollment_codes (code_hash, fleet, driver, created_at, expires_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![codes::code_hash(&code), fleet, driver, now, expires_at, actor],
        )
        .await?;
        audit(
            &mut tx,
            actor,
            "code_created",
            Some(fleet),
            Some(driver),
            None,
            &format!("expires_at={expires_at}"),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(fleet, driver, expires_at, "enrollment code created");
        let payload = codes::qr_payload(&self.config.public_url, fleet, driver, &code, &self.fleet_key_x());
        Ok((code, expires_at, payload))
    }

    /// `GET /v1/enrollment-codes/{code}`: one answer (`code_unknown`) for unknown, used and expired codes.
    pub async fn lookup_code(&self, code: &str) -> Result<Answer, ApiError> {
        let unknown = || ApiError::not_found("code_unknown", "no such valid enrollment code");
        if !codes::is_well_formed(code) {
            return Err(unknown());
        }
        let row = self
            .db
            .row(
                "SELECT fleet, driver, expires_at FROM enrollment_codes \
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
                args![codes::code_hash(code), now()],
            )
            .await?
            .ok_or_else(unknown)?;
        Ok((
            StatusCode::OK,
            json!({
                "fleet": row.str("fleet"),
                "driver": row.str("driver"),
                "expires_at": row.i64("expires_at"),
                "fleet_key": {"kty": "OKP", "crv": "Ed25519", "x": self.fleet_key_x()},
                "consent_notice": self.config.consent_notice,
            }),
        ))
    }

    // ----------------------------------------------------------------------------------------------------------
    // Registrations

    /// `POST /v1/registrations`.
    pub async fn register(&self, statement: &str) -> Result<Answer, ApiError> {
        check_len(statement)?;
        let st = statement_hash(statement);
        if let Some(answer) = self.stored_registration(&st).await? {
            return Ok(answer);
        }
        let invalid = || ApiError::bad_request("statement_invalid", "the registration statement does not verify");
        // Which code the statement claims (unverified: only to find the row to verify it against).
        let enc = match peek_claims(statement).ok_or_else(invalid)?.remove("enc") {
            Some(Value::String(enc)) => enc,
            Some(_) => return Err(invalid()),
            None => {
                return Err(ApiError::forbidden("code_required", "the statement is not bound to an enrollment code"))
            }
        };
        let unknown = || ApiError::forbidden("code_unknown", "no such valid enrollment code");
        let code = self
            .db
            .row("SELECT fleet, driver, created_at, expires_at FROM enrollment_codes WHERE code_hash = $1", args![&enc])
            .await?
            .ok_or_else(unknown)?;
        let (fleet, driver) = (code.str("fleet"), code.str("driver"));
        let now = now();
        let policy = self.policy(&fleet).await?;
        if !policy.accepted_key_kinds.iter().any(|k| k == "ed25519") {
            return Err(ApiError::forbidden("key_not_accepted", "the fleet does not accept this kind of key"));
        }
        // An offline statement is accepted while the code is valid, not only within the skew window.
        let max_age = u(now - code.i64("created_at")).saturating_add(self.config.skew_secs);
        let expected = RegistrationExpectations {
            fleet: &fleet,
            driver: Some(&driver),
            now_unix: u(now),
            skew_secs: self.config.skew_secs,
            max_age_secs: max_age,
        };
        let verified = verify_registration(statement, &expected).map_err(|e| match e {
            RegistrationError::AudienceMismatch { .. } | RegistrationError::DriverMismatch { .. } => {
                ApiError::forbidden("code_mismatch", "the enrollment code is for another driver or fleet")
            }
            RegistrationError::Stale { .. } | RegistrationError::IssuedInFuture { .. } => {
                ApiError::forbidden("stale", "the statement's issue time is outside the accepted window")
            }
            RegistrationError::WeakKey(_) | RegistrationError::InvalidJwk => {
                ApiError::forbidden("key_not_accepted", "the public key is not acceptable")
            }
            _ => invalid(),
        })?;
        let claims = verified.claims();
        if claims.enrollment_code.as_ref().map(|c| c.as_str()) != Some(enc.as_str()) {
            return Err(ApiError::forbidden("code_required", "the statement is not bound to an enrollment code"));
        }
        let consent = claims
            .consent
            .clone()
            .ok_or_else(|| ApiError::forbidden("consent_required", "the statement carries no consent record"))?;
        // The driver must have accepted the notice this fleet shows now, and before signing the statement.
        if consent.notice != self.config.consent_notice || consent.accepted_at > claims.issued_at {
            return Err(ApiError::forbidden(
                "consent_outdated",
                "the consent record is not an acceptance of the fleet's current notice before the statement",
            ));
        }
        let kid = verified.key_id().clone();
        let evidence = self.evidence(&fleet, &driver, EvidenceKind::Registration, &st, "accepted", "", now)?;
        let response = json!({
            "kid": kid.as_str(), "driver": &driver, "fleet": &fleet, "status": "active", "evidence": evidence,
        });
        for _ in 0..RETRIES {
            let mut tx = self.db.begin().await?;
            let result = self
                .register_tx(
                    &mut tx,
                    &enc,
                    &st,
                    &kid,
                    verified.public_key(),
                    &fleet,
                    &driver,
                    &consent,
                    claims,
                    &response,
                    now,
                )
                .await;
            match result {
                Ok(Some(answer)) => {
                    tx.commit().await?;
                    return Ok(answer);
                }
                Ok(None) => {
                    tx.commit().await?;
                    tracing::info!(%kid, fleet, driver, "device key registered");
                    return Ok((StatusCode::CREATED, response));
                }
                Err(Tried::Refused(e)) => return Err(e),
                Err(Tried::Db(DbError::Conflict)) => continue,
                Err(Tried::Db(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable())
    }

    async fn stored_registration(&self, st: &str) -> Result<Option<Answer>, DbError> {
        let row = self
            .db
            .row("SELECT registration_response FROM device_keys WHERE registration_hash = $1", args![st])
            .await?;
        Ok(row
            .and_then(|r| serde_json::from_str(&r.str("registration_response")).ok())
            .map(|v| (StatusCode::CREATED, v)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn register_tx(
        &self,
        tx: &mut Tx,
        code_hash: &str,
        st: &str,
        kid: &KeyId,
        public_key: &[u8; 32],
        fleet: &str,
        driver: &str,
        consent: &facecheck_attest::Consent,
        claims: &facecheck_attest::RegistrationClaims,
        response: &Value,
        now: i64,
    ) -> Result<Option<Answer>, Tried> {
        if let Some(row) =
            tx.row("SELECT registration_response FROM device_keys WHERE registration_hash = $1", args![st]).await?
        {
            let stored = serde_json::from_str(&row.str("registration_response")).unwrap_or(Value::Null);
            return Ok(Some((StatusCode::CREATED, stored)));
        }
        let sql = format!(
            "SELECT fleet, driver, expires_at, used_at, used_by_kid FROM enrollment_codes WHERE code_hash = $1{}",
            tx.for_update()
        );
        let code = tx.row(&sql, args![code_hash]).await?;
        let unknown = || Tried::Refused(ApiError::forbidden("code_unknown", "no such valid enrollment code"));
        let code = code.ok_or_else(unknown)?;
        if code.opt_i64("used_at").is_some() {
            // A concurrent copy of this statement may have used it while this one waited for the lock.
            if code.opt_str("used_by_kid").as_deref() == Some(kid.as_str()) {
                if let Some(row) = tx
                    .row("SELECT registration_response FROM device_keys WHERE registration_hash = $1", args![st])
                    .await?
                {
                    let stored = serde_json::from_str(&row.str("registration_response")).unwrap_or(Value::Null);
                    return Ok(Some((StatusCode::CREATED, stored)));
                }
            }
            return Err(unknown());
        }
        if code.i64("expires_at") <= now {
            return Err(unknown());
        }
        if code.str("fleet") != fleet || code.str("driver") != driver {
            return Err(Tried::Refused(ApiError::forbidden(
                "code_mismatch",
                "the code is for another driver or fleet",
            )));
        }
        if tx.row("SELECT kid FROM device_keys WHERE kid = $1", args![kid.as_str()]).await?.is_some() {
            return Err(Tried::Refused(ApiError::forbidden(
                "key_not_accepted",
                "this device key is already registered: a new enrollment makes a new key",
            )));
        }
        ensure_fleet(tx, fleet, now).await?;
        ensure_driver(tx, fleet, driver, now).await?;
        let revoked = tx
            .rows(
                "UPDATE device_keys SET status = 'revoked', status_changed_at = $1 \
                 WHERE fleet = $2 AND driver = $3 AND status = 'active' RETURNING kid",
                args![now, fleet, driver],
            )
            .await?;
        for row in &revoked {
            let old = row.str("kid");
            audit(
                tx,
                "system",
                "key_revoked",
                Some(fleet),
                Some(driver),
                Some(&old),
                &format!("replaced_by={kid}"),
                now,
            )
            .await?;
        }
        tx.exec(
            "INSERT INTO device_keys (kid, fleet, driver, algorithm, public_key, attestation, status, last_counter, \
             registered_at, status_changed_at, registration_hash, registration_response, code_hash, consent_notice, \
             consent_at, model_manifest) \
             VALUES ($1, $2, $3, 'ed25519', $4, NULL, 'active', 0, $5, $5, $6, $7, $8, $9, $10, $11)",
            args![
                kid.as_str(),
                fleet,
                driver,
                util::b64(public_key),
                now,
                st,
                response.to_string(),
                code_hash,
                &consent.notice,
                i(consent.accepted_at),
                claims.model_manifest.as_str(),
            ],
        )
        .await?;
        let used = tx
            .exec(
                "UPDATE enrollment_codes SET used_at = $1, used_by_kid = $2 WHERE code_hash = $3 AND used_at IS NULL",
                args![now, kid.as_str(), code_hash],
            )
            .await?;
        if used != 1 {
            return Err(Tried::Db(DbError::Conflict));
        }
        let detail = format!("consent={} consent_at={}", consent.notice, consent.accepted_at);
        audit(
            tx,
            &format!("device:{kid}"),
            "key_registered",
            Some(fleet),
            Some(driver),
            Some(kid.as_str()),
            &detail,
            now,
        )
        .await?;
        Ok(None)
    }

    // ----------------------------------------------------------------------------------------------------------
    // Challenges

    /// `POST /v1/challenges`.
    pub async fn challenge(&self, kid: &str, block: &str) -> Result<Answer, ApiError> {
        let unknown = || ApiError::not_found("key_unknown", "the device key is not registered");
        let kid = KeyId::parse(kid).map_err(|_| unknown())?;
        if !is_valid_block(block) {
            return Err(ApiError::bad_request("invalid_block", "a block id is 1-128 printable ASCII characters"));
        }
        // The key and its fleet's policy, in one statement.
        let sql = format!(
            "SELECT {}, f.* FROM device_keys k LEFT JOIN fleets f ON f.id = k.fleet WHERE k.kid = $1",
            key_columns("k")
        );
        let row = self.db.row(&sql, args![kid.as_str()]).await?;
        let key = row.as_ref().and_then(KeyRow::from_row).ok_or_else(unknown)?;
        if key.status != "active" {
            return Err(ApiError::forbidden("key_not_active", "the device key is revoked or erased"));
        }
        let policy = policy_of(&key.fleet, row.as_ref());
        if !policy.accepted_key_kinds.contains(&key.algorithm) {
            return Err(ApiError::forbidden("key_not_accepted", "the fleet no longer accepts this kind of key"));
        }
        let now = now();
        let expires_at = now + policy.challenge_ttl_secs;
        let binding = Binding { kid: &kid, fleet: &key.fleet, driver: &key.driver, block };
        let sealed = SealedKeyState { public_key: key.public_key, last_counter: key.last_counter };
        let nonce = self.challenge_key.issue(&binding, policy.liveness, expires_at, &sealed);
        tracing::info!(%kid, driver = key.driver, "challenge issued");
        Ok((
            StatusCode::CREATED,
            json!({
                "nonce": nonce, "block": block, "expires_at": expires_at, "server_time": now,
                "last_counter": key.last_counter, "liveness": policy.liveness.as_str(),
            }),
        ))
    }

    async fn key(&self, kid: &KeyId) -> Result<Option<KeyRow>, DbError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM device_keys WHERE kid = $1");
        Ok(self.db.row(&sql, args![kid.as_str()]).await?.as_ref().and_then(KeyRow::from_row))
    }

    // ----------------------------------------------------------------------------------------------------------
    // Check-ins

    /// `POST /v1/checkins`. Decided first on the state sealed in its challenge ([`Service::checkin_on_sealed_state`]);
    /// when that does not record it, on the key's state read now.
    pub async fn checkin(&self, token: &str) -> Result<Answer, ApiError> {
        check_len(token)?;
        let st = statement_hash(token);
        let kid = peek_key_id(token).map_err(|_| token_invalid())?;
        let claims = peek_claims(token).unwrap_or_default();
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let Some(nonce) = claim("nonce") else { return Err(token_invalid()) };
        if let (Some(fleet), Some(driver), Some(block)) = (claim("aud"), claim("sub"), claim("blk")) {
            let binding = Binding { kid: &kid, fleet, driver, block };
            if let Some(answer) = self.checkin_on_sealed_state(token, &st, &binding, nonce).await? {
                return Ok(answer);
            }
        }
        let mut verified = None;
        for _ in 0..CHECKIN_RETRIES {
            let now = now();
            let row = self
                .db
                .row(CHECKIN_STATE, args![kid.as_str(), nonce, now - ATTEMPT_WINDOW_SECS, DEFAULT_FAILED_ATTEMPT_LIMIT])
                .await?
                .ok_or_else(|| refusal(&VerifyError::UnknownKey { kid: kid.clone() }))?;
            if row.opt_str("used_statement").as_deref() == Some(st.as_str()) {
                return Ok(checkin_answer(&row, "used_"));
            }
            let state =
                CheckinState::from_row(&row).ok_or_else(|| refusal(&VerifyError::UnknownKey { kid: kid.clone() }))?;
            if verified.is_none() {
                let expected = Expectations {
                    fleet: &state.key.fleet,
                    nonce,
                    driver: Some(&state.key.driver),
                    block: None, // bound by the challenge's seal below
                    now_unix: u(now),
                    skew_secs: self.config.skew_secs,
                };
                // The counter is decided below, from the same read as the stored answer and the key's status.
                let checked = verify_attestation(token, &state.key.known(), &expected, None).map_err(|e| {
                    tracing::info!(%kid, refusal = refusal(&e).code, "check-in refused");
                    refusal(&e)
                })?;
                verified = Some(checked);
            }
            let claims = verified.as_ref().expect("verified above").claims();
            let decided = self.decide_checkin(&state, claims, &st, now).inspect_err(|e| {
                tracing::info!(%kid, refusal = e.code, "check-in refused");
            })?;
            match self.record_checkin(&st, &state, claims, &decided, now).await {
                Ok(answer) => return Ok(answer),
                // Another request recorded something for this key (or this nonce, or this token) since the read:
                // decide again from a fresh one.
                Err(DbError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable())
    }

    /// A check-in decided without reading the database: on the key's state sealed in the challenge it answers (its
    /// public key and counter), the token verified against that public key, and stored only if the key's row is still
    /// the one sealed (counter and status included) and, for a match the limit did not stop, the driver is under the
    /// fleet's attempt limit when it is stored ([`Service::record_checkin`]): the verdict is then the one the current
    /// state gives. `None`
    /// whenever this path does not record the check-in (a nonce that does not open for the token's key, fleet, driver
    /// and block, a token that does not verify, a refusal, a changed key, a driver at the limit, a used nonce or
    /// token): the caller then decides on a fresh read, which gives refusals, attempt-limit reviews and stored
    /// answers with their reasons.
    async fn checkin_on_sealed_state(
        &self,
        token: &str,
        st: &str,
        binding: &Binding<'_>,
        nonce: &str,
    ) -> Result<Option<Answer>, ApiError> {
        let now = now();
        let Ok(challenge) = self.challenge_key.open(nonce, binding, now) else { return Ok(None) };
        let state = CheckinState::sealed(binding, &challenge.sealed);
        let expected = Expectations {
            fleet: binding.fleet,
            nonce,
            driver: Some(binding.driver),
            block: Some(binding.block),
            now_unix: u(now),
            skew_secs: self.config.skew_secs,
        };
        let Ok(checked) = verify_attestation(token, &state.key.known(), &expected, None) else { return Ok(None) };
        let claims = checked.claims();
        let Ok(decided) = self.decide_checkin(&state, claims, st, now) else { return Ok(None) };
        match self.record_checkin(st, &state, claims, &decided, now).await {
            Ok(answer) => {
                self.sealed_checkins.fetch_add(1, Ordering::Relaxed);
                Ok(Some(answer))
            }
            Err(DbError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The fleet's verdict on a verified check-in, from the state it is decided on (read with [`CHECKIN_STATE`] or
    /// sealed in the challenge): the challenge it answers, the nonce's single use, the key's status and counter, the
    /// liveness method and the attempt limit.
    fn decide_checkin(
        &self,
        state: &CheckinState,
        claims: &facecheck_attest::Claims,
        st: &str,
        now: i64,
    ) -> Result<CheckinDecision, ApiError> {
        let key = &state.key;
        let binding = Binding { kid: &key.kid, fleet: &key.fleet, driver: &key.driver, block: &claims.block };
        let challenge = self.challenge_key.open(&claims.nonce, &binding, now).map_err(|e| match e {
            ChallengeRefusal::Unknown => ApiError::not_found("challenge_unknown", "no such challenge"),
            ChallengeRefusal::Mismatch => {
                ApiError::forbidden("challenge_mismatch", "the challenge was issued for another key or block")
            }
            ChallengeRefusal::Expired => {
                ApiError::new(StatusCode::GONE, "challenge_expired", "the challenge has expired; ask for a new one")
            }
        })?;
        if state.used_statement.is_some() {
            return Err(ApiError::conflict("challenge_used", "the challenge was already answered"));
        }
        if key.status != "active" {
            return Err(refusal(&VerifyError::RevokedKey { kid: key.kid.clone() }));
        }
        let counter = i(claims.counter);
        if counter <= key.last_counter {
            return Err(refusal(&VerifyError::CounterNotIncreasing { kid: key.kid.clone() }));
        }
        let gap = counter - key.last_counter - 1;
        let over_limit = state.attempts.filter(|a| a.failures >= a.limit);
        let outcome = claims.outcome;
        let asked = challenge.liveness;
        let method_too_weak = !liveness_method_is_enough(asked, claims.liveness_method);
        let (verdict, reason) = match outcome {
            Outcome::Match if method_too_weak => ("refused", "liveness_method"),
            Outcome::Match if over_limit.is_some() => ("review", "attempt_limit"),
            Outcome::Match if gap > 0 => ("review", "counter_gap"),
            Outcome::Match => ("accepted", ""),
            Outcome::NoMatch | Outcome::SpoofSuspected | Outcome::LockedOut => ("review", outcome.as_str()),
            Outcome::NoFace | Outcome::PoorQuality => ("refused", "retake"),
            Outcome::Erased => return Err(token_invalid()),
        };
        let mut reviews: Vec<(&'static str, String)> = Vec::new();
        if matches!(outcome, Outcome::NoMatch | Outcome::SpoofSuspected | Outcome::LockedOut) {
            reviews.push((outcome.as_str(), format!("block {}", claims.block)));
        }
        if reason == "liveness_method" {
            let detail = format!("the challenge asked for {asked} liveness; the phone ran {}", claims.liveness_method);
            reviews.push(("liveness_method", detail));
        }
        if let Some(FailedAttempts { failures, limit }) = over_limit.filter(|_| reason == "attempt_limit") {
            reviews.push(("attempt_limit", format!("{failures} failed attempts in 24 h (limit {limit})")));
        }
        if gap > 0 {
            reviews.push(("counter_gap", format!("{gap} counter value(s) never seen by the fleet")));
        }
        let evidence = self.evidence(&key.fleet, &key.driver, EvidenceKind::Checkin, st, verdict, reason, now)?;
        let requires_under_limit = outcome == Outcome::Match && !method_too_weak && over_limit.is_none();
        Ok(CheckinDecision { counter, gap, verdict, reason, reviews, evidence, requires_under_limit })
    }

    /// Stores a decided check-in, atomically: the key's counter advances only from the value the decision was made
    /// on, only while the key is active and is the one decided on (its fleet, driver and public key: always so for a
    /// key row read, and for a sealed one unless the challenge key leaked), and, for a match the limit did not stop,
    /// only while the driver's failed attempts are under the fleet's limit (counted in the same statement: the limit
    /// binds however old the decision's state is); the nonce, the token and the (key, counter) pair are each recorded
    /// once by the table's UNIQUE constraints. Anything that changed since the read is a [`DbError::Conflict`] and
    /// nothing is written. On PostgreSQL a
    /// check-in that opens no review is one statement (the counter's `UPDATE` and the `INSERT` of the row it
    /// returns); otherwise one transaction.
    async fn record_checkin(
        &self,
        st: &str,
        state: &CheckinState,
        claims: &facecheck_attest::Claims,
        decided: &CheckinDecision,
        now: i64,
    ) -> Result<Answer, DbError> {
        let CheckinDecision { counter, gap, verdict, reason, ref evidence, requires_under_limit, .. } = *decided;
        let key = &state.key;
        let (fleet, driver) = (&key.fleet, &key.driver);
        let under_limit = args![now - ATTEMPT_WINDOW_SECS, DEFAULT_FAILED_ATTEMPT_LIMIT];
        let id = util::random_id();
        let row = args![
            &id,
            st,
            &claims.nonce,
            key.kid.as_str(),
            fleet,
            driver,
            &claims.block,
            counter,
            gap,
            claims.outcome.as_str(),
            i64::from(claims.attempts),
            i64::from(claims.liveness_passed),
            claims.liveness_method.as_str(),
            verdict,
            reason,
            i(claims.issued_at),
            now,
            evidence,
        ];
        const COLUMNS: &str = "id, statement_hash, nonce, kid, fleet, driver, block, counter, counter_gap, outcome, \
                               attempts, liveness, liveness_method, verdict, reason, issued_at, received_at, evidence";
        const VALUES: &str = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18";
        if self.db.backend() == Backend::Postgres && decided.reviews.is_empty() {
            // $8 is the new counter, $4, $5, $6 and $20 the key, its fleet, driver and public key, $19 the counter
            // the decision was made on; $21 and $22 the start of the attempt limit's day and the default limit.
            let limit = if requires_under_limit {
                concat!(" AND ", failures_since!("$21"), " < ", attempt_limit!("$22"))
            } else {
                ""
            };
            let sql = format!(
                "WITH advanced AS (UPDATE device_keys AS k SET last_counter = $8 \
                 WHERE k.kid = $4 AND k.fleet = $5 AND k.driver = $6 AND k.public_key = $20 \
                 AND k.status = 'active' AND k.last_counter = $19{limit} RETURNING k.kid) \
                 INSERT INTO checkins ({COLUMNS}) SELECT {VALUES} FROM advanced"
            );
            let mut params = row;
            params.extend(args![key.last_counter, util::b64(&key.public_key)]);
            if requires_under_limit {
                params.extend(under_limit);
            }
            if self.db.exec(&sql, params).await? != 1 {
                return Err(DbError::Conflict);
            }
        } else {
            let mut tx = self.db.begin().await?;
            let limit = if requires_under_limit {
                concat!(" AND ", failures_since!("$7"), " < ", attempt_limit!("$8"))
            } else {
                ""
            };
            let mut params =
                args![counter, key.kid.as_str(), key.last_counter, fleet, driver, util::b64(&key.public_key)];
            if requires_under_limit {
                params.extend(under_limit);
            }
            let sql = format!(
                "UPDATE device_keys AS k SET last_counter = $1 \
                 WHERE k.kid = $2 AND k.fleet = $4 AND k.driver = $5 AND k.public_key = $6 \
                 AND k.status = 'active' AND k.last_counter = $3{limit}"
            );
            let advanced = tx.exec(&sql, params).await?;
            if advanced != 1 {
                return Err(DbError::Conflict);
            }
            tx.exec(&format!("INSERT INTO checkins ({COLUMNS}) VALUES ({VALUES})"), row).await?;
            for (kind, detail) in &decided.reviews {
                tx.exec(
                    "INSERT INTO reviews (id, fleet, driver, kid, kind, checkin_id, detail, created_at, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')",
                    args![util::random_id(), fleet, driver, key.kid.as_str(), *kind, &id, detail, now],
                )
                .await?;
            }
            tx.commit().await?;
        }
        tracing::info!(kid = %key.kid, driver, checkin = id, outcome = claims.outcome.as_str(), verdict, reason,
            counter, gap, "check-in recorded");
        Ok((
            StatusCode::OK,
            json!({"checkin_id": id, "verdict": verdict, "reason": reason, "counter_gap": gap, "evidence": evidence}),
        ))
    }

    // ----------------------------------------------------------------------------------------------------------
    // Erasures

    /// `POST /v1/erasures`.
    pub async fn erase(&self, receipt: &str) -> Result<Answer, ApiError> {
        check_len(receipt)?;
        let st = statement_hash(receipt);
        if let Some(answer) = stored_erasure(&self.db, &st).await? {
            return Ok(answer);
        }
        let kid = peek_key_id(receipt).map_err(|_| token_invalid())?;
        let key = self.key(&kid).await?.ok_or_else(|| refusal(&VerifyError::UnknownKey { kid: kid.clone() }))?;
        let policy = self.policy(&key.fleet).await?;
        let now = now();
        let expected = ErasureExpectations {
            fleet: &key.fleet,
            now_unix: u(now),
            max_age_secs: u(policy.erasure_max_age_secs),
            skew_secs: self.config.skew_secs,
        };
        let verified = match verify_erasure_receipt(receipt, &key.known(), &expected, None) {
            Ok(verified) => verified,
            Err(e) => {
                // An identical copy racing this one may have erased the key (so it reads as erased here) and stored
                // its answer since the first look: that copy's answer is this one's too.
                if let Some(answer) = stored_erasure(&self.db, &st).await? {
                    return Ok(answer);
                }
                return Err(refusal(&e));
            }
        };
        for _ in 0..RETRIES {
            let mut tx = self.db.begin().await?;
            match self.erase_tx(&mut tx, &st, &key, verified.counter(), verified.issued_at(), now).await {
                Ok(answer) => {
                    tx.commit().await?;
                    return Ok(answer);
                }
                Err(Tried::Refused(e)) => return Err(e),
                Err(Tried::Db(DbError::Conflict)) => {
                    drop(tx);
                    if let Some(answer) = stored_erasure(&self.db, &st).await? {
                        return Ok(answer);
                    }
                }
                Err(Tried::Db(e)) => return Err(e.into()),
            }
        }
        Err(ApiError::unavailable())
    }

    async fn erase_tx(
        &self,
        tx: &mut Tx,
        st: &str,
        key: &KeyRow,
        counter: u64,
        erased_at: u64,
        now: i64,
    ) -> Result<Answer, Tried> {
        if let Some(row) = tx.row("SELECT evidence FROM erasures WHERE statement_hash = $1", args![st]).await? {
            return Ok(erasure_answer(&row));
        }
        let sql = format!("SELECT {KEY_COLUMNS} FROM device_keys WHERE kid = $1{}", tx.for_update());
        let current = tx.row(&sql, args![key.kid.as_str()]).await?.as_ref().and_then(KeyRow::from_row);
        let current =
            current.ok_or_else(|| Tried::Refused(refusal(&VerifyError::UnknownKey { kid: key.kid.clone() })))?;
        if current.status == "erased" {
            // A concurrent copy of this receipt may have erased it while this one waited for the lock.
            if let Some(row) = tx.row("SELECT evidence FROM erasures WHERE statement_hash = $1", args![st]).await? {
                return Ok(erasure_answer(&row));
            }
            return Err(Tried::Refused(refusal(&VerifyError::ErasedKey { kid: key.kid.clone() })));
        }
        let counter = i(counter);
        if counter <= current.last_counter {
            return Err(Tried::Refused(refusal(&VerifyError::CounterNotIncreasing { kid: key.kid.clone() })));
        }
        let evidence = self.evidence(&current.fleet, &current.driver, EvidenceKind::Erasure, st, "erased", "", now)?;
        let changed = tx
            .exec(
                "UPDATE device_keys SET status = 'erased', status_changed_at = $1, last_counter = $2 \
                 WHERE kid = $3 AND status <> 'erased' AND last_counter < $2",
                args![now, counter, key.kid.as_str()],
            )
            .await?;
        if changed != 1 {
            return Err(Tried::Db(DbError::Conflict));
        }
        tx.exec(
            "INSERT INTO erasures (kid, statement_hash, fleet, driver, counter, erased_at, received_at, evidence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            args![key.kid.as_str(), st, &current.fleet, &current.driver, counter, i(erased_at), now, &evidence],
        )
        .await?;
        audit(
            tx,
            &format!("device:{}", key.kid),
            "key_erased",
            Some(&current.fleet),
            Some(&current.driver),
            Some(key.kid.as_str()),
            &format!("erased_at={erased_at}"),
            now,
        )
        .await?;
        tracing::info!(kid = %key.kid, driver = current.driver, "erasure recorded");
        Ok((StatusCode::OK, json!({"status": "erased", "evidence": evidence})))
    }

    // ----------------------------------------------------------------------------------------------------------
    // Review requests

    /// `POST /v1/reviews`.
    pub async fn request_review(&self, request: &str) -> Result<Answer, ApiError> {
        check_len(request)?;
        let st = statement_hash(request);
        if let Some(answer) = stored_review(&self.db, &st).await? {
            return Ok(answer);
        }
        let kid = peek_key_id(request).map_err(|_| token_invalid())?;
        let key = self.key(&kid).await?.ok_or_else(|| refusal(&VerifyError::UnknownKey { kid: kid.clone() }))?;
        let now = now();
        let expected = ReviewExpectations {
            fleet: &key.fleet,
            now_unix: u(now),
            max_age_secs: REVIEW_MAX_AGE_SECS,
            skew_secs: self.config.skew_secs,
        };
        let verified = verify_review(request, &key.known(), &expected).map_err(|e| refusal(&e))?;
        let claims = verified.claims();
        let id = util::random_id();
        let evidence =
            self.evidence(&key.fleet, &key.driver, EvidenceKind::Review, &st, "received", claims.reason.as_str(), now)?;
        let mut tx = self.db.begin().await?;
        let inserted = tx
            .exec(
                "INSERT INTO reviews (id, fleet, driver, kid, kind, request_hash, request_id, request_ref, detail, \
                 created_at, status, evidence) VALUES ($1, $2, $3, $4, 'driver_request', $5, $6, $7, $8, $9, 'open', $10)",
                args![
                    &id,
                    &key.fleet,
                    &key.driver,
                    kid.as_str(),
                    &st,
                    &claims.request_id,
                    &claims.about,
                    claims.reason.as_str(),
                    now,
                    &evidence,
                ],
            )
            .await;
        match inserted {
            Ok(_) => {}
            Err(DbError::Conflict) => {
                drop(tx);
                return match stored_review(&self.db, &st).await? {
                    Some(answer) => Ok(answer),
                    None => Err(ApiError::conflict("review_duplicate", "this request id was already used")),
                };
            }
            Err(e) => return Err(e.into()),
        }
        audit(
            &mut tx,
            &format!("device:{kid}"),
            "review_requested",
            Some(&key.fleet),
            Some(&key.driver),
            Some(kid.as_str()),
            claims.reason.as_str(),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%kid, driver = key.driver, review = id, "review requested");
        Ok((StatusCode::CREATED, json!({"review_id": id, "evidence": evidence})))
    }

    /// `GET /v1/reviews/{id}`: the state of a review, with the resolution evidence once resolved. The review id is
    /// random (128 bits) and known only to the device that asked (or the admin).
    pub async fn review_status(&self, id: &str) -> Result<Answer, ApiError> {
        let row = self
            .db
            .row(
                "SELECT status, resolution, note, resolved_at, resolution_evidence FROM reviews WHERE id = $1",
                args![id],
            )
            .await?
            .ok_or_else(|| ApiError::not_found("review_unknown", "no such review"))?;
        Ok((
            StatusCode::OK,
            json!({
                "review_id": id, "status": row.str("status"), "resolution": row.opt_str("resolution"),
                "note": row.opt_str("note"), "resolved_at": row.opt_i64("resolved_at"),
                "evidence": row.opt_str("resolution_evidence"),
            }),
        ))
    }

    /// `GET /v1/checkins/{id}/reviews`: the reviews a check-in opened (a no_match, a counter gap, the attempt
    /// limit...), each with its state and, once resolved, the fleet's signed resolution, so the driver keeps those
    /// too. The check-in id is random (128 bits) and known only to the device that checked in (or the admin); an
    /// unknown id and a check-in that opened none both answer an empty list. Without the admin's note: on a review
    /// the fleet opened (a suspected impostor, say) it is the fleet's working record, not an answer to the driver.
    pub async fn checkin_reviews(&self, checkin_id: &str) -> Result<Answer, ApiError> {
        let rows = self
            .db
            .rows(
                "SELECT id, kind, status, resolution, resolved_at, resolution_evidence FROM reviews \
                 WHERE checkin_id = $1 ORDER BY kind",
                args![checkin_id],
            )
            .await?;
        let reviews: Vec<Value> = rows
            .iter()
            .map(|row| {
                json!({
                    "review_id": row.str("id"), "kind": row.str("kind"), "status": row.str("status"),
                    "resolution": row.opt_str("resolution"), "resolved_at": row.opt_i64("resolved_at"),
                    "evidence": row.opt_str("resolution_evidence"),
                })
            })
            .collect();
        Ok((StatusCode::OK, json!({"checkin_id": checkin_id, "reviews": reviews})))
    }

    // ----------------------------------------------------------------------------------------------------------
    // Admin actions

    /// Resolves an open review (`cleared`: the failed attempts of the driver stop counting; `upheld`: they keep
    /// counting), with a note, an audit entry and fleet-signed evidence for the driver.
    pub async fn resolve_review(&self, actor: &str, id: &str, resolution: &str, note: &str) -> Result<Value, ApiError> {
        if resolution != "cleared" && resolution != "upheld" {
            return Err(ApiError::bad_request("invalid_resolution", "a resolution is cleared or upheld"));
        }
        let note = note.trim();
        if note.is_empty() || note.len() > 2000 {
            return Err(ApiError::bad_request("invalid_note", "a resolution needs a note (at most 2000 bytes)"));
        }
        let now = now();
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT r.id, r.fleet, r.driver, r.kind, r.status, r.request_hash, c.statement_hash AS checkin_hash \
             FROM reviews r LEFT JOIN checkins c ON c.id = r.checkin_id WHERE r.id = $1{}",
            if tx.for_update().is_empty() { "" } else { " FOR UPDATE OF r" }
        );
        let row =
            tx.row(&sql, args![id]).await?.ok_or_else(|| ApiError::not_found("review_unknown", "no such review"))?;
        if row.str("status") != "open" {
            return Err(ApiError::conflict("review_resolved", "the review is already resolved"));
        }
        let (fleet, driver, kind) = (row.str("fleet"), row.str("driver"), row.str("kind"));
        let statement = row.opt_str("checkin_hash").or_else(|| row.opt_str("request_hash")).unwrap_or_default();
        let evidence = if facecheck_attest::is_statement_hash(&statement) {
            Some(self.evidence(&fleet, &driver, EvidenceKind::ReviewResolution, &statement, resolution, &kind, now)?)
        } else {
            None
        };
        let changed = tx
            .exec(
                "UPDATE reviews SET status = 'resolved', resolution = $1, note = $2, resolved_at = $3, resolved_by = $4, \
                 resolution_evidence = $5 WHERE id = $6 AND status = 'open'",
                args![resolution, note, now, actor, evidence.clone(), id],
            )
            .await?;
        if changed != 1 {
            return Err(ApiError::conflict("review_resolved", "the review is already resolved"));
        }
        if resolution == "cleared" {
            // Never moved back (a replica whose clock is behind would otherwise count cleared failures again).
            tx.exec(
                "UPDATE drivers SET attempts_cleared_at = $1 WHERE fleet = $2 AND id = $3 AND attempts_cleared_at < $1",
                args![now, &fleet, &driver],
            )
            .await?;
        }
        audit(
            &mut tx,
            actor,
            "review_resolved",
            Some(&fleet),
            Some(&driver),
            None,
            &format!("{id} {resolution}: {note}"),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(review = id, resolution, "review resolved");
        Ok(json!({"review_id": id, "status": "resolved", "resolution": resolution, "evidence": evidence}))
    }

    /// Revokes an active key (nothing it signs is accepted any more), with an audit entry.
    pub async fn revoke_key(&self, actor: &str, kid: &str) -> Result<Value, ApiError> {
        let unknown = || ApiError::not_found("key_unknown", "the device key is not registered");
        let kid = KeyId::parse(kid).map_err(|_| unknown())?;
        let now = now();
        let mut tx = self.db.begin().await?;
        let sql = format!("SELECT fleet, driver, status FROM device_keys WHERE kid = $1{}", tx.for_update());
        let row = tx.row(&sql, args![kid.as_str()]).await?.ok_or_else(unknown)?;
        let status = row.str("status");
        if status == "active" {
            tx.exec(
                "UPDATE device_keys SET status = 'revoked', status_changed_at = $1 WHERE kid = $2 AND status = 'active'",
                args![now, kid.as_str()],
            )
            .await?;
            audit(
                &mut tx,
                actor,
                "key_revoked",
                Some(&row.str("fleet")),
                Some(&row.str("driver")),
                Some(kid.as_str()),
                "by admin",
                now,
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(%kid, "key revoked");
        Ok(json!({"kid": kid.as_str(), "status": if status == "active" { "revoked" } else { status.as_str() }}))
    }
}

/// The outcome of one transaction attempt.
enum Tried {
    Refused(ApiError),
    Db(DbError),
}

impl From<DbError> for Tried {
    fn from(e: DbError) -> Tried {
        Tried::Db(e)
    }
}

impl From<ApiError> for Tried {
    fn from(e: ApiError) -> Tried {
        Tried::Refused(e)
    }
}

/// The policy of `fleet` from its row of `fleets` (all its columns); the defaults without one (no row, or a join
/// that found none: `id` null).
fn policy_of(fleet: &str, row: Option<&Row>) -> Policy {
    let Some(row) = row.filter(|row| row.opt_str("id").is_some()) else {
        return Policy {
            fleet: fleet.to_owned(),
            failed_attempt_limit: DEFAULT_FAILED_ATTEMPT_LIMIT,
            accepted_key_kinds: vec!["ed25519".to_owned()],
            code_ttl_secs: 86_400,
            challenge_ttl_secs: 600,
            erasure_max_age_secs: 30 * 86_400,
            liveness: LivenessMethod::Passive,
        };
    };
    Policy {
        fleet: row.str("id"),
        failed_attempt_limit: row.i64("failed_attempt_limit"),
        accepted_key_kinds: row.str("accepted_key_kinds").split(',').map(str::to_owned).collect(),
        code_ttl_secs: row.i64("code_ttl_secs"),
        challenge_ttl_secs: row.i64("challenge_ttl_secs"),
        erasure_max_age_secs: row.i64("erasure_max_age_secs"),
        // The column is written only from a LivenessMethod; anything else would be a hand edit, read as the stricter.
        liveness: LivenessMethod::parse(&row.str("liveness_required")).unwrap_or(LivenessMethod::Active),
    }
}

/// Everything a check-in is decided on, in one statement: the key the token names ($1) with its current status and
/// counter; the check-in that used the token's nonce ($2), if any (`used_*`: this very token's stored answer, or
/// another token's); the fleet's attempt limit (default $4) and the driver's failed attempts since $3 and since an
/// admin last cleared them. No row: the key is unknown. The decision is stored only if the key's counter
/// is still the one read here ([`Service::record_checkin`]), so no other check-in of the key (hence of the driver,
/// who has one active key) can slip between this read and the write.
const CHECKIN_STATE: &str = concat!(
    "SELECT k.kid, k.fleet, k.driver, k.algorithm, k.public_key, k.status, k.last_counter, \
     n.statement_hash AS used_statement, n.id AS used_id, n.verdict AS used_verdict, n.reason AS used_reason, \
     n.counter_gap AS used_counter_gap, n.evidence AS used_evidence, \
     COALESCE(f.failed_attempt_limit, $4) AS attempt_limit, ",
    failures_since!("$3"),
    " AS failures FROM device_keys k LEFT JOIN fleets f ON f.id = k.fleet \
     LEFT JOIN checkins n ON n.nonce = $2 WHERE k.kid = $1"
);

/// What a check-in is decided on: the key, the check-in that already used the nonce (if any), and the driver's failed
/// attempts against the fleet's limit when they were read.
struct CheckinState {
    key: KeyRow,
    /// The statement hash of the check-in that used the nonce.
    used_statement: Option<String>,
    /// `None` when not read (decided on a challenge's sealed state): a match is then stored as accepted or as a
    /// counter-gap review only if the driver is under the limit when it is written, as on a fresh read.
    attempts: Option<FailedAttempts>,
}

/// A driver's failed attempts in the last day since an admin cleared them, and the fleet's limit.
#[derive(Clone, Copy)]
struct FailedAttempts {
    failures: i64,
    limit: i64,
}

impl CheckinState {
    /// From a row of [`CHECKIN_STATE`]; `None` if the key is unknown.
    fn from_row(row: &Row) -> Option<CheckinState> {
        Some(CheckinState {
            key: KeyRow::from_row(row)?,
            used_statement: row.opt_str("used_statement"),
            attempts: Some(FailedAttempts { failures: row.i64("failures"), limit: row.i64("attempt_limit") }),
        })
    }

    /// From the state sealed in the challenge issued for `binding`: the key was active then (challenges go to
    /// active keys only), and an Ed25519 key (the only kind a version-2 nonce seals); no check-in had used the nonce.
    fn sealed(binding: &Binding, sealed: &SealedKeyState) -> CheckinState {
        CheckinState {
            key: KeyRow {
                kid: binding.kid.clone(),
                fleet: binding.fleet.to_owned(),
                driver: binding.driver.to_owned(),
                algorithm: "ed25519".to_owned(),
                public_key: sealed.public_key,
                status: "active".to_owned(),
                last_counter: sealed.last_counter,
            },
            used_statement: None,
            attempts: None,
        }
    }
}

/// A check-in's verdict, before it is stored.
struct CheckinDecision {
    counter: i64,
    gap: i64,
    verdict: &'static str,
    reason: &'static str,
    /// The review-queue entries it opens: (kind, detail).
    reviews: Vec<(&'static str, String)>,
    /// The fleet's signed verdict, for the driver.
    evidence: String,
    /// A match the attempt limit did not send to review: stored only if the driver is under the limit when it is
    /// written (the state it was decided on may be older, or, sealed in a challenge, not count attempts at all).
    requires_under_limit: bool,
}

/// The stored answer to a check-in, from columns named `{prefix}id`, `{prefix}verdict`, ...
fn checkin_answer(row: &Row, prefix: &str) -> Answer {
    let col = |name: &str| format!("{prefix}{name}");
    (
        StatusCode::OK,
        json!({
            "checkin_id": row.str(&col("id")), "verdict": row.str(&col("verdict")), "reason": row.str(&col("reason")),
            "counter_gap": row.i64(&col("counter_gap")), "evidence": row.str(&col("evidence")),
        }),
    )
}

fn erasure_answer(row: &Row) -> Answer {
    (StatusCode::OK, json!({"status": "erased", "evidence": row.str("evidence")}))
}

async fn stored_erasure(db: &Db, st: &str) -> Result<Option<Answer>, DbError> {
    Ok(db.row("SELECT evidence FROM erasures WHERE statement_hash = $1", args![st]).await?.as_ref().map(erasure_answer))
}

async fn stored_review(db: &Db, st: &str) -> Result<Option<Answer>, DbError> {
    let row = db.row("SELECT id, evidence FROM reviews WHERE request_hash = $1", args![st]).await?;
    Ok(row.map(|r| (StatusCode::CREATED, json!({"review_id": r.str("id"), "evidence": r.str("evidence")}))))
}

async fn ensure_fleet(tx: &mut Tx, fleet: &str, now: i64) -> Result<(), DbError> {
    tx.exec("INSERT INTO fleets (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", args![fleet, now])
        .await?;
    Ok(())
}

async fn ensure_driver(tx: &mut Tx, fleet: &str, driver: &str, now: i64) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO drivers (fleet, id, created_at) VALUES ($1, $2, $3) ON CONFLICT (fleet, id) DO NOTHING",
        args![fleet, driver, now],
    )
    .await?;
    Ok(())
}

/// Appends to the audit log.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit(
    tx: &mut Tx,
    actor: &str,
    action: &str,
    fleet: Option<&str>,
    driver: Option<&str>,
    kid: Option<&str>,
    detail: &str,
    now: i64,
) -> Result<(), DbError> {
    tx.exec(
        "INSERT INTO audit_log (id, at, actor, action, fleet, driver, kid, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![util::random_id(), now, actor, action, fleet, driver, kid, detail],
    )
    .await?;
    Ok(())
}

/// The challenge key from the database, made and stored on first start (replicas racing agree on one).
async fn load_or_create_challenge_key(db: &Db) -> Result<ChallengeKey, DbError> {
    let select = "SELECT secret FROM service_secrets WHERE id = 'challenge'";
    if db.row(select, args![]).await?.is_none() {
        db.exec(
            "INSERT INTO service_secrets (id, secret, created_at) VALUES ('challenge', $1, $2) \
             ON CONFLICT (id) DO NOTHING",
            args![util::random_secret(), now()],
        )
        .await?;
    }
    let row = db.row(select, args![]).await?.ok_or(DbError::Other(sqlx::Error::RowNotFound))?;
    match util::unb64(&row.str("secret")) {
        Some(secret) if secret.len() == 32 => Ok(ChallengeKey::from_secret(&secret)),
        _ => Err(DbError::Other(sqlx::Error::Protocol("the stored challenge key is invalid".into()))),
    }
}

/// The fleet key from the database, made and stored on first start (replicas racing agree on one).
async fn load_or_create_fleet_key(db: &Db) -> Result<FleetKey, DbError> {
    let select = "SELECT pkcs8 FROM fleet_keys WHERE id = 'current'";
    if db.row(select, args![]).await?.is_none() {
        let (key, pkcs8) = FleetKey::generate(&ring::rand::SystemRandom::new())
            .map_err(|_| DbError::Other(sqlx::Error::Protocol("could not generate the fleet key".into())))?;
        db.exec(
            "INSERT INTO fleet_keys (id, kid, pkcs8, created_at) VALUES ('current', $1, $2, $3) ON CONFLICT (id) DO NOTHING",
            args![key.key_id().as_str(), util::b64(&pkcs8), now()],
        )
        .await?;
    }
    let row = db.row(select, args![]).await?.ok_or(DbError::Other(sqlx::Error::RowNotFound))?;
    let pkcs8 = util::unb64(&row.str("pkcs8")).unwrap_or_default();
    FleetKey::from_pkcs8(&pkcs8)
        .map_err(|_| DbError::Other(sqlx::Error::Protocol("the stored fleet key is invalid".into())))
}

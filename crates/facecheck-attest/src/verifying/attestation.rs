//! Verification of check-in attestations.

use super::checks::{check_age, known_device, HEADER_PARAMETERS};
pub use super::error::VerifyError;
use super::keys::DeviceKeys;
use crate::statements::attestation::{self, Claims, Outcome};
use crate::wire::jws::{self, ATTESTATION_TYPE};
use crate::wire::key_id::KeyId;

/// A reasonable freshness window: five minutes either side of the verifier's clock.
pub const DEFAULT_SKEW_SECS: u64 = 300;

/// What the verifier expects of one attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectations<'a> {
    /// The verifier's fleet id: the `aud` claim and the device's registered fleet must equal it.
    pub fleet: &'a str,
    /// The challenge the server issued for this check-in; `nonce` must equal it exactly.
    /// An empty expected nonce matches nothing.
    pub nonce: &'a str,
    /// The driver the challenge was issued to, if the verifier bound it to one; `sub` must then equal it (it must
    /// equal the key's registered driver in any case).
    pub driver: Option<&'a str>,
    /// The block the challenge was issued for, if the verifier bound it to one; `blk` must then equal it.
    pub block: Option<&'a str>,
    /// The verifier's current time in unix seconds.
    pub now_unix: u64,
    /// How far `iat` may be from `now_unix`, in seconds, in either direction: the token is
    /// accepted when `now_unix - skew_secs <= iat <= now_unix + skew_secs`.
    pub skew_secs: u64,
}

/// An attestation whose signature, key, driver, audience, nonce, freshness and counter have
/// all been checked. Only [`verify_attestation`] (and [`CounterState::verify_and_record`])
/// make one; code outside this crate cannot construct it.
///
/// [`CounterState::verify_and_record`]: crate::CounterState::verify_and_record
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttestation {
    key_id: KeyId,
    claims: Claims,
}

impl VerifiedAttestation {
    /// The device key that signed it (also the `iss` claim and the header `kid`).
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// The driver id (`sub`), equal to the driver the key is registered for.
    pub fn driver(&self) -> &str {
        &self.claims.driver
    }

    /// The fleet (`aud`), equal to the expected fleet.
    pub fn fleet(&self) -> &str {
        &self.claims.fleet
    }

    /// The block or shift id (`blk`).
    pub fn block(&self) -> &str {
        &self.claims.block
    }

    /// The decision (`res`).
    pub fn outcome(&self) -> Outcome {
        self.claims.outcome
    }

    /// The device counter (`ctr`).
    pub fn counter(&self) -> u64 {
        self.claims.counter
    }

    /// When the device signed (`iat`, unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.claims.issued_at
    }
}

/// Verifies a check-in attestation. Erasure receipts share the format but not this verifier: see
/// [`verify_erasure_receipt`](crate::verify_erasure_receipt).
///
/// `token` is the compact JWS (as `&str`, `String` or bytes). `keys` is the fleet's knowledge of device keys (a
/// [`Registry`](crate::Registry), or the fleet service's database). `last_counter` is the highest counter already
/// accepted from this device (`None` if none was); the token's `ctr` must be greater. This function does not
/// remember anything: use [`CounterState::verify_and_record`](crate::CounterState::verify_and_record) to keep the
/// counters, or record [`VerifiedAttestation::counter`] yourself, in the same transaction that consumes the nonce.
///
/// Checks run in this order, and the first failure is returned: token size and segments;
/// header base64 and JSON; `alg`; `typ`; header parameters (exactly `alg`, `typ`, `kid`);
/// `kid` form; payload and signature encoding; key lookup; revocation and erasure; signature (a weak key verifies
/// nothing); claims (exactly the 13 claims, each well typed); not an erasure receipt; `iss`; `sub` (the key's driver,
/// and the expected driver if any); `aud`; the device's fleet; `blk` if a block is expected; `nonce`; `iat`; `ctr`.
pub fn verify_attestation(
    token: impl AsRef<[u8]>,
    keys: &(impl DeviceKeys + ?Sized),
    expected: &Expectations<'_>,
    last_counter: Option<u64>,
) -> Result<VerifiedAttestation, VerifyError> {
    let (kid, claims) = verify_signed_claims(token.as_ref(), keys, false, expected.fleet)?;
    if claims.is_erasure_receipt() {
        return Err(VerifyError::NotACheckIn { kid });
    }
    if expected.driver.is_some_and(|driver| driver != claims.driver) {
        return Err(VerifyError::DriverMismatch { kid });
    }
    if expected.block.is_some_and(|block| block != claims.block) {
        return Err(VerifyError::BlockMismatch { kid });
    }
    if expected.nonce.is_empty() || claims.nonce != expected.nonce {
        return Err(VerifyError::NonceMismatch { kid });
    }
    check_age(claims.issued_at, expected.now_unix, expected.skew_secs, expected.skew_secs, &kid)?;
    if last_counter.is_some_and(|last| claims.counter <= last) {
        return Err(VerifyError::CounterNotIncreasing { kid });
    }
    Ok(VerifiedAttestation { key_id: kid, claims })
}

/// The checks every attestation-format token passes, check-in or receipt: structure, header, key (revoked keys only
/// with `allow_revoked`), signature, claims, `iss`, `sub` against the key's driver, `aud` and the device's fleet
/// against `fleet`.
pub(crate) fn verify_signed_claims(
    token: &[u8],
    keys: &(impl DeviceKeys + ?Sized),
    allow_revoked: bool,
    fleet: &str,
) -> Result<(KeyId, Claims), VerifyError> {
    let unverified = jws::parse(token, ATTESTATION_TYPE, &HEADER_PARAMETERS)?;
    let kid = unverified.key_id()?;
    let device = known_device(keys, &kid, allow_revoked)?;
    if !unverified.signature_is_valid(&device.public_key) {
        return Err(VerifyError::BadSignature { kid });
    }
    let (iss, claims) = attestation::parse_payload(&unverified.payload)?;
    if iss != kid.as_str() {
        return Err(VerifyError::IssuerMismatch { kid });
    }
    if claims.driver != device.driver {
        return Err(VerifyError::DriverMismatch { kid });
    }
    if claims.fleet != fleet {
        return Err(VerifyError::AudienceMismatch { kid });
    }
    if device.fleet != fleet {
        return Err(VerifyError::DeviceNotInFleet { kid });
    }
    Ok((kid, claims))
}

//! Verification of erasure receipts.
//!
//! A receipt is an attestation-format token with `res: "erased"`, signed when the driver erased their enrollment,
//! often offline. It is verified by key and counter with a generous maximum age instead of a challenge: its `nonce`
//! is the server's challenge when there was one, or `ERASURE_NONCE` of the core, and is not checked here. A key
//! that was replaced (revoked) still erases what it enrolled; an erased key erases nothing twice.

use super::attestation::verify_signed_claims;
use super::checks::check_age;
use super::error::VerifyError;
use super::keys::DeviceKeys;
use crate::statements::attestation::Claims;
use crate::wire::key_id::KeyId;

/// How old a receipt the fleet accepts by default: 30 days, since an erasure made offline is delivered when the
/// phone next has a network.
pub const DEFAULT_ERASURE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// What the verifier expects of an erasure receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErasureExpectations<'a> {
    /// The verifier's fleet id.
    pub fleet: &'a str,
    /// The verifier's current time in unix seconds.
    pub now_unix: u64,
    /// How old `iat` may be, in seconds.
    pub max_age_secs: u64,
    /// How far in the future `iat` may be, in seconds.
    pub skew_secs: u64,
}

/// An erasure receipt whose signature, key, driver, audience, age and counter were checked. Only
/// [`verify_erasure_receipt`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedErasure {
    key_id: KeyId,
    claims: Claims,
}

impl VerifiedErasure {
    /// The device key whose enrollment was erased.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The driver (`sub`).
    pub fn driver(&self) -> &str {
        &self.claims.driver
    }

    /// The fleet (`aud`).
    pub fn fleet(&self) -> &str {
        &self.claims.fleet
    }

    /// The device counter (`ctr`).
    pub fn counter(&self) -> u64 {
        self.claims.counter
    }

    /// When the device erased (`iat`, unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.claims.issued_at
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

/// Verifies an erasure receipt: the checks of [`verify_attestation`](crate::verify_attestation) up to the device's
/// fleet (a revoked key is accepted, an erased one is not), then that it is a receipt, its age against
/// `[now - max_age, now + skew]`, and its counter above `last_counter`.
pub fn verify_erasure_receipt(
    token: impl AsRef<[u8]>,
    keys: &(impl DeviceKeys + ?Sized),
    expected: &ErasureExpectations<'_>,
    last_counter: Option<u64>,
) -> Result<VerifiedErasure, VerifyError> {
    let (kid, claims) = verify_signed_claims(token.as_ref(), keys, true, expected.fleet)?;
    if !claims.is_erasure_receipt() {
        return Err(VerifyError::NotAnErasureReceipt { kid });
    }
    check_age(claims.issued_at, expected.now_unix, expected.max_age_secs, expected.skew_secs, &kid)?;
    if last_counter.is_some_and(|last| claims.counter <= last) {
        return Err(VerifyError::CounterNotIncreasing { kid });
    }
    Ok(VerifiedErasure { key_id: kid, claims })
}

//! Verification of review requests.

use super::checks::{check_age, known_device, HEADER_PARAMETERS};
use super::error::VerifyError;
use super::keys::DeviceKeys;
use crate::statements::review::{self, ReviewClaims};
use crate::wire::jws::{self, REVIEW_TYPE};
use crate::wire::key_id::KeyId;

/// What the verifier expects of a review request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewExpectations<'a> {
    /// The verifier's fleet id.
    pub fleet: &'a str,
    /// The verifier's current time in unix seconds.
    pub now_unix: u64,
    /// How old `iat` may be (a request written offline is sent later).
    pub max_age_secs: u64,
    /// How far in the future `iat` may be.
    pub skew_secs: u64,
}

/// A review request whose signature, key, driver, audience and age were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReview {
    key_id: KeyId,
    claims: ReviewClaims,
}

impl VerifiedReview {
    /// The device key that asked.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The verified claims.
    pub fn claims(&self) -> &ReviewClaims {
        &self.claims
    }
}

/// Verifies a review request: structure, `typ` `fc-review+jwt`, key (a revoked key may still ask for a person; an
/// erased one may not), signature, claims, `iss`, `sub` against the key's driver, `aud` and the device's fleet, age.
pub fn verify_review(
    token: impl AsRef<[u8]>,
    keys: &(impl DeviceKeys + ?Sized),
    expected: &ReviewExpectations<'_>,
) -> Result<VerifiedReview, VerifyError> {
    let unverified = jws::parse(token.as_ref(), REVIEW_TYPE, &HEADER_PARAMETERS)?;
    let kid = unverified.key_id()?;
    let device = known_device(keys, &kid, true)?;
    if !unverified.signature_is_valid(&device.public_key) {
        return Err(VerifyError::BadSignature { kid });
    }
    let (iss, claims) = review::parse_payload(&unverified.payload)?;
    if iss != kid.as_str() {
        return Err(VerifyError::IssuerMismatch { kid });
    }
    if claims.driver != device.driver {
        return Err(VerifyError::DriverMismatch { kid });
    }
    if claims.fleet != expected.fleet {
        return Err(VerifyError::AudienceMismatch { kid });
    }
    if device.fleet != expected.fleet {
        return Err(VerifyError::DeviceNotInFleet { kid });
    }
    check_age(claims.issued_at, expected.now_unix, expected.max_age_secs, expected.skew_secs, &kid)?;
    Ok(VerifiedReview { key_id: kid, claims })
}

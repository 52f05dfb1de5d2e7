//! Verification of the fleet's evidence, by the driver's app or anyone the driver shows it to.

use super::checks::HEADER_PARAMETERS;
use super::error::VerifyError;
use crate::statements::evidence::{self, EvidenceClaims};
use crate::wire::jws::{self, EVIDENCE_TYPE};
use crate::wire::key_id::KeyId;

/// Evidence whose signature under the fleet's public key was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvidence {
    key_id: KeyId,
    claims: EvidenceClaims,
}

impl VerifiedEvidence {
    /// The fleet key that signed.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The verified claims.
    pub fn claims(&self) -> &EvidenceClaims {
        &self.claims
    }
}

/// Verifies evidence against the fleet's public key (from the enrollment QR code): structure, `typ`
/// `fc-evidence+jwt`, `kid` = the fleet key's id (else [`VerifyError::UnknownKey`]), signature (a weak key verifies
/// nothing), claims, `iss`, and `aud` = `fleet`. Whether it names the statement the caller sent is the caller's
/// comparison of [`EvidenceClaims::statement`] with [`statement_hash`](crate::statement_hash).
pub fn verify_evidence(
    token: impl AsRef<[u8]>,
    fleet_public_key: &[u8; 32],
    fleet: &str,
) -> Result<VerifiedEvidence, VerifyError> {
    let unverified = jws::parse(token.as_ref(), EVIDENCE_TYPE, &HEADER_PARAMETERS)?;
    let kid = unverified.key_id()?;
    if !kid.matches(fleet_public_key) {
        return Err(VerifyError::UnknownKey { kid });
    }
    if !unverified.signature_is_valid(fleet_public_key) {
        return Err(VerifyError::BadSignature { kid });
    }
    let (iss, claims) = evidence::parse_payload(&unverified.payload)?;
    if iss != kid.as_str() {
        return Err(VerifyError::IssuerMismatch { kid });
    }
    if claims.fleet != fleet {
        return Err(VerifyError::AudienceMismatch { kid });
    }
    Ok(VerifiedEvidence { key_id: kid, claims })
}

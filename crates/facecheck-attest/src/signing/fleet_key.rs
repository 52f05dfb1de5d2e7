//! The fleet's signing key: it signs only evidence of what the fleet received and decided.

use std::fmt;

use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use super::{KeyError, SigningPair};
use crate::statements::evidence::{self, EvidenceClaims};
use crate::wire::jws::EVIDENCE_TYPE;
use crate::wire::key_id::KeyId;

/// The claims cannot be signed as evidence: `st` is not a statement hash, or `vrd`/`rsn` are not snake_case codes of
/// at most 64 characters (`vrd` non-empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("evidence claims are not well formed")]
pub struct InvalidEvidence;

/// The fleet's Ed25519 key. It cannot sign device statements (a different type from
/// [`DeviceKey`](crate::DeviceKey)), and a device key cannot sign evidence. `Debug` shows only the key id.
pub struct FleetKey {
    pair: SigningPair,
}

impl FleetKey {
    /// Generates a fresh fleet key and returns it with its PKCS#8 v2 encoding (wiped when dropped), for the fleet
    /// service to store.
    pub fn generate(rng: &dyn SecureRandom) -> Result<(FleetKey, Zeroizing<Vec<u8>>), KeyError> {
        let (pair, pkcs8) = SigningPair::generate(rng)?;
        Ok((FleetKey { pair }, pkcs8))
    }

    /// Loads a fleet key from its PKCS#8 v2 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<FleetKey, KeyError> {
        Ok(FleetKey { pair: SigningPair::from_pkcs8(pkcs8)? })
    }

    /// The raw 32-byte Ed25519 public key (published: in the enrollment QR code and at `GET /v1/fleet-key`).
    pub fn public_key(&self) -> [u8; 32] {
        self.pair.public_key()
    }

    /// The key id (the `kid` and `iss` of every piece of evidence).
    pub fn key_id(&self) -> &KeyId {
        self.pair.key_id()
    }

    /// Signs evidence: `{"alg":"EdDSA","typ":"fc-evidence+jwt","kid":<fleet key id>}` over `iss` and the claims.
    pub fn sign_evidence(&self, claims: &EvidenceClaims) -> Result<String, InvalidEvidence> {
        if !evidence::is_well_formed(claims) {
            return Err(InvalidEvidence);
        }
        Ok(self.pair.sign_typed(EVIDENCE_TYPE, &evidence::to_payload(self.key_id(), claims)))
    }
}

impl fmt::Debug for FleetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetKey").field("key_id", self.key_id()).finish_non_exhaustive()
    }
}

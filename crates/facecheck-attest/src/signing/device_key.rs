//! The device's signing key.

use std::fmt;

use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use super::{KeyError, SigningPair};
use crate::statements::attestation::{self, Claims};
use crate::statements::registration::{self, RegistrationClaims};
use crate::statements::review::{self, ReviewClaims};
use crate::wire::jws::{ATTESTATION_TYPE, REVIEW_TYPE};
use crate::wire::key_id::KeyId;

/// A device's Ed25519 signing key.
///
/// The key is created once per enrollment with [`DeviceKey::generate`], which also returns the PKCS#8 v2 document
/// for the caller to seal in its vault; later runs load it back with [`DeviceKey::from_pkcs8`]. This type keeps no
/// copy of the PKCS#8 bytes; the copies handed out are [`Zeroizing`] so they are wiped when dropped. (`ring` keeps
/// the expanded private key inside its `Ed25519KeyPair` and does not wipe it on drop; that is outside this crate's
/// reach.)
///
/// `Debug` shows only the key id.
pub struct DeviceKey {
    pair: SigningPair,
}

impl DeviceKey {
    /// Generates a fresh key from `rng` (normally `ring::rand::SystemRandom`) and returns it
    /// with its PKCS#8 v2 encoding, which is wiped from memory when dropped.
    pub fn generate(rng: &dyn SecureRandom) -> Result<(DeviceKey, Zeroizing<Vec<u8>>), KeyError> {
        let (pair, pkcs8) = SigningPair::generate(rng)?;
        Ok((DeviceKey { pair }, pkcs8))
    }

    /// Loads a key from an unencrypted PKCS#8 v2 Ed25519 document, such as the one
    /// [`DeviceKey::generate`] returned. The public key embedded in the document is checked
    /// against the private key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<DeviceKey, KeyError> {
        Ok(DeviceKey { pair: SigningPair::from_pkcs8(pkcs8)? })
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.pair.public_key()
    }

    /// The key id: base64url (unpadded) of SHA-256 of [`public_key`](Self::public_key).
    pub fn key_id(&self) -> &KeyId {
        self.pair.key_id()
    }

    /// Signs a check-in attestation (or an erasure receipt when `claims.outcome` is
    /// [`Outcome::Erased`](crate::Outcome::Erased)) and returns the compact token.
    ///
    /// The header is `{"alg":"EdDSA","typ":"fc-attestation+jwt","kid":<key id>}`; the payload
    /// is `iss` (this key's id) followed by the claims.
    pub fn sign(&self, claims: &Claims) -> String {
        self.pair.sign_typed(ATTESTATION_TYPE, &attestation::to_payload(self.key_id(), claims))
    }

    /// Signs a device registration statement: a proof that this device holds the key, with its
    /// public key as a JWK in the header. See [`verify_registration`](crate::verify_registration).
    pub fn sign_registration(&self, claims: &RegistrationClaims) -> String {
        let (header, payload) = registration::to_header_and_payload(self.key_id(), &self.public_key(), claims);
        self.pair.sign_raw(&header, &payload)
    }

    /// Signs a request for a person to review a decision. See [`verify_review`](crate::verify_review).
    pub fn sign_review(&self, claims: &ReviewClaims) -> String {
        self.pair.sign_typed(REVIEW_TYPE, &review::to_payload(self.key_id(), claims))
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey").field("key_id", self.key_id()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn generated_key_reloads_from_its_pkcs8() {
        let (key, pkcs8) = DeviceKey::generate(&SystemRandom::new()).expect("generates");
        let again = DeviceKey::from_pkcs8(&pkcs8).expect("reloads");
        assert_eq!(key.public_key(), again.public_key());
        assert_eq!(key.key_id(), again.key_id());
        assert_eq!(*key.key_id(), KeyId::of_public_key(&key.public_key()));
    }

    #[test]
    fn rejects_garbage_and_truncated_pkcs8() {
        let (_, pkcs8) = DeviceKey::generate(&SystemRandom::new()).expect("generates");
        assert_eq!(DeviceKey::from_pkcs8(&pkcs8[..pkcs8.len() - 1]).unwrap_err(), KeyError::InvalidPkcs8);
        assert_eq!(DeviceKey::from_pkcs8(b"not a key").unwrap_err(), KeyError::InvalidPkcs8);
        // A v2 document whose embedded public key was altered is refused.
        let mut tampered = pkcs8.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(DeviceKey::from_pkcs8(&tampered).unwrap_err(), KeyError::InvalidPkcs8);
    }

    #[test]
    fn debug_shows_only_the_key_id() {
        let (key, _) = DeviceKey::generate(&SystemRandom::new()).expect("generates");
        let shown = format!("{key:?}");
        assert!(shown.contains(key.key_id().as_str()));
    }
}

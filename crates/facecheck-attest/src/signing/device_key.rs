//! The device's signing key.

use std::fmt;

use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::claims::{self, Claims};
use crate::jws::{self, ALGORITHM, ATTESTATION_TYPE};
use crate::key_id::KeyId;
use crate::registration::{self, RegistrationClaims};

/// Why a device key could not be made or loaded. Carries no key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The system random number generator failed.
    #[error("could not generate a device key: the random number generator failed")]
    Random,
    /// The bytes are not an unencrypted PKCS#8 v2 Ed25519 private key (with its public key),
    /// or the embedded public key does not belong to the private key.
    #[error("not a valid PKCS#8 v2 Ed25519 device key")]
    InvalidPkcs8,
}

/// A device's Ed25519 signing key.
///
/// The key is created once per device with [`DeviceKey::generate`], which also returns the
/// PKCS#8 v2 document for the caller to seal in its vault; later runs load it back with
/// [`DeviceKey::from_pkcs8`]. This type keeps no copy of the PKCS#8 bytes; the copies handed
/// out are [`Zeroizing`] so they are wiped when dropped. (`ring` keeps the expanded private key
/// inside its `Ed25519KeyPair` and does not wipe it on drop; that is outside this crate's reach.)
///
/// `Debug` shows only the key id.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    key_id: KeyId,
}

#[derive(Serialize)]
struct AttestationHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a KeyId,
}

impl DeviceKey {
    /// Generates a fresh key from `rng` (normally `ring::rand::SystemRandom`) and returns it
    /// with its PKCS#8 v2 encoding, which is wiped from memory when dropped.
    pub fn generate(rng: &dyn SecureRandom) -> Result<(DeviceKey, Zeroizing<Vec<u8>>), KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| KeyError::Random)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let key = DeviceKey::from_pkcs8(&pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Loads a key from an unencrypted PKCS#8 v2 Ed25519 document, such as the one
    /// [`DeviceKey::generate`] returned. The public key embedded in the document is checked
    /// against the private key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<DeviceKey, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::InvalidPkcs8)?;
        let key_id = KeyId::of_public_key(&public_key_of(&pair));
        Ok(DeviceKey { pair, key_id })
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        public_key_of(&self.pair)
    }

    /// The key id: base64url (unpadded) of SHA-256 of [`public_key`](Self::public_key).
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Signs a check-in attestation (or an erasure receipt when `claims.outcome` is
    /// [`Outcome::Erased`](crate::Outcome::Erased)) and returns the compact token.
    ///
    /// The header is `{"alg":"EdDSA","typ":"fc-attestation+jwt","kid":<key id>}`; the payload
    /// is `iss` (this key's id) followed by the claims.
    pub fn sign(&self, claims: &Claims) -> String {
        let header =
            serde_json::to_vec(&AttestationHeader { alg: ALGORITHM, typ: ATTESTATION_TYPE, kid: &self.key_id })
                .expect("a header of three strings always serializes");
        let payload = claims::to_payload(&self.key_id, claims);
        jws::sign_compact(&self.pair, &header, &payload)
    }

    /// Signs a device registration statement: a proof that this device holds the key, with its
    /// public key as a JWK in the header. See [`verify_registration`](crate::verify_registration).
    pub fn sign_registration(&self, claims: &RegistrationClaims) -> String {
        let (header, payload) = registration::to_header_and_payload(self, claims);
        jws::sign_compact(&self.pair, &header, &payload)
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

fn public_key_of(pair: &Ed25519KeyPair) -> [u8; 32] {
    pair.public_key().as_ref().try_into().expect("an Ed25519 public key is always 32 bytes")
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

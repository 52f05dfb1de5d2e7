//! What signs: the device key (check-ins, erasure receipts, registration statements, review requests) and the fleet
//! key (evidence of what the fleet decided). Two types, so that neither can sign the other's statements.

use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::wire::jws::{self, ALGORITHM};
use crate::wire::key_id::KeyId;

pub mod device_key;
pub mod fleet_key;

/// Why a signing key could not be made or loaded. Carries no key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The system random number generator failed.
    #[error("could not generate a signing key: the random number generator failed")]
    Random,
    /// The bytes are not an unencrypted PKCS#8 v2 Ed25519 private key (with its public key),
    /// or the embedded public key does not belong to the private key.
    #[error("not a valid PKCS#8 v2 Ed25519 key")]
    InvalidPkcs8,
}

/// An Ed25519 key pair and its key id: what both key types hold.
pub(crate) struct SigningPair {
    pair: Ed25519KeyPair,
    key_id: KeyId,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a KeyId,
}

impl SigningPair {
    pub(crate) fn generate(rng: &dyn SecureRandom) -> Result<(SigningPair, Zeroizing<Vec<u8>>), KeyError> {
        let document = Ed25519KeyPair::generate_pkcs8(rng).map_err(|_| KeyError::Random)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let pair = SigningPair::from_pkcs8(&pkcs8)?;
        Ok((pair, pkcs8))
    }

    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningPair, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::InvalidPkcs8)?;
        let public_key: [u8; 32] =
            pair.public_key().as_ref().try_into().expect("an Ed25519 public key is always 32 bytes");
        Ok(SigningPair { key_id: KeyId::of_public_key(&public_key), pair })
    }

    pub(crate) fn public_key(&self) -> [u8; 32] {
        self.pair.public_key().as_ref().try_into().expect("an Ed25519 public key is always 32 bytes")
    }

    pub(crate) fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Signs `payload` under the three-parameter header `{"alg":"EdDSA","typ":typ,"kid":<key id>}`.
    pub(crate) fn sign_typed(&self, typ: &'static str, payload: &[u8]) -> String {
        let header = serde_json::to_vec(&Header { alg: ALGORITHM, typ, kid: &self.key_id })
            .expect("a header of three strings always serializes");
        self.sign_raw(&header, payload)
    }

    /// Signs raw header and payload JSON.
    pub(crate) fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        jws::sign_compact(&self.pair, header, payload)
    }
}

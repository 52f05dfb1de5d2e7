//! Device key identifiers.

use std::fmt;

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use super::b64;

/// The identifier of a device key: unpadded base64url of the SHA-256 of the raw 32-byte
/// Ed25519 public key, always 43 characters.
///
/// It is the JWS header `kid` and the `iss` claim of every attestation the key signs. It is
/// public and derived from the public key only, so it is safe to show in logs and errors; it is
/// the only token content this crate's error messages ever include.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

/// The text is not a well-formed [`KeyId`] (43 characters of canonical base64url of 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a key id: expected 43 characters of unpadded base64url encoding 32 bytes")]
pub struct InvalidKeyId;

impl KeyId {
    /// Length in characters of every key id.
    pub const LEN: usize = 43;

    /// The key id of a raw Ed25519 public key.
    pub fn of_public_key(public_key: &[u8; 32]) -> KeyId {
        KeyId(b64::encode(digest(&SHA256, public_key).as_ref()))
    }

    /// Parses a key id, checking only its form (it may belong to no known device).
    pub fn parse(text: &str) -> Result<KeyId, InvalidKeyId> {
        if text.len() != Self::LEN || b64::decode_array::<32>(text.as_bytes()).is_none() {
            return Err(InvalidKeyId);
        }
        Ok(KeyId(text.to_owned()))
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the key id of `public_key`.
    pub fn matches(&self, public_key: &[u8; 32]) -> bool {
        *self == KeyId::of_public_key(public_key)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = InvalidKeyId;

    fn try_from(text: String) -> Result<KeyId, InvalidKeyId> {
        KeyId::parse(&text)
    }
}

impl From<KeyId> for String {
    fn from(kid: KeyId) -> String {
        kid.0
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // Computed independently: base64url(SHA-256(32 zero bytes)).
        let kid = KeyId::of_public_key(&[0u8; 32]);
        assert_eq!(kid.as_str(), "Zmh6rfhivXdsj8GLjp-OIAiXFIVu4jOzkCpZHQ1fKSU");
        assert_eq!(kid.as_str().len(), KeyId::LEN);
        assert_eq!(KeyId::parse(kid.as_str()), Ok(kid.clone()));
        assert!(kid.matches(&[0u8; 32]));
        assert!(!kid.matches(&[1u8; 32]));
    }

    #[test]
    fn rejects_malformed_ids() {
        assert_eq!(KeyId::parse(""), Err(InvalidKeyId));
        assert_eq!(KeyId::parse(&"A".repeat(42)), Err(InvalidKeyId));
        assert_eq!(KeyId::parse(&"A".repeat(44)), Err(InvalidKeyId));
        // 43 characters whose last one carries non-zero trailing bits.
        assert_eq!(KeyId::parse(&format!("{}B", "A".repeat(42))), Err(InvalidKeyId));
        assert_eq!(KeyId::parse(&format!("{}=", "A".repeat(42))), Err(InvalidKeyId));
        assert!(KeyId::parse(&"A".repeat(43)).is_ok());
    }
}

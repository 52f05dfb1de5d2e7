//! Challenges: the nonce a device must sign into a check-in, bound to its key, driver, fleet and block, with an expiry,
//! the liveness check the fleet asks for, and the key's state when it was issued.
//!
//! A challenge is not stored. Its nonce carries in clear the expiry, the liveness method and a [`SealedKeyState`]
//! (the key's public key and last counter as read to issue it: nothing the device does not already know), 16 random
//! bytes, and an HMAC-SHA256 tag, under the service's challenge key, over those and the key id, fleet, driver and
//! block it was issued for: only this service (or a replica sharing its database) can make one, and a nonce answered
//! by another key or for another block does not open. The sealed state lets a check-in be decided without reading
//! the key again, but it is only a claim about the past: the check-in is stored only if the key's counter and status
//! are still those sealed (`Service::record_checkin`). Single use is not decided here: a check-in row keeps its nonce
//! under a UNIQUE constraint, so a nonce is recorded once whatever the interleaving of requests and replicas.
//!
//! Nonce layout (base64url, 131 characters): version (1 byte, 2) ‖ liveness (1: 0 passive, 1 active) ‖ expires_at
//! (8, big-endian unix seconds) ‖ last counter (8, big-endian) ‖ Ed25519 public key (32) ‖ random (16) ‖ tag (32).
//! Version 1 nonces (no sealed state) are no longer issued or opened: a device holding one when its fleet upgrades
//! is refused with `challenge_unknown` and asks for another (replicas of both versions on one database refuse each
//! other's nonces the same way: upgrade them together).

use facecheck_attest::{KeyId, LivenessMethod};
use ring::hmac;

use crate::util;

const VERSION: u8 = 2;
const RANDOM_LEN: usize = 16;
const STATE_LEN: usize = 8 + 32;
const CLEAR_LEN: usize = 1 + 1 + 8 + STATE_LEN + RANDOM_LEN;
const TAG_LEN: usize = 32;
const NONCE_LEN: usize = CLEAR_LEN + TAG_LEN;
const DOMAIN: &[u8] = b"facecheck-fleet challenge v2\0";

/// What a challenge is issued for: the nonce opens only for the same four values.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The device key that must sign the check-in.
    pub kid: &'a KeyId,
    /// Its fleet.
    pub fleet: &'a str,
    /// Its driver.
    pub driver: &'a str,
    /// The block the check-in is for.
    pub block: &'a str,
}

/// What the service knew of the key when it issued a challenge. Authentic (the tag covers it) but possibly out of
/// date by the time the check-in arrives: a decision made on it stands only if the write finds the same counter and
/// status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedKeyState {
    /// The key's raw Ed25519 public key (its id is a digest of it, so the two never disagree).
    pub public_key: [u8; 32],
    /// The highest counter the fleet had accepted from the key (the challenge's answer tells the device too).
    pub last_counter: i64,
}

/// A challenge this service issued for the binding, not yet expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenChallenge {
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
    /// The liveness check the fleet asked for when it issued the challenge.
    pub liveness: LivenessMethod,
    /// The key's state when the challenge was issued.
    pub sealed: SealedKeyState,
}

/// Why a nonce does not answer a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeRefusal {
    /// Not a nonce this service's format (never issued by it).
    #[error("no such challenge")]
    Unknown,
    /// A well-formed nonce whose tag does not verify for this key, driver, fleet and block (issued to another key or
    /// for another block, or altered).
    #[error("the challenge was issued for another key or block")]
    Mismatch,
    /// Issued for this binding, but its expiry has passed.
    #[error("the challenge has expired")]
    Expired,
}

/// The service's challenge key (shared by replicas through the database).
pub struct ChallengeKey(hmac::Key);

impl ChallengeKey {
    /// The key from its 32-byte secret.
    pub fn from_secret(secret: &[u8]) -> ChallengeKey {
        ChallengeKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// A new challenge for `binding`, valid until `expires_at`, asking for `liveness`, sealing the key's `state`.
    pub fn issue(
        &self,
        binding: &Binding,
        liveness: LivenessMethod,
        expires_at: i64,
        state: &SealedKeyState,
    ) -> String {
        let mut nonce = Vec::with_capacity(NONCE_LEN);
        nonce.push(VERSION);
        nonce.push(liveness_byte(liveness));
        nonce.extend_from_slice(&expires_at.to_be_bytes());
        nonce.extend_from_slice(&state.last_counter.to_be_bytes());
        nonce.extend_from_slice(&state.public_key);
        nonce.extend_from_slice(&util::random_bytes(RANDOM_LEN));
        let tag = hmac::sign(&self.0, &message(binding, &nonce));
        nonce.extend_from_slice(tag.as_ref());
        util::b64(&nonce)
    }

    /// The challenge `nonce` answers, if this service issued it for `binding` and it has not expired at `now`. The
    /// tag is checked before the expiry, so an altered expiry is a mismatch, not an extension.
    pub fn open(&self, nonce: &str, binding: &Binding, now: i64) -> Result<OpenChallenge, ChallengeRefusal> {
        let bytes = util::unb64(nonce).filter(|b| b.len() == NONCE_LEN && b[0] == VERSION);
        let Some(bytes) = bytes else { return Err(ChallengeRefusal::Unknown) };
        let (clear, tag) = bytes.split_at(CLEAR_LEN);
        hmac::verify(&self.0, &message(binding, clear), tag).map_err(|_| ChallengeRefusal::Mismatch)?;
        let liveness = match clear[1] {
            0 => LivenessMethod::Passive,
            _ => LivenessMethod::Active,
        };
        let expires_at = i64::from_be_bytes(clear[2..10].try_into().expect("8 bytes"));
        if expires_at <= now {
            return Err(ChallengeRefusal::Expired);
        }
        let sealed = SealedKeyState {
            last_counter: i64::from_be_bytes(clear[10..18].try_into().expect("8 bytes")),
            public_key: clear[18..50].try_into().expect("32 bytes"),
        };
        Ok(OpenChallenge { expires_at, liveness, sealed })
    }
}

fn liveness_byte(method: LivenessMethod) -> u8 {
    match method {
        LivenessMethod::Passive => 0,
        LivenessMethod::Active => 1,
    }
}

/// What the tag covers: the domain, each bound value length-prefixed (so no two bindings share an encoding), and the
/// nonce's clear part.
fn message(binding: &Binding, clear: &[u8]) -> Vec<u8> {
    let fields = [binding.kid.as_str(), binding.fleet, binding.driver, binding.block];
    let mut message =
        Vec::with_capacity(DOMAIN.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>() + clear.len());
    message.extend_from_slice(DOMAIN);
    for field in fields {
        message.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        message.extend_from_slice(field.as_bytes());
    }
    message.extend_from_slice(clear);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kid() -> KeyId {
        let (key, _) = facecheck_attest::DeviceKey::generate(&ring::rand::SystemRandom::new()).unwrap();
        key.key_id().clone()
    }

    const STATE: SealedKeyState = SealedKeyState { public_key: [5; 32], last_counter: 1 << 40 };

    #[test]
    fn a_challenge_opens_only_for_its_binding_and_before_its_expiry() {
        let key = ChallengeKey::from_secret(&[7; 32]);
        let (a, b) = (kid(), kid());
        let bound = Binding { kid: &a, fleet: "F", driver: "D", block: "B" };
        for liveness in [LivenessMethod::Passive, LivenessMethod::Active] {
            let nonce = key.issue(&bound, liveness, 1_000, &STATE);
            assert_eq!(nonce.len(), 131);
            assert!(nonce.len() <= 256, "fits the device's challenge limit");
            assert_eq!(key.open(&nonce, &bound, 999), Ok(OpenChallenge { expires_at: 1_000, liveness, sealed: STATE }));
            assert_eq!(key.open(&nonce, &bound, 1_000), Err(ChallengeRefusal::Expired));
            for other in [
                Binding { kid: &b, ..bound },
                Binding { fleet: "F2", ..bound },
                Binding { driver: "D2", ..bound },
                Binding { block: "B2", ..bound },
                // The same bytes split differently between fields.
                Binding { fleet: "FD", driver: "", ..bound },
            ] {
                assert_eq!(key.open(&nonce, &other, 999), Err(ChallengeRefusal::Mismatch));
            }
            assert_eq!(ChallengeKey::from_secret(&[8; 32]).open(&nonce, &bound, 999), Err(ChallengeRefusal::Mismatch));
        }
        // Two challenges for the same binding differ (random part).
        let bound_nonce = || key.issue(&bound, LivenessMethod::Passive, 1_000, &STATE);
        assert_ne!(bound_nonce(), bound_nonce());
    }

    #[test]
    fn an_altered_nonce_does_not_open() {
        let key = ChallengeKey::from_secret(&[7; 32]);
        let a = kid();
        let bound = Binding { kid: &a, fleet: "F", driver: "D", block: "B" };
        let bytes = util::unb64(&key.issue(&bound, LivenessMethod::Active, 1_000, &STATE)).unwrap();
        // Every byte flipped in turn: the version makes it unknown, anything else a mismatch (a later expiry, the
        // weaker liveness method, another sealed counter or public key, another random part, a bad tag).
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 1;
            let expected = if i == 0 { ChallengeRefusal::Unknown } else { ChallengeRefusal::Mismatch };
            assert_eq!(key.open(&util::b64(&altered), &bound, 0), Err(expected), "byte {i}");
        }
        for bad in [
            "",
            "made-up",
            "!!!",
            &util::b64(&bytes[..bytes.len() - 1]),
            &util::b64(&[bytes.clone(), vec![0]].concat()),
        ] {
            assert_eq!(key.open(bad, &bound, 0), Err(ChallengeRefusal::Unknown), "{bad}");
        }
    }
}

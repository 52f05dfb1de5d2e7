//! Facecheck attestations: what a device sends upstream after a selfie check-in.
//!
//! An attestation says *which registered device* decided *what* about *which driver*, for
//! *which challenge*, and nothing image-derived: no score, no embedding, no crop. It is a JWS
//! in compact serialization (RFC 7515) signed with the device's Ed25519 key (`alg: "EdDSA"`,
//! RFC 8037), so any standard JOSE library can check it.
//!
//! # Token layout
//!
//! ```text
//! base64url(header) "." base64url(payload) "." base64url(signature)      (no padding)
//!
//! header   {"alg":"EdDSA","typ":"fc-attestation+jwt","kid":<key id>}
//! payload  {"iss":<key id>,            the signing device key (= header kid)
//!           "sub":<driver id>,         the fleet's opaque driver id
//!           "aud":<fleet id>,
//!           "blk":<block/shift id>,
//!           "nonce":<server challenge>,
//!           "iat":<unix seconds>,
//!           "ctr":<u64, strictly increasing per device>,
//!           "res":"match"|"no_match"|"spoof_suspected"|"no_face"|"poor_quality"
//!                 |"locked_out"|"erased",
//!           "live":<bool>, "lvm":"passive"|"active", "att":<u32 attempts>,
//!           "mdl":<sha256 hex of the model manifest>,
//!           "pol":<threshold/policy id>, "ver":<library version>}
//! signature  Ed25519 over the ASCII bytes base64url(header) "." base64url(payload)
//! key id     base64url(SHA-256(raw 32-byte public key)), 43 characters
//! ```
//!
//! Parsing is strict: every header parameter and claim listed above is required, no other is
//! accepted, JSON objects may not repeat a name, and base64url must be canonical. Erasure
//! receipts are attestations with `res: "erased"`, verified only by [`verify_erasure_receipt`]
//! (the check-in verifier refuses them). Device registration statements
//! ([`statements::registration`]), review requests ([`statements::review`]) and the fleet's signed
//! evidence ([`statements::evidence`]) are separate token types that cannot be confused with an
//! attestation. Small-order and non-canonical Ed25519 public keys are refused wherever a key enters
//! ([`wire::public_key`]).
//!
//! # Layout
//!
//! - [`wire`]: what both sides share — compact JWS, base64url, strict JSON, key ids, public-key checks, freshness,
//!   statement hashes;
//! - [`statements`]: the claims of each token type and their strict encoding;
//! - [`signing`]: the device key and the fleet key (what the phone and the fleet sign);
//! - [`verifying`]: what the fleet (and, for evidence, the driver) checks, against a [`DeviceKeys`] lookup — the
//!   file-based [`Registry`] or a database.
//!
//! No module imports one that imports it back: `wire` ← `statements` ← `signing`, `verifying`.
//!
//! # Example
//!
//! ```
//! use facecheck_attest::{
//!     verify_attestation, Claims, CounterState, DeviceKey, Expectations, LivenessMethod, ManifestDigest,
//!     Outcome, Registry, VerifyError, DEFAULT_SKEW_SECS,
//! };
//! use ring::rand::SystemRandom;
//!
//! // On the device: the key is made once and its PKCS#8 bytes sealed in the vault.
//! let (key, pkcs8) = DeviceKey::generate(&SystemRandom::new()).unwrap();
//! let key = DeviceKey::from_pkcs8(&pkcs8).unwrap();
//!
//! // On the fleet side: the device's public key is registered for a driver.
//! let mut registry = Registry::new();
//! registry.add(key.public_key(), "driver-42", "fleet-7").unwrap();
//!
//! // The server challenges, the device checks in and signs.
//! let claims = Claims {
//!     driver: "driver-42".into(),
//!     fleet: "fleet-7".into(),
//!     block: "block-2024-06-01-am".into(),
//!     nonce: "c2VydmVyIGNoYWxsZW5nZQ".into(),
//!     issued_at: 1_717_200_000,
//!     counter: 1,
//!     outcome: Outcome::Match,
//!     liveness_passed: true,
//!     liveness_method: LivenessMethod::Active,
//!     attempts: 1,
//!     model_manifest: ManifestDigest::of_manifest(b"manifest bytes"),
//!     policy: "fmr-1e-4".into(),
//!     version: "0.1.0".into(),
//! };
//! let token = key.sign(&claims);
//!
//! // The server verifies against its challenge, its clock and the device's last counter.
//! let expected = Expectations {
//!     fleet: "fleet-7",
//!     nonce: "c2VydmVyIGNoYWxsZW5nZQ",
//!     driver: Some("driver-42"),
//!     block: Some("block-2024-06-01-am"),
//!     now_unix: 1_717_200_030,
//!     skew_secs: DEFAULT_SKEW_SECS,
//! };
//! let mut counters = CounterState::new();
//! let verified = counters.verify_and_record(&token, &registry, &expected).unwrap();
//! assert_eq!(verified.outcome(), Outcome::Match);
//! assert_eq!(verified.claims(), &claims);
//!
//! // The same token again is a replay.
//! assert!(matches!(
//!     counters.verify_and_record(&token, &registry, &expected),
//!     Err(VerifyError::CounterNotIncreasing { .. })
//! ));
//! # let _ = verify_attestation(&token, &registry, &expected, None).unwrap();
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod signing;
pub mod statements;
pub mod verifying;
pub mod wire;

pub use signing::device_key::DeviceKey;
pub use signing::fleet_key::{FleetKey, InvalidEvidence};
pub use signing::KeyError;
pub use statements::attestation::{
    Claims, InvalidManifestDigest, LivenessMethod, ManifestDigest, Outcome, ATTESTATION_CLAIMS,
};
pub use statements::evidence::{EvidenceClaims, EvidenceKind, EVIDENCE_CLAIMS};
pub use statements::registration::{
    normalize_code, CodeBinding, Consent, InvalidCodeBinding, RegistrationClaims, REGISTRATION_CLAIMS,
    REGISTRATION_OPTIONAL_CLAIMS, REGISTRATION_PURPOSE,
};
pub use statements::review::{ReviewClaims, ReviewReason, REVIEW_CLAIMS};
pub use verifying::attestation::{
    verify_attestation, Expectations, VerifiedAttestation, VerifyError, DEFAULT_SKEW_SECS,
};
pub use verifying::counter::{CounterState, CounterStateError};
pub use verifying::erasure::{
    verify_erasure_receipt, ErasureExpectations, VerifiedErasure, DEFAULT_ERASURE_MAX_AGE_SECS,
};
pub use verifying::evidence::{verify_evidence, VerifiedEvidence};
pub use verifying::keys::{DeviceKeys, DeviceStatus, KnownDevice};
pub use verifying::registration::{
    verify_registration, RegistrationError, RegistrationExpectations, VerifiedRegistration,
};
pub use verifying::registry::{RegisteredDevice, Registry, RegistryError};
pub use verifying::review::{verify_review, ReviewExpectations, VerifiedReview};
pub use wire::hash::{is_statement_hash, statement_hash, STATEMENT_HASH_LEN};
pub use wire::jws::{
    peek_key_id, Malformed, Part, ALGORITHM, ATTESTATION_TYPE, EVIDENCE_TYPE, MAX_TOKEN_LEN, REGISTRATION_TYPE,
    REVIEW_TYPE,
};
pub use wire::key_id::{InvalidKeyId, KeyId};
pub use wire::public_key::{check_public_key, WeakKey};

//! Device registration statements: proof that a device holds the key it asks to register.
//!
//! A registration statement is a compact JWS signed by the device key, whose protected header
//! carries the public key itself:
//!
//! ```text
//! header  {"alg":"EdDSA","typ":"fc-registration+jwt","kid":<key id>,
//!          "jwk":{"kty":"OKP","crv":"Ed25519","x":<base64url public key>}}
//! payload {"pur":"facecheck-device-registration","sub":<driver>,"aud":<fleet>,
//!          "mdl":<manifest digest>,"iat":<unix seconds>}
//! ```
//!
//! It cannot be mistaken for an attestation, nor an attestation for it: the `typ` headers
//! differ, the header parameter sets differ (`jwk` is required here and refused there), the
//! claim sets are disjoint in `pur` and `nonce`/`ctr`/..., and both parsers refuse unknown
//! parameters and claims.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::b64;
use crate::claims::{check_claim_set, ManifestDigest};
use crate::device_key::DeviceKey;
use crate::jws::{self, HeaderError, Malformed, Part, ALGORITHM, REGISTRATION_TYPE};
use crate::key_id::KeyId;
use crate::verify::{check_freshness, header_key_id, Freshness};

/// The `pur` claim every registration statement carries.
pub const REGISTRATION_PURPOSE: &str = "facecheck-device-registration";

/// Every claim of a registration payload. All are required and no other is accepted.
pub const REGISTRATION_CLAIMS: [&str; 5] = ["pur", "sub", "aud", "mdl", "iat"];

/// The header parameters a registration statement must have, and the only ones it may have.
const HEADER_PARAMETERS: [&str; 4] = ["alg", "typ", "kid", "jwk"];

/// What a device asserts when it registers its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationClaims {
    /// `sub`: the fleet's opaque id of the driver registering this device.
    pub driver: String,
    /// `aud`: the fleet the device registers with.
    pub fleet: String,
    /// `mdl`: digest of the model manifest installed on the device.
    pub model_manifest: ManifestDigest,
    /// `iat`: when the device signed, in unix seconds.
    pub issued_at: u64,
}

/// What the fleet expects of a registration statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationExpectations<'a> {
    /// The fleet's id; `aud` must equal it.
    pub fleet: &'a str,
    /// The driver the fleet authenticated for this enrollment, if it knows one; `sub` must then
    /// equal it. With `None`, the caller must check [`VerifiedRegistration::driver`] itself.
    pub driver: Option<&'a str>,
    /// The verifier's current time in unix seconds.
    pub now_unix: u64,
    /// How far `iat` may be from `now_unix`, in seconds, in either direction.
    pub skew_secs: u64,
}

/// A registration statement whose proof of possession and claims were checked. Only
/// [`verify_registration`] makes one; add it with [`Registry::register`](crate::Registry::register).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRegistration {
    key_id: KeyId,
    public_key: [u8; 32],
    claims: RegistrationClaims,
}

impl VerifiedRegistration {
    /// The key id of the registered key.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The driver id (`sub`).
    pub fn driver(&self) -> &str {
        &self.claims.driver
    }

    /// The fleet (`aud`), equal to the expected fleet.
    pub fn fleet(&self) -> &str {
        &self.claims.fleet
    }

    /// The verified claims.
    pub fn claims(&self) -> &RegistrationClaims {
        &self.claims
    }
}

/// Why a registration statement was rejected. Messages carry at most the key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    /// The statement could not be decoded.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// `alg` is absent or anything but `EdDSA`.
    #[error("unsupported signature algorithm: only EdDSA is accepted")]
    UnsupportedAlgorithm,
    /// The header `typ` is not `fc-registration+jwt`: for instance a check-in attestation.
    #[error("not a device registration statement (wrong token type)")]
    WrongTokenType,
    /// The `jwk` header is not an Ed25519 OKP key with exactly `kty`, `crv` and `x`.
    #[error("registration header `jwk` is not an Ed25519 public key")]
    InvalidJwk,
    /// The header `kid` is not the SHA-256 of the `jwk` public key.
    #[error("registration key id {kid} does not match its public key")]
    KeyIdMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The signature does not verify under the `jwk` public key (no proof of possession).
    #[error("bad signature on registration of device key {kid}")]
    BadSignature {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `pur` claim is not [`REGISTRATION_PURPOSE`].
    #[error("registration of device key {kid} has the wrong purpose")]
    WrongPurpose {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `aud` claim is not the expected fleet.
    #[error("registration of device key {kid} is for another fleet")]
    AudienceMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `sub` claim is not the expected driver.
    #[error("registration of device key {kid} is for another driver")]
    DriverMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// `iat` is older than the skew window allows.
    #[error("registration of device key {kid} is stale")]
    Stale {
        /// The header `kid`.
        kid: KeyId,
    },
    /// `iat` is further in the future than the skew window allows.
    #[error("registration of device key {kid} is issued in the future")]
    IssuedInFuture {
        /// The header `kid`.
        kid: KeyId,
    },
}

impl RegistrationError {
    /// The key id the failing statement named, for the variants that know it.
    pub fn key_id(&self) -> Option<&KeyId> {
        match self {
            RegistrationError::Malformed(_)
            | RegistrationError::UnsupportedAlgorithm
            | RegistrationError::WrongTokenType
            | RegistrationError::InvalidJwk => None,
            RegistrationError::KeyIdMismatch { kid }
            | RegistrationError::BadSignature { kid }
            | RegistrationError::WrongPurpose { kid }
            | RegistrationError::AudienceMismatch { kid }
            | RegistrationError::DriverMismatch { kid }
            | RegistrationError::Stale { kid }
            | RegistrationError::IssuedInFuture { kid } => Some(kid),
        }
    }
}

impl From<HeaderError> for RegistrationError {
    fn from(e: HeaderError) -> RegistrationError {
        match e {
            HeaderError::Malformed(m) => RegistrationError::Malformed(m),
            HeaderError::UnsupportedAlgorithm => RegistrationError::UnsupportedAlgorithm,
            HeaderError::WrongType => RegistrationError::WrongTokenType,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Jwk {
    kty: String,
    crv: String,
    x: String,
}

#[derive(Serialize)]
struct RegistrationHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a KeyId,
    jwk: Jwk,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationPayload {
    pur: String,
    sub: String,
    aud: String,
    mdl: ManifestDigest,
    iat: u64,
}

/// The header and payload JSON of `key`'s registration statement.
pub(crate) fn to_header_and_payload(key: &DeviceKey, claims: &RegistrationClaims) -> (Vec<u8>, Vec<u8>) {
    let header = RegistrationHeader {
        alg: ALGORITHM,
        typ: REGISTRATION_TYPE,
        kid: key.key_id(),
        jwk: Jwk { kty: "OKP".to_owned(), crv: "Ed25519".to_owned(), x: b64::encode(&key.public_key()) },
    };
    let payload = RegistrationPayload {
        pur: REGISTRATION_PURPOSE.to_owned(),
        sub: claims.driver.clone(),
        aud: claims.fleet.clone(),
        mdl: claims.model_manifest.clone(),
        iat: claims.issued_at,
    };
    let header = serde_json::to_vec(&header).expect("a header of strings always serializes");
    let payload = serde_json::to_vec(&payload).expect("claims of strings and integers always serialize");
    (header, payload)
}

/// Verifies a device registration statement.
///
/// Checks, in order: token structure; `alg`; `typ`; header parameters (exactly `alg`, `typ`,
/// `kid`, `jwk`); `kid` form; the JWK; `kid` = SHA-256 of the JWK public key; the signature
/// under that key (proof of possession); claims (exactly `pur`, `sub`, `aud`, `mdl`, `iat`, each
/// well typed); `pur`; `aud`; `sub` if a driver is expected; `iat`.
pub fn verify_registration(
    token: impl AsRef<[u8]>,
    expected: &RegistrationExpectations<'_>,
) -> Result<VerifiedRegistration, RegistrationError> {
    let unverified = jws::parse(token.as_ref(), REGISTRATION_TYPE, &HEADER_PARAMETERS)?;
    let kid = header_key_id(&unverified.header)?;
    let public_key = unverified.header.get("jwk").and_then(jwk_public_key).ok_or(RegistrationError::InvalidJwk)?;
    if !kid.matches(&public_key) {
        return Err(RegistrationError::KeyIdMismatch { kid });
    }
    if !unverified.signature_is_valid(&public_key) {
        return Err(RegistrationError::BadSignature { kid });
    }

    let payload = parse_payload(&unverified.payload)?;
    if payload.pur != REGISTRATION_PURPOSE {
        return Err(RegistrationError::WrongPurpose { kid });
    }
    if payload.aud != expected.fleet {
        return Err(RegistrationError::AudienceMismatch { kid });
    }
    if expected.driver.is_some_and(|driver| driver != payload.sub) {
        return Err(RegistrationError::DriverMismatch { kid });
    }
    match check_freshness(payload.iat, expected.now_unix, expected.skew_secs) {
        Freshness::Fresh => {}
        Freshness::Stale => return Err(RegistrationError::Stale { kid }),
        Freshness::Future => return Err(RegistrationError::IssuedInFuture { kid }),
    }
    Ok(VerifiedRegistration {
        key_id: kid,
        public_key,
        claims: RegistrationClaims {
            driver: payload.sub,
            fleet: payload.aud,
            model_manifest: payload.mdl,
            issued_at: payload.iat,
        },
    })
}

/// The raw public key of an Ed25519 OKP JWK with exactly `kty`, `crv` and `x`.
fn jwk_public_key(jwk: &Value) -> Option<[u8; 32]> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).ok()?;
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return None;
    }
    b64::decode_array::<32>(jwk.x.as_bytes())
}

fn parse_payload(payload: &[u8]) -> Result<RegistrationPayload, Malformed> {
    let map = jws::parse_segment_json(payload, Part::Payload)?;
    check_claim_set(&map, &REGISTRATION_CLAIMS, claim_is_valid)?;
    serde_json::from_value(Value::Object(map)).map_err(|_| Malformed::Json(Part::Payload))
}

fn claim_is_valid(name: &str, value: &Value) -> bool {
    match name {
        "pur" | "sub" | "aud" => value.is_string(),
        "iat" => value.is_u64(),
        "mdl" => value.as_str().is_some_and(|s| ManifestDigest::from_hex(s).is_ok()),
        _ => false,
    }
}

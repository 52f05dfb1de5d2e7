//! Verification of device registration statements (their format: [`statements::registration`]).
//!
//! [`statements::registration`]: crate::statements::registration

use crate::statements::registration::{self as statement, RegistrationClaims, HEADER_PARAMETERS, REGISTRATION_PURPOSE};
use crate::wire::freshness::{check_window, Freshness};
use crate::wire::jws::{self, HeaderError, Malformed, REGISTRATION_TYPE};
use crate::wire::key_id::KeyId;
use crate::wire::public_key::{check_public_key, WeakKey};

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
    /// How far `iat` may be in the future of `now_unix`, in seconds.
    pub skew_secs: u64,
    /// How old `iat` may be, in seconds: the skew for a statement sent as it is signed, the validity of the
    /// enrollment code for one signed offline and delivered later.
    pub max_age_secs: u64,
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
    /// The `jwk` public key is small-order or not canonically encoded: it would prove nothing.
    #[error("registration public key refused: {0}")]
    WeakKey(WeakKey),
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
            | RegistrationError::InvalidJwk
            | RegistrationError::WeakKey(_) => None,
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

/// Verifies a device registration statement.
///
/// Checks, in order: token structure; `alg`; `typ`; header parameters (exactly `alg`, `typ`,
/// `kid`, `jwk`); `kid` form; the JWK; the key is not small-order or non-canonical; `kid` = SHA-256 of the JWK
/// public key; the signature under that key (proof of possession); claims (exactly `pur`, `sub`, `aud`, `mdl`,
/// `iat`, and possibly `enc` and `cns`, each well typed); `pur`; `aud`; `sub` if a driver is expected; `iat` within
/// `[now - max_age, now + skew]`. Whether an enrollment code or a consent record is present, and whether the code
/// is one the fleet issued, is for the caller (the fleet service requires both).
pub fn verify_registration(
    token: impl AsRef<[u8]>,
    expected: &RegistrationExpectations<'_>,
) -> Result<VerifiedRegistration, RegistrationError> {
    let unverified = jws::parse(token.as_ref(), REGISTRATION_TYPE, &HEADER_PARAMETERS)?;
    let kid = unverified.key_id()?;
    let public_key =
        unverified.header.get("jwk").and_then(statement::jwk_public_key).ok_or(RegistrationError::InvalidJwk)?;
    check_public_key(&public_key).map_err(RegistrationError::WeakKey)?;
    if !kid.matches(&public_key) {
        return Err(RegistrationError::KeyIdMismatch { kid });
    }
    if !unverified.signature_is_valid(&public_key) {
        return Err(RegistrationError::BadSignature { kid });
    }

    let payload = statement::parse_payload(&unverified.payload)?;
    if payload.pur != REGISTRATION_PURPOSE {
        return Err(RegistrationError::WrongPurpose { kid });
    }
    if payload.aud != expected.fleet {
        return Err(RegistrationError::AudienceMismatch { kid });
    }
    if expected.driver.is_some_and(|driver| driver != payload.sub) {
        return Err(RegistrationError::DriverMismatch { kid });
    }
    match check_window(payload.iat, expected.now_unix, expected.max_age_secs, expected.skew_secs) {
        Freshness::Fresh => {}
        Freshness::Stale => return Err(RegistrationError::Stale { kid }),
        Freshness::Future => return Err(RegistrationError::IssuedInFuture { kid }),
    }
    Ok(VerifiedRegistration { key_id: kid, public_key, claims: payload.into_claims() })
}

//! Why a device statement or the fleet's evidence was rejected.

use crate::wire::jws::{HeaderError, Malformed};
use crate::wire::key_id::KeyId;

/// Why a device statement (attestation, erasure receipt, review request) or the fleet's evidence was rejected: one
/// variant per check. Messages carry at most the key id, never claims or other token content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token could not be decoded: segments, base64url, JSON, header parameters, missing or
    /// unexpected claims, wrong claim types.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// `alg` is absent or anything but `EdDSA` (`none`, `HS256`, `RS256`, `ES256`, ...).
    /// Checked before the header is otherwise read and before any key is looked up.
    #[error("unsupported signature algorithm: only EdDSA is accepted")]
    UnsupportedAlgorithm,
    /// The header `typ` is not the one this verifier takes: for instance a registration statement given to the
    /// check-in verifier.
    #[error("wrong token type for this verifier")]
    WrongTokenType,
    /// An erasure receipt (`res: "erased"`) was given to the check-in verifier: it is no check-in.
    #[error("an erasure receipt is not a check-in (device key {kid})")]
    NotACheckIn {
        /// The header `kid`.
        kid: KeyId,
    },
    /// A check-in was given to the erasure verifier.
    #[error("not an erasure receipt (device key {kid})")]
    NotAnErasureReceipt {
        /// The header `kid`.
        kid: KeyId,
    },
    /// No device with this key id is registered.
    #[error("unknown device key {kid}")]
    UnknownKey {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The device's key has been revoked.
    #[error("device key {kid} is revoked")]
    RevokedKey {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The device's enrollment was erased: its key verifies nothing any more.
    #[error("device key {kid} is erased")]
    ErasedKey {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The signature does not verify under the registered public key.
    #[error("bad signature for device key {kid}")]
    BadSignature {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `iss` claim is not the header `kid`.
    #[error("issuer claim does not match header key id {kid}")]
    IssuerMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `sub` claim is not the driver the key is registered for.
    #[error("driver does not match the registration of device key {kid}")]
    DriverMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `aud` claim is not the expected fleet.
    #[error("audience is not the expected fleet (device key {kid})")]
    AudienceMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The device is registered with a different fleet than the expected one.
    #[error("device key {kid} is registered with another fleet")]
    DeviceNotInFleet {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `blk` claim is not the block the challenge was issued for.
    #[error("block does not match the challenge (device key {kid})")]
    BlockMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// The `nonce` claim is not the expected challenge.
    #[error("nonce does not match the challenge (device key {kid})")]
    NonceMismatch {
        /// The header `kid`.
        kid: KeyId,
    },
    /// `iat` is older than the skew window allows.
    #[error("attestation is stale (device key {kid})")]
    Stale {
        /// The header `kid`.
        kid: KeyId,
    },
    /// `iat` is further in the future than the skew window allows.
    #[error("attestation is issued in the future (device key {kid})")]
    IssuedInFuture {
        /// The header `kid`.
        kid: KeyId,
    },
    /// `ctr` is not greater than the last counter seen for the device: a replay, or a device
    /// whose counter went backwards.
    #[error("counter did not increase: replay suspected (device key {kid})")]
    CounterNotIncreasing {
        /// The header `kid`.
        kid: KeyId,
    },
}

impl VerifyError {
    /// The key id the failing token named, for the variants that know it (everything from the
    /// key lookup on). Safe to log: it is public and its form was checked.
    pub fn key_id(&self) -> Option<&KeyId> {
        match self {
            VerifyError::Malformed(_) | VerifyError::UnsupportedAlgorithm | VerifyError::WrongTokenType => None,
            VerifyError::UnknownKey { kid }
            | VerifyError::NotACheckIn { kid }
            | VerifyError::NotAnErasureReceipt { kid }
            | VerifyError::RevokedKey { kid }
            | VerifyError::ErasedKey { kid }
            | VerifyError::BlockMismatch { kid }
            | VerifyError::BadSignature { kid }
            | VerifyError::IssuerMismatch { kid }
            | VerifyError::DriverMismatch { kid }
            | VerifyError::AudienceMismatch { kid }
            | VerifyError::DeviceNotInFleet { kid }
            | VerifyError::NonceMismatch { kid }
            | VerifyError::Stale { kid }
            | VerifyError::IssuedInFuture { kid }
            | VerifyError::CounterNotIncreasing { kid } => Some(kid),
        }
    }
}

impl From<HeaderError> for VerifyError {
    fn from(e: HeaderError) -> VerifyError {
        match e {
            HeaderError::Malformed(m) => VerifyError::Malformed(m),
            HeaderError::UnsupportedAlgorithm => VerifyError::UnsupportedAlgorithm,
            HeaderError::WrongType => VerifyError::WrongTokenType,
        }
    }
}

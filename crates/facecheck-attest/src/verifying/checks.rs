//! The checks every device-statement verifier shares: the header parameter set, the key's status, the age window.

use super::error::VerifyError;
use super::keys::{DeviceKeys, DeviceStatus, KnownDevice};
use crate::wire::freshness::{check_window, Freshness};
use crate::wire::key_id::KeyId;

/// Looks up the device a token names and refuses unknown, revoked and erased keys (only `allow_revoked` lets a
/// revoked key through: an erasure receipt from a key that was replaced still erases).
pub(crate) fn known_device(
    keys: &(impl DeviceKeys + ?Sized),
    kid: &KeyId,
    allow_revoked: bool,
) -> Result<KnownDevice, VerifyError> {
    let device = keys.device(kid).ok_or_else(|| VerifyError::UnknownKey { kid: kid.clone() })?;
    match device.status {
        DeviceStatus::Active => Ok(device),
        DeviceStatus::Revoked if allow_revoked => Ok(device),
        DeviceStatus::Revoked => Err(VerifyError::RevokedKey { kid: kid.clone() }),
        DeviceStatus::Erased => Err(VerifyError::ErasedKey { kid: kid.clone() }),
    }
}

/// The age check shared by every device statement.
pub(crate) fn check_age(iat: u64, now: u64, max_age: u64, max_ahead: u64, kid: &KeyId) -> Result<(), VerifyError> {
    match check_window(iat, now, max_age, max_ahead) {
        Freshness::Fresh => Ok(()),
        Freshness::Stale => Err(VerifyError::Stale { kid: kid.clone() }),
        Freshness::Future => Err(VerifyError::IssuedInFuture { kid: kid.clone() }),
    }
}

/// The header parameters of the three-parameter token types (attestation, review request, evidence): exactly these.
pub(crate) const HEADER_PARAMETERS: [&str; 3] = ["alg", "typ", "kid"];

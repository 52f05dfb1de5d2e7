//! What the fleet side does: parse a token, check its signature against a key it already trusts (or, for a
//! registration statement, the proof of possession), its claims against what the fleet expects, its age and its
//! counter. One function per token type, each returning its own verified type: a value of that type is the only
//! proof a check passed.

pub mod attestation;
pub mod counter;
pub mod erasure;
pub mod evidence;
pub mod keys;
pub mod registration;
pub mod registry;
pub mod review;

use crate::wire::freshness::{check_window, Freshness};
use crate::wire::key_id::KeyId;
use attestation::VerifyError;
use keys::{DeviceKeys, DeviceStatus, KnownDevice};

/// Looks up the device a token names and refuses unknown, revoked and erased keys (only `allow_revoked` lets a
/// revoked key through: an erasure receipt from a key that was replaced still erases).
fn known_device(
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
fn check_age(iat: u64, now: u64, max_age: u64, max_ahead: u64, kid: &KeyId) -> Result<(), VerifyError> {
    match check_window(iat, now, max_age, max_ahead) {
        Freshness::Fresh => Ok(()),
        Freshness::Stale => Err(VerifyError::Stale { kid: kid.clone() }),
        Freshness::Future => Err(VerifyError::IssuedInFuture { kid: kid.clone() }),
    }
}

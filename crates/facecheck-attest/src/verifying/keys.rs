//! The fleet's knowledge of device keys, as the verifiers consult it.
//!
//! Verification takes a [`DeviceKeys`] lookup rather than a concrete store, so that the file-based
//! [`Registry`](crate::Registry) and the fleet service's database can both stand behind it. A lookup is a plain
//! synchronous call: a service with an asynchronous database reads the one row a token names first (see
//! [`peek_key_id`](crate::peek_key_id)) and verifies against that.

use crate::wire::key_id::KeyId;

/// Where a device key stands with the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    /// The driver's current key: its statements verify.
    Active,
    /// Replaced or revoked by the fleet: it verifies no check-in.
    Revoked,
    /// Its enrollment was erased (a receipt was accepted): it verifies nothing any more.
    Erased,
}

/// A device key the fleet knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    /// The raw 32-byte Ed25519 public key.
    pub public_key: [u8; 32],
    /// The driver the key speaks for.
    pub driver: String,
    /// The fleet the key is registered with.
    pub fleet: String,
    /// Whether it may still sign.
    pub status: DeviceStatus,
}

/// A lookup of device keys by key id.
pub trait DeviceKeys {
    /// The device registered under `kid`, whatever its status; `None` if the fleet does not know the key.
    fn device(&self, kid: &KeyId) -> Option<KnownDevice>;
}

/// One device, for a verifier that has already fetched the row a token names.
impl DeviceKeys for (KeyId, KnownDevice) {
    fn device(&self, kid: &KeyId) -> Option<KnownDevice> {
        (self.0 == *kid).then(|| self.1.clone())
    }
}

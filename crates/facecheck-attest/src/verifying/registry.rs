//! The fleet's registry of device public keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{DeviceKeys, DeviceStatus, KnownDevice};
use super::registration::VerifiedRegistration;
use crate::wire::b64;
use crate::wire::json;
use crate::wire::key_id::KeyId;
use crate::wire::public_key::{check_public_key, WeakKey};

/// One registered device: its public key, the driver and fleet it belongs to, and whether its
/// key has been revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredDevice {
    public_key: [u8; 32],
    driver: String,
    fleet: String,
    revoked: bool,
}

impl RegisteredDevice {
    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The fleet's opaque id of the driver this device belongs to.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// The fleet this device is registered with.
    pub fn fleet(&self) -> &str {
        &self.fleet
    }

    /// Whether the key has been revoked; a revoked key verifies nothing.
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }
}

/// The JSON form of a registry entry.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryJson {
    public_key: String,
    driver: String,
    fleet: String,
    revoked: bool,
}

/// Why a registry could not be loaded or changed. Messages carry at most a key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The text is not a JSON object of well-formed entries (position of the first problem,
    /// 1-based; 0 when the problem is in an entry's shape rather than the JSON syntax).
    #[error("registry JSON is malformed (line {line}, column {column})")]
    Json {
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
    },
    /// A registry key is not a well-formed key id.
    #[error("registry has an entry whose key id is malformed")]
    InvalidKeyId,
    /// An entry's `public_key` is not unpadded base64url of 32 bytes.
    #[error("registry entry {kid}: public key is not base64url of 32 bytes")]
    InvalidPublicKey {
        /// The entry.
        kid: KeyId,
    },
    /// A public key is small-order or not canonically encoded (in a file entry, or given to [`Registry::add`]).
    #[error("device key {kid} refused: {reason}")]
    WeakPublicKey {
        /// The key.
        kid: KeyId,
        /// What is wrong with it.
        reason: WeakKey,
    },
    /// An entry's key id is not the SHA-256 of its public key.
    #[error("registry entry {kid}: key id does not match its public key")]
    KeyIdMismatch {
        /// The entry.
        kid: KeyId,
    },
    /// The key is already registered (revoked keys stay registered and cannot be re-added).
    #[error("device key {kid} is already registered")]
    AlreadyRegistered {
        /// The key.
        kid: KeyId,
    },
    /// No device with this key id is registered.
    #[error("device key {kid} is not registered")]
    UnknownKey {
        /// The key.
        kid: KeyId,
    },
}

/// The fleet's registry of device keys, keyed by [`KeyId`].
///
/// Its JSON form (see [`Registry::to_json`]) is one object mapping each key id to its entry:
///
/// ```json
/// {
///   "<key id>": {
///     "public_key": "<unpadded base64url of the 32-byte Ed25519 public key>",
///     "driver": "<the fleet's driver id>",
///     "fleet": "<fleet id>",
///     "revoked": false
///   }
/// }
/// ```
///
/// All four fields are required and no others are allowed; loading checks that every key id
/// is the SHA-256 of its public key. This type does no I/O: callers read and write the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    devices: BTreeMap<KeyId, RegisteredDevice>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Loads a registry from its JSON text.
    pub fn from_json(text: &str) -> Result<Registry, RegistryError> {
        Registry::from_json_bytes(text.as_bytes())
    }

    /// Loads a registry from its JSON bytes (UTF-8).
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Registry, RegistryError> {
        let map = json::parse_object(bytes).map_err(|e| RegistryError::Json { line: e.line, column: e.column })?;
        let mut devices = BTreeMap::new();
        for (kid, entry) in map {
            let kid = KeyId::parse(&kid).map_err(|_| RegistryError::InvalidKeyId)?;
            let entry = entry_from_json(entry)?;
            let public_key = b64::decode_array::<32>(entry.public_key.as_bytes())
                .ok_or_else(|| RegistryError::InvalidPublicKey { kid: kid.clone() })?;
            if !kid.matches(&public_key) {
                return Err(RegistryError::KeyIdMismatch { kid });
            }
            check_public_key(&public_key)
                .map_err(|reason| RegistryError::WeakPublicKey { kid: kid.clone(), reason })?;
            let device =
                RegisteredDevice { public_key, driver: entry.driver, fleet: entry.fleet, revoked: entry.revoked };
            devices.insert(kid, device);
        }
        Ok(Registry { devices })
    }

    /// The registry as pretty-printed JSON, entries sorted by key id.
    pub fn to_json(&self) -> String {
        let map: BTreeMap<&str, EntryJson> = self
            .devices
            .iter()
            .map(|(kid, d)| {
                let entry = EntryJson {
                    public_key: b64::encode(&d.public_key),
                    driver: d.driver.clone(),
                    fleet: d.fleet.clone(),
                    revoked: d.revoked,
                };
                (kid.as_str(), entry)
            })
            .collect();
        serde_json::to_string_pretty(&map).expect("a map of strings and booleans always serializes")
    }

    /// [`to_json`](Self::to_json) as bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// Adds a device key for `driver` in `fleet`, returning its key id.
    ///
    /// Fails with [`RegistryError::AlreadyRegistered`] if the key is present, revoked or not, and with
    /// [`RegistryError::WeakPublicKey`] for a small-order or non-canonical key.
    pub fn add(
        &mut self,
        public_key: [u8; 32],
        driver: impl Into<String>,
        fleet: impl Into<String>,
    ) -> Result<KeyId, RegistryError> {
        let kid = KeyId::of_public_key(&public_key);
        check_public_key(&public_key).map_err(|reason| RegistryError::WeakPublicKey { kid: kid.clone(), reason })?;
        if self.devices.contains_key(&kid) {
            return Err(RegistryError::AlreadyRegistered { kid });
        }
        let device = RegisteredDevice { public_key, driver: driver.into(), fleet: fleet.into(), revoked: false };
        self.devices.insert(kid.clone(), device);
        Ok(kid)
    }

    /// Adds the device of a verified registration statement, for the driver and fleet the
    /// statement names.
    pub fn register(&mut self, registration: &VerifiedRegistration) -> Result<KeyId, RegistryError> {
        self.add(*registration.public_key(), registration.driver(), registration.fleet())
    }

    /// Revokes a key: from now on it verifies nothing. Revoking a revoked key is a no-op.
    pub fn revoke(&mut self, kid: &KeyId) -> Result<(), RegistryError> {
        let device = self.devices.get_mut(kid).ok_or_else(|| RegistryError::UnknownKey { kid: kid.clone() })?;
        device.revoked = true;
        Ok(())
    }

    /// The device registered under `kid`, revoked or not.
    pub fn lookup(&self, kid: &KeyId) -> Option<&RegisteredDevice> {
        self.devices.get(kid)
    }

    /// All devices, in key id order.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &RegisteredDevice)> {
        self.devices.iter()
    }

    /// Number of registered devices, revoked ones included.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether no device is registered.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

impl DeviceKeys for Registry {
    fn device(&self, kid: &KeyId) -> Option<KnownDevice> {
        self.lookup(kid).map(|d| KnownDevice {
            public_key: d.public_key,
            driver: d.driver.clone(),
            fleet: d.fleet.clone(),
            status: if d.revoked { DeviceStatus::Revoked } else { DeviceStatus::Active },
        })
    }
}

fn entry_from_json(entry: Value) -> Result<EntryJson, RegistryError> {
    serde_json::from_value(entry).map_err(|_| RegistryError::Json { line: 0, column: 0 })
}

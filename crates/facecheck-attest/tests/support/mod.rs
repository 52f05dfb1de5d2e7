//! Fixtures shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod fuzz_harness;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use facecheck_attest::{Claims, DeviceKey, Expectations, KeyId, ManifestDigest, Outcome, Registry, ATTESTATION_TYPE};
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Map, Value};

pub const FLEET: &str = "fleet-7";
pub const DRIVER: &str = "driver-42";
pub const BLOCK: &str = "block-2025-06-15-am";
pub const NONCE: &str = "q3VhbGl0eS1ub25jZS0xMjM0NTY";
pub const POLICY: &str = "fmr-1e-4-v1";
pub const VERSION: &str = "0.1.0-test";
pub const NOW: u64 = 1_750_000_000;
pub const SKEW: u64 = 300;

/// A device key, plus a raw `ring` handle on the same key for crafting tokens the crate's own
/// signer would never produce.
pub struct Device {
    pub key: DeviceKey,
    pub pair: Ed25519KeyPair,
}

impl Device {
    pub fn new() -> Device {
        let (key, pkcs8) = DeviceKey::generate(&SystemRandom::new()).expect("key generation");
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).expect("our own PKCS#8 loads in ring");
        Device { key, pair }
    }

    pub fn kid(&self) -> KeyId {
        self.key.key_id().clone()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.public_key()
    }

    /// The header the crate writes for attestations.
    pub fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": ATTESTATION_TYPE, "kid": self.kid().as_str()})
    }

    /// The payload the crate writes for `claims`, as a JSON value.
    pub fn payload(&self, claims: &Claims) -> Value {
        let mut map =
            serde_json::to_value(claims).expect("claims serialize").as_object().expect("claims are an object").clone();
        map.insert("iss".into(), Value::String(self.kid().to_string()));
        Value::Object(map)
    }

    /// Signs arbitrary header and payload JSON values with this key.
    pub fn sign_values(&self, header: &Value, payload: &Value) -> String {
        self.sign_bytes(&serde_json::to_vec(header).expect("json"), &serde_json::to_vec(payload).expect("json"))
    }

    /// Signs arbitrary header and payload bytes with this key.
    pub fn sign_bytes(&self, header: &[u8], payload: &[u8]) -> String {
        sign_with(&self.pair, header, payload)
    }

    /// Signs `claims` with a payload edited by `edit` (claims are a JSON object).
    pub fn sign_edited(&self, claims: &Claims, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut payload = self.payload(claims);
        edit(payload.as_object_mut().expect("object"));
        self.sign_values(&self.header(), &payload)
    }

    /// Signs `claims` with a header edited by `edit`.
    pub fn sign_with_header(&self, claims: &Claims, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut header = self.header();
        edit(header.as_object_mut().expect("object"));
        self.sign_values(&header, &self.payload(claims))
    }
}

/// Signs `B64(header) "." B64(payload)` with a raw ring key pair.
pub fn sign_with(pair: &Ed25519KeyPair, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = pair.sign(input.as_bytes());
    format!("{input}.{}", b64(signature.as_ref()))
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("test input is base64url")
}

/// Splits a token into its decoded header, decoded payload and the signature segment.
pub fn split(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS has three segments");
    let header = serde_json::from_slice(&unb64(parts[0])).expect("header json");
    let payload = serde_json::from_slice(&unb64(parts[1])).expect("payload json");
    (header, payload, parts[2].to_owned())
}

pub fn manifest() -> ManifestDigest {
    ManifestDigest::of_manifest(b"{\"models\":[\"yunet\",\"minifasnet\",\"resnet29\"]}")
}

/// Valid claims for `DRIVER` in `FLEET`, issued at `NOW` with counter 1.
pub fn claims() -> Claims {
    Claims {
        driver: DRIVER.into(),
        fleet: FLEET.into(),
        block: BLOCK.into(),
        nonce: NONCE.into(),
        issued_at: NOW,
        counter: 1,
        outcome: Outcome::Match,
        liveness_passed: true,
        liveness_method: facecheck_attest::LivenessMethod::Passive,
        attempts: 2,
        model_manifest: manifest(),
        policy: POLICY.into(),
        version: VERSION.into(),
    }
}

pub fn expected() -> Expectations<'static> {
    Expectations { fleet: FLEET, nonce: NONCE, driver: None, block: None, now_unix: NOW, skew_secs: SKEW }
}

/// A registry holding each device for `DRIVER` in `FLEET`.
pub fn registry_of(devices: &[&Device]) -> Registry {
    let mut registry = Registry::new();
    for device in devices {
        registry.add(device.public_key(), DRIVER, FLEET).expect("distinct fresh keys");
    }
    registry
}

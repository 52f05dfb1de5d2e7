//! The claims of a check-in attestation (and of an erasure receipt, which shares the format).

use std::fmt;

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::jws::Malformed;
use crate::wire::key_id::KeyId;

/// Every claim of an attestation payload, in the order [`DeviceKey::sign`] writes them.
/// All are required and no other claim is accepted.
///
/// [`DeviceKey::sign`]: crate::DeviceKey::sign
pub const ATTESTATION_CLAIMS: [&str; 14] =
    ["iss", "sub", "aud", "blk", "nonce", "iat", "ctr", "res", "live", "lvm", "att", "mdl", "pol", "ver"];

/// What a check-in decided, the `res` claim. Carries no score and nothing image-derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The selfie matched the enrolled driver and passed liveness (`"match"`).
    Match,
    /// A face was seen but it did not match the enrolled driver (`"no_match"`).
    NoMatch,
    /// The liveness check suspects a presentation attack (`"spoof_suspected"`).
    SpoofSuspected,
    /// No face was found in the selfie (`"no_face"`).
    NoFace,
    /// The selfie failed the quality gates (`"poor_quality"`).
    PoorQuality,
    /// Too many failed attempts; check-in is locked for this block (`"locked_out"`).
    LockedOut,
    /// Erasure receipt: the enrolled template and vault were erased (`"erased"`).
    /// Used only by erasure receipts, never by a check-in.
    Erased,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Match,
        Outcome::NoMatch,
        Outcome::SpoofSuspected,
        Outcome::NoFace,
        Outcome::PoorQuality,
        Outcome::LockedOut,
        Outcome::Erased,
    ];

    /// The wire spelling of the outcome, e.g. `"no_match"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::NoMatch => "no_match",
            Outcome::SpoofSuspected => "spoof_suspected",
            Outcome::NoFace => "no_face",
            Outcome::PoorQuality => "poor_quality",
            Outcome::LockedOut => "locked_out",
            Outcome::Erased => "erased",
        }
    }

    /// Parses the wire spelling; `None` for anything else (matching is exact).
    pub fn parse(text: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which liveness check the device ran, the `lvm` claim: a fleet can require [`LivenessMethod::Active`], and only
/// the fleet decides whether the method was enough. Says nothing about the result (that is `live`) and carries no
/// score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessMethod {
    /// One still frame through the passive anti-spoofing models (`"passive"`).
    Passive,
    /// The head-turn challenge derived from the fleet's nonce, its frontal frame also through the passive
    /// models (`"active"`).
    Active,
}

impl LivenessMethod {
    /// Every method, weakest first.
    pub const ALL: [LivenessMethod; 2] = [LivenessMethod::Passive, LivenessMethod::Active];

    /// The wire spelling, e.g. `"active"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LivenessMethod::Passive => "passive",
            LivenessMethod::Active => "active",
        }
    }

    /// Parses the wire spelling; `None` for anything else (matching is exact).
    pub fn parse(text: &str) -> Option<LivenessMethod> {
        LivenessMethod::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

impl fmt::Display for LivenessMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SHA-256 of a model manifest as 64 lowercase hex digits, the `mdl` claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ManifestDigest(String);

/// The text is not 64 lowercase hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a manifest digest: expected 64 lowercase hexadecimal digits")]
pub struct InvalidManifestDigest;

impl ManifestDigest {
    /// Digests the bytes of a model manifest.
    pub fn of_manifest(manifest: &[u8]) -> ManifestDigest {
        let hash = digest(&SHA256, manifest);
        ManifestDigest(hash.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Accepts an already computed digest: exactly 64 lowercase hex digits.
    pub fn from_hex(hex: &str) -> Result<ManifestDigest, InvalidManifestDigest> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok {
            Ok(ManifestDigest(hex.to_owned()))
        } else {
            Err(InvalidManifestDigest)
        }
    }

    /// The digest as 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ManifestDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ManifestDigest {
    type Error = InvalidManifestDigest;

    fn try_from(hex: String) -> Result<ManifestDigest, InvalidManifestDigest> {
        ManifestDigest::from_hex(&hex)
    }
}

impl From<ManifestDigest> for String {
    fn from(digest: ManifestDigest) -> String {
        digest.0
    }
}

/// The claims a device signs for one check-in, or for an erasure receipt.
///
/// This is the *unverified* content: building one, or reading one out of a token, proves
/// nothing. Only [`verify_attestation`](crate::verify_attestation) produces a
/// [`VerifiedAttestation`](crate::VerifiedAttestation).
///
/// The `iss` claim is not a field: [`DeviceKey::sign`](crate::DeviceKey::sign) always sets it to
/// the signing key's [`KeyId`], so it cannot disagree with the header `kid`.
/// Serde names are the wire claim names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// `sub`: the fleet's opaque driver id (must equal the id the key was registered for).
    #[serde(rename = "sub")]
    pub driver: String,
    /// `aud`: the fleet id the attestation is for.
    #[serde(rename = "aud")]
    pub fleet: String,
    /// `blk`: the block or shift id being checked into.
    #[serde(rename = "blk")]
    pub block: String,
    /// `nonce`: the server's challenge for this check-in, copied verbatim.
    pub nonce: String,
    /// `iat`: when the device signed, in unix seconds.
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// `ctr`: the device's counter, strictly increasing across everything the key signs.
    #[serde(rename = "ctr")]
    pub counter: u64,
    /// `res`: the decision.
    #[serde(rename = "res")]
    pub outcome: Outcome,
    /// `live`: whether the liveness check passed.
    #[serde(rename = "live")]
    pub liveness_passed: bool,
    /// `lvm`: which liveness check the device ran.
    #[serde(rename = "lvm")]
    pub liveness_method: LivenessMethod,
    /// `att`: how many attempts this check-in used.
    #[serde(rename = "att")]
    pub attempts: u32,
    /// `mdl`: digest of the model manifest that produced the decision.
    #[serde(rename = "mdl")]
    pub model_manifest: ManifestDigest,
    /// `pol`: the threshold/policy id the decision was taken under.
    #[serde(rename = "pol")]
    pub policy: String,
    /// `ver`: the version of the library that took the decision.
    #[serde(rename = "ver")]
    pub version: String,
}

impl Claims {
    /// Whether these claims are an erasure receipt (`res` is `erased`) rather than a check-in.
    pub fn is_erasure_receipt(&self) -> bool {
        self.outcome == Outcome::Erased
    }
}

/// Serializes the payload of an attestation signed by `issuer`.
pub(crate) fn to_payload(issuer: &KeyId, claims: &Claims) -> Vec<u8> {
    super::to_payload_with_issuer(issuer, claims)
}

/// Parses an attestation payload strictly: a JSON object with unique names, exactly the
/// [`ATTESTATION_CLAIMS`], each of the right type. Returns the `iss` text and the claims.
pub(crate) fn parse_payload(payload: &[u8]) -> Result<(String, Claims), Malformed> {
    super::parse_with_issuer(payload, &ATTESTATION_CLAIMS, &[], claim_is_valid)
}

/// Whether `value` has the type and form the attestation claim `name` requires.
fn claim_is_valid(name: &str, value: &Value) -> bool {
    match name {
        "iss" | "sub" | "aud" | "blk" | "nonce" | "pol" | "ver" => value.is_string(),
        "iat" | "ctr" => value.is_u64(),
        "att" => value.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
        "live" => value.is_boolean(),
        "lvm" => value.as_str().and_then(LivenessMethod::parse).is_some(),
        "res" => value.as_str().and_then(Outcome::parse).is_some(),
        "mdl" => value.as_str().is_some_and(|s| ManifestDigest::from_hex(s).is_ok()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_spellings_round_trip() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).expect("serializes");
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("Match"), None);
        assert_eq!(Outcome::parse("match "), None);
    }

    #[test]
    fn liveness_method_spellings_round_trip() {
        for method in LivenessMethod::ALL {
            let json = serde_json::to_string(&method).expect("serializes");
            assert_eq!(json, format!("\"{}\"", method.as_str()));
            assert_eq!(LivenessMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(LivenessMethod::parse("Active"), None);
        assert_eq!(LivenessMethod::parse("none"), None);
    }

    #[test]
    fn manifest_digest_forms() {
        // Computed independently: sha256 of the empty string.
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(ManifestDigest::of_manifest(b"").as_str(), empty);
        assert!(ManifestDigest::from_hex(empty).is_ok());
        assert!(ManifestDigest::from_hex(&empty.to_uppercase()).is_err());
        assert!(ManifestDigest::from_hex(&empty[1..]).is_err());
        assert!(ManifestDigest::from_hex(&format!("{}g", &empty[1..])).is_err());
    }
}

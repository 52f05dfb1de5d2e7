//! The claims of a device registration statement, and its wire form.
//!
//! A registration statement is a compact JWS signed by the device key, whose protected header carries the public
//! key itself:
//!
//! ```text
//! header  {"alg":"EdDSA","typ":"fc-registration+jwt","kid":<key id>,
//!          "jwk":{"kty":"OKP","crv":"Ed25519","x":<base64url public key>}}
//! payload {"pur":"facecheck-device-registration","sub":<driver>,"aud":<fleet>,
//!          "mdl":<manifest digest>,"iat":<unix seconds>,
//!          "enc":<enrollment code binding>,              (optional)
//!          "cns":{"ntc":<notice version>,"at":<unix seconds>}}   (optional)
//! ```
//!
//! `enc` binds the statement to the single-use code a dispatcher gave the driver ([`CodeBinding`]); `cns` records
//! which privacy notice the driver accepted, and when ([`Consent`]). Both are optional in the format, so that an
//! offline registry can still be fed by hand; the fleet service requires both.
//!
//! It cannot be mistaken for an attestation, nor an attestation for it: the `typ` headers differ, the header
//! parameter sets differ (`jwk` is required here and refused there), the claim sets are disjoint in `pur` and
//! `nonce`/`ctr`/..., and both parsers refuse unknown parameters and claims.

use std::fmt;

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::attestation::ManifestDigest;
use crate::wire::b64;
use crate::wire::claim_set::check_claim_set;
use crate::wire::jws::{self, Malformed, Part, ALGORITHM, REGISTRATION_TYPE};
use crate::wire::key_id::KeyId;

/// The `pur` claim every registration statement carries.
pub const REGISTRATION_PURPOSE: &str = "facecheck-device-registration";

/// Every required claim of a registration payload.
pub const REGISTRATION_CLAIMS: [&str; 5] = ["pur", "sub", "aud", "mdl", "iat"];

/// The claims a registration payload may also have.
pub const REGISTRATION_OPTIONAL_CLAIMS: [&str; 2] = ["enc", "cns"];

/// The header parameters a registration statement must have, and the only ones it may have.
pub(crate) const HEADER_PARAMETERS: [&str; 4] = ["alg", "typ", "kid", "jwk"];

/// Longest notice version accepted in `cns.ntc`.
pub const MAX_NOTICE_VERSION_LEN: usize = 64;

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
    /// `enc`: the enrollment code this registration answers, if a dispatcher issued one.
    pub enrollment_code: Option<CodeBinding>,
    /// `cns`: the consent the driver gave before enrolling, if recorded.
    pub consent: Option<Consent>,
}

/// The binding of a statement to an enrollment code: unpadded base64url of SHA-256 of
/// `"facecheck-enrollment-code:"` followed by the [normalised](normalize_code) code, 43 characters.
///
/// The device learns the code from the dispatcher (QR code or typed) and puts only this binding in the statement;
/// the fleet, which issued the code, computes the same binding to find it. The code itself travels only once, from
/// dispatcher to driver.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CodeBinding(String);

/// The text is not a well-formed [`CodeBinding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an enrollment code binding: expected 43 characters of unpadded base64url encoding 32 bytes")]
pub struct InvalidCodeBinding;

impl CodeBinding {
    /// The binding of `code` as a person typed or scanned it (see [`normalize_code`]).
    pub fn of_code(code: &str) -> CodeBinding {
        let mut input = b"facecheck-enrollment-code:".to_vec();
        input.extend_from_slice(normalize_code(code).as_bytes());
        CodeBinding(b64::encode(digest(&SHA256, &input).as_ref()))
    }

    /// Accepts a binding in its wire form.
    pub fn parse(text: &str) -> Result<CodeBinding, InvalidCodeBinding> {
        if text.len() == 43 && b64::decode_array::<32>(text.as_bytes()).is_some() {
            Ok(CodeBinding(text.to_owned()))
        } else {
            Err(InvalidCodeBinding)
        }
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeBinding({})", self.0)
    }
}

impl TryFrom<String> for CodeBinding {
    type Error = InvalidCodeBinding;

    fn try_from(text: String) -> Result<CodeBinding, InvalidCodeBinding> {
        CodeBinding::parse(&text)
    }
}

impl From<CodeBinding> for String {
    fn from(binding: CodeBinding) -> String {
        binding.0
    }
}

/// An enrollment code in canonical form: Crockford base32 read leniently, as a person types it. Case is ignored,
/// dashes and whitespace are dropped, `O` reads as `0` and `I`/`L` as `1`.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The driver's consent as the device recorded it: which version of the privacy notice they accepted, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// `ntc`: the version of the notice shown (1 to [`MAX_NOTICE_VERSION_LEN`] characters).
    #[serde(rename = "ntc")]
    pub notice: String,
    /// `at`: when the driver accepted it, unix seconds.
    #[serde(rename = "at")]
    pub accepted_at: u64,
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
pub(crate) struct RegistrationPayload {
    pub pur: String,
    pub sub: String,
    pub aud: String,
    pub mdl: ManifestDigest,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enc: Option<CodeBinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cns: Option<Consent>,
}

impl RegistrationPayload {
    pub(crate) fn into_claims(self) -> RegistrationClaims {
        RegistrationClaims {
            driver: self.sub,
            fleet: self.aud,
            model_manifest: self.mdl,
            issued_at: self.iat,
            enrollment_code: self.enc,
            consent: self.cns,
        }
    }
}

/// The header and payload JSON of the registration statement of the key `kid` / `public_key`.
pub(crate) fn to_header_and_payload(
    kid: &KeyId,
    public_key: &[u8; 32],
    claims: &RegistrationClaims,
) -> (Vec<u8>, Vec<u8>) {
    let header = RegistrationHeader {
        alg: ALGORITHM,
        typ: REGISTRATION_TYPE,
        kid,
        jwk: Jwk { kty: "OKP".to_owned(), crv: "Ed25519".to_owned(), x: b64::encode(public_key) },
    };
    let payload = RegistrationPayload {
        pur: REGISTRATION_PURPOSE.to_owned(),
        sub: claims.driver.clone(),
        aud: claims.fleet.clone(),
        mdl: claims.model_manifest.clone(),
        iat: claims.issued_at,
        enc: claims.enrollment_code.clone(),
        cns: claims.consent.clone(),
    };
    let header = serde_json::to_vec(&header).expect("a header of strings always serializes");
    let payload = serde_json::to_vec(&payload).expect("claims of strings and integers always serialize");
    (header, payload)
}

/// The raw public key of an Ed25519 OKP JWK with exactly `kty`, `crv` and `x` (its strength not yet checked).
pub(crate) fn jwk_public_key(jwk: &Value) -> Option<[u8; 32]> {
    let jwk: Jwk = serde_json::from_value(jwk.clone()).ok()?;
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return None;
    }
    b64::decode_array::<32>(jwk.x.as_bytes())
}

pub(crate) fn parse_payload(payload: &[u8]) -> Result<RegistrationPayload, Malformed> {
    let map = jws::parse_segment_json(payload, Part::Payload)?;
    check_claim_set(&map, &REGISTRATION_CLAIMS, &REGISTRATION_OPTIONAL_CLAIMS, claim_is_valid)?;
    serde_json::from_value(Value::Object(map)).map_err(|_| Malformed::Json(Part::Payload))
}

fn claim_is_valid(name: &str, value: &Value) -> bool {
    match name {
        "pur" | "sub" | "aud" => value.is_string(),
        "iat" => value.is_u64(),
        "mdl" => value.as_str().is_some_and(|s| ManifestDigest::from_hex(s).is_ok()),
        "enc" => value.as_str().is_some_and(|s| CodeBinding::parse(s).is_ok()),
        "cns" => value.as_object().is_some_and(|cns| {
            cns.len() == 2
                && cns
                    .get("ntc")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty() && n.len() <= MAX_NOTICE_VERSION_LEN)
                && cns.get("at").is_some_and(Value::is_u64)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_as_people_type_them() {
        assert_eq!(normalize_code("abcd-efgh-jk01"), "ABCDEFGHJK01");
        assert_eq!(normalize_code(" o1Il-L0 "), "011110");
        assert_eq!(CodeBinding::of_code("7k3p-q9x2-m4ta"), CodeBinding::of_code("7K3PQ9X2M4TA"));
        assert_ne!(CodeBinding::of_code("7K3PQ9X2M4TA"), CodeBinding::of_code("7K3PQ9X2M4TB"));
    }

    #[test]
    fn binding_known_vector_and_form() {
        // base64url(SHA-256("facecheck-enrollment-code:ABC")), computed independently.
        assert_eq!(CodeBinding::of_code("abc").as_str(), "q8De3ZoYJczvRR9mHSMY1RPgh8c33AAhXb0Cte1beNc");
        assert!(CodeBinding::parse(CodeBinding::of_code("x").as_str()).is_ok());
        assert_eq!(CodeBinding::parse("short"), Err(InvalidCodeBinding));
    }
}

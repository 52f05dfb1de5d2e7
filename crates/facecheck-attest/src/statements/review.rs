//! A driver's request for a person to look at a decision, signed by the device key.
//!
//! ```text
//! header   {"alg":"EdDSA","typ":"fc-review+jwt","kid":<key id>}
//! payload  {"iss":<key id>,"sub":<driver>,"aud":<fleet>,"iat":<unix seconds>,
//!           "rid":<request id: 16 random bytes, base64url>,
//!           "ref":<statement hash of the check-in it is about, or "">,
//!           "why":"no_match"|"spoof_suspected"|"locked_out"|"other"}
//! ```
//!
//! `rid` makes each request distinct, so a retried delivery is recognised as the same request. There is no counter:
//! a request asks for a person, it grants nothing.

use std::fmt;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::b64;
use crate::wire::hash::is_statement_hash;
use crate::wire::jws::Malformed;
use crate::wire::key_id::KeyId;

/// Every claim of a review request. All are required and no other is accepted.
pub const REVIEW_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "iat", "rid", "ref", "why"];

/// Why the driver asks for a person, the `why` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// The phone said the selfie did not match (`"no_match"`).
    NoMatch,
    /// The phone suspected a presentation attack (`"spoof_suspected"`).
    SpoofSuspected,
    /// The phone locked check-in after failed attempts (`"locked_out"`).
    LockedOut,
    /// Anything else (`"other"`).
    Other,
}

impl ReviewReason {
    /// Every reason, in declaration order.
    pub const ALL: [ReviewReason; 4] =
        [ReviewReason::NoMatch, ReviewReason::SpoofSuspected, ReviewReason::LockedOut, ReviewReason::Other];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::NoMatch => "no_match",
            ReviewReason::SpoofSuspected => "spoof_suspected",
            ReviewReason::LockedOut => "locked_out",
            ReviewReason::Other => "other",
        }
    }

    /// Parses the wire spelling exactly.
    pub fn parse(text: &str) -> Option<ReviewReason> {
        ReviewReason::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a device signs to ask for a review. `iss` is set by the signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewClaims {
    /// `sub`: the driver asking.
    #[serde(rename = "sub")]
    pub driver: String,
    /// `aud`: the fleet asked.
    #[serde(rename = "aud")]
    pub fleet: String,
    /// `iat`: when the device signed, unix seconds.
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// `rid`: this request's id (see [`ReviewClaims::new_request_id`]).
    #[serde(rename = "rid")]
    pub request_id: String,
    /// `ref`: the [statement hash](crate::statement_hash) of the check-in the request is about, or empty.
    #[serde(rename = "ref")]
    pub about: String,
    /// `why`: the reason.
    #[serde(rename = "why")]
    pub reason: ReviewReason,
}

impl ReviewClaims {
    /// A fresh request id: 16 random bytes, unpadded base64url (22 characters).
    pub fn new_request_id(rng: &dyn SecureRandom) -> Result<String, ring::error::Unspecified> {
        let mut bytes = [0u8; 16];
        rng.fill(&mut bytes)?;
        Ok(b64::encode(&bytes))
    }
}

pub(crate) fn to_payload(issuer: &KeyId, claims: &ReviewClaims) -> Vec<u8> {
    super::to_payload_with_issuer(issuer, claims)
}

pub(crate) fn parse_payload(payload: &[u8]) -> Result<(String, ReviewClaims), Malformed> {
    super::parse_with_issuer(payload, &REVIEW_CLAIMS, &[], claim_is_valid)
}

fn claim_is_valid(name: &str, value: &Value) -> bool {
    match name {
        "iss" | "sub" | "aud" => value.is_string(),
        "iat" => value.is_u64(),
        "rid" => value.as_str().is_some_and(|s| s.len() == 22 && b64::decode_array::<16>(s.as_bytes()).is_some()),
        "ref" => value.as_str().is_some_and(|s| s.is_empty() || is_statement_hash(s)),
        "why" => value.as_str().and_then(ReviewReason::parse).is_some(),
        _ => false,
    }
}

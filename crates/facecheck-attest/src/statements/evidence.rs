//! What the fleet answered, signed with the fleet's own key: evidence the driver keeps.
//!
//! ```text
//! header   {"alg":"EdDSA","typ":"fc-evidence+jwt","kid":<fleet key id>}
//! payload  {"iss":<fleet key id>,"aud":<fleet>,"sub":<driver>,
//!           "kind":"registration"|"checkin"|"erasure"|"review"|"review_resolution",
//!           "st":<statement hash of the statement answered>,
//!           "vrd":<the fleet's verdict, e.g. "accepted">,"rsn":<reason code or "">,
//!           "iat":<unix seconds>}
//! ```
//!
//! A driver who is refused or reported can show exactly which statement the fleet received and what it decided;
//! any JOSE library checks it against the fleet's public key (which the enrollment QR code carries).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::wire::hash::is_statement_hash;
use crate::wire::jws::Malformed;
use crate::wire::key_id::KeyId;

/// Every claim of a piece of evidence. All are required and no other is accepted.
pub const EVIDENCE_CLAIMS: [&str; 8] = ["iss", "aud", "sub", "kind", "st", "vrd", "rsn", "iat"];

/// Longest verdict or reason code accepted.
pub const MAX_CODE_LEN: usize = 64;

/// Which kind of statement the evidence answers, the `kind` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A device registration statement.
    Registration,
    /// A check-in attestation.
    Checkin,
    /// An erasure receipt.
    Erasure,
    /// A driver's review request.
    Review,
    /// A person's resolution of a review (`st` names the statement reviewed).
    ReviewResolution,
}

impl EvidenceKind {
    /// Every kind, in declaration order.
    pub const ALL: [EvidenceKind; 5] = [
        EvidenceKind::Registration,
        EvidenceKind::Checkin,
        EvidenceKind::Erasure,
        EvidenceKind::Review,
        EvidenceKind::ReviewResolution,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Registration => "registration",
            EvidenceKind::Checkin => "checkin",
            EvidenceKind::Erasure => "erasure",
            EvidenceKind::Review => "review",
            EvidenceKind::ReviewResolution => "review_resolution",
        }
    }

    /// Parses the wire spelling exactly.
    pub fn parse(text: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What the fleet signs about one statement. `iss` is set by the fleet key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceClaims {
    /// `aud`: the fleet answering.
    #[serde(rename = "aud")]
    pub fleet: String,
    /// `sub`: the driver the statement was about.
    #[serde(rename = "sub")]
    pub driver: String,
    /// `kind`: the kind of statement answered.
    pub kind: EvidenceKind,
    /// `st`: the [statement hash](crate::statement_hash) of the statement answered.
    #[serde(rename = "st")]
    pub statement: String,
    /// `vrd`: the verdict (snake_case, at most [`MAX_CODE_LEN`] characters), e.g. `accepted`, `review`, `refused`.
    #[serde(rename = "vrd")]
    pub verdict: String,
    /// `rsn`: the stable reason code of the verdict, or empty.
    #[serde(rename = "rsn")]
    pub reason: String,
    /// `iat`: when the fleet signed, unix seconds.
    #[serde(rename = "iat")]
    pub issued_at: u64,
}

/// Whether `text` is a snake_case code of at most [`MAX_CODE_LEN`] characters (empty allowed when `may_be_empty`).
fn is_code(text: &str, may_be_empty: bool) -> bool {
    (may_be_empty || !text.is_empty())
        && text.len() <= MAX_CODE_LEN
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(crate) fn to_payload(issuer: &KeyId, claims: &EvidenceClaims) -> Vec<u8> {
    super::to_payload_with_issuer(issuer, claims)
}

pub(crate) fn parse_payload(payload: &[u8]) -> Result<(String, EvidenceClaims), Malformed> {
    super::parse_with_issuer(payload, &EVIDENCE_CLAIMS, &[], claim_is_valid)
}

/// Whether the fleet may sign these claims: the same form the parser accepts.
pub(crate) fn is_well_formed(claims: &EvidenceClaims) -> bool {
    is_statement_hash(&claims.statement) && is_code(&claims.verdict, false) && is_code(&claims.reason, true)
}

fn claim_is_valid(name: &str, value: &Value) -> bool {
    match name {
        "iss" | "aud" | "sub" => value.is_string(),
        "kind" => value.as_str().and_then(EvidenceKind::parse).is_some(),
        "st" => value.as_str().is_some_and(is_statement_hash),
        "vrd" => value.as_str().is_some_and(|s| is_code(s, false)),
        "rsn" => value.as_str().is_some_and(|s| is_code(s, true)),
        "iat" => value.is_u64(),
        _ => false,
    }
}

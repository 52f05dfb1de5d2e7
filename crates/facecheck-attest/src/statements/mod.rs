//! What each kind of statement says: the claims, their wire names, and their strict encoding and parsing. Building
//! or parsing claims proves nothing; [`signing`](crate::signing) signs them and [`verifying`](crate::verifying)
//! decides whether a token's claims are to be trusted.
//!
//! | token `typ` | signed by | claims |
//! |---|---|---|
//! | `fc-attestation+jwt` | device key | [`Claims`](attestation::Claims): one check-in, or an erasure receipt (`res: "erased"`) |
//! | `fc-registration+jwt` | device key (and carries it) | [`RegistrationClaims`](registration::RegistrationClaims) |
//! | `fc-review+jwt` | device key | [`ReviewClaims`](review::ReviewClaims): the driver asks for a person |
//! | `fc-evidence+jwt` | fleet key | [`EvidenceClaims`](evidence::EvidenceClaims): what the fleet received and decided |

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::wire::claim_set::check_claim_set;
use crate::wire::jws::{self, Malformed, Part};
use crate::wire::key_id::KeyId;

pub mod attestation;
pub mod evidence;
pub mod registration;
pub mod review;

/// The payload as signed: `iss` first, then the claims in field order.
#[derive(Serialize)]
struct WithIssuer<'a, T> {
    iss: &'a KeyId,
    #[serde(flatten)]
    claims: &'a T,
}

/// Serializes the payload of a statement signed by `issuer`: `iss`, then `claims`.
pub(crate) fn to_payload_with_issuer<T: Serialize>(issuer: &KeyId, claims: &T) -> Vec<u8> {
    serde_json::to_vec(&WithIssuer { iss: issuer, claims })
        .expect("claims hold only strings, integers, booleans and small objects, which always serialize")
}

/// Parses a payload strictly: a JSON object with unique names, exactly the `required` claims (`iss` among them) and
/// possibly some `optional` ones, each accepted by `valid`. Returns the `iss` text and the other claims.
pub(crate) fn parse_with_issuer<T: DeserializeOwned>(
    payload: &[u8],
    required: &[&'static str],
    optional: &[&'static str],
    valid: fn(&str, &Value) -> bool,
) -> Result<(String, T), Malformed> {
    let mut map = jws::parse_segment_json(payload, Part::Payload)?;
    check_claim_set(&map, required, optional, valid)?;
    let iss = match map.remove("iss") {
        Some(Value::String(iss)) => iss,
        _ => return Err(Malformed::InvalidClaim("iss")),
    };
    let claims = serde_json::from_value::<T>(Value::Object(map)).map_err(|_| Malformed::Json(Part::Payload))?;
    Ok((iss, claims))
}

//! JWS compact serialization (RFC 7515 §7.1) restricted to Ed25519 (`alg: "EdDSA"`, RFC 8037).
//!
//! A token is `B64(header) "." B64(payload) "." B64(signature)` where `B64` is unpadded
//! base64url and the signature is Ed25519 over the ASCII bytes `B64(header) "." B64(payload)`.
//! Parsing here stops short of the payload JSON: the payload is only decoded to bytes, and its
//! JSON is read by the caller after the signature has been checked.

use std::fmt;

use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};
use serde_json::{Map, Value};

use super::b64;
use super::json;
use super::key_id::KeyId;
use super::public_key::check_public_key;

/// The only accepted `alg` header value.
pub const ALGORITHM: &str = "EdDSA";

/// The `typ` header of a check-in attestation or erasure receipt.
pub const ATTESTATION_TYPE: &str = "fc-attestation+jwt";

/// The `typ` header of a device registration statement.
pub const REGISTRATION_TYPE: &str = "fc-registration+jwt";

/// The `typ` header of a driver's request for a person to review a decision, signed by the device key.
pub const REVIEW_TYPE: &str = "fc-review+jwt";

/// The `typ` header of the fleet's signed answer to a statement (evidence the driver keeps), signed by the fleet key.
pub const EVIDENCE_TYPE: &str = "fc-evidence+jwt";

/// Tokens longer than this many bytes are rejected before any decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// One of the three segments of a compact token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The protected header.
    Header,
    /// The payload (the claims).
    Payload,
    /// The signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a token could not be decoded. Messages name the offending part, header parameter or
/// claim, but never repeat any of the token's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Malformed {
    /// The token exceeds [`MAX_TOKEN_LEN`].
    #[error("malformed token: longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// The token is not three segments separated by two dots.
    #[error("malformed token: not three segments separated by dots")]
    Segments,
    /// A segment is not canonical unpadded base64url.
    #[error("malformed token: the {0} is not unpadded base64url")]
    Base64(Part),
    /// The header or payload is not a JSON object with unique member names.
    #[error("malformed token: the {0} is not a JSON object with unique member names")]
    Json(Part),
    /// The header has a parameter this kind of token does not allow.
    #[error("malformed token: unexpected header parameter")]
    UnexpectedHeaderParameter,
    /// A required header parameter is absent.
    #[error("malformed token: header parameter `{0}` is missing")]
    MissingHeaderParameter(&'static str),
    /// A header parameter has the wrong type or form.
    #[error("malformed token: header parameter `{0}` is invalid")]
    InvalidHeaderParameter(&'static str),
    /// The payload has a claim this kind of token does not allow.
    #[error("malformed token: unexpected claim")]
    UnexpectedClaim,
    /// A required claim is absent.
    #[error("malformed token: claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or form.
    #[error("malformed token: claim `{0}` has the wrong type or form")]
    InvalidClaim(&'static str),
    /// The signature does not decode to 64 bytes.
    #[error("malformed token: the signature is not 64 bytes")]
    SignatureLength,
}

/// Header-stage failures, mapped by each token kind into its own error type.
#[derive(Debug)]
pub(crate) enum HeaderError {
    Malformed(Malformed),
    UnsupportedAlgorithm,
    WrongType,
}

impl From<Malformed> for HeaderError {
    fn from(m: Malformed) -> HeaderError {
        HeaderError::Malformed(m)
    }
}

/// A token whose structure and header were accepted but whose signature is not yet checked.
pub(crate) struct Unverified<'a> {
    /// `B64(header) "." B64(payload)`, the bytes the signature covers.
    signing_input: &'a [u8],
    /// The header parameters; exactly the allowed set, `alg` and `typ` already checked.
    pub header: Map<String, Value>,
    /// The decoded payload bytes (JSON not yet parsed).
    pub payload: Vec<u8>,
    signature: [u8; 64],
}

impl Unverified<'_> {
    /// Checks the Ed25519 signature with a raw 32-byte public key. A small-order or non-canonical key
    /// ([`check_public_key`]) verifies nothing, whichever path it came by.
    pub fn signature_is_valid(&self, public_key: &[u8; 32]) -> bool {
        check_public_key(public_key).is_ok()
            && UnparsedPublicKey::new(&ED25519, public_key).verify(self.signing_input, &self.signature).is_ok()
    }

    /// The header `kid`, its form checked.
    pub fn key_id(&self) -> Result<KeyId, Malformed> {
        header_key_id(&self.header)
    }
}

/// Reads the header `kid` of a compact token of any of this crate's types, without checking anything else: the
/// signature, the type and the claims are not looked at. For a verifier that must fetch the one key a token names
/// before it can verify it; the key id is public, and nothing about the token is trusted because of this.
pub fn peek_key_id(token: impl AsRef<[u8]>) -> Result<KeyId, Malformed> {
    let token = token.as_ref();
    if token.len() > MAX_TOKEN_LEN {
        return Err(Malformed::TooLong);
    }
    let mut segments = token.split(|&b| b == b'.');
    let (Some(header_b64), Some(_), Some(_), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(Malformed::Segments);
    };
    let header_bytes = b64::decode(header_b64).ok_or(Malformed::Base64(Part::Header))?;
    header_key_id(&parse_segment_json(&header_bytes, Part::Header)?)
}

/// Reads and checks the form of the header `kid`.
fn header_key_id(header: &Map<String, Value>) -> Result<KeyId, Malformed> {
    header
        .get("kid")
        .and_then(Value::as_str)
        .and_then(|kid| KeyId::parse(kid).ok())
        .ok_or(Malformed::InvalidHeaderParameter("kid"))
}

/// Splits and decodes a compact token of type `typ` whose header must have exactly the
/// parameters in `params` (which must include `alg` and `typ`).
///
/// Order: size and segments, header base64 and JSON, then `alg` (before anything else in the
/// header is looked at), then `typ` (so a token of the other kind is reported as such), then
/// the parameter set, then the payload and signature encodings.
pub(crate) fn parse<'a>(
    token: &'a [u8],
    typ: &'static str,
    params: &[&'static str],
) -> Result<Unverified<'a>, HeaderError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Malformed::TooLong.into());
    }
    let mut segments = token.split(|&b| b == b'.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(Malformed::Segments.into());
    };

    let header_bytes = b64::decode(header_b64).ok_or(Malformed::Base64(Part::Header))?;
    let header = parse_segment_json(&header_bytes, Part::Header)?;

    if header.get("alg").and_then(Value::as_str) != Some(ALGORITHM) {
        return Err(HeaderError::UnsupportedAlgorithm);
    }
    match header.get("typ") {
        None => return Err(Malformed::MissingHeaderParameter("typ").into()),
        Some(Value::String(t)) if t == typ => {}
        Some(Value::String(_)) => return Err(HeaderError::WrongType),
        Some(_) => return Err(Malformed::InvalidHeaderParameter("typ").into()),
    }
    if header.keys().any(|k| !params.contains(&k.as_str())) {
        return Err(Malformed::UnexpectedHeaderParameter.into());
    }
    if let Some(missing) = params.iter().find(|p| !header.contains_key(**p)) {
        return Err(Malformed::MissingHeaderParameter(missing).into());
    }

    let payload = b64::decode(payload_b64).ok_or(Malformed::Base64(Part::Payload))?;
    let signature_bytes = b64::decode(signature_b64).ok_or(Malformed::Base64(Part::Signature))?;
    let signature: [u8; 64] = signature_bytes.try_into().map_err(|_| Malformed::SignatureLength)?;

    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(Unverified { signing_input: &token[..signing_input_len], header, payload, signature })
}

/// Parses a header or payload segment as a strict JSON object.
pub(crate) fn parse_segment_json(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Malformed> {
    json::parse_object(bytes).map_err(|_| Malformed::Json(part))
}

/// Assembles and signs a compact token from raw header and payload JSON.
pub(crate) fn sign_compact(pair: &Ed25519KeyPair, header: &[u8], payload: &[u8]) -> String {
    let mut token = b64::encode(header);
    token.push('.');
    token.push_str(&b64::encode(payload));
    let signature = pair.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64::encode(signature.as_ref()));
    token
}

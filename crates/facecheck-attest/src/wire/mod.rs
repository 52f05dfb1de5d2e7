//! The pieces both sides share: the compact JWS form, unpadded base64url, strict JSON, key ids, the public-key
//! checks, the freshness window and statement hashes. Nothing here signs a statement or decides whether one is
//! trusted; [`signing`](crate::signing) and [`verifying`](crate::verifying) are built on it.

pub(crate) mod b64;
pub(crate) mod claim_set;
pub(crate) mod freshness;
pub mod hash;
pub(crate) mod json;
pub mod jws;
pub mod key_id;
pub mod public_key;

//! What the fleet side does: parse a token, check its signature against a key it already trusts (or, for a
//! registration statement, the proof of possession), its claims against what the fleet expects, its age and its
//! counter. One function per token type, each returning its own verified type: a value of that type is the only
//! proof a check passed.

pub mod attestation;
mod checks;
pub mod counter;
pub mod erasure;
mod error;
pub mod evidence;
pub mod keys;
pub mod registration;
pub mod registry;
pub mod review;

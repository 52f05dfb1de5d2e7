//! Review requests: the driver asks the fleet for a person to look at a check-in (or at anything else).
//!
//! The request is a statement like the others (`typ: fc-review+jwt`), signed by the vault's device key, so the fleet
//! knows which registered device asks and for which driver; it names the check-in it is about by its statement hash
//! (`ref`, never the token itself), and carries a random request id so that the same request sent twice is one
//! review. It holds no image, score or template: there is nothing biometric in a request to put there.

use crate::device::checkin::device_key;
use crate::device::vault::Vault;
use crate::{Error, Result};
use facecheck_attest::{statement_hash, ReviewClaims, ReviewReason};
use ring::rand::SystemRandom;

/// What a review request is about: a signed check-in (its token), or nothing in particular.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewSubject<'a> {
    /// The check-in attestation (compact JWS) the driver disputes.
    CheckIn(&'a str),
    /// No statement (`ref` empty), e.g. a lock-out without a token at hand.
    Nothing,
}

/// Signs a review request for the vault's driver and fleet, dated `now` (unix seconds), with a fresh request id.
///
/// Errors: [`Error::VaultInvalidInput`] when the check-in named is not a compact JWS; [`Error::VaultCrypto`] when
/// the random number generator fails; the vault's key errors. The vault need not be enrolled (a driver locked out
/// until re-enrollment, or whose face the retention rule wiped, may still ask), but it must exist: an erased vault
/// has no key to sign with.
pub fn review_request(vault: &Vault, subject: ReviewSubject<'_>, reason: ReviewReason, now: u64) -> Result<String> {
    let about = match subject {
        ReviewSubject::CheckIn(token) => {
            let looks_like_jws = token.split('.').count() == 3 && token.len() <= 16 * 1024;
            if !looks_like_jws {
                return Err(Error::VaultInvalidInput("a review request names a check-in by its signed token"));
            }
            statement_hash(token)
        }
        ReviewSubject::Nothing => String::new(),
    };
    let request_id = ReviewClaims::new_request_id(&SystemRandom::new())
        .map_err(|_| Error::VaultCrypto("the random number generator failed"))?;
    let claims = ReviewClaims {
        driver: vault.driver_id().to_owned(),
        fleet: vault.fleet_id().to_owned(),
        issued_at: now,
        request_id,
        about,
        reason,
    };
    Ok(device_key(vault)?.sign_review(&claims))
}

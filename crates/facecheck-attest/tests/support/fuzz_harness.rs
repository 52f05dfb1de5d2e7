//! The token-verification entry point shared by the `verify_token` fuzz target
//! (`fuzz/fuzz_targets/verify_token.rs` includes this file) and by the corpus replay test
//! (`tests/fuzz_replay.rs`), so that what stable CI replays is exactly what the fuzzer runs.
//!
//! Everything here is fixed: the device keys come from constant seeds (test keys, registered
//! nowhere else), the clock is a constant, so a corpus file verifies the same way every time.

use facecheck_attest::{
    peek_key_id, verify_attestation, verify_erasure_receipt, verify_evidence, verify_registration, verify_review,
    CounterState, ErasureExpectations, Expectations, KeyId, RegistrationExpectations, Registry, ReviewExpectations,
    VerifiedAttestation, VerifyError,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use std::sync::OnceLock;

/// Seed of the registered, valid device key.
pub const DEVICE_SEED: [u8; 32] = [0x11; 32];
/// Seed of a registered but revoked device key.
pub const REVOKED_SEED: [u8; 32] = [0x22; 32];
/// Seed of a key registered with another fleet.
pub const OTHER_FLEET_SEED: [u8; 32] = [0x33; 32];
/// Seed of a key that is not registered at all.
pub const UNREGISTERED_SEED: [u8; 32] = [0x44; 32];

/// The harness's fleet.
pub const FLEET: &str = "fleet-fuzz";
/// The fleet the `OTHER_FLEET_SEED` device belongs to.
pub const OTHER_FLEET: &str = "fleet-elsewhere";
/// The driver every harness device is registered for.
pub const DRIVER: &str = "driver-fuzz";
/// The challenge the harness expects.
pub const NONCE: &str = "nonce-fuzz-0123456789";
/// The harness clock, unix seconds.
pub const NOW: u64 = 1_750_000_000;
/// The harness skew window, seconds.
pub const SKEW: u64 = 300;
/// The last counter the harness has seen from the valid device.
pub const LAST_COUNTER: u64 = 10;

/// The Ed25519 key pair for one of the seeds above.
pub fn key_pair(seed: &[u8; 32]) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(seed).expect("any 32-byte seed is a valid Ed25519 seed")
}

/// The raw public key for one of the seeds above.
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    key_pair(seed).public_key().as_ref().try_into().expect("Ed25519 public keys are 32 bytes")
}

/// The key id for one of the seeds above.
pub fn key_id(seed: &[u8; 32]) -> KeyId {
    KeyId::of_public_key(&public_key(seed))
}

/// The harness registry: the valid device, a revoked one and one in another fleet.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(build_registry)
}

fn build_registry() -> Registry {
    let mut registry = Registry::new();
    registry.add(public_key(&DEVICE_SEED), DRIVER, FLEET).expect("fresh registry");
    let revoked = registry.add(public_key(&REVOKED_SEED), DRIVER, FLEET).expect("fresh registry");
    registry.revoke(&revoked).expect("just added");
    registry.add(public_key(&OTHER_FLEET_SEED), DRIVER, OTHER_FLEET).expect("fresh registry");
    registry
}

/// What the harness expects of an attestation.
pub fn expectations() -> Expectations<'static> {
    Expectations { fleet: FLEET, nonce: NONCE, driver: None, block: None, now_unix: NOW, skew_secs: SKEW }
}

/// Runs `data` through every token parser in the crate, returns the attestation verdict.
///
/// Besides not panicking, the parsers must agree with each other: verifying with and without
/// a counter state gives the same answer up to the counter check, and nothing is both a valid
/// attestation and a valid registration statement.
pub fn verify_token(data: &[u8]) -> Result<VerifiedAttestation, VerifyError> {
    let registry = registry();
    let expected = expectations();
    let verdict = verify_attestation(data, registry, &expected, Some(LAST_COUNTER));

    let mut counters = CounterState::new();
    let recorded = counters.verify_and_record(data, registry, &expected);
    match (&verdict, &recorded) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "same token, same claims"),
        (Err(VerifyError::CounterNotIncreasing { .. }), Ok(_)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "same token, same error"),
        (Ok(_), Err(e)) => panic!("verified with a counter limit but not without: {e}"),
        (Err(e), Ok(_)) => panic!("rejected with a counter limit for another reason: {e}"),
    }
    assert_eq!(
        counters.last(&key_id(&DEVICE_SEED)).is_some(),
        recorded.is_ok(),
        "the counter state moves exactly when verification succeeds"
    );

    let registration = verify_registration(
        data,
        &RegistrationExpectations { fleet: FLEET, driver: None, now_unix: NOW, skew_secs: SKEW, max_age_secs: SKEW },
    );
    assert!(!(verdict.is_ok() && registration.is_ok()), "a token cannot be both an attestation and a registration");
    let erasure = verify_erasure_receipt(
        data,
        registry,
        &ErasureExpectations { fleet: FLEET, now_unix: NOW, max_age_secs: SKEW, skew_secs: SKEW },
        Some(LAST_COUNTER),
    );
    assert!(!(verdict.is_ok() && erasure.is_ok()), "a token cannot be both a check-in and an erasure receipt");
    let review = verify_review(
        data,
        registry,
        &ReviewExpectations { fleet: FLEET, now_unix: NOW, max_age_secs: SKEW, skew_secs: SKEW },
    );
    assert!(!(verdict.is_ok() && review.is_ok()), "a token cannot be both a check-in and a review request");
    let evidence = verify_evidence(data, &public_key(&DEVICE_SEED), FLEET);
    assert!(!(verdict.is_ok() && evidence.is_ok()), "a device's check-in cannot pass as the fleet's evidence");
    let _ = peek_key_id(data);
    // Error messages never echo the token beyond its key id, whatever it holds.
    if let Err(e) = &verdict {
        let mut shown = e.to_string();
        if let Some(kid) = e.key_id() {
            shown = shown.replace(kid.as_str(), "");
        }
        assert!(!shown.contains(NONCE) && !shown.contains(DRIVER) && !shown.contains(FLEET));
    }
    verdict
}

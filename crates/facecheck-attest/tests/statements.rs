//! The statements the fleet service relies on: bound check-in expectations, erasure receipts, review requests, the
//! fleet's evidence, registration code and consent claims, the key-lookup trait, and the refusal of weak keys.

mod support;

use facecheck_attest::{
    check_public_key, peek_key_id, statement_hash, verify_attestation, verify_erasure_receipt, verify_evidence,
    verify_registration, verify_review, CodeBinding, Consent, DeviceKeys, DeviceStatus, ErasureExpectations,
    EvidenceClaims, EvidenceKind, Expectations, FleetKey, KeyId, KnownDevice, Malformed, Outcome, RegistrationClaims,
    RegistrationError, RegistrationExpectations, Registry, RegistryError, ReviewClaims, ReviewExpectations,
    ReviewReason, VerifyError, WeakKey, DEFAULT_ERASURE_MAX_AGE_SECS,
};
use ring::rand::SystemRandom;
use serde_json::json;
use support::*;

/// A fleet-side lookup with a status other than the registry's two.
struct OneKey(KeyId, KnownDevice);

impl DeviceKeys for OneKey {
    fn device(&self, kid: &KeyId) -> Option<KnownDevice> {
        (self.0 == *kid).then(|| self.1.clone())
    }
}

fn known(device: &Device, status: DeviceStatus) -> OneKey {
    OneKey(
        device.kid(),
        KnownDevice { public_key: device.public_key(), driver: DRIVER.into(), fleet: FLEET.into(), status },
    )
}

fn receipt_claims(counter: u64, issued_at: u64) -> facecheck_attest::Claims {
    let mut claims = claims();
    claims.outcome = Outcome::Erased;
    claims.liveness_passed = false;
    claims.attempts = 0;
    claims.counter = counter;
    claims.issued_at = issued_at;
    claims
}

fn erasure_expected() -> ErasureExpectations<'static> {
    ErasureExpectations { fleet: FLEET, now_unix: NOW, max_age_secs: DEFAULT_ERASURE_MAX_AGE_SECS, skew_secs: SKEW }
}

#[test]
fn a_check_in_is_bound_to_the_challenged_driver_and_block() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = device.key.sign(&claims());
    let bound = Expectations { driver: Some(DRIVER), block: Some(BLOCK), ..expected() };
    assert!(verify_attestation(&token, &registry, &bound, None).is_ok());
    let other_block = Expectations { block: Some("block-other"), ..bound };
    assert_eq!(
        verify_attestation(&token, &registry, &other_block, None),
        Err(VerifyError::BlockMismatch { kid: device.kid() })
    );
    let other_driver = Expectations { driver: Some("driver-other"), ..bound };
    assert_eq!(
        verify_attestation(&token, &registry, &other_driver, None),
        Err(VerifyError::DriverMismatch { kid: device.kid() })
    );
}

#[test]
fn statuses_from_any_lookup_are_enforced() {
    let device = Device::new();
    let token = device.key.sign(&claims());
    assert!(verify_attestation(&token, &known(&device, DeviceStatus::Active), &expected(), None).is_ok());
    assert_eq!(
        verify_attestation(&token, &known(&device, DeviceStatus::Revoked), &expected(), None),
        Err(VerifyError::RevokedKey { kid: device.kid() })
    );
    assert_eq!(
        verify_attestation(&token, &known(&device, DeviceStatus::Erased), &expected(), None),
        Err(VerifyError::ErasedKey { kid: device.kid() })
    );
    // The one-row lookup a database-backed verifier uses.
    let row = (device.kid(), known(&device, DeviceStatus::Active).1);
    assert!(verify_attestation(&token, &row, &expected(), None).is_ok());
    assert_eq!(peek_key_id(&token), Ok(device.kid()));
    assert_eq!(peek_key_id("not a token"), Err(Malformed::Segments));
}

#[test]
fn erasure_receipts_verify_by_age_and_counter_and_never_as_check_ins() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    // Signed offline 29 days ago, delivered now.
    let receipt = device.key.sign(&receipt_claims(7, NOW - 29 * 24 * 3600));
    let verified = verify_erasure_receipt(&receipt, &registry, &erasure_expected(), Some(6)).expect("verifies");
    assert_eq!((verified.driver(), verified.fleet(), verified.counter()), (DRIVER, FLEET, 7));
    assert_eq!(verified.key_id(), &device.kid());
    assert_eq!(
        verify_attestation(&receipt, &registry, &expected(), None),
        Err(VerifyError::NotACheckIn { kid: device.kid() })
    );
    assert_eq!(
        verify_erasure_receipt(&receipt, &registry, &erasure_expected(), Some(7)),
        Err(VerifyError::CounterNotIncreasing { kid: device.kid() })
    );
    let too_old = device.key.sign(&receipt_claims(8, NOW - 31 * 24 * 3600));
    assert_eq!(
        verify_erasure_receipt(&too_old, &registry, &erasure_expected(), None),
        Err(VerifyError::Stale { kid: device.kid() })
    );
    // A check-in is no receipt.
    assert_eq!(
        verify_erasure_receipt(device.key.sign(&claims()), &registry, &erasure_expected(), None),
        Err(VerifyError::NotAnErasureReceipt { kid: device.kid() })
    );
    // A replaced (revoked) key still erases; an erased one does not erase twice.
    assert!(verify_erasure_receipt(&receipt, &known(&device, DeviceStatus::Revoked), &erasure_expected(), None).is_ok());
    assert_eq!(
        verify_erasure_receipt(&receipt, &known(&device, DeviceStatus::Erased), &erasure_expected(), None),
        Err(VerifyError::ErasedKey { kid: device.kid() })
    );
}

fn review_claims() -> ReviewClaims {
    ReviewClaims {
        driver: DRIVER.into(),
        fleet: FLEET.into(),
        issued_at: NOW,
        request_id: ReviewClaims::new_request_id(&SystemRandom::new()).expect("random"),
        about: statement_hash("some.check-in.token"),
        reason: ReviewReason::NoMatch,
    }
}

#[test]
fn review_requests_verify_and_are_their_own_type() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let expected_review = ReviewExpectations { fleet: FLEET, now_unix: NOW, max_age_secs: 86_400, skew_secs: SKEW };
    let claims = review_claims();
    let token = device.key.sign_review(&claims);
    let (header, payload, _) = split(&token);
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "fc-review+jwt", "kid": device.kid().as_str()}));
    assert_eq!(payload["why"], json!("no_match"));
    assert_eq!(payload["rid"].as_str().expect("rid").len(), 22);
    let verified = verify_review(&token, &registry, &expected_review).expect("verifies");
    assert_eq!(verified.claims(), &claims);
    // Neither a check-in nor a review passes as the other.
    assert_eq!(verify_attestation(&token, &registry, &expected(), None), Err(VerifyError::WrongTokenType));
    assert_eq!(
        verify_review(device.key.sign(&support::claims()), &registry, &expected_review).map(|_| ()),
        Err(VerifyError::WrongTokenType)
    );
    // A request about something that is not a statement hash, or with an unknown reason, is malformed.
    let mut bad = review_claims();
    bad.about = "not a hash".into();
    assert_eq!(
        verify_review(device.key.sign_review(&bad), &registry, &expected_review).map(|_| ()),
        Err(VerifyError::Malformed(Malformed::InvalidClaim("ref")))
    );
    let edited = device.sign_values(&json!({"alg": "EdDSA", "typ": "fc-review+jwt", "kid": device.kid().as_str()}), &{
        let mut p = payload.clone();
        p["why"] = json!("because");
        p
    });
    assert_eq!(
        verify_review(&edited, &registry, &expected_review).map(|_| ()),
        Err(VerifyError::Malformed(Malformed::InvalidClaim("why")))
    );
    let mut other = review_claims();
    other.driver = "driver-other".into();
    assert_eq!(
        verify_review(device.key.sign_review(&other), &registry, &expected_review).map(|_| ()),
        Err(VerifyError::DriverMismatch { kid: device.kid() })
    );
}

#[test]
fn the_fleets_evidence_verifies_under_its_key_only() {
    let (fleet_key, pkcs8) = FleetKey::generate(&SystemRandom::new()).expect("generates");
    assert_eq!(FleetKey::from_pkcs8(&pkcs8).expect("reloads").key_id(), fleet_key.key_id());
    let claims = EvidenceClaims {
        fleet: FLEET.into(),
        driver: DRIVER.into(),
        kind: EvidenceKind::Checkin,
        statement: statement_hash("a.check-in.token"),
        verdict: "accepted".into(),
        reason: String::new(),
        issued_at: NOW,
    };
    let evidence = fleet_key.sign_evidence(&claims).expect("well formed");
    let (header, _, _) = split(&evidence);
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "fc-evidence+jwt", "kid": fleet_key.key_id().as_str()}));
    let verified = verify_evidence(&evidence, &fleet_key.public_key(), FLEET).expect("verifies");
    assert_eq!(verified.claims(), &claims);
    assert_eq!(
        verify_evidence(&evidence, &fleet_key.public_key(), "fleet-other"),
        Err(VerifyError::AudienceMismatch { kid: fleet_key.key_id().clone() })
    );
    let (other, _) = FleetKey::generate(&SystemRandom::new()).expect("generates");
    assert!(matches!(verify_evidence(&evidence, &other.public_key(), FLEET), Err(VerifyError::UnknownKey { .. })));
    // A device's check-in is not evidence, even checked against the device's own key.
    let device = Device::new();
    assert_eq!(
        verify_evidence(device.key.sign(&support::claims()), &device.public_key(), FLEET).map(|_| ()),
        Err(VerifyError::WrongTokenType)
    );
    // Only well-formed claims are signed.
    for bad in [
        EvidenceClaims { verdict: String::new(), ..claims.clone() },
        EvidenceClaims { verdict: "Accepted!".into(), ..claims.clone() },
        EvidenceClaims { statement: "x".into(), ..claims.clone() },
    ] {
        assert!(fleet_key.sign_evidence(&bad).is_err());
    }
}

fn registration(code: Option<&str>, consent: Option<Consent>, issued_at: u64) -> RegistrationClaims {
    RegistrationClaims {
        driver: DRIVER.into(),
        fleet: FLEET.into(),
        model_manifest: manifest(),
        issued_at,
        enrollment_code: code.map(CodeBinding::of_code),
        consent,
    }
}

#[test]
fn registrations_carry_the_code_binding_and_consent() {
    let device = Device::new();
    let consent = Consent { notice: "2026-11".into(), accepted_at: NOW - 60 };
    let token = device.key.sign_registration(&registration(Some("7k3p-q9x2-m4ta"), Some(consent.clone()), NOW));
    let (_, payload, _) = split(&token);
    assert_eq!(payload["enc"], json!(CodeBinding::of_code("7K3PQ9X2M4TA").as_str()));
    assert_eq!(payload["cns"], json!({"ntc": "2026-11", "at": NOW - 60}));
    let expected = RegistrationExpectations {
        fleet: FLEET,
        driver: Some(DRIVER),
        now_unix: NOW,
        skew_secs: SKEW,
        max_age_secs: SKEW,
    };
    let verified = verify_registration(&token, &expected).expect("verifies");
    assert_eq!(verified.claims().enrollment_code, Some(CodeBinding::of_code("7K3P-Q9X2-M4TA")));
    assert_eq!(verified.claims().consent, Some(consent));
    // Without them the format is still valid (an offline registry); the fleet service requires both.
    let bare = device.key.sign_registration(&registration(None, None, NOW));
    let (_, bare_payload, _) = split(&bare);
    assert!(bare_payload.get("enc").is_none() && bare_payload.get("cns").is_none());
    assert!(verify_registration(&bare, &expected).is_ok());
    // Signed offline an hour ago: stale under the skew, fine within a code's validity.
    let offline = device.key.sign_registration(&registration(Some("X"), None, NOW - 3600));
    assert!(matches!(verify_registration(&offline, &expected), Err(RegistrationError::Stale { .. })));
    assert!(verify_registration(&offline, &RegistrationExpectations { max_age_secs: 86_400, ..expected }).is_ok());
    // A consent record with another member, or an empty notice, is malformed.
    for cns in [json!({"ntc": "v1", "at": 1, "x": 2}), json!({"ntc": "", "at": 1}), json!({"ntc": "v1", "at": -1})] {
        let header = json!({"alg": "EdDSA", "typ": "fc-registration+jwt", "kid": device.kid().as_str(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(&device.public_key())}});
        let (_, mut p, _) = split(&bare);
        p["cns"] = cns;
        assert_eq!(
            verify_registration(device.sign_values(&header, &p), &expected).map(|_| ()),
            Err(RegistrationError::Malformed(Malformed::InvalidClaim("cns")))
        );
    }
}

/// The eight points of order dividing 8, canonically encoded.
fn small_order_points() -> Vec<[u8; 32]> {
    let hex = |s: &str| -> [u8; 32] {
        (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect::<Vec<_>>()
            .try_into()
            .expect("32")
    };
    let y1 = hex("0100000000000000000000000000000000000000000000000000000000000000");
    let y_minus1 = hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let mut points = vec![y1, y_minus1];
    for y in [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    ] {
        let positive = hex(y);
        let mut negative = positive;
        negative[31] |= 0x80;
        points.extend([positive, negative]);
    }
    points
}

#[test]
fn small_order_keys_are_refused_wherever_a_key_enters() {
    let identity = small_order_points()[0];
    let mut forged_signature = [0u8; 64];
    forged_signature[..32].copy_from_slice(&identity); // R = identity, S = 0
    for point in small_order_points() {
        assert_eq!(check_public_key(&point), Err(WeakKey::SmallOrder));
        let kid = KeyId::of_public_key(&point);
        // Registry::add and the registry file.
        assert_eq!(
            Registry::new().add(point, DRIVER, FLEET),
            Err(RegistryError::WeakPublicKey { kid: kid.clone(), reason: WeakKey::SmallOrder })
        );
        let file =
            json!({kid.as_str(): {"public_key": b64(&point), "driver": DRIVER, "fleet": FLEET, "revoked": false}});
        assert_eq!(
            Registry::from_json(&file.to_string()),
            Err(RegistryError::WeakPublicKey { kid: kid.clone(), reason: WeakKey::SmallOrder })
        );
        // A registration statement whose jwk is the point, "signed" with the forged signature.
        let header = json!({"alg": "EdDSA", "typ": "fc-registration+jwt", "kid": kid.as_str(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(&point)}});
        let payload = json!({"pur": "facecheck-device-registration", "sub": DRIVER, "aud": FLEET,
            "mdl": manifest().as_str(), "iat": NOW});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
        let statement = format!("{input}.{}", b64(&forged_signature));
        let expected =
            RegistrationExpectations { fleet: FLEET, driver: None, now_unix: NOW, skew_secs: SKEW, max_age_secs: SKEW };
        assert_eq!(
            verify_registration(&statement, &expected).map(|_| ()),
            Err(RegistrationError::WeakKey(WeakKey::SmallOrder))
        );
        // A lookup that hands the verifier such a key (a database row written by something else) verifies nothing.
        let device =
            KnownDevice { public_key: point, driver: DRIVER.into(), fleet: FLEET.into(), status: DeviceStatus::Active };
        let att_header = json!({"alg": "EdDSA", "typ": "fc-attestation+jwt", "kid": kid.as_str()});
        let mut att_payload = serde_json::to_value(claims()).expect("claims");
        att_payload["iss"] = json!(kid.as_str());
        let att_input =
            format!("{}.{}", b64(att_header.to_string().as_bytes()), b64(att_payload.to_string().as_bytes()));
        let token = format!("{att_input}.{}", b64(&forged_signature));
        assert_eq!(
            verify_attestation(&token, &(kid.clone(), device), &expected_any_nonce(), None),
            Err(VerifyError::BadSignature { kid })
        );
    }
}

fn expected_any_nonce() -> Expectations<'static> {
    expected()
}

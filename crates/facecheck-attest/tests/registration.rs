//! Device registration statements: proof of possession, and no confusion with attestations.

mod support;

use facecheck_attest::{
    verify_attestation, verify_registration, DeviceKey, Malformed, RegistrationClaims, RegistrationError,
    RegistrationExpectations, Registry, VerifyError, REGISTRATION_CLAIMS, REGISTRATION_PURPOSE,
};
use serde_json::{json, Map, Value};
use support::*;

fn registration_claims() -> RegistrationClaims {
    RegistrationClaims {
        driver: DRIVER.into(),
        fleet: FLEET.into(),
        model_manifest: manifest(),
        issued_at: NOW,
        enrollment_code: None,
        consent: None,
    }
}

fn expectations() -> RegistrationExpectations<'static> {
    RegistrationExpectations { fleet: FLEET, driver: Some(DRIVER), now_unix: NOW, skew_secs: SKEW, max_age_secs: SKEW }
}

fn check(token: &str) -> Result<facecheck_attest::VerifiedRegistration, RegistrationError> {
    verify_registration(token, &expectations())
}

fn reg_header(device: &Device) -> Value {
    json!({
        "alg": "EdDSA",
        "typ": "fc-registration+jwt",
        "kid": device.kid().as_str(),
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(&device.public_key())},
    })
}

fn reg_payload() -> Value {
    json!({
        "pur": REGISTRATION_PURPOSE,
        "sub": DRIVER,
        "aud": FLEET,
        "mdl": manifest().as_str(),
        "iat": NOW,
    })
}

/// A statement signed by `device` with the header and payload edited.
fn crafted(
    device: &Device,
    edit_header: impl FnOnce(&mut Map<String, Value>),
    edit_payload: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let mut header = reg_header(device);
    let mut payload = reg_payload();
    edit_header(header.as_object_mut().expect("object"));
    edit_payload(payload.as_object_mut().expect("object"));
    device.sign_values(&header, &payload)
}

#[test]
fn a_registration_verifies_registers_and_enables_check_ins() {
    let device = Device::new();
    let token = device.key.sign_registration(&registration_claims());
    let verified = check(&token).expect("verifies");
    assert_eq!(verified.key_id(), &device.kid());
    assert_eq!(verified.public_key(), &device.public_key());
    assert_eq!(verified.driver(), DRIVER);
    assert_eq!(verified.fleet(), FLEET);
    assert_eq!(verified.claims(), &registration_claims());

    let mut registry = Registry::new();
    assert_eq!(registry.register(&verified).expect("new key"), device.kid());
    assert!(registry.register(&verified).is_err(), "a key registers once");
    let entry = registry.lookup(&device.kid()).expect("registered");
    assert_eq!((entry.driver(), entry.fleet(), entry.is_revoked()), (DRIVER, FLEET, false));
    assert!(verify_attestation(device.key.sign(&claims()), &registry, &expected(), None).is_ok());
}

#[test]
fn the_statement_has_the_documented_layout() {
    let device = Device::new();
    let token = device.key.sign_registration(&registration_claims());
    let (header, payload, _) = split(&token);
    assert_eq!(header, reg_header(&device));
    assert_eq!(payload, reg_payload());
    let mut names: Vec<&str> = payload.as_object().expect("object").keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected_names = REGISTRATION_CLAIMS.to_vec();
    expected_names.sort_unstable();
    assert_eq!(names, expected_names);
}

#[test]
fn the_driver_check_is_optional() {
    let device = Device::new();
    let mut claims = registration_claims();
    claims.driver = "driver-new".into();
    let token = device.key.sign_registration(&claims);
    let mut expected = expectations();
    expected.driver = None;
    assert_eq!(verify_registration(&token, &expected).expect("ok").driver(), "driver-new");
}

#[test]
fn registrations_and_attestations_cannot_be_swapped() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let registration = device.key.sign_registration(&registration_claims());
    let attestation = device.key.sign(&claims());
    assert_eq!(
        verify_attestation(&registration, &registry, &expected(), None).unwrap_err(),
        VerifyError::WrongTokenType
    );
    assert_eq!(check(&attestation).unwrap_err(), RegistrationError::WrongTokenType);

    // Relabelled with the other `typ`, each still fails: the parameter and claim sets differ.
    let relabelled = crafted(
        &device,
        |h| {
            h.insert("typ".into(), json!("fc-attestation+jwt"));
        },
        |_| {},
    );
    assert_eq!(
        verify_attestation(&relabelled, &registry, &expected(), None).unwrap_err(),
        VerifyError::Malformed(Malformed::UnexpectedHeaderParameter)
    );
    let relabelled = crafted(
        &device,
        |h| {
            h.insert("typ".into(), json!("fc-attestation+jwt"));
            h.remove("jwk");
        },
        |_| {},
    );
    assert_eq!(
        verify_attestation(&relabelled, &registry, &expected(), None).unwrap_err(),
        VerifyError::Malformed(Malformed::UnexpectedClaim)
    );
    let relabelled = device.sign_with_header(&claims(), |h| {
        h.insert("typ".into(), json!("fc-registration+jwt"));
    });
    assert_eq!(check(&relabelled).unwrap_err(), RegistrationError::Malformed(Malformed::MissingHeaderParameter("jwk")));
    let relabelled = device.sign_with_header(&claims(), |h| {
        h.insert("typ".into(), json!("fc-registration+jwt"));
        h.insert("jwk".into(), reg_header(&device)["jwk"].clone());
    });
    assert_eq!(check(&relabelled).unwrap_err(), RegistrationError::Malformed(Malformed::UnexpectedClaim));
}

#[test]
fn malformed_statements() {
    let device = Device::new();
    let cases: Vec<(String, Malformed)> = vec![
        ("a.b".into(), Malformed::Segments),
        (
            crafted(
                &device,
                |h| {
                    h.insert("x5c".into(), json!([]));
                },
                |_| {},
            ),
            Malformed::UnexpectedHeaderParameter,
        ),
        (
            crafted(
                &device,
                |h| {
                    h.remove("kid");
                },
                |_| {},
            ),
            Malformed::MissingHeaderParameter("kid"),
        ),
        (
            crafted(
                &device,
                |h| {
                    h.insert("kid".into(), json!("short"));
                },
                |_| {},
            ),
            Malformed::InvalidHeaderParameter("kid"),
        ),
        (
            crafted(
                &device,
                |_| {},
                |p| {
                    p.insert("nonce".into(), json!("n"));
                },
            ),
            Malformed::UnexpectedClaim,
        ),
        (
            crafted(
                &device,
                |_| {},
                |p| {
                    p.insert("iat".into(), json!("now"));
                },
            ),
            Malformed::InvalidClaim("iat"),
        ),
        (
            crafted(
                &device,
                |_| {},
                |p| {
                    p.insert("mdl".into(), json!("abc"));
                },
            ),
            Malformed::InvalidClaim("mdl"),
        ),
        (
            crafted(
                &device,
                |_| {},
                |p| {
                    p.insert("pur".into(), json!(1));
                },
            ),
            Malformed::InvalidClaim("pur"),
        ),
    ];
    for (token, reason) in cases {
        assert_eq!(check(&token).unwrap_err(), RegistrationError::Malformed(reason));
    }
    for name in REGISTRATION_CLAIMS {
        let token = crafted(
            &device,
            |_| {},
            |p| {
                p.remove(name);
            },
        );
        assert_eq!(check(&token).unwrap_err(), RegistrationError::Malformed(Malformed::MissingClaim(name)));
    }
}

#[test]
fn unsupported_algorithms() {
    let device = Device::new();
    for alg in [json!("none"), json!("HS256"), json!("RS256"), json!("ES256"), json!(null)] {
        let token = crafted(
            &device,
            |h| {
                h.insert("alg".into(), alg);
            },
            |_| {},
        );
        assert_eq!(check(&token).unwrap_err(), RegistrationError::UnsupportedAlgorithm);
    }
}

#[test]
fn invalid_jwk() {
    let device = Device::new();
    let x = b64(&device.public_key());
    for jwk in [
        json!({"kty": "RSA", "crv": "Ed25519", "x": x}),
        json!({"kty": "OKP", "crv": "X25519", "x": x}),
        json!({"kty": "OKP", "crv": "Ed448", "x": x}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&[7u8; 31])}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": format!("{x}=")}),
        json!({"kty": "OKP", "crv": "Ed25519"}),
        // A JWK that leaks the private key is refused, not ignored.
        json!({"kty": "OKP", "crv": "Ed25519", "x": x, "d": b64(&[1u8; 32])}),
        json!("not an object"),
        json!(null),
    ] {
        let token = crafted(
            &device,
            |h| {
                h.insert("jwk".into(), jwk);
            },
            |_| {},
        );
        assert_eq!(check(&token).unwrap_err(), RegistrationError::InvalidJwk);
    }
}

#[test]
fn kid_must_be_the_hash_of_the_jwk() {
    let device = Device::new();
    let other = Device::new();
    let token = crafted(
        &device,
        |h| {
            h.insert("kid".into(), json!(other.kid().as_str()));
        },
        |_| {},
    );
    assert_eq!(check(&token).unwrap_err(), RegistrationError::KeyIdMismatch { kid: other.kid() });
}

#[test]
fn proof_of_possession_is_required() {
    // An attacker who knows a victim device's public key cannot register it for another driver:
    // the statement must be signed by the key it presents.
    let victim = Device::new();
    let attacker = Device::new();
    let mut payload = reg_payload();
    payload["sub"] = json!("driver-attacker");
    let token = attacker.sign_values(&reg_header(&victim), &payload);
    let mut expected = expectations();
    expected.driver = None;
    assert_eq!(
        verify_registration(&token, &expected).unwrap_err(),
        RegistrationError::BadSignature { kid: victim.kid() }
    );
}

#[test]
fn purpose_audience_driver_and_time() {
    let device = Device::new();
    let kid = device.kid();
    let token = crafted(
        &device,
        |_| {},
        |p| {
            p.insert("pur".into(), json!("facecheck-checkin"));
        },
    );
    assert_eq!(check(&token).unwrap_err(), RegistrationError::WrongPurpose { kid: kid.clone() });

    let mut claims = registration_claims();
    claims.fleet = "fleet-8".into();
    assert_eq!(
        check(&device.key.sign_registration(&claims)).unwrap_err(),
        RegistrationError::AudienceMismatch { kid: kid.clone() }
    );

    let mut claims = registration_claims();
    claims.driver = "driver-43".into();
    assert_eq!(
        check(&device.key.sign_registration(&claims)).unwrap_err(),
        RegistrationError::DriverMismatch { kid: kid.clone() }
    );

    let at = |iat: u64| {
        let mut claims = registration_claims();
        claims.issued_at = iat;
        check(&device.key.sign_registration(&claims))
    };
    assert!(at(NOW - SKEW).is_ok());
    assert!(at(NOW + SKEW).is_ok());
    assert_eq!(at(NOW - SKEW - 1).unwrap_err(), RegistrationError::Stale { kid: kid.clone() });
    assert_eq!(at(NOW + SKEW + 1).unwrap_err(), RegistrationError::IssuedInFuture { kid: kid.clone() });
}

#[test]
fn registration_errors_carry_no_claims() {
    let device = Device::new();
    let mut claims = registration_claims();
    claims.driver = "driver-secret".into();
    claims.fleet = "fleet-secret".into();
    let token = device.key.sign_registration(&claims);
    for expected in [
        expectations(),
        RegistrationExpectations { fleet: "fleet-secret", ..expectations() },
        RegistrationExpectations { fleet: "fleet-secret", driver: None, now_unix: 0, skew_secs: 0, max_age_secs: 0 },
    ] {
        let error = verify_registration(&token, &expected).unwrap_err();
        let shown = error.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains(device.kid().as_str()));
        assert_eq!(error.key_id(), Some(&device.kid()));
    }
}

#[test]
fn a_registration_from_a_reloaded_key_matches() {
    let (key, pkcs8) = DeviceKey::generate(&ring::rand::SystemRandom::new()).expect("key");
    let reloaded = DeviceKey::from_pkcs8(&pkcs8).expect("reload");
    let a = key.sign_registration(&registration_claims());
    let b = reloaded.sign_registration(&registration_claims());
    // Ed25519 is deterministic: same key, same message, same token.
    assert_eq!(a, b);
    assert!(check(&a).is_ok());
}

//! Attestation verification: the happy path and every way it fails.

mod support;

use facecheck_attest::{
    verify_attestation, Claims, KeyId, Malformed, Outcome, Part, Registry, VerifyError, ATTESTATION_CLAIMS,
    MAX_TOKEN_LEN,
};
use serde_json::{json, Value};
use support::*;

fn verify(token: &str, registry: &Registry) -> Result<facecheck_attest::VerifiedAttestation, VerifyError> {
    verify_attestation(token, registry, &expected(), None)
}

fn malformed(token: &str, registry: &Registry) -> Malformed {
    match verify(token, registry) {
        Err(VerifyError::Malformed(m)) => m,
        other => panic!("expected a malformed-token error, got {other:?}"),
    }
}

#[test]
fn a_signed_attestation_verifies_and_exposes_its_claims() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let claims = claims();
    let token = device.key.sign(&claims);

    let verified = verify(&token, &registry).expect("verifies");
    assert_eq!(verified.claims(), &claims);
    assert_eq!(verified.key_id(), &device.kid());
    assert_eq!(verified.driver(), DRIVER);
    assert_eq!(verified.fleet(), FLEET);
    assert_eq!(verified.block(), BLOCK);
    assert_eq!(verified.outcome(), Outcome::Match);
    assert_eq!(verified.counter(), 1);
    assert_eq!(verified.issued_at(), NOW);
    assert_eq!(verified.into_claims(), claims);
}

#[test]
fn the_token_has_the_documented_layout() {
    let device = Device::new();
    let token = device.key.sign(&claims());
    let (header, payload, signature) = split(&token);
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "fc-attestation+jwt", "kid": device.kid().as_str()}));
    let names: Vec<&str> = payload.as_object().expect("object").keys().map(String::as_str).collect();
    let mut expected_names = ATTESTATION_CLAIMS.to_vec();
    expected_names.sort_unstable();
    let mut names_sorted = names.clone();
    names_sorted.sort_unstable();
    assert_eq!(names_sorted, expected_names);
    assert_eq!(payload["iss"], json!(device.kid().as_str()));
    assert_eq!(payload["res"], json!("match"));
    assert_eq!(payload["mdl"], json!(manifest().as_str()));
    assert_eq!(unb64(&signature).len(), 64);
    // The kid is base64url(SHA-256(public key)).
    let digest = ring::digest::digest(&ring::digest::SHA256, &device.public_key());
    assert_eq!(device.kid().as_str(), b64(digest.as_ref()));
    // The payload carries no score, embedding or other image-derived number.
    for forbidden in ["score", "distance", "embedding", "template", "similarity"] {
        assert!(!unb64(token.split('.').nth(1).expect("payload"))
            .windows(forbidden.len())
            .any(|w| w == forbidden.as_bytes()));
    }
}

#[test]
fn every_check_in_outcome_round_trips_and_a_receipt_is_no_check_in() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
        let mut claims = claims();
        claims.outcome = outcome;
        claims.counter = i as u64;
        if outcome == Outcome::Erased {
            claims.liveness_passed = false;
            claims.attempts = 0;
            let refused = verify(&device.key.sign(&claims), &registry);
            assert_eq!(refused, Err(VerifyError::NotACheckIn { kid: device.kid() }));
            continue;
        }
        let verified = verify(&device.key.sign(&claims), &registry).expect("verifies");
        assert_eq!(verified.outcome(), outcome);
    }
}

#[test]
fn extreme_values_round_trip() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    claims.counter = u64::MAX;
    claims.attempts = u32::MAX;
    claims.block = "bloc \"quoted\" \\ é 🚚 \u{0}".into();
    claims.policy = String::new();
    let verified = verify(&device.key.sign(&claims), &registry).expect("verifies");
    assert_eq!(verified.claims(), &claims);
}

// ---- Malformed: structure and encoding -------------------------------------------------------

#[test]
fn too_long() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    claims.block = "b".repeat(MAX_TOKEN_LEN);
    let token = device.key.sign(&claims);
    assert!(token.len() > MAX_TOKEN_LEN);
    assert_eq!(malformed(&token, &registry), Malformed::TooLong);
    assert_eq!(malformed(&"a".repeat(MAX_TOKEN_LEN + 1), &registry), Malformed::TooLong);
}

#[test]
fn wrong_number_of_segments() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = device.key.sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    for bad in [
        String::new(),
        "abc".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{token}."),
        format!(".{token}"),
    ] {
        assert_eq!(malformed(&bad, &registry), Malformed::Segments, "{bad:?}");
    }
}

#[test]
fn segments_that_are_not_canonical_base64url() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = device.key.sign(&claims());
    let p: Vec<&str> = token.split('.').collect();
    let cases = [
        (format!("{}=.{}.{}", p[0], p[1], p[2]), Part::Header),
        (format!("{}.{}.{}", p[0].replacen('e', "+", 1), p[1], p[2]), Part::Header),
        (format!("{}.{} .{}", p[0], p[1], p[2]), Part::Payload),
        (format!("{}.{}!.{}", p[0], p[1], p[2]), Part::Payload),
        (format!("{}.{}.{}==", p[0], p[1], p[2]), Part::Signature),
        (format!("{}.{}.{}/", p[0], p[1], &p[2][..p[2].len() - 1]), Part::Signature),
    ];
    for (bad, part) in cases {
        assert_eq!(malformed(&bad, &registry), Malformed::Base64(part), "{bad}");
    }
    // The last signature character carries two unused bits; setting them is not canonical.
    let last = p[2].chars().last().expect("non-empty");
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).expect("base64url");
    let sloppy = alphabet.as_bytes()[index | 1] as char;
    let bad = format!("{}.{}.{}{}", p[0], p[1], &p[2][..p[2].len() - 1], sloppy);
    assert_eq!(malformed(&bad, &registry), Malformed::Base64(Part::Signature));
}

#[test]
fn header_or_payload_that_is_not_a_json_object() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let payload = serde_json::to_vec(&device.payload(&claims())).expect("json");
    for header in [&b"not json"[..], b"[\"EdDSA\"]", b"", b"{\"alg\":\"EdDSA\""] {
        let token = device.sign_bytes(header, &payload);
        assert_eq!(malformed(&token, &registry), Malformed::Json(Part::Header));
    }
    // Repeated header parameters: a duplicate `alg` could hide `none` from a first-wins parser.
    let header = format!(r#"{{"alg":"none","alg":"EdDSA","typ":"fc-attestation+jwt","kid":"{}"}}"#, device.kid());
    let token = device.sign_bytes(header.as_bytes(), &payload);
    assert_eq!(malformed(&token, &registry), Malformed::Json(Part::Header));

    // A correctly signed payload that is not a JSON object.
    let header = serde_json::to_vec(&device.header()).expect("json");
    for payload in [&b"not json"[..], b"[]", b"42", b"", b"{\"sub\":1} trailing"] {
        let token = device.sign_bytes(&header, payload);
        assert_eq!(malformed(&token, &registry), Malformed::Json(Part::Payload));
    }
}

#[test]
fn repeated_claims_are_rejected() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let header = serde_json::to_vec(&device.header()).expect("json");
    let payload = serde_json::to_string(&device.payload(&claims())).expect("json");
    // Repeat `res`: a last-wins parser and a first-wins parser would disagree.
    let repeated = payload.replacen('{', "{\"res\":\"no_match\",", 1);
    let token = device.sign_bytes(&header, repeated.as_bytes());
    assert_eq!(malformed(&token, &registry), Malformed::Json(Part::Payload));
}

#[test]
fn unexpected_header_parameters() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for (name, value) in [
        ("crit", json!(["exp"])),
        ("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&device.public_key())})),
        ("b64", json!(false)),
        ("x5u", json!("https://example.invalid/key")),
        ("cty", json!("JWT")),
    ] {
        let token = device.sign_with_header(&claims(), |h| {
            h.insert(name.into(), value);
        });
        assert_eq!(malformed(&token, &registry), Malformed::UnexpectedHeaderParameter, "{name}");
    }
}

#[test]
fn missing_header_parameters() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for name in ["typ", "kid"] {
        let token = device.sign_with_header(&claims(), |h| {
            h.remove(name);
        });
        assert_eq!(malformed(&token, &registry), Malformed::MissingHeaderParameter(name));
    }
}

#[test]
fn invalid_header_parameters() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = device.sign_with_header(&claims(), |h| {
        h.insert("typ".into(), json!(1));
    });
    assert_eq!(malformed(&token, &registry), Malformed::InvalidHeaderParameter("typ"));
    for kid in [json!(7), json!(""), json!("not-a-kid"), json!(format!("{}=", device.kid()))] {
        let token = device.sign_with_header(&claims(), |h| {
            h.insert("kid".into(), kid);
        });
        assert_eq!(malformed(&token, &registry), Malformed::InvalidHeaderParameter("kid"));
    }
}

#[test]
fn unexpected_claims() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for (name, value) in [
        ("score", json!(0.93)),
        ("embedding", json!([0.1, 0.2])),
        ("exp", json!(NOW + 60)),
        ("pur", json!("facecheck-device-registration")),
    ] {
        let token = device.sign_edited(&claims(), |p| {
            p.insert(name.into(), value);
        });
        assert_eq!(malformed(&token, &registry), Malformed::UnexpectedClaim, "{name}");
    }
}

#[test]
fn every_missing_claim_is_named() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for name in ATTESTATION_CLAIMS {
        let token = device.sign_edited(&claims(), |p| {
            p.remove(name).expect("present");
        });
        assert_eq!(malformed(&token, &registry), Malformed::MissingClaim(name));
    }
}

#[test]
fn every_claim_with_a_wrong_type_or_form_is_named() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let cases: Vec<(&str, Value)> = vec![
        ("iss", json!(1)),
        ("sub", json!(42)),
        ("sub", Value::Null),
        ("aud", json!(["fleet-7"])),
        ("blk", json!(true)),
        ("nonce", json!({"n": 1})),
        ("iat", json!("1750000000")),
        ("iat", json!(-1)),
        ("iat", json!(1.75e9)),
        ("ctr", json!(-5)),
        ("ctr", json!(1.5)),
        ("ctr", json!(18_446_744_073_709_551_616.0)),
        ("res", json!("MATCH")),
        ("res", json!("maybe")),
        ("res", json!(1)),
        ("live", json!("true")),
        ("live", json!(1)),
        ("lvm", json!("Active")),
        ("lvm", json!("none")),
        ("lvm", json!(true)),
        ("att", json!(u64::from(u32::MAX) + 1)),
        ("att", json!(-1)),
        ("mdl", json!(manifest().as_str().to_uppercase())),
        ("mdl", json!(&manifest().as_str()[1..])),
        ("mdl", json!(7)),
        ("pol", json!(null)),
        ("ver", json!(0.1)),
    ];
    for (name, value) in cases {
        let token = device.sign_edited(&claims(), |p| {
            p.insert(name.into(), value.clone());
        });
        assert_eq!(malformed(&token, &registry), Malformed::InvalidClaim(name), "{name} = {value}");
    }
}

#[test]
fn signature_of_the_wrong_length() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let token = device.key.sign(&claims());
    let (input, _) = token.rsplit_once('.').expect("three segments");
    for len in [0usize, 1, 32, 63, 65, 128] {
        let bad = format!("{input}.{}", b64(&vec![0u8; len]));
        assert_eq!(malformed(&bad, &registry), Malformed::SignatureLength, "{len}");
    }
}

// ---- Algorithm and type ------------------------------------------------------------------------

#[test]
fn any_algorithm_but_eddsa_is_rejected_first() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let unknown = Device::new();
    for alg in [
        json!("none"),
        json!("None"),
        json!("HS256"),
        json!("RS256"),
        json!("ES256"),
        json!("PS256"),
        json!("eddsa"),
        json!("Ed25519"),
        json!("EdDSA "),
        json!(""),
        json!(null),
        json!(["EdDSA"]),
    ] {
        // Rejected whether or not the key is known: the alg is checked before any key is used.
        for signer in [&device, &unknown] {
            let token = signer.sign_with_header(&claims(), |h| {
                h.insert("alg".into(), alg.clone());
            });
            assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::UnsupportedAlgorithm, "{alg}");
        }
    }
    let token = device.sign_with_header(&claims(), |h| {
        h.remove("alg");
    });
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::UnsupportedAlgorithm);

    // An unsecured JWS (`alg: none`, empty signature) is refused before the signature is read,
    // even with otherwise junk header parameters.
    let header = json!({"alg": "none", "typ": "fc-attestation+jwt", "kid": device.kid().as_str(), "extra": 1});
    let payload = device.payload(&claims());
    let token = format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&header).expect("json")),
        b64(&serde_json::to_vec(&payload).expect("json"))
    );
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::UnsupportedAlgorithm);
}

#[test]
fn hmac_keyed_with_the_public_key_is_rejected() {
    // The classic confusion attack: HS256 with the Ed25519 public key as the HMAC secret.
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let header = json!({"alg": "HS256", "typ": "fc-attestation+jwt", "kid": device.kid().as_str()});
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("json")),
        b64(&serde_json::to_vec(&device.payload(&claims())).expect("json"))
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &device.public_key());
    let tag = ring::hmac::sign(&key, input.as_bytes());
    let token = format!("{input}.{}", b64(tag.as_ref()));
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::UnsupportedAlgorithm);
}

#[test]
fn wrong_token_type() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for typ in ["JWT", "fc-registration+jwt", "FC-ATTESTATION+JWT", ""] {
        let token = device.sign_with_header(&claims(), |h| {
            h.insert("typ".into(), json!(typ));
        });
        assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::WrongTokenType, "{typ}");
    }
}

// ---- Keys and signature -----------------------------------------------------------------------

#[test]
fn unknown_key() {
    let device = Device::new();
    let stranger = Device::new();
    let registry = registry_of(&[&device]);
    let token = stranger.key.sign(&claims());
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::UnknownKey { kid: stranger.kid() });
    assert_eq!(verify(&token, &Registry::new()).unwrap_err(), VerifyError::UnknownKey { kid: stranger.kid() });
}

#[test]
fn revoked_key() {
    let device = Device::new();
    let mut registry = registry_of(&[&device]);
    let token = device.key.sign(&claims());
    assert!(verify(&token, &registry).is_ok());
    registry.revoke(&device.kid()).expect("registered");
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::RevokedKey { kid: device.kid() });
}

#[test]
fn bad_signature() {
    let device = Device::new();
    let impostor = Device::new();
    let registry = registry_of(&[&device]);
    // Signed by another key under the registered device's kid.
    let mut payload = impostor.payload(&claims());
    payload["iss"] = json!(device.kid().as_str());
    let token = impostor.sign_values(&device.header(), &payload);
    assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::BadSignature { kid: device.kid() });
    // The right key, but the signature of another token.
    let a = device.key.sign(&claims());
    let mut other = claims();
    other.counter = 2;
    let b = device.key.sign(&other);
    let spliced = format!("{}.{}", a.rsplit_once('.').expect("3").0, b.rsplit_once('.').expect("3").1);
    assert_eq!(verify(&spliced, &registry).unwrap_err(), VerifyError::BadSignature { kid: device.kid() });
    // All-zero signature.
    let zeros = format!("{}.{}", a.rsplit_once('.').expect("3").0, b64(&[0u8; 64]));
    assert_eq!(verify(&zeros, &registry).unwrap_err(), VerifyError::BadSignature { kid: device.kid() });
}

// ---- Claims against the registry and the expectations ------------------------------------------

#[test]
fn issuer_must_be_the_header_kid() {
    let device = Device::new();
    let other = Device::new();
    let registry = registry_of(&[&device, &other]);
    for iss in [json!(other.kid().as_str()), json!("someone"), json!("")] {
        let token = device.sign_edited(&claims(), |p| {
            p.insert("iss".into(), iss);
        });
        assert_eq!(verify(&token, &registry).unwrap_err(), VerifyError::IssuerMismatch { kid: device.kid() });
    }
}

#[test]
fn driver_must_be_the_registered_one() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    claims.driver = "driver-43".into();
    assert_eq!(
        verify(&device.key.sign(&claims), &registry).unwrap_err(),
        VerifyError::DriverMismatch { kid: device.kid() }
    );
}

#[test]
fn audience_must_be_the_expected_fleet() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    claims.fleet = "fleet-8".into();
    assert_eq!(
        verify(&device.key.sign(&claims), &registry).unwrap_err(),
        VerifyError::AudienceMismatch { kid: device.kid() }
    );
}

#[test]
fn device_must_be_registered_with_the_expected_fleet() {
    // The device belongs to fleet-8 and says so; fleet-7's verifier must not accept it even if
    // the token is addressed to fleet-7.
    let device = Device::new();
    let mut registry = Registry::new();
    registry.add(device.public_key(), DRIVER, "fleet-8").expect("fresh");
    assert_eq!(
        verify(&device.key.sign(&claims()), &registry).unwrap_err(),
        VerifyError::DeviceNotInFleet { kid: device.kid() }
    );
}

#[test]
fn nonce_must_match_the_challenge() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    for nonce in [format!("{NONCE}x"), NONCE[1..].to_owned(), NONCE.to_lowercase(), String::new()] {
        claims.nonce = nonce;
        assert_eq!(
            verify(&device.key.sign(&claims), &registry).unwrap_err(),
            VerifyError::NonceMismatch { kid: device.kid() }
        );
    }
    // An empty expected nonce matches nothing, not even an empty claim.
    claims.nonce = String::new();
    let mut expected = expected();
    expected.nonce = "";
    assert_eq!(
        verify_attestation(device.key.sign(&claims), &registry, &expected, None).unwrap_err(),
        VerifyError::NonceMismatch { kid: device.kid() }
    );
}

#[test]
fn issued_at_must_be_within_the_skew_window() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let at = |iat: u64| {
        let mut claims = claims();
        claims.issued_at = iat;
        verify(&device.key.sign(&claims), &registry)
    };
    assert!(at(NOW - SKEW).is_ok());
    assert!(at(NOW + SKEW).is_ok());
    assert_eq!(at(NOW - SKEW - 1).unwrap_err(), VerifyError::Stale { kid: device.kid() });
    assert_eq!(at(0).unwrap_err(), VerifyError::Stale { kid: device.kid() });
    assert_eq!(at(NOW + SKEW + 1).unwrap_err(), VerifyError::IssuedInFuture { kid: device.kid() });
    assert_eq!(at(u64::MAX).unwrap_err(), VerifyError::IssuedInFuture { kid: device.kid() });
}

#[test]
fn the_window_saturates_at_the_ends_of_time() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    for (now, iat) in [(0, 0), (10, 0), (u64::MAX, u64::MAX), (u64::MAX - 1, u64::MAX)] {
        let mut claims = claims();
        claims.issued_at = iat;
        let mut expected = expected();
        expected.now_unix = now;
        expected.skew_secs = 100;
        assert!(verify_attestation(device.key.sign(&claims), &registry, &expected, None).is_ok());
    }
}

#[test]
fn counter_must_increase() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let mut claims = claims();
    claims.counter = 5;
    let token = device.key.sign(&claims);
    let check = |last| verify_attestation(&token, &registry, &expected(), last);
    assert!(check(None).is_ok());
    assert!(check(Some(4)).is_ok());
    assert!(check(Some(0)).is_ok());
    assert_eq!(check(Some(5)).unwrap_err(), VerifyError::CounterNotIncreasing { kid: device.kid() });
    assert_eq!(check(Some(6)).unwrap_err(), VerifyError::CounterNotIncreasing { kid: device.kid() });
    assert_eq!(check(Some(u64::MAX)).unwrap_err(), VerifyError::CounterNotIncreasing { kid: device.kid() });
    // Counter zero is accepted for a device never seen.
    claims.counter = 0;
    assert!(verify_attestation(device.key.sign(&claims), &registry, &expected(), None).is_ok());
}

#[test]
fn checks_run_in_the_documented_order() {
    // A token that is wrong in every way reports the earliest check; fixing each fault in turn
    // reveals the next one.
    let device = Device::new();
    let mut registry = Registry::new();
    registry.add(device.public_key(), "driver-else", "fleet-8").expect("fresh");
    let mut claims = claims();
    claims.fleet = "fleet-9".into();
    claims.nonce = "stale-nonce".into();
    claims.issued_at = 1;
    claims.counter = 1;
    let kid = device.kid();
    let mut got = vec![];
    let mut step = |registry: &Registry, claims: &Claims| {
        got.push(verify_attestation(device.key.sign(claims), registry, &expected(), Some(1)).unwrap_err());
    };
    step(&registry, &claims);
    let mut registry2 = Registry::new();
    registry2.add(device.public_key(), DRIVER, "fleet-8").expect("fresh");
    step(&registry2, &claims);
    claims.fleet = FLEET.into();
    step(&registry2, &claims);
    let registry3 = registry_of(&[&device]);
    step(&registry3, &claims);
    claims.nonce = NONCE.into();
    step(&registry3, &claims);
    claims.issued_at = NOW;
    step(&registry3, &claims);
    assert_eq!(
        got,
        vec![
            VerifyError::DriverMismatch { kid: kid.clone() },
            VerifyError::AudienceMismatch { kid: kid.clone() },
            VerifyError::DeviceNotInFleet { kid: kid.clone() },
            VerifyError::NonceMismatch { kid: kid.clone() },
            VerifyError::Stale { kid: kid.clone() },
            VerifyError::CounterNotIncreasing { kid: kid.clone() },
        ]
    );
}

#[test]
fn error_messages_carry_no_token_content_beyond_the_kid() {
    let device = Device::new();
    let registry = registry_of(&[&device]);
    let secretish = ["driver-42", "fleet-7", NONCE, BLOCK, POLICY, VERSION, "driver-43", "fleet-8"];
    let mut errors = vec![];
    let mut push = |claims: Claims, last: Option<u64>| {
        errors.push(verify_attestation(device.key.sign(&claims), &registry, &expected(), last).unwrap_err());
    };
    let mut c = claims();
    c.driver = "driver-43".into();
    push(c, None);
    let mut c = claims();
    c.fleet = "fleet-8".into();
    push(c, None);
    let mut c = claims();
    c.nonce = "other".into();
    push(c, None);
    let mut c = claims();
    c.issued_at = 0;
    push(c, None);
    let mut c = claims();
    c.issued_at = u64::MAX;
    push(c, None);
    push(claims(), Some(1));
    errors.push(verify(&Device::new().key.sign(&claims()), &registry).unwrap_err());
    errors.push(
        verify(
            &device.sign_edited(&claims(), |p| {
                p.insert("x".into(), json!(NONCE));
            }),
            &registry,
        )
        .unwrap_err(),
    );
    errors.push(
        verify(
            &device.sign_edited(&claims(), |p| {
                p.insert("res".into(), json!(NONCE));
            }),
            &registry,
        )
        .unwrap_err(),
    );
    errors.push(
        verify(
            &device.sign_with_header(&claims(), |h| {
                h.insert("alg".into(), json!(NONCE));
            }),
            &registry,
        )
        .unwrap_err(),
    );
    errors.push(
        verify(
            &device.sign_with_header(&claims(), |h| {
                h.insert("typ".into(), json!(NONCE));
            }),
            &registry,
        )
        .unwrap_err(),
    );
    errors.push(
        verify(
            &device.sign_with_header(&claims(), |h| {
                h.insert("kid".into(), json!(NONCE));
            }),
            &registry,
        )
        .unwrap_err(),
    );
    for error in &errors {
        let shown = error.to_string();
        for s in secretish {
            assert!(!shown.contains(s), "{shown:?} contains {s:?}");
        }
        match error.key_id() {
            Some(kid) => assert!(shown.contains(kid.as_str()), "{shown:?} should name the key"),
            None => assert!(!shown.contains(device.kid().as_str())),
        }
    }
}

#[test]
fn key_ids_from_errors_are_well_formed() {
    let stranger = Device::new();
    let err = verify(&stranger.key.sign(&claims()), &Registry::new()).unwrap_err();
    let kid = err.key_id().expect("unknown key names its kid");
    assert_eq!(KeyId::parse(kid.as_str()).as_ref(), Ok(kid));
}
